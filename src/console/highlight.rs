//! A tiny server-side highlighter for the journal's bodies: JSON (pretty-printed) and
//! XML, as escaped HTML with `hl-*` classes (key, string, number, tag/literal,
//! punctuation). Anything else is escaped as it is.

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn span(class: &str, text: &str) -> String {
    format!("<span class=\"hl-{class}\">{}</span>", escape(text))
}

/// The body as highlighted HTML, by what it looks like.
pub fn body(text: &str) -> String {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            let pretty = serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string());
            return json(&pretty);
        }
    }
    if t.starts_with('<') {
        return xml(text);
    }
    escape(text)
}

/// JSON text as highlighted HTML (keys are strings followed by `:`).
pub fn json(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            let s: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let class = if j < chars.len() && chars[j] == ':' { "k" } else { "s" };
            out.push_str(&span(class, &s));
        } else if c == '-' || c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || "+-.eE".contains(chars[i])) {
                i += 1;
            }
            out.push_str(&span("n", &chars[start..i].iter().collect::<String>()));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push_str(&span("t", &chars[start..i].iter().collect::<String>()));
        } else if "{}[],:".contains(c) {
            out.push_str(&span("p", &c.to_string()));
            i += 1;
        } else {
            out.push_str(&escape(&c.to_string()));
            i += 1;
        }
    }
    out
}

/// XML text as highlighted HTML: tags and attribute names, attribute values.
pub fn xml(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&escape(&rest[..open]));
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&escape(&rest[open..]));
            return out;
        };
        let tag = &rest[open..open + close + 1];
        out.push_str(&xml_tag(tag));
        rest = &rest[open + close + 1..];
    }
    out.push_str(&escape(rest));
    out
}

fn xml_tag(tag: &str) -> String {
    let mut out = String::new();
    let mut in_quote: Option<char> = None;
    let mut buf = String::new();
    for c in tag.chars() {
        match in_quote {
            Some(q) => {
                buf.push(c);
                if c == q {
                    out.push_str(&span("s", &buf));
                    buf.clear();
                    in_quote = None;
                }
            }
            None if c == '"' || c == '\'' => {
                out.push_str(&span("k", &buf));
                buf.clear();
                buf.push(c);
                in_quote = Some(c);
            }
            None => buf.push(c),
        }
    }
    if in_quote.is_some() {
        out.push_str(&span("s", &buf));
    } else {
        out.push_str(&span("k", &buf));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_strings_and_numbers_get_classes() {
        let h = body(r#"{"a":"<b>","n":1.5,"t":true}"#);
        assert!(h.contains(r#"<span class="hl-k">&quot;a&quot;</span>"#), "{h}");
        assert!(h.contains(r#"<span class="hl-s">&quot;&lt;b&gt;&quot;</span>"#), "{h}");
        assert!(h.contains(r#"<span class="hl-n">1.5</span>"#), "{h}");
        assert!(h.contains(r#"<span class="hl-t">true</span>"#), "{h}");
    }

    #[test]
    fn xml_is_escaped_and_marked() {
        let h = body(r#"<a x="1">t&amp;<b/></a>"#);
        assert!(h.contains(r#"<span class="hl-s">&quot;1&quot;</span>"#), "{h}");
        assert!(h.contains("t&amp;amp;"), "{h}");
        assert!(!h.contains("<a"), "{h}");
    }

    #[test]
    fn other_text_is_escaped() {
        assert_eq!(body("a<b"), "a&lt;b");
    }
}

//! An incremental splitter of a JSON array into its elements, fed chunk by chunk, so an
//! import file of any size is read with memory bounded by one element.
//!
//! It checks the array's structure (`[`, elements separated by `,`, `]`, nothing after)
//! and tracks strings and nesting to find where each element ends; the elements
//! themselves are checked by serde_json. Each element is returned with the absolute byte
//! offset just after it, which is where a resumed import starts again
//! ([`Splitter::resume`]).

/// One element of the array: its bytes and the offset just after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub bytes: Vec<u8>,
    pub end: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the `[`.
    Start,
    /// Right after `[`: an element or `]`.
    First,
    /// After `,`: an element.
    Next,
    /// Inside an element.
    In,
    /// After an element: `,` or `]`.
    After,
    /// After the `]`: whitespace only.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Container,
    Str,
    Scalar,
}

/// The splitter (see the module doc).
#[derive(Debug)]
pub struct Splitter {
    state: State,
    kind: Kind,
    depth: u32,
    in_str: bool,
    esc: bool,
    buf: Vec<u8>,
    pos: u64,
    max_element: usize,
}

/// Largest accepted element (one contact), in bytes.
pub const MAX_ELEMENT: usize = 256 * 1024;

fn ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    /// A splitter at the start of a file.
    pub fn new() -> Self {
        Splitter {
            state: State::Start,
            kind: Kind::Scalar,
            depth: 0,
            in_str: false,
            esc: false,
            buf: Vec::new(),
            pos: 0,
            max_element: MAX_ELEMENT,
        }
    }

    /// A splitter that continues at `offset`, just after an element it returned earlier.
    pub fn resume(offset: u64) -> Self {
        let mut s = Self::new();
        s.pos = offset;
        s.state = State::After;
        s
    }

    /// Absolute offset of the next byte to feed.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Feeds the next bytes; complete elements are appended to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Element>) -> Result<(), String> {
        for (i, &b) in data.iter().enumerate() {
            let abs = self.pos + i as u64;
            self.step(b, abs, out)?;
        }
        self.pos += data.len() as u64;
        Ok(())
    }

    fn begin(&mut self, b: u8, abs: u64) -> Result<(), String> {
        self.buf.clear();
        self.depth = 0;
        self.in_str = false;
        self.esc = false;
        self.kind = match b {
            b'{' | b'[' => {
                self.depth = 1;
                Kind::Container
            }
            b'"' => {
                self.in_str = true;
                Kind::Str
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => Kind::Scalar,
            _ => return Err(format!("unexpected character '{}' at byte {abs}", b as char)),
        };
        self.buf.push(b);
        self.state = State::In;
        Ok(())
    }

    fn emit(&mut self, end: u64, out: &mut Vec<Element>) {
        out.push(Element {
            bytes: std::mem::take(&mut self.buf),
            end,
        });
        self.state = State::After;
    }

    fn step(&mut self, b: u8, abs: u64, out: &mut Vec<Element>) -> Result<(), String> {
        match self.state {
            State::Start => {
                if b == b'[' {
                    self.state = State::First;
                } else if !(ws(b) || (abs < 3 && matches!(b, 0xEF | 0xBB | 0xBF))) {
                    return Err(format!("expected '[' at byte {abs}: the file must be a JSON array of contacts"));
                }
            }
            State::First => {
                if b == b']' {
                    self.state = State::Done;
                } else if !ws(b) {
                    self.begin(b, abs)?;
                }
            }
            State::Next => {
                if b == b']' {
                    return Err(format!("unexpected ']' after ',' at byte {abs}"));
                } else if !ws(b) {
                    self.begin(b, abs)?;
                }
            }
            State::In => match self.kind {
                Kind::Scalar => {
                    if ws(b) || b == b',' || b == b']' {
                        self.emit(abs, out);
                        return self.step(b, abs, out);
                    }
                    self.buf.push(b);
                }
                Kind::Str => {
                    self.buf.push(b);
                    if self.esc {
                        self.esc = false;
                    } else if b == b'\\' {
                        self.esc = true;
                    } else if b == b'"' {
                        self.emit(abs + 1, out);
                    }
                }
                Kind::Container => {
                    self.buf.push(b);
                    if self.in_str {
                        if self.esc {
                            self.esc = false;
                        } else if b == b'\\' {
                            self.esc = true;
                        } else if b == b'"' {
                            self.in_str = false;
                        }
                    } else {
                        match b {
                            b'"' => self.in_str = true,
                            b'{' | b'[' => self.depth += 1,
                            b'}' | b']' => {
                                self.depth -= 1;
                                if self.depth == 0 {
                                    self.emit(abs + 1, out);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            },
            State::After => {
                if b == b',' {
                    self.state = State::Next;
                } else if b == b']' {
                    self.state = State::Done;
                } else if !ws(b) {
                    return Err(format!("expected ',' or ']' at byte {abs}"));
                }
            }
            State::Done => {
                if !ws(b) {
                    return Err(format!("unexpected data after the array at byte {abs}"));
                }
            }
        }
        if self.state == State::In && self.buf.len() > self.max_element {
            return Err(format!("contact larger than {} bytes at byte {abs}", self.max_element));
        }
        Ok(())
    }

    /// At the end of the file: Ok when the array was closed.
    pub fn finish(&self) -> Result<(), String> {
        match self.state {
            State::Done => Ok(()),
            State::Start => Err("the file is empty: it must be a JSON array of contacts".into()),
            _ => Err("unexpected end of file: the JSON array is not closed".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_in(data: &[u8], step: usize) -> Result<Vec<Element>, String> {
        let mut s = Splitter::new();
        let mut out = Vec::new();
        for c in data.chunks(step.max(1)) {
            s.feed(c, &mut out)?;
        }
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn splits_across_any_chunking() {
        let doc = br#" [ {"a": "x,]}\"{", "b": [1, {"c": 2}]}, 12, "s\"]", true ,{} ] "#;
        for step in 1..doc.len() {
            let els = split_in(doc, step).unwrap();
            let texts: Vec<String> = els.iter().map(|e| String::from_utf8(e.bytes.clone()).unwrap()).collect();
            assert_eq!(
                texts,
                vec![r#"{"a": "x,]}\"{", "b": [1, {"c": 2}]}"#, "12", r#""s\"]""#, "true", "{}"],
                "step {step}"
            );
            for e in &els {
                let start = e.end as usize - e.bytes.len();
                assert_eq!(&doc[start..e.end as usize], &e.bytes[..]);
            }
        }
    }

    #[test]
    fn resumes_after_an_element() {
        let doc = br#"[{"a":1},{"a":2} , {"a":3}]"#;
        let all = split_in(doc, 4).unwrap();
        let mut s = Splitter::resume(all[0].end);
        let mut out = Vec::new();
        s.feed(&doc[all[0].end as usize..], &mut out).unwrap();
        s.finish().unwrap();
        assert_eq!(out, all[1..].to_vec());
    }

    #[test]
    fn rejects_bad_structure() {
        assert!(split_in(b"", 3).is_err());
        assert!(split_in(b"{}", 3).is_err());
        assert!(split_in(b"[{}", 3).is_err());
        assert!(split_in(b"[{},]", 3).is_err());
        assert!(split_in(b"[{} {}]", 3).is_err());
        assert!(split_in(b"[] x", 3).is_err());
        assert_eq!(split_in(b"[]", 1).unwrap(), vec![]);
    }
}

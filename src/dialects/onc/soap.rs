//! SOAP 1.1 envelopes: reading a request (with quick-xml, refusing DTDs and unknown
//! entities) into the binding-independent parameter object, and writing responses and
//! faults in the shape WCF's DataContractSerializer produces.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde_json::{Map, Value};

use super::service::Reply;
use super::Method;

pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const TNS: &str = "http://tempuri.org/";
pub const DC: &str = "http://schemas.datacontract.org/2004/07/ONC";
pub const ARRAYS: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// SOAPAction prefix of every operation.
pub const ACTION_PREFIX: &str = "http://tempuri.org/IONCService/";

const MAX_DEPTH: usize = 64;

/// An element of the request: namespace, local name, nil flag, text, children.
#[derive(Debug, Clone, Default)]
pub struct El {
    pub ns: Option<String>,
    pub name: String,
    pub nil: bool,
    /// `mustUnderstand="1"` (or `true`) on the element.
    pub must_understand: bool,
    /// The SOAP 1.1 `actor` attribute, if any.
    pub actor: Option<String>,
    pub text: String,
    pub children: Vec<El>,
}

impl El {
    /// The element as a JSON-shaped value: nil → null, leaf → its text, else an object of
    /// its children by local name.
    pub fn to_value(&self) -> Value {
        if self.nil {
            return Value::Null;
        }
        if self.children.is_empty() {
            return Value::String(self.text.clone());
        }
        let mut m = Map::new();
        for c in &self.children {
            m.insert(c.name.clone(), c.to_value());
        }
        Value::Object(m)
    }
}

/// A SOAP fault to send: code (`Client`, `Server`, `VersionMismatch`) and message.
#[derive(Debug, Clone)]
pub struct Fault {
    pub code: &'static str,
    pub message: String,
}

fn client(msg: impl Into<String>) -> Fault {
    Fault {
        code: "Client",
        message: msg.into(),
    }
}

fn resolve(ns: ResolveResult) -> Result<Option<String>, Fault> {
    match ns {
        ResolveResult::Bound(n) => Ok(Some(String::from_utf8_lossy(n.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(client(format!("unknown namespace prefix {}", String::from_utf8_lossy(&p)))),
    }
}

fn start_el(ns: Option<String>, e: &BytesStart) -> Result<El, Fault> {
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut nil = false;
    let mut must_understand = false;
    let mut actor = None;
    for a in e.attributes() {
        let a = a.map_err(|e| client(format!("The XML could not be read: {e}")))?;
        let local = a.key.local_name();
        if matches!(local.as_ref(), b"nil" | b"mustUnderstand" | b"actor") {
            let v = a.unescape_value().map_err(|e| client(format!("The XML could not be read: {e}")))?;
            match local.as_ref() {
                b"nil" => nil = matches!(v.trim(), "true" | "1"),
                b"mustUnderstand" => must_understand = matches!(v.trim(), "true" | "1"),
                _ => actor = Some(v.trim().to_string()),
            }
        }
    }
    Ok(El {
        ns,
        name,
        nil,
        must_understand,
        actor,
        ..Default::default()
    })
}

/// Parses an XML document into its root element. DTDs (and so entity declarations) are
/// refused; only the predefined entities and character references are expanded.
pub fn parse(body: &[u8]) -> Result<El, Fault> {
    let text = std::str::from_utf8(body).map_err(|_| client("The message is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_reader(text.as_bytes());
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    loop {
        let (ns, ev) = reader
            .read_resolved_event()
            .map_err(|e| client(format!("The XML could not be read: {e}")))?;
        let ns = resolve(ns)?;
        match ev {
            Event::DocType(_) => return Err(client("DTDs are not allowed in requests (no DOCTYPE, no entity declarations)")),
            Event::Start(e) => {
                if root.is_some() {
                    return Err(client("content after the root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(client("the XML is nested too deeply"));
                }
                let el = start_el(ns, &e)?;
                stack.push(el);
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return Err(client("content after the root element"));
                }
                let el = start_el(ns, &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(client("unbalanced end tag"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| client(format!("The XML could not be read: {e}")))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(client("text outside the root element")),
                }
            }
            Event::CData(c) => {
                let s = String::from_utf8_lossy(&c.into_inner()).into_owned();
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(client("The XML could not be read: unexpected end of document"));
    }
    root.ok_or_else(|| client("The message is empty"))
}

/// A request read from an envelope.
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub params: Map<String, Value>,
}

/// Reads a SOAP 1.1 request: the Body's first element names the operation (SOAPAction
/// only when it does not), its children are the parameters.
pub fn read_request(body: &[u8], soap_action: Option<&str>) -> Result<Request, Fault> {
    let root = parse(body)?;
    if root.name != "Envelope" || root.ns.as_deref() != Some(SOAP11) {
        if root.name == "Envelope" && root.ns.as_deref() == Some(SOAP12) {
            return Err(Fault {
                code: "VersionMismatch",
                message: "Only SOAP 1.1 envelopes are supported".into(),
            });
        }
        return Err(client("The message is not a SOAP 1.1 envelope"));
    }
    if let Some(header) = root.children.iter().find(|c| c.name == "Header" && c.ns.as_deref() == Some(SOAP11)) {
        check_must_understand(header)?;
    }
    let body_el = root
        .children
        .iter()
        .find(|c| c.name == "Body" && c.ns.as_deref() == Some(SOAP11))
        .ok_or_else(|| client("The envelope has no Body"))?;
    let op = body_el.children.first().ok_or_else(|| client("The Body is empty"))?;
    let from_action = soap_action
        .map(|a| a.trim().trim_matches('"'))
        .and_then(|a| a.strip_prefix(ACTION_PREFIX))
        .and_then(Method::parse);
    let method = Method::parse(&op.name)
        .or(from_action)
        .ok_or_else(|| client(format!("The operation {} is not known", op.name)))?;
    let params = match op.to_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Ok(Request { method, params })
}

/// Header namespaces this service understands: WS-Addressing in the versions WCF and
/// other toolkits write (`Action`, `To`, `MessageID`, `ReplyTo`, … carry nothing the
/// service needs, so "understanding" them is reading past them).
const UNDERSTOOD_HEADER_NS: &[&str] = &[
    "http://schemas.microsoft.com/ws/2005/05/addressing/none",
    "http://www.w3.org/2005/08/addressing",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "http://schemas.xmlsoap.org/ws/2004/03/addressing",
];

/// SOAP 1.1 §4.2.3: a header entry addressed to this node (no `actor`, or the `next`
/// actor) with `mustUnderstand="1"` that the service does not understand → a
/// `s:MustUnderstand` fault, in WCF's wording.
fn check_must_understand(header: &El) -> Result<(), Fault> {
    const NEXT: &str = "http://schemas.xmlsoap.org/soap/actor/next";
    for h in &header.children {
        let for_us = h.actor.as_deref().is_none_or(|a| a.is_empty() || a == NEXT);
        let understood = h.ns.as_deref().is_some_and(|ns| UNDERSTOOD_HEADER_NS.contains(&ns));
        if h.must_understand && for_us && !understood {
            return Err(Fault {
                code: "MustUnderstand",
                message: format!(
                    "The header '{}' from the namespace '{}' was not understood by the recipient of this message, causing the message to not be processed.",
                    h.name,
                    h.ns.as_deref().unwrap_or("")
                ),
            });
        }
    }
    Ok(())
}

/// Whether XML 1.0 allows `c` in a document (even as a character reference).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escaped text; characters XML 1.0 cannot carry (stored through the JSON binding or
/// another dialect) become U+FFFD, so every response stays readable by XML clients.
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(xml_char) {
        quick_xml::escape::escape(s)
    } else {
        let clean: String = s.chars().map(|c| if xml_char(c) { c } else { '\u{FFFD}' }).collect();
        std::borrow::Cow::Owned(quick_xml::escape::escape(&clean).into_owned())
    }
}

fn envelope(inner: &str) -> String {
    format!(r#"<s:Envelope xmlns:s="{SOAP11}"><s:Body>{inner}</s:Body></s:Envelope>"#)
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

/// The fault envelope (HTTP 500).
pub fn fault_response(f: &Fault) -> Response {
    let inner = format!(
        r#"<s:Fault><faultcode>s:{}</faultcode><faultstring xml:lang="en-US">{}</faultstring></s:Fault>"#,
        f.code,
        esc(&f.message)
    );
    xml_response(StatusCode::INTERNAL_SERVER_ERROR, envelope(&inner))
}

/// Writes the members of a data contract in ordinal order (as DataContractSerializer
/// does), prefixed `a:`.
fn members(out: &mut String, m: &Map<String, Value>) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        value(out, k, &m[k.as_str()]);
    }
}

fn value(out: &mut String, name: &str, v: &Value) {
    match v {
        Value::Null => out.push_str(&format!(r#"<a:{name} i:nil="true"/>"#)),
        Value::Bool(b) => out.push_str(&format!("<a:{name}>{b}</a:{name}>")),
        Value::Number(n) => out.push_str(&format!("<a:{name}>{n}</a:{name}>")),
        Value::String(s) => out.push_str(&format!("<a:{name}>{}</a:{name}>", esc(s))),
        Value::Object(m) => {
            out.push_str(&format!("<a:{name}>"));
            members(out, m);
            out.push_str(&format!("</a:{name}>"));
        }
        Value::Array(items) => {
            out.push_str(&format!("<a:{name}>"));
            for i in items {
                value(out, "anyType", i);
            }
            out.push_str(&format!("</a:{name}>"));
        }
    }
}

/// The response envelope of `method`.
pub fn response(method: Method, reply: &Reply) -> Response {
    let name = method.name();
    let res = format!("{name}Result");
    let nil = || format!(r#"<{res} i:nil="true" xmlns:i="{XSI}"/>"#);
    let object = |m: &Map<String, Value>| {
        let mut s = String::new();
        members(&mut s, m);
        format!(r#"<{res} xmlns:a="{DC}" xmlns:i="{XSI}">{s}</{res}>"#)
    };
    let list = |items: &[Value], item: &str| {
        let mut s = String::new();
        for v in items {
            value(&mut s, item, v);
        }
        format!(r#"<{res} xmlns:a="{DC}" xmlns:i="{XSI}">{s}</{res}>"#)
    };
    let inner = match reply {
        Reply::Open {
            code,
            description,
            session_id,
        } => {
            let mut m = Map::new();
            m.insert("ErrorCode".into(), (*code).into());
            m.insert("Description".into(), description.clone().into());
            m.insert("SessionId".into(), session_id.clone().into());
            object(&m)
        }
        Reply::Close { code, description } => {
            let mut m = Map::new();
            m.insert("ErrorCode".into(), (*code).into());
            m.insert("Description".into(), description.clone().into());
            object(&m)
        }
        Reply::Code { code, .. } => format!("<{res}>{code}</{res}>"),
        Reply::Guids(None, _) | Reply::Campaigns(None, _) | Reply::Contacts(None, _) | Reply::Campaign(None, _) => nil(),
        Reply::Guids(Some(ids), _) => {
            let items: String = ids.iter().map(|id| format!("<a:guid>{id}</a:guid>")).collect();
            format!(r#"<{res} xmlns:a="{ARRAYS}" xmlns:i="{XSI}">{items}</{res}>"#)
        }
        Reply::Campaigns(Some(items), _) => list(items, "OutboundNotificationCampaignInfo"),
        Reply::Contacts(Some(items), _) => list(items, "OutboundNotificationContactInfo"),
        Reply::Campaign(Some(Value::Object(m)), _) => object(m),
        Reply::Campaign(Some(_), _) => nil(),
    };
    xml_response(
        StatusCode::OK,
        envelope(&format!(r#"<{name}Response xmlns="{TNS}">{inner}</{name}Response>"#)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dotnet_envelope() {
        let x = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><Action s:mustUnderstand="1" xmlns="http://schemas.microsoft.com/ws/2005/05/addressing/none">http://tempuri.org/IONCService/GetCampaign</Action></s:Header><s:Body><GetCampaign xmlns="http://tempuri.org/"><sessionId>abc &amp; d</sessionId><campaignId>00000000-0000-0000-0000-000000000001</campaignId></GetCampaign></s:Body></s:Envelope>"#;
        let r = read_request(x.as_bytes(), None).unwrap();
        assert_eq!(r.method, Method::GetCampaign);
        assert_eq!(r.params["sessionId"], "abc & d");
        let bom = format!("\u{feff}{x}");
        assert_eq!(read_request(bom.as_bytes(), None).unwrap().method, Method::GetCampaign);
        // SOAPAction decides only when the body element is not an operation
        let odd = x.replace("GetCampaign", "Unknown");
        let r = read_request(odd.as_bytes(), Some("\"http://tempuri.org/IONCService/GetCampaigns\"")).unwrap();
        assert_eq!(r.method, Method::GetCampaigns);
    }

    #[test]
    fn refuses_dtds_and_entities() {
        let x = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>&lol;</Body></Envelope>"#;
        assert!(read_request(x.as_bytes(), None).unwrap_err().message.contains("DTD"));
        let x = r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><GetCampaigns xmlns="http://tempuri.org/"><sessionId>&xxe;</sessionId></GetCampaigns></Body></Envelope>"#;
        assert!(read_request(x.as_bytes(), None).is_err());
        let x = r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><GetCampaigns xmlns="http://tempuri.org/"><sessionId>1</sessionId></GetCampaigns></Body></Envelope>"#;
        assert_eq!(read_request(x.as_bytes(), None).unwrap().method, Method::GetCampaigns);
    }

    #[test]
    fn text_xml_cannot_carry_is_replaced() {
        assert_eq!(esc("a\u{1}b\u{FFFE}<"), "a\u{FFFD}b\u{FFFD}&lt;");
        assert_eq!(esc("tab\tok\n"), "tab\tok\n");
    }

    #[test]
    fn ordinal_member_order() {
        let mut s = String::new();
        let m: Map<String, Value> = serde_json::from_str(r#"{"SessionId":"x","ErrorCode":0,"Description":null}"#).unwrap();
        members(&mut s, &m);
        assert_eq!(
            s,
            r#"<a:Description i:nil="true"/><a:ErrorCode>0</a:ErrorCode><a:SessionId>x</a:SessionId>"#
        );
    }
}

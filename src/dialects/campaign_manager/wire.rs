//! Campaign Manager wire pieces: the error shape, Basic auth, dates, paging, sorting and
//! request bodies (JSON or multipart, whatever Content-Type curl sent).

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

use crate::domain::credentials::kind;
use crate::domain::tenants::Tenant;
use crate::domain::DomainError;
use crate::state::AppState;

/// Which key carries the error code: campaigns and credits print `"code": 488`,
/// announcements and DND print `"errorCode": "500"` (a string), as the doc's examples do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKey {
    Code,
    ErrorCode,
}

/// An error in the vendor's shape.
#[derive(Debug)]
pub struct CmError {
    pub http: StatusCode,
    pub code: u32,
    pub key: CodeKey,
    pub message: String,
    pub data: Value,
}

impl CmError {
    /// A vendor error (HTTP 409, as every table of the doc says).
    pub fn vendor(code: u32, message: impl Into<String>, data: Value) -> Self {
        CmError {
            http: StatusCode::CONFLICT,
            code,
            key: CodeKey::Code,
            message: message.into(),
            data,
        }
    }
    /// The same with `errorCode` (announcements, DND).
    pub fn vendor_ec(code: u32, message: impl Into<String>, data: Value) -> Self {
        CmError {
            key: CodeKey::ErrorCode,
            ..Self::vendor(code, message, data)
        }
    }
    /// 4000: "Mandatory parameter missing. X needs to be passed."
    pub fn missing(field: &str) -> Self {
        Self::vendor(
            4000,
            format!("Mandatory parameter missing. {field} needs to be passed."),
            Value::Null,
        )
    }
    /// 498: malformed date.
    pub fn date_format(field: &str, value: &str) -> Self {
        Self::vendor(
            498,
            "Date format is incorrect. Supported format is ISO-8601 date/time string, like YYYY-MM-DDTHH:MM:SS (for example 2018-10-05T22:45:32)",
            json!({ field: value }),
        )
    }
    /// Bad input the doc has no code for: HTTP 400, code 400, a clear message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        CmError {
            http: StatusCode::BAD_REQUEST,
            code: 400,
            key: CodeKey::Code,
            message: message.into(),
            data: Value::Null,
        }
    }
    pub fn unauthorized() -> Self {
        CmError {
            http: StatusCode::UNAUTHORIZED,
            code: 401,
            key: CodeKey::Code,
            message: "Unauthorized: account SID and auth token are missing or not valid".into(),
            data: Value::Null,
        }
    }
    /// 405: the path exists but not with this method.
    pub fn method_not_allowed(method: &axum::http::Method, path: &str) -> Self {
        CmError {
            http: StatusCode::METHOD_NOT_ALLOWED,
            code: 405,
            key: CodeKey::Code,
            message: format!("Method {method} is not supported on {path}"),
            data: Value::Null,
        }
    }
    pub fn internal() -> Self {
        CmError {
            http: StatusCode::INTERNAL_SERVER_ERROR,
            code: 500,
            key: CodeKey::Code,
            message: "Internal Server Error".into(),
            data: Value::Null,
        }
    }
    /// Switches to the `errorCode` key.
    pub fn ec(mut self) -> Self {
        self.key = CodeKey::ErrorCode;
        self
    }
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

impl From<DomainError> for CmError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InsufficientCredits { needed, available } => {
                CmError::vendor(488, "Credit is not enough", json!({"needed": needed, "available": available}))
            }
            DomainError::Validation { field, message } => CmError::bad_request(format!("{field}: {message}")),
            DomainError::NotFound(what) => CmError {
                http: StatusCode::NOT_FOUND,
                code: 404,
                key: CodeKey::Code,
                message: format!("{what} not found"),
                data: Value::Null,
            },
            DomainError::Conflict(m) | DomainError::InvalidState(m) => CmError::vendor(409, m, Value::Null),
            DomainError::Suppressed { number } => CmError::bad_request(format!("{number} is on the opt-out list")),
            DomainError::Unauthorized => CmError::unauthorized(),
            DomainError::Internal(_) => CmError::internal(),
        }
    }
}

impl IntoResponse for CmError {
    fn into_response(self) -> Response {
        let body = match self.key {
            CodeKey::Code => json!({"code": self.code, "message": self.message, "data": self.data}),
            CodeKey::ErrorCode => json!({"errorCode": self.code.to_string(), "message": self.message, "data": self.data}),
        };
        let mut r = (self.http, Json(body)).into_response();
        if self.http == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"campaignmanager\""),
            );
        }
        r
    }
}

pub type CmResult<T> = Result<T, CmError>;

/// `{"code": 200, "message": "OK", "data": …}` with HTTP 200.
pub fn ok(data: Value) -> Response {
    (StatusCode::OK, Json(json!({"data": data, "code": 200, "message": "OK"}))).into_response()
}

/// The authenticated caller: its tenant, account SID and enterprise SID.
#[derive(Debug, Clone)]
pub struct Cm {
    /// Shared with the read cache (no copy per request).
    pub tenant: std::sync::Arc<Tenant>,
    pub account_sid: String,
    pub enterprise_sid: String,
    /// The account's email: the credential's `attrs.email`, else `<slug>@switchboard.invalid`.
    pub account_email: String,
}

impl FromRequestParts<AppState> for Cm {
    type Rejection = CmError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let (sid, token) = crate::http::basic_credentials(parts).ok_or_else(CmError::unauthorized)?;
        // The doc's curl examples quote `' {SID}:{token}'` with a leading space.
        let (sid, token) = (sid.trim(), token.trim());
        if sid.is_empty() || token.is_empty() {
            return Err(CmError::unauthorized());
        }
        // Both lookups are answered from the per-process read cache once warm.
        let cred = st
            .reads
            .authenticate(&st.db, &st.creds, kind::CAMPAIGN_MANAGER, sid, token)
            .await
            .map_err(|e| match e {
                DomainError::Unauthorized => CmError::unauthorized(),
                other => CmError::from(other),
            })?;
        let tenant = st.reads.tenant(&st.db, cred.tenant_id).await.map_err(|e| match e {
            DomainError::NotFound(_) => CmError::unauthorized(),
            other => CmError::from(other),
        })?;
        let tenant = tenant.tenant.clone();
        crate::controls::journal::note(&tenant);
        let enterprise_sid = cred.account_id.clone().unwrap_or_else(|| crate::domain::sid("EN", tenant.id.0));
        let account_email = cred
            .attrs
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}@switchboard.invalid", tenant.slug));
        if let Some(r) = crate::controls::faults::check(st, tenant.id, "campaign_manager").await {
            let e = CmError {
                http: r.status,
                code: u32::from(r.status.as_u16()),
                key: CodeKey::Code,
                message: r.message,
                data: Value::Null,
            };
            let path = parts.uri.path();
            return Err(if path.contains("/announcement") || path.contains("/dnd/") {
                e.ec()
            } else {
                e
            });
        }
        Ok(Cm {
            tenant,
            account_sid: cred.login_key.clone(),
            enterprise_sid,
            account_email,
        })
    }
}

// ---------------------------------------------------------------------------- dates

/// Renders a time as the doc does: `2021-03-18T06:50:43+0000`.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// Parses an ISO-8601 date or date-time; without an offset it is UTC, a date alone is
/// midnight UTC. Accepts `+05:30`, `+0530`, `Z`, fractional seconds and a space for `T`.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // An unencoded `+0000` in a query string arrives as a space.
    if let Some(i) = s.rfind(' ').filter(|i| *i > 10) {
        let fixed = format!("{}+{}", &s[..i], &s[i + 1..]);
        if let Some(t) = parse_time(&fixed) {
            return Some(t);
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let t_form = s.replacen(' ', "T", 1);
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::parse_from_str(&t_form, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&t_form, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A date query parameter, 498 when malformed.
pub fn time_param(q: &Query, name: &str) -> CmResult<Option<DateTime<Utc>>> {
    match q.get(name) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => parse_time(v).map(Some).ok_or_else(|| CmError::date_format(name, v)),
    }
}

/// The `endTime` filter: inclusive, so a date-time given to the second covers that whole
/// second (rows carry microseconds); a date alone is midnight, as the doc says.
pub fn end_time_param(q: &Query) -> CmResult<Option<DateTime<Utc>>> {
    let t = time_param(q, "endTime")?;
    let whole_second = q.get("endTime").map(|v| v.trim().len() > 10 && !v.contains('.')).unwrap_or(false);
    Ok(t.map(|t| {
        if whole_second {
            t + chrono::Duration::microseconds(999_999)
        } else {
            t
        }
    }))
}

// ---------------------------------------------------------------------------- query

/// The raw query pairs, in order (for filters and for rebuilding page URIs).
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| url_decode_pairs(q).into_iter().filter(|(k, _)| !k.is_empty()).collect::<Vec<_>>())
            .unwrap_or_default();
        Query(pairs)
    }
    /// First value of `name` (exact), else case-insensitive.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_str())
    }
    /// A non-empty trimmed value.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = CmError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Query::parse(parts.uri.query()))
    }
}

fn url_decode_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b':');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Page and page size: page from 0 (default 0), pageSize default 10 (1..=1000).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: i64,
    pub size: i64,
}

impl Paging {
    pub fn from_query(q: &Query) -> CmResult<Self> {
        let num = |name: &str, default: i64, min: i64| -> CmResult<i64> {
            match q.text(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| CmError::bad_request(format!("{name} must be an integer of at least {min}"))),
            }
        };
        let page = num("page", 0, 0)?;
        let size = num("pageSize", 10, 1)?.min(1000);
        Ok(Paging { page, size })
    }
    pub fn offset(&self) -> i64 {
        self.page.saturating_mul(self.size)
    }
}

/// A parsed `SortBy=attr:dir` (or `sortBy`): the attribute as the caller wrote it
/// (matched case-insensitively against `allowed`) and whether it is descending.
pub fn sort_param(q: &Query, allowed: &[&'static str]) -> CmResult<Option<(&'static str, bool)>> {
    let Some(raw) = q.text("SortBy").or_else(|| q.text("sortBy")) else {
        return Ok(None);
    };
    let (attr, dir) = raw.split_once(':').unwrap_or((raw.as_str(), "asc"));
    let attr = allowed.iter().find(|a| a.eq_ignore_ascii_case(attr.trim())).ok_or_else(|| {
        CmError::bad_request(format!(
            "SortBy: cannot sort by '{attr}'; possible attributes: {}",
            allowed.join(", ")
        ))
    })?;
    let desc = match dir.trim().to_ascii_lowercase().as_str() {
        "asc" | "" => false,
        "desc" => true,
        other => return Err(CmError::bad_request(format!("SortBy: direction '{other}' must be asc or desc"))),
    };
    Ok(Some((attr, desc)))
}

fn page_uri(path: &str, q: &Query, size: i64, page: i64) -> String {
    let mut parts: Vec<String> = vec![format!("pageSize={size}")];
    for (k, v) in &q.0 {
        if k == "page" || k == "pageSize" {
            continue;
        }
        parts.push(format!("{}={}", encode(k), encode(v)));
    }
    parts.push(format!("page={page}"));
    format!("{path}?{}", parts.join("&"))
}

struct PageInfo {
    num_pages: i64,
    start: i64,
    end: i64,
}

fn page_info(p: Paging, total: i64, len: usize) -> PageInfo {
    let num_pages = (total + p.size - 1) / p.size;
    let start = p.offset();
    let end = if len == 0 { start } else { start + len as i64 - 1 };
    PageInfo { num_pages, start, end }
}

/// The flat snake_case envelope of credits and campaigns searches.
pub fn flat_page(path: &str, q: &Query, p: Paging, total: i64, data: Vec<Value>) -> Response {
    let i = page_info(p, total, data.len());
    let prev = (p.page > 0).then(|| page_uri(path, q, p.size, p.page - 1));
    let next = (p.page + 1 < i.num_pages).then(|| page_uri(path, q, p.size, p.page + 1));
    let body = json!({
        "page": p.page,
        "num_pages": i.num_pages,
        "page_size": p.size,
        "total": total,
        "start": i.start,
        "end": i.end,
        "uri": path,
        "first_page_uri": page_uri(path, q, p.size, 0),
        "previous_page_uri": prev,
        "next_page_uri": next,
        "data": data,
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// The nested camelCase envelope of announcements and DND searches
/// (`{"data": {"result": [...], "pageSize", …}, "code": 200, "message": "OK"}`).
pub fn nested_page(path: &str, q: &Query, p: Paging, total: i64, result: Vec<Value>) -> Response {
    let i = page_info(p, total, result.len());
    let base = format!("{path}/");
    let mut d = Map::new();
    d.insert("result".into(), Value::Array(result));
    d.insert("pageSize".into(), json!(p.size));
    d.insert("total".into(), json!(total));
    d.insert("page".into(), json!(p.page));
    d.insert("numPages".into(), json!(i.num_pages));
    d.insert("start".into(), json!(i.start));
    d.insert("end".into(), json!(i.end));
    d.insert("firstPageUri".into(), json!(page_uri(&base, q, p.size, 0)));
    if p.page > 0 {
        d.insert("previousPageUri".into(), json!(page_uri(&base, q, p.size, p.page - 1)));
    }
    if p.page + 1 < i.num_pages {
        d.insert("nextPageUri".into(), json!(page_uri(&base, q, p.size, p.page + 1)));
    }
    d.insert("uri".into(), json!(page_uri(&base, q, p.size, p.page)));
    ok(Value::Object(d))
}

// ---------------------------------------------------------------------------- bodies

/// Strips whitespace and the straight or typographic quotes the doc's curl examples put
/// around values (`-F channel=”voice”`).
pub fn clean(s: &str) -> String {
    s.trim()
        .trim_matches(|c: char| c == '"' || c == '\u{201c}' || c == '\u{201d}' || c == '\'' || c == '\u{2018}' || c == '\u{2019}')
        .trim()
        .to_string()
}

/// A text field of a JSON object as a string (numbers are accepted as text).
pub fn json_text(v: &Value, name: &str) -> Option<String> {
    match v.get(name)? {
        Value::String(s) => Some(clean(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// A request body: JSON, or multipart. curl sends `-F` parts with a custom
/// `Content-Type: application/json` header as that type plus a `boundary` parameter, as
/// the doc's DND examples do; any Content-Type with a boundary is read as multipart.
pub enum Body {
    Json(Value),
    Multipart(Multipart),
}

impl FromRequest<AppState> for Body {
    type Rejection = CmError;

    async fn from_request(mut req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let boundary = ct
            .split(';')
            .skip(1)
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.trim().trim_matches('"').to_string());
        if let Some(b) = boundary {
            if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
                let v = HeaderValue::from_str(&format!("multipart/form-data; boundary={b}"))
                    .map_err(|_| CmError::bad_request("Content-Type: invalid boundary"))?;
                req.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            let m = Multipart::from_request(req, st)
                .await
                .map_err(|e| CmError::bad_request(format!("invalid multipart body: {}", e.body_text())))?;
            return Ok(Body::Multipart(m));
        }
        // Upload routes lift the default limit for multipart; a JSON body keeps it.
        let bytes = axum::body::to_bytes(req.into_body(), st.config.body_limit)
            .await
            .map_err(|e| CmError::bad_request(format!("cannot read body: {e}")))?;
        if ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
            let text = String::from_utf8_lossy(&bytes);
            let mut obj = Map::new();
            for (k, v) in url_decode_pairs(&text) {
                if !k.is_empty() {
                    obj.insert(k, Value::String(v));
                }
            }
            return Ok(Body::Json(Value::Object(obj)));
        }
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Body::Json(json!({})));
        }
        if let Some(field) = crate::http::nul_in_json(&bytes) {
            return Err(CmError::bad_request(crate::http::nul_message(&field)));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| CmError::bad_request(format!("body is not valid JSON: {e}")))?;
        if !v.is_object() {
            return Err(CmError::bad_request("body must be a JSON object"));
        }
        Ok(Body::Json(v))
    }
}

/// A JSON object body (the announcement and campaign update endpoints).
pub struct JsonObj(pub Value);

impl FromRequest<AppState> for JsonObj {
    type Rejection = CmError;
    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        match Body::from_request(req, st).await? {
            Body::Json(v) => Ok(JsonObj(v)),
            Body::Multipart(mut m) => {
                // Accept form fields too (text parts only).
                let mut obj = Map::new();
                while let Some(f) = m
                    .next_field()
                    .await
                    .map_err(|e| CmError::bad_request(format!("invalid multipart body: {}", e.body_text())))?
                {
                    let name = f.name().unwrap_or("").to_string();
                    let text = f
                        .text()
                        .await
                        .map_err(|e| CmError::bad_request(format!("invalid multipart body: {}", e.body_text())))?;
                    if !name.is_empty() {
                        obj.insert(name, Value::String(text));
                    }
                }
                Ok(JsonObj(Value::Object(obj)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = parse_time("2021-03-18T12:20:46+0530").unwrap();
        assert_eq!(fmt_time(t), "2021-03-18T06:50:46+0000");
        assert_eq!(fmt_time(parse_time("2018-10-05").unwrap()), "2018-10-05T00:00:00+0000");
        assert_eq!(fmt_time(parse_time("2018-10-05T22:45:32").unwrap()), "2018-10-05T22:45:32+0000");
        assert_eq!(fmt_time(parse_time("2019-01-01 09:53:51").unwrap()), "2019-01-01T09:53:51+0000");
        assert_eq!(
            fmt_time(parse_time("2021-03-18T06:50:43 0000").unwrap()),
            "2021-03-18T06:50:43+0000"
        );
        assert_eq!(
            fmt_time(parse_time("2021-03-18T12:20:46 05:30").unwrap()),
            "2021-03-18T06:50:46+0000"
        );
        assert!(parse_time("2018-13-05").is_none());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("\u{201d}voice\u{201d}"), "voice");
        assert_eq!(clean(" \"10\" "), "10");
    }
}

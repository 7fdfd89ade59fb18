//! Console sign-in: the admin token becomes a signed session cookie.
//!
//! - The cookie is `v1.<expiry unix seconds>.<nonce>.<HMAC-SHA256>` keyed by a secret
//!   derived from the admin token, so every replica verifies it without shared state and
//!   changing the admin token ends every session. It lasts [`SESSION_SECS`]
//!   (`Max-Age` and the signed expiry); it is `HttpOnly`, `SameSite=Strict`, `Path=/console`,
//!   and `Secure` when the request came over TLS (`X-Forwarded-Proto: https`).
//! - Logout clears the cookie in the browser. A copied cookie stays valid until it
//!   expires (nothing is stored server-side to revoke it); rotate the admin token to end
//!   every session at once.
//! - The CSRF token of a session is an HMAC of its cookie; every POST must carry it as the
//!   `_csrf` form field (or the `X-CSRF-Token` header), else 403.
//! - Failed sign-ins: [`MAX_FAILURES`] per client address per [`WINDOW_SECS`] (per process),
//!   then 429 until the window ends. The token is never echoed, rendered or logged.
//!
//! Session expiry uses the process's wall clock, not a tenant clock: it is about the
//! operator, not a tenant's business.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use hmac::{Hmac, Mac};
use maud::html;
use serde::Deserialize;
use sha2::Sha256;

use super::{layout, ConsoleError, PageResult};
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "sb_console";
/// How long a session lasts.
pub const SESSION_SECS: i64 = 8 * 3600;
/// Failed sign-ins allowed per address per window.
pub const MAX_FAILURES: u32 = 5;
/// The rate-limit window.
pub const WINDOW_SECS: u64 = 60;

type HmacSha256 = Hmac<Sha256>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
}

/// The session key: HMAC(admin token, label). Never leaves the process.
fn key(st: &AppState) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(st.admin_token.as_bytes()).expect("HMAC takes a key of any length");
    m.update(b"switchboard console session key v1");
    m.finalize().into_bytes().into()
}

fn mac(key: &[u8; 32], msg: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(msg.as_bytes());
    m
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A fresh signed session value expiring at `exp`.
fn issue(st: &AppState, exp: i64) -> String {
    let nonce = crate::token::random_token(16);
    let body = format!("v1.{exp}.{nonce}");
    let sig = hex::encode(mac(&key(st), &body).finalize().into_bytes());
    format!("{body}.{sig}")
}

/// Whether `value` is a session this server signed that has not expired.
fn verify(st: &AppState, value: &str) -> bool {
    let Some((body, sig)) = value.rsplit_once('.') else { return false };
    let Ok(sig) = hex::decode(sig) else { return false };
    let mut parts = body.split('.');
    let (Some("v1"), Some(exp), Some(_nonce), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(exp) = exp.parse::<i64>() else { return false };
    mac(&key(st), body).verify_slice(&sig).is_ok() && exp > now_unix()
}

/// The CSRF token of a session value.
fn csrf_of(st: &AppState, session: &str) -> String {
    hex::encode(&mac(&key(st), &format!("csrf.{session}")).finalize().into_bytes()[..20])
}

/// A session cookie value for tests that drive the console without a browser.
pub fn session_cookie_for_tests(st: &AppState) -> String {
    issue(st, now_unix() + 3600)
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed-in operator; carries the CSRF token the page's forms must send back.
#[derive(Clone)]
pub struct Session {
    pub csrf: String,
}

/// What an unauthenticated request gets: a page view is sent to the sign-in page, any
/// other request (POST, htmx, SSE) answers 401.
pub struct NotSignedIn {
    redirect: Option<String>,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self.redirect {
            Some(next) => {
                let enc = percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC);
                Redirect::to(&format!("/console/login?next={enc}")).into_response()
            }
            None => ConsoleError::Unauthorized.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(v) = cookie_value(&parts.headers, SESSION_COOKIE).filter(|v| verify(st, v)) {
            return Ok(Session { csrf: csrf_of(st, v) });
        }
        let page_view = parts.method == Method::GET
            && !parts.headers.contains_key("hx-request")
            && !parts
                .headers
                .get(header::ACCEPT)
                .and_then(|a| a.to_str().ok())
                .is_some_and(|a| a.contains("text/event-stream"));
        Err(NotSignedIn {
            redirect: page_view.then(|| parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default()),
        })
    }
}

/// The fields of a POSTed form, accepted only with the session's CSRF token.
pub struct Post {
    pub fields: HashMap<String, String>,
}

impl Post {
    /// A field's trimmed value ("" when absent).
    pub fn get(&self, k: &str) -> &str {
        self.fields.get(k).map(|s| s.trim()).unwrap_or("")
    }
    /// A field's trimmed value, None when absent or empty.
    pub fn opt(&self, k: &str) -> Option<String> {
        Some(self.get(k)).filter(|s| !s.is_empty()).map(str::to_string)
    }
}

/// Checks the CSRF token of a POST (form field `_csrf` or header `X-CSRF-Token`).
pub fn check_csrf(session: &Session, headers: &HeaderMap, field: Option<&str>) -> Result<(), ConsoleError> {
    let given = field
        .or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), session.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(
            "The form's security token is missing or stale; reload the page and try again.".into(),
        ))
    }
}

impl FromRequest<AppState> for Post {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let req = Request::from_parts(parts, body);
        let Form(fields) = Form::<HashMap<String, String>>::from_request(req, st)
            .await
            .map_err(|e| ConsoleError::BadRequest(e.body_text()).into_response())?;
        check_csrf(&session, &headers, fields.get("_csrf").map(String::as_str)).map_err(IntoResponse::into_response)?;
        Ok(Post { fields })
    }
}

/// The client's address (None when the server was not told it).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// Failed sign-ins per client address: (failures, window start).
type FailureMap = HashMap<Option<IpAddr>, (u32, Instant)>;
static FAILURES: LazyLock<Mutex<FailureMap>> = LazyLock::new(Default::default);

/// Seconds until `ip` may try again, when it is over the limit.
fn blocked_for(ip: Option<IpAddr>) -> Option<u64> {
    let map = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    let (n, start) = map.get(&ip)?;
    let left = Duration::from_secs(WINDOW_SECS).checked_sub(start.elapsed())?;
    (*n >= MAX_FAILURES).then(|| left.as_secs().max(1))
}

fn record_failure(ip: Option<IpAddr>) {
    let mut map = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() > 10_000 {
        map.retain(|_, (_, s)| s.elapsed() < Duration::from_secs(WINDOW_SECS));
    }
    let e = map.entry(ip).or_insert((0, Instant::now()));
    if e.1.elapsed() >= Duration::from_secs(WINDOW_SECS) {
        *e = (0, Instant::now());
    }
    e.0 += 1;
}

#[derive(Deserialize, Default)]
struct Next {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Only paths inside the console (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/console/tenants".to_string(),
    }
}

/// `GET /console/login`
async fn login_page(Query(q): Query<Next>) -> Response {
    login_form(q.next.as_deref(), q.error.as_deref(), axum::http::StatusCode::OK)
}

fn login_form(next: Option<&str>, error: Option<&str>, status: axum::http::StatusCode) -> Response {
    let next = safe_next(next);
    let body = layout::bare(
        "Sign in",
        html! {
            main class="login" {
                h1 { "switchboard console" }
                @if let Some(e) = error { p class="error" role="alert" { (e) } }
                form method="post" action="/console/login" {
                    input type="hidden" name="next" value=(next);
                    label for="token" { "Admin token" }
                    input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                    button type="submit" { "Sign in" }
                }
                p class="muted" { "The token is the server's " code { "SWITCHBOARD_ADMIN_TOKEN" } " (printed once at start when generated)." }
            }
        },
    );
    (status, body).into_response()
}

fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
        || headers
            .get("forwarded")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"))
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let s = format!(
        "{SESSION_COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("sb_console=; Path=/console; Max-Age=0"))
}

/// `POST /console/login` (`token`, `next`).
async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    if let Some(secs) = blocked_for(ip) {
        return Err(ConsoleError::TooMany(secs));
    }
    let given = f.get("token").map(|t| t.trim()).unwrap_or("");
    let next = f.get("next").map(String::as_str);
    if !constant_time_eq(given.as_bytes(), st.admin_token.as_bytes()) {
        record_failure(ip);
        tracing::warn!(client = ?ip, "console sign-in failed");
        return Ok(login_form(
            next,
            Some("That is not the admin token."),
            axum::http::StatusCode::UNAUTHORIZED,
        ));
    }
    let value = issue(&st, now_unix() + SESSION_SECS);
    let mut resp = Redirect::to(&safe_next(next)).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, cookie(&value, SESSION_SECS, is_https(&headers)));
    Ok(resp)
}

/// `POST /console/logout`
async fn logout(headers: HeaderMap, _: Post) -> Response {
    let mut resp = Redirect::to("/console/login").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie("", 0, is_https(&headers)));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(safe_next(Some("/console/t/acme")), "/console/t/acme");
        assert_eq!(safe_next(Some("//evil.example")), "/console/tenants");
        assert_eq!(safe_next(Some("https://evil.example/console")), "/console/tenants");
        assert_eq!(safe_next(None), "/console/tenants");
    }

    #[test]
    fn https_is_seen_through_the_proxy_headers() {
        let mut h = HeaderMap::new();
        assert!(!is_https(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_https(&h));
    }
}

//! Fault and latency injection on the dialects' traffic (admin `…/tenants/{slug}/faults`).
//!
//! How it fits together:
//! - [`around`] wraps every dialect route (in `controls::dialect_requests`). It opens a per-request slot (a task-local, so the
//!   dialects need no extra extractor) holding the request's method and path, runs the
//!   request, then carries out what a fault decided: a `reset` answers nothing (the body
//!   stream fails before the head is flushed, so hyper closes the connection without a
//!   byte), a `timeout` holds the request for `delay_ms` (default 30 s) and then does the
//!   same, `malformed` sends the real answer cut to half its bytes (a complete HTTP
//!   response whose body does not parse), and a `status` fault gets its `body` override
//!   and `Retry-After`. The answer carries a [`Fired`] extension naming the kind.
//! - Each dialect's authentication calls [`check`] once it knows the tenant. Matching
//!   needs the tenant's faults from the per-process [`FaultCache`] (no query when the
//!   tenant has none). The first fault in creation order that matches and fires applies:
//!   `delay` sleeps there and the request goes on; `status`, `reset` and `timeout` return
//!   a [`Refusal`] that the dialect answers in its own error shape (the request is not
//!   processed); `malformed` lets the request run.
//! - Matching: `dialect` (the front door: `onc`, `leads`, `campaign_manager`, `apps`,
//!   `outbound_dialer`), `method` (HTTP, case-insensitive) and `path`, a glob (`*` any
//!   run of characters, `/` included; `?` one character) on the request path, or, for
//!   ONC, on the operation name (either may match).
//! - Firing: with a `seed`, the decision for the n-th matching request (n counted in
//!   Postgres, so replicas share it) is a pure function of (seed, n) and `probability`
//!   ([`seeded_fires`]); without one, a random draw. `times` is taken atomically in
//!   Postgres; the fault is deleted with its last firing.
//!
//! [`FaultCache`]: crate::domain::faults::FaultCache

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::domain::faults::{self as store, kind, Fault};
use crate::domain::{DomainResult, TenantId};
use crate::state::AppState;

/// How long a `timeout` fault holds a request when it names no `delay_ms`.
pub const DEFAULT_TIMEOUT_MS: i32 = 30_000;

/// The error a dialect answers in its own shape instead of handling the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    /// The fault's choice of error shape where a dialect has two (ONC: `soap_fault`, the
    /// default, or `error_code`).
    pub shape: Option<String>,
}

impl Refusal {
    /// ONC: answer with a SOAP fault (or, on the JSON binding, an HTTP error) rather than
    /// ErrorCode 99 in a normal response.
    pub fn soap_fault(&self) -> bool {
        self.shape.as_deref() != Some("error_code")
    }
}

/// Response extension: a fault of this kind fired for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired(pub &'static str);

// ---------------------------------------------------------------------------- counters

static FIRED: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

/// Faults fired by this process, per kind (every kind listed, zeros included).
pub fn fired_total() -> Vec<(&'static str, u64)> {
    kind::ALL
        .iter()
        .zip(FIRED.iter())
        .map(|(k, n)| (*k, n.load(Ordering::Relaxed)))
        .collect()
}

fn count(k: &str) -> &'static str {
    let i = kind::ALL.iter().position(|x| *x == k).unwrap_or(0);
    FIRED[i].fetch_add(1, Ordering::Relaxed);
    kind::ALL[i]
}

// ---------------------------------------------------------------------------- the slot

#[derive(Debug)]
enum Action {
    Status { body: Option<Value>, retry_after: Option<i32> },
    Delay,
    Reset,
    Timeout(Duration),
    Malformed,
}

#[derive(Debug, Default)]
struct SlotState {
    operation: Option<&'static str>,
    checked: bool,
    fired: Option<&'static str>,
    action: Option<Action>,
    refusal: Option<Refusal>,
}

#[derive(Debug)]
struct Slot {
    method: Method,
    /// The request's URI (a reference-counted clone; its path is what faults match).
    uri: axum::http::Uri,
    state: Mutex<SlotState>,
}

impl Slot {
    fn with<T>(&self, f: impl FnOnce(&mut SlotState) -> T) -> T {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
}

tokio::task_local! {
    static SLOT: Arc<Slot>;
}

fn slot() -> Option<Arc<Slot>> {
    SLOT.try_with(Arc::clone).ok()
}

/// ONC: the operation the request calls (matched against `path` too).
pub fn set_operation(name: &'static str) {
    if let Some(s) = slot() {
        s.with(|st| st.operation = Some(name));
    }
}

/// The refusal of a `status` fault that fired for this request, if any (ONC renders a
/// SOAP fault from it after the call).
pub fn status_refusal() -> Option<Refusal> {
    let s = slot()?;
    s.with(|st| match st.action {
        Some(Action::Status { .. }) => st.refusal.clone(),
        _ => None,
    })
}

// ---------------------------------------------------------------------------- matching

/// Glob match: `*` any run of characters (`/` included), `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn matches(f: &Fault, dialect: &str, method: &Method, path: &str, operation: Option<&str>) -> bool {
    f.dialect.as_deref().is_none_or(|d| d == dialect)
        && f.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
        && (glob(&f.path, path) || operation.is_some_and(|o| glob(&f.path, o)))
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Whether a seeded fault fires for its n-th matching request: a pure function of
/// (seed, n), drawn uniformly in [0, 1) and compared with `probability`.
pub fn seeded_fires(seed: i64, n: i64, probability: f64) -> bool {
    let x = splitmix64(splitmix64(seed as u64) ^ (n as u64));
    ((x >> 11) as f64 / (1u64 << 53) as f64) < probability
}

async fn fires(st: &AppState, tenant: TenantId, f: &Fault) -> DomainResult<bool> {
    let decided = match f.seed {
        Some(seed) => match store::next_match(&st.db, tenant, f.id).await? {
            Some(n) => seeded_fires(seed, n, f.probability),
            None => return Ok(false),
        },
        None => f.probability >= 1.0 || (f.probability > 0.0 && rand::random::<f64>() < f.probability),
    };
    if decided && f.times.is_some() {
        return store::take_one(&st.db, tenant, f.id).await;
    }
    Ok(decided)
}

// ---------------------------------------------------------------------------- check

/// Called by a dialect's authentication once the tenant is known (once per request; a
/// second call answers as the first). `None`: go on (maybe after a delay); `Some`: answer
/// the refusal in the dialect's error shape instead of handling the request.
pub async fn check(st: &AppState, tenant: TenantId, dialect: &'static str) -> Option<Refusal> {
    let slot = slot()?;
    if let Some(earlier) = slot.with(|s| std::mem::replace(&mut s.checked, true).then(|| s.refusal.clone())) {
        return earlier;
    }
    let faults = match st.faults.for_tenant(&st.db, tenant).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "faults: cannot read the tenant's faults");
            return None;
        }
    };
    if faults.is_empty() {
        return None;
    }
    let operation = slot.with(|s| s.operation);
    for f in faults.iter() {
        if !matches(f, dialect, &slot.method, slot.uri.path(), operation) {
            continue;
        }
        match fires(st, tenant, f).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, fault = %f.id, "faults: cannot count a match");
                continue;
            }
        }
        let fired = count(&f.kind);
        tracing::info!(fault = %f.id, kind = fired, "fault fired");
        return apply(&slot, f, fired).await;
    }
    None
}

async fn apply(slot: &Slot, f: &Fault, fired: &'static str) -> Option<Refusal> {
    let ms = |default: i32| Duration::from_millis(f.delay_ms.unwrap_or(default).clamp(0, store::MAX_DELAY_MS) as u64);
    let (action, refusal) = match fired {
        kind::STATUS => {
            let status = f
                .status
                .and_then(|s| StatusCode::from_u16(s as u16).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let refusal = Refusal {
                status,
                message: status.canonical_reason().unwrap_or("Injected fault").to_string(),
                shape: f.shape.clone(),
            };
            let action = Action::Status {
                body: f.body.clone(),
                retry_after: f.retry_after,
            };
            (action, Some(refusal))
        }
        kind::DELAY => {
            tokio::time::sleep(ms(0)).await;
            (Action::Delay, None)
        }
        kind::MALFORMED => (Action::Malformed, None),
        other => {
            let action = if other == kind::RESET {
                Action::Reset
            } else {
                Action::Timeout(ms(DEFAULT_TIMEOUT_MS))
            };
            let refusal = Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "Service Unavailable".into(),
                shape: f.shape.clone(),
            };
            (action, Some(refusal))
        }
    };
    slot.with(|s| {
        s.fired = Some(fired);
        s.action = Some(action);
        s.refusal = refusal.clone();
    });
    refusal
}

// ---------------------------------------------------------------------------- middleware

/// Opens the request's slot around `inner` and carries out what a fault decided (see the
/// module doc); part of `controls::dialect_requests`.
pub async fn around<F, Fut>(req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let slot = Arc::new(Slot {
        method: req.method().clone(),
        uri: req.uri().clone(),
        state: Mutex::new(SlotState::default()),
    });
    let resp = SLOT.scope(slot.clone(), inner(req)).await;
    let (fired, action) = slot.with(|s| (s.fired, s.action.take()));
    let mut resp = match action {
        None => return resp,
        Some(Action::Delay) => resp,
        Some(Action::Reset) => aborted(),
        Some(Action::Timeout(d)) => {
            tokio::time::sleep(d).await;
            aborted()
        }
        Some(Action::Malformed) => truncated(resp).await,
        Some(Action::Status { body, retry_after }) => overridden(resp, body, retry_after),
    };
    if let Some(k) = fired {
        resp.extensions_mut().insert(Fired(k));
    }
    resp
}

/// An answer hyper never sends: its body fails at once, before the head is flushed, so the
/// connection is closed without a byte.
fn aborted() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injected: connection reset",
        ))
    });
    let mut r = Response::new(Body::from_stream(failing));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r
}

/// The real answer with its body cut to half its bytes (at a character boundary).
async fn truncated(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut cut = bytes.len() / 2;
    if let Ok(text) = std::str::from_utf8(&bytes) {
        while cut > 0 && !text.is_char_boundary(cut) {
            cut -= 1;
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..cut)))
}

/// A `status` fault's answer with its `body` override (a string is sent as it is, with
/// the dialect's content type; anything else as JSON) and `Retry-After`.
fn overridden(resp: Response, body: Option<Value>, retry_after: Option<i32>) -> Response {
    let (mut parts, old) = resp.into_parts();
    let body = match body {
        None => old,
        Some(v) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            match v {
                Value::String(s) => Body::from(s),
                other => {
                    parts
                        .headers
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    Body::from(other.to_string())
                }
            }
        }
    };
    if let Some(secs) = retry_after {
        parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", "/apps/api/v1/calls"));
        assert!(glob("/apps/*", "/apps/api/v1/calls"));
        assert!(glob("/apps/api/v1/call?", "/apps/api/v1/calls"));
        assert!(!glob("/apps/api/v1/call?", "/apps/api/v1/call"));
        assert!(glob("*Campaign*", "AddCampaignContact"));
        assert!(glob("AddCampaignContact", "AddCampaignContact"));
        assert!(!glob("Add*", "GetCampaign"));
        assert!(glob("/a/*/c", "/a/b/x/c"));
        assert!(!glob("/a/*/c", "/a/b/x/d"));
    }

    #[test]
    fn seeded_decisions_are_a_function_of_seed_and_n() {
        let a: Vec<bool> = (1..=50).map(|n| seeded_fires(42, n, 0.5)).collect();
        let b: Vec<bool> = (1..=50).map(|n| seeded_fires(42, n, 0.5)).collect();
        let c: Vec<bool> = (1..=50).map(|n| seeded_fires(7, n, 0.5)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
        assert!((1..=50).all(|n| seeded_fires(1, n, 1.0)));
        assert!((1..=50).all(|n| !seeded_fires(1, n, 0.0)));
    }
}

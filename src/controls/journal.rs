//! The request journal's HTTP side: a middleware around every dialect route that records
//! what a tenant's integration sent and what it got back, redacted, off the request path.
//!
//! - **Which tenant**: the middleware puts a slot ([`RequestTenant`]) in the request's
//!   extensions and in a task-local; each dialect's authentication calls [`note`] as soon
//!   as it knows the tenant (also before it answers 401 for a known tenant, e.g. an
//!   expired Leads token or a wrong Host, or 429). A request whose tenant is never known
//!   (unknown or wrong credentials) is not recorded: nothing ties it to a tenant.
//! - **What**: dialect, method, path, route template (axum's `MatchedPath`), query, the ONC
//!   operation (JSON path or SOAPAction / first Body element), headers, body (first 64 KiB),
//!   response status, headers and body (first 64 KiB; streamed responses such as audio
//!   downloads are recorded without their body), duration, request id, and the time on the
//!   tenant's clock at the start of the request.
//! - **Redaction** (in the writer, off the request path): `Authorization` (the scheme
//!   stays), cookies and every header, query parameter, JSON key, form field or XML
//!   element whose name says password, secret, token, API key, session id or credential
//!   (`password`, `refresh_token`, `authToken`, `X-API-Key`, `SessionId`, …) become
//!   `[REDACTED]`; then every secret value found that way is also masked wherever else it
//!   appears in the record (a session id echoed in a response, say).
//! - **Off the request path**: the middleware hands the raw parts (no copy of the bodies it
//!   keeps: shared `Bytes` slices of the frames, none for a body-less GET) to a bounded
//!   channel ([`CHANNEL_CAPACITY`]). One writer task per process gathers them — writing at
//!   once under light load, gathering for up to 10 s under load — keeps per tenant only
//!   the newest `journal_limit` records of a batch (older ones would be trimmed by
//!   retention right after, so they are neither redacted nor written), redacts on the
//!   blocking pool and writes the batch in one `INSERT … SELECT FROM UNNEST`
//!   (`domain::journal::insert_batch`) while it gathers the next, and trims the tenants
//!   written to to their `journal_limit` (`domain::journal::trim`) at most every 10 s,
//!   and before every read. So under a flood the journal costs at most one insert of
//!   `journal_limit` rows and one trim per tenant every 10 s, whatever the request rate. Readers never see
//!   the delay: the admin API and the console flush before they read. When the channel is full the record is dropped and counted
//!   ([`dropped_total`]). [`Journal::flush`] waits until everything sent before it is
//!   written (the admin API calls it before reading, so a client sees its own requests);
//!   at shutdown `launch` stops the writer after the listeners ([`Writer::stop`]), which
//!   writes what is queued.
//! - **Settings** ([`SETTINGS`]): `journal_enabled` (default true), `journal_limit`
//!   (default [`DEFAULT_LIMIT`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::domain::clock::TenantClock;
use crate::domain::journal::{self as store, NewRecord};
use crate::domain::tenants::{Setting, SettingKind, Tenant};
use crate::domain::TenantId;
use crate::state::AppState;

/// Bodies (request and response) are kept up to this many bytes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Records waiting for the writer; beyond, new records are dropped and counted.
pub const CHANNEL_CAPACITY: usize = 4096;
/// Below this many queued records the writer writes at once; from it on (under load) it
/// gathers records for up to [`GATHER`] before writing.
pub const BATCH: usize = 256;
/// How long the writer gathers records under load before writing them.
const GATHER: Duration = Duration::from_secs(10);
/// Records redacted and inserted per statement.
const CHUNK: usize = 500;
/// The pause between the chunks of a big batch (unless a reader waits).
const PACE: Duration = Duration::from_millis(100);
/// How often the writer drains the channel while it gathers under load.
const POLL: Duration = Duration::from_millis(20);
/// From this many records a second on, the writer gathers for [`GATHER`] between writes.
const LOADED_RATE: f64 = 500.0;
/// Records gathered for one write at most (after per-tenant coalescing).
const MAX_GATHER: usize = 20_000;
/// Retention is enforced at most this often under load (and before every read).
const TRIM_EVERY: Duration = Duration::from_secs(10);
/// `journal_limit` when the tenant has none.
pub const DEFAULT_LIMIT: i64 = 10_000;
/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// The journal's settings keys (shown once set).
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "journal_enabled",
        kind: SettingKind::Bool,
        listed: false,
    },
    Setting {
        key: "journal_limit",
        kind: SettingKind::Int {
            min: 1,
            max: 1_000_000,
            unit: "",
        },
        listed: false,
    },
];

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Records dropped since the process started (channel full, or a batch that could not be
/// written): `switchboard_journal_dropped_total`.
pub fn dropped_total() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// The tenant of a request, as far as the journal needs it.
#[derive(Debug, Clone, Copy)]
pub struct Noted {
    pub id: TenantId,
    pub epoch: i64,
    pub clock: TenantClock,
    pub enabled: bool,
    /// The tenant's `journal_limit` (records older than its newest `limit` need no writing).
    pub limit: i64,
}

/// The slot a dialect's authentication fills with the request's tenant (request extension).
#[derive(Debug, Clone, Default)]
pub struct RequestTenant(pub Arc<OnceLock<Noted>>);

impl RequestTenant {
    /// The tenant, once known.
    pub fn get(&self) -> Option<TenantId> {
        self.0.get().map(|n| n.id)
    }
}

tokio::task_local! {
    static CURRENT: Arc<OnceLock<Noted>>;
}

/// Records that the current request is `tenant`'s (the first call wins; outside a
/// journaled request it does nothing). Cheap: no I/O.
pub fn note(tenant: &Tenant) {
    let _ = CURRENT.try_with(|slot| {
        let _ = slot.set(Noted {
            id: tenant.id,
            epoch: tenant.epoch,
            clock: tenant.clock,
            enabled: tenant.settings.get::<bool>("journal_enabled").unwrap_or(true),
            limit: tenant.settings.get::<i64>("journal_limit").unwrap_or(DEFAULT_LIMIT).max(1),
        });
    });
}

// ---------------------------------------------------------------------------------------
// The handle in the application state

enum Msg {
    Record(Box<Pending>),
    Flush(oneshot::Sender<()>),
    Stop,
}

/// The channel to this process's writer.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Msg>,
    rx: Arc<Mutex<Option<mpsc::Receiver<Msg>>>>,
    running: Arc<AtomicBool>,
    /// Set by a flush: a paced write in progress writes its remaining chunks at once.
    hurry: Arc<AtomicBool>,
}

impl Default for Journal {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        Journal {
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
            running: Arc::new(AtomicBool::new(false)),
            hurry: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Journal {
    fn send(&self, p: Pending) {
        match self.tx.try_send(Msg::Record(Box::new(p))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) | Err(mpsc::error::TrySendError::Closed(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits (a few seconds at most) until every record this process sent before the call
    /// is written. Does nothing when no writer runs.
    pub async fn flush(&self) {
        if !self.running.load(Ordering::Acquire) {
            return;
        }
        self.hurry.store(true, Ordering::Release);
        let (tx, rx) = oneshot::channel();
        let wait = async {
            if self.tx.send(Msg::Flush(tx)).await.is_ok() {
                let _ = rx.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), wait).await.is_err() {
            tracing::warn!("request journal flush timed out");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The middleware

/// Body bytes seen so far (zero-copy slices of the frames), up to [`BODY_LIMIT`].
#[derive(Debug, Default)]
struct Capture {
    chunks: Vec<Bytes>,
    kept: usize,
    total: usize,
}

impl Capture {
    fn push(&mut self, b: &Bytes) {
        self.total += b.len();
        let room = BODY_LIMIT.saturating_sub(self.kept);
        if room > 0 && !b.is_empty() {
            let part = b.slice(..b.len().min(room));
            self.kept += part.len();
            self.chunks.push(part);
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }
}

/// What the middleware hands to the writer: raw, redacted by the writer.
struct Pending {
    tenant: Noted,
    base_now: DateTime<Utc>,
    method: Method,
    uri: Uri,
    route: Option<MatchedPath>,
    headers: HeaderMap,
    request: Arc<Mutex<Capture>>,
    status: u16,
    response_headers: HeaderMap,
    response: Option<Bytes>,
    response_size: Option<usize>,
    duration: Duration,
}

/// Records the request and the answer of `inner` in the tenant's journal once the tenant
/// is known; part of `controls::dialect_requests`.
pub async fn around<F, Fut>(st: &AppState, req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let start = Instant::now();
    let base_now = st.clock.now();
    let slot: Arc<OnceLock<Noted>> = Arc::new(OnceLock::new());
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(RequestTenant(slot.clone()));
    let method = parts.method.clone();
    let uri = parts.uri.clone();
    let headers = parts.headers.clone();
    let route = parts.extensions.get::<MatchedPath>().cloned();
    let capture = Arc::new(Mutex::new(Capture::default()));
    let body = capture_request(body, &capture).await;
    let resp = CURRENT.scope(slot.clone(), inner(Request::from_parts(parts, body))).await;
    let Some(tenant) = slot.get().copied().filter(|t| t.enabled) else {
        return resp;
    };
    let (rparts, rbody) = resp.into_parts();
    let (body, response, response_size) = match rbody.size_hint().exact() {
        Some(_) => match axum::body::to_bytes(rbody, usize::MAX).await {
            Ok(b) => (Body::from(b.clone()), Some(b.slice(..b.len().min(BODY_LIMIT))), Some(b.len())),
            Err(_) => (Body::empty(), None, None),
        },
        None => (rbody, None, None),
    };
    st.journal.send(Pending {
        tenant,
        base_now,
        method,
        uri,
        route,
        headers,
        request: capture,
        status: rparts.status.as_u16(),
        response_headers: rparts.headers.clone(),
        response,
        response_size,
        duration: start.elapsed(),
    });
    Response::from_parts(rparts, body)
}

/// A request body the handler reads as before, with its first bytes kept: read at once
/// when its announced size is at most [`BODY_LIMIT`] (so a body the handler never reads,
/// e.g. on a 401, is kept too), else copied while the handler streams it.
async fn capture_request(body: Body, capture: &Arc<Mutex<Capture>>) -> Body {
    match body.size_hint().exact() {
        Some(0) => body,
        Some(n) if n as usize <= BODY_LIMIT => match axum::body::to_bytes(body, BODY_LIMIT).await {
            Ok(b) => {
                if let Ok(mut c) = capture.lock() {
                    c.push(&b);
                }
                Body::from(b)
            }
            Err(e) => Body::from_stream(futures::stream::once(async move { Err::<Bytes, _>(e) })),
        },
        _ => {
            let capture = capture.clone();
            Body::from_stream(body.into_data_stream().map(move |chunk| {
                if let (Ok(b), Ok(mut c)) = (&chunk, capture.lock()) {
                    c.push(b);
                }
                chunk
            }))
        }
    }
}

// ---------------------------------------------------------------------------------------
// The writer

/// The running writer of this process.
pub struct Writer {
    task: tokio::task::JoinHandle<()>,
    journal: Journal,
}

impl Writer {
    /// Writes what is queued, then stops (call it once the listeners are closed, so the
    /// records of the last requests are written too).
    pub async fn stop(self) {
        let _ = self.journal.tx.send(Msg::Stop).await;
        let _ = self.task.await;
    }
}

/// Records gathered for one write: per tenant, only the newest `journal_limit` (older
/// ones would be trimmed by retention right after, so they are neither redacted nor
/// written), plus the flushes to answer once written.
#[derive(Default)]
struct Gathered {
    per_tenant: HashMap<TenantId, VecDeque<Pending>>,
    /// Tenants in order of their first record (the write keeps arrival order per tenant).
    order: Vec<TenantId>,
    len: usize,
    acks: Vec<oneshot::Sender<()>>,
    stop: bool,
}

impl Gathered {
    fn take(&mut self, m: Msg) {
        match m {
            Msg::Record(p) => {
                let limit = usize::try_from(p.tenant.limit).unwrap_or(usize::MAX).max(1);
                let t = p.tenant.id;
                let q = self.per_tenant.entry(t).or_insert_with(|| {
                    self.order.push(t);
                    VecDeque::new()
                });
                q.push_back(*p);
                self.len += 1;
                while q.len() > limit {
                    q.pop_front();
                    self.len -= 1;
                }
            }
            Msg::Flush(tx) => self.acks.push(tx),
            Msg::Stop => self.stop = true,
        }
    }

    /// Whether to write now rather than gather more: at once under light load (fewer than
    /// [`BATCH`] waiting, and the last batch was small too), else once [`GATHER`] has passed.
    fn due(&self, since: Instant, loaded: bool) -> bool {
        self.stop || !self.acks.is_empty() || (!loaded && self.len < BATCH) || self.len >= MAX_GATHER || since.elapsed() >= GATHER
    }
}

/// Starts this process's writer (once; later calls return None).
///
/// One task gathers what the channel brings (at once when the load is light, for up to
/// [`GATHER`] under load, coalescing per tenant) while the previous batch is being written
/// by another, so the channel keeps draining during a write.
pub fn spawn_writer(state: &AppState) -> Option<Writer> {
    let mut rx = state.journal.rx.lock().ok()?.take()?;
    let running = state.journal.running.clone();
    let hurry = state.journal.hurry.clone();
    running.store(true, Ordering::Release);
    let db = state.db.clone();
    let task = tokio::spawn(async move {
        let mut last_trim = Instant::now();
        let mut untrimmed: HashSet<TenantId> = HashSet::new();
        let mut inflight: Option<tokio::task::JoinHandle<()>> = None;
        let mut loaded = false;
        let mut prev_started = Instant::now();
        loop {
            let Some(first) = rx.recv().await else { break };
            let started = Instant::now();
            let mut g = Gathered::default();
            g.take(first);
            loop {
                while g.len < MAX_GATHER {
                    match rx.try_recv() {
                        Ok(m) => g.take(m),
                        Err(_) => break,
                    }
                }
                if g.due(started, loaded) {
                    break;
                }
                let left = GATHER.saturating_sub(started.elapsed());
                if loaded {
                    // Under load the channel is drained every POLL rather than woken per
                    // record: a send then costs no wake-up of this task.
                    tokio::time::sleep(left.min(POLL)).await;
                    continue;
                }
                match tokio::time::timeout(left, rx.recv()).await {
                    Ok(Some(m)) => g.take(m),
                    Ok(None) | Err(_) => break,
                }
            }
            // Under load (a batch of BATCH or more, or records coming faster than
            // LOADED_RATE a second), the next batch gathers for GATHER:
            // per tenant only the newest `journal_limit` of it are written, so the rows
            // written per second stay bounded however fast requests come.
            let rate = g.len as f64 / prev_started.elapsed().as_secs_f64().max(0.001);
            loaded = g.len >= BATCH || rate >= LOADED_RATE;
            prev_started = started;
            // One write at a time, in order.
            if let Some(h) = inflight.take() {
                let _ = h.await;
            }
            untrimmed.extend(g.order.iter().copied());
            // Retention is enforced at most every TRIM_EVERY under load, and always before
            // a reader (a flush) looks.
            let trim = g.stop || !g.acks.is_empty() || last_trim.elapsed() >= TRIM_EVERY;
            let trim_now: Vec<TenantId> = if trim {
                last_trim = Instant::now();
                untrimmed.drain().collect()
            } else {
                Vec::new()
            };
            let stop = g.stop;
            let h = tokio::spawn(write(db.clone(), g, trim_now, hurry.clone()));
            if stop {
                let _ = h.await;
                break;
            }
            inflight = Some(h);
        }
        if let Some(h) = inflight.take() {
            let _ = h.await;
        }
        running.store(false, Ordering::Release);
    });
    Some(Writer {
        task,
        journal: state.journal.clone(),
    })
}

/// Redacts and writes the gathered records, trims the tenants in `trim`, then answers the
/// flushes.
async fn write(db: sqlx::PgPool, g: Gathered, trim: Vec<TenantId>, hurry: Arc<AtomicBool>) {
    let Gathered {
        mut per_tenant,
        order,
        len,
        acks,
        stop,
        ..
    } = g;
    if !acks.is_empty() || stop {
        hurry.store(true, Ordering::Release);
    }
    let all: Vec<Pending> = order.iter().filter_map(|t| per_tenant.remove(t)).flatten().collect();
    let mut pending = all.into_iter();
    let mut left = len;
    while left > 0 {
        let chunk: Vec<Pending> = pending.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        left = left.saturating_sub(chunk.len());
        // Redaction is CPU work: off the runtime's worker threads.
        let records = tokio::task::spawn_blocking(move || chunk.into_iter().map(redact).collect::<Vec<_>>())
            .await
            .unwrap_or_default();
        if let Err(e) = store::insert_batch(&db, &records).await {
            tracing::warn!(error = %e, records = records.len(), "request journal batch not written");
            DROPPED.fetch_add(records.len() as u64, Ordering::Relaxed);
        }
        // A big batch (a flood) is written in paced chunks, so neither Postgres nor the
        // redaction takes a core away from requests for long; a reader (flush) or the
        // shutdown hurries it.
        if left > 0 && !hurry.load(Ordering::Acquire) {
            tokio::time::sleep(PACE).await;
        }
    }
    if !trim.is_empty() {
        if let Err(e) = store::trim(&db, &trim, DEFAULT_LIMIT).await {
            tracing::warn!(error = %e, "request journal not trimmed");
        }
    }
    if !acks.is_empty() || stop {
        hurry.store(false, Ordering::Release);
    }
    for a in acks {
        let _ = a.send(());
    }
}

// ---------------------------------------------------------------------------------------
// Redaction and the record

/// The dialect a path belongs to (every journaled path is a dialect's).
pub fn dialect_of(path: &str) -> &'static str {
    let under = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    if under("/onc") {
        "onc"
    } else if under("/api/v2") || under("/callcenter") {
        "leads"
    } else if under("/apps/api/v1/outbound_dialer/campaigns") {
        "outbound_dialer"
    } else if under("/apps") || under("/manager") {
        "apps"
    } else {
        "campaign_manager"
    }
}

/// Whether a header, parameter, key or element of this name holds a secret.
pub fn sensitive(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const PARTS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "sessionid",
        "authorization",
        "cookie",
        "credential",
        "signature",
    ];
    PARTS.iter().any(|p| n.contains(p)) || matches!(n.as_str(), "pwd" | "pass" | "key" | "auth" | "jwt")
}

/// Secret values found while redacting, masked everywhere else in the record afterwards.
#[derive(Default)]
struct Secrets(Vec<String>);

impl Secrets {
    fn add(&mut self, v: &str) {
        let v = v.trim();
        if v.len() >= 6 && v != REDACTED && !self.0.iter().any(|s| s == v) {
            self.0.push(v.to_string());
        }
    }

    fn scrub(&self, text: String) -> String {
        let mut out = text;
        for s in &self.0 {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

fn headers_json(h: &HeaderMap, secrets: &mut Secrets) -> Value {
    let mut out = Map::new();
    for (name, value) in h {
        let raw = String::from_utf8_lossy(value.as_bytes()).to_string();
        let shown = if name.as_str().eq_ignore_ascii_case("authorization") || name.as_str().eq_ignore_ascii_case("proxy-authorization") {
            match raw.trim().split_once(' ') {
                Some((scheme, cred)) => {
                    secrets.add(cred);
                    if scheme.eq_ignore_ascii_case("basic") {
                        if let Some((user, pass)) = base64::engine::general_purpose::STANDARD
                            .decode(cred.trim())
                            .ok()
                            .and_then(|b| String::from_utf8(b).ok())
                            .and_then(|t| t.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())))
                        {
                            secrets.add(&pass);
                            let _ = user;
                        }
                    }
                    format!("{scheme} {REDACTED}")
                }
                None => {
                    secrets.add(&raw);
                    REDACTED.to_string()
                }
            }
        } else if name.as_str().eq_ignore_ascii_case("cookie") || name.as_str().eq_ignore_ascii_case("set-cookie") {
            for c in raw.split(';') {
                if let Some((_, v)) = c.split_once('=') {
                    secrets.add(v);
                }
            }
            REDACTED.to_string()
        } else if sensitive(name.as_str()) {
            secrets.add(&raw);
            REDACTED.to_string()
        } else {
            raw
        };
        match out.get_mut(name.as_str()) {
            Some(Value::Array(a)) => a.push(Value::String(shown)),
            Some(prev) => {
                let p = prev.take();
                *prev = Value::Array(vec![p, Value::String(shown)]);
            }
            None => {
                out.insert(name.as_str().to_string(), Value::String(shown));
            }
        }
    }
    Value::Object(out)
}

/// `a=1&password=x` with sensitive parameters' values redacted.
fn redact_form(text: &str, secrets: &mut Secrets) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => {
                let key = percent_encoding::percent_decode_str(&k.replace('+', " "))
                    .decode_utf8_lossy()
                    .to_string();
                if sensitive(&key) {
                    let val = percent_encoding::percent_decode_str(&v.replace('+', " "))
                        .decode_utf8_lossy()
                        .to_string();
                    secrets.add(&val);
                    secrets.add(v);
                    format!("{k}={REDACTED}")
                } else {
                    pair.to_string()
                }
            }
            None => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn redact_json(v: &mut Value, secrets: &mut Secrets) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if sensitive(k) && !x.is_null() && !x.is_object() && !x.is_array() {
                    match &*x {
                        Value::String(s) => secrets.add(s),
                        other => secrets.add(&other.to_string()),
                    }
                    *x = Value::String(REDACTED.to_string());
                } else {
                    redact_json(x, secrets);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, secrets)),
        _ => {}
    }
}

/// XML with the text of sensitive elements (`<password>`, `<a:Password>`,
/// `<SessionId>`, …) redacted. A plain scan, no parser: it never fails on a truncated body.
fn redact_xml(text: &str, secrets: &mut Secrets) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tag = &rest[lt..];
        let Some(gt) = tag.find('>') else {
            out.push_str(tag);
            return out;
        };
        let inner = &tag[1..gt];
        out.push_str(&tag[..=gt]);
        rest = &tag[gt + 1..];
        if inner.starts_with(['/', '?', '!']) || inner.ends_with('/') {
            continue;
        }
        let name = inner.split(|c: char| c.is_whitespace()).next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if sensitive(local) {
            let end = rest.find('<').unwrap_or(rest.len());
            let value = &rest[..end];
            if !value.trim().is_empty() {
                secrets.add(value);
                out.push_str(REDACTED);
            }
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Text that is neither valid JSON nor XML (e.g. a truncated JSON body): after every
/// sensitive name, a `"name": "value"` / `name=value` value is masked.
fn redact_loose(text: &str, secrets: &mut Secrets) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for word in [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "sessionid",
        "session_id",
    ] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(word) {
            let mut j = from + i + word.len();
            from = j;
            // rest of the key, closing quote, blanks, separator, blanks, opening quote
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            while j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'' || bytes[j] == b' ') {
                j += 1;
            }
            if j >= bytes.len() || !(bytes[j] == b':' || bytes[j] == b'=') {
                continue;
            }
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            let quoted = j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'');
            if quoted {
                j += 1;
            }
            let start = j;
            while j < bytes.len() {
                let c = bytes[j];
                let stop = if quoted {
                    c == b'"' || c == b'\''
                } else {
                    matches!(c, b'&' | b',' | b'}' | b'<' | b'"' | b' ' | b'\n' | b'\r')
                };
                if stop {
                    break;
                }
                j += 1;
            }
            if j > start {
                spans.push((start, j));
            }
        }
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in spans {
        if s < at || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        out.push_str(&text[at..s]);
        secrets.add(&text[s..e]);
        out.push_str(REDACTED);
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

fn content_type(h: &HeaderMap) -> String {
    h.get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether a text names anything [`sensitive`] could match (most bodies do not, and are
/// then kept as they are without being parsed).
fn mentions_secret(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "session",
        "auth",
        "cookie",
        "credential",
        "signature",
        "jwt",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// A body as redacted text (None when empty).
fn redact_body(raw: &[u8], ctype: &str, secrets: &mut Secrets) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(raw);
    if !mentions_secret(&text) {
        return Some(text.into_owned());
    }
    let trimmed = text.trim_start();
    if ctype.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(mut v) = serde_json::from_str::<Value>(&text) {
            redact_json(&mut v, secrets);
            return Some(v.to_string());
        }
    }
    if ctype.contains("xml") || trimmed.starts_with('<') {
        return Some(redact_xml(&text, secrets));
    }
    if ctype.contains("x-www-form-urlencoded") {
        return Some(redact_form(&text, secrets));
    }
    Some(redact_loose(&text, secrets))
}

/// The first `BODY_LIMIT` bytes of `s` (at a character boundary).
fn truncate(mut s: String) -> String {
    if s.len() > BODY_LIMIT {
        let mut end = BODY_LIMIT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The ONC operation of a request: the JSON binding's path segment, else the SOAPAction's
/// last segment, else the first element inside the SOAP Body.
fn onc_operation(path: &str, headers: &HeaderMap, body: &str) -> Option<String> {
    if let Some(m) = path.strip_prefix("/onc/json/") {
        return Some(m.trim_matches('/').to_string()).filter(|m| !m.is_empty());
    }
    if let Some(a) = headers.get("soapaction").and_then(|v| v.to_str().ok()) {
        let a = a.trim().trim_matches('"');
        if let Some(op) = a.rsplit('/').next().filter(|s| !s.is_empty()) {
            return Some(op.to_string());
        }
    }
    let after = body.find(":Body").or_else(|| body.find("<Body")).map(|i| &body[i..])?;
    let after = &after[after.find('>')? + 1..];
    let start = after.find('<')? + 1;
    let name: String = after[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    let local = name.rsplit(':').next().unwrap_or(&name).to_string();
    (!local.is_empty()).then_some(local)
}

fn redact(p: Pending) -> NewRecord {
    let mut secrets = Secrets::default();
    let request_headers = headers_json(&p.headers, &mut secrets);
    let response_headers = headers_json(&p.response_headers, &mut secrets);
    let query = p.uri.query().map(|q| redact_form(q, &mut secrets));
    let (raw_req, req_total) = match p.request.lock() {
        Ok(c) => (c.bytes(), c.total),
        Err(_) => (Vec::new(), 0),
    };
    let path = p.uri.path().to_string();
    let dialect = dialect_of(&path);
    let operation = if dialect == "onc" && p.method == Method::POST {
        onc_operation(&path, &p.headers, &String::from_utf8_lossy(&raw_req))
    } else {
        None
    };
    let request_body = redact_body(&raw_req, &content_type(&p.headers), &mut secrets);
    let response_body = p
        .response
        .as_ref()
        .and_then(|b| redact_body(b, &content_type(&p.response_headers), &mut secrets));
    let scrub_json = |v: Value, s: &Secrets| -> Value {
        if s.0.is_empty() {
            return v;
        }
        let text = v.to_string();
        if !s.0.iter().any(|x| text.contains(x.as_str())) {
            return v;
        }
        serde_json::from_str(&s.scrub(text)).unwrap_or(v)
    };
    let at = match p.tenant.clock.frozen_at {
        Some(t) => t,
        None => p.base_now + chrono::Duration::seconds(p.tenant.clock.offset_seconds),
    };
    NewRecord {
        id: Uuid::new_v4(),
        tenant: p.tenant.id,
        epoch: p.tenant.epoch,
        at,
        dialect,
        operation,
        method: p.method.as_str().to_string(),
        path: secrets.scrub(path),
        route: p.route.map(|r| r.as_str().to_string()),
        query: query.map(|q| secrets.scrub(q)),
        request_id: p.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string),
        request_headers: scrub_json(request_headers, &secrets),
        request_body: request_body.map(|b| truncate(secrets.scrub(b))),
        request_body_size: req_total as i64,
        status: i32::from(p.status),
        response_headers: scrub_json(response_headers, &secrets),
        response_body: response_body.map(|b| truncate(secrets.scrub(b))),
        response_body_size: p.response_size.map(|n| n as i64).unwrap_or(-1),
        duration_us: p.duration.as_micros().min(i64::MAX as u128) as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_names() {
        for n in [
            "password",
            "Password",
            "refresh_token",
            "authToken",
            "X-API-Key",
            "SessionId",
            "sessionId",
            "cookie",
        ] {
            assert!(sensitive(n), "{n}");
        }
        for n in ["username", "accountId", "phone", "x-request-id", "content-type"] {
            assert!(!sensitive(n), "{n}");
        }
    }

    #[test]
    fn redacts_bodies() {
        let mut s = Secrets::default();
        let j = redact_body(
            br#"{"username":"u","password":"hunter22","nested":{"refresh_token":"abcdefgh"}}"#,
            "application/json",
            &mut s,
        )
        .unwrap();
        assert!(
            !j.contains("hunter22") && !j.contains("abcdefgh") && j.contains("\"username\":\"u\""),
            "{j}"
        );
        let x = redact_xml(
            "<s:Body><OpenAPISession><accountId>a1</accountId><password>hunter22</password><a:SessionId>sess1234</a:SessionId></OpenAPISession></s:Body>",
            &mut s,
        );
        assert!(
            !x.contains("hunter22") && !x.contains("sess1234") && x.contains("<accountId>a1</accountId>"),
            "{x}"
        );
        let f = redact_form("user=a&password=hunter22&x=1", &mut s);
        assert_eq!(f, "user=a&password=[REDACTED]&x=1");
        let l = redact_loose(r#"{"password": "hunter22", "x": 1, "tok"#, &mut s);
        assert!(!l.contains("hunter22"), "{l}");
        assert_eq!(s.scrub("echo sess1234!".into()), "echo [REDACTED]!");
    }

    #[test]
    fn onc_operations() {
        let h = HeaderMap::new();
        assert_eq!(onc_operation("/onc/json/AddCampaign", &h, "").as_deref(), Some("AddCampaign"));
        let body = r#"<s:Envelope xmlns:s="x"><s:Body><GetCampaign xmlns="http://tempuri.org/"><sessionId>x</sessionId></GetCampaign></s:Body></s:Envelope>"#;
        assert_eq!(onc_operation("/onc/", &h, body).as_deref(), Some("GetCampaign"));
        let mut h2 = HeaderMap::new();
        h2.insert("soapaction", "\"http://tempuri.org/IONCService/DeleteCampaign\"".parse().unwrap());
        assert_eq!(onc_operation("/onc/", &h2, body).as_deref(), Some("DeleteCampaign"));
    }

    #[test]
    fn a_full_channel_drops_and_counts() {
        let j = Journal::default();
        let pending = || Pending {
            tenant: Noted {
                id: TenantId(Uuid::nil()),
                epoch: 0,
                clock: TenantClock::default(),
                enabled: true,
                limit: DEFAULT_LIMIT,
            },
            base_now: Utc::now(),
            method: Method::GET,
            uri: Uri::from_static("/apps/api/v1/wait_times"),
            route: None,
            headers: HeaderMap::new(),
            request: Arc::default(),
            status: 200,
            response_headers: HeaderMap::new(),
            response: None,
            response_size: None,
            duration: Duration::ZERO,
        };
        for _ in 0..CHANNEL_CAPACITY {
            j.send(pending());
        }
        let before = dropped_total();
        j.send(pending());
        j.send(pending());
        assert!(dropped_total() >= before + 2);
    }

    #[test]
    fn dialects() {
        assert_eq!(dialect_of("/onc/json/X"), "onc");
        assert_eq!(dialect_of("/api/v2/campaigns"), "leads");
        assert_eq!(dialect_of("/apps/api/v1/outbound_dialer/campaigns/1/contacts"), "outbound_dialer");
        assert_eq!(dialect_of("/apps/api/v1/calls"), "apps");
        assert_eq!(dialect_of("/apps/api/v1/outbound_dialer/dnc/check"), "apps");
        assert_eq!(dialect_of("/manager/api/v1/calls"), "apps");
        assert_eq!(dialect_of("/campaignmanager/credits"), "campaign_manager");
    }
}

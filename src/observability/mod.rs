//! Metrics and traces.
//!
//! - `GET /metrics` serves the Prometheus text format of this process's [`Metrics`]
//!   (open, or behind the bearer token `SWITCHBOARD_METRICS_TOKEN` when it is set).
//! - [`http::HttpMetricsLayer`] times every request into
//!   `http_server_request_duration_seconds{dialect, http_route, http_request_method,
//!   http_response_status_code}`; `http_route` is the route template (axum's
//!   `MatchedPath`), `"unmatched"` for the fallback, never a raw path. The same layer
//!   takes a W3C `traceparent` into the request span when traces are exported.
//! - The engine counts attempts (`switchboard_attempts_total{channel, outcome}`) through
//!   [`Metrics::attempt`]; counters kept by other modules (outbox rows, dropped journal
//!   records, fired faults) are read at scrape time through [`Sources`]; the jobs gauge and
//!   the database pool gauges are refreshed at scrape time too.
//! - [`otel`] exports traces over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! No label carries a tenant slug, id or phone number: label values are route templates,
//! methods, status codes and fixed vocabularies (channels, outcomes, job kinds and
//! statuses, fault kinds), so the number of series stays small.
//!
//! Every [`AppState`] has its own recorder (no global `metrics` recorder is installed),
//! so two apps in one process (tests) count separately.

pub mod http;
pub mod otel;

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use dashmap::DashMap;
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::state::AppState;

/// Metric names.
pub mod names {
    /// Histogram of request durations, seconds (OpenTelemetry's HTTP server name).
    pub const REQUEST_DURATION: &str = "http_server_request_duration_seconds";
    /// Attempts the engine made, by channel and outcome.
    pub const ATTEMPTS: &str = "switchboard_attempts_total";
    /// Rows written to the outbox.
    pub const OUTBOX_ROWS: &str = "switchboard_outbox_rows_total";
    /// Jobs by kind and status (all tenants).
    pub const JOBS: &str = "switchboard_jobs";
    /// Journal records dropped because the journal's channel was full.
    pub const JOURNAL_DROPPED: &str = "switchboard_journal_dropped_total";
    /// Faults that fired, by kind.
    pub const FAULTS_FIRED: &str = "switchboard_faults_fired_total";
    /// Open connections of the database pool.
    pub const DB_POOL_CONNECTIONS: &str = "switchboard_db_pool_connections";
    /// Idle connections of the database pool.
    pub const DB_POOL_IDLE: &str = "switchboard_db_pool_idle_connections";
    /// Largest size of the database pool.
    pub const DB_POOL_MAX: &str = "switchboard_db_pool_max_connections";
}

/// Histogram buckets of request durations (OpenTelemetry's advice for HTTP servers).
pub const DURATION_BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// The kinds a fault can have (series of `switchboard_faults_fired_total` shown at 0).
pub const FAULT_KINDS: &[&str] = &["status", "delay", "reset", "timeout", "malformed"];

/// Label value of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// How often histograms are drained into their buckets when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static METADATA: Metadata<'static> = Metadata::new("switchboard", Level::INFO, Some(module_path!()));

/// Counters kept by other modules, read when `/metrics` is scraped.
#[derive(Clone, Default)]
pub struct Sources {
    counters: Vec<CounterSource>,
    labelled: Vec<LabelledSource>,
}

#[derive(Clone)]
struct CounterSource {
    name: &'static str,
    help: &'static str,
    read: fn() -> u64,
}

#[derive(Clone)]
struct LabelledSource {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    known: &'static [&'static str],
    read: fn() -> Vec<(&'static str, u64)>,
}

impl Sources {
    /// Adds a monotonic counter without labels, exported as `name`.
    pub fn counter(mut self, name: &'static str, help: &'static str, read: fn() -> u64) -> Self {
        self.counters.push(CounterSource { name, help, read });
        self
    }

    /// Adds a monotonic counter with one label; `known` values are shown (at 0) before
    /// `read` reports them. `read` must return values from a fixed vocabulary.
    pub fn labelled_counter(
        mut self,
        name: &'static str,
        help: &'static str,
        label: &'static str,
        known: &'static [&'static str],
        read: fn() -> Vec<(&'static str, u64)>,
    ) -> Self {
        self.labelled.push(LabelledSource {
            name,
            help,
            label,
            known,
            read,
        });
        self
    }
}

/// The counters of other modules that `/metrics` reads, as wired at start-up.
pub fn sources() -> Sources {
    Sources::default()
        .counter(
            names::OUTBOX_ROWS,
            "Rows written to the outbox (deliveries of the simulated carrier)",
            crate::domain::outbox::recorded_total,
        )
        .counter(
            names::JOURNAL_DROPPED,
            "Journal records dropped because the journal's queue was full",
            crate::controls::journal::dropped_total,
        )
        .labelled_counter(
            names::FAULTS_FIRED,
            "Injected faults that fired, by kind",
            "kind",
            FAULT_KINDS,
            crate::controls::faults::fired_total,
        )
}

/// This process's metrics: a Prometheus recorder and handles cached by their labels, so
/// that recording a request allocates nothing once its series exists.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: DashMap<(&'static str, &'static str, u16), Histogram>,
    attempts: DashMap<(&'static str, &'static str), Counter>,
    sources: Sources,
    /// (kind, status) series of the jobs gauge shown so far (set to 0 when they empty).
    jobs_seen: Mutex<HashSet<(String, String)>>,
}

impl Metrics {
    /// A recorder with the given scrape-time sources; starts a task that drains
    /// histograms every few seconds (it ends when the metrics are dropped).
    pub fn new(sources: Sources) -> Arc<Self> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(names::REQUEST_DURATION.into()), &DURATION_BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        let m = Arc::new(Metrics {
            recorder,
            handle,
            requests: DashMap::new(),
            attempts: DashMap::new(),
            sources,
            jobs_seen: Mutex::new(HashSet::new()),
        });
        m.describe();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(upkeep(Arc::downgrade(&m)));
        }
        m
    }

    fn describe(&self) {
        let r = &self.recorder;
        let d = |s: &'static str| SharedString::const_str(s);
        r.describe_histogram(
            names::REQUEST_DURATION.into(),
            Some(metrics::Unit::Seconds),
            d("Duration of HTTP server requests"),
        );
        r.describe_counter(
            names::ATTEMPTS.into(),
            None,
            d("Delivery attempts of the engine, by channel and outcome"),
        );
        r.describe_gauge(names::JOBS.into(), None, d("Jobs by kind and status, all tenants"));
        r.describe_gauge(names::DB_POOL_CONNECTIONS.into(), None, d("Open connections of the database pool"));
        r.describe_gauge(names::DB_POOL_IDLE.into(), None, d("Idle connections of the database pool"));
        r.describe_gauge(names::DB_POOL_MAX.into(), None, d("Largest size of the database pool"));
        for c in &self.sources.counters {
            r.describe_counter(c.name.into(), None, d(c.help));
            r.register_counter(&Key::from_static_name(c.name), &METADATA).absolute(0);
        }
        for c in &self.sources.labelled {
            r.describe_counter(c.name.into(), None, d(c.help));
            for v in c.known {
                self.labelled_counter(c.name, c.label, v).absolute(0);
            }
        }
    }

    fn labelled_counter(&self, name: &'static str, label: &'static str, value: &'static str) -> Counter {
        let key = Key::from_parts(name, vec![Label::from_static_parts(label, value)]);
        self.recorder.register_counter(&key, &METADATA)
    }

    /// Records one request (labels are static strings; see [`http`]).
    pub fn observe_request(&self, dialect: &'static str, route: &'static str, method: &'static str, status: u16, seconds: f64) {
        if let Some(h) = self.requests.get(&(route, method, status)) {
            h.record(seconds);
            return;
        }
        let key = Key::from_parts(
            names::REQUEST_DURATION,
            vec![
                Label::from_static_parts("dialect", dialect),
                Label::from_static_parts("http_route", route),
                Label::from_static_parts("http_request_method", method),
                Label::from_static_parts("http_response_status_code", http::status_label(status)),
            ],
        );
        let h = self.recorder.register_histogram(&key, &METADATA);
        h.record(seconds);
        self.requests.insert((route, method, status), h);
    }

    /// Counts one attempt of the engine on `channel` (any text: mapped to a fixed set)
    /// with `outcome` (e.g. `delivered`, `busy`, `suppressed`).
    pub fn attempt(&self, channel: &str, outcome: &'static str) {
        let channel = channel_label(channel);
        if let Some(c) = self.attempts.get(&(channel, outcome)) {
            c.increment(1);
            return;
        }
        let key = Key::from_parts(
            names::ATTEMPTS,
            vec![
                Label::from_static_parts("channel", channel),
                Label::from_static_parts("outcome", outcome),
            ],
        );
        let c = self.recorder.register_counter(&key, &METADATA);
        c.increment(1);
        self.attempts.insert((channel, outcome), c);
    }

    /// Reads the scrape-time values (sources, jobs, pool) and renders the text format.
    pub async fn render(&self, db: &sqlx::PgPool) -> String {
        self.read_sources();
        self.read_pool(db);
        match crate::domain::jobs::count_by_kind_status(db).await {
            Ok(rows) => self.set_jobs(rows),
            Err(e) => tracing::warn!(error = %e, "jobs gauge not refreshed"),
        }
        self.handle.render()
    }

    fn read_sources(&self) {
        for c in &self.sources.counters {
            self.recorder
                .register_counter(&Key::from_static_name(c.name), &METADATA)
                .absolute((c.read)());
        }
        for c in &self.sources.labelled {
            for (v, n) in (c.read)() {
                self.labelled_counter(c.name, c.label, v).absolute(n);
            }
        }
    }

    fn read_pool(&self, db: &sqlx::PgPool) {
        let g = |name: &'static str, v: f64| self.recorder.register_gauge(&Key::from_static_name(name), &METADATA).set(v);
        g(names::DB_POOL_CONNECTIONS, f64::from(db.size()));
        g(names::DB_POOL_IDLE, db.num_idle() as f64);
        g(names::DB_POOL_MAX, f64::from(db.options().get_max_connections()));
    }

    fn set_jobs(&self, rows: Vec<(String, String, i64)>) {
        let mut seen = self.jobs_seen.lock().unwrap_or_else(PoisonError::into_inner);
        let gauge = |kind: &str, status: &str| {
            let key = Key::from_parts(
                names::JOBS,
                vec![Label::new("kind", kind.to_string()), Label::new("status", status.to_string())],
            );
            self.recorder.register_gauge(&key, &METADATA)
        };
        let now: HashSet<(String, String)> = rows.iter().map(|(k, s, _)| (k.clone(), s.clone())).collect();
        for (kind, status) in seen.difference(&now) {
            gauge(kind, status).set(0.0);
        }
        for (kind, status, n) in &rows {
            gauge(kind, status).set(*n as f64);
        }
        seen.extend(now);
    }
}

async fn upkeep(m: Weak<Metrics>) {
    loop {
        tokio::time::sleep(UPKEEP).await;
        match m.upgrade() {
            Some(m) => m.handle.run_upkeep(),
            None => return,
        }
    }
}

/// Channels as labels: a fixed set, anything else is `other`.
pub fn channel_label(channel: &str) -> &'static str {
    const KNOWN: [&str; 6] = ["voice", "sms", "email", "call", "chat", "whatsapp"];
    KNOWN.iter().find(|k| k.eq_ignore_ascii_case(channel)).copied().unwrap_or("other")
}

/// `GET /metrics`.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// Content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn scrape(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = st.config.metrics_token.as_deref() {
        if !bearer_matches(&headers, token) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics token required\n",
            )
                .into_response();
        }
    }
    let body = st.metrics.render(&st.db).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().as_bytes());
    match given {
        Some(g) if g.len() == token.len() => g.iter().zip(token.as_bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0,
        _ => false,
    }
}

/// Route templates, interned once per process (their set is fixed by the router), so the
/// request layer keeps `&'static str` labels.
static ROUTES: LazyLock<DashMap<Box<str>, &'static str>> = LazyLock::new(DashMap::new);

fn intern_route(template: &str) -> &'static str {
    if let Some(r) = ROUTES.get(template) {
        return *r;
    }
    *ROUTES
        .entry(template.into())
        .or_insert_with(|| Box::leak(template.to_string().into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_a_fixed_set() {
        assert_eq!(channel_label("SMS"), "sms");
        assert_eq!(channel_label("voice"), "voice");
        assert_eq!(channel_label("+15551234567"), "other");
    }

    #[test]
    fn routes_are_interned_once() {
        let a = intern_route("/apps/api/v1/calls/{id}");
        let b = intern_route(&String::from("/apps/api/v1/calls/{id}"));
        assert!(std::ptr::eq(a, b));
    }

    #[test]
    fn bearer_token_is_checked() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(bearer_matches(&h, "s3cret"));
        assert!(!bearer_matches(&h, "s3cre"));
        h.insert(header::AUTHORIZATION, "Basic s3cret".parse().unwrap());
        assert!(!bearer_matches(&h, "s3cret"));
    }
}

//! Traces over OTLP (http/protobuf), through `tracing-opentelemetry`, and W3C
//! `traceparent` propagation.
//!
//! Nothing happens unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: no exporter, no layer, and the request
//! layer does not look at `traceparent` (one relaxed atomic load per request). When set,
//! [`from_env`] gives a `tracing` layer that turns spans into OpenTelemetry spans, batched
//! on the Tokio runtime and posted to `<endpoint>/v1/traces` (the other `OTEL_*` variables
//! of the OTLP exporter apply: headers, timeout, `OTEL_SERVICE_NAME`, …). An incoming
//! `traceparent` becomes the parent of the request span.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{BatchConfigBuilder, SdkTracerProvider, Tracer};
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// The variables that turn the exporter on.
pub const ENDPOINT_VARS: [&str; 2] = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];

/// Whether spans are exported (the request layer then extracts `traceparent`).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported over OTLP (the request span is then kept at `info`).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The `tracing` layer that exports spans, for a subscriber `S`.
pub type OtelLayer<S> = OpenTelemetryLayer<S, Tracer>;

/// The running exporter; [`Otel::shutdown`] flushes what is left.
pub struct Otel {
    provider: SdkTracerProvider,
}

impl Otel {
    /// Exports the spans still queued (blocks; call it outside the runtime's threads or
    /// from `spawn_blocking`).
    pub fn force_flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "span flush failed");
        }
    }

    /// Flushes and stops the exporter (blocks, like [`Otel::force_flush`]).
    pub fn shutdown(self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown_with_timeout(Duration::from_secs(5)) {
            eprintln!("switchboard: trace exporter shutdown: {e}");
        }
    }
}

/// The OTLP layer when an endpoint variable is set, else `None` (and no cost). Must be
/// called inside a Tokio runtime (the batch exporter runs on it).
pub fn from_env<S>() -> Result<Option<(OtelLayer<S>, Otel)>, String>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let set = ENDPOINT_VARS
        .iter()
        .any(|v| std::env::var(v).map(|s| !s.trim().is_empty()).unwrap_or(false));
    if !set {
        return Ok(None);
    }
    build(None, None).map(Some)
}

/// The OTLP layer posting to `traces_url` (the full URL, e.g. `http://host:4318/v1/traces`),
/// batching every `delay`. Must be called inside a Tokio runtime.
pub fn to_endpoint<S>(traces_url: &str, delay: Duration) -> Result<(OtelLayer<S>, Otel), String>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    build(Some(traces_url), Some(delay))
}

fn build<S>(traces_url: Option<&str>, delay: Option<Duration>) -> Result<(OtelLayer<S>, Otel), String>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    if let Some(url) = traces_url {
        exporter = exporter.with_endpoint(url);
    }
    let exporter = exporter.build().map_err(|e| format!("OTLP exporter: {e}"))?;
    let mut config = BatchConfigBuilder::default();
    if let Some(d) = delay {
        config = config.with_scheduled_delay(d);
    }
    let processor = BatchSpanProcessor::builder(exporter, Tokio)
        .with_batch_config(config.build())
        .build();
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "switchboard".into());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let tracer = provider.tracer("switchboard");
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    ENABLED.store(true, Ordering::Relaxed);
    Ok((tracing_opentelemetry::layer().with_tracer(tracer), Otel { provider }))
}

/// The request's W3C trace context (`None` when traces are not exported or the request
/// carries no valid `traceparent`). While it is current (`Context::attach`), spans
/// created without a `tracing` parent (the request span) take it as their parent.
pub fn remote_parent(headers: &HeaderMap) -> Option<Context> {
    if !ENABLED.load(Ordering::Relaxed) || !headers.contains_key("traceparent") {
        return None;
    }
    let cx = TraceContextPropagator::new().extract(&Headers(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

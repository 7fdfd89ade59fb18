//! The request layer: times each request into the request histogram and, when traces are
//! exported, makes an incoming W3C `traceparent` the parent of the request span.
//!
//! It goes outside the trace layer in `http::layers`: the remote context is made current
//! while the inner layers' `call` runs (the trace layer creates the request span there)
//! and during the first poll (a route's own layers are called then). Per request it reads the `MatchedPath` set by the
//! router, looks up the interned template (no allocation once the route was seen) and, at
//! the response, records into a cached histogram handle: label values are `&'static str`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response};
use tower::{Layer, Service};

use super::{intern_route, otel, Metrics, UNMATCHED};

/// Layer of [`HttpMetrics`].
#[derive(Clone)]
pub struct HttpMetricsLayer {
    metrics: Arc<Metrics>,
}

impl HttpMetricsLayer {
    /// A layer recording into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        HttpMetricsLayer { metrics }
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`HttpMetricsLayer`].
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> Service<Request<B>> for HttpMetrics<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let (dialect, route) = match req.extensions().get::<MatchedPath>() {
            Some(m) => {
                let route = intern_route(m.as_str());
                (dialect_of(route), route)
            }
            None => (dialect_of(req.uri().path()), UNMATCHED),
        };
        let method = method_label(req.method());
        let remote = otel::remote_parent(req.headers());
        // The inner layers run their `call` now (the trace layer makes its span there):
        // under the caller's context.
        let inner = match &remote {
            Some(r) => {
                let _current = r.clone().attach();
                self.inner.call(req)
            }
            None => self.inner.call(req),
        };
        ResponseFuture {
            inner,
            remote,
            start,
            dialect,
            route,
            method,
            metrics: self.metrics.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`HttpMetrics`]: records the request when the response is ready.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // The caller's trace context, current during the first poll: the inner layers
        // (routes are called lazily) create the request span then.
        remote: Option<opentelemetry::Context>,
        start: Instant,
        dialect: &'static str,
        route: &'static str,
        method: &'static str,
        metrics: Arc<Metrics>,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = match this.remote.take() {
            Some(remote) => {
                let _current = remote.attach();
                std::task::ready!(this.inner.poll(cx))
            }
            None => std::task::ready!(this.inner.poll(cx)),
        };
        if let Ok(res) = &out {
            let secs = this.start.elapsed().as_secs_f64();
            let status = res.status().as_u16();
            if status >= 500 {
                // The one line per server error (the trace layer, when present, adds none).
                tracing::error!(
                    route = *this.route,
                    method = *this.method,
                    status,
                    latency_ms = secs * 1000.0,
                    "request failed"
                );
            }
            this.metrics.observe_request(this.dialect, this.route, this.method, status, secs);
        }
        Poll::Ready(out)
    }
}

/// The dialect (or `admin`, or `ops` for everything else) of a path or route template.
pub fn dialect_of(path: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 11] = [
        ("/onc", "onc"),
        ("/api/v2/", "leads"),
        ("/callcenter/", "leads"),
        ("/campaignmanager/", "campaign_manager"),
        ("/autoattendant/", "campaign_manager"),
        ("/numbermasking/", "campaign_manager"),
        ("/apps/api/v1/outbound_dialer/campaigns", "outbound_dialer"),
        ("/apps/", "apps"),
        ("/manager/", "apps"),
        ("/admin/", "admin"),
        ("/console", "console"),
    ];
    PREFIXES.iter().find(|(p, _)| path.starts_with(p)).map(|(_, d)| *d).unwrap_or("ops")
}

/// The method as a label: the standard ones, anything else `_OTHER` (OpenTelemetry's rule).
pub fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}

static STATUS: LazyLock<Vec<String>> = LazyLock::new(|| (0..1000).map(|c| c.to_string()).collect());

/// A status code as a `&'static str` label.
pub fn status_label(code: u16) -> &'static str {
    STATUS.get(usize::from(code)).map(String::as_str).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_by_prefix() {
        assert_eq!(dialect_of("/onc/json/{method}"), "onc");
        assert_eq!(dialect_of("/onc/ONCService.svc"), "onc");
        assert_eq!(dialect_of("/api/v2/login"), "leads");
        assert_eq!(dialect_of("/callcenter/queues/status"), "leads");
        assert_eq!(dialect_of("/campaignmanager/credits/search"), "campaign_manager");
        assert_eq!(
            dialect_of("/apps/api/v1/outbound_dialer/campaigns/{id}/contacts"),
            "outbound_dialer"
        );
        assert_eq!(dialect_of("/apps/api/v1/wait_times"), "apps");
        assert_eq!(dialect_of("/manager/api/v1/calls"), "apps");
        assert_eq!(dialect_of("/admin/v1/tenants"), "admin");
        assert_eq!(dialect_of("/metrics"), "ops");
        assert_eq!(dialect_of("/nope"), "ops");
    }

    #[test]
    fn labels_are_static() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(429), "429");
        assert_eq!(method_label(&Method::from_bytes(b"PURGE").unwrap()), "_OTHER");
    }
}

//! Operational routes and the middleware stack (kept in one place).

use std::any::Any;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::state::AppState;

/// Parses `Authorization: Basic …` into (user, password); None when absent or malformed.
/// Shared by every dialect that authenticates with HTTP Basic.
pub fn basic_credentials(parts: &axum::http::request::Parts) -> Option<(String, String)> {
    use base64::Engine;
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Where a JSON body holds a NUL character (`\u0000`, in a string or a key), which
/// PostgreSQL text and jsonb cannot store: the field's path (`attrs.name`, `items[2]`,
/// `body` for a bare string). The one check every JSON entry point runs (the admin API's
/// `AdminJson`, each dialect's body parser), so each answers its own 400/422 naming the
/// field instead of a database error. Cheap: a byte scan first, a parse only on a hit.
pub fn nul_in_json(body: &[u8]) -> Option<String> {
    const NEEDLE: &[u8] = b"\\u0000";
    if !body.windows(NEEDLE.len()).any(|w| w == NEEDLE) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    nul_path(&v, "")
}

/// The path of the first string or key in `v` that holds a NUL character (see [`nul_in_json`]).
pub fn nul_path(v: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    let here = || if at.is_empty() { "body".to_string() } else { at.to_string() };
    match v {
        Value::String(s) if s.contains('\0') => Some(here()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| nul_path(x, &format!("{at}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let p = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
            if k.contains('\0') {
                Some(p.replace('\0', "\\u0000"))
            } else {
                nul_path(x, &p)
            }
        }),
        _ => None,
    }
}

/// The message for a field holding a NUL character.
pub fn nul_message(field: &str) -> String {
    format!("{field}: must not contain NUL characters")
}

/// The origin (`scheme://host[:port]`) a client used to reach this server, as WCF builds
/// the addresses of a served WSDL: RFC 7239 `Forwarded` (its first element's `proto` and
/// `host`) first, then `X-Forwarded-Proto` / `X-Forwarded-Host` (first value each), then the
/// `Host` header (or the URI's authority), and `localhost` when there is none. The scheme is
/// `http` unless a proxy says `https`. A value that is not a plain host[:port] is ignored,
/// so nothing from a header can break out of the document it is written into.
pub fn request_origin(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> String {
    fn header<'a>(h: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
        h.get(name).and_then(|v| v.to_str().ok())
    }
    fn first(v: &str) -> &str {
        v.split(',').next().unwrap_or("").trim()
    }
    fn host_ok(h: &str) -> bool {
        !h.is_empty()
            && h.len() <= 255
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
    }
    fn proto_ok(p: &str) -> Option<&'static str> {
        match p.to_ascii_lowercase().as_str() {
            "http" => Some("http"),
            "https" => Some("https"),
            _ => None,
        }
    }
    let (mut proto, mut host): (Option<&'static str>, Option<String>) = (None, None);
    if let Some(fwd) = header(headers, "forwarded") {
        for pair in first(fwd).split(';') {
            let Some((k, v)) = pair.split_once('=') else { continue };
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "proto" => proto = proto_ok(v),
                "host" if host_ok(v) => host = Some(v.to_string()),
                _ => {}
            }
        }
    }
    if proto.is_none() {
        proto = header(headers, "x-forwarded-proto").and_then(|v| proto_ok(first(v)));
    }
    if host.is_none() {
        host = header(headers, "x-forwarded-host")
            .map(first)
            .filter(|h| host_ok(h))
            .map(str::to_string);
    }
    let host = host
        .or_else(|| header(headers, "host").map(str::trim).filter(|h| host_ok(h)).map(str::to_string))
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()).filter(|h| host_ok(h)))
        .unwrap_or_else(|| "localhost".to_string());
    format!("{}://{host}", proto.unwrap_or("http"))
}

/// `GET /healthz`, `GET /readyz`.
pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(st): State<AppState>) -> Response {
    match sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&st.db).await {
        Ok(_) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "error": "database unreachable"})),
            )
                .into_response()
        }
    }
}

/// Unknown paths: 404 with a JSON body.
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response()
}

/// A path holding `%00` names nothing (no id, slug or name can contain NUL): 404, as for
/// any unknown path, before a handler passes it to the database. A plain service rather
/// than `from_fn` (no boxed future or service clone per request).
#[derive(Clone, Copy)]
struct NulPathIsNotFound;

impl<S> tower::Layer<S> for NulPathIsNotFound {
    type Service = NulPath<S>;

    fn layer(&self, inner: S) -> NulPath<S> {
        NulPath(inner)
    }
}

/// The service of [`NulPathIsNotFound`].
#[derive(Clone)]
struct NulPath<S>(S);

impl<S> tower::Service<axum::extract::Request> for NulPath<S>
where
    S: tower::Service<axum::extract::Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = futures::future::Either<S::Future, std::future::Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        if req.uri().path().as_bytes().windows(3).any(|w| w.eq_ignore_ascii_case(b"%00")) {
            let answer = (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
            return futures::future::Either::Right(std::future::ready(Ok(answer)));
        }
        futures::future::Either::Left(self.0.call(req))
    }
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"message": "Internal Server Error"}))).into_response()
}

/// A panic while a request is handled answers 500 (`{"message"}`) instead of dropping the
/// connection. It catches what tower-http's `CatchPanicLayer` catches (a panic in the
/// service's `call` or in its future; a streamed body that panics ends its connection
/// either way), but leaves the response body as it is: no second boxing per response.
#[derive(Clone, Copy)]
struct PanicIs500;

impl<S> tower::Layer<S> for PanicIs500 {
    type Service = Recover<S>;

    fn layer(&self, inner: S) -> Recover<S> {
        Recover(inner)
    }
}

/// The service of [`PanicIs500`].
#[derive(Clone)]
struct Recover<S>(S);

type Caught<E> = Result<Result<Response, E>, Box<dyn Any + Send>>;

fn recovered<E>(r: Caught<E>) -> Result<Response, E> {
    r.unwrap_or_else(|p| Ok(panic_response(p)))
}

impl<S> tower::Service<axum::extract::Request> for Recover<S>
where
    S: tower::Service<axum::extract::Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = futures::future::Either<
        futures::future::Map<
            futures::future::CatchUnwind<std::panic::AssertUnwindSafe<S::Future>>,
            fn(Caught<S::Error>) -> Result<Response, S::Error>,
        >,
        std::future::Ready<Result<Response, S::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        use futures::FutureExt;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.call(req))) {
            Ok(future) => futures::future::Either::Left(
                std::panic::AssertUnwindSafe(future)
                    .catch_unwind()
                    .map(recovered::<S::Error> as fn(Caught<S::Error>) -> Result<Response, S::Error>),
            ),
            Err(p) => futures::future::Either::Right(std::future::ready(Ok(panic_response(p)))),
        }
    }
}

/// Request ids (`x-request-id`, set if missing and echoed), tracing, panics as 500 and the
/// default body limit (upload routes raise it with their own `DefaultBodyLimit`).
///
/// The request span and its lines are at `debug`: the trace layer is left out altogether
/// when nothing would record them (the log filter is above `debug` and no spans are
/// exported), so the hot path pays nothing for it; server errors are logged by the metrics
/// layer either way.
pub fn layers(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    use tower::ServiceBuilder;
    let request_id = HeaderName::from_static("x-request-id");
    // One stack applied once: `Router::layer` boxes each route again per call (a service
    // clone and a boxed future per layer and request), a `ServiceBuilder` stack is one
    // service. Outermost first.
    let outer = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(crate::observability::http::HttpMetricsLayer::new(state.metrics.clone()));
    let inner = ServiceBuilder::new()
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(PanicIs500)
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(NulPathIsNotFound);
    let traced = crate::observability::otel::enabled() || tracing::level_filters::LevelFilter::current() >= tracing::Level::DEBUG;
    if traced {
        let trace = TraceLayer::new_for_http()
            .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                if crate::observability::otel::enabled() {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                } else {
                    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                }
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG))
            .on_failure(());
        router.layer(outer.layer(trace).layer(inner))
    } else {
        router.layer(outer.layer(inner))
    }
}

#[cfg(test)]
mod panic_tests {
    use super::*;
    use tower::{Layer, ServiceExt};

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_others_pass_through() {
        let svc = PanicIs500.layer(tower::service_fn(|req: axum::extract::Request| async move {
            if req.uri().path() == "/boom" {
                panic!("boom");
            }
            Ok::<Response, std::convert::Infallible>(StatusCode::NO_CONTENT.into_response())
        }));
        let req = |p: &str| axum::extract::Request::builder().uri(p).body(axum::body::Body::empty());
        let Ok(boom) = req("/boom") else { panic!("request") };
        let Ok(fine) = req("/fine") else { panic!("request") };
        let r = svc.clone().oneshot(boom).await;
        assert!(matches!(r, Ok(ref r) if r.status() == StatusCode::INTERNAL_SERVER_ERROR));
        let r = svc.oneshot(fine).await;
        assert!(matches!(r, Ok(ref r) if r.status() == StatusCode::NO_CONTENT));
    }
}

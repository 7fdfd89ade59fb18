//! Static files of the console, compiled into the binary: htmx 2 and its SSE extension
//! (vendored from npm, minified, 0BSD), the console's stylesheet and its small script.
//! Each is served under a name with its version or content hash, with a one-year
//! immutable cache header, so a new binary never meets a stale cached copy.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// (logical name, file stem, extension, content type, content).
const FILES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "htmx.js",
        "htmx-2.0.11.min",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("assets/htmx-2.0.11.min.js"),
    ),
    (
        "sse.js",
        "htmx-ext-sse-2.2.4.min",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("assets/sse-2.2.4.min.js"),
    ),
    (
        "console.css",
        "console",
        "css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ),
    (
        "console.js",
        "console",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    ),
    (
        "LICENSE-htmx.txt",
        "LICENSE-htmx",
        "txt",
        "text/plain; charset=utf-8",
        include_str!("assets/LICENSE-htmx.txt"),
    ),
    (
        "LICENSE-htmx-ext-sse.txt",
        "LICENSE-htmx-ext-sse",
        "txt",
        "text/plain; charset=utf-8",
        include_str!("assets/LICENSE-htmx-ext-sse.txt"),
    ),
];

/// (served file name, content type, content), the name carrying a content hash.
static SERVED: LazyLock<Vec<(String, &'static str, &'static str, &'static str)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(logical, stem, ext, ctype, body)| {
            let hash = hex::encode(&Sha256::digest(body.as_bytes())[..4]);
            (format!("{stem}.{hash}.{ext}"), *ctype, *body, *logical)
        })
        .collect()
});

/// The URL path of an asset by its logical name.
pub fn path(logical: &str) -> String {
    SERVED
        .iter()
        .find(|(_, _, _, l)| *l == logical)
        .map(|(name, ..)| format!("/console/assets/{name}"))
        .unwrap_or_default()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/console/assets/{file}", get(serve))
}

/// `GET /console/assets/{file}`
async fn serve(Path(file): Path<String>) -> Response {
    match SERVED.iter().find(|(name, ..)| *name == file) {
        Some((_, ctype, body, _)) => (
            [
                (header::CONTENT_TYPE, *ctype),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

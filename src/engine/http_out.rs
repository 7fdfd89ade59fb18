//! Outbound HTTP of the engine's jobs (webhooks, progress callbacks): one shared client
//! (connection pool, rustls), never called inside a database transaction.

use std::sync::OnceLock;
use std::time::Duration;

static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();

/// The shared client: no redirects (a callback answers itself), no proxy from the
/// environment, a `switchboard/<version>` user agent.
fn client() -> Result<&'static reqwest::Client, String> {
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| format!("http client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// POSTs `body` (JSON bytes, sent as they are) to `url` with `Content-Type:
/// application/json` and the given extra headers, giving up after `timeout`. Returns the
/// HTTP status of the answer (any status, 2xx or not), or why there was none (bad URL,
/// connection refused, timeout…).
pub async fn post_json(url: &str, body: &[u8], headers: &[(&str, String)], timeout: Duration) -> Result<u16, String> {
    let mut req = client()?
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        req = req.header(*name, value.as_str());
    }
    match req.send().await {
        Ok(resp) => Ok(resp.status().as_u16()),
        Err(e) if e.is_timeout() => Err(format!("timed out after {} ms", timeout.as_millis())),
        Err(e) if e.is_connect() => Err(format!("connection failed: {}", root_cause(&e))),
        Err(e) => Err(root_cause(&e)),
    }
}

/// The innermost error's message (reqwest's own wraps the interesting part).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

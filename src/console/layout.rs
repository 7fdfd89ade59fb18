//! The page shell: head, header with sign-out, the tenant's navigation, notices, and
//! the security headers of every console response.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::assets;
use super::auth::Session;
use crate::domain::tenants::Tenant;

/// Headers of every console answer: no framing, no sniffing, scripts and styles from
/// this server only, and pages never cached (assets set their own cache header).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A notice or error carried by the `?notice=` / `?error=` of a redirect after a POST.
#[derive(Default)]
pub struct Flash {
    pub notice: Option<String>,
    pub error: Option<String>,
    /// Every query parameter of the page (filters, cursors).
    pub query: HashMap<String, String>,
}

impl Flash {
    /// A query parameter's trimmed value, None when absent or empty.
    pub fn q(&self, k: &str) -> Option<String> {
        self.query.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query: HashMap<String, String> = parts
            .uri
            .query()
            .map(|q| url_pairs(q).into_iter().collect::<HashMap<String, String>>())
            .unwrap_or_default();
        Ok(Flash {
            notice: query.get("notice").cloned(),
            error: query.get("error").cloned(),
            query,
        })
    }
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .to_string()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
            title { (title) " · switchboard" }
            link rel="stylesheet" href=(assets::path("console.css"));
            script src=(assets::path("htmx.js")) defer {}
            script src=(assets::path("sse.js")) defer {}
            script src=(assets::path("console.js")) defer {}
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, content: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(title))
                body { (content) }
            }
        }
        .into_string(),
    )
}

/// The tenant's sections: (path under `/console/t/{slug}`, label).
const SECTIONS: &[(&str, &str)] = &[
    ("", "Overview"),
    ("/campaigns", "Campaigns"),
    ("/outbox", "Outbox"),
    ("/journal", "Journal"),
    ("/faults", "Faults"),
    ("/carrier-rules", "Carrier rules"),
    ("/suppression", "Suppression"),
    ("/snapshot", "Snapshot & reset"),
];

/// A full page: header, the tenant's navigation (when about a tenant), notices, content.
pub fn page(title: &str, s: &Session, tenant: Option<&Tenant>, active: &str, flash: &Flash, content: Markup) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/console/tenants" { "switchboard" }
                    nav aria-label="Console" {
                        a href="/console/tenants" aria-current=[(tenant.is_none()).then_some("page")] { "Tenants" }
                        @if let Some(t) = tenant {
                            span class="crumb" aria-hidden="true" { "/" }
                            a href={ "/console/t/" (t.slug) } { (t.name) " (" (t.slug) ")" }
                        }
                    }
                    form method="post" action="/console/logout" class="logout" {
                        input type="hidden" name="_csrf" value=(s.csrf);
                        button type="submit" class="link" { "Sign out" }
                    }
                }
                @if let Some(t) = tenant {
                    nav class="sections" aria-label="Tenant" {
                        ul {
                            @for (path, label) in SECTIONS {
                                li {
                                    a href={ "/console/t/" (t.slug) (path) } aria-current=[(*path == active).then_some("page")] { (label) }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    @if let Some(n) = &flash.notice { p class="notice" role="status" { (n) } }
                    @if let Some(e) = &flash.error { p class="error" role="alert" { (e) } }
                    (content)
                }
            }
        }
    };
    Html(body.into_string()).into_response()
}

/// The hidden CSRF field of a form.
pub fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="_csrf" value=(s.csrf); }
}

/// A timestamp as `YYYY-MM-DD HH:MM:SS` (UTC, tenant clock).
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A query string from pairs (empty values left out), with a leading `?` when not empty.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| format!("{k}={}", enc(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Raw markup (an SVG built by the console itself).
pub fn raw(s: String) -> Markup {
    PreEscaped(s)
}

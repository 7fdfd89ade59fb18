//! `/console/t/{slug}/journal`: the tenant's request journal, live and filtered; a click
//! shows one request and its response highlighted, with the request as a curl line.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;

use super::auth::Session;
use super::highlight;
use super::layout::{self, Flash};
use super::{live, load_tenant, path_id, ConsoleError, PageResult};
use crate::domain::journal::{self, Filter, Record, StatusMatch};
use crate::domain::tenants::Tenant;
use crate::state::AppState;

const PAGE: i64 = 50;
const DIALECTS: &[&str] = &["onc", "leads", "campaign_manager", "apps", "outbound_dialer"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/t/{slug}/journal", get(list))
        .route("/console/t/{slug}/journal/live", get(list_live))
        .route("/console/t/{slug}/journal/{id}", get(one))
}

fn filter(flash: &Flash) -> Filter {
    let status = flash.q("status").and_then(|s| {
        let s = s.to_ascii_lowercase();
        match s.strip_suffix("xx") {
            Some(c) => c.parse().ok().filter(|c| (1..=5).contains(c)).map(StatusMatch::Class),
            None => s.parse().ok().filter(|s| (100..=599).contains(s)).map(StatusMatch::Exact),
        }
    });
    Filter {
        dialect: flash.q("dialect").filter(|d| DIALECTS.contains(&d.as_str())),
        method: flash.q("method"),
        path: flash.q("path"),
        status,
        ..Filter::default()
    }
}

fn filter_query(flash: &Flash) -> Vec<(&'static str, Option<String>)> {
    ["dialect", "method", "path", "status"]
        .into_iter()
        .map(|k| (k, flash.q(k)))
        .collect()
}

async fn table(st: &AppState, t: &Tenant, f: &Filter, before: Option<i64>) -> Result<(Markup, Option<i64>), ConsoleError> {
    st.journal.flush().await;
    let rows = journal::list(&st.db, t.id, f, PAGE, before).await?;
    let next = (rows.len() as i64 == PAGE).then(|| rows.last().map(|r| r.seq)).flatten();
    let m = html! {
        table id="journal" {
            caption class="visually-hidden" { "Requests" }
            thead { tr {
                th scope="col" { "At" } th scope="col" { "Dialect" } th scope="col" { "Request" } th scope="col" class="num" { "Status" } th scope="col" class="num" { "ms" }
            } }
            tbody {
                @if rows.is_empty() { tr { td colspan="5" { "No request yet." } } }
                @for r in &rows {
                    tr {
                        td class="mono" { (layout::ts(r.at)) }
                        td { (r.dialect) }
                        td {
                            a class="mono" href={ "/console/t/" (t.slug) "/journal/" (r.id) } hx-get={ "/console/t/" (t.slug) "/journal/" (r.id) }
                              hx-target="#detail" hx-swap="innerHTML" {
                                (r.method) " " (r.path) @if let Some(op) = &r.operation { " · " (op) }
                            }
                        }
                        td class="num" { span class={ "badge o-" (if r.status >= 400 { "bad" } else { "ok" }) } { (r.status) } }
                        td class="num mono" { (format!("{:.1}", r.duration_ms)) }
                    }
                }
            }
        }
    };
    Ok((m, next))
}

/// `GET /console/t/{slug}/journal[?dialect=&method=&path=&status=&before=]`
async fn list(State(st): State<AppState>, s: Session, flash: Flash, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let f = filter(&flash);
    let b = flash.q("before").and_then(|b| b.parse().ok());
    let since = live::marker(&st, t.id).await?;
    let (tbl, next) = table(&st, &t, &f, b).await?;
    let base = format!("/console/t/{}/journal", t.slug);
    let content = html! {
        h1 { "Request journal" }
        form class="inline" method="get" action=(base) {
            label class="field" { "Dialect"
                select name="dialect" { option value="" { "any" }
                    @for d in DIALECTS { option value=(d) selected[f.dialect.as_deref() == Some(*d)] { (d) } } } }
            label class="field" { "Method" input name="method" value=(flash.q("method").unwrap_or_default()) size="6"; }
            label class="field" { "Path or operation (glob)" input name="path" value=(flash.q("path").unwrap_or_default()) size="18"; }
            label class="field" { "Status (e.g. 500, 4xx)" input name="status" value=(flash.q("status").unwrap_or_default()) size="5"; }
            button type="submit" { "Filter" }
        }
        div class="split" {
            div {
                (live::paged(&base, &filter_query(&flash), since, b, next, tbl))
            }
            section id="detail" aria-live="polite" { p class="muted" { "Choose a request to see it here." } }
        }
    };
    Ok(layout::page("Journal", &s, Some(&t), "/journal", &flash, content))
}

/// `GET /console/t/{slug}/journal/live` (SSE of the first page).
async fn list_live(r: live::LiveRequest) -> PageResult {
    let f = filter(&r.flash);
    r.serve(f, |st, t, f| async move { table(&st, &t, &f, None).await }).await
}

fn header_lines(h: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(o) = h.as_object() {
        for (k, v) in o {
            match v {
                Value::Array(a) => out.extend(a.iter().map(|x| (k.clone(), x.as_str().unwrap_or_default().to_string()))),
                Value::String(s) => out.push((k.clone(), s.clone())),
                other => out.push((k.clone(), other.to_string())),
            }
        }
    }
    out
}

fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r#"'\''"#))
}

/// The request as a curl command line (redacted values stay redacted).
pub fn curl(r: &Record) -> String {
    let headers = header_lines(&r.request.headers);
    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let q = r
        .summary
        .query
        .as_deref()
        .filter(|q| !q.is_empty())
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let mut line = format!(
        "curl -X {} {}",
        r.summary.method,
        sq(&format!("http://{host}{}{q}", r.summary.path))
    );
    for (k, v) in &headers {
        if ["host", "content-length", "connection", "accept-encoding", "user-agent"].contains(&k.to_ascii_lowercase().as_str()) {
            continue;
        }
        line.push_str(&format!(" \\\n  -H {}", sq(&format!("{k}: {v}"))));
    }
    if let Some(b) = r.request.body.as_deref().filter(|b| !b.is_empty()) {
        line.push_str(&format!(" \\\n  --data-raw {}", sq(b)));
    }
    line
}

fn message(title: &str, status_line: String, h: &Value, body: Option<&str>, size: i64) -> Markup {
    html! {
        h3 { (title) }
        pre class="mono" {
            (status_line) "\n"
            @for (k, v) in header_lines(h) { span class="hl-k" { (k) } ": " (v) "\n" }
        }
        @if let Some(b) = body {
            pre class="mono" { (layout::raw(highlight::body(b))) }
            @if size > b.len() as i64 { p class="muted" { "Body truncated: " (size) " bytes in all." } }
        }
    }
}

/// `GET /console/t/{slug}/journal/{id}`: the whole page, or (htmx) the detail alone.
async fn one(
    State(st): State<AppState>,
    s: Session,
    flash: Flash,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, "request")?;
    st.journal.flush().await;
    let r = journal::get(&st.db, t.id, id).await?;
    let sm = &r.summary;
    let detail = html! {
        h2 { (sm.method) " " (sm.path) }
        p class="muted" { (layout::ts(sm.at)) " · " (sm.dialect) @if let Some(op) = &sm.operation { " · " (op) } " · " (sm.status)
            @if let Some(rid) = &sm.request_id { " · request id " code { (rid) } } }
        h3 { "As curl" }
        pre id="curl" class="mono" { (curl(&r)) }
        button type="button" class="secondary" data-copy="curl" { "Copy as curl" }
        (message("Request", format!("{} {}{}", sm.method, sm.path, sm.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default()),
            &r.request.headers, r.request.body.as_deref(), r.request.body_size))
        (message("Response", format!("HTTP {}", sm.status), &r.response.headers, r.response.body.as_deref(), r.response.body_size))
    };
    if headers.contains_key("hx-request") {
        return Ok(Html(detail.into_string()).into_response());
    }
    let content = html! {
        p { a href={ "/console/t/" (t.slug) "/journal" } { "← All requests" } }
        (detail)
    };
    Ok(layout::page("Request", &s, Some(&t), "/journal", &flash, content))
}

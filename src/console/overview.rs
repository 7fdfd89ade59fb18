//! A tenant's overview (clock, attempts-per-minute chart), its clock controls, the
//! snapshot download/restore and the reset.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use maud::{html, Markup};

use super::auth::{check_csrf, Post, Session};
use super::layout::{self, Flash};
use super::{load_tenant, see_other, see_other_error, words, ConsoleError, PageResult};
use crate::domain::console_views;
use crate::domain::snapshots::{self, ExportOptions, Snapshot};
use crate::domain::tenant_ops::{self, ClockChange};
use crate::domain::tenants::Tenant;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/t/{slug}", get(overview))
        .route("/console/t/{slug}/clock", post(clock))
        .route("/console/t/{slug}/chart.svg", get(chart_svg))
        .route("/console/t/{slug}/snapshot", get(snapshot_page))
        .route("/console/t/{slug}/snapshot.json", get(snapshot_download))
        .route(
            "/console/t/{slug}/snapshot/restore",
            post(restore).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/console/t/{slug}/reset", post(reset))
}

fn clock_card(st: &AppState, t: &Tenant, s: &Session) -> Markup {
    let action = format!("/console/t/{}/clock", t.slug);
    let frozen = t.clock.frozen_at.is_some();
    html! {
        section class="card" aria-labelledby="clock-h" {
            h2 id="clock-h" { "Clock" }
            p class="clock mono" id="tenant-now" { (layout::ts(st.now(t))) " UTC" }
            p class="muted" { "Offset " (t.clock.offset_seconds) " s" @if frozen { " · frozen" } }
            div class="row" {
                @for (secs, label) in [(60, "+1 min"), (3600, "+1 h"), (86400, "+1 day")] {
                    form class="inline" method="post" action=(action) {
                        (layout::csrf(s))
                        input type="hidden" name="action" value="advance";
                        input type="hidden" name="seconds" value=(secs);
                        button type="submit" data-advance=(secs) { (label) }
                    }
                }
            }
            form class="inline" method="post" action=(action) {
                (layout::csrf(s))
                input type="hidden" name="action" value="advance";
                label class="field" { "Amount" input name="amount" type="number" min="1" required size="6"; }
                label class="field" { "Unit"
                    select name="unit" { option value="60" { "minutes" } option value="1" { "seconds" } option value="3600" { "hours" } option value="86400" { "days" } }
                }
                button type="submit" { "Advance" }
            }
            div class="row" style="margin-top:8px" {
                form class="inline" method="post" action=(action) {
                    (layout::csrf(s))
                    input type="hidden" name="action" value=(if frozen { "unfreeze" } else { "freeze" });
                    button type="submit" class="secondary" { (if frozen { "Unfreeze" } else { "Freeze" }) }
                }
                form class="inline" method="post" action=(action) {
                    (layout::csrf(s))
                    input type="hidden" name="action" value="reset";
                    button type="submit" class="secondary" { "Reset to real time" }
                }
            }
        }
    }
}

/// `GET /console/t/{slug}`
async fn overview(State(st): State<AppState>, s: Session, flash: Flash, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let svg = chart(&st, &t).await?;
    let content = html! {
        h1 { (t.name) }
        div class="row" {
            (clock_card(&st, &t, &s))
            section class="card" aria-labelledby="chart-h" {
                h2 id="chart-h" { "Attempts per minute, by outcome" }
                div id="chart" hx-get={ "/console/t/" (t.slug) "/chart.svg" } hx-trigger="every 2s" hx-swap="innerHTML" { (layout::raw(svg)) }
            }
        }
        p { "Tenant id " code { (t.id) } " · created " (layout::ts(t.created_at)) }
    };
    Ok(layout::page(&t.name, &s, Some(&t), "", &flash, content))
}

/// `GET /console/t/{slug}/chart.svg` (the chart alone, for the live refresh).
async fn chart_svg(State(st): State<AppState>, _: Session, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let svg = chart(&st, &t).await?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], svg).into_response())
}

/// Stacked bars of the last 60 minutes of attempts (ending at the newest one, so a
/// clock moved far ahead still shows the work), by outcome.
async fn chart(st: &AppState, t: &Tenant) -> Result<String, ConsoleError> {
    let now = st.now(t);
    let end = console_views::last_attempt_at(&st.db, t.id)
        .await?
        .map(|l| l.min(now))
        .unwrap_or(now);
    let end = minute(end) + Duration::minutes(1);
    let start = end - Duration::minutes(60);
    let rows = console_views::attempts_per_minute(&st.db, t.id, start).await?;
    Ok(render_chart(start, &rows))
}

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::seconds(t.timestamp().rem_euclid(60)) - Duration::nanoseconds(t.timestamp_subsec_nanos() as i64)
}

fn render_chart(start: DateTime<Utc>, rows: &[(DateTime<Utc>, String, i64)]) -> String {
    let (w, h, left, bottom) = (620.0f64, 160.0f64, 34.0f64, 18.0f64);
    let mut by_min: BTreeMap<i64, Vec<(&str, i64)>> = BTreeMap::new();
    let mut outcomes: Vec<&str> = Vec::new();
    for (m, o, n) in rows {
        let i = (*m - start).num_minutes();
        if (0..60).contains(&i) {
            by_min.entry(i).or_default().push((o.as_str(), *n));
            if !outcomes.contains(&o.as_str()) {
                outcomes.push(o.as_str());
            }
        }
    }
    let max = by_min
        .values()
        .map(|v| v.iter().map(|(_, n)| n).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bw = (w - left) / 60.0;
    let plot_h = h - bottom - 4.0;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {}\" width=\"{w}\" height=\"{}\" aria-labelledby=\"chart-title\"><title id=\"chart-title\">Attempts per minute by outcome, {} to {} UTC; peak {max}</title>",
        h + 20.0,
        h + 20.0,
        start.format("%H:%M"),
        (start + Duration::minutes(60)).format("%H:%M")
    );
    svg.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{0}\" x2=\"{w}\" y2=\"{0}\"/><text x=\"0\" y=\"12\">{max}</text><text x=\"0\" y=\"{0}\">0</text>",
        h - bottom
    ));
    for (i, label, anchor) in [
        (0, start, "start"),
        (30, start + Duration::minutes(30), "middle"),
        (60, start + Duration::minutes(59), "end"),
    ] {
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            left + i as f64 * bw,
            h - 4.0,
            label.format("%H:%M")
        ));
    }
    for (i, parts) in &by_min {
        let x = left + *i as f64 * bw;
        let mut y = h - bottom;
        for (o, n) in parts {
            let bh = *n as f64 / max * plot_h;
            y -= bh;
            svg.push_str(&format!(
                "<rect class=\"f-{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\"><title>{}: {n}</title></rect>",
                words::tone(o),
                (bw - 1.0).max(1.0),
                super::highlight::escape(o)
            ));
        }
    }
    let mut lx = left;
    for o in &outcomes {
        svg.push_str(&format!(
            "<rect class=\"f-{}\" x=\"{lx:.0}\" y=\"{}\" width=\"10\" height=\"10\"/><text x=\"{:.0}\" y=\"{}\">{}</text>",
            words::tone(o),
            h + 6.0,
            lx + 14.0,
            h + 15.0,
            super::highlight::escape(o)
        ));
        lx += 24.0 + 7.0 * o.len() as f64;
    }
    if outcomes.is_empty() {
        svg.push_str(&format!("<text x=\"{}\" y=\"{}\">no attempts yet</text>", left + 8.0, h / 2.0));
    }
    svg.push_str("</svg>");
    svg
}

/// `POST /console/t/{slug}/clock` (`action` = advance (`seconds`, or `amount` × `unit`),
/// freeze, unfreeze, reset); then one scheduler pass, as the admin API does.
async fn clock(State(st): State<AppState>, Path(slug): Path<String>, f: Post) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let back = format!("/console/t/{slug}");
    let change = match f.get("action") {
        "advance" => {
            let secs = match f.opt("seconds") {
                Some(s) => s.parse::<i64>().ok(),
                None => f
                    .get("amount")
                    .parse::<i64>()
                    .ok()
                    .zip(f.get("unit").parse::<i64>().ok())
                    .and_then(|(a, u)| a.checked_mul(u)),
            };
            match secs {
                Some(n) if n > 0 => ClockChange::Advance(n),
                _ => return Ok(see_other_error(&back, "Give a positive amount to advance by.")),
            }
        }
        "freeze" => ClockChange::Freeze(true),
        "unfreeze" => ClockChange::Freeze(false),
        "reset" => ClockChange::Reset,
        _ => return Ok(see_other_error(&back, "Unknown clock action.")),
    };
    if let Err(e) = tenant_ops::change_clock(&st.db, t.id, st.clock.as_ref(), change).await {
        return Ok(see_other_error(&back, &e.to_string()));
    }
    // Let what became due happen now, as `POST /admin/v1/tenants/{slug}/clock` does.
    if let Err(e) = crate::engine::scheduler::tick_once(&st).await {
        tracing::warn!(error = %e, "scheduler pass after a clock change failed");
    }
    Ok(see_other(&back, "Clock changed."))
}

/// `GET /console/t/{slug}/snapshot`
async fn snapshot_page(State(st): State<AppState>, s: Session, flash: Flash, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let base = format!("/console/t/{}", t.slug);
    let content = html! {
        h1 { "Snapshot and reset" }
        section class="card" {
            h2 { "Download" }
            p { "The tenant's data as one JSON document (the format of " code { "GET /admin/v1/tenants/{slug}/snapshot" } "), without credentials." }
            p { a href={ (base) "/snapshot.json" } download { "Download " (t.slug) ".snapshot.json" } }
        }
        section class="card" {
            h2 { "Restore" }
            p { "Replaces the tenant's data with the document's." }
            form method="post" action={ (base) "/snapshot/restore" } enctype="multipart/form-data" class="stack" {
                (layout::csrf(&s))
                label class="field" { "Snapshot file" input type="file" name="snapshot" accept="application/json,.json" required; }
                div { button type="submit" { "Restore" } }
            }
        }
        section class="card" {
            h2 { "Reset" }
            p { "Deletes the tenant's campaigns, contacts, outbox, journal, faults and suppression entries; keeps its settings, clock, credentials and directory." }
            form method="post" action={ (base) "/reset" } class="inline" {
                (layout::csrf(&s))
                label class="field" { "Type " (t.slug) " to confirm" input name="confirm" autocomplete="off" required; }
                button type="submit" class="danger" { "Reset tenant" }
            }
        }
    };
    Ok(layout::page("Snapshot", &s, Some(&t), "/snapshot", &flash, content))
}

/// `GET /console/t/{slug}/snapshot.json` (streamed, without credentials).
async fn snapshot_download(State(st): State<AppState>, _: Session, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let stream = snapshots::export(st.db.clone(), t.id, st.now(&t), ExportOptions { with_credentials: false })
        .map_err(|e| std::io::Error::other(e.to_string()));
    let disposition = format!("attachment; filename=\"{}.snapshot.json\"", t.slug);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `POST /console/t/{slug}/snapshot/restore` (multipart: `_csrf`, `snapshot` file).
async fn restore(
    State(st): State<AppState>,
    s: Session,
    headers: axum::http::HeaderMap,
    Path(slug): Path<String>,
    mut form: Multipart,
) -> Result<Response, ConsoleError> {
    let t = load_tenant(&st, &slug).await?;
    let back = format!("/console/t/{slug}/snapshot");
    let mut csrf: Option<String> = None;
    let mut doc: Option<Vec<u8>> = None;
    while let Some(field) = form.next_field().await.map_err(|e| ConsoleError::BadRequest(e.body_text()))? {
        match field.name() {
            Some("_csrf") => csrf = Some(field.text().await.map_err(|e| ConsoleError::BadRequest(e.body_text()))?),
            Some("snapshot") => {
                check_csrf(&s, &headers, csrf.as_deref())?;
                let mut buf = Vec::new();
                let mut field = field;
                while let Some(chunk) = field.chunk().await.map_err(|e| ConsoleError::BadRequest(e.body_text()))? {
                    if buf.len() + chunk.len() > st.config.upload_limit {
                        return Ok(see_other_error(&back, "The snapshot is larger than the upload limit."));
                    }
                    buf.extend_from_slice(&chunk);
                }
                doc = Some(buf);
            }
            _ => {}
        }
    }
    check_csrf(&s, &headers, csrf.as_deref())?;
    let Some(doc) = doc.filter(|d| !d.is_empty()) else {
        return Ok(see_other_error(&back, "Choose a snapshot file."));
    };
    let snap = match Snapshot::from_slice(&doc) {
        Ok(s) => s,
        Err(e) => return Ok(see_other_error(&back, &e.to_string())),
    };
    match snapshots::restore(&st.db, t.id, &snap).await {
        Ok(_) => {
            st.faults.invalidate(Some(t.id));
            Ok(see_other(&back, "Snapshot restored."))
        }
        Err(e) => Ok(see_other_error(&back, &e.to_string())),
    }
}

/// `POST /console/t/{slug}/reset` (`confirm` must repeat the slug; the directory stays).
async fn reset(State(st): State<AppState>, Path(slug): Path<String>, f: Post) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let back = format!("/console/t/{slug}/snapshot");
    if f.get("confirm") != t.slug {
        return Ok(see_other_error(&back, &format!("Type {} to confirm the reset.", t.slug)));
    }
    let report = tenant_ops::reset(&st.db, t.id, true).await?;
    st.faults.invalidate(Some(t.id));
    tracing::info!(tenant = %t.slug, "tenant reset from the console");
    let n: u64 = report.deleted.values().copied().sum();
    Ok(see_other(&back, &format!("Tenant reset: {n} rows deleted.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_stacks_outcomes_per_minute_and_says_when_empty() {
        let start = DateTime::parse_from_rfc3339("2030-01-01T09:00:00Z").unwrap().with_timezone(&Utc);
        assert!(render_chart(start, &[]).contains("no attempts yet"));
        let rows = vec![
            (start + Duration::minutes(5), "delivered".to_string(), 3),
            (start + Duration::minutes(5), "busy".to_string(), 1),
            (start + Duration::minutes(90), "delivered".to_string(), 7),
        ];
        let svg = render_chart(start, &rows);
        assert_eq!(
            svg.matches("<rect class=\"f-ok\" x=").count(),
            2,
            "one bar and one legend square: {svg}"
        );
        assert!(svg.contains("<title>busy: 1</title>"), "{svg}");
        assert!(!svg.contains("delivered: 7"), "outside the window");
        assert!(svg.contains("peak 4"), "{svg}");
    }

    #[test]
    fn minutes_are_truncated() {
        let t = DateTime::parse_from_rfc3339("2030-01-01T09:00:59.5Z").unwrap().with_timezone(&Utc);
        assert_eq!(minute(t).to_rfc3339(), "2030-01-01T09:00:00+00:00");
    }
}

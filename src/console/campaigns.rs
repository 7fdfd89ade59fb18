//! `/console/t/{slug}/campaigns`: campaigns of every dialect in one live table, a
//! campaign's contacts (keyset-paged, filterable by state) with their attempts, and the
//! outbox (live, filtered).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use uuid::Uuid;

use super::auth::Session;
use super::layout::{self, Flash};
use super::{live, load_tenant, path_id, words, ConsoleError, PageResult};
use crate::domain::campaigns::Campaign;
use crate::domain::console_views::{self, OutboxFilter, OPEN_STATES};
use crate::domain::contacts::status as cst;
use crate::domain::tenants::Tenant;
use crate::domain::webhooks;
use crate::state::AppState;

/// Rows per page.
const PAGE: i64 = 50;
/// Webhook delivery tries shown under the outbox.
const HOOKS_PAGE: i64 = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/t/{slug}/campaigns", get(list))
        .route("/console/t/{slug}/campaigns/live", get(list_live))
        .route("/console/t/{slug}/campaigns/{id}", get(contacts))
        .route("/console/t/{slug}/outbox", get(outbox))
        .route("/console/t/{slug}/outbox/live", get(outbox_live))
}

fn before(flash: &Flash, key: &str) -> Option<i64> {
    flash.q(key).and_then(|b| b.parse().ok())
}

async fn campaigns_table(st: &AppState, t: &Tenant, before_seq: Option<i64>) -> Result<(Markup, Option<i64>), ConsoleError> {
    let rows = console_views::campaigns_page(&st.db, t.id, before_seq, PAGE).await?;
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let counts = console_views::contact_counts(&st.db, t.id, &ids).await?;
    let next = (rows.len() as i64 == PAGE).then(|| rows.last().map(|c| c.seq)).flatten();
    let empty = Vec::new();
    let m = html! {
        table id="campaigns" {
            caption class="visually-hidden" { "Campaigns" }
            thead { tr {
                th scope="col" { "Dialect" } th scope="col" { "Id" } th scope="col" { "Name" } th scope="col" { "Status" }
                th scope="col" { "Progress" } th scope="col" { "Contacts by state" }
            } }
            tbody {
                @if rows.is_empty() { tr { td colspan="6" { "No campaign yet." } } }
                @for c in &rows {
                    (campaign_row(t, c, counts.get(&c.id).unwrap_or(&empty)))
                }
            }
        }
    };
    Ok((m, next))
}

fn campaign_row(t: &Tenant, c: &Campaign, counts: &[(String, i64)]) -> Markup {
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let open: i64 = counts
        .iter()
        .filter(|(s, _)| OPEN_STATES.contains(&s.as_str()))
        .map(|(_, n)| n)
        .sum();
    let done = total - open;
    let pct = if total > 0 { done * 100 / total } else { 0 };
    let dialect_status = words::campaign_status(&c.kind, &c.status);
    html! {
        tr data-campaign=(c.id) {
            td { (words::dialect_of(&c.kind)) br; span class="muted" { (c.kind) } }
            td class="mono" title={ "uuid " (c.id) } { (words::campaign_id(c)) }
            td { a href={ "/console/t/" (t.slug) "/campaigns/" (c.id) } { (c.name) } }
            td {
                span class={ "badge o-" (words::tone(&c.status)) } { (c.status) }
                @if let Some(d) = dialect_status { br; span class="muted" { (words::dialect_of(&c.kind)) ": " (d) } }
            }
            td {
                progress max=(total.max(1)) value=(done) aria-label={ "Progress of " (c.name) } data-percent=(pct) {}
                " " span class="mono" data-progress { (done) "/" (total) " (" (pct) "%)" }
            }
            td {
                @for (s, n) in counts {
                    a class={ "badge o-" (words::tone(s)) } href={ "/console/t/" (t.slug) "/campaigns/" (c.id) "?state=" (s) } { (s) " " (n) }
                }
            }
        }
    }
}

/// `GET /console/t/{slug}/campaigns[?before=seq]`
async fn list(State(st): State<AppState>, s: Session, flash: Flash, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let b = before(&flash, "before");
    let since = live::marker(&st, t.id).await?;
    let (table, next) = campaigns_table(&st, &t, b).await?;
    let content = html! {
        h1 { "Campaigns" }
        p class="muted" { "Every dialect's campaigns; ids in the owning dialect's shape. Progress is final contacts over all contacts." }
        (live::paged(&format!("/console/t/{}/campaigns", t.slug), &[], since, b, next, table))
    };
    Ok(layout::page("Campaigns", &s, Some(&t), "/campaigns", &flash, content))
}

/// `GET /console/t/{slug}/campaigns/live` (SSE of the first page).
async fn list_live(r: live::LiveRequest) -> PageResult {
    r.serve((), |st, t, _| async move { campaigns_table(&st, &t, None).await }).await
}

/// `GET /console/t/{slug}/campaigns/{id}[?state=&after=seq]`: the contacts with attempts.
async fn contacts(State(st): State<AppState>, s: Session, flash: Flash, Path((slug, id)): Path<(String, String)>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let c = console_views::campaign(&st.db, t.id, path_id(&id, "campaign")?).await?;
    // Any status word (the engine may add states); it only ever filters by equality.
    let state = flash
        .q("state")
        .filter(|s| s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    let after = before(&flash, "after").unwrap_or(0);
    let rows = console_views::contacts_page(&st.db, t.id, c.id, state.as_deref(), after, PAGE).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut attempts: HashMap<Uuid, Vec<console_views::AttemptView>> = HashMap::new();
    for a in console_views::attempts_of(&st.db, t.id, &ids).await? {
        attempts.entry(a.contact_id).or_default().push(a);
    }
    let counts = console_views::contact_counts(&st.db, t.id, &[c.id]).await?;
    let next = (rows.len() as i64 == PAGE).then(|| rows.last().map(|r| r.seq)).flatten();
    let base = format!("/console/t/{}/campaigns/{}", t.slug, c.id);
    let dialect = words::dialect_of(&c.kind);
    let none = Vec::new();
    let content = html! {
        h1 { (c.name) }
        p { (dialect) " campaign " code { (words::campaign_id(&c)) } " · " span class={ "badge o-" (words::tone(&c.status)) } { (c.status) }
            " · " a href={ "/console/t/" (t.slug) "/outbox?campaign=" (c.id) } { "its outbox" } }
        table { tbody { (campaign_row(&t, &c, counts.get(&c.id).unwrap_or(&none))) } }
        form class="inline" method="get" action=(base) {
            label class="field" { "State"
                select name="state" {
                    option value="" { "any" }
                    @for s in &state_choices(counts.get(&c.id).unwrap_or(&none)) {
                        option value=(s) selected[state.as_deref() == Some(s.as_str())] { (s) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        @if words::contact_state(&c.kind, cst::PENDING, 0, None).is_none() {
            p class="muted" { (dialect) " has no per-contact state of its own; the shared status is shown." }
        }
        (contacts_table(&c, &rows, &attempts, state.is_some()))
        nav class="pager" aria-label="Pages" {
            @if after > 0 { a href=(format!("{base}{}", layout::query(&[("state", state.clone())]))) { "First" } }
            @if let Some(n) = next { a href=(format!("{base}{}", layout::query(&[("state", state.clone()), ("after", Some(n.to_string()))]))) { "Next" } }
        }
    };
    Ok(layout::page(&c.name, &s, Some(&t), "/campaigns", &flash, content))
}

/// The states a contact filter offers: the shared ones, and any other the campaign has.
fn state_choices(counts: &[(String, i64)]) -> Vec<String> {
    let mut all: Vec<String> = cst::ALL.iter().chain(OPEN_STATES.iter()).map(|s| s.to_string()).collect();
    all.extend(counts.iter().map(|(s, _)| s.clone()));
    let mut seen = std::collections::HashSet::new();
    all.retain(|s| seen.insert(s.clone()));
    all
}

/// The contacts of a page with their attempts.
fn contacts_table(
    c: &Campaign,
    rows: &[crate::domain::contacts::Contact],
    attempts: &HashMap<Uuid, Vec<console_views::AttemptView>>,
    filtered: bool,
) -> Markup {
    let dialect = words::dialect_of(&c.kind);
    html! {
    table id="contacts" {
        caption class="visually-hidden" { "Contacts" }
        thead { tr {
            th scope="col" { "#" } th scope="col" { "Contact" } th scope="col" { (dialect) " state" } th scope="col" { "Shared status" }
            th scope="col" class="num" { "Attempts" } th scope="col" { "Attempt log" }
        } }
        tbody {
            @if rows.is_empty() { tr { td colspan="6" { "No contact" @if filtered { " in this state" } "." } } }
            @for r in rows {
                tr data-contact=(r.id) {
                    td class="mono" { (r.seq) }
                    td class="mono" { (r.number.as_deref().or(r.email.as_deref()).unwrap_or("—"))
                        @if let Some(n) = r.name.as_deref() { br; span class="muted" { (n) } } }
                    td data-dialect-state { (dialect_state(c, r, attempts.get(&r.id).map(Vec::as_slice))) }
                    td { span class={ "badge o-" (words::tone(&r.status)) } data-status=(r.status) { (r.status) } }
                    td class="num" { (r.attempts) " / " (r.max_retries + 1) }
                    td {
                        @if let Some(list) = attempts.get(&r.id) { ol class="attempts" {
                            @for a in list { (attempt_item(a)) }
                        } }
                    }
                }
            }
        }
    }
    }
}

/// The contact's state in its dialect's words (the last finished attempt's outcome where
/// the dialect tells outcomes apart).
fn dialect_state(c: &Campaign, r: &crate::domain::contacts::Contact, attempts: Option<&[console_views::AttemptView]>) -> String {
    let last = attempts.and_then(|l| l.iter().rev().find_map(|a| a.outcome.as_deref()));
    words::contact_state(&c.kind, &r.status, r.attempts, last).unwrap_or_else(|| r.status.clone())
}

/// One attempt: number, channel, destination, outcome (or state while in flight), sink,
/// start and end on the tenant clock.
fn attempt_item(a: &console_views::AttemptView) -> Markup {
    let shown = a.outcome.as_deref().unwrap_or(&a.state);
    html! {
        li class="mono" data-attempt=(a.n) {
            "#" (a.n) " " (a.channel) " → " (a.to_address) " · "
            span class={ "badge o-" (words::tone(shown)) } data-outcome=(shown) { (shown) }
            " · " (a.sink) " · " span class="muted" { (layout::ts(a.started_at)) " – "
                (a.ended_at.map(layout::ts).unwrap_or_else(|| "…".into())) }
        }
    }
}

fn outbox_filter(flash: &Flash) -> OutboxFilter {
    OutboxFilter {
        channel: flash.q("channel"),
        status: flash.q("status"),
        to: flash.q("to"),
        campaign: flash.q("campaign").and_then(|c| Uuid::try_parse(&c).ok()),
    }
}

fn filter_query(f: &OutboxFilter) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("channel", f.channel.clone()),
        ("status", f.status.clone()),
        ("to", f.to.clone()),
        ("campaign", f.campaign.map(|c| c.to_string())),
    ]
}

async fn outbox_table(st: &AppState, t: &Tenant, f: &OutboxFilter, before_seq: Option<i64>) -> Result<(Markup, Option<i64>), ConsoleError> {
    let rows = console_views::outbox_page(&st.db, t.id, f, before_seq, PAGE).await?;
    let next = (rows.len() as i64 == PAGE).then(|| rows.last().map(|r| r.seq)).flatten();
    let m = html! {
        table id="outbox" {
            caption class="visually-hidden" { "Outbox" }
            thead { tr {
                th scope="col" class="num" { "#" } th scope="col" { "At" } th scope="col" { "Ended" } th scope="col" { "Channel" }
                th scope="col" { "To" } th scope="col" { "From" } th scope="col" class="num" { "Attempt" } th scope="col" { "Status" }
                th scope="col" { "Outcome" } th scope="col" { "Sink" } th scope="col" { "Body" } th scope="col" { "Campaign" }
            } }
            tbody {
                @if rows.is_empty() { tr { td colspan="12" { "Nothing sent yet." } } }
                @for d in &rows {
                    tr data-outbox=(d.seq) {
                        td class="num mono" { (d.seq) }
                        td class="mono" { (layout::ts(d.created_at)) }
                        td class="mono" { (d.ended_at.map(layout::ts).unwrap_or_default()) }
                        td { (d.channel) }
                        td class="mono" { (d.to_address) }
                        td class="mono" { (d.from_address.as_deref().unwrap_or("")) }
                        td class="num" { (d.n.map(|n| n.to_string()).unwrap_or_default()) }
                        td { span class={ "badge o-" (words::tone(&d.status)) } { (d.status) } }
                        td { @if let Some(o) = &d.outcome { span class={ "badge o-" (words::tone(o)) } data-outcome=(o) { (o) } } }
                        td { (d.sink.as_deref().unwrap_or("")) }
                        td { (d.body.as_deref().map(|b| b.chars().take(120).collect::<String>()).unwrap_or_default()) }
                        td { @if let Some(c) = d.campaign_id { a href={ "/console/t/" (t.slug) "/campaigns/" (c) } { "open" } } }
                    }
                }
            }
        }
    };
    Ok((m, next))
}

/// `GET /console/t/{slug}/outbox[?channel=&status=&to=&campaign=&before=&hooks_before=]`
async fn outbox(State(st): State<AppState>, s: Session, flash: Flash, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let f = outbox_filter(&flash);
    let b = before(&flash, "before");
    let since = live::marker(&st, t.id).await?;
    let (table, next) = outbox_table(&st, &t, &f, b).await?;
    let base = format!("/console/t/{}/outbox", t.slug);
    let content = html! {
        h1 { "Outbox" }
        form class="inline" method="get" action=(base) {
            label class="field" { "Channel"
                select name="channel" { option value="" { "any" }
                    @for c in ["sms", "voice", "email"] { option value=(c) selected[f.channel.as_deref() == Some(c)] { (c) } } } }
            label class="field" { "Status" input name="status" value=(f.status.clone().unwrap_or_default()) size="12"; }
            label class="field" { "To contains" input name="to" value=(f.to.clone().unwrap_or_default()) size="14"; }
            @if let Some(c) = f.campaign { input type="hidden" name="campaign" value=(c); }
            button type="submit" { "Filter" }
        }
        (live::paged(&base, &filter_query(&f), since, b, next, table))
    };
    let hooks = webhook_section(&st, &t, flash.q("hooks_before").and_then(|b| b.parse().ok())).await?;
    let content = html! { (content) (hooks) };
    Ok(layout::page("Outbox", &s, Some(&t), "/outbox", &flash, content))
}

/// The tenant's webhook delivery tries (read-only), newest first, keyset-paged on
/// `hooks_before` (as `GET /admin/v1/tenants/{slug}/webhook-deliveries`).
async fn webhook_section(st: &AppState, t: &Tenant, before_seq: Option<i64>) -> Result<Markup, ConsoleError> {
    let (rows, next) = webhooks::list(&st.db, t.id, HOOKS_PAGE, before_seq).await?;
    let base = format!("/console/t/{}/outbox", t.slug);
    Ok(html! {
        h2 id="webhooks-h" { "Webhook deliveries" }
        p class="muted" { "Every try of every signed POST of the webhook carrier and its callbacks." }
        table id="webhook-deliveries" aria-labelledby="webhooks-h" {
            thead { tr {
                th scope="col" { "Started" } th scope="col" { "URL" } th scope="col" class="num" { "Try" } th scope="col" { "Result" }
                th scope="col" class="num" { "HTTP status" } th scope="col" { "Error" } th scope="col" class="num" { "ms" }
            } }
            tbody {
                @if rows.is_empty() { tr { td colspan="7" { "No webhook delivery." } } }
                @for d in &rows {
                    tr {
                        td class="mono" { (layout::ts(d.started_at)) }
                        td class="mono" { (d.url) }
                        td class="num" { (d.try_n) }
                        td { @if d.ok { span class="badge o-ok" { "ok" } } @else { span class="badge o-bad" { "failed" } } }
                        td class="num" { (d.status_code.map(|c| c.to_string()).unwrap_or_default()) }
                        td { (d.error.as_deref().unwrap_or("")) }
                        td class="num" { (d.duration_ms) }
                    }
                }
            }
        }
        nav class="pager" aria-label="Webhook delivery pages" {
            @if before_seq.is_some() { a href=(format!("{base}#webhooks-h")) { "Newest" } }
            @if let Some(n) = next { a href=(format!("{base}?hooks_before={n}#webhooks-h")) { "Older" } }
        }
    })
}

/// `GET /console/t/{slug}/outbox/live[?filters]` (SSE of the first page).
async fn outbox_live(r: live::LiveRequest) -> PageResult {
    let f = outbox_filter(&r.flash);
    r.serve(f, |st, t, f| async move { outbox_table(&st, &t, &f, None).await }).await
}

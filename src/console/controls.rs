//! `/console/t/{slug}/faults`, `/carrier-rules` and `/suppression`: the emulator's
//! controls, through the same domain and engine functions as the admin API (carrier
//! rules: `engine::carrier::rules`, as `/admin/v1/tenants/{slug}/carrier-rules`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;

use super::auth::{Post, Session};
use super::layout::{self, Flash};
use super::{load_tenant, path_id, see_other, see_other_error, PageResult};
use crate::domain::console_views;
use crate::domain::faults::{self, kind, NewFault};
use crate::domain::optlists::{self, list, NewEntry, CHANNELS};
use crate::domain::phone::PhoneNumber;
use crate::domain::tenants::Tenant;
use crate::domain::DomainError;
use crate::engine::carrier::{rules, Outcome};
use crate::state::AppState;

/// The front doors a fault may be limited to (as in the admin API).
const DIALECTS: &[&str] = &["onc", "leads", "campaign_manager", "apps", "outbound_dialer"];
const PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/t/{slug}/faults", get(faults_page).post(fault_create))
        .route("/console/t/{slug}/faults/{id}/delete", post(fault_delete))
        .route("/console/t/{slug}/carrier-rules", get(carrier_rules).post(carrier_rules_save))
        .route("/console/t/{slug}/suppression", get(suppression).post(suppression_add))
        .route("/console/t/{slug}/suppression/{list}/{id}/delete", post(suppression_remove))
}

/// `GET /console/t/{slug}/faults`
async fn faults_page(State(st): State<AppState>, s: Session, flash: Flash, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let all = faults::list(&st.db, t.id).await?;
    let base = format!("/console/t/{}/faults", t.slug);
    let content = html! {
        h1 { "Faults" }
        p class="muted" { "Injected into this tenant's API traffic: an error status, a delay, a reset connection, a timeout or a malformed answer." }
        table id="faults" {
            caption class="visually-hidden" { "Faults" }
            thead { tr {
                th scope="col" { "Dialect" } th scope="col" { "Method" } th scope="col" { "Path" } th scope="col" { "Kind" }
                th scope="col" class="num" { "Status" } th scope="col" class="num" { "Delay ms" } th scope="col" class="num" { "Probability" }
                th scope="col" class="num" { "Remaining" } th scope="col" class="num" { "Matched" } th scope="col" { "Delete" }
            } }
            tbody {
                @if all.is_empty() { tr { td colspan="10" { "No fault." } } }
                @for f in &all {
                    tr {
                        td { (f.dialect.as_deref().unwrap_or("any")) } td { (f.method.as_deref().unwrap_or("any")) }
                        td class="mono" { (f.path) } td { (f.kind) }
                        td class="num" { (f.status.map(|s| s.to_string()).unwrap_or_default()) }
                        td class="num" { (f.delay_ms.map(|s| s.to_string()).unwrap_or_default()) }
                        td class="num" { (f.probability) }
                        td class="num" { (f.remaining.map(|s| s.to_string()).unwrap_or_else(|| "∞".into())) }
                        td class="num" { (f.matched) }
                        td { form class="inline" method="post" action={ (base) "/" (f.id) "/delete" } {
                            (layout::csrf(&s)) button type="submit" class="danger" aria-label={ "Delete fault on " (f.path) } { "Delete" } } }
                    }
                }
            }
        }
        h2 { "Add a fault" }
        form class="stack" method="post" action=(base) id="fault-form" {
            (layout::csrf(&s))
            label class="field" { "Dialect"
                select name="dialect" { option value="" { "any" } @for d in DIALECTS { option value=(d) { (d) } } } }
            label class="field" { "Method (empty: any)" input name="method" size="8"; }
            label class="field" { "Path or operation (glob)" input name="path" value="*"; }
            label class="field" { "Kind"
                select name="kind" { @for k in kind::ALL { option value=(k) { (k) } } } }
            label class="field" { "HTTP status (status faults, 400–599)" input name="status" type="number" min="400" max="599" value="503"; }
            label class="field" { "Delay in ms (delay and timeout)" input name="delay_ms" type="number" min="0"; }
            label class="field" { "Times (empty: until deleted)" input name="times" type="number" min="1"; }
            label class="field" { "Probability (0–1)" input name="probability" type="number" min="0" max="1" step="0.01" value="1"; }
            div { button type="submit" { "Add fault" } }
        }
    };
    Ok(layout::page("Faults", &s, Some(&t), "/faults", &flash, content))
}

fn num<T: std::str::FromStr>(f: &Post, k: &str) -> Result<Option<T>, String> {
    match f.opt(k) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| format!("{k}: not a number")),
    }
}

/// `POST /console/t/{slug}/faults`
async fn fault_create(State(st): State<AppState>, Path(slug): Path<String>, f: Post) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let back = format!("/console/t/{slug}/faults");
    let dialect = f.opt("dialect");
    if dialect.as_deref().is_some_and(|d| !DIALECTS.contains(&d)) {
        return Ok(see_other_error(&back, "dialect: unknown"));
    }
    let k = f.get("kind").to_string();
    let parsed = (|| -> Result<NewFault, String> {
        Ok(NewFault {
            dialect,
            method: f.opt("method").map(|m| m.to_ascii_uppercase()),
            path: f.opt("path"),
            status: if k == kind::STATUS { num(&f, "status")? } else { None },
            delay_ms: num(&f, "delay_ms")?,
            times: num(&f, "times")?,
            probability: num(&f, "probability")?,
            kind: k.clone(),
            ..NewFault::default()
        })
    })();
    let new = match parsed {
        Ok(n) => n,
        Err(e) => return Ok(see_other_error(&back, &e)),
    };
    match faults::create(&st.db, t.id, new, st.now(&t)).await {
        Ok(_) => {
            // This process sees the change at once; other replicas through the NOTIFY.
            st.faults.invalidate(Some(t.id));
            Ok(see_other(&back, "Fault added."))
        }
        Err(e) => Ok(see_other_error(&back, &e.to_string())),
    }
}

/// `POST /console/t/{slug}/faults/{id}/delete`
async fn fault_delete(State(st): State<AppState>, Path((slug, id)): Path<(String, String)>, _: Post) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, "fault")?;
    faults::delete(&st.db, t.id, id).await?;
    st.faults.invalidate(Some(t.id));
    Ok(see_other(&format!("/console/t/{slug}/faults"), "Fault deleted."))
}

/// `GET /console/t/{slug}/carrier-rules`: the tenant's carrier rules as JSON in a form.
async fn carrier_rules(State(st): State<AppState>, s: Session, flash: Flash, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let current = rules::render(&rules::load(&st.db, t.id).await?);
    let text = serde_json::to_string_pretty(&current).unwrap_or_else(|_| "[]".into());
    Ok(carrier_rules_page(&s, &t, &flash, &text))
}

/// The carrier rules page with `text` in the editor (the stored rules, or what was typed
/// when it was refused).
fn carrier_rules_page(s: &Session, t: &Tenant, flash: &Flash, text: &str) -> Response {
    let base = format!("/console/t/{}/carrier-rules", t.slug);
    let content = html! {
        h1 { "Carrier rules" }
        p class="muted" id="rules-help" {
            "The simulated carrier checks these rules in order before its built-in table: the first rule whose glob "
            code { "match" } " (" code { "*" } ", " code { "?" } ") fits the destination on the attempt's "
            code { "channel" } " (" code { "voice" } ", " code { "sms" } ", " code { "email" } " or " code { "*" } ") decides; the n-th attempt takes the n-th of "
            code { "outcomes" } " and the last one repeats. Outcomes: " (Outcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")) ". Saving replaces every rule; " code { "[]" } " removes them."
        }
        form class="stack" method="post" action=(base) id="carrier-rules-form" {
            (layout::csrf(s))
            label class="field" for="rules" { "Rules (a JSON array)" }
            textarea id="rules" name="rules" rows="14" cols="80" spellcheck="false" class="mono"
                aria-describedby="rules-help" aria-invalid=[flash.error.is_some().then_some("true")] { (text) }
            p class="muted" { "Example: " code { r#"[{"match": "+1415555*", "channel": "sms", "outcomes": ["undelivered", "delivered"]}]"# } }
            div { button type="submit" { "Save rules" } }
        }
    };
    layout::page("Carrier rules", s, Some(t), "/carrier-rules", flash, content)
}

/// `POST /console/t/{slug}/carrier-rules` (`rules`: the JSON array): replaces the rules
/// through the same functions as `PUT /admin/v1/tenants/{slug}/carrier-rules`. A refused
/// list answers 422 with the page, the error and the typed text.
async fn carrier_rules_save(State(st): State<AppState>, s: Session, Path(slug): Path<String>, f: Post) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let text = f.get("rules");
    let parsed = serde_json::from_str::<serde_json::Value>(if text.is_empty() { "[]" } else { text })
        .map_err(|e| format!("rules: not JSON: {e}"))
        .and_then(|v| rules::parse(&v).map_err(|e| e.to_string()));
    let error = match parsed {
        Ok(list) => match rules::store(&st.db, t.id, &list, st.now(&t)).await {
            Ok(()) => return Ok(see_other(&format!("/console/t/{slug}/carrier-rules"), "Carrier rules saved.")),
            Err(e @ DomainError::Internal(_)) => return Err(e.into()),
            Err(e) => e.to_string(),
        },
        Err(e) => e,
    };
    let flash = Flash {
        error: Some(error),
        ..Flash::default()
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, carrier_rules_page(&s, &t, &flash, text)).into_response())
}

/// `GET /console/t/{slug}/suppression[?list=opt_out|dnc&number=&before=]`
async fn suppression(State(st): State<AppState>, s: Session, flash: Flash, Path(slug): Path<String>) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let which = match flash.q("list").as_deref() {
        Some(list::DNC) => list::DNC,
        _ => list::OPT_OUT,
    };
    let number = flash.q("number");
    let before: Option<i64> = flash.q("before").and_then(|b| b.parse().ok());
    let rows = console_views::suppression_page(&st.db, t.id, which, number.as_deref(), before, PAGE).await?;
    let next = (rows.len() as i64 == PAGE).then(|| rows.last().map(|r| r.seq)).flatten();
    let now = st.now(&t);
    let base = format!("/console/t/{}/suppression", t.slug);
    let content = html! {
        h1 { "Suppression" }
        p class="muted" { "One list per tenant, honoured by every dialect at creation and at send time." }
        nav class="pager" aria-label="Lists" {
            a href={ (base) "?list=opt_out" } aria-current=[(which == list::OPT_OUT).then_some("page")] { "Opt-outs" }
            a href={ (base) "?list=dnc" } aria-current=[(which == list::DNC).then_some("page")] { "Company DNC" }
        }
        form class="inline" method="get" action=(base) {
            input type="hidden" name="list" value=(which);
            label class="field" { "Number contains" input name="number" value=(number.clone().unwrap_or_default()) size="14"; }
            button type="submit" { "Search" }
        }
        table id="suppression" {
            caption class="visually-hidden" { "Entries" }
            thead { tr { th scope="col" { "Number" } th scope="col" { "Channels" } th scope="col" { "Source" } th scope="col" { "Expires" } th scope="col" { "Added" } th scope="col" { "Remove" } } }
            tbody {
                @if rows.is_empty() { tr { td colspan="6" { "No entry." } } }
                @for e in &rows {
                    tr {
                        td class="mono" { (e.number) }
                        td { @if e.channels.is_empty() { "all" } @else { (e.channels.join(", ")) } }
                        td { (e.source) }
                        td class="mono" { @match e.expires_at { Some(x) => { (layout::ts(x)) @if x <= now { " (expired)" } }, None => "never" } }
                        td class="mono" { (layout::ts(e.created_at)) }
                        td { form class="inline" method="post" action={ (base) "/" (which) "/" (e.id) "/delete" } {
                            (layout::csrf(&s)) button type="submit" class="danger" aria-label={ "Remove " (e.number) } { "Remove" } } }
                    }
                }
            }
        }
        nav class="pager" aria-label="Pages" {
            @if before.is_some() { a href=(format!("{base}{}", layout::query(&[("list", Some(which.to_string())), ("number", number.clone())]))) { "Newest" } }
            @if let Some(n) = next {
                a href=(format!("{base}{}", layout::query(&[("list", Some(which.to_string())), ("number", number.clone()), ("before", Some(n.to_string()))]))) { "Older" }
            }
        }
        (suppression_form(&s, &base, which))
    };
    Ok(layout::page("Suppression", &s, Some(&t), "/suppression", &flash, content))
}

/// The form that adds a number to a list.
fn suppression_form(s: &Session, base: &str, which: &str) -> maud::Markup {
    html! {
    h2 { "Add a number" }
    form class="stack" method="post" action=(base) {
        (layout::csrf(s))
        label class="field" { "List" select name="list" {
            option value="opt_out" selected[which == list::OPT_OUT] { "Opt-out" }
            option value="dnc" selected[which == list::DNC] { "Company DNC (every channel)" } } }
        label class="field" { "Number (E.164)" input name="number" required placeholder="+14155550100"; }
        fieldset { legend { "Opt-out channels (none: all)" }
            @for c in CHANNELS { label { input type="checkbox" name={ "ch_" (c) } value="1"; " " (c) } " " } }
        label class="field" { "Expires at (RFC 3339, optional)" input name="expires_at" placeholder="2030-01-01T00:00:00Z"; }
        div { button type="submit" { "Add" } }
    }
    }
}

/// `POST /console/t/{slug}/suppression` (`list`, `number`, `ch_*`, `expires_at`).
async fn suppression_add(State(st): State<AppState>, Path(slug): Path<String>, f: Post) -> PageResult {
    let t = load_tenant(&st, &slug).await?;
    let which = if f.get("list") == list::DNC { list::DNC } else { list::OPT_OUT };
    let back = format!("/console/t/{slug}/suppression?list={which}");
    let number = match PhoneNumber::parse(f.get("number")) {
        Ok(n) => n,
        Err(e) => return Ok(see_other_error(&back, &format!("number: {e}"))),
    };
    let expires_at = match f.opt("expires_at") {
        None => None,
        Some(x) => match chrono::DateTime::parse_from_rfc3339(&x) {
            Ok(d) => Some(d.with_timezone(&chrono::Utc)),
            Err(_) => return Ok(see_other_error(&back, "expires_at: must be an RFC 3339 date-time")),
        },
    };
    let channels: Vec<String> = if which == list::DNC {
        Vec::new()
    } else {
        CHANNELS
            .iter()
            .filter(|c| f.opt(&format!("ch_{c}")).is_some())
            .map(|c| c.to_string())
            .collect()
    };
    let entry = NewEntry {
        list: which,
        list_name: "",
        number: &number,
        channels,
        source: "admin",
        expires_at,
    };
    match optlists::upsert(&st.db, t.id, entry, st.now(&t)).await {
        Ok(_) => Ok(see_other(&back, &format!("{} added.", number.e164))),
        Err(e) => Ok(see_other_error(&back, &e.to_string())),
    }
}

/// `POST /console/t/{slug}/suppression/{list}/{id}/delete`
async fn suppression_remove(
    State(st): State<AppState>,
    Path((slug, which, id)): Path<(String, String, String)>,
    _: Post,
) -> Result<Response, super::ConsoleError> {
    let t = load_tenant(&st, &slug).await?;
    let which = if which == list::DNC { list::DNC } else { list::OPT_OUT };
    let id = path_id(&id, "entry")?;
    optlists::remove(&st.db, t.id, which, id).await?;
    Ok(see_other(&format!("/console/t/{slug}/suppression?list={which}"), "Entry removed."))
}

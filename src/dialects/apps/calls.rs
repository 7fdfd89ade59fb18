//! `POST /apps/api/v1/calls` (outbound, incoming and scheduled calls) and the Manager
//! API's read side `GET /manager/api/v1/calls[/{id}]`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::auth::AppsAuth;
use super::error::AppsError;
use super::paging::{self, ListParams};
use super::render;
use super::wire::{self, int_id, json_object, present, text, MenuTree};
use crate::domain::directory::{self, Agent, Menu};
use crate::domain::interactions::{self, kind, Interaction, NewInteraction};
use crate::domain::listing::{ListFilter, SortColumn};
use crate::domain::phone::{self, PhoneNumber};
use crate::domain::{crm, optlists, TenantId};
use crate::state::AppState;

/// ISO 639-1 codes ("Language 'xy' is not found" for anything else).
const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// Whether `lang` is an ISO 639-1 code (optionally with a region: `pt-BR`, `zh_TW`).
pub fn known_language(lang: &str) -> bool {
    let base = lang.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    base.len() == 2 && ISO_639_1.split(' ').any(|c| c == base)
}

/// Whether a menu offers `lang` (exact, or the same base language).
pub fn menu_has_language(m: &Menu, lang: &str) -> bool {
    let base = |s: &str| s.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    m.languages.iter().any(|l| l.eq_ignore_ascii_case(lang) || base(l) == base(lang))
}

/// The three call kinds and their accepted `call_type` names (canonical first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Outbound,
    Inbound,
    Scheduled,
}

fn call_kind(s: &str) -> Option<(CallKind, &'static str)> {
    match s {
        "Voice Outbound (API)" | "OutboundCall" => Some((CallKind::Outbound, "Voice Outbound (API)")),
        "Voice Inbound (API)" | "IncomingCall" => Some((CallKind::Inbound, "Voice Inbound (API)")),
        "Voice Scheduled (API)" | "ScheduledCall" => Some((CallKind::Scheduled, "Voice Scheduled (API)")),
        _ => None,
    }
}

/// `recording_permission` as given → as the call object shows it.
fn recording_permission(m: &Map<String, Value>) -> Result<&'static str, AppsError> {
    match text(m, "recording_permission").as_deref() {
        None | Some("recording_permission_not_asked") | Some("not_asked") => Ok("not_asked"),
        Some("recording_permission_denied") | Some("denied") => Ok("denied"),
        Some("recording_permission_granted") | Some("granted") => Ok("granted"),
        Some(_) => Err(AppsError::bad_request("recording_permission is invalid")),
    }
}

/// What a CRM ticket resolves to.
struct Ticket {
    number: Option<PhoneNumber>,
    out_contact_id: Value,
}

/// The fields of CRM contact data that hold a ticket id (besides the `call_id` it was posted with).
const TICKET_PATHS: &[&str] = &["ticket_id", "contact.ticket_id", "contact.crm_id", "contact.account_no"];

/// Finds the CRM record of a ticket id (latest first).
async fn find_ticket(st: &AppState, tenant: TenantId, ticket: &str) -> Result<Option<Ticket>, AppsError> {
    let Some(crm::Record { seq, data }) = crm::find(&st.db, tenant, ticket, TICKET_PATHS).await? else {
        return Ok(None);
    };
    let contact = data.get("contact").cloned().unwrap_or(Value::Null);
    let keys = ["phone_number", "phone", "mobile", "end_user_number", "ani"];
    let number = keys
        .iter()
        .filter_map(|k| contact.get(*k).or_else(|| data.get(*k)))
        .filter_map(Value::as_str)
        .find_map(|s| PhoneNumber::parse(s).ok());
    let out_contact_id = contact
        .get("crm_id")
        .or_else(|| contact.get("account_no"))
        .cloned()
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        .unwrap_or_else(|| json!(seq.to_string()));
    Ok(Some(Ticket { number, out_contact_id }))
}

/// How the vendor shows a tenant number it chose itself (default outbound number): North
/// American numbers as `+1 339-219-5276` (the doc's call examples), others in E.164.
pub fn display_number(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(d) if d.len() == 10 && d.chars().all(|c| c.is_ascii_digit()) => {
            format!("+1 {}-{}-{}", &d[..3], &d[3..6], &d[6..])
        }
        _ => e164.to_string(),
    }
}

/// Resolves the outbound number: the given one among the tenant's voice numbers, else the
/// default; `Ok(None)` = several numbers and no default (the vendor's 202).
async fn outbound_number(st: &AppState, tenant: TenantId, given: Option<String>) -> Result<Option<(String, String)>, AppsError> {
    let numbers = directory::list_numbers(&st.db, tenant).await?;
    if let Some(g) = given {
        let p = PhoneNumber::parse(&g).map_err(|_| AppsError::bad_request("outbound_number is not well-formed"))?;
        return match numbers.iter().find(|n| n.number == p.e164 && n.voice) {
            Some(n) => Ok(Some((n.number.clone(), g))),
            None => Err(AppsError::bad_request("outbound_number is not found")),
        };
    }
    let voice: Vec<_> = numbers.iter().filter(|n| n.voice).collect();
    if let Some(d) = voice.iter().find(|n| n.default_outbound) {
        return Ok(Some((d.number.clone(), display_number(&d.number))));
    }
    match voice.len() {
        0 => Err(AppsError::bad_request("outbound_number is required")),
        1 => Ok(Some((voice[0].number.clone(), display_number(&voice[0].number)))),
        _ => Ok(None),
    }
}

/// The company DNC / opt-out check for calls.
async fn check_dnc(st: &AppState, auth: &AppsAuth, e164: &str) -> Result<(), AppsError> {
    if optlists::is_suppressed(&st.db, auth.tenant.id, e164, "voice", st.now(&auth.tenant)).await? {
        return Err(AppsError::bad_request("end_user_number is on the Do Not Call list"));
    }
    Ok(())
}

/// How long an outbound call stays `assigned` (the agent's leg being set up) before the
/// engine dials the end user (`connecting`).
pub const ASSIGNED_SECS: i64 = 2;

fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(json!({"message": "accepted"}))).into_response()
}

/// `POST /apps/api/v1/calls`.
pub async fn create(State(st): State<AppState>, auth: AppsAuth, body: Bytes) -> Result<Response, AppsError> {
    let m = json_object(&body)?;
    let Some((kind, call_type)) = text(&m, "call_type").as_deref().and_then(call_kind) else {
        return Err(AppsError::bad_request("Invalid call type"));
    };
    match kind {
        CallKind::Outbound => outbound(&st, &auth, &m, call_type).await,
        CallKind::Inbound | CallKind::Scheduled => inbound(&st, &auth, &m, kind, call_type).await,
    }
}

/// The agent of an outbound call (`agent_email`): active, allowed to call, available.
async fn calling_agent(st: &AppState, t: TenantId, m: &Map<String, Value>) -> Result<Agent, AppsError> {
    let email = text(m, "agent_email").ok_or_else(|| AppsError::bad_request("Agent email required"))?;
    let agent = directory::agent_by_email(&st.db, t, &email)
        .await?
        .ok_or_else(|| AppsError::bad_request("Not a valid agent email"))?;
    // A user deactivated through bulk user management ("status": "Inactive") is no agent.
    if agent.attrs.get("user_status").and_then(Value::as_str) == Some("Inactive") {
        return Err(AppsError::bad_request("Not a valid agent email"));
    }
    if !agent.can_call {
        return Err(AppsError::bad_request("Agent does not have access to make calls"));
    }
    if agent.status != "available" || !agent.logged_in || agent.on_call {
        return Err(AppsError::bad_request("Agent is not available to take this call"));
    }
    Ok(agent)
}

/// Whom an outbound call dials: the ticket's contact (then the end user is known, with
/// the ticket's contact id) or `end_user_number`.
async fn outbound_target(
    st: &AppState,
    t: TenantId,
    m: &Map<String, Value>,
    ticket_id: Option<&str>,
) -> Result<(PhoneNumber, bool, Value), AppsError> {
    let not_well_formed = || AppsError::bad_request("end_user_number is not well-formed");
    if let Some(tk) = ticket_id {
        let ticket = find_ticket(st, t, tk)
            .await?
            .ok_or_else(|| AppsError::bad_request("Contact not found"))?;
        let number = match (ticket.number, text(m, "end_user_number")) {
            (Some(n), _) => n,
            (None, Some(s)) => PhoneNumber::parse(&s).map_err(|_| not_well_formed())?,
            (None, None) => return Err(AppsError::bad_request("Contact not found")),
        };
        return Ok((number, true, ticket.out_contact_id));
    }
    match text(m, "end_user_number") {
        Some(s) if phone::is_emergency(&s) => Err(not_well_formed()),
        Some(s) => Ok((PhoneNumber::parse(&s).map_err(|_| not_well_formed())?, false, Value::Null)),
        None => Err(AppsError::bad_request("ticket_id or end_user_number required")),
    }
}

async fn outbound(st: &AppState, auth: &AppsAuth, m: &Map<String, Value>, call_type: &str) -> Result<Response, AppsError> {
    let t = auth.tenant.id;
    let agent = calling_agent(st, t, m).await?;
    let lang = text(m, "lang").unwrap_or_else(|| "en".into());
    let ticket_id = text(m, "ticket_id");
    // Tenant setting `apps_outbound_requires_ticket` (default false): outbound calls must
    // name a CRM ticket; without one the vendor answers 202 (the agent completes it in the widget).
    if ticket_id.is_none() && super::tenant::AppsSettings::of(&auth.tenant).apps_outbound_requires_ticket == Some(true) {
        // The doc's "Accepted: Agent must make an outbound call with ticket id".
        return Ok(accepted());
    }
    let (number, end_user, out_contact_id) = outbound_target(st, t, m, ticket_id.as_deref()).await?;
    check_dnc(st, auth, &number.e164).await?;
    let Some((out_e164, out_text)) = outbound_number(st, t, text(m, "outbound_number")).await? else {
        return Ok(accepted());
    };
    let now = st.now(&auth.tenant);
    let call = NewInteraction {
        kind: kind::CALL.into(),
        direction: "outbound".into(),
        status: "assigned".into(),
        agent_id: Some(agent.id),
        end_user_number: Some(number.e164.clone()),
        outbound_number: Some(out_e164),
        attrs: json!({
            "call_type": call_type,
            "lang": lang,
            "ticket_id": ticket_id,
            "assigned_at": now.to_rfc3339(),
            "recording_permission": "not_asked",
            "end_user_id": Value::Null,
            "out_contact_id": out_contact_id,
            "end_user_number_text": number.original,
            "outbound_number_text": out_text,
        }),
        ..Default::default()
    };
    // With a ticket the end user is known: the call gets its end-user id. The engine
    // places the call once the agent's leg is up ([`ASSIGNED_SECS`]).
    let start = now + chrono::Duration::seconds(ASSIGNED_SECS);
    let row = interactions::create_placed_call(&st.db, t, call, end_user, start, now).await?;
    let tree = MenuTree::new(Vec::new());
    Ok((StatusCode::CREATED, Json(render::call(&row, Some(&agent), None, &tree))).into_response())
}

/// The parent call of a scheduled call (`call_id`), if one is given.
async fn parent_call(st: &AppState, t: TenantId, m: &Map<String, Value>) -> Result<Option<Interaction>, AppsError> {
    if !present(m, "call_id") {
        return Ok(None);
    }
    let raw = m.get("call_id").cloned().unwrap_or(Value::Null);
    let id = int_id(&raw).ok_or_else(|| AppsError::bad_request("call_id is not well formed"))?;
    let call = interactions::get_by_seq(&st.db, t, kind::CALL, id).await?;
    call.map(Some)
        .ok_or_else(|| AppsError::bad_request(format!("call_id {id} is not found")))
}

/// The menu of an incoming or scheduled call: `menu_id`, else the parent call's; it must
/// be of a type the call kind accepts and in a state that takes calls.
async fn call_menu(
    st: &AppState,
    t: TenantId,
    m: &Map<String, Value>,
    parent: Option<&Interaction>,
    scheduled: bool,
) -> Result<Menu, AppsError> {
    let menu = if present(m, "menu_id") {
        let raw = m.get("menu_id").cloned().unwrap_or(Value::Null);
        let id = int_id(&raw).ok_or_else(|| AppsError::bad_request("menu_id is not well formed"))?;
        directory::menu_by_seq(&st.db, t, id)
            .await?
            .ok_or_else(|| AppsError::bad_request(format!("menu_id {id} is not found")))?
    } else if let Some(mid) = parent.and_then(|p| p.menu_id) {
        directory::get_menu(&st.db, t, mid).await?
    } else {
        return Err(AppsError::bad_request("menu_id is required"));
    };
    if scheduled {
        if !matches!(menu.menu_type.as_str(), "mobile_menu" | "web_menu") {
            return Err(AppsError::bad_request("Only mobile and web menu IDs are permitted"));
        }
    } else if !matches!(menu.menu_type.as_str(), "ivr_menu" | "web_menu") {
        return Err(AppsError::bad_request("Only IVR and web menu IDs are permitted"));
    }
    match menu.state.as_str() {
        "after_hours" => Err(AppsError::bad_request(
            "Menu is in 'after hours' state, can't accept incoming calls",
        )),
        "manual_redirection" => Err(AppsError::bad_request("Menu is in 'manual redirection' state, can't accept calls")),
        _ => Ok(menu),
    }
}

/// `lang` (default `en`): an ISO 639-1 code that the menu offers.
fn call_language(m: &Map<String, Value>, menu: &Menu) -> Result<String, AppsError> {
    let lang = text(m, "lang").unwrap_or_else(|| "en".into());
    if !known_language(&lang) {
        return Err(AppsError::bad_request(format!("Language '{lang}' is not found")));
    }
    if !menu_has_language(menu, &lang) {
        return Err(AppsError::bad_request(format!("Language '{lang}' is not available")));
    }
    Ok(lang)
}

/// The end user's number of an incoming call: the ticket's, else `end_user_number`.
fn incoming_number(ticket: Option<&Ticket>, m: &Map<String, Value>) -> Result<PhoneNumber, AppsError> {
    match (ticket.and_then(|tk| tk.number.clone()), text(m, "end_user_number")) {
        (Some(n), _) => Ok(n),
        (None, Some(s)) if phone::is_emergency(&s) => Err(AppsError::bad_request("end_user_number is not well formed")),
        (None, Some(s)) => PhoneNumber::parse(&s).map_err(|_| AppsError::bad_request("end_user_number is not well formed")),
        (None, None) => Err(AppsError::bad_request("end_user_number is required")),
    }
}

/// `scheduled_at` of a scheduled call: required, well formed, in the future.
fn scheduled_at(m: &Map<String, Value>, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppsError> {
    let s = text(m, "scheduled_at").ok_or_else(|| AppsError::bad_request("scheduled_at is required"))?;
    let at = wire::parse_time(&s).ok_or_else(|| AppsError::bad_request("scheduled_at is not well formed"))?;
    if at <= now {
        return Err(AppsError::bad_request("scheduled_at must be a future time"));
    }
    Ok(at)
}

/// The outbound number of an incoming call (E.164, as shown): the given one if it is one
/// of the tenant's voice numbers, else the default / first voice number (the doc: "used
/// if input is not passed in or invalid").
async fn incoming_outbound_number(st: &AppState, t: TenantId, m: &Map<String, Value>) -> Result<Option<(String, String)>, AppsError> {
    let numbers: Vec<_> = directory::list_numbers(&st.db, t).await?.into_iter().filter(|n| n.voice).collect();
    let given = text(m, "outbound_number").and_then(|s| PhoneNumber::parse(&s).ok().map(|p| (p.e164, s)));
    Ok(given.filter(|(e, _)| numbers.iter().any(|n| &n.number == e)).or_else(|| {
        numbers
            .iter()
            .find(|n| n.default_outbound)
            .or_else(|| numbers.first())
            .map(|n| (n.number.clone(), display_number(&n.number)))
    }))
}

async fn inbound(st: &AppState, auth: &AppsAuth, m: &Map<String, Value>, kind: CallKind, call_type: &str) -> Result<Response, AppsError> {
    let t = auth.tenant.id;
    let now = st.now(&auth.tenant);
    let scheduled = kind == CallKind::Scheduled;
    // Parent call (scheduled calls only): its menu stands in for a missing menu_id.
    let parent = if scheduled { parent_call(st, t, m).await? } else { None };
    let menu = call_menu(st, t, m, parent.as_ref(), scheduled).await?;
    let lang = call_language(m, &menu)?;
    let ticket_id = text(m, "ticket_id");
    let ticket = match &ticket_id {
        Some(tk) => find_ticket(st, t, tk).await?,
        None => None,
    };
    let number = incoming_number(ticket.as_ref(), m)?;
    let scheduled_at = if scheduled { Some(scheduled_at(m, now)?) } else { None };
    let permission = recording_permission(m)?;
    let asks = menu.attrs.get("call_recording").and_then(Value::as_str) == Some("ask_user");
    if scheduled {
        check_dnc(st, auth, &number.e164).await?;
    }
    let out = incoming_outbound_number(st, t, m).await?;
    let call = NewInteraction {
        kind: kind::CALL.into(),
        direction: if scheduled { "scheduled" } else { "inbound" }.into(),
        status: if scheduled { "scheduled" } else { "queued" }.into(),
        menu_id: Some(menu.id),
        end_user_number: Some(number.e164.clone()),
        outbound_number: out.as_ref().map(|o| o.0.clone()),
        scheduled_at,
        attrs: json!({
            "call_type": call_type,
            "lang": lang,
            "ticket_id": ticket_id,
            "queued_at": if scheduled { Value::Null } else { json!(now.to_rfc3339()) },
            "recording_permission": if asks { permission } else { "not_asked" },
            "recording_permission_requested": permission,
            "out_contact_id": ticket.map(|tk| tk.out_contact_id).unwrap_or(Value::Null),
            "parent_id": parent.as_ref().map(|p| p.seq),
            "end_user_number_text": number.original,
            "outbound_number_text": out.map(|o| o.1),
        }),
        ..Default::default()
    };
    // A scheduled call is placed by the engine at its time; an incoming one waits in its queue.
    let row = match scheduled_at {
        Some(at) => interactions::create_placed_call(&st.db, t, call, true, at, now).await?,
        None => interactions::create_for_end_user(&st.db, t, call, now).await?,
    };
    let tree = MenuTree::new(directory::list_menus(&st.db, t).await?);
    Ok((StatusCode::CREATED, Json(render::call(&row, None, Some(&menu), &tree))).into_response())
}

/// Renders stored calls with their agents and menus.
async fn render_calls(st: &AppState, t: TenantId, rows: &[interactions::Interaction]) -> Result<Vec<Value>, AppsError> {
    let agents: Vec<Agent> = directory::list_agents(&st.db, t).await?;
    let tree = MenuTree::new(directory::list_menus(&st.db, t).await?);
    Ok(rows
        .iter()
        .map(|r| {
            let agent = r.agent_id.and_then(|a| agents.iter().find(|x| x.id == a));
            let menu = r.menu_id.and_then(|mid| tree.by_id.get(&mid));
            render::call(r, agent, menu, &tree)
        })
        .collect())
}

/// `GET /manager/api/v1/calls`: pages of `per_page` (alias `per`; default 25, at most 100),
/// newest first (`id DESC`) unless `sort_column` (`id`, `created_at`, `updated_at`) and
/// `sort_direction` (`ASC`/`DESC`) say otherwise, windowed by `created_at[from]`/`[to]` and
/// `updated_at[from]`/`[to]` (see [`ListParams`]).
pub async fn list(
    State(st): State<AppState>,
    auth: AppsAuth,
    headers: HeaderMap,
    uri: Uri,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppsError> {
    let Query(q) = q.map_err(|_| AppsError::bad_request("each query parameter must be given once"))?;
    let page = q.paging().resolve(25, 100)?;
    let filter = q.filter(ListFilter::new(SortColumn::Id, true))?;
    let t = auth.tenant.id;
    let (total, rows) = interactions::list_filtered(&st.db, t, kind::CALL, &filter, page.per_page, page.offset()).await?;
    let body = render_calls(&st, t, &rows).await?;
    Ok((
        paging::headers_absolute(&super::wire::base_url(&headers), &uri, page, total),
        Json(Value::Array(body)),
    )
        .into_response())
}

/// `GET /manager/api/v1/calls/{id}`.
pub async fn show(State(st): State<AppState>, auth: AppsAuth, Path(id): Path<String>) -> Result<Response, AppsError> {
    let id = id.parse::<i64>().map_err(|_| AppsError::not_found())?;
    let row = interactions::get_by_seq(&st.db, auth.tenant.id, kind::CALL, id)
        .await?
        .ok_or_else(AppsError::not_found)?;
    let mut body = render_calls(&st, auth.tenant.id, std::slice::from_ref(&row)).await?;
    Ok(Json(body.pop().unwrap_or(Value::Null)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert!(known_language("en"));
        assert!(known_language("fr"));
        assert!(known_language("pt-BR"));
        assert!(!known_language("xy"));
        assert!(!known_language("english"));
    }

    #[test]
    fn displayed_numbers() {
        assert_eq!(display_number("+13392195276"), "+1 339-219-5276");
        assert_eq!(display_number("+821068612345"), "+821068612345");
    }
}

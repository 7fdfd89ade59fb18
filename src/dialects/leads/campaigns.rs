//! Campaigns and leads: reports, listing, paging, add, status, delete, voicemail disposition.

use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};
use uuid::Uuid;

use super::auth::LeadsAuth;
use super::error::{opt_int, opt_str, LeadsError, LeadsJson, LeadsPath, LeadsResult};
use super::{campaign_status, lead_status, parse_query, shared_lead_status, LEAD_STATUSES};
use crate::domain::campaign_contacts::{self, AddScreenedRequest, ContactPageRequest, SetStatusRequest};
use crate::domain::campaigns::Campaign;
use crate::domain::contacts::{Contact, NewContact};
use crate::domain::dispositions::{self, Disposition, DispositionRequest};
use crate::domain::phone::PhoneNumber;
use crate::domain::{hex_id, parse_hex_id, reports, DomainError};
use crate::state::AppState;

/// Leads are called: their suppression channel.
const VOICE: &str = "voice";

/// Largest and default lead page.
pub const MAX_PAGE: i64 = 1000;
pub const DEFAULT_PAGE: i64 = 100;

/// Parses a 32-hex (or any uuid form) id from a path, naming the parameter on failure.
pub fn parse_id(s: &str, what: &str) -> LeadsResult<Uuid> {
    parse_hex_id(s.trim()).ok_or_else(|| LeadsError::bad(format!("{what}: must be a 32-hex id")))
}

fn render_campaign(c: &Campaign, total: i64) -> Value {
    json!({
        "id": hex_id(c.id),
        "name": c.name,
        "status": campaign_status(&c.status),
        "created": c.created_at.timestamp(),
        "total_leads": total,
    })
}

/// The Leads wire shape of a lead.
pub fn render_lead(c: &Contact) -> Value {
    let mut v = json!({
        "created": c.created_at.timestamp(),
        "campaign_id": hex_id(c.campaign_id),
        "number": c.number,
        "status": lead_status(&c.status),
        "retries": c.max_retries,
        "first_name": c.first_name.clone().unwrap_or_default(),
        "last_name": c.last_name.clone().unwrap_or_default(),
        "priority": c.priority,
        "id": hex_id(c.id),
    });
    let extra = c.attrs.get("lead");
    if let Some(t) = extra.and_then(|e| e.get("type")).filter(|x| !x.is_null()) {
        v["type"] = t.clone();
    }
    if let Some(t) = &c.external_id {
        v["ticket_id"] = json!(t);
    }
    for k in ["note", "cool_off"] {
        if let Some(x) = extra.and_then(|e| e.get(k)).filter(|x| !x.is_null()) {
            v[k] = x.clone();
        }
    }
    v
}

/// `{"<status>": n}` over every Leads status, and the total, from shared-status counts.
fn leads_by_status(counts: &[(String, i64)]) -> (serde_json::Map<String, Value>, i64) {
    let mut by_status = serde_json::Map::new();
    for s in LEAD_STATUSES {
        by_status.insert(s.to_string(), json!(0));
    }
    let mut total = 0;
    for (s, n) in counts {
        total += n;
        let key = lead_status(s);
        let cur = by_status.get(key).and_then(Value::as_i64).unwrap_or(0);
        by_status.insert(key.to_string(), json!(cur + n));
    }
    (by_status, total)
}

/// `GET /api/v2/reports/campaigns/leads/status`.
pub async fn status_report(State(st): State<AppState>, auth: LeadsAuth) -> LeadsResult<Json<Value>> {
    let mut out = serde_json::Map::new();
    for s in reports::campaign_summaries(&st.db, auth.tid()).await? {
        let (by_status, total) = leads_by_status(&s.contact_counts);
        out.insert(
            hex_id(s.campaign.id),
            json!({
                "name": s.campaign.name,
                "status": campaign_status(&s.campaign.status),
                "total_leads": total,
                "leads_by_status": by_status,
            }),
        );
    }
    Ok(Json(Value::Object(out)))
}

/// `GET /api/v2/config/campaigns`.
pub async fn list_campaigns(State(st): State<AppState>, auth: LeadsAuth) -> LeadsResult<Json<Value>> {
    let list = reports::campaign_summaries(&st.db, auth.tid()).await?;
    Ok(Json(Value::Array(
        list.iter().map(|s| render_campaign(&s.campaign, s.total_contacts())).collect(),
    )))
}

/// `GET /api/v2/config/campaigns/{campaign_id}`.
pub async fn get_campaign(State(st): State<AppState>, auth: LeadsAuth, LeadsPath(id): LeadsPath<String>) -> LeadsResult<Json<Value>> {
    let id = parse_id(&id, "campaign_id")?;
    match reports::campaign_summary(&st.db, auth.tid(), id).await {
        Ok(s) => Ok(Json(render_campaign(&s.campaign, s.total_contacts()))),
        Err(DomainError::NotFound(_)) => Err(LeadsError::NotFound("campaign not found".into())),
        Err(e) => Err(e.into()),
    }
}

fn page_key(seq: i64) -> String {
    format!("{seq:032x}")
}

fn parse_page_key(s: &str) -> Option<i64> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok().and_then(|v| i64::try_from(v).ok())
}

/// Parses a page size parameter (`None` = default).
pub fn page_size(v: Option<&String>, name: &str) -> LeadsResult<i64> {
    match v.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_PAGE),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(LeadsError::bad(format!("{name}: must be an integer between 1 and {MAX_PAGE}"))),
        },
    }
}

/// `GET /api/v2/config/campaigns/{campaign_id}/leads?page_size=&next_start_key=`.
pub async fn list_leads(
    State(st): State<AppState>,
    auth: LeadsAuth,
    LeadsPath(id): LeadsPath<String>,
    RawQuery(q): RawQuery,
) -> LeadsResult<Json<Value>> {
    let id = parse_id(&id, "campaign_id")?;
    let q = parse_query(q.as_deref());
    let size = page_size(q.get("page_size"), "page_size")?;
    let after = match q.get("next_start_key").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => 0,
        Some(k) => parse_page_key(k).ok_or_else(|| LeadsError::bad("next_start_key: not a key this API returned"))?,
    };
    let page = campaign_contacts::page_in_order(
        &st.db,
        auth.tid(),
        ContactPageRequest {
            campaign: id,
            after_seq: after,
            limit: size,
        },
    )
    .await?;
    let mut out = json!({"data": page.contacts.iter().map(render_lead).collect::<Vec<_>>()});
    if page.more {
        if let Some(last) = page.contacts.last() {
            out["next_start_key"] = json!(page_key(last.seq));
        }
    }
    Ok(Json(out))
}

/// The 400 message for a number that is not a phone number (see the module doc on why the
/// doc's `+12131204` is refused): names the field, echoes the value and says what is expected.
pub fn number_error(raw: &str, reason: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let shown: String = raw.chars().take(40).collect();
    let why = if raw.trim_start().starts_with("+1") && digits.len() != 11 {
        format!(
            "+1 (North American) numbers have 10 digits after +1, this one has {}",
            digits.len().saturating_sub(1)
        )
    } else {
        reason.to_string()
    };
    format!("number: {shown:?} is not a valid phone number ({why}); expected E.164, e.g. +12135550123")
}

/// `PUT` (or `POST`) `/api/v2/config/campaigns/{campaign_id}/lead`.
pub async fn add_lead(
    State(st): State<AppState>,
    auth: LeadsAuth,
    LeadsPath(id): LeadsPath<String>,
    LeadsJson(b): LeadsJson,
) -> LeadsResult<Json<Value>> {
    let campaign = parse_id(&id, "campaign_id")?;
    let raw_number = opt_str(&b, "number")?.ok_or_else(|| LeadsError::bad("number: is required"))?;
    let number = PhoneNumber::parse(&raw_number).map_err(|e| LeadsError::bad(number_error(&raw_number, &e.to_string())))?;
    let retries = opt_int(&b, "retries", 0, 1000)?.unwrap_or(0);
    let priority = opt_int(&b, "priority", 0, i32::MAX as i64)?.unwrap_or(0);
    let cool_off = opt_int(&b, "cool_off", 0, i32::MAX as i64)?;
    let first_name = opt_str(&b, "first_name")?;
    let last_name = opt_str(&b, "last_name")?;
    let lead_type = opt_str(&b, "type")?;
    let ticket_id = opt_str(&b, "ticket_id")?;
    let note = opt_str(&b, "note")?;
    let name = match (&first_name, &last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.clone()),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    };
    let req = AddScreenedRequest {
        campaign,
        contact: NewContact {
            number: Some(number.e164),
            original_number: Some(number.original),
            name,
            first_name,
            last_name,
            external_id: ticket_id,
            priority: priority as i32,
            max_retries: retries as i32,
            attrs: json!({"lead": {"type": lead_type, "note": note, "cool_off": cool_off}}),
            ..Default::default()
        },
        channel: VOICE,
        now: auth.now,
    };
    let added = campaign_contacts::add_screened(&st.db, auth.tid(), req).await?;
    tracing::info!(tenant = %auth.tenant.slug, lead = %added.contact.id, suppressed = added.suppressed, "lead added");
    Ok(Json(render_lead(&added.contact)))
}

/// `POST /api/v2/config/campaigns/leads/{leadID}/status/{status}`.
pub async fn set_status(
    State(st): State<AppState>,
    auth: LeadsAuth,
    LeadsPath((lead, status)): LeadsPath<(String, String)>,
) -> LeadsResult<Json<Value>> {
    let lead = parse_id(&lead, "leadID")?;
    let shared =
        shared_lead_status(&status).ok_or_else(|| LeadsError::bad(format!("status: must be one of {}", LEAD_STATUSES.join(", "))))?;
    let req = SetStatusRequest {
        contact: lead,
        status: shared,
        now: auth.now,
    };
    let c = campaign_contacts::set_status(&st.db, auth.tid(), req).await?;
    Ok(Json(render_lead(&c)))
}

/// `DELETE /api/v2/config/campaigns/leads/{leadID}`.
pub async fn delete_lead(State(st): State<AppState>, auth: LeadsAuth, LeadsPath(lead): LeadsPath<String>) -> LeadsResult<Json<Value>> {
    let lead = parse_id(&lead, "leadID")?;
    let gone = campaign_contacts::delete_one(&st.db, auth.tid(), lead, auth.now).await?;
    Ok(Json(json!({"id": hex_id(gone.id), "deleted": true})))
}

/// `PUT /api/v2/config/campaigns/call/{cdrID}/disposition/voicemail`.
pub async fn voicemail(State(st): State<AppState>, auth: LeadsAuth, LeadsPath(cdr): LeadsPath<String>) -> LeadsResult<Json<Value>> {
    let cdr = parse_id(&cdr, "cdrID")?;
    let req = DispositionRequest {
        call: cdr,
        disposition: Disposition::Voicemail,
        now: auth.now,
    };
    let d = dispositions::record(&st.db, auth.tid(), req).await?;
    Ok(Json(json!({
        "id": hex_id(d.call),
        "disposition": "voicemail",
        "status": "voicemail",
        "direction": d.direction,
        "number": d.end_user_number,
        "created": d.created_at.timestamp(),
        "campaign_id": d.campaign_id.map(hex_id),
        "lead_id": d.contact_id.map(hex_id),
    })))
}

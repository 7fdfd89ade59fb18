//! Campaigns and leads: reports, listing, paging, add, status, delete, voicemail disposition.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

use super::auth::LeadsAuth;
use super::error::{opt_int, opt_str, LeadsError, LeadsJson, LeadsPath, LeadsResult};
use super::{campaign_status, lead_status, parse_query, shared_lead_status, LEAD_STATUSES};
use crate::domain::campaigns::{self, Campaign};
use crate::domain::contacts::{self, status as cst, Contact, NewContact};
use crate::domain::phone::PhoneNumber;
use crate::domain::{events, hex_id, optlists, parse_hex_id, DomainError, TenantId};
use crate::state::AppState;

/// Largest and default lead page.
pub const MAX_PAGE: i64 = 1000;
pub const DEFAULT_PAGE: i64 = 100;

/// Parses a 32-hex (or any uuid form) id from a path, naming the parameter on failure.
pub fn parse_id(s: &str, what: &str) -> LeadsResult<Uuid> {
    parse_hex_id(s.trim()).ok_or_else(|| LeadsError::bad(format!("{what}: must be a 32-hex id")))
}

/// Takes the campaign's contact-sequence lock in `conn`'s transaction: `exclusive` before
/// adding contacts, shared before reading a page ([`crate::domain::contacts::lock_campaign`],
/// the one lock every dialect that adds contacts takes).
pub async fn lock_campaign_leads(conn: &mut sqlx::PgConnection, campaign: Uuid, exclusive: bool) -> Result<(), sqlx::Error> {
    contacts::lock_campaign(conn, campaign, exclusive).await
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

async fn lead_counts(st: &AppState, t: TenantId) -> LeadsResult<HashMap<Uuid, Vec<(String, i64)>>> {
    let rows = sqlx::query("SELECT campaign_id, status, count(*) AS n FROM contacts WHERE tenant_id = $1 GROUP BY campaign_id, status")
        .bind(t.0)
        .fetch_all(&st.db)
        .await?;
    let mut out: HashMap<Uuid, Vec<(String, i64)>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get("campaign_id")?)
            .or_default()
            .push((r.try_get("status")?, r.try_get("n")?));
    }
    Ok(out)
}

/// `GET /api/v2/reports/campaigns/leads/status`.
pub async fn status_report(State(st): State<AppState>, auth: LeadsAuth) -> LeadsResult<Json<Value>> {
    let list = campaigns::list(&st.db, auth.tid()).await?;
    let counts = lead_counts(&st, auth.tid()).await?;
    let mut out = serde_json::Map::new();
    for c in &list {
        let mut by_status = serde_json::Map::new();
        for s in LEAD_STATUSES {
            by_status.insert(s.to_string(), json!(0));
        }
        let mut total = 0;
        for (s, n) in counts.get(&c.id).map(Vec::as_slice).unwrap_or(&[]) {
            total += n;
            let key = lead_status(s);
            let cur = by_status.get(key).and_then(Value::as_i64).unwrap_or(0);
            by_status.insert(key.to_string(), json!(cur + n));
        }
        out.insert(
            hex_id(c.id),
            json!({
                "name": c.name,
                "status": campaign_status(&c.status),
                "total_leads": total,
                "leads_by_status": by_status,
            }),
        );
    }
    Ok(Json(Value::Object(out)))
}

/// `GET /api/v2/config/campaigns`.
pub async fn list_campaigns(State(st): State<AppState>, auth: LeadsAuth) -> LeadsResult<Json<Value>> {
    let list = campaigns::list(&st.db, auth.tid()).await?;
    let counts = lead_counts(&st, auth.tid()).await?;
    let total = |id: &Uuid| counts.get(id).map(|v| v.iter().map(|(_, n)| n).sum()).unwrap_or(0);
    Ok(Json(Value::Array(list.iter().map(|c| render_campaign(c, total(&c.id))).collect())))
}

/// `GET /api/v2/config/campaigns/{campaign_id}`.
pub async fn get_campaign(State(st): State<AppState>, auth: LeadsAuth, LeadsPath(id): LeadsPath<String>) -> LeadsResult<Json<Value>> {
    let id = parse_id(&id, "campaign_id")?;
    let c = match campaigns::get(&st.db, auth.tid(), id).await {
        Ok(c) => c,
        Err(DomainError::NotFound(_)) => return Err(LeadsError::NotFound("campaign not found".into())),
        Err(e) => return Err(e.into()),
    };
    let total: i64 = campaigns::contact_counts(&st.db, auth.tid(), id)
        .await?
        .iter()
        .map(|(_, n)| n)
        .sum();
    Ok(Json(render_campaign(&c, total)))
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
    let mut tx = st.db.begin().await?;
    lock_campaign_leads(&mut tx, id, false).await?;
    // Other dialects add contacts without the lock above; each such insert holds a
    // FOR KEY SHARE lock on the campaign row (its foreign key) until it commits, which
    // FOR UPDATE waits for: no page is read while one of them is still in flight.
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(auth.tid().0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if found.is_none() {
        return Err(LeadsError::bad("campaign not found"));
    }
    let mut rows = contacts::page(&mut *tx, auth.tid(), id, after, size + 1).await?;
    tx.commit().await?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let mut out = json!({"data": rows.iter().map(render_lead).collect::<Vec<_>>()});
    if more {
        if let Some(last) = rows.last() {
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
    let t = auth.tid();
    let now = auth.now;

    let mut tx = st.db.begin().await?;
    lock_campaign_leads(&mut tx, campaign, true).await?;
    campaigns::get(&mut *tx, t, campaign).await?;
    let suppressed = optlists::is_suppressed(&mut *tx, t, &number.e164, "voice", now).await?;
    let name = match (&first_name, &last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.clone()),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    };
    let contact = contacts::insert(
        &mut *tx,
        t,
        campaign,
        NewContact {
            number: Some(number.e164.clone()),
            original_number: Some(number.original.clone()),
            name,
            first_name,
            last_name,
            external_id: ticket_id,
            status: Some(if suppressed { cst::DNC } else { cst::PENDING }.to_string()),
            priority: priority as i32,
            max_retries: retries as i32,
            attrs: json!({"lead": {"type": lead_type, "note": note, "cool_off": cool_off}}),
            ..Default::default()
        },
        now,
    )
    .await?;
    events::record(
        &mut *tx,
        t,
        "lead_created",
        Some(campaign),
        Some(contact.id),
        None,
        json!({"status": lead_status(&contact.status), "suppressed": suppressed}),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %auth.tenant.slug, lead = %contact.id, suppressed, "lead added");
    Ok(Json(render_lead(&contact)))
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
    let t = auth.tid();
    let mut tx = st.db.begin().await?;
    let prev: Option<(String, Uuid)> =
        sqlx::query_as("SELECT status, campaign_id FROM contacts WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
            .bind(t.0)
            .bind(lead)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((prev, campaign)) = prev else {
        return Err(LeadsError::bad("lead not found"));
    };
    sqlx::query(
        "UPDATE contacts SET status = $3, updated_at = $4,
                next_attempt_at = CASE WHEN $3 = 'pending' THEN NULL ELSE next_attempt_at END
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(t.0)
    .bind(lead)
    .bind(shared)
    .bind(auth.now)
    .execute(&mut *tx)
    .await?;
    events::record(
        &mut *tx,
        t,
        "lead_status_changed",
        Some(campaign),
        Some(lead),
        None,
        json!({"from": lead_status(&prev), "status": status}),
        auth.now,
    )
    .await?;
    tx.commit().await?;
    let c = contacts::get(&st.db, t, lead).await?;
    Ok(Json(render_lead(&c)))
}

/// `DELETE /api/v2/config/campaigns/leads/{leadID}`.
pub async fn delete_lead(State(st): State<AppState>, auth: LeadsAuth, LeadsPath(lead): LeadsPath<String>) -> LeadsResult<Json<Value>> {
    let lead = parse_id(&lead, "leadID")?;
    let t = auth.tid();
    let mut tx = st.db.begin().await?;
    let row = sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND id = $2 RETURNING campaign_id, number, first_name, last_name")
        .bind(t.0)
        .bind(lead)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return Err(LeadsError::bad("lead not found"));
    };
    let campaign: Uuid = row.try_get("campaign_id")?;
    let number: Option<String> = row.try_get("number")?;
    let first: Option<String> = row.try_get("first_name")?;
    let last: Option<String> = row.try_get("last_name")?;
    let lead_name = format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default())
        .trim()
        .to_string();
    events::record(
        &mut *tx,
        t,
        "lead_deleted",
        Some(campaign),
        None,
        None,
        json!({"lead_id": hex_id(lead), "lead_name": lead_name, "lead_number": number}),
        auth.now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({"id": hex_id(lead), "deleted": true})))
}

/// `PUT /api/v2/config/campaigns/call/{cdrID}/disposition/voicemail`.
pub async fn voicemail(State(st): State<AppState>, auth: LeadsAuth, LeadsPath(cdr): LeadsPath<String>) -> LeadsResult<Json<Value>> {
    let cdr = parse_id(&cdr, "cdrID")?;
    let t = auth.tid();
    let mut tx = st.db.begin().await?;
    let row = sqlx::query(
        "UPDATE interactions SET status = 'voicemail', updated_at = $3,
                attrs = attrs || jsonb_build_object('disposition', 'voicemail')
          WHERE tenant_id = $1 AND id = $2 AND kind = 'call'
          RETURNING campaign_id, contact_id, end_user_number, direction, created_at, ended_at",
    )
    .bind(t.0)
    .bind(cdr)
    .bind(auth.now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(LeadsError::bad("call not found"));
    };
    let campaign: Option<Uuid> = row.try_get("campaign_id")?;
    let contact: Option<Uuid> = row.try_get("contact_id")?;
    let number: Option<String> = row.try_get("end_user_number")?;
    let direction: String = row.try_get("direction")?;
    let created: chrono::DateTime<chrono::Utc> = row.try_get("created_at")?;
    let mut lead_updated = false;
    if let Some(c) = contact {
        lead_updated = sqlx::query("UPDATE contacts SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
            .bind(t.0)
            .bind(c)
            .bind(cst::VOICEMAIL)
            .bind(auth.now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
    }
    let campaign = match (campaign, contact, lead_updated) {
        (Some(c), _, _) => Some(c),
        (None, Some(c), true) => {
            sqlx::query_scalar("SELECT campaign_id FROM contacts WHERE tenant_id = $1 AND id = $2")
                .bind(t.0)
                .bind(c)
                .fetch_optional(&mut *tx)
                .await?
        }
        _ => None,
    };
    events::record(
        &mut *tx,
        t,
        "disposition",
        campaign,
        contact.filter(|_| lead_updated),
        Some(cdr),
        json!({"disposition": "voicemail"}),
        auth.now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({
        "id": hex_id(cdr),
        "disposition": "voicemail",
        "status": "voicemail",
        "direction": direction,
        "number": number,
        "created": created.timestamp(),
        "campaign_id": campaign.map(hex_id),
        "lead_id": contact.filter(|_| lead_updated).map(hex_id),
    })))
}

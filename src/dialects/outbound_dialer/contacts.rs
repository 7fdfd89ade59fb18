//! Contacts of a campaign: add (one or many), list, edit, delete.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

use super::wire::{self, ContactError};
use super::{body_of, campaign_of, path_of, query_of, tenant_numbers};
use crate::dialects::apps::auth::AppsAuth;
use crate::dialects::apps::error::AppsError;
use crate::dialects::apps::paging::{self, PageParams};
use crate::domain::campaigns::Campaign;
use crate::domain::contacts::{status as cst, Contact, COLS};
use crate::domain::phone::PhoneNumber;
use crate::domain::{contact_batches, optlists, DomainError, TenantId};
use crate::state::AppState;

/// Contacts listed without `page`/`per_page`, and the largest `per_page`.
pub const MAX_PER_PAGE: i64 = 1000;

fn echo_with(v: &Value, extra: &[(&str, Value)]) -> Value {
    let mut m = match v {
        Value::Object(m) => m.clone(),
        other => {
            let mut m = Map::new();
            m.insert("contact".into(), other.clone());
            m
        }
    };
    for (k, x) in extra {
        m.insert((*k).to_string(), x.clone());
    }
    Value::Object(m)
}

/// `POST …/campaigns/{campaign_id}/contacts`: one contact object or an array of them.
pub async fn add(
    State(st): State<AppState>,
    auth: AppsAuth,
    cid: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppsError> {
    let (cid, body) = (path_of(cid)?, body_of(body)?);
    let tenant = auth.tenant.id;
    let campaign = campaign_of(&st, tenant, &cid).await?;
    let body = wire::parse_lenient(&body).map_err(AppsError::bad_request)?;
    let items = match body {
        Value::Array(items) => items,
        v @ Value::Object(_) => vec![v],
        _ => return Err(AppsError::bad_request("Body must be a contact object or an array of contacts")),
    };
    let numbers = tenant_numbers(&st, tenant).await?;
    let now = st.now(&auth.tenant);
    let mut tx = st.db.begin().await.map_err(DomainError::from)?;
    contact_batches::lock_campaign(&mut tx, tenant, campaign.id).await?;
    let parsed: Vec<_> = items.iter().map(|v| wire::parse_contact(v, &numbers)).collect();
    let wanted: Vec<String> = parsed.iter().filter_map(|p| p.as_ref().ok().map(|p| p.e164.clone())).collect();
    let mut seen = contact_batches::existing_numbers(&mut *tx, tenant, campaign.id, &wanted).await?;
    let blocked = contact_batches::suppressed_numbers(&mut *tx, tenant, &wanted, "voice", now).await?;
    // One multi-row insert for the valid contacts; `accepted` remembers which posted item
    // each row is, and its status.
    let mut rows = Vec::new();
    let mut accepted: Vec<(&Value, &'static str)> = Vec::new();
    let mut invalid = Vec::new();
    for (item, p) in items.iter().zip(parsed) {
        match p {
            Err(errs) => invalid.push(echo_with(
                item,
                &[("errors", json!(errs.iter().map(|e| &e.message).collect::<Vec<_>>()))],
            )),
            Ok(p) => {
                if !seen.insert(p.e164.clone()) {
                    invalid.push(echo_with(item, &[("errors", json!([ContactError::duplicate().message]))]));
                    continue;
                }
                let mut c = p.contact;
                let status = if blocked.contains(&p.e164) { cst::DNC } else { cst::PENDING };
                c.status = Some(status.into());
                rows.push(c);
                accepted.push((item, status));
            }
        }
    }
    let ids = contact_batches::insert_many(&mut *tx, tenant, campaign.id, rows, now).await?;
    let valid: Vec<Value> = accepted
        .into_iter()
        .zip(ids)
        .map(|((item, status), (_, seq))| echo_with(item, &[("id", json!(seq)), ("status", json!(super::status::contact_state(status)))]))
        .collect();
    tx.commit().await.map_err(DomainError::from)?;
    Ok(Json(json!({"valid_contacts": valid, "invalid_contacts": invalid})).into_response())
}

/// `GET …/campaigns/{campaign_id}/contacts`: all (up to 1000) or a page.
pub async fn list(
    State(st): State<AppState>,
    auth: AppsAuth,
    cid: Result<Path<String>, PathRejection>,
    OriginalUri(uri): OriginalUri,
    pp: Result<Query<PageParams>, QueryRejection>,
) -> Result<Response, AppsError> {
    let (cid, pp) = (path_of(cid)?, query_of(pp)?);
    let tenant = auth.tenant.id;
    let campaign = campaign_of(&st, tenant, &cid).await?;
    let page = pp.resolve(MAX_PER_PAGE, MAX_PER_PAGE)?;
    let sql = format!("SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 ORDER BY seq LIMIT $3 OFFSET $4");
    let rows = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign.id)
        .bind(page.per_page)
        .bind(page.offset())
        .fetch_all(&st.db)
        .await
        .map_err(DomainError::from)?;
    let total: Option<i64> = if pp.given() || rows.len() as i64 == page.per_page {
        Some(
            sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = $2")
                .bind(tenant.0)
                .bind(campaign.id)
                .fetch_one(&st.db)
                .await
                .map_err(DomainError::from)?,
        )
    } else {
        None
    };
    let body: Vec<Value> = rows.iter().map(|c| wire::render_contact(c, campaign.seq)).collect();
    let headers = match total {
        Some(t) if pp.given() || t > MAX_PER_PAGE => paging::headers(&uri, page, t),
        _ => HeaderMap::new(),
    };
    Ok((headers, Json(body)).into_response())
}

/// Finds one contact of the campaign by the given keys (all given keys must match).
async fn find(db: &mut PgConnection, tenant: TenantId, campaign: &Campaign, body: &Value, lock: bool) -> Result<Contact, AppsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| AppsError::bad_request("Body must be a JSON object"))?;
    let id = match obj.get("contact_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| AppsError::bad_request("contact_id must be an integer"))?,
        ),
    };
    let text = |k: &str| -> Result<Option<String>, AppsError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(AppsError::bad_request(format!("{k} must be a string"))),
        }
    };
    let external = text("external_unique_id")?;
    let phone = match text("phone_number")? {
        None => None,
        Some(p) => Some(PhoneNumber::parse(&p).map_err(|_| AppsError::not_found())?.e164),
    };
    if id.is_none() && external.is_none() && phone.is_none() {
        return Err(AppsError::bad_request("contact_id, phone_number or external_unique_id is required"));
    }
    let sql = format!(
        "SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2
           AND ($3::bigint IS NULL OR seq = $3) AND ($4::text IS NULL OR external_id = $4) AND ($5::text IS NULL OR number = $5)
         ORDER BY {} LIMIT 1{}",
        "seq",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign.id)
        .bind(id)
        .bind(external)
        .bind(phone)
        .fetch_optional(&mut *db)
        .await
        .map_err(DomainError::from)?
        .ok_or_else(AppsError::not_found)
}

/// `PATCH …/campaigns/{campaign_id}/contact` {contact_id, fields to change…}.
pub async fn edit(
    State(st): State<AppState>,
    auth: AppsAuth,
    cid: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppsError> {
    let (cid, body) = (path_of(cid)?, body_of(body)?);
    let tenant = auth.tenant.id;
    let campaign = campaign_of(&st, tenant, &cid).await?;
    let body = wire::parse_lenient(&body).map_err(AppsError::bad_request)?;
    let obj = body
        .as_object()
        .ok_or_else(|| AppsError::bad_request("Body must be a JSON object"))?;
    if obj.get("contact_id").is_none_or(Value::is_null) {
        return Err(AppsError::bad_request("contact_id is required"));
    }
    let now = st.now(&auth.tenant);
    let numbers = tenant_numbers(&st, tenant).await?;
    let mut tx = st.db.begin().await.map_err(DomainError::from)?;
    contact_batches::lock_campaign(&mut tx, tenant, campaign.id).await?;
    let id_only = json!({"contact_id": obj["contact_id"]});
    let current = find(&mut tx, tenant, &campaign, &id_only, true).await?;
    // The contact as it would be posted, with the changes applied, validated as a whole.
    let mut merged = Map::new();
    merged.insert("name".into(), json!(current.name));
    merged.insert("email".into(), json!(current.email));
    merged.insert(
        "phone_number".into(),
        json!(current.original_number.as_ref().or(current.number.as_ref())),
    );
    merged.insert(
        "outbound_number".into(),
        current
            .attrs
            .get(wire::ATTR_OUTBOUND_TEXT)
            .cloned()
            .unwrap_or_else(|| json!(current.outbound_number)),
    );
    merged.insert("external_unique_id".into(), json!(current.external_id));
    merged.insert(
        "priority".into(),
        current.attrs.get(wire::ATTR_PRIORITY).cloned().unwrap_or(Value::Null),
    );
    if let Some(Value::Object(custom)) = current.attrs.get(wire::ATTR_CUSTOM) {
        for (k, v) in custom {
            merged.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("contact_id", _) => {}
            ("user_custom_metadata", Value::Object(meta)) => {
                for (mk, mv) in meta {
                    if !wire::REQUIRED_META.contains(&mk.as_str()) {
                        merged.insert(mk.clone(), mv.clone());
                    }
                }
            }
            _ => {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    let parsed = wire::parse_contact(&Value::Object(merged), &numbers)
        .map_err(|errs| AppsError::bad_request(errs.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(", ")))?;
    if current.number.as_deref() != Some(parsed.e164.as_str()) {
        let dup = contact_batches::has_number(&mut *tx, tenant, campaign.id, &parsed.e164, Some(current.id)).await?;
        if dup {
            return Err(AppsError::bad_request(ContactError::duplicate().message));
        }
    }
    let asked = match obj.get("status") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(super::status::shared_contact_status)
                .ok_or_else(|| AppsError::bad_request("Status is invalid"))?,
        ),
    };
    let suppressed = optlists::is_suppressed(&mut *tx, tenant, &parsed.e164, "voice", now).await?;
    // Suppression wins over "Upcoming"; a contact that was "Do Not Call" because of its
    // old number becomes "Upcoming" again, unless the client asked for "Do Not Call".
    let new_status = match (asked.unwrap_or(current.status.as_str()), suppressed) {
        (cst::PENDING, true) => cst::DNC,
        (cst::DNC, false) if asked.is_none() => cst::PENDING,
        (s, _) => s,
    };
    // keep attrs of other dialects, replace this dialect's keys
    let mut attrs = current.attrs.as_object().cloned().unwrap_or_default();
    attrs.remove(wire::ATTR_OUTBOUND_TEXT);
    attrs.remove(wire::ATTR_PRIORITY);
    let mut c = parsed.contact;
    if let Value::Object(mine) = std::mem::take(&mut c.attrs) {
        attrs.extend(mine);
    }
    let sql = format!(
        "UPDATE contacts SET number = $3, original_number = $4, email = $5, name = $6, external_id = $7, outbound_number = $8,
                priority = $9, attrs = $10, status = $11, updated_at = $12
          WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"
    );
    let row = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(current.id)
        .bind(&c.number)
        .bind(&c.original_number)
        .bind(&c.email)
        .bind(&c.name)
        .bind(&c.external_id)
        .bind(&c.outbound_number)
        .bind(c.priority)
        .bind(Value::Object(attrs))
        .bind(new_status)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    tx.commit().await.map_err(DomainError::from)?;
    Ok(Json(wire::render_contact(&row, campaign.seq)).into_response())
}

/// `DELETE …/campaigns/{campaign_id}/contact` {contact_id | phone_number | external_unique_id}.
pub async fn remove(
    State(st): State<AppState>,
    auth: AppsAuth,
    cid: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppsError> {
    let (cid, body) = (path_of(cid)?, body_of(body)?);
    let tenant = auth.tenant.id;
    let campaign = campaign_of(&st, tenant, &cid).await?;
    let body = wire::parse_lenient(&body).map_err(AppsError::bad_request)?;
    let mut tx = st.db.begin().await.map_err(DomainError::from)?;
    let c = find(&mut tx, tenant, &campaign, &body, true).await?;
    sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(c.id)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    tx.commit().await.map_err(DomainError::from)?;
    Ok(Json(wire::render_contact(&c, campaign.seq)).into_response())
}

/// The tenant's numbers as a set (used by validation).
pub fn number_set(rows: Vec<crate::domain::directory::TenantNumber>) -> HashSet<String> {
    rows.into_iter().map(|n| n.number).collect()
}

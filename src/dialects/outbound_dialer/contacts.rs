//! Contacts of a campaign: add (one or many), list, edit, delete.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::status::contact_state;
use super::wire::{self, ContactError};
use super::{body_of, campaign_of, path_of, query_of, tenant_numbers};
use crate::dialects::apps::auth::AppsAuth;
use crate::dialects::apps::error::AppsError;
use crate::dialects::apps::paging::{self, PageParams};
use crate::domain::contacts::{self, status as cst, AddOutcome, Contact, ContactEdit, ContactKey, UpdateOutcome};
use crate::domain::phone::PhoneNumber;
use crate::domain::{contact_pages, DomainError, DomainResult};
use crate::state::AppState;

/// The channel whose suppression list the dialer's contacts honour.
pub const CHANNEL: &str = "voice";

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
    let seq: i64 = cid.trim().parse().map_err(|_| AppsError::not_found())?;
    // the campaign and the tenant's numbers (kept in the read cache)
    let target = st.reads.add_target(&st.db, tenant, seq).await?;
    let campaign = super::sync_policy(&st, tenant, target.campaign.clone()).await?;
    let redials = super::Redial::of(&campaign).max_retries;
    let numbers = &target.numbers;
    let body = wire::parse_lenient(&body).map_err(AppsError::bad_request)?;
    let items = match body {
        Value::Array(items) => items,
        v @ Value::Object(_) => vec![v],
        _ => return Err(AppsError::bad_request("Body must be a contact object or an array of contacts")),
    };
    let parsed: Vec<_> = items.iter().map(|v| wire::parse_contact(v, numbers)).collect();
    let rows = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|p| p.contact.clone()))
        .map(|mut c| {
            c.max_retries = redials;
            c
        })
        .collect();
    let now = st.now(&auth.tenant);
    let mut outcomes = contacts::add_many_on(&st.lane, tenant, campaign.id, rows, CHANNEL, now)
        .await?
        .into_iter();
    let (mut valid, mut invalid) = (Vec::new(), Vec::new());
    for (item, p) in items.iter().zip(parsed) {
        let added = |seq: i64, status: &str| echo_with(item, &[("id", json!(seq)), ("status", json!(contact_state(status)))]);
        match p.map(|_| outcomes.next()) {
            Err(errs) => invalid.push(echo_with(
                item,
                &[("errors", json!(errs.iter().map(|e| &e.message).collect::<Vec<_>>()))],
            )),
            Ok(Some(AddOutcome::Added { seq, .. })) => valid.push(added(seq, cst::PENDING)),
            Ok(Some(AddOutcome::Suppressed { seq, .. })) => valid.push(added(seq, cst::DNC)),
            Ok(_) => invalid.push(echo_with(item, &[("errors", json!([ContactError::duplicate().message]))])),
        }
    }
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
    // page and count from one snapshot, the skip on the index alone (deep pages stay cheap)
    let (rows, total) = contact_pages::page_counted(&st.db, tenant, campaign.id, page.per_page, page.offset()).await?;
    let body: Vec<Value> = rows.iter().map(|c| wire::render_contact(c, campaign.seq)).collect();
    let headers = if pp.given() || total > MAX_PER_PAGE {
        paging::headers(&uri, page, total)
    } else {
        HeaderMap::new()
    };
    Ok((headers, Json(body)).into_response())
}

/// The contact a body names (every key given must match): `contact_id`, `phone_number`,
/// `external_unique_id`.
fn contact_key(body: &Value) -> Result<ContactKey, AppsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| AppsError::bad_request("Body must be a JSON object"))?;
    let seq = match obj.get("contact_id") {
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
    let external_id = text("external_unique_id")?;
    let number = match text("phone_number")? {
        None => None,
        Some(p) => Some(PhoneNumber::parse(&p).map_err(|_| AppsError::not_found())?.e164),
    };
    if seq.is_none() && external_id.is_none() && number.is_none() {
        return Err(AppsError::bad_request("contact_id, phone_number or external_unique_id is required"));
    }
    Ok(ContactKey { seq, external_id, number })
}

/// The contact `current` with the changes of a PATCH body applied, validated as a whole
/// as if it were posted (errors joined by ", "), and the vendor state asked for.
fn edited(current: &Contact, obj: &Map<String, Value>, numbers: &HashSet<String>) -> DomainResult<ContactEdit> {
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
        merged.extend(custom.clone());
    }
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("contact_id", _) => {}
            ("user_custom_metadata", Value::Object(meta)) => {
                merged.extend(
                    meta.iter()
                        .filter(|(mk, _)| !wire::REQUIRED_META.contains(&mk.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            _ => {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    let parsed = wire::parse_contact(&Value::Object(merged), numbers)
        .map_err(|errs| DomainError::validation("contact", errs.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(", ")))?;
    let status = match obj.get("status") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(super::status::shared_contact_status)
                .ok_or_else(|| DomainError::validation("status", "Status is invalid"))?,
        ),
    };
    // keep attrs of other dialects, replace this dialect's keys
    let mut attrs = current.attrs.as_object().cloned().unwrap_or_default();
    attrs.remove(wire::ATTR_OUTBOUND_TEXT);
    attrs.remove(wire::ATTR_PRIORITY);
    let mut contact = parsed.contact;
    if let Value::Object(mine) = std::mem::take(&mut contact.attrs) {
        attrs.extend(mine);
    }
    contact.attrs = Value::Object(attrs);
    Ok(ContactEdit { contact, status })
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
    let key = contact_key(&json!({"contact_id": obj["contact_id"]}))?;
    let change = |current: &Contact| edited(current, obj, &numbers);
    match contacts::update(&st.db, tenant, campaign.id, &key, CHANNEL, change, now).await? {
        UpdateOutcome::Updated(row) => Ok(Json(wire::render_contact(&row, campaign.seq)).into_response()),
        UpdateOutcome::DuplicateNumber => Err(AppsError::bad_request(ContactError::duplicate().message)),
    }
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
    let key = contact_key(&body)?;
    let c = contacts::delete(&st.db, tenant, campaign.id, &key).await?;
    Ok(Json(wire::render_contact(&c, campaign.seq)).into_response())
}

/// The tenant's numbers as a set (used by validation).
pub fn number_set(rows: Vec<crate::domain::directory::TenantNumber>) -> HashSet<String> {
    rows.into_iter().map(|n| n.number).collect()
}

//! Credits: `GET /campaignmanager/credits/search[/{creditSid}]` over the shared ledger.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::wire::{end_time_param, flat_page, fmt_time, ok, sort_param, time_param, Cm, CmError, CmResult, Paging, Query};
use crate::domain::credits::{self, LedgerFilter, LedgerRow};
use crate::domain::{parse_sid, sid, DomainError};
use crate::state::AppState;

const PATH: &str = "/campaignmanager/credits/search";

/// A text attribute this dialect stored on the ledger row's campaign (`attrs.cm`).
fn campaign_attr<'a>(r: &'a LedgerRow, name: &str) -> Option<&'a str> {
    r.campaign_attrs.as_ref()?.get("cm")?.get(name)?.as_str()
}

fn render(cm: &Cm, r: &LedgerRow) -> Value {
    let e = &r.entry;
    let mut m = Map::new();
    m.insert("sid".into(), json!(sid("ENC", e.id)));
    m.insert("dateUpdated".into(), json!(fmt_time(e.created_at)));
    m.insert("dateCreated".into(), json!(fmt_time(e.created_at)));
    m.insert("enterpriseSid".into(), json!(cm.enterprise_sid));
    // Ledger rows without a Campaign Manager campaign (operator credits) show the caller's account.
    m.insert(
        "accountSid".into(),
        json!(campaign_attr(r, "accountSid").unwrap_or(&cm.account_sid)),
    );
    m.insert(
        "accountEmail".into(),
        json!(campaign_attr(r, "accountEmail").unwrap_or(&cm.account_email)),
    );
    if !e.description.is_empty() {
        m.insert("description".into(), json!(e.description));
    }
    m.insert("credit".into(), json!(e.amount));
    Value::Object(m)
}

/// `GET /campaignmanager/credits/search`.
pub async fn search(State(st): State<AppState>, cm: Cm, q: Query) -> CmResult<Response> {
    let paging = Paging::from_query(&q)?;
    let from = time_param(&q, "startTime")?;
    let to = end_time_param(&q)?;
    let kind = match q.text("type").map(|t| t.to_ascii_lowercase()) {
        None => None,
        Some(t) if t == "credit" || t == "debit" => Some(t),
        Some(t) => return Err(CmError::bad_request(format!("type '{t}' must be credit or debit"))),
    };
    let sort = sort_param(&q, &["dateCreated"])?;
    let filter = LedgerFilter {
        from,
        to,
        kind,
        newest_first: matches!(sort, Some((_, true))),
        offset: paging.offset(),
        limit: paging.size,
    };
    let (total, rows) = credits::search(&st.db, cm.tenant.id, &filter).await?;
    let data = rows.iter().map(|r| render(&cm, r)).collect();
    Ok(flat_page(PATH, &q, paging, total, data))
}

/// `GET /campaignmanager/credits/search/{creditSid}`.
pub async fn get_one(State(st): State<AppState>, cm: Cm, Path(credit_sid): Path<String>) -> CmResult<Response> {
    let not_found = || CmError::vendor(472, "Credit not found", json!({"sid": credit_sid}));
    let id = parse_sid("ENC", credit_sid.trim()).ok_or_else(not_found)?;
    let r = credits::get_row(&st.db, cm.tenant.id, id).await.map_err(|e| match e {
        DomainError::NotFound(_) => not_found(),
        other => other.into(),
    })?;
    Ok(ok(render(&cm, &r)))
}

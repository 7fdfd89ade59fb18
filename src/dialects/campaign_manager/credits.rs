//! Credits: `GET /campaignmanager/credits/search[/{creditSid}]` over the shared ledger.

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::wire::{end_time_param, flat_page, fmt_time, ok, sort_param, time_param, Cm, CmError, CmResult, Paging, Query};
use crate::domain::{parse_sid, sid};
use crate::state::AppState;

const PATH: &str = "/campaignmanager/credits/search";

struct Row_ {
    id: Uuid,
    amount: i64,
    description: String,
    created_at: DateTime<Utc>,
    account_sid: Option<String>,
    account_email: Option<String>,
}

fn render(cm: &Cm, r: &Row_) -> Value {
    let mut m = Map::new();
    m.insert("sid".into(), json!(sid("ENC", r.id)));
    m.insert("dateUpdated".into(), json!(fmt_time(r.created_at)));
    m.insert("dateCreated".into(), json!(fmt_time(r.created_at)));
    m.insert("enterpriseSid".into(), json!(cm.enterprise_sid));
    // Ledger rows without a campaign (operator credits) show the tenant's account.
    m.insert("accountSid".into(), json!(r.account_sid.as_deref().unwrap_or(&cm.account_sid)));
    m.insert(
        "accountEmail".into(),
        json!(r.account_email.as_deref().unwrap_or(&cm.account_email)),
    );
    if !r.description.is_empty() {
        m.insert("description".into(), json!(r.description));
    }
    m.insert("credit".into(), json!(r.amount));
    Value::Object(m)
}

fn from_row(r: &sqlx::postgres::PgRow) -> Result<Row_, sqlx::Error> {
    Ok(Row_ {
        id: r.try_get("id")?,
        amount: r.try_get("amount")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        account_sid: r.try_get("account_sid")?,
        account_email: r.try_get("account_email")?,
    })
}

const SELECT: &str = "SELECT l.id, l.amount, l.description, l.created_at, c.attrs->'cm'->>'accountSid' AS account_sid,
       c.attrs->'cm'->>'accountEmail' AS account_email
  FROM credit_ledger l LEFT JOIN campaigns c ON c.id = l.campaign_id AND c.tenant_id = l.tenant_id
 WHERE l.tenant_id = ";

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
    let filters = |b: &mut QueryBuilder<sqlx::Postgres>| {
        b.push_bind(cm.tenant.id.0);
        if let Some(f) = from {
            b.push(" AND l.created_at >= ").push_bind(f);
        }
        if let Some(t) = to {
            b.push(" AND l.created_at <= ").push_bind(t);
        }
        if let Some(k) = &kind {
            b.push(" AND l.kind = ").push_bind(k.clone());
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM credit_ledger l WHERE l.tenant_id = ");
    filters(&mut count);
    let total: i64 = count
        .build_query_scalar()
        .fetch_one(&st.db)
        .await
        .map_err(crate::domain::DomainError::from)?;
    let mut b = QueryBuilder::new(SELECT);
    filters(&mut b);
    let dir = match sort {
        Some((_, true)) => "DESC",
        _ => "ASC",
    };
    b.push(format!(" ORDER BY l.created_at {dir}, l.seq {dir} LIMIT "))
        .push_bind(paging.size)
        .push(" OFFSET ")
        .push_bind(paging.offset());
    let rows = b.build().fetch_all(&st.db).await.map_err(crate::domain::DomainError::from)?;
    let data = rows
        .iter()
        .map(|r| from_row(r).map(|x| render(&cm, &x)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(crate::domain::DomainError::from)?;
    Ok(flat_page(PATH, &q, paging, total, data))
}

/// `GET /campaignmanager/credits/search/{creditSid}`.
pub async fn get_one(State(st): State<AppState>, cm: Cm, Path(credit_sid): Path<String>) -> CmResult<Response> {
    let not_found = || CmError::vendor(472, "Credit not found", json!({"sid": credit_sid}));
    let id = parse_sid("ENC", credit_sid.trim()).ok_or_else(not_found)?;
    let mut b = QueryBuilder::new(SELECT);
    b.push_bind(cm.tenant.id.0).push(" AND l.id = ").push_bind(id);
    let row = b
        .build()
        .fetch_optional(&st.db)
        .await
        .map_err(crate::domain::DomainError::from)?
        .ok_or_else(not_found)?;
    let r = from_row(&row).map_err(crate::domain::DomainError::from)?;
    Ok(ok(render(&cm, &r)))
}

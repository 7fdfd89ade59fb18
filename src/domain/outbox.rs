//! Outbox: what the simulated carrier delivered (SMS, calls, e-mails).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{DomainResult, TenantId};

/// One delivery.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub interaction_id: Option<Uuid>,
    pub channel: String,
    pub to_address: String,
    pub from_address: Option<String>,
    pub body: Option<String>,
    pub status: String,
    pub attrs: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Columns of [`Delivery`].
pub const COLS: &str =
    "id, seq, tenant_id, campaign_id, contact_id, interaction_id, channel, to_address, from_address, body, status, attrs, created_at";

/// What to record.
#[derive(Debug, Clone, Default)]
pub struct NewDelivery {
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub interaction_id: Option<Uuid>,
    pub channel: String,
    pub to_address: String,
    pub from_address: Option<String>,
    pub body: Option<String>,
    pub status: String,
    pub attrs: serde_json::Value,
}

/// Records a delivery.
pub async fn record<'e>(db: impl PgExecutor<'e>, tenant: TenantId, d: NewDelivery, now: DateTime<Utc>) -> DomainResult<Delivery> {
    let sql = format!(
        "INSERT INTO deliveries (id, tenant_id, campaign_id, contact_id, interaction_id, channel, to_address, from_address, body, status, attrs, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLS}"
    );
    let attrs = if d.attrs.is_null() { serde_json::json!({}) } else { d.attrs };
    let status = if d.status.is_empty() { "sent".to_string() } else { d.status };
    let row = sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::new_v4())
        .bind(tenant.0)
        .bind(d.campaign_id)
        .bind(d.contact_id)
        .bind(d.interaction_id)
        .bind(&d.channel)
        .bind(&d.to_address)
        .bind(&d.from_address)
        .bind(&d.body)
        .bind(status)
        .bind(attrs)
        .bind(now)
        .fetch_one(db)
        .await?;
    RECORDED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(row)
}

/// The tenant's deliveries in order.
pub async fn list<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<Delivery>> {
    let sql = format!("SELECT {COLS} FROM deliveries WHERE tenant_id = $1 ORDER BY seq");
    Ok(sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .fetch_all(db)
        .await?)
}

/// Rows this process wrote to the outbox (a row of a transaction that was rolled back
/// included), read by the metrics.
static RECORDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many rows [`record`] wrote in this process.
pub fn recorded_total() -> u64 {
    RECORDED.load(std::sync::atomic::Ordering::Relaxed)
}

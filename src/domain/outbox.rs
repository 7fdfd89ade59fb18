//! Outbox: what the carrier delivered (SMS, calls, e-mails): one row per attempt of the
//! engine (see `attempts`), plus rows the dialects record directly.

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

/// Counts `n` rows written to the outbox by a batch statement (the engine's).
pub fn note_recorded(n: u64) {
    RECORDED.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------
// The outbox as the operator sees it: every row with its attempt, filtered and paged.

/// One outbox row with its attempt's number, outcome, sink and timestamps.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct OutboxRow {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub interaction_id: Option<Uuid>,
    pub attempt_id: Option<Uuid>,
    pub channel: String,
    pub to_address: String,
    pub from_address: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub status: String,
    /// The attempt number (1 = first attempt).
    pub n: Option<i32>,
    pub attempt: Option<i32>,
    pub outcome: Option<String>,
    pub sink: Option<String>,
    pub attrs: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

/// Which outbox rows, newest first: `before_seq` is the paging cursor (rows older than it).
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub channel: Option<String>,
    pub campaign: Option<Uuid>,
    pub to: Option<String>,
    pub status: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// A page of the tenant's outbox, newest first.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn search<'e>(db: impl PgExecutor<'e>, tenant: TenantId, f: &OutboxFilter) -> DomainResult<Vec<OutboxRow>> {
    Ok(sqlx::query_as::<_, OutboxRow>(
        "SELECT d.id, d.seq, d.tenant_id, d.campaign_id, d.contact_id, d.interaction_id, d.attempt_id, d.channel, d.to_address,
                d.from_address, d.subject, d.body, d.status, d.n, d.n AS attempt, d.outcome, d.sink, d.attrs, d.created_at,
                d.updated_at, d.ended_at, a.answered_at, a.duration_ms
           FROM deliveries d LEFT JOIN attempts a ON a.tenant_id = d.tenant_id AND a.id = d.attempt_id
          WHERE d.tenant_id = $1
            AND ($2::text IS NULL OR d.channel = $2) AND ($3::uuid IS NULL OR d.campaign_id = $3)
            AND ($4::text IS NULL OR d.to_address = $4) AND ($5::text IS NULL OR d.status = $5)
            AND ($6::timestamptz IS NULL OR d.created_at >= $6) AND ($7::bigint IS NULL OR d.seq < $7)
          ORDER BY d.seq DESC LIMIT $8",
    )
    .bind(tenant.0)
    .bind(&f.channel)
    .bind(f.campaign)
    .bind(&f.to)
    .bind(&f.status)
    .bind(f.since)
    .bind(f.before_seq)
    .bind(f.limit)
    .fetch_all(db)
    .await?)
}

/// Empties the tenant's outbox; returns how many rows went.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn clear<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<u64> {
    Ok(sqlx::query("DELETE FROM deliveries WHERE tenant_id = $1")
        .bind(tenant.0)
        .execute(db)
        .await?
        .rows_affected())
}

//! Campaigns: one table for every dialect.
//!
//! Lifecycle: `draft → scheduled → running ⇄ paused → completed | failed | cancelled`.
//! The engine moves `scheduled` campaigns to `running` when their start time passes on
//! the tenant's clock, and `running` ones to `completed` when no contact is left pending.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// Campaign statuses.
pub mod status {
    pub const DRAFT: &str = "draft";
    pub const SCHEDULED: &str = "scheduled";
    pub const RUNNING: &str = "running";
    pub const PAUSED: &str = "paused";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
    /// Every status, in lifecycle order.
    pub const ALL: &[&str] = &[DRAFT, SCHEDULED, RUNNING, PAUSED, COMPLETED, FAILED, CANCELLED];
}

/// Campaign kinds (which vendor concept made it; every dialect sees every campaign).
pub mod kind {
    pub const OUTBOUND_DIALER: &str = "outbound_dialer";
    pub const LEADS: &str = "leads";
    pub const SMS: &str = "sms";
    pub const VOICE: &str = "voice";
    pub const ONC: &str = "onc";
    pub const ALL: &[&str] = &[OUTBOUND_DIALER, LEADS, SMS, VOICE, ONC];
}

/// A campaign row.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Campaign {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub channel: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub attrs: serde_json::Value,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Campaign`], for dialect queries.
pub const COLS: &str = "id, seq, tenant_id, name, kind, status, channel, starts_at, ends_at, attrs, deleted_at, created_at, updated_at";

/// Fields of a new campaign.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct NewCampaign {
    /// Client-chosen id (ONC); a new one when None.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub attrs: Option<serde_json::Value>,
}

/// Creates a campaign; `now` is the tenant's clock.
pub async fn create<'e>(db: impl PgExecutor<'e>, tenant: TenantId, c: NewCampaign, now: DateTime<Utc>) -> DomainResult<Campaign> {
    if c.name.trim().is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    if !kind::ALL.contains(&c.kind.as_str()) {
        return Err(DomainError::validation("kind", format!("must be one of {}", kind::ALL.join(", "))));
    }
    let st = c.status.unwrap_or_else(|| status::DRAFT.into());
    if !status::ALL.contains(&st.as_str()) {
        return Err(DomainError::validation(
            "status",
            format!("must be one of {}", status::ALL.join(", ")),
        ));
    }
    let sql = format!(
        "INSERT INTO campaigns (id, tenant_id, name, kind, status, channel, starts_at, ends_at, attrs, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (id) DO NOTHING RETURNING {COLS}"
    );
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(c.id.unwrap_or_else(Uuid::new_v4))
        .bind(tenant.0)
        .bind(c.name.trim())
        .bind(&c.kind)
        .bind(&st)
        .bind(&c.channel)
        .bind(c.starts_at)
        .bind(c.ends_at)
        .bind(c.attrs.unwrap_or_else(|| serde_json::json!({})))
        .bind(now)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| DomainError::Conflict("a campaign with this id already exists".into()))
}

/// One campaign of the tenant (deleted ones are not found).
pub async fn get<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Campaign> {
    let sql = format!("SELECT {COLS} FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL");
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("campaign"))
}

/// One campaign by its integer id.
pub async fn get_by_seq<'e>(db: impl PgExecutor<'e>, tenant: TenantId, seq: i64) -> DomainResult<Campaign> {
    let sql = format!("SELECT {COLS} FROM campaigns WHERE tenant_id = $1 AND seq = $2 AND deleted_at IS NULL");
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(seq)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("campaign"))
}

/// The tenant's campaigns (not deleted) in creation order.
pub async fn list<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<Campaign>> {
    let sql = format!("SELECT {COLS} FROM campaigns WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY seq");
    Ok(sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .fetch_all(db)
        .await?)
}

/// Sets a campaign's status.
pub async fn set_status<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid, st: &str, now: DateTime<Utc>) -> DomainResult<Campaign> {
    let sql = format!(
        "UPDATE campaigns SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {COLS}"
    );
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(st)
        .bind(now)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("campaign"))
}

/// Counts of the campaign's contacts by shared contact status.
pub async fn contact_counts<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as::<_, (String, i64)>(
        "SELECT status, count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 GROUP BY status ORDER BY status",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_all(db)
    .await?)
}

//! Events: the timeline of what happened to campaigns, contacts and interactions.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{DomainResult, TenantId};

/// One event.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Event {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub kind: String,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub interaction_id: Option<Uuid>,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Columns of [`Event`].
pub const COLS: &str = "id, seq, tenant_id, kind, campaign_id, contact_id, interaction_id, data, created_at";

/// Records an event (`kind` e.g. "dial_attempt", "status_change", "disposition").
#[allow(clippy::too_many_arguments)]
pub async fn record<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    kind: &str,
    campaign: Option<Uuid>,
    contact: Option<Uuid>,
    interaction: Option<Uuid>,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> DomainResult<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO events (id, tenant_id, kind, campaign_id, contact_id, interaction_id, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(tenant.0)
    .bind(kind)
    .bind(campaign)
    .bind(contact)
    .bind(interaction)
    .bind(data)
    .bind(now)
    .execute(db)
    .await?;
    Ok(id)
}

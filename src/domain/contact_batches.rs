//! Helpers of contacts in bulk: the planner statistics that imports refresh as a campaign
//! grows, and whether a campaign already has a number (a dialer contact's number change).
//! Adding contacts, one or many, is `contacts::add_many` / `contacts::import_batch`.

use sqlx::PgExecutor;
use uuid::Uuid;

use super::{DomainResult, TenantId};

/// Refreshes the planner's statistics of `contacts` (bulk imports call it as the table
/// grows; without it a fresh campaign's duplicate checks may be planned as scans). Errors
/// (e.g. a role that may not ANALYZE) are logged and ignored.
pub async fn refresh_statistics(db: &sqlx::PgPool) {
    if let Err(e) = sqlx::query("ANALYZE contacts").execute(db).await {
        tracing::debug!(error = %e, "ANALYZE contacts failed");
    }
}

/// Whether the campaign has `number` on a contact other than `except` (an outbound dialer
/// campaign: its contacts hold their number in `unique_number`, indexed).
pub async fn has_number<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    campaign: Uuid,
    number: &str,
    except: Option<Uuid>,
) -> DomainResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM contacts c
                         WHERE c.tenant_id = $1 AND c.campaign_id = $2 AND c.unique_number = $3 AND ($4::uuid IS NULL OR c.id <> $4))",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(number)
    .bind(except)
    .fetch_one(db)
    .await?)
}

//! Credits: a ledger per tenant; the balance is the sum of its rows.
//!
//! Debits lock the tenant row (`FOR UPDATE`) inside the caller's transaction before reading
//! the balance, so two concurrent debits can never spend the same credits.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// A ledger row.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct CreditEntry {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub amount: i64,
    pub kind: String,
    pub description: String,
    pub campaign_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Columns of [`CreditEntry`].
pub const COLS: &str = "id, seq, tenant_id, amount, kind, description, campaign_id, created_at";

/// The tenant's balance.
pub async fn balance<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COALESCE(sum(amount), 0)::bigint FROM credit_ledger WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(db)
            .await?,
    )
}

/// Adds a row: positive amounts are credits, negative ones debits (no balance check; see [`debit`]).
pub async fn add<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    amount: i64,
    description: &str,
    campaign: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<CreditEntry> {
    let kind = if amount < 0 { "debit" } else { "credit" };
    let sql = format!(
        "INSERT INTO credit_ledger (id, tenant_id, amount, kind, description, campaign_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLS}"
    );
    Ok(sqlx::query_as::<_, CreditEntry>(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::new_v4())
        .bind(tenant.0)
        .bind(amount)
        .bind(kind)
        .bind(description)
        .bind(campaign)
        .bind(now)
        .fetch_one(db)
        .await?)
}

/// Spends `amount` (> 0) if the balance allows it, inside the caller's transaction.
/// Fails with [`DomainError::InsufficientCredits`] and writes nothing otherwise.
pub async fn debit(
    tx: &mut PgConnection,
    tenant: TenantId,
    amount: i64,
    description: &str,
    campaign: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<CreditEntry> {
    if amount < 0 {
        return Err(DomainError::validation("amount", "must not be negative"));
    }
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant.0)
        .execute(&mut *tx)
        .await?;
    let available = balance(&mut *tx, tenant).await?;
    if available < amount {
        return Err(DomainError::InsufficientCredits { needed: amount, available });
    }
    add(&mut *tx, tenant, -amount, description, campaign, now).await
}

/// The tenant's ledger rows, oldest first.
pub async fn list<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<CreditEntry>> {
    let sql = format!("SELECT {COLS} FROM credit_ledger WHERE tenant_id = $1 ORDER BY seq");
    Ok(sqlx::query_as::<_, CreditEntry>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .fetch_all(db)
        .await?)
}

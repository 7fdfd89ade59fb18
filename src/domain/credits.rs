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
    Ok(sqlx::query_scalar::<_, i64>(
        // Clamped, so a ledger written before the bounds of [`adjust`] still reads.
        "SELECT LEAST(GREATEST(COALESCE(sum(amount), 0), -9223372036854775808), 9223372036854775807)::bigint
               FROM credit_ledger WHERE tenant_id = $1",
    )
    .bind(tenant.0)
    .fetch_one(db)
    .await?)
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

/// Locks the tenant's ledger (the tenant row, `FOR UPDATE`) until the end of `tx`, as
/// [`debit`] does. A use-case that inserts rows referring to the tenant before debiting
/// takes it first: their foreign keys would otherwise take a KEY SHARE lock on the tenant
/// row, and two concurrent use-cases would deadlock upgrading it.
pub async fn lock_ledger(tx: &mut PgConnection, tenant: TenantId) -> DomainResult<()> {
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant.0)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// What a campaign spent net (debits minus refunds), inside the caller's transaction.
pub async fn campaign_net_spent(tx: &mut PgConnection, tenant: TenantId, campaign: Uuid) -> DomainResult<i64> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COALESCE(-sum(amount), 0)::bigint FROM credit_ledger WHERE tenant_id = $1 AND campaign_id = $2",
    )
    .bind(tenant.0)
    .bind(campaign)
    .fetch_one(&mut *tx)
    .await?)
}

/// A ledger row with the attributes of the campaign it belongs to (if any), so a
/// dialect can show who made the campaign.
#[derive(Debug, Clone, FromRow)]
pub struct LedgerRow {
    #[sqlx(flatten)]
    pub entry: CreditEntry,
    pub campaign_attrs: Option<serde_json::Value>,
}

/// Filters and page of [`search`].
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub to: Option<DateTime<Utc>>,
    /// `credit` or `debit`.
    pub kind: Option<String>,
    pub newest_first: bool,
    pub offset: i64,
    pub limit: i64,
}

const LEDGER_ROW: &str = "SELECT l.id, l.seq, l.tenant_id, l.amount, l.kind, l.description, l.campaign_id, l.created_at,
       c.attrs AS campaign_attrs
  FROM credit_ledger l LEFT JOIN campaigns c ON c.id = l.campaign_id AND c.tenant_id = l.tenant_id
 WHERE l.tenant_id = ";

/// A page of the tenant's ledger and the number of rows matching the filter.
pub async fn search(db: &sqlx::PgPool, tenant: TenantId, f: &LedgerFilter) -> DomainResult<(i64, Vec<LedgerRow>)> {
    let filters = |b: &mut sqlx::QueryBuilder<sqlx::Postgres>| {
        b.push_bind(tenant.0);
        if let Some(from) = f.from {
            b.push(" AND l.created_at >= ").push_bind(from);
        }
        if let Some(to) = f.to {
            b.push(" AND l.created_at <= ").push_bind(to);
        }
        if let Some(k) = &f.kind {
            b.push(" AND l.kind = ").push_bind(k.clone());
        }
    };
    let mut count = sqlx::QueryBuilder::new("SELECT count(*) FROM credit_ledger l WHERE l.tenant_id = ");
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(db).await?;
    let mut b = sqlx::QueryBuilder::new(LEDGER_ROW);
    filters(&mut b);
    let dir = if f.newest_first { "DESC" } else { "ASC" };
    b.push(format!(" ORDER BY l.created_at {dir}, l.seq {dir} LIMIT "))
        .push_bind(f.limit)
        .push(" OFFSET ")
        .push_bind(f.offset);
    let rows = b.build_query_as::<LedgerRow>().fetch_all(db).await?;
    Ok((total, rows))
}

/// One ledger row of the tenant with its campaign's attributes.
pub async fn get_row(db: &sqlx::PgPool, tenant: TenantId, id: Uuid) -> DomainResult<LedgerRow> {
    let mut b = sqlx::QueryBuilder::new(LEDGER_ROW);
    b.push_bind(tenant.0).push(" AND l.id = ").push_bind(id);
    b.build_query_as::<LedgerRow>()
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("credit"))
}

/// The largest credit or debit one ledger row may carry.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// The largest balance a tenant may hold (far from `i64::MAX`, so sums never overflow).
pub const MAX_BALANCE: i64 = 1_000_000_000_000_000;

/// Checks one amount against [`MAX_AMOUNT`] (either sign; zero is refused).
pub fn check_amount(amount: i64) -> DomainResult<()> {
    if amount == 0 {
        return Err(DomainError::validation("credit", "must not be zero"));
    }
    if amount.unsigned_abs() > MAX_AMOUNT.unsigned_abs() {
        return Err(DomainError::validation(
            "credit",
            format!("must be between -{MAX_AMOUNT} and {MAX_AMOUNT}"),
        ));
    }
    Ok(())
}

/// An operator's top-up (or, negative, removal) in one transaction: the amount is bounded by
/// [`MAX_AMOUNT`], the resulting balance by [`MAX_BALANCE`]; what would pass a bound is
/// refused with a validation error on `credit` and writes nothing, so the balance stays
/// usable. Returns the row and the new balance.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn adjust(
    db: &sqlx::PgPool,
    tenant: TenantId,
    amount: i64,
    description: &str,
    now: DateTime<Utc>,
) -> DomainResult<(CreditEntry, i64)> {
    check_amount(amount)?;
    let mut tx = db.begin().await?;
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant.0)
        .execute(&mut *tx)
        .await?;
    let before = balance(&mut *tx, tenant).await?;
    let after = before.saturating_add(amount);
    if after > MAX_BALANCE {
        return Err(DomainError::validation(
            "credit",
            format!("the balance would exceed {MAX_BALANCE} (now {before})"),
        ));
    }
    if after < -MAX_BALANCE {
        return Err(DomainError::validation(
            "credit",
            format!("the balance would fall below -{MAX_BALANCE}"),
        ));
    }
    let entry = add(&mut *tx, tenant, amount, description, None, now).await?;
    tx.commit().await?;
    Ok((entry, after))
}

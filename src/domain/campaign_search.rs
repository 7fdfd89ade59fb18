//! Reading campaigns in bulk: a filtered, sorted page of the tenant's campaigns (every
//! campaign, whichever dialect made it), and the numbers of a campaign's recipients.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::campaigns::{self, Campaign};
use super::{DomainResult, TenantId};

/// Sort orders of [`search`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Creation order.
    #[default]
    Created,
    /// Start time (creation time when it has none).
    StartTime,
    /// Name, case-insensitive.
    Name,
    /// Status name.
    Status,
}

/// Filters and page of [`search`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Name contains (case-insensitive).
    pub name_contains: Option<String>,
    /// One of these statuses ([`campaigns::status`]).
    pub statuses: Option<Vec<String>>,
    /// This channel (the kind when a campaign has no channel).
    pub channel: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub created_to: Option<DateTime<Utc>>,
    pub sort: Sort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// A page of the tenant's campaigns (not deleted) and the number matching the filter.
pub async fn search(db: &PgPool, tenant: TenantId, f: &Filter) -> DomainResult<(i64, Vec<Campaign>)> {
    let filters = |b: &mut sqlx::QueryBuilder<sqlx::Postgres>| {
        b.push(" WHERE tenant_id = ").push_bind(tenant.0).push(" AND deleted_at IS NULL");
        if let Some(n) = &f.name_contains {
            let pat = format!("%{}%", n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            b.push(" AND name ILIKE ").push_bind(pat);
        }
        if let Some(s) = &f.statuses {
            b.push(" AND status = ANY(").push_bind(s.clone()).push(")");
        }
        if let Some(ch) = &f.channel {
            b.push(" AND COALESCE(channel, kind) = ").push_bind(ch.clone());
        }
        if let Some(from) = f.created_from {
            b.push(" AND created_at >= ").push_bind(from);
        }
        if let Some(to) = f.created_to {
            b.push(" AND created_at <= ").push_bind(to);
        }
    };
    let mut count = sqlx::QueryBuilder::new("SELECT count(*) FROM campaigns");
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(db).await?;
    let mut b = sqlx::QueryBuilder::new(format!("SELECT {} FROM campaigns", campaigns::COLS));
    filters(&mut b);
    let dir = if f.descending { "DESC" } else { "ASC" };
    let order = match f.sort {
        Sort::StartTime => format!("COALESCE(starts_at, created_at) {dir}"),
        Sort::Name => format!("lower(name) {dir}"),
        Sort::Status => format!("status {dir}"),
        Sort::Created => "seq ASC".to_string(),
    };
    b.push(format!(" ORDER BY {order}, seq LIMIT "))
        .push_bind(f.limit)
        .push(" OFFSET ")
        .push_bind(f.offset);
    let rows = b.build_query_as::<Campaign>().fetch_all(db).await?;
    Ok((total, rows))
}

/// The numbers of a campaign's contacts as their callers wrote them (else E.164), in
/// creation order, at most `limit`.
pub async fn recipient_numbers(db: &PgPool, tenant: TenantId, campaign: Uuid, limit: i64) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(NULLIF(trim(original_number), ''), number) FROM contacts
          WHERE tenant_id = $1 AND campaign_id = $2 AND number IS NOT NULL ORDER BY seq LIMIT $3",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// How many of a campaign's contacts are in each (shared contact status, last outcome)
/// pair (the outcome is the `Outcome` name the engine recorded, None before any attempt
/// ended).
pub async fn outcome_counts(db: &PgPool, tenant: TenantId, campaign: Uuid) -> DomainResult<Vec<(String, Option<String>, i64)>> {
    Ok(sqlx::query_as(
        "SELECT status, last_outcome, count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = $2
          GROUP BY status, last_outcome ORDER BY status, last_outcome",
    )
    .bind(tenant.0)
    .bind(campaign)
    .fetch_all(db)
    .await?)
}

//! Read-only views of a tenant for the web console: keyset pages, counts per status,
//! attempts and the attempts-per-minute series. Nothing here writes; every query names the tenant.
//!
//! Pages are keyset pages on `seq` (the `(tenant_id, …, seq)` indexes), so a table stays
//! fast with a million rows behind it; no page counts the rows it skips.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::campaigns::{self, Campaign};
use super::contacts::{self, Contact};
use super::{DomainResult, TenantId};

/// Shared contact states that are not final: the contact may still be attempted.
pub const OPEN_STATES: &[&str] = &["pending", "dialing", "queued", "connected", "sending", "retry_wait", "callback"];

/// A page of the tenant's campaigns (not deleted), newest first, older than `before_seq`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn campaigns_page(db: &PgPool, tenant: TenantId, before_seq: Option<i64>, limit: i64) -> DomainResult<Vec<Campaign>> {
    let sql = format!(
        "SELECT {} FROM campaigns WHERE tenant_id = $1 AND deleted_at IS NULL AND seq < $2 ORDER BY seq DESC LIMIT $3",
        campaigns::COLS
    );
    Ok(sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Contact counts by shared status of each of `ids` (the tenant's campaigns only).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn contact_counts(db: &PgPool, tenant: TenantId, ids: &[Uuid]) -> DomainResult<HashMap<Uuid, Vec<(String, i64)>>> {
    let rows: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT campaign_id, status, count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = ANY($2)
          GROUP BY campaign_id, status ORDER BY campaign_id, status",
    )
    .bind(tenant.0)
    .bind(ids)
    .fetch_all(db)
    .await?;
    let mut out: HashMap<Uuid, Vec<(String, i64)>> = HashMap::new();
    for (c, s, n) in rows {
        out.entry(c).or_default().push((s, n));
    }
    Ok(out)
}

/// One campaign of the tenant (deleted ones too).
pub async fn campaign(db: &PgPool, tenant: TenantId, id: Uuid) -> DomainResult<Campaign> {
    campaigns::get(db, tenant, id).await
}

/// A page of a campaign's contacts in creation order after `after_seq`, optionally only
/// those in shared status `state`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn contacts_page(
    db: &PgPool,
    tenant: TenantId,
    campaign: Uuid,
    state: Option<&str>,
    after_seq: i64,
    limit: i64,
) -> DomainResult<Vec<Contact>> {
    let Some(state) = state else {
        return contacts::page(db, tenant, campaign, after_seq, limit).await;
    };
    let sql = format!(
        "SELECT {} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND status = $3 AND seq > $4 ORDER BY seq LIMIT $5",
        contacts::COLS
    );
    Ok(sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign)
        .bind(state)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Which outbox rows a page shows.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub channel: Option<String>,
    pub status: Option<String>,
    /// Substring of the destination.
    pub to: Option<String>,
    pub campaign: Option<Uuid>,
}

/// One outbox row as the console lists it: the delivery with its attempt's number,
/// outcome, sink and end (NULL for rows written outside the engine).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboxRow {
    pub seq: i64,
    pub campaign_id: Option<Uuid>,
    pub channel: String,
    pub to_address: String,
    pub from_address: Option<String>,
    pub body: Option<String>,
    pub status: String,
    pub n: Option<i32>,
    pub outcome: Option<String>,
    pub sink: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// A page of the tenant's outbox, newest first, older than `before_seq`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn outbox_page(
    db: &PgPool,
    tenant: TenantId,
    f: &OutboxFilter,
    before_seq: Option<i64>,
    limit: i64,
) -> DomainResult<Vec<OutboxRow>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT seq, campaign_id, channel, to_address, from_address, body, status, n, outcome, sink, created_at, ended_at
           FROM deliveries WHERE tenant_id = ",
    );
    qb.push_bind(tenant.0);
    qb.push(" AND seq < ").push_bind(before_seq.unwrap_or(i64::MAX));
    if let Some(c) = &f.channel {
        qb.push(" AND channel = ").push_bind(c.clone());
    }
    if let Some(s) = &f.status {
        qb.push(" AND status = ").push_bind(s.clone());
    }
    if let Some(t) = &f.to {
        qb.push(" AND strpos(to_address, ").push_bind(t.clone()).push(") > 0");
    }
    if let Some(c) = f.campaign {
        qb.push(" AND campaign_id = ").push_bind(c);
    }
    qb.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
    Ok(qb.build_query_as::<OutboxRow>().fetch_all(db).await?)
}

/// One attempt as the console lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AttemptView {
    pub contact_id: Uuid,
    pub n: i32,
    pub channel: String,
    pub to_address: String,
    /// `sending`, `dialing`, `connected` or `done`.
    pub state: String,
    /// The outcome once the attempt is done.
    pub outcome: Option<String>,
    /// `simulated`, `webhook` or `smtp`.
    pub sink: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// The attempts of `contacts` (of the tenant), in order.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn attempts_of(db: &PgPool, tenant: TenantId, contacts: &[Uuid]) -> DomainResult<Vec<AttemptView>> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "SELECT contact_id, n, channel, to_address, state, outcome, sink, started_at, ended_at FROM attempts
          WHERE tenant_id = $1 AND contact_id = ANY($2) ORDER BY contact_id, n, started_at",
    )
    .bind(tenant.0)
    .bind(contacts)
    .fetch_all(db)
    .await?)
}

/// Attempts per minute of their start by outcome (`in_flight` while not done) from
/// `since` (tenant clock), in minute order: `(minute, outcome, count)`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn attempts_per_minute(db: &PgPool, tenant: TenantId, since: DateTime<Utc>) -> DomainResult<Vec<(DateTime<Utc>, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT date_trunc('minute', started_at) AS m, coalesce(outcome, 'in_flight') AS o, count(*) FROM attempts
          WHERE tenant_id = $1 AND started_at >= $2 GROUP BY m, o ORDER BY m, o",
    )
    .bind(tenant.0)
    .bind(since)
    .fetch_all(db)
    .await?)
}

/// When the tenant's newest attempt started (the chart's right edge when the tenant clock
/// moved past the work).
pub async fn last_attempt_at(db: &PgPool, tenant: TenantId) -> DomainResult<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar("SELECT max(started_at) FROM attempts WHERE tenant_id = $1")
        .bind(tenant.0)
        .fetch_one(db)
        .await?)
}

/// A change marker of the tenant's live data: the newest outbox, campaign and contact
/// update. Live views re-render only when it moves.
pub async fn change_marker(db: &PgPool, tenant: TenantId) -> DomainResult<String> {
    // An outbox row changes in place when its attempt ends: the attempts not done yet
    // (their count and next due time, from the partial index) move with it.
    type Marker = (Option<i64>, Option<DateTime<Utc>>, Option<i64>, i64, Option<DateTime<Utc>>);
    let row: Marker = sqlx::query_as(
        "SELECT (SELECT max(seq) FROM deliveries WHERE tenant_id = $1),
                (SELECT max(updated_at) FROM campaigns WHERE tenant_id = $1),
                (SELECT max(seq) FROM request_journal WHERE tenant_id = $1),
                (SELECT count(*) FROM attempts WHERE tenant_id = $1 AND state <> 'done'),
                (SELECT min(due_at) FROM attempts WHERE tenant_id = $1 AND state <> 'done')",
    )
    .bind(tenant.0)
    .fetch_one(db)
    .await?;
    Ok(format!("{:?}", row))
}

/// A page of one suppression list of the tenant, newest first, older than `before_seq`,
/// optionally only numbers containing `digits`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn suppression_page(
    db: &PgPool,
    tenant: TenantId,
    list: &str,
    digits: Option<&str>,
    before_seq: Option<i64>,
    limit: i64,
) -> DomainResult<Vec<super::optlists::Entry>> {
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {} FROM suppressions WHERE tenant_id = ", super::optlists::COLS));
    qb.push_bind(tenant.0);
    qb.push(" AND list = ").push_bind(list.to_string());
    qb.push(" AND seq < ").push_bind(before_seq.unwrap_or(i64::MAX));
    if let Some(d) = digits
        .map(|d| d.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|d| !d.is_empty())
    {
        qb.push(" AND strpos(number, ").push_bind(d).push(") > 0");
    }
    qb.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
    Ok(qb.build_query_as::<super::optlists::Entry>().fetch_all(db).await?)
}

//! Contacts in batches (bulk imports): which numbers a campaign already has, which are
//! suppressed, and a multi-row insert. Callers run these in one transaction together with
//! their job checkpoint, after [`lock_campaign`] so concurrent writers to one campaign see
//! each other's numbers.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::contacts::{status, NewContact};
use super::{DomainResult, TenantId};

/// Serialises writers of one campaign's contacts until the end of the transaction
/// ([`super::contacts::lock_campaign`], exclusive).
pub async fn lock_campaign(conn: &mut sqlx::PgConnection, _tenant: TenantId, campaign: Uuid) -> DomainResult<()> {
    super::contacts::lock_campaign(conn, campaign, true).await?;
    Ok(())
}

/// Refreshes the planner's statistics of `contacts` (bulk imports call it as the table
/// grows; without it a fresh campaign's duplicate checks may be planned as scans). Errors
/// (e.g. a role that may not ANALYZE) are logged and ignored.
pub async fn refresh_statistics(db: &sqlx::PgPool) {
    if let Err(e) = sqlx::query("ANALYZE contacts").execute(db).await {
        tracing::debug!(error = %e, "ANALYZE contacts failed");
    }
}

/// Whether the campaign has `number` on a contact other than `except` (same index rule
/// as [`existing_numbers`]).
pub async fn has_number<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    campaign: Uuid,
    number: &str,
    except: Option<Uuid>,
) -> DomainResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM contacts c
                         WHERE c.tenant_id = $1 AND c.campaign_id = $2 AND c.number = $3 AND ($4::uuid IS NULL OR c.id <> $4))",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(number)
    .bind(except)
    .fetch_one(db)
    .await?)
}

/// The numbers (E.164) among `numbers` that the campaign already has.
pub async fn existing_numbers<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    campaign: Uuid,
    numbers: &[String],
) -> DomainResult<HashSet<String>> {
    if numbers.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<String> = sqlx::query_scalar(
        // One index probe per number. Which index the probe uses depends on statistics:
        // on a campaign that grew since the last ANALYZE, both indexes look alike and the
        // planner may scan the whole campaign per number; bulk writers call
        // [`refresh_statistics`] as they go.
        "SELECT DISTINCT u.n FROM unnest($3::text[]) AS u(n)
           CROSS JOIN LATERAL (SELECT 1 FROM contacts c
                                WHERE c.tenant_id = $1 AND c.campaign_id = $2 AND c.number = u.n LIMIT 1) x",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(numbers)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The numbers among `numbers` blocked for `channel` at `now` (same rule as
/// [`super::optlists::is_suppressed`], for many numbers in one query).
pub async fn suppressed_numbers<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    numbers: &[String],
    channel: &str,
    now: DateTime<Utc>,
) -> DomainResult<HashSet<String>> {
    if numbers.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT u.n FROM unnest($2::text[]) AS u(n)
           CROSS JOIN LATERAL (SELECT 1 FROM suppressions s
                                WHERE s.tenant_id = $1 AND s.number = u.n
                                  AND ((s.list = 'opt_out' AND $3 = ANY(s.channels)) OR s.list = 'dnc')
                                  AND (s.expires_at IS NULL OR s.expires_at > $4) LIMIT 1) x",
    )
    .bind(tenant.0)
    .bind(numbers)
    .bind(channel)
    .bind(now)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Inserts many contacts into a campaign of the tenant in one statement; returns the
/// (id, seq) of each, in the order given. The caller checked the campaign.
pub async fn insert_many<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    campaign: Uuid,
    rows: Vec<NewContact>,
    now: DateTime<Utc>,
) -> DomainResult<Vec<(Uuid, i64)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let n = rows.len();
    let mut ids = Vec::with_capacity(n);
    let mut number = Vec::with_capacity(n);
    let mut original = Vec::with_capacity(n);
    let mut email = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut first = Vec::with_capacity(n);
    let mut last = Vec::with_capacity(n);
    let mut external = Vec::with_capacity(n);
    let mut outbound = Vec::with_capacity(n);
    let mut st = Vec::with_capacity(n);
    let mut priority = Vec::with_capacity(n);
    let mut retries = Vec::with_capacity(n);
    let mut attrs = Vec::with_capacity(n);
    for c in rows {
        ids.push(c.id.unwrap_or_else(Uuid::new_v4));
        number.push(c.number);
        original.push(c.original_number);
        email.push(c.email);
        name.push(c.name);
        first.push(c.first_name);
        last.push(c.last_name);
        external.push(c.external_id);
        outbound.push(c.outbound_number);
        st.push(c.status.unwrap_or_else(|| status::PENDING.to_string()));
        priority.push(c.priority);
        retries.push(c.max_retries);
        attrs.push(if c.attrs.is_null() { serde_json::json!({}) } else { c.attrs });
    }
    let got: Vec<(Uuid, i64)> = sqlx::query_as(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, original_number, email, name, first_name, last_name,
                               external_id, outbound_number, status, priority, max_retries, attrs, created_at, updated_at)
         SELECT u.id, $1, $2, u.number, u.original, u.email, u.name, u.first_name, u.last_name,
                u.external_id, u.outbound, u.status, u.priority, u.max_retries, u.attrs, $16, $16
           FROM UNNEST($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                       $10::text[], $11::text[], $12::text[], $13::int4[], $14::int4[], $15::jsonb[])
                AS u(id, number, original, email, name, first_name, last_name, external_id, outbound, status,
                     priority, max_retries, attrs)
          WHERE EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2)
         RETURNING id, seq",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(&ids)
    .bind(&number)
    .bind(&original)
    .bind(&email)
    .bind(&name)
    .bind(&first)
    .bind(&last)
    .bind(&external)
    .bind(&outbound)
    .bind(&st)
    .bind(&priority)
    .bind(&retries)
    .bind(&attrs)
    .bind(now)
    .fetch_all(db)
    .await?;
    let by_id: std::collections::HashMap<Uuid, i64> = got.into_iter().collect();
    if by_id.len() != ids.len() {
        return Err(super::DomainError::NotFound("campaign"));
    }
    Ok(ids.into_iter().filter_map(|id| by_id.get(&id).map(|s| (id, *s))).collect())
}

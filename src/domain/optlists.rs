//! Suppression: the tenant's opt-out list (by channel), company DNC list and named
//! opt-in lists. One list per tenant, honoured by every dialect at creation and send time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::phone::PhoneNumber;
use super::{DomainError, DomainResult, TenantId};

/// List names (`suppressions.list`).
pub mod list {
    pub const OPT_OUT: &str = "opt_out";
    pub const DNC: &str = "dnc";
    pub const OPT_IN: &str = "opt_in";
}

/// Channels an opt-out can name.
pub const CHANNELS: &[&str] = &["sms", "voice", "email"];

/// One list entry.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Entry {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub list: String,
    pub list_name: String,
    pub number: String,
    pub original: String,
    pub channels: Vec<String>,
    pub source: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Entry`].
pub const COLS: &str = "id, seq, tenant_id, list, list_name, number, original, channels, source, expires_at, created_at, updated_at";

/// What to put on a list.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub list: &'a str,
    pub list_name: &'a str,
    pub number: &'a PhoneNumber,
    pub channels: Vec<String>,
    pub source: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Adds a number to a list, or updates its expiry and channels if it is there already.
/// Returns the entry and whether it was created (false = updated).
pub async fn upsert<'e>(db: impl PgExecutor<'e>, tenant: TenantId, e: NewEntry<'_>, now: DateTime<Utc>) -> DomainResult<(Entry, bool)> {
    if e.channels.iter().any(|c| !CHANNELS.contains(&c.as_str())) {
        return Err(DomainError::validation("channels", "must be a list of sms, voice, email"));
    }
    let channels = if e.channels.is_empty() {
        CHANNELS.iter().map(|s| s.to_string()).collect()
    } else {
        e.channels
    };
    let sql = format!(
        "INSERT INTO suppressions (id, tenant_id, list, list_name, number, original, channels, source, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
         ON CONFLICT (tenant_id, list, list_name, number)
         DO UPDATE SET expires_at = EXCLUDED.expires_at, channels = EXCLUDED.channels, updated_at = EXCLUDED.updated_at
         RETURNING {COLS}, (xmax = 0) AS inserted"
    );
    let row: (Entry, bool) = {
        use sqlx::Row;
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(Uuid::new_v4())
            .bind(tenant.0)
            .bind(e.list)
            .bind(e.list_name)
            .bind(&e.number.e164)
            .bind(&e.number.original)
            .bind(&channels)
            .bind(e.source)
            .bind(e.expires_at)
            .bind(now)
            .fetch_one(db)
            .await?;
        (Entry::from_row(&r)?, r.try_get("inserted")?)
    };
    Ok(row)
}

/// Whether `e164` is blocked for `channel` at `now`: on the opt-out list for that channel
/// or on the company DNC list (DNC blocks every channel), and not expired.
pub async fn is_suppressed<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    e164: &str,
    channel: &str,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    Ok(sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM suppressions
           WHERE tenant_id = $1 AND number = $2
             AND ((list = 'opt_out' AND $3 = ANY(channels)) OR list = 'dnc')
             AND (expires_at IS NULL OR expires_at > $4))",
    )
    .bind(tenant.0)
    .bind(e164)
    .bind(channel)
    .bind(now)
    .fetch_one(db)
    .await?)
}

/// The active entry of `number` on `list` (any list name), if any.
pub async fn find<'e>(db: impl PgExecutor<'e>, tenant: TenantId, list: &str, e164: &str) -> DomainResult<Option<Entry>> {
    let sql = format!("SELECT {COLS} FROM suppressions WHERE tenant_id = $1 AND list = $2 AND number = $3 ORDER BY seq LIMIT 1");
    Ok(sqlx::query_as::<_, Entry>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(list)
        .bind(e164)
        .fetch_optional(db)
        .await?)
}

/// Entries of a list, in creation order.
pub async fn list_entries<'e>(db: impl PgExecutor<'e>, tenant: TenantId, list: &str) -> DomainResult<Vec<Entry>> {
    let sql = format!("SELECT {COLS} FROM suppressions WHERE tenant_id = $1 AND list = $2 ORDER BY seq");
    Ok(sqlx::query_as::<_, Entry>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(list)
        .fetch_all(db)
        .await?)
}

/// Removes an entry by id from `list`; NotFound when it is not the tenant's.
pub async fn remove<'e>(db: impl PgExecutor<'e>, tenant: TenantId, list: &str, id: Uuid) -> DomainResult<()> {
    let n = sqlx::query("DELETE FROM suppressions WHERE tenant_id = $1 AND list = $2 AND id = $3")
        .bind(tenant.0)
        .bind(list)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound("list entry"));
    }
    Ok(())
}

/// The numbers among `e164s` that are blocked for `channel` at `now` (the batch form of
/// [`is_suppressed`]).
pub async fn suppressed_among<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    e164s: &[String],
    channel: &str,
    now: DateTime<Utc>,
) -> DomainResult<std::collections::HashSet<String>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT number FROM suppressions
          WHERE tenant_id = $1 AND number = ANY($2)
            AND ((list = 'opt_out' AND $3 = ANY(channels)) OR list = 'dnc')
            AND (expires_at IS NULL OR expires_at > $4)",
    )
    .bind(tenant.0)
    .bind(e164s)
    .bind(channel)
    .bind(now)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The numbers among `e164s` that are on one of the named opt-in lists at `now`.
pub async fn opted_in_among<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    e164s: &[String],
    list_names: &[String],
    now: DateTime<Utc>,
) -> DomainResult<std::collections::HashSet<String>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT number FROM suppressions
          WHERE tenant_id = $1 AND list = 'opt_in' AND list_name = ANY($2) AND number = ANY($3)
            AND (expires_at IS NULL OR expires_at > $4)",
    )
    .bind(tenant.0)
    .bind(list_names)
    .bind(e164s)
    .bind(now)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

/// One entry of `list` by id; NotFound when it is not the tenant's.
pub async fn get<'e>(db: impl PgExecutor<'e>, tenant: TenantId, list: &str, id: Uuid) -> DomainResult<Entry> {
    let sql = format!("SELECT {COLS} FROM suppressions WHERE tenant_id = $1 AND list = $2 AND id = $3");
    sqlx::query_as::<_, Entry>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(list)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("list entry"))
}

/// Numbers upserted per statement by [`upsert_many`].
const UPSERT_BATCH: usize = 1000;

/// Puts every number on `list`/`list_name` for every channel without expiry, or renews
/// the entry (channels, no expiry) if it is there already: [`upsert`] for many numbers,
/// de-duplicated, in batches, all in one transaction. Returns how many distinct numbers.
#[tracing::instrument(skip_all, fields(tenant = %tenant, list))]
pub async fn upsert_many(
    db: &sqlx::PgPool,
    tenant: TenantId,
    list: &str,
    list_name: &str,
    numbers: &[PhoneNumber],
    source: &str,
    now: DateTime<Utc>,
) -> DomainResult<usize> {
    let mut seen = std::collections::HashSet::new();
    let numbers: Vec<&PhoneNumber> = numbers.iter().filter(|p| seen.insert(p.e164.clone())).collect();
    let channels: Vec<String> = CHANNELS.iter().map(|c| c.to_string()).collect();
    let mut tx = db.begin().await?;
    for batch in numbers.chunks(UPSERT_BATCH) {
        let e164: Vec<String> = batch.iter().map(|p| p.e164.clone()).collect();
        let original: Vec<String> = batch.iter().map(|p| p.original.trim().to_string()).collect();
        sqlx::query(
            "INSERT INTO suppressions (id, tenant_id, list, list_name, number, original, channels, source, expires_at, created_at, updated_at)
             SELECT gen_random_uuid(), $1, $2, $3, u.n, u.o, $4, $5, NULL, $6, $6
               FROM UNNEST($7::text[], $8::text[]) WITH ORDINALITY AS u(n, o, i) ORDER BY u.i
             ON CONFLICT (tenant_id, list, list_name, number)
             DO UPDATE SET expires_at = NULL, channels = EXCLUDED.channels, updated_at = EXCLUDED.updated_at",
        )
        .bind(tenant.0)
        .bind(list)
        .bind(list_name)
        .bind(&channels)
        .bind(source)
        .bind(now)
        .bind(&e164)
        .bind(&original)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(numbers.len())
}

/// Filters and page of [`search`].
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    /// The list (`opt_out`, `dnc`, `opt_in`).
    pub list: String,
    /// Only this list name (opt-in lists).
    pub list_name: Option<String>,
    /// Digits the number (E.164 or as written) contains.
    pub digits: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub to: Option<DateTime<Utc>>,
    pub newest_first: bool,
    pub offset: i64,
    pub limit: i64,
}

/// A page of a list's entries (by creation time) and the number matching the filter.
pub async fn search(db: &sqlx::PgPool, tenant: TenantId, f: &EntryFilter) -> DomainResult<(i64, Vec<Entry>)> {
    let filters = |b: &mut sqlx::QueryBuilder<sqlx::Postgres>| {
        b.push(" WHERE tenant_id = ").push_bind(tenant.0);
        b.push(" AND list = ").push_bind(f.list.clone());
        if let Some(d) = f
            .digits
            .as_ref()
            .map(|d| d.chars().filter(char::is_ascii_digit).collect::<String>())
        {
            b.push(" AND (number LIKE ").push_bind(format!("%{d}%"));
            b.push(" OR original LIKE ").push_bind(format!("%{d}%")).push(")");
        }
        if let Some(n) = &f.list_name {
            b.push(" AND list_name = ").push_bind(n.clone());
        }
        if let Some(from) = f.from {
            b.push(" AND created_at >= ").push_bind(from);
        }
        if let Some(to) = f.to {
            b.push(" AND created_at <= ").push_bind(to);
        }
    };
    let mut count = sqlx::QueryBuilder::new("SELECT count(*) FROM suppressions");
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(db).await?;
    let mut b = sqlx::QueryBuilder::new(format!("SELECT {COLS} FROM suppressions"));
    filters(&mut b);
    let dir = if f.newest_first { "DESC" } else { "ASC" };
    b.push(format!(" ORDER BY created_at {dir}, seq {dir} LIMIT "))
        .push_bind(f.limit)
        .push(" OFFSET ")
        .push_bind(f.offset);
    let rows = b.build_query_as::<Entry>().fetch_all(db).await?;
    Ok((total, rows))
}

/// [`upsert`] of many entries in one transaction; whether each was created (false =
/// updated), in the order given.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn upsert_entries(
    db: &sqlx::PgPool,
    tenant: TenantId,
    entries: Vec<NewEntry<'_>>,
    now: DateTime<Utc>,
) -> DomainResult<Vec<bool>> {
    let mut tx = db.begin().await?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let (_, created) = upsert(&mut *tx, tenant, e, now).await?;
        out.push(created);
    }
    tx.commit().await?;
    Ok(out)
}

/// Takes numbers (E.164) off `list` in one transaction; whether each was there (and
/// is removed), in the order given.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn remove_numbers(db: &sqlx::PgPool, tenant: TenantId, list: &str, numbers: &[String]) -> DomainResult<Vec<bool>> {
    let mut tx = db.begin().await?;
    let mut out = Vec::with_capacity(numbers.len());
    for n in numbers {
        let removed = match find(&mut *tx, tenant, list, n).await? {
            Some(e) => {
                remove(&mut *tx, tenant, list, e.id).await?;
                true
            }
            None => false,
        };
        out.push(removed);
    }
    tx.commit().await?;
    Ok(out)
}

//! Bulk contact imports at COPY speed.
//!
//! An import runs in two steps:
//!
//! 1. **Stage** ([`stage`]): while the upload arrives, the caller parses it (on a thread
//!    pool) into rows encoded by a [`RowEncoder`] in PostgreSQL's COPY text format, and the
//!    rows stream into the UNLOGGED table `import_rows` with `COPY … FROM STDIN`, in ONE
//!    transaction with the job that will move them: no job without its rows, no rows
//!    without their job. Invalid rows are staged too (with their `problem`), so the
//!    per-row report keeps every index.
//! 2. **Move** ([`move_batch`]): the job moves the rows of `[from, to)` to `contacts` in one
//!    set-based statement per batch: the staged rows are deleted and returned, screened
//!    against the suppressions (one index probe per number), inserted in file order with
//!    `ON CONFLICT DO NOTHING` on `contacts_unique_number` (the unique index decides
//!    duplicates, in the campaign and within the file), and counted. The job's checkpoint
//!    is written in the same transaction, so a restart resumes at the last committed batch
//!    and neither loses nor doubles a row.
//!
//! The staging table is not WAL-logged: it survives a restart of switchboard and a clean
//! stop of PostgreSQL; after a crash of PostgreSQL itself it is empty, which
//! [`move_batch`] reports as a batch of no rows before the end (the caller fails the job,
//! the contacts already moved stay, none is doubled).

use std::fmt::Display;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::Value;
use sqlx::{Connection, PgPool, Row};
use uuid::Uuid;

use super::contacts::{self, NewContact};
use super::jobs::{self, Job, Lease, NewJob};
use super::{DomainError, DomainResult, TenantId};

/// Columns of a staged row, in the order [`RowEncoder`] writes them.
const COPY_SQL: &str = "COPY import_rows (job_id, ord, tenant_id, id, number, original_number, email, name, external_id, \
                        outbound_number, priority, attrs, problem) FROM STDIN";

/// Encodes staged rows of one job in COPY text format (cheap to clone and to send to a
/// thread pool).
#[derive(Debug, Clone, Copy)]
pub struct RowEncoder {
    job: Uuid,
    tenant: Uuid,
}

impl RowEncoder {
    /// An encoder for the rows of `job` (tests and benchmarks; [`stage`] hands one out).
    pub fn new(tenant: TenantId, job: Uuid) -> RowEncoder {
        RowEncoder { job, tenant: tenant.0 }
    }

    /// The id of the contact at index `ord`: the first 8 bytes of the job's (random) id,
    /// then `ord` (an RFC 9562 version 8 UUID). The ids of one file follow its order, so
    /// the contacts' primary key grows at one place per import instead of at a random
    /// page per row (fewer pages written, and fewer full-page images in the WAL); the
    /// job's random half keeps them apart from every other import's and add's.
    fn contact_id(&self, ord: u64) -> Uuid {
        ordered_id(self.job, ord)
    }

    fn head(&self, buf: &mut Vec<u8>, ord: u64) {
        use std::io::Write;
        let _ = write!(buf, "{}\t{}\t{}\t", self.job, ord, self.tenant);
    }

    /// Appends the valid contact at index `ord` of the file. Its text must not hold NUL
    /// characters (PostgreSQL's text refuses them; check before).
    pub fn valid(&self, buf: &mut Vec<u8>, ord: u64, c: &NewContact) {
        self.head(buf, ord);
        let id = c.id.unwrap_or_else(|| self.contact_id(ord));
        text(buf, Some(&id.to_string()));
        for f in [&c.number, &c.original_number, &c.email, &c.name, &c.external_id, &c.outbound_number] {
            buf.push(b'\t');
            text(buf, f.as_deref());
        }
        buf.push(b'\t');
        buf.extend_from_slice(c.priority.to_string().as_bytes());
        buf.push(b'\t');
        let attrs = if c.attrs.is_null() { "{}".to_string() } else { c.attrs.to_string() };
        text(buf, Some(&attrs));
        buf.extend_from_slice(b"\t\\N\n");
    }

    /// Appends the invalid element at index `ord` of the file, with why (`problem`, kept
    /// as given and handed back by [`move_batch`]).
    pub fn invalid(&self, buf: &mut Vec<u8>, ord: u64, problem: &Value) {
        self.head(buf, ord);
        buf.extend_from_slice(b"\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t0\t\\N\t");
        text(buf, Some(&problem.to_string()));
        buf.push(b'\n');
    }
}

/// The id of the `ord`-th row a bulk insert keyed by `seed` (a random id: the job's, the
/// campaign's) creates: the first 8 bytes of `seed`, then `ord`, as an RFC 9562 version 8
/// UUID. The rows of one bulk insert get ids in its order.
pub fn ordered_id(seed: Uuid, ord: u64) -> Uuid {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&seed.as_bytes()[..8]);
    b[8..].copy_from_slice(&ord.to_be_bytes());
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// The text SQL prepends to the 16 hex digits of `x'8000000000000000'::bigint | ord` to
/// make [`ordered_id`]`(seed, ord)` (for `ord` below 2^62).
pub fn ordered_id_prefix(seed: Uuid) -> String {
    let id = ordered_id(seed, 0).simple().to_string();
    id[..16].to_string()
}

/// A COPY text field: `\N` for NULL, backslash escapes for the separators.
fn text(buf: &mut Vec<u8>, s: Option<&str>) {
    let Some(s) = s else {
        buf.extend_from_slice(b"\\N");
        return;
    };
    for &b in s.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// Creates `job` and stages the rows that `rows` yields (chunks of COPY text made with the
/// encoder it is handed), all in one transaction. The job's payload gets `rows`, the
/// number of rows staged. A stream error rolls everything back and is returned as a
/// Validation error on `file`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn stage<F, S, B, E>(db: &PgPool, tenant: TenantId, job: NewJob, rows: F, now: DateTime<Utc>) -> DomainResult<(Job, u64)>
where
    F: FnOnce(RowEncoder) -> S,
    S: Stream<Item = Result<B, E>> + Unpin,
    B: std::ops::Deref<Target = [u8]>,
    E: Display,
{
    let mut tx = db.begin().await?;
    let job = jobs::enqueue(&mut *tx, tenant, job, now).await?;
    let mut stream = rows(RowEncoder::new(tenant, job.id));
    let mut copy = (*tx).copy_in_raw(COPY_SQL).await?;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                copy.send(b).await?;
            }
            Err(e) => {
                let _ = copy.abort("upload refused").await;
                return Err(DomainError::validation("file", e.to_string()));
            }
        }
    }
    let n = copy.finish().await?;
    sqlx::query("UPDATE jobs SET payload = payload || jsonb_build_object('rows', $3::bigint) WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(job.id)
        .bind(n as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((job, n))
}

/// A staged row that was not inserted.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Its index in the file.
    pub ord: u64,
    /// Why it is invalid, as staged; None for a duplicate number.
    pub problem: Option<Value>,
}

/// What one batch of [`move_batch`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Staged rows found in the range (fewer than asked at the end of the file).
    pub rows: u64,
    /// Inserted (suppressed ones included).
    pub added: u64,
    /// Inserted with status [`contacts::status::DNC`]: the number is suppressed on the channel.
    pub suppressed: u64,
    /// Valid rows whose number the campaign (or an earlier row) has.
    pub duplicates: u64,
    /// Invalid rows.
    pub invalid: u64,
    /// The first refused rows (invalid or duplicate), in file order, at most the number asked.
    pub refused: Vec<Refused>,
}

/// The move of one batch: deletes the staged rows, screens, inserts in file order, counts.
/// The suppression screen is one index probe per number (LATERAL … LIMIT 1: never a hash
/// of the tenant's whole list); the refused rows are found with a hashed `NOT IN` over the
/// inserted ids (a join of the two CTEs would be planned as a nested loop: CTEs carry no
/// statistics), only when some valid row was not inserted (the counts, computed once,
/// guard it: a batch without duplicates builds no hash).
const MOVE_SQL: &str = "
WITH src AS (
  DELETE FROM import_rows
   WHERE job_id = $2 AND ord >= $3 AND ord < $4 AND tenant_id = $1
  RETURNING ord, id, number, original_number, email, name, external_id, outbound_number, priority, attrs, problem),
ins AS (
  INSERT INTO contacts (id, tenant_id, campaign_id, number, unique_number, original_number, email, name, external_id,
                        outbound_number, status, priority, max_retries, attrs, created_at, updated_at)
  SELECT s.id, $1, $5, s.number, s.number, s.original_number, s.email, s.name, s.external_id, s.outbound_number,
         CASE WHEN b.blocked THEN $9 ELSE $10 END, s.priority, $11, COALESCE(s.attrs, '{}'::jsonb), $6, $6
    FROM src s
    LEFT JOIN LATERAL (SELECT true AS blocked FROM suppressions x
                        WHERE x.tenant_id = $1 AND x.number = s.number
                          AND ((x.list = 'opt_out' AND $7 = ANY(x.channels)) OR x.list = 'dnc')
                          AND (x.expires_at IS NULL OR x.expires_at > $6) LIMIT 1) b ON true
   WHERE s.problem IS NULL
   ORDER BY s.ord
  ON CONFLICT (tenant_id, campaign_id, unique_number) WHERE unique_number IS NOT NULL DO NOTHING
  RETURNING id, status)
SELECT (SELECT count(*) FROM src)::int8 AS rows,
       (SELECT count(*) FROM ins)::int8 AS added,
       (SELECT count(*) FROM ins WHERE status = $9)::int8 AS suppressed,
       (SELECT count(*) FROM src WHERE problem IS NOT NULL)::int8 AS invalid,
       (SELECT jsonb_agg(jsonb_build_object('ord', r.ord, 'problem', r.problem) ORDER BY r.ord)
          FROM (SELECT ord, problem FROM src
                 WHERE problem IS NOT NULL
                    OR ((SELECT count(*) FROM ins) < (SELECT count(*) FROM src WHERE problem IS NULL)
                        AND id NOT IN (SELECT id FROM ins))
                 ORDER BY ord LIMIT $8) r) AS refused";

/// The batch's settings: sorts and CTEs in memory; and, when the role may (a superuser,
/// as the embedded cluster's is), no per-row foreign-key triggers on the insert: the
/// batch itself locks the tenant and campaign rows `FOR KEY SHARE` (what each per-row
/// check would do), so no referenced row can go while the batch inserts.
const BATCH_SETTINGS_SQL: &str = "SELECT set_config('work_mem', '64MB', true),
       (SELECT set_config('session_replication_role', 'replica', true) WHERE current_setting('is_superuser') = 'on')";
const BATCH_SETTINGS_END_SQL: &str =
    "SELECT set_config('session_replication_role', 'origin', true) WHERE current_setting('is_superuser') = 'on'";

/// Bulk inserts of other use-cases: no per-row foreign-key triggers until
/// [`FK_TRIGGERS_ON_SQL`] (superuser roles only; the caller holds the referenced rows, at
/// least `FOR KEY SHARE`, in the same transaction).
pub(super) const FK_TRIGGERS_OFF_SQL: &str =
    "SELECT set_config('session_replication_role', 'replica', true) WHERE current_setting('is_superuser') = 'on'";
pub(super) const FK_TRIGGERS_ON_SQL: &str = BATCH_SETTINGS_END_SQL;

/// Moves the staged rows `[from, to)` of the job to the campaign's contacts, with the
/// job's checkpoint (`progress`, from the batch) in the same transaction; keeps the first
/// `keep` refused rows. `None` when the worker no longer holds the job (nothing written).
/// Takes the campaign's contact lock shared, like every add.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
#[allow(clippy::too_many_arguments)]
pub async fn move_batch(
    db: &PgPool,
    tenant: TenantId,
    campaign: Uuid,
    job: Lease<'_>,
    (from, to): (u64, u64),
    (channel, max_retries): (&str, i32),
    keep: usize,
    progress: impl FnOnce(&Batch) -> DomainResult<Value>,
    now: DateTime<Utc>,
) -> DomainResult<Option<Batch>> {
    let mut tx = db.begin().await?;
    if !jobs::lock_owned(&mut tx, job.id, job.worker).await? {
        return Ok(None);
    }
    contacts::lock_campaign(&mut tx, campaign, false).await?;
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM campaigns c JOIN tenants t ON t.id = c.tenant_id
          WHERE c.tenant_id = $1 AND c.id = $2 FOR KEY SHARE",
    )
    .bind(tenant.0)
    .bind(campaign)
    .fetch_optional(&mut *tx)
    .await?;
    if found.is_none() {
        return Err(DomainError::NotFound("campaign"));
    }
    sqlx::query(BATCH_SETTINGS_SQL).execute(&mut *tx).await?;
    let range = (from, to);
    let keep = keep as i32;
    let batch = match copy_batch(&mut tx, tenant, campaign, job.id, range, (channel, max_retries), now).await? {
        Some((added, suppressed)) => {
            let row = sqlx::query(REPORT_SQL)
                .bind(tenant.0)
                .bind(job.id)
                .bind(from as i64)
                .bind(to as i64)
                .bind(added as i64)
                .bind(keep)
                .fetch_one(&mut *tx)
                .await?;
            batch_of(&row, Some((added, suppressed)))?
        }
        None => {
            let row = sqlx::query(MOVE_SQL)
                .bind(tenant.0)
                .bind(job.id)
                .bind(from as i64)
                .bind(to as i64)
                .bind(campaign)
                .bind(now)
                .bind(channel)
                .bind(keep)
                .bind(contacts::status::DNC)
                .bind(contacts::status::PENDING)
                .bind(max_retries)
                .fetch_one(&mut *tx)
                .await?;
            batch_of(&row, None)?
        }
    };
    sqlx::query(BATCH_SETTINGS_END_SQL).execute(&mut *tx).await?;
    if !jobs::checkpoint(&mut tx, job.id, job.worker, &progress(&batch)?).await? {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(batch))
}

/// The batch a report row describes (`rows`, `invalid`, `refused`, and, from the
/// statement itself unless given, `added` and `suppressed`).
fn batch_of(row: &sqlx::postgres::PgRow, inserted: Option<(u64, u64)>) -> DomainResult<Batch> {
    let count = |c: &str| -> DomainResult<u64> { Ok(row.try_get::<i64, _>(c)?.max(0) as u64) };
    let refused: Option<Value> = row.try_get("refused")?;
    let refused = match refused {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| Refused {
                ord: v.get("ord").and_then(Value::as_u64).unwrap_or(0),
                problem: v.get("problem").filter(|p| !p.is_null()).cloned(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let (rows, invalid) = (count("rows")?, count("invalid")?);
    let (added, suppressed) = match inserted {
        Some(x) => x,
        None => (count("added")?, count("suppressed")?),
    };
    Ok(Batch {
        rows,
        added,
        suppressed,
        duplicates: rows.saturating_sub(added + invalid),
        invalid,
        refused,
    })
}

/// Columns of `contacts` the fast move copies, in the order [`copy_batch`]'s query
/// yields them (the status first: the suppressed rows are counted from it).
const COPY_CONTACTS_SQL: &str = "COPY contacts (status, id, tenant_id, campaign_id, number, unique_number, original_number, email, \
                                 name, external_id, outbound_number, priority, max_retries, attrs, created_at, updated_at) FROM STDIN";

/// After [`copy_batch`]: deletes the batch's staged rows, counts them, and lists the first
/// refused ones (invalid, or valid and not inserted: a duplicate, found by its id only
/// when the batch has one).
const REPORT_SQL: &str = "
WITH d AS (
  DELETE FROM import_rows
   WHERE job_id = $2 AND ord >= $3 AND ord < $4 AND tenant_id = $1
  RETURNING ord, id, problem)
SELECT (SELECT count(*) FROM d)::int8 AS rows,
       (SELECT count(*) FROM d WHERE problem IS NOT NULL)::int8 AS invalid,
       (SELECT jsonb_agg(jsonb_build_object('ord', r.ord, 'problem', r.problem) ORDER BY r.ord)
          FROM (SELECT ord, problem FROM d
                 WHERE problem IS NOT NULL
                    OR ((SELECT count(*) FROM d WHERE problem IS NULL) > $5
                        AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = d.id))
                 ORDER BY ord LIMIT $6) r) AS refused";

/// Bytes per message of the fast move's COPY into `contacts`.
const COPY_PIECE: usize = 256 * 1024;

/// A SQL literal of `s` (standard conforming strings: only quotes are doubled).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The fast move of a batch: the staged rows of `[from, to)` that are valid, the first of
/// their number in the batch, and whose number the campaign does not have (one index
/// probe each), screened against the suppressions, come out in file order with
/// `COPY (…) TO STDOUT` and go into `contacts` with `COPY … FROM STDIN`: PostgreSQL
/// writes the rows in bulk (one WAL record per heap page, not per row), where an
/// `INSERT … SELECT` pays the executor and the WAL per row (twice the time on 1,000,000
/// rows). The rows stay staged (the report deletes them). Returns (inserted,
/// suppressed); None when an add committed one of the numbers meanwhile (the COPY hits
/// the unique index): the batch is then rolled back to its savepoint, and the caller
/// moves it with [`MOVE_SQL`], which lets the unique index decide.
async fn copy_batch(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    campaign: Uuid,
    job: Uuid,
    (from, to): (u64, u64),
    (channel, max_retries): (&str, i32),
    now: DateTime<Utc>,
) -> DomainResult<Option<(u64, u64)>> {
    // COPY (query) takes no parameters: every value is a literal made here.
    let (t, c) = (literal(&tenant.0.to_string()), literal(&campaign.to_string()));
    let now = literal(&now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    let out_sql = format!(
        "COPY (
  SELECT CASE WHEN b.blocked THEN {dnc} ELSE {pending} END, s.id, {t}::uuid, {c}::uuid, s.number, s.number,
         s.original_number, s.email, s.name, s.external_id, s.outbound_number, s.priority, {max_retries}::int4,
         COALESCE(s.attrs, '{{}}'::jsonb), {now}::timestamptz, {now}::timestamptz
    FROM (SELECT r.*, row_number() OVER (PARTITION BY r.number ORDER BY r.ord) AS nth
            FROM import_rows r
           WHERE r.job_id = {job}::uuid AND r.ord >= {from} AND r.ord < {to} AND r.tenant_id = {t}::uuid
             AND r.problem IS NULL) s
    LEFT JOIN LATERAL (SELECT true AS dup FROM contacts k
                        WHERE k.tenant_id = {t}::uuid AND k.campaign_id = {c}::uuid AND k.unique_number = s.number
                        LIMIT 1) d ON true
    LEFT JOIN LATERAL (SELECT true AS blocked FROM suppressions x
                        WHERE x.tenant_id = {t}::uuid AND x.number = s.number
                          AND ((x.list = 'opt_out' AND {channel} = ANY(x.channels)) OR x.list = 'dnc')
                          AND (x.expires_at IS NULL OR x.expires_at > {now}::timestamptz) LIMIT 1) b ON true
   WHERE (s.nth = 1 OR s.number IS NULL) AND d.dup IS NULL
   ORDER BY s.ord) TO STDOUT",
        dnc = literal(contacts::status::DNC),
        pending = literal(contacts::status::PENDING),
        job = literal(&job.to_string()),
        channel = literal(channel),
    );
    let mut data = Vec::with_capacity((to.saturating_sub(from) as usize).min(1 << 20) * 256);
    {
        let mut out = tx.copy_out_raw(&out_sql).await?;
        while let Some(chunk) = out.next().await {
            data.extend_from_slice(&chunk?);
        }
    }
    if data.is_empty() {
        return Ok(Some((0, 0)));
    }
    // a COPY row ends at each raw newline (escaped ones are `\n`); the status comes first
    let dnc = format!("{}\t", contacts::status::DNC);
    let suppressed = data.split(|&b| b == b'\n').filter(|l| l.starts_with(dnc.as_bytes())).count() as u64;
    sqlx::query("SAVEPOINT import_copy").execute(&mut *tx).await?;
    let mut copy = tx.copy_in_raw(COPY_CONTACTS_SQL).await?;
    // in pieces: the connection's write buffer keeps the size of the largest message
    for piece in data.chunks(COPY_PIECE) {
        copy.send(piece).await?;
    }
    drop(data);
    let copied = copy.finish().await;
    // the pooled connection keeps no batch-sized buffers (several connections would
    // hold one each)
    tx.shrink_buffers();
    match copied {
        Ok(n) => {
            sqlx::query("RELEASE SAVEPOINT import_copy").execute(&mut *tx).await?;
            Ok(Some((n, suppressed)))
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {
            tracing::debug!(error = %e, "import batch met a number added meanwhile; moved row by row");
            sqlx::query("ROLLBACK TO SAVEPOINT import_copy").execute(&mut *tx).await?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Drops what is left staged for a job of the tenant (a job that ended early).
pub async fn discard(db: &PgPool, tenant: TenantId, job: Uuid) -> DomainResult<()> {
    sqlx::query("DELETE FROM import_rows WHERE tenant_id = $1 AND job_id = $2")
        .bind(tenant.0)
        .bind(job)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_ids_follow_the_order_and_sql_makes_the_same() {
        let seed = Uuid::new_v4();
        let (a, b, c) = (ordered_id(seed, 0), ordered_id(seed, 1), ordered_id(seed, 1 << 40));
        assert!(a < b && b < c);
        assert_eq!(a.get_version_num(), 8);
        assert_eq!(&a.as_bytes()[..6], &seed.as_bytes()[..6]);
        // what `$prefix || lpad(to_hex(x'8000000000000000'::bigint | ord), 16, '0')` gives
        let sql = |ord: u64| format!("{}{:016x}", ordered_id_prefix(seed), (1u64 << 63) | ord);
        assert_eq!(Uuid::parse_str(&sql(1)).unwrap(), b);
        assert_eq!(Uuid::parse_str(&sql(1 << 40)).unwrap(), c);
    }

    #[test]
    fn copy_text_escapes_separators_and_nulls() {
        let mut b = Vec::new();
        text(&mut b, Some("a\tb\\c\nd\re"));
        b.push(b'|');
        text(&mut b, None);
        assert_eq!(b, b"a\\tb\\\\c\\nd\\re|\\N");
    }

    #[test]
    fn rows_have_every_column() {
        let enc = RowEncoder::new(TenantId(Uuid::nil()), Uuid::nil());
        let mut b = Vec::new();
        let c = NewContact {
            number: Some("+14155550100".into()),
            name: Some("A\tB".into()),
            attrs: serde_json::json!({"k": "v\\"}),
            ..Default::default()
        };
        enc.valid(&mut b, 7, &c);
        enc.invalid(&mut b, 8, &serde_json::json!({"e": 1}));
        let s = String::from_utf8(b).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 2);
        for l in &lines {
            assert_eq!(l.split('\t').count(), 13, "{l}");
        }
        assert!(lines[0].contains("A\\tB"));
        assert!(lines[0].contains(r#"{"k":"v\\\\"}"#), "{}", lines[0]);
        assert!(lines[1].ends_with("\t{\"e\":1}"));
    }
}

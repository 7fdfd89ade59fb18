//! Contacts (recipients, leads, dialer contacts): one table for every dialect.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// The shared per-contact state. Each dialect maps it in one table of its own.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const DIALING: &str = "dialing";
    pub const QUEUED: &str = "queued";
    pub const CONNECTED: &str = "connected";
    pub const COMPLETED: &str = "completed";
    pub const TRANSFERRED: &str = "transferred";
    pub const TRANSFERRED_COMPLETED: &str = "transferred_completed";
    pub const NO_ANSWER: &str = "no_answer";
    pub const UNREACHABLE: &str = "unreachable";
    pub const ABANDONED: &str = "abandoned";
    pub const ABANDONED_BY_DIALER: &str = "abandoned_by_dialer";
    pub const SKIPPED: &str = "skipped";
    pub const SKIPPED_CLOSED: &str = "skipped_closed";
    pub const INVALID_NUMBER: &str = "invalid_number";
    pub const INVALID_OUTBOUND: &str = "invalid_outbound";
    pub const BLOCKED: &str = "blocked";
    pub const CARRIER_ERROR: &str = "carrier_error";
    pub const FAILED: &str = "failed";
    pub const VOICEMAIL: &str = "voicemail";
    pub const CALLBACK: &str = "callback";
    pub const DNC: &str = "dnc";
    pub const CANCELLED: &str = "cancelled";
    /// An SMS or email attempt is in flight.
    pub const SENDING: &str = "sending";
    /// An attempt failed with a retryable outcome and retries are left
    /// (`contacts.next_attempt_at` is when the next one is due).
    pub const RETRY_WAIT: &str = "retry_wait";
    /// Final: the line was busy (retries exhausted).
    pub const BUSY: &str = "busy";
    /// Every state.
    pub const ALL: &[&str] = &[
        PENDING,
        DIALING,
        QUEUED,
        CONNECTED,
        COMPLETED,
        TRANSFERRED,
        TRANSFERRED_COMPLETED,
        NO_ANSWER,
        UNREACHABLE,
        ABANDONED,
        ABANDONED_BY_DIALER,
        SKIPPED,
        SKIPPED_CLOSED,
        INVALID_NUMBER,
        INVALID_OUTBOUND,
        BLOCKED,
        CARRIER_ERROR,
        FAILED,
        VOICEMAIL,
        CALLBACK,
        DNC,
        CANCELLED,
        SENDING,
        RETRY_WAIT,
        BUSY,
    ];
}

/// A contact row.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Contact {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub campaign_id: Uuid,
    pub number: Option<String>,
    pub original_number: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub external_id: Option<String>,
    pub outbound_number: Option<String>,
    pub status: String,
    pub priority: i32,
    pub max_retries: i32,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attrs: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Contact`], for dialect queries.
pub const COLS: &str = "id, seq, tenant_id, campaign_id, number, original_number, email, name, first_name, last_name, external_id, outbound_number, status, priority, max_retries, attempts, next_attempt_at, attrs, created_at, updated_at";

/// Fields of a new contact.
#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub id: Option<Uuid>,
    pub number: Option<String>,
    pub original_number: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub external_id: Option<String>,
    pub outbound_number: Option<String>,
    pub status: Option<String>,
    pub priority: i32,
    pub max_retries: i32,
    pub attrs: serde_json::Value,
}

/// Takes the lock of a campaign's contact sequence until the end of `conn`'s transaction:
/// adders take it shared before taking sequence numbers (concurrent adds do not wait for
/// each other), keyset readers (Leads paging) exclusively before reading a page, so a page
/// waits for every add in flight and never passes a contact that is still being written.
/// Writers that check a number with a SELECT before writing it ([`update`]) take it
/// exclusively. Every dialect that adds contacts takes it (one key for all of them).
pub async fn lock_campaign(conn: &mut sqlx::PgConnection, campaign: Uuid, exclusive: bool) -> Result<(), sqlx::Error> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock(hashtextextended('contacts:' || $1::text, 0))"
    } else {
        "SELECT pg_advisory_xact_lock_shared(hashtextextended('contacts:' || $1::text, 0))"
    };
    sqlx::query(sql).bind(campaign).execute(conn).await?;
    Ok(())
}

/// `{}`: the attrs of a contact given none.
static NO_ATTRS: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| serde_json::json!({}));

/// Binds the fields of `c` as `$4` … `$15` (number, original number, email, name, first
/// and last name, external id, outbound number, status, priority, max retries, attrs), the
/// order of every one-contact insert.
fn bind_contact<'q, O>(
    q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    c: &'q NewContact,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    q.bind(&c.number)
        .bind(&c.original_number)
        .bind(&c.email)
        .bind(&c.name)
        .bind(&c.first_name)
        .bind(&c.last_name)
        .bind(&c.external_id)
        .bind(&c.outbound_number)
        .bind(c.status.as_deref().unwrap_or(status::PENDING))
        .bind(c.priority)
        .bind(c.max_retries)
        .bind(if c.attrs.is_null() { &*NO_ATTRS } else { &c.attrs })
}

/// Whether the tenant has the campaign.
async fn campaign_exists(db: &mut sqlx::PgConnection, tenant: TenantId, campaign: Uuid) -> DomainResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2)")
            .bind(tenant.0)
            .bind(campaign)
            .fetch_one(db)
            .await?,
    )
}

/// Inserts one contact into a campaign of the tenant (the caller checked the campaign and,
/// in its transaction, took [`lock_campaign`]).
pub async fn insert<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    campaign: Uuid,
    c: NewContact,
    now: DateTime<Utc>,
) -> DomainResult<Contact> {
    let sql = format!(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, original_number, email, name, first_name, last_name,
                               external_id, outbound_number, status, priority, max_retries, attrs, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16
          WHERE EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $2 AND id = $3)
         ON CONFLICT (id) DO NOTHING RETURNING {COLS}"
    );
    let q = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(c.id.unwrap_or_else(Uuid::new_v4))
        .bind(tenant.0)
        .bind(campaign);
    bind_contact(q, &c)
        .bind(now)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| DomainError::Conflict("contact already exists or campaign not found".into()))
}

/// One contact of the tenant.
pub async fn get<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Contact> {
    let sql = format!("SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND id = $2");
    sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("contact"))
}

/// A page of a campaign's contacts in creation order, after `after_seq` (keyset).
pub async fn page<'e>(db: impl PgExecutor<'e>, tenant: TenantId, campaign: Uuid, after_seq: i64, limit: i64) -> DomainResult<Vec<Contact>> {
    let sql = format!("SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND seq > $3 ORDER BY seq LIMIT $4");
    Ok(sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

// ---------------------------------------------------------------------------------------
// Use-cases: add, update and delete the contacts of a campaign. Each runs in one
// transaction. Adds leave duplicates to the unique index `contacts_unique_number`
// (`ON CONFLICT DO NOTHING`) and take the campaign's contact lock shared; an edit that
// changes a number takes it exclusively and checks. Suppression (opt-out on the channel,
// company DNC) is decided here.

/// What became of one contact given to [`add_many`] / [`import_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// Stored as given (status pending unless given).
    Added { id: Uuid, seq: i64 },
    /// Stored with status [`status::DNC`]: its number is suppressed on the channel.
    Suppressed { id: Uuid, seq: i64 },
    /// Not stored: the campaign has the number already (or an earlier contact of the
    /// same call had it).
    Duplicate,
}

/// Adds `contacts` in ONE statement (the caller's transaction, or a transaction of its own
/// when `db` is the pool): takes the campaign's contact lock shared (adds never wait for
/// each other; a keyset reader holding it exclusively waits for them), screens each number
/// against the suppressions, and inserts with `ON CONFLICT DO NOTHING` on
/// `contacts_unique_number`, so the unique index decides duplicates (also within `contacts`:
/// rows are inserted in the order given, the first of a number wins). Cost per contact: a
/// few index probes, whatever the size of the campaign.
async fn add_many_in(
    db: &mut sqlx::PgConnection,
    tenant: TenantId,
    campaign: Uuid,
    contacts: Vec<NewContact>,
    channel: &str,
    now: DateTime<Utc>,
) -> DomainResult<Vec<AddOutcome>> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    let mut contacts = contacts;
    if contacts.len() == 1 {
        if let Some(c) = contacts.pop() {
            return Ok(vec![add_one_in(db, tenant, campaign, &c, channel, now).await?]);
        }
    }
    let n = contacts.len();
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
    for c in contacts {
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
    let got: Vec<(Uuid, i64, bool)> = sqlx::query_as(
        "WITH lock AS (SELECT pg_advisory_xact_lock_shared(hashtextextended('contacts:' || $2::text, 0))),
         src AS (
           SELECT u.*, b.blocked IS NOT NULL AS blocked
             FROM lock,
                  UNNEST($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                         $10::text[], $11::text[], $12::text[], $13::int4[], $14::int4[], $15::jsonb[])
                    WITH ORDINALITY AS u(id, number, original, email, name, first_name, last_name, external_id,
                                         outbound, status, priority, max_retries, attrs, ord)
                  -- one index probe per number (LIMIT 1: never a hashed scan of the tenant's list)
                  LEFT JOIN LATERAL (SELECT true AS blocked FROM suppressions s
                                      WHERE s.tenant_id = $1 AND s.number = u.number
                                        AND ((s.list = 'opt_out' AND $17 = ANY(s.channels)) OR s.list = 'dnc')
                                        AND (s.expires_at IS NULL OR s.expires_at > $16) LIMIT 1) b ON true
            WHERE EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2)),
         ins AS (
           INSERT INTO contacts (id, tenant_id, campaign_id, number, unique_number, original_number, email, name,
                                 first_name, last_name, external_id, outbound_number, status, priority, max_retries,
                                 attrs, created_at, updated_at)
           SELECT id, $1, $2, number, number, original, email, name, first_name, last_name, external_id, outbound,
                  CASE WHEN blocked THEN 'dnc' ELSE status END, priority, max_retries, attrs, $16, $16
             FROM src ORDER BY ord
           ON CONFLICT (tenant_id, campaign_id, unique_number) WHERE unique_number IS NOT NULL DO NOTHING
           RETURNING id, seq)
         SELECT ins.id, ins.seq, src.blocked FROM ins JOIN src ON src.id = ins.id",
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
    .bind(channel)
    .fetch_all(&mut *db)
    .await?;
    if got.is_empty() && !campaign_exists(db, tenant, campaign).await? {
        // Every contact a duplicate, or no such campaign.
        return Err(DomainError::NotFound("campaign"));
    }
    let by_id: std::collections::HashMap<Uuid, (i64, bool)> = got.into_iter().map(|(id, seq, b)| (id, (seq, b))).collect();
    Ok(ids
        .into_iter()
        .map(|id| match by_id.get(&id) {
            Some(&(seq, true)) => AddOutcome::Suppressed { id, seq },
            Some(&(seq, false)) => AddOutcome::Added { id, seq },
            None => AddOutcome::Duplicate,
        })
        .collect())
}

/// [`add_many_in`] for one contact, with scalar parameters: the same locks, screen and
/// `ON CONFLICT`, in a statement whose plan PostgreSQL caches. (The array form is planned
/// anew on every call: its generic plan, made without the arrays' length, looks costlier
/// than a plan for one row, so the plan cache never keeps it; planning was most of what a
/// single add cost the database.)
async fn add_one_in(
    db: &mut sqlx::PgConnection,
    tenant: TenantId,
    campaign: Uuid,
    c: &NewContact,
    channel: &str,
    now: DateTime<Utc>,
) -> DomainResult<AddOutcome> {
    let id = c.id.unwrap_or_else(Uuid::new_v4);
    let q = sqlx::query_as(
        "WITH lock AS (SELECT pg_advisory_xact_lock_shared(hashtextextended('contacts:' || $2::text, 0))),
         src AS (
           SELECT EXISTS (SELECT 1 FROM suppressions s
                           WHERE s.tenant_id = $1 AND s.number = $4
                             AND ((s.list = 'opt_out' AND $17 = ANY(s.channels)) OR s.list = 'dnc')
                             AND (s.expires_at IS NULL OR s.expires_at > $16)) AS blocked
             FROM lock
            WHERE EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2)),
         ins AS (
           INSERT INTO contacts (id, tenant_id, campaign_id, number, unique_number, original_number, email, name,
                                 first_name, last_name, external_id, outbound_number, status, priority, max_retries,
                                 attrs, created_at, updated_at)
           SELECT $3, $1, $2, $4, $4, $5, $6, $7, $8, $9, $10, $11,
                  CASE WHEN blocked THEN 'dnc' ELSE $12 END, $13, $14, $15, $16, $16
             FROM src
           ON CONFLICT (tenant_id, campaign_id, unique_number) WHERE unique_number IS NOT NULL DO NOTHING
           RETURNING id, seq)
         SELECT ins.id, ins.seq, src.blocked FROM ins, src",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(id);
    let got: Option<(Uuid, i64, bool)> = bind_contact(q, c).bind(now).bind(channel).fetch_optional(&mut *db).await?;
    match got {
        Some((id, seq, true)) => Ok(AddOutcome::Suppressed { id, seq }),
        Some((id, seq, false)) => Ok(AddOutcome::Added { id, seq }),
        // A duplicate, or no such campaign.
        None if campaign_exists(db, tenant, campaign).await? => Ok(AddOutcome::Duplicate),
        None => Err(DomainError::NotFound("campaign")),
    }
}

/// Adds contacts to a campaign of the tenant: duplicates of a number the campaign has
/// are refused, suppressed numbers (on `channel`) stored as [`status::DNC`]. One outcome
/// per contact, in the order given.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn add_many(
    db: &sqlx::PgPool,
    tenant: TenantId,
    campaign: Uuid,
    contacts: Vec<NewContact>,
    channel: &str,
    now: DateTime<Utc>,
) -> DomainResult<Vec<AddOutcome>> {
    // One statement, committed when it returns (autocommit): one round trip.
    let mut conn = db.acquire().await?;
    add_many_in(&mut conn, tenant, campaign, contacts, channel, now).await
}

/// [`add_many`] on a connection of `lane` (one autocommit statement per contact batch; the
/// connection goes back without the pool's ping). The hot path of single adds.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn add_many_on(
    lane: &crate::db::lane::Lane,
    tenant: TenantId,
    campaign: Uuid,
    contacts: Vec<NewContact>,
    channel: &str,
    now: DateTime<Utc>,
) -> DomainResult<Vec<AddOutcome>> {
    // One contact is bound by reference: a retry needs no copy of it.
    async fn add(
        conn: &mut sqlx::PgConnection,
        (tenant, campaign): (TenantId, Uuid),
        contacts: &[NewContact],
        channel: &str,
        now: DateTime<Utc>,
    ) -> DomainResult<Vec<AddOutcome>> {
        match contacts {
            [one] => Ok(vec![add_one_in(conn, tenant, campaign, one, channel, now).await?]),
            many => add_many_in(conn, tenant, campaign, many.to_vec(), channel, now).await,
        }
    }
    let mut conn = lane.take().await?;
    let out = match add(conn.conn(), (tenant, campaign), &contacts, channel, now).await {
        // An idle connection whose session ended meanwhile fails with an I/O error: the
        // statement is tried once more on a new connection (a database error comes back
        // as it is).
        Err(DomainError::Internal(e)) if conn.reused() => {
            tracing::debug!(error = %e, "an idle lane connection failed; the add runs on a new one");
            drop(conn);
            conn = lane.fresh().await?;
            add(conn.conn(), (tenant, campaign), &contacts, channel, now).await?
        }
        r => r?,
    };
    conn.done();
    Ok(out)
}

/// [`add_many`] as one batch of an import job, with the job's checkpoint (`progress`,
/// from the outcomes) in the same transaction. `None` when the worker no longer holds
/// the job (nothing was written).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
#[allow(clippy::too_many_arguments)]
pub async fn import_batch(
    db: &sqlx::PgPool,
    tenant: TenantId,
    campaign: Uuid,
    job: super::jobs::Lease<'_>,
    contacts: Vec<NewContact>,
    channel: &str,
    progress: impl FnOnce(&[AddOutcome]) -> DomainResult<serde_json::Value>,
    now: DateTime<Utc>,
) -> DomainResult<Option<Vec<AddOutcome>>> {
    let mut tx = db.begin().await?;
    if !super::jobs::lock_owned(&mut tx, job.id, job.worker).await? {
        return Ok(None);
    }
    let out = add_many_in(&mut tx, tenant, campaign, contacts, channel, now).await?;
    if !super::jobs::checkpoint(&mut tx, job.id, job.worker, &progress(&out)?).await? {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(out))
}

/// Which contact of a campaign: every key given must match (at least one is given).
#[derive(Debug, Clone, Default)]
pub struct ContactKey {
    pub seq: Option<i64>,
    pub external_id: Option<String>,
    /// E.164.
    pub number: Option<String>,
}

async fn find_in(tx: &mut sqlx::PgConnection, tenant: TenantId, campaign: Uuid, key: &ContactKey) -> DomainResult<Contact> {
    if key.seq.is_none() && key.external_id.is_none() && key.number.is_none() {
        return Err(DomainError::validation("contact", "a key is required"));
    }
    let sql = format!(
        "SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2
           AND ($3::bigint IS NULL OR seq = $3) AND ($4::text IS NULL OR external_id = $4) AND ($5::text IS NULL OR unique_number = $5)
         ORDER BY seq LIMIT 1 FOR UPDATE"
    );
    sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign)
        .bind(key.seq)
        .bind(&key.external_id)
        .bind(&key.number)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DomainError::NotFound("contact"))
}

/// New values of a contact: every field of `contact` replaces the stored one (attrs
/// too; `status`, `first_name`, `last_name` and `max_retries` are not used), `status`
/// is a shared status the client asked for.
#[derive(Debug, Clone, Default)]
pub struct ContactEdit {
    pub contact: NewContact,
    pub status: Option<&'static str>,
}

/// What [`update`] did.
#[derive(Debug, Clone)]
pub enum UpdateOutcome {
    Updated(Box<Contact>),
    /// Nothing changed: another contact of the campaign has the new number.
    DuplicateNumber,
}

/// Changes a contact of a campaign: `edit` gives the new values from the current contact
/// (its error is returned as it is). A suppressed number (on `channel`) turns a pending
/// contact into [`status::DNC`]; a DNC contact whose number is no longer suppressed is
/// pending again unless `status` asks for DNC.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn update(
    db: &sqlx::PgPool,
    tenant: TenantId,
    campaign: Uuid,
    key: &ContactKey,
    channel: &str,
    edit: impl FnOnce(&Contact) -> DomainResult<ContactEdit>,
    now: DateTime<Utc>,
) -> DomainResult<UpdateOutcome> {
    let mut tx = db.begin().await?;
    lock_campaign(&mut tx, campaign, true).await?;
    let current = find_in(&mut tx, tenant, campaign, key).await?;
    let ContactEdit { contact: c, status: asked } = edit(&current)?;
    if let Some(n) = c.number.as_deref().filter(|n| current.number.as_deref() != Some(*n)) {
        if super::contact_batches::has_number(&mut *tx, tenant, campaign, n, Some(current.id)).await? {
            return Ok(UpdateOutcome::DuplicateNumber);
        }
    }
    let suppressed = match c.number.as_deref() {
        Some(n) => super::optlists::is_suppressed(&mut *tx, tenant, n, channel, now).await?,
        None => false,
    };
    let new_status = match (asked.unwrap_or(current.status.as_str()), suppressed) {
        (status::PENDING, true) => status::DNC,
        (status::DNC, false) if asked.is_none() => status::PENDING,
        (s, _) => s,
    };
    let sql = format!(
        "UPDATE contacts SET number = $3, unique_number = $3, original_number = $4, email = $5, name = $6, external_id = $7, outbound_number = $8,
                priority = $9, attrs = $10, status = $11, updated_at = $12
          WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"
    );
    let row = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(current.id)
        .bind(&c.number)
        .bind(&c.original_number)
        .bind(&c.email)
        .bind(&c.name)
        .bind(&c.external_id)
        .bind(&c.outbound_number)
        .bind(c.priority)
        .bind(if c.attrs.is_null() { serde_json::json!({}) } else { c.attrs })
        .bind(new_status)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(UpdateOutcome::Updated(Box::new(row)))
}

/// Deletes the contact of a campaign that `key` names; returns it as it was.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn delete(db: &sqlx::PgPool, tenant: TenantId, campaign: Uuid, key: &ContactKey) -> DomainResult<Contact> {
    let mut tx = db.begin().await?;
    let c = find_in(&mut tx, tenant, campaign, key).await?;
    sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(c.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(c)
}

/// A page of a campaign's contacts in creation order (`limit` from `offset`).
pub async fn list_page<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    campaign: Uuid,
    limit: i64,
    offset: i64,
) -> DomainResult<Vec<Contact>> {
    let sql = format!("SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 ORDER BY seq LIMIT $3 OFFSET $4");
    Ok(sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign)
        .bind(limit)
        .bind(offset)
        .fetch_all(db)
        .await?)
}

/// How many contacts a campaign of the tenant has.
pub async fn count_in_campaign<'e>(db: impl PgExecutor<'e>, tenant: TenantId, campaign: Uuid) -> DomainResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = $2")
            .bind(tenant.0)
            .bind(campaign)
            .fetch_one(db)
            .await?,
    )
}

/// What an add to a campaign needs before it is planned: the campaign and the tenant's
/// phone numbers (E.164). Cached per process by `caches::ReadCache::add_target`.
#[derive(Debug, Clone)]
pub struct AddTarget {
    pub campaign: super::campaigns::Campaign,
    pub numbers: std::collections::HashSet<String>,
}

/// What an add to a campaign needs before it is planned, in one query: the tenant's
/// campaign by its sequence number (not deleted) and the tenant's phone numbers (E.164,
/// in creation order). NotFound("campaign") for an unknown campaign.
pub async fn add_target<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    campaign_seq: i64,
) -> DomainResult<(super::campaigns::Campaign, Vec<String>)> {
    use sqlx::Row;
    let cols = super::campaigns::COLS;
    let sql = format!(
        "SELECT {cols}, ARRAY(SELECT p.number FROM phone_numbers p WHERE p.tenant_id = $1 ORDER BY p.seq) AS tenant_numbers
           FROM campaigns WHERE tenant_id = $1 AND seq = $2 AND deleted_at IS NULL"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign_seq)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("campaign"))?;
    let numbers: Vec<String> = row.try_get("tenant_numbers")?;
    Ok((super::campaigns::Campaign::from_row(&row)?, numbers))
}

//! Attempts: one row per attempt of one delivery of a contact, and the batch statements
//! the engine's runner (`engine::attempts`) builds on. Every statement takes a batch
//! (arrays through `UNNEST`), so a batch of contacts or attempts costs a handful of round
//! trips whatever its size.
//!
//! An attempt moves `sending` (SMS, email) or `dialing` (voice) → `connected` (voice,
//! answered) → `done`; `due_at` is when its next move is due on the tenant clock. Its
//! outbox row (`deliveries.attempt_id`, unique) is written with it and follows it: status
//! `sending`/`dialing`/`connected`, then the outcome's name. The carrier's outcome is
//! decided when the attempt starts (`decided`) and shown (`outcome`) once it is done.
//!
//! Also here: the tenant's own carrier rules (`carrier_rules`), stored as given and parsed
//! by the engine.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{FromRow, PgConnection, PgExecutor, Row};
use uuid::Uuid;

use super::contacts::status as cst;
use super::{DomainResult, TenantId};

/// A new id for a row the engine writes in bulk (attempts, outbox rows, events): a
/// random prefix drawn once per process, then a counter, as an RFC 9562 version 8 UUID.
/// One process's ids follow each other, so each batch's rows go to the right edge of the
/// primary-key indexes instead of to a random page each.
pub fn new_id() -> Uuid {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<[u8; 8]> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let r = Uuid::new_v4();
        let mut p = [0u8; 8];
        p.copy_from_slice(&r.as_bytes()[..8]);
        p
    });
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(prefix);
    b[8..].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// Attempt states (`attempts.state`).
pub mod state {
    pub const SENDING: &str = "sending";
    pub const DIALING: &str = "dialing";
    pub const CONNECTED: &str = "connected";
    pub const DONE: &str = "done";
}

/// Contact statuses the engine still has work for (not final).
pub const OPEN_CONTACT_STATUSES: &[&str] = &["pending", "retry_wait", "dialing", "connected", "sending", "queued"];

/// A contact claimed for its next attempt (locked until the claiming transaction ends).
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub number: Option<String>,
    pub email: Option<String>,
    /// The tenant number a call to the contact is made from (dialer contacts).
    pub outbound_number: Option<String>,
    pub attrs: Value,
    pub status: String,
    pub attempts: i32,
    pub max_retries: i32,
}

/// Claims up to `limit` contacts of a running campaign whose next attempt is due at `now`
/// (`pending` or `retry_wait`, `next_attempt_at` passed), by priority then age, with
/// `FOR UPDATE SKIP LOCKED`: another replica claims others. The campaign row is read, not
/// locked.
pub async fn claim_contacts(
    conn: &mut PgConnection,
    tenant: TenantId,
    campaign: Uuid,
    now: DateTime<Utc>,
    limit: i64,
) -> DomainResult<Vec<Claimed>> {
    Ok(sqlx::query_as::<_, Claimed>(
        "SELECT id, campaign_id, number, email, outbound_number, attrs, status, attempts, max_retries FROM contacts
          WHERE tenant_id = $1 AND campaign_id = $2 AND status IN ('pending', 'retry_wait')
            AND (next_attempt_at IS NULL OR next_attempt_at <= $3) AND created_at <= $3
            AND EXISTS (SELECT 1 FROM campaigns c WHERE c.tenant_id = $1 AND c.id = $2 AND c.status = 'running' AND c.deleted_at IS NULL)
          ORDER BY priority DESC, seq LIMIT $4 FOR UPDATE SKIP LOCKED",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Which of `(number, channel)` are suppressed at `now` (opt-out on the channel, or DNC),
/// in the order given.
pub async fn suppressed_among(
    conn: &mut PgConnection,
    tenant: TenantId,
    pairs: &[(String, String)],
    now: DateTime<Utc>,
) -> DomainResult<Vec<bool>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let numbers: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    let channels: Vec<&str> = pairs.iter().map(|(_, c)| c.as_str()).collect();
    let hits: Vec<i64> = sqlx::query_scalar(
        "SELECT u.i FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS u(number, channel, i)
          WHERE EXISTS (SELECT 1 FROM suppressions s
                         WHERE s.tenant_id = $1 AND s.number = u.number
                           AND ((s.list = 'opt_out' AND u.channel = ANY(s.channels)) OR s.list = 'dnc')
                           AND (s.expires_at IS NULL OR s.expires_at > $4))",
    )
    .bind(tenant.0)
    .bind(&numbers)
    .bind(&channels)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = vec![false; pairs.len()];
    for i in hits {
        if let Some(b) = usize::try_from(i - 1).ok().and_then(|i| out.get_mut(i)) {
            *b = true;
        }
    }
    Ok(out)
}

/// One attempt of a contact so far.
#[derive(Debug, Clone, FromRow)]
pub struct PastAttempt {
    pub contact_id: Uuid,
    pub channel: String,
    pub to_address: String,
    pub n: i32,
    pub state: String,
    pub outcome: Option<String>,
}

/// Every attempt of these contacts, in order.
pub async fn of_contacts(conn: &mut PgConnection, tenant: TenantId, contacts: &[Uuid]) -> DomainResult<Vec<PastAttempt>> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as::<_, PastAttempt>(
        "SELECT contact_id, channel, to_address, n, state, outcome FROM attempts
          WHERE tenant_id = $1 AND contact_id = ANY($2) ORDER BY contact_id, seq",
    )
    .bind(tenant.0)
    .bind(contacts)
    .fetch_all(&mut *conn)
    .await?)
}

/// A new attempt (its outbox row is written with it).
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// The call interaction a dialer campaign's call is shown as (stored before).
    pub interaction_id: Option<Uuid>,
    pub channel: String,
    pub n: i32,
    pub to: String,
    pub from: Option<String>,
    pub body: Option<String>,
    pub subject: Option<String>,
    /// `sending` or `dialing`.
    pub state: &'static str,
    pub decided: &'static str,
    pub sink: &'static str,
    pub dial_timeout_secs: i32,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// Inserts attempts and their outbox rows (status = the attempt's state).
pub async fn insert(conn: &mut PgConnection, tenant: TenantId, rows: &[NewAttempt]) -> DomainResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&NewAttempt) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let campaigns: Vec<Option<Uuid>> = rows.iter().map(|r| r.campaign_id).collect();
    let contacts: Vec<Option<Uuid>> = rows.iter().map(|r| r.contact_id).collect();
    let ns: Vec<i32> = rows.iter().map(|r| r.n).collect();
    let timeouts: Vec<i32> = rows.iter().map(|r| r.dial_timeout_secs).collect();
    let started: Vec<DateTime<Utc>> = rows.iter().map(|r| r.started_at).collect();
    let due: Vec<DateTime<Utc>> = rows.iter().map(|r| r.due_at).collect();
    let delivery_ids: Vec<Uuid> = rows.iter().map(|_| new_id()).collect();
    let interactions: Vec<Option<Uuid>> = rows.iter().map(|r| r.interaction_id).collect();
    sqlx::query(
        "WITH src AS (
           SELECT * FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int4[], $7::text[], $8::text[], $9::text[],
                                $10::text[], $11::text[], $12::text[], $13::text[], $14::int4[], $15::timestamptz[], $16::timestamptz[],
                                $17::uuid[], $18::uuid[])
             AS u(id, campaign_id, contact_id, channel, n, to_address, from_address, body, subject, state, decided, sink,
                  dial_timeout_secs, started_at, due_at, delivery_id, interaction_id)),
         ins AS (
           INSERT INTO attempts (id, tenant_id, campaign_id, contact_id, interaction_id, channel, n, to_address, from_address, body,
                                 subject, state, decided, sink, dial_timeout_secs, started_at, due_at, created_at, updated_at)
           SELECT id, $1, campaign_id, contact_id, interaction_id, channel, n, to_address, from_address, body, subject, state, decided,
                  sink, dial_timeout_secs, started_at, due_at, started_at, started_at FROM src)
         INSERT INTO deliveries (id, tenant_id, campaign_id, contact_id, interaction_id, channel, to_address, from_address, body,
                                 subject, status, attrs, created_at, updated_at, attempt_id, n, sink)
         SELECT delivery_id, $1, campaign_id, contact_id, interaction_id, channel, to_address, from_address, body, subject, state,
                '{}'::jsonb, started_at, started_at, id, n, sink FROM src",
    )
    .bind(tenant.0)
    .bind(&ids)
    .bind(&campaigns)
    .bind(&contacts)
    .bind(col(|r| Some(r.channel.clone())))
    .bind(&ns)
    .bind(col(|r| Some(r.to.clone())))
    .bind(col(|r| r.from.clone()))
    .bind(col(|r| r.body.clone()))
    .bind(col(|r| r.subject.clone()))
    .bind(col(|r| Some(r.state.to_string())))
    .bind(col(|r| Some(r.decided.to_string())))
    .bind(col(|r| Some(r.sink.to_string())))
    .bind(&timeouts)
    .bind(&started)
    .bind(&due)
    .bind(&delivery_ids)
    .bind(&interactions)
    .execute(&mut *conn)
    .await?;
    super::outbox::note_recorded(rows.len() as u64);
    Ok(())
}

/// A delivery not attempted because its number was suppressed at send time.
#[derive(Debug, Clone)]
pub struct Suppressed {
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub channel: String,
    pub to: String,
    pub from: Option<String>,
    pub body: Option<String>,
    pub n: i32,
}

/// Outbox rows (status and outcome `suppressed`) of deliveries suppressed at send time.
pub async fn insert_suppressed(conn: &mut PgConnection, tenant: TenantId, rows: &[Suppressed], now: DateTime<Utc>) -> DomainResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|_| new_id()).collect();
    let campaigns: Vec<Uuid> = rows.iter().map(|r| r.campaign_id).collect();
    let contacts: Vec<Uuid> = rows.iter().map(|r| r.contact_id).collect();
    let channels: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
    let tos: Vec<&str> = rows.iter().map(|r| r.to.as_str()).collect();
    let froms: Vec<Option<&str>> = rows.iter().map(|r| r.from.as_deref()).collect();
    let bodies: Vec<Option<&str>> = rows.iter().map(|r| r.body.as_deref()).collect();
    let ns: Vec<i32> = rows.iter().map(|r| r.n).collect();
    sqlx::query(
        "INSERT INTO deliveries (id, tenant_id, campaign_id, contact_id, channel, to_address, from_address, body, status, outcome,
                                 attrs, created_at, updated_at, ended_at, n, sink)
         SELECT u.id, $1, u.campaign_id, u.contact_id, u.channel, u.to_address, u.from_address, u.body, 'suppressed', 'suppressed',
                '{}'::jsonb, $10, $10, $10, u.n, 'engine'
           FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int4[])
             AS u(id, campaign_id, contact_id, channel, to_address, from_address, body, n)",
    )
    .bind(tenant.0)
    .bind(&ids)
    .bind(&campaigns)
    .bind(&contacts)
    .bind(&channels)
    .bind(&tos)
    .bind(&froms)
    .bind(&bodies)
    .bind(&ns)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    super::outbox::note_recorded(rows.len() as u64);
    Ok(())
}

/// An attempt whose next move is due.
#[derive(Debug, Clone, FromRow)]
pub struct Due {
    pub id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub interaction_id: Option<Uuid>,
    pub channel: String,
    pub n: i32,
    pub to_address: String,
    pub state: String,
    pub decided: String,
    pub dial_timeout_secs: i32,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
}

/// Claims up to `limit` of the tenant's attempts due at `now` (oldest due first), with
/// `FOR UPDATE SKIP LOCKED`.
/// Only attempts of `campaigns` (or of no campaign) are taken.
pub async fn claim_due(
    conn: &mut PgConnection,
    tenant: TenantId,
    now: DateTime<Utc>,
    limit: i64,
    campaigns: &[Uuid],
) -> DomainResult<Vec<Due>> {
    Ok(sqlx::query_as::<_, Due>(
        "SELECT id, campaign_id, contact_id, interaction_id, channel, n, to_address, state, decided, dial_timeout_secs, started_at,
                answered_at, due_at
           FROM attempts WHERE tenant_id = $1 AND state <> 'done' AND due_at <= $2
            AND (campaign_id IS NULL OR campaign_id = ANY($4))
          ORDER BY due_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(tenant.0)
    .bind(now)
    .bind(limit)
    .bind(campaigns)
    .fetch_all(&mut *conn)
    .await?)
}

/// The next move of an attempt.
#[derive(Debug, Clone)]
pub struct Move {
    pub id: Uuid,
    pub state: &'static str,
    /// Set once done.
    pub outcome: Option<&'static str>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// The next move's time (None once done).
    pub due_at: Option<DateTime<Utc>>,
    /// When this move happened.
    pub at: DateTime<Utc>,
}

/// Applies moves to attempts and their outbox rows (status = the new state, or the outcome
/// once done).
pub async fn apply_moves(conn: &mut PgConnection, tenant: TenantId, moves: &[Move]) -> DomainResult<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = moves.iter().map(|m| m.id).collect();
    let states: Vec<&str> = moves.iter().map(|m| m.state).collect();
    let outcomes: Vec<Option<&str>> = moves.iter().map(|m| m.outcome).collect();
    let answered: Vec<Option<DateTime<Utc>>> = moves.iter().map(|m| m.answered_at).collect();
    let ended: Vec<Option<DateTime<Utc>>> = moves.iter().map(|m| m.ended_at).collect();
    let durations: Vec<Option<i64>> = moves.iter().map(|m| m.duration_ms).collect();
    let due: Vec<Option<DateTime<Utc>>> = moves.iter().map(|m| m.due_at).collect();
    let at: Vec<DateTime<Utc>> = moves.iter().map(|m| m.at).collect();
    sqlx::query(
        "WITH u AS (
           SELECT * FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::int8[],
                                $8::timestamptz[], $9::timestamptz[])
             AS u(id, state, outcome, answered_at, ended_at, duration_ms, due_at, at)),
         upd AS (
           UPDATE attempts a SET state = u.state, outcome = u.outcome, answered_at = COALESCE(u.answered_at, a.answered_at),
                  ended_at = u.ended_at, duration_ms = u.duration_ms, due_at = u.due_at, updated_at = u.at
             FROM u WHERE a.tenant_id = $1 AND a.id = u.id)
         UPDATE deliveries d SET status = COALESCE(u.outcome, u.state), outcome = u.outcome, updated_at = u.at, ended_at = u.ended_at
           FROM u WHERE d.tenant_id = $1 AND d.attempt_id = u.id",
    )
    .bind(tenant.0)
    .bind(&ids)
    .bind(&states)
    .bind(&outcomes)
    .bind(&answered)
    .bind(&ended)
    .bind(&durations)
    .bind(&due)
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A contact's new state.
#[derive(Debug, Clone)]
pub struct ContactChange {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub status: &'static str,
    /// Attempts started by this change (added to `attempts`).
    pub started: i32,
    pub outcome: Option<&'static str>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    /// For the event and the progress callback.
    pub channel: String,
    pub attempts: i32,
    pub max_retries: i32,
}

/// Stores contacts' new states, each with an `events` row (kind `dial_attempt`, data
/// `{status, outcome, channel, attempts, max_retries, next_attempt_at}`) and,
/// for campaigns that have a progress URL (`progress_url` gives it), a `progress` job.
pub async fn change_contacts(
    conn: &mut PgConnection,
    tenant: TenantId,
    changes: &[ContactChange],
    progress_url: impl Fn(Uuid) -> Option<String>,
) -> DomainResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = changes.iter().map(|c| c.id).collect();
    let statuses: Vec<&str> = changes.iter().map(|c| c.status).collect();
    let started: Vec<i32> = changes.iter().map(|c| c.started).collect();
    let outcomes: Vec<Option<&str>> = changes.iter().map(|c| c.outcome).collect();
    let next: Vec<Option<DateTime<Utc>>> = changes.iter().map(|c| c.next_attempt_at).collect();
    let at: Vec<DateTime<Utc>> = changes.iter().map(|c| c.at).collect();
    sqlx::query(
        "UPDATE contacts k SET status = u.status, attempts = k.attempts + u.started,
                last_outcome = COALESCE(u.outcome, k.last_outcome),
                last_attempt_at = CASE WHEN u.started > 0 THEN u.at ELSE k.last_attempt_at END,
                next_attempt_at = u.next_attempt_at, updated_at = u.at
           FROM UNNEST($2::uuid[], $3::text[], $4::int4[], $5::text[], $6::timestamptz[], $7::timestamptz[])
             AS u(id, status, started, outcome, next_attempt_at, at)
          WHERE k.tenant_id = $1 AND k.id = u.id",
    )
    .bind(tenant.0)
    .bind(&ids)
    .bind(&statuses)
    .bind(&started)
    .bind(&outcomes)
    .bind(&next)
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    // events
    let ev_ids: Vec<Uuid> = changes.iter().map(|_| new_id()).collect();
    let campaigns: Vec<Uuid> = changes.iter().map(|c| c.campaign_id).collect();
    let data: Vec<Value> = changes
        .iter()
        .map(|c| {
            json!({"status": c.status, "outcome": c.outcome, "channel": c.channel, "attempts": c.attempts,
                   "max_retries": c.max_retries, "next_attempt_at": c.next_attempt_at})
        })
        .collect();
    sqlx::query(
        "INSERT INTO events (id, tenant_id, kind, campaign_id, contact_id, data, created_at)
         SELECT u.id, $1, 'dial_attempt', u.campaign_id, u.contact_id, u.data, u.at
           FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::jsonb[], $6::timestamptz[]) AS u(id, campaign_id, contact_id, data, at)",
    )
    .bind(tenant.0)
    .bind(&ev_ids)
    .bind(&campaigns)
    .bind(&ids)
    .bind(&data)
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    // progress jobs
    let mut job_ids = Vec::new();
    let mut job_campaigns = Vec::new();
    let mut payloads = Vec::new();
    let mut job_at = Vec::new();
    for c in changes {
        let Some(url) = progress_url(c.campaign_id) else { continue };
        job_ids.push(new_id());
        job_campaigns.push(c.campaign_id);
        payloads.push(json!({
            "campaign_id": c.campaign_id, "contact_id": c.id, "channel": c.channel, "status": c.status,
            "outcome": c.outcome, "attempts": c.attempts, "max_retries": c.max_retries, "url": url,
            "at": c.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }));
        job_at.push(c.at);
    }
    if !job_ids.is_empty() {
        // `run_at` is the worker's schedule (real time, as in `jobs::enqueue`); in order
        // of the changes (`seq`).
        sqlx::query(
            "INSERT INTO jobs (id, tenant_id, kind, status, epoch, payload, campaign_id, run_at, created_at, updated_at)
             SELECT u.id, $1, 'progress', 'queued', t.epoch, u.payload, u.campaign_id, now(), u.at, u.at
               FROM UNNEST($2::uuid[], $3::uuid[], $4::jsonb[], $5::timestamptz[]) WITH ORDINALITY AS u(id, campaign_id, payload, at, i)
               JOIN tenants t ON t.id = $1 ORDER BY u.i",
        )
        .bind(tenant.0)
        .bind(&job_ids)
        .bind(&job_campaigns)
        .bind(&payloads)
        .bind(&job_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The contacts of a cancelled campaign that wait for an attempt (`pending`,
/// `retry_wait`), locked: (id, attempts, max_retries).
pub async fn claim_cancelled(conn: &mut PgConnection, tenant: TenantId, campaign: Uuid, limit: i64) -> DomainResult<Vec<(Uuid, i32, i32)>> {
    Ok(sqlx::query_as(
        "SELECT id, attempts, max_retries FROM contacts
          WHERE tenant_id = $1 AND campaign_id = $2 AND status IN ('pending', 'retry_wait')
          ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// A campaign the engine may have work for, with what decides when.
#[derive(Debug, Clone, FromRow)]
pub struct Active {
    pub id: Uuid,
    pub status: String,
    pub kind: String,
    pub channel: Option<String>,
    pub attrs: Value,
    pub updated_at: DateTime<Utc>,
    /// Earliest time a `pending` or `retry_wait` contact may be attempted (None: none).
    pub claim_at: Option<DateTime<Utc>>,
    /// Whether a contact is not final yet.
    pub open: bool,
}

/// The tenant's running and cancelled campaigns (not deleted).
pub async fn active_campaigns<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<Active>> {
    Ok(sqlx::query_as::<_, Active>(
        "SELECT c.id, c.status, c.kind, c.channel, c.attrs, c.updated_at,
                (SELECT min(GREATEST(k.created_at, COALESCE(k.next_attempt_at, k.created_at))) FROM contacts k
                  WHERE k.tenant_id = $1 AND k.campaign_id = c.id AND k.status IN ('pending', 'retry_wait')) AS claim_at,
                (EXISTS (SELECT 1 FROM contacts k WHERE k.tenant_id = $1 AND k.campaign_id = c.id
                            AND k.status IN ('pending', 'retry_wait'))
                 OR EXISTS (SELECT 1 FROM contacts k WHERE k.tenant_id = $1 AND k.campaign_id = c.id
                               AND k.status IN ('dialing', 'connected', 'sending', 'queued'))) AS open
           FROM campaigns c
          WHERE c.tenant_id = $1 AND c.deleted_at IS NULL AND c.status IN ('running', 'cancelled')
            AND (c.status = 'running' OR EXISTS (SELECT 1 FROM contacts k WHERE k.tenant_id = $1 AND k.campaign_id = c.id
                                                   AND k.status IN ('pending', 'retry_wait')))",
    )
    .bind(tenant.0)
    .fetch_all(db)
    .await?)
}

/// The earliest start of the tenant's scheduled campaigns (its start time, or when it was
/// scheduled if that is later) and due time of its attempts in flight.
pub async fn next_times<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    let r = sqlx::query(
        "SELECT (SELECT min(GREATEST(starts_at, updated_at)) FROM campaigns WHERE tenant_id = $1 AND status = 'scheduled' AND deleted_at IS NULL
                    AND starts_at IS NOT NULL) AS start_at,
                (SELECT min(due_at) FROM attempts WHERE tenant_id = $1 AND state <> 'done') AS due_at",
    )
    .bind(tenant.0)
    .fetch_one(db)
    .await?;
    Ok((r.try_get("start_at")?, r.try_get("due_at")?))
}

/// The tenant's scheduled campaigns whose start time is at or before `now`, locked
/// (`SKIP LOCKED`).
pub async fn due_to_start(conn: &mut PgConnection, tenant: TenantId, now: DateTime<Utc>) -> DomainResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM campaigns WHERE tenant_id = $1 AND status = 'scheduled' AND deleted_at IS NULL
            AND starts_at IS NOT NULL AND starts_at <= $2
          ORDER BY starts_at FOR NO KEY UPDATE SKIP LOCKED",
    )
    .bind(tenant.0)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?)
}

/// Contact states that keep a campaign open.
const OPEN_STATES: &[&str] = &[
    cst::PENDING,
    cst::RETRY_WAIT,
    cst::DIALING,
    cst::CONNECTED,
    cst::SENDING,
    cst::QUEUED,
];
/// Contact states of an attempt in flight (what keeps a campaign past its end open).
const IN_FLIGHT_STATES: &[&str] = &[cst::DIALING, cst::CONNECTED, cst::SENDING, cst::QUEUED];

/// Locks a running campaign (`SKIP LOCKED`) and tells whether it is finished: `None` when
/// it is not running, locked by another replica, or has a contact that is not final;
/// `Some(delivered)` otherwise, where `delivered` is false only when attempts were made
/// and none succeeded.
pub async fn finished(conn: &mut PgConnection, tenant: TenantId, campaign: Uuid, success: &[&str]) -> DomainResult<Option<bool>> {
    finished_unless(conn, tenant, campaign, success, OPEN_STATES).await
}

/// [`finished`] for a campaign past its end (`policy.until`): contacts still waiting
/// (`pending`, `retry_wait`) do not keep it open, only attempts in flight do.
pub async fn finished_at_end(conn: &mut PgConnection, tenant: TenantId, campaign: Uuid, success: &[&str]) -> DomainResult<Option<bool>> {
    finished_unless(conn, tenant, campaign, success, IN_FLIGHT_STATES).await
}

/// [`finished`] where a contact in one of `open` states keeps the campaign open.
async fn finished_unless(
    conn: &mut PgConnection,
    tenant: TenantId,
    campaign: Uuid,
    success: &[&str],
    open: &[&str],
) -> DomainResult<Option<bool>> {
    let r = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM contacts k WHERE k.tenant_id = $1 AND k.campaign_id = c.id
                           AND k.status = ANY($4)) AS open,
                EXISTS (SELECT 1 FROM attempts a WHERE a.tenant_id = $1 AND a.campaign_id = c.id) AS tried,
                EXISTS (SELECT 1 FROM attempts a WHERE a.tenant_id = $1 AND a.campaign_id = c.id AND a.outcome = ANY($3)) AS ok
           FROM campaigns c WHERE c.tenant_id = $1 AND c.id = $2 AND c.status = 'running' AND c.deleted_at IS NULL
           FOR NO KEY UPDATE OF c SKIP LOCKED",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(success)
    .bind(open)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = r else { return Ok(None) };
    if r.try_get::<bool, _>("open")? {
        return Ok(None);
    }
    let tried: bool = r.try_get("tried")?;
    let ok: bool = r.try_get("ok")?;
    Ok(Some(ok || !tried))
}

/// Tenants with their now (given the process clock `base`) that may have engine work:
/// a scheduled campaign due, an attempt in flight, a running campaign, or a cancelled
/// one with contacts waiting.
pub async fn busy_tenants<'e>(db: impl PgExecutor<'e>, base: DateTime<Utc>) -> DomainResult<Vec<(Uuid, DateTime<Utc>)>> {
    Ok(sqlx::query_as(
        "SELECT t.id, COALESCE(t.clock_frozen_at, $1::timestamptz + make_interval(secs => t.clock_offset_seconds)) AS now
           FROM tenants t
          WHERE EXISTS (SELECT 1 FROM campaigns c WHERE c.tenant_id = t.id AND c.deleted_at IS NULL
                           AND (c.status IN ('running', 'cancelled') OR (c.status = 'scheduled' AND c.starts_at IS NOT NULL)))
             OR EXISTS (SELECT 1 FROM attempts a WHERE a.tenant_id = t.id AND a.state <> 'done')
          ORDER BY t.seq",
    )
    .bind(base)
    .fetch_all(db)
    .await?)
}

// ---------------------------------------------------------------------------------------
// The tenant's carrier rules (`PUT /admin/v1/tenants/{slug}/carrier-rules`)

/// One stored rule: a glob on the destination, a channel (`None` = every channel) and
/// outcome names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct StoredRule {
    pub pattern: String,
    pub channel: Option<String>,
    pub outcomes: Vec<String>,
}

/// The tenant's rules in order.
pub async fn rules<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<StoredRule>> {
    Ok(
        sqlx::query_as::<_, StoredRule>("SELECT pattern, channel, outcomes FROM carrier_rules WHERE tenant_id = $1 ORDER BY position, seq")
            .bind(tenant.0)
            .fetch_all(db)
            .await?,
    )
}

/// Replaces the tenant's rules (checked by the caller), in one transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn replace_rules(db: &sqlx::PgPool, tenant: TenantId, rules: &[StoredRule], now: DateTime<Utc>) -> DomainResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM carrier_rules WHERE tenant_id = $1")
        .bind(tenant.0)
        .execute(&mut *tx)
        .await?;
    for (i, r) in rules.iter().enumerate() {
        sqlx::query(
            "INSERT INTO carrier_rules (id, tenant_id, position, pattern, channel, outcomes, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::new_v4())
        .bind(tenant.0)
        .bind(i32::try_from(i).unwrap_or(i32::MAX))
        .bind(&r.pattern)
        .bind(&r.channel)
        .bind(&r.outcomes)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What the runner needs of a contact whose attempt finished.
#[derive(Debug, Clone, FromRow)]
pub struct ContactBrief {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub status: String,
    pub attempts: i32,
    pub max_retries: i32,
}

/// These contacts (of the tenant), locked for the change that follows.
pub async fn contacts_brief(conn: &mut PgConnection, tenant: TenantId, ids: &[Uuid]) -> DomainResult<Vec<ContactBrief>> {
    Ok(sqlx::query_as::<_, ContactBrief>(
        "SELECT id, campaign_id, status, attempts, max_retries FROM contacts
          WHERE tenant_id = $1 AND id = ANY($2) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(tenant.0)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?)
}

/// Kind, channel and attrs of these campaigns of the tenant.
pub async fn campaigns_attrs(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[Uuid],
) -> DomainResult<Vec<(Uuid, String, Option<String>, Value)>> {
    Ok(
        sqlx::query_as("SELECT id, kind, channel, attrs FROM campaigns WHERE tenant_id = $1 AND id = ANY($2)")
            .bind(tenant.0)
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Puts `e164` on the tenant's opt-out list for `channel` (source `carrier`), adding the
/// channel to an entry that is there already (its other channels stay).
pub async fn opt_out(conn: &mut PgConnection, tenant: TenantId, e164: &str, channel: &str, now: DateTime<Utc>) -> DomainResult<()> {
    sqlx::query(
        "INSERT INTO suppressions (id, tenant_id, list, list_name, number, original, channels, source, expires_at, created_at, updated_at)
         VALUES ($1, $2, 'opt_out', '', $3, $3, ARRAY[$4], 'carrier', NULL, $5, $5)
         ON CONFLICT (tenant_id, list, list_name, number) DO UPDATE
            SET channels = ARRAY(SELECT DISTINCT c FROM unnest(suppressions.channels || EXCLUDED.channels) AS c ORDER BY c),
                expires_at = NULL, updated_at = EXCLUDED.updated_at",
    )
    .bind(Uuid::new_v4())
    .bind(tenant.0)
    .bind(e164)
    .bind(channel)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The first statement of every engine batch transaction (`engine::attempts`, module doc):
/// - takes `FOR KEY SHARE` on the tenant row and on the batch's `campaigns` — the lock
///   the batch's foreign keys would take anyway — before the batch locks contacts or
///   attempts, so the engine locks in the same order as the dialects (campaign, then its
///   contacts) and never deadlocks with them; it blocks no campaign update but a delete;
/// - turns sorting off until [`end_claim`] (`enable_sort`), so the claims walk their
///   index in the claim order (`contacts_claimable`, `attempts_tenant_due_seq`) and stop
///   after one batch, whatever the planner's statistics say: right after a bulk import
///   they are stale, and a plan that sorts every open contact or attempt of the campaign
///   on each batch makes a campaign quadratic in its size;
/// - when the role may (a superuser, as the embedded cluster's is), skips the per-row
///   foreign-key triggers of the batch's inserts (`session_replication_role`), as the
///   staged imports do: the rows they refer to are held by the batch itself — the
///   tenant and campaigns here, the contacts by their claim (`FOR UPDATE`) or
///   [`contacts_brief`] (`FOR NO KEY UPDATE`), a call interaction inserted in the same
///   transaction — so none can go before the batch commits. The only other triggers on
///   the rows a batch writes are the read caches' on `interactions`, which fire for
///   waiting (`queued`) calls of a menu only, never for an engine's call.
pub async fn begin_batch(conn: &mut PgConnection, tenant: TenantId, campaigns: &[Uuid]) -> DomainResult<()> {
    sqlx::query(
        "SELECT set_config('enable_sort', 'off', true),
                (SELECT set_config('session_replication_role', 'replica', true) WHERE current_setting('is_superuser') = 'on'),
                (SELECT count(*) FROM (SELECT 1 FROM tenants WHERE id = $1 FOR KEY SHARE) t),
                (SELECT count(*) FROM (SELECT id FROM campaigns WHERE tenant_id = $1 AND id = ANY($2) ORDER BY id FOR KEY SHARE) c)",
    )
    .bind(tenant.0)
    .bind(campaigns)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends the claim of a batch: sorting is back on for the batch's other statements (see
/// [`begin_batch`]).
pub async fn end_claim(conn: &mut PgConnection) -> DomainResult<()> {
    sqlx::query("SELECT set_config('enable_sort', 'on', true)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The campaigns of the tenant's next `limit` attempts due at `now`, locked `FOR KEY
/// SHARE` (as by [`begin_batch`]) in the same statement.
pub async fn due_campaigns(conn: &mut PgConnection, tenant: TenantId, now: DateTime<Utc>, limit: i64) -> DomainResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM campaigns
          WHERE tenant_id = $1
            AND id IN (SELECT campaign_id FROM (SELECT campaign_id FROM attempts
                                                 WHERE tenant_id = $1 AND state <> 'done' AND due_at <= $2
                                                 ORDER BY due_at, seq LIMIT $3) d WHERE campaign_id IS NOT NULL)
          ORDER BY id FOR KEY SHARE",
    )
    .bind(tenant.0)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Whether a contact of the campaign has an attempt in flight (`dialing`, `connected`,
/// `sending`, `queued`).
pub async fn in_flight<'e>(db: impl PgExecutor<'e>, tenant: TenantId, campaign: Uuid) -> DomainResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM contacts k WHERE k.tenant_id = $1 AND k.campaign_id = $2
                           AND k.status IN ('dialing', 'connected', 'sending', 'queued'))",
    )
    .bind(tenant.0)
    .bind(campaign)
    .fetch_one(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_ids_follow_each_other() {
        let a = new_id();
        let b = new_id();
        assert!(b > a, "{a} {b}");
        assert_eq!(a.as_bytes()[..6], b.as_bytes()[..6]);
        assert_eq!(a.get_version_num(), 8);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
    }
}

//! Attempts of single interactions: an outbound SMS of a messaging session, an outbound
//! or a scheduled call. They are rows of the engine's `attempts` table with an
//! `interaction_id` (no campaign, no contact), each with its outbox row, and the engine
//! moves them on the tenant clock like a campaign's.
//!
//! An interaction's attempt is stored *undecided* (`decided = ''`): the carrier decides
//! its outcome when it starts, in the engine (the domain knows no carrier):
//! - an SMS starts at once: stored `sending` (outbox `sending`), due at its creation;
//! - a call is stored [`SCHEDULED`] (outbox `scheduled`), due at its start time (the
//!   scheduled time of a scheduled call; a moment after creation for an outbound call),
//!   and starts `dialing` then; its interaction turns `connecting`.
//!
//! [`claim_undecided`] and [`apply_decisions`] are the engine's start of such attempts;
//! [`follow`] keeps the interaction in step with every later move of its attempt, in the
//! engine's transaction:
//!
//! | attempt | call interaction | SMS interaction |
//! | --- | --- | --- |
//! | starts dialing | `connecting` | — |
//! | `connected` (answered) | `connected` (`connected_at`) | — |
//! | done, answered / voicemail / opt-out / abandoned | `finished` | — |
//! | done, delivered | — | `connected` (the session goes on) |
//! | done, opt-out (delivered, then "STOP") | — | `finished` |
//! | done, any failure | `failed` (`fail_reason` = the outcome) | `failed` (`fail_reason`) |
//!
//! A done attempt also writes `outcome`, `call_duration` (seconds connected) and
//! `ended_at` (when the interaction ended) into the interaction.
//!
//! Suppression is checked again when an attempt starts: a number opted out (on the
//! channel) or put on the DNC list since the interaction was made is not contacted
//! ([`suppress`]: outbox `suppressed`, interaction `failed`, `fail_reason` `suppressed`).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::attempts::{state, Move};
use super::{DomainResult, TenantId};

/// Attempt state of a call waiting for its start time (not an attempt in flight yet).
pub const SCHEDULED: &str = "scheduled";
/// `attempts.decided` of an attempt whose outcome the carrier has not decided yet.
pub const UNDECIDED: &str = "";

/// A new attempt of an interaction.
#[derive(Debug, Clone)]
pub struct NewSingle {
    pub interaction_id: Uuid,
    /// `voice` or `sms`.
    pub channel: String,
    pub to: String,
    pub from: Option<String>,
    pub body: Option<String>,
    /// When it starts (an SMS: now; a call: its start time).
    pub start_at: DateTime<Utc>,
    /// Extra outbox attrs (e.g. the vendor's chat id).
    pub attrs: Value,
}

/// Stores an undecided attempt of an interaction and its outbox row (module doc), in the
/// caller's transaction. An SMS is `sending`, a call [`SCHEDULED`].
pub async fn insert(conn: &mut PgConnection, tenant: TenantId, a: &NewSingle, now: DateTime<Utc>) -> DomainResult<Uuid> {
    let id = Uuid::new_v4();
    let st8 = if a.channel == "voice" { SCHEDULED } else { state::SENDING };
    let attrs = if a.attrs.is_object() { a.attrs.clone() } else { json!({}) };
    sqlx::query(
        "WITH ins AS (
           INSERT INTO attempts (id, tenant_id, interaction_id, channel, n, to_address, from_address, body, state, decided,
                                 sink, started_at, due_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, '', 'engine', $9, $9, $10, $10))
         INSERT INTO deliveries (id, tenant_id, interaction_id, channel, to_address, from_address, body, status, attrs,
                                 created_at, updated_at, attempt_id, n, sink)
         VALUES ($11, $2, $3, $4, $5, $6, $7, $8, $12, $9, $10, $1, 1, 'engine')",
    )
    .bind(id)
    .bind(tenant.0)
    .bind(a.interaction_id)
    .bind(&a.channel)
    .bind(&a.to)
    .bind(&a.from)
    .bind(&a.body)
    .bind(st8)
    .bind(a.start_at)
    .bind(now)
    .bind(Uuid::new_v4())
    .bind(attrs)
    .execute(&mut *conn)
    .await?;
    super::outbox::note_recorded(1);
    Ok(id)
}

/// An interaction's attempt due to start.
#[derive(Debug, Clone, FromRow)]
pub struct Undecided {
    pub id: Uuid,
    pub interaction_id: Option<Uuid>,
    pub channel: String,
    pub n: i32,
    pub to_address: String,
    pub from_address: Option<String>,
    pub body: Option<String>,
    pub subject: Option<String>,
    pub state: String,
    pub dial_timeout_secs: i32,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// Claims up to `limit` of the tenant's undecided attempts due at `now` (oldest first),
/// with `FOR UPDATE SKIP LOCKED`.
pub async fn claim_undecided(conn: &mut PgConnection, tenant: TenantId, now: DateTime<Utc>, limit: i64) -> DomainResult<Vec<Undecided>> {
    Ok(sqlx::query_as::<_, Undecided>(
        "SELECT id, interaction_id, channel, n, to_address, from_address, body, subject, state, dial_timeout_secs, started_at, due_at
           FROM attempts WHERE tenant_id = $1 AND state <> 'done' AND decided = '' AND due_at <= $2
          ORDER BY due_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(tenant.0)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// The carrier's decision on an attempt that starts.
#[derive(Debug, Clone)]
pub struct Decision {
    pub id: Uuid,
    pub interaction_id: Option<Uuid>,
    /// `sending` or `dialing`.
    pub state: &'static str,
    pub decided: &'static str,
    pub sink: &'static str,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its next move.
    pub due_at: DateTime<Utc>,
}

/// Stores decisions: the attempts, their outbox rows and, for calls that start dialing,
/// their interactions (`connecting`).
pub async fn apply_decisions(conn: &mut PgConnection, tenant: TenantId, ds: &[Decision]) -> DomainResult<()> {
    if ds.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = ds.iter().map(|d| d.id).collect();
    let states: Vec<&str> = ds.iter().map(|d| d.state).collect();
    let decided: Vec<&str> = ds.iter().map(|d| d.decided).collect();
    let sinks: Vec<&str> = ds.iter().map(|d| d.sink).collect();
    let started: Vec<DateTime<Utc>> = ds.iter().map(|d| d.started_at).collect();
    let due: Vec<DateTime<Utc>> = ds.iter().map(|d| d.due_at).collect();
    sqlx::query(
        "WITH u AS (
           SELECT * FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
             AS u(id, state, decided, sink, started_at, due_at)),
         upd AS (
           UPDATE attempts a SET state = u.state, decided = u.decided, sink = u.sink, started_at = u.started_at,
                  due_at = u.due_at, updated_at = u.started_at
             FROM u WHERE a.tenant_id = $1 AND a.id = u.id)
         UPDATE deliveries d SET status = u.state, sink = u.sink, updated_at = u.started_at
           FROM u WHERE d.tenant_id = $1 AND d.attempt_id = u.id",
    )
    .bind(tenant.0)
    .bind(&ids)
    .bind(&states)
    .bind(&decided)
    .bind(&sinks)
    .bind(&started)
    .bind(&due)
    .execute(&mut *conn)
    .await?;
    let calls: Vec<&Decision> = ds
        .iter()
        .filter(|d| d.state == state::DIALING && d.interaction_id.is_some())
        .collect();
    if !calls.is_empty() {
        let ids: Vec<Option<Uuid>> = calls.iter().map(|d| d.interaction_id).collect();
        let at: Vec<DateTime<Utc>> = calls.iter().map(|d| d.started_at).collect();
        sqlx::query(
            "UPDATE interactions i SET status = 'connecting', updated_at = u.at,
                    attrs = i.attrs || jsonb_build_object('connecting_at', to_jsonb(u.at))
               FROM UNNEST($2::uuid[], $3::timestamptz[]) AS u(id, at)
              WHERE i.tenant_id = $1 AND i.id = u.id",
        )
        .bind(tenant.0)
        .bind(&ids)
        .bind(&at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Ends, without an attempt, the undecided attempts whose number was suppressed (opt-out
/// on the channel, or DNC) by the time they were to start: attempt done and outbox row
/// `suppressed`, interaction `failed` with `fail_reason` `suppressed`. `rows` are
/// (attempt, interaction) pairs.
pub async fn suppress(conn: &mut PgConnection, tenant: TenantId, rows: &[(Uuid, Option<Uuid>)], at: DateTime<Utc>) -> DomainResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let interactions: Vec<Uuid> = rows.iter().filter_map(|r| r.1).collect();
    sqlx::query(
        "WITH upd AS (
           UPDATE attempts SET state = 'done', decided = 'suppressed', outcome = 'suppressed', sink = 'engine',
                  started_at = $3, ended_at = $3, duration_ms = 0, due_at = NULL, updated_at = $3
            WHERE tenant_id = $1 AND id = ANY($2))
         UPDATE deliveries SET status = 'suppressed', outcome = 'suppressed', updated_at = $3, ended_at = $3
          WHERE tenant_id = $1 AND attempt_id = ANY($2)",
    )
    .bind(tenant.0)
    .bind(&ids)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE interactions SET status = 'failed', ended_at = $3, updated_at = $3,
                attrs = attrs || '{\"outcome\": \"suppressed\", \"fail_reason\": \"suppressed\"}'::jsonb
          WHERE tenant_id = $1 AND id = ANY($2)",
    )
    .bind(tenant.0)
    .bind(&interactions)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Outcomes after which a call counts as connected (it ends `finished`).
const CALL_REACHED: &[&str] = &["answered", "voicemail", "opt_out", "abandoned"];

/// The status an interaction of `kind` (`call`, `sms`) takes when its attempt moves to
/// `attempt_state` with `outcome` (module doc); None: unchanged.
pub fn interaction_status(kind: &str, attempt_state: &str, outcome: Option<&str>) -> Option<&'static str> {
    match (kind, attempt_state, outcome) {
        ("call", state::CONNECTED, _) => Some("connected"),
        ("call", state::DONE, Some(o)) if CALL_REACHED.contains(&o) => Some("finished"),
        ("sms", state::DONE, Some("delivered")) => Some("connected"),
        ("sms", state::DONE, Some("opt_out")) => Some("finished"),
        (_, state::DONE, _) => Some("failed"),
        _ => None,
    }
}

/// Keeps the interactions of moved attempts in step (module doc), in the engine's
/// transaction. Moves of campaign attempts are ignored.
pub async fn follow(conn: &mut PgConnection, tenant: TenantId, moves: &[Move]) -> DomainResult<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = moves.iter().map(|m| m.id).collect();
    let found: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT a.id, i.id, i.kind FROM attempts a JOIN interactions i ON i.tenant_id = a.tenant_id AND i.id = a.interaction_id
          WHERE a.tenant_id = $1 AND a.id = ANY($2) AND a.interaction_id IS NOT NULL",
    )
    .bind(tenant.0)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    if found.is_empty() {
        return Ok(());
    }
    let mut targets = Vec::new();
    let mut statuses = Vec::new();
    let mut ended = Vec::new();
    let mut patches = Vec::new();
    let mut ats = Vec::new();
    for (attempt, interaction, kind) in &found {
        let Some(m) = moves.iter().find(|m| m.id == *attempt) else {
            continue;
        };
        let Some(status) = interaction_status(kind, m.state, m.outcome) else {
            continue;
        };
        let mut patch = serde_json::Map::new();
        if m.state == state::CONNECTED {
            patch.insert("connected_at".into(), json!(m.at));
        }
        let mut end = None;
        if m.state == state::DONE {
            patch.insert("outcome".into(), json!(m.outcome));
            if kind == "call" {
                patch.insert("call_duration".into(), json!(m.duration_ms.unwrap_or(0) / 1000));
            }
            if status == "failed" {
                patch.insert("fail_reason".into(), json!(m.outcome));
            }
            if status != "connected" {
                end = Some(m.at);
            }
        }
        targets.push(*interaction);
        statuses.push(status);
        ended.push(end);
        patches.push(Value::Object(patch));
        ats.push(m.at);
    }
    sqlx::query(
        "UPDATE interactions i SET status = u.status, ended_at = COALESCE(u.ended_at, i.ended_at), attrs = i.attrs || u.patch,
                updated_at = u.at
           FROM UNNEST($2::uuid[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::timestamptz[]) AS u(id, status, ended_at, patch, at)
          WHERE i.tenant_id = $1 AND i.id = u.id",
    )
    .bind(tenant.0)
    .bind(&targets)
    .bind(&statuses)
    .bind(&ended)
    .bind(&patches)
    .bind(&ats)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactions_follow_their_attempts() {
        assert_eq!(interaction_status("call", state::DIALING, None), None);
        assert_eq!(interaction_status("call", state::CONNECTED, None), Some("connected"));
        for o in CALL_REACHED {
            assert_eq!(interaction_status("call", state::DONE, Some(o)), Some("finished"));
        }
        for o in ["no_answer", "busy", "invalid", "unreachable", "carrier_error"] {
            assert_eq!(interaction_status("call", state::DONE, Some(o)), Some("failed"));
        }
        assert_eq!(interaction_status("sms", state::SENDING, None), None);
        assert_eq!(interaction_status("sms", state::DONE, Some("delivered")), Some("connected"));
        assert_eq!(interaction_status("sms", state::DONE, Some("opt_out")), Some("finished"));
        assert_eq!(interaction_status("sms", state::DONE, Some("undelivered")), Some("failed"));
    }
}

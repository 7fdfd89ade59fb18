//! Campaigns: one table for every dialect.
//!
//! Lifecycle: `draft → scheduled → running ⇄ paused → completed | failed | cancelled`.
//! The engine moves `scheduled` campaigns to `running` when their start time passes on
//! the tenant's clock, and `running` ones to `completed` when no contact is left pending.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// Campaign statuses.
pub mod status {
    pub const DRAFT: &str = "draft";
    pub const SCHEDULED: &str = "scheduled";
    pub const RUNNING: &str = "running";
    pub const PAUSED: &str = "paused";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
    /// Every status, in lifecycle order.
    pub const ALL: &[&str] = &[DRAFT, SCHEDULED, RUNNING, PAUSED, COMPLETED, FAILED, CANCELLED];
}

/// Campaign kinds (which vendor concept made it; every dialect sees every campaign).
pub mod kind {
    pub const OUTBOUND_DIALER: &str = "outbound_dialer";
    pub const LEADS: &str = "leads";
    pub const SMS: &str = "sms";
    pub const VOICE: &str = "voice";
    pub const ONC: &str = "onc";
    pub const ALL: &[&str] = &[OUTBOUND_DIALER, LEADS, SMS, VOICE, ONC];
}

/// A campaign row.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Campaign {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub channel: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub attrs: serde_json::Value,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Campaign`], for dialect queries.
pub const COLS: &str = "id, seq, tenant_id, name, kind, status, channel, starts_at, ends_at, attrs, deleted_at, created_at, updated_at";

/// Fields of a new campaign.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct NewCampaign {
    /// Client-chosen id (ONC); a new one when None.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub attrs: Option<serde_json::Value>,
}

/// Checks a new campaign's name, kind and status; returns its initial status (`draft`
/// when none is given).
pub(crate) fn check_new(c: &NewCampaign) -> DomainResult<String> {
    if c.name.trim().is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    if !kind::ALL.contains(&c.kind.as_str()) {
        return Err(DomainError::validation("kind", format!("must be one of {}", kind::ALL.join(", "))));
    }
    let st = c.status.clone().unwrap_or_else(|| status::DRAFT.into());
    if !status::ALL.contains(&st.as_str()) {
        return Err(DomainError::validation(
            "status",
            format!("must be one of {}", status::ALL.join(", ")),
        ));
    }
    Ok(st)
}

/// Creates a campaign; `now` is the tenant's clock.
pub async fn create<'e>(db: impl PgExecutor<'e>, tenant: TenantId, c: NewCampaign, now: DateTime<Utc>) -> DomainResult<Campaign> {
    let st = check_new(&c)?;
    let sql = format!(
        "INSERT INTO campaigns (id, tenant_id, name, kind, status, channel, starts_at, ends_at, attrs, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (id) DO NOTHING RETURNING {COLS}"
    );
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(c.id.unwrap_or_else(Uuid::new_v4))
        .bind(tenant.0)
        .bind(c.name.trim())
        .bind(&c.kind)
        .bind(&st)
        .bind(&c.channel)
        .bind(c.starts_at)
        .bind(c.ends_at)
        .bind(c.attrs.unwrap_or_else(|| serde_json::json!({})))
        .bind(now)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| DomainError::Conflict("a campaign with this id already exists".into()))
}

/// One campaign of the tenant (deleted ones are not found).
pub async fn get<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Campaign> {
    let sql = format!("SELECT {COLS} FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL");
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("campaign"))
}

/// One campaign by its integer id.
pub async fn get_by_seq<'e>(db: impl PgExecutor<'e>, tenant: TenantId, seq: i64) -> DomainResult<Campaign> {
    let sql = format!("SELECT {COLS} FROM campaigns WHERE tenant_id = $1 AND seq = $2 AND deleted_at IS NULL");
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(seq)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("campaign"))
}

/// The tenant's campaigns (not deleted) in creation order.
pub async fn list<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<Campaign>> {
    let sql = format!("SELECT {COLS} FROM campaigns WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY seq");
    Ok(sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .fetch_all(db)
        .await?)
}

/// A campaign's status as a type: the states of the one state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Draft,
    Scheduled,
    Running,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

/// What happens to a campaign. [`Status::on`] says where each event leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Planned to start at its start time (`draft`/`paused` → `scheduled`; a `scheduled`
    /// campaign stays scheduled, e.g. with a new start time).
    Schedule,
    /// Its start time has come (`scheduled` → `running`).
    Start,
    /// Stop sending for now (`scheduled`/`running` → `paused`; `paused` stays).
    Pause,
    /// Go on after a pause (`paused` → `running`).
    Resume,
    /// Every contact is final (`running` → `completed`; `completed` stays).
    Complete,
    /// Nothing could be delivered (`running` → `failed`).
    Fail,
    /// Stopped for good by the client (any non-final status → `cancelled`; `cancelled` stays).
    Cancel,
    /// A finished campaign got new work (`completed` → `scheduled`).
    Reopen,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 7] = [
        Status::Draft,
        Status::Scheduled,
        Status::Running,
        Status::Paused,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The stored name (one of [`status::ALL`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => status::DRAFT,
            Status::Scheduled => status::SCHEDULED,
            Status::Running => status::RUNNING,
            Status::Paused => status::PAUSED,
            Status::Completed => status::COMPLETED,
            Status::Failed => status::FAILED,
            Status::Cancelled => status::CANCELLED,
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No event but `Reopen` (from `completed`) leaves a final status.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }

    /// The state machine: the status `event` leads to, or `InvalidState`.
    pub fn on(self, event: Event) -> DomainResult<Status> {
        use Event as E;
        use Status as S;
        let next = match (self, event) {
            (S::Draft | S::Scheduled | S::Paused, E::Schedule) => S::Scheduled,
            (S::Scheduled, E::Start) => S::Running,
            (S::Scheduled | S::Running | S::Paused, E::Pause) => S::Paused,
            (S::Paused, E::Resume) => S::Running,
            (S::Running | S::Completed, E::Complete) => S::Completed,
            (S::Running, E::Fail) => S::Failed,
            (S::Draft | S::Scheduled | S::Running | S::Paused | S::Cancelled, E::Cancel) => S::Cancelled,
            (S::Completed, E::Reopen) => S::Scheduled,
            (from, event) => {
                return Err(DomainError::InvalidState(format!(
                    "a {} campaign cannot {}",
                    from.as_str(),
                    event.verb()
                )))
            }
        };
        Ok(next)
    }
}

impl Event {
    fn verb(self) -> &'static str {
        match self {
            Event::Schedule => "be scheduled",
            Event::Start => "start",
            Event::Pause => "be paused",
            Event::Resume => "resume",
            Event::Complete => "complete",
            Event::Fail => "fail",
            Event::Cancel => "be cancelled",
            Event::Reopen => "be reopened",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Applies `event` to a campaign: **the only writer of campaign status.** Locks the row,
/// checks the move with [`Status::on`], and stores the new status (and `starts_at` when
/// given). An illegal move is `InvalidState`; the row is left as it was.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %id, ?event))]
pub async fn transition(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    event: Event,
    starts_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DomainResult<Campaign> {
    let cur: String = sqlx::query_scalar("SELECT status FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE")
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DomainError::NotFound("campaign"))?;
    let from = Status::parse(&cur).ok_or_else(|| DomainError::Internal(format!("campaign {id} has an unknown status {cur:?}")))?;
    let next = from.on(event)?;
    let sql = format!(
        "UPDATE campaigns SET status = $3, starts_at = COALESCE($4, starts_at), updated_at = $5
          WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"
    );
    let c = sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(next.as_str())
        .bind(starts_at)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    super::caches::invalidate_local(tenant, super::caches::Scope::Campaigns);
    Ok(c)
}

/// Counts of the campaign's contacts by shared contact status.
pub async fn contact_counts<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as::<_, (String, i64)>(
        "SELECT status, count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 GROUP BY status ORDER BY status",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_all(db)
    .await?)
}

impl Event {
    /// The event named `s` (`schedule`, `start`, `pause`, `resume`, `complete`, `fail`,
    /// `cancel`, `reopen`).
    pub fn parse(s: &str) -> Option<Event> {
        Some(match s {
            "schedule" => Event::Schedule,
            "start" => Event::Start,
            "pause" => Event::Pause,
            "resume" => Event::Resume,
            "complete" => Event::Complete,
            "fail" => Event::Fail,
            "cancel" => Event::Cancel,
            "reopen" => Event::Reopen,
            _ => return None,
        })
    }
}

/// Applies `events` in order to a campaign, in one transaction (see [`transition`]): all of
/// them or, when one is illegal, none.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn apply_events(db: &sqlx::PgPool, tenant: TenantId, id: Uuid, events: &[Event], now: DateTime<Utc>) -> DomainResult<Campaign> {
    let mut tx = db.begin().await?;
    let mut c = get(&mut *tx, tenant, id).await?;
    for e in events {
        c = transition(&mut tx, tenant, id, *e, None, now).await?;
    }
    tx.commit().await?;
    Ok(c)
}

/// The tenant's campaigns (not deleted), ordered and windowed by `filter`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list_filtered(db: &sqlx::PgPool, tenant: TenantId, filter: &super::listing::ListFilter) -> DomainResult<Vec<Campaign>> {
    let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!("SELECT {COLS} FROM campaigns WHERE tenant_id = "));
    qb.push_bind(tenant.0).push(" AND deleted_at IS NULL");
    filter.push_conditions(&mut qb);
    filter.push_order(&mut qb);
    Ok(qb.build_query_as::<Campaign>().fetch_all(db).await?)
}

/// Sets keys of a campaign's delivery policy (`attrs.policy`, read by
/// `delivery::Policy::of`): `changes` (an object) is merged into the policy there, the
/// other keys stay. Returns the campaign as stored. `updated_at` is not changed (the
/// engine times a campaign's start and claims by it).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn merge_policy<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid, changes: &serde_json::Value) -> DomainResult<Campaign> {
    let sql = format!(
        "UPDATE campaigns SET attrs = jsonb_set(attrs, '{{policy}}', COALESCE(NULLIF(attrs->'policy', 'null'::jsonb), '{{}}'::jsonb) || $3::jsonb)
          WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {COLS}"
    );
    let c = sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(changes)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("campaign"))?;
    super::caches::invalidate_local(tenant, super::caches::Scope::Campaigns);
    Ok(c)
}

#[cfg(test)]
mod state_machine_tests {
    use super::{Event, Status};

    const EVENTS: [Event; 8] = [
        Event::Schedule,
        Event::Start,
        Event::Pause,
        Event::Resume,
        Event::Complete,
        Event::Fail,
        Event::Cancel,
        Event::Reopen,
    ];

    /// Every legal move; everything else is refused.
    const LEGAL: &[(Status, Event, Status)] = &[
        (Status::Draft, Event::Schedule, Status::Scheduled),
        (Status::Scheduled, Event::Schedule, Status::Scheduled),
        (Status::Paused, Event::Schedule, Status::Scheduled),
        (Status::Scheduled, Event::Start, Status::Running),
        (Status::Scheduled, Event::Pause, Status::Paused),
        (Status::Running, Event::Pause, Status::Paused),
        (Status::Paused, Event::Pause, Status::Paused),
        (Status::Paused, Event::Resume, Status::Running),
        (Status::Running, Event::Complete, Status::Completed),
        (Status::Completed, Event::Complete, Status::Completed),
        (Status::Running, Event::Fail, Status::Failed),
        (Status::Draft, Event::Cancel, Status::Cancelled),
        (Status::Scheduled, Event::Cancel, Status::Cancelled),
        (Status::Running, Event::Cancel, Status::Cancelled),
        (Status::Paused, Event::Cancel, Status::Cancelled),
        (Status::Cancelled, Event::Cancel, Status::Cancelled),
        (Status::Completed, Event::Reopen, Status::Scheduled),
    ];

    #[test]
    fn every_pair_of_status_and_event() {
        let mut legal = 0;
        for from in Status::ALL {
            for ev in EVENTS {
                let want = LEGAL.iter().find(|(f, e, _)| *f == from && *e == ev).map(|(_, _, to)| *to);
                match (from.on(ev), want) {
                    (Ok(to), Some(w)) => {
                        assert_eq!(to, w, "{from:?} on {ev:?}");
                        legal += 1;
                    }
                    (Err(super::DomainError::InvalidState(msg)), None) => {
                        assert!(msg.contains(from.as_str()), "{msg}");
                    }
                    (got, want) => panic!("{from:?} on {ev:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(legal, LEGAL.len());
    }

    #[test]
    fn final_statuses_leave_only_by_reopen_or_stay() {
        for from in [Status::Failed, Status::Cancelled] {
            for ev in EVENTS {
                if let Ok(to) = from.on(ev) {
                    assert_eq!(to, from, "{from:?} left by {ev:?}");
                }
            }
        }
        assert!(Status::Completed.is_final() && Status::Failed.is_final() && Status::Cancelled.is_final());
        assert!(!Status::Paused.is_final());
    }

    #[test]
    fn names_round_trip() {
        for st in Status::ALL {
            assert_eq!(Status::parse(st.as_str()), Some(st));
        }
        assert_eq!(Status::parse("bogus"), None);
    }
}

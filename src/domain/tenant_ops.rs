//! Operator changes to a tenant: its name and settings, its virtual clock, and the
//! per-tenant reset.
//!
//! Everything here writes the `tenants` row (or the tenant's data) in Postgres, so a
//! change is seen by every replica on its next request (dialects load the tenant row per
//! request).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::clock::{Clock, TenantClock};
use super::tenants::{from_row, Setting, Tenant, TENANT_COLS};
use super::{DomainError, DomainResult, TenantId};

// ---------------------------------------------------------------------------------------
// Settings

/// A checked, partial change of a tenant's [`super::tenants::Settings`]: keys to set and
/// keys to remove (back to the global default); keys left out are unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsPatch {
    set: serde_json::Map<String, serde_json::Value>,
    unset: Vec<String>,
}

/// Longest accepted duration setting: ten years.
pub const MAX_SETTING_SECONDS: i64 = 10 * 365 * 24 * 3600;

impl SettingsPatch {
    /// Checks `patch` against the settings the dialects own (`known`): an unknown key or a
    /// value that does not fit → a validation error naming `settings.<key>`; `null`
    /// removes the key.
    pub fn new(known: &[Setting], patch: &serde_json::Map<String, serde_json::Value>) -> DomainResult<Self> {
        let mut out = SettingsPatch::default();
        for (key, v) in patch {
            let Some(setting) = known.iter().find(|s| s.key == key) else {
                return Err(DomainError::validation(format!("settings.{key}"), "unknown setting"));
            };
            if v.is_null() {
                out.unset.push(key.clone());
            } else {
                setting.check(v)?;
                out.set.insert(key.clone(), v.clone());
            }
        }
        Ok(out)
    }
}

/// Renames the tenant and/or changes some of its settings (atomically, so two concurrent
/// patches of different settings both apply).
pub async fn update(db: &PgPool, id: TenantId, name: Option<&str>, patch: &SettingsPatch) -> DomainResult<Tenant> {
    let name = match name {
        Some(n) if n.trim().is_empty() => return Err(DomainError::validation("name", "must not be empty")),
        Some(n) if n.chars().count() > 200 => return Err(DomainError::validation("name", "must be at most 200 characters")),
        Some(n) => Some(n.trim().to_string()),
        None => None,
    };
    let (set, unset) = (patch.set.clone(), patch.unset.clone());
    let sql = format!(
        "UPDATE tenants SET name = COALESCE($2, name), settings = (settings || $3::jsonb) - $4::text[], updated_at = now()
          WHERE id = $1 RETURNING {TENANT_COLS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(name)
        .bind(serde_json::Value::Object(set))
        .bind(unset)
        .fetch_optional(db)
        .await?;
    let t = row.map(|r| from_row(&r)).transpose()?.ok_or(DomainError::NotFound("tenant"))?;
    tracing::info!(tenant = %t.slug, "tenant updated");
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// Clock

/// One change of a tenant's virtual clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockChange {
    /// Let `n ≥ 0` seconds pass (also for a frozen clock: it stays frozen, `n` later).
    Advance(i64),
    /// Jump to an instant that is not before the tenant's now.
    Set(DateTime<Utc>),
    /// `true` pins the tenant's now; `false` lets time run on from the pinned instant.
    Freeze(bool),
    /// Back to the process clock.
    Reset,
}

/// Whole seconds from `base` to `target`, rounded up (so time never goes backwards).
fn seconds_until(base: DateTime<Utc>, target: DateTime<Utc>) -> i64 {
    let ms = (target - base).num_milliseconds();
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

/// The latest instant a tenant clock may show (keeps date arithmetic everywhere in range).
fn latest() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl ClockChange {
    /// The clock after this change, given the process clock's now.
    pub fn apply(self, c: TenantClock, base: DateTime<Utc>) -> DomainResult<TenantClock> {
        let now = match c.frozen_at {
            Some(t) => t,
            None => base + Duration::seconds(c.offset_seconds),
        };
        let next = match self {
            ClockChange::Advance(n) => {
                if n < 0 {
                    return Err(DomainError::validation("advance_seconds", "must be 0 or more"));
                }
                let target = Duration::try_seconds(n)
                    .and_then(|d| now.checked_add_signed(d))
                    .filter(|t| *t <= latest())
                    .ok_or_else(|| DomainError::validation("advance_seconds", "moves the clock past the year 9999"))?;
                match c.frozen_at {
                    Some(_) => TenantClock {
                        offset_seconds: c.offset_seconds,
                        frozen_at: Some(target),
                    },
                    None => TenantClock {
                        offset_seconds: c.offset_seconds + n,
                        frozen_at: None,
                    },
                }
            }
            ClockChange::Set(t) => {
                if t < now {
                    return Err(DomainError::validation(
                        "set",
                        format!("must not be before the tenant's current time ({})", now.to_rfc3339()),
                    ));
                }
                if t > latest() {
                    return Err(DomainError::validation("set", "must not be after the year 9999"));
                }
                match c.frozen_at {
                    Some(_) => TenantClock {
                        offset_seconds: c.offset_seconds,
                        frozen_at: Some(t),
                    },
                    None => TenantClock {
                        offset_seconds: seconds_until(base, t),
                        frozen_at: None,
                    },
                }
            }
            ClockChange::Freeze(true) => TenantClock {
                offset_seconds: c.offset_seconds,
                frozen_at: Some(now),
            },
            ClockChange::Freeze(false) => match c.frozen_at {
                Some(t) => TenantClock {
                    offset_seconds: seconds_until(base, t),
                    frozen_at: None,
                },
                None => c,
            },
            ClockChange::Reset => TenantClock::default(),
        };
        Ok(next)
    }
}

/// Applies a clock change to the tenant's row (locked, so concurrent changes serialise).
pub async fn change_clock(db: &PgPool, id: TenantId, base: &dyn Clock, change: ClockChange) -> DomainResult<Tenant> {
    let mut tx = db.begin().await?;
    let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id = $1 FOR UPDATE");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0).fetch_optional(&mut *tx).await?;
    let t = row.map(|r| from_row(&r)).transpose()?.ok_or(DomainError::NotFound("tenant"))?;
    let next = change.apply(t.clock, base.now())?;
    let sql = format!(
        "UPDATE tenants SET clock_offset_seconds = $2, clock_frozen_at = $3, updated_at = now()
          WHERE id = $1 RETURNING {TENANT_COLS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(next.offset_seconds)
        .bind(next.frozen_at)
        .fetch_one(&mut *tx)
        .await?;
    let t = from_row(&row)?;
    tx.commit().await?;
    tracing::info!(tenant = %t.slug, change = ?change, "tenant clock changed");
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// Reset

/// What a table holds, for [`reset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The tenant's data: always removed by a reset.
    Data,
    /// The directory (agents, menus, queues, numbers): removed unless `keep_directory`.
    Directory,
}

/// Every tenant table a reset empties, in deletion order (children before parents).
///
/// **A new table with `tenant_id` goes here** (as `Data` or `Directory`). A table that is
/// neither here nor in [`KEPT_TABLES`] is still emptied (as `Data`, before the listed
/// ones, with a warning in the log), so a forgotten table never survives a reset.
pub const RESET_TABLES: &[(&str, Scope)] = &[
    // jobs first: it waits for a running job's transaction and stops the job (its
    // checkpoint() and lock_owned() return false from then on).
    ("jobs", Scope::Data),
    ("events", Scope::Data),
    ("deliveries", Scope::Data),
    ("attempts", Scope::Data),
    ("crm_records", Scope::Data),
    ("interactions", Scope::Data),
    ("contacts", Scope::Data),
    ("campaigns", Scope::Data),
    ("credit_ledger", Scope::Data),
    ("suppressions", Scope::Data),
    ("blobs", Scope::Data),
    ("auth_sessions", Scope::Data),
    ("apps_end_users", Scope::Data),
    ("apps_org_items", Scope::Directory),
    ("announcements", Scope::Data),
    ("faults", Scope::Data),
    ("request_journal", Scope::Data),
    ("webhook_deliveries", Scope::Data),
    ("queue_agents", Scope::Directory),
    ("queues", Scope::Directory),
    ("phone_numbers", Scope::Directory),
    ("menus", Scope::Directory),
    ("agents", Scope::Directory),
    ("carrier_rules", Scope::Directory),
];

/// Tenant tables a reset never touches: the tenant itself and its credentials.
pub const KEPT_TABLES: &[&str] = &["tenants", "credentials", "webhook_secrets"];

/// The result of a reset: rows deleted per table, and the tenant's new epoch.
#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    pub deleted: BTreeMap<String, u64>,
    pub epoch: i64,
}

/// Removes all the tenant's data in one transaction (keeping the tenant, its credentials
/// and, if `keep_directory`, its directory) and bumps its epoch so the job worker never
/// runs a job of before the reset. Retried on deadlock.
pub async fn reset(db: &PgPool, id: TenantId, keep_directory: bool) -> DomainResult<ResetReport> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = db.begin().await?;
        match reset_in(&mut tx, id, keep_directory).await {
            Ok(report) => {
                tx.commit().await?;
                return Ok(report);
            }
            Err(ResetError::Retry) if attempt < 5 => {
                let _ = tx.rollback().await;
                tracing::warn!(tenant = %id, attempt, "tenant reset hit a deadlock; retrying");
            }
            Err(ResetError::Retry) => {
                return Err(DomainError::Internal("tenant reset kept deadlocking".into()));
            }
            Err(ResetError::Domain(e)) => return Err(e),
        }
    }
}

enum ResetError {
    Retry,
    Domain(DomainError),
}

impl From<sqlx::Error> for ResetError {
    fn from(e: sqlx::Error) -> Self {
        match super::sqlstate_of(&e).as_deref() {
            Some(super::sqlstate::DEADLOCK_DETECTED | super::sqlstate::SERIALIZATION_FAILURE) => ResetError::Retry,
            _ => ResetError::Domain(e.into()),
        }
    }
}

impl From<DomainError> for ResetError {
    fn from(e: DomainError) -> Self {
        ResetError::Domain(e)
    }
}

async fn reset_in(tx: &mut PgConnection, id: TenantId, keep_directory: bool) -> Result<ResetReport, ResetError> {
    // Lock the tenant and start a new epoch: from now on the worker claims none of the
    // tenant's old jobs.
    let epoch: Option<i64> = sqlx::query_scalar("UPDATE tenants SET epoch = epoch + 1, updated_at = now() WHERE id = $1 RETURNING epoch")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
    let epoch = epoch.ok_or(DomainError::NotFound("tenant"))?;
    let mut deleted = BTreeMap::new();

    let n = delete_from(tx, "jobs", id).await?;
    deleted.insert("jobs".to_string(), n);
    // Wait for the scheduler (it holds campaign rows while it works them) and keep it off.
    sqlx::query("SELECT id FROM campaigns WHERE tenant_id = $1 FOR UPDATE")
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await?;

    // Tables nobody listed yet: emptied first, in rounds, so foreign keys between them
    // (or to listed tables) do not depend on the order.
    let mut unknown = unlisted_tenant_tables(tx).await?;
    let mut rounds = 0;
    while !unknown.is_empty() && rounds < 5 {
        rounds += 1;
        let mut left = Vec::new();
        for table in unknown {
            tracing::warn!(%table, "tenant reset: table is not in RESET_TABLES; emptying it as tenant data");
            sqlx::query("SAVEPOINT reset_unlisted").execute(&mut *tx).await?;
            match delete_from(tx, &table, id).await {
                Ok(n) => {
                    sqlx::query("RELEASE SAVEPOINT reset_unlisted").execute(&mut *tx).await?;
                    deleted.insert(table, n);
                }
                Err(e) => {
                    let retry = super::sqlstate_of(&e).as_deref() == Some(super::sqlstate::FOREIGN_KEY_VIOLATION);
                    if !retry {
                        return Err(e.into());
                    }
                    sqlx::query("ROLLBACK TO SAVEPOINT reset_unlisted").execute(&mut *tx).await?;
                    left.push(table);
                }
            }
        }
        unknown = left;
    }

    for (table, scope) in RESET_TABLES {
        if *table == "jobs" || (*scope == Scope::Directory && keep_directory) {
            continue;
        }
        if *table == "interactions" {
            let kinds: Vec<String> = sqlx::query_scalar("DELETE FROM interactions WHERE tenant_id = $1 RETURNING kind")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await?;
            let calls = kinds.iter().filter(|k| k.as_str() == "call").count() as u64;
            let sms = kinds.iter().filter(|k| k.as_str() == "sms").count() as u64;
            deleted.insert("interactions".to_string(), kinds.len() as u64);
            deleted.insert("calls".to_string(), calls);
            deleted.insert("sms_sessions".to_string(), sms);
            continue;
        }
        let n = delete_from(tx, table, id).await?;
        deleted.insert((*table).to_string(), n);
    }
    Ok(ResetReport { deleted, epoch })
}

/// `DELETE FROM <table> WHERE tenant_id = $1` (table names come from this file or from
/// the catalog, never from a request).
async fn delete_from(tx: &mut PgConnection, table: &str, id: TenantId) -> Result<u64, sqlx::Error> {
    let sql = format!("DELETE FROM \"{}\" WHERE tenant_id = $1", table.replace('"', "\"\""));
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected())
}

/// Base tables of the current schema with a `tenant_id` column that neither
/// [`RESET_TABLES`] nor [`KEPT_TABLES`] name.
async fn unlisted_tenant_tables(tx: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let all: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.column_name = 'tenant_id' AND c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
          ORDER BY c.table_name",
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(all
        .into_iter()
        .filter(|t| !KEPT_TABLES.contains(&t.as_str()) && !RESET_TABLES.iter().any(|(r, _)| r == t))
        .collect())
}

/// The reset of [`reset`] inside the caller's transaction (for a use-case that resets and
/// then writes, such as restoring a snapshot): empties everything `reset` empties and bumps
/// the epoch. A deadlock is reported as a conflict (the caller may retry).
pub(crate) async fn reset_in_tx(tx: &mut PgConnection, id: TenantId, keep_directory: bool) -> DomainResult<ResetReport> {
    match reset_in(tx, id, keep_directory).await {
        Ok(r) => Ok(r),
        Err(ResetError::Retry) => Err(DomainError::Conflict("tenant is busy; try again".into())),
        Err(ResetError::Domain(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn clock_changes() {
        let base = at("2030-01-01T00:00:00.250Z");
        let c = TenantClock::default();
        let a = ClockChange::Advance(60).apply(c, base).unwrap();
        assert_eq!(a.offset_seconds, 60);
        assert!(ClockChange::Advance(-1).apply(c, base).is_err());
        assert!(ClockChange::Advance(i64::MAX).apply(c, base).is_err());
        // set: rounded up to whole seconds, never before the target
        let s = ClockChange::Set(at("2030-01-01T01:00:00Z")).apply(c, base).unwrap();
        assert_eq!(s.offset_seconds, 3600);
        assert!(base + Duration::seconds(s.offset_seconds) >= at("2030-01-01T01:00:00Z"));
        assert!(ClockChange::Set(at("2029-12-31T23:00:00Z")).apply(c, base).is_err());
        // freeze pins now; advance moves the pinned instant; unfreeze continues from it
        let f = ClockChange::Freeze(true).apply(a, base).unwrap();
        assert_eq!(f.frozen_at, Some(base + Duration::seconds(60)));
        let f2 = ClockChange::Advance(10).apply(f, base).unwrap();
        assert_eq!(f2.frozen_at, Some(base + Duration::seconds(70)));
        let later = base + Duration::seconds(1000);
        let r = ClockChange::Freeze(false).apply(f2, later).unwrap();
        assert_eq!(r.frozen_at, None);
        assert_eq!(later + Duration::seconds(r.offset_seconds), base + Duration::seconds(70));
        assert_eq!(ClockChange::Reset.apply(f2, base).unwrap(), TenantClock::default());
        assert_eq!(seconds_until(base, base - Duration::milliseconds(1500)), -1);
    }
}

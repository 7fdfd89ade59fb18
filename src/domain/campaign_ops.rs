//! Campaign use-cases: create (reusing a deleted campaign's id), update, reschedule,
//! delete, and the listing of active campaigns. Every status change goes through
//! [`campaigns::transition`].

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use sqlx::{PgExecutor, PgPool, Row};
use uuid::Uuid;

use super::campaigns::{self, Campaign, Event, NewCampaign, Status, COLS};
use super::contacts::{self, Contact};
use super::{DomainError, DomainResult, TenantId};

/// The tenant's active campaigns in creation order: not deleted, and not ended before
/// `today` (the date of `ends_at`; campaigns without an end are active).
pub async fn list_active<'e>(db: impl PgExecutor<'e>, tenant: TenantId, today: NaiveDate) -> DomainResult<Vec<Campaign>> {
    let sql = format!(
        "SELECT {COLS} FROM campaigns WHERE tenant_id = $1 AND deleted_at IS NULL
            AND (ends_at IS NULL OR (ends_at AT TIME ZONE 'UTC')::date >= $2::date) ORDER BY seq"
    );
    Ok(sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(today)
        .fetch_all(db)
        .await?)
}

/// The tenant's campaign `id` (not deleted), locked until the end of the transaction.
pub async fn lock(conn: &mut sqlx::PgConnection, tenant: TenantId, id: Uuid) -> DomainResult<Campaign> {
    let sql = format!("SELECT {COLS} FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE");
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("campaign"))
}

/// Creates a campaign with a client-chosen id. The id of one of the tenant's *deleted*
/// campaigns is free again: that row is made a new campaign (new `created_at`, no
/// contacts; delivery history keeps pointing at it). An id in use otherwise (a live
/// campaign, or any campaign of another tenant) → Conflict.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create_reusing_deleted(db: &PgPool, tenant: TenantId, c: NewCampaign, now: DateTime<Utc>) -> DomainResult<Campaign> {
    let st = campaigns::check_new(&c)?;
    let mut tx = db.begin().await?;
    // One statement creates the row or re-creates a deleted one of the tenant (an insert
    // with its initial status, not a status change of a live campaign).
    let sql = format!(
        "INSERT INTO campaigns (id, tenant_id, name, kind, status, channel, starts_at, ends_at, attrs, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, status = EXCLUDED.status,
                channel = EXCLUDED.channel, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
                attrs = EXCLUDED.attrs, deleted_at = NULL, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
          WHERE campaigns.tenant_id = EXCLUDED.tenant_id AND campaigns.deleted_at IS NOT NULL
         RETURNING {COLS}, (xmax = 0) AS inserted"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
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
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| DomainError::Conflict("a campaign with this id already exists".into()))?;
    let campaign = <Campaign as sqlx::FromRow<_>>::from_row(&row)?;
    let inserted: bool = row.try_get("inserted")?;
    if !inserted {
        sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND campaign_id = $2")
            .bind(tenant.0)
            .bind(campaign.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(campaign)
}

/// Puts a finished campaign with new work back to `scheduled` (starting at `starts_at`
/// when given, else at its stored start time). The caller's transaction.
pub async fn reschedule(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    starts_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DomainResult<Campaign> {
    campaigns::transition(conn, tenant, id, Event::Reopen, starts_at, now).await
}

/// A campaign's new settings (everything a client may change).
#[derive(Debug, Clone)]
pub struct UpdateCampaignRequest {
    pub id: Uuid,
    pub name: String,
    /// Paused (true) or to run (false). A cancelled or failed campaign keeps its status; a
    /// draft or paused one to run is scheduled; a running or completed one keeps running /
    /// stays completed.
    pub paused: bool,
    pub channel: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// The first instant from now the campaign may send (e.g. its next daily window): a
    /// scheduled campaign starts then (else at `starts_at`); a completed one reopened by
    /// re-planned contacts too (else now).
    pub next_start: Option<DateTime<Utc>>,
    /// Top-level `attrs` keys to set (the others are kept).
    pub attrs: Map<String, Value>,
}

/// How a contact not attempted yet is to be delivered now: its `attrs` and status.
#[derive(Debug, Clone)]
pub struct Replanned {
    pub attrs: Value,
    pub status: String,
}

/// The events that take a campaign from `from` to paused (`pause`) or to run.
fn update_events(from: Status, pause: bool) -> &'static [Event] {
    match (from, pause) {
        (Status::Cancelled | Status::Failed, _) => &[],
        (Status::Draft, true) => &[Event::Schedule, Event::Pause],
        (Status::Completed, true) => &[Event::Reopen, Event::Pause],
        (_, true) => &[Event::Pause],
        (Status::Paused | Status::Draft, false) => &[Event::Schedule],
        (_, false) => &[],
    }
}

/// Updates a campaign in one transaction: its settings and status, then the contacts not
/// attempted yet (pending, skipped or dnc, no attempt) are re-planned with `replan` (given
/// the campaign as it was and the contact); a completed campaign with a contact pending
/// again is rescheduled. NotFound for a deleted or another tenant's campaign.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %req.id))]
pub async fn update(
    db: &PgPool,
    tenant: TenantId,
    req: UpdateCampaignRequest,
    replan: impl Fn(&Campaign, &Contact) -> Replanned,
    now: DateTime<Utc>,
) -> DomainResult<Campaign> {
    let mut tx = db.begin().await?;
    let cur = lock(&mut tx, tenant, req.id).await?;
    let from = Status::parse(&cur.status).ok_or_else(|| DomainError::Internal(format!("campaign {} has an unknown status", cur.id)))?;
    let mut status = from;
    for ev in update_events(from, req.paused) {
        status = campaigns::transition(&mut tx, tenant, cur.id, *ev, None, now)
            .await
            .map(|c| Status::parse(&c.status).unwrap_or(status))?;
    }
    let starts_at = if status == Status::Scheduled {
        req.next_start.or(req.starts_at)
    } else {
        req.starts_at
    };
    let mut attrs = match &cur.attrs {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    attrs.extend(req.attrs);
    sqlx::query(
        "UPDATE campaigns SET name = $3, channel = $4, starts_at = $5, ends_at = $6, attrs = $7, updated_at = $8
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(cur.id)
    .bind(&req.name)
    .bind(&req.channel)
    .bind(starts_at)
    .bind(req.ends_at)
    .bind(Value::Object(attrs))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    super::caches::invalidate_local(tenant, super::caches::Scope::Campaigns);
    // Contacts not yet attempted deliver with the campaign's new settings.
    let sql = format!(
        "SELECT {} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND status IN ('pending', 'skipped', 'dnc')
            AND attempts = 0 FOR UPDATE",
        contacts::COLS
    );
    let pending = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(cur.id)
        .fetch_all(&mut *tx)
        .await?;
    let mut runnable = false;
    for c in pending {
        let plan = replan(&cur, &c);
        runnable |= plan.status == contacts::status::PENDING;
        sqlx::query("UPDATE contacts SET attrs = $3, status = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(c.id)
            .bind(plan.attrs)
            .bind(&plan.status)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    if runnable && status == Status::Completed {
        reschedule(&mut tx, tenant, cur.id, Some(req.next_start.unwrap_or(now)), now).await?;
    }
    let updated = lock(&mut tx, tenant, cur.id).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Deletes a campaign: cancels it (unless it already finished), marks it deleted (it is
/// not found from then on; delivery history keeps pointing at it) and deletes its contacts,
/// in one transaction. NotFound for a deleted or another tenant's campaign.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %id))]
pub async fn delete(db: &PgPool, tenant: TenantId, id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
    let mut tx = db.begin().await?;
    let cur = lock(&mut tx, tenant, id).await?;
    let finished = Status::parse(&cur.status).is_some_and(|s| matches!(s, Status::Completed | Status::Failed));
    if !finished {
        campaigns::transition(&mut tx, tenant, id, Event::Cancel, None, now).await?;
    }
    sqlx::query("UPDATE campaigns SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    super::caches::invalidate_local(tenant, super::caches::Scope::Campaigns);
    sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND campaign_id = $2")
        .bind(tenant.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_events_are_legal_and_reach_the_wanted_status() {
        for from in Status::ALL {
            for pause in [true, false] {
                let mut st = from;
                for ev in update_events(from, pause) {
                    st = st.on(*ev).unwrap_or_else(|e| panic!("{from:?} pause={pause}: {e}"));
                }
                let want = match (from, pause) {
                    (Status::Cancelled | Status::Failed, _) => from,
                    (_, true) => Status::Paused,
                    (Status::Paused | Status::Draft, false) => Status::Scheduled,
                    (other, false) => other,
                };
                assert_eq!(st, want, "{from:?} pause={pause}");
            }
        }
    }
}

//! A contact's progress as its dialect shows it: per channel, the latest outbox row and
//! the latest finished one (a dialect maps them to its own status codes), and what the
//! `progress` job handlers need to call back in order.
//!
//! The engine enqueues one `progress` job per contact state change (payload in
//! `domain::attempts::change_contacts`); a handler delivers a contact's jobs in their
//! order: a job whose contact has an earlier `progress` job still queued or running is
//! postponed ([`earlier_pending`], [`postpone`]) without using one of its attempts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool};
use uuid::Uuid;

use super::campaigns::{self, Campaign};
use super::contacts::{self, Contact};
use super::{DomainResult, TenantId};

/// Outbox statuses of rows written before the engine (no `outcome` column then): they
/// were final when written.
const LEGACY_FINAL: &[&str] = &["sent", "failed", "suppressed"];

/// What happened on one channel of one contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelActivity {
    /// The latest outbox row's status: an attempt state (`sending`, `dialing`,
    /// `connected`) while in flight, then the outcome's name (`delivered`, `no_answer`, …,
    /// `suppressed`).
    pub status: String,
    /// The latest finished row's outcome (`None` while the first attempt is in flight).
    pub last_outcome: Option<String>,
    /// Attempts made on the channel (rows other than `suppressed`).
    pub tries: i32,
}

/// A campaign's contacts (creation order) with their activity per (contact, channel).
#[derive(Debug, Clone)]
pub struct ContactsActivity {
    pub campaign: Campaign,
    pub contacts: Vec<Contact>,
    pub channels: HashMap<(Uuid, String), ChannelActivity>,
}

#[derive(FromRow)]
struct Row {
    contact_id: Uuid,
    channel: String,
    status: String,
    outcome: Option<String>,
}

/// Folds outbox rows (oldest first) into activity per (contact, channel).
fn fold(rows: Vec<Row>) -> HashMap<(Uuid, String), ChannelActivity> {
    let mut out: HashMap<(Uuid, String), ChannelActivity> = HashMap::new();
    for r in rows {
        let a = out.entry((r.contact_id, r.channel)).or_default();
        let finished = r
            .outcome
            .clone()
            .or_else(|| LEGACY_FINAL.contains(&r.status.as_str()).then(|| r.status.clone()));
        if finished.is_some() {
            a.last_outcome = finished;
        }
        if r.status != "suppressed" {
            a.tries += 1;
        }
        a.status = r.status;
    }
    out
}

/// The contacts of a (not deleted) campaign of the tenant with each one's activity per
/// channel, read from one snapshot. NotFound for an unknown campaign.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %campaign))]
pub async fn contacts_activity(db: &PgPool, tenant: TenantId, campaign: Uuid) -> DomainResult<ContactsActivity> {
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let campaign = campaigns::get(&mut *tx, tenant, campaign).await?;
    let sql = format!(
        "SELECT {} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 ORDER BY seq",
        contacts::COLS
    );
    let list = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign.id)
        .fetch_all(&mut *tx)
        .await?;
    let rows = sqlx::query_as::<_, Row>(
        "SELECT contact_id, channel, status, outcome FROM deliveries
          WHERE tenant_id = $1 AND campaign_id = $2 AND contact_id IS NOT NULL ORDER BY seq",
    )
    .bind(tenant.0)
    .bind(campaign.id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ContactsActivity {
        campaign,
        contacts: list,
        channels: fold(rows),
    })
}

/// The outcome of the contact's latest attempt on `channel` that had finished before
/// `before` (`None`: none had).
pub async fn previous_outcome<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    contact: Uuid,
    channel: &str,
    before: DateTime<Utc>,
) -> DomainResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT outcome FROM deliveries
          WHERE tenant_id = $1 AND contact_id = $2 AND channel = $3 AND outcome IS NOT NULL
            AND COALESCE(ended_at, updated_at) < $4
          ORDER BY seq DESC LIMIT 1",
    )
    .bind(tenant.0)
    .bind(contact)
    .bind(channel)
    .bind(before)
    .fetch_optional(db)
    .await?)
}

/// Whether the tenant has a job of `kind` for `contact` (its payload's `contact_id`) older
/// than the job `seq` that is still queued or running (in the tenant's current epoch: the
/// worker never runs another's).
pub async fn earlier_pending<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str, contact: Uuid, seq: i64) -> DomainResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs
                         WHERE tenant_id = $1 AND kind = $2 AND seq < $4 AND status IN ('queued', 'running')
                           AND payload->>'contact_id' = $3
                           AND epoch = (SELECT t.epoch FROM tenants t WHERE t.id = $1))",
    )
    .bind(tenant.0)
    .bind(kind)
    .bind(contact.to_string())
    .bind(seq)
    .fetch_one(db)
    .await?)
}

/// Queues a job that `worker` holds again, to run `after` from now (real time, like
/// `run_at` everywhere), giving back the attempt its claim counted: it waited, it did not
/// fail. False when the worker no longer holds it.
pub async fn postpone<'e>(db: impl PgExecutor<'e>, id: Uuid, worker: &str, after: std::time::Duration) -> DomainResult<bool> {
    Ok(sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0), run_at = now() + make_interval(secs => $3),
                locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(after.as_secs_f64())
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(k: Uuid, ch: &str, status: &str, outcome: Option<&str>) -> Row {
        Row {
            contact_id: k,
            channel: ch.into(),
            status: status.into(),
            outcome: outcome.map(str::to_string),
        }
    }

    #[test]
    fn folding_outbox_rows() {
        let k = Uuid::nil();
        let got = fold(vec![
            row(k, "voice", "no_answer", Some("no_answer")),
            row(k, "sms", "suppressed", Some("suppressed")),
            row(k, "voice", "dialing", None),
            row(k, "email", "sent", None),
        ]);
        let v = &got[&(k, "voice".to_string())];
        assert_eq!(
            (v.status.as_str(), v.last_outcome.as_deref(), v.tries),
            ("dialing", Some("no_answer"), 2)
        );
        let s = &got[&(k, "sms".to_string())];
        assert_eq!((s.last_outcome.as_deref(), s.tries), (Some("suppressed"), 0));
        assert_eq!(got[&(k, "email".to_string())].last_outcome.as_deref(), Some("sent"));
    }
}

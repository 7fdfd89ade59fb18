//! The campaign scheduler and simulated carrier.
//!
//! Every tick, per tenant clock:
//! 1. `scheduled` campaigns whose `starts_at` has passed become `running`;
//! 2. a batch of `pending` contacts of each `running` campaign is attempted: each
//!    delivery (the contact's `attrs.deliveries` — `[{channel, to, from?, body?}]` — or, if
//!    absent, one on the campaign's channel to the contact's number, with the campaign's
//!    `attrs.from` / `attrs.body`) is checked against the suppression lists, recorded in the
//!    outbox as `sent` or `suppressed`, and the contact becomes `completed`, or `dnc` when
//!    everything was suppressed;
//! 3. a `running` campaign with no pending contact left becomes `completed`.
//!
//! Campaigns are taken with `FOR NO KEY UPDATE SKIP LOCKED`, so replicas share the work
//! while contact adds (whose foreign key takes `FOR KEY SHARE` on the campaign) go on
//! during a campaign's step. Their
//! status changes only through `domain::campaigns::transition` (events `Start` and
//! `Complete`); the scheduler writes no status itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::Row;
use tokio::sync::watch;
use uuid::Uuid;

use crate::domain::campaigns::{self, Event};
use crate::domain::contacts::status as cst;
use crate::domain::outbox::{self, NewDelivery};
use crate::domain::{events, optlists, DomainResult, TenantId};
use crate::state::AppState;

/// Contacts attempted per campaign per tick.
pub const BATCH: i64 = 200;

/// SQL expression of a tenant's now, given the process now as `$1` and the tenant as `t`.
pub const TENANT_NOW: &str = "COALESCE(t.clock_frozen_at, $1::timestamptz + make_interval(secs => t.clock_offset_seconds))";

/// The scheduler loop.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let tick = Duration::from_millis(state.config.tick_ms);
    loop {
        if let Err(e) = tick_once(&state).await {
            tracing::warn!(error = %e, "scheduler tick failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass of the scheduler (public so tests and the admin clock can drive it).
pub async fn tick_once(state: &AppState) -> DomainResult<()> {
    let _pass = state.scheduler_lock.lock().await;
    let base = state.clock.now();
    // 1. start due campaigns (claimed with SKIP LOCKED, started through the state machine)
    let mut tx = state.db.begin().await?;
    let sql = format!(
        "SELECT c.id, c.tenant_id, {TENANT_NOW} AS now FROM campaigns c JOIN tenants t ON t.id = c.tenant_id
          WHERE c.status = 'scheduled' AND c.deleted_at IS NULL
            AND c.starts_at IS NOT NULL AND c.starts_at <= {TENANT_NOW}
          ORDER BY c.starts_at FOR NO KEY UPDATE OF c SKIP LOCKED"
    );
    let due: Vec<(Uuid, Uuid, DateTime<Utc>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(base).fetch_all(&mut *tx).await?;
    for (id, tenant, now) in due {
        match campaigns::transition(&mut tx, TenantId(tenant), id, Event::Start, None, now).await {
            Ok(_) => tracing::info!(campaign = %id, tenant = %tenant, "campaign started"),
            Err(e) => tracing::warn!(campaign = %id, error = %e, "campaign could not start"),
        }
    }
    tx.commit().await?;
    // 2./3. work running campaigns
    let running: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT id, tenant_id FROM campaigns WHERE status = 'running' AND deleted_at IS NULL ORDER BY updated_at LIMIT 50")
            .fetch_all(&state.db)
            .await?;
    for (id, tenant) in running {
        if let Err(e) = work_campaign(state, TenantId(tenant), id, base).await {
            tracing::warn!(campaign = %id, error = %e, "campaign step failed");
        }
    }
    Ok(())
}

async fn work_campaign(state: &AppState, tenant: TenantId, campaign: Uuid, base: DateTime<Utc>) -> DomainResult<()> {
    let mut tx = state.db.begin().await?;
    let sql = format!(
        "SELECT c.channel, c.attrs, {TENANT_NOW} AS now FROM campaigns c JOIN tenants t ON t.id = c.tenant_id
          WHERE c.id = $2 AND c.tenant_id = $3 AND c.status = 'running' FOR NO KEY UPDATE OF c SKIP LOCKED"
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(base)
        .bind(campaign)
        .bind(tenant.0)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(());
    };
    let channel: Option<String> = row.try_get("channel")?;
    let attrs: Value = row.try_get("attrs")?;
    let now: DateTime<Utc> = row.try_get("now")?;
    let contacts = sqlx::query(
        "SELECT id, number, email, attrs FROM contacts
          WHERE tenant_id = $1 AND campaign_id = $2 AND status = 'pending'
            AND (next_attempt_at IS NULL OR next_attempt_at <= $3)
          ORDER BY priority DESC, seq LIMIT $4 FOR UPDATE SKIP LOCKED",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(now)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    // (channel, outcome) of each attempt, counted in the metrics once committed
    let mut attempted: Vec<(&'static str, &'static str)> = Vec::new();
    for c in &contacts {
        let cid: Uuid = c.try_get("id")?;
        let number: Option<String> = c.try_get("number")?;
        let email: Option<String> = c.try_get("email")?;
        let cattrs: Value = c.try_get("attrs")?;
        let planned: Vec<Value> = match cattrs.get("deliveries").and_then(Value::as_array) {
            Some(list) => list.clone(),
            None => {
                let ch = channel.clone().unwrap_or_else(|| "voice".into());
                let to = if ch == "email" { email.clone() } else { number.clone() };
                match to {
                    Some(to) => vec![json!({"channel": ch, "to": to, "from": attrs.get("from"), "body": attrs.get("body")})],
                    None => vec![],
                }
            }
        };
        let mut sent = 0;
        let mut suppressed = 0;
        for d in &planned {
            let ch = d.get("channel").and_then(Value::as_str).unwrap_or("voice").to_string();
            let Some(to) = d.get("to").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let blocked = ch != "email" && optlists::is_suppressed(&mut *tx, tenant, &to, &ch, now).await?;
            let status = if blocked { "suppressed" } else { "sent" };
            attempted.push((crate::observability::channel_label(&ch), status));
            if blocked {
                suppressed += 1
            } else {
                sent += 1
            }
            outbox::record(
                &mut *tx,
                tenant,
                NewDelivery {
                    campaign_id: Some(campaign),
                    contact_id: Some(cid),
                    channel: ch,
                    to_address: to,
                    from_address: d.get("from").and_then(Value::as_str).map(str::to_string),
                    body: d.get("body").and_then(Value::as_str).map(str::to_string),
                    status: status.into(),
                    ..Default::default()
                },
                now,
            )
            .await?;
        }
        let new_status = if sent > 0 {
            cst::COMPLETED
        } else if suppressed > 0 {
            cst::DNC
        } else {
            cst::FAILED
        };
        sqlx::query("UPDATE contacts SET status = $3, attempts = attempts + 1, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(cid)
            .bind(new_status)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        events::record(
            &mut *tx,
            tenant,
            "dial_attempt",
            Some(campaign),
            Some(cid),
            None,
            json!({"status": new_status, "sent": sent, "suppressed": suppressed}),
            now,
        )
        .await?;
    }
    if (contacts.len() as i64) < BATCH {
        let left: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND status IN ('pending', 'dialing', 'queued', 'connected'))",
        )
        .bind(tenant.0)
        .bind(campaign)
        .fetch_one(&mut *tx)
        .await?;
        if !left {
            campaigns::transition(&mut tx, tenant, campaign, Event::Complete, None, now).await?;
            tracing::info!(campaign = %campaign, "campaign completed");
        }
    }
    tx.commit().await?;
    for (channel, outcome) in attempted {
        state.metrics.attempt(channel, outcome);
    }
    Ok(())
}

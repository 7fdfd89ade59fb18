//! The attempt runner: moves a tenant's campaigns, contacts and attempts forward on its
//! clock, event after event, up to the tenant's now.
//!
//! [`run_tenant`] repeats: find the earliest thing due at or before the target time
//! (`next_due`: a scheduled campaign's start, an attempt's next move, a contact whose
//! (next) attempt may start — inside the campaign's window —, a cancelled campaign with
//! contacts waiting, a running campaign with every contact final) and run one `step` at
//! that instant. So advancing a clock by an hour replays the hour in order: attempts end,
//! retries fall due after their interval, windows open, campaigns complete.
//!
//! A step at instant `v`:
//! 1. starts the scheduled campaigns due (`campaigns::transition`, event `Start`);
//! 2. moves the attempts due, in batches claimed with `FOR UPDATE SKIP LOCKED`:
//!    - voice `dialing` → `connected` after 5 s when answered (answered, voicemail,
//!      opt-out, abandoned), then `done` after 30 s (abandoned: at once); not answered →
//!      `done` after the campaign's dial timeout; busy, unreachable, invalid, carrier
//!      error → `done` after 5 s;
//!    - SMS / email `sending` → `done` after 2 s;
//!    - once every attempt of the contact's round is done, the contact becomes final, or
//!      `retry_wait` (`next_attempt_at` = now + the retry interval) when an outcome is
//!      retryable (neither a success nor permanent) and `attempts < 1 + max_retries`.
//!      An opt-out (outcome 7) puts the number on the tenant's opt-out list for the
//!      attempt's channel;
//! 3. turns the waiting contacts (`pending`, `retry_wait`) of cancelled campaigns into
//!    `cancelled`;
//! 4. starts attempts for the contacts of running campaigns that are due (`pending`, or
//!    `retry_wait` whose `next_attempt_at` passed), when the campaign's window is open:
//!    contacts are claimed in batches with `FOR UPDATE SKIP LOCKED` (no lock is held on
//!    the campaign row), each planned delivery is checked against the suppression lists
//!    again (suppressed → outbox `suppressed`; every delivery suppressed → contact `dnc`),
//!    the carrier decides each attempt's outcome, and the attempts and their outbox rows
//!    are written (contact `dialing` when a call is placed, else `sending`). On a retry
//!    only the deliveries that have not succeeded yet are attempted again. Paused
//!    campaigns start no attempt (those in flight finish);
//! 5. ends running campaigns whose every contact is final: **`failed` when attempts were
//!    made and none succeeded** (answered, delivered, voicemail, opt-out, abandoned), else
//!    `completed` (also when no attempt was needed, e.g. every contact suppressed).
//!    A campaign past its policy's `until` (`domain::delivery`) starts no attempt at or
//!    after it, and ends the same way once no attempt is in flight: its waiting contacts
//!    (`pending`, `retry_wait`) are left as they are.
//!
//! Each batch is one transaction. It first takes `FOR KEY SHARE` on the tenant row and
//! its campaigns (the lock its foreign keys take anyway; no campaign update waits for
//! it), then locks its contacts or attempts: the dialects' order (campaign, then
//! contacts), so they never deadlock. It writes the attempts, their outbox rows, the
//! contacts' states, an `events` row per contact change and, when the campaign's policy
//! has a `progress_url`, a `progress` job per contact change; `kill -9` loses or doubles
//! nothing, and replicas share the work (they skip each other's locked rows).
//!
//! ## Throughput (`cargo bench --bench campaign_run`)
//!
//! What a batch costs, and the choices that keep a 100,000-contact campaign linear:
//! - **Set-based statements, a fixed number per batch.** Every read and write of a batch
//!   takes the whole batch (`UNNEST` arrays, `= ANY`), so a batch of 1,000 claims or
//!   2,000 moves is about ten statements whatever its size: ~0.02 statements per
//!   attempt step, plus one `BEGIN`/`COMMIT` pair per batch.
//! - **Claims walk their index, never sort.** Contacts are claimed by `contacts_claimable`
//!   (priority, then age) and attempts by `attempts_tenant_due_seq` (due time, then
//!   creation), `LIMIT` a batch, `FOR UPDATE SKIP LOCKED`. Right after a bulk import the
//!   planner's statistics say the campaign is empty, and it then chose to sort every open
//!   contact (or attempt) of the campaign on each batch: quadratic in the campaign's size
//!   (a 100,000-contact campaign spent more time sorting than writing). The batch's first
//!   statement (`attempts::begin_batch`) turns sorting off for the claim and
//!   `attempts::end_claim` turns it back on, so the claim plan no longer depends on
//!   statistics.
//! - **No per-row foreign-key checks.** Each attempt wrote 14 rows' worth of foreign-key
//!   checks (attempt, outbox row and two events, each naming tenant, campaign and
//!   contact), one trigger query each. When the role may (a superuser, as the embedded
//!   cluster's), the batch skips those triggers (`session_replication_role`, as the
//!   staged imports do) and holds the referenced rows itself: tenant and campaigns
//!   `FOR KEY SHARE`, the contacts by their claim. Other roles keep the checks.
//! - **HOT outbox updates.** The outbox row follows its attempt with updates of columns
//!   no index covers; `deliveries` keeps half of each page free (migration 0810) so those
//!   updates stay on the page and add no index entry.
//! - **Ordered ids.** Attempts, outbox rows and events get per-process ordered ids
//!   (`attempts::new_id`), so their primary keys grow at the right edge instead of at a
//!   random page per row.
//! - **No wasted probes.** Only the attempts of interactions are followed into their
//!   interaction (`interaction_attempts::follow`); the campaigns of the next due attempts
//!   are found and locked in one statement; the completion check is an `EXISTS` on
//!   `contacts_claimable` and `contacts_in_flight`, once per step (not per batch), and no run sleeps while work is due.
//!
//! What remains per SMS attempt is the work itself: the attempt and outbox row inserted,
//! the attempt updated (its state is in the due index's predicate, so not HOT), the
//! contact updated twice (its status is in the claim indexes' predicates) and two events.
//!
//! A contact's planned deliveries are its `attrs.deliveries` (`[{channel, to, from?,
//! body?, subject?}]`) or, if absent, one on the campaign's channel (voice when none) to
//! the contact's number (its email for the email channel), with the campaign's
//! `attrs.from` / `attrs.body` / `attrs.subject`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::carrier::{self, Attempt, Carrier, Channel, Outcome, Rule};
use crate::domain::attempts::{self as da, state, ContactChange, Move, NewAttempt};
use crate::domain::campaigns::{self, Event};
use crate::domain::contacts::status as cst;
use crate::domain::delivery::Policy;
use crate::domain::interactions::{self, DialedCall};
use crate::domain::{tenants, DomainResult, TenantId};
use crate::state::AppState;

/// Contacts claimed per transaction.
pub const CLAIM_BATCH: i64 = 1000;
/// Attempts moved per transaction.
pub const MOVE_BATCH: i64 = 2000;
/// A call rings this long before it is answered (or fails when busy, unreachable, …).
pub const DIAL_SECS: i64 = 5;
/// An answered call lasts this long.
pub const CALL_SECS: i64 = 30;
/// An SMS or email is in flight this long.
pub const SEND_SECS: i64 = 2;
/// Steps of one run at most (a guard; a run normally ends long before).
const MAX_STEPS: usize = 1_000_000;

/// The shared contact status an outcome leaves a contact in (when final).
pub fn contact_status(o: Outcome) -> &'static str {
    match o {
        Outcome::Answered | Outcome::Delivered | Outcome::OptOut => cst::COMPLETED,
        Outcome::Voicemail => cst::VOICEMAIL,
        Outcome::Abandoned => cst::ABANDONED,
        Outcome::NoAnswer => cst::NO_ANSWER,
        Outcome::Busy => cst::BUSY,
        Outcome::Unreachable => cst::UNREACHABLE,
        Outcome::CarrierError => cst::CARRIER_ERROR,
        Outcome::Invalid => cst::INVALID_NUMBER,
        Outcome::Undelivered | Outcome::Bounced => cst::FAILED,
    }
}

/// Whether a call with this outcome is answered (goes through `connected`).
fn answered(o: Outcome) -> bool {
    matches!(o, Outcome::Answered | Outcome::Voicemail | Outcome::OptOut | Outcome::Abandoned)
}

/// Outcome names that count as a success.
fn success_names() -> Vec<&'static str> {
    Outcome::ALL.iter().filter(|o| o.is_success()).map(|o| o.as_str()).collect()
}

/// What a run knows about the tenant.
struct Ctx {
    tenant: TenantId,
    carrier: Arc<dyn Carrier>,
    rules: Vec<Rule>,
    /// Campaign → (channel, attrs, policy).
    campaigns: HashMap<Uuid, (Option<String>, Value, Policy)>,
    /// The dialer campaigns among them (their calls are call interactions too).
    dialers: HashSet<Uuid>,
}

impl Ctx {
    fn policy(&self, campaign: Uuid) -> Policy {
        self.campaigns.get(&campaign).map(|c| c.2.clone()).unwrap_or_default()
    }

    fn progress_url(&self, campaign: Uuid) -> Option<String> {
        self.campaigns.get(&campaign).and_then(|c| c.2.progress_url.clone())
    }

    fn remember(&mut self, id: Uuid, kind: &str, channel: Option<String>, attrs: Value) {
        let p = Policy::of(&attrs);
        self.campaigns.insert(id, (channel, attrs, p));
        if kind == campaigns::kind::OUTBOUND_DIALER {
            self.dialers.insert(id);
        }
    }

    /// Loads the campaigns of `ids` not known yet.
    async fn load(&mut self, conn: &mut sqlx::PgConnection, ids: impl IntoIterator<Item = Uuid>) -> DomainResult<()> {
        let missing: Vec<Uuid> = ids
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .filter(|id| !self.campaigns.contains_key(id))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for (id, kind, ch, attrs) in da::campaigns_attrs(conn, self.tenant, &missing).await? {
            self.remember(id, &kind, ch, attrs);
        }
        Ok(())
    }
}

/// The tenant's carrier rules as the carrier reads them (stored rules that no longer
/// parse are skipped).
pub fn parse_stored(rules: Vec<da::StoredRule>) -> Vec<Rule> {
    rules
        .into_iter()
        .filter_map(|r| {
            let channel = match r.channel.as_deref() {
                None | Some("*") => None,
                Some(c) => Some(Channel::parse(c)?),
            };
            let outcomes = r.outcomes.iter().map(|o| Outcome::parse(o)).collect::<Option<Vec<_>>>()?;
            Some(Rule {
                pattern: r.pattern,
                channel,
                outcomes,
            })
        })
        .collect()
}

/// Runs everything of `tenant` that falls due up to `target` (its now), in order.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn run_tenant(st: &AppState, tenant: TenantId, target: DateTime<Utc>) -> DomainResult<()> {
    let t = tenants::by_id(&st.db, tenant).await?;
    let name: String = t.settings.get("carrier").unwrap_or_else(|| "simulated".to_string());
    let mut ctx = Ctx {
        tenant,
        carrier: carrier::carrier_for(&name),
        rules: parse_stored(da::rules(&st.db, tenant).await?),
        campaigns: HashMap::new(),
        dialers: HashSet::new(),
    };
    let mut floor: Option<DateTime<Utc>> = None;
    for _ in 0..MAX_STEPS {
        let Some(v) = next_due(st, &mut ctx, target).await? else {
            break;
        };
        let v = floor.map_or(v, |f| v.max(f));
        if !step(st, &mut ctx, v).await? {
            break;
        }
        floor = Some(v);
    }
    Ok(())
}

/// The earliest instant at or before `target` at which something is due.
async fn next_due(st: &AppState, ctx: &mut Ctx, target: DateTime<Utc>) -> DomainResult<Option<DateTime<Utc>>> {
    let (start_at, due_at) = da::next_times(&st.db, ctx.tenant).await?;
    let mut best: Option<DateTime<Utc>> = None;
    let mut consider = |t: DateTime<Utc>| {
        if t <= target && best.is_none_or(|b| t < b) {
            best = Some(t);
        }
    };
    start_at.into_iter().chain(due_at).for_each(&mut consider);
    for a in da::active_campaigns(&st.db, ctx.tenant).await? {
        ctx.remember(a.id, &a.kind, a.channel.clone(), a.attrs.clone());
        let since = a.updated_at.min(target);
        if a.status == campaigns::status::CANCELLED {
            consider(since);
            continue;
        }
        let policy = ctx.policy(a.id);
        if let Some(c) = a.claim_at {
            let at = policy.next_open(c.max(a.updated_at).min(target));
            if !policy.ended(at) {
                consider(at);
            } else if let Some(u) = policy.until.filter(|u| *u <= target) {
                // past its end with contacts waiting: it ends once nothing is in flight
                if a.status == campaigns::status::RUNNING && !da::in_flight(&st.db, ctx.tenant, a.id).await? {
                    consider(u.max(a.updated_at).min(target));
                }
            }
        }
        if !a.open {
            consider(since);
        }
    }
    Ok(best)
}

/// One step at instant `v` (module doc); whether anything happened.
async fn step(st: &AppState, ctx: &mut Ctx, v: DateTime<Utc>) -> DomainResult<bool> {
    let mut progressed = start_due(st, ctx.tenant, v).await?;
    progressed |= super::singles::start_due(st, &ctx.carrier, &ctx.rules, ctx.tenant, v).await?;
    while advance_batch(st, ctx, v).await? > 0 {
        progressed = true;
    }
    let active = da::active_campaigns(&st.db, ctx.tenant).await?;
    for a in &active {
        ctx.remember(a.id, &a.kind, a.channel.clone(), a.attrs.clone());
        if a.status == campaigns::status::CANCELLED {
            while cancel_batch(st, ctx, a.id, v).await? > 0 {
                progressed = true;
            }
            continue;
        }
        let policy = ctx.policy(a.id);
        let open = policy.window.is_none_or(|w| w.contains(v)) && !policy.ended(v);
        if open && a.claim_at.is_some() {
            while claim_batch(st, ctx, a.id, v).await? > 0 {
                progressed = true;
            }
        }
    }
    for a in active.iter().filter(|a| a.status == campaigns::status::RUNNING) {
        let ended = ctx.policy(a.id).ended(v);
        progressed |= finish(st, ctx.tenant, a.id, v, ended).await?;
    }
    Ok(progressed)
}

/// Starts the scheduled campaigns due at `v`.
async fn start_due(st: &AppState, tenant: TenantId, v: DateTime<Utc>) -> DomainResult<bool> {
    let mut tx = st.db.begin().await?;
    let due = da::due_to_start(&mut tx, tenant, v).await?;
    for id in &due {
        match campaigns::transition(&mut tx, tenant, *id, Event::Start, None, v).await {
            Ok(_) => tracing::info!(campaign = %id, "campaign started"),
            Err(e) => tracing::warn!(campaign = %id, error = %e, "campaign could not start"),
        }
    }
    tx.commit().await?;
    Ok(!due.is_empty())
}

/// Completes or fails a running campaign whose every contact is final, or, once past its
/// end (`ended`), that has no attempt in flight.
async fn finish(st: &AppState, tenant: TenantId, campaign: Uuid, v: DateTime<Utc>, ended: bool) -> DomainResult<bool> {
    let mut tx = st.db.begin().await?;
    let done = if ended {
        da::finished_at_end(&mut tx, tenant, campaign, &success_names()).await?
    } else {
        da::finished(&mut tx, tenant, campaign, &success_names()).await?
    };
    let Some(delivered) = done else {
        return Ok(false);
    };
    let event = if delivered { Event::Complete } else { Event::Fail };
    campaigns::transition(&mut tx, tenant, campaign, event, None, v).await?;
    tx.commit().await?;
    tracing::info!(campaign = %campaign, ?event, "campaign finished");
    Ok(true)
}

/// Turns a batch of waiting contacts of a cancelled campaign into `cancelled`.
async fn cancel_batch(st: &AppState, ctx: &Ctx, campaign: Uuid, v: DateTime<Utc>) -> DomainResult<usize> {
    let mut tx = st.db.begin().await?;
    da::begin_batch(&mut tx, ctx.tenant, &[campaign]).await?;
    let rows = da::claim_cancelled(&mut tx, ctx.tenant, campaign, CLAIM_BATCH).await?;
    da::end_claim(&mut tx).await?;
    let channel = ctx.campaigns.get(&campaign).and_then(|c| c.0.clone()).unwrap_or_default();
    let changes: Vec<ContactChange> = rows
        .iter()
        .map(|(id, attempts, max_retries)| ContactChange {
            id: *id,
            campaign_id: campaign,
            status: cst::CANCELLED,
            started: 0,
            outcome: None,
            next_attempt_at: None,
            at: v,
            channel: channel.clone(),
            attempts: *attempts,
            max_retries: *max_retries,
        })
        .collect();
    da::change_contacts(&mut tx, ctx.tenant, &changes, |c| ctx.progress_url(c)).await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// One planned delivery of a contact.
struct Planned {
    channel: String,
    to: String,
    from: Option<String>,
    body: Option<String>,
    subject: Option<String>,
}

fn planned(c: &da::Claimed, campaign_channel: Option<&str>, cattrs: &Value) -> Vec<Planned> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    match c.attrs.get("deliveries").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(|d| {
                Some(Planned {
                    channel: s(d, "channel").unwrap_or_else(|| "voice".into()),
                    to: s(d, "to")?,
                    from: s(d, "from"),
                    body: s(d, "body"),
                    subject: s(d, "subject"),
                })
            })
            .collect(),
        None => {
            let ch = campaign_channel.unwrap_or("voice").to_string();
            let to = if ch == "email" { c.email.clone() } else { c.number.clone() };
            to.map(|to| Planned {
                channel: ch,
                to,
                from: s(cattrs, "from"),
                body: s(cattrs, "body"),
                subject: s(cattrs, "subject"),
            })
            .into_iter()
            .collect()
        }
    }
}

/// Starts the next attempt of a batch of due contacts of a running campaign.
async fn claim_batch(st: &AppState, ctx: &Ctx, campaign: Uuid, v: DateTime<Utc>) -> DomainResult<usize> {
    let tenant = ctx.tenant;
    let mut tx = st.db.begin().await?;
    da::begin_batch(&mut tx, tenant, &[campaign]).await?;
    let claimed = da::claim_contacts(&mut tx, tenant, campaign, v, CLAIM_BATCH).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    da::end_claim(&mut tx).await?;
    let (cchannel, cattrs, policy) = ctx.campaigns.get(&campaign).cloned().unwrap_or_default();
    // deliveries that succeeded in an earlier round are not attempted again
    let retried: Vec<Uuid> = claimed.iter().filter(|c| c.attempts > 0).map(|c| c.id).collect();
    let done_ok: HashSet<(Uuid, String, String)> = da::of_contacts(&mut tx, tenant, &retried)
        .await?
        .into_iter()
        .filter(|a| a.outcome.as_deref().and_then(Outcome::parse).is_some_and(Outcome::is_success))
        .map(|a| (a.contact_id, a.channel, a.to_address))
        .collect();
    let plans: Vec<Vec<Planned>> = claimed
        .iter()
        .map(|c| {
            planned(c, cchannel.as_deref(), &cattrs)
                .into_iter()
                .filter(|p| !done_ok.contains(&(c.id, p.channel.clone(), p.to.clone())))
                .collect()
        })
        .collect();
    let pairs: Vec<(String, String)> = plans.iter().flatten().map(|p| (p.to.clone(), p.channel.clone())).collect();
    let blocked = da::suppressed_among(&mut tx, tenant, &pairs, v).await?;
    let mut blocked = blocked.into_iter();
    let mut attempts = Vec::new();
    let mut decided = Vec::new();
    let mut suppressed = Vec::new();
    let mut changes = Vec::new();
    let mut calls = Vec::new();
    let dialer = ctx.dialers.contains(&campaign);
    for (c, plan) in claimed.iter().zip(&plans) {
        let n = c.attempts + 1;
        let mut started_voice = false;
        let mut started_any = false;
        let mut first_channel = None;
        for p in plan {
            first_channel.get_or_insert_with(|| p.channel.clone());
            let is_blocked = blocked.next().unwrap_or(false) && p.channel != "email";
            if is_blocked {
                suppressed.push(da::Suppressed {
                    campaign_id: campaign,
                    contact_id: c.id,
                    channel: p.channel.clone(),
                    to: p.to.clone(),
                    from: p.from.clone(),
                    body: p.body.clone(),
                    n,
                });
                continue;
            }
            let channel = Channel::parse(&p.channel).unwrap_or(Channel::Voice);
            // a dialer's call is a call of the Manager API too
            let interaction_id = (dialer && channel == Channel::Voice).then(|| {
                let id = da::new_id();
                calls.push(DialedCall {
                    id,
                    campaign_id: campaign,
                    contact_id: c.id,
                    to: p.to.clone(),
                    from: p.from.clone().or_else(|| c.outbound_number.clone()),
                });
                id
            });
            let a = Attempt {
                id: da::new_id(),
                tenant: tenant.0,
                campaign_id: Some(campaign),
                contact_id: Some(c.id),
                interaction_id,
                channel,
                n,
                to: p.to.clone(),
                from: p.from.clone(),
                subject: p.subject.clone(),
                body: p.body.clone(),
                started_at: v,
            };
            let outcome = ctx.carrier.decide(&ctx.rules, &a);
            let (st8, secs) = match channel {
                Channel::Voice if answered(outcome) => (state::DIALING, DIAL_SECS),
                Channel::Voice if outcome == Outcome::NoAnswer => (state::DIALING, policy.dial_timeout_secs),
                Channel::Voice => (state::DIALING, DIAL_SECS),
                Channel::Sms | Channel::Email => (state::SENDING, SEND_SECS),
            };
            started_voice |= channel == Channel::Voice;
            started_any = true;
            attempts.push(NewAttempt {
                id: a.id,
                campaign_id: Some(campaign),
                contact_id: Some(c.id),
                interaction_id,
                channel: channel.as_str().to_string(),
                n,
                to: p.to.clone(),
                from: p.from.clone(),
                body: p.body.clone(),
                subject: p.subject.clone(),
                state: st8,
                decided: outcome.as_str(),
                sink: ctx.carrier.name(),
                dial_timeout_secs: i32::try_from(policy.dial_timeout_secs).unwrap_or(i32::MAX),
                started_at: v,
                due_at: v + Duration::seconds(secs),
            });
            decided.push((a, outcome));
        }
        let (status, started) = if started_any {
            (if started_voice { cst::DIALING } else { cst::SENDING }, 1)
        } else if plan.is_empty() {
            (cst::FAILED, 0)
        } else {
            (cst::DNC, 0)
        };
        changes.push(ContactChange {
            id: c.id,
            campaign_id: campaign,
            status,
            started,
            outcome: None,
            next_attempt_at: None,
            at: v,
            channel: first_channel.or_else(|| cchannel.clone()).unwrap_or_default(),
            attempts: c.attempts + started,
            max_retries: c.max_retries,
        });
    }
    interactions::insert_dialed_calls(&mut tx, tenant, &calls, v).await?;
    da::insert(&mut tx, tenant, &attempts).await?;
    da::insert_suppressed(&mut tx, tenant, &suppressed, v).await?;
    for (a, outcome) in &decided {
        ctx.carrier.dispatch(&mut tx, tenant, a, *outcome, v).await?;
    }
    da::change_contacts(&mut tx, tenant, &changes, |_| policy.progress_url.clone()).await?;
    tx.commit().await?;
    for s in &suppressed {
        st.metrics.attempt(&s.channel, "suppressed");
    }
    Ok(claimed.len())
}

/// Moves a batch of due attempts, and their contacts.
async fn advance_batch(st: &AppState, ctx: &mut Ctx, v: DateTime<Utc>) -> DomainResult<usize> {
    let tenant = ctx.tenant;
    let mut tx = st.db.begin().await?;
    da::begin_batch(&mut tx, tenant, &[]).await?;
    let campaigns = da::due_campaigns(&mut tx, tenant, v, MOVE_BATCH).await?;
    let due = da::claim_due(&mut tx, tenant, v, MOVE_BATCH, &campaigns).await?;
    if due.is_empty() {
        return Ok(0);
    }
    da::end_claim(&mut tx).await?;
    let mut moves = Vec::with_capacity(due.len());
    let mut connected: Vec<(Uuid, Uuid, String, DateTime<Utc>)> = Vec::new();
    let mut finished: Vec<(Uuid, Outcome, DateTime<Utc>)> = Vec::new();
    let mut counted: Vec<(String, Outcome)> = Vec::new();
    let mut opt_outs: Vec<(String, String, DateTime<Utc>)> = Vec::new();
    let mut followed = Vec::new();
    for a in &due {
        if a.decided == crate::domain::interaction_attempts::UNDECIDED {
            continue; // an interaction's attempt not started yet (engine::singles starts it)
        }
        let outcome = Outcome::parse(&a.decided).unwrap_or(Outcome::CarrierError);
        let at = a.due_at;
        let done = |duration_ms: i64| Move {
            id: a.id,
            state: state::DONE,
            outcome: Some(outcome.as_str()),
            answered_at: None,
            ended_at: Some(at),
            duration_ms: Some(duration_ms),
            due_at: None,
            at,
        };
        let m = match a.state.as_str() {
            state::DIALING if answered(outcome) => {
                let secs = if outcome == Outcome::Abandoned { 0 } else { CALL_SECS };
                if let (Some(k), Some(c)) = (a.contact_id, a.campaign_id) {
                    connected.push((k, c, a.channel.clone(), at));
                }
                Move {
                    id: a.id,
                    state: state::CONNECTED,
                    outcome: None,
                    answered_at: Some(at),
                    ended_at: None,
                    duration_ms: None,
                    due_at: Some(at + Duration::seconds(secs)),
                    at,
                }
            }
            state::CONNECTED => done((at - a.answered_at.unwrap_or(at)).num_milliseconds()),
            state::DIALING => done(0),
            _ => done((at - a.started_at).num_milliseconds()),
        };
        if m.state == state::DONE {
            if let Some(k) = a.contact_id {
                finished.push((k, outcome, at));
            }
            if outcome == Outcome::OptOut && a.channel != "email" {
                opt_outs.push((a.to_address.clone(), a.channel.clone(), at));
            }
            counted.push((a.channel.clone(), outcome));
        }
        if a.interaction_id.is_some() {
            followed.push(m.clone());
        }
        moves.push(m);
    }
    da::apply_moves(&mut tx, tenant, &moves).await?;
    crate::domain::interaction_attempts::follow(&mut tx, tenant, &followed).await?;
    for (number, channel, at) in &opt_outs {
        da::opt_out(&mut tx, tenant, number, channel, *at).await?;
    }
    // the contacts: connected, or (their round over) final / waiting for a retry
    let ids: Vec<Uuid> = connected
        .iter()
        .map(|c| c.0)
        .chain(finished.iter().map(|f| f.0))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let briefs = da::contacts_brief(&mut tx, tenant, &ids).await?;
    ctx.load(&mut tx, briefs.iter().map(|b| b.campaign_id)).await?;
    let brief: HashMap<Uuid, &da::ContactBrief> = briefs.iter().map(|b| (b.id, b)).collect();
    let done_ids: Vec<Uuid> = finished.iter().map(|f| f.0).collect::<HashSet<_>>().into_iter().collect();
    let history = da::of_contacts(&mut tx, tenant, &done_ids).await?;
    let mut by_contact: HashMap<Uuid, Vec<&da::PastAttempt>> = HashMap::new();
    for h in &history {
        by_contact.entry(h.contact_id).or_default().push(h);
    }
    let mut changes = Vec::new();
    let mut changed: HashSet<Uuid> = HashSet::new();
    for (k, _campaign, channel, at) in &connected {
        let Some(b) = brief.get(k) else { continue };
        if by_contact.get(k).is_some_and(|h| h.iter().all(|a| a.state == state::DONE)) {
            continue; // its round ended in this batch too (abandoned)
        }
        if changed.insert(*k) {
            changes.push(ContactChange {
                id: *k,
                campaign_id: b.campaign_id,
                status: cst::CONNECTED,
                started: 0,
                outcome: None,
                next_attempt_at: None,
                at: *at,
                channel: channel.clone(),
                attempts: b.attempts,
                max_retries: b.max_retries,
            });
        }
    }
    for (k, outcome, at) in &finished {
        let (Some(b), Some(h)) = (brief.get(k), by_contact.get(k)) else {
            continue;
        };
        if changed.contains(k) || h.iter().any(|a| a.state != state::DONE) {
            continue;
        }
        changed.insert(*k);
        let (status, decisive, next) = settle(h, b.attempts, b.max_retries, *outcome, *at, &ctx.policy(b.campaign_id));
        changes.push(ContactChange {
            id: *k,
            campaign_id: b.campaign_id,
            status,
            started: 0,
            outcome: Some(decisive.as_str()),
            next_attempt_at: next,
            at: *at,
            channel: h.last().map(|a| a.channel.clone()).unwrap_or_default(),
            attempts: b.attempts,
            max_retries: b.max_retries,
        });
    }
    da::change_contacts(&mut tx, tenant, &changes, |c| ctx.progress_url(c)).await?;
    tx.commit().await?;
    for (channel, outcome) in &counted {
        st.metrics.attempt(channel, outcome.as_str());
    }
    Ok(moves.len())
}

/// A contact's state once every attempt of its round is done: (status, the outcome that
/// decided it, next attempt time).
fn settle(
    history: &[&da::PastAttempt],
    attempts: i32,
    max_retries: i32,
    last: Outcome,
    at: DateTime<Utc>,
    policy: &Policy,
) -> (&'static str, Outcome, Option<DateTime<Utc>>) {
    // the latest attempt of each delivery
    let mut latest: Vec<(&str, &str, Outcome)> = Vec::new();
    let mut first_success: Option<Outcome> = None;
    for a in history {
        let o = a.outcome.as_deref().and_then(Outcome::parse).unwrap_or(Outcome::CarrierError);
        if o.is_success() && first_success.is_none() {
            first_success = Some(o);
        }
        match latest.iter_mut().find(|(c, t, _)| *c == a.channel && *t == a.to_address) {
            Some(l) => l.2 = o,
            None => latest.push((&a.channel, &a.to_address, o)),
        }
    }
    let retryable = latest.iter().find(|(_, _, o)| !o.is_success() && !o.is_permanent()).map(|l| l.2);
    if let Some(o) = retryable {
        if attempts < 1 + max_retries.max(0) {
            return (cst::RETRY_WAIT, o, Some(at + Duration::seconds(policy.retry_interval_secs)));
        }
    }
    if let Some(o) = first_success {
        return (contact_status(o), o, None);
    }
    let failed = latest.iter().rev().map(|l| l.2).find(|o| !o.is_success()).unwrap_or(last);
    (contact_status(failed), failed, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past(channel: &str, to: &str, n: i32, o: Outcome) -> da::PastAttempt {
        da::PastAttempt {
            contact_id: Uuid::nil(),
            channel: channel.into(),
            to_address: to.into(),
            n,
            state: state::DONE.into(),
            outcome: Some(o.as_str().into()),
        }
    }

    #[test]
    fn settling_a_contact() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let p = Policy::default();
        let busy = past("voice", "+1", 1, Outcome::Busy);
        // retryable with retries left → retry_wait after the interval
        let (s, o, next) = settle(&[&busy], 1, 2, Outcome::Busy, at, &p);
        assert_eq!((s, o), (cst::RETRY_WAIT, Outcome::Busy));
        assert_eq!(next, Some(at + Duration::seconds(300)));
        // exhausted → final
        assert_eq!(settle(&[&busy], 3, 2, Outcome::Busy, at, &p).0, cst::BUSY);
        // permanent → final at once
        let inv = past("sms", "+1", 1, Outcome::Invalid);
        assert_eq!(settle(&[&inv], 1, 5, Outcome::Invalid, at, &p).0, cst::INVALID_NUMBER);
        // success on the second attempt
        let ok = past("voice", "+1", 2, Outcome::Answered);
        assert_eq!(settle(&[&busy, &ok], 2, 2, Outcome::Answered, at, &p).0, cst::COMPLETED);
        // two deliveries: one succeeded, the other is retried
        let sms = past("sms", "+2", 1, Outcome::Delivered);
        assert_eq!(settle(&[&sms, &busy], 1, 1, Outcome::Busy, at, &p).0, cst::RETRY_WAIT);
        assert_eq!(settle(&[&sms, &busy], 2, 1, Outcome::Busy, at, &p).0, cst::COMPLETED);
        for o in Outcome::ALL {
            assert!(crate::domain::contacts::status::ALL.contains(&contact_status(*o)));
        }
    }
}

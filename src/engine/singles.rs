//! The start of single interactions' attempts (an Apps SMS, an outbound or a scheduled
//! call; `domain::interaction_attempts`): each is stored undecided and, once due, the
//! tenant's carrier decides its outcome here and the attempt starts — an SMS `sending`
//! for [`SEND_SECS`](super::attempts::SEND_SECS), a call `dialing` for
//! [`DIAL_SECS`](super::attempts::DIAL_SECS) (the dial timeout when it is not answered).
//! From then on the runner moves it like any attempt, and its interaction follows
//! (`interaction_attempts::follow`).
//!
//! A number suppressed (opt-out on the channel, DNC) by then is not contacted
//! (`interaction_attempts::suppress`).
//!
//! Run by [`super::attempts`] at the start of every step, before the attempts due are
//! moved, in batches claimed with `FOR UPDATE SKIP LOCKED`; the decisions, outbox rows,
//! interactions and the carrier's dispatch commit together.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::attempts::{DIAL_SECS, SEND_SECS};
use super::carrier::{Attempt, Carrier, Channel, Outcome, Rule};
use crate::domain::attempts::{self as da, state};
use crate::domain::interaction_attempts::{self as ia, Decision};
use crate::domain::{DomainResult, TenantId};
use crate::state::AppState;

/// Attempts started per transaction.
const BATCH: i64 = 1000;

/// How long the attempt stays in its first state, given its outcome.
fn first_state(channel: Channel, outcome: Outcome, dial_timeout_secs: i64) -> (&'static str, i64) {
    match channel {
        Channel::Voice if outcome == Outcome::NoAnswer => (state::DIALING, dial_timeout_secs),
        Channel::Voice => (state::DIALING, DIAL_SECS),
        Channel::Sms | Channel::Email => (state::SENDING, SEND_SECS),
    }
}

/// Starts the tenant's undecided attempts due at `v`; whether any started.
pub async fn start_due(
    st: &AppState,
    carrier: &Arc<dyn Carrier>,
    rules: &[Rule],
    tenant: TenantId,
    v: DateTime<Utc>,
) -> DomainResult<bool> {
    let mut any = false;
    loop {
        let mut tx = st.db.begin().await?;
        let due = ia::claim_undecided(&mut tx, tenant, v, BATCH).await?;
        if due.is_empty() {
            return Ok(any);
        }
        any = true;
        // suppression again, at send time
        let pairs: Vec<(String, String)> = due.iter().map(|a| (a.to_address.clone(), a.channel.clone())).collect();
        let blocked = da::suppressed_among(&mut tx, tenant, &pairs, v).await?;
        let mut decisions = Vec::with_capacity(due.len());
        let mut started = Vec::with_capacity(due.len());
        let mut suppressed = Vec::new();
        let mut suppressed_channels = Vec::new();
        for (a, blocked) in due.iter().zip(blocked) {
            let channel = Channel::parse(&a.channel).unwrap_or(Channel::Voice);
            // An SMS started when it was stored; a call starts at its due time.
            let at = if a.state == ia::SCHEDULED { a.due_at } else { a.started_at };
            if blocked && channel != Channel::Email {
                suppressed.push((a.id, a.interaction_id));
                suppressed_channels.push(channel.as_str());
                continue;
            }
            let attempt = Attempt {
                id: a.id,
                tenant: tenant.0,
                campaign_id: None,
                contact_id: None,
                interaction_id: a.interaction_id,
                channel,
                n: a.n,
                to: a.to_address.clone(),
                from: a.from_address.clone(),
                subject: a.subject.clone(),
                body: a.body.clone(),
                started_at: at,
            };
            let outcome = carrier.decide(rules, &attempt);
            let (st8, secs) = first_state(channel, outcome, i64::from(a.dial_timeout_secs));
            decisions.push(Decision {
                id: a.id,
                interaction_id: a.interaction_id,
                state: st8,
                decided: outcome.as_str(),
                sink: carrier.name(),
                started_at: at,
                due_at: at + Duration::seconds(secs),
            });
            started.push((attempt, outcome));
        }
        ia::suppress(&mut tx, tenant, &suppressed, v).await?;
        ia::apply_decisions(&mut tx, tenant, &decisions).await?;
        for (a, outcome) in &started {
            carrier.dispatch(&mut tx, tenant, a, *outcome, a.started_at).await?;
        }
        tx.commit().await?;
        for channel in suppressed_channels {
            st.metrics.attempt(channel, "suppressed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_states() {
        assert_eq!(first_state(Channel::Voice, Outcome::Answered, 30), (state::DIALING, DIAL_SECS));
        assert_eq!(first_state(Channel::Voice, Outcome::NoAnswer, 12), (state::DIALING, 12));
        assert_eq!(first_state(Channel::Voice, Outcome::Busy, 12), (state::DIALING, DIAL_SECS));
        assert_eq!(first_state(Channel::Sms, Outcome::Undelivered, 12), (state::SENDING, SEND_SECS));
    }
}

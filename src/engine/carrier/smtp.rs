//! The `smtp` carrier: the email channel through a real SMTP server
//! (`SWITCHBOARD_SMTP_URL`, e.g. Mailpit in docker-compose); other channels behave like
//! `simulated`.
//!
//! Outcomes are decided like `simulated` (so `bounce…` and `defer…` addresses still
//! fail as documented). [`Carrier::dispatch`] enqueues an `smtp_send` job for each email
//! attempt whose outcome reached the contact (delivered): the mailbox then shows exactly
//! what the contacts received. The job sends one plain-text message:
//! `From` = the attempt's sender, else `switchboard@localhost`; `To` = the destination;
//! `Subject` = the attempt's subject (empty when none); `Date` on the tenant clock; an
//! `X-Switchboard-Attempt` header with the attempt id. A transient failure (no
//! connection, timeout after 5 s, a 4xx reply) is retried with exponential backoff
//! (`SWITCHBOARD_SINK_BACKOFF_MS`, default 1 s, doubling) up to 5 tries; a permanent one
//! (a 5xx reply, an address that does not parse, no `SWITCHBOARD_SMTP_URL`) fails the
//! job at once.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use sqlx::PgConnection;

use super::{Attempt, Carrier, CarrierFuture, Channel, Outcome, Rule};
use crate::domain::jobs::{self as djobs, JobOutcome, NewJob};
use crate::domain::tenants;
use crate::domain::{DomainError, TenantId};
use crate::state::{JobCtx, JobHandler};

/// Job kind of one email send.
pub const JOB_KIND: &str = "smtp_send";

/// Sender when the attempt names none.
pub const DEFAULT_FROM: &str = "switchboard@localhost";

/// How long one SMTP command may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The SMTP carrier. The server is the job worker's `SWITCHBOARD_SMTP_URL` (read when a
/// send runs; without it every send fails, visibly, in its job).
#[derive(Debug, Default, Clone, Copy)]
pub struct SmtpCarrier;

/// The SMTP carrier, for the engine's carrier factory.
pub fn smtp() -> Arc<dyn Carrier> {
    Arc::new(SmtpCarrier)
}

impl Carrier for SmtpCarrier {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn decide(&self, rules: &[Rule], attempt: &Attempt) -> Outcome {
        super::webhook::decide_like_simulated(rules, attempt)
    }

    fn dispatch<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        tenant: TenantId,
        attempt: &'a Attempt,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> CarrierFuture<'a, ()> {
        Box::pin(async move {
            if attempt.channel != Channel::Email || !outcome.is_success() {
                return Ok(());
            }
            let job = NewJob {
                kind: JOB_KIND.into(),
                payload: json!({"attempt": attempt, "outcome": outcome, "at": now}),
                campaign_id: attempt.campaign_id,
                ..Default::default()
            };
            djobs::enqueue(&mut *conn, tenant, job, now).await?;
            Ok(())
        })
    }
}

/// The job handler of [`JOB_KIND`].
pub fn handler() -> JobHandler {
    Arc::new(|ctx| Box::pin(run(ctx)))
}

fn failed(error: impl Into<String>) -> JobOutcome {
    JobOutcome::Failed {
        error: error.into(),
        result: None,
        state: None,
    }
}

/// The message of an attempt (its `Date` is `now`, on the tenant clock).
pub fn message(attempt: &Attempt, now: DateTime<Utc>) -> Result<Message, String> {
    let from = attempt.from.as_deref().filter(|f| !f.trim().is_empty()).unwrap_or(DEFAULT_FROM);
    let from = Mailbox::from_str(from.trim()).map_err(|e| format!("from {from:?}: {e}"))?;
    let to = Mailbox::from_str(attempt.to.trim()).map_err(|e| format!("to {:?}: {e}", attempt.to))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(attempt.subject.clone().unwrap_or_default())
        .date(SystemTime::from(now))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Switchboard-Attempt"),
            attempt.id.to_string(),
        ))
        .body(attempt.body.clone().unwrap_or_default())
        .map_err(|e| e.to_string())
}

#[tracing::instrument(skip_all, fields(job = %ctx.job.id, tenant = %ctx.job.tenant()))]
async fn run(ctx: JobCtx) -> JobOutcome {
    let st = &ctx.state;
    let retry = |error: String| JobOutcome::Retry {
        error,
        after: djobs::backoff(Duration::from_millis(st.config.sink_backoff_ms), ctx.job.attempts),
    };
    let tenant = match tenants::by_id(&st.db, ctx.job.tenant()).await {
        Ok(t) => t,
        Err(DomainError::NotFound(_)) => return JobOutcome::Abandoned,
        Err(e) => return retry(e.to_string()),
    };
    let Some(url) = st.config.smtp_url.as_deref() else {
        return failed("SWITCHBOARD_SMTP_URL is not set");
    };
    let attempt: Attempt = match ctx.job.payload.get("attempt").cloned().map(serde_json::from_value) {
        Some(Ok(a)) => a,
        _ => return failed("the job has no attempt"),
    };
    let msg = match message(&attempt, st.now(&tenant)) {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
        Ok(b) => b.timeout(Some(TIMEOUT)).build(),
        Err(e) => return failed(format!("SWITCHBOARD_SMTP_URL: {e}")),
    };
    match transport.send(msg).await {
        Ok(resp) => JobOutcome::Completed {
            result: json!({"code": resp.code().to_string(), "message": resp.message().collect::<Vec<_>>()}),
            state: None,
        },
        Err(e) if e.is_permanent() => failed(format!("the SMTP server refused the message: {e}")),
        Err(e) => retry(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(to: &str, from: Option<&str>) -> Attempt {
        Attempt {
            id: uuid::Uuid::new_v4(),
            tenant: uuid::Uuid::new_v4(),
            campaign_id: None,
            contact_id: None,
            interaction_id: None,
            channel: Channel::Email,
            n: 1,
            to: to.into(),
            from: from.map(Into::into),
            subject: Some("Hello".into()),
            body: Some("Your appointment is tomorrow.".into()),
            started_at: Utc::now(),
        }
    }

    #[test]
    fn message_has_the_default_sender_and_the_subject() {
        let m = message(&attempt("ann@example.com", None), Utc::now()).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("From: switchboard@localhost"), "{text}");
        assert!(text.contains("To: ann@example.com"), "{text}");
        assert!(text.contains("Subject: Hello"), "{text}");
        assert!(text.contains("X-Switchboard-Attempt: "), "{text}");
        assert!(text.contains("Your appointment is tomorrow."), "{text}");
    }

    #[test]
    fn bad_addresses_are_refused() {
        assert!(message(&attempt("not an address", None), Utc::now()).is_err());
        assert!(message(&attempt("ann@example.com", Some("@@")), Utc::now()).is_err());
        assert!(message(&attempt("ann@example.com", Some("Clinic <clinic@example.com>")), Utc::now()).is_ok());
    }
}

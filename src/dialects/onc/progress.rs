//! The `progress` job: calls a campaign's ProgressWSEndpoint back on every change of a
//! contact's state.
//!
//! The engine enqueues the job in the transaction of the change (payload
//! `{"campaign_id","contact_id","channel","status","outcome","attempts","max_retries",
//! "url","at"}`, see `domain::attempts::change_contacts`); this handler renders ONC's body
//! ([`body`]) and POSTs it as JSON to the URL, timing out after 5 s. A 2xx answer
//! completes the job; anything else (another status, no answer, a timeout) is retried with
//! the sinks' backoff (`SWITCHBOARD_SINK_BACKOFF_MS`, doubling, 5 tries in all, then the
//! job fails). A contact's callbacks arrive in the order of its changes: a job whose
//! contact has an earlier callback still queued or running (waiting for a retry, say)
//! waits for it, without using one of its tries.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{last_error_code, status_code_for};
use crate::domain::contacts::status as cst;
use crate::domain::jobs::{self as djobs, JobOutcome};
use crate::domain::progress as dprogress;
use crate::engine::http_out;
use crate::state::{JobCtx, JobHandler};

/// The job kind the engine enqueues.
pub const KIND: &str = "progress";
/// A callback request gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a callback waits for an earlier one of its contact before looking again.
const WAIT_FOR_EARLIER: Duration = Duration::from_millis(200);

/// The engine's payload of a `progress` job.
#[derive(Debug, Clone, Deserialize)]
pub struct Payload {
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub channel: String,
    /// The contact's shared state after the change.
    pub status: String,
    /// The outcome that decided the change (`None` when an attempt starts).
    pub outcome: Option<String>,
    pub attempts: i32,
    pub max_retries: i32,
    pub url: String,
    pub at: DateTime<Utc>,
}

/// ONC's name of a channel.
pub fn channel_name(channel: &str) -> &'static str {
    match channel {
        "sms" => "SMS",
        "email" => "Email",
        _ => "Voice",
    }
}

/// The callback's JSON body: `{"CampaignId", "ContactId", "Channel": "SMS"|"Voice"|"Email",
/// "StatusCode", "LastDeliveryErrorCode", "RetryCount", "TimestampUtc"}`. StatusCode is
/// the contact's new state through the STATUS_TABLE; LastDeliveryErrorCode the outcome
/// that decided the change or, when an attempt starts, the one before it (`previous`);
/// RetryCount the attempts left (1 + max_retries − attempts made); TimestampUtc the
/// change's instant on the tenant clock (RFC 3339, UTC).
pub fn body(p: &Payload, previous: Option<&str>) -> Value {
    let last = match (&p.outcome, p.status.as_str()) {
        (Some(o), _) => Some(o.as_str()),
        (None, cst::DNC) => Some("suppressed"),
        (None, _) => previous,
    };
    json!({
        "CampaignId": p.campaign_id,
        "ContactId": p.contact_id,
        "Channel": channel_name(&p.channel),
        "StatusCode": status_code_for(&p.status, 0),
        "LastDeliveryErrorCode": last_error_code(last),
        "RetryCount": (1 + p.max_retries - p.attempts).max(0),
        "TimestampUtc": p.at.to_rfc3339_opts(SecondsFormat::Millis, true),
    })
}

/// The handler of [`KIND`] jobs.
pub fn handler() -> JobHandler {
    Arc::new(|ctx| Box::pin(run(ctx)))
}

fn retry(ctx: &JobCtx, error: String) -> JobOutcome {
    let base = Duration::from_millis(ctx.state.config.sink_backoff_ms);
    JobOutcome::Retry {
        error,
        after: djobs::backoff(base, ctx.job.attempts),
    }
}

#[tracing::instrument(skip_all, fields(job = %ctx.job.id, tenant = %ctx.job.tenant()))]
async fn run(ctx: JobCtx) -> JobOutcome {
    let p: Payload = match serde_json::from_value(ctx.job.payload.clone()) {
        Ok(p) => p,
        Err(e) => {
            return JobOutcome::Failed {
                error: format!("not a progress payload: {e}"),
                result: None,
                state: None,
            }
        }
    };
    let db = &ctx.state.db;
    let tenant = ctx.job.tenant();
    match dprogress::earlier_pending(db, tenant, KIND, p.contact_id, ctx.job.seq).await {
        Ok(false) => {}
        Ok(true) => {
            if let Err(e) = dprogress::postpone(db, ctx.job.id, &ctx.worker, WAIT_FOR_EARLIER).await {
                tracing::warn!(error = %e, "progress callback could not be postponed");
            }
            return JobOutcome::Abandoned;
        }
        Err(e) => return retry(&ctx, e.to_string()),
    }
    let previous = match &p.outcome {
        Some(_) => None,
        None => match dprogress::previous_outcome(db, tenant, p.contact_id, &p.channel, p.at).await {
            Ok(o) => o,
            Err(e) => return retry(&ctx, e.to_string()),
        },
    };
    let body = body(&p, previous.as_deref());
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    match http_out::post_json(&p.url, &bytes, &[], TIMEOUT).await {
        Ok(status) if (200..300).contains(&status) => JobOutcome::Completed {
            result: json!({"http_status": status, "body": body}),
            state: None,
        },
        Ok(status) => retry(&ctx, format!("the endpoint answered HTTP {status}")),
        Err(e) => retry(&ctx, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(status: &str, outcome: Option<&str>, attempts: i32) -> Payload {
        Payload {
            campaign_id: Uuid::nil(),
            contact_id: Uuid::nil(),
            channel: "voice".into(),
            status: status.into(),
            outcome: outcome.map(str::to_string),
            attempts,
            max_retries: 2,
            url: "http://127.0.0.1:9/".into(),
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn bodies_of_a_run() {
        let b = body(&payload("dialing", None, 1), None);
        assert_eq!(b["Channel"], "Voice");
        assert_eq!(
            (
                b["StatusCode"].as_i64(),
                b["LastDeliveryErrorCode"].as_i64(),
                b["RetryCount"].as_i64()
            ),
            (Some(2), Some(0), Some(2))
        );
        assert_eq!(b["TimestampUtc"], "1970-01-01T00:00:00.000Z");
        let b = body(&payload("retry_wait", Some("no_answer"), 1), None);
        assert_eq!((b["StatusCode"].as_i64(), b["LastDeliveryErrorCode"].as_i64()), (Some(5), Some(3)));
        let b = body(&payload("connected", None, 2), Some("no_answer"));
        assert_eq!(
            (
                b["StatusCode"].as_i64(),
                b["LastDeliveryErrorCode"].as_i64(),
                b["RetryCount"].as_i64()
            ),
            (Some(3), Some(3), Some(1))
        );
        let b = body(&payload("completed", Some("answered"), 2), None);
        assert_eq!((b["StatusCode"].as_i64(), b["LastDeliveryErrorCode"].as_i64()), (Some(4), Some(0)));
        let b = body(&payload("busy", Some("busy"), 3), None);
        assert_eq!(
            (
                b["StatusCode"].as_i64(),
                b["LastDeliveryErrorCode"].as_i64(),
                b["RetryCount"].as_i64()
            ),
            (Some(6), Some(4), Some(0))
        );
        let b = body(&payload("dnc", None, 0), None);
        assert_eq!((b["StatusCode"].as_i64(), b["LastDeliveryErrorCode"].as_i64()), (Some(7), Some(1)));
        assert_eq!(channel_name("sms"), "SMS");
        assert_eq!(channel_name("email"), "Email");
    }
}

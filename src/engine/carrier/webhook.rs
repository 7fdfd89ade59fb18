//! The `webhook` carrier: decides like `simulated`, and POSTs each attempt, signed, to the
//! tenant's `webhook_url`.
//!
//! [`Carrier::dispatch`] only enqueues a `webhook_delivery` job in the engine's
//! transaction; the body is rendered then and stored in the job, so every try sends the
//! same bytes. The job (run by the job worker, never by the engine loop) POSTs it with:
//! - `Content-Type: application/json`;
//! - `X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the exact body with the
//!   tenant's webhook secret>`;
//! - `X-Switchboard-Delivery: <job id>` (the same on every try: a receiver dedupes on it)
//!   and `X-Switchboard-Attempt: <attempt id>`.
//!
//! A 2xx answer ends the delivery. Anything else (another status, no answer within 5 s,
//! a refused connection) is retried with exponential backoff (`SWITCHBOARD_SINK_BACKOFF_MS`,
//! default 1 s, doubling) up to 5 tries in all. Each try is one row of the tenant's
//! webhook deliveries (`GET /admin/v1/tenants/{slug}/webhook-deliveries`). A tenant
//! without a `webhook_url` gets a failed try that says so (not retried).
//!
//! The body:
//! ```json
//! {"type": "attempt", "sink": "webhook", "outcome": "delivered", "at": "<RFC 3339, tenant clock>",
//!  "attempt": {"id", "tenant", "campaign_id", "contact_id", "interaction_id", "channel": "voice"|"sms"|"email",
//!              "n", "to", "from", "subject", "body", "started_at"}}
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;

use super::{Attempt, Carrier, CarrierFuture, Outcome, Rule};
use crate::domain::jobs::{self as djobs, JobOutcome, NewJob};
use crate::domain::tenants;
use crate::domain::webhooks::{self, CarrierSettings, NewDelivery};
use crate::domain::{DomainError, TenantId};
use crate::engine::http_out;
use crate::state::{JobCtx, JobHandler};

/// Job kind of one webhook delivery.
pub const JOB_KIND: &str = "webhook_delivery";

/// How long one POST may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The webhook carrier.
#[derive(Debug, Default, Clone, Copy)]
pub struct WebhookCarrier;

/// The webhook carrier, for the engine's carrier factory.
pub fn webhook() -> Arc<dyn Carrier> {
    Arc::new(WebhookCarrier)
}

/// The decision of the simulated carrier (the tenant's rules, then the table of test
/// numbers), which the sinks share.
pub(super) fn decide_like_simulated(rules: &[Rule], attempt: &Attempt) -> Outcome {
    super::simulated::decide(rules, attempt.channel, &attempt.to, attempt.n)
}

/// The webhook body of a decided attempt.
pub fn body(attempt: &Attempt, outcome: Outcome, now: DateTime<Utc>) -> String {
    json!({
        "type": "attempt",
        "sink": "webhook",
        "outcome": outcome.as_str(),
        "at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "attempt": attempt,
    })
    .to_string()
}

impl Carrier for WebhookCarrier {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn decide(&self, rules: &[Rule], attempt: &Attempt) -> Outcome {
        decide_like_simulated(rules, attempt)
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
            let job = NewJob {
                kind: JOB_KIND.into(),
                payload: json!({"attempt_id": attempt.id, "body": body(attempt, outcome, now)}),
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

fn retry(ctx: &JobCtx, error: String) -> JobOutcome {
    let base = Duration::from_millis(ctx.state.config.sink_backoff_ms);
    JobOutcome::Retry {
        error,
        after: djobs::backoff(base, ctx.job.attempts),
    }
}

fn failed(error: impl Into<String>) -> JobOutcome {
    JobOutcome::Failed {
        error: error.into(),
        result: None,
        state: None,
    }
}

#[tracing::instrument(skip_all, fields(job = %ctx.job.id, tenant = %ctx.job.tenant()))]
async fn run(ctx: JobCtx) -> JobOutcome {
    let st = &ctx.state;
    let tenant = match tenants::by_id(&st.db, ctx.job.tenant()).await {
        Ok(t) => t,
        Err(DomainError::NotFound(_)) => return JobOutcome::Abandoned,
        Err(e) => return retry(&ctx, e.to_string()),
    };
    let Some(body) = ctx.job.payload.get("body").and_then(|b| b.as_str()) else {
        return failed("the job has no body");
    };
    let attempt_id = ctx
        .job
        .payload
        .get("attempt_id")
        .and_then(|v| v.as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok());
    let started_at = st.now(&tenant);
    let mut delivery = NewDelivery {
        job_id: Some(ctx.job.id),
        attempt_id,
        url: String::new(),
        try_n: ctx.job.attempts,
        status_code: None,
        error: None,
        duration_ms: 0,
        started_at,
        ended_at: started_at,
    };
    let Some(url) = CarrierSettings::of(&tenant.settings).webhook_url else {
        delivery.error = Some("the tenant has no webhook_url".into());
        return match webhooks::record(&st.db, tenant.id, delivery).await {
            Ok(_) => failed("the tenant has no webhook_url"),
            Err(e) => retry(&ctx, e.to_string()),
        };
    };
    let secret = match webhooks::secret(&st.db, tenant.id).await {
        Ok(Some(s)) => s,
        // Configured without going through the admin API (e.g. a restored snapshot): a
        // secret is made now; the operator sees it by rotating it.
        Ok(None) => match webhooks::rotate_secret(&st.db, tenant.id).await {
            Ok(s) => s,
            Err(e) => return retry(&ctx, e.to_string()),
        },
        Err(e) => return retry(&ctx, e.to_string()),
    };
    let headers = [
        ("X-Switchboard-Signature", webhooks::signature(&secret, body.as_bytes())),
        ("X-Switchboard-Delivery", ctx.job.id.to_string()),
        ("X-Switchboard-Attempt", attempt_id.map(|a| a.to_string()).unwrap_or_default()),
    ];
    let t0 = Instant::now();
    let res = http_out::post_json(&url, body.as_bytes(), &headers, TIMEOUT).await;
    delivery.url = url;
    delivery.duration_ms = t0.elapsed().as_millis() as i64;
    delivery.ended_at = started_at + chrono::Duration::milliseconds(delivery.duration_ms);
    match &res {
        Ok(code) => delivery.status_code = Some(*code),
        Err(e) => delivery.error = Some(e.clone()),
    }
    if let Err(e) = webhooks::record(&st.db, tenant.id, delivery).await {
        tracing::warn!(error = %e, "could not record a webhook delivery");
    }
    match res {
        Ok(code) if (200..300).contains(&code) => JobOutcome::Completed {
            result: json!({"status_code": code}),
            state: None,
        },
        Ok(code) => retry(&ctx, format!("the receiver answered HTTP {code}")),
        Err(e) => retry(&ctx, e),
    }
}

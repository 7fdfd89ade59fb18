//! The carrier seam: what decides and performs one attempt of one delivery.
//!
//! The engine (`engine::attempts`) claims due attempts, asks the tenant's [`Carrier`]
//! for the outcome of each ([`Carrier::decide`]) and, in the same transaction that
//! records the attempt, its outbox row and its events, lets the carrier hand the attempt
//! to its sink ([`Carrier::dispatch`]). A sink never performs network I/O inside that
//! transaction: it enqueues a job (a webhook POST, an SMTP send) that the job worker runs
//! with retries and backoff, so a slow or dead sink never blocks the engine and `kill -9`
//! neither loses nor doubles a delivery.
//!
//! Carriers, picked per tenant by the setting `carrier`:
//! - `simulated` (default): outcomes are a pure function of the destination and the
//!   attempt number (the table in the README), after the tenant's own carrier rules;
//! - `webhook`: decides like `simulated`, and POSTs each attempt, signed, to the
//!   tenant's `webhook_url`;
//! - `smtp`: decides like `simulated`, and sends the email channel through the SMTP
//!   server of `SWITCHBOARD_SMTP_URL`.

pub mod smtp;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{DomainResult, TenantId};

pub mod rules;
pub mod simulated;

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Voice,
    Sms,
    Email,
}

impl Channel {
    /// The stored name (`voice`, `sms`, `email`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "voice" | "call" => Some(Channel::Voice),
            "sms" | "text" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }
}

/// The outcome of one attempt, as the carrier decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Voice: answered by a person.
    Answered,
    /// SMS / email: delivered.
    Delivered,
    /// Voice: rang for the dial timeout.
    NoAnswer,
    /// Voice: busy.
    Busy,
    /// Voice: answered by voicemail.
    Voicemail,
    /// Invalid number or address: permanent, never retried.
    Invalid,
    /// Voice: unreachable.
    Unreachable,
    /// SMS: not delivered (retryable).
    Undelivered,
    /// SMS / voice: carrier error (retryable).
    CarrierError,
    /// Voice: answered, then the contact opted out (the number goes on the opt-out list).
    /// SMS: delivered, then an inbound "STOP" reply opts the number out.
    OptOut,
    /// Voice: answered, and the contact hung up at once.
    Abandoned,
    /// Email: bounced (permanent).
    Bounced,
}

impl Outcome {
    /// Every outcome (for tests, metrics and the admin API's validation).
    pub const ALL: &'static [Outcome] = &[
        Outcome::Answered,
        Outcome::Delivered,
        Outcome::NoAnswer,
        Outcome::Busy,
        Outcome::Voicemail,
        Outcome::Invalid,
        Outcome::Unreachable,
        Outcome::Undelivered,
        Outcome::CarrierError,
        Outcome::OptOut,
        Outcome::Abandoned,
        Outcome::Bounced,
    ];

    /// The stored name (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Delivered => "delivered",
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
            Outcome::Voicemail => "voicemail",
            Outcome::Invalid => "invalid",
            Outcome::Unreachable => "unreachable",
            Outcome::Undelivered => "undelivered",
            Outcome::CarrierError => "carrier_error",
            Outcome::OptOut => "opt_out",
            Outcome::Abandoned => "abandoned",
            Outcome::Bounced => "bounced",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.iter().copied().find(|o| o.as_str() == s)
    }

    /// The contact was reached (the attempt is final and successful).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Outcome::Answered | Outcome::Delivered | Outcome::Voicemail | Outcome::OptOut | Outcome::Abandoned
        )
    }

    /// A failure that no retry can fix.
    pub fn is_permanent(self) -> bool {
        matches!(self, Outcome::Invalid | Outcome::Bounced)
    }
}

/// One attempt as the carrier sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub id: Uuid,
    pub tenant: Uuid,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub interaction_id: Option<Uuid>,
    pub channel: Channel,
    /// 1 for the first attempt of this delivery, 2 for the first retry, …
    pub n: i32,
    pub to: String,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// On the tenant clock.
    pub started_at: DateTime<Utc>,
}

/// A tenant's own outcome rule (`PUT /admin/v1/tenants/{slug}/carrier-rules`): for a
/// destination matching the glob `match` on `channel` (`None` = every channel), the n-th
/// attempt takes the n-th outcome, and the last one repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(rename = "match")]
    pub pattern: String,
    /// `voice`, `sms`, `email`, or `*` (stored as `None`).
    #[serde(default, with = "rule_channel")]
    pub channel: Option<Channel>,
    pub outcomes: Vec<Outcome>,
}

mod rule_channel {
    use super::Channel;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &Option<Channel>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(c.map(Channel::as_str).unwrap_or("*"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Channel>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        match s.as_deref() {
            None | Some("*") => Ok(None),
            Some(x) => Channel::parse(x)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown channel {x:?}: voice, sms, email or *"))),
        }
    }
}

/// A boxed future of a carrier call.
pub type CarrierFuture<'a, T> = Pin<Box<dyn Future<Output = DomainResult<T>> + Send + 'a>>;

/// Decides and performs attempts for one tenant.
pub trait Carrier: Send + Sync {
    /// `simulated`, `webhook` or `smtp` (what the outbox calls the sink).
    fn name(&self) -> &'static str;

    /// The outcome of `attempt`. `rules` are the tenant's own carrier rules, checked before
    /// the built-in table.
    fn decide(&self, rules: &[Rule], attempt: &Attempt) -> Outcome;

    /// Hands the decided attempt to the carrier's sink, inside the engine's transaction
    /// (`conn`): enqueue a job, never network I/O here. The simulated carrier does nothing.
    fn dispatch<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        tenant: TenantId,
        attempt: &'a Attempt,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> CarrierFuture<'a, ()>;
}

/// The sinks' job handlers (`webhook_delivery`, `smtp_send`), by job kind; the entry
/// point hands them to the engine with the dialects'.
pub fn job_handlers() -> Vec<(&'static str, crate::state::JobHandler)> {
    vec![(webhook::JOB_KIND, webhook::handler()), (smtp::JOB_KIND, smtp::handler())]
}

/// The carrier names the tenant setting `carrier` accepts.
pub const NAMES: &[&str] = &["simulated", "webhook", "smtp"];

/// The carrier called `name` (the tenant setting `carrier`; `simulated` when unset or
/// unknown). The sink carriers add their arm here.
pub fn carrier_for(name: &str) -> std::sync::Arc<dyn Carrier> {
    match name {
        "webhook" => webhook::webhook(),
        "smtp" => smtp::smtp(),
        "simulated" => std::sync::Arc::new(simulated::Simulated),
        other => {
            tracing::debug!(carrier = other, "carrier not built in; the simulated carrier decides");
            std::sync::Arc::new(simulated::Simulated)
        }
    }
}

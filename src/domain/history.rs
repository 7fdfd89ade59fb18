//! History: the tenant's campaign events with their context (campaign, contact, the call
//! and its agent, with the agent's call figures up to the event), newest first, paged by
//! the keyset (time, sequence).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::{DomainResult, TenantId};

/// Which events to read.
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery {
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only events strictly before this (time, sequence) key: the last entry of the
    /// previous page.
    pub before: Option<(DateTime<Utc>, i64)>,
    /// Page size.
    pub limit: i64,
}

/// The contact an event is about, as it is now.
#[derive(Debug, Clone)]
pub struct ContactSnapshot {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub number: Option<String>,
    /// Shared contact status.
    pub status: String,
}

/// The agent of an event's call, with the agent's calls up to the event.
#[derive(Debug, Clone)]
pub struct AgentSnapshot {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub extension: Option<String>,
    /// Directory status (`available`, `unavailable`).
    pub status: String,
    pub on_call: bool,
    pub attrs: serde_json::Value,
    /// Start of the agent's latest call up to the event.
    pub last_attempt: Option<DateTime<Utc>>,
    /// Start of the agent's latest answered call (connected, finished, completed,
    /// transferred or voicemail) up to the event.
    pub last_answered: Option<DateTime<Utc>>,
    /// End of the agent's latest call up to the event.
    pub last_hangup: Option<DateTime<Utc>>,
    /// Seconds the agent talked on answered calls ended by the event.
    pub talk_seconds: f64,
}

/// One event with its context.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub seq: i64,
    /// The event kind (`events.kind`).
    pub kind: String,
    /// The event's data.
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
    pub campaign_id: Uuid,
    pub campaign_name: String,
    pub interaction_id: Option<Uuid>,
    /// The contact the event is about, if any.
    pub contact_id: Option<Uuid>,
    /// That contact as it is now, when it still exists (a deleted one's details are in `data`).
    pub contact: Option<ContactSnapshot>,
    pub agent: Option<AgentSnapshot>,
}

/// A page of history.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Whether older events are left after this page.
    pub more: bool,
}

#[derive(FromRow)]
struct Row {
    seq: i64,
    kind: String,
    data: serde_json::Value,
    created_at: DateTime<Utc>,
    interaction_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    campaign_id: Uuid,
    campaign_name: String,
    first_name: Option<String>,
    last_name: Option<String>,
    number: Option<String>,
    contact_status: Option<String>,
    agent_id: Option<Uuid>,
    agent_first: Option<String>,
    agent_last: Option<String>,
    agent_email: Option<String>,
    agent_ext: Option<String>,
    agent_status: Option<String>,
    agent_on_call: Option<bool>,
    agent_attrs: Option<serde_json::Value>,
    agent_last_attempt: Option<DateTime<Utc>>,
    agent_last_answered: Option<DateTime<Utc>>,
    agent_last_hangup: Option<DateTime<Utc>>,
    agent_talk_seconds: Option<f64>,
}

impl From<Row> for HistoryEntry {
    fn from(r: Row) -> Self {
        let contact = match (r.contact_id, r.contact_status) {
            (Some(_), Some(status)) => Some(ContactSnapshot {
                first_name: r.first_name,
                last_name: r.last_name,
                number: r.number,
                status,
            }),
            _ => None,
        };
        let agent = r.agent_id.map(|id| AgentSnapshot {
            id,
            first_name: r.agent_first.unwrap_or_default(),
            last_name: r.agent_last.unwrap_or_default(),
            email: r.agent_email.unwrap_or_default(),
            extension: r.agent_ext,
            status: r.agent_status.unwrap_or_default(),
            on_call: r.agent_on_call.unwrap_or(false),
            attrs: r.agent_attrs.unwrap_or_else(|| serde_json::json!({})),
            last_attempt: r.agent_last_attempt,
            last_answered: r.agent_last_answered,
            last_hangup: r.agent_last_hangup,
            talk_seconds: r.agent_talk_seconds.unwrap_or(0.0),
        });
        HistoryEntry {
            seq: r.seq,
            kind: r.kind,
            data: r.data,
            at: r.created_at,
            campaign_id: r.campaign_id,
            campaign_name: r.campaign_name,
            interaction_id: r.interaction_id,
            contact_id: r.contact_id,
            contact,
            agent,
        }
    }
}

/// A page of the tenant's campaign events, newest first (events without a campaign are
/// not history).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn page(db: &PgPool, tenant: TenantId, q: HistoryQuery) -> DomainResult<HistoryPage> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT e.seq, e.kind, e.data, e.created_at, e.interaction_id, e.contact_id,
                c.id AS campaign_id, c.name AS campaign_name,
                k.first_name, k.last_name, k.number, k.status AS contact_status,
                a.id AS agent_id, a.first_name AS agent_first, a.last_name AS agent_last, a.email AS agent_email,
                a.extension AS agent_ext, a.status AS agent_status, a.on_call AS agent_on_call, a.attrs AS agent_attrs,
                ag.last_attempt AS agent_last_attempt, ag.last_answered AS agent_last_answered,
                ag.last_hangup AS agent_last_hangup, ag.talk_seconds AS agent_talk_seconds
           FROM events e
           JOIN campaigns c ON c.id = e.campaign_id AND c.tenant_id = e.tenant_id
           LEFT JOIN contacts k ON k.id = e.contact_id AND k.tenant_id = e.tenant_id
           LEFT JOIN interactions i ON i.id = e.interaction_id AND i.tenant_id = e.tenant_id
           LEFT JOIN agents a ON a.id = i.agent_id AND a.tenant_id = e.tenant_id
           -- the agent's calls up to the event
           LEFT JOIN LATERAL (
                SELECT max(x.created_at) AS last_attempt,
                       max(x.created_at) FILTER (WHERE x.status IN ('connected', 'switching', 'finished', 'completed', 'transferred', 'voicemail')) AS last_answered,
                       max(x.ended_at) AS last_hangup,
                       coalesce(sum(extract(epoch FROM x.ended_at - x.created_at))
                           FILTER (WHERE x.ended_at IS NOT NULL AND x.status IN ('connected', 'switching', 'finished', 'completed', 'transferred', 'voicemail')), 0)::float8 AS talk_seconds
                  FROM interactions x
                 WHERE x.tenant_id = e.tenant_id AND x.agent_id = a.id AND x.kind = 'call' AND x.created_at <= e.created_at
           ) ag ON a.id IS NOT NULL
          WHERE e.tenant_id = $1
            AND ($2::timestamptz IS NULL OR e.created_at >= $2)
            AND ($3::timestamptz IS NULL OR e.created_at <= $3)
            AND ($4::timestamptz IS NULL OR (e.created_at, e.seq) < ($4, $5))
          ORDER BY e.created_at DESC, e.seq DESC
          LIMIT $6",
    )
    .bind(tenant.0)
    .bind(q.since)
    .bind(q.until)
    .bind(q.before.map(|b| b.0))
    .bind(q.before.map(|b| b.1).unwrap_or(0))
    .bind(q.limit + 1)
    .fetch_all(db)
    .await?;
    let more = rows.len() as i64 > q.limit;
    let entries = rows.into_iter().take(q.limit.max(0) as usize).map(HistoryEntry::from).collect();
    Ok(HistoryPage { entries, more })
}

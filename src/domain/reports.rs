//! Reports: read models computed over several tables of one tenant (campaigns with the
//! counts of their contacts by status; queues with their agents). Read-only; each
//! dialect renders them in its own shape.

use std::collections::{HashMap, HashSet};

use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::campaigns::{self, Campaign};
use super::directory::{self, Agent};
use super::{DomainResult, TenantId};

/// A campaign with the counts of its contacts by shared contact status.
#[derive(Debug, Clone)]
pub struct CampaignSummary {
    pub campaign: Campaign,
    /// (shared contact status, count), only statuses that occur.
    pub contact_counts: Vec<(String, i64)>,
}

impl CampaignSummary {
    /// Every contact of the campaign.
    pub fn total_contacts(&self) -> i64 {
        self.contact_counts.iter().map(|(_, n)| n).sum()
    }
}

/// The tenant's campaigns (not deleted, in creation order) with their contact counts.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn campaign_summaries(db: &PgPool, tenant: TenantId) -> DomainResult<Vec<CampaignSummary>> {
    let list = campaigns::list(db, tenant).await?;
    let rows: Vec<(Uuid, String, i64)> =
        sqlx::query_as("SELECT campaign_id, status, count(*) FROM contacts WHERE tenant_id = $1 GROUP BY campaign_id, status")
            .bind(tenant.0)
            .fetch_all(db)
            .await?;
    let mut counts: HashMap<Uuid, Vec<(String, i64)>> = HashMap::new();
    for (campaign, status, n) in rows {
        counts.entry(campaign).or_default().push((status, n));
    }
    Ok(list
        .into_iter()
        .map(|campaign| CampaignSummary {
            contact_counts: counts.remove(&campaign.id).unwrap_or_default(),
            campaign,
        })
        .collect())
}

/// One campaign of the tenant with its contact counts (`NotFound("campaign")` when it is
/// not the tenant's or deleted).
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %id))]
pub async fn campaign_summary(db: &PgPool, tenant: TenantId, id: Uuid) -> DomainResult<CampaignSummary> {
    let campaign = campaigns::get(db, tenant, id).await?;
    let contact_counts = campaigns::contact_counts(db, tenant, id).await?;
    Ok(CampaignSummary { campaign, contact_counts })
}

/// A queue with its settings and its member agents.
#[derive(Debug, Clone, FromRow)]
pub struct QueueRoster {
    pub id: Uuid,
    pub name: String,
    pub extension: Option<String>,
    pub strategy: String,
    pub max_time_caller_in_queue: i32,
    /// Free-form queue data (e.g. live call counts set by fixtures).
    pub attrs: serde_json::Value,
    /// Member agents in the agents' creation order.
    #[sqlx(skip)]
    pub agents: Vec<Agent>,
}

/// The tenant's queues in creation order, each with its agents.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn queue_rosters(db: &PgPool, tenant: TenantId) -> DomainResult<Vec<QueueRoster>> {
    let mut queues: Vec<QueueRoster> = sqlx::query_as(
        "SELECT id, name, extension, strategy, max_time_caller_in_queue, attrs FROM queues WHERE tenant_id = $1 ORDER BY seq",
    )
    .bind(tenant.0)
    .fetch_all(db)
    .await?;
    let members: HashSet<(Uuid, Uuid)> = sqlx::query_as("SELECT queue_id, agent_id FROM queue_agents WHERE tenant_id = $1")
        .bind(tenant.0)
        .fetch_all(db)
        .await?
        .into_iter()
        .collect();
    let agents = directory::list_agents(db, tenant).await?;
    for q in &mut queues {
        q.agents = agents.iter().filter(|a| members.contains(&(q.id, a.id))).cloned().collect();
    }
    Ok(queues)
}

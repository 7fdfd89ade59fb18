//! Bulk changes of a tenant's users (agents) from an uploaded file: each row creates a
//! user or changes the one with its e-mail. Rows are applied in batches, each in one
//! transaction together with the job's checkpoint, so a resumed job never applies a row
//! twice. Which fields a file has and how they map to an agent's attrs is the dialect's.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use super::directory::{self, AgentChange, NewAgent};
use super::{jobs, DomainResult, TenantId};

/// One row of a file: the user's e-mail and the fields to set.
#[derive(Debug, Clone)]
pub struct UserChange {
    pub email: String,
    /// A new e-mail for an existing user.
    pub new_email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub agent_number: Option<String>,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserOutcome {
    /// The existing user was changed.
    Updated,
    /// A new user was created.
    Created,
    /// A new user was created with `email`; the row's new e-mail was ignored.
    CreatedIgnoringNewEmail(String),
    /// Not applied: the new e-mail belongs to another user.
    NewEmailTaken(String),
    /// Not applied: the dialect had refused the row.
    Skipped,
}

impl UserOutcome {
    /// Whether the row changed a user.
    pub fn applied(&self) -> bool {
        !matches!(self, UserOutcome::NewEmailTaken(_) | UserOutcome::Skipped)
    }
}

/// Applies a batch of rows (`None` = a row to skip) in one transaction with the job's
/// checkpoint: `attrs(i, current)` gives row `i`'s new attrs from the user's current ones
/// (`{}` for a new user), `progress` the checkpoint from the outcomes. `None` when the
/// worker no longer holds the job (nothing was written).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn apply_batch(
    db: &PgPool,
    tenant: TenantId,
    job: jobs::Lease<'_>,
    rows: Vec<Option<UserChange>>,
    attrs: impl Fn(usize, Value) -> Value,
    progress: impl FnOnce(&[UserOutcome]) -> Value,
    now: DateTime<Utc>,
) -> DomainResult<Option<Vec<UserOutcome>>> {
    let mut tx = db.begin().await?;
    if !jobs::lock_owned(&mut tx, job.id, job.worker).await? {
        return Ok(None);
    }
    let mut outcomes = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let Some(row) = row else {
            outcomes.push(UserOutcome::Skipped);
            continue;
        };
        let outcome = match directory::agent_by_email(&mut *tx, tenant, &row.email).await? {
            Some(agent) => {
                let mut target = agent.email.clone();
                let taken = match row.new_email.filter(|ne| !ne.eq_ignore_ascii_case(&agent.email)) {
                    Some(ne) if directory::agent_by_email(&mut *tx, tenant, &ne).await?.is_some() => Some(ne),
                    Some(ne) => {
                        target = ne;
                        None
                    }
                    None => None,
                };
                if let Some(ne) = taken {
                    outcomes.push(UserOutcome::NewEmailTaken(ne));
                    continue;
                }
                let change = AgentChange {
                    email: target,
                    first_name: row.first_name,
                    last_name: row.last_name,
                    agent_number: row.agent_number,
                    attrs: attrs(i, agent.attrs.clone()),
                };
                directory::update_agent(&mut *tx, tenant, agent.id, change, now).await?;
                UserOutcome::Updated
            }
            None => {
                let ignored = row.new_email.filter(|ne| !ne.eq_ignore_ascii_case(&row.email));
                let new = NewAgent {
                    email: row.email,
                    first_name: row.first_name,
                    last_name: row.last_name,
                    agent_number: row.agent_number,
                    extension: None,
                    status: "available".into(),
                    can_call: true,
                    attrs: Some(attrs(i, serde_json::json!({}))),
                };
                directory::create_agent(&mut *tx, tenant, new).await?;
                match ignored {
                    Some(ne) => UserOutcome::CreatedIgnoringNewEmail(ne),
                    None => UserOutcome::Created,
                }
            }
        };
        outcomes.push(outcome);
    }
    if !jobs::checkpoint(&mut tx, job.id, job.worker, &progress(&outcomes)).await? {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(outcomes))
}

//! Contact use-cases: add, update and delete a campaign's contacts, and list them with the
//! latest delivery per channel.
//!
//! Suppression is decided here: every phone destination (sms, voice) of a contact is
//! screened against the tenant's opt-out and DNC lists inside the use-case's transaction,
//! and the outcome is handed to the caller's planner and reported per contact. The planner
//! (a pure function of the dialect) turns the campaign, the contact as it is, the request
//! and the screening into the row's fields; the rules around it (the campaign must be open,
//! a contact starts over when its destinations change, a finished campaign given new work
//! is rescheduled) are the domain's.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Row};
use uuid::Uuid;

use super::campaign_ops;
use super::campaigns::{self, status as cs, Campaign};
use super::contacts::{self, status as cst, Contact, NewContact, COLS};
use super::{optlists, DomainError, DomainResult, TenantId};

/// One destination of a contact: a channel (`sms`, `voice`, `email`) and its normalised
/// address (E.164 for phone channels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub channel: String,
    pub address: String,
}

/// A destination after screening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screened {
    pub channel: String,
    pub address: String,
    /// On the opt-out list for the channel, or on the DNC list.
    pub suppressed: bool,
}

/// A contact to add or update: its id (required to update), its destinations (screened
/// against suppression) and whatever else the caller's planner needs (`data`).
#[derive(Debug, Clone)]
pub struct ContactRequest<T> {
    pub id: Option<Uuid>,
    pub destinations: Vec<Destination>,
    pub data: T,
}

/// What the planner (campaign, the contact as stored when updating, request, screening)
/// decides a contact becomes.
#[derive(Debug, Clone, Default)]
pub struct ContactPlan {
    /// The row's fields (`id` is taken from the request; `status` is the status the contact
    /// starts with, `pending` when None).
    pub fields: NewContact,
    /// On update: the destinations changed, so the contact starts over (attempts reset).
    pub restart: bool,
    /// When a finished campaign reopened by this contact starts (None: its stored start).
    pub reopen_at: Option<DateTime<Utc>>,
}

/// What happened to one contact.
#[derive(Debug, Clone)]
pub struct ContactOutcome {
    pub contact: Contact,
    /// Its screened destinations.
    pub screened: Vec<Screened>,
}

impl ContactOutcome {
    /// Whether any destination was suppressed.
    pub fn suppressed(&self) -> bool {
        self.screened.iter().any(|s| s.suppressed)
    }
}

/// Screens destinations: phone channels against the opt-out (by channel) and DNC lists at
/// `now`; email is never suppressed.
pub async fn screen(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    dests: &[Destination],
    now: DateTime<Utc>,
) -> DomainResult<Vec<Screened>> {
    let mut out = Vec::with_capacity(dests.len());
    for d in dests {
        let suppressed = match d.channel.as_str() {
            "sms" | "voice" => optlists::is_suppressed(&mut *conn, tenant, &d.address, &d.channel, now).await?,
            _ => false,
        };
        out.push(Screened {
            channel: d.channel.clone(),
            address: d.address.clone(),
            suppressed,
        });
    }
    Ok(out)
}

/// The shared status a contact starts with: `pending` when one of its planned deliveries
/// can go out, `dnc` when every planned one is suppressed, `skipped` when nothing is planned.
pub fn initial_status(deliverable: bool, any_suppressed: bool) -> &'static str {
    if deliverable {
        cst::PENDING
    } else if any_suppressed {
        cst::DNC
    } else {
        cst::SKIPPED
    }
}

/// Contacts may be added to or changed in a campaign that has not ended and is not
/// cancelled or failed.
fn ensure_open(c: &Campaign, now: DateTime<Utc>) -> DomainResult<()> {
    if c.ends_at.is_some_and(|e| e < now) {
        return Err(DomainError::InvalidState(format!(
            "campaign {} has ended (its end is in the past)",
            c.id
        )));
    }
    if matches!(c.status.as_str(), cs::CANCELLED | cs::FAILED) {
        return Err(DomainError::InvalidState(format!("campaign {} is {}", c.id, c.status)));
    }
    Ok(())
}

/// Adds contacts to a campaign of the tenant in one transaction (the campaign locked, its
/// contact sequence too): each is screened, planned and inserted; a finished campaign
/// given a pending contact is rescheduled. NotFound for an unknown campaign, InvalidState
/// for a closed one, Conflict for an id in use (nothing is added then).
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %campaign))]
pub async fn add_many<T>(
    db: &PgPool,
    tenant: TenantId,
    campaign: Uuid,
    reqs: Vec<ContactRequest<T>>,
    plan: impl Fn(&Campaign, Option<&Contact>, &ContactRequest<T>, &[Screened]) -> ContactPlan,
    now: DateTime<Utc>,
) -> DomainResult<Vec<ContactOutcome>> {
    let mut tx = db.begin().await?;
    let mut camp = campaign_ops::lock(&mut tx, tenant, campaign).await?;
    ensure_open(&camp, now)?;
    contacts::lock_campaign(&mut tx, camp.id, true).await?;
    let mut out = Vec::with_capacity(reqs.len());
    for req in &reqs {
        let screened = screen(&mut tx, tenant, &req.destinations, now).await?;
        let p = plan(&camp, None, req, &screened);
        let fields = NewContact {
            id: Some(req.id.unwrap_or_else(Uuid::new_v4)),
            ..p.fields
        };
        let contact = contacts::insert(&mut *tx, tenant, camp.id, fields, now).await?;
        if camp.status == cs::COMPLETED && contact.status == cst::PENDING {
            // A finished campaign with new work runs again (the scheduler starts it).
            camp = campaign_ops::reschedule(&mut tx, tenant, camp.id, p.reopen_at, now).await?;
        }
        out.push(ContactOutcome { contact, screened });
    }
    tx.commit().await?;
    Ok(out)
}

/// Updates a contact of a campaign of the tenant in one transaction: screened and planned
/// again; it starts over (the planned status, attempts reset) when the planner says its
/// destinations changed, takes the planned status when not attempted yet (pending or
/// skipped), else keeps its status. A finished campaign given a pending contact is
/// rescheduled. NotFound for an unknown campaign or contact, InvalidState for a closed
/// campaign.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %campaign))]
pub async fn update<T>(
    db: &PgPool,
    tenant: TenantId,
    campaign: Uuid,
    req: ContactRequest<T>,
    plan: impl Fn(&Campaign, Option<&Contact>, &ContactRequest<T>, &[Screened]) -> ContactPlan,
    now: DateTime<Utc>,
) -> DomainResult<ContactOutcome> {
    let id = req.id.ok_or_else(|| DomainError::validation("id", "is required"))?;
    let mut tx = db.begin().await?;
    let camp = campaign_ops::lock(&mut tx, tenant, campaign).await?;
    let sql = format!("SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND id = $3 FOR UPDATE");
    let cur = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(camp.id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DomainError::NotFound("contact"))?;
    ensure_open(&camp, now)?;
    let screened = screen(&mut tx, tenant, &req.destinations, now).await?;
    let p = plan(&camp, Some(&cur), &req, &screened);
    let planned = p.fields.status.clone().unwrap_or_else(|| cst::PENDING.into());
    let status = if p.restart || cur.status == cst::PENDING || cur.status == cst::SKIPPED {
        planned
    } else {
        cur.status.clone()
    };
    let f = p.fields;
    let sql = format!(
        "UPDATE contacts SET number = $3, original_number = $4, email = $5, max_retries = $6, attrs = $7, status = $8, updated_at = $9,
                attempts = CASE WHEN $10 THEN 0 ELSE attempts END
          WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"
    );
    let contact = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(f.number)
        .bind(f.original_number)
        .bind(f.email)
        .bind(f.max_retries)
        .bind(if f.attrs.is_null() { serde_json::json!({}) } else { f.attrs })
        .bind(&status)
        .bind(now)
        // starting over: a fresh contact (all its retries left), not a retry
        .bind(p.restart)
        .fetch_one(&mut *tx)
        .await?;
    if camp.status == cs::COMPLETED && status == cst::PENDING {
        campaign_ops::reschedule(&mut tx, tenant, camp.id, p.reopen_at, now).await?;
    }
    tx.commit().await?;
    Ok(ContactOutcome { contact, screened })
}

/// Deletes a contact of a (not deleted) campaign of the tenant; NotFound otherwise.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %campaign))]
pub async fn delete<'e>(db: impl PgExecutor<'e>, tenant: TenantId, campaign: Uuid, id: Uuid) -> DomainResult<()> {
    let n = sqlx::query(
        "DELETE FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND id = $3
            AND EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL)",
    )
    .bind(tenant.0)
    .bind(campaign)
    .bind(id)
    .execute(db)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound("contact"));
    }
    Ok(())
}

/// A campaign with its contacts (creation order) and, per contact and channel, the status
/// of the latest delivery.
#[derive(Debug, Clone)]
pub struct CampaignContacts {
    pub campaign: Campaign,
    pub contacts: Vec<Contact>,
    /// (contact id, channel) → the latest delivery's status (`deliveries.status`).
    pub last_delivery: HashMap<(Uuid, String), String>,
}

/// The contacts of a (not deleted) campaign of the tenant, in creation order; with the
/// latest delivery per contact and channel when `with_deliveries`. NotFound for an
/// unknown campaign.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %campaign))]
pub async fn list(db: &PgPool, tenant: TenantId, campaign: Uuid, with_deliveries: bool) -> DomainResult<CampaignContacts> {
    let campaign = campaigns::get(db, tenant, campaign).await?;
    let sql = format!("SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 ORDER BY seq");
    let list = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign.id)
        .fetch_all(db)
        .await?;
    let mut last = HashMap::new();
    if with_deliveries {
        let rows = sqlx::query(
            "SELECT DISTINCT ON (contact_id, channel) contact_id, channel, status FROM deliveries
              WHERE tenant_id = $1 AND campaign_id = $2 AND contact_id IS NOT NULL
              ORDER BY contact_id, channel, seq DESC",
        )
        .bind(tenant.0)
        .bind(campaign.id)
        .fetch_all(db)
        .await?;
        for r in rows {
            last.insert((r.try_get("contact_id")?, r.try_get("channel")?), r.try_get("status")?);
        }
    }
    Ok(CampaignContacts {
        campaign,
        contacts: list,
        last_delivery: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_status_of_a_planned_contact() {
        assert_eq!(initial_status(true, true), cst::PENDING);
        assert_eq!(initial_status(true, false), cst::PENDING);
        assert_eq!(initial_status(false, true), cst::DNC);
        assert_eq!(initial_status(false, false), cst::SKIPPED);
    }
}

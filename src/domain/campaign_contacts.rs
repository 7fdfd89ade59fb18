//! Use-cases on single contacts of a campaign: add one (screened against suppression), read
//! a campaign's contacts page by page in creation order, set a contact's status, delete one.
//! Each runs in one transaction of its own and records its event.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::contacts::{self, status, Contact, NewContact, COLS};
use super::{campaigns, events, optlists, DomainError, DomainResult, TenantId};

/// Event kinds recorded by these use-cases (`events.kind`).
pub mod event {
    /// A contact was added: `{"status": <shared status>, "suppressed": bool}`.
    pub const ADDED: &str = "contact_added";
    /// A contact's status was set: `{"from": <shared status>, "status": <shared status>}`.
    pub const STATUS_CHANGED: &str = "contact_status_changed";
    /// A contact was deleted (the event keeps no reference to the row):
    /// `{"contact_id": <uuid>, "name": "<first> <last>", "number": <E.164 or null>}`.
    pub const DELETED: &str = "contact_deleted";
}

/// Adds one contact to a campaign, screened against the tenant's suppression lists.
#[derive(Debug, Clone)]
pub struct AddScreenedRequest {
    pub campaign: Uuid,
    /// The contact; its `number` (E.164) is screened. Its `status` is ignored: a new
    /// contact is `pending`, or `dnc` when suppressed.
    pub contact: NewContact,
    /// The channel the contact will be reached on (one of [`optlists::CHANNELS`]).
    pub channel: &'static str,
    pub now: DateTime<Utc>,
}

/// The added contact and the domain's screening outcome.
#[derive(Debug, Clone)]
pub struct ScreenedContact {
    pub contact: Contact,
    /// On the opt-out list for the channel or on the company DNC list: stored as
    /// `dnc`, never dialled.
    pub suppressed: bool,
}

/// Adds one contact to the tenant's campaign: takes the campaign's contact lock
/// ([`contacts::lock_campaign`]) shared, checks the campaign, decides suppression,
/// inserts and records [`event::ADDED`], in one transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %req.campaign))]
pub async fn add_screened(db: &PgPool, tenant: TenantId, req: AddScreenedRequest) -> DomainResult<ScreenedContact> {
    let AddScreenedRequest {
        campaign,
        mut contact,
        channel,
        now,
    } = req;
    let mut tx = db.begin().await?;
    contacts::lock_campaign(&mut tx, campaign, false).await?;
    campaigns::get(&mut *tx, tenant, campaign).await?;
    let suppressed = match contact.number.as_deref() {
        Some(number) => optlists::is_suppressed(&mut *tx, tenant, number, channel, now).await?,
        None => false,
    };
    contact.status = Some(if suppressed { status::DNC } else { status::PENDING }.to_string());
    let contact = contacts::insert(&mut *tx, tenant, campaign, contact, now).await?;
    events::record(
        &mut *tx,
        tenant,
        event::ADDED,
        Some(campaign),
        Some(contact.id),
        None,
        json!({"status": contact.status, "suppressed": suppressed}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ScreenedContact { contact, suppressed })
}

/// One page of a campaign's contacts in creation order.
#[derive(Debug, Clone, Copy)]
pub struct ContactPageRequest {
    pub campaign: Uuid,
    /// The sequence of the last contact of the previous page (0 for the first page).
    pub after_seq: i64,
    pub limit: i64,
}

/// A page of contacts.
#[derive(Debug, Clone)]
pub struct ContactPage {
    pub contacts: Vec<Contact>,
    /// Whether contacts are left after this page.
    pub more: bool,
}

/// A page of the tenant's campaign's contacts (keyset over the creation sequence).
///
/// Takes the campaign's contact lock exclusively (adders hold it shared), so no page passes
/// a contact still being added under the lock; and `FOR UPDATE` on the campaign row, which waits for the foreign-key
/// `FOR KEY SHARE` lock of every in-flight insert that did not take the contact lock. An
/// unknown or deleted campaign is `NotFound("campaign")`.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %req.campaign))]
pub async fn page_in_order(db: &PgPool, tenant: TenantId, req: ContactPageRequest) -> DomainResult<ContactPage> {
    let mut tx = db.begin().await?;
    contacts::lock_campaign(&mut tx, req.campaign, true).await?;
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(tenant.0)
        .bind(req.campaign)
        .fetch_optional(&mut *tx)
        .await?;
    if found.is_none() {
        return Err(DomainError::NotFound("campaign"));
    }
    let mut rows = contacts::page(&mut *tx, tenant, req.campaign, req.after_seq, req.limit + 1).await?;
    tx.commit().await?;
    let more = rows.len() as i64 > req.limit;
    rows.truncate(req.limit.max(0) as usize);
    Ok(ContactPage { contacts: rows, more })
}

/// Sets a contact's status.
#[derive(Debug, Clone)]
pub struct SetStatusRequest {
    pub contact: Uuid,
    /// A shared contact status (one of [`status::ALL`]).
    pub status: &'static str,
    pub now: DateTime<Utc>,
}

/// Sets the tenant's contact's status (back to `pending` also clears its next attempt
/// time) and records [`event::STATUS_CHANGED`], in one transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant, contact = %req.contact))]
pub async fn set_status(db: &PgPool, tenant: TenantId, req: SetStatusRequest) -> DomainResult<Contact> {
    if !status::ALL.contains(&req.status) {
        return Err(DomainError::validation(
            "status",
            format!("must be one of {}", status::ALL.join(", ")),
        ));
    }
    let mut tx = db.begin().await?;
    let prev: String = sqlx::query_scalar("SELECT status FROM contacts WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(tenant.0)
        .bind(req.contact)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DomainError::NotFound("contact"))?;
    let contact = store_status(&mut tx, tenant, req.contact, req.status, req.now)
        .await?
        .ok_or(DomainError::NotFound("contact"))?;
    events::record(
        &mut *tx,
        tenant,
        event::STATUS_CHANGED,
        Some(contact.campaign_id),
        Some(contact.id),
        None,
        json!({"from": prev, "status": req.status}),
        req.now,
    )
    .await?;
    tx.commit().await?;
    Ok(contact)
}

/// Stores a contact's status in `conn`'s transaction (`pending` also clears the next
/// attempt time); `None` when the tenant has no such contact.
pub(crate) async fn store_status(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    new_status: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<Contact>> {
    let sql = format!(
        "UPDATE contacts SET status = $3, updated_at = $4,
                next_attempt_at = CASE WHEN $3 = 'pending' THEN NULL ELSE next_attempt_at END
          WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"
    );
    Ok(sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(new_status)
        .bind(now)
        .fetch_optional(conn)
        .await?)
}

/// What is left of a deleted contact.
#[derive(Debug, Clone)]
pub struct DeletedContact {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub number: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Deletes the tenant's contact and records [`event::DELETED`] (with its name and number,
/// as the contact row is gone), in one transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant, contact = %id))]
pub async fn delete_one(db: &PgPool, tenant: TenantId, id: Uuid, now: DateTime<Utc>) -> DomainResult<DeletedContact> {
    let mut tx = db.begin().await?;
    let (campaign_id, number, first_name, last_name): (Uuid, Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("DELETE FROM contacts WHERE tenant_id = $1 AND id = $2 RETURNING campaign_id, number, first_name, last_name")
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(DomainError::NotFound("contact"))?;
    let name = format!(
        "{} {}",
        first_name.as_deref().unwrap_or_default(),
        last_name.as_deref().unwrap_or_default()
    )
    .trim()
    .to_string();
    events::record(
        &mut *tx,
        tenant,
        event::DELETED,
        Some(campaign_id),
        None,
        None,
        json!({"contact_id": id, "name": name, "number": number}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(DeletedContact {
        id,
        campaign_id,
        number,
        first_name,
        last_name,
    })
}

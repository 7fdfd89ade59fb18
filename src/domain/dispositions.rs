//! Call dispositions: what became of a call, set by the client after the fact. The call's
//! interaction, its contact's status and a `disposition` event change together.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::campaign_contacts::store_status;
use super::contacts::status;
use super::{events, DomainError, DomainResult, TenantId};

/// Event kind recorded for a disposition: `{"disposition": <name>}`.
pub const EVENT: &str = "disposition";

/// The dispositions a client can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The call reached a voicemail box.
    Voicemail,
}

impl Disposition {
    /// The stored name (interaction status, `attrs.disposition`, event data).
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Voicemail => "voicemail",
        }
    }

    /// The shared contact status the call's contact gets.
    fn contact_status(self) -> &'static str {
        match self {
            Disposition::Voicemail => status::VOICEMAIL,
        }
    }
}

/// Sets the disposition of one of the tenant's calls.
#[derive(Debug, Clone, Copy)]
pub struct DispositionRequest {
    /// The call's interaction id.
    pub call: Uuid,
    pub disposition: Disposition,
    pub now: DateTime<Utc>,
}

/// The call after its disposition.
#[derive(Debug, Clone)]
pub struct DispositionOutcome {
    pub call: Uuid,
    pub direction: String,
    pub end_user_number: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The call's campaign, else its (updated) contact's.
    pub campaign_id: Option<Uuid>,
    /// The call's contact, when it exists and got the disposition's status.
    pub contact_id: Option<Uuid>,
}

/// Marks the tenant's call with the disposition (interaction status and
/// `attrs.disposition`), gives its contact the matching status and records [`EVENT`], in
/// one transaction. A call that is not the tenant's is `NotFound("call")`.
#[tracing::instrument(skip_all, fields(tenant = %tenant, call = %req.call))]
pub async fn record(db: &PgPool, tenant: TenantId, req: DispositionRequest) -> DomainResult<DispositionOutcome> {
    let name = req.disposition.as_str();
    let mut tx = db.begin().await?;
    type CallRow = (Option<Uuid>, Option<Uuid>, Option<String>, String, DateTime<Utc>);
    let (campaign, contact, number, direction, created_at): CallRow = sqlx::query_as(
        "UPDATE interactions SET status = $4, updated_at = $3,
                attrs = attrs || jsonb_build_object('disposition', $4::text)
          WHERE tenant_id = $1 AND id = $2 AND kind = 'call'
          RETURNING campaign_id, contact_id, end_user_number, direction, created_at",
    )
    .bind(tenant.0)
    .bind(req.call)
    .bind(req.now)
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DomainError::NotFound("call"))?;
    let updated = match contact {
        Some(c) => store_status(&mut tx, tenant, c, req.disposition.contact_status(), req.now).await?,
        None => None,
    };
    let campaign = campaign.or(updated.as_ref().map(|c| c.campaign_id));
    let contact = updated.map(|c| c.id);
    events::record(
        &mut *tx,
        tenant,
        EVENT,
        campaign,
        contact,
        Some(req.call),
        json!({"disposition": name}),
        req.now,
    )
    .await?;
    tx.commit().await?;
    Ok(DispositionOutcome {
        call: req.call,
        direction,
        end_user_number: number,
        created_at,
        campaign_id: campaign,
        contact_id: contact,
    })
}

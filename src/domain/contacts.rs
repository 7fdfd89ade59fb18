//! Contacts (recipients, leads, dialer contacts): one table for every dialect.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// The shared per-contact state. Each dialect maps it in one table of its own.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const DIALING: &str = "dialing";
    pub const QUEUED: &str = "queued";
    pub const CONNECTED: &str = "connected";
    pub const COMPLETED: &str = "completed";
    pub const TRANSFERRED: &str = "transferred";
    pub const TRANSFERRED_COMPLETED: &str = "transferred_completed";
    pub const NO_ANSWER: &str = "no_answer";
    pub const UNREACHABLE: &str = "unreachable";
    pub const ABANDONED: &str = "abandoned";
    pub const ABANDONED_BY_DIALER: &str = "abandoned_by_dialer";
    pub const SKIPPED: &str = "skipped";
    pub const SKIPPED_CLOSED: &str = "skipped_closed";
    pub const INVALID_NUMBER: &str = "invalid_number";
    pub const INVALID_OUTBOUND: &str = "invalid_outbound";
    pub const BLOCKED: &str = "blocked";
    pub const CARRIER_ERROR: &str = "carrier_error";
    pub const FAILED: &str = "failed";
    pub const VOICEMAIL: &str = "voicemail";
    pub const CALLBACK: &str = "callback";
    pub const DNC: &str = "dnc";
    pub const CANCELLED: &str = "cancelled";
    /// Every state.
    pub const ALL: &[&str] = &[
        PENDING,
        DIALING,
        QUEUED,
        CONNECTED,
        COMPLETED,
        TRANSFERRED,
        TRANSFERRED_COMPLETED,
        NO_ANSWER,
        UNREACHABLE,
        ABANDONED,
        ABANDONED_BY_DIALER,
        SKIPPED,
        SKIPPED_CLOSED,
        INVALID_NUMBER,
        INVALID_OUTBOUND,
        BLOCKED,
        CARRIER_ERROR,
        FAILED,
        VOICEMAIL,
        CALLBACK,
        DNC,
        CANCELLED,
    ];
}

/// A contact row.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Contact {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub campaign_id: Uuid,
    pub number: Option<String>,
    pub original_number: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub external_id: Option<String>,
    pub outbound_number: Option<String>,
    pub status: String,
    pub priority: i32,
    pub max_retries: i32,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attrs: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Contact`], for dialect queries.
pub const COLS: &str = "id, seq, tenant_id, campaign_id, number, original_number, email, name, first_name, last_name, external_id, outbound_number, status, priority, max_retries, attempts, next_attempt_at, attrs, created_at, updated_at";

/// Fields of a new contact.
#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub id: Option<Uuid>,
    pub number: Option<String>,
    pub original_number: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub external_id: Option<String>,
    pub outbound_number: Option<String>,
    pub status: Option<String>,
    pub priority: i32,
    pub max_retries: i32,
    pub attrs: serde_json::Value,
}

/// Takes the lock of a campaign's contact sequence until the end of `conn`'s transaction:
/// writers take it exclusively before adding contacts, keyset readers (Leads paging) shared
/// before reading a page, so a page never passes a contact that is still being written.
/// Every dialect that adds contacts takes it (one key for all of them).
pub async fn lock_campaign(conn: &mut sqlx::PgConnection, campaign: Uuid, exclusive: bool) -> Result<(), sqlx::Error> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock(hashtextextended('contacts:' || $1::text, 0))"
    } else {
        "SELECT pg_advisory_xact_lock_shared(hashtextextended('contacts:' || $1::text, 0))"
    };
    sqlx::query(sql).bind(campaign).execute(conn).await?;
    Ok(())
}

/// Inserts one contact into a campaign of the tenant (the caller checked the campaign and,
/// in its transaction, took [`lock_campaign`]).
pub async fn insert<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    campaign: Uuid,
    c: NewContact,
    now: DateTime<Utc>,
) -> DomainResult<Contact> {
    let sql = format!(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, original_number, email, name, first_name, last_name,
                               external_id, outbound_number, status, priority, max_retries, attrs, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16
          WHERE EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $2 AND id = $3)
         ON CONFLICT (id) DO NOTHING RETURNING {COLS}"
    );
    let attrs = if c.attrs.is_null() { serde_json::json!({}) } else { c.attrs };
    sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(c.id.unwrap_or_else(Uuid::new_v4))
        .bind(tenant.0)
        .bind(campaign)
        .bind(&c.number)
        .bind(&c.original_number)
        .bind(&c.email)
        .bind(&c.name)
        .bind(&c.first_name)
        .bind(&c.last_name)
        .bind(&c.external_id)
        .bind(&c.outbound_number)
        .bind(c.status.as_deref().unwrap_or(status::PENDING))
        .bind(c.priority)
        .bind(c.max_retries)
        .bind(attrs)
        .bind(now)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| DomainError::Conflict("contact already exists or campaign not found".into()))
}

/// One contact of the tenant.
pub async fn get<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Contact> {
    let sql = format!("SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND id = $2");
    sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("contact"))
}

/// A page of a campaign's contacts in creation order, after `after_seq` (keyset).
pub async fn page<'e>(db: impl PgExecutor<'e>, tenant: TenantId, campaign: Uuid, after_seq: i64, limit: i64) -> DomainResult<Vec<Contact>> {
    let sql = format!("SELECT {COLS} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND seq > $3 ORDER BY seq LIMIT $4");
    Ok(sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

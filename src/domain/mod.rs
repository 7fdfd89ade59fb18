//! The business, independent of HTTP and of every vendor's names.
//!
//! Where code lives: the **domain** (here) holds the use-cases and all SQL; the
//! **dialects** (`src/dialects/<vendor>`) are thin adapters (parse the wire → one
//! domain call → render) and own everything vendor-specific, including their tenant
//! credentials and settings (see [`tenants::Provisioner`] and [`tenants::Setting`]); the
//! **engine** (`src/engine`) makes time pass (scheduler, job worker) over domain
//! functions and its own claim queries; the **admin** API (`src/admin`) is the
//! operator's adapter over the same functions. The domain imports no dialect, and `db/`
//! imports nothing from it.
//!
//! Rules of the functions here: every function that touches tenant data takes a
//! [`TenantId`] first and every query has the tenant in its WHERE clause; a use-case that
//! changes several rows opens its one transaction itself; the time is a `now` parameter
//! (the tenant clock), never the process clock. Errors are [`DomainError`], and each
//! dialect maps it to its own wire format; a constraint violation becomes a domain error
//! in one place, [`ResultExt::on_constraint`]. A campaign's status is written only by
//! [`campaigns::transition`]. Async work goes through [`jobs`]: handlers are
//! [`jobs::JobHandler`]s that the dialects register and the entry point hands to the engine.

pub mod announcements;
pub mod attempts;
pub mod blobs;
pub mod bulk_users;
pub mod caches;
pub mod campaign_contacts;
pub mod campaign_launch;
pub mod campaign_ops;
pub mod campaign_search;
pub mod campaigns;
pub mod clock;
pub mod console_views;
pub mod contact_batches;
pub mod contact_ops;
pub mod contact_pages;
pub mod contacts;
pub mod credentials;
pub mod credits;
pub mod crm;
pub mod delivery;
pub mod directory;
pub mod dispositions;
pub mod events;
pub mod faults;
pub mod history;
pub mod imports;
pub mod interaction_attempts;
pub mod interactions;
pub mod jobs;
pub mod journal;
pub mod listing;
pub mod notify;
pub mod optlists;
pub mod outbox;
pub mod phone;
pub mod progress;
pub mod ratelimit;
pub mod reports;
pub mod secrets;
pub mod sessions;
pub mod snapshots;
pub mod tenant_ops;
pub mod tenants;
pub mod webhooks;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The tenant every call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(transparent)]
pub struct TenantId(pub Uuid);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The one error type of the domain.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The object (named by the `&str`, e.g. "campaign") does not exist for this tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Already exists / duplicate.
    #[error("{0}")]
    Conflict(String),
    /// Bad input in a named field.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// Not enough credit for the operation.
    #[error("insufficient credits: needed {needed}, available {available}")]
    InsufficientCredits { needed: i64, available: i64 },
    /// The number is on an opt-out or DNC list.
    #[error("{number} is suppressed")]
    Suppressed { number: String },
    /// The operation is not allowed in the object's current state.
    #[error("{0}")]
    InvalidState(String),
    /// Credentials or token not valid.
    #[error("unauthorized")]
    Unauthorized,
    /// Anything else; the message is for logs, never for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    /// A validation error on `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for DomainError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => DomainError::NotFound("row"),
            // Text that PostgreSQL cannot store (NUL in text or jsonb) or a number out of
            // its column's range: the client's input, never a server fault. Entry points
            // name the field first (`http::nul_in_json`); this is the net behind them.
            sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("22021" | "22P05")) => {
                DomainError::validation("text", "must not contain NUL characters")
            }
            sqlx::Error::Database(d) if d.code().as_deref() == Some("22003") => DomainError::validation("number", "out of range"),
            other => {
                tracing::error!(error = %other, "database error");
                DomainError::Internal(other.to_string())
            }
        }
    }
}

/// Result of domain functions.
pub type DomainResult<T> = Result<T, DomainError>;

/// SQLSTATE codes the domain reacts to.
pub mod sqlstate {
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
}

/// The SQLSTATE of a database error.
pub fn sqlstate_of(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// The one place where constraint violations become domain errors (as realworld-axum-sqlx's
/// `on_constraint`): `query.execute(db).await.on_constraint("tenants_slug_key", || …)?`.
pub trait ResultExt<T> {
    /// A violation of the constraint (or unique index) `name` → `f()`; any other error as
    /// [`DomainError::from`].
    fn on_constraint(self, name: &str, f: impl FnOnce() -> DomainError) -> DomainResult<T>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> DomainError) -> DomainResult<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(d) if d.constraint() == Some(name) => f(),
            _ => DomainError::from(e),
        })
    }
}

/// Renders a uuid as 32 lowercase hex (Leads ids, SID suffixes).
pub fn hex_id(id: Uuid) -> String {
    id.simple().to_string()
}

/// Parses 32 hex (or any uuid form) into a uuid.
pub fn parse_hex_id(s: &str) -> Option<Uuid> {
    Uuid::try_parse(s).ok()
}

/// A SID: two- or three-letter prefix + 32 hex of the uuid.
pub fn sid(prefix: &str, id: Uuid) -> String {
    format!("{prefix}{}", id.simple())
}

/// Parses a SID with the given prefix back to its uuid.
pub fn parse_sid(prefix: &str, s: &str) -> Option<Uuid> {
    let hex = s.strip_prefix(prefix)?;
    if hex.len() != 32 {
        return None;
    }
    Uuid::try_parse(hex).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_round_trip() {
        let id = Uuid::new_v4();
        let s = sid("EC", id);
        assert_eq!(s.len(), 34);
        assert_eq!(parse_sid("EC", &s), Some(id));
        assert_eq!(parse_sid("AN", &s), None);
        assert_eq!(parse_hex_id(&hex_id(id)), Some(id));
    }
}

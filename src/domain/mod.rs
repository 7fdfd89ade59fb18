//! The business, independent of HTTP and of every vendor's names.
//!
//! Every function that touches tenant data takes a [`TenantId`] first and every query has
//! the tenant in its WHERE clause. Errors are [`DomainError`]; each dialect maps it to its
//! own wire format.

pub mod blobs;
pub mod campaigns;
pub mod clock;
pub mod contact_batches;
pub mod contacts;
pub mod credentials;
pub mod credits;
pub mod directory;
pub mod events;
pub mod interactions;
pub mod jobs;
pub mod listing;
pub mod optlists;
pub mod outbox;
pub mod phone;
pub mod ratelimit;
pub mod secrets;
pub mod tenant_ops;
pub mod tenants;

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

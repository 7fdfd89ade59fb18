//! The Apps API error shape: `{"message": "<text>"}` with the vendor's status codes.
//! Shared by the outbound-dialer dialect.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::domain::DomainError;

/// An Apps API error: status + message (+ Retry-After for 429).
#[derive(Debug, Clone)]
pub struct AppsError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl AppsError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AppsError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 400 with the vendor's message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 404 `{"message": "Not Found"}`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }
    /// 401 `{"message": "Unauthorized"}`.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }
    /// 429 with Retry-After.
    pub fn too_many(retry_after: u64) -> Self {
        AppsError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: "Too Many Requests".into(),
            retry_after: Some(retry_after),
        }
    }
    /// 500 without details (they go to the log).
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }
}

impl From<DomainError> for AppsError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(_) => AppsError::not_found(),
            DomainError::Validation { message, .. } => AppsError::bad_request(message),
            DomainError::Conflict(m) | DomainError::InvalidState(m) => AppsError::bad_request(m),
            DomainError::Suppressed { .. } => AppsError::bad_request("end_user_number is on the Do Not Call list"),
            DomainError::InsufficientCredits { .. } => AppsError::bad_request("Insufficient credits"),
            DomainError::Unauthorized => AppsError::unauthorized(),
            DomainError::Internal(_) => AppsError::internal(),
        }
    }
}

impl IntoResponse for AppsError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({ "message": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Application\""));
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

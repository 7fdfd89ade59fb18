//! The admin API's error shape: `{"error": "…"}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::domain::DomainError;

/// Errors of the admin API.
#[derive(Debug)]
pub enum AdminError {
    Unauthorized,
    NotFound(String),
    BadRequest(String),
    Unprocessable(String),
    Conflict(String),
    TooLarge(String),
    Internal,
}

impl From<DomainError> for AdminError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => AdminError::NotFound(format!("{what} not found")),
            DomainError::Conflict(m) => AdminError::Conflict(m),
            DomainError::Validation { field, message } => AdminError::Unprocessable(format!("{field}: {message}")),
            DomainError::InsufficientCredits { needed, available } => {
                AdminError::Unprocessable(format!("credit: insufficient credits (needed {needed}, available {available})"))
            }
            DomainError::Suppressed { number } => AdminError::Unprocessable(format!("number: {number} is suppressed")),
            DomainError::InvalidState(m) => AdminError::Conflict(m),
            DomainError::Unauthorized => AdminError::Unauthorized,
            DomainError::Internal(_) => AdminError::Internal,
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            AdminError::Unauthorized => (StatusCode::UNAUTHORIZED, "missing or invalid admin token".to_string()),
            AdminError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            AdminError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AdminError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            AdminError::Conflict(m) => (StatusCode::CONFLICT, m),
            AdminError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            AdminError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_string()),
        };
        (status, Json(json!({ "error": msg }))).into_response()
    }
}

/// `Json<T>` whose rejections are in the admin shape: malformed JSON → 400, a body that
/// does not fit `T` → 422 (serde's message names the field).
pub struct AdminJson<T>(pub T);

impl<T, S> FromRequest<S> for AdminJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
        let parsed = if is_json {
            let bytes = match axum::body::Bytes::from_request(req, state).await {
                Ok(b) => b,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(AdminError::TooLarge(e.body_text())),
                Err(e) => return Err(AdminError::BadRequest(e.body_text())),
            };
            if let Some(field) = crate::http::nul_in_json(&bytes) {
                return Err(AdminError::Unprocessable(crate::http::nul_message(&field)));
            }
            Json::<T>::from_bytes(&bytes)
        } else {
            Json::<T>::from_request(req, state).await
        };
        match parsed {
            Ok(Json(v)) => Ok(AdminJson(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(AdminError::Unprocessable(e.body_text())),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(AdminError::TooLarge(e.body_text())),
            Err(e) => Err(AdminError::BadRequest(e.body_text())),
        }
    }
}

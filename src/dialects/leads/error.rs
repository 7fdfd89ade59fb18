//! The Leads error shape: `{"status": "error", "code": <http status>, "message": "…"}`.

use axum::extract::FromRequest;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::domain::DomainError;

/// Errors of the Leads dialect.
#[derive(Debug)]
pub enum LeadsError {
    /// 400 "The information sent is invalid." (also used for unknown ids, as the doc lists no 404).
    BadRequest(String),
    /// 401: missing, expired, revoked or forged token; wrong credentials.
    Unauthorized(&'static str),
    /// 403: `X-Account-ID` is not the token's account.
    Forbidden,
    /// 404 (only for `GET /api/v2/config/campaigns/{id}`, which the doc does not list).
    NotFound(String),
    /// 500; details only in the logs.
    Internal,
    /// An injected fault's status (`crate::controls::faults`).
    Fault(StatusCode, String),
}

pub type LeadsResult<T> = Result<T, LeadsError>;

impl LeadsError {
    pub fn bad(msg: impl Into<String>) -> Self {
        LeadsError::BadRequest(msg.into())
    }
}

/// The Leads name of a domain object (`contact` → `lead`); others keep theirs.
fn object_name(what: &str) -> &str {
    match what {
        "contact" => "lead",
        other => other,
    }
}

/// Every domain error in the Leads shape, so handlers use `?` on domain calls.
impl From<DomainError> for LeadsError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => LeadsError::BadRequest(format!("{} not found", object_name(what))),
            DomainError::Conflict(m) | DomainError::InvalidState(m) => LeadsError::BadRequest(m),
            DomainError::Validation { field, message } => LeadsError::BadRequest(format!("{field}: {message}")),
            DomainError::InsufficientCredits { .. } => LeadsError::BadRequest("insufficient credits".into()),
            DomainError::Suppressed { number } => LeadsError::BadRequest(format!("number: {number} is suppressed")),
            DomainError::Unauthorized => LeadsError::Unauthorized("invalid credentials"),
            DomainError::Internal(_) => LeadsError::Internal,
        }
    }
}

impl IntoResponse for LeadsError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            LeadsError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            LeadsError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.to_string()),
            LeadsError::Forbidden => (
                StatusCode::FORBIDDEN,
                "X-Account-ID does not match the authenticated account".to_string(),
            ),
            LeadsError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            LeadsError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Error due to an internal issue.".to_string()),
            LeadsError::Fault(status, m) => (status, m),
        };
        (
            status,
            Json(json!({"status": "error", "code": status.as_u16(), "message": message})),
        )
            .into_response()
    }
}

/// A path extractor whose rejection (e.g. a segment that is not UTF-8 once
/// percent-decoded) is a 400 in the Leads shape rather than axum's plain-text answer.
pub struct LeadsPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for LeadsPath<T> {
    type Rejection = LeadsError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(LeadsPath(v)),
            Err(e) => Err(LeadsError::bad(format!("invalid path: {}", e.body_text()))),
        }
    }
}

/// A JSON object body; anything else (malformed, not an object) → 400 in the Leads shape.
/// The content type is not checked (vendor clients are not consistent about it).
pub struct LeadsJson(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for LeadsJson {
    type Rejection = LeadsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| LeadsError::bad("request body could not be read"))?;
        if let Some(field) = crate::http::nul_in_json(&bytes) {
            return Err(LeadsError::bad(crate::http::nul_message(&field)));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(LeadsJson(m)),
            Ok(_) => Err(LeadsError::bad("request body must be a JSON object")),
            Err(e) => Err(LeadsError::bad(format!("request body is not valid JSON: {e}"))),
        }
    }
}

/// Optional string field (null = absent); another type, or a NUL character (which
/// Postgres text cannot store) → 400 naming the field.
pub fn opt_str(m: &serde_json::Map<String, Value>, field: &str) -> LeadsResult<Option<String>> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.contains('\0') => Err(LeadsError::bad(format!("{field}: must not contain NUL characters"))),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(LeadsError::bad(format!("{field}: must be a string"))),
    }
}

/// Optional integer field (null = absent) within `min..=max`; another type → 400 naming the field.
pub fn opt_int(m: &serde_json::Map<String, Value>, field: &str, min: i64, max: i64) -> LeadsResult<Option<i64>> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) if (min..=max).contains(&i) => Ok(Some(i)),
            Some(_) => Err(LeadsError::bad(format!("{field}: must be between {min} and {max}"))),
            None => Err(LeadsError::bad(format!("{field}: must be an integer"))),
        },
        Some(_) => Err(LeadsError::bad(format!("{field}: must be an integer"))),
    }
}

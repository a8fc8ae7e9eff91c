//! The one error type of the HTTP API and its mapping to status codes. Every answer that is not a
//! success is `{"error": {"code": "...", "message": "..."}}`; internal details are logged, never
//! returned.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::Invalid;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON (or not the expected encoding).
    #[error("{0}")]
    Malformed(String),
    /// 422: a field broke a rule (400 for a value that may never be sent: [`Invalid::refused`]).
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// 401: no or wrong credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: valid credentials for something else.
    #[error("these credentials do not give access to this license")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 404 for something retention removed; the text says so.
    #[error("{0}")]
    Purged(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// 408: the body did not arrive in time.
    #[error("the request body did not arrive within {}", humantime::format_duration(*.0))]
    BodyTimeout(std::time::Duration),
    /// 405: the path exists, the method is not one of its own (the `Allow` header lists them).
    #[error("the method {0} is not allowed on this path; the Allow header lists those that are")]
    MethodNotAllowed(String),
    /// 426: a WebSocket route asked without the upgrade.
    #[error("{0}")]
    UpgradeRequired(&'static str),
    /// 429: a bounded resource (the live tails of a node) is all taken; the text says which.
    #[error("{0}")]
    TooManyRequests(String),
    #[error("the database is unavailable; nothing was stored, try again")]
    Unavailable,
    /// 503: a limit of this node is reached; the text says which.
    #[error("{0}")]
    Busy(&'static str),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(i) if i.refused => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::Purged(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UpgradeRequired(_) => StatusCode::UPGRADE_REQUIRED,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed_request",
            ApiError::Invalid(_) => "invalid_field",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) | ApiError::Purged(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::BodyTimeout(_) => "request_timeout",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::UpgradeRequired(_) => "upgrade_required",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::Unavailable | ApiError::Busy(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                ApiError::Unavailable
            }
            StoreError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error answering a request");
        }
        let status = self.status();
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let ApiError::Invalid(invalid) = &self {
            error["field"] = json!(invalid.field);
        }
        let mut response = (status, axum::Json(json!({ "error": error }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hookrelay\""),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

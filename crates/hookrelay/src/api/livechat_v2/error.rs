//! Errors of the v2-compatible API. They are the same [`ApiError`] values as everywhere else,
//! written the way LiveChat's v2 API wrote them: a JSON object whose `error` is a sentence,
//! with `400` for every bad parameter (v2 had no 422) and `401` with a Basic challenge.
//!
//! `{"error": "data_types: event visitor_queued carries: visitor", "code": "invalid_field",
//! "field": "data_types"}`: `code` and `field` are hookrelay's additions for programs; v2 code
//! that reads `error` sees a readable message.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::ApiError;
use crate::domain::Invalid;
use crate::store::StoreError;

/// An [`ApiError`] answered v2-style.
#[derive(Debug)]
pub struct V2Error(pub ApiError);

impl From<ApiError> for V2Error {
    fn from(e: ApiError) -> V2Error {
        V2Error(e)
    }
}

impl From<Invalid> for V2Error {
    fn from(e: Invalid) -> V2Error {
        V2Error(e.into())
    }
}

impl From<StoreError> for V2Error {
    fn from(e: StoreError) -> V2Error {
        V2Error(e.into())
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let e = self.0;
        if let ApiError::Internal(inner) = &e {
            tracing::error!(error = ?inner, "internal error answering a v2 request");
        }
        let status = match e {
            ApiError::Invalid(_) | ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            _ => e.status(),
        };
        let mut body = json!({"error": e.to_string(), "code": e.code()});
        if let ApiError::Invalid(invalid) = &e {
            body["field"] = json!(invalid.field);
        }
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hookrelay\""),
            );
        }
        response
    }
}

/// What v2 handlers return.
pub type V2Result<T> = Result<T, V2Error>;

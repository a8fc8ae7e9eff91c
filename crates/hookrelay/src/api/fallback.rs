//! Answers for requests no handler takes: an unknown path (404), or a method the path does not
//! have (405, with the `Allow` header, which axum fills with the methods the path has). They are
//! written in the error shape of the API the path belongs to: v2's under `/webhooks` and
//! `/visitors`, /v1's everywhere else.

use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};

use super::livechat_v2::{self, V2Error};
use super::ApiError;

pub async fn not_found(uri: Uri) -> Response {
    refuse(&uri, ApiError::NotFound("route"))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    refuse(&uri, ApiError::MethodNotAllowed(method.to_string()))
}

fn refuse(uri: &Uri, error: ApiError) -> Response {
    if livechat_v2::owns(uri.path()) {
        V2Error(error).into_response()
    } else {
        error.into_response()
    }
}

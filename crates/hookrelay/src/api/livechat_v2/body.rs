//! v2 request bodies: PHP-style forms (what `http_build_query` and `curl -d` send) or JSON,
//! told apart by `Content-Type`, both read into one JSON object for the handlers.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::error::V2Error;
use super::php_form;
use crate::api::body::{parse_json_value, read_at_most};
use crate::api::{ApiError, AppState};

/// The body as a JSON object, whichever encoding it came in.
pub struct V2Body(pub Map<String, Value>);

impl FromRequest<AppState> for V2Body {
    type Rejection = V2Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        V2Body::read(req, state, state.config.max_body_bytes).await
    }
}

impl V2Body {
    /// Reads a body of at most `limit` bytes.
    pub async fn read(req: Request, state: &AppState, limit: usize) -> Result<V2Body, V2Error> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let bytes = read_at_most(req, state, limit).await?;
        let value = match content_type.as_deref() {
            Some("application/json") => parse_json_value(&bytes)?,
            // curl -d and PHP's CURLOPT_POSTFIELDS with a string send forms; so may a client
            // that sets no type at all.
            Some("application/x-www-form-urlencoded") | None => {
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| ApiError::Malformed("the form body is not UTF-8 text".into()))?;
                php_form::decode(text).map_err(|e| ApiError::Malformed(e.to_string()))?
            }
            Some(other) => {
                return Err(ApiError::Malformed(format!(
                    "Content-Type `{other}` is not read here; send \
                     application/x-www-form-urlencoded (http_build_query) or application/json"
                ))
                .into())
            }
        };
        match value {
            Value::Object(map) => Ok(V2Body(map)),
            _ => Err(ApiError::Malformed("the body must be a JSON object".into()).into()),
        }
    }
}

//! Reading request bodies: size-limited, parsed with errors that name the field at fault.

use axum::body::{Bytes, HttpBody as _};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::de::SliceRead;
use serde_json::Value;

use super::error::ApiError;
use super::AppState;
use crate::domain::Invalid;

/// A JSON body parsed into `T`; any problem becomes a 4xx naming the field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_bytes(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Reads the whole body, answering 413 past the configured limit.
pub async fn read_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    read_at_most(req, state, state.config.max_body_bytes).await
}

/// Reads the whole body if it is at most `limit` bytes. A body declared larger (`Content-Length`)
/// is answered 413 at once, without waiting for bytes that would be refused anyway; one that
/// does not arrive within `body_read_timeout` is answered 408.
pub async fn read_at_most(req: Request, state: &AppState, limit: usize) -> Result<Bytes, ApiError> {
    let body = req.into_body();
    if body.size_hint().lower() > limit as u64 {
        return Err(ApiError::TooLarge(limit));
    }
    let timeout = state.config.body_read_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::TooLarge(limit)),
        Err(_) => Err(ApiError::BodyTimeout(timeout)),
    }
}

/// Parses a JSON body into a [`Value`] for checks of its own that name fields: only a syntax error
/// is possible (400), so no path is tracked (that tracking showed up in batch-ingest profiles).
pub fn parse_json_value(bytes: &[u8]) -> Result<Value, ApiError> {
    parse_object(bytes, |de| Value::deserialize(de).map_err(not_json))
}

/// Parses a JSON body into `T`; a syntax error is 400, a value of the wrong shape is 422 naming
/// its path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_object(bytes, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                not_json(inner)
            } else {
                let field = if path == "." { "body".into() } else { path };
                ApiError::Invalid(Invalid::new(field, strip_position(&inner.to_string())))
            }
        })
    })
}

/// The rules every JSON body of the API follows, whatever reads it: one JSON object and nothing
/// after it. serde stops at the end of the first value, so `{...} garbage` or a second object
/// would otherwise be silently ignored; a top-level array would fill a struct's fields in order.
fn parse_object<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut serde_json::Deserializer<SliceRead<'_>>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(ApiError::Malformed(
                "the request body is empty; send a JSON object".into(),
            ))
        }
        Some(b'{') => {}
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            return Err(Invalid::new("body", "must be a JSON object").into())
        }
        Some(_) => return Err(not_json("it does not start with `{`")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = read(&mut de)?;
    de.end().map_err(|e| {
        ApiError::Malformed(format!(
            "the body must be one JSON object with nothing after it: {e}"
        ))
    })?;
    Ok(value)
}

fn not_json(e: impl std::fmt::Display) -> ApiError {
    ApiError::Malformed(format!("the body is not valid JSON: {e}"))
}

/// serde_json appends " at line 1 column 42"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Input {
        url: String,
        data_types: Vec<String>,
    }

    #[test]
    fn a_wrong_type_names_the_field_path() {
        let err = parse_json::<Input>(br#"{"url": "x", "data_types": ["a", 3]}"#).unwrap_err();
        match err {
            ApiError::Invalid(i) => {
                assert_eq!(i.field, "data_types[1]");
                assert!(!i.message.contains("line"), "{}", i.message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn broken_json_is_a_400() {
        assert!(matches!(
            parse_json::<Input>(b"{\"url\": "),
            Err(ApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_json::<Input>(b"  "),
            Err(ApiError::Malformed(_))
        ));
    }

    #[test]
    fn anything_after_the_object_is_a_400() {
        for body in [
            &br#"{"url": "x", "data_types": []} garbage"#[..],
            br#"{"url": "x", "data_types": []}{"url": "y", "data_types": []}"#,
        ] {
            assert!(matches!(
                parse_json::<Input>(body),
                Err(ApiError::Malformed(_))
            ));
            assert!(matches!(
                parse_json_value(body),
                Err(ApiError::Malformed(_))
            ));
        }
        assert!(parse_json::<Input>(b" {\"url\": \"x\", \"data_types\": []}\r\n ").is_ok());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        let err = parse_json::<Input>(br#"["x", []]"#).unwrap_err();
        assert!(
            matches!(&err, ApiError::Invalid(i) if i.field == "body"),
            "{err:?}"
        );
        assert!(parse_json_value(b"3").is_err());
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = parse_json::<Input>(br#"{"data_types": []}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `url`"), "{err}");
    }
}

//! Reading request bodies: size-limited, parsed with errors that name the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
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
    let limit = state.config.max_body_bytes;
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| ApiError::TooLarge(limit))
}

/// Parses JSON into a [`Value`] for checks of its own that name fields: only a syntax error is
/// possible (400), so no path is tracked (that tracking showed up in batch-ingest profiles).
pub fn parse_json_value(bytes: &[u8]) -> Result<Value, ApiError> {
    refuse_empty(bytes)?;
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))
}

fn refuse_empty(bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Malformed(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    Ok(())
}

/// Parses JSON; a syntax error is 400, a value of the wrong shape is 422 naming its path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    refuse_empty(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::Malformed(format!("the body is not valid JSON: {inner}"))
        } else {
            let field = if path == "." { "body".into() } else { path };
            ApiError::Invalid(Invalid::new(field, strip_position(&inner.to_string())))
        }
    })
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
    fn a_missing_field_is_named() {
        let err = parse_json::<Input>(br#"{"data_types": []}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `url`"), "{err}");
    }
}

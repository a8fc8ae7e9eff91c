//! Path parameters, refused in the API's JSON error shape: axum's own `Path` answers a malformed
//! parameter (invalid UTF-8 after percent-decoding, say) with a text/plain 400.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;

/// The route's path parameters as `T`; a malformed one is a JSON 400.
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(params)) => Ok(PathParams(params)),
            Err(e) => Err(ApiError::Malformed(format!(
                "the path is not valid: {}",
                e.body_text()
            ))),
        }
    }
}

//! HTTP Basic authentication of the v2 management API: `Authorization: Basic
//! base64(login:api_key)`, as LiveChat v2 clients send it (`curl -u login:key`). The license is
//! found by its login and the key's hash compared with the stored one in constant time. The
//! header is read by the receiver SDK's [`parse_basic`], the one Basic parser of the workspace.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use hookrelay_receiver::parse_basic;

use super::error::V2Error;
use crate::api::{ApiError, AppState};
use crate::domain::license::License;
use crate::domain::secret;

/// The license whose `login:api_key` the request carried.
#[derive(Debug, Clone)]
pub struct BasicLicense(pub License);

const ASK: &str = "send HTTP Basic credentials `login:api_key` (curl -u login:api_key)";
const WRONG: &str = "the login or the API key is wrong";

impl FromRequestParts<AppState> for BasicLicense {
    type Rejection = V2Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized(ASK))?;
        let (login, key) = parse_basic(header.as_bytes()).ok_or(ApiError::Unauthorized(ASK))?;
        let hash = secret::hash(&key);
        let license = state.store.license_by_login(&login).await?;
        // Compare against something even when the login is unknown, so both failures cost the
        // same; the answer is the same too.
        let stored = license.as_ref().map_or([0u8; 32], |l| l.api_key_hash);
        match license {
            Some(license) if secret::equal(&stored, &hash) => Ok(BasicLicense(license)),
            _ => Err(ApiError::Unauthorized(WRONG).into()),
        }
    }
}

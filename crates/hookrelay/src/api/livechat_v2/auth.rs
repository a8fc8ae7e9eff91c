//! HTTP Basic authentication of the v2 management API: `Authorization: Basic
//! base64(login:api_key)`, as LiveChat v2 clients send it (`curl -u login:key`). The header is
//! read by the receiver SDK's [`parse_basic`], the one Basic parser of the workspace.
//!
//! The license is found by its API key, as with a Bearer key (by the key's hash, cached), and
//! only then is the login compared, in constant time, with the found license's (or with nothing
//! when no license has that key). The login is never looked up: how long that took would tell
//! whether a login exists. Every wrong pair costs the same work and gets the same answer.

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
        let license = state.license_by_api_key(&key).await?;
        let expected = license.as_ref().map_or("", |l| l.login.as_str());
        let login_matches = secret::same(expected, &login);
        match license {
            Some(license) if login_matches => Ok(BasicLicense(license)),
            _ => Err(ApiError::Unauthorized(WRONG).into()),
        }
    }
}

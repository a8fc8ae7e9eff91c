//! HTTP Basic authentication of the v2 management API: `Authorization: Basic
//! base64(login:api_key)`, as LiveChat v2 clients send it (`curl -u login:key`). The license is
//! found by its login and the key's hash compared with the stored one in constant time.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;

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

/// `Basic base64(user:password)` → `(user, password)`; the password may contain colons.
fn parse_basic(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_split_at_the_first_colon() {
        // base64("john.doe@mycompany.com:c14b:85")
        let header = b"Basic am9obi5kb2VAbXljb21wYW55LmNvbTpjMTRiOjg1";
        assert_eq!(
            parse_basic(header),
            Some(("john.doe@mycompany.com".into(), "c14b:85".into()))
        );
        assert_eq!(parse_basic(b"basic dTpw"), Some(("u".into(), "p".into())));
    }

    #[test]
    fn other_schemes_and_broken_values_are_not_credentials() {
        assert_eq!(parse_basic(b"Bearer dTpw"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        assert_eq!(parse_basic(b"Basic dXNlcg=="), None); // "user": no colon
        assert_eq!(parse_basic(b"Basic"), None);
    }
}

//! HTTP Basic authentication of incoming webhooks: who may post, and how the
//! `Authorization: Basic` header is read.
//!
//! LiveChat sends the credentials of a webhook URL like `https://livechat:password@example.com`
//! as an `Authorization: Basic` header. A receiver accepts either one fixed user and password or
//! the users of an Apache `.htpasswd` file (the seed's setup).

use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::htpasswd::Htpasswd;

/// The credentials a receiver accepts.
#[derive(Clone)]
pub enum BasicAuth {
    /// Exactly one user and password.
    Credentials { user: String, password: String },
    /// Any user of an `.htpasswd` file, with that user's password.
    Htpasswd(Htpasswd),
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BasicAuth::Credentials { user, .. } => write!(f, "BasicAuth({user}:***)"),
            BasicAuth::Htpasswd(file) => {
                write!(f, "BasicAuth(htpasswd with {} users)", file.users().count())
            }
        }
    }
}

/// A `user:password` argument without the colon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected user:password (with a colon between them)")]
pub struct CredentialsFormatError;

impl BasicAuth {
    /// One fixed user and password.
    pub fn credentials(user: impl Into<String>, password: impl Into<String>) -> BasicAuth {
        BasicAuth::Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// Parses `user:password` (the password may itself contain colons).
    pub fn from_user_pass(user_pass: &str) -> Result<BasicAuth, CredentialsFormatError> {
        let (user, password) = user_pass.split_once(':').ok_or(CredentialsFormatError)?;
        Ok(BasicAuth::credentials(user, password))
    }

    /// Whether `user` with `password` may post. Constant-time in the secret parts.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self {
            BasicAuth::Credentials {
                user: want_user,
                password: want_password,
            } => {
                let user_ok = want_user.as_bytes().ct_eq(user.as_bytes());
                let password_ok = want_password.as_bytes().ct_eq(password.as_bytes());
                (user_ok & password_ok).into()
            }
            BasicAuth::Htpasswd(file) => file.verify(user, password),
        }
    }

    /// Checks the value of an `Authorization` header; returns the user on success.
    pub fn check_header(&self, authorization: Option<&[u8]>) -> Option<String> {
        let (user, password) = parse_basic(authorization?)?;
        self.verify(&user, &password).then_some(user)
    }
}

/// Reads `Basic base64(user:password)` (scheme case-insensitive, as RFC 7617 says). `None` for
/// any other scheme, bad base64 or a missing colon. Non-UTF-8 bytes are replaced, so they can
/// never match a configured password by accident.
pub fn parse_basic(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8_lossy(&decoded);
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The header value for `user:password`, for senders and tests.
pub fn basic_header_value(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_and_passwords_may_hold_colons() {
        let header = basic_header_value("livechat", "pa:ss");
        assert_eq!(
            parse_basic(header.as_bytes()),
            Some(("livechat".into(), "pa:ss".into()))
        );
    }

    #[test]
    fn other_schemes_and_garbage_are_refused() {
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        assert_eq!(parse_basic(b"Basic"), None);
        assert_eq!(parse_basic(&[0xff, 0xfe]), None);
    }

    #[test]
    fn fixed_credentials_need_both_parts_right() {
        let auth = BasicAuth::from_user_pass("livechat:password").unwrap();
        assert!(auth.verify("livechat", "password"));
        assert!(!auth.verify("livechat", "passwor"));
        assert!(!auth.verify("other", "password"));
        assert_eq!(
            BasicAuth::from_user_pass("nocolon").unwrap_err(),
            CredentialsFormatError
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let auth = BasicAuth::credentials("u", "secret");
        assert!(!format!("{auth:?}").contains("secret"));
    }
}

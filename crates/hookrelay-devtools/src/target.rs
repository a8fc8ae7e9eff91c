//! A URL to send to, with any `user:password@` turned into an `Authorization: Basic` header,
//! the way LiveChat and hookrelay treat webhook URLs (CONTRACT §3).

use std::time::Duration;

use hookrelay_receiver::basic_header_value;
use percent_encoding::percent_decode_str;
use url::Url;

/// Every HTTP request these tools make gives up after this long, like a webhook attempt.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// `hookrelay/<version>`, the User-Agent of everything hookrelay sends.
pub const USER_AGENT: &str = concat!("hookrelay/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} is not a URL: {1}")]
    Invalid(String, url::ParseError),
    #[error("{0:?} is not an http:// or https:// URL")]
    Scheme(String),
}

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL without credentials.
    pub url: Url,
    /// The user, percent-decoded, when the URL carried credentials.
    pub user: Option<String>,
    /// `Basic …` for the credentials the URL carried.
    pub authorization: Option<String>,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        let mut url = Url::parse(text).map_err(|e| TargetError::Invalid(text.to_owned(), e))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::Scheme(text.to_owned()));
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (user, password) = (decode(url.username()), url.password().map(decode));
        let has_credentials = !user.is_empty() || password.is_some();
        let authorization =
            has_credentials.then(|| basic_header_value(&user, password.as_deref().unwrap_or("")));
        // Cannot fail for http(s) URLs, which always have a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(Target {
            url,
            user: has_credentials.then_some(user),
            authorization,
        })
    }
}

/// The HTTP client both commands use: no redirects (a redirect is a failed delivery), the
/// webhook timeout, hookrelay's User-Agent.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(USER_AGENT)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_percent_decoded_and_removed_from_the_url() {
        let target = Target::parse("https://live%20chat:p%40ss:w@example.com/hook?x=1").unwrap();
        assert_eq!(target.url.as_str(), "https://example.com/hook?x=1");
        assert_eq!(target.user.as_deref(), Some("live chat"));
        assert_eq!(
            target.authorization,
            Some(basic_header_value("live chat", "p@ss:w"))
        );
    }

    #[test]
    fn a_url_without_credentials_sends_no_authorization() {
        let target = Target::parse("http://127.0.0.1:3000/").unwrap();
        assert_eq!((target.user, target.authorization), (None, None));
    }

    #[test]
    fn only_http_urls_are_targets() {
        assert!(matches!(
            Target::parse("ftp://x/"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            Target::parse("localhost:3000"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(Target::parse("::"), Err(TargetError::Invalid(..))));
    }
}

//! Target URLs: where a webhook is POSTed. Credentials in the URL (`https://user:pass@host/`)
//! become an `Authorization: Basic` header and are never shown back in full.

use std::fmt;

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use url::Url;

use super::Invalid;

/// Longest accepted target URL.
const MAX_LEN: usize = 2048;

/// The scheme of a `hookrelay listen --server` session's webhooks (`cli://SESSION_ID`): they are
/// reached over the session's WebSocket, never over the network, and cannot be given by users.
const SESSION_SCHEME: &str = "cli";

/// A checked target URL.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetUrl {
    /// As the user gave it, credentials included: what is stored.
    raw: String,
    /// The URL requests go to: the same without credentials.
    request_url: Url,
    /// `Basic base64(user:password)` when the URL had credentials (percent-decoded first).
    authorization: Option<String>,
}

impl TargetUrl {
    pub fn parse(text: &str) -> Result<TargetUrl, Invalid> {
        let field = "url";
        let text = text.trim();
        if text.is_empty() {
            return Err(Invalid::new(field, "is required"));
        }
        if text.len() > MAX_LEN {
            return Err(Invalid::new(
                field,
                format!("must be at most {MAX_LEN} characters"),
            ));
        }
        let mut url = Url::parse(text).map_err(|e| {
            Invalid::new(
                field,
                format!("is not an absolute URL like https://example.com/hook ({e})"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Invalid::new(field, "must start with https:// or http://"));
        }
        if url.host().is_none() {
            return Err(Invalid::new(field, "must name a host"));
        }
        if url.fragment().is_some() {
            return Err(Invalid::new(field, "must not have a #fragment"));
        }
        let authorization = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let user = decode(url.username());
            let password = decode(url.password().unwrap_or(""));
            let pair = format!("{user}:{password}");
            let _ = url.set_username("");
            let _ = url.set_password(None);
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ))
        };
        Ok(TargetUrl {
            raw: text.to_string(),
            request_url: url,
            authorization,
        })
    }

    /// The target of a listen session's webhooks, `cli://SESSION_ID`.
    pub fn session(session_id: &str) -> TargetUrl {
        let raw = format!("{SESSION_SCHEME}://{session_id}");
        let request_url = Url::parse(&raw).expect("a session id is a valid host");
        TargetUrl {
            raw,
            request_url,
            authorization: None,
        }
    }

    /// A URL as stored: a webhook's (as [`TargetUrl::parse`] takes it) or a listen session's.
    pub fn stored(text: &str) -> Result<TargetUrl, Invalid> {
        match text
            .strip_prefix(SESSION_SCHEME)
            .and_then(|t| t.strip_prefix("://"))
        {
            Some(id)
                if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Ok(TargetUrl::session(id))
            }
            _ => TargetUrl::parse(text),
        }
    }

    /// The listen session whose WebSocket this target is (`None`: an HTTP target).
    pub fn session_id(&self) -> Option<&str> {
        (self.request_url.scheme() == SESSION_SCHEME)
            .then(|| self.request_url.host_str())
            .flatten()
    }

    /// The URL as given, credentials included. Only the sender and the store see this.
    pub fn as_stored(&self) -> &str {
        &self.raw
    }

    pub fn request_url(&self) -> &Url {
        &self.request_url
    }

    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// What connection pools and concurrency limits group by: `https://host:443`.
    pub fn key(&self) -> String {
        let u = &self.request_url;
        format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port_or_known_default().unwrap_or(0)
        )
    }

    /// The URL with the password replaced by `***`: the only form shown to people.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }
}

/// `https://user:secret@host/` → `https://user:***@host/`; anything unparsable is shown as is
/// minus everything before an `@`.
pub fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => match raw.rsplit_once('@') {
            Some((_, rest)) => format!("***@{rest}"),
            None => raw.to_string(),
        },
    }
}

fn decode(part: &str) -> String {
    percent_decode_str(part).decode_utf8_lossy().into_owned()
}

impl fmt::Debug for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetUrl({})", self.redacted())
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_move_from_the_url_to_a_basic_header() {
        let t = TargetUrl::parse("https://livechat:password@www.my-website.com/hook?x=1").unwrap();
        assert_eq!(
            t.request_url().as_str(),
            "https://www.my-website.com/hook?x=1"
        );
        assert_eq!(t.authorization(), Some("Basic bGl2ZWNoYXQ6cGFzc3dvcmQ="));
        assert_eq!(
            t.redacted(),
            "https://livechat:***@www.my-website.com/hook?x=1"
        );
        assert_eq!(t.key(), "https://www.my-website.com:443");
        assert!(!format!("{t:?}").contains("password"));
    }

    #[test]
    fn percent_encoded_passwords_are_decoded_before_encoding() {
        let t = TargetUrl::parse("http://us%20er:p%40ss%3Aw0rd@example.com:8080/").unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode("us er:p@ss:w0rd");
        assert_eq!(
            t.authorization(),
            Some(format!("Basic {expected}").as_str())
        );
        assert_eq!(t.key(), "http://example.com:8080");
    }

    #[test]
    fn bad_urls_are_refused_with_the_rule() {
        for (url, rule) in [
            ("", "required"),
            ("example.com/hook", "absolute URL"),
            ("ftp://example.com/", "https://"),
            ("https://example.com/#x", "fragment"),
        ] {
            let err = TargetUrl::parse(url).unwrap_err();
            assert_eq!(err.field, "url");
            assert!(err.message.contains(rule), "{url}: {}", err.message);
        }
        let long = format!("https://example.com/{}", "a".repeat(3000));
        assert!(TargetUrl::parse(&long).is_err());
    }

    #[test]
    fn session_targets_are_read_from_the_store_but_never_taken_from_users() {
        let t = TargetUrl::stored("cli://ses_0a1b").unwrap();
        assert_eq!(t.session_id(), Some("ses_0a1b"));
        assert_eq!(t.as_stored(), "cli://ses_0a1b");
        assert_eq!(t.key(), "cli://ses_0a1b:0");
        assert_eq!(TargetUrl::session("ses_0a1b"), t);
        let err = TargetUrl::parse("cli://ses_0a1b").unwrap_err();
        assert!(err.message.contains("https://"), "{}", err.message);
        let http = TargetUrl::stored("https://example.com/hook").unwrap();
        assert_eq!(http.session_id(), None);
        assert!(
            TargetUrl::stored("cli://a/b").is_err(),
            "a path is not a session"
        );
    }

    #[test]
    fn unparsable_text_is_still_redacted() {
        assert_eq!(redact("not a url:pw@host"), "***@host");
    }
}

//! Checking that a webhook was signed by your relay (Standard Webhooks signatures): a
//! [`Verifier`] holds the secrets you trust and the replay window, and reads the three
//! `webhook-*` headers of a request.
//!
//! The algorithm itself (HMAC-SHA256, constant-time comparison, the tolerance rule) lives in
//! [`livechat_webhooks::signature`], shared with the hookrelay server that signs, and is
//! re-exported here; this module only adds what a receiver needs around it: headers and the
//! system clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;

pub use livechat_webhooks::signature::{
    signature_header, verify, SecretError, SignedRequest, SigningSecret, VerifyError,
    DEFAULT_TOLERANCE_SECS, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SECRET_PREFIX,
};

/// The secrets a receiver trusts and how old a request may be. Cheap to clone.
///
/// ```
/// use hookrelay_receiver::signature::{Verifier, VerifyError};
///
/// let verifier = Verifier::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
/// let unsigned = axum::http::HeaderMap::new();
/// assert_eq!(
///     verifier.verify(&unsigned, b"{}"),
///     Err(VerifyError::MissingHeader("webhook-id"))
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    /// Never empty: every constructor takes at least one secret.
    secrets: Arc<[SigningSecret]>,
    /// A request signed longer ago than this (or this far in the future) is refused, so a
    /// captured request cannot be replayed later.
    tolerance_secs: u64,
}

impl Verifier {
    /// Trusts `secret`, with the usual five-minute tolerance.
    pub fn new(secret: SigningSecret) -> Verifier {
        Verifier {
            secrets: Arc::from([secret]),
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        }
    }

    /// Trusts one `whsec_…` secret (as the webhook's settings showed it).
    pub fn parse(secret: &str) -> Result<Verifier, SecretError> {
        SigningSecret::parse(secret).map(Verifier::new)
    }

    /// Also trusts `secret`. During a rotation, trust the old and the new secret until the old
    /// one's grace period ends: a request passes when it matches either.
    pub fn and(self, secret: SigningSecret) -> Verifier {
        let mut secrets = self.secrets.to_vec();
        secrets.push(secret);
        Verifier {
            secrets: secrets.into(),
            ..self
        }
    }

    /// How far the `webhook-timestamp` may be from now, either way (default five minutes).
    /// Whole seconds; a longer window tolerates more clock skew but longer replays.
    pub fn tolerance(self, tolerance: Duration) -> Verifier {
        Verifier {
            tolerance_secs: tolerance.as_secs(),
            ..self
        }
    }

    /// How many secrets are trusted.
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// Checks the request's `webhook-id`, `webhook-timestamp` and `webhook-signature` headers
    /// against `body` (exactly as received, before any parsing), using the system clock.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        // A clock before 1970 is a broken clock; 0 then makes every timestamp look stale.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.verify_at(headers, body, now)
    }

    /// [`Verifier::verify`] at `now` (Unix seconds), for tests and for callers with their own
    /// clock.
    pub fn verify_at(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        let id = header_text(headers, HEADER_ID)?;
        let timestamp = header_text(headers, HEADER_TIMESTAMP)?;
        let signature = header_text(headers, HEADER_SIGNATURE)?;
        let request = SignedRequest {
            id: &id,
            timestamp: &timestamp,
            signature: &signature,
        };
        verify(&self.secrets, &request, body, now, self.tolerance_secs)
    }
}

/// The header's value as text. Bytes that are not UTF-8 are replaced rather than refused: a
/// sender cannot have signed them as text, so such a request then fails as not matching.
fn header_text(headers: &HeaderMap, name: &'static str) -> Result<String, VerifyError> {
    let value = headers.get(name).ok_or(VerifyError::MissingHeader(name))?;
    Ok(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

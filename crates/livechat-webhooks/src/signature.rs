//! Webhook signatures as the Standard Webhooks specification defines them: the sender signs
//! `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 and sends `v1,<base64>` entries in a
//! `webhook-signature` header; the receiver recomputes the MAC with each secret it trusts, compares
//! in constant time and refuses stale timestamps (replays).
//!
//! Both sides live here, with no clock and no I/O: the caller passes the current time in, so the
//! hookrelay server, `hookrelay trigger`, `hookrelay listen` and the receiver SDK share one
//! implementation, checked against the specification's test vector below.
//!
//! ```
//! use livechat_webhooks::signature::{verify, SignedRequest, SigningSecret};
//!
//! let secret = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
//! let body = br#"{"event_type":"chat_started"}"#;
//! let header = secret.sign("msg_1", 1_649_367_553, body);
//! let request = SignedRequest { id: "msg_1", timestamp: "1649367553", signature: &header };
//! assert!(verify(&[secret], &request, body, 1_649_367_560, 300).is_ok());
//! ```

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the message id: the same on every attempt of one message.
pub const HEADER_ID: &str = "webhook-id";
/// The header carrying the Unix time (seconds) at which this attempt was signed.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header carrying one or more space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How a secret is written: this prefix, then the key's bytes in standard base64.
pub const SECRET_PREFIX: &str = "whsec_";
/// The usual replay window of verifiers: five minutes either side of now.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Keys shorter than this are refused when parsed: the specification asks for 24 to 64 bytes and
/// a short HMAC key is guessable.
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;

/// A signing key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

/// Why a secret was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a signing secret is `whsec_` followed by base64: {0}")]
    NotBase64(String),
    #[error(
        "a signing secret must hold {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, this one holds {0}"
    )]
    BadLength(usize),
}

impl SigningSecret {
    /// A secret from raw key bytes (a new one is 32 random bytes).
    pub fn from_bytes(key: &[u8]) -> Result<Self, SecretError> {
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(Self { key: key.to_vec() })
    }

    /// Parses `whsec_<base64>` (the prefix may be left out, as the official libraries allow).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.trim();
        let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
        let key = STANDARD
            .decode(encoded)
            .map_err(|e| SecretError::NotBase64(e.to_string()))?;
        Self::from_bytes(&key)
    }

    /// The secret as users copy it: `whsec_<base64>`.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// One signature entry, `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// The `webhook-signature` value for `secrets`: one entry each, separated by spaces (several while
/// a rotated secret is still valid).
pub fn signature_header(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three headers of a signed request, as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    #[error("header `webhook-timestamp` is not a Unix time in seconds")]
    BadTimestamp,
    #[error("timestamp is {0} s old, more than the {1} s tolerated (a replay, or a clock off)")]
    Stale(u64, u64),
    #[error("timestamp is {0} s in the future, more than the {1} s tolerated")]
    FromTheFuture(u64, u64),
    #[error(
        "no signature matches any of the {0} secret(s) (wrong secret, or the body was changed)"
    )]
    NoMatch(usize),
}

/// Checks `request` against every secret in `secrets` (several during a rotation): the timestamp
/// must be within `tolerance_secs` of `now` (Unix seconds), and at least one `v1` entry must match
/// one secret. Compares MACs in constant time; entries of other versions are skipped.
pub fn verify(
    secrets: &[SigningSecret],
    request: &SignedRequest<'_>,
    body: &[u8],
    now: i64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    let timestamp: i64 = request
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let age = now.saturating_sub(timestamp);
    if age > 0 && age.unsigned_abs() > tolerance_secs {
        return Err(VerifyError::Stale(age.unsigned_abs(), tolerance_secs));
    }
    if age < 0 && age.unsigned_abs() > tolerance_secs {
        return Err(VerifyError::FromTheFuture(
            age.unsigned_abs(),
            tolerance_secs,
        ));
    }
    let given: Vec<Vec<u8>> = request
        .signature
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .collect();
    // Every secret is tried against every entry, so the time taken does not tell which matched.
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let expected = secret.mac(request.id, timestamp, body);
        for candidate in &given {
            matched |= expected.as_slice().ct_eq(candidate.as_slice());
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatch(secrets.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const VECTOR_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const VECTOR_TIMESTAMP: i64 = 1_649_367_553;
    const VECTOR_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const VECTOR_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn vector_secret() -> SigningSecret {
        SigningSecret::parse(VECTOR_SECRET).unwrap()
    }

    fn request(signature: &str) -> SignedRequest<'_> {
        SignedRequest {
            id: VECTOR_ID,
            timestamp: "1649367553",
            signature,
        }
    }

    #[test]
    fn the_standard_webhooks_test_vector_signs_as_the_specification_says() {
        let signature = vector_secret().sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(signature, VECTOR_SIGNATURE);
    }

    #[test]
    fn the_test_vector_verifies_and_any_change_is_refused() {
        let secrets = [vector_secret()];
        let now = VECTOR_TIMESTAMP + 10;
        assert_eq!(
            verify(&secrets, &request(VECTOR_SIGNATURE), VECTOR_BODY, now, 300),
            Ok(())
        );
        let tampered = br#"{"email":"test@example.com","username":"test_usex"}"#;
        assert_eq!(
            verify(&secrets, &request(VECTOR_SIGNATURE), tampered, now, 300),
            Err(VerifyError::NoMatch(1))
        );
        let other_id = SignedRequest {
            id: "msg_other",
            ..request(VECTOR_SIGNATURE)
        };
        assert!(verify(&secrets, &other_id, VECTOR_BODY, now, 300).is_err());
        let other_secret = [SigningSecret::from_bytes(&[7; 32]).unwrap()];
        assert_eq!(
            verify(
                &other_secret,
                &request(VECTOR_SIGNATURE),
                VECTOR_BODY,
                now,
                300
            ),
            Err(VerifyError::NoMatch(1))
        );
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_either_way() {
        let secrets = [vector_secret()];
        let table = [
            (VECTOR_TIMESTAMP + 300, Ok(())),
            (VECTOR_TIMESTAMP + 301, Err(VerifyError::Stale(301, 300))),
            (VECTOR_TIMESTAMP - 300, Ok(())),
            (
                VECTOR_TIMESTAMP - 301,
                Err(VerifyError::FromTheFuture(301, 300)),
            ),
        ];
        for (now, expected) in table {
            assert_eq!(
                verify(&secrets, &request(VECTOR_SIGNATURE), VECTOR_BODY, now, 300),
                expected,
                "now {now}"
            );
        }
        let bad = SignedRequest {
            timestamp: "soon",
            ..request(VECTOR_SIGNATURE)
        };
        assert_eq!(
            verify(&secrets, &bad, VECTOR_BODY, VECTOR_TIMESTAMP, 300),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn during_a_rotation_any_listed_signature_matching_any_secret_passes() {
        let old = vector_secret();
        let new = SigningSecret::from_bytes(&[42; 32]).unwrap();
        let header = signature_header(
            &[new.clone(), old.clone()],
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
        );
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.ends_with(VECTOR_SIGNATURE), "{header}");
        for trusted in [vec![old.clone()], vec![new.clone()], vec![new, old]] {
            assert_eq!(
                verify(
                    &trusted,
                    &request(&header),
                    VECTOR_BODY,
                    VECTOR_TIMESTAMP,
                    300
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn entries_of_other_versions_and_garbage_are_skipped_not_trusted() {
        let secrets = [vector_secret()];
        let header = format!("v1a,abc v1,!!! {VECTOR_SIGNATURE}");
        assert_eq!(
            verify(
                &secrets,
                &request(&header),
                VECTOR_BODY,
                VECTOR_TIMESTAMP,
                300
            ),
            Ok(())
        );
        let unversioned = VECTOR_SIGNATURE.trim_start_matches("v1,");
        assert!(verify(
            &secrets,
            &request(unversioned),
            VECTOR_BODY,
            VECTOR_TIMESTAMP,
            300
        )
        .is_err());
        assert!(verify(&secrets, &request(""), VECTOR_BODY, VECTOR_TIMESTAMP, 300).is_err());
    }

    #[test]
    fn secrets_round_trip_and_bad_ones_say_why() {
        let secret = vector_secret();
        assert_eq!(secret.to_whsec(), VECTOR_SECRET);
        assert_eq!(
            SigningSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap(),
            secret
        );
        assert!(matches!(
            SigningSecret::parse("whsec_%%%"),
            Err(SecretError::NotBase64(_))
        ));
        assert_eq!(
            SigningSecret::parse("whsec_AAAA"),
            Err(SecretError::BadLength(3))
        );
        assert_eq!(format!("{secret:?}"), "SigningSecret(***)");
    }
}

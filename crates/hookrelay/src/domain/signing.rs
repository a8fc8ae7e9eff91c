//! A webhook's signing keys: the current secret and the rotated-out ones still inside their grace
//! period, with the pure rules of rotation. The signature itself (Standard Webhooks) is computed by
//! [`livechat_webhooks::signature`]; this module decides which secrets sign an attempt.
//!
//! The keys are stored as one text column on the webhook (`None`: the webhook does not sign), so a
//! delivery job read with its webhook carries them without another lookup. They are kept in the
//! clear because signing needs them; the database file is private to the service's user.

use std::time::Duration;

use livechat_webhooks::signature::{signature_header, SigningSecret};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::{Invalid, Millis};

/// The grace period of a rotation when the request names none.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
/// The longest grace period: a leaked secret must not stay valid for long after its rotation.
pub const MAX_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);
/// At most this many secrets are valid at once (the current one and those in their grace); a
/// rotation beyond it ends the grace of the one that would expire first.
pub const MAX_VALID: usize = 5;

/// The secrets of a signing webhook, the current one first, parsed once when read from the
/// store. `Debug` shows only how many.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys {
    keys: Vec<Key>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeys({} secrets)", self.keys.len())
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Key {
    secret: SigningSecret,
    /// When a rotated-out secret stops being valid; `None` for the current one.
    expires_at: Option<Millis>,
}

/// A key as stored: the secret as `whsec_…` text.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<Millis>,
}

/// A new random secret: 32 bytes, as the Standard Webhooks specification suggests.
pub fn new_secret() -> SigningSecret {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    SigningSecret::from_bytes(&key).expect("32 bytes is a valid key length")
}

/// Parses a rotation's `grace` (humantime, e.g. `24h`, `30m`, `0s`), at most [`MAX_GRACE`].
pub fn parse_grace(text: Option<&str>) -> Result<Duration, Invalid> {
    let Some(text) = text else {
        return Ok(DEFAULT_GRACE);
    };
    let grace = humantime::parse_duration(text.trim()).map_err(|e| {
        Invalid::new(
            "grace",
            format!("must be a duration such as `24h` or `30m`: {e}"),
        )
    })?;
    if grace > MAX_GRACE {
        return Err(Invalid::new("grace", "must be at most 7d"));
    }
    Ok(grace)
}

impl SigningKeys {
    /// Keys with one current secret.
    pub fn new(secret: &SigningSecret) -> SigningKeys {
        SigningKeys {
            keys: vec![Key {
                secret: secret.clone(),
                expires_at: None,
            }],
        }
    }

    /// Keys that cannot sign: what a stored value that does not parse reads as, so the webhook
    /// can still be shown, rotated or have signing turned off (see [`SigningKeys::read`]).
    pub fn unreadable() -> SigningKeys {
        SigningKeys { keys: Vec::new() }
    }

    /// The current secret (the one a new signing webhook or a rotation answers with); `None` for
    /// [`SigningKeys::unreadable`] keys.
    pub fn current(&self) -> Option<&SigningSecret> {
        self.keys
            .first()
            .filter(|k| k.expires_at.is_none())
            .map(|k| &k.secret)
    }

    /// `new` becomes the current secret; the current one stays valid until `now + grace`. Secrets
    /// whose grace is over are dropped, and at most [`MAX_VALID`] stay.
    pub fn rotate(&self, new: &SigningSecret, now: Millis, grace: Duration) -> SigningKeys {
        let ends = now.saturating_add(grace.as_millis() as i64);
        let mut kept: Vec<Key> = self
            .keys
            .iter()
            .map(|k| Key {
                secret: k.secret.clone(),
                expires_at: Some(k.expires_at.map_or(ends, |at| at.min(ends))),
            })
            .filter(|k| k.expires_at.is_some_and(|at| at > now))
            .collect();
        // The latest expiries are kept: they are the most recently handed out.
        kept.sort_by_key(|k| std::cmp::Reverse(k.expires_at));
        kept.truncate(MAX_VALID - 1);
        let mut keys = SigningKeys::new(new).keys;
        keys.extend(kept);
        SigningKeys { keys }
    }

    /// The secrets valid at `now`, the current one first.
    pub fn valid_at(&self, now: Millis) -> Vec<SigningSecret> {
        self.keys
            .iter()
            .filter(|k| k.expires_at.is_none_or(|at| at > now))
            .map(|k| k.secret.clone())
            .collect()
    }

    /// When the rotated-out secrets still valid at `now` stop being valid, soonest last.
    pub fn previous_expiries(&self, now: Millis) -> Vec<Millis> {
        self.keys
            .iter()
            .filter_map(|k| k.expires_at)
            .filter(|&at| at > now)
            .collect()
    }

    /// The `webhook-signature` header for an attempt signed at `now` (Unix seconds of it are the
    /// `webhook-timestamp`).
    pub fn header(&self, message_id: &str, now: Millis, body: &[u8]) -> SignatureHeaders {
        let timestamp = now.div_euclid(1000);
        SignatureHeaders {
            id: message_id.to_string(),
            timestamp,
            signature: signature_header(&self.valid_at(now), message_id, timestamp, body),
        }
    }

    /// The text stored in the webhook's `signing` column.
    pub fn to_stored(&self) -> String {
        let stored: Vec<StoredKey> = self
            .keys
            .iter()
            .map(|k| StoredKey {
                secret: k.secret.to_whsec(),
                expires_at: k.expires_at,
            })
            .collect();
        serde_json::to_string(&stored).expect("keys serialize")
    }

    /// Reads the stored text back.
    pub fn from_stored(text: &str) -> Result<SigningKeys, String> {
        let stored: Vec<StoredKey> =
            serde_json::from_str(text).map_err(|_| "not a list of signing keys".to_string())?;
        if stored.is_empty() {
            return Err("no signing secret stored".into());
        }
        let keys = stored
            .into_iter()
            .map(|k| {
                let secret = SigningSecret::parse(&k.secret).map_err(|e| e.to_string())?;
                Ok(Key {
                    secret,
                    expires_at: k.expires_at,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(SigningKeys { keys })
    }

    /// Reads a webhook's stored keys as the store hands them out: a value that does not parse
    /// (only possible if the database was edited by hand) reads as [`SigningKeys::unreadable`],
    /// logged without its text, so one bad row does not fail every listing of its license.
    pub fn read(text: &str) -> SigningKeys {
        SigningKeys::from_stored(text).unwrap_or_else(|why| {
            tracing::warn!(why = %why, "a webhook's stored signing keys cannot be read");
            SigningKeys::unreadable()
        })
    }

    /// Whether these keys can sign (false for [`SigningKeys::unreadable`] keys).
    pub fn can_sign(&self) -> bool {
        self.current().is_some()
    }
}

/// The three Standard Webhooks headers of one signed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Millis = 3_600_000;

    fn secret(byte: u8) -> SigningSecret {
        SigningSecret::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_rotation_keeps_the_old_secret_valid_for_its_grace_only() {
        let keys = SigningKeys::new(&secret(1)).rotate(&secret(2), 0, Duration::from_secs(3600));
        assert_eq!(keys.valid_at(0), vec![secret(2), secret(1)]);
        assert_eq!(keys.valid_at(HOUR - 1), vec![secret(2), secret(1)]);
        assert_eq!(keys.valid_at(HOUR), vec![secret(2)]);
        assert_eq!(keys.previous_expiries(0), vec![HOUR]);
    }

    #[test]
    fn a_zero_grace_drops_the_old_secret_at_once() {
        let keys = SigningKeys::new(&secret(1)).rotate(&secret(2), 10, Duration::ZERO);
        assert_eq!(keys.valid_at(10), vec![secret(2)]);
        assert_eq!(keys.keys.len(), 1, "an expired secret is not kept");
    }

    #[test]
    fn a_later_rotation_never_lengthens_an_earlier_grace() {
        let keys = SigningKeys::new(&secret(1))
            .rotate(&secret(2), 0, Duration::from_secs(3600))
            .rotate(&secret(3), 0, Duration::from_secs(7200));
        assert_eq!(keys.previous_expiries(0), vec![2 * HOUR, HOUR]);
        assert_eq!(keys.valid_at(HOUR), vec![secret(3), secret(2)]);
    }

    #[test]
    fn at_most_five_secrets_are_valid_at_once() {
        let mut keys = SigningKeys::new(&secret(0));
        for n in 1..=7u8 {
            keys = keys.rotate(&secret(n), i64::from(n), Duration::from_secs(3600));
        }
        let valid = keys.valid_at(8);
        assert_eq!(valid.len(), MAX_VALID);
        assert_eq!(valid[0], secret(7));
        assert!(!valid.contains(&secret(0)) && !valid.contains(&secret(2)));
        assert!(valid.contains(&secret(3)) && valid.contains(&secret(6)));
    }

    #[test]
    fn keys_survive_storage_and_bad_stored_text_says_why() {
        let keys = SigningKeys::new(&secret(1)).rotate(&secret(2), 0, Duration::from_secs(60));
        assert_eq!(SigningKeys::from_stored(&keys.to_stored()).unwrap(), keys);
        assert!(SigningKeys::from_stored("[]").is_err());
        assert!(SigningKeys::from_stored(r#"[{"secret":"whsec_!!"}]"#).is_err());
    }

    #[test]
    fn grace_defaults_to_a_day_and_is_bounded_by_a_week() {
        let table = [
            (None, Ok(DEFAULT_GRACE)),
            (Some("30m"), Ok(Duration::from_secs(1800))),
            (Some("7d"), Ok(MAX_GRACE)),
            (Some("0s"), Ok(Duration::ZERO)),
        ];
        for (input, expected) in table {
            assert_eq!(parse_grace(input), expected, "{input:?}");
        }
        for bad in ["8d", "soon", "-1h"] {
            assert_eq!(parse_grace(Some(bad)).unwrap_err().field, "grace", "{bad}");
        }
    }

    #[test]
    fn the_header_signs_with_every_valid_secret_at_the_attempts_second() {
        let keys = SigningKeys::new(&secret(1)).rotate(&secret(2), 0, Duration::from_secs(60));
        let h = keys.header("abc", 1_999, b"{}");
        assert_eq!(h.timestamp, 1);
        assert_eq!(h.signature.split(' ').count(), 2);
        assert_eq!(
            keys.header("abc", 60_000, b"{}")
                .signature
                .split(' ')
                .count(),
            1
        );
    }
}

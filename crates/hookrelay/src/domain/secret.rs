//! Secrets: generation, hashing for storage, and constant-time comparison.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes as lowercase hex (a webhook token is `random_hex(16)`: 32 characters).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A new license API key. The prefix makes a leaked key easy to recognise in a secret scanner.
pub fn new_api_key() -> String {
    format!("hrk_{}", random_hex(24))
}

/// A new admin token.
pub fn new_admin_token() -> String {
    format!("hra_{}", random_hex(24))
}

/// What is stored instead of a secret. API keys are long random strings, so a fast hash is
/// enough: there is nothing to brute-force.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares in time that does not depend on where the inputs differ. Inputs of different lengths
/// are told apart at once: use it on values of a fixed length (hashes), [`same`] otherwise.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Whether a presented secret is the expected one, in time that depends neither on where they
/// differ nor on their lengths: their SHA-256 digests (always 32 bytes) are compared.
pub fn same(expected: &str, presented: &str) -> bool {
    equal(&hash(expected), &hash(presented))
}

/// Whether `text` is 32 lowercase hex characters (a token or an `event_unique_id`).
pub fn is_hex32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_livechat_shape() {
        let token = random_hex(16);
        assert!(is_hex32(&token), "{token}");
        assert_ne!(token, random_hex(16));
        assert!(!is_hex32("27F41C8DA685C81A890F9E5F8CE48387"));
    }

    #[test]
    fn hashes_compare_equal_only_for_the_same_secret() {
        let key = new_api_key();
        assert!(equal(&hash(&key), &hash(&key)));
        assert!(!equal(&hash(&key), &hash(&new_api_key())));
        assert!(!equal(b"short", b"longer"));
    }

    #[test]
    fn secrets_of_any_length_compare_by_their_digests() {
        let token = random_hex(16);
        assert!(same(&token, &token.clone()));
        assert!(!same(&token, &token[..31]));
        assert!(!same(&token, ""));
        assert!(!same("", &token));
        assert!(same("", ""));
    }
}

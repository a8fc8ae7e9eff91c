//! Licenses: the tenants. Each has a numeric-string id, a login for the v2 API, a webhook token
//! (sent in every webhook body) and an API key (stored only as a hash).

use super::{Invalid, Millis};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    /// Digits only, e.g. `"1025707"`.
    pub license_id: String,
    /// The user name for the LiveChat v2 API's Basic auth (`login:api_key`).
    pub login: String,
    /// 32 lowercase hex; sent in every webhook and the credential for the Visitors API.
    pub token: String,
    pub api_key_hash: [u8; 32],
    pub created_at: Millis,
}

/// Checks the id of a license being created: a plain number, as LiveChat's are. On top of
/// [`parse_license_id`] it refuses leading zeros and `0` itself: v2 shows `licence` as a JSON
/// number, so `"007"` would come back as `7`, which a v2 client cannot send back; and no LiveChat
/// license is number 0 (PHP clients also treat `"0"` as "no license").
pub fn parse_new_license_id(text: &str) -> Result<String, Invalid> {
    let id = parse_license_id(text)?;
    if id.starts_with('0') {
        return Err(Invalid::new(
            "license_id",
            "must be a plain number from 1 up, without leading zeros (LiveChat license ids are \
             numbers; `007` would be shown as 7 by the v2 API)",
        ));
    }
    Ok(id)
}

/// Checks a license id to look up: 1 to 20 digits, like LiveChat's. Lenient on leading zeros, so
/// a license created before [`parse_new_license_id`] refused them can still be reached.
pub fn parse_license_id(text: &str) -> Result<String, Invalid> {
    let ok = (1..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(text.to_string())
    } else {
        Err(Invalid::new("license_id", "must be 1 to 20 digits"))
    }
}

/// Checks a login: 1 to 254 printable characters without `:` (it is the Basic auth user name).
pub fn parse_login(text: &str) -> Result<String, Invalid> {
    let text = text.trim();
    if text.is_empty() || text.len() > 254 {
        return Err(Invalid::new("login", "must be 1 to 254 characters"));
    }
    if text.chars().any(|c| c == ':' || c.is_control()) {
        return Err(Invalid::new(
            "login",
            "must not contain `:` or control characters",
        ));
    }
    Ok(text.to_string())
}

/// A fresh license id: 8 random digits not starting with 0.
pub fn new_license_id() -> String {
    use rand::Rng;
    rand::thread_rng()
        .gen_range(10_000_000u64..100_000_000)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_ids_are_digits() {
        assert_eq!(parse_license_id("1025707").unwrap(), "1025707");
        assert!(parse_license_id("").is_err());
        assert!(parse_license_id("12a").is_err());
        assert!(parse_license_id(&"1".repeat(21)).is_err());
        assert!(parse_license_id(&new_license_id()).is_ok());
        assert!(parse_new_license_id(&new_license_id()).is_ok());
    }

    #[test]
    fn new_license_ids_are_plain_numbers() {
        assert_eq!(parse_new_license_id("1025707").unwrap(), "1025707");
        assert_eq!(parse_new_license_id("10").unwrap(), "10");
        for bad in ["007", "0", "00", "12a", ""] {
            assert_eq!(
                parse_new_license_id(bad).unwrap_err().field,
                "license_id",
                "{bad}"
            );
        }
        assert!(parse_license_id("007").is_ok(), "old ids stay reachable");
    }

    #[test]
    fn logins_cannot_break_basic_auth() {
        assert!(parse_login("john@example.com").is_ok());
        assert_eq!(parse_login("a:b").unwrap_err().field, "login");
        assert!(parse_login("  ").is_err());
    }
}

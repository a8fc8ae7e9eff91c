//! Apache `.htpasswd` files: parsing and password verification.
//!
//! Supports the formats Apache 2.4's `htpasswd` writes: APR1 (`$apr1$`, the default and the
//! seed's), bcrypt (`$2y$`, `$2a$`, `$2b$`), `{SHA}` and traditional DES crypt. Parsing is
//! forgiving the way Apache is (CRLF line ends, `#` comments, blank lines) and never fails or
//! panics on a bad line: such lines are skipped and reported in [`Htpasswd::skipped`] so a tool
//! can warn about them. Every comparison of secret material is constant-time (`subtle`).

mod apr1;
mod des_crypt;

use std::path::Path;

use base64::Engine as _;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// The highest bcrypt cost accepted: Apache's `htpasswd -C` stops at 17, and a higher cost in a
/// file would make every request take minutes.
const MAX_BCRYPT_COST: u32 = 17;

/// Why a hash could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("the line has no ':' between user and hash")]
    MissingColon,
    #[error("the user name is empty")]
    EmptyUser,
    #[error("malformed APR1 hash (expected $apr1$<salt of up to 8>$<22 characters>)")]
    Apr1,
    #[error("malformed bcrypt hash (expected $2y$<cost 04..17>$<53 characters>)")]
    Bcrypt,
    #[error("malformed {{SHA}} hash (expected {{SHA}} and the base64 of 20 bytes)")]
    Sha1,
    #[error("unsupported hash format (neither $apr1$, $2y$/$2a$/$2b$, {{SHA}} nor 13-character DES crypt)")]
    Unsupported,
}

/// One stored password hash, already parsed.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// `$apr1$salt$checksum`.
    Apr1 { salt: String, checksum: [u8; 22] },
    /// `$2y$…`, `$2a$…` or `$2b$…`, kept whole for the `bcrypt` crate.
    Bcrypt(String),
    /// `{SHA}` followed by the base64 of the SHA-1 digest (unsalted; Apache keeps it for
    /// compatibility only).
    Sha1([u8; 20]),
    /// Traditional crypt(3): two salt characters and eleven of hash.
    DesCrypt([u8; 13]),
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not the password, but it can be attacked offline: keep it out of logs.
        let kind = match self {
            PasswordHash::Apr1 { .. } => "Apr1",
            PasswordHash::Bcrypt(_) => "Bcrypt",
            PasswordHash::Sha1(_) => "Sha1",
            PasswordHash::DesCrypt(_) => "DesCrypt",
        };
        write!(f, "PasswordHash::{kind}(..)")
    }
}

impl std::str::FromStr for PasswordHash {
    type Err = HashError;

    fn from_str(hash: &str) -> Result<Self, HashError> {
        if let Some(rest) = hash.strip_prefix("$apr1$") {
            let (salt, checksum) = rest.split_once('$').ok_or(HashError::Apr1)?;
            let checksum: [u8; 22] = checksum
                .as_bytes()
                .try_into()
                .map_err(|_| HashError::Apr1)?;
            if salt.is_empty() || salt.len() > 8 || !checksum.iter().all(|&c| is_crypt64(c)) {
                return Err(HashError::Apr1);
            }
            return Ok(PasswordHash::Apr1 {
                salt: salt.to_owned(),
                checksum,
            });
        }
        if ["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p)) {
            let cost: u32 = hash
                .get(4..6)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|c| c.parse().ok())
                .ok_or(HashError::Bcrypt)?;
            let shape_ok = hash.len() == 60 && hash.as_bytes()[6] == b'$';
            if !(4..=MAX_BCRYPT_COST).contains(&cost) || !shape_ok {
                return Err(HashError::Bcrypt);
            }
            return Ok(PasswordHash::Bcrypt(hash.to_owned()));
        }
        if let Some(encoded) = hash.strip_prefix("{SHA}") {
            let digest = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| HashError::Sha1)?;
            return digest
                .try_into()
                .map(PasswordHash::Sha1)
                .map_err(|_| HashError::Sha1);
        }
        if let Ok(des) = <[u8; 13]>::try_from(hash.as_bytes()) {
            if des.iter().all(|&c| is_crypt64(c)) {
                return Ok(PasswordHash::DesCrypt(des));
            }
        }
        Err(HashError::Unsupported)
    }
}

impl PasswordHash {
    /// Whether `password` matches, comparing in constant time.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            PasswordHash::Apr1 { salt, checksum } => apr1::checksum(password, salt.as_bytes())
                .ct_eq(checksum)
                .into(),
            // The bcrypt crate compares with `subtle` itself.
            PasswordHash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            PasswordHash::Sha1(digest) => {
                let actual: [u8; 20] = Sha1::digest(password).into();
                actual.ct_eq(digest).into()
            }
            PasswordHash::DesCrypt(stored) => {
                match des_crypt::hash(password, [stored[0], stored[1]]) {
                    Some(actual) => actual.ct_eq(stored).into(),
                    None => false,
                }
            }
        }
    }
}

fn is_crypt64(c: u8) -> bool {
    des_crypt::decode_char(c).is_some()
}

/// A line of the file that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based, as an editor shows it.
    pub line_number: usize,
    pub reason: HashError,
}

/// Why an `.htpasswd` file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no usable user (every line was blank, a comment or malformed)")]
    NoUsers { path: String },
}

/// A parsed `.htpasswd` file: users and their password hashes.
#[derive(Debug, Clone, Default)]
pub struct Htpasswd {
    entries: Vec<(String, PasswordHash)>,
    skipped: Vec<SkippedLine>,
}

impl Htpasswd {
    /// Parses the text of a file. Never fails: bad lines land in [`Htpasswd::skipped`]. When a
    /// user appears twice the first line wins, as in Apache.
    pub fn parse(text: &str) -> Htpasswd {
        let mut parsed = Htpasswd::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok(entry) => parsed.entries.push(entry),
                Err(reason) => parsed.skipped.push(SkippedLine {
                    line_number: index + 1,
                    reason,
                }),
            }
        }
        parsed
    }

    /// Reads and parses a file; a file without any usable user is an error, since it could
    /// only ever refuse everyone and is almost certainly a mistake.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Htpasswd, HtpasswdError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| HtpasswdError::Read {
            path: shown.clone(),
            source,
        })?;
        let parsed = Htpasswd::parse(&String::from_utf8_lossy(&bytes));
        if parsed.entries.is_empty() {
            return Err(HtpasswdError::NoUsers { path: shown });
        }
        Ok(parsed)
    }

    /// Whether `user` is in the file with `password`. Every entry's user name is compared (in
    /// constant time), and an unknown user still costs one APR1 computation, so the answer time
    /// says little about which users exist.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let mut found: Option<&PasswordHash> = None;
        for (name, hash) in &self.entries {
            let same = name.as_bytes().ct_eq(user.as_bytes());
            if bool::from(same) && found.is_none() {
                found = Some(hash);
            }
        }
        match found {
            Some(hash) => hash.verify(password.as_bytes()),
            None => {
                let _ = apr1::checksum(password.as_bytes(), b"nouser00");
                false
            }
        }
    }

    /// The user names, in file order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(user, _)| user.as_str())
    }

    /// The lines that were not used.
    pub fn skipped(&self) -> &[SkippedLine] {
        &self.skipped
    }
}

fn parse_line(line: &str) -> Result<(String, PasswordHash), HashError> {
    let (user, hash) = line.split_once(':').ok_or(HashError::MissingColon)?;
    if user.is_empty() {
        return Err(HashError::EmptyUser);
    }
    Ok((user.to_owned(), hash.trim().parse()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_crlf_are_tolerated() {
        let file =
            Htpasswd::parse("# users\r\n\r\nlivechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\r\n");
        assert!(file.verify("livechat", "password"));
        assert!(file.skipped().is_empty());
    }

    #[test]
    fn a_malformed_line_is_skipped_with_its_number() {
        let file =
            Htpasswd::parse("nocolon\nbob:$apr1$x$short\nann:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=");
        assert!(file.verify("ann", "password"));
        let reasons: Vec<_> = file
            .skipped()
            .iter()
            .map(|s| (s.line_number, s.reason.clone()))
            .collect();
        assert_eq!(
            reasons,
            [(1, HashError::MissingColon), (2, HashError::Apr1)]
        );
    }

    #[test]
    fn a_bcrypt_cost_beyond_apache_s_limit_is_refused() {
        let hash = "$2y$31$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC";
        assert_eq!(hash.parse::<PasswordHash>(), Err(HashError::Bcrypt));
    }

    #[test]
    fn the_first_line_for_a_user_wins() {
        let file = Htpasswd::parse(
            "u:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nu:{SHA}VBPuJHI7uixaa6LQGWx4s+5GKNE=",
        );
        assert!(file.verify("u", "password"));
        assert!(!file.verify("u", "myPassword"));
    }
}

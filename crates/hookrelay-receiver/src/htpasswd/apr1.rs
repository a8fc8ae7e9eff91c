//! Apache's APR1 password hash (`$apr1$salt$checksum`): the MD5-based crypt that `htpasswd -m`
//! writes and that the seed's `.htpasswd` example uses.
//!
//! No maintained crate implements it without also pulling in a stack of other schemes, while it is
//! forty lines on top of the `md-5` crate: it is the FreeBSD md5crypt algorithm with the magic
//! string `$apr1$` instead of `$1$`.

use md5::{Digest, Md5};

/// The alphabet crypt(3) uses for its base-64 output.
pub(super) const ITOA64: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const MAGIC: &[u8] = b"$apr1$";

/// The 22-character checksum of `password` under `salt` (at most 8 bytes are used).
pub(super) fn checksum(password: &[u8], salt: &[u8]) -> [u8; 22] {
    let salt = &salt[..salt.len().min(8)];

    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();

    let mut ctx = Md5::new()
        .chain_update(password)
        .chain_update(MAGIC)
        .chain_update(salt);
    for chunk_start in (0..password.len()).step_by(16) {
        let len = (password.len() - chunk_start).min(16);
        ctx.update(&alternate[..len]);
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut digest = ctx.finalize();

    // A thousand rounds, deliberately slow (by 1990s standards).
    for round in 0..1000 {
        let mut ctx = Md5::new();
        if round & 1 == 1 {
            ctx.update(password);
        } else {
            ctx.update(digest);
        }
        if round % 3 != 0 {
            ctx.update(salt);
        }
        if round % 7 != 0 {
            ctx.update(password);
        }
        if round & 1 == 1 {
            ctx.update(digest);
        } else {
            ctx.update(password);
        }
        digest = ctx.finalize();
    }

    let d = digest;
    let mut out = [0u8; 22];
    let groups = [
        (d[0], d[6], d[12]),
        (d[1], d[7], d[13]),
        (d[2], d[8], d[14]),
        (d[3], d[9], d[15]),
        (d[4], d[10], d[5]),
    ];
    for (i, (a, b, c)) in groups.into_iter().enumerate() {
        let value = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
        encode_into(&mut out[i * 4..i * 4 + 4], value);
    }
    encode_into(&mut out[20..22], u32::from(d[11]));
    out
}

/// Writes `value` little-end first, six bits per character, as crypt(3) does.
fn encode_into(out: &mut [u8], mut value: u32) {
    for slot in out {
        *slot = ITOA64[(value & 0x3f) as usize];
        value >>= 6;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_hash_is_reproduced() {
        assert_eq!(
            &checksum(b"password", b"G9iXatUK"),
            b"gPJLrKQsoWWkFCY/SXO/H."
        );
    }

    #[test]
    fn the_apache_docs_hash_is_reproduced() {
        assert_eq!(
            &checksum(b"myPassword", b"r31....."),
            b"HqJZimcKQFAMYayBlzkrA/"
        );
    }

    #[test]
    fn an_empty_password_hashes_without_trouble() {
        assert_eq!(checksum(b"", b"salt").len(), 22);
    }
}

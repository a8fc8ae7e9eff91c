//! Traditional Unix DES crypt(3): the 13-character hashes `htpasswd -d` writes.
//!
//! Written by hand, following the 7th Edition Unix `crypt.c`, because no maintained crate offers
//! it: the RustCrypto `des` crate cannot perturb its expansion table with the salt (which is
//! what makes crypt(3) differ from plain DES), and `pwhash` has not been released since 2020 and
//! pins old RustCrypto versions. It works on one bit per byte: slow, but it runs only 25 DES
//! encryptions per check and is easy to compare with the textbook tables.

use super::apr1::ITOA64;

const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6,
    64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61,
    53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
const FP: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30,
    37, 5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];
const PC1_C: [u8; 28] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36,
];
const PC1_D: [u8; 28] = [
    63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21, 13, 5,
    28, 20, 12, 4,
];
const SHIFTS: [u8; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
const PC2_C: [u8; 24] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
];
const PC2_D: [u8; 24] = [
    41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
const E: [u8; 48] = [
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18,
    19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];
const S: [[u8; 64]; 8] = [
    [
        14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12,
        11, 9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9,
        1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
    ],
    [
        15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1,
        10, 6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15,
        4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
    ],
    [
        10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5,
        14, 12, 11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6,
        9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
    ],
    [
        7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2,
        12, 1, 10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1,
        13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
    ],
    [
        2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15,
        10, 3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14,
        2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
    ],
    [
        12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13,
        14, 0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5,
        15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
    ],
    [
        4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5,
        12, 2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4,
        10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
    ],
    [
        13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6,
        11, 0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10,
        8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
    ],
];

/// The value (0..64) of one crypt(3) base-64 character, or `None` outside the alphabet.
pub(super) fn decode_char(c: u8) -> Option<u8> {
    ITOA64.iter().position(|&a| a == c).map(|p| p as u8)
}

/// The whole 13-character hash of `password` under the two-character `salt`, or `None` when the
/// salt has a character outside the crypt alphabet. Only the first 8 password bytes count (and
/// only their low 7 bits), as in crypt(3); a NUL ends the password, as in C.
pub(super) fn hash(password: &[u8], salt: [u8; 2]) -> Option<[u8; 13]> {
    let salt_values = [decode_char(salt[0])?, decode_char(salt[1])?];

    let mut key = [0u8; 64];
    for (i, &c) in password.iter().take_while(|&&c| c != 0).take(8).enumerate() {
        for j in 0..7 {
            key[i * 8 + j] = (c >> (6 - j)) & 1;
        }
    }
    let schedule = key_schedule(&key);

    let mut expansion = E;
    for (i, value) in salt_values.into_iter().enumerate() {
        for j in 0..6 {
            if (value >> j) & 1 == 1 {
                expansion.swap(6 * i + j, 6 * i + j + 24);
            }
        }
    }

    let mut block = [0u8; 66];
    for _ in 0..25 {
        encrypt(&mut block, &schedule, &expansion);
    }

    let mut out = [0u8; 13];
    out[..2].copy_from_slice(&salt);
    for i in 0..11 {
        let value = block[6 * i..6 * i + 6]
            .iter()
            .fold(0usize, |acc, &bit| (acc << 1) | usize::from(bit));
        out[i + 2] = ITOA64[value];
    }
    Some(out)
}

fn key_schedule(key: &[u8; 64]) -> [[u8; 48]; 16] {
    let mut c: [u8; 28] = std::array::from_fn(|i| key[usize::from(PC1_C[i]) - 1]);
    let mut d: [u8; 28] = std::array::from_fn(|i| key[usize::from(PC1_D[i]) - 1]);
    let mut schedule = [[0u8; 48]; 16];
    for (round, keys) in schedule.iter_mut().enumerate() {
        c.rotate_left(usize::from(SHIFTS[round]));
        d.rotate_left(usize::from(SHIFTS[round]));
        for j in 0..24 {
            keys[j] = c[usize::from(PC2_C[j]) - 1];
            keys[j + 24] = d[usize::from(PC2_D[j]) - 28 - 1];
        }
    }
    schedule
}

/// One DES encryption of the first 64 bits of `block`, in place.
fn encrypt(block: &mut [u8; 66], schedule: &[[u8; 48]; 16], expansion: &[u8; 48]) {
    let lr: [u8; 64] = std::array::from_fn(|j| block[usize::from(IP[j]) - 1]);
    let (mut left, mut right) = ([0u8; 32], [0u8; 32]);
    left.copy_from_slice(&lr[..32]);
    right.copy_from_slice(&lr[32..]);

    for keys in schedule {
        let pre_s: [u8; 48] =
            std::array::from_fn(|j| right[usize::from(expansion[j]) - 1] ^ keys[j]);
        let mut f = [0u8; 32];
        for (j, sbox) in S.iter().enumerate() {
            let b = &pre_s[6 * j..6 * j + 6];
            let index = (b[0] << 5) | (b[5] << 4) | (b[1] << 3) | (b[2] << 2) | (b[3] << 1) | b[4];
            let k = sbox[usize::from(index)];
            for bit in 0..4 {
                f[4 * j + bit] = (k >> (3 - bit)) & 1;
            }
        }
        let new_right: [u8; 32] = std::array::from_fn(|j| left[j] ^ f[usize::from(P[j]) - 1]);
        left = right;
        right = new_right;
    }

    let mut swapped = [0u8; 64];
    swapped[..32].copy_from_slice(&right);
    swapped[32..].copy_from_slice(&left);
    for j in 0..64 {
        block[j] = swapped[usize::from(FP[j]) - 1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apache_docs_hash_is_reproduced() {
        assert_eq!(&hash(b"myPassword", *b"rq").unwrap(), b"rqXexS6ZhobKA");
    }

    #[test]
    fn only_the_first_eight_characters_count() {
        assert_eq!(
            hash(b"myPasswo", *b"ab"),
            hash(b"myPassword-longer", *b"ab")
        );
        assert_ne!(hash(b"myPasswo", *b"ab"), hash(b"myPassw", *b"ab"));
    }

    #[test]
    fn a_salt_outside_the_alphabet_is_refused() {
        assert_eq!(hash(b"x", *b"!a"), None);
    }
}

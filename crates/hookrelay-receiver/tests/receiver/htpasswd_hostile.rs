//! Malformed and hostile `.htpasswd` content: parsing and verifying never panic.

use hookrelay_receiver::{HashError, Htpasswd, PasswordHash};
use proptest::prelude::*;

#[test]
fn near_miss_hashes_are_refused_with_a_reason() {
    let cases = [
        ("$apr1$", HashError::Apr1),
        ("$apr1$G9iXatUK", HashError::Apr1),
        ("$apr1$$gPJLrKQsoWWkFCY/SXO/H.", HashError::Apr1),
        ("$apr1$toolongsalt$gPJLrKQsoWWkFCY/SXO/H.", HashError::Apr1),
        ("$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H!", HashError::Apr1),
        ("$2y$05$short", HashError::Bcrypt),
        (
            "$2y$xx$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC",
            HashError::Bcrypt,
        ),
        (
            "$2y$03$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC",
            HashError::Bcrypt,
        ),
        ("{SHA}not base64!", HashError::Sha1),
        ("{SHA}AAAA", HashError::Sha1),
        ("rqXexS6Zhob!A", HashError::Unsupported),
        ("plaintext", HashError::Unsupported),
        ("", HashError::Unsupported),
    ];
    for (text, want) in cases {
        assert_eq!(text.parse::<PasswordHash>(), Err(want), "{text:?}");
    }
}

#[test]
fn a_bcrypt_line_with_a_broken_body_does_not_verify() {
    // Right shape, garbage inside: the bcrypt crate errors, which must read as "no".
    let hash: PasswordHash = "$2y$04$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        .parse()
        .unwrap();
    assert!(!hash.verify(b"anything"));
}

#[test]
fn a_hostile_file_still_serves_its_good_line() {
    let mut text = String::from("\u{feff}# BOM and comment\n:nouser\n\0\0\0\n");
    text.push_str(&"x".repeat(100_000));
    text.push_str("\nlivechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\r\n\u{202e}evil:{SHA}\n");
    let file = Htpasswd::parse(&text);
    assert!(file.verify("livechat", "password"));
    assert_eq!(file.users().collect::<Vec<_>>(), ["livechat"]);
    assert!(file.skipped().len() >= 3);
}

fn hash_like() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just(""),
        Just("$apr1$"),
        Just("$2y$04$"),
        Just("$2a$"),
        Just("$2b$1"),
        Just("{SHA}"),
    ];
    (
        prefix,
        "[./0-9A-Za-z$=+:\\x00-\\x20\u{80}-\u{10ffff}]{0,64}",
    )
        .prop_map(|(p, s)| format!("{p}{s}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,300}") {
        let file = Htpasswd::parse(&text);
        let _ = file.verify("user", "password");
    }

    #[test]
    fn verifying_against_any_hash_like_line_never_panics(hash in hash_like(), password in ".{0,80}") {
        let file = Htpasswd::parse(&format!("u:{hash}"));
        let _ = file.verify("u", &password);
        if let Ok(parsed) = hash.parse::<PasswordHash>() {
            let _ = parsed.verify(password.as_bytes());
        }
    }

    #[test]
    fn a_wrong_password_never_verifies(password in "[a-z]{1,12}", other in "[A-Z]{1,12}") {
        let line = format!("u:$apr1$salt1234${}", "a".repeat(22));
        prop_assert!(!Htpasswd::parse(&line).verify("u", &password));
        let file = Htpasswd::parse("u:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=");
        prop_assert!(!file.verify("u", &other));
    }
}

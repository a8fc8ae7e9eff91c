//! Every format against the REFERENCE.md vectors and against `openssl` / the C library.

use std::process::Command;

use hookrelay_receiver::{Htpasswd, PasswordHash};
use rand::distributions::Alphanumeric;
use rand::Rng;

fn hash(text: &str) -> PasswordHash {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn the_seed_htpasswd_line_accepts_password_and_nothing_else() {
    let file = Htpasswd::parse("livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.");
    assert!(file.verify("livechat", "password"));
    assert!(!file.verify("livechat", "Password"));
    assert!(!file.verify("livechat", ""));
    assert!(!file.verify("LiveChat", "password"));
}

#[test]
fn the_reference_vectors_verify() {
    assert!(hash("$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/").verify(b"myPassword"));
    assert!(hash("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=").verify(b"password"));
    assert!(hash("{SHA}VBPuJHI7uixaa6LQGWx4s+5GKNE=").verify(b"myPassword"));
    assert!(hash("rqXexS6ZhobKA").verify(b"myPassword"));
    let bcrypt = hash("$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC");
    assert!(bcrypt.verify(b"myPassword"));
    assert!(!bcrypt.verify(b"mypassword"));
}

#[test]
fn every_bcrypt_prefix_apache_writes_is_accepted() {
    let made = bcrypt::hash("s3cret", 4).unwrap(); // the crate writes $2b$
    for prefix in ["$2y$", "$2a$", "$2b$"] {
        let line = format!("{prefix}{}", &made[4..]);
        assert!(hash(&line).verify(b"s3cret"), "{line}");
        assert!(!hash(&line).verify(b"s3cres"), "{line}");
    }
}

fn random_password(rng: &mut impl Rng) -> String {
    let len = rng.gen_range(1..=24);
    let mut password: String = (0..len)
        .map(|_| {
            *b"abcXYZ019 !#%&()*+,./:;<=>?@[]^_{|}~"
                .get(rng.gen_range(0..36))
                .unwrap() as char
        })
        .collect();
    password.insert(0, rng.sample(Alphanumeric) as char); // never looks like an option
    password
}

#[test]
fn apr1_agrees_with_openssl_for_random_passwords_and_salts() {
    let mut rng = rand::thread_rng();
    for _ in 0..16 {
        let password = random_password(&mut rng);
        let salt_len = rng.gen_range(1..=8);
        let salt: String = (0..salt_len)
            .map(|_| rng.sample(Alphanumeric) as char)
            .collect();
        let output = Command::new("openssl")
            .args(["passwd", "-apr1", "-salt", &salt, &password])
            .output()
            .expect("openssl is installed");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8(output.stdout).unwrap();
        let line = line.trim();
        assert!(line.starts_with("$apr1$"), "{line}");
        let file = Htpasswd::parse(&format!("dev:{line}\n"));
        assert!(file.verify("dev", &password), "{password:?} {line}");
        assert!(
            !file.verify("dev", &format!("{password}x")),
            "{password:?} {line}"
        );
    }
}

#[test]
fn des_crypt_agrees_with_the_c_library_for_random_passwords_and_salts() {
    let mut rng = rand::thread_rng();
    let alphabet = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for _ in 0..16 {
        let password = random_password(&mut rng);
        let salt: String = (0..2)
            .map(|_| alphabet[rng.gen_range(0..64)] as char)
            .collect();
        // perl's crypt() is the C library's crypt(3).
        let output = Command::new("perl")
            .args(["-e", "print crypt($ARGV[0], $ARGV[1])", &password, &salt])
            .output()
            .expect("perl is installed");
        let expected = String::from_utf8(output.stdout).unwrap();
        assert_eq!(expected.len(), 13, "{expected:?}");
        assert!(
            hash(&expected).verify(password.as_bytes()),
            "{password:?} {expected}"
        );
        assert!(
            !hash(&expected).verify(b"not it"),
            "{password:?} {expected}"
        );
    }
}

#[test]
fn a_file_mixing_every_format_serves_every_user() {
    let file = Htpasswd::parse(concat!(
        "# Apache 2.4 htpasswd, every format\r\n",
        "apr:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\r\n",
        "bc:$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC\r\n",
        "\r\n",
        "sha:{SHA}VBPuJHI7uixaa6LQGWx4s+5GKNE=\r\n",
        "des:rqXexS6ZhobKA\r\n",
    ));
    assert_eq!(
        file.users().collect::<Vec<_>>(),
        ["apr", "bc", "sha", "des"]
    );
    for user in ["apr", "bc", "sha", "des"] {
        assert!(file.verify(user, "myPassword"), "{user}");
        assert!(!file.verify(user, "MyPassword"), "{user}");
    }
    assert!(!file.verify("nobody", "myPassword"));
}

#[test]
fn reading_a_missing_or_empty_file_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("hookrelay-htpasswd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.htpasswd");
    std::fs::write(&empty, "# nobody\n\nbroken line\n").unwrap();
    let err = Htpasswd::from_file(&empty).unwrap_err().to_string();
    assert!(
        err.contains("empty.htpasswd") && err.contains("no usable user"),
        "{err}"
    );
    let err = Htpasswd::from_file(dir.join("missing"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing"), "{err}");
    let good = dir.join("good.htpasswd");
    std::fs::write(&good, "livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\n").unwrap();
    assert!(Htpasswd::from_file(&good)
        .unwrap()
        .verify("livechat", "password"));
    std::fs::remove_dir_all(&dir).unwrap();
}

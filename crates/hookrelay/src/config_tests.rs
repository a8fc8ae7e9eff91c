//! Unit tests of the configuration layers (kept beside config.rs, which they test).

use super::*;
use std::collections::HashMap;

#[test]
fn the_defaults_make_ten_retries_within_six_hours_even_with_jitter() {
    let config = Config::defaults();
    assert_eq!(config.retry_schedule.len(), 10);
    let total: Duration = config.retry_schedule.iter().sum();
    assert!(total.mul_f64(1.0 + config.retry_jitter) < Duration::from_secs(6 * 3600));
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.database_url, "sqlite://hookrelay.db");
    assert_eq!(config.attempt_timeout, Duration::from_secs(10));
}

#[test]
fn the_environment_overrides_the_file() {
    let file =
        RawConfig::from_toml("listen = \"127.0.0.1:9000\"\nretry_schedule = [\"1s\"]").unwrap();
    let env: HashMap<&str, &str> = [
        ("HOOKRELAY_RETRY_SCHEDULE", "1s, 2s,3m"),
        ("HOOKRELAY_ALLOWED_TARGET_NETWORKS", "127.0.0.0/8,::1"),
    ]
    .into();
    let env = RawConfig::from_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
    let config = file.overlay(env).validate().unwrap();
    assert_eq!(config.listen.port(), 9000);
    assert_eq!(
        config.retry_schedule,
        [1, 2, 180].map(Duration::from_secs).to_vec()
    );
    assert_eq!(config.allowed_target_networks.len(), 2);
}

#[test]
fn a_bad_value_names_the_setting() {
    let env =
        RawConfig::from_env(|k| (k == "HOOKRELAY_RETRY_SCHEDULE").then(|| "10s,soon".to_string()))
            .unwrap();
    let err = env.validate().unwrap_err().to_string();
    assert!(
        err.contains("retry_schedule") && err.contains("soon"),
        "{err}"
    );
    let err = RawConfig::from_toml("lisen = \"x\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("lisen"), "{err}");
}

#[test]
fn a_lease_must_cover_an_attempt_and_a_wait_for_a_slot() {
    let with = |lease: &str, timeout: &str| {
        RawConfig::from_env(|k| match k {
            "HOOKRELAY_DELIVERY_LEASE" => Some(lease.to_string()),
            "HOOKRELAY_ATTEMPT_TIMEOUT" => Some(timeout.to_string()),
            _ => None,
        })
        .unwrap()
        .validate()
    };
    let err = with("15s", "10s").unwrap_err().to_string();
    assert!(
        err.contains("delivery_lease") && err.contains("twice"),
        "{err}"
    );
    assert!(with("20s", "10s").is_ok());
}

#[test]
fn a_short_admin_token_is_refused_saying_why() {
    let with = |token: &str| {
        RawConfig::from_env(|k| (k == "HOOKRELAY_ADMIN_TOKEN").then(|| token.to_string()))
            .unwrap()
            .validate()
    };
    let err = with("x").unwrap_err().to_string();
    assert!(err.contains("admin_token") && err.contains("24"), "{err}");
    assert!(with(&"x".repeat(23)).is_err());
    assert!(with(&"x".repeat(24)).is_ok());
    assert!(
        with("").unwrap().admin_token.is_none(),
        "empty means generate one"
    );
}

#[test]
fn the_edge_timeouts_are_checked() {
    let with = |name: &str, value: &str| {
        RawConfig::from_env(|k| (k == name).then(|| value.to_string()))
            .unwrap()
            .validate()
    };
    let config = Config::defaults();
    assert_eq!(config.header_read_timeout, Duration::from_secs(10));
    assert!(config.keep_alive_timeout <= config.header_read_timeout);
    assert_eq!(config.max_connections, None, "derived at start");
    let err = with("HOOKRELAY_KEEP_ALIVE_TIMEOUT", "11s")
        .unwrap_err()
        .to_string();
    assert!(err.contains("keep_alive_timeout"), "{err}");
    let err = with("HOOKRELAY_BODY_READ_TIMEOUT", "0s")
        .unwrap_err()
        .to_string();
    assert!(err.contains("body_read_timeout"), "{err}");
    assert!(with("HOOKRELAY_MAX_CONNECTIONS", "0").is_err());
    assert_eq!(
        with("HOOKRELAY_MAX_CONNECTIONS", "7")
            .unwrap()
            .max_connections,
        Some(7)
    );
}

#[test]
fn debug_output_hides_secrets() {
    let mut config = Config::defaults();
    config.admin_token = Some("supersecret".into());
    config.database_url = "postgres://u:pw@localhost/db".into();
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("supersecret") && !shown.contains("pw@"),
        "{shown}"
    );
}

//! Configuration: defaults, then a TOML file, then `HOOKRELAY_*` environment variables, then
//! flags, validated once into [`Config`]. The commented default file is embedded in the binary
//! (`hookrelay config default` prints it) and is also what the defaults are parsed from, so the
//! two cannot disagree.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// The commented default configuration.
pub const DEFAULT_TOML: &str = include_str!("config.default.toml");

/// The shortest admin token accepted. The admin token opens every license, is stored as a fast
/// hash (SHA-256) and nothing limits failed attempts, so only a long random secret is safe:
/// 24 characters is 96 bits even as hex, out of reach of online guessing.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 24;

/// The validated configuration the server runs with.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    /// `None`: generate one on first start.
    pub admin_token: Option<String>,
    pub allowed_target_networks: Vec<IpNet>,
    pub retry_schedule: Vec<Duration>,
    pub retry_jitter: f64,
    pub max_retry_after: Duration,
    pub attempt_timeout: Duration,
    /// How long a delivery taken by a node stays reserved for it: after a node dies, its
    /// deliveries go to the other nodes (or to its own restart on PostgreSQL) once this passes.
    pub delivery_lease: Duration,
    pub success_any_2xx: bool,
    pub per_target_concurrency: usize,
    pub max_in_flight: usize,
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers (hyper counts the wait for the
    /// next request on a kept-alive connection too): slow clients cannot hold connections.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a whole request body.
    pub body_read_timeout: Duration,
    /// How long a kept-alive connection may stay idle between requests.
    pub keep_alive_timeout: Duration,
    /// Most connections served at once; `None`: derived from the open-file limit at start
    /// ([`crate::connections::default_max_connections`]).
    pub max_connections: Option<usize>,
    pub log_format: LogFormat,
    /// How long finished deliveries (with their attempts and events) and chats' remembered tags
    /// are kept; pending deliveries are kept whatever their age.
    pub retention: Duration,
    /// How long a webhook's target may answer no HTTP 200, while its deliveries keep failing,
    /// before hookrelay disables the webhook (and says why, with a `webhook_disabled` event).
    pub disable_after: Duration,
    /// How long a listen session's webhooks stay after its socket closed, for the command to
    /// reconnect (or be started again) without losing a delivery.
    pub cli_session_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("allowed_target_networks", &self.allowed_target_networks)
            .field("retry_schedule", &self.retry_schedule)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("success_any_2xx", &self.success_any_2xx)
            .field("retention", &self.retention)
            .field("disable_after", &self.disable_after)
            .field("cli_session_grace", &self.cli_session_grace)
            .finish_non_exhaustive()
    }
}

/// The raw layer: every field optional so layers can be merged.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub admin_token: Option<String>,
    pub allowed_target_networks: Option<StringList>,
    pub retry_schedule: Option<StringList>,
    pub retry_jitter: Option<f64>,
    pub max_retry_after: Option<String>,
    pub attempt_timeout: Option<String>,
    pub delivery_lease: Option<String>,
    pub success_any_2xx: Option<bool>,
    pub per_target_concurrency: Option<usize>,
    pub max_in_flight: Option<usize>,
    pub max_body_bytes: Option<usize>,
    pub header_read_timeout: Option<String>,
    pub body_read_timeout: Option<String>,
    pub keep_alive_timeout: Option<String>,
    pub max_connections: Option<usize>,
    pub log_format: Option<String>,
    pub retention: Option<String>,
    pub disable_after: Option<String>,
    pub cli_session_grace: Option<String>,
}

#[path = "config_list.rs"]
mod list;
pub use list::StringList;

/// A configuration problem, naming the setting and the rule.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

impl RawConfig {
    /// Parses one TOML layer.
    pub fn from_toml(text: &str) -> Result<RawConfig, ConfigError> {
        toml::from_str(text).map_err(|e| bad("file", e.to_string()))
    }

    /// Reads the `HOOKRELAY_*` variables through `get` (the process environment in production).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<RawConfig, ConfigError> {
        let parse_bool = |name: &'static str| -> Result<Option<bool>, ConfigError> {
            get(name)
                .map(|v| match v.trim() {
                    "1" | "true" | "yes" => Ok(true),
                    "0" | "false" | "no" => Ok(false),
                    other => Err(bad(name, format!("`{other}` is not true or false"))),
                })
                .transpose()
        };
        let parse_num = |name: &'static str| -> Result<Option<usize>, ConfigError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| bad(name, format!("`{v}` is not a whole number")))
                })
                .transpose()
        };
        Ok(RawConfig {
            database_url: get("HOOKRELAY_DATABASE_URL"),
            listen: get("HOOKRELAY_LISTEN"),
            admin_token: get("HOOKRELAY_ADMIN_TOKEN").filter(|t| !t.is_empty()),
            allowed_target_networks: get("HOOKRELAY_ALLOWED_TARGET_NETWORKS")
                .map(StringList::Joined),
            retry_schedule: get("HOOKRELAY_RETRY_SCHEDULE").map(StringList::Joined),
            retry_jitter: get("HOOKRELAY_RETRY_JITTER")
                .map(|v| {
                    v.trim().parse().map_err(|_| {
                        bad("HOOKRELAY_RETRY_JITTER", format!("`{v}` is not a number"))
                    })
                })
                .transpose()?,
            max_retry_after: get("HOOKRELAY_MAX_RETRY_AFTER"),
            attempt_timeout: get("HOOKRELAY_ATTEMPT_TIMEOUT"),
            delivery_lease: get("HOOKRELAY_DELIVERY_LEASE"),
            success_any_2xx: parse_bool("HOOKRELAY_SUCCESS_ANY_2XX")?,
            per_target_concurrency: parse_num("HOOKRELAY_PER_TARGET_CONCURRENCY")?,
            max_in_flight: parse_num("HOOKRELAY_MAX_IN_FLIGHT")?,
            max_body_bytes: parse_num("HOOKRELAY_MAX_BODY_BYTES")?,
            header_read_timeout: get("HOOKRELAY_HEADER_READ_TIMEOUT"),
            body_read_timeout: get("HOOKRELAY_BODY_READ_TIMEOUT"),
            keep_alive_timeout: get("HOOKRELAY_KEEP_ALIVE_TIMEOUT"),
            max_connections: parse_num("HOOKRELAY_MAX_CONNECTIONS")?,
            log_format: get("HOOKRELAY_LOG_FORMAT"),
            retention: get("HOOKRELAY_RETENTION"),
            disable_after: get("HOOKRELAY_DISABLE_AFTER"),
            cli_session_grace: get("HOOKRELAY_CLI_SESSION_GRACE"),
        })
    }

    /// Lays `over` on top of `self`: every setting `over` has wins.
    pub fn overlay(self, over: RawConfig) -> RawConfig {
        RawConfig {
            database_url: over.database_url.or(self.database_url),
            listen: over.listen.or(self.listen),
            admin_token: over.admin_token.or(self.admin_token),
            allowed_target_networks: over
                .allowed_target_networks
                .or(self.allowed_target_networks),
            retry_schedule: over.retry_schedule.or(self.retry_schedule),
            retry_jitter: over.retry_jitter.or(self.retry_jitter),
            max_retry_after: over.max_retry_after.or(self.max_retry_after),
            attempt_timeout: over.attempt_timeout.or(self.attempt_timeout),
            delivery_lease: over.delivery_lease.or(self.delivery_lease),
            success_any_2xx: over.success_any_2xx.or(self.success_any_2xx),
            per_target_concurrency: over.per_target_concurrency.or(self.per_target_concurrency),
            max_in_flight: over.max_in_flight.or(self.max_in_flight),
            max_body_bytes: over.max_body_bytes.or(self.max_body_bytes),
            header_read_timeout: over.header_read_timeout.or(self.header_read_timeout),
            body_read_timeout: over.body_read_timeout.or(self.body_read_timeout),
            keep_alive_timeout: over.keep_alive_timeout.or(self.keep_alive_timeout),
            max_connections: over.max_connections.or(self.max_connections),
            log_format: over.log_format.or(self.log_format),
            retention: over.retention.or(self.retention),
            disable_after: over.disable_after.or(self.disable_after),
            cli_session_grace: over.cli_session_grace.or(self.cli_session_grace),
        }
    }

    /// Validates a fully merged layer (the defaults at the bottom fill every gap).
    pub fn validate(self) -> Result<Config, ConfigError> {
        let defaults = RawConfig::from_toml(DEFAULT_TOML).expect("the default file parses");
        let raw = defaults.overlay(self);
        let need = |v: Option<String>, name| v.ok_or_else(|| bad(name, "missing"));
        let database_url = need(raw.database_url, "database_url")?;
        if !(database_url.starts_with("sqlite://")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "database_url",
                "must start with sqlite:// or postgres://",
            ));
        }
        let listen_text = need(raw.listen, "listen")?;
        let listen = listen_text.parse().map_err(|_| {
            bad(
                "listen",
                format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
            )
        })?;
        let allowed_target_networks = raw
            .allowed_target_networks
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .map(|s| parse_network(s))
            .collect::<Result<Vec<_>, _>>()?;
        let retry_schedule = raw
            .retry_schedule
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .map(|s| parse_duration("retry_schedule", s))
            .collect::<Result<Vec<_>, _>>()?;
        let retry_jitter = raw.retry_jitter.unwrap_or(0.2);
        if !(0.0..=0.5).contains(&retry_jitter) {
            return Err(bad("retry_jitter", "must be between 0 and 0.5"));
        }
        let duration = |v: Option<String>, name| parse_duration(name, &need(v, name)?);
        let attempt_timeout = duration(raw.attempt_timeout, "attempt_timeout")?;
        if attempt_timeout.is_zero() {
            return Err(bad("attempt_timeout", "must be more than 0"));
        }
        let delivery_lease = duration(raw.delivery_lease, "delivery_lease")?;
        if delivery_lease < attempt_timeout * 2 {
            return Err(bad(
                "delivery_lease",
                "must be at least twice attempt_timeout (an attempt must end before its lease, \
                 and a delivery may wait in memory for a free slot first)",
            ));
        }
        let retention = duration(raw.retention, "retention")?;
        if retention < Duration::from_secs(1) {
            return Err(bad("retention", "must be at least 1s"));
        }
        let disable_after = duration(raw.disable_after, "disable_after")?;
        if disable_after < Duration::from_millis(100) {
            return Err(bad("disable_after", "must be at least 100ms"));
        }
        let cli_session_grace = duration(raw.cli_session_grace, "cli_session_grace")?;
        if cli_session_grace < Duration::from_millis(500) {
            return Err(bad("cli_session_grace", "must be at least 500ms"));
        }
        let positive = |v: Option<usize>, name| match v {
            Some(0) | None => Err(bad(name, "must be at least 1")),
            Some(n) => Ok(n),
        };
        let non_zero = |v: Option<String>, name| match duration(v, name)? {
            d if d.is_zero() => Err(bad(name, "must be more than 0")),
            d => Ok(d),
        };
        let header_read_timeout = non_zero(raw.header_read_timeout, "header_read_timeout")?;
        let keep_alive_timeout = non_zero(raw.keep_alive_timeout, "keep_alive_timeout")?;
        if keep_alive_timeout > header_read_timeout {
            return Err(bad(
                "keep_alive_timeout",
                "must not be longer than header_read_timeout (the wait for the next request on a \
                 kept-alive connection counts as reading its headers)",
            ));
        }
        let max_connections = match raw.max_connections {
            Some(0) => return Err(bad("max_connections", "must be at least 1")),
            other => other,
        };
        let log_format = match raw.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(bad("log_format", format!("`{other}` is not text or json"))),
        };
        let admin_token = raw.admin_token.filter(|t| !t.is_empty());
        if let Some(token) = &admin_token {
            let length = token.chars().count();
            if length < MIN_ADMIN_TOKEN_CHARS {
                return Err(bad(
                    "admin_token",
                    format!(
                        "is {length} characters long; it must be at least {MIN_ADMIN_TOKEN_CHARS}. \
                         It opens every license and failed attempts are not limited, so it must \
                         be a long random secret (e.g. `openssl rand -hex 24`); or leave it unset \
                         and hookrelay generates one on first start"
                    ),
                ));
            }
        }
        Ok(Config {
            database_url,
            listen,
            admin_token,
            allowed_target_networks,
            retry_schedule,
            retry_jitter,
            max_retry_after: duration(raw.max_retry_after, "max_retry_after")?,
            attempt_timeout,
            delivery_lease,
            success_any_2xx: raw.success_any_2xx.unwrap_or(false),
            per_target_concurrency: positive(raw.per_target_concurrency, "per_target_concurrency")?,
            max_in_flight: positive(raw.max_in_flight, "max_in_flight")?,
            max_body_bytes: positive(raw.max_body_bytes, "max_body_bytes")?,
            header_read_timeout,
            body_read_timeout: non_zero(raw.body_read_timeout, "body_read_timeout")?,
            keep_alive_timeout,
            max_connections,
            log_format,
            retention,
            disable_after,
            cli_session_grace,
        })
    }
}

impl Config {
    /// The defaults alone, for tests and embedding.
    pub fn defaults() -> Config {
        RawConfig::default()
            .validate()
            .expect("the defaults are valid")
    }
}

fn parse_network(text: &str) -> Result<IpNet, ConfigError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| {
            bad(
                "allowed_target_networks",
                format!("`{text}` is not a CIDR like 127.0.0.0/8"),
            )
        })
}

fn parse_duration(setting: &'static str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        bad(
            setting,
            format!("`{text}` is not a duration like 10s, 5m or 1h ({e})"),
        )
    })
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for logs (the same
/// redaction as a webhook's URL).
pub use crate::domain::target::redact as redact_url;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

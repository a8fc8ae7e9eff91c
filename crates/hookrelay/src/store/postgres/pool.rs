//! The connection settings and the pool every query goes through.
//!
//! Timeouts are short on purpose: when PostgreSQL is unreachable, a caller should learn it within
//! seconds (ingest answers 503) rather than hang. Dead connections are dropped when they are next
//! handed out (`RecyclingMethod::Fast` checks that the connection is still open), and new ones
//! are made on demand, which is how a node recovers by itself once the database is back.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Config, NoTls};

/// Connections per node (the committer, the claimer, the recorder and API reads share them).
const POOL_SIZE: usize = 16;
/// How long opening a connection may take before the database counts as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Parses `url` and builds the pool (connections are opened on first use).
pub fn connect(url: &str) -> anyhow::Result<(Config, Pool)> {
    let mut config: Config = url
        .parse()
        .map_err(|e| anyhow::anyhow!("database_url `{}`: {e}", crate::config::redact_url(url)))?;
    config
        .connect_timeout(CONNECT_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("hookrelay");
    }
    let manager = Manager::from_config(
        config.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_TIMEOUT * 2))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()?;
    Ok((config, pool))
}

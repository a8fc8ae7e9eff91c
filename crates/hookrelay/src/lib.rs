//! hookrelay: a self-hosted webhook relay that implements the LiveChat (v2) webhooks system end to
//! end. The chat system posts events; hookrelay stores them durably and POSTs each one, in
//! LiveChat's exact wire format, to every webhook that subscribed, retrying until the target
//! answers HTTP 200.
//!
//! The binary is thin: it parses the configuration, opens the [`store`], binds a listener and
//! calls [`run`]. Tests call the same function on `127.0.0.1:0`.
//!
//! - [`domain`]: validated types (licenses, webhooks, target URLs, events, deliveries).
//! - [`store`]: the storage trait and its backends.
//! - [`dispatch`]: the delivery engine and its pure policies.
//! - [`upkeep`]: background upkeep (retention, auto-disable, operational events).
//! - [`api`]: the HTTP API.
//! - [`connections`]: serving it: connection cap, header and idle timeouts, graceful stop.
//! - [`config`]: defaults, file, environment, flags.

pub mod api;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod connections;
pub mod dispatch;
pub mod domain;
pub mod metrics;
pub mod store;
pub mod upkeep;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::dispatch::retry::RetryPolicy;
use crate::dispatch::sender::Sender;
use crate::dispatch::target_policy::TargetPolicy;
use crate::dispatch::{Engine, EngineConfig};
use crate::domain::listen_session::Timings;
use crate::store::Store;

/// Runs the server on `listener` until `shutdown` completes, then stops gracefully: requests
/// under way are answered, attempts under way get time to finish and be recorded, and everything
/// else stays pending in the store for the next start.
pub async fn run(
    listener: TcpListener,
    store: Arc<dyn Store>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_and_report(listener, store, config, shutdown, |_| {}).await
}

/// [`run`], handing `started` the engine once it runs: tests keep it to wait for the engine to
/// be idle ([`Engine::run_until_idle`]) instead of polling with deadlines.
pub async fn run_and_report(
    listener: TcpListener,
    store: Arc<dyn Store>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    started: impl FnOnce(&Engine) + Send,
) -> anyhow::Result<()> {
    metrics::install();
    let admin_hash = bootstrap::prepare(&store, &config).await?;
    let sender = Sender::new(
        TargetPolicy {
            allowed: config.allowed_target_networks.clone(),
        },
        config.attempt_timeout,
    )?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (stopping_tx, stopping_rx) = watch::channel(false);
    let stop_rx_for_upkeep = stop_rx.clone();
    let (engine, tasks) = Engine::start(
        store.clone(),
        sender.clone(),
        engine_config(&config),
        stop_rx,
    );
    started(&engine);
    let upkeep = [
        tokio::spawn(upkeep::retention::run(
            store.clone(),
            config.retention,
            stop_rx_for_upkeep.clone(),
        )),
        tokio::spawn(upkeep::auto_disable::run(
            store.clone(),
            engine.clone(),
            config.disable_after,
            stop_rx_for_upkeep.clone(),
        )),
        tokio::spawn(upkeep::notices::run(
            store.clone(),
            engine.clone(),
            stop_rx_for_upkeep.clone(),
        )),
        tokio::spawn(dispatch::listen::keep_sessions(
            engine.clone(),
            Timings {
                grace: config.cli_session_grace,
            },
            stop_rx_for_upkeep.clone(),
        )),
    ];
    let state = api::AppState {
        store: store.clone(),
        engine,
        sender,
        config: Arc::new(config),
        admin_hash,
        key_cache: Arc::new(RwLock::new(HashMap::new())),
        tails: api::AppState::tail_permits(),
        stopping: stopping_rx,
    };
    let limits = connections::ConnectionLimits::from_config(&state.config);
    let app = api::router(state);
    tracing::info!(
        address = %listener.local_addr()?,
        max_connections = limits.max_connections,
        "hookrelay is listening"
    );
    // Live tails end as soon as the stop begins, before connections are asked to close.
    let shutdown = async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
    };
    let result = connections::serve(listener, app, limits, shutdown).await;
    tracing::info!("shutting down: finishing attempts under way");
    let _ = stop_tx.send(true);
    tasks.join().await;
    for task in upkeep {
        let _ = task.await;
    }
    store.close().await;
    tracing::info!("stopped");
    result.map_err(Into::into)
}

/// The engine's settings, derived from the configuration.
pub fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        retry: RetryPolicy {
            schedule: config.retry_schedule.clone(),
            jitter: config.retry_jitter,
            max_retry_after: config.max_retry_after,
        },
        success_any_2xx: config.success_any_2xx,
        per_target_concurrency: config.per_target_concurrency,
        max_in_flight: config.max_in_flight,
        max_held: (config.max_in_flight * 4).max(1024),
        lease: config.delivery_lease,
        shutdown_grace: config.attempt_timeout + Duration::from_secs(1),
        attempt_timeout: config.attempt_timeout,
    }
}

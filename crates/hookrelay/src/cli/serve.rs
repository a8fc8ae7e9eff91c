//! `hookrelay serve`: configuration from file, environment and flags; logging; the listener; then
//! [`crate::run`] until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use clap::Args;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat, RawConfig};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see `hookrelay config default`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// sqlite://PATH (default sqlite://hookrelay.db) or postgres://...
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Comma-separated CIDRs that targets may resolve to although private or loopback.
    #[arg(long, value_name = "CIDRS")]
    allowed_target_networks: Option<String>,
    /// Comma-separated delays before retry 1, 2, ... (e.g. 10s,30s,1m).
    #[arg(long, value_name = "DELAYS")]
    retry_schedule: Option<String>,
    /// Log format: text or json.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
}

impl ServeArgs {
    fn layer(&self) -> RawConfig {
        use crate::config::StringList::Joined;
        RawConfig {
            database_url: self.database_url.clone(),
            listen: self.listen.clone(),
            allowed_target_networks: self.allowed_target_networks.clone().map(Joined),
            retry_schedule: self.retry_schedule.clone().map(Joined),
            log_format: self.log_format.clone(),
            ..RawConfig::default()
        }
    }
}

/// Builds the configuration: defaults, file, environment, flags.
pub fn load(args: &ServeArgs) -> anyhow::Result<Config> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            RawConfig::from_toml(&text)?
        }
        None => RawConfig::default(),
    };
    let env = RawConfig::from_env(|k| std::env::var(k).ok())?;
    Ok(file.overlay(env).overlay(args.layer()).validate()?)
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = load(&args)?;
    init_logging(config.log_format);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let store = crate::store::open(&config.database_url).await?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let address = listener.local_addr()?;
        println!(
            "hookrelay {} listening on http://{address}",
            env!("CARGO_PKG_VERSION")
        );
        println!(
            "database: {}",
            crate::config::redact_url(&config.database_url)
        );
        crate::run(listener, store, config, shutdown_signal()).await
    })
}

fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("HOOKRELAY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

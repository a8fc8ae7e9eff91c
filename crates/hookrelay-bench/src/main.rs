//! `hookrelay-bench`: starts the real server (this binary re-executed as `serve`, so its memory is
//! measured alone) on a fresh SQLite file, loads it over HTTP, and prints figures next to a bare
//! HTTP baseline measured in the same run.
//!
//! ```text
//! cargo run --release -p hookrelay-bench            # every scenario, full size
//! cargo run --release -p hookrelay-bench -- --quick # smaller counts, about a minute
//! ```

mod load;
mod receiver;
mod scenarios;
mod server;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks hookrelay over HTTP against a bare-HTTP baseline")]
pub struct Args {
    /// Smaller counts (for a quick look; figures are noisier).
    #[arg(long)]
    quick: bool,
    /// Scenarios to run (comma-separated): baseline, single, signed (single with and without
    /// signatures, side by side), batch, latency, forward (the latency `listen --server
    /// --forward-to` adds), isolation, backlog, fanout (ten webhooks on one
    /// host:port), recovery (two nodes, a target that refuses then answers; PostgreSQL only,
    /// skipped otherwise), soak (a steady load with a 10 s retention: the database size every
    /// 10 s, ingest p99 with and without the purge).
    #[arg(long, default_value = scenarios::ALL)]
    scenarios: String,
    /// A PostgreSQL URL: each scenario runs on a fresh database created beside it (default: a
    /// fresh SQLite file per scenario).
    #[arg(long)]
    database_url: Option<String>,
    /// Servers sharing the database in the single and batch scenarios (PostgreSQL only).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Concurrent producers.
    #[arg(long, default_value_t = 64)]
    producers: usize,
}

/// The same allocator as the `hookrelay` binary, so the re-executed server is the same program.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // Re-executed as the server under test, or as `listen --server` (the `forward` scenario).
    if matches!(std::env::args().nth(1).as_deref(), Some("serve" | "listen")) {
        std::process::exit(match hookrelay::cli::main() {
            code if code == std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(scenarios::run_all(args))
}

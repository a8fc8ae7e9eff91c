//! The scenarios, one file each (`single` and `batch` share `throughput.rs`), and the order they
//! run in. Each scenario starts its own server(s) on a fresh database so peak memory is per
//! scenario; `report.rs` prints what they measured.

mod backlog;
mod baseline;
mod fanout;
mod forward;
mod isolation;
mod latency;
mod recovery;
mod report;
mod soak;
mod throughput;

use report::Row;

use crate::Args;

/// Every scenario, in the order they run: the baseline first, so later rows can be read against
/// it.
pub const ALL: &str =
    "baseline,single,signed,batch,latency,forward,isolation,backlog,fanout,recovery,soak";

/// Event counts: full size, or `--quick`.
pub struct Sizes {
    pub baseline: u64,
    pub single: u64,
    pub batch_events: u64,
    pub latency_secs: u64,
    pub isolation: u64,
    pub backlog: u64,
    /// The soak's length and steady rate (events/s).
    pub soak_secs: u64,
    pub soak_rate: u64,
}

/// What every scenario is given: the load client, the database, the command line's sizes, and
/// the baseline once measured.
pub struct Bench<'a> {
    pub client: reqwest::Client,
    /// A PostgreSQL URL, or `None` for a fresh SQLite file per scenario.
    pub db: Option<&'a str>,
    pub nodes: usize,
    pub producers: usize,
    pub sizes: Sizes,
    /// Bare-HTTP POSTs/s, when the baseline ran.
    pub baseline: Option<f64>,
}

pub async fn run_all(args: Args) -> anyhow::Result<()> {
    let wanted: Vec<&str> = args.scenarios.split(',').map(str::trim).collect();
    if let Some(unknown) = wanted.iter().find(|w| !ALL.split(',').any(|a| a == **w)) {
        anyhow::bail!("unknown scenario {unknown:?}; the scenarios are {ALL}");
    }
    let mut bench = Bench {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()?,
        db: args.database_url.as_deref(),
        nodes: args.nodes,
        producers: args.producers,
        sizes: sizes(args.quick),
        baseline: None,
    };
    println!(
        "hookrelay-bench: {} cores, database {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        bench.db.unwrap_or("SQLite (fresh file per scenario)")
    );
    let mut rows = Vec::new();
    for name in ALL.split(',').filter(|a| wanted.contains(a)) {
        rows.extend(run_one(name, &mut bench).await?);
    }
    report::print(&rows);
    Ok(())
}

fn sizes(quick: bool) -> Sizes {
    if quick {
        Sizes {
            baseline: 20_000,
            single: 20_000,
            batch_events: 50_000,
            latency_secs: 5,
            isolation: 20_000,
            backlog: 200_000,
            soak_secs: 40,
            soak_rate: 3_000,
        }
    } else {
        Sizes {
            baseline: 100_000,
            single: 100_000,
            batch_events: 200_000,
            latency_secs: 10,
            isolation: 100_000,
            backlog: 1_000_000,
            soak_secs: 120,
            soak_rate: 4_500,
        }
    }
}

async fn run_one(name: &str, bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    match name {
        "baseline" => baseline::run(bench).await,
        "single" => throughput::single(bench).await,
        "signed" => throughput::signed(bench).await,
        "batch" => throughput::batch(bench).await,
        "latency" => latency::run(bench).await,
        "forward" => forward::run(bench).await,
        "isolation" => isolation::run(bench).await,
        "backlog" => backlog::run(bench).await,
        "fanout" => fanout::run(bench).await,
        "recovery" => recovery::run(bench).await,
        "soak" => soak::run(bench).await,
        _ => unreachable!("names are checked against ALL"),
    }
}

//! `forward`: what `hookrelay listen --server … --forward-to` adds to a delivery's latency. Events
//! at a steady 200/s to one receiver, first through an HTTP webhook (server → receiver), then
//! through a listen session (server → the command over its WebSocket → the receiver), each on a
//! fresh server; the send → arrival percentiles of both, and the difference.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::latency::{send_steady, Percentiles};
use super::report::{ms, Row};
use super::Bench;
use crate::receiver::Receiver;
use crate::server::Server;

/// Events per second.
const RATE: u64 = 200;

pub async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let secs = bench.sizes.latency_secs;
    let direct = measure(bench, secs, false).await?;
    let forwarded = measure(bench, secs, true).await?;
    let added = |f: Duration, d: Duration| {
        format!(
            "{:+.2} ms ({:.2}×)",
            f.as_secs_f64() * 1e3 - d.as_secs_f64() * 1e3,
            f.as_secs_f64() / d.as_secs_f64().max(1e-9)
        )
    };
    Ok(vec![
        Row::new(
            "forward",
            format!("HTTP webhook: ingest→arrival p50 at {RATE} events/s for {secs} s"),
            ms(direct.p50),
        ),
        Row::new(
            "forward",
            "HTTP webhook: ingest→arrival p99",
            ms(direct.p99),
        ),
        Row::new(
            "forward",
            "listen --server --forward-to: ingest→arrival p50",
            ms(forwarded.p50),
        ),
        Row::new(
            "forward",
            "listen --server --forward-to: ingest→arrival p99",
            ms(forwarded.p99),
        ),
        Row::new(
            "forward",
            "added by the session, p50",
            added(forwarded.p50, direct.p50),
        ),
        Row::new(
            "forward",
            "added by the session, p99",
            added(forwarded.p99, direct.p99),
        ),
    ])
}

async fn measure(bench: &Bench<'_>, secs: u64, session: bool) -> anyhow::Result<Percentiles> {
    let server = Server::start(bench.db, &[]).await?;
    let epoch = Instant::now();
    let receiver = Receiver::start(epoch, true, false).await;
    let _command = if session {
        Some(ListenCommand::start(&server, &receiver.url)?)
    } else {
        server
            .webhook(&receiver.url, "chat_started", &["chat", "visitor"])
            .await?;
        None
    };
    let total = secs * RATE;
    let every = Duration::from_micros(1_000_000 / RATE);
    send_steady(&bench.client, &server, epoch, total, every).await?;
    anyhow::ensure!(
        receiver.wait_for(total, Duration::from_secs(60)).await,
        "not every delivery arrived"
    );
    let latencies = receiver.shared.latencies.lock().expect("latencies").clone();
    Ok(Percentiles::of(latencies))
}

/// `hookrelay listen --server …` (this binary re-executed), stopped when dropped.
struct ListenCommand(Child);

impl ListenCommand {
    fn start(server: &Server, forward_to: &str) -> anyhow::Result<ListenCommand> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "listen",
                "--server",
                &server.base,
                "--api-key",
                &server.api_key,
            ])
            .args(["--events", "chat_started", "--forward-to", forward_to])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        loop {
            let line = lines
                .next()
                .ok_or_else(|| anyhow::anyhow!("listen --server exited"))??;
            if line.starts_with("Ready!") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Ok(ListenCommand(child))
    }
}

impl Drop for ListenCommand {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! The server under test: this binary re-executed as `serve` on a fresh database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

pub const ADMIN: &str = "bench-admin-token-0123456789abcdef";

pub struct Server {
    child: Child,
    pub base: String,
    pub license_id: String,
    pub api_key: String,
    pub database_url: String,
    /// The PostgreSQL database this server's scenario created, dropped when it is done.
    created_database: Option<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server on a fresh database: a new SQLite file, or a new PostgreSQL database
    /// beside the one `database_url` names.
    pub async fn start(
        database_url: Option<&str>,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let (url, created_database) = match database_url {
            Some(base) => {
                let url = fresh_postgres_database(base)?;
                (url, Some(base.to_string()))
            }
            None => (format!("sqlite://{}/bench.db", dir.path().display()), None),
        };
        let (child, base) = spawn(&url, dir.path(), extra_env)?;
        let client = reqwest::Client::new();
        let license: Value = client
            .post(format!("{base}/v1/licenses"))
            .bearer_auth(ADMIN)
            .json(&json!({}))
            .send()
            .await?
            .json()
            .await?;
        Ok(Server {
            child,
            base,
            database_url: url,
            created_database,
            license_id: license["license_id"].as_str().unwrap_or_default().into(),
            api_key: license["api_key"].as_str().unwrap_or_default().into(),
            _dir: dir,
        })
    }

    /// `nodes` servers on one fresh database (PostgreSQL when `nodes` > 1), all serving the
    /// license the first one created.
    pub async fn cluster(database_url: Option<&str>, nodes: usize) -> anyhow::Result<Vec<Server>> {
        let first = Server::start(database_url, &[]).await?;
        let mut cluster = vec![];
        for _ in 1..nodes {
            cluster.push(first.join()?);
        }
        cluster.insert(0, first);
        Ok(cluster)
    }

    /// Creates a webhook; returns its id.
    pub async fn webhook(
        &self,
        url: &str,
        event_type: &str,
        data_types: &[&str],
    ) -> anyhow::Result<String> {
        self.create_webhook(json!({"url": url, "event_type": event_type, "data_types": data_types}))
            .await
    }

    /// A webhook that signs its requests (Standard Webhooks); returns its id.
    pub async fn signing_webhook(
        &self,
        url: &str,
        event_type: &str,
        data_types: &[&str],
    ) -> anyhow::Result<String> {
        self.create_webhook(
            json!({"url": url, "event_type": event_type, "data_types": data_types,
                                   "signing": true}),
        )
        .await
    }

    async fn create_webhook(&self, body: Value) -> anyhow::Result<String> {
        let response = reqwest::Client::new()
            .post(format!(
                "{}/v1/licenses/{}/webhooks",
                self.base, self.license_id
            ))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 201,
            "creating a webhook: {}",
            response.text().await?
        );
        let created: Value = response.json().await?;
        created["id"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| anyhow::anyhow!("a created webhook without an id: {created}"))
    }

    /// Every delivery of one webhook, read through the API page by page.
    pub async fn deliveries(&self, webhook_id: &str) -> anyhow::Result<Vec<Value>> {
        let client = reqwest::Client::new();
        let url = format!("{}/v1/licenses/{}/deliveries", self.base, self.license_id);
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![
                ("webhook_id", webhook_id.to_string()),
                ("limit", "500".into()),
            ];
            if let Some(c) = cursor.take() {
                query.push(("cursor", c));
            }
            let response = client
                .get(&url)
                .bearer_auth(&self.api_key)
                .query(&query)
                .send()
                .await?;
            anyhow::ensure!(
                response.status() == 200,
                "listing deliveries: {}",
                response.text().await?
            );
            let mut page: Value = response.json().await?;
            if let Some(Value::Array(items)) = page.get_mut("deliveries").map(Value::take) {
                all.extend(items);
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(all),
            }
        }
    }

    /// Another node on the same database, serving the same license.
    pub fn join(&self) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let (child, base) = spawn(&self.database_url, dir.path(), &[])?;
        Ok(Server {
            child,
            base,
            database_url: self.database_url.clone(),
            created_database: None,
            license_id: self.license_id.clone(),
            api_key: self.api_key.clone(),
            _dir: dir,
        })
    }

    /// CPU time the server process has used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
        let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
        let fields: Vec<f64> = after
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        let ticks = fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0);
        ticks / 100.0
    }

    /// The sum of every sample of one metric (all label sets) in the server's `/metrics`.
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    pub fn events_url(&self) -> String {
        format!("{}/v1/licenses/{}/events", self.base, self.license_id)
    }

    /// Peak resident memory of the server process so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// Current resident memory, in MiB.
    pub fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(base) = &self.created_database {
            let name = self.database_url.rsplit('/').next().unwrap_or_default();
            let _ = Command::new("psql")
                .arg(base)
                .args([
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .status();
        }
    }
}

/// Runs this binary as `hookrelay serve` on `url`; returns the process and its base URL.
fn spawn(
    url: &str,
    dir: &std::path::Path,
    extra_env: &[(&str, &str)],
) -> anyhow::Result<(Child, String)> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("serve")
        .current_dir(dir)
        .env("HOOKRELAY_DATABASE_URL", url)
        .env("HOOKRELAY_LISTEN", "127.0.0.1:0")
        .env("HOOKRELAY_ADMIN_TOKEN", ADMIN)
        .env("HOOKRELAY_ALLOWED_TARGET_NETWORKS", "127.0.0.0/8")
        .env("HOOKRELAY_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let mut child = command.spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let base = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("server exited"))??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, base))
}

/// Creates `hookrelay_bench_<pid>_<n>` next to the database `base` names (with `psql`), so every
/// scenario starts empty, and returns its URL.
fn fresh_postgres_database(base: &str) -> anyhow::Result<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "hookrelay_bench_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let status = Command::new("psql")
        .arg(base)
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()?;
    anyhow::ensure!(status.success(), "psql could not create database {name}");
    let (server, _) = base.rsplit_once('/').unwrap_or((base, ""));
    Ok(format!("{server}/{name}"))
}

//! The server under test: this binary re-executed as `serve` on a fresh database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

pub const ADMIN: &str = "bench-admin-token";

pub struct Server {
    child: Child,
    pub base: String,
    pub license_id: String,
    pub api_key: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(
        database_url: Option<&str>,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let url = database_url
            .map(String::from)
            .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("serve")
            .current_dir(dir.path())
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
            license_id: license["license_id"].as_str().unwrap_or_default().into(),
            api_key: license["api_key"].as_str().unwrap_or_default().into(),
            _dir: dir,
        })
    }

    pub async fn webhook(
        &self,
        url: &str,
        event_type: &str,
        data_types: &[&str],
    ) -> anyhow::Result<()> {
        let response = reqwest::Client::new()
            .post(format!(
                "{}/v1/licenses/{}/webhooks",
                self.base, self.license_id
            ))
            .bearer_auth(&self.api_key)
            .json(&json!({"url": url, "event_type": event_type, "data_types": data_types}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 201,
            "creating a webhook: {}",
            response.text().await?
        );
        Ok(())
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
    }
}

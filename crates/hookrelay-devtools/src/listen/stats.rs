//! What `listen` counts while it runs and prints when it stops. Only counters, so a listener
//! left running for days uses the same memory on day three as in minute one.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The end-of-run summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSummary {
    /// Where it listened.
    pub address: SocketAddr,
    /// Every request received, good or bad.
    pub requests: u64,
    /// Requests refused for missing or wrong credentials, or an invalid signature (401).
    pub unauthorized: u64,
    /// Requests whose body was not a webhook (400).
    pub invalid: u64,
    /// Answers given, by HTTP status (including the 401s and 400s).
    pub answered: BTreeMap<u16, u64>,
    /// Webhooks the developer's app (--forward-to) did not answer.
    pub forward_errors: u64,
    pub uptime: Duration,
}

impl fmt::Display for ListenSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uptime = humantime::format_duration(Duration::from_secs(self.uptime.as_secs()));
        write!(f, "Stopped after {uptime}: {} requests", self.requests)?;
        let answered: Vec<String> = self
            .answered
            .iter()
            .map(|(s, n)| format!("{n}× {s}"))
            .collect();
        if !answered.is_empty() {
            write!(f, " (answered {})", answered.join(", "))?;
        }
        if self.unauthorized > 0 || self.invalid > 0 {
            write!(
                f,
                "; {} unauthorized, {} invalid",
                self.unauthorized, self.invalid
            )?;
        }
        if self.forward_errors > 0 {
            write!(
                f,
                "; {} not answered by the forward target",
                self.forward_errors
            )?;
        }
        Ok(())
    }
}

/// Live counters shared by all requests.
#[derive(Debug)]
pub(crate) struct Stats {
    started: Instant,
    address: SocketAddr,
    inner: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    requests: u64,
    unauthorized: u64,
    invalid: u64,
    accepted: u64,
    answered: BTreeMap<u16, u64>,
    forward_errors: u64,
}

/// What kind of request is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Unauthorized,
    Invalid,
    Webhook,
}

impl Stats {
    pub(crate) fn new(address: SocketAddr) -> Stats {
        Stats {
            started: Instant::now(),
            address,
            inner: Mutex::default(),
        }
    }

    /// Counts an arriving request; for a webhook returns its 0-based number among webhooks
    /// (what `--fail-first` counts).
    pub(crate) fn arrived(&self, outcome: Outcome) -> u64 {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.requests += 1;
        match outcome {
            Outcome::Unauthorized => c.unauthorized += 1,
            Outcome::Invalid => c.invalid += 1,
            Outcome::Webhook => c.accepted += 1,
        }
        c.accepted.saturating_sub(1)
    }

    pub(crate) fn answered(&self, status: u16) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *c.answered.entry(status).or_default() += 1;
    }

    pub(crate) fn forward_failed(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forward_errors += 1;
    }

    pub(crate) fn summary(&self) -> ListenSummary {
        let c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        ListenSummary {
            address: self.address,
            requests: c.requests,
            unauthorized: c.unauthorized,
            invalid: c.invalid,
            answered: c.answered.clone(),
            forward_errors: c.forward_errors,
            uptime: self.started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_numbered_apart_from_refused_requests() {
        let stats = Stats::new("127.0.0.1:1".parse().unwrap());
        stats.arrived(Outcome::Unauthorized);
        assert_eq!(stats.arrived(Outcome::Webhook), 0);
        stats.arrived(Outcome::Invalid);
        assert_eq!(stats.arrived(Outcome::Webhook), 1);
        stats.answered(500);
        stats.answered(200);
        let summary = stats.summary();
        assert_eq!(
            (summary.requests, summary.unauthorized, summary.invalid),
            (4, 1, 1)
        );
        assert!(
            summary
                .to_string()
                .contains("4 requests (answered 1× 200, 1× 500)"),
            "{summary}"
        );
    }
}

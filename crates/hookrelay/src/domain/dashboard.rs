//! The dashboard's numbers: per-minute delivery counters and what they add up to.
//!
//! Every recorded attempt adds one to a counter row keyed by (license, webhook, minute):
//! `succeeded`, `retried` (it failed and will be retried) or `failed` (the delivery failed for
//! good), and, when something was sent, one to a duration bucket. The store writes the rows
//! [`count_attempts`] and [`count_given_up`] fold, in the attempts' own transaction; the
//! dashboard reads the rows of its window and sums them here ([`chart`], [`webhook_stats`]), so
//! it never scans deliveries or attempts. Percentiles come from the summed buckets
//! ([`percentile`]): a bucket's upper bound, so a p99 of 200 means "at most 200 ms".

use std::collections::BTreeMap;
use std::time::Duration;

use super::job::{AttemptRecord, Outcome};
use super::{Invalid, Millis};

/// One minute in [`Millis`].
pub const MINUTE: Millis = 60_000;

/// How many duration buckets a counter row has.
pub const BUCKETS: usize = 16;

/// The inclusive upper bounds (ms) of the first 15 buckets, a 1-2-5 series; the 16th holds
/// everything longer than 50 s. Fixed: stored rows are only meaningful with these bounds.
pub const BUCKET_BOUNDS: [i64; BUCKETS - 1] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
];

/// Counters are kept at least this long, whatever the retention: the longest window shown is a
/// day, and a day's chart needs the whole day before now.
pub const KEEP_AT_LEAST: Duration = Duration::from_secs(2 * 86_400);

/// One counter row: what happened to one webhook's deliveries in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteCount {
    pub license_id: String,
    pub webhook_id: String,
    /// The start of the minute (a multiple of [`MINUTE`]).
    pub minute: Millis,
    pub succeeded: i64,
    pub retried: i64,
    pub failed: i64,
    /// Attempts sent, by duration ([`bucket_of`]).
    pub buckets: [i64; BUCKETS],
    /// When the last attempt counted here ended.
    pub last_at: Millis,
}

impl MinuteCount {
    fn empty(license_id: &str, webhook_id: &str, minute: Millis) -> MinuteCount {
        MinuteCount {
            license_id: license_id.to_string(),
            webhook_id: webhook_id.to_string(),
            minute,
            succeeded: 0,
            retried: 0,
            failed: 0,
            buckets: [0; BUCKETS],
            last_at: minute,
        }
    }

    /// All attempts counted in this row.
    pub fn attempts(&self) -> i64 {
        self.succeeded + self.retried + self.failed
    }
}

/// The minute `at` falls in.
pub fn minute_of(at: Millis) -> Millis {
    at.div_euclid(MINUTE) * MINUTE
}

/// The bucket of an attempt that took `duration_ms`.
pub fn bucket_of(duration_ms: i64) -> usize {
    BUCKET_BOUNDS
        .iter()
        .position(|bound| duration_ms <= *bound)
        .unwrap_or(BUCKETS - 1)
}

/// The counter rows a batch of recorded attempts adds to, one per (license, webhook, minute of
/// the attempt's end), in key order (so that writers lock rows in one order). Attempts that sent
/// nothing (`target_key: None`) are counted but have no duration.
pub fn count_attempts(records: &[AttemptRecord]) -> Vec<MinuteCount> {
    let mut rows: BTreeMap<(&str, &str, Millis), MinuteCount> = BTreeMap::new();
    for r in records {
        let ended = r.ended_at();
        let key = (
            r.license_id.as_str(),
            r.webhook_id.as_str(),
            minute_of(ended),
        );
        let row = rows
            .entry(key)
            .or_insert_with(|| MinuteCount::empty(key.0, key.1, key.2));
        match r.outcome {
            Outcome::Succeeded => row.succeeded += 1,
            Outcome::RetryAt(_) => row.retried += 1,
            Outcome::Failed => row.failed += 1,
        }
        if r.target_key.is_some() {
            row.buckets[bucket_of(r.attempt.duration_ms)] += 1;
        }
        row.last_at = row.last_at.max(ended);
    }
    rows.into_values().collect()
}

/// The counter rows for deliveries given up at `now` without an attempt being sent: one
/// `failed` each, by `(license_id, webhook_id)`, in key order.
pub fn count_given_up<'a>(
    given_up: impl IntoIterator<Item = (&'a str, &'a str)>,
    now: Millis,
) -> Vec<MinuteCount> {
    let mut rows: BTreeMap<(&str, &str), MinuteCount> = BTreeMap::new();
    for (license, webhook) in given_up {
        let row = rows
            .entry((license, webhook))
            .or_insert_with(|| MinuteCount::empty(license, webhook, minute_of(now)));
        row.failed += 1;
        row.last_at = now;
    }
    rows.into_values().collect()
}

/// The time before which counters are removed: the retention's cutoff, or [`KEEP_AT_LEAST`]
/// before `now` when that is earlier.
pub fn counters_cutoff(retention_cutoff: Millis, now: Millis) -> Millis {
    let keep = KEEP_AT_LEAST.as_millis() as Millis;
    retention_cutoff.min(now.saturating_sub(keep))
}

/// The `p` quantile (0 < p ≤ 1) of the durations in `buckets`, as the upper bound of the bucket
/// it falls in (the last, open bucket answers its lower bound, 50 s); `None` with no durations.
pub fn percentile(buckets: &[i64; BUCKETS], p: f64) -> Option<i64> {
    let total: i64 = buckets.iter().sum();
    if total <= 0 {
        return None;
    }
    let rank = ((p * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(BUCKET_BOUNDS[i.min(BUCKETS - 2)]);
        }
    }
    Some(BUCKET_BOUNDS[BUCKETS - 2])
}

/// The span a dashboard shows, parsed from `window=1h|24h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last hour, a point per minute (60 points).
    Hour,
    /// The last day, a point per 15 minutes (96 points).
    Day,
}

impl Window {
    pub fn parse(text: Option<&str>) -> Result<Window, Invalid> {
        match text {
            None | Some("1h") => Ok(Window::Hour),
            Some("24h") => Ok(Window::Day),
            Some(_) => Err(Invalid::new("window", "must be 1h or 24h")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Hour => "1h",
            Window::Day => "24h",
        }
    }

    /// The width of one point of the chart.
    pub fn step(self) -> Millis {
        match self {
            Window::Hour => MINUTE,
            Window::Day => 15 * MINUTE,
        }
    }

    fn points(self) -> i64 {
        match self {
            Window::Hour => 60,
            Window::Day => 96,
        }
    }

    /// The first and the end (exclusive) of the time shown at `now`: whole steps, the last one
    /// holding `now`.
    pub fn range(self, now: Millis) -> (Millis, Millis) {
        let end = now.div_euclid(self.step()) * self.step() + self.step();
        (end - self.points() * self.step(), end)
    }
}

/// One point of the chart: the counts of the step starting at `start`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Point {
    pub start: Millis,
    pub succeeded: i64,
    pub retried: i64,
    pub failed: i64,
}

/// The chart of `window` at `now`: every step of the window, oldest first, empty ones included,
/// from the license's counter rows (rows outside the window are ignored).
pub fn chart(rows: &[MinuteCount], window: Window, now: Millis) -> Vec<Point> {
    let (first, end) = window.range(now);
    let step = window.step();
    let mut points: Vec<Point> = (0..window.points())
        .map(|i| Point {
            start: first + i * step,
            ..Point::default()
        })
        .collect();
    for row in rows.iter().filter(|r| r.minute >= first && r.minute < end) {
        let p = &mut points[((row.minute - first) / step) as usize];
        p.succeeded += row.succeeded;
        p.retried += row.retried;
        p.failed += row.failed;
    }
    points
}

/// One webhook's sums over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStats {
    pub succeeded: i64,
    pub retried: i64,
    pub failed: i64,
    pub buckets: [i64; BUCKETS],
    pub last_at: Option<Millis>,
}

impl WebhookStats {
    /// Succeeded attempts over all attempts; `None` with none.
    pub fn success_rate(&self) -> Option<f64> {
        let all = self.succeeded + self.retried + self.failed;
        (all > 0).then(|| self.succeeded as f64 / all as f64)
    }

    pub fn p50_ms(&self) -> Option<i64> {
        percentile(&self.buckets, 0.50)
    }

    pub fn p99_ms(&self) -> Option<i64> {
        percentile(&self.buckets, 0.99)
    }
}

/// Each webhook's sums over the rows of `window` at `now`, by webhook id.
pub fn webhook_stats(
    rows: &[MinuteCount],
    window: Window,
    now: Millis,
) -> BTreeMap<String, WebhookStats> {
    let (first, end) = window.range(now);
    let mut stats: BTreeMap<String, WebhookStats> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.minute >= first && r.minute < end) {
        let s = stats.entry(row.webhook_id.clone()).or_insert(WebhookStats {
            succeeded: 0,
            retried: 0,
            failed: 0,
            buckets: [0; BUCKETS],
            last_at: None,
        });
        s.succeeded += row.succeeded;
        s.retried += row.retried;
        s.failed += row.failed;
        for (sum, n) in s.buckets.iter_mut().zip(row.buckets) {
            *sum += n;
        }
        s.last_at = s.last_at.max(Some(row.last_at));
    }
    stats
}

#[cfg(test)]
#[path = "dashboard_tests.rs"]
mod tests;

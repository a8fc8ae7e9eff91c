use std::sync::Arc;

use super::*;
use crate::domain::delivery::{Attempt, DeliveryId};

/// An attempt of `webhook` of license "1" that ended at `ended` after `ms`.
fn record(webhook: &str, ended: Millis, ms: i64, outcome: Outcome, sent: bool) -> AttemptRecord {
    AttemptRecord {
        delivery_id: DeliveryId(1),
        license_id: "1".into(),
        webhook_id: webhook.into(),
        attempt: Attempt {
            attempt_no: 1,
            started_at: ended - ms,
            duration_ms: ms,
            status_code: sent.then_some(200),
            error: None,
            response_body: None,
        },
        outcome,
        target_key: sent.then(|| Arc::from("http://t:80")),
    }
}

#[test]
fn durations_fall_in_the_first_bucket_whose_bound_holds_them() {
    let table = [
        (0, 0),
        (1, 0),
        (2, 1),
        (3, 2),
        (100, 6),
        (101, 7),
        (50_000, 14),
        (50_001, 15),
        (i64::MAX, 15),
    ];
    for (ms, bucket) in table {
        assert_eq!(bucket_of(ms), bucket, "{ms} ms");
    }
}

#[test]
fn percentiles_are_the_bound_of_the_bucket_holding_that_rank() {
    let mut b = [0; BUCKETS];
    assert_eq!(percentile(&b, 0.5), None, "no durations, no percentile");
    b[bucket_of(8)] = 98; // ≤ 10 ms
    b[bucket_of(400)] = 1; // ≤ 500 ms
    b[bucket_of(90_000)] = 1; // > 50 s
    let table = [(0.5, 10), (0.98, 10), (0.99, 500), (1.0, 50_000)];
    for (p, expected) in table {
        assert_eq!(percentile(&b, p), Some(expected), "p{p}");
    }
    let mut one = [0; BUCKETS];
    one[3] = 1;
    assert_eq!(
        percentile(&one, 0.01),
        Some(10),
        "a tiny quantile is still the first rank"
    );
}

#[test]
fn attempts_are_counted_per_webhook_and_minute_by_their_outcome() {
    let m = 100 * MINUTE;
    let rows = count_attempts(&[
        record("b", m + 5, 3, Outcome::Succeeded, true),
        record("a", m + 10, 30, Outcome::RetryAt(m + 20_000), true),
        record("a", m + 59_999, 300, Outcome::Succeeded, true),
        record("a", m + MINUTE, 0, Outcome::Failed, false),
        record("a", m + 20, 7, Outcome::Succeeded, true),
    ]);
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.webhook_id.as_str(),
                r.minute,
                r.succeeded,
                r.retried,
                r.failed,
                r.last_at,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("a", m, 2, 1, 0, m + 59_999),
            ("a", m + MINUTE, 0, 0, 1, m + MINUTE),
            ("b", m, 1, 0, 0, m + 5),
        ],
        "one row per (license, webhook, minute) in key order"
    );
    assert_eq!(rows[0].buckets.iter().sum::<i64>(), 3);
    assert_eq!(rows[0].buckets[bucket_of(30)], 1);
    assert_eq!(rows[0].buckets[bucket_of(300)], 1);
    assert_eq!(rows[0].buckets[bucket_of(7)], 1);
    assert_eq!(
        rows[1].buckets.iter().sum::<i64>(),
        0,
        "nothing sent, no duration"
    );
}

#[test]
fn given_up_deliveries_count_as_failed_in_the_minute_they_were_given_up() {
    let now = 7 * MINUTE + 123;
    let rows = count_given_up([("1", "w"), ("1", "w"), ("2", "v")], now);
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.license_id.as_str(),
                r.webhook_id.as_str(),
                r.minute,
                r.failed,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("1", "w", 7 * MINUTE, 2), ("2", "v", 7 * MINUTE, 1)]
    );
    assert!(rows
        .iter()
        .all(|r| r.buckets == [0; BUCKETS] && r.last_at == now));
}

#[test]
fn counters_are_kept_for_the_retention_but_at_least_two_days() {
    let day = 86_400_000;
    let now = 100 * day;
    let table = [
        (now - 30 * day, now - 30 * day),
        (now - 3_600_000, now - 2 * day),
        (now - 2 * day, now - 2 * day),
    ];
    for (retention_cutoff, expected) in table {
        assert_eq!(counters_cutoff(retention_cutoff, now), expected);
    }
}

#[test]
fn windows_parse_and_cover_whole_steps_ending_with_the_one_holding_now() {
    assert_eq!(Window::parse(None).unwrap(), Window::Hour);
    assert_eq!(Window::parse(Some("1h")).unwrap(), Window::Hour);
    assert_eq!(Window::parse(Some("24h")).unwrap(), Window::Day);
    for bad in ["", "1d", "60m", "24H"] {
        assert_eq!(Window::parse(Some(bad)).unwrap_err().field, "window");
    }
    let now = 1_000 * MINUTE + 30_000;
    assert_eq!(Window::Hour.range(now), (941 * MINUTE, 1_001 * MINUTE));
    // 1000 min is 66 quarters and 10 minutes: the day ends with the quarter from 990 to 1005.
    assert_eq!(
        Window::Day.range(now),
        (1_005 * MINUTE - 1_440 * MINUTE, 1_005 * MINUTE)
    );
}

#[test]
fn the_chart_has_every_step_of_the_window_and_sums_the_rows_into_them() {
    let now = 1_000 * MINUTE + 30_000;
    let row = |minute: i64, s, r, f| MinuteCount {
        succeeded: s,
        retried: r,
        failed: f,
        ..MinuteCount::empty("1", "w", minute * MINUTE)
    };
    let rows = [
        row(1_000, 3, 1, 0),
        row(999, 1, 0, 2),
        row(940, 50, 0, 0), // before the hour
        row(991, 2, 0, 0),
    ];
    let hour = chart(&rows, Window::Hour, now);
    assert_eq!(hour.len(), 60);
    assert_eq!(
        hour[59],
        Point {
            start: 1_000 * MINUTE,
            succeeded: 3,
            retried: 1,
            failed: 0
        }
    );
    assert_eq!(hour[58].failed, 2);
    assert_eq!(
        hour.iter().map(|p| p.succeeded).sum::<i64>(),
        6,
        "the row before the hour is not shown"
    );

    let day = chart(&rows, Window::Day, now);
    assert_eq!(day.len(), 96);
    let last = day[95];
    assert_eq!(
        (last.start, last.succeeded, last.retried, last.failed),
        (990 * MINUTE, 6, 1, 2)
    );
    assert_eq!(
        day[91].succeeded, 50,
        "minute 940 is in the quarter from 930"
    );
}

#[test]
fn webhook_stats_sum_a_window_into_a_success_rate_and_percentiles() {
    let now = 1_000 * MINUTE;
    let mut fast = MinuteCount::empty("1", "w", now);
    fast.succeeded = 3;
    fast.retried = 1;
    fast.buckets[bucket_of(40)] = 4;
    fast.last_at = now + 10;
    let mut older = MinuteCount::empty("1", "w", now - 5 * MINUTE);
    older.failed = 1;
    older.buckets[bucket_of(1_500)] = 1;
    let other = MinuteCount {
        succeeded: 9,
        ..MinuteCount::empty("1", "v", now - 2 * MINUTE)
    };
    let stats = webhook_stats(&[fast, older, other], Window::Hour, now);
    let w = &stats["w"];
    assert_eq!((w.succeeded, w.retried, w.failed), (3, 1, 1));
    assert_eq!(w.success_rate(), Some(0.6));
    assert_eq!((w.p50_ms(), w.p99_ms()), (Some(50), Some(2_000)));
    assert_eq!(w.last_at, Some(now + 10));
    assert_eq!(stats["v"].success_rate(), Some(1.0));
    assert_eq!(
        stats["v"].p50_ms(),
        None,
        "counts without durations have no percentiles"
    );
}

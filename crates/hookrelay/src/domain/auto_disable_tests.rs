use super::*;
use crate::domain::delivery::{Attempt, DeliveryId};

const S: Millis = 1_000;

fn record(webhook: &str, at: Millis, status: Option<u16>, outcome: Outcome) -> AttemptRecord {
    AttemptRecord {
        delivery_id: DeliveryId(1),
        license_id: "1".into(),
        webhook_id: webhook.into(),
        attempt: Attempt {
            attempt_no: 1,
            started_at: at,
            duration_ms: 0,
            status_code: status,
            error: match (outcome, status) {
                (Outcome::Succeeded, _) => None,
                (_, Some(code)) => Some(format!("HTTP {code}")),
                (_, None) => Some("connection refused".into()),
            },
            response_body: None,
        },
        outcome,
        target_key: None,
    }
}

fn failed(webhook: &str, at: Millis, status: Option<u16>) -> AttemptRecord {
    record(webhook, at, status, Outcome::RetryAt(at + S))
}

fn ok(webhook: &str, at: Millis) -> AttemptRecord {
    record(webhook, at, Some(200), Outcome::Succeeded)
}

#[test]
fn a_batch_becomes_one_change_per_webhook_in_order_of_appearance() {
    let changes = track(&[
        failed("a", 10, Some(500)),
        ok("b", 11),
        failed("a", 12, None),
        record("c", 13, Some(404), Outcome::Failed),
    ]);
    assert_eq!(
        changes,
        [
            Tracking::Failed {
                webhook_id: "a".into(),
                first_at: 10,
                last_at: 12,
                last: "connection refused".into(),
                restart: false
            },
            Tracking::Answered {
                webhook_id: "b".into()
            },
            Tracking::Failed {
                webhook_id: "c".into(),
                first_at: 13,
                last_at: 13,
                last: "HTTP 404".into(),
                restart: false
            },
        ]
    );
}

#[test]
fn the_latest_attempt_of_a_webhook_decides_and_a_success_restarts_the_streak() {
    let table: [(&[AttemptRecord], Tracking); 3] = [
        (
            &[failed("a", 10, Some(500)), ok("a", 11)],
            Tracking::Answered {
                webhook_id: "a".into(),
            },
        ),
        (
            &[
                failed("a", 10, Some(500)),
                ok("a", 11),
                failed("a", 12, Some(503)),
            ],
            Tracking::Failed {
                webhook_id: "a".into(),
                first_at: 12,
                last_at: 12,
                last: "HTTP 503".into(),
                restart: true,
            },
        ),
        (
            &[
                ok("a", 9),
                failed("a", 12, Some(503)),
                failed("a", 14, None),
            ],
            Tracking::Failed {
                webhook_id: "a".into(),
                first_at: 12,
                last_at: 14,
                last: "connection refused".into(),
                restart: true,
            },
        ),
    ];
    for (records, expected) in table {
        assert_eq!(track(records), [expected], "{records:?}");
    }
}

#[test]
fn a_webhook_is_disabled_only_after_failing_for_the_whole_period_with_failures_still_coming() {
    let after = Duration::from_secs(10);
    let failing = |since, last_at| Failing {
        since,
        last_at,
        last: "HTTP 500".into(),
    };
    // (since, last failure, now, disabled?)
    let table = [
        (0, 5 * S, 9 * S, false),  // not long enough yet
        (0, 10 * S, 10 * S, true), // exactly the period, failing at its end
        (0, 12 * S, 20 * S, true), // failures kept coming past the period
        (0, 9 * S, 30 * S, false), // failures stopped before the period was over
        (5 * S, 15 * S, 15 * S, true),
        (5 * S, 15 * S, 14 * S, false), // a clock that went back
    ];
    for (since, last_at, now, expected) in table {
        assert_eq!(
            should_disable(&failing(since, last_at), now, after),
            expected,
            "since {since}, last {last_at}, now {now}"
        );
    }
    // A period too long to represent never ends (and never overflows).
    assert!(!should_disable(
        &failing(1, i64::MAX - 1),
        i64::MAX - 1,
        Duration::MAX
    ));
}

#[test]
fn the_reason_says_since_when_for_how_long_and_the_last_failure() {
    let reason = reason(&Failing {
        since: 1_700_000_000_000,
        last_at: 1_700_000_000_000 + 5 * 86_400 * S + 1_234,
        last: "the target answered HTTP 503; only HTTP 200 counts as delivered".into(),
    });
    assert_eq!(
        reason,
        "disabled by hookrelay: its target answered no HTTP 200 from 2023-11-14T22:13:20.000Z \
         to 2023-11-19T22:13:21.234Z (5days 1s) while its deliveries kept failing; the last \
         attempt: the target answered HTTP 503; only HTTP 200 counts as delivered"
    );
}

#[test]
fn operational_webhooks_and_deliveries_are_never_announced() {
    for event_type in EventType::ALL {
        let expected = !matches!(
            event_type,
            EventType::WebhookDisabled | EventType::DeliveryFailed
        );
        assert_eq!(announces(event_type), expected, "{event_type}");
        assert_eq!(announces_failure_of(event_type), expected, "{event_type}");
    }
}

#[test]
fn the_check_runs_at_a_tenth_of_the_period_and_at_least_every_minute() {
    let table = [
        (Duration::from_secs(5 * 86_400), Duration::from_secs(60)),
        (Duration::from_secs(300), Duration::from_secs(30)),
        (Duration::from_secs(2), Duration::from_millis(200)),
        (Duration::from_millis(10), Duration::from_millis(50)),
    ];
    for (after, expected) in table {
        assert_eq!(check_interval(after), expected, "{after:?}");
    }
}

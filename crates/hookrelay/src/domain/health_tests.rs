//! Table tests of a target's health transitions and the policies beside them.

use super::*;

const REFUSED: Option<&str> = Some("could not connect");
/// The delivery out as the probe in these tests, and another one.
const PROBE: i64 = 7;
const OTHER: i64 = 8;

fn seen(at: Millis, error: Option<&str>) -> Observed<'_> {
    Observed {
        at,
        error,
        delivery: OTHER,
    }
}

fn silent_at(at: Millis) -> Health {
    let miss = seen(at, REFUSED);
    Health::default().after_attempts([miss, miss, miss]).0
}

/// (what, from, attempt ended at, its error, its delivery) →
/// ((misses, silent_since, probe_at, probing, probe level), effect)
type Row = (
    &'static str,
    Health,
    Millis,
    Option<&'static str>,
    i64,
    (u32, Option<Millis>, Option<Millis>, bool, u32),
    Effect,
);

#[test]
fn transitions() {
    let answering = Health::default();
    let one_miss = answering.after_attempt(1_000, REFUSED, OTHER).0;
    let two_misses = one_miss.after_attempt(1_001, REFUSED, OTHER).0;
    let silent = silent_at(1_000);
    let probing = Health {
        probing: true,
        probe_id: Some(PROBE),
        probe_at: Some(61_500),
        ..silent.clone()
    };
    let (none, parks) = (Effect::default(), park());
    let unparks = Effect {
        unpark: true,
        park: false,
    };
    #[rustfmt::skip]
    let table: Vec<Row> = vec![
        ("an answer keeps a healthy target healthy", answering.clone(), 5, None, OTHER, (0, None, None, false, 0), none),
        ("a first miss is counted", answering.clone(), 5, REFUSED, OTHER, (1, None, None, false, 0), none),
        ("an answer forgets the misses", one_miss.clone(), 5, None, OTHER, (0, None, None, false, 0), none),
        ("the third miss in a row silences it", two_misses, 1_002, REFUSED, OTHER, (3, Some(1_002), Some(1_502), false, 0), parks),
        ("a stray miss re-parks and keeps the probe time", silent.clone(), 1_100, REFUSED, OTHER, (4, Some(1_000), Some(1_500), false, 0), parks),
        ("the failed probe doubles the gap", probing.clone(), 2_000, REFUSED, PROBE, (4, Some(1_000), Some(3_000), false, 1), parks),
        ("another miss while the probe is out is a stray", probing.clone(), 2_000, REFUSED, OTHER, (4, Some(1_000), Some(61_500), true, 0), parks),
        ("an answering probe ends the silence", probing.clone(), 2_000, None, PROBE, (0, None, None, false, 0), unparks),
        ("any answer ends the silence", probing.clone(), 2_000, None, OTHER, (0, None, None, false, 0), unparks),
        ("an answer ends a silence with no probe out", silent.clone(), 2_000, None, OTHER, (0, None, None, false, 0), unparks),
    ];
    for (what, from, at, error, delivery, expected, effect) in table {
        let (next, got) = from.after_attempt(at, error, delivery);
        let state = (
            next.misses,
            next.silent_since,
            next.probe_at,
            next.probing,
            next.probe_level,
        );
        assert_eq!(state, expected, "{what}");
        assert_eq!(got, effect, "{what}");
        assert_eq!(
            next.last_error.is_some(),
            error.is_some(),
            "{what}: last error"
        );
        assert_eq!(
            next.probe_id.is_some(),
            next.probing,
            "{what}: the probe's id"
        );
    }
}

#[test]
fn a_given_up_delivery_says_why_naming_the_window_and_the_last_error() {
    let message = given_up_message(Duration::from_secs(10));
    let error = given_up_error(&message, Some("could not connect"));
    assert!(
        error.starts_with("not sent") && error.contains("retry window (10s)"),
        "{error}"
    );
    assert!(
        error.ends_with("last attempt: could not connect"),
        "{error}"
    );
    assert_eq!(given_up_error(&message, None), message);
}

#[test]
fn probes_come_ever_less_often_up_to_a_cap() {
    let gaps: Vec<u64> = [0, 1, 3, 1_000]
        .map(|l| probe_gap(l).as_millis() as u64)
        .to_vec();
    assert_eq!(gaps, vec![500, 1_000, 4_000, 30_000]);
}

#[test]
fn a_batch_folds_in_order_and_an_answer_within_it_unparks() {
    let silent = silent_at(0);
    let (h, e) = silent.after_attempts([seen(10, REFUSED), seen(20, None)]);
    let unpark = Effect {
        unpark: true,
        park: false,
    };
    assert_eq!((h, e), (Health::default(), unpark));
    // Back, then silent again within one batch: unpark what was parked, then park again.
    let back_and_gone = [
        seen(10, None),
        seen(11, REFUSED),
        seen(12, REFUSED),
        seen(13, REFUSED),
    ];
    let (h, e) = silent.after_attempts(back_and_gone);
    assert!(h.is_silent());
    assert_eq!(
        e,
        Effect {
            unpark: true,
            park: true
        }
    );
    let nothing: [Observed; 0] = [];
    assert_eq!(
        Health::default().after_attempts(nothing),
        (Health::default(), Effect::default())
    );
}

#[test]
fn a_silence_is_current_only_while_misses_keep_confirming_it() {
    let silent = silent_at(100_000);
    let minute = Duration::from_secs(60);
    assert!(silent.confirmed_silent(160_000, minute));
    assert!(!silent.confirmed_silent(160_001, minute));
    assert!(
        !Health::default().confirmed_silent(0, minute),
        "answering is not silent"
    );
}

#[test]
fn timings_outlast_a_probe_gap_and_an_attempt_whatever_the_timeout() {
    let t = Timings::for_attempts(Duration::from_secs(10));
    assert_eq!(
        (t.confirmed_for, t.watchdog),
        (Duration::from_secs(60), Duration::from_secs(60))
    );
    let slow = Timings::for_attempts(Duration::from_secs(45));
    assert_eq!(slow.confirmed_for, Duration::from_secs(120));
    assert_eq!(slow.watchdog, Duration::from_secs(100));
}

#[test]
fn the_next_probe_is_shown_only_while_one_is_awaited() {
    let silent = silent_at(0);
    assert_eq!(silent.next_probe_at(), Some(500));
    let out = Health {
        probing: true,
        ..silent
    };
    assert_eq!(out.next_probe_at(), None, "one is under way");
    assert_eq!(Health::default().next_probe_at(), None);
}

#[test]
fn a_parked_delivery_waits_the_window_counted_from_the_silence_or_its_last_try() {
    let window = Duration::from_secs(10);
    assert_eq!(
        parked_until(1_000, 4_000, window),
        14_000,
        "silent since 4 s"
    );
    assert_eq!(parked_until(9_000, 4_000, window), 19_000, "tried at 9 s");
    assert_eq!(
        parked_until(0, 0, Duration::ZERO),
        5_000,
        "at least MIN_WINDOW"
    );
}

use super::*;
use crate::domain::health::Health;
use crate::domain::target::TargetUrl;

fn sub(events: &str, label: &str) -> Subscription {
    Subscription::parse(Some(events), None, Some(label)).unwrap()
}

fn webhook(session: &str, t: EventType, label: &str, hold: SessionHold) -> Webhook {
    Webhook {
        id: format!("{session}-{t}"),
        license_id: "100".into(),
        url: TargetUrl::session(session),
        event_type: t,
        data_types: DataTypes::all_for(t),
        description: Some(label.into()),
        enabled: true,
        created_at: 1_000,
        updated_at: 1_000,
        health: Health::default(),
        signing: None,
        disabled_reason: None,
        disabled_at: None,
        session: Some(hold),
    }
}

const TIMINGS: Timings = Timings {
    grace: Duration::from_secs(60),
};

#[test]
fn no_events_means_every_event_type_with_all_it_carries() {
    let s = Subscription::parse(None, None, None).unwrap();
    assert_eq!(s.events.len(), EventType::ALL.len());
    assert!(s.events.iter().all(|(t, d)| *d == DataTypes::all_for(*t)));
    assert_eq!(s.label, "hookrelay listen");
}

#[test]
fn events_are_kept_in_one_order_and_data_types_narrowed_per_event_type() {
    let s = Subscription::parse(
        Some("chat_ended, chat_started"),
        Some("chat"),
        Some(" laptop \u{7} → http://localhost:3000/hook "),
    )
    .unwrap();
    let types: Vec<EventType> = s.events.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [EventType::ChatStarted, EventType::ChatEnded]);
    assert!(s.events.iter().all(|(_, d)| d.names() == ["chat"]));
    assert_eq!(s.label, "laptop  → http://localhost:3000/hook");
}

#[test]
fn bad_requests_name_the_field_and_the_rule() {
    for (events, data_types, label, field, rule) in [
        (Some("chat_begun"), None, None, "events", "chat_started"),
        (None, Some("chats"), None, "data_types", "expected one of"),
        (
            Some("visitor_queued"),
            Some("chat"),
            None,
            "data_types",
            "it carries: visitor",
        ),
        (None, None, Some("x".repeat(201)), "label", "at most 200"),
    ] {
        let err = Subscription::parse(events, data_types, label.as_deref()).unwrap_err();
        assert_eq!(err.field, field);
        assert!(err.message.contains(rule), "{}", err.message);
    }
}

#[test]
fn session_ids_are_checked_before_they_reach_a_query() {
    let id = new_session_id();
    assert!(valid_session_id(&id), "{id}");
    assert_ne!(id, new_session_id());
    for bad in [
        "",
        "ses_",
        "ses_0123456789abcdef0123456X",
        "xyz_0123456789abcdef01234567",
    ] {
        assert!(!valid_session_id(bad), "{bad}");
    }
}

#[test]
fn a_session_is_held_while_its_node_refreshes_its_hold() {
    let now = 100_000;
    let live = SessionHold {
        node: Some("n1".into()),
        seen_at: now - 1_000,
    };
    let lapsed = SessionHold {
        node: Some("n1".into()),
        seen_at: TIMINGS.stale_before(now) - 1,
    };
    let closed = SessionHold {
        node: None,
        seen_at: now,
    };
    let hooks = [
        webhook("ses_a", EventType::ChatStarted, "x", live.clone()),
        webhook("ses_a", EventType::ChatEnded, "x", live),
        webhook("ses_b", EventType::ChatStarted, "x", lapsed),
        webhook("ses_c", EventType::ChatStarted, "x", closed),
    ];
    let found = sessions(&hooks, TIMINGS, now);
    let held: Vec<(&str, bool, usize)> = found
        .iter()
        .map(|s| (s.session_id.as_str(), s.held, s.subscription.events.len()))
        .collect();
    assert_eq!(
        held,
        [("ses_a", true, 2), ("ses_b", false, 1), ("ses_c", false, 1)]
    );
}

#[test]
fn a_connection_resumes_the_session_it_names_else_a_free_one_like_it_else_a_new_one() {
    let free = SessionSummary {
        session_id: "ses_free".into(),
        subscription: sub("chat_started", "laptop"),
        started_at: 5,
        held: false,
    };
    let held = SessionSummary {
        session_id: "ses_held".into(),
        held: true,
        ..free.clone()
    };
    let other_label = SessionSummary {
        session_id: "ses_other".into(),
        subscription: sub("chat_started", "desktop"),
        ..free.clone()
    };
    let all = [held.clone(), free.clone(), other_label.clone()];
    let laptop = sub("chat_started", "laptop");
    for (sessions, named, subscription, expected) in [
        // Reconnecting after a drop: its own session, even while the old socket looks held.
        (
            &all[..],
            Some("ses_held"),
            &laptop,
            Pick::Resume("ses_held".into()),
        ),
        // Started again after a kill: the free session with the same label and events.
        (&all[..], None, &laptop, Pick::Resume("ses_free".into())),
        // A named session that expired meanwhile: the free one like it.
        (
            &all[..],
            Some("ses_gone"),
            &laptop,
            Pick::Resume("ses_free".into()),
        ),
        // A second command while the first runs: a session of its own.
        (&[held.clone()][..], None, &laptop, Pick::New),
        // Other events: a session of its own.
        (
            &all[..],
            None,
            &sub("chat_started,chat_ended", "laptop"),
            Pick::New,
        ),
        (&[][..], None, &laptop, Pick::New),
    ] {
        assert_eq!(pick(sessions, named, subscription), expected, "{named:?}");
    }
}

#[test]
fn the_hold_is_refreshed_several_times_within_the_grace() {
    let t = TIMINGS;
    assert_eq!(t.heartbeat(), Duration::from_secs(5));
    assert_eq!(t.stale_before(100_000), 85_000);
    assert_eq!(t.expired_before(100_000), 40_000);
    let short = Timings {
        grace: Duration::from_secs(1),
    };
    assert_eq!(short.heartbeat(), Duration::from_millis(250));
}

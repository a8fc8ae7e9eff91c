//! Tests of the ingest plan: its rules one by one, and a property test that planning a batch at
//! once decides exactly what planning its events one request at a time decides.

use proptest::prelude::*;

use super::*;
use crate::domain::event::ChatTags;
use livechat_webhooks::Sections;

fn license() -> License {
    License {
        license_id: "100".into(),
        login: "l".into(),
        token: "0".repeat(32),
        api_key_hash: [0; 32],
        created_at: 0,
    }
}

fn event(
    n: usize,
    event_type: EventType,
    chat: Option<(&str, &[&str])>,
    key: Option<&str>,
) -> NewEvent {
    NewEvent {
        event_type,
        unique_id: format!("{n:032x}"),
        sections: Sections {
            chat: chat.map(|_| r#"{"id":"c"}"#.to_string()),
            visitor: Some(r#"{"id":"v"}"#.into()),
            ..Sections::default()
        },
        chat_tags: chat.map(|(id, tags)| ChatTags {
            chat_id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }),
        visitor_id: Some("v".into()),
        idempotency_key: key.map(str::to_string),
    }
}

fn subscriber(id: &str, health: Health) -> Subscriber {
    Subscriber {
        webhook_id: id.into(),
        url: format!("http://example.com/{id}"),
        data_types: 0,
        health,
        signing: None,
        held_elsewhere: false,
        unheld: false,
    }
}

fn lookups(subscribers: &[(EventType, Subscriber)]) -> Lookups {
    let mut l = Lookups::default();
    for (t, s) in subscribers {
        l.subscribers.entry(*t).or_default().push(s.clone());
    }
    l
}

const LEASED: Placement = Placement {
    now: 1_000,
    lease_until: Some(61_000),
    window: Duration::from_secs(100),
    confirmed_for: Duration::from_secs(60),
};

fn deliveries(p: &PlannedEvent) -> &[PlannedDelivery] {
    match p {
        PlannedEvent::New(d) => d,
        PlannedEvent::Duplicate(_) => panic!("a duplicate: {p:?}"),
    }
}

#[test]
fn a_used_idempotency_key_is_a_duplicate_of_the_first_event_stored_or_in_the_batch() {
    let mut l = lookups(&[(EventType::VisitorQueued, subscriber("w", Health::default()))]);
    let first = Earlier {
        event_id: "e1".into(),
        deliveries: 3,
    };
    l.earlier.insert("k1".into(), first.clone());
    let events = [
        event(1, EventType::VisitorQueued, None, Some("k1")),
        event(2, EventType::VisitorQueued, None, Some("k2")),
        event(3, EventType::VisitorQueued, None, Some("k2")),
    ];
    let p = plan(&license(), &events, &l, LEASED);
    assert_eq!(p.events[0], PlannedEvent::Duplicate(first));
    assert_eq!(deliveries(&p.events[1]).len(), 1);
    let second = Earlier {
        event_id: format!("{:032x}", 2),
        deliveries: 1,
    };
    assert_eq!(p.events[2], PlannedEvent::Duplicate(second));
}

#[test]
fn chat_changed_is_delivered_only_when_the_tags_changed_in_batch_order() {
    let l = lookups(&[
        (
            EventType::ChatChanged,
            subscriber("changed", Health::default()),
        ),
        (
            EventType::ChatStarted,
            subscriber("started", Health::default()),
        ),
    ]);
    let events = [
        event(1, EventType::ChatChanged, Some(("c", &[])), None),
        event(2, EventType::ChatStarted, Some(("c", &["a"])), None),
        event(3, EventType::ChatChanged, Some(("c", &["a"])), None),
        event(4, EventType::ChatChanged, Some(("c", &["a", "b"])), None),
    ];
    let p = plan(&license(), &events, &l, LEASED);
    let counts: Vec<usize> = p.events.iter().map(|e| deliveries(e).len()).collect();
    assert_eq!(
        counts,
        vec![0, 1, 0, 1],
        "an unseen chat has no tags; chat_started records its own"
    );
    assert_eq!(
        p.tags.get("c"),
        Some(&vec!["a".to_string(), "b".to_string()])
    );
}

#[test]
fn a_currently_silent_target_gets_its_deliveries_parked_and_others_are_leased_with_their_body() {
    let silent = Health {
        silent_since: Some(500),
        last_miss_at: Some(900),
        misses: 3,
        ..Health::default()
    };
    let stale = Health {
        last_miss_at: Some(-100_000),
        ..silent.clone()
    };
    let l = lookups(&[
        (
            EventType::VisitorQueued,
            subscriber("ok", Health::default()),
        ),
        (EventType::VisitorQueued, subscriber("silent", silent)),
        (EventType::VisitorQueued, subscriber("stale", stale)),
    ]);
    let p = plan(
        &license(),
        &[event(1, EventType::VisitorQueued, None, None)],
        &l,
        LEASED,
    );
    let d = deliveries(&p.events[0]);
    assert_eq!(
        (d[0].parked, d[0].lease_until, d[0].next_attempt_at),
        (false, Some(61_000), 61_000)
    );
    let body = String::from_utf8(d[0].body.clone().unwrap().to_vec()).unwrap();
    assert!(
        body.contains(r#""event_unique_id":"00000000000000000000000000000001""#),
        "{body}"
    );
    assert_eq!(
        (d[1].parked, d[1].lease_until, d[1].next_attempt_at),
        (true, None, 101_000)
    );
    assert!(d[1].body.is_none());
    assert!(
        !d[2].parked,
        "an old silence is tried again, not parked on old news"
    );
}

#[test]
fn without_room_in_memory_deliveries_are_due_now_for_any_node() {
    let l = lookups(&[(EventType::VisitorQueued, subscriber("w", Health::default()))]);
    let p = plan(
        &license(),
        &[event(1, EventType::VisitorQueued, None, None)],
        &l,
        Placement {
            lease_until: None,
            ..LEASED
        },
    );
    let d = &deliveries(&p.events[0])[0];
    assert_eq!(
        (d.next_attempt_at, d.lease_until, d.body.is_none()),
        (1_000, None, true)
    );
}

#[test]
fn a_listen_session_held_by_another_node_gets_its_deliveries_due_for_that_node() {
    let here = subscriber("here", Health::default());
    let elsewhere = Subscriber {
        held_elsewhere: true,
        ..subscriber("elsewhere", Health::default())
    };
    let l = lookups(&[
        (EventType::VisitorQueued, here),
        (EventType::VisitorQueued, elsewhere),
    ]);
    let p = plan(
        &license(),
        &[event(1, EventType::VisitorQueued, None, None)],
        &l,
        LEASED,
    );
    let placed: Vec<(&str, bool, bool)> = deliveries(&p.events[0])
        .iter()
        .map(|d| (d.webhook_id.as_str(), d.lease_until.is_some(), d.left_due()))
        .collect();
    assert_eq!(placed, [("here", true, false), ("elsewhere", false, true)]);
}

#[test]
fn a_listen_session_nobody_holds_gets_its_deliveries_out_of_the_due_range() {
    let away = Subscriber {
        held_elsewhere: true,
        unheld: true,
        ..subscriber("away", Health::default())
    };
    let l = lookups(&[(EventType::VisitorQueued, away)]);
    let p = plan(
        &license(),
        &[event(1, EventType::VisitorQueued, None, None)],
        &l,
        LEASED,
    );
    let d = &deliveries(&p.events[0])[0];
    assert_eq!(
        (d.lease_until, d.parked, d.next_attempt_at),
        (None, false, 1_000 + 24 * 3600 * 1000)
    );
}

fn arb_event() -> impl Strategy<Value = (u8, u8, Vec<u8>, Option<u8>)> {
    (
        0..3u8,
        0..3u8,
        proptest::collection::vec(0..3u8, 0..3),
        proptest::option::of(0..4u8),
    )
}

proptest! {
    #[test]
    fn planning_a_batch_agrees_with_planning_its_events_one_by_one(
        specs in proptest::collection::vec(arb_event(), 0..24)
    ) {
        let tag_names = ["a", "b", "c"];
        let events: Vec<NewEvent> = specs.iter().enumerate().map(|(n, (t, chat, tags, key))| {
            let event_type = [EventType::ChatChanged, EventType::ChatStarted, EventType::VisitorQueued][*t as usize];
            let mut tags: Vec<&str> = tags.iter().map(|i| tag_names[*i as usize]).collect();
            tags.sort();
            tags.dedup();
            let chat_id = format!("chat{chat}");
            let key = key.map(|k| format!("key{k}"));
            let chat = (event_type != EventType::VisitorQueued).then_some((chat_id.as_str(), tags.as_slice()));
            event(n, event_type, chat, key.as_deref())
        }).collect();
        let base = lookups(&[
            (EventType::ChatChanged, subscriber("w1", Health::default())),
            (EventType::ChatChanged, subscriber("w2", Health::default())),
            (EventType::ChatStarted, subscriber("w3", Health::default())),
            (EventType::VisitorQueued, subscriber("w4", Health::default())),
        ]);
        let batch = plan(&license(), &events, &base, LEASED);
        let mut one_by_one = Vec::new();
        let mut known = base.clone();
        for e in &events {
            let single = plan(&license(), std::slice::from_ref(e), &known, LEASED);
            known.absorb(std::slice::from_ref(e), &single);
            one_by_one.extend(single.events);
        }
        prop_assert_eq!(&batch.events, &one_by_one);
        let mut after_batch = base.clone();
        after_batch.absorb(&events, &batch);
        prop_assert_eq!(after_batch.tags, known.tags);
    }
}

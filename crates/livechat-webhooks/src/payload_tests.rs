//! Unit tests of the payload types: the seed's samples parse, unknown fields survive, numbers read as the wire writes them.

use super::*;
use crate::sample;
use crate::{DataTypes, EventType};

#[test]
fn every_sample_payload_parses_and_keeps_everything() {
    for event_type in EventType::ALL {
        let body = sample::payload(event_type, DataTypes::all_for(event_type), "1025707", "t");
        let parsed: WebhookPayload = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(parsed.event_type, event_type);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), body, "{event_type}");
    }
}

#[test]
fn fields_seen_in_real_payloads_are_kept() {
    let body = serde_json::json!({
        "event_type": "chat_ended", "token": "t", "license_id": 1025707,
        "event_unique_id": "0123456789abcdef0123456789abcdef", "lc_version": "2",
        "chat": {"id": "MH022RD0K5", "url": "https://example.com/", "referer": "",
                 "agents": [{"name": "John", "login": "john@example.com"}], "groups": [0],
                 "events": [{"user_type": "visitor", "text": "Bob left the chat.",
                             "timestamp": 1358939109, "type": "closed"}],
                 "messages": [{"user_type": "visitor", "author_name": "Bob", "text": "hi",
                               "timestamp": 1358937661, "json": "{}"}], "tags": []},
        "visitor": {"id": "S1", "country": "Poland", "custom_variables": [{"key": "n", "value": 5}]}
    });
    let parsed: WebhookPayload = serde_json::from_value(body).unwrap();
    assert_eq!(parsed.license_id, "1025707");
    assert_eq!(parsed.extra["lc_version"], "2");
    let chat = parsed.chat.unwrap();
    assert_eq!(chat.extra["agents"][0]["login"], "john@example.com");
    assert_eq!(chat.messages[0].extra["json"], "{}");
    assert_eq!(chat.ended_timestamp, None);
    assert_eq!(parsed.visitor.unwrap().custom_variables[0].value, 5);
}

#[test]
fn integers_written_with_a_zero_fraction_are_integers_and_fractions_are_refused() {
    let canned = |id: Value| {
        serde_json::from_value::<CannedResponse>(
            serde_json::json!({"id": id, "text": "t", "group": 7.0}),
        )
    };
    let read = canned(serde_json::json!(7271602.0)).unwrap();
    assert_eq!((read.id, read.group), (7271602, Some(7)));
    assert!(canned(serde_json::json!(1.5)).is_err());
    assert!(canned(serde_json::json!(u64::MAX)).is_err());
    assert!(canned(serde_json::json!(1e19)).is_err());
    let past_min: Value = serde_json::from_str("-9223372036854775809").unwrap();
    assert!(canned(past_min).is_err());
    assert!(canned(serde_json::json!("7")).is_err());
}

#[test]
fn a_license_id_of_the_wrong_kind_is_explained() {
    let err = serde_json::from_value::<WebhookPayload>(serde_json::json!({
        "event_type": "chat_started", "token": "t", "license_id": [1]
    }))
    .unwrap_err();
    assert!(err.to_string().contains("found an array"), "{err}");
}

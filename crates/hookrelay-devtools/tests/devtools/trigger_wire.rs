//! What `trigger` puts on the wire, seen by a recording app.

use axum::http::StatusCode;
use hookrelay_devtools::{trigger_with_output, Output, TriggerArgs};
use livechat_webhooks::{DataType, EventType};

use crate::helpers::{dead_url, spawn_app};

#[tokio::test]
async fn every_event_is_sent_with_all_its_data_types_and_the_right_headers() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    for event_type in EventType::ALL {
        let report = trigger_with_output(
            TriggerArgs::new(event_type, format!("{base}/hook")),
            &Output::capture(),
        )
        .await
        .unwrap();
        assert!(report.all_succeeded(), "{event_type}");
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), EventType::ALL.len());
    for (request, event_type) in seen.iter().zip(EventType::ALL) {
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(
            request.headers["user-agent"],
            format!("hookrelay/{}", env!("CARGO_PKG_VERSION"))
        );
        assert!(!request.headers.contains_key("authorization"));
        assert_eq!(request.body["event_type"], event_type.as_str());
        assert_eq!(request.body["license_id"], "1025707");
        for data_type in DataType::ALL {
            let carried = request.body.get(data_type.as_str()).is_some();
            assert_eq!(
                carried,
                event_type.supports(data_type),
                "{event_type} {data_type}"
            );
        }
    }
}

#[tokio::test]
async fn repeats_get_fresh_event_ids_and_flags_override_the_sample() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let args = TriggerArgs {
        repeat: 3,
        data_types: vec!["chat".into(), "visitor".into()],
        license_id: Some("42".into()),
        token: Some("0123456789abcdef0123456789abcdef".into()),
        overrides: vec!["chat.tags=[\"vip\"]".into(), "visitor.name=Bob".into()],
        ..TriggerArgs::new(EventType::ChatEnded, format!("{base}/hook"))
    };
    let out = Output::capture();
    let report = trigger_with_output(args, &out).await.unwrap();
    assert_eq!(report.statuses[&200], 3);
    assert!(out.contents().contains("sent 3 events: 3× 200"));
    let seen = seen.lock().unwrap().clone();
    let mut ids: Vec<&str> = seen
        .iter()
        .map(|s| s.body["event_unique_id"].as_str().unwrap())
        .collect();
    assert!(ids
        .iter()
        .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let body = &seen[0].body;
    assert_eq!(
        (body["license_id"].as_str(), body["token"].as_str()),
        (Some("42"), Some("0123456789abcdef0123456789abcdef"))
    );
    assert_eq!(body["chat"]["tags"], serde_json::json!(["vip"]));
    assert_eq!(body["visitor"]["name"], "Bob");
    assert!(body.get("pre_chat_survey").is_none());
}

#[tokio::test]
async fn credentials_in_the_url_become_a_basic_header_and_leave_the_url() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let url = base.replacen("http://", "http://live%20chat:pass%3Aword@", 1) + "/hook";
    let out = Output::capture();
    trigger_with_output(TriggerArgs::new(EventType::ChatStarted, url), &out)
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].headers["authorization"],
        hookrelay_receiver::basic_header_value("live chat", "pass:word")
    );
    assert!(
        !out.contents().contains("pass"),
        "the password is never printed"
    );
}

#[tokio::test]
async fn a_file_is_sent_as_the_body_with_a_fresh_event_id() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let path = std::env::temp_dir().join(format!("hookrelay-trigger-{}.json", std::process::id()));
    std::fs::write(&path, r#"{"event_type":"chat_started","token":"t","license_id":"7","event_unique_id":"old","custom":1}"#).unwrap();
    let args = TriggerArgs {
        event_type: None,
        file: Some(path.clone()),
        ..TriggerArgs::new(EventType::ChatStarted, format!("{base}/hook"))
    };
    trigger_with_output(args, &Output::capture()).await.unwrap();
    std::fs::remove_file(&path).unwrap();
    let body = seen.lock().unwrap()[0].body.clone();
    assert_eq!(
        (body["license_id"].as_str(), body["custom"].as_i64()),
        (Some("7"), Some(1))
    );
    assert_ne!(body["event_unique_id"], "old");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let report = trigger_with_output(
        TriggerArgs::new(EventType::ChatStarted, format!("{base}/moved")),
        &Output::capture(),
    )
    .await
    .unwrap();
    assert_eq!(report.statuses.keys().collect::<Vec<_>>(), [&302]);
    assert!(
        seen.lock().unwrap().is_empty(),
        "the redirect target was not called"
    );
}

#[tokio::test]
async fn an_unreachable_target_is_reported_not_raised() {
    let out = Output::capture();
    let report = trigger_with_output(
        TriggerArgs::new(EventType::ChatStarted, dead_url().await),
        &out,
    )
    .await
    .unwrap();
    assert_eq!(report.errors, 1);
    assert!(
        out.contents().contains("<-- no answer for chat_started"),
        "{}",
        out.contents()
    );
}

#[tokio::test]
async fn wrong_arguments_fail_before_anything_is_sent() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let url = format!("{base}/hook");
    let bad_type = TriggerArgs {
        data_types: vec!["ticket".into()],
        ..TriggerArgs::new(EventType::ChatStarted, &url)
    };
    let err = trigger_with_output(bad_type, &Output::capture())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ticket") && err.contains("visitor"), "{err}");
    let bad_set = TriggerArgs {
        overrides: vec!["visitor".into()],
        ..TriggerArgs::new(EventType::ChatStarted, &url)
    };
    assert!(trigger_with_output(bad_set, &Output::capture())
        .await
        .is_err());
    let bad_url = TriggerArgs::new(EventType::ChatStarted, "localhost:3000");
    assert!(trigger_with_output(bad_url, &Output::capture())
        .await
        .is_err());
    assert!(seen.lock().unwrap().is_empty());
}

//! `trigger` sending to `listen`, with every listen option in play.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use hookrelay_devtools::{trigger_with_output, ListenArgs, Output, TriggerArgs};
use livechat_webhooks::EventType;

use crate::helpers::{dead_url, spawn_app, Listener};

#[tokio::test]
async fn trigger_into_listen_with_fail_first_1_shows_the_failure_then_the_success() {
    let listener = Listener::start(ListenArgs {
        basic_auth: Some("livechat:password".into()),
        fail_first: 1,
        ..ListenArgs::on_port(0)
    })
    .await;
    let out = Output::capture();
    let args = TriggerArgs {
        repeat: 2,
        ..TriggerArgs::new(
            EventType::ChatStarted,
            listener.url_with("livechat:password"),
        )
    };
    let report = trigger_with_output(args, &out).await.unwrap();
    assert_eq!(
        report.statuses.into_iter().collect::<Vec<_>>(),
        [(200, 1), (500, 1)]
    );
    let sent = out.contents();
    let failure = sent.find("<-- [500] chat_started").expect(&sent);
    let success = sent.find("<-- [200] chat_started").expect(&sent);
    assert!(failure < success, "{sent}");
    assert!(sent.contains("(Basic auth as livechat)"), "{sent}");

    let (summary, printed) = listener.stop().await;
    let lines: Vec<&str> = printed.lines().collect();
    assert!(
        lines[0].starts_with("Ready! Listening on http://127.0.0.1:"),
        "{printed}"
    );
    assert!(
        lines[1].contains("chat_started")
            && lines[1].contains("<-- [500]  (failing on purpose, 1 of 1)"),
        "{printed}"
    );
    assert!(
        lines[1].contains("license 1025707  chat, visitor, pre_chat_survey"),
        "{printed}"
    );
    assert!(lines[2].contains("<-- [200]"), "{printed}");
    assert!(lines[3].starts_with("Stopped after"), "{printed}");
    assert_eq!((summary.requests, summary.answered.len()), (2, 2));
}

#[tokio::test]
async fn each_line_carries_the_event_unique_id_the_trigger_sent() {
    let listener = Listener::start(ListenArgs::on_port(0)).await;
    let out = Output::capture();
    trigger_with_output(
        TriggerArgs::new(EventType::TicketCreated, &listener.url),
        &out,
    )
    .await
    .unwrap();
    let sent = out.contents();
    let id_at = sent.find("\"event_unique_id\": \"").unwrap() + 20;
    let id = &sent[id_at..id_at + 32];
    let (_, printed) = listener.stop().await;
    let line = printed.lines().nth(1).unwrap();
    assert!(
        line.contains(&format!(
            "ticket_created          [{id}]  license 1025707  ticket  <-- [200]"
        )),
        "{line}"
    );
}

#[tokio::test]
async fn json_mode_prints_the_full_body_with_overrides_applied() {
    let listener = Listener::start(ListenArgs {
        json: true,
        ..ListenArgs::on_port(0)
    })
    .await;
    let args = TriggerArgs {
        overrides: vec!["visitor.email=a@b.c".into()],
        data_types: vec!["visitor".into()],
        ..TriggerArgs::new(EventType::VisitorQueued, &listener.url)
    };
    trigger_with_output(args, &Output::capture()).await.unwrap();
    let (_, printed) = listener.stop().await;
    assert!(printed.contains("\"email\": \"a@b.c\""), "{printed}");
    assert!(
        printed.contains("visitor_queued") && printed.contains("  visitor  <-- [200]"),
        "{printed}"
    );
}

#[tokio::test]
async fn wrong_credentials_and_bad_bodies_are_refused_and_shown() {
    let dir = std::env::temp_dir().join(format!("hookrelay-listen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let htpasswd = dir.join(".htpasswd");
    std::fs::write(
        &htpasswd,
        "# the seed's\r\nlivechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\r\n",
    )
    .unwrap();
    let listener = Listener::start(ListenArgs {
        htpasswd: Some(htpasswd),
        ..ListenArgs::on_port(0)
    })
    .await;

    let out = Output::capture();
    let report = trigger_with_output(
        TriggerArgs::new(EventType::ChatEnded, listener.url_with("livechat:nope")),
        &out,
    )
    .await
    .unwrap();
    assert_eq!(report.statuses.keys().collect::<Vec<_>>(), [&401]);
    assert!(!report.all_succeeded());

    let garbage = reqwest::Client::new()
        .post(listener.url_with("livechat:password"))
        .basic_auth("livechat", Some("password"))
        .body("{\"event_type\": \"chat_started\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let report = trigger_with_output(
        TriggerArgs::new(EventType::ChatEnded, listener.url_with("livechat:password")),
        &out,
    )
    .await
    .unwrap();
    assert!(report.all_succeeded());

    let (summary, printed) = listener.stop().await;
    assert!(
        printed.contains("<-- [401] wrong Basic credentials"),
        "{printed}"
    );
    assert!(
        printed.contains("<-- [400] the body is not a LiveChat webhook: missing field `token`"),
        "{printed}"
    );
    assert_eq!(
        (summary.requests, summary.unauthorized, summary.invalid),
        (3, 1, 1)
    );
    assert!(printed.contains("1 unauthorized, 1 invalid"), "{printed}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_forced_status_and_a_delay_are_what_the_sender_sees() {
    let listener = Listener::start(ListenArgs {
        status: 503,
        delay: 300,
        ..ListenArgs::on_port(0)
    })
    .await;
    let out = Output::capture();
    let started = Instant::now();
    let report = trigger_with_output(
        TriggerArgs::new(EventType::ChatChanged, &listener.url),
        &out,
    )
    .await
    .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(report.statuses.keys().collect::<Vec<_>>(), [&503]);
    assert!(out
        .contents()
        .contains("NOT delivered (LiveChat would retry)"));
    let (_, printed) = listener.stop().await;
    assert!(printed.contains("answering 503, 300 ms delay"), "{printed}");
}

#[tokio::test]
async fn forwarding_relays_the_webhook_and_answers_with_the_app_s_reply() {
    let (app, seen) = spawn_app(StatusCode::CREATED, "stored it").await;
    let listener = Listener::start(ListenArgs {
        forward_to: Some(format!(
            "{}/hook",
            app.replacen("http://", "http://app:s%40cret@", 1)
        )),
        ..ListenArgs::on_port(0)
    })
    .await;
    let out = Output::capture();
    let report = trigger_with_output(
        TriggerArgs::new(EventType::ChatStarted, &listener.url),
        &out,
    )
    .await
    .unwrap();
    assert_eq!(report.statuses.keys().collect::<Vec<_>>(), [&201]);
    assert!(out.contents().contains("stored it"));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["event_type"], "chat_started");
    assert_eq!(
        seen[0].headers["authorization"],
        hookrelay_receiver::basic_header_value("app", "s@cret")
    );
    assert_eq!(
        seen[0].headers["user-agent"],
        hookrelay_devtools::USER_AGENT
    );
    let (_, printed) = listener.stop().await;
    assert!(
        printed.contains("<-- [201]  (your app answered in"),
        "{printed}"
    );
    assert!(printed.contains("stored it"), "{printed}");
}

#[tokio::test]
async fn forwarding_to_an_app_that_is_down_answers_502_and_says_why() {
    let listener = Listener::start(ListenArgs {
        forward_to: Some(dead_url().await),
        ..ListenArgs::on_port(0)
    })
    .await;
    let report = trigger_with_output(
        TriggerArgs::new(EventType::ChatStarted, &listener.url),
        &Output::capture(),
    )
    .await
    .unwrap();
    assert_eq!(report.statuses.keys().collect::<Vec<_>>(), [&502]);
    let (summary, printed) = listener.stop().await;
    assert_eq!(summary.forward_errors, 1);
    assert!(
        printed.contains("<-- [502]  (forwarding to http://127.0.0.1:"),
        "{printed}"
    );
}

#[tokio::test]
async fn listen_on_port_0_reports_the_port_it_really_bound() {
    let summary = hookrelay_devtools::listen(ListenArgs::on_port(0), async {})
        .await
        .unwrap();
    assert_ne!(summary.address.port(), 0);
    assert_eq!(summary.requests, 0);
}

#[tokio::test]
async fn a_listener_with_an_unusable_htpasswd_file_does_not_start() {
    let args = ListenArgs {
        htpasswd: Some("/nonexistent/.htpasswd".into()),
        ..ListenArgs::on_port(0)
    };
    let err = hookrelay_devtools::listen(args, async {})
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("/nonexistent/.htpasswd"),
        "{err:#}"
    );
}

#[tokio::test]
async fn many_concurrent_webhooks_are_all_answered_and_counted() {
    let listener = Listener::start(ListenArgs {
        fail_first: 3,
        ..ListenArgs::on_port(0)
    })
    .await;
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let args = TriggerArgs {
                repeat: 25,
                ..TriggerArgs::new(EventType::ChatStarted, &listener.url)
            };
            tokio::spawn(
                async move { trigger_with_output(args, &Output::capture()).await.unwrap() },
            )
        })
        .collect();
    let mut answered = std::collections::BTreeMap::new();
    for sender in senders {
        for (status, n) in sender.await.unwrap().statuses {
            *answered.entry(status).or_insert(0) += n;
        }
    }
    assert_eq!(
        answered.into_iter().collect::<Vec<_>>(),
        [(200, 97), (500, 3)]
    );
    let (summary, printed) = listener.stop().await;
    assert_eq!(summary.requests, 100);
    assert_eq!(summary.answered[&200], 97);
    assert_eq!(
        printed
            .lines()
            .filter(|l| l.contains("chat_started"))
            .count(),
        100
    );
}

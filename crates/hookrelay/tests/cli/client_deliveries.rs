//! `hookrelay events send` and `hookrelay deliveries …` against a real server delivering to a real
//! `hookrelay listen`.

use super::client::{until, Setup};

#[tokio::test]
async fn events_sent_from_a_sample_and_a_file_are_delivered_shown_resent_and_recovered() {
    let setup = Setup::start().await;
    let webhook = setup.webhook("chat_started", "chat,visitor").await;

    let sent = setup
        .run(&["events", "send", "--sample", "chat_started", "--json"])
        .await
        .json();
    assert_eq!(sent["deliveries"], 1, "{sent}");
    assert_eq!(sent["duplicate"], false);
    let file = setup.dir.path().join("event.json");
    let event = serde_json::json!({
        "event_type": "chat_started",
        "chat": {"id": "PJ0MRSHTDG", "started_timestamp": 1358937653, "messages": [], "tags": []},
        "visitor": {"id": "S1", "name": "From a file", "email": "file@example.com"},
    });
    std::fs::write(&file, event.to_string()).unwrap();
    let sent = setup.run(&["events", "send", file.to_str().unwrap()]).await;
    let line = sent.ok();
    assert!(
        line.starts_with("Stored event ") && line.contains("1 delivery"),
        "{line}"
    );

    let list = ["deliveries", "list", "--status", "succeeded", "--json"];
    let done = until(&setup, &list, |a| {
        a["deliveries"].as_array().unwrap().len() == 2
    })
    .await;
    let newest = done["deliveries"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(done["deliveries"][0]["webhook_id"], webhook.as_str());

    let table = setup
        .run(&[
            "deliveries",
            "list",
            "--webhook",
            &webhook[..8],
            "--event-type",
            "chat_started",
        ])
        .await;
    let rows = table.ok();
    let row = rows.lines().find(|l| l.starts_with(&newest)).expect(rows);
    assert!(
        row.contains("succeeded") && row.contains("HTTP 200"),
        "{row}"
    );
    assert!(row.contains(&webhook[..8]), "{row}");
    let paged = setup.run(&["deliveries", "list", "--limit", "1"]).await;
    assert!(
        paged.ok().contains("More: add --cursor "),
        "{}",
        paged.stdout
    );

    let shown = setup
        .run(&["deliveries", "show", &newest, "--json"])
        .await
        .json();
    assert_eq!(shown["attempts"][0]["status_code"], 200, "{shown}");
    assert_eq!(
        shown["request_body"]["visitor"]["email"],
        "file@example.com"
    );
    let shown = setup.run(&["deliveries", "show", &newest]).await;
    let text = shown.ok();
    assert!(
        text.contains("Attempts (1):") && text.contains("HTTP 200"),
        "{text}"
    );
    assert!(text.contains("\"name\": \"From a file\""), "{text}");

    let resent = setup
        .run(&["deliveries", "resend", &newest, "--json"])
        .await
        .json();
    assert_eq!(resent["status"], "pending");
    let number = newest.trim_start_matches("dlv_");
    let attempts = ["deliveries", "show", number, "--json"];
    until(&setup, &attempts, |d| {
        d["attempts"].as_array().unwrap().len() == 2
    })
    .await;

    let dry = setup
        .run(&[
            "deliveries",
            "recover",
            "--since",
            "1h",
            "--dry-run",
            "--json",
        ])
        .await
        .json();
    assert_eq!(dry["count"], 0, "nothing failed: {dry}");
    let recovered = setup
        .run(&[
            "deliveries",
            "recover",
            "--since",
            "1h",
            "--webhook",
            &webhook[..8],
        ])
        .await;
    assert!(
        recovered.ok().contains("Recovered 0 failed deliveries"),
        "{}",
        recovered.stdout
    );
    let missing = setup.run(&["deliveries", "show", "dlv_999999"]).await;
    missing.fails_saying(1, "delivery not found");
}

#[tokio::test]
async fn events_the_server_refuses_show_its_message_and_exit_1() {
    let setup = Setup::start().await;
    let refused = setup
        .run(&["events", "send", "--sample", "webhook_disabled"])
        .await;
    let said = refused.failed(1);
    assert!(said.contains("produced by hookrelay only"), "{said}");
    assert!(said.contains("field `event_type`"), "{said}");
    let unknown = setup
        .run(&["events", "send", "--sample", "chat_exploded"])
        .await;
    assert_eq!(
        unknown.code, 2,
        "an unknown sample is a usage error: {}",
        unknown.stderr
    );
    let bad_time = setup
        .run(&["deliveries", "recover", "--since", "soon"])
        .await;
    bad_time.fails_saying(2, "--since");
}

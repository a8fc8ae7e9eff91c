//! `hookrelay webhooks …` against a real server: every subcommand, as a table and as JSON.

use super::client::Setup;

#[tokio::test]
async fn webhooks_are_added_listed_updated_disabled_enabled_tested_and_removed() {
    let setup = Setup::start().await;
    let id = setup.webhook("chat_started", "chat,visitor").await;
    let added = setup
        .add("ticket_created", &["--description", "tickets"])
        .await;
    assert!(
        added.ok().starts_with("Created webhook "),
        "{}",
        added.stdout
    );

    let listed = setup.run(&["webhooks", "list"]).await;
    let table = listed.ok();
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("ID ") && header.contains("EVENT TYPE"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with(&id[..8]))
        .expect(table);
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[1..4],
        ["http", "chat_started", "chat,visitor"],
        "{row}"
    );
    assert!(
        row.contains(&setup.target) && row.contains("enabled"),
        "{row}"
    );
    assert!(table.contains("ticket_created"), "{table}");
    let all = setup.run(&["webhooks", "list", "--json"]).await.json();
    assert_eq!(all["webhooks"].as_array().unwrap().len(), 2, "{all}");

    // A short prefix, as the table shows, names the webhook.
    let updated = setup
        .run(&[
            "webhooks",
            "update",
            &id[..8],
            "--description",
            "sales",
            "--data-types",
            "visitor",
            "--json",
        ])
        .await
        .json();
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["description"], "sales");
    assert_eq!(updated["data_types"], serde_json::json!(["visitor"]));

    let disabled = setup
        .run(&["webhooks", "disable", &id, "--json"])
        .await
        .json();
    assert_eq!(disabled["enabled"], false);
    let listed = setup.run(&["webhooks", "list"]).await;
    let row = listed
        .ok()
        .lines()
        .find(|l| l.starts_with(&id[..8]))
        .unwrap()
        .to_owned();
    assert!(row.contains("disabled"), "{row}");
    let enabled = setup.run(&["webhooks", "enable", &id]).await;
    assert_eq!(enabled.ok().trim(), format!("Enabled webhook {id}."));

    let tested = setup.run(&["webhooks", "test", &id]).await;
    let line = tested.ok();
    assert!(
        line.contains("Sent a sample chat_started: HTTP 200"),
        "{line}"
    );
    assert!(line.contains("delivered"), "{line}");
    let tested = setup.run(&["webhooks", "test", &id, "--json"]).await.json();
    assert_eq!(tested["succeeded"], true, "{tested}");
    assert_eq!(tested["status_code"], 200);

    let removed = setup.run(&["webhooks", "rm", &id, "--json"]).await.json();
    assert_eq!(removed["deleted"], true);
    let all = setup.run(&["webhooks", "list", "--json"]).await.json();
    assert_eq!(all["webhooks"].as_array().unwrap().len(), 1, "{all}");
    let again = setup.run(&["webhooks", "rm", &id]).await;
    again.fails_saying(1, "webhook not found");
}

#[tokio::test]
async fn a_signing_secret_is_shown_once_with_a_copy_it_now_line_and_rotates() {
    let setup = Setup::start().await;
    let added = setup.add("chat_ended", &["--signing"]).await;
    let out = added.ok();
    assert!(out.contains("Signing secret: whsec_"), "{out}");
    assert!(out.contains("Copy it now"), "{out}");
    let all = setup.run(&["webhooks", "list", "--json"]).await;
    assert!(
        !all.ok().contains("whsec_"),
        "the secret is shown only once"
    );
    let webhook = &all.json()["webhooks"][0];
    assert_eq!(webhook["signing"], true);
    let id = webhook["id"].as_str().unwrap().to_owned();
    assert!(setup.run(&["webhooks", "list"]).await.ok().contains(" on "));

    let rotated = setup
        .run(&["webhooks", "rotate-secret", &id, "--grace", "1h", "--json"])
        .await
        .json();
    assert!(rotated["signing_secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    assert_eq!(
        rotated["previous_secrets_valid_until"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let rotated = setup.run(&["webhooks", "rotate-secret", &id]).await;
    let out = rotated.ok();
    assert!(
        out.contains("Signing secret: whsec_") && out.contains("Copy it now"),
        "{out}"
    );
    assert!(
        out.contains("The previous secrets stay valid until"),
        "{out}"
    );

    let off = setup
        .run(&["webhooks", "update", &id, "--no-signing", "--json"])
        .await
        .json();
    assert_eq!(off["signing"], false);
    let refused = setup.run(&["webhooks", "rotate-secret", &id]).await;
    refused.fails_saying(1, "HTTP 409");
    let nothing = setup.run(&["webhooks", "update", &id]).await;
    assert!(nothing.failed(2).contains("nothing to change"));
}

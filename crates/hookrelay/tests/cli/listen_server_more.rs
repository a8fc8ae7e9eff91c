//! `hookrelay listen --server` beside others: a license sees only its own events, two commands of
//! one license each get every event, and what the server refuses is said and ends the command.
//! The helpers are in `listen_server.rs`.

use super::client::{hookrelay, Run};
use super::listen_server::{event_id, Relay};
use super::Listen;

/// Runs `hookrelay listen --server … ARGS`, which is expected to end by itself.
async fn refused(server: &str, args: &[&str]) -> Run {
    let all = [&["listen", "--server", server][..], args].concat();
    let run = hookrelay(&all, &[], None).await;
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

#[tokio::test]
async fn listen_server_with_one_license_key_sees_nothing_of_another_license() {
    let relay = Relay::start().await;
    let a = relay.license().await;
    let b = relay.license().await;
    let mut a_cli = a.listen(&["--events", "chat_started"]).await;
    let mut b_cli = b.listen(&[]).await;
    assert!(
        b_cli.ready.contains(&format!("License {}:", b.id)),
        "{}",
        b_cli.ready
    );

    let a_ids = [event_id(0xa1), event_id(0xa2)];
    for id in &a_ids {
        assert_eq!(a.send(id).await, 1);
        a_cli.line_containing(id).await;
    }
    let b_id = event_id(0xb1);
    assert_eq!(b.send(&b_id).await, 1);

    let line = b_cli.line_containing(&b_id).await;
    assert!(line.contains(&format!("license {}", b.id)), "{line}");
    let seen = b_cli.seen.join("\n");
    let (_, rest) = b_cli.interrupt().await;
    let printed = format!("{seen}\n{rest}");
    for id in &a_ids {
        assert!(!printed.contains(id), "B saw A's {id}:\n{printed}");
    }
    assert_eq!(printed.matches("<-- [").count(), 1, "{printed}");
    assert!(rest.contains(": 1 requests"), "{rest}");

    let args = ["--api-key", &b.key, "--license", &a.id];
    let other = refused(&a.server, &args).await;
    let said = format!("{}{}", other.stdout, other.stderr);
    assert!(
        said.contains(&format!("Refused by {}: ", a.server)),
        "{said}"
    );
    let why = "these credentials do not give access to this license (HTTP 403)";
    assert!(said.contains(why), "{said}");
}

#[tokio::test]
async fn two_listen_server_commands_of_one_license_each_get_every_event() {
    let relay = Relay::start().await;
    let license = relay.license().await;
    let app = Listen::start(&[]).await;
    let to_app = ["--events", "chat_started", "--forward-to", &app.url(None)];
    let mut forwarding = license.listen(&to_app).await;
    let mut printing = license.listen(&["--events", "chat_started"]).await;
    assert_ne!(forwarding.session, printing.session);
    let webhooks = license.webhooks().await;
    assert_eq!(webhooks.len(), 2, "one session webhook each: {webhooks:?}");

    let ids = [event_id(51), event_id(52)];
    for id in &ids {
        assert_eq!(license.send(id).await, 2, "one delivery per session");
    }
    for cli in [&mut forwarding, &mut printing] {
        // Each delivery on its own: they may come in any order.
        let first = cli.line_containing("dlv_").await;
        let second = cli.line_containing("dlv_").await;
        let both = format!("{first}\n{second}");
        assert_eq!(both.matches("<-- [200]").count(), 2, "{both}");
        for id in &ids {
            assert!(both.contains(id.as_str()), "{id} missing from:\n{both}");
        }
    }
    let answered = "(your app answered";
    assert!(forwarding.seen.iter().any(|l| l.contains(answered)));
    assert!(!printing.seen.iter().any(|l| l.contains(answered)));
}

#[tokio::test]
async fn listen_server_refuses_a_bad_key_an_unknown_event_type_and_a_plain_get() {
    let relay = Relay::start().await;
    let license = relay.license().await;
    let base = relay.server.base.clone();

    let bad_key = refused(&base, &["--api-key", "not-a-key-of-this-server"]).await;
    let said = format!("{}{}", bad_key.stdout, bad_key.stderr);
    let why = format!("Refused by {base}: the token is not valid (HTTP 401)");
    assert!(said.contains(&why), "{said}");

    let unknown = ["--api-key", &license.key, "--events", "chat_exploded"];
    let unknown = refused(&base, &unknown).await;
    let said = format!("{}{}", unknown.stdout, unknown.stderr);
    assert!(
        said.contains(&format!("Refused by {base}: events")),
        "{said}"
    );
    assert!(said.contains("(HTTP 422)"), "{said}");

    let plain = reqwest::Client::new()
        .get(format!("{base}/v1/listen"))
        .bearer_auth(&license.key)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 426);
    let body: serde_json::Value = plain.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upgrade_required", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("hookrelay listen --server"), "{body}");

    // Nothing was left behind by the refused commands.
    assert!(license.webhooks().await.is_empty());
}

//! Stopping and starting: a graceful stop keeps everything accepted, a restart delivers it.

use hookrelay_story::story;
use std::time::Duration;

use serde_json::json;

use crate::harness::{test_config, TestServer};
use crate::receiver::{Answer, Receiver};

#[story]
async fn a_graceful_stop_finishes_attempts_under_way_and_a_restart_delivers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.retry_schedule = vec![Duration::from_secs(1)];
    let server = TestServer::start_in(dir, config.clone()).await;
    let license = server.license().await;
    let slow = Receiver::start().await;
    let down = Receiver::start().await;
    down.answer(Answer::Status(500));
    server
        .webhook(&license, &slow.url, "visitor_queued", &[])
        .await;
    server
        .webhook(&license, &down.url, "visitor_queued", &[])
        .await;
    // The slow target stalls its first request; the stop must wait for that attempt.
    slow.script([Answer::Stall]);
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
        )
        .await;
    slow.wait_for(1, Duration::from_secs(5)).await;
    down.wait_for(1, Duration::from_secs(5)).await;
    let dir = server.stop().await;

    // Both deliveries are still pending (one timed out at shutdown, one awaits its retry).
    slow.answer(Answer::Status(200));
    down.answer(Answer::Status(200));
    let server = TestServer::start_in(dir, config).await;
    let list = server.deliveries(&license, "").await;
    assert_eq!(list.len(), 2);
    for d in list {
        let id = d["id"].as_str().unwrap();
        server
            .wait_status(&license, id, "succeeded", Duration::from_secs(10))
            .await;
    }
    assert_eq!(slow.hits().len(), 2);
    assert_eq!(down.hits().len(), 2);
}

/// SQLite serves one process: a second `hookrelay serve` on the same file must refuse to start
/// (two would both take back "in-flight" deliveries and send them twice) and say what to do.
#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/one.db", dir.path().display());
    let mut first = crate::crash::spawn(dir.path(), &database_url, 0, &[]);
    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .arg("serve")
        .current_dir(dir.path())
        .env("HOOKRELAY_DATABASE_URL", &database_url)
        .env("HOOKRELAY_LISTEN", "127.0.0.1:0")
        .env("HOOKRELAY_ADMIN_TOKEN", "second-admin-token-for-this-story")
        .kill_on_drop(true)
        .output();
    let second = tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("the second server kept running instead of refusing to start")
        .unwrap();
    let _ = first.child.kill();
    let _ = first.child.wait();
    assert!(!second.status.success(), "the second server started");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("another hookrelay process is using") && said.contains("one.db.lock"),
        "{said}"
    );
    // Once the first is gone, the file is free again.
    let mut third = crate::crash::spawn(dir.path(), &database_url, 0, &[]);
    let health = reqwest::get(format!("{}/healthz", third.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let _ = third.child.kill();
    let _ = third.child.wait();
}

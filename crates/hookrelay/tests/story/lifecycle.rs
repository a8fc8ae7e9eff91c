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

//! The live tail (`GET …/deliveries/tail`, Server-Sent Events) on both backends: it shows a
//! delivery made after it opened, and again when its attempt succeeds; it ends when the server
//! stops (and the stop does not wait for it) or when its time is up; a node serves a bounded
//! number of tails.

use std::time::{Duration, Instant};

use hookrelay_story::story;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{TestLicense, TestServer};
use crate::receiver::{Answer, Receiver};

const LIMIT: Duration = Duration::from_secs(10);

/// An open tail, read event by event.
pub struct TailReader {
    response: reqwest::Response,
    buffer: String,
}

impl TailReader {
    /// Opens the license's tail (`query` added to the URL) and waits for its `ready` event.
    pub async fn open(server: &TestServer, license: &TestLicense, query: &str) -> TailReader {
        TailReader::resume(server, license, query, None).await
    }

    /// [`TailReader::open`] taking a tail up again after `last_event_id` (`Last-Event-ID`).
    pub async fn resume(
        server: &TestServer,
        license: &TestLicense,
        query: &str,
        last_event_id: Option<&str>,
    ) -> TailReader {
        let mut request = server
            .client
            .get(server.url(&format!(
                "/v1/licenses/{}/deliveries/tail{query}",
                license.id
            )))
            .bearer_auth(&license.api_key);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        let mut tail = TailReader {
            response,
            buffer: String::new(),
        };
        let (name, _) = tail.next().await.expect("the tail ended at once");
        assert_eq!(name, "ready");
        tail
    }

    /// The next event `(name, data)`, comments skipped; `None` when the stream ended. Panics
    /// after [`LIMIT`].
    pub async fn next(&mut self) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if data.is_empty() {
                    continue; // a comment (heartbeat)
                }
                return Some((name, serde_json::from_str(&data).unwrap()));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("no event from the tail in time")
                .unwrap();
            match chunk {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }

    /// Reads `delivery` events until `done` holds for one; returns it.
    pub async fn until(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next().await {
                Some((name, data)) if name == "delivery" && done(&data) => return data,
                Some(_) => {}
                None => panic!("the tail ended before {what}"),
            }
        }
    }
}

#[story]
async fn a_live_tail_shows_a_delivery_made_after_it_opened_and_again_when_it_succeeds() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "chat_started", &[])
        .await;
    let chat = json!({"event_type": "chat_started", "chat": {"id": "C1", "tags": []}});
    server.event(&license, chat.clone()).await;
    let before = server.only_delivery_id(&license).await;
    server
        .wait_status(&license, &before, "succeeded", LIMIT)
        .await;

    // The next delivery's first attempt gets no answer (until the 2 s attempt timeout), so the
    // tail sees it pending first; the retry succeeds.
    receiver.script([Answer::Stall]);
    let mut tail = TailReader::open(&server, &license, "").await;
    server.event(&license, chat).await;
    let new = tail.until("the new delivery", |d| d["id"] != before).await;
    let id = new["id"].as_str().unwrap().to_string();
    assert_eq!(new["event_type"], "chat_started");
    assert_eq!(
        (new["status"].as_str(), new["attempt_count"].as_i64()),
        (Some("pending"), Some(0))
    );
    let done = tail
        .until("it succeeded", |d| {
            d["id"] == id && d["status"] == "succeeded"
        })
        .await;
    assert_eq!(done["attempt_count"], 2);
    assert_eq!(done["last_status_code"], 200);
}

#[story]
async fn a_tail_taken_up_again_with_last_event_id_shows_what_happened_while_it_was_down() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "chat_started", &[])
        .await;
    let chat = json!({"event_type": "chat_started", "chat": {"id": "C1", "tags": []}});
    let mut tail = TailReader::open(&server, &license, "").await;
    server.event(&license, chat.clone()).await;
    let seen = tail
        .until("the first delivery succeeded", |d| {
            d["status"] == "succeeded"
        })
        .await;
    let seen_id = seen["id"].as_str().unwrap().to_string();
    drop(tail);

    // While no tail is open, another delivery is made and succeeds.
    server.event(&license, chat).await;
    let missed = server
        .wait_deliveries(&license, "status=succeeded", LIMIT, "two succeeded", |l| {
            l.len() == 2
        })
        .await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(missed, seen_id);

    let mut again = TailReader::resume(&server, &license, "", Some(&seen_id)).await;
    let shown = again
        .until("the delivery made while it was down", |d| {
            d["id"] == missed.as_str()
        })
        .await;
    assert_eq!(shown["status"], "succeeded");
}

#[story]
async fn stopping_the_server_ends_an_open_tail_and_does_not_wait_for_it() {
    // A connection still answering when the stop comes gets `body_read_timeout` to finish: a
    // tail that did not end would hold the stop that long.
    let server = TestServer::start_with(|c| c.body_read_timeout = Duration::from_secs(30)).await;
    let license = server.license().await;
    let mut tail = TailReader::open(&server, &license, "").await;
    let started = Instant::now();
    let stopping = tokio::spawn(server.stop());
    let (name, data) = tail.next().await.expect("an end event");
    assert_eq!(
        (name.as_str(), &data),
        ("end", &json!({"reason": "server_stopping"}))
    );
    assert!(tail.next().await.is_none(), "the stream ends after `end`");
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("the stop finished")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_tail_ends_when_its_seconds_are_up_and_a_node_serves_32_at_once_8_per_license() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let mut short = TailReader::open(&server, &license, "?seconds=1").await;
    let (name, data) = short.next().await.expect("an end event");
    assert_eq!(
        (name.as_str(), &data),
        ("end", &json!({"reason": "time_limit"}))
    );
    assert!(short.next().await.is_none());

    // 8 per license, 32 per node.
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(TailReader::open(&server, &license, "").await);
    }
    let path = format!("/v1/licenses/{}/deliveries/tail", license.id);
    let (status, body) = server.get(&path, &license.api_key).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this license"),
        "{body}"
    );
    for _ in 0..3 {
        let other = server.license().await;
        for _ in 0..8 {
            open.push(TailReader::open(&server, &other, "").await);
        }
    }
    let fresh = server.license().await;
    let fresh_path = format!("/v1/licenses/{}/deliveries/tail", fresh.id);
    let (status, body) = server.get(&fresh_path, &fresh.api_key).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("32 live tails"),
        "{body}"
    );
    let (status, _) = server.get(&path, &fresh.api_key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_tail_outlives_the_keep_alive_and_close_grace_of_an_idle_connection() {
    // A streamed answer keeps its connection busy: with a keep-alive of 200 ms and a close
    // grace of 500 ms, a tail asked for 3 s still runs its 3 s and says why it ended.
    let server = TestServer::start_with(|c| {
        c.keep_alive_timeout = Duration::from_millis(200);
        c.header_read_timeout = Duration::from_millis(200);
        c.body_read_timeout = Duration::from_millis(500);
    })
    .await;
    let license = server.license().await;
    let opened = Instant::now();
    let mut tail = TailReader::open(&server, &license, "?seconds=3").await;
    let (name, data) = tail.next().await.expect("the tail was cut off");
    assert_eq!(
        (name.as_str(), &data),
        ("end", &json!({"reason": "time_limit"}))
    );
    assert!(opened.elapsed() >= Duration::from_millis(2900));
}

//! The console at a glance, in a real headless Chromium: the dashboard shows the numbers of what
//! was really sent; the live tail shows a delivery made after the page opened, without a reload,
//! and opens its detail; a delivery is found by its event's `event_unique_id` and by its chat.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::harness::{TestLicense, TestServer};
use crate::receiver::{Answer, Receiver};

const LIMIT: Duration = Duration::from_secs(10);

/// Signs in with a license's id and API key and waits for the webhooks page.
async fn sign_in(b: &Browser, server: &TestServer, license: &TestLicense) {
    b.client.goto(&server.url("/console")).await.unwrap();
    b.fill("#license-id", &license.id).await;
    b.fill("#api-key", &license.api_key).await;
    b.click("#sign-in").await;
    b.wait_text("main h1", "Webhooks").await;
}

async fn count(b: &Browser, css: &str) -> usize {
    b.client.find_all(Locator::Css(css)).await.unwrap().len()
}

/// Waits (up to [`LIMIT`]) until exactly `n` elements match `css`.
async fn wait_count(b: &Browser, css: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let seen = count(b, css).await;
        if seen == n {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            b.screenshot("timeout").await;
            panic!("`{css}` matched {seen} elements, not {n}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn chat(n: u8, chat_id: &str) -> Value {
    json!({"event_type": "chat_started", "event_unique_id": format!("{n:032x}"),
           "chat": {"id": chat_id, "tags": []}, "visitor": {"id": format!("S{n}")}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_3_succeeded_and_1_retried_after_those_deliveries() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::Status(500)]);
    let webhook = server
        .webhook(&license, &receiver.url, "chat_started", &["chat"])
        .await;
    for n in 1..=3 {
        server.event(&license, chat(n, &format!("C{n}"))).await;
    }
    server
        .wait_deliveries(&license, "", LIMIT, "not all succeeded", |list| {
            list.len() == 3 && list.iter().all(|d| d["status"] == "succeeded")
        })
        .await;
    let b = Browser::start().await;
    sign_in(&b, &server, &license).await;

    b.click("#nav a[data-section=dashboard]").await;
    b.wait_text("main h1", "Dashboard").await;
    b.wait_text("#dash-totals [data-kind=succeeded] .total-number", "3")
        .await;
    let retried = b
        .wait_text("#dash-totals [data-kind=retried] .total-number", "1")
        .await;
    assert_eq!(retried, "1");
    let failed = b
        .wait_text("#dash-totals [data-kind=failed] .total-number", "0")
        .await;
    assert_eq!(failed, "0");
    let row = format!("#dash-webhooks tr[data-webhook-id=\"{webhook}\"]");
    assert_eq!(b.wait_text(&format!("{row} .rate"), "%").await, "75.0%");
    assert_eq!(b.wait_text(&format!("{row} .succeeded"), "3").await, "3");
    assert_eq!(b.wait_text(&format!("{row} .retried"), "1").await, "1");
    assert!(count(&b, "#dash-chart rect.bar-succeeded").await >= 1);
    assert!(count(&b, "#dash-chart rect.bar-retried").await >= 1);
    assert_eq!(count(&b, "#dash-chart rect.bar-failed").await, 0);
    b.screenshot("dashboard").await;

    // The day's view sums the same attempts into quarters of an hour.
    b.wait("#dash-window")
        .await
        .select_by_value("24h")
        .await
        .unwrap();
    b.wait_text("#chart-title", "15 minutes").await;
    b.wait_text("#dash-totals [data-kind=succeeded] .total-number", "3")
        .await;
    b.screenshot("dashboard-day").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_tail_shows_a_new_delivery_without_a_reload_and_opens_its_detail() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "chat_started", &["chat"])
        .await;
    let b = Browser::start().await;
    sign_in(&b, &server, &license).await;
    b.click("#nav a[data-section=live]").await;
    b.wait_text("#tail-state", "Live").await;
    // A mark on the page: a reload would lose it.
    b.client
        .execute("window.tailMark = 42; return 1;", vec![])
        .await
        .unwrap();

    server.event(&license, chat(7, "C7")).await;
    let id = server.only_delivery_id(&license).await;
    let row = format!("#tail tr[data-delivery-id=\"{id}\"]");
    b.wait_text(&row, "succeeded").await;
    b.wait_text(&row, "HTTP 200").await;
    let mark = b
        .client
        .execute("return window.tailMark;", vec![])
        .await
        .unwrap();
    assert_eq!(mark, json!(42), "the page was not reloaded");
    assert!(
        !b.client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains(&license.api_key),
        "the key never goes into a URL"
    );
    b.screenshot("live-tail").await;

    b.click(&format!("{row} a")).await;
    b.wait_text("main h1", &format!("Delivery {id}")).await;
    b.wait_text("#delivery-status", "succeeded").await;
    b.wait_text("#attempts", "HTTP 200").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_found_in_the_console_by_its_event_unique_id_and_by_its_chat() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "chat_started", &["chat"])
        .await;
    let mut ids = Vec::new();
    for (n, chat_id) in [(1, "C-one"), (2, "C-two"), (3, "C-three")] {
        server.event(&license, chat(n, chat_id)).await;
        let newest = server.deliveries(&license, "limit=1").await;
        ids.push(newest[0]["id"].as_str().unwrap().to_string());
    }
    let b = Browser::start().await;
    sign_in(&b, &server, &license).await;
    b.click("#nav a[data-section=deliveries]").await;
    b.wait_text("#deliveries", &ids[2]).await;
    assert_eq!(count(&b, "#deliveries tbody tr").await, 3);

    b.wait("#find-by")
        .await
        .select_by_value("chat_id")
        .await
        .unwrap();
    b.fill("#find-value", "C-two").await;
    b.click("#find-submit").await;
    wait_count(&b, "#deliveries tbody tr", 1).await;
    b.wait(&format!("#deliveries tr[data-delivery-id=\"{}\"]", ids[1]))
        .await;
    b.screenshot("find-by-chat").await;

    b.wait("#find-by")
        .await
        .select_by_value("event_unique_id")
        .await
        .unwrap();
    b.fill("#find-value", &format!("{:032x}", 3)).await;
    b.click("#find-submit").await;
    b.wait(&format!("#deliveries tr[data-delivery-id=\"{}\"]", ids[2]))
        .await;
    wait_count(&b, "#deliveries tbody tr", 1).await;
    assert_eq!(
        count(
            &b,
            &format!("#deliveries tr[data-delivery-id=\"{}\"]", ids[2])
        )
        .await,
        1
    );

    b.fill("#find-value", "C-nope").await;
    b.wait("#find-by")
        .await
        .select_by_value("chat_id")
        .await
        .unwrap();
    b.click("#find-submit").await;
    b.wait_text("main", "No deliveries match these filters.")
        .await;
    b.click("#find-clear").await;
    wait_count(&b, "#deliveries tbody tr", 3).await;
}

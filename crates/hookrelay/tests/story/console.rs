//! The web console as a person uses it, in a real headless Chromium: signing in, adding a
//! webhook whose data types follow the support matrix, watching a delivery fail against a
//! receiver answering 500, redelivering it once the receiver recovers; the admin's license
//! picker, "Send test", disabling and deleting; stored text shown as text, never run; and
//! signed webhooks: the "Sign requests" switch, the secret shown once, rotating it; and
//! "Resend failed…", the bulk recovery that counts before it resends.

use fantoccini::Locator;
use livechat_webhooks::EventType;
use serde_json::json;

use crate::browser::Browser;
use crate::harness::{TestLicense, TestServer, ADMIN};
use crate::receiver::{Answer, Hit, Receiver};
use crate::recovery::{two_failing_webhooks, visitors_answered};
use crate::signing::check;

/// Signs in with a license's id and API key and waits for the webhooks page.
pub(crate) async fn sign_in_as_license(b: &Browser, server: &TestServer, id: &str, key: &str) {
    b.client.goto(&server.url("/")).await.unwrap();
    b.fill("#license-id", id).await;
    b.fill("#api-key", key).await;
    b.click("#sign-in").await;
    b.wait_text("main h1", "Webhooks").await;
}

/// How many elements match a CSS selector right now.
pub(crate) async fn count(b: &Browser, css: &str) -> usize {
    b.client.find_all(Locator::Css(css)).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sees_a_delivery_fail_and_redelivers_it_from_the_console_once_the_target_recovers() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Status(500));
    let b = Browser::start().await;

    sign_in_as_license(&b, &server, &license.id, &license.api_key).await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/console", "/ redirects to the console");
    assert!(
        !url.as_str().contains(&license.api_key),
        "the key never appears in a URL: {url}"
    );
    b.wait_text("main", "No webhooks yet.").await;

    // Add a chat_started webhook: ticket cannot be chosen for it, chat and visitor can.
    b.click("#add-webhook").await;
    b.fill("#wh-url", &format!("{}/livechat", receiver.url))
        .await;
    b.wait("#wh-event")
        .await
        .select_by_value("chat_started")
        .await
        .unwrap();
    assert!(!b.wait("#wh-dt-ticket").await.is_enabled().await.unwrap());
    assert!(b.wait("#wh-dt-chat").await.is_enabled().await.unwrap());
    b.click("#wh-dt-chat").await;
    b.click("#wh-dt-visitor").await;
    b.click("#wh-save").await;
    b.wait_text("#webhooks", "chat_started").await;
    b.wait_text("#webhooks", "chat, visitor").await;
    b.screenshot("webhooks").await;

    // The producer posts an event; every attempt is answered 500 until the retries run out.
    let accepted = server
        .event(
            &license,
            json!({"event_type": "chat_started", "chat": {"id": "C1", "tags": []},
                   "visitor": {"id": "S1", "name": "Mary Brown", "email": "mary.brown@email.com"}}),
        )
        .await;
    assert_eq!(accepted["deliveries"], 1);
    let id = server.only_delivery_id(&license).await;
    server
        .wait_status(&license, &id, "failed", std::time::Duration::from_secs(10))
        .await;

    b.click("#nav a[data-section=deliveries]").await;
    b.wait_text("#deliveries", "failed").await;
    b.click(&format!("#deliveries tr[data-delivery-id={id}] a"))
        .await;
    b.wait_text("#delivery-status", "failed").await;
    let attempts = b.wait_text("#attempts", "HTTP 500").await;
    assert_eq!(count(&b, "#attempts .attempt").await, 4, "{attempts}");
    b.wait_text("main", "\"email\": \"mary.brown@email.com\"")
        .await;

    // The receiver recovers; Redeliver makes a fifth attempt, which succeeds.
    receiver.answer(Answer::Status(200));
    b.click("#redeliver").await;
    b.wait_text("#delivery-status", "succeeded").await;
    b.wait_text("#attempts .attempt:first-child", "HTTP 200")
        .await;
    assert_eq!(count(&b, "#attempts .attempt").await, 5);
    let shot = b.screenshot("delivery-redelivered").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "{shot:?}");

    let hits = receiver.hits();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[4].answered, Some(200));
    assert_eq!(hits[4].body["visitor"]["email"], "mary.brown@email.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_picks_a_license_then_tests_disables_and_deletes_a_webhook_in_the_console() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "ticket_created", &["ticket"])
        .await;
    let b = Browser::start().await;

    b.client.goto(&server.url("/console")).await.unwrap();
    b.click("#mode-admin").await;
    b.fill("#admin-token", ADMIN).await;
    b.click("#sign-in").await;
    b.wait_text("main h1", "Choose a license").await;
    b.screenshot("license-picker").await;
    b.client
        .find(Locator::XPath(&format!(
            "//button[contains(., '{}')]",
            license.id
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_text("#webhooks", "ticket_created").await;

    // The form offers exactly the data types each event type carries.
    b.click("#add-webhook").await;
    let select = b.wait("#wh-event").await;
    for event in EventType::ALL {
        select.select_by_value(event.as_str()).await.unwrap();
        let mut enabled = Vec::new();
        for input in b
            .client
            .find_all(Locator::Css("input[name=data_types]"))
            .await
            .unwrap()
        {
            if input.is_enabled().await.unwrap() {
                enabled.push(input.attr("value").await.unwrap().unwrap());
            }
        }
        let expected: Vec<&str> = event
            .supported_data_types()
            .iter()
            .map(|d| d.as_str())
            .collect();
        assert_eq!(enabled, expected, "data types offered for {event:?}");
    }
    b.click("#webhook-form button[type=button]").await;

    // Send test shows the target's answer.
    b.click("#webhooks .send-test").await;
    b.wait_text("#test-outcome", "HTTP 200").await;
    b.wait_text("#test-result", "answer from the test receiver")
        .await;
    assert_eq!(receiver.hits().len(), 1);
    assert!(receiver.hits()[0].body["ticket"].is_object());

    b.click("#webhooks .toggle").await;
    b.wait_text("#webhooks", "disabled").await;
    let (_, list) = server
        .get(&format!("/v1/licenses/{}/webhooks", license.id), ADMIN)
        .await;
    assert_eq!(list["webhooks"][0]["enabled"], false);

    b.click("#webhooks .danger").await;
    let question = b.client.get_alert_text().await.unwrap();
    assert!(
        question.contains("Delete the ticket_created webhook"),
        "{question}"
    );
    b.client.accept_alert().await.unwrap();
    b.wait_text("main", "No webhooks yet.").await;
    let (_, list) = server
        .get(&format!("/v1/licenses/{}/webhooks", license.id), ADMIN)
        .await;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_text_is_shown_as_text_and_never_run_as_html() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let attack = "<img src=x onerror=\"document.title='pwned'\">";
    let (status, _) = server
        .post(
            &format!("/v1/licenses/{}/webhooks", license.id),
            &license.api_key,
            json!({"url": "http://user:s3cret@127.0.0.1:9/hook", "event_type": "visitor_queued",
                   "data_types": ["visitor"], "description": attack}),
        )
        .await;
    assert_eq!(status, 201);
    let b = Browser::start().await;
    sign_in_as_license(&b, &server, &license.id, &license.api_key).await;

    let shown = b.wait_text("#webhooks", attack).await;
    assert!(shown.contains("user:***@127.0.0.1"), "{shown}");
    assert_eq!(count(&b, "#webhooks img").await, 0);
    assert_ne!(b.client.title().await.unwrap(), "pwned");
    assert!(!b.client.source().await.unwrap().contains("s3cret"));
}

#[tokio::test]
async fn console_pages_carry_a_strict_content_security_policy() {
    let server = TestServer::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/console");
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/console.css", "text/css"),
        ("/console/support-matrix.json", "application/json"),
    ] {
        let r = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    let missing = client
        .get(server.url("/console/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_console_scripts_never_write_html_strings() {
    // Escaping rests on building the page with text nodes: no script may use innerHTML,
    // outerHTML, insertAdjacentHTML or document.write.
    let server = TestServer::start().await;
    for file in [
        "app.js",
        "api.js",
        "dom.js",
        "webhooks.js",
        "recovery.js",
        "deliveries.js",
        "visitors.js",
        "dashboard.js",
        "tail.js",
    ] {
        let text = reqwest::get(server.url(&format!("/console/{file}")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.len() > 500, "{file} is served");
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!text.contains(sink), "{file} uses {sink}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_whose_target_is_silent_shows_a_banner_saying_since_when_and_why() {
    let server = TestServer::start_with(|c| {
        c.retry_schedule = vec![std::time::Duration::from_secs(600); 3];
    })
    .await;
    let license = server.license().await;
    let dead = crate::receiver::refusing_target().await;
    let webhook = server.webhook(&license, &dead, "visitor_queued", &[]).await;
    for _ in 0..5 {
        server
            .event(
                &license,
                json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
            )
            .await;
    }
    server
        .wait_webhook(&license, &webhook, "the target never went silent", |w| {
            w["target_health"]["state"] == "silent"
        })
        .await;
    let b = Browser::start().await;
    sign_in_as_license(&b, &server, &license.id, &license.api_key).await;
    let banner = format!(".banner-silent[data-webhook-id=\"{webhook}\"]");
    let text = b.wait_text(&banner, "has not answered since").await;
    assert!(
        text.contains("could not connect"),
        "the last error is shown: {text}"
    );
    assert!(text.contains(&dead), "the URL is named: {text}");
    b.wait_text(
        &format!("#webhooks tr[data-webhook-id=\"{webhook}\"]"),
        "silent",
    )
    .await;
    b.screenshot("webhook-target-silent").await;
    // A healthy webhook of the same license gets no banner.
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "chat_started", &[])
        .await;
    b.client.refresh().await.unwrap();
    b.wait_text("#webhooks", "chat_started").await;
    assert_eq!(count(&b, ".banner-silent").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_hookrelay_disabled_shows_a_banner_with_the_reason_until_it_is_enabled() {
    let server = TestServer::start_with(|c| {
        c.disable_after = std::time::Duration::from_millis(500);
        c.retry_schedule = vec![std::time::Duration::from_millis(100); 30];
    })
    .await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Status(503));
    let webhook = server
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
        )
        .await;
    server
        .wait_webhook(&license, &webhook, "the webhook was never disabled", |w| {
            w["enabled"] == false
        })
        .await;
    let b = Browser::start().await;
    sign_in_as_license(&b, &server, &license.id, &license.api_key).await;
    let banner = format!(".banner-disabled[data-webhook-id=\"{webhook}\"]");
    let text = b
        .wait_text(&banner, "hookrelay disabled the visitor_queued webhook")
        .await;
    assert!(
        text.contains("HTTP 503"),
        "the last status is shown: {text}"
    );
    assert!(text.contains("no HTTP 200 from"), "since when: {text}");
    let row = format!("#webhooks tr[data-webhook-id=\"{webhook}\"]");
    b.wait_text(&row, "auto-disabled").await;
    b.screenshot("webhook-auto-disabled").await;
    // Enabling it clears the reason, and the banner goes.
    receiver.answer(Answer::Status(200));
    b.click(&format!("{row} .toggle")).await;
    b.wait_text(&row, "enabled").await;
    assert_eq!(count(&b, ".banner-disabled").await, 0);
    server
        .wait_webhook(&license, &webhook, "the reason stayed", |w| {
            w["disabled_reason"].is_null()
        })
        .await;
}

/// The signing secret the once-only panel shows right now.
async fn secret_in_panel(b: &Browser) -> String {
    b.wait_text(
        "#signing-secret-panel",
        "Copy this signing secret now: it will not be shown again",
    )
    .await;
    b.wait("#signing-secret")
        .await
        .prop("value")
        .await
        .unwrap()
        .expect("the panel's field holds the secret")
}

/// Posts a chat_started event for chat `chat_id` and returns the request it made the receiver get.
async fn chat_started_hit(
    server: &TestServer,
    license: &TestLicense,
    receiver: &Receiver,
    chat_id: &str,
) -> Hit {
    let before = receiver.hits().len();
    server
        .event(
            license,
            json!({"event_type": "chat_started", "chat": {"id": chat_id, "tags": []}}),
        )
        .await;
    let hit = receiver
        .wait_for(before + 1, std::time::Duration::from_secs(10))
        .await
        .remove(before);
    assert_eq!(hit.body["chat"]["id"], chat_id);
    hit
}

/// What the page keeps in sessionStorage and localStorage, as text.
async fn storage(b: &Browser) -> String {
    b.client
        .execute(
            "return JSON.stringify(Object.assign({}, sessionStorage)) + JSON.stringify(Object.assign({}, localStorage));",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_adds_a_signed_webhook_copies_its_secret_once_and_rotates_it_with_a_grace_period() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let b = Browser::start().await;
    sign_in_as_license(&b, &server, &license.id, &license.api_key).await;

    // Add a chat_started webhook with "Sign requests" on.
    b.click("#add-webhook").await;
    b.wait_text("#wh-signing-hint", "Sign each request").await;
    b.fill("#wh-url", &format!("{}/signed", receiver.url)).await;
    b.wait("#wh-event")
        .await
        .select_by_value("chat_started")
        .await
        .unwrap();
    b.click("#wh-dt-chat").await;
    b.click("#wh-signing").await;
    b.wait_text("#wh-signing-hint", "The secret is shown once")
        .await;
    b.screenshot("webhook-form-signing").await;
    b.click("#wh-save").await;

    let secret = secret_in_panel(&b).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    b.wait_text("#signing-secret-panel", "chat_started").await;
    let (_, list) = server
        .get(
            &format!("/v1/licenses/{}/webhooks", license.id),
            &license.api_key,
        )
        .await;
    let webhook = list["webhooks"][0].clone();
    assert_eq!(webhook["signing"], true, "{list}");
    assert!(!list.to_string().contains(&secret), "never listed: {list}");
    let id = webhook["id"].as_str().unwrap().to_string();
    let row = format!("#webhooks tr[data-webhook-id=\"{id}\"]");
    b.wait_text(&row, "signed").await;

    // Copy: the clipboard of this secure context, or the secret selected for Ctrl+C.
    b.click("#copy-secret").await;
    b.wait_text("#copy-status", "Copied to the clipboard.")
        .await;
    assert!(
        !storage(&b).await.contains(&secret),
        "the secret is never stored"
    );
    let shot = b.screenshot("webhook-signing-secret").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "{shot:?}");

    // A delivery verifies with the secret the console showed.
    let hit = chat_started_hit(&server, &license, &receiver, "C1").await;
    check(&hit, &[&secret], &hit.raw).expect("signed with the secret the console showed");

    // Dismissed, the secret is nowhere in the page any more.
    assert!(b.client.source().await.unwrap().contains(&secret));
    b.click("#dismiss-secret").await;
    assert_eq!(count(&b, "#signing-secret-panel").await, 0);
    assert!(!b.client.source().await.unwrap().contains(&secret));
    assert!(!storage(&b).await.contains(&secret));

    // Rotate, keeping the old secret valid for 1 hour.
    b.click(&format!("{row} .rotate-secret")).await;
    let grace = b.wait("#rotate-grace").await;
    assert_eq!(
        grace.prop("value").await.unwrap().as_deref(),
        Some("24h"),
        "24 h is the default"
    );
    grace.select_by_value("1h").await.unwrap();
    b.screenshot("webhook-rotate-form").await;
    b.click("#rotate-confirm").await;
    b.wait_text("#signing-secret-panel", "New signing secret")
        .await;
    let rotated = secret_in_panel(&b).await;
    assert!(rotated.starts_with("whsec_"), "{rotated}");
    assert_ne!(rotated, secret);
    b.wait_text(
        "#previous-validity",
        "The previous secret stays valid until",
    )
    .await;
    let until = b
        .wait("#previous-validity time")
        .await
        .attr("datetime")
        .await
        .unwrap()
        .unwrap();
    let until = humantime::parse_rfc3339_weak(&until).unwrap();
    let left = until
        .duration_since(std::time::SystemTime::now())
        .expect("still valid");
    assert!(
        left > std::time::Duration::from_secs(3500) && left <= std::time::Duration::from_secs(3600),
        "the 1 h grace chosen: {left:?}"
    );
    assert_eq!(
        count(&b, "#rotate-form").await,
        0,
        "the rotation form closed"
    );
    let shot = b.screenshot("webhook-rotate").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "{shot:?}");

    // The next delivery carries a signature with each: it verifies with the old and the new one.
    let hit = chat_started_hit(&server, &license, &receiver, "C2").await;
    check(&hit, &[&secret], &hit.raw).expect("the old secret is valid during its grace");
    check(&hit, &[&rotated], &hit.raw).expect("the new secret signs too");

    b.click("#dismiss-secret").await;
    let source = b.client.source().await.unwrap();
    assert!(!source.contains(&rotated) && !source.contains(&secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_is_turned_on_and_off_in_the_edit_form_and_copy_falls_back_to_selecting_the_secret()
{
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let id = server
        .webhook(&license, &receiver.url, "chat_started", &["chat"])
        .await;
    let row = format!("#webhooks tr[data-webhook-id=\"{id}\"]");
    let b = Browser::start().await;
    sign_in_as_license(&b, &server, &license.id, &license.api_key).await;
    b.wait_text(&row, "enabled").await;
    assert!(!b.wait(&row).await.text().await.unwrap().contains("signed"));
    assert_eq!(count(&b, &format!("{row} .rotate-secret")).await, 0);

    // Edit: turn "Sign requests" on; the answer's secret is shown once.
    b.click(&format!("{row} button.edit")).await;
    b.wait_text("#wh-title", "Edit webhook").await;
    assert!(!b.wait("#wh-signing").await.is_selected().await.unwrap());
    b.click("#wh-signing").await;
    b.click("#wh-save").await;
    let secret = secret_in_panel(&b).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    b.wait_text(&row, "signed").await;
    b.wait(&format!("{row} .rotate-secret")).await;

    // Without a clipboard (e.g. the console served over plain HTTP), Copy selects the secret.
    b.client
        .execute(
            "Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true});",
            vec![],
        )
        .await
        .unwrap();
    b.click("#copy-secret").await;
    b.wait_text("#copy-status", "The secret is selected: press Ctrl+C")
        .await;
    let selected = b
        .client
        .execute(
            "const f = document.activeElement; return [f.id, f.value.substring(f.selectionStart, f.selectionEnd)];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(selected, json!(["signing-secret", secret]));

    let hit = chat_started_hit(&server, &license, &receiver, "C1").await;
    check(&hit, &[&secret], &hit.raw).expect("signed with the secret shown on edit");
    b.click("#dismiss-secret").await;
    assert!(!b.client.source().await.unwrap().contains(&secret));

    // A rotation with no grace (the secret leaked): the old secret stops at once.
    b.click(&format!("{row} .rotate-secret")).await;
    b.wait("#rotate-grace")
        .await
        .select_by_value("0s")
        .await
        .unwrap();
    b.click("#rotate-confirm").await;
    b.wait_text(
        "#previous-validity",
        "The previous secret is no longer valid",
    )
    .await;
    let rotated = secret_in_panel(&b).await;
    assert_ne!(rotated, secret);
    let hit = chat_started_hit(&server, &license, &receiver, "C2").await;
    check(&hit, &[&rotated], &hit.raw).expect("signed with the new secret");
    assert!(
        check(&hit, &[&secret], &hit.raw).is_err(),
        "the leaked secret no longer verifies"
    );
    b.click("#dismiss-secret").await;

    // The edit form of a signing webhook warns that turning it off deletes the secret.
    b.click(&format!("{row} button.edit")).await;
    assert!(b.wait("#wh-signing").await.is_selected().await.unwrap());
    b.click("#wh-signing").await;
    b.wait_text("#wh-signing-hint", "Turning this off deletes the secret")
        .await;
    b.click("#wh-save").await;
    b.wait_text("#notice", "Webhook saved.").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        // The list is rebuilt after the save: a row read just as it is replaced is read again.
        match b.wait(&row).await.text().await {
            Ok(text) if !text.contains("signed") => break,
            _ => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the signed badge stays"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count(&b, &format!("{row} .rotate-secret")).await, 0);
    assert_eq!(
        count(&b, "#signing-secret-panel").await,
        0,
        "no secret when turned off"
    );
    let (_, shown) = server
        .get(
            &format!("/v1/licenses/{}/webhooks/{id}", license.id),
            &license.api_key,
        )
        .await;
    assert_eq!(shown["signing"], false, "{shown}");
    let hit = chat_started_hit(&server, &license, &receiver, "C3").await;
    assert!(
        hit.headers.get("webhook-signature").is_none(),
        "{:?}",
        hit.headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_counts_then_resends_the_failed_deliveries_of_a_webhook_from_the_console() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let (receiver, bystander, webhook) = two_failing_webhooks(&server, &license).await;
    for visitor in ["S1", "S2", "S3"] {
        server
            .event(
                &license,
                json!({"event_type": "visitor_queued", "visitor": {"id": visitor}}),
            )
            .await;
    }
    let secs = std::time::Duration::from_secs(10);
    server
        .wait_deliveries(&license, "status=failed", secs, "all failed", |l| {
            l.len() == 6
        })
        .await;
    server.wait_idle().await;
    assert_eq!(receiver.hits().len(), 12);

    let b = Browser::start().await;
    sign_in_as_license(&b, &server, &license.id, &license.api_key).await;
    let row = format!("#webhooks tr[data-webhook-id=\"{webhook}\"]");
    b.click(&format!("{row} .recover-failed")).await;
    b.wait("#recover-since").await;
    let ago = b
        .client
        .execute(
            "return Date.now() - new Date(document.getElementById('recover-since').value).getTime();",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    let day = 24.0 * 3600.0 * 1000.0;
    assert!(
        (day..day + 120_000.0).contains(&ago),
        "24 hours ago by default: {ago} ms"
    );

    // A time in the future is refused by the server, and the form says why.
    b.client
        .execute(
            "document.getElementById('recover-since').value = '2999-01-01T00:00';",
            vec![],
        )
        .await
        .unwrap();
    b.click("#recover-count").await;
    b.wait_text("#recover-form .error", "must not be later than")
        .await;
    assert_eq!(count(&b, "#recover-confirm").await, 0);

    // Reopened with its default: the count comes first, and nothing is sent yet.
    b.click(&format!("{row} .recover-failed")).await;
    assert_eq!(
        count(&b, "#recover-form").await,
        0,
        "the same button closes it"
    );
    b.click(&format!("{row} .recover-failed")).await;
    b.click("#recover-count").await;
    b.wait_text("#recover-count-text", "3 failed deliveries will be resent")
        .await;
    b.wait_text("#recover-confirm", "Resend all 3").await;
    let shot = b.screenshot("recover-failed").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "{shot:?}");
    server.wait_idle().await;
    assert_eq!(receiver.hits().len(), 12, "counting sends nothing");

    // The target answers again; confirming resends the three, once each.
    receiver.answer(Answer::Status(200));
    b.click("#recover-confirm").await;
    b.wait_text("#recover-result", "3 failed deliveries are being resent")
        .await;
    receiver.wait_for(15, secs).await;
    server
        .wait_deliveries(
            &license,
            &format!("webhook_id={webhook}&status=succeeded"),
            secs,
            "the recovered deliveries succeed",
            |l| l.len() == 3,
        )
        .await;
    server.wait_idle().await;
    let mut resent = visitors_answered(&receiver, 200);
    resent.sort();
    assert_eq!(resent, ["S1", "S2", "S3"], "each resent once");
    assert_eq!(
        bystander.hits().len(),
        12,
        "the other webhook's are left alone"
    );
    let pending = b
        .wait("#recover-result a")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        pending,
        format!("#/deliveries?webhook_id={webhook}&status=pending")
    );
}

//! hookrelay's signatures checked by libraries nobody here wrote: the official Standard Webhooks
//! verifiers from PyPI and npm (`standardwebhooks`, installed under `target/verifiers/` by
//! `scripts/setup-verifiers.sh`) must accept every request the real server signed (a first
//! attempt, a retry, a resend, and requests during a rotation, with either secret) and reject the
//! same requests with a changed body or a wrong secret.

use hookrelay_story::story;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::TestServer;
use crate::receiver::{Answer, Hit, Receiver};
use crate::signing::signing_webhook;

const SECS: Duration = Duration::from_secs(10);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One case for the verifier scripts: this request, this secret, and whether it must pass.
fn case(name: &str, hit: &Hit, body: &[u8], secret: &str, expect: bool) -> Value {
    let headers: serde_json::Map<String, Value> = hit
        .headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("webhook-") || k.as_str() == "content-type")
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    json!({
        "name": name,
        "secret": secret,
        "headers": headers,
        "body_b64": base64::engine::general_purpose::STANDARD.encode(body),
        "expect": expect,
    })
}

/// The request with one byte of its body changed.
fn tampered(hit: &Hit) -> Vec<u8> {
    let mut body = hit.raw.to_vec();
    let at = body.len() / 2;
    body[at] = if body[at] == b'x' { b'y' } else { b'x' };
    body
}

/// Runs one verifier script over `cases`; panics with its output unless every verdict matched.
fn run_verifier(program: &Path, script: &str, cases: &Path, env: &[(&str, PathBuf)]) -> String {
    let mut command = Command::new(program);
    command
        .arg(repo_root().join("scripts/verifiers").join(script))
        .arg(cases);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "running {}: {e} (run scripts/setup-verifiers.sh)",
            program.display()
        )
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} disagreed:\n{text}");
    text
}

#[story]
async fn the_official_standard_webhooks_libraries_accept_every_signed_request_and_reject_tampering()
{
    let verifiers = repo_root().join("target/verifiers");
    let python = verifiers.join("venv/bin/python");
    let node_modules = verifiers.join("node/node_modules");
    for needed in [&python, &node_modules.join("standardwebhooks")] {
        assert!(
            needed.exists(),
            "{} is missing: run scripts/setup-verifiers.sh",
            needed.display()
        );
    }

    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::Status(503)]);
    let (id, first) = signing_webhook(&server, &license, &receiver.url).await;

    // A first attempt refused, then its retry.
    server
        .event(
            &license,
            json!({"event_type": "chat_started", "chat": {"id": "C1", "tags": ["ünïcode ✓"]}}),
        )
        .await;
    receiver.wait_for(2, SECS).await;
    server.wait_idle().await;
    // A resend.
    let delivery = server.only_delivery_id(&license).await;
    let (status, body) = server.resend(&license, &delivery).await;
    assert!(status.is_success(), "{status} {body}");
    receiver.wait_for(3, SECS).await;
    // During a rotation: signed with both secrets.
    let (status, rotated) = server
        .post(
            &format!("/v1/licenses/{}/webhooks/{id}/signing-secret", license.id),
            &license.api_key,
            json!({"grace": "1h"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second = rotated["signing_secret"].as_str().unwrap().to_string();
    server
        .event(
            &license,
            json!({"event_type": "chat_started", "chat": {"id": "C2", "tags": []}}),
        )
        .await;
    let hits = receiver.wait_for(4, SECS).await;

    let wrong = hookrelay::domain::signing::new_secret().to_whsec();
    let mut cases = Vec::new();
    for (name, hit, secrets) in [
        ("first attempt", &hits[0], vec![&first]),
        ("retry", &hits[1], vec![&first]),
        ("resend", &hits[2], vec![&first]),
        ("during rotation", &hits[3], vec![&first, &second]),
    ] {
        for secret in secrets {
            cases.push(case(
                &format!("{name} is valid"),
                hit,
                &hit.raw,
                secret,
                true,
            ));
            cases.push(case(
                &format!("{name} with a changed body"),
                hit,
                &tampered(hit),
                secret,
                false,
            ));
        }
        cases.push(case(
            &format!("{name} with a wrong secret"),
            hit,
            &hit.raw,
            &wrong,
            false,
        ));
    }
    assert_eq!(
        hits[0].headers["webhook-id"], hits[2].headers["webhook-id"],
        "one message id per event"
    );
    let file = server.dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases).unwrap()).unwrap();

    let from_pypi = run_verifier(&python, "verify.py", &file, &[]);
    let from_npm = run_verifier(
        Path::new("node"),
        "verify.js",
        &file,
        &[("NODE_PATH", node_modules)],
    );
    for output in [from_pypi, from_npm] {
        assert!(
            output.contains(&format!("{} cases, 0 wrong", cases.len())),
            "{output}"
        );
    }
}

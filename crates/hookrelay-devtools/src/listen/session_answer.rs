//! What `listen --server` does with what the server sends: the Ready line, the local `listen`
//! handler the session's pushes go through, and each push handled as a POST to it, its answer
//! turned into the acknowledgement the server records as the attempt's outcome.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use hookrelay_receiver::Verifier;
use tower::ServiceExt as _;

use super::handler::{self, ForwardFailed, PushLabel};
use super::stats::Stats;
use super::{Config, ListenArgs};
use crate::session_protocol::{Ack, Push, Ready};
use crate::signing::parse_secrets;
use crate::Output;

/// How much of the local answer's body goes back to the server.
const ACK_BODY: usize = 1024;

/// The Ready line: what is listened to, where it goes, and the secret to verify with.
pub(super) fn announce(out: &Output, ready: &Ready, args: &ListenArgs, before: Option<&str>) {
    let events: Vec<&str> = ready
        .webhooks
        .iter()
        .map(|w| w.event_type.as_str())
        .collect();
    let to = super::session::forward_shown(args)
        .map(|u| format!("forwarding to {u}"))
        .unwrap_or_else(|| "printing them".into());
    let again = match (before, ready.resumed) {
        (Some(_), true) => ", reconnected: missed deliveries follow",
        (None, true) => ", took up the earlier session: missed deliveries follow",
        (Some(_), false) => ", a new session (the earlier one had ended)",
        (None, false) => "",
    };
    out.line(format!(
        "Ready! License {}: {} ({}), {to}. Session {}{again}. Press Ctrl-C to stop.",
        ready.license_id,
        events.join(", "),
        events.len(),
        ready.session_id
    ));
    if let Some(secret) = &ready.signing_secret {
        out.line(format!(
            "Your webhook signing secret is {secret} (verify the webhook-signature header with it)"
        ));
    }
}

/// The `listen` handler for this session: the arguments' behaviour, checking signatures with
/// `--signing-secret` or, without it, the session's own secret.
pub(super) fn local_app(
    args: &ListenArgs,
    given: &[hookrelay_receiver::SigningSecret],
    ready: &Ready,
    stats: &Arc<Stats>,
    out: &Output,
) -> anyhow::Result<axum::Router> {
    let mut config = Config::from_args(args)?;
    if given.is_empty() {
        if let Some(secret) = &ready.signing_secret {
            let secrets = parse_secrets(std::slice::from_ref(secret))?;
            config.signatures = secrets.into_iter().next().map(Verifier::new);
        }
    }
    Ok(handler::router(handler::State {
        config: Arc::new(config),
        stats: stats.clone(),
        out: out.clone(),
    }))
}

/// Handles one push as a POST to `listen`, and turns the answer into its acknowledgement.
pub(super) async fn answer(app: axum::Router, push: Push) -> Ack {
    let mut request = Request::post("/");
    for (name, value) in &push.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let label = match (push.delivery_id.as_str(), push.attempt) {
        ("", _) => "test send".to_string(),
        (id, 1) => id.to_string(),
        (id, n) => format!("{id} attempt {n}"),
    };
    let request = request
        .extension(PushLabel(label))
        .body(Body::from(push.body));
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            return no_answer(
                push.push_id,
                format!("the pushed request was not valid: {e}"),
            )
        }
    };
    let response = match app.oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if let Some(ForwardFailed(why)) = response.extensions().get::<ForwardFailed>() {
        return no_answer(push.push_id, why.clone());
    }
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let mut text = String::from_utf8_lossy(&body[..body.len().min(ACK_BODY)]).into_owned();
    text.retain(|c| c != '\u{FFFD}');
    Ack {
        push_id: push.push_id,
        status: Some(status),
        body: (!text.is_empty()).then_some(text),
        error: None,
    }
}

fn no_answer(push_id: u64, error: String) -> Ack {
    Ack {
        push_id,
        status: None,
        body: None,
        error: Some(error),
    }
}

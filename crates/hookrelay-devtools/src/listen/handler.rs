//! One request to `listen`: authenticate, check the signature, parse, print, then answer as told
//! (forced status, deliberate failure, delay, or the developer's app's own answer).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hookrelay_receiver::signature::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use hookrelay_receiver::{parse_payload, WebhookPayload, WebhookRejection};

use super::stats::{Outcome, Stats};
use super::Config;
use crate::trigger::{error_chain, shorten};
use crate::Output;

/// The most of the forward target's answer that is kept (and passed back to the sender).
const MAX_FORWARD_ANSWER: usize = 1 << 20;
/// How much of a body is printed on a line.
const SHOWN_BYTES: usize = 300;

#[derive(Clone)]
pub(crate) struct State {
    pub(crate) config: Arc<Config>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) out: Output,
}

/// Set on a request pushed by a hookrelay server (`listen --server`): shown on its line.
#[derive(Debug, Clone)]
pub(crate) struct PushLabel(pub(crate) String);

/// Set on an answer when `--forward-to` gave none: the reason (a server records no answer, not
/// this command's 502).
#[derive(Debug, Clone)]
pub(crate) struct ForwardFailed(pub(crate) String);

/// Every path and method lands in one handler, so any webhook URL path works.
pub(crate) fn router(state: State) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(
    AxumState(state): AxumState<State>,
    method: Method,
    uri: Uri,
    label: Option<axum::Extension<PushLabel>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = humantime::format_rfc3339_seconds(SystemTime::now());
    let label = label.map(|l| format!("  {}", l.0 .0)).unwrap_or_default();
    let State { config, stats, out } = &state;

    if method != Method::POST {
        stats.arrived(Outcome::Invalid);
        stats.answered(405);
        out.line(format!(
            "{now}  {method} {uri}  <-- [405] webhooks are POST requests"
        ));
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if let Err(rejection) = config.receiver.authorize(&headers) {
        stats.arrived(Outcome::Unauthorized);
        stats.answered(401);
        let why = if headers.contains_key(header::AUTHORIZATION) {
            "wrong"
        } else {
            "no"
        };
        out.line(format!(
            "{now}  POST {uri}  <-- [401] {why} Basic credentials"
        ));
        return rejection.into_response();
    }
    // Checked before the forced answers: a sender must see its bad signature, not a 500 it
    // would retry.
    let signature = config
        .signatures
        .as_ref()
        .map(|verifier| verifier.verify(&headers, &body));
    let mark = match &signature {
        None => String::new(),
        Some(Ok(())) => "  signature ok".to_owned(),
        Some(Err(why)) => format!("  signature INVALID ({why})"),
    };
    if let Some(Err(why)) = signature {
        stats.arrived(Outcome::Unauthorized);
        stats.answered(401);
        let what = match parse_payload(&body) {
            Ok(payload) => describe(&payload),
            Err(_) => format!("POST {uri}"),
        };
        out.line(format!("{now}  {what}{mark}  <-- [401]"));
        return WebhookRejection::InvalidSignature(why).into_response();
    }
    let payload = match parse_payload(&body) {
        Ok(payload) => payload,
        Err(rejection) => {
            stats.arrived(Outcome::Invalid);
            stats.answered(400);
            out.line(format!("{now}  POST {uri}{mark}  <-- [400] {rejection}"));
            if config.json {
                out.line(shorten(&String::from_utf8_lossy(&body), SHOWN_BYTES));
            }
            return rejection.into_response();
        }
    };

    let number = stats.arrived(Outcome::Webhook);
    if !config.delay.is_zero() {
        tokio::time::sleep(config.delay).await;
    }
    let (answer, note) = if number < config.fail_first {
        let note = format!(
            "  (failing on purpose, {} of {})",
            number + 1,
            config.fail_first
        );
        (
            plain(config.fail_status, "hookrelay listen: failing on purpose"),
            note,
        )
    } else if let Some((target, client)) = &config.forward {
        forward(client, target, &headers, body.clone(), stats).await
    } else {
        (plain(config.status, "OK"), String::new())
    };

    let status = answer.status().as_u16();
    stats.answered(status);
    out.line(format!(
        "{now}  {}{label}{mark}  <-- [{status}]{note}",
        describe(&payload)
    ));
    if config.json {
        let pretty = serde_json::from_slice::<serde_json::Value>(&body)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_default();
        out.line(pretty);
    }
    answer
}

/// `chat_started  [8f2b…]  license 1025707  chat, visitor, pre_chat_survey`
fn describe(payload: &WebhookPayload) -> String {
    let present = [
        ("chat", payload.chat.is_some()),
        ("visitor", payload.visitor.is_some()),
        ("pre_chat_survey", payload.pre_chat_survey.is_some()),
        ("ticket", payload.ticket.is_some()),
        ("canned_response", payload.canned_response.is_some()),
        ("webhook", payload.webhook.is_some()),
        ("delivery", payload.delivery.is_some()),
    ];
    let data_types: Vec<&str> = present
        .iter()
        .filter(|(_, p)| *p)
        .map(|(n, _)| *n)
        .collect();
    let data_types = if data_types.is_empty() {
        "no data types".to_owned()
    } else {
        data_types.join(", ")
    };
    format!(
        "{:<23} [{}]  license {}  {data_types}",
        payload.event_type.as_str(),
        payload
            .event_unique_id
            .as_deref()
            .unwrap_or("no event_unique_id"),
        payload.license_id,
    )
}

fn plain(status: u16, text: &'static str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, text).into_response()
}

/// Relays the webhook to the developer's app; its answer becomes ours (502 when it gives none).
async fn forward(
    client: &reqwest::Client,
    target: &crate::target::Target,
    headers: &HeaderMap,
    body: Bytes,
    stats: &Stats,
) -> (Response, String) {
    let mut request = client.post(target.url.clone()).body(body);
    // The signature headers too, so the app can verify what it gets (the body is passed on
    // unchanged, so the signature still holds).
    let passed_on = [
        header::CONTENT_TYPE,
        header::USER_AGENT,
        HeaderName::from_static(HEADER_ID),
        HeaderName::from_static(HEADER_TIMESTAMP),
        HeaderName::from_static(HEADER_SIGNATURE),
    ];
    for name in passed_on {
        if let Some(value) = headers.get(&name) {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let authorization = target.authorization.as_deref().map(str::as_bytes);
    if let Some(value) = authorization.or(headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes))
    {
        request = request.header(header::AUTHORIZATION.as_str(), value);
    }
    let started = Instant::now();
    let outcome = match request.send().await {
        Ok(response) => read_answer(response).await,
        Err(error) => Err(error),
    };
    let ms = started.elapsed().as_millis();
    match outcome {
        Ok((status, content_type, answer)) => {
            let shown = shorten(&String::from_utf8_lossy(&answer), SHOWN_BYTES);
            let note = format!("  (your app answered in {ms} ms: {})", shown.trim());
            let mut response = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                answer,
            )
                .into_response();
            if let Some(content_type) = content_type {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, content_type);
            }
            (response, note)
        }
        Err(error) => {
            stats.forward_failed();
            let why = error_chain(&error);
            let note = format!(
                "  (forwarding to {} failed after {ms} ms: {why})",
                target.url
            );
            let mut response = (
                StatusCode::BAD_GATEWAY,
                format!("hookrelay listen: forwarding failed: {why}"),
            )
                .into_response();
            response
                .extensions_mut()
                .insert(ForwardFailed(format!("{}: {why}", target.url)));
            (response, note)
        }
    }
}

/// The app's status, content type and at most [`MAX_FORWARD_ANSWER`] bytes of its body.
async fn read_answer(
    mut response: reqwest::Response,
) -> Result<(u16, Option<HeaderValue>, Vec<u8>), reqwest::Error> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_FORWARD_ANSWER - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_FORWARD_ANSWER {
            break;
        }
    }
    Ok((status, content_type, body))
}

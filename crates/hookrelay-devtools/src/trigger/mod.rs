//! `hookrelay trigger`: send one realistic sample webhook (or a file) straight to a URL, the
//! way hookrelay's sender would (signed, when given a secret), and print the request and the
//! answer.

mod body;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use livechat_webhooks::signature::SigningSecret;
use livechat_webhooks::{sample, DataTypes, EventType};
use serde_json::Value;

pub use body::{apply_override, fresh_event_id, OverrideError};

use crate::signing::{parse_secrets, signature_headers};
use crate::target::{http_client, Target};
use crate::Output;

/// How much of a response body is printed.
const SHOWN_RESPONSE_BYTES: usize = 4096;

/// `hookrelay trigger <EVENT_TYPE> --to URL`
#[derive(Debug, Clone, clap::Args)]
pub struct TriggerArgs {
    /// The event to send: visitor_queued, chat_started, chat_ended, chat_changed,
    /// ticket_created, canned_response_changed, or one of hookrelay's operational events
    /// (webhook_disabled, delivery_failed). Optional with --file.
    #[arg(value_name = "EVENT_TYPE", required_unless_present = "file")]
    pub event_type: Option<EventType>,

    /// Where to send it. `https://user:password@host/path` sends the credentials as HTTP Basic
    /// auth, as LiveChat does.
    #[arg(long, value_name = "URL")]
    pub to: String,

    /// Only these data types (comma-separated; `none` for none). Default: every data type the
    /// event supports.
    #[arg(
        long,
        value_name = "TYPES",
        value_delimiter = ',',
        conflicts_with = "file"
    )]
    pub data_types: Vec<String>,

    /// The license_id in the body (default: the seed's 1025707).
    #[arg(long, value_name = "ID")]
    pub license_id: Option<String>,

    /// The token in the body (default: the seed's example token).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Change one field of the body, e.g. `--set visitor.email=a@b.c` or
    /// `--set chat.messages.0.text=Hi`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub overrides: Vec<String>,

    /// Send this JSON file as the body instead of the sample (overrides still apply).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Send this many events, each with a fresh event_unique_id.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Sign each webhook with this secret, `whsec_…`, as a hookrelay webhook with signing on
    /// does (Standard Webhooks): `webhook-id` is the body's event_unique_id, `webhook-timestamp`
    /// the time of sending, `webhook-signature` the HMAC of exactly the bytes sent. Repeat it to
    /// sign with several secrets, as during a rotation.
    #[arg(long = "signing-secret", value_name = "WHSEC")]
    pub signing_secrets: Vec<String>,
}

impl TriggerArgs {
    /// Arguments for sending `event_type` to `to` with every default.
    pub fn new(event_type: EventType, to: impl Into<String>) -> TriggerArgs {
        TriggerArgs {
            event_type: Some(event_type),
            to: to.into(),
            data_types: Vec::new(),
            license_id: None,
            token: None,
            overrides: Vec::new(),
            file: None,
            repeat: 1,
            signing_secrets: Vec::new(),
        }
    }
}

/// What happened to the events sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerReport {
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Events that got no answer (connection refused, timeout).
    pub errors: u64,
}

impl TriggerReport {
    /// Whether every event was answered with 200, LiveChat's only success.
    pub fn all_succeeded(&self) -> bool {
        self.errors == 0 && self.statuses.keys().all(|&s| s == 200) && !self.statuses.is_empty()
    }
}

/// Runs `hookrelay trigger`, printing to standard output.
pub async fn trigger(args: TriggerArgs) -> anyhow::Result<TriggerReport> {
    trigger_with_output(args, &Output::stdout()).await
}

/// [`trigger`] writing to `out`. Fails before sending anything when the arguments are wrong;
/// a target that answers badly is reported in the [`TriggerReport`], not as an error.
pub async fn trigger_with_output(args: TriggerArgs, out: &Output) -> anyhow::Result<TriggerReport> {
    let destination = Destination {
        target: Target::parse(&args.to)?,
        secrets: parse_secrets(&args.signing_secrets)?,
        client: http_client()?,
    };
    let template = template_body(&args)?;
    let mut report = TriggerReport::default();
    for n in 0..args.repeat {
        let mut body = template.clone();
        body["event_unique_id"] = Value::String(fresh_event_id());
        for assignment in &args.overrides {
            apply_override(&mut body, assignment)?;
        }
        let verbose = n == 0;
        send_one(&destination, &body, verbose, out, &mut report).await;
    }
    if args.repeat > 1 {
        out.line(format!(
            "sent {} events: {}",
            args.repeat,
            describe(&report)
        ));
    }
    Ok(report)
}

/// The body before per-event changes: the sample (or file) with event type, license and token.
fn template_body(args: &TriggerArgs) -> anyhow::Result<Value> {
    let mut body = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", path.display()))?;
            anyhow::ensure!(
                value.is_object(),
                "{} must hold a JSON object",
                path.display()
            );
            value
        }
        None => {
            let event_type = args
                .event_type
                .context("an EVENT_TYPE is needed without --file")?;
            let wanted = match args.data_types.as_slice() {
                [] => DataTypes::all_for(event_type),
                [none] if none == "none" => DataTypes::EMPTY,
                names => DataTypes::parse_for(event_type, names.iter().map(|n| n.trim()))?,
            };
            sample::payload(event_type, wanted, sample::LICENSE_ID, sample::TOKEN)
        }
    };
    if let Some(event_type) = args.event_type {
        body["event_type"] = Value::String(event_type.to_string());
    }
    if let Some(license_id) = &args.license_id {
        body["license_id"] = Value::String(license_id.clone());
    }
    if let Some(token) = &args.token {
        body["token"] = Value::String(token.clone());
    }
    Ok(body)
}

/// Where events go and how: checked once, before the first is sent.
struct Destination {
    target: Target,
    /// Empty when the events are not signed.
    secrets: Vec<SigningSecret>,
    client: reqwest::Client,
}

async fn send_one(
    destination: &Destination,
    body: &Value,
    verbose: bool,
    out: &Output,
    report: &mut TriggerReport,
) {
    let Destination {
        target,
        secrets,
        client,
    } = destination;
    let event_type = body["event_type"].as_str().unwrap_or("?");
    let event_id = body["event_unique_id"].as_str().unwrap_or("?");
    // Signed and sent as the very same bytes.
    let sent = body.to_string();
    let signed = if secrets.is_empty() {
        None
    } else {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Some(signature_headers(secrets, body, sent.as_bytes(), now))
    };
    if verbose {
        let auth = target
            .user
            .as_deref()
            .map(|u| format!("  (Basic auth as {u})"))
            .unwrap_or_default();
        out.line(format!("--> POST {}{auth}", target.url));
        out.line("    Content-Type: application/json");
        out.line(format!("    User-Agent: {}", crate::target::USER_AGENT));
        for (name, value) in signed.iter().flatten() {
            out.line(format!("    {name}: {value}"));
        }
        out.line(serde_json::to_string_pretty(body).unwrap_or_default());
    }
    let mut request = client
        .post(target.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(sent);
    if let Some(authorization) = &target.authorization {
        request = request.header(reqwest::header::AUTHORIZATION, authorization);
    }
    for (name, value) in signed.into_iter().flatten() {
        request = request.header(name, value);
    }
    let started = Instant::now();
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let ms = started.elapsed().as_millis();
            *report.statuses.entry(status.as_u16()).or_default() += 1;
            let verdict = if status.as_u16() == 200 {
                "delivered"
            } else {
                "NOT delivered (LiveChat would retry)"
            };
            out.line(format!(
                "<-- [{}] {event_type} [{event_id}] in {ms} ms: {verdict}",
                status.as_u16()
            ));
            if verbose && !text.is_empty() {
                out.line(shorten(&text, SHOWN_RESPONSE_BYTES));
            }
        }
        Err(error) => {
            report.errors += 1;
            out.line(format!(
                "<-- no answer for {event_type} [{event_id}]: {}",
                error_chain(&error)
            ));
        }
    }
}

/// The error and its causes on one line ("error sending request: … : Connection refused").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// At most `limit` bytes of `text`, cut at a character boundary.
pub(crate) fn shorten(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

fn describe(report: &TriggerReport) -> String {
    let mut parts: Vec<String> = report
        .statuses
        .iter()
        .map(|(s, n)| format!("{n}× {s}"))
        .collect();
    if report.errors > 0 {
        parts.push(format!("{}× no answer", report.errors));
    }
    parts.join(", ")
}

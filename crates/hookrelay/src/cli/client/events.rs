//! `hookrelay events send`: one event to a license on a running server, from a JSON file or a
//! realistic sample (the same samples `hookrelay trigger` sends, built by `livechat_webhooks`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use livechat_webhooks::{sample, DataTypes, EventType};
use reqwest::Method;
use serde_json::Value;

use super::table;
use super::{run, Client, ClientError, Connection, Need};

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: EventsCommand,
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Post one event, as the chat system would: a JSON file (`-` for stdin) or a sample.
    Send(SendArgs),
}

#[derive(Debug, Args)]
struct SendArgs {
    /// A JSON event: {"event_type", "event_unique_id"?, "chat"?, "visitor"?, …}.
    #[arg(
        value_name = "FILE",
        required_unless_present = "sample",
        conflicts_with = "sample"
    )]
    file: Option<PathBuf>,
    /// Post a realistic sample of this event type instead (as `hookrelay trigger` sends).
    #[arg(long, value_name = "EVENT_TYPE")]
    sample: Option<EventType>,
    /// With --sample: only these data types (comma-separated). Default: all it supports.
    #[arg(long, value_name = "TYPES", value_delimiter = ',', requires = "sample")]
    data_types: Vec<String>,
    /// Change one field, e.g. `--set visitor.email=a@b.c`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    overrides: Vec<String>,
    /// Sent as the Idempotency-Key header: a repeat stores nothing and answers the first id.
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
}

pub fn main(args: EventsArgs) -> ExitCode {
    run(&args.connection, Need::License, |client| async move {
        match args.command {
            EventsCommand::Send(send_args) => send(&client, send_args).await,
        }
    })
}

async fn send(client: &Client, args: SendArgs) -> Result<(), ClientError> {
    let mut event = match (&args.file, args.sample) {
        (_, Some(event_type)) => sample_event(event_type, &args.data_types)?,
        (Some(path), None) => read_event(path)?,
        (None, None) => unreachable!("clap requires FILE or --sample"),
    };
    for assignment in &args.overrides {
        hookrelay_devtools::apply_override(&mut event, assignment)
            .map_err(|e| ClientError::Usage(e.to_string()))?;
    }
    let answer = client
        .send(
            Method::POST,
            &client.license_path("/events"),
            Some(event.to_string()),
            args.idempotency_key.as_deref(),
        )
        .await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let a = &answer.value;
    let deliveries = a["deliveries"].as_u64().unwrap_or(0);
    let plural = if deliveries == 1 {
        "delivery"
    } else {
        "deliveries"
    };
    if a["duplicate"] == true {
        println!(
            "Already stored as event {} (same Idempotency-Key): nothing new stored.",
            table::cell(&a["event_id"])
        );
    } else {
        println!(
            "Stored event {} ({}): {deliveries} {plural}.",
            table::cell(&a["event_id"]),
            table::cell(&event["event_type"])
        );
    }
    Ok(())
}

/// The sample webhook body less what the server adds itself (license_id, token), with a fresh
/// event_unique_id.
fn sample_event(event_type: EventType, names: &[String]) -> Result<Value, ClientError> {
    let wanted = match names {
        [] => DataTypes::all_for(event_type),
        names => DataTypes::parse_for(event_type, names.iter().map(|n| n.trim()))
            .map_err(|e| ClientError::Usage(format!("--data-types: {e}")))?,
    };
    let mut event = sample::payload(event_type, wanted, sample::LICENSE_ID, sample::TOKEN);
    if let Some(object) = event.as_object_mut() {
        object.remove("license_id");
        object.remove("token");
    }
    event["event_unique_id"] = Value::String(hookrelay_devtools::fresh_event_id());
    Ok(event)
}

fn read_event(path: &std::path::Path) -> Result<Value, ClientError> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| ClientError::Usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| ClientError::Usage(format!("{} is not JSON: {e}", path.display())))
}

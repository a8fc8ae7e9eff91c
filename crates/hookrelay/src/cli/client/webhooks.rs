//! `hookrelay webhooks …`: a license's webhooks on a running server (`/v1/licenses/{id}/webhooks`).
//!
//! Ids may be given whole or as the prefix the tables show; a prefix is resolved against the
//! license's list and must match exactly one webhook.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::table::{self, Table};
use super::{run, segment, Client, ClientError, Connection, Need};

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: WebhooksCommand,
}

#[derive(Debug, Subcommand)]
enum WebhooksCommand {
    /// List the license's webhooks.
    List,
    /// Create a webhook.
    Add(AddArgs),
    /// Change a webhook: only the flags given.
    Update(UpdateArgs),
    /// Delete a webhook (its pending deliveries fail).
    Rm { id: String },
    /// Enable a webhook (held deliveries go out).
    Enable { id: String },
    /// Disable a webhook (deliveries are held until it is enabled).
    Disable { id: String },
    /// Send a realistic sample to the webhook's URL now and show the answer.
    Test { id: String },
    /// Make a new signing secret; the previous ones stay valid for the grace period.
    RotateSecret {
        id: String,
        /// How long the previous secrets stay valid (server default 24h, at most 7d).
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
    },
}

#[derive(Debug, Args)]
struct AddArgs {
    /// Where to send; `https://user:password@host/path` sends Basic auth.
    #[arg(long)]
    url: String,
    /// The event type, e.g. chat_started.
    #[arg(long, value_name = "EVENT_TYPE")]
    event_type: String,
    /// Data types the payload carries, comma-separated (default: none).
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    data_types: Vec<String>,
    #[arg(long)]
    description: Option<String>,
    /// Sign every request (Standard Webhooks); the secret is shown once.
    #[arg(long)]
    signing: bool,
    /// Create it disabled.
    #[arg(long)]
    disabled: bool,
}

#[derive(Debug, Args)]
struct UpdateArgs {
    id: String,
    #[arg(long)]
    url: Option<String>,
    /// Data types, comma-separated; `none` for none.
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    data_types: Option<Vec<String>>,
    /// A new description; "" removes it.
    #[arg(long)]
    description: Option<String>,
    /// Start signing (the new secret is shown once).
    #[arg(long, conflicts_with = "no_signing")]
    signing: bool,
    /// Stop signing and forget the secrets.
    #[arg(long)]
    no_signing: bool,
}

pub fn main(args: WebhooksArgs) -> ExitCode {
    run(&args.connection, Need::License, |client| {
        execute(client, args.command)
    })
}

async fn execute(client: Client, command: WebhooksCommand) -> Result<(), ClientError> {
    match command {
        WebhooksCommand::List => list(&client).await,
        WebhooksCommand::Add(args) => add(&client, args).await,
        WebhooksCommand::Update(args) => update(&client, args).await,
        WebhooksCommand::Rm { id } => remove(&client, &id).await,
        WebhooksCommand::Enable { id } => set_enabled(&client, &id, true).await,
        WebhooksCommand::Disable { id } => set_enabled(&client, &id, false).await,
        WebhooksCommand::Test { id } => test(&client, &id).await,
        WebhooksCommand::RotateSecret { id, grace } => rotate(&client, &id, grace).await,
    }
}

async fn list(client: &Client) -> Result<(), ClientError> {
    let answer = client.get(&client.license_path("/webhooks")).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let webhooks = answer.value["webhooks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if webhooks.is_empty() {
        println!(
            "No webhooks. Add one: hookrelay webhooks add --url URL --event-type chat_started"
        );
        return Ok(());
    }
    let mut rows = Table::new(&[
        "ID",
        "KIND",
        "EVENT TYPE",
        "DATA TYPES",
        "URL",
        "STATE",
        "SIGNING",
        "TARGET",
        "CREATED",
    ]);
    for w in &webhooks {
        rows.row(vec![
            table::short(w["id"].as_str().unwrap_or_default()),
            kind(w),
            table::cell(&w["event_type"]),
            table::list(&w["data_types"]),
            table::cell(&w["url"]),
            state(w),
            if w["signing"] == true { "on" } else { "off" }.into(),
            table::cell(&w["target_health"]["state"]),
            table::time(&w["created_at"]),
        ]);
    }
    rows.print();
    Ok(())
}

/// `http`, or `cli` for a session webhook of `hookrelay listen --server`.
fn kind(webhook: &Value) -> String {
    table::cell(&webhook["kind"])
}

/// Enabled or why not; for a session webhook, whether its command is connected.
fn state(webhook: &Value) -> String {
    if let Some(connected) = webhook["session"]["connected"].as_bool() {
        return if connected { "connected" } else { "waiting" }.into();
    }
    match (
        webhook["enabled"].as_bool(),
        webhook["disabled_reason"].is_string(),
    ) {
        (Some(true), _) => "enabled".into(),
        (_, true) => "disabled by hookrelay".into(),
        _ => "disabled".into(),
    }
}

async fn add(client: &Client, args: AddArgs) -> Result<(), ClientError> {
    let mut body = json!({
        "url": args.url,
        "event_type": args.event_type,
        "data_types": data_types(&args.data_types),
    });
    if let Some(description) = args.description {
        body["description"] = json!(description);
    }
    if args.signing {
        body["signing"] = json!(true);
    }
    if args.disabled {
        body["enabled"] = json!(false);
    }
    let answer = client
        .post(&client.license_path("/webhooks"), &body)
        .await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let w = &answer.value;
    println!(
        "Created webhook {} ({} → {}).",
        table::cell(&w["id"]),
        table::cell(&w["event_type"]),
        table::cell(&w["url"])
    );
    show_secret(w);
    Ok(())
}

/// `none` (or nothing) is no data type.
fn data_types(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty() && n != "none")
        .collect()
}

/// The secret is in this answer only: say so where it cannot be missed.
fn show_secret(webhook: &Value) {
    if let Some(secret) = webhook["signing_secret"].as_str() {
        println!("Signing secret: {secret}");
        println!("Copy it now: it is shown only this once (rotate it with `hookrelay webhooks rotate-secret`).");
    }
}

async fn update(client: &Client, args: UpdateArgs) -> Result<(), ClientError> {
    let mut body = Map::new();
    if let Some(url) = args.url {
        body.insert("url".into(), json!(url));
    }
    if let Some(names) = &args.data_types {
        body.insert("data_types".into(), json!(data_types(names)));
    }
    if let Some(description) = args.description {
        let value = Some(description).filter(|d| !d.is_empty());
        body.insert("description".into(), json!(value));
    }
    if args.signing || args.no_signing {
        body.insert("signing".into(), json!(args.signing));
    }
    if body.is_empty() {
        return Err(ClientError::Usage(
            "nothing to change: give --url, --data-types, --description, --signing or --no-signing"
                .into(),
        ));
    }
    let answer = change(client, &args.id, Value::Object(body)).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    println!("Updated webhook {}.", table::cell(&answer.value["id"]));
    show_secret(&answer.value);
    Ok(())
}

async fn change(client: &Client, id: &str, body: Value) -> Result<super::Answer, ClientError> {
    let id = resolve(client, id).await?;
    let path = client.license_path(&format!("/webhooks/{}", segment(&id)));
    client.patch(&path, &body).await
}

async fn set_enabled(client: &Client, id: &str, enabled: bool) -> Result<(), ClientError> {
    let answer = change(client, id, json!({ "enabled": enabled })).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let word = if enabled { "Enabled" } else { "Disabled" };
    println!("{word} webhook {}.", table::cell(&answer.value["id"]));
    Ok(())
}

async fn remove(client: &Client, id: &str) -> Result<(), ClientError> {
    let id = resolve(client, id).await?;
    let path = client.license_path(&format!("/webhooks/{}", segment(&id)));
    client.delete(&path).await?;
    // The server answers 204 without a body; scripts still get one JSON document.
    if client.json {
        println!("{}", json!({ "id": id, "deleted": true }));
    } else {
        println!("Deleted webhook {id}.");
    }
    Ok(())
}

async fn test(client: &Client, id: &str) -> Result<(), ClientError> {
    let id = resolve(client, id).await?;
    let path = client.license_path(&format!("/webhooks/{}/test", segment(&id)));
    let answer = client.post(&path, &json!({})).await?;
    let a = &answer.value;
    let succeeded = a["succeeded"] == true;
    if !answer.print_raw(client) {
        let outcome = match (a["status_code"].as_u64(), a["error"].as_str()) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(error)) => format!("no answer ({error})"),
            (None, None) => "no answer".into(),
        };
        let verdict = if succeeded {
            "delivered"
        } else {
            "NOT delivered (only HTTP 200 counts)"
        };
        println!(
            "Sent a sample {}: {outcome} in {} ms: {verdict}",
            table::cell(&a["request_body"]["event_type"]),
            table::cell(&a["duration_ms"])
        );
        if let Some(body) = a["response_body"].as_str().filter(|b| !b.is_empty()) {
            println!("{body}");
        }
    }
    if succeeded {
        Ok(())
    } else {
        Err(ClientError::Failed(
            "the target did not answer HTTP 200".into(),
        ))
    }
}

async fn rotate(client: &Client, id: &str, grace: Option<String>) -> Result<(), ClientError> {
    let id = resolve(client, id).await?;
    let path = client.license_path(&format!("/webhooks/{}/signing-secret", segment(&id)));
    let body = match grace {
        Some(grace) => json!({ "grace": grace }),
        None => json!({}),
    };
    let answer = client.post(&path, &body).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    println!("New signing secret for webhook {id}.");
    show_secret(&answer.value);
    let until = answer.value["previous_secrets_valid_until"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(last) = until.iter().map(table::time).max() {
        println!("The previous secrets stay valid until {last} UTC.");
    }
    Ok(())
}

/// A whole id as given; a shorter one is a prefix that must name exactly one webhook.
pub async fn resolve(client: &Client, id: &str) -> Result<String, ClientError> {
    let id = id.trim();
    if id.len() >= 32 || id.is_empty() {
        return Ok(id.to_owned());
    }
    let answer = client.get(&client.license_path("/webhooks")).await?;
    let ids: Vec<String> = answer.value["webhooks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["id"].as_str())
        .filter(|w| w.starts_with(id))
        .map(str::to_owned)
        .collect();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ClientError::Failed(format!(
            "no webhook of this license has an id starting with `{id}`"
        ))),
        _ => Err(ClientError::Usage(format!(
            "`{id}` starts {} webhook ids; give more characters",
            ids.len()
        ))),
    }
}

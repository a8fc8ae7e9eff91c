//! `hookrelay deliveries …`: what was sent where, one delivery with its attempts, a resend, and
//! the bulk recovery of failed deliveries (`/v1/licenses/{id}/deliveries`).

use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::table::{self, Table};
use super::{run, segment, webhooks, with_query, Client, ClientError, Connection, Need};

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: DeliveriesCommand,
}

#[derive(Debug, Subcommand)]
enum DeliveriesCommand {
    /// List deliveries, newest first.
    List(ListArgs),
    /// One delivery: the exact body sent and every attempt.
    Show { id: String },
    /// Attempt a delivery again now.
    Resend { id: String },
    /// Make failed deliveries pending again: those that failed between --since and --until.
    Recover(RecoverArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// pending, succeeded or failed.
    #[arg(long)]
    status: Option<String>,
    /// Only this webhook's (its id or the prefix the tables show).
    #[arg(long, value_name = "ID")]
    webhook: Option<String>,
    #[arg(long, value_name = "EVENT_TYPE")]
    event_type: Option<String>,
    /// At most this many (server default 100).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// The next page: the cursor a previous list printed.
    #[arg(long)]
    cursor: Option<String>,
}

#[derive(Debug, Args)]
struct RecoverArgs {
    /// Start of the window: RFC 3339 (2026-12-03T10:00:00Z) or a duration ago (2h, 1day).
    #[arg(long, value_name = "TIME")]
    since: String,
    /// End of the window (default: now), written the same way.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only this webhook's deliveries.
    #[arg(long, value_name = "ID")]
    webhook: Option<String>,
    /// Count them and change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn main(args: DeliveriesArgs) -> ExitCode {
    run(&args.connection, Need::License, |client| async move {
        match args.command {
            DeliveriesCommand::List(list_args) => list(&client, list_args).await,
            DeliveriesCommand::Show { id } => show(&client, &id).await,
            DeliveriesCommand::Resend { id } => resend(&client, &id).await,
            DeliveriesCommand::Recover(recover_args) => recover(&client, recover_args).await,
        }
    })
}

async fn list(client: &Client, args: ListArgs) -> Result<(), ClientError> {
    let webhook = match &args.webhook {
        Some(id) => Some(webhooks::resolve(client, id).await?),
        None => None,
    };
    let pairs = vec![
        ("status", args.status),
        ("webhook_id", webhook),
        ("event_type", args.event_type),
        ("limit", args.limit.map(|n| n.to_string())),
        ("cursor", args.cursor),
    ];
    let path = with_query(client.license_path("/deliveries"), pairs);
    let answer = client.get(&path).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let deliveries = answer.value["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if deliveries.is_empty() {
        println!("No deliveries.");
        return Ok(());
    }
    let mut rows = Table::new(&[
        "ID",
        "STATUS",
        "EVENT TYPE",
        "WEBHOOK",
        "ATTEMPTS",
        "LAST",
        "NEXT",
        "CREATED",
    ]);
    for d in &deliveries {
        rows.row(vec![
            table::cell(&d["id"]),
            table::cell(&d["status"]),
            table::cell(&d["event_type"]),
            table::short(d["webhook_id"].as_str().unwrap_or("-")),
            table::cell(&d["attempt_count"]),
            last_outcome(d),
            table::time(&d["next_attempt_at"]),
            table::time(&d["created_at"]),
        ]);
    }
    rows.print();
    table::next_page(&answer.value);
    Ok(())
}

/// The last attempt's answer: its status code, else its error.
fn last_outcome(d: &Value) -> String {
    match (&d["last_status_code"], &d["last_error"]) {
        (Value::Number(code), _) => format!("HTTP {code}"),
        (_, Value::String(error)) => error.chars().take(40).collect(),
        _ => "-".into(),
    }
}

/// `dlv_12` as given, `12` as `dlv_12`.
fn delivery_id(id: &str) -> String {
    let id = id.trim();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        format!("dlv_{id}")
    } else {
        id.to_owned()
    }
}

async fn show(client: &Client, id: &str) -> Result<(), ClientError> {
    let path = client.license_path(&format!("/deliveries/{}", segment(&delivery_id(id))));
    let answer = client.get(&path).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let d = &answer.value;
    for (name, value) in [
        ("delivery", table::cell(&d["id"])),
        ("status", table::cell(&d["status"])),
        ("event type", table::cell(&d["event_type"])),
        ("event", table::cell(&d["event_id"])),
        ("webhook", table::cell(&d["webhook_id"])),
        ("created", table::time(&d["created_at"])),
        ("next attempt", table::time(&d["next_attempt_at"])),
    ] {
        println!("{:<13} {value}", format!("{name}:"));
    }
    let attempts = d["attempts"].as_array().cloned().unwrap_or_default();
    println!("\nAttempts ({}):", attempts.len());
    let mut rows = Table::new(&["#", "STARTED", "DURATION", "ANSWER", "RESPONSE"]);
    for a in &attempts {
        let answer = match (&a["status_code"], &a["error"]) {
            (Value::Number(code), _) => format!("HTTP {code}"),
            (_, error) => table::cell(error),
        };
        let response: String = table::cell(&a["response_body"])
            .replace(['\n', '\r'], " ")
            .chars()
            .take(60)
            .collect();
        rows.row(vec![
            table::cell(&a["attempt"]),
            table::time(&a["started_at"]),
            format!("{} ms", table::cell(&a["duration_ms"])),
            answer,
            response,
        ]);
    }
    rows.print();
    println!("\nRequest body:");
    println!(
        "{}",
        serde_json::to_string_pretty(&d["request_body"]).unwrap_or_default()
    );
    Ok(())
}

async fn resend(client: &Client, id: &str) -> Result<(), ClientError> {
    let path = format!("/deliveries/{}/resend", segment(&delivery_id(id)));
    let answer = client.post(&client.license_path(&path), &json!({})).await?;
    if !answer.print_raw(client) {
        println!(
            "Delivery {} is pending: it is attempted again now.",
            table::cell(&answer.value["id"])
        );
    }
    Ok(())
}

async fn recover(client: &Client, args: RecoverArgs) -> Result<(), ClientError> {
    let now = SystemTime::now();
    let mut body = json!({ "since": instant(&args.since, now, "--since")? });
    if let Some(until) = &args.until {
        body["until"] = json!(instant(until, now, "--until")?);
    }
    if let Some(id) = &args.webhook {
        body["webhook_id"] = json!(webhooks::resolve(client, id).await?);
    }
    if args.dry_run {
        body["dry_run"] = json!(true);
    }
    let path = client.license_path("/deliveries/recover");
    let answer = client.post(&path, &body).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let count = answer.value["count"].as_u64().unwrap_or(0);
    if args.dry_run {
        println!("{count} failed deliveries would be recovered (dry run: nothing changed).");
    } else {
        println!("Recovered {count} failed deliveries: they are pending and go out now.");
    }
    Ok(())
}

/// RFC 3339 passes through for the server to check; a duration (`2h`) means that long ago.
fn instant(text: &str, now: SystemTime, flag: &str) -> Result<String, ClientError> {
    let text = text.trim();
    if text.contains('T') || text.contains('-') {
        return Ok(text.to_owned());
    }
    let ago = humantime::parse_duration(text).map_err(|e| {
        ClientError::Usage(format!(
            "{flag} {text:?}: neither an RFC 3339 time nor a duration like 2h ({e})"
        ))
    })?;
    let then = now
        .checked_sub(ago)
        .ok_or_else(|| ClientError::Usage(format!("{flag} {text:?} reaches before 1970")))?;
    Ok(humantime::format_rfc3339_seconds(then).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_duration_is_that_long_before_now_and_a_time_passes_through() {
        let now = UNIX_EPOCH + Duration::from_secs(7200);
        assert_eq!(
            instant("2h", now, "--since").unwrap(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            instant("2026-12-03T10:00:00+01:00", now, "--since").unwrap(),
            "2026-12-03T10:00:00+01:00"
        );
        assert!(matches!(
            instant("yesterday", now, "--since"),
            Err(ClientError::Usage(_))
        ));
    }

    #[test]
    fn a_bare_number_is_a_delivery_id() {
        assert_eq!(delivery_id("12"), "dlv_12");
        assert_eq!(delivery_id("dlv_12"), "dlv_12");
    }
}

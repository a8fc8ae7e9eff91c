//! `hookrelay licenses list|create`: the tenants of a server, with the admin token (`/v1/licenses`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::table::{self, Table};
use super::{run, with_query, Client, ClientError, Connection, Need};

#[derive(Debug, Args)]
pub struct LicensesArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: LicensesCommand,
}

#[derive(Debug, Subcommand)]
enum LicensesCommand {
    /// List the licenses (admin token).
    List {
        /// At most this many (server default 100).
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
        /// The next page: the cursor a previous list printed.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Create a license and show its API key once (admin token).
    Create {
        /// Its license_id (default: a new random one).
        #[arg(long, value_name = "ID")]
        license_id: Option<String>,
        /// Its login for the LiveChat v2 API (default: license-ID).
        #[arg(long)]
        login: Option<String>,
    },
}

pub fn main(args: LicensesArgs) -> ExitCode {
    run(&args.connection, Need::Admin, |client| async move {
        let outcome = match args.command {
            LicensesCommand::List { limit, cursor } => list(&client, limit, cursor).await,
            LicensesCommand::Create { license_id, login } => {
                create(&client, license_id, login).await
            }
        };
        outcome.map_err(explain_forbidden)
    })
}

/// A license's key is refused here: say which key is needed.
fn explain_forbidden(error: ClientError) -> ClientError {
    match error {
        ClientError::Refused {
            status: 403,
            message,
            field,
        } => ClientError::Refused {
            status: 403,
            message: format!("{message}: licenses are listed and created with the admin token"),
            field,
        },
        other => other,
    }
}

async fn list(
    client: &Client,
    limit: Option<u32>,
    cursor: Option<String>,
) -> Result<(), ClientError> {
    let pairs = vec![("limit", limit.map(|n| n.to_string())), ("cursor", cursor)];
    let path = with_query("/v1/licenses".to_owned(), pairs);
    let answer = client.get(&path).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let mut rows = Table::new(&["LICENSE", "LOGIN", "CREATED"]);
    for l in answer.value["licenses"].as_array().into_iter().flatten() {
        rows.row(vec![
            table::cell(&l["license_id"]),
            table::cell(&l["login"]),
            table::time(&l["created_at"]),
        ]);
    }
    rows.print();
    table::next_page(&answer.value);
    Ok(())
}

async fn create(
    client: &Client,
    license_id: Option<String>,
    login: Option<String>,
) -> Result<(), ClientError> {
    let mut body = Map::new();
    if let Some(id) = license_id {
        body.insert("license_id".into(), json!(id));
    }
    if let Some(login) = login {
        body.insert("login".into(), json!(login));
    }
    let answer = client.post("/v1/licenses", &Value::Object(body)).await?;
    if answer.print_raw(client) {
        return Ok(());
    }
    let l = &answer.value;
    println!("Created license {}.", table::cell(&l["license_id"]));
    println!("  login:   {}", table::cell(&l["login"]));
    println!("  api key: {}", table::cell(&l["api_key"]));
    println!("  token:   {}", table::cell(&l["token"]));
    println!("Copy the API key now: it is shown only this once.");
    Ok(())
}

//! The seed's first integration: on `chat_started`, look the visitor's e-mail up in a local
//! SQLite customer database and push `Age` and `Position` to the Visitors API.
//!
//! ```text
//! cargo run -p hookrelay-receiver --example visitor_details -- \
//!     --htpasswd .htpasswd --db customers.db --api http://127.0.0.1:8080 --port 3001
//! ```
//!
//! The database is created with two sample customers when it does not exist. Every flag is
//! optional: without `--htpasswd` the seed's `livechat` / `password` user is used, without
//! `--api` details go to LiveChat's own API.

use std::sync::{Arc, Mutex};

use axum::extract::{FromRef, State};
use axum::routing::post;
use axum::Router;
use hookrelay_receiver::visitors::LIVECHAT_API;
use hookrelay_receiver::{
    BasicAuth, DetailField, EventType, Htpasswd, Receiver, VisitorDetails, VisitorsClient, Webhook,
};
use rusqlite::{Connection, OptionalExtension};

const SEED_HTPASSWD: &str = "livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\n";

#[derive(Clone)]
struct App {
    receiver: Receiver,
    visitors: VisitorsClient,
    customers: Arc<Mutex<Connection>>,
}

impl FromRef<App> for Receiver {
    fn from_ref(app: &App) -> Receiver {
        app.receiver.clone()
    }
}

/// Age and position of the customer with this e-mail, if known.
fn look_up(db: &Connection, email: &str) -> rusqlite::Result<Option<(i64, String)>> {
    db.query_row(
        "SELECT age, position FROM customers WHERE email = ?1",
        [email],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

async fn on_webhook(State(app): State<App>, webhook: Webhook) {
    let payload = webhook.payload;
    if payload.event_type != EventType::ChatStarted {
        return;
    }
    let Some(email) = payload.visitor.as_ref().and_then(|v| v.email.clone()) else {
        return;
    };
    let found = look_up(&app.customers.lock().unwrap(), &email);
    let Ok(Some((age, position))) = found else {
        println!("{email}: not a known customer ({found:?})");
        return;
    };
    let details = VisitorDetails {
        id: "my-integration".into(),
        icon: Some("example.com/ico-64.png".into()),
        fields: vec![
            DetailField::new("Age", age.to_string()),
            DetailField::new("Position", position),
        ],
    };
    // Answer the webhook at once; the push happens in the background.
    tokio::spawn(async move {
        match app.visitors.push_for(&payload, &details).await {
            Ok(result) => println!("{email}: {result}"),
            Err(error) => println!("{email}: details not pushed: {error}"),
        }
    });
}

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users = match flag("--htpasswd") {
        Some(path) => Htpasswd::from_file(path)?,
        None => Htpasswd::parse(SEED_HTPASSWD),
    };
    let db = Connection::open(flag("--db").unwrap_or_else(|| "customers.db".into()))?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (email TEXT PRIMARY KEY, age INTEGER, position TEXT);
         INSERT OR IGNORE INTO customers VALUES ('mary.brown@email.com', 36, 'Head of Sales');
         INSERT OR IGNORE INTO customers VALUES ('john.smith@gmail.com', 41, 'CTO');",
    )?;
    let app = App {
        receiver: Receiver::with_basic_auth(BasicAuth::Htpasswd(users)).realm("My Protected Area"),
        visitors: VisitorsClient::new(&flag("--api").unwrap_or_else(|| LIVECHAT_API.into()))?,
        customers: Arc::new(Mutex::new(db)),
    };
    let port = flag("--port").unwrap_or_else(|| "3001".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "visitor details integration on http://{}/webhooks",
        listener.local_addr()?
    );
    let router = Router::new()
        .route("/webhooks", post(on_webhook))
        .with_state(app);
    axum::serve(listener, router).await?;
    Ok(())
}

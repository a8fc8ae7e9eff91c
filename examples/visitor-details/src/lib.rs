//! The seed's "additional visitor details" integration, in Rust.
//!
//! LiveChat (or hookrelay) posts a `chat_started` webhook to `/webhooks`. The [`Webhook`]
//! extractor checks the Basic credentials against an `.htpasswd` file and parses the body; the
//! handler answers 200 at once, looks the visitor's e-mail up in the [`Customers`] database and,
//! for a known customer, pushes `Age` and `Position` to the Visitors API
//! (`POST {api}/visitors/{visitor_id}/details`) in the background, where agents see them next to
//! the chat.
//!
//! `main.rs` parses the command line and calls [`router`]; the tests start the real binary.

pub mod customers;

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::routing::post;
use axum::Router;
use hookrelay_receiver::{
    DetailField, EventType, Receiver, VisitorDetails, VisitorsClient, Webhook, WebhookPayload,
};

/// `println!` that cannot panic: a closed standard output (a pipe into `head`, a test that
/// stopped reading) must not take webhook handling down with it.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub use customers::{Customer, Customers};

/// Everything a request needs. Cheap to clone.
#[derive(Clone)]
pub struct App {
    /// Who may post webhooks (the `.htpasswd` users).
    pub receiver: Receiver,
    /// Where details are pushed.
    pub visitors: VisitorsClient,
    pub customers: Arc<Customers>,
    /// The detail set's name and icon as agents see them.
    pub integration_id: String,
    pub icon: Option<String>,
}

impl FromRef<App> for Receiver {
    fn from_ref(app: &App) -> Receiver {
        app.receiver.clone()
    }
}

/// `POST /webhooks`; every other path is 404.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/webhooks", post(on_webhook))
        .with_state(app)
}

/// The detail set shown to agents for `customer`.
pub fn details_for(
    customer: &Customer,
    integration_id: &str,
    icon: Option<&str>,
) -> VisitorDetails {
    VisitorDetails {
        id: integration_id.to_owned(),
        icon: icon.map(str::to_owned),
        fields: vec![
            DetailField::new("Age", customer.age.to_string()),
            DetailField::new("Position", customer.position.clone()),
        ],
    }
}

/// Answers 200 to every authenticated webhook (so LiveChat does not retry events this
/// integration ignores) and handles `chat_started` after answering.
async fn on_webhook(State(app): State<App>, webhook: Webhook) {
    let payload = webhook.payload;
    if payload.event_type != EventType::ChatStarted {
        say!("{}: ignored", payload.event_type);
        return;
    }
    // Answer now; the lookup and the push must not hold up the 200 LiveChat waits for.
    tokio::spawn(push_details(app, payload));
}

async fn push_details(app: App, payload: WebhookPayload) {
    let Some(visitor) = &payload.visitor else {
        say!("chat_started without the `visitor` data type: enable it on the webhook");
        return;
    };
    let Some(email) = visitor.email.as_deref() else {
        say!(
            "chat_started for visitor {}: no e-mail, nothing to look up",
            visitor.id
        );
        return;
    };
    let customer = match app.customers.find(email) {
        Ok(Some(customer)) => customer,
        Ok(None) => {
            say!("chat_started for {email}: not a customer, nothing pushed");
            return;
        }
        Err(error) => {
            say!("chat_started for {email}: customer database error: {error}");
            return;
        }
    };
    let details = details_for(&customer, &app.integration_id, app.icon.as_deref());
    let url = app.visitors.details_url(&visitor.id);
    match app.visitors.push_for(&payload, &details).await {
        Ok(result) => say!(
            "chat_started for {email}: {} (age {}, {}) pushed to {url}: {result}",
            customer.name,
            customer.age,
            customer.position
        ),
        Err(error) => say!("chat_started for {email}: details not pushed to {url}: {error}"),
    }
}

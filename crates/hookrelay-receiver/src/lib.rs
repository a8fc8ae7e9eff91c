//! # hookrelay-receiver
//!
//! Receive LiveChat (v2) webhooks in Rust, from LiveChat itself or from a hookrelay server.
//!
//! - **Typed payloads** for every event type and data type ([`WebhookPayload`], [`Chat`],
//!   [`Visitor`], [`PreChatSurveyItem`], [`Ticket`], [`CannedResponse`]). Fields the documentation
//!   does not show are kept in each struct's `extra`, so real payloads never fail to parse.
//! - **An axum extractor**, [`Webhook`], that checks HTTP Basic auth (one fixed user, or the users
//!   of an Apache `.htpasswd` file), parses the JSON and lets your handler answer 200. A bad
//!   request gets `401` with `WWW-Authenticate: Basic realm="…"`, or `400` with a reason that
//!   names the problem (`field `visitor.id`: missing field `id``).
//! - **`.htpasswd` verification** ([`Htpasswd`]): APR1 (`$apr1$`), bcrypt (`$2y$`, `$2a$`,
//!   `$2b$`), `{SHA}` and DES crypt; CRLF, comments and malformed lines tolerated; constant-time.
//! - **A Visitors API client** ([`VisitorsClient`]) that pushes detail sets back to the agents'
//!   app, form-encoded exactly as the seed's PHP example does.
//!
//! ## Example: the seed's "additional visitor details" integration
//!
//! On `chat_started`, look the visitor up and show agents their age and position. The webhook
//! URL configured in LiveChat is `https://livechat:password@your-host/webhooks`.
//!
//! ```no_run
//! use axum::{extract::{FromRef, State}, routing::post, Router};
//! use hookrelay_receiver::{
//!     BasicAuth, DetailField, EventType, Htpasswd, Receiver, VisitorDetails, VisitorsClient,
//!     Webhook,
//! };
//!
//! #[derive(Clone)]
//! struct App {
//!     receiver: Receiver,
//!     visitors: VisitorsClient,
//! }
//!
//! // The extractor finds its `Receiver` in the state; the handler its `VisitorsClient`.
//! impl FromRef<App> for Receiver {
//!     fn from_ref(app: &App) -> Receiver { app.receiver.clone() }
//! }
//! impl FromRef<App> for VisitorsClient {
//!     fn from_ref(app: &App) -> VisitorsClient { app.visitors.clone() }
//! }
//!
//! async fn on_webhook(State(visitors): State<VisitorsClient>, webhook: Webhook) {
//!     let payload = webhook.payload;
//!     if payload.event_type != EventType::ChatStarted {
//!         return; // still answers 200, so LiveChat does not retry
//!     }
//!     let Some(email) = payload.visitor.as_ref().and_then(|v| v.email.clone()) else { return };
//!     let details = VisitorDetails {
//!         id: "my-integration".into(),
//!         icon: Some("example.com/ico-64.png".into()),
//!         fields: vec![
//!             DetailField::new("Age", "36"), // look `email` up in your database here
//!             DetailField::new("Position", format!("Customer {email}")),
//!         ],
//!     };
//!     // Answer 200 quickly; push the details in the background.
//!     tokio::spawn(async move {
//!         if let Err(error) = visitors.push_for(&payload, &details).await {
//!             eprintln!("visitor details not pushed: {error}");
//!         }
//!     });
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The seed's .htpasswd line; in production: Htpasswd::from_file("/path/to/.htpasswd")?
//!     let users = Htpasswd::parse("livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\n");
//!     let app = App {
//!         receiver: Receiver::with_basic_auth(BasicAuth::Htpasswd(users)).realm("My Protected Area"),
//!         visitors: VisitorsClient::new(hookrelay_receiver::visitors::LIVECHAT_API)?,
//!     };
//!     let router = Router::new().route("/webhooks", post(on_webhook)).with_state(app);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, router).await?;
//!     Ok(())
//! }
//! ```
//!
//! Webhooks are delivered at least once: the same `event_unique_id` can arrive again after a
//! retry, so make your handler idempotent or remember recent ids.
//!
//! ## Lower-level pieces
//!
//! [`Receiver::authorize`] and [`parse_payload`] do the extractor's two steps for code that is not
//! an axum handler; [`BasicAuth::verify`] and [`PasswordHash`] check credentials on their own;
//! [`visitors::form_body`] builds the Visitors API form.
//!
//! ## Runnable examples
//!
//! The seed's two integrations, each a small crate with a README and one command to run:
//!
//! - `examples/visitor-details`: on `chat_started`, looks the visitor up in a SQLite customer
//!   database and pushes `Age` and `Position` to the Visitors API
//!   (`cd examples/visitor-details && cargo run`);
//! - `examples/statusboard`: on `visitor_queued`, shows the visitor on a live web page
//!   (server-sent events) and plays a sound (`cd examples/statusboard && cargo run`).

mod auth;
mod extract;
pub mod htpasswd;
pub mod visitors;

pub use auth::{basic_header_value, parse_basic, BasicAuth, CredentialsFormatError};
pub use extract::{parse_payload, Receiver, Webhook, WebhookRejection};
pub use htpasswd::{HashError, Htpasswd, HtpasswdError, PasswordHash};
pub use visitors::{DetailField, VisitorDetails, VisitorsClient, VisitorsError};

/// The wire-types crate, for everything it offers beyond the re-exports (samples, body
/// composition).
pub use livechat_webhooks as wire;
pub use livechat_webhooks::{
    CannedResponse, Chat, ChatMessage, CustomVariable, DataType, DataTypes, EventType,
    PreChatSurveyAnswer, PreChatSurveyItem, Ticket, TicketAuthor, TicketEvent, TicketGroup,
    TicketPerson, TicketRequester, TicketSource, Visitor, WebhookPayload,
};

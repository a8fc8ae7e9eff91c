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
//! - **Signature verification** ([`Verifier`]): Standard Webhooks signatures (`webhook-id`,
//!   `webhook-timestamp`, `webhook-signature`), several secrets during a rotation, a replay
//!   window; the extractor can require them.
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
//! ## Verifying signatures
//!
//! A hookrelay webhook with signing turned on carries a Standard Webhooks signature: an
//! HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` keyed with the webhook's secret
//! (`whsec_…`, shown once when signing is turned on or the secret rotated). Give the secret to
//! the [`Receiver`] and the extractor refuses anything not signed with it before the body is
//! parsed: `401` with the reason (a missing header, named; a timestamp more than five minutes
//! away, a replay; no signature matching the secret, a wrong secret or a changed body):
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{routing::post, Router};
//! use hookrelay_receiver::{Receiver, Verifier, Webhook};
//!
//! async fn on_webhook(webhook: Webhook) {
//!     // Runs only for requests signed with the secret; anything else got a 401.
//!     println!("{} {:?}", webhook.payload.event_type, webhook.payload.event_unique_id);
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The secret the webhook's settings showed once: whsec_…
//!     let verifier = Verifier::parse(&std::env::var("WEBHOOK_SECRET")?)?
//!         .tolerance(Duration::from_secs(300)); // the default: five minutes either way
//!     // During a rotation, trust the new secret as well until the old one's grace ends:
//!     // let verifier = verifier.and(SigningSecret::parse(&new_secret)?);
//!     let receiver = Receiver::open().require_signature(verifier);
//!     let router = Router::new().route("/webhooks", post(on_webhook)).with_state(receiver);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, router).await?;
//!     Ok(())
//! }
//! ```
//!
//! Outside axum, [`Verifier::verify`] checks an `http::HeaderMap` and the raw body with the
//! system clock ([`Verifier::verify_at`] with your own), and says why a request fails
//! ([`VerifyError`]). Verify the body exactly as received, before parsing it: re-encoded JSON
//! does not match. The timestamp check refuses replays of a captured request; the
//! `webhook-id` (the event's `event_unique_id`) stays the same on every retry, so it is also the
//! key to remember when deduplicating.
//!
//! ## Lower-level pieces
//!
//! [`Receiver::authorize`], [`Receiver::verify_signature`] and [`parse_payload`] do the
//! extractor's steps for code that is not an axum handler; [`BasicAuth::verify`] and
//! [`PasswordHash`] check credentials on their own; [`visitors::form_body`] builds the Visitors
//! API form.
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
pub mod signature;
pub mod visitors;

pub use auth::{basic_header_value, parse_basic, BasicAuth, CredentialsFormatError};
pub use extract::{parse_payload, Receiver, Webhook, WebhookRejection};
pub use htpasswd::{HashError, Htpasswd, HtpasswdError, PasswordHash};
pub use signature::{SigningSecret, Verifier, VerifyError};
pub use visitors::{DetailField, VisitorDetails, VisitorsClient, VisitorsError};

/// The wire-types crate, for everything it offers beyond the re-exports (samples, body
/// composition).
pub use livechat_webhooks as wire;
pub use livechat_webhooks::{
    CannedResponse, Chat, ChatMessage, CustomVariable, DataType, DataTypes, EventType,
    PreChatSurveyAnswer, PreChatSurveyItem, Ticket, TicketAuthor, TicketEvent, TicketGroup,
    TicketPerson, TicketRequester, TicketSource, Visitor, WebhookPayload,
};

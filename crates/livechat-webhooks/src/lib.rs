//! Wire types for LiveChat (API v2) webhooks, shared by the hookrelay server, its command-line
//! tools and the receiver SDK.
//!
//! This crate owns the vocabulary of the seed document ("Webhooks" guide for integration
//! developers): the event types, the data types, which data types each event type may carry (the
//! support matrix), the typed payloads a receiver parses, the body a sender writes, and realistic
//! sample data, and webhook signatures (Standard Webhooks). It does no I/O.
//!
//! ```
//! use livechat_webhooks::{DataType, DataTypes, EventType};
//!
//! let event: EventType = "chat_started".parse().unwrap();
//! let wanted = DataTypes::parse_for(event, ["chat", "visitor"]).unwrap();
//! assert!(wanted.contains(DataType::Visitor));
//! assert!(DataTypes::parse_for(EventType::VisitorQueued, ["chat"]).is_err());
//! ```

mod body;
mod data_types;
mod event_type;
mod payload;
pub mod sample;
pub mod signature;

pub use body::{compose_body, Sections};
pub use data_types::{DataType, DataTypeError, DataTypes};
pub use event_type::{EventType, UnknownEventType};
pub use payload::{
    CannedResponse, Chat, ChatMessage, CustomVariable, Delivery, PreChatSurveyAnswer,
    PreChatSurveyItem, Ticket, TicketAuthor, TicketEvent, TicketGroup, TicketPerson,
    TicketRequester, TicketSource, Visitor, Webhook, WebhookPayload,
};

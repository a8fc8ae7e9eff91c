//! Data types: the optional sections a webhook asks to receive with its event.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::EventType;

/// One section of a webhook body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    Chat,
    Visitor,
    PreChatSurvey,
    Ticket,
    CannedResponse,
    /// A webhook of hookrelay (operational event `webhook_disabled`).
    Webhook,
    /// A delivery of hookrelay (operational event `delivery_failed`).
    Delivery,
}

impl DataType {
    /// Every data type, in the order sections appear in a webhook body.
    pub const ALL: [DataType; 7] = [
        DataType::Chat,
        DataType::Visitor,
        DataType::PreChatSurvey,
        DataType::Ticket,
        DataType::CannedResponse,
        DataType::Webhook,
        DataType::Delivery,
    ];

    /// The name used on the wire and as the body's key (`"pre_chat_survey"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Chat => "chat",
            DataType::Visitor => "visitor",
            DataType::PreChatSurvey => "pre_chat_survey",
            DataType::Ticket => "ticket",
            DataType::CannedResponse => "canned_response",
            DataType::Webhook => "webhook",
            DataType::Delivery => "delivery",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataType {
    type Err = DataTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataType::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| DataTypeError::Unknown(s.chars().take(64).collect()))
    }
}

/// Why a list of data types was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataTypeError {
    #[error("unknown data type `{0}`; expected one of chat, visitor, pre_chat_survey, ticket, canned_response, webhook, delivery")]
    Unknown(String),
    #[error("{event_type} does not carry `{data_type}`; it carries: {}", list(.event_type.supported_data_types()))]
    NotSupported {
        event_type: EventType,
        data_type: DataType,
    },
}

fn list(types: &[DataType]) -> String {
    types
        .iter()
        .map(|d| d.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A set of data types that one event type supports. Built only through [`DataTypes::parse_for`]
/// or [`DataTypes::all_for`], so holding one means it was checked against the support matrix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataTypes(u8);

impl DataTypes {
    /// The empty set: the webhook gets only `event_type`, `token`, `license_id`.
    pub const EMPTY: DataTypes = DataTypes(0);

    /// Checks `names` against what `event_type` supports. Duplicates are merged.
    pub fn parse_for<I, S>(event_type: EventType, names: I) -> Result<DataTypes, DataTypeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = DataTypes::EMPTY;
        for name in names {
            let data_type: DataType = name.as_ref().trim().parse()?;
            if !event_type.supports(data_type) {
                return Err(DataTypeError::NotSupported {
                    event_type,
                    data_type,
                });
            }
            set.0 |= data_type.bit();
        }
        Ok(set)
    }

    /// Every data type `event_type` supports.
    pub fn all_for(event_type: EventType) -> DataTypes {
        DataTypes(
            event_type
                .supported_data_types()
                .iter()
                .fold(0, |acc, d| acc | d.bit()),
        )
    }

    pub fn contains(self, data_type: DataType) -> bool {
        self.0 & data_type.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in body order.
    pub fn iter(self) -> impl Iterator<Item = DataType> {
        DataType::ALL.into_iter().filter(move |d| self.contains(*d))
    }

    /// The member names, in body order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(DataType::as_str).collect()
    }

    /// The raw bits, for compact storage. Restore with [`DataTypes::from_bits_for`].
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Rebuilds a set from stored bits, keeping only what `event_type` supports.
    pub fn from_bits_for(event_type: EventType, bits: u8) -> DataTypes {
        DataTypes(bits & DataTypes::all_for(event_type).0)
    }
}

impl fmt::Debug for DataTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for DataTypes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_support_matrix_matches_the_seed() {
        let names = |e: EventType| list(e.supported_data_types());
        assert_eq!(names(EventType::VisitorQueued), "visitor");
        assert_eq!(
            names(EventType::ChatStarted),
            "chat, visitor, pre_chat_survey"
        );
        assert_eq!(
            names(EventType::ChatEnded),
            "chat, visitor, pre_chat_survey"
        );
        assert_eq!(names(EventType::ChatChanged), "chat, visitor");
        assert_eq!(names(EventType::TicketCreated), "ticket");
        assert_eq!(names(EventType::CannedResponseChanged), "canned_response");
        assert_eq!(names(EventType::WebhookDisabled), "webhook");
        assert_eq!(names(EventType::DeliveryFailed), "delivery");
    }

    #[test]
    fn an_unsupported_data_type_names_the_allowed_ones() {
        let err = DataTypes::parse_for(EventType::ChatChanged, ["pre_chat_survey"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chat_changed does not carry `pre_chat_survey`; it carries: chat, visitor"
        );
    }

    #[test]
    fn duplicates_merge_and_order_follows_the_body() {
        let set =
            DataTypes::parse_for(EventType::ChatEnded, ["visitor", "chat", "visitor"]).unwrap();
        assert_eq!(set.names(), ["chat", "visitor"]);
        assert_eq!(
            DataTypes::from_bits_for(EventType::ChatEnded, set.bits()),
            set
        );
    }

    #[test]
    fn stored_bits_are_masked_by_the_event_type() {
        let all = DataTypes::all_for(EventType::ChatStarted);
        let masked = DataTypes::from_bits_for(EventType::VisitorQueued, all.bits());
        assert_eq!(masked.names(), ["visitor"]);
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(
            DataTypes::parse_for(EventType::ChatStarted, ["chats"]),
            Err(DataTypeError::Unknown("chats".into()))
        );
    }
}

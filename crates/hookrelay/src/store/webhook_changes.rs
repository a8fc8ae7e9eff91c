//! A change to a webhook as the store applies it, with the guards that keep racing changes from
//! both winning (signing keys) or from undoing what came meanwhile (an auto-disable).

use crate::domain::signing::SigningKeys;
use crate::domain::Millis;

/// Changes to a webhook (`None`: keep).
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    /// The new URL as stored, with its target key.
    pub url: Option<(String, String)>,
    pub data_types: Option<u8>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// The new signing keys (`Some(None)`: stop signing).
    pub signing: Option<Option<SigningKeys>>,
    /// Change only if the stored signing keys are still these (`Some(None)`: none), so that two
    /// changes racing cannot hand out a secret the other one then overwrites; a mismatch is a
    /// [`super::StoreError::Conflict`].
    pub signing_was: Option<Option<SigningKeys>>,
    /// Disabled by hookrelay (with `enabled: Some(false)`): why, when, and whether a
    /// `webhook_disabled` event is to be produced. Enabling (`enabled: Some(true)`) clears the
    /// reason and the failure streak.
    pub auto_disabled: Option<AutoDisabled>,
}

/// Why and when hookrelay disabled a webhook.
#[derive(Debug, Clone)]
pub struct AutoDisabled {
    pub reason: String,
    pub at: Millis,
    /// The start of the failure streak the decision was made on: if the webhook's streak is no
    /// longer that one (a success ended it meanwhile), nothing is changed.
    pub failing_since: Millis,
    /// Whether its `webhook_disabled` event is to be produced
    /// ([`crate::domain::auto_disable::announces`]).
    pub announce: bool,
}

/// The text stored for a webhook's signing keys (`None`: it does not sign).
pub fn stored_signing(keys: &Option<SigningKeys>) -> Option<String> {
    keys.as_ref().map(SigningKeys::to_stored)
}

/// The answer to a signing change that lost a race.
pub const SIGNING_RACE: &str =
    "the webhook's signing secrets were changed by another request meanwhile; nothing was changed, \
     try again";

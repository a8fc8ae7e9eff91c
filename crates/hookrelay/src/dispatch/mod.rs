//! The delivery engine: takes deliveries from the store, POSTs them, records the outcome and
//! schedules retries.
//!
//! - [`engine`] runs three tasks: a claimer that leases due deliveries from the store, a
//!   dispatcher that runs attempts with per-target and global concurrency limits, and a recorder
//!   that writes outcomes back in batches.
//! - [`sender`] makes one HTTP attempt; [`target_policy`] keeps it off private networks.
//! - [`retry`] and [`tags`] are the pure policies: when to retry, what counts as delivered, when a
//!   `chat_changed` is worth sending.

mod dispatcher;
pub mod engine;
pub mod retry;
pub mod sender;
pub mod tags;
pub mod target_policy;

pub use engine::{Engine, EngineConfig};

//! The delivery engine: takes deliveries from the store, POSTs them, records the outcome and
//! schedules retries.
//!
//! - [`engine`] runs three tasks: a claimer that leases due deliveries from the store, a
//!   dispatcher that runs attempts with per-target and global concurrency limits, and a recorder
//!   that writes outcomes back in batches.
//! - [`sender`] makes one HTTP attempt; [`target_policy`] keeps it off private networks.
//! - [`retry`], [`tags`] and `target_queue` are the pure policies: when to retry, what counts as
//!   delivered, when a `chat_changed` is worth sending, and how a target that does not answer is
//!   probed and its deliveries parked or given up.

mod dispatcher;
pub mod engine;
pub mod retry;
pub mod sender;
pub mod tags;
pub mod target_policy;
mod target_queue;

pub use engine::{Engine, EngineConfig};

//! The delivery engine: takes deliveries from the store, POSTs them, records the outcome and
//! schedules retries. Small parts, one job each:
//!
//! - [`engine`]: the handle the API uses (ingest, resend, webhook changed, test send) and the
//!   tasks it starts;
//! - `claimer`: leases due deliveries, arms probes of silent targets, gives up on deliveries
//!   that waited their whole retry window;
//! - `dispatcher`: per-target queues, per-target and global concurrency limits;
//! - `attempt`: one attempt and its outcome; [`sender`] the HTTP exchange, kept off private
//!   networks by [`target_policy`];
//! - `recorder`: writes outcomes (and the health changes they cause) in batches;
//! - [`sessions`]: the listen sessions whose sockets are on this node (an attempt to a session's
//!   webhook is a push over its socket).
//!
//! The pure policies: [`retry`] (when to try again, what counts as delivered), `target_queue`
//! (a stuck target's overflow); a target's health is `crate::domain::health`, kept in the store.

mod attempt;
mod claimer;
mod dispatcher;
pub mod engine;
pub mod listen;
mod recorder;
pub mod retry;
pub mod sender;
pub mod sessions;
pub mod target_policy;
mod target_queue;

pub use engine::{Engine, EngineConfig};

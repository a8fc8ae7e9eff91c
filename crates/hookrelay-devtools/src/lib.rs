//! The developer tools of the `hookrelay` command: `hookrelay listen` and `hookrelay trigger`.
//!
//! The `hookrelay` binary parses its command line with clap and hands over:
//!
//! ```no_run
//! use hookrelay_devtools::{listen, trigger, ListenArgs, TriggerArgs};
//! # async fn run(listen_args: ListenArgs, trigger_args: TriggerArgs) -> anyhow::Result<()> {
//! // `hookrelay listen …`: runs until Ctrl-C, then prints and returns a summary.
//! let summary = listen(listen_args, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! // `hookrelay trigger …`: sends, prints the request and the answer.
//! let report = trigger(trigger_args).await?;
//! if !report.all_succeeded() {
//!     std::process::exit(1);
//! }
//! # Ok(()) }
//! ```
//!
//! `ListenArgs` and `TriggerArgs` derive `clap::Args`, so the binary embeds them in its own
//! subcommand enum. [`listen_on`] and [`trigger_with_output`] are the same commands on a given
//! listener and output, for tests and for embedding.
//!
//! Modules: `listen` (the receiver and its counters), `trigger` (sample bodies, `--set`
//! overrides, sending), `target` (URLs with credentials, the shared HTTP client settings),
//! `signing` (`--signing-secret`: parsing, and the headers `trigger` signs with) and `output`
//! (where lines go).

mod listen;
mod output;
pub mod session_protocol;
mod signing;
mod target;
mod trigger;

pub use listen::{listen, listen_on, listen_to_server, ListenArgs, ListenSummary};
pub use output::Output;
pub use target::{Target, TargetError, TIMEOUT, USER_AGENT};
pub use trigger::{
    apply_override, fresh_event_id, trigger, trigger_with_output, OverrideError, TriggerArgs,
    TriggerReport,
};

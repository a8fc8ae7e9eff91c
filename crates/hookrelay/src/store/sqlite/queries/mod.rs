//! Every SQL statement of the SQLite backend, one named function each. Functions that change
//! data run on the writer thread inside a group commit; the rest run on a reader connection.
//!
//! One module per table family; each statement is a small named function.

mod deliveries;
mod ingest;
mod licenses;
mod minutes;
mod operational;
mod retention;
mod sessions;
mod targets;
mod visitors;
mod webhooks;

pub use deliveries::*;
pub use ingest::*;
pub use licenses::*;
pub use minutes::*;
pub use operational::*;
pub use retention::*;
pub use sessions::*;
pub use targets::*;
pub use visitors::*;
pub use webhooks::*;

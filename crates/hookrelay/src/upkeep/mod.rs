//! Background upkeep that keeps a server fit to run for months: the retention purge, the
//! auto-disable of webhooks whose targets keep failing, and the operational events these and the
//! engine's final failures produce. It works only through the [`crate::store::Store`] trait and
//! the engine's handle, like the API, so it runs the same on every backend and on every node (on
//! PostgreSQL, nodes purging at once skip each other's rows, and operational events carry
//! idempotency keys).

pub mod auto_disable;
pub mod notices;
pub mod retention;

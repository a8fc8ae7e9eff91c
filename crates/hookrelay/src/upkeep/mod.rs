//! Background upkeep that keeps a server fit to run for months: the retention purge. It works
//! only through the [`crate::store::Store`] trait, like the engine, so it runs the same on every
//! backend and on every node (on PostgreSQL, nodes purging at once skip each other's rows).

pub mod retention;

//! Placeholder until listen/trigger land.

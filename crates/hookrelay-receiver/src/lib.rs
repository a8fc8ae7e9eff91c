//! Placeholder until the receiver SDK lands.

//! `listen` and `trigger` from the outside: real HTTP on 127.0.0.1 port 0, no mocks. The two
//! commands talk to each other in-process, and to small axum apps standing in for the
//! developer's own app.

mod cli;
mod helpers;
mod listen_and_trigger;
mod signatures;
mod trigger_wire;

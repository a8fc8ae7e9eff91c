//! The story suite: hookrelay as its users meet it, over real HTTP, with a real SQLite file and a
//! real receiver on port 0.

mod harness;
mod receiver;

mod api_rules;
mod crash;
mod events;
mod lifecycle;
mod retries;
mod wire_format;

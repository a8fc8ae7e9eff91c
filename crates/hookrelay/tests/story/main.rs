//! The story suite: hookrelay as its users meet it, over real HTTP, with a real SQLite file and a
//! real receiver on port 0.

mod browser;
mod harness;
mod receiver;

mod api_rules;
mod console;
mod crash;
mod events;
mod lifecycle;
mod livechat_v2;
mod payload_fidelity;
mod retries;
mod visitors;
mod wire_format;

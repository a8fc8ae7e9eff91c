//! The story suite: hookrelay as its users meet it, over real HTTP, on every store backend (a real
//! SQLite file, a real PostgreSQL schema: see `backend`) and a real receiver on port 0.

mod backend;
mod browser;
mod harness;
mod receiver;

mod api_rules;
mod auto_disable;
mod console;
mod console_dashboard;
mod crash;
mod credentials;
mod dashboard;
mod edge;
mod events;
mod lifecycle;
mod listen_sessions;
mod livechat_v2;
mod multinode;
mod openapi;
mod operations;
mod outage;
mod payload_fidelity;
mod pg_proxy;
mod pg_races;
mod recovery;
mod retention;
mod retries;
mod shared_health;
mod signing;
mod signing_official;
mod slow_clients;
mod tail;
mod visitors;
mod wire_format;

//! The measured scenarios, one module each.

pub mod catchup;
pub mod connect_auth;
pub mod connections;
pub mod fanout;
pub mod latency;
pub mod mcp;
pub mod mux;
pub mod publish;
pub mod stuck;

//! Live delivery: per-channel rooms (fan-out) and the WebSocket sessions that
//! read from them. The only module that owns sockets; it never touches the
//! store or decides who may subscribe.

pub mod rooms;
pub mod ws;

//! Webhooks: signed, at-least-once delivery of events to HTTP endpoints.
//!
//! The store queues one delivery per (webhook, event) in the event's own
//! transaction; this module owns everything after that: the worker that
//! POSTs, retries and disables, the signatures, and the SSRF guard. It is the
//! only part of channelhub that makes outbound HTTP calls. It does not decide
//! who may register a webhook (the hub does).

pub mod guard;
pub mod signing;
pub mod worker;

use std::time::Duration;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Allow targets on loopback, private and link-local addresses.
    pub allow_private: bool,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// A webhook failing for longer than this is disabled.
    pub disable_after: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// The HS secrets JWTs are accepted with: a webhook a token of another
    /// secret registered has lost access.
    pub jwt_secrets: crate::model::AcceptedSecrets,
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The target answered with a non-2xx status.
    HttpError,
    NetworkError,
    Timeout,
    /// The target's address is not allowed (SSRF guard).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::HttpError => "http_error",
            Outcome::NetworkError => "network_error",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
        }
    }
}

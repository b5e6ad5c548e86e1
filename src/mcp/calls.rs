//! Waits in flight, so that a `notifications/cancelled` (which, stateless,
//! arrives as a request of its own) reaches the wait it names. A call is
//! known by who made it (the presented token, else the client address) and
//! its JSON-RPC id: a client can cancel only its own calls.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::McpCaller;

type Key = (String, String);

#[derive(Default)]
pub struct InFlight {
    /// Each call's token, and a number telling a call from a later one
    /// that reuses its id.
    calls: Mutex<HashMap<Key, (u64, CancellationToken)>>,
    next: AtomicU64,
}

/// Removes its call from the registry when the call ends.
pub struct Registration {
    registry: Arc<InFlight>,
    key: Key,
    number: u64,
    token: CancellationToken,
}

impl Registration {
    pub fn cancelled(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut calls = self
            .registry
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if calls.get(&self.key).is_some_and(|(n, _)| *n == self.number) {
            calls.remove(&self.key);
        }
    }
}

fn key(caller: &McpCaller, request_id: &Value) -> Key {
    let who = caller
        .token
        .clone()
        .unwrap_or_else(|| caller.client.to_string());
    (who, request_id.to_string())
}

impl InFlight {
    /// Registers a call; it is cancelled by [`InFlight::cancel`] with the same caller and id.
    pub fn register(self: &Arc<Self>, caller: &McpCaller, request_id: &Value) -> Registration {
        let key = key(caller, request_id);
        let token = CancellationToken::new();
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), (number, token.clone()));
        Registration {
            registry: self.clone(),
            key,
            number,
            token,
        }
    }

    /// Cancels the caller's call with this id, if it is still running.
    pub fn cancel(&self, caller: &McpCaller, request_id: &Value) {
        let removed = self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key(caller, request_id));
        if let Some((_, token)) = removed {
            token.cancel();
        }
    }
}

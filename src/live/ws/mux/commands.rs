//! The multiplexed socket's commands: `subscribe`, `unsubscribe` and
//! `refresh` read from the client, bounded (rate, count, malformed frames),
//! handed to the gate, and the gate's answers applied.

use std::{collections::HashMap, num::NonZeroU32, sync::Arc};

use futures_util::FutureExt;
use governor::clock::Clock;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

use super::{
    Admission, COMMAND_BURST_SECONDS, Counted, MAX_MALFORMED_FRAMES, Mux, Outcome, Replaying, Sub,
    arm,
};
use crate::live::{
    rooms::CloseOrder,
    text_frame,
    ws::{
        APP_CHANNEL_DELETED, APP_REPLAY_FAILED, APP_TOKEN_REVOKED, Ending, applies_to,
        protocol::{self, Command, Refusal, Subscribe},
    },
};

impl Mux<'_> {
    pub(super) async fn on_command(&mut self, text: &str) -> Option<Ending> {
        let parsed = protocol::parse(text);
        if let Err(refusal) = self.spend_commands(1) {
            // Named as the command named itself, so the client knows which
            // one to send again.
            let (reference, channel) = match &parsed {
                Ok(command) => command.names(),
                Err(bad) => (bad.reference.as_deref(), bad.channel.as_deref()),
            };
            return self
                .send(protocol::error(reference, channel, &refusal))
                .await;
        }
        let command = match parsed {
            Ok(command) => command,
            Err(bad) => {
                let (reference, channel) = (bad.reference, bad.channel);
                return self
                    .malformed(reference.as_deref(), channel.as_deref(), bad.detail)
                    .await;
            }
        };
        match command {
            Command::Subscribe(subscribe) => self.subscribe(subscribe).await,
            Command::Unsubscribe { reference, channel } => {
                if !self.subs.contains_key(channel.as_str()) {
                    let refusal =
                        Refusal::new(404, format!("this socket is not subscribed to {channel:?}"));
                    let frame = protocol::error(reference.as_deref(), Some(&channel), &refusal);
                    return self.send(frame).await;
                }
                self.end(&channel, reference.as_deref(), 1000, "unsubscribed");
                self.flush().await
            }
            Command::Refresh { reference, token } => self.refresh(reference, token).await,
        }
    }

    /// Takes `n` commands from the socket's budget, or says when to retry.
    fn spend_commands(&self, n: usize) -> Result<(), Refusal> {
        let Some(n) = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        let per_second = self.sessions.limits.mux.commands_per_second;
        let wait = match self.commands.check_n(n) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(not_until)) => {
                not_until.wait_time_from(governor::clock::DefaultClock::default().now())
            }
            // More than the whole burst: never at once.
            Err(_) => std::time::Duration::from_secs(u64::from(COMMAND_BURST_SECONDS)),
        };
        let mut refusal = Refusal::new(
            429,
            format!("commands are limited to {per_second} a second"),
        );
        refusal.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        Err(refusal)
    }

    /// Answers a malformed frame with a 400 `error`; too many close the socket.
    pub(super) async fn malformed(
        &mut self,
        reference: Option<&str>,
        channel: Option<&str>,
        detail: String,
    ) -> Option<Ending> {
        self.malformed += 1;
        if self.malformed >= MAX_MALFORMED_FRAMES {
            return Some(Ending::Close(
                CloseCode::Policy,
                None,
                "too many malformed frames",
            ));
        }
        let refusal = Refusal::new(400, detail);
        self.send(protocol::error(reference, channel, &refusal))
            .await
    }

    pub(super) async fn subscribe(&mut self, subscribe: Subscribe) -> Option<Ending> {
        let refusal = if self.subs.contains_key(subscribe.channel.as_str()) {
            Some(Refusal::new(
                409,
                format!(
                    "already subscribed to {:?}: to change its filter, unsubscribe, then \
                     subscribe with after",
                    subscribe.channel
                ),
            ))
        } else if self.subs.len() >= self.sessions.limits.mux.max_subscriptions {
            Some(Refusal::new(
                429,
                format!(
                    "this socket holds its maximum of {} subscriptions",
                    self.sessions.limits.mux.max_subscriptions
                ),
            ))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let frame = protocol::error(
                subscribe.reference.as_deref(),
                Some(&subscribe.channel),
                &refusal,
            );
            return self.send(frame).await;
        }
        let via_connection = subscribe.token.is_none() && self.credential.is_some();
        let token = subscribe
            .token
            .clone()
            .or_else(|| self.credential.as_ref().map(|c| c.token.clone()));
        let admit = self.gate.admit(&subscribe, token);
        self.pending = Some(
            async move {
                Outcome::Subscribed {
                    subscribe,
                    via_connection,
                    admitted: Box::new(admit.await),
                }
            }
            .boxed(),
        );
        None
    }

    pub(super) async fn refresh(
        &mut self,
        reference: Option<String>,
        token: String,
    ) -> Option<Ending> {
        let Some(current) = self.credential.as_ref().map(|c| c.identity.clone()) else {
            let refusal = Refusal::new(
                403,
                "this socket has no connection credential to refresh: subscribe with a token",
            );
            let frame = protocol::error(reference.as_deref(), None, &refusal);
            return self.send(frame).await;
        };
        // Each re-check is a store read: a refresh costs one command per
        // subscription it re-checks (the one spent on reading it included).
        let rechecks = self.subs.values().filter(|s| s.via_connection).count();
        if let Err(refusal) = self.spend_commands(rechecks.saturating_sub(1)) {
            let frame = protocol::error(reference.as_deref(), None, &refusal);
            return self.send(frame).await;
        }
        let standing: Vec<(Arc<str>, u64)> = self
            .subs
            .iter_mut()
            .filter(|(_, sub)| sub.via_connection)
            .map(|(channel, sub)| {
                sub.held = Some(Vec::new());
                (channel.clone(), sub.id)
            })
            .collect();
        let gate = self.gate.clone();
        self.pending = Some(
            async move {
                let result = async {
                    let credential = gate.credential(token.clone()).await?;
                    if credential.identity != current {
                        return Err(Refusal::new(
                            403,
                            "a refresh must name the same identity as the connection credential",
                        ));
                    }
                    let mut rechecked = Vec::with_capacity(standing.len());
                    for (channel, id) in standing {
                        let access = gate.recheck(&channel, token.clone()).await;
                        rechecked.push((channel, id, access));
                    }
                    Ok((credential, rechecked))
                }
                .await;
                Outcome::Refreshed { reference, result }
            }
            .boxed(),
        );
        None
    }

    pub(super) async fn on_outcome(&mut self, outcome: Outcome) -> Option<Ending> {
        match outcome {
            Outcome::Subscribed {
                subscribe,
                via_connection,
                admitted,
            } => {
                let channel: Arc<str> = subscribe.channel.into();
                let reference = subscribe.reference.as_deref();
                match *admitted {
                    Err(refusal) => {
                        let frame = protocol::error(reference, Some(&channel), &refusal);
                        self.send(frame).await
                    }
                    Ok(admission) => {
                        self.admit(
                            channel,
                            reference,
                            subscribe.types,
                            via_connection,
                            admission,
                        );
                        self.flush().await
                    }
                }
            }
            Outcome::Refreshed { reference, result } => {
                // Close orders held while the refresh re-checked are judged
                // now, against the access each subscription will keep.
                let mut held: HashMap<Arc<str>, Vec<CloseOrder>> = self
                    .subs
                    .iter_mut()
                    .filter_map(|(c, s)| s.held.take().map(|h| (c.clone(), h)))
                    .collect();
                let (credential, rechecked) = match result {
                    Ok(refreshed) => refreshed,
                    Err(refusal) => {
                        let frame = protocol::error(reference.as_deref(), None, &refusal);
                        return self.send(frame).await;
                    }
                };
                for (channel, id, access) in rechecked {
                    if self.subs.get(&channel).is_none_or(|s| s.id != id) {
                        continue;
                    }
                    let orders = held.remove(&channel).unwrap_or_default();
                    match access {
                        Ok(access) => match orders.iter().find_map(|o| applies_to(o, &access)) {
                            Some(ending) => self.end_with(&channel, ending),
                            None => {
                                if let Some(sub) = self.subs.get_mut(&channel) {
                                    sub.access = access;
                                }
                            }
                        },
                        Err(refusal) => {
                            let (code, reason) = recheck_ending(&refusal);
                            self.end(&channel, None, code, reason);
                        }
                    }
                }
                self.reset_expiry();
                let expires_at = credential.summary["expires_at"].as_str().map(str::to_owned);
                self.credential = Some(credential);
                let frame = protocol::refreshed(reference.as_deref(), expires_at.as_deref());
                self.send(frame).await
            }
        }
    }

    /// Takes a subscription the gate let in: `subscribed`, then its replay
    /// (queued) or at once `caught_up` and live events.
    pub(super) fn admit(
        &mut self,
        channel: Arc<str>,
        reference: Option<&str>,
        types: Vec<String>,
        via_connection: bool,
        admission: Admission,
    ) {
        let Admission {
            listener,
            access,
            position,
            replay,
            expires_at,
        } = admission;
        self.next_id += 1;
        let id = self.next_id;
        let stop = CancellationToken::new();
        let frame = protocol::subscribed(reference, &channel, &position, expires_at.as_deref());
        self.socket.staged.push(text_frame(frame).0);
        let has_expiry = access.expires_at.is_some();
        self.subs.insert(
            channel.clone(),
            Sub {
                id,
                types,
                access,
                taken: listener.room.published(),
                // Events up to where the stream starts are before it.
                replayed_through: Some(position.clone()),
                room: listener.room.clone(),
                replaying: replay.is_some(),
                stop: stop.clone(),
                via_connection,
                held: None,
                _counted: Counted::new(),
            },
        );
        if has_expiry {
            self.reset_expiry();
        }
        match replay {
            Some(replay) => {
                self.queued.push_back(Replaying {
                    channel,
                    id,
                    listener,
                    replay,
                });
                self.start_replay();
            }
            None => {
                let frame = protocol::caught_up(&channel, &position);
                self.socket.staged.push(text_frame(frame).0);
                self.armed.push(arm(channel, id, listener, stop));
            }
        }
    }
}

/// How a subscription ends when the refreshed credential's re-check
/// refuses it: lost access stops it, a channel that is gone stops it, and a
/// check that failed tells the client to subscribe again.
fn recheck_ending(refusal: &Refusal) -> (u16, &'static str) {
    match refusal.status {
        401 | 403 => (APP_TOKEN_REVOKED, "token revoked"),
        404 => (APP_CHANNEL_DELETED, "channel deleted"),
        _ => (
            APP_REPLAY_FAILED,
            "access could not be checked: subscribe again",
        ),
    }
}

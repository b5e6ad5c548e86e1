//! The multiplexed socket's replays: one at a time per socket, in
//! subscribe order, a page at a time, while the other subscriptions' live
//! events keep flowing; then `caught_up` and the subscription goes live.

use futures_util::FutureExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Mux, Replaying, arm};
use crate::live::{
    Page, ReplayStop, text_frame,
    ws::{APP_TOKEN_REVOKED, Ending, applies_to, protocol, replay_failed},
};

impl Mux<'_> {
    pub(super) fn start_replay(&mut self) {
        if self.running.is_some() {
            return;
        }
        if let Some(mut replaying) = self.queued.pop_front() {
            let id = replaying.id;
            if let Some(sub) = self.subs.get(&replaying.channel).filter(|s| s.id == id) {
                replaying.replay.access = sub.access.clone();
            }
            let read = async move {
                let page = replaying.replay.next_page().await;
                (replaying, page)
            };
            self.running = Some((id, read.boxed()));
        }
    }

    pub(super) async fn on_page(
        &mut self,
        replaying: Replaying,
        page: Result<Page, ReplayStop>,
    ) -> Option<Ending> {
        let channel = replaying.channel.clone();
        let Some(sub) = self.subs.get(&channel).filter(|s| s.id == replaying.id) else {
            self.start_replay();
            return None;
        };
        let page = match page {
            Ok(page) => page,
            Err(ReplayStop::Lost(order)) => {
                let ending = applies_to(&order, &sub.access).unwrap_or(Ending::Close(
                    CloseCode::Policy,
                    Some(APP_TOKEN_REVOKED),
                    "access ended",
                ));
                self.end_with(&channel, ending);
                self.start_replay();
                return self.flush().await;
            }
            Err(ReplayStop::Failed(error)) => {
                self.end_with(&channel, replay_failed(&error));
                self.start_replay();
                return self.flush().await;
            }
        };
        if let Some(removed_through) = &page.gap {
            let frame = protocol::gap(&channel, &page.after, removed_through);
            self.socket.staged.push(text_frame(frame).0);
        }
        if page.events.is_empty() {
            let position = replaying.replay.position().to_owned();
            if let Some(sub) = self.subs.get_mut(&channel) {
                sub.replaying = false;
                sub.replayed_through = Some(position.clone());
                let stop = sub.stop.clone();
                self.armed
                    .push(arm(channel.clone(), replaying.id, replaying.listener, stop));
            }
            self.socket
                .staged
                .push(text_frame(protocol::caught_up(&channel, &position)).0);
            self.start_replay();
            return self.flush().await;
        }
        // Encoded as they are written, a bounded batch at a time.
        for event in &page.events {
            self.socket
                .staged
                .push(text_frame(event.to_json_string()).0);
            if self.socket.staged.is_full()
                && let Some(ending) = self.flush().await
            {
                return Some(ending);
            }
        }
        let ending = self.flush().await;
        // The next page, unless the subscription ended meanwhile.
        if self
            .subs
            .get(&channel)
            .is_some_and(|s| s.id == replaying.id)
        {
            self.queued.push_front(replaying);
        }
        self.start_replay();
        ending
    }
}

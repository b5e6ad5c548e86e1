//! What the hub does with control notices nodes exchange: close sockets and
//! forget cached credentials and channels; and the access recheck for
//! notices a node missed. Append notices are `announced.rs`'s.

use std::{collections::HashSet, sync::Arc};

use crate::{
    auth::JwtRevoked,
    live::rooms::CloseOrder,
    model::{TokenKind, now_millis},
    notice::{CONTROL_TOPIC, ControlNotice},
};

use super::Hub;

impl Hub {
    /// Applies a control notice here and tells the other nodes.
    pub(super) async fn announce_control(&self, notice: ControlNotice) {
        self.apply_control(&notice);
        let payload = serde_json::to_string(&notice).expect("notices serialize");
        if let Err(err) = self.store.announce(CONTROL_TOPIC, &payload).await {
            tracing::warn!(error = %err, "could not announce a control notice to other nodes");
        }
    }

    /// A control notice another node sent (the cluster bus): applied here.
    pub fn receive_control(&self, notice: &ControlNotice) {
        if super::announced::fault::drop_control_notice() {
            tracing::warn!(?notice, "debug hook: a control notice is ignored");
            return;
        }
        self.apply_control(notice);
    }

    /// Closes the sockets and forgets the credentials a notice is about.
    pub fn apply_control(&self, notice: &ControlNotice) {
        match notice {
            ControlNotice::ChannelChanged { channel_id } => self.forget_channel(channel_id),
            ControlNotice::ChannelDeleted { channel_id } => {
                self.forget_channel(channel_id);
                self.rooms.close(channel_id, CloseOrder::ChannelDeleted);
            }
            ControlNotice::ChannelMadePrivate { channel_id } => {
                self.rooms.close(channel_id, CloseOrder::ChannelMadePrivate);
            }
            ControlNotice::TokenRevoked {
                channel_id,
                token_id,
            } => {
                self.auth.forget(token_id);
                self.rooms
                    .close(channel_id, CloseOrder::TokenRevoked(token_id.clone()));
            }
            ControlNotice::KeyAdded { key } => self.auth.jwt().insert_key(key.clone()),
            ControlNotice::KeyRemoved { kid } => {
                self.auth.jwt().remove_key(kid);
                self.rooms
                    .close_everywhere(CloseOrder::JwtRevoked(Arc::new(JwtRevoked::Key(
                        kid.clone(),
                    ))));
            }
            ControlNotice::JwtRevoked { revocation } => {
                self.auth.jwt().add_revocation(revocation);
                self.rooms
                    .close_everywhere(CloseOrder::JwtRevoked(Arc::new(JwtRevoked::Tokens(
                        self.auth.jwt().revocation(revocation),
                    ))));
            }
        }
    }

    /// Reads access to every live room again from the database and closes
    /// the listeners that lost it: covers control notices this node missed
    /// (its LISTEN connection was down), and tokens that expired. Run after
    /// a bus reconnect and every `--access-recheck-interval`.
    pub async fn recheck_access(&self) {
        if let Err(err) = self.auth.jwt().reload().await {
            tracing::warn!(error = %err, "could not re-read the trusted keys and the deny-list");
        }
        let jwt = Arc::new(self.auth.jwt().view());
        let now = now_millis();
        for channel_id in self.rooms.channel_ids() {
            let channel = match self.store.get_channel(&channel_id).await {
                Ok(channel) => channel,
                Err(err) => {
                    tracing::warn!(error = %err, channel = %channel_id, "access recheck failed");
                    continue;
                }
            };
            let Some(channel) = channel else {
                self.forget_channel(&channel_id);
                self.rooms.close(&channel_id, CloseOrder::ChannelDeleted);
                continue;
            };
            let tokens = match self.store.list_tokens(&channel_id).await {
                Ok(tokens) => tokens,
                Err(err) => {
                    tracing::warn!(error = %err, channel = %channel_id, "access recheck failed");
                    continue;
                }
            };
            let valid_tokens: HashSet<String> = tokens
                .into_iter()
                .filter(|t| t.kind == TokenKind::Subscribe && !t.is_expired(now))
                .map(|t| t.id)
                .collect();
            self.rooms.close(
                &channel_id,
                CloseOrder::Recheck {
                    public: channel.is_public,
                    valid_tokens: Arc::new(valid_tokens),
                    jwt: jwt.clone(),
                },
            );
        }
    }

    /// Drops what this node caches about a channel.
    fn forget_channel(&self, channel_id: &str) {
        self.publish_view.remove(channel_id);
        self.type_rules.forget(channel_id);
    }
}

//! Channel tokens: minting, listing and revoking them.

use crate::{
    auth::Principal,
    model::{TokenInfo, TokenKind, TokenRecord, now_millis},
    notice::ControlNotice,
    store::StoreError,
};

use super::{
    Hub, HubError, HubResult, channel_not_found,
    channels::{MAX_NAME_CHARS, validate_optional_text},
};

/// The longest token lifetime: 100 years.
const MAX_TOKEN_LIFETIME_SECONDS: i64 = 100 * 365 * 24 * 3600;

/// A token as created: its info and the secret, shown this once.
pub struct CreatedToken {
    pub info: TokenInfo,
    pub token: String,
}

/// What a new token should be.
pub struct TokenRequest {
    pub kind: TokenKind,
    pub name: Option<String>,
    pub publisher_id: Option<String>,
    pub expires_in_seconds: Option<i64>,
}

impl Hub {
    pub async fn create_token(
        &self,
        principal: &Principal,
        channel_id: &str,
        request: TokenRequest,
    ) -> HubResult<CreatedToken> {
        Self::require_admin(principal)?;
        validate_optional_text("name", request.name.as_deref(), MAX_NAME_CHARS)?;
        validate_optional_text(
            "publisher_id",
            request.publisher_id.as_deref(),
            MAX_NAME_CHARS,
        )?;
        if request.kind == TokenKind::Subscribe && request.publisher_id.is_some() {
            return Err(HubError::Invalid(
                "publisher_id applies to publish tokens only".into(),
            ));
        }
        let now = now_millis();
        let expires_at = match request.expires_in_seconds {
            None => None,
            // An expiry past year 9999 has no RFC 3339 form.
            Some(seconds) if (1..=MAX_TOKEN_LIFETIME_SECONDS).contains(&seconds) => {
                Some(now.saturating_add(seconds * 1000))
            }
            Some(_) => {
                return Err(HubError::Invalid(format!(
                    "expires_in_seconds is 1 to {MAX_TOKEN_LIFETIME_SECONDS}"
                )));
            }
        };
        let minted = self.auth.mint().await;
        let publisher_id = match request.kind {
            TokenKind::Publish => Some(request.publisher_id.unwrap_or_else(|| minted.id.clone())),
            TokenKind::Subscribe => None,
        };
        let record = TokenRecord {
            id: minted.id,
            channel_id: channel_id.to_owned(),
            kind: request.kind,
            name: request.name,
            publisher_id,
            secret_hash: minted.secret_hash,
            created_at: now,
            expires_at,
        };
        match self.store.create_token(&record).await {
            Ok(()) => Ok(CreatedToken {
                info: TokenInfo::from(&record),
                token: minted.token,
            }),
            Err(StoreError::NotFound) => Err(channel_not_found(channel_id)),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn list_tokens(
        &self,
        principal: &Principal,
        channel_id: &str,
    ) -> HubResult<Vec<TokenInfo>> {
        Self::require_admin(principal)?;
        self.load_channel(channel_id).await?;
        let tokens = self.store.list_tokens(channel_id).await?;
        Ok(tokens.iter().map(TokenInfo::from).collect())
    }

    pub async fn revoke_token(
        &self,
        principal: &Principal,
        channel_id: &str,
        token_id: &str,
    ) -> HubResult<()> {
        Self::require_admin(principal)?;
        if !self.store.delete_token(channel_id, token_id).await? {
            return Err(HubError::NotFound(format!(
                "token {token_id:?} does not exist on channel {channel_id:?}"
            )));
        }
        self.announce_control(ControlNotice::TokenRevoked {
            channel_id: channel_id.to_owned(),
            token_id: token_id.to_owned(),
        })
        .await;
        self.revoke_unauthorized_webhooks().await?;
        Ok(())
    }
}

//! `/channels/{id}/tokens`: create, list, revoke (all admin).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;

use super::{
    ApiTags, Created, Deleted, caller,
    json::{JsonBody, StorableText},
    problem::ApiError,
};
use crate::{
    hub::{Hub, TokenRequest},
    model::{Invalid, TokenInfo, TokenKind, check_storable_opt},
};

/// A token to create.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub kind: TokenKind,
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    /// Publish tokens only: stamped on every event published with the token.
    /// Defaults to the token's id.
    #[oai(validator(max_length = 200))]
    pub publisher_id: Option<String>,
    /// Omit for a token that never expires; at most 100 years.
    #[oai(validator(minimum(value = "1"), maximum(value = "3153600000")))]
    pub expires_in_seconds: Option<i64>,
}

impl StorableText for CreateToken {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable_opt("name", self.name.as_deref())?;
        check_storable_opt("publisher_id", self.publisher_id.as_deref())
    }
}

/// A created token. `token` is the secret: it is shown this once and only a
/// hash of it is kept.
#[derive(Debug, Object)]
pub struct CreatedTokenBody {
    pub id: String,
    pub kind: TokenKind,
    pub channel_id: String,
    pub name: Option<String>,
    pub publisher_id: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub token: String,
}

pub struct TokensApi {
    pub hub: Arc<Hub>,
}

#[OpenApi(tag = "ApiTags::Tokens")]
impl TokensApi {
    /// Create a subscribe or publish token for a channel (admin).
    #[oai(path = "/channels/:channel_id/tokens", method = "post")]
    async fn create(
        &self,
        req: &Request,
        channel_id: Path<String>,
        body: JsonBody<CreateToken>,
    ) -> Result<Created<CreatedTokenBody>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let body = body.0;
        let request = TokenRequest {
            kind: body.kind,
            name: body.name,
            publisher_id: body.publisher_id,
            expires_in_seconds: body.expires_in_seconds,
        };
        let created = self
            .hub
            .create_token(&principal, &channel_id, request)
            .await?;
        let TokenInfo {
            id,
            kind,
            channel_id,
            name,
            publisher_id,
            created_at,
            expires_at,
        } = created.info;
        Ok(Created::Created(Json(CreatedTokenBody {
            id,
            kind,
            channel_id,
            name,
            publisher_id,
            created_at,
            expires_at,
            token: created.token,
        })))
    }

    /// List a channel's tokens, never their secrets (admin).
    #[oai(path = "/channels/:channel_id/tokens", method = "get")]
    async fn list(
        &self,
        req: &Request,
        channel_id: Path<String>,
    ) -> Result<Json<Vec<TokenInfo>>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        Ok(Json(self.hub.list_tokens(&principal, &channel_id).await?))
    }

    /// Revoke a token (admin): it stops working at once and sockets using it close with 1008.
    #[oai(path = "/channels/:channel_id/tokens/:token_id", method = "delete")]
    async fn revoke(
        &self,
        req: &Request,
        channel_id: Path<String>,
        token_id: Path<String>,
    ) -> Result<Deleted, ApiError> {
        let principal = caller(&self.hub, req).await?;
        self.hub
            .revoke_token(&principal, &channel_id, &token_id)
            .await?;
        Ok(Deleted::Deleted)
    }
}

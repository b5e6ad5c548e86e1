//! Routes Zooid's SDK and CLI call that have no other home here:
//! `GET /server` (who this server is), `GET /tokens/claims` (what the
//! presented credential grants, in Zooid's shape) and `POST /tokens` (a JWT
//! minted with the HS256 secret). Shapes as Zooid's server answers them.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{Object, OpenApi, payload::Json};
use serde::Deserialize;

use super::{
    ApiTags, caller,
    json::{JsonBody, StorableText},
    problem::ApiError,
};
use crate::{
    auth::Principal,
    hub::{Hub, HubError, MintRequest},
    model::{Invalid, check_storable_all, check_storable_opt},
};

/// This server, as Zooid's `GET /api/v1/server` describes one (read-only).
#[derive(Debug, Object)]
pub struct ServerMeta {
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    /// When this process started.
    pub updated_at: String,
}

/// What the presented credential grants, in Zooid's shape.
#[derive(Debug, Object)]
pub struct TokenClaims {
    /// `admin`, `pub:<pattern>`, `sub:<pattern>`.
    pub scopes: Vec<String>,
    pub sub: Option<String>,
    pub name: Option<String>,
    /// When it was issued (seconds), if known.
    pub iat: Option<i64>,
    /// When it expires (seconds), if it does.
    pub exp: Option<i64>,
}

/// A token to mint (Zooid's `POST /api/v1/tokens` body).
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintToken {
    /// `admin`, `pub:<pattern>` or `sub:<pattern>` (a pattern is a channel
    /// id, `*`, or a prefix ending in `*`).
    #[oai(validator(min_items = 1, max_items = 256))]
    pub scopes: Vec<String>,
    #[oai(validator(min_length = 1, max_length = 256))]
    pub sub: Option<String>,
    #[oai(validator(min_length = 1, max_length = 256))]
    pub name: Option<String>,
    /// `<number><s|m|h|d>` (`5m`, `1h`, `7d`). Without it the token lasts a
    /// day when the server requires `exp` (the default), else it has none.
    #[oai(validator(pattern = "^[0-9]{1,9}[smhd]$"))]
    pub expires_in: Option<String>,
    /// Carried as the `groups` claim; grants nothing.
    #[oai(validator(max_items = 64))]
    pub groups: Option<Vec<String>>,
}

impl StorableText for MintToken {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable_all("scopes", Some(&self.scopes))?;
        check_storable_opt("sub", self.sub.as_deref())?;
        check_storable_opt("name", self.name.as_deref())?;
        check_storable_all("groups", self.groups.as_deref())
    }
}

/// A minted token.
#[derive(Debug, Object)]
pub struct MintedJwt {
    pub token: String,
}

pub struct ZooidApi {
    pub hub: Arc<Hub>,
    /// RFC 3339: when this process started.
    pub started_at: String,
}

/// `5m` → 300.
fn duration_seconds(text: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::from(HubError::Invalid(format!(
            "Invalid duration \"{text}\". Use format: <number><s|m|h|d> (e.g. \"5m\", \"1h\", \"7d\")"
        )))
    };
    let unit = match text.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => return Err(invalid()),
    };
    let number: i64 = text[..text.len() - 1].parse().map_err(|_| invalid())?;
    number.checked_mul(unit).ok_or_else(invalid)
}

#[OpenApi(tag = "ApiTags::Zooid")]
impl ZooidApi {
    /// This server, as Zooid's clients read one (read-only; anyone).
    #[oai(path = "/server", method = "get")]
    async fn server(&self) -> Json<ServerMeta> {
        Json(ServerMeta {
            name: "channelhub".into(),
            description: None,
            tags: Vec::new(),
            owner: None,
            company: None,
            email: None,
            updated_at: self.started_at.clone(),
        })
    }

    /// What the presented credential grants, in Zooid's shape (a credential
    /// is needed: 401 without one; a refused JWT's 401 says why).
    #[oai(path = "/tokens/claims", method = "get")]
    async fn claims(&self, req: &Request) -> Result<Json<TokenClaims>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let seconds = |ms: i64| ms.div_euclid(1000);
        let claims = match principal {
            Principal::Anonymous => {
                return Err(HubError::Unauthorized(
                    "Missing or invalid Authorization header".into(),
                )
                .into());
            }
            Principal::Admin => TokenClaims {
                scopes: vec!["admin".into()],
                sub: None,
                name: None,
                iat: None,
                exp: None,
            },
            Principal::Token(token) => TokenClaims {
                scopes: vec![token.scope()],
                sub: token.publisher_id.clone(),
                name: token.name.clone(),
                iat: Some(seconds(token.created_at)),
                exp: token.expires_at.map(seconds),
            },
            Principal::Jwt(grant) => TokenClaims {
                scopes: grant.scopes.clone(),
                sub: grant.sub.clone(),
                name: grant.name.clone(),
                iat: grant.iat.map(seconds),
                exp: grant.exp.map(seconds),
            },
        };
        Ok(Json(claims))
    }

    /// Mint a JWT signed with the server's HS256 secret (admin), as Zooid's
    /// `mintToken`; 404 when the server has no `--jwt-secret`.
    #[oai(path = "/tokens", method = "post")]
    async fn mint(
        &self,
        req: &Request,
        body: JsonBody<MintToken>,
    ) -> Result<Json<MintedJwt>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let body = body.0;
        let request = MintRequest {
            scopes: body.scopes,
            sub: body.sub,
            name: body.name,
            expires_in_seconds: body
                .expires_in
                .as_deref()
                .map(duration_seconds)
                .transpose()?,
            groups: body.groups.unwrap_or_default(),
        };
        let token = self.hub.mint_jwt(&principal, request)?;
        Ok(Json(MintedJwt { token }))
    }
}

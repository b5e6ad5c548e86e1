//! Routes Zooid's SDK and CLI call that have no other home here:
//! `GET`/`PUT /server` (who this server is), `GET /tokens/claims` (what the
//! presented credential grants, in Zooid's shape), `POST /tokens` (a JWT
//! minted with the HS256 secret) and `POST /directory/claim` (a listing
//! claim for Zooid's directory, signed with the server key). Shapes as
//! Zooid's server answers them.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem::Request;
use poem_openapi::{Object, OpenApi, payload::Json};
use serde::Deserialize;

use super::{
    ApiTags, caller,
    json::{JsonBody, StorableText},
    problem::ApiError,
    request_origin,
};
use crate::{
    auth::Principal,
    hub::{
        Hub, HubError, MintRequest,
        profile::{ClaimRequest, ProfileUpdate},
    },
    model::{Invalid, ServerProfile, check_storable_all, check_storable_opt},
    webhooks::signing::ServerKey,
};

/// A change to the server's profile (Zooid's `PUT /api/v1/server` body):
/// absent fields stay as they are, `null` clears one.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateServerMeta {
    /// Not `null`: a server always has a name.
    #[oai(validator(min_length = 1, max_length = 200))]
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[oai(validator(max_length = 2000))]
    #[serde(default, deserialize_with = "crate::model::nullable")]
    pub description: Option<Option<String>>,
    /// `null` clears, as `[]` does.
    #[oai(validator(max_items = 32, min_length = 1, max_length = 64))]
    #[serde(default, deserialize_with = "crate::model::nullable")]
    pub tags: Option<Option<Vec<String>>>,
    #[oai(validator(max_length = 256))]
    #[serde(default, deserialize_with = "crate::model::nullable")]
    pub owner: Option<Option<String>>,
    #[oai(validator(max_length = 256))]
    #[serde(default, deserialize_with = "crate::model::nullable")]
    pub company: Option<Option<String>>,
    #[oai(validator(max_length = 256))]
    #[serde(default, deserialize_with = "crate::model::nullable")]
    pub email: Option<Option<String>>,
}

impl StorableText for UpdateServerMeta {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable_opt("name", self.name.as_deref())?;
        check_storable_opt("description", self.description.clone().flatten().as_deref())?;
        check_storable_all("tags", self.tags.clone().flatten().as_deref())?;
        check_storable_opt("owner", self.owner.clone().flatten().as_deref())?;
        check_storable_opt("company", self.company.clone().flatten().as_deref())?;
        check_storable_opt("email", self.email.clone().flatten().as_deref())
    }
}

/// For `#[serde(default, deserialize_with)]`: absent is `None`, `null` an error.
fn not_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("name cannot be null: a server always has a name"))
}

/// What to claim in Zooid's directory (`POST /api/v1/directory/claim`).
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryClaimBody {
    /// Existing channel ids, 1–100.
    #[oai(validator(min_items = 1, max_items = 100))]
    pub channels: Vec<String>,
    /// `delete` to withdraw the channels from the directory.
    #[oai(validator(custom = "&crate::api::patterns::DELETE_ACTION"))]
    pub action: Option<String>,
}

impl StorableText for DirectoryClaimBody {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable_all("channels", Some(&self.channels))?;
        check_storable_opt("action", self.action.as_deref())
    }
}

/// A signed directory claim.
#[derive(Debug, Object)]
pub struct DirectoryClaim {
    /// The claim's JSON text (`server_url`, `channels`, `timestamp`, and
    /// `action` when withdrawing), base64url without padding.
    pub claim: String,
    /// Ed25519 over the claim's JSON text with the server key (the one
    /// `/.well-known/zooid.json` publishes), base64url without padding.
    pub signature: String,
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
    #[oai(validator(custom = "&crate::api::patterns::DURATION"))]
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
    /// Signs directory claims.
    pub key: Arc<ServerKey>,
    /// `--public-url`: the URL a directory claim names (else the origin the
    /// request reached).
    pub public_url: Option<String>,
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
    /// This server, as Zooid's clients read one (anyone).
    #[oai(path = "/server", method = "get")]
    async fn server(&self) -> Result<Json<ServerProfile>, ApiError> {
        Ok(Json(self.hub.server_profile().await?))
    }

    /// Change what this server says about itself (admin), as Zooid's
    /// `updateServerMeta` and `zooid server set`.
    #[oai(path = "/server", method = "put")]
    async fn update_server(
        &self,
        req: &Request,
        body: JsonBody<UpdateServerMeta>,
    ) -> Result<Json<ServerProfile>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let body = body.0;
        let update = ProfileUpdate {
            name: body.name,
            description: body.description,
            tags: body.tags.map(Option::unwrap_or_default),
            owner: body.owner,
            company: body.company,
            email: body.email,
        };
        let profile = self.hub.update_server_profile(&principal, update).await?;
        Ok(Json(profile))
    }

    /// A claim, signed with the server key, that lists channels in (or with
    /// `action: "delete"`, withdraws them from) Zooid's directory (admin), as
    /// Zooid's `getClaim` and `zooid share`. Each channel must exist.
    #[oai(path = "/directory/claim", method = "post")]
    async fn directory_claim(
        &self,
        req: &Request,
        body: JsonBody<DirectoryClaimBody>,
    ) -> Result<Json<DirectoryClaim>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let body = body.0;
        let delete = match body.action.as_deref() {
            None => false,
            Some("delete") => true,
            Some(other) => {
                return Err(HubError::Invalid(format!(
                    "action must be \"delete\" (got {other:?})"
                ))
                .into());
            }
        };
        let server_url = match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => request_origin(req),
        };
        let claim = self
            .hub
            .directory_claim(
                &principal,
                ClaimRequest {
                    channels: body.channels,
                    delete,
                    server_url,
                },
            )
            .await?;
        Ok(Json(DirectoryClaim {
            signature: self.key.sign_base64url(claim.as_bytes()),
            claim: URL_SAFE_NO_PAD.encode(claim),
        }))
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

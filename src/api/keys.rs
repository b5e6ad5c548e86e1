//! `/keys` (trusted JWT keys, Zooid's request and response shapes),
//! `/revocations` (the JWT deny-list), both admin; `/whoami` (anyone);
//! `/status` (admin: every node sharing the database).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;
use serde_json::Value;

use super::{
    ApiTags, Created, Deleted, caller,
    json::{JsonBody, StorableText},
    presented_token,
    problem::ApiError,
};
use crate::{
    auth::{KeyRequest, LoadedKey},
    hub::{Hub, HubError, RevocationRequest},
    model::{
        ClusterStatus, Identity, Invalid, RevocationRecord, check_storable, check_storable_all,
        check_storable_opt, format_millis,
    },
};

/// A public key whose JWTs this server accepts. Zooid's shape (`kid` with an
/// Ed25519 `x`) or any public JWK; exactly one of `x` and `jwk`.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// The `kid` header its tokens carry: 1 to 128 visible ASCII characters.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub kid: String,
    /// An Ed25519 public key, base64url (32 bytes), as Zooid registers keys.
    #[oai(validator(max_length = 64))]
    pub x: Option<String>,
    /// With `x`: `OKP` (the only type `x` takes).
    pub kty: Option<String>,
    /// With `x`: `Ed25519`.
    pub crv: Option<String>,
    /// A public JWK instead of `x`: OKP Ed25519, EC P-256 or P-384, or RSA
    /// (2048 to 8192 bits). Private members (`d`, `p`, ...) are refused.
    pub jwk: Option<Value>,
    /// The algorithm its tokens must name (pinned): derived from the key
    /// when omitted (EdDSA, ES256, ES384, RS256); RSA keys may take RS384,
    /// RS512 or PS256/384/512.
    pub alg: Option<String>,
    /// The most its tokens may grant (`admin`, `pub:<pattern>`,
    /// `sub:<pattern>`); absent or null: no ceiling, as in Zooid.
    #[oai(validator(max_items = 64))]
    pub max_scopes: Option<Vec<String>>,
    /// Prefixes the publisher ids of its tokens (`<issuer>:<sub>`); a token's
    /// `iss`, when present, must equal it.
    #[oai(validator(max_length = 256))]
    pub issuer: Option<String>,
    /// Whether its tokens must carry `exp` (default true; false accepts
    /// Zooid's non-expiring tokens).
    pub require_exp: Option<bool>,
    /// Seconds its tokens may live at most (`exp - iat`).
    #[oai(validator(minimum(value = "1"), maximum(value = "3153600000")))]
    pub max_ttl: Option<i64>,
    /// Not supported yet (400): register the key itself.
    pub jwks_url: Option<String>,
}

impl StorableText for CreateKey {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable("kid", &self.kid)?;
        check_storable_opt("issuer", self.issuer.as_deref())?;
        check_storable_all("max_scopes", self.max_scopes.as_deref())
    }
}

/// A trusted key, as Zooid lists keys, with channelhub's additions.
#[derive(Debug, Object)]
pub struct TrustedKey {
    pub kid: String,
    pub kty: String,
    pub crv: Option<String>,
    /// The public key's `x` (Ed25519 and EC keys).
    pub x: Option<String>,
    pub max_scopes: Option<Vec<String>>,
    pub issuer: Option<String>,
    /// Always null: keys are not fetched from URLs (yet).
    pub jwks_url: Option<String>,
    pub created_at: String,
    /// The algorithm its tokens must name.
    pub alg: String,
    /// The public JWK.
    pub jwk: Value,
    pub require_exp: bool,
    /// Seconds its tokens may live at most.
    pub max_ttl: Option<i64>,
}

impl From<&LoadedKey> for TrustedKey {
    fn from(key: &LoadedKey) -> Self {
        let jwk = key.jwk();
        let text = |name: &str| jwk.get(name).and_then(Value::as_str).map(str::to_owned);
        TrustedKey {
            kid: key.record.kid.clone(),
            kty: text("kty").unwrap_or_default(),
            crv: text("crv"),
            x: text("x"),
            max_scopes: key.ceiling.clone(),
            issuer: key.record.issuer.clone(),
            jwks_url: None,
            created_at: format_millis(key.record.created_at),
            alg: key.record.alg.clone(),
            jwk: Value::Object(jwk),
            require_exp: key.record.require_exp,
            max_ttl: key.record.max_ttl_ms.map(|ms| ms / 1000),
        }
    }
}

/// The trusted keys, as Zooid lists them.
#[derive(Debug, Object)]
pub struct KeyList {
    pub keys: Vec<TrustedKey>,
}

/// Zooid's answer to a removal.
#[derive(Debug, Object)]
pub struct Removed {
    pub ok: bool,
}

/// A deny-list entry to add: `jti` (one token) or `sub` (a subject's tokens,
/// optionally only those issued before a time).
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRevocation {
    #[oai(validator(min_length = 1, max_length = 256))]
    pub jti: Option<String>,
    #[oai(validator(min_length = 1, max_length = 256))]
    pub sub: Option<String>,
    /// With `sub`: the issuer of the keys whose tokens it covers (omit for
    /// keys without one and the HS256 secret).
    #[oai(validator(min_length = 1, max_length = 256))]
    pub issuer: Option<String>,
    /// With `sub`: only tokens whose `iat` is before this time (RFC 3339);
    /// tokens without `iat` are covered too.
    pub issued_before: Option<String>,
    /// When the entry may be forgotten (RFC 3339): after the last token it
    /// covers expires. Omit to keep it until deleted.
    pub expires_at: Option<String>,
}

impl StorableText for CreateRevocation {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable_opt("jti", self.jti.as_deref())?;
        check_storable_opt("sub", self.sub.as_deref())?;
        check_storable_opt("issuer", self.issuer.as_deref())
    }
}

/// A deny-list entry.
#[derive(Debug, Object)]
pub struct Revocation {
    pub id: String,
    pub jti: Option<String>,
    pub sub: Option<String>,
    pub issuer: Option<String>,
    pub issued_before: Option<String>,
    pub expires_at: Option<String>,
    pub created_at: String,
}

impl From<RevocationRecord> for Revocation {
    fn from(r: RevocationRecord) -> Self {
        let subject = r.kind == "subject";
        Revocation {
            id: r.id,
            jti: (!subject).then(|| r.value.clone()),
            sub: subject.then_some(r.value),
            issuer: r.issuer,
            issued_before: r.issued_before.map(format_millis),
            expires_at: r.expires_at.map(format_millis),
            created_at: format_millis(r.created_at),
        }
    }
}

#[derive(ApiResponse)]
pub enum KeyRemoved {
    #[oai(status = 200)]
    Removed(Json<Removed>),
}

pub struct KeysApi {
    pub hub: Arc<Hub>,
}

fn time(name: &str, text: Option<String>) -> Result<Option<i64>, ApiError> {
    text.map(|t| {
        chrono::DateTime::parse_from_rfc3339(&t)
            .map(|t| t.timestamp_millis())
            .map_err(|_| HubError::Invalid(format!("{name} must be an RFC 3339 time")).into())
    })
    .transpose()
}

#[OpenApi(tag = "ApiTags::Keys")]
impl KeysApi {
    /// Trust a public key: JWTs it signs are accepted (admin). Zooid's
    /// request shape; 409 when the kid exists or `--jwt-max-keys` are held.
    #[oai(path = "/keys", method = "post")]
    async fn add(
        &self,
        req: &Request,
        body: JsonBody<CreateKey>,
    ) -> Result<Created<TrustedKey>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let body = body.0;
        let jwk = match body.jwk {
            None | Some(Value::Null) => None,
            Some(Value::Object(jwk)) => Some(jwk),
            Some(_) => return Err(HubError::Invalid("jwk must be a JSON object".into()).into()),
        };
        let request = KeyRequest {
            kid: body.kid,
            x: body.x,
            kty: body.kty,
            crv: body.crv,
            jwk,
            alg: body.alg,
            max_scopes: body.max_scopes,
            issuer: body.issuer,
            require_exp: body.require_exp,
            max_ttl_seconds: body.max_ttl,
            jwks_url: body.jwks_url,
        };
        let record = self.hub.add_key(&principal, request).await?;
        let key = LoadedKey::from_record(record).map_err(HubError::Invalid)?;
        Ok(Created::Created(Json(TrustedKey::from(&key))))
    }

    /// The trusted keys (admin), as Zooid lists them: `{"keys": [...]}`.
    #[oai(path = "/keys", method = "get")]
    async fn list(&self, req: &Request) -> Result<Json<KeyList>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let keys = self.hub.list_keys(&principal).await?;
        Ok(Json(KeyList {
            keys: keys.iter().map(TrustedKey::from).collect(),
        }))
    }

    /// Stop trusting a key (admin): its tokens stop working at once on every
    /// node, its holders' sockets close (4001) and the webhooks they
    /// registered stop. 403 when this request is signed by that key.
    #[oai(path = "/keys/:kid", method = "delete")]
    async fn remove(&self, req: &Request, kid: Path<String>) -> Result<KeyRemoved, ApiError> {
        let principal = caller(&self.hub, req).await?;
        self.hub.remove_key(&principal, &kid).await?;
        Ok(KeyRemoved::Removed(Json(Removed { ok: true })))
    }

    /// Revoke JWTs before their `exp` (admin): one token by `jti`, or a
    /// subject's by `sub`. Matching sockets close (4001) on every node.
    #[oai(path = "/revocations", method = "post")]
    async fn revoke(
        &self,
        req: &Request,
        body: JsonBody<CreateRevocation>,
    ) -> Result<Created<Revocation>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let body = body.0;
        let request = RevocationRequest {
            jti: body.jti,
            sub: body.sub,
            issuer: body.issuer,
            issued_before: time("issued_before", body.issued_before)?,
            expires_at: time("expires_at", body.expires_at)?,
        };
        let record = self.hub.add_revocation(&principal, request).await?;
        Ok(Created::Created(Json(record.into())))
    }

    /// The JWT deny-list (admin).
    #[oai(path = "/revocations", method = "get")]
    async fn revocations(&self, req: &Request) -> Result<Json<Vec<Revocation>>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let records = self.hub.list_revocations(&principal).await?;
        Ok(Json(records.into_iter().map(Revocation::from).collect()))
    }

    /// Remove a deny-list entry (admin): its tokens are accepted again.
    #[oai(path = "/revocations/:revocation_id", method = "delete")]
    async fn unrevoke(
        &self,
        req: &Request,
        revocation_id: Path<String>,
    ) -> Result<Deleted, ApiError> {
        let principal = caller(&self.hub, req).await?;
        self.hub
            .delete_revocation(&principal, &revocation_id)
            .await?;
        Ok(Deleted::Deleted)
    }

    /// The nodes sharing this server's database, for the admin: this node as
    /// it is now, the others as they last reported (every 2 s; `stale` after
    /// 10 s without a report), the database's health and the webhook backlog.
    #[oai(path = "/status", method = "get")]
    async fn status(&self, req: &Request) -> Result<Json<ClusterStatus>, ApiError> {
        Ok(Json(
            self.hub
                .cluster_status(presented_token(req).as_deref())
                .await?,
        ))
    }

    /// What the presented credential is and grants: any credential (none is
    /// `anonymous`); an invalid one is 401 naming why.
    #[oai(path = "/whoami", method = "get")]
    async fn whoami(&self, req: &Request) -> Result<Json<Identity>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        Ok(Json(Hub::whoami(&principal)))
    }
}

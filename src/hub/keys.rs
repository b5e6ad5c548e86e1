//! Trusted JWT keys and the JWT deny-list (admin), and what a credential
//! grants (`whoami`, anyone).
//!
//! Removing a key or revoking a token closes every live listener that relied
//! on it on every node (a control notice), stops the webhooks it registered,
//! and drops cached verifications; a node that missed the notice converges
//! at its next access recheck.

use crate::{
    auth::{KeyRequest, LoadedKey, Principal, prepare_key},
    model::{Identity, Millis, RevocationRecord, TrustedKeyRecord, format_millis, now_millis},
    notice::ControlNotice,
    store::Adding,
};

use super::{Hub, HubError, HubResult};

/// A token to mint with the secret (Zooid's `POST /tokens` body).
#[derive(Debug, Default)]
pub struct MintRequest {
    pub scopes: Vec<String>,
    pub sub: Option<String>,
    pub name: Option<String>,
    pub expires_in_seconds: Option<i64>,
    /// Carried as a claim, inert (as in Zooid).
    pub groups: Vec<String>,
}

/// Longest `jti` or `sub` a deny-list entry names.
const MAX_REVOKED_VALUE_CHARS: usize = 256;

/// A deny-list entry to add: exactly one of `jti` and `sub`.
#[derive(Debug, Default)]
pub struct RevocationRequest {
    pub jti: Option<String>,
    pub sub: Option<String>,
    /// Subject entries: the issuer of the keys whose tokens it covers.
    pub issuer: Option<String>,
    /// Subject entries: only tokens issued before this (ms).
    pub issued_before: Option<Millis>,
    /// When the entry may be forgotten (ms): after the last such token expires.
    pub expires_at: Option<Millis>,
}

impl Hub {
    pub async fn add_key(
        &self,
        principal: &Principal,
        request: KeyRequest,
    ) -> HubResult<TrustedKeyRecord> {
        Self::require_admin(principal)?;
        let kid = request.kid.clone();
        let record = prepare_key(request, now_millis()).map_err(HubError::Invalid)?;
        let max = self.auth.jwt().settings().max_keys;
        match self.store.add_key(&record, max).await? {
            Adding::Done => {}
            Adding::Exists => {
                return Err(HubError::Conflict(format!("Key {kid:?} already exists")));
            }
            Adding::Full => {
                return Err(HubError::Conflict(format!(
                    "this server trusts {max} keys, the most it may (--jwt-max-keys)"
                )));
            }
        }
        self.announce_control(ControlNotice::KeyAdded {
            key: record.clone(),
        })
        .await;
        Ok(record)
    }

    pub async fn list_keys(&self, principal: &Principal) -> HubResult<Vec<LoadedKey>> {
        Self::require_admin(principal)?;
        let records = self.store.list_keys().await?;
        Ok(records
            .into_iter()
            .filter_map(|record| LoadedKey::from_record(record).ok())
            .collect())
    }

    /// Removes a key: its tokens stop working everywhere at once. A request
    /// authenticated by a token of that key may not (Zooid's guard against
    /// locking oneself out).
    pub async fn remove_key(&self, principal: &Principal, kid: &str) -> HubResult<()> {
        Self::require_admin(principal)?;
        if let Principal::Jwt(grant) = principal
            && grant.kid.as_deref() == Some(kid)
        {
            return Err(HubError::Forbidden(
                "Cannot revoke the key that signed this request".into(),
            ));
        }
        if !self.store.delete_key(kid).await? {
            return Err(HubError::NotFound(format!("key {kid:?} does not exist")));
        }
        self.announce_control(ControlNotice::KeyRemoved {
            kid: kid.to_owned(),
        })
        .await;
        self.revoke_unauthorized_webhooks().await?;
        Ok(())
    }

    pub async fn add_revocation(
        &self,
        principal: &Principal,
        request: RevocationRequest,
    ) -> HubResult<RevocationRecord> {
        Self::require_admin(principal)?;
        let (kind, value) = match (request.jti, request.sub) {
            (Some(jti), None) => {
                if request.issuer.is_some() || request.issued_before.is_some() {
                    return Err(HubError::Invalid(
                        "issuer and issued_before apply to subject revocations (sub) only".into(),
                    ));
                }
                ("jti", jti)
            }
            (None, Some(sub)) => ("subject", sub),
            _ => {
                return Err(HubError::Invalid(
                    "give exactly one of jti (one token) and sub (a subject's tokens)".into(),
                ));
            }
        };
        let too_long =
            |text: &str| text.is_empty() || text.chars().count() > MAX_REVOKED_VALUE_CHARS;
        if too_long(&value) || request.issuer.as_deref().is_some_and(too_long) {
            return Err(HubError::Invalid(format!(
                "jti, sub and issuer are 1 to {MAX_REVOKED_VALUE_CHARS} characters"
            )));
        }
        let now = now_millis();
        let record = RevocationRecord {
            id: ulid::Ulid::generate().to_string(),
            kind: kind.into(),
            value,
            issuer: request.issuer,
            issued_before: request.issued_before,
            expires_at: request.expires_at,
            created_at: now,
        };
        let max = self.max_revocations;
        match self.store.add_revocation(&record, max, now).await? {
            Adding::Done => {}
            _ => {
                return Err(HubError::Conflict(format!(
                    "the deny-list holds {max} entries, the most it may \
                     (--jwt-max-revocations); remove a key instead, or let entries expire"
                )));
            }
        }
        self.announce_control(ControlNotice::JwtRevoked {
            revocation: record.clone(),
        })
        .await;
        self.revoke_unauthorized_webhooks().await?;
        Ok(record)
    }

    pub async fn list_revocations(
        &self,
        principal: &Principal,
    ) -> HubResult<Vec<RevocationRecord>> {
        Self::require_admin(principal)?;
        Ok(self.store.list_revocations(now_millis()).await?)
    }

    /// Removes a deny-list entry: its tokens work again (on other nodes from
    /// their next access recheck).
    pub async fn delete_revocation(&self, principal: &Principal, id: &str) -> HubResult<()> {
        Self::require_admin(principal)?;
        if !self.store.delete_revocation(id).await? {
            return Err(HubError::NotFound(format!(
                "revocation {id:?} does not exist"
            )));
        }
        self.auth.jwt().reload().await?;
        Ok(())
    }

    /// Mints a JWT with the HS256 secret (admin): Zooid's `POST /tokens`.
    /// Without `expires_in_seconds` the token lasts a day when this server
    /// requires `exp` (`--jwt-secret-require-exp`, the default), else it has
    /// none (as Zooid's). 404 without a secret.
    pub fn mint_jwt(&self, principal: &Principal, request: MintRequest) -> HubResult<String> {
        Self::require_admin(principal)?;
        let jwt = self.auth.jwt();
        let settings = jwt.settings();
        if settings.secret.is_none() {
            return Err(HubError::NotFound(
                "this server mints no tokens: it has no --jwt-secret to sign them with".into(),
            ));
        }
        if request.scopes.is_empty() || request.scopes.len() > crate::auth::scopes::MAX_SCOPES {
            return Err(HubError::Invalid(format!(
                "scopes holds 1 to {} scopes",
                crate::auth::scopes::MAX_SCOPES
            )));
        }
        if let Some(bad) = request
            .scopes
            .iter()
            .find(|s| !crate::auth::scopes::well_formed(s))
        {
            return Err(HubError::Invalid(format!(
                "Invalid scope \"{bad}\". Must be \"admin\", \"pub:<channel>\", or \"sub:<channel>\""
            )));
        }
        let text = |name: &str, value: &Option<String>| match value {
            Some(v) if v.is_empty() || v.chars().count() > 256 || v.contains('\0') => Err(
                HubError::Invalid(format!("{name} is 1 to 256 characters, without NUL")),
            ),
            _ => Ok(()),
        };
        text("sub", &request.sub)?;
        text("name", &request.name)?;
        if request
            .sub
            .as_deref()
            .is_some_and(|sub| sub.contains(':') || sub == "admin")
        {
            return Err(HubError::Invalid(
                "sub may not contain ':' nor be \"admin\" (tokens of the secret have no issuer)"
                    .into(),
            ));
        }
        let now = now_millis() / 1000;
        let lifetime = match request.expires_in_seconds {
            Some(seconds) if (1..=100 * 365 * 24 * 3600).contains(&seconds) => Some(seconds),
            Some(_) => return Err(HubError::Invalid("expires_in is 1 s to 100 years".into())),
            None if settings.secret_require_exp => Some(24 * 3600),
            None => None,
        };
        let mut claims = serde_json::Map::new();
        claims.insert("scopes".into(), serde_json::json!(request.scopes));
        claims.insert("iat".into(), serde_json::json!(now));
        if let Some(lifetime) = lifetime {
            claims.insert("exp".into(), serde_json::json!(now + lifetime));
        }
        if let Some(aud) = settings.audience.first() {
            claims.insert("aud".into(), serde_json::json!(aud));
        }
        for (name, value) in [("sub", request.sub), ("name", request.name)] {
            if let Some(value) = value {
                claims.insert(name.into(), serde_json::json!(value));
            }
        }
        if !request.groups.is_empty() {
            claims.insert("groups".into(), serde_json::json!(request.groups));
        }
        jwt.mint_with_secret(&claims)
            .ok_or_else(|| HubError::Unavailable("the token could not be signed".into()))
    }

    /// Which JWTs this server accepts, for `/.well-known/channelhub.json`.
    pub fn jwt_summary(&self) -> serde_json::Value {
        let jwt = self.auth.jwt();
        let settings = jwt.settings();
        let mut algorithms: Vec<String> = Vec::new();
        if settings.secret.is_some() {
            algorithms.extend(["HS256", "HS384", "HS512"].map(String::from));
        }
        for key in jwt.keys().values() {
            if !algorithms.contains(&key.record.alg) {
                algorithms.push(key.record.alg.clone());
            }
        }
        serde_json::json!({
            "algorithms": algorithms,
            "hs256": settings.secret.is_some(),
            "audience": settings.audience,
            "require_audience": settings.require_audience,
            "leeway_seconds": settings.leeway.as_secs(),
            "keys": jwt.keys().len(),
        })
    }

    /// What `principal` is and grants.
    pub fn whoami(principal: &Principal) -> Identity {
        let nothing = Identity {
            kind: "anonymous".into(),
            scopes: Vec::new(),
            subject: None,
            name: None,
            kid: None,
            issuer: None,
            jti: None,
            expires_at: None,
            channel_id: None,
            token_id: None,
        };
        match principal {
            Principal::Anonymous => nothing,
            Principal::Admin => Identity {
                kind: "admin".into(),
                scopes: vec!["admin".into()],
                ..nothing
            },
            Principal::Token(token) => Identity {
                kind: "channel_token".into(),
                scopes: vec![token.scope()],
                subject: token.publisher_id.clone(),
                name: token.name.clone(),
                expires_at: token.expires_at.map(format_millis),
                channel_id: Some(token.channel_id.clone()),
                token_id: Some(token.id.clone()),
                ..nothing
            },
            Principal::Jwt(grant) => Identity {
                kind: "jwt".into(),
                scopes: grant.scopes.clone(),
                subject: grant.subject(),
                name: grant.name.clone(),
                kid: grant.kid.clone(),
                issuer: grant.issuer.clone(),
                jti: grant.jti.clone(),
                expires_at: grant.expires_at.map(format_millis),
                ..nothing
            },
        }
    }
}

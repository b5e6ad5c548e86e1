//! Credentials as data: trusted JWT keys and deny-list entries as stored,
//! what a webhook keeps of the JWT that registered it, and what a credential
//! grants as `whoami` answers it. No verification here (that is `auth`'s).

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

use super::Millis;

/// The first 16 bytes of a SHA-256, in hex: how stored rows name key
/// material (hex, so that it is safe inside SQL `LIKE` patterns).
pub fn short_hex(digest: &[u8; 32]) -> String {
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Which HS secrets the server accepts now, by fingerprint: the current
/// one, and the previous one until its rotation window ends. Webhooks a
/// token of any other secret registered have lost access.
#[derive(Debug, Clone, Default)]
pub struct AcceptedSecrets {
    pub current: Option<String>,
    pub previous: Option<(String, Millis)>,
}

impl AcceptedSecrets {
    /// The fingerprints accepted at `now`, as `,a,b,` (for SQL `LIKE`).
    pub fn at(&self, now: Millis) -> String {
        let previous = self
            .previous
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(fingerprint, _)| fingerprint);
        let mut list = String::from(",");
        for fingerprint in self.current.iter().chain(previous) {
            list.push_str(fingerprint);
            list.push(',');
        }
        list
    }
}

/// A trusted public key, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, Deserialize)]
pub struct TrustedKeyRecord {
    pub kid: String,
    /// The one algorithm tokens signed by this key may name.
    pub alg: String,
    /// The public JWK, as JSON.
    pub jwk: String,
    /// The scope ceiling, a JSON array; `None`: no ceiling.
    pub max_scopes: Option<String>,
    pub issuer: Option<String>,
    pub require_exp: bool,
    pub max_ttl_ms: Option<i64>,
    pub created_at: Millis,
}

impl TrustedKeyRecord {
    /// SHA-256 of the algorithm and the public JWK: which key material a
    /// kid names (a kid registered again may name other material).
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.alg.as_bytes());
        hash.update([0]);
        hash.update(self.jwk.as_bytes());
        hash.finalize().into()
    }
}

/// One deny-list entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, Deserialize)]
pub struct RevocationRecord {
    pub id: String,
    /// `jti` or `subject`.
    pub kind: String,
    /// The jti, or the subject (`sub`).
    pub value: String,
    /// Subject entries: the issuer of the keys whose tokens it covers
    /// (`None`: keys without one, and the HS256 secret).
    pub issuer: Option<String>,
    /// Subject entries: only tokens issued before this (ms); `None`: all.
    pub issued_before: Option<Millis>,
    /// When the entry may be forgotten (ms); `None`: kept until deleted.
    pub expires_at: Option<Millis>,
    pub created_at: Millis,
}

/// What a credential is and grants (`GET /whoami`).
#[derive(Debug, Clone, Object)]
pub struct Identity {
    /// `anonymous`, `admin`, `channel_token` or `jwt`.
    pub kind: String,
    /// What it grants, as scopes (`admin`, `pub:<pattern>`, `sub:<pattern>`).
    pub scopes: Vec<String>,
    /// JWTs: `<issuer>:<sub>` or `sub`; publish tokens: their publisher id.
    pub subject: Option<String>,
    pub name: Option<String>,
    /// JWTs: the key that signed it (none for the HS256 secret).
    pub kid: Option<String>,
    pub issuer: Option<String>,
    pub jti: Option<String>,
    /// When it stops being accepted (a JWT's `exp` plus the leeway).
    pub expires_at: Option<String>,
    /// Channel tokens: their channel and id.
    pub channel_id: Option<String>,
    pub token_id: Option<String>,
}

/// What a webhook keeps of the JWT that registered it: enough to stop it when
/// the token's key is removed or the token is revoked (by `jti` or subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRegistrant {
    /// The signing key; `None` for the HS256 secret.
    pub kid: Option<String>,
    /// The fingerprint ([`short_hex`]) of the key material, or of the
    /// secret, that verified the token.
    pub key: Option<String>,
    pub sub: String,
    /// The key's issuer.
    pub issuer: Option<String>,
    pub jti: Option<String>,
    /// When the token was issued (ms), if it said, less the JWT leeway (so
    /// that a subject revocation covers it as it covers the live token).
    pub iat: Option<Millis>,
}

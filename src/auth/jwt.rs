//! JSON Web Tokens minted by an application's own server: verified against
//! the HS256 secret (`--jwt-secret`) or a trusted public key (`kid`),
//! turned into a [`JwtGrant`] of Zooid-style scopes, and still revocable.
//!
//! Owns the token's checks (signature, `exp`/`nbf` with leeway, `aud`,
//! `iss`, the key's lifetime bound and scope ceiling, the deny-list) and
//! this node's copy of the keys and the deny-list. It does not decide what a
//! grant may do on a channel beyond scope matching: the hub does.
//!
//! Cost is bounded per token, whoever sends it: a token is at most
//! [`MAX_TOKEN_BYTES`]; verification is one signature check (no queue, no
//! argon2); a verified token is cached by its SHA-256 (bounded, at most
//! [`CACHED_FOR`] and never past its `exp`), and every use, cached or not,
//! checks the key is still there and the token not revoked. An unknown `kid`
//! re-reads the key table at most once per [`MISS_RELOAD_EVERY`] (a key
//! added on another node), so a flood of random `kid`s costs no queries.
//! Refusals name the failed check, except that an unknown key and a bad
//! signature share one text: key ids are not to be probed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use quick_cache::sync::Cache;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{
    keys::LoadedKey,
    revocations::{JwtView, Revocations},
    scopes,
    secrets::digest,
    token::{
        check_signature, check_subject, header_algorithm, header_json, string_claim, time_claim,
    },
};
use crate::{
    model::{
        AcceptedSecrets, Millis, RevocationRecord, TrustedKeyRecord, format_millis, now_millis,
        short_hex,
    },
    store::{Store, StoreError},
};

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// How long a verified token is remembered (never past its `exp`).
pub const CACHED_FOR: Duration = Duration::from_secs(300);
/// Verified tokens remembered at most (each a few hundred bytes).
pub const CACHE_ENTRIES: usize = 50_000;
/// How often an unknown `kid` may make this node re-read the key table.
pub const MISS_RELOAD_EVERY: Duration = Duration::from_secs(1);
/// The one text for an unknown key and a bad signature.
pub const UNVERIFIED: &str = "unknown key or bad signature";

/// How this server accepts JWTs (from the `--jwt-*` flags).
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// The HS256/384/512 secret (at least 32 bytes).
    pub secret: Option<Vec<u8>>,
    /// The secret before the current one, accepted until the time given (ms).
    pub previous_secret: Option<(Vec<u8>, Millis)>,
    /// What tokens signed with the secret may grant; `None`: anything.
    pub secret_max_scopes: Option<Vec<String>>,
    /// Whether tokens signed with the secret must carry `exp`.
    pub secret_require_exp: bool,
    /// A token's `aud` must name one of these; empty: a token with `aud` is refused.
    pub audience: Vec<String>,
    /// Whether a token without `aud` is refused.
    pub require_audience: bool,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Trusted keys at most.
    pub max_keys: usize,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            secret: None,
            previous_secret: None,
            secret_max_scopes: None,
            secret_require_exp: true,
            audience: Vec::new(),
            require_audience: false,
            leeway: Duration::from_secs(30),
            max_keys: 64,
        }
    }
}

/// What a verified JWT grants, and what identifies it for revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtGrant {
    /// The key that signed it; `None` for the HS secret.
    pub kid: Option<String>,
    /// The fingerprint of the key material ([`LoadedKey::fingerprint`]) or
    /// of the HS secret that verified it.
    pub key_fingerprint: Option<[u8; 32]>,
    /// The key's issuer (prefixes the subject).
    pub issuer: Option<String>,
    pub sub: Option<String>,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub jti: Option<String>,
    /// When it was issued (ms), if it says.
    pub iat: Option<Millis>,
    /// When it stops being accepted (`exp` plus the leeway, ms); `None`: never.
    pub expires_at: Option<Millis>,
    /// Its `exp` as it says (ms).
    pub exp: Option<Millis>,
}

impl JwtGrant {
    pub fn is_admin(&self) -> bool {
        self.scopes.iter().any(|s| s == "admin")
    }

    pub fn can_subscribe(&self, channel_id: &str) -> bool {
        scopes::grants(&self.scopes, &format!("sub:{channel_id}"))
    }

    pub fn can_publish(&self, channel_id: &str) -> bool {
        scopes::grants(&self.scopes, &format!("pub:{channel_id}"))
    }

    /// Who holds it: `<issuer>:<sub>` when its key has an issuer, else `sub`.
    pub fn subject(&self) -> Option<String> {
        let sub = self.sub.as_ref()?;
        Some(match &self.issuer {
            Some(issuer) => format!("{issuer}:{sub}"),
            None => sub.clone(),
        })
    }

    fn key_label(&self) -> &str {
        self.kid.as_deref().unwrap_or("#secret")
    }

    /// The credential as events and webhooks record it: `jwt:<kid>:<subject>`
    /// (`#secret` for the HS secret); `None` without `sub` (such a token may
    /// publish but never delete its events or own a webhook).
    pub fn identity(&self) -> Option<String> {
        Some(format!("jwt:{}:{}", self.key_label(), self.subject()?))
    }

    /// Events it publishes carry this publisher id.
    pub fn publisher_id(&self) -> String {
        self.subject()
            .unwrap_or_else(|| format!("key:{}", self.key_label()))
    }

    /// What its rate-limit bucket is keyed by: its subject, else its `jti`,
    /// else the token itself (by digest).
    pub fn rate_key(&self, token: &str) -> String {
        match (self.subject(), &self.jti) {
            (Some(subject), _) => format!("jwt:{}:{subject}", self.key_label()),
            (None, Some(jti)) => format!("jwt:{}:jti:{jti}", self.key_label()),
            (None, None) => format!("jwt:{}", URL_SAFE_NO_PAD.encode(&digest(token)[..12])),
        }
    }
}

type Keys = Arc<HashMap<String, Arc<LoadedKey>>>;

pub struct JwtVerifier {
    settings: JwtSettings,
    store: Arc<dyn Store>,
    keys: RwLock<Keys>,
    revocations: RwLock<Arc<Revocations>>,
    last_miss_reload: Mutex<Option<Instant>>,
    verified: Cache<[u8; 32], (Arc<JwtGrant>, Instant)>,
    /// Counts changes made here (a key added or removed, an entry added):
    /// a reload whose reads began before one does not overwrite it.
    changes: Mutex<u64>,
}

/// A secret to check HS tokens with: the key, the end of its rotation
/// window (the previous secret), its fingerprint.
type Secret = (DecodingKey, Option<Millis>, [u8; 32]);

/// The key material a token is checked against.
struct Signer<'a> {
    kid: Option<String>,
    /// Each key, with when it stops being accepted (the previous secret's
    /// rotation window; `None`: while it is trusted) and its fingerprint.
    keys: Vec<(&'a DecodingKey, Option<Millis>, [u8; 32])>,
    algorithm: Algorithm,
    ceiling: Option<&'a [String]>,
    issuer: Option<&'a str>,
    require_exp: bool,
    max_ttl_ms: Option<i64>,
}

impl JwtVerifier {
    pub fn new(settings: JwtSettings, store: Arc<dyn Store>) -> JwtVerifier {
        JwtVerifier {
            settings,
            store,
            keys: RwLock::default(),
            revocations: RwLock::default(),
            last_miss_reload: Mutex::new(None),
            verified: Cache::new(CACHE_ENTRIES),
            changes: Mutex::new(0),
        }
    }

    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    fn leeway_ms(&self) -> Millis {
        self.settings.leeway.as_millis() as Millis
    }

    fn changes(&self) -> std::sync::MutexGuard<'_, u64> {
        self.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the keys and the deny-list from the store. Should this node
    /// change either meanwhile (a notice applied while the reads ran), the
    /// reads are stale: they are made again (at most three times; then the
    /// next recheck tries again). A key removed or replaced drops every
    /// cached verification.
    pub async fn reload(&self) -> Result<(), StoreError> {
        for _ in 0..3 {
            let started = *self.changes();
            let records = self.store.list_keys().await?;
            let revocations = self.store.list_revocations(now_millis()).await?;
            let mut keys = HashMap::new();
            for record in records {
                let kid = record.kid.clone();
                match LoadedKey::from_record(record) {
                    Ok(key) => {
                        keys.insert(kid, Arc::new(key));
                    }
                    Err(err) => {
                        tracing::warn!(kid, error = %err, "a stored trusted key is unusable");
                    }
                }
            }
            let changes = self.changes();
            if *changes != started {
                continue;
            }
            let changed = {
                let old = self.keys.read().unwrap_or_else(|e| e.into_inner());
                old.iter().any(|(kid, key)| {
                    keys.get(kid)
                        .is_none_or(|new| new.fingerprint != key.fingerprint)
                })
            };
            *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
            *self.revocations.write().unwrap_or_else(|e| e.into_inner()) =
                Arc::new(Revocations::from_records(&revocations, self.leeway_ms()));
            drop(changes);
            if changed {
                self.verified.clear();
            }
            return Ok(());
        }
        Ok(())
    }

    /// Starts verifying with a key added (here or on another node).
    pub fn insert_key(&self, record: TrustedKeyRecord) {
        let kid = record.kid.clone();
        match LoadedKey::from_record(record) {
            Ok(key) => {
                let mut changes = self.changes();
                let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
                let mut next = (**keys).clone();
                // A kid registered again may name other key material.
                let replaced = next.insert(kid, Arc::new(key)).is_some();
                *keys = Arc::new(next);
                *changes += 1;
                if replaced {
                    self.verified.clear();
                }
            }
            Err(err) => tracing::warn!(kid, error = %err, "an announced trusted key is unusable"),
        }
    }

    /// Stops verifying with a key, and forgets every verification.
    pub fn remove_key(&self, kid: &str) {
        {
            let mut changes = self.changes();
            let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
            let mut next = (**keys).clone();
            next.remove(kid);
            *keys = Arc::new(next);
            *changes += 1;
        }
        self.verified.clear();
    }

    /// Adds a deny-list entry to this node's copy.
    pub fn add_revocation(&self, record: &RevocationRecord) {
        let mut changes = self.changes();
        let mut revocations = self.revocations.write().unwrap_or_else(|e| e.into_inner());
        let mut next = (**revocations).clone();
        next.add(record);
        *revocations = Arc::new(next);
        *changes += 1;
    }

    /// A deny-list holding just `record`, as this node matches entries.
    pub fn revocation(&self, record: &RevocationRecord) -> Revocations {
        Revocations::from_records(std::slice::from_ref(record), self.leeway_ms())
    }

    pub fn key(&self, kid: &str) -> Option<Arc<LoadedKey>> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }

    pub fn keys(&self) -> Keys {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The keys and deny-list as this node has them now.
    pub fn view(&self) -> JwtView {
        JwtView {
            keys: self
                .keys()
                .iter()
                .map(|(kid, key)| (kid.clone(), key.fingerprint))
                .collect(),
            revocations: (**self.revocations.read().unwrap_or_else(|e| e.into_inner())).clone(),
        }
    }

    /// Whether `grant` is still accepted now, by this node's copy of the keys
    /// and the deny-list.
    pub fn holds(&self, grant: &JwtGrant, now: Millis) -> bool {
        grant.expires_at.is_none_or(|at| at > now)
            && grant.kid.as_ref().is_none_or(|kid| {
                self.key(kid)
                    .is_some_and(|key| Some(key.fingerprint) == grant.key_fingerprint)
            })
            && !self
                .revocations
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .covers(grant)
    }

    /// A token verified before and still accepted: no signature check.
    pub fn cached(&self, token: &str) -> Option<Arc<JwtGrant>> {
        let (grant, at) = self.verified.get(&digest(token))?;
        (at.elapsed() < CACHED_FOR && self.holds(&grant, now_millis())).then_some(grant)
    }

    /// Verifies a token; the error says which check failed.
    pub async fn verify(&self, token: &str) -> Result<Arc<JwtGrant>, String> {
        let token_digest = digest(token);
        if let Some((grant, at)) = self.verified.get(&token_digest)
            && at.elapsed() < CACHED_FOR
        {
            return match self.holds(&grant, now_millis()) {
                true => Ok(grant),
                false => Err(self.why_not(&grant)),
            };
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(format!("the token is longer than {MAX_TOKEN_BYTES} bytes"));
        }
        let algorithm = header_algorithm(token)?;
        // Before any key is looked up: how a token fails must not tell
        // whether its kid exists.
        if header_json(token).is_some_and(|header| header.contains_key("crit")) {
            return Err("the token's header has crit extensions, which are not supported".into());
        }
        let kid = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => None,
            _ => Some(
                jsonwebtoken::decode_header(token)
                    .map_err(|_| "the token's header is malformed".to_owned())?
                    .kid
                    .ok_or("a token signed with a public key names it in a kid header")?,
            ),
        };
        let key = match &kid {
            Some(kid) => Some(self.key_for(kid).await.ok_or(UNVERIFIED)?),
            None => None,
        };
        let secrets = match &key {
            Some(_) => Vec::new(),
            None => self.secret_keys(algorithm)?,
        };
        let signer = match &key {
            Some(key) if key.algorithm != algorithm => return Err(UNVERIFIED.into()),
            Some(key) => Signer {
                kid: kid.clone(),
                keys: vec![(&key.decoding, None, key.fingerprint)],
                algorithm,
                ceiling: key.ceiling.as_deref(),
                issuer: key.record.issuer.as_deref(),
                require_exp: key.record.require_exp,
                max_ttl_ms: key.record.max_ttl_ms,
            },
            None => Signer {
                kid: None,
                keys: secrets
                    .iter()
                    .map(|(key, until, fingerprint)| (key, *until, *fingerprint))
                    .collect(),
                algorithm,
                ceiling: self.settings.secret_max_scopes.as_deref(),
                issuer: None,
                require_exp: self.settings.secret_require_exp,
                max_ttl_ms: None,
            },
        };
        let (claims, until, fingerprint) = check_signature(token, &signer.keys, signer.algorithm)?;
        let grant = Arc::new(self.check_claims(&claims, &signer, until, fingerprint)?);
        if self
            .revocations
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .covers(&grant)
        {
            return Err("the token was revoked".into());
        }
        self.verified
            .insert(token_digest, (grant.clone(), Instant::now()));
        Ok(grant)
    }

    /// Why a cached grant no longer holds.
    fn why_not(&self, grant: &JwtGrant) -> String {
        match grant.expires_at {
            Some(at) if at <= now_millis() => format!("the token expired ({})", format_millis(at)),
            _ if grant
                .kid
                .as_ref()
                .is_some_and(|kid| self.key(kid).is_none()) =>
            {
                UNVERIFIED.into()
            }
            _ => "the token was revoked".into(),
        }
    }

    /// A key by `kid`, re-reading the table (at most once a second) when it
    /// is not known here yet.
    async fn key_for(&self, kid: &str) -> Option<Arc<LoadedKey>> {
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        let due = {
            let mut last = self
                .last_miss_reload
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|at| at.elapsed() >= MISS_RELOAD_EVERY);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due && let Err(err) = self.reload().await {
            tracing::warn!(error = %err, "could not re-read the trusted keys");
        }
        self.key(kid)
    }

    /// The current secret, and the previous one while it is still accepted
    /// (with the end of its window).
    fn secret_keys(&self, algorithm: Algorithm) -> Result<Vec<Secret>, String> {
        if self.settings.secret.is_none() {
            return Err(format!(
                "{} tokens are not accepted: this server has no --jwt-secret",
                super::keys::algorithm_name(algorithm)
            ));
        }
        let previous = self
            .settings
            .previous_secret
            .as_ref()
            .filter(|(_, until)| *until > now_millis())
            .map(|(secret, until)| (secret, Some(*until)));
        [self.settings.secret.as_ref().map(|s| (s, None)), previous]
            .into_iter()
            .flatten()
            .map(|(secret, until)| {
                let key = DecodingKey::from_secret(secret).map_err(|e| e.to_string())?;
                Ok((key, until, secret_fingerprint(secret)))
            })
            .collect()
    }

    /// The claims' checks; `until` ends the grant early (a token verified
    /// by the previous secret lasts no longer than its window).
    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        signer: &Signer<'_>,
        until: Option<Millis>,
        fingerprint: [u8; 32],
    ) -> Result<JwtGrant, String> {
        let now = now_millis();
        let leeway = self.settings.leeway.as_millis() as i64;
        let exp = time_claim(claims, "exp")?;
        let nbf = time_claim(claims, "nbf")?;
        let iat = time_claim(claims, "iat")?;
        match exp {
            None if signer.require_exp => {
                return Err("the token has no exp, and its key requires one".into());
            }
            Some(exp) if exp + leeway <= now => {
                return Err(format!(
                    "the token expired ({}; leeway {} s)",
                    format_millis(exp),
                    leeway / 1000
                ));
            }
            _ => {}
        }
        if let Some(nbf) = nbf
            && nbf - leeway > now
        {
            return Err(format!(
                "the token is not valid yet (nbf {})",
                format_millis(nbf)
            ));
        }
        // A minting clock a little ahead is fine; an iat further ahead would
        // carry a token past max_ttl and subject revocations.
        if let Some(iat) = iat
            && iat - leeway > now
        {
            return Err(format!(
                "the token's iat ({}) is in the future, beyond the leeway",
                format_millis(iat)
            ));
        }
        self.check_audience(claims.get("aud"))?;
        let iss = string_claim(claims, "iss")?;
        if let (Some(iss), Some(issuer)) = (&iss, signer.issuer)
            && iss != issuer
        {
            return Err(format!("the token's iss {iss:?} is not its key's issuer"));
        }
        if let Some(max_ttl) = signer.max_ttl_ms {
            let lifetime = match (exp, iat) {
                (Some(exp), Some(iat)) => exp - iat,
                _ => i64::MAX,
            };
            if lifetime > max_ttl {
                return Err(format!(
                    "the token's lifetime (exp - iat) is over its key's max_ttl of {} s",
                    max_ttl / 1000
                ));
            }
        }
        let scopes = scopes::normalize(claims)?;
        scopes::within(&scopes, signer.ceiling)?;
        let sub = string_claim(claims, "sub")?;
        check_subject(sub.as_deref(), signer.issuer.is_some())?;
        let expires_at = match (exp.map(|exp| exp.saturating_add(leeway)), until) {
            (Some(exp), Some(until)) => Some(exp.min(until)),
            (exp, until) => exp.or(until),
        };
        Ok(JwtGrant {
            kid: signer.kid.clone(),
            key_fingerprint: Some(fingerprint),
            issuer: signer.issuer.map(str::to_owned),
            sub,
            name: string_claim(claims, "name")?,
            scopes,
            jti: string_claim(claims, "jti")?,
            iat,
            expires_at,
            exp,
        })
    }

    fn check_audience(&self, aud: Option<&Value>) -> Result<(), String> {
        let accepted = &self.settings.audience;
        let named: Vec<&str> = match aud {
            None if self.settings.require_audience => {
                return Err("the token has no aud, and this server requires one".into());
            }
            None => return Ok(()),
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => return Err("aud must be a string or an array of strings".into()),
        };
        if accepted.is_empty() {
            return Err(
                "the token has an aud claim, and this server has no audience configured: \
                 set --jwt-audience (or --public-url) to the audience its tokens name"
                    .into(),
            );
        }
        if named.iter().any(|aud| accepted.iter().any(|a| a == aud)) {
            Ok(())
        } else {
            Err(format!(
                "the token's aud does not name this server (it accepts {})",
                accepted.join(", ")
            ))
        }
    }
}

/// Which secret verified a token: the secret's SHA-256 (never the secret).
fn secret_fingerprint(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

impl JwtVerifier {
    /// Signs `claims` with the HS256 secret: the token Zooid's
    /// `POST /tokens` hands out. `None` without a secret.
    pub fn mint_with_secret(&self, claims: &Map<String, Value>) -> Option<String> {
        let secret = self.settings.secret.as_ref()?;
        let key = jsonwebtoken::EncodingKey::from_secret(secret).ok()?;
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), claims, &key).ok()
    }
}

impl JwtSettings {
    /// The HS secrets accepted, by fingerprint: what webhooks registered
    /// with a secret's token are checked against.
    pub fn accepted_secrets(&self) -> AcceptedSecrets {
        AcceptedSecrets {
            current: self
                .secret
                .as_deref()
                .map(|s| short_hex(&secret_fingerprint(s))),
            previous: self
                .previous_secret
                .as_ref()
                .map(|(s, until)| (short_hex(&secret_fingerprint(s)), *until)),
        }
    }
}

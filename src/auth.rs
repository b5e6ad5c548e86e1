//! Who is calling: token format, argon2 hashing, verification caching.
//!
//! Owns the secrets side of tokens: minting `chs_<id>_<secret>` strings,
//! hashing them (argon2id, on blocking threads with bounded concurrency), and
//! turning a presented bearer string into a [`Principal`]. It does not decide
//! what a principal may do on which channel: that is the hub's job.
//!
//! argon2 is deliberately slow (~15 ms a check), so a bounded cache remembers
//! recent successful verifications as a SHA-256 digest of the secret: a
//! reconnect storm of thousands of sockets costs thousands of cheap digest
//! comparisons, not minutes of CPU. Revoking a token evicts it at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use quick_cache::sync::Cache;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::{
    model::{TokenRecord, now_millis},
    store::{Store, StoreError},
};

const TOKEN_PREFIX: &str = "chs";
const ADMIN_PREFIX: &str = "cha";
/// Settings key of the generated admin token's hash.
const ADMIN_HASH_SETTING: &str = "admin_token_hash";
/// How long a successful verification is trusted without argon2.
const VERIFIED_TTL: Duration = Duration::from_secs(300);
/// How long a failed secret is refused without argon2.
const FAILED_TTL: Duration = Duration::from_secs(10);
const CACHE_ENTRIES: usize = 50_000;

/// The caller, once its credential has been checked.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    Admin,
    /// A channel token; the record is as it was when verified.
    Token(Arc<TokenRecord>),
}

impl Principal {
    /// The channel token's id, for a token principal.
    pub fn token_id(&self) -> Option<String> {
        match self {
            Principal::Token(token) => Some(token.id.clone()),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credential is malformed, unknown, wrong, expired or revoked. Which
    /// of those is never said.
    #[error("invalid or expired token")]
    Invalid,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A freshly minted channel token; `token` is shown once and never stored.
pub struct MintedToken {
    pub id: String,
    pub token: String,
    pub secret_hash: String,
}

/// How the admin credential is checked.
enum AdminCredential {
    /// Configured by flag or environment: compared by digest, in constant time.
    Configured([u8; 32]),
    /// Generated on first start: only its argon2 hash is known.
    Hashed(String),
}

#[derive(Clone)]
struct Verified {
    digest: [u8; 32],
    record: Option<Arc<TokenRecord>>,
    at: Instant,
}

pub struct Auth {
    store: Arc<dyn Store>,
    admin: AdminCredential,
    verified: Cache<String, Verified>,
    failed: Cache<(String, [u8; 32]), Instant>,
    hashing_slots: Semaphore,
    /// One argon2 verification per token id at a time: the rest wait and then hit the cache.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn argon2_hash(secret: &str) -> String {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .expect("argon2 with default parameters accepts any secret")
        .to_string()
}

fn argon2_verify(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &hash)
            .is_ok()
    })
}

/// Splits `chs_<id>_<secret>` into its id and secret.
fn parse_channel_token(presented: &str) -> Option<(&str, &str)> {
    let mut parts = presented.splitn(3, '_');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(TOKEN_PREFIX), Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            Some((id, secret))
        }
        _ => None,
    }
}

impl Auth {
    /// Sets up the admin credential: the configured one, else the stored hash,
    /// else a new token, whose text is returned so that it can be shown once.
    pub async fn new(
        store: Arc<dyn Store>,
        configured_admin: Option<&str>,
    ) -> Result<(Auth, Option<String>), StoreError> {
        let mut generated = None;
        let admin = match configured_admin {
            Some(token) => AdminCredential::Configured(digest(token)),
            None => match store.get_setting(ADMIN_HASH_SETTING).await? {
                Some(hash) => AdminCredential::Hashed(hash),
                None => {
                    let token = format!("{ADMIN_PREFIX}_{}", random_secret());
                    let hash = {
                        let token = token.clone();
                        tokio::task::spawn_blocking(move || argon2_hash(&token))
                            .await
                            .expect("hashing does not panic")
                    };
                    // Another node may have won the race: its hash is the one kept.
                    let stored = store
                        .put_setting_if_absent(ADMIN_HASH_SETTING, &hash)
                        .await?;
                    if stored == hash {
                        generated = Some(token);
                    }
                    AdminCredential::Hashed(stored)
                }
            },
        };
        let auth = Auth {
            store,
            admin,
            verified: Cache::new(CACHE_ENTRIES),
            failed: Cache::new(CACHE_ENTRIES),
            hashing_slots: Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            in_flight: Mutex::new(HashMap::new()),
        };
        Ok((auth, generated))
    }

    /// Makes a new channel token and its hash.
    pub async fn mint(&self) -> MintedToken {
        let id = ulid::Ulid::generate().to_string();
        let secret = random_secret();
        let token = format!("{TOKEN_PREFIX}_{id}_{secret}");
        let secret_hash = self.hash(secret).await;
        MintedToken {
            id,
            token,
            secret_hash,
        }
    }

    async fn hash(&self, secret: String) -> String {
        let _slot = self.hashing_slots.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(move || argon2_hash(&secret))
            .await
            .expect("hashing does not panic")
    }

    async fn verify(&self, secret: &str, phc: &str) -> bool {
        let _slot = self.hashing_slots.acquire().await.expect("never closed");
        let (secret, phc) = (secret.to_owned(), phc.to_owned());
        tokio::task::spawn_blocking(move || argon2_verify(&secret, &phc))
            .await
            .unwrap_or(false)
    }

    /// Forgets a token's cached verification: call on revocation.
    pub fn forget(&self, token_id: &str) {
        self.verified.remove(token_id);
    }

    /// Checks a presented bearer string. `None` is an anonymous caller; a
    /// string that is present but not valid is an error, never anonymous.
    pub async fn authenticate(&self, presented: Option<&str>) -> Result<Principal, AuthError> {
        let Some(presented) = presented.filter(|p| !p.is_empty()) else {
            return Ok(Principal::Anonymous);
        };
        match parse_channel_token(presented) {
            Some((id, secret)) => self.authenticate_channel_token(id, secret).await,
            None => self.authenticate_admin(presented).await,
        }
    }

    async fn authenticate_admin(&self, presented: &str) -> Result<Principal, AuthError> {
        let presented_digest = digest(presented);
        let valid = match &self.admin {
            AdminCredential::Configured(expected) => bool::from(expected.ct_eq(&presented_digest)),
            AdminCredential::Hashed(phc) => {
                let check = self
                    .verify_cached(ADMIN_PREFIX, presented_digest, || async {
                        Ok(match self.verify(presented, phc).await {
                            true => Check::Valid(None),
                            false => Check::Invalid,
                        })
                    })
                    .await?;
                matches!(check, Check::Valid(_))
            }
        };
        if valid {
            Ok(Principal::Admin)
        } else {
            Err(AuthError::Invalid)
        }
    }

    async fn authenticate_channel_token(
        &self,
        id: &str,
        secret: &str,
    ) -> Result<Principal, AuthError> {
        let check = self
            .verify_cached(id, digest(secret), || async {
                let Some(record) = self.store.get_token(id).await? else {
                    return Ok(Check::Invalid);
                };
                Ok(match self.verify(secret, &record.secret_hash).await {
                    true => Check::Valid(Some(Arc::new(record))),
                    false => Check::Invalid,
                })
            })
            .await?;
        match check {
            Check::Valid(Some(record)) if !record.is_expired(now_millis()) => {
                Ok(Principal::Token(record))
            }
            _ => Err(AuthError::Invalid),
        }
    }

    /// Runs `slow_check` unless the cache already knows the answer for this
    /// exact secret; remembers what it finds.
    async fn verify_cached<F, Fut>(
        &self,
        id: &str,
        secret_digest: [u8; 32],
        slow_check: F,
    ) -> Result<Check, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Check, AuthError>>,
    {
        if let Some(known) = self.cached(id, &secret_digest) {
            return Ok(known);
        }
        let lock = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            in_flight.entry(id.to_owned()).or_default().clone()
        };
        let result = async {
            let _turn = lock.lock().await;
            if let Some(known) = self.cached(id, &secret_digest) {
                return Ok(known);
            }
            let check = slow_check().await?;
            match &check {
                Check::Valid(record) => self.verified.insert(
                    id.to_owned(),
                    Verified {
                        digest: secret_digest,
                        record: record.clone(),
                        at: Instant::now(),
                    },
                ),
                Check::Invalid => self
                    .failed
                    .insert((id.to_owned(), secret_digest), Instant::now()),
            }
            Ok(check)
        }
        .await;
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        // The map's own handle and ours: nobody else is waiting on this id.
        if Arc::strong_count(&lock) <= 2 {
            in_flight.remove(id);
        }
        result
    }

    fn cached(&self, id: &str, secret_digest: &[u8; 32]) -> Option<Check> {
        if let Some(hit) = self.verified.get(id)
            && hit.at.elapsed() < VERIFIED_TTL
            && bool::from(hit.digest.ct_eq(secret_digest))
        {
            return Some(Check::Valid(hit.record));
        }
        match self.failed.get(&(id.to_owned(), *secret_digest)) {
            Some(at) if at.elapsed() < FAILED_TTL => Some(Check::Invalid),
            _ => None,
        }
    }
}

/// The outcome of checking one secret.
#[derive(Clone)]
enum Check {
    /// Right secret; the token's record (none for the admin token).
    Valid(Option<Arc<TokenRecord>>),
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_format_parses() {
        assert_eq!(
            parse_channel_token("chs_ID_se_cr-et"),
            Some(("ID", "se_cr-et"))
        );
        assert_eq!(parse_channel_token("chs__secret"), None);
        assert_eq!(parse_channel_token("chs_id_"), None);
        assert_eq!(parse_channel_token("cha_secret"), None);
        assert_eq!(parse_channel_token("plain"), None);
    }

    #[test]
    fn argon2_round_trip() {
        let hash = argon2_hash("s3cret");
        assert!(hash.starts_with("$argon2id$"));
        assert!(argon2_verify("s3cret", &hash));
        assert!(!argon2_verify("s3cres", &hash));
        assert!(!argon2_verify("s3cret", "not a hash"));
    }
}

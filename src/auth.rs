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
//!
//! argon2 must not become a lever against a token's holder. A string that is
//! not shaped like a credential, or names an unknown token, is refused before
//! any hashing. A holder whose secret is cached never waits for argon2: the
//! cache is checked before the per-id queue and refreshed on use (with a
//! cheap re-read of the token every [`RECHECK_AFTER`], so a revocation this
//! node missed still ends within that bound). Callers presenting the same
//! secret share one check: the first hashes, the others then find it cached,
//! so a token's first use by many clients at once costs one argon2. The
//! per-id queue is bounded by distinct secrets: past
//! [`MAX_SECRETS_PER_ID`] different secrets waiting for one id, callers with
//! yet another secret are told the server is busy ([`AuthError::Busy`], a
//! 503 to retry), never that their secret is wrong.

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
    model::{TokenKind, TokenRecord, now_millis},
    store::{Store, StoreError},
};

const TOKEN_PREFIX: &str = "chs";
const ADMIN_PREFIX: &str = "cha";
/// Settings key of the generated admin token's hash.
const ADMIN_HASH_SETTING: &str = "admin_token_hash";
/// How long a successful verification is trusted without argon2, counted
/// from its last use.
const VERIFIED_TTL: Duration = Duration::from_secs(300);
/// How often a cached channel token is re-read from the store (no hashing),
/// so that a revocation or expiry this node never heard of still takes effect.
pub const RECHECK_AFTER: Duration = Duration::from_secs(30);
/// Different secrets that may queue for one token id's argon2 check; a
/// caller with another one is told to retry ([`AuthError::Busy`]).
const MAX_SECRETS_PER_ID: usize = 8;
/// Length of the random part of a token: 32 bytes, base64url without padding.
const SECRET_CHARS: usize = 43;
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

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credential is malformed, unknown, wrong, expired or revoked. Which
    /// of those is never said.
    #[error("invalid or expired token")]
    Invalid,
    /// Too many checks of this credential are queued: retry shortly. Says
    /// nothing of whether the secret is right.
    #[error("too many checks of this token are in progress; retry shortly")]
    Busy,
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
    /// Last use.
    at: Instant,
    /// When the record was last read from the store.
    read_at: Instant,
}

pub struct Auth {
    store: Arc<dyn Store>,
    admin: AdminCredential,
    verified: Cache<String, Verified>,
    failed: Cache<(String, [u8; 32]), Instant>,
    hashing_slots: Semaphore,
    /// One argon2 verification per token id at a time: the rest wait and then hit the cache.
    in_flight: Mutex<HashMap<String, Arc<Queue>>>,
}

/// The callers waiting to check secrets of one token id.
#[derive(Default)]
struct Queue {
    turn: tokio::sync::Mutex<()>,
    /// Callers waiting or checking, per distinct secret (by digest).
    secrets: Mutex<HashMap<[u8; 32], usize>>,
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

/// Whether `secret` could be a secret this server minted.
fn secret_shaped(secret: &str) -> bool {
    secret.len() == SECRET_CHARS
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a presented bearer string claims to be, judged by its shape alone.
#[derive(Debug, PartialEq, Eq)]
enum Presented<'a> {
    /// `chs_<ulid>_<secret>`.
    Channel { id: &'a str, secret: &'a str },
    /// Anything else, to be compared with the admin token.
    Admin,
}

/// Sorts a bearer string by its shape; `None` when it cannot be a credential.
fn classify(presented: &str) -> Option<Presented<'_>> {
    if let Some(rest) = presented.strip_prefix("chs_") {
        let (id, secret) = rest.split_at_checked(26)?;
        let secret = secret.strip_prefix('_')?;
        return (id.parse::<ulid::Ulid>().is_ok() && secret_shaped(secret))
            .then_some(Presented::Channel { id, secret });
    }
    Some(Presented::Admin)
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
        metrics::counter!(crate::telemetry::TOKEN_HASH_CHECKS).increment(1);
        let (secret, phc) = (secret.to_owned(), phc.to_owned());
        tokio::task::spawn_blocking(move || argon2_verify(&secret, &phc))
            .await
            .unwrap_or(false)
    }

    /// The caller, if its credential is one this node has already verified
    /// (the configured admin token, or a cached secret): no store read and no
    /// hashing. What limits key requests by; `None` for anything else.
    pub fn verified(&self, presented: Option<&str>) -> Option<Principal> {
        let presented = presented.filter(|p| !p.is_empty())?;
        match classify(presented)? {
            Presented::Channel { id, secret } => match self.cached(id, &digest(secret))? {
                Check::Valid(Some(record)) if !record.is_expired(now_millis()) => {
                    Some(Principal::Token(record))
                }
                _ => None,
            },
            Presented::Admin => {
                let presented_digest = digest(presented);
                let valid = match &self.admin {
                    AdminCredential::Configured(expected) => {
                        bool::from(expected.ct_eq(&presented_digest))
                    }
                    AdminCredential::Hashed(_) => matches!(
                        self.cached(ADMIN_PREFIX, &presented_digest),
                        Some(Check::Valid(_))
                    ),
                };
                valid.then_some(Principal::Admin)
            }
        }
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
        match classify(presented).ok_or(AuthError::Invalid)? {
            Presented::Channel { id, secret } => self.authenticate_channel_token(id, secret).await,
            Presented::Admin => self.authenticate_admin(presented).await,
        }
    }

    /// The caller on a route where no credential is needed (reading a public
    /// channel): a credential is checked only where it is cheap and could
    /// matter later (a subscribe token of this channel keeps its reader on
    /// the channel should it become private; the admin, when configured or
    /// cached). Anything else is ignored without hashing: anonymous.
    pub async fn identify_reader(&self, presented: Option<&str>, channel_id: &str) -> Principal {
        let Some(presented) = presented.filter(|p| !p.is_empty()) else {
            return Principal::Anonymous;
        };
        let principal = match classify(presented) {
            None => return Principal::Anonymous,
            Some(Presented::Channel { id, secret }) => {
                let worth_checking = match self.cached(id, &digest(secret)) {
                    Some(Check::Valid(_)) => true,
                    Some(Check::Invalid) => false,
                    None => matches!(
                        self.store.get_token(id).await,
                        Ok(Some(record)) if record.kind == TokenKind::Subscribe
                            && record.channel_id == channel_id
                    ),
                };
                if !worth_checking {
                    return Principal::Anonymous;
                }
                self.authenticate_channel_token(id, secret).await
            }
            // The admin keeps reading should the channel become private, so
            // a generated admin token is checked too (once; then it is
            // cached); anything not shaped like one is not.
            Some(Presented::Admin) => self.authenticate_admin(presented).await,
        };
        principal.unwrap_or(Principal::Anonymous)
    }

    async fn authenticate_admin(&self, presented: &str) -> Result<Principal, AuthError> {
        let presented_digest = digest(presented);
        let valid = match &self.admin {
            AdminCredential::Configured(expected) => bool::from(expected.ct_eq(&presented_digest)),
            // A generated admin token has one shape; anything else is refused unhashed.
            AdminCredential::Hashed(_)
                if !presented.strip_prefix("cha_").is_some_and(secret_shaped) =>
            {
                false
            }
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

    /// Re-reads a cached channel token that has not been read for
    /// [`RECHECK_AFTER`]: a revocation this node missed ends here.
    async fn recheck(&self, id: &str) -> Result<(), AuthError> {
        let Some(hit) = self.verified.get(id) else {
            return Ok(());
        };
        if hit.record.is_none() || hit.read_at.elapsed() < RECHECK_AFTER {
            return Ok(());
        }
        match self.store.get_token(id).await? {
            Some(record) => {
                self.verified.insert(
                    id.to_owned(),
                    Verified {
                        record: Some(Arc::new(record)),
                        read_at: Instant::now(),
                        ..hit
                    },
                );
                Ok(())
            }
            None => {
                self.verified.remove(id);
                Err(AuthError::Invalid)
            }
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
            // A cached success is still re-read now and then (a revocation
            // this node missed ends there); the cache lookup itself is not repeated.
            if matches!(known, Check::Valid(_)) {
                self.recheck(id).await?;
            }
            return Ok(known);
        }
        let place = self.queue_for(id, secret_digest)?;
        let _turn = place.queue.turn.lock().await;
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
                    read_at: Instant::now(),
                },
            ),
            Check::Invalid => self
                .failed
                .insert((id.to_owned(), secret_digest), Instant::now()),
        }
        Ok(check)
    }

    /// A place in `id`'s queue for this secret: callers with a secret
    /// already queued join it (they will find its answer cached); a new
    /// secret needs room. The place is given back when dropped, however the
    /// caller ends (a request cancelled mid-wait included).
    fn queue_for(&self, id: &str, secret_digest: [u8; 32]) -> Result<QueuePlace<'_>, AuthError> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let queue = in_flight.entry(id.to_owned()).or_default().clone();
        let mut secrets = queue.secrets.lock().unwrap_or_else(|e| e.into_inner());
        if !secrets.contains_key(&secret_digest) && secrets.len() >= MAX_SECRETS_PER_ID {
            return Err(AuthError::Busy);
        }
        *secrets.entry(secret_digest).or_insert(0) += 1;
        drop(secrets);
        Ok(QueuePlace {
            auth: self,
            id: id.to_owned(),
            digest: secret_digest,
            queue,
        })
    }

    /// What the caches know of this secret. A hit refreshes its entry, so a
    /// holder in use never falls back to argon2.
    fn cached(&self, id: &str, secret_digest: &[u8; 32]) -> Option<Check> {
        if let Some(hit) = self.verified.get(id)
            && hit.at.elapsed() < VERIFIED_TTL
            && bool::from(hit.digest.ct_eq(secret_digest))
        {
            let record = hit.record.clone();
            self.verified.insert(
                id.to_owned(),
                Verified {
                    at: Instant::now(),
                    ..hit
                },
            );
            return Some(Check::Valid(record));
        }
        match self.failed.get(&(id.to_owned(), *secret_digest)) {
            Some(at) if at.elapsed() < FAILED_TTL => Some(Check::Invalid),
            _ => None,
        }
    }
}

/// A caller's place in a token id's queue (see [`Auth::queue_for`]).
struct QueuePlace<'a> {
    auth: &'a Auth,
    id: String,
    digest: [u8; 32],
    queue: Arc<Queue>,
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .auth
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut secrets = self.queue.secrets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = secrets.get_mut(&self.digest) {
            *count -= 1;
            if *count == 0 {
                secrets.remove(&self.digest);
            }
        }
        // Nobody else is waiting on this id.
        if secrets.is_empty() {
            in_flight.remove(&self.id);
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
    fn credentials_are_sorted_by_shape() {
        let id = ulid::Ulid::generate().to_string();
        let secret = random_secret();
        let token = format!("chs_{id}_{secret}");
        assert_eq!(
            classify(&token),
            Some(Presented::Channel {
                id: &id,
                secret: &secret
            })
        );
        // Secrets may hold `_` and `-`.
        let odd = "a_b-".repeat(10) + "xyz";
        assert_eq!(
            classify(&format!("chs_{id}_{odd}")),
            Some(Presented::Channel {
                id: &id,
                secret: &odd
            })
        );
        for malformed in [
            format!("chs_{id}_"),
            format!("chs_{id}_{}", &secret[1..]),
            format!("chs_{id}_{secret}x"),
            format!("chs_not-a-ulid-at-all-000000_{secret}"),
            format!("chs__{secret}"),
            format!("chs_{id}_{}!", &secret[1..]),
        ] {
            assert_eq!(classify(&malformed), None, "{malformed}");
        }
        assert_eq!(classify("cha_anything"), Some(Presented::Admin));
        assert!(secret_shaped(&secret));
        assert!(!secret_shaped("short"));
    }

    /// A caller dropped while it waits (a reset stream, a disconnect) gives
    /// its place back: cancelled callers cannot fill a token id's queue.
    #[tokio::test]
    async fn a_cancelled_caller_gives_its_place_back() {
        let dir = std::env::temp_dir().join(format!("auth-queue-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("x.db").display());
        let store = crate::store::open(&url).await.unwrap();
        let (auth, _) = Auth::new(store, Some("a-configured-admin-token"))
            .await
            .unwrap();
        for i in 0..=MAX_SECRETS_PER_ID as u8 {
            // A check that never finishes, cancelled after a moment.
            let waiting = auth.verify_cached("some-id", [i; 32], || {
                std::future::pending::<Result<Check, AuthError>>()
            });
            let cancelled = tokio::time::timeout(Duration::from_millis(5), waiting).await;
            assert!(cancelled.is_err(), "secret {i} was not refused as busy");
        }
        assert!(auth.in_flight.lock().unwrap().is_empty());
        std::fs::remove_dir_all(dir).ok();
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

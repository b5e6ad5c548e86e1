//! Secrets this server minted: channel tokens (`chs_<id>_<secret>`) and a
//! generated admin token (`cha_<secret>`), checked with argon2id on blocking
//! threads, with bounded concurrency and a verification cache (see the
//! module above for why). Owns hashing, the per-id queue and the caches; not
//! JWTs (`jwt.rs`) and not what a principal may do (the hub's).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    ADMIN_PREFIX, AdminCredential, Auth, AuthError, FAILED_TTL, MAX_SECRETS_PER_ID, MintedToken,
    Principal, RECHECK_AFTER, SECRET_CHARS, TOKEN_PREFIX, VERIFIED_TTL,
};
use crate::model::{TokenRecord, now_millis};

#[derive(Clone)]
pub(super) struct Verified {
    digest: [u8; 32],
    record: Option<Arc<TokenRecord>>,
    /// Last use.
    at: Instant,
    /// When the record was last read from the store.
    read_at: Instant,
}

/// The callers waiting to check secrets of one token id.
#[derive(Default)]
pub(super) struct Queue {
    turn: tokio::sync::Mutex<()>,
    /// Callers waiting or checking, per distinct secret (by digest).
    secrets: Mutex<HashMap<[u8; 32], usize>>,
}

pub(super) fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub(super) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn argon2_hash(secret: &str) -> String {
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
pub(super) fn secret_shaped(secret: &str) -> bool {
    secret.len() == SECRET_CHARS
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Auth {
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

    pub(super) async fn authenticate_admin(&self, presented: &str) -> Result<Principal, AuthError> {
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

    pub(super) async fn authenticate_channel_token(
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
    pub(super) fn cached(&self, id: &str, secret_digest: &[u8; 32]) -> Option<Check> {
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
pub(super) enum Check {
    /// Right secret; the token's record (none for the admin token).
    Valid(Option<Arc<TokenRecord>>),
    Invalid,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A caller dropped while it waits (a reset stream, a disconnect) gives
    /// its place back: cancelled callers cannot fill a token id's queue.
    #[tokio::test]
    async fn a_cancelled_caller_gives_its_place_back() {
        let dir = std::env::temp_dir().join(format!("auth-queue-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("x.db").display());
        let store = crate::store::open(&url).await.unwrap();
        let (auth, _) = Auth::new(store, Some("a-configured-admin-token"), Default::default())
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

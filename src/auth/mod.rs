//! Who is calling: turning a presented bearer string into a [`Principal`].
//!
//! Three kinds of credential, told apart by shape ([`classify`]):
//! - secrets this server minted, `chs_<id>_<secret>` channel tokens and the
//!   admin token (`secrets.rs`: argon2 hashing and its caches);
//! - JSON Web Tokens an application's server minted, verified by the HS256
//!   secret or a trusted public key (`jwt.rs`; scopes in `scopes.rs`, keys
//!   in `keys.rs`);
//! - anything else, compared with a configured admin token.
//!
//! It does not decide what a principal may do on which channel: that is the
//! hub's job.
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

mod jwt;
mod keys;
mod revocations;
pub mod scopes;
mod secrets;
mod token;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use quick_cache::sync::Cache;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::{
    model::{TokenKind, TokenRecord, now_millis},
    store::{Store, StoreError},
};
pub use jwt::{JwtGrant, JwtSettings, JwtVerifier};
pub use keys::{KeyRequest, LoadedKey, prepare as prepare_key};
pub use revocations::{JwtRevoked, JwtView};
use secrets::{Check, Queue, Verified, argon2_hash, digest, random_secret, secret_shaped};
pub use token::looks_like_jwt;

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
    /// A verified JWT and what it grants.
    Jwt(Arc<JwtGrant>),
}

impl Principal {
    /// The admin, or a JWT granting `admin`.
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::Admin => true,
            Principal::Jwt(grant) => grant.is_admin(),
            _ => false,
        }
    }
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
    /// A JWT that failed a check; says which (an unknown key and a bad
    /// signature alike), never the token.
    #[error("invalid JWT: {0}")]
    Jwt(String),
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

pub struct Auth {
    store: Arc<dyn Store>,
    admin: AdminCredential,
    verified: Cache<String, Verified>,
    failed: Cache<(String, [u8; 32]), Instant>,
    hashing_slots: Semaphore,
    /// One argon2 verification per token id at a time: the rest wait and then hit the cache.
    in_flight: Mutex<HashMap<String, Arc<Queue>>>,
    jwt: JwtVerifier,
}

/// What a presented bearer string claims to be, judged by its shape alone.
#[derive(Debug, PartialEq, Eq)]
enum Presented<'a> {
    /// `chs_<ulid>_<secret>`.
    Channel { id: &'a str, secret: &'a str },
    /// Three base64url segments, the first a JSON header naming `alg`.
    Jwt,
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
    if !presented.starts_with("cha_") && looks_like_jwt(presented) {
        return Some(Presented::Jwt);
    }
    Some(Presented::Admin)
}

impl Auth {
    /// Sets up the admin credential: the configured one, else the stored hash,
    /// else a new token, whose text is returned so that it can be shown once.
    pub async fn new(
        store: Arc<dyn Store>,
        configured_admin: Option<&str>,
        jwt: JwtSettings,
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
            admin,
            verified: Cache::new(CACHE_ENTRIES),
            failed: Cache::new(CACHE_ENTRIES),
            hashing_slots: Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            in_flight: Mutex::new(HashMap::new()),
            jwt: JwtVerifier::new(jwt, store.clone()),
            store,
        };
        auth.jwt.reload().await?;
        Ok((auth, generated))
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
            Presented::Jwt if self.is_configured_admin(presented) => Some(Principal::Admin),
            Presented::Jwt => self.jwt.cached(presented).map(Principal::Jwt),
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
            Presented::Jwt => self.authenticate_jwt(presented).await,
            Presented::Admin => self.authenticate_admin(presented).await,
        }
    }

    /// A JWT, unless it is the configured admin token (which wins).
    async fn authenticate_jwt(&self, presented: &str) -> Result<Principal, AuthError> {
        if self.is_configured_admin(presented) {
            return Ok(Principal::Admin);
        }
        match self.jwt.verify(presented).await {
            Ok(grant) => Ok(Principal::Jwt(grant)),
            Err(reason) => {
                tracing::debug!(reason = %reason, "a JWT was refused");
                Err(AuthError::Jwt(reason))
            }
        }
    }

    fn is_configured_admin(&self, presented: &str) -> bool {
        match &self.admin {
            AdminCredential::Configured(expected) => bool::from(expected.ct_eq(&digest(presented))),
            AdminCredential::Hashed(_) => false,
        }
    }

    /// The JWT side: keys, deny-list, settings.
    pub fn jwt(&self) -> &JwtVerifier {
        &self.jwt
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
            // A JWT costs one signature check (then it is cached): worth it.
            Some(Presented::Jwt) => self.authenticate_jwt(presented).await,
            // The admin keeps reading should the channel become private, so
            // a generated admin token is checked too (once; then it is
            // cached); anything not shaped like one is not.
            Some(Presented::Admin) => self.authenticate_admin(presented).await,
        };
        principal.unwrap_or(Principal::Anonymous)
    }
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
}

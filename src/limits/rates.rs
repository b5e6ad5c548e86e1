//! Request rates: one `governor` token bucket (rate and burst) per client
//! key and kind of request. Owns nothing else; the caller decides who is
//! exempt and what the key is.
//!
//! The key store is bounded: past [`MAX_KEYS`] keys in one bucket, keys
//! whose buckets are full again are forgotten at once; if that frees
//! nothing (that many clients really are active), every client is counted
//! against one shared overflow bucket until it does. Memory stays bounded
//! whatever addresses an attacker holds; the price falls on rates, never on
//! memory.

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

/// Who a rate is counted against: a channel token (by its public id), or a
/// client address (IPv6 by its /64) for requests without one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    Token(String),
    Address(std::net::IpAddr),
    /// Everyone, while the store is full.
    Overflow,
}

/// Keys one bucket holds before it sheds (about 100 bytes each).
pub const MAX_KEYS: usize = 100_000;
/// How often a full store may be swept for idle keys.
const SWEEP_FULL_EVERY: Duration = Duration::from_secs(1);

/// A rate in requests per second with a burst; a rate of 0 turns it off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

type Keyed =
    RateLimiter<RateKey, DefaultKeyedStateStore<RateKey>, DefaultClock, StateInformationMiddleware>;

/// One kind of request's buckets.
pub struct Bucket {
    /// The name in `RateLimit` headers and metrics (`publish`, `connect`, …).
    pub name: &'static str,
    limiter: Option<Keyed>,
    rate: Rate,
    max_keys: usize,
    /// When a full store was last swept (ms since `born`).
    swept_at: AtomicU64,
    born: Instant,
    overflowing: AtomicBool,
}

/// What a bucket said about one request.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Allowed; `remaining` more fit in the burst right now (none when off).
    Allowed { remaining: Option<u32> },
    /// Refused; retry after this long.
    Refused { retry_after: Duration },
}

impl Bucket {
    pub fn new(name: &'static str, rate: Rate) -> Bucket {
        Bucket::with_max_keys(name, rate, MAX_KEYS)
    }

    fn with_max_keys(name: &'static str, rate: Rate, max_keys: usize) -> Bucket {
        let limiter = (rate.per_second > 0.0).then(|| {
            let burst = NonZeroU32::new(rate.burst.max(1)).expect("at least 1");
            let quota = Quota::with_period(Duration::from_secs_f64(1.0 / rate.per_second))
                .expect("a positive rate has a positive period")
                .allow_burst(burst);
            RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()
        });
        Bucket {
            name,
            limiter,
            rate,
            max_keys,
            swept_at: AtomicU64::new(0),
            born: Instant::now(),
            overflowing: AtomicBool::new(false),
        }
    }

    pub fn check(&self, key: &RateKey) -> Verdict {
        let Some(limiter) = &self.limiter else {
            return Verdict::Allowed { remaining: None };
        };
        let key = if limiter.len() < self.max_keys {
            self.overflowing.store(false, Ordering::Relaxed);
            key
        } else {
            let now = self.born.elapsed().as_millis() as u64;
            let last = self.swept_at.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= SWEEP_FULL_EVERY.as_millis() as u64
                && self
                    .swept_at
                    .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                limiter.retain_recent();
            }
            if limiter.len() < self.max_keys {
                key
            } else {
                if !self.overflowing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        bucket = self.name,
                        keys = limiter.len(),
                        "rate-limit key store full: every client shares one bucket until \
                         idle keys are forgotten"
                    );
                }
                &RateKey::Overflow
            }
        };
        match limiter.check_key(key) {
            Ok(state) => Verdict::Allowed {
                remaining: Some(state.remaining_burst_capacity()),
            },
            Err(not_until) => Verdict::Refused {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
        }
    }

    /// `RateLimit-Policy` (IETF httpapi rate-limit headers draft): the burst
    /// as quota, over the seconds it takes to refill.
    pub fn policy_header(&self) -> Option<String> {
        self.limiter.as_ref()?;
        let window = (f64::from(self.rate.burst.max(1)) / self.rate.per_second).ceil() as u64;
        Some(format!(
            "\"{}\";q={};w={}",
            self.name,
            self.rate.burst.max(1),
            window.max(1)
        ))
    }

    /// `RateLimit`: what remains, and seconds until more is allowed.
    pub fn state_header(&self, remaining: u32, reset: Duration) -> String {
        format!("\"{}\";r={remaining};t={}", self.name, seconds_up(reset))
    }

    /// Forgets keys whose buckets are full again, so memory follows the
    /// number of recently active clients, not every client ever seen.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys currently held (for tests of the memory bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// Whole seconds, rounded up, at least 1: for `Retry-After`.
pub fn seconds_up(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(name: &'static str, per_second: f64, burst: u32) -> Bucket {
        Bucket::new(name, Rate { per_second, burst })
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses() {
        let bucket = bucket("publish", 1.0, 3);
        let key = RateKey::Token("abc".into());
        for _ in 0..3 {
            assert!(matches!(bucket.check(&key), Verdict::Allowed { .. }));
        }
        match bucket.check(&key) {
            Verdict::Refused { retry_after } => assert!(retry_after <= Duration::from_secs(1)),
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another key has its own bucket.
        let other = RateKey::Address("192.0.2.1".parse().unwrap());
        assert!(matches!(bucket.check(&other), Verdict::Allowed { .. }));
        assert_eq!(
            bucket.policy_header().as_deref(),
            Some("\"publish\";q=3;w=3")
        );
        assert_eq!(bucket.len(), 2);
    }

    #[test]
    fn the_key_store_is_bounded() {
        let bucket = Bucket::with_max_keys(
            "connect",
            Rate {
                per_second: 0.001,
                burst: 1,
            },
            10,
        );
        // Ten clients each spend their burst: their keys stay (not idle).
        for i in 0..10u8 {
            let key = RateKey::Address([192, 0, 2, i].into());
            assert!(matches!(bucket.check(&key), Verdict::Allowed { .. }));
        }
        assert_eq!(bucket.len(), 10);
        // Thousands more addresses add one shared key, not thousands.
        let mut refused = 0;
        for i in 0..2000u32 {
            let key = RateKey::Address(std::net::Ipv4Addr::from(0x0a00_0000 + i).into());
            if matches!(bucket.check(&key), Verdict::Refused { .. }) {
                refused += 1;
            }
        }
        assert_eq!(bucket.len(), 11, "ten clients and the overflow key");
        assert_eq!(
            refused, 1999,
            "newcomers share the overflow bucket's burst of 1"
        );
    }

    #[test]
    fn a_zero_rate_is_off() {
        let bucket = bucket("connect", 0.0, 1);
        let key = RateKey::Token("abc".into());
        for _ in 0..100 {
            assert!(matches!(
                bucket.check(&key),
                Verdict::Allowed { remaining: None }
            ));
        }
        assert_eq!(bucket.policy_header(), None);
    }
}

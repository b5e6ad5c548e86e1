//! Request rates: one `governor` token bucket (rate and burst) per client
//! key and kind of request. Owns nothing else; the caller decides who is
//! exempt and what the key is.

use std::{hash::Hash, num::NonZeroU32, time::Duration};

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
}

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
        }
    }

    pub fn check(&self, key: &RateKey) -> Verdict {
        let Some(limiter) = &self.limiter else {
            return Verdict::Allowed { remaining: None };
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

//! Deadlines: every wait in the suite has one, stretched by
//! [`TIME_SCALE_VAR`] on a busy machine.

use std::time::Duration;

/// The environment variable that stretches every deadline of the suite:
/// `CHANNELHUB_TEST_TIME_SCALE=3` gives each wait three times as long, for
/// a run on a busy machine (`tests/load/run.sh`). Deadlines only: what a
/// test sends and what the server is told stay the same.
pub const TIME_SCALE_VAR: &str = "CHANNELHUB_TEST_TIME_SCALE";

/// `limit` stretched by [`TIME_SCALE_VAR`] (1 when unset; a value that is
/// not a number of at least 1 fails the test that reads it).
pub fn scaled(limit: Duration) -> Duration {
    static SCALE: std::sync::LazyLock<f64> =
        std::sync::LazyLock::new(|| match std::env::var(TIME_SCALE_VAR) {
            Err(_) => 1.0,
            Ok(text) => match text.parse::<f64>() {
                Ok(scale) if scale >= 1.0 && scale.is_finite() => scale,
                _ => panic!("{TIME_SCALE_VAR}={text:?}: expected a number of at least 1"),
            },
        });
    limit.mul_f64(*SCALE)
}

/// Awaits `fut` for at most `limit`; past it the test fails saying `what`
/// did not happen.
pub async fn within<T>(
    limit: Duration,
    what: impl std::fmt::Display,
    fut: impl std::future::Future<Output = T>,
) -> T {
    let limit = scaled(limit);
    match tokio::time::timeout(limit, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// One overall deadline for a loop of waits: each [`Deadline::within`] gets
/// only the time left, and a timeout fails with the message `missing` makes
/// at that moment (say what had arrived and what had not).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` is stretched by [`scaled`].
    pub fn after(limit: Duration) -> Deadline {
        let limit = scaled(limit);
        Deadline {
            at: tokio::time::Instant::now() + limit,
            limit,
        }
    }

    pub async fn within<T>(
        &self,
        missing: impl FnOnce() -> String,
        fut: impl std::future::Future<Output = T>,
    ) -> T {
        match tokio::time::timeout_at(self.at, fut).await {
            Ok(value) => value,
            Err(_) => panic!("deadline of {:?} passed: {}", self.limit, missing()),
        }
    }

    /// Fails with `missing()` once the deadline has passed.
    pub fn check(&self, missing: impl FnOnce() -> String) {
        assert!(
            tokio::time::Instant::now() < self.at,
            "deadline of {:?} passed: {}",
            self.limit,
            missing()
        );
    }
}

/// Polls `check` until it holds (up to 30 s): for state that settles asynchronously.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + scaled(Duration::from_secs(30));
    // A check that never finishes (a request to a server that hangs) counts
    // against the same deadline.
    while !tokio::time::timeout_at(deadline, check())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what} (the last check hung)"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

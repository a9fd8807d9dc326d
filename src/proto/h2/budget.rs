//! Token buckets for the flood budgets, driven by the caller's clock.

use super::config::RateLimit;
use crate::proto::Timestamp;

const SCALE: u128 = 1_000_000_000; // tokens are counted in billionths so refill is exact per ns

/// A token bucket. Deterministic: it only moves when given a `now`.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    limit: RateLimit,
    tokens: u128,
    last: Timestamp,
}

impl Bucket {
    pub(crate) fn new(limit: RateLimit, now: Timestamp) -> Self {
        Bucket {
            limit,
            tokens: u128::from(limit.burst) * SCALE,
            last: now,
        }
    }

    /// Takes one token; false when the budget is exhausted.
    pub(crate) fn take(&mut self, now: Timestamp) -> bool {
        let cap = u128::from(self.limit.burst) * SCALE;
        let elapsed = now.saturating_since(self.last).as_nanos();
        self.last = self.last.max(now);
        self.tokens = self
            .tokens
            .saturating_add(elapsed.saturating_mul(u128::from(self.limit.per_second)))
            .min(cap);
        if self.tokens >= SCALE {
            self.tokens -= SCALE;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let t0 = Timestamp::ZERO;
        let mut b = Bucket::new(
            RateLimit {
                burst: 3,
                per_second: 2,
            },
            t0,
        );
        assert!(b.take(t0) && b.take(t0) && b.take(t0));
        assert!(!b.take(t0));
        let t1 = t0.saturating_add(Duration::from_millis(500));
        assert!(b.take(t1));
        assert!(!b.take(t1));
        // A long pause refills only up to the burst.
        let t2 = t1.saturating_add(Duration::from_secs(3600));
        assert!((0..3).all(|_| b.take(t2)));
        assert!(!b.take(t2));
    }
}

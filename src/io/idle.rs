//! Idle deadlines for spliced streams (CONNECT, SOCKS5, WebSocket): a splice that has moved no
//! byte in either direction for the configured time is closed, so a forgotten or stalled peer
//! cannot hold a tunnel stream, a door socket and a backend connection for ever.
//!
//! One timer per splice, re-armed only when it fires: the data path pays one clock read per
//! chunk, not a timer update.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How a splice ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpliceEnd {
    /// Both directions finished cleanly (each side half-closed).
    Finished,
    /// A socket error, a reset stream or a closed tunnel ended both directions.
    Broken,
    /// No byte moved either way for the idle limit; both sides were closed.
    Idle,
}

/// The time of the last activity on a splice and how long it may stay quiet.
#[derive(Debug)]
pub struct IdleDeadline {
    last: Cell<Instant>,
    limit: Duration,
}

impl IdleDeadline {
    /// A deadline `limit` from now.
    pub fn new(limit: Duration) -> Self {
        IdleDeadline {
            last: Cell::new(Instant::now()),
            limit,
        }
    }

    /// Bytes moved: the deadline starts again.
    pub fn touch(&self) {
        self.last.set(Instant::now());
    }

    /// How long the splice may stay quiet.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Resolves once nothing has called [`touch`](Self::touch) for the limit. A limit too
    /// large to add to the clock never expires.
    pub async fn expired(&self) {
        loop {
            let Some(due) = self.last.get().checked_add(self.limit) else {
                return std::future::pending().await;
            };
            let now = Instant::now();
            if due <= now {
                return;
            }
            compio::time::sleep(due - now).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[compio::test]
    async fn expires_only_after_a_quiet_limit() {
        // Generous against a stalled test machine: only a 500 ms gap between touches fails.
        let limit = Duration::from_millis(500);
        let idle = IdleDeadline::new(limit);
        let started = Instant::now();
        let activity = async {
            // Activity every 100 ms for 1 s keeps it alive well past one limit.
            for _ in 0..10 {
                compio::time::sleep(Duration::from_millis(100)).await;
                idle.touch();
            }
        };
        let activity = std::pin::pin!(activity);
        let expired = std::pin::pin!(idle.expired());
        match futures_util::future::select(activity, expired).await {
            futures_util::future::Either::Left(((), expired)) => {
                expired.await;
                assert!(started.elapsed() >= Duration::from_millis(1000) + limit);
            }
            futures_util::future::Either::Right(_) => {
                panic!("expired after {:?} despite activity", started.elapsed())
            }
        }
    }

    #[compio::test]
    async fn a_limit_past_the_clocks_range_never_expires() {
        let idle = IdleDeadline::new(Duration::MAX);
        let waited = compio::time::timeout(Duration::from_millis(20), idle.expired()).await;
        assert!(waited.is_err());
    }
}

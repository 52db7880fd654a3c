//! Limits how many operations per second reach a store (a token bucket).
//!
//! [`RateLimit`] holds a bucket of up to `burst` tokens that refills at `per_second` tokens per
//! second. Each call takes its cost in tokens before it reaches the store:
//!
//! - **Waiting** (the default): a call that finds too few tokens reserves them anyway and
//!   sleeps until they have refilled, so callers are served in arrival order at the configured
//!   rate. With [`max_wait`](RateLimitLayer::max_wait), a call that would have to wait longer
//!   fails at once instead (and reserves nothing). A waiting call that is cancelled gives its
//!   tokens back.
//! - **Failing fast** ([`fail_fast`](RateLimitLayer::fail_fast)): a call that finds too few
//!   tokens fails at once.
//!
//! A refused call gets a temporary [`ErrorKind::Overloaded`] error ("rate limit of N operations
//! per second exceeded"), so a [`Retry`](crate::retry) layered outside retries it later.
//!
//! **Cost**: `get`, `put`, `delete`, `keys`, `collections`, `destroy`, `destroy_collection` and
//! `cull` cost 1. A batch costs one token per key by default ([`BatchCost::PerKey`]: the limit is
//! on entries) or 1 per call with [`BatchCost::PerCall`] (the limit is on requests). When
//! failing fast, a cost above `burst` is counted as `burst`, or a large batch could never pass;
//! when waiting, a large batch simply waits for its tokens. `close()` is free.
//!
//! Time is tokio's clock, so tests can pause and advance it. The limit is per wrapper, in one
//! process: it protects a backend from this process, not from a fleet.
//!
//! **Compared with py-key-value**: py-key-value 0.4.6 has no rate limiter; this wrapper is new
//! here.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, rate_limit::{BatchCost, RateLimitLayer}};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! // 500 operations per second, bursts of 50, one token per request.
//! let store = MemoryStore::new().layer(
//!     RateLimitLayer::new(500.0, 50)?
//!         .batch_cost(BatchCost::PerCall)
//!         .max_wait(Duration::from_secs(1)),
//! );
//! store.put("k", object!({"n": 1})).await?;
//! assert_eq!(store.get("k").await?, Some(object!({"n": 1})));
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use key_value_core::{Error, ErrorKind, KeyValue, Result};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::Layer;
use crate::guard::{Call, Guard, guarded_key_value};

/// What a batch call costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchCost {
    /// One token per key in the batch: the limit counts entries.
    #[default]
    PerKey,
    /// One token per call, whatever its size: the limit counts requests.
    PerCall,
}

/// The limit; a [`Layer`] that wraps a store into a [`RateLimit`].
#[derive(Debug, Clone, Copy)]
pub struct RateLimitLayer {
    per_second: f64,
    burst: u32,
    fail_fast: bool,
    max_wait: Option<Duration>,
    batch_cost: BatchCost,
}

impl RateLimitLayer {
    /// `per_second` operations per second on average (fractions allowed: `0.5` is one every
    /// two seconds), with bursts of up to `burst`. The bucket starts full.
    ///
    /// # Errors
    /// A [`ErrorKind::Config`] error if `per_second` is not positive and finite or `burst` is 0.
    pub fn new(per_second: f64, burst: u32) -> Result<Self> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("a rate limit must be positive and finite, got {per_second}"),
            ));
        }
        if burst == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "a rate limit's burst must be at least 1",
            ));
        }
        Ok(RateLimitLayer {
            per_second,
            burst,
            fail_fast: false,
            max_wait: None,
            batch_cost: BatchCost::PerKey,
        })
    }

    /// Refuses calls that find too few tokens instead of making them wait.
    pub fn fail_fast(mut self) -> Self {
        self.fail_fast = true;
        self
    }

    /// Waits at most this long for tokens; a call that would wait longer is refused.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// What a batch costs (default [`BatchCost::PerKey`]).
    pub fn batch_cost(mut self, cost: BatchCost) -> Self {
        self.batch_cost = cost;
        self
    }
}

impl<S: KeyValue> Layer<S> for RateLimitLayer {
    type Store = RateLimit<S>;

    fn layer(self, inner: S) -> RateLimit<S> {
        RateLimit::new(inner, self)
    }
}

#[derive(Debug)]
struct Bucket {
    /// Negative while calls wait for tokens they reserved.
    tokens: f64,
    last: Instant,
}

/// A rate-limited store; see the [module docs](self).
#[derive(Debug)]
pub struct RateLimit<S> {
    inner: S,
    limit: RateLimitLayer,
    bucket: Mutex<Bucket>,
}

/// Tokens reserved by a waiting call, given back if the call is cancelled while it waits.
struct Reservation<'a> {
    bucket: &'a Mutex<Bucket>,
    cost: f64,
    burst: f64,
    kept: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let mut b = self.bucket.lock();
            b.tokens = (b.tokens + self.cost).min(self.burst);
        }
    }
}

impl<S: KeyValue> RateLimit<S> {
    /// Wraps `inner` with `limit`.
    pub fn new(inner: S, limit: RateLimitLayer) -> Self {
        RateLimit {
            inner,
            limit,
            bucket: Mutex::new(Bucket {
                tokens: f64::from(limit.burst),
                last: Instant::now(),
            }),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The limit.
    pub fn limit(&self) -> &RateLimitLayer {
        &self.limit
    }

    fn batch(&self, n: usize) -> f64 {
        match self.limit.batch_cost {
            BatchCost::PerKey => n as f64,
            BatchCost::PerCall => 1.0,
        }
    }

    fn refused(&self, operation: &'static str, detail: String) -> Error {
        Error::new(
            ErrorKind::Overloaded,
            format!(
                "rate limit of {} operations per second exceeded: {detail}",
                self.limit.per_second
            ),
        )
        .with_temporary(true)
        .with_operation(operation)
    }

    async fn acquire(&self, operation: &'static str, cost: f64) -> Result<()> {
        if cost <= 0.0 {
            return Ok(());
        }
        let burst = f64::from(self.limit.burst);
        let cost = if self.limit.fail_fast {
            cost.min(burst)
        } else {
            cost
        };
        let wait = {
            let mut b = self.bucket.lock();
            let now = Instant::now();
            let refill =
                now.saturating_duration_since(b.last).as_secs_f64() * self.limit.per_second;
            b.tokens = (b.tokens + refill).min(burst);
            b.last = now;
            if b.tokens >= cost {
                b.tokens -= cost;
                return Ok(());
            }
            if self.limit.fail_fast {
                return Err(self.refused(operation, "no tokens left".to_string()));
            }
            let secs = (cost - b.tokens) / self.limit.per_second;
            let wait = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
            if let Some(max) = self.limit.max_wait
                && wait > max
            {
                return Err(self.refused(
                    operation,
                    format!("the call would wait {wait:?}, more than the allowed {max:?}"),
                ));
            }
            b.tokens -= cost;
            wait
        };
        let mut reservation = Reservation {
            bucket: &self.bucket,
            cost,
            burst,
            kept: false,
        };
        tokio::time::sleep(wait).await;
        reservation.kept = true;
        Ok(())
    }
}

impl<S: KeyValue> Guard for RateLimit<S> {
    type Inner = S;

    fn guarded(&self) -> &S {
        &self.inner
    }

    /// A batch costs [`RateLimit::batch`]; every other call one token.
    async fn guard<T: Send>(
        &self,
        call: Call,
        run: impl Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        let cost = call.batch.map_or(1.0, |keys| self.batch(keys));
        self.acquire(call.operation, cost).await?;
        run.await
    }
}

guarded_key_value!(RateLimit);

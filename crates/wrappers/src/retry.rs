//! Retries calls that failed with a temporary error, with exponential backoff and full jitter.
//!
//! [`Retry`] runs each call again when it fails with an error whose
//! [`is_temporary()`](key_value_core::Error::is_temporary) is true (a lost connection, a time-out,
//! a breaker or limiter saying "not now"), waiting between attempts. A permanent error (invalid
//! key, serialization, a closed store...) is returned at once: retrying it cannot help.
//!
//! - **Backoff**: before retry *k* (0-based) it waits a random time in
//!   `[0, min(max_delay, initial_delay × multiplier^k)]` ("full jitter", so clients that failed
//!   together do not retry together). [`jitter(false)`](RetryLayer::jitter) waits the upper
//!   bound instead.
//! - **Limits**: at most [`max_attempts`](RetryLayer::max_attempts) attempts, and, with
//!   [`max_total_delay`](RetryLayer::max_total_delay), at most that much time spent waiting
//!   between them; when a limit is reached the last error is returned.
//! - **Per-attempt time-out**: [`attempt_timeout`](RetryLayer::attempt_timeout) bounds each
//!   attempt *inside* the retry loop, so a hung call becomes a temporary
//!   [`ErrorKind::Timeout`] and is retried (a time-out layered outside the retry would bound
//!   the whole sequence instead, and a hung socket would never be retried).
//! - **The error returned** is the last attempt's, with the number of attempts in its message
//!   (`"... (gave up after 4 attempts)"`); its kind, temporariness, operation, collection and
//!   key are kept, and the original error is its [`source`](std::error::Error::source).
//!
//! Every operation is retried, writes included: `put` replaces the whole entry (timestamps
//! included), so repeating it is harmless. One caveat: if a `delete` reached the backend but its
//! answer was lost, the retry finds nothing and reports `false`. Batches are retried as one
//! batch; a retried `put_many` sends its entries again, so the wrapper keeps a copy of them
//! until the last attempt.
//!
//! The waits use tokio's timer, so the store must be used inside a tokio runtime with time
//! enabled (tests can pause that clock).
//!
//! **Compared with py-key-value's `RetryWrapper`** (`max_retries=3, initial_delay=0.1,
//! max_delay=10.0, exponential_base=2.0, retry_on=(ConnectionError, TimeoutError)`): the same
//! defaults (4 attempts = 3 retries, 100 ms doubling up to 10 s), but py waits the exact
//! exponential delay without jitter, has no total-delay budget and no per-attempt time-out, and
//! selects errors by exception class; here the error's temporariness decides, or a predicate
//! given to [`retry_if`](RetryLayer::retry_if).
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, retry::RetryLayer};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let store = MemoryStore::new().layer(
//!     RetryLayer::new()
//!         .max_attempts(5)
//!         .initial_delay(Duration::from_millis(50))
//!         .max_total_delay(Duration::from_secs(2))
//!         .attempt_timeout(Duration::from_millis(500)),
//! );
//! store.put("k", object!({"n": 1})).await?;
//! assert_eq!(store.get("k").await?, Some(object!({"n": 1})));
//! # Ok(())
//! # }
//! ```

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::{Error, ErrorKind, KeyValue, Object, Result, StoreInfo};

use crate::Layer;

type Predicate = Arc<dyn Fn(&Error) -> bool + Send + Sync>;

/// The retry policy; a [`Layer`] that wraps a store into a [`Retry`].
///
/// Defaults: 4 attempts, 100 ms initial delay, ×2 per retry, at most 10 s per wait, full
/// jitter, no total-delay budget, no per-attempt time-out, retry temporary errors only.
#[derive(Clone)]
pub struct RetryLayer {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    multiplier: f64,
    max_total_delay: Option<Duration>,
    attempt_timeout: Option<Duration>,
    jitter: bool,
    retry_if: Option<Predicate>,
}

impl fmt::Debug for RetryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("max_attempts", &self.max_attempts)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .field("multiplier", &self.multiplier)
            .field("max_total_delay", &self.max_total_delay)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("jitter", &self.jitter)
            .field("custom_retry_if", &self.retry_if.is_some())
            .finish()
    }
}

impl Default for RetryLayer {
    fn default() -> Self {
        RetryLayer {
            max_attempts: 4,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            multiplier: 2.0,
            max_total_delay: None,
            attempt_timeout: None,
            jitter: true,
            retry_if: None,
        }
    }
}

impl RetryLayer {
    /// The default policy (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times a call is tried in all, the first included (at least 1; 1 means no
    /// retry). py-key-value's `max_retries=3` is `max_attempts(4)`.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The upper bound of the first wait.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The largest upper bound of one wait, however many retries came before.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How much the bound grows per retry (py's `exponential_base`); values below 1 (or not
    /// finite) are taken as 1.
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() && multiplier >= 1.0 {
            multiplier
        } else {
            1.0
        };
        self
    }

    /// The most time spent waiting between attempts, in all. The last wait is shortened to
    /// fit; once the budget is spent the last error is returned.
    pub fn max_total_delay(mut self, budget: Duration) -> Self {
        self.max_total_delay = Some(budget);
        self
    }

    /// Bounds each attempt: an attempt still running after `timeout` is abandoned and counts
    /// as a temporary [`ErrorKind::Timeout`] error, so it is retried. Abandoning a write does
    /// not undo it: the backend may still apply it.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Full jitter (the default) or, with `false`, the exact exponential delay.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Which errors are retried, instead of "the temporary ones". The predicate sees each
    /// attempt's error, including the [`ErrorKind::Timeout`] of an abandoned attempt.
    ///
    /// ```
    /// use key_value_core::ErrorKind;
    /// use key_value_wrappers::retry::RetryLayer;
    /// // Also retry a backend that reports "busy" as a permanent backend error.
    /// let layer = RetryLayer::new()
    ///     .retry_if(|e| e.is_temporary() || (e.kind() == ErrorKind::Backend && e.message().contains("busy")));
    /// # let _ = layer;
    /// ```
    pub fn retry_if(mut self, predicate: impl Fn(&Error) -> bool + Send + Sync + 'static) -> Self {
        self.retry_if = Some(Arc::new(predicate));
        self
    }

    fn should_retry(&self, error: &Error) -> bool {
        match &self.retry_if {
            Some(p) => p(error),
            None => error.is_temporary(),
        }
    }

    /// The upper bound of the wait before retry `k` (0-based).
    fn ceiling(&self, k: u32) -> Duration {
        let exp = i32::try_from(k).unwrap_or(i32::MAX);
        let secs = self.initial_delay.as_secs_f64() * self.multiplier.powi(exp);
        Duration::try_from_secs_f64(secs)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

impl<S: KeyValue> Layer<S> for RetryLayer {
    type Store = Retry<S>;

    fn layer(self, inner: S) -> Retry<S> {
        Retry::new(inner, self)
    }
}

/// A store whose calls are retried on temporary errors; see the [module docs](self).
pub struct Retry<S> {
    inner: S,
    policy: RetryLayer,
    rng: AtomicU64,
}

impl<S: fmt::Debug> fmt::Debug for Retry<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S: KeyValue> Retry<S> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: S, policy: RetryLayer) -> Self {
        // RandomState is seeded per process and per instance from the OS: enough entropy to
        // keep clients' jitter apart, without a random-number crate.
        let mut h = RandomState::new().build_hasher();
        h.write_u8(0);
        Retry {
            inner,
            policy,
            rng: AtomicU64::new(h.finish()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The policy.
    pub fn policy(&self) -> &RetryLayer {
        &self.policy
    }

    /// A uniform random number in `[0, 1)` (SplitMix64 over an atomic counter).
    fn random(&self) -> f64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits: exactly representable, strictly below 1.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn backoff(&self, k: u32) -> Duration {
        let ceiling = self.policy.ceiling(k);
        if self.policy.jitter {
            ceiling.mul_f64(self.random())
        } else {
            ceiling
        }
    }

    /// Runs `attempt` until it succeeds, fails for good or a limit is reached. `attempt` is
    /// told whether it is the last one, so it can move its arguments instead of copying them.
    async fn run<T, F, Fut>(&self, operation: &'static str, mut attempt: F) -> Result<T>
    where
        F: FnMut(bool) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut waited = Duration::ZERO;
        let mut n: u32 = 0;
        loop {
            n += 1;
            let last = n >= self.policy.max_attempts;
            let result = match self.policy.attempt_timeout {
                Some(limit) => match tokio::time::timeout(limit, attempt(last)).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::new(
                        ErrorKind::Timeout,
                        format!("the attempt did not finish within {limit:?}"),
                    )
                    .with_operation(operation)),
                },
                None => attempt(last).await,
            };
            let error = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if last || !self.policy.should_retry(&error) {
                return Err(gave_up(error, n));
            }
            let mut wait = self.backoff(n - 1);
            if let Some(budget) = self.policy.max_total_delay {
                let left = budget.saturating_sub(waited);
                if left.is_zero() {
                    return Err(gave_up(error, n));
                }
                wait = wait.min(left);
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            waited += wait;
        }
    }
}

/// The final error: unchanged after one attempt, else annotated with the attempt count.
fn gave_up(error: Error, attempts: u32) -> Error {
    if attempts <= 1 {
        return error;
    }
    let mut out = Error::new(
        error.kind(),
        format!("{} (gave up after {attempts} attempts)", error.message()),
    )
    .with_temporary(error.is_temporary());
    if let Some(op) = error.operation() {
        out = out.with_operation(op);
    }
    if let Some(c) = error.collection() {
        out = out.with_collection(c.to_string());
    }
    if let Some(k) = error.key() {
        out = out.with_key(k.to_string());
    }
    out.with_source(error)
}

/// The argument for one attempt: a copy, or the original on the last attempt.
fn take_or_clone<T: Clone>(slot: &mut T, last: bool, empty: impl FnOnce() -> T) -> T {
    if last {
        std::mem::replace(slot, empty())
    } else {
        slot.clone()
    }
}

fn empty_entry() -> ManagedEntry {
    ManagedEntry::new(Object::new(), None, None)
}

impl<S: KeyValue> KeyValue for Retry<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.run("get", |_| self.inner.get_entry(collection, key))
            .await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let mut entry = entry;
        self.run("put", move |last| {
            let e = take_or_clone(&mut entry, last, empty_entry);
            self.inner.put_entry(collection, key, e)
        })
        .await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.run("delete", |_| self.inner.delete_entry(collection, key))
            .await
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.run("get_many", |_| self.inner.get_entries(collection, keys))
            .await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let mut entries = entries;
        self.run("put_many", move |last| {
            let e = take_or_clone(&mut entries, last, Vec::new);
            self.inner.put_entries(collection, keys, e)
        })
        .await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.run("delete_many", |_| {
            self.inner.delete_entries(collection, keys)
        })
        .await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.run("keys", |_| self.inner.list_keys(collection, limit))
            .await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.run("collections", |_| self.inner.list_collections(limit))
            .await
    }

    async fn destroy(&self) -> Result<bool> {
        self.run("destroy", |_| self.inner.destroy()).await
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.run("destroy_collection", |_| {
            self.inner.destroy_collection(collection)
        })
        .await
    }

    async fn cull(&self) -> Result<()> {
        self.run("cull", |_| self.inner.cull()).await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

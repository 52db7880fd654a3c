//! Caps how many calls run against a store at once.
//!
//! [`Bulkhead`] lets at most `max_concurrent` calls reach the store at the same time; further
//! calls wait for a slot, first come first served. With
//! [`max_queue`](BulkheadLayer::max_queue), at most that many calls wait: one more fails at
//! once with a temporary [`ErrorKind::Overloaded`] error ("bulkhead full"), so a slow backend
//! sheds load instead of collecting an unbounded queue of callers (and their memory). A
//! waiting call that is cancelled leaves the queue; a running call that is cancelled frees its
//! slot.
//!
//! Every operation takes one slot, a batch included (a batch is one request); `close()` takes
//! none. Put a [`Timeout`](crate::timeout) outside the bulkhead to bound the wait too.
//!
//! **Compared with py-key-value**: py-key-value 0.4.6 has no bulkhead; this wrapper is new here.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, bulkhead::BulkheadLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let store = MemoryStore::new().layer(BulkheadLayer::new(16).max_queue(64));
//! store.put("k", object!({"n": 1})).await?;
//! assert_eq!(store.get("k").await?, Some(object!({"n": 1})));
//! assert_eq!(store.running(), 0);
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use key_value_core::{Error, ErrorKind, KeyValue, Result};
use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};

use crate::Layer;
use crate::guard::{Call, Guard, guarded_key_value};

/// The limits; a [`Layer`] that wraps a store into a [`Bulkhead`].
#[derive(Debug, Clone, Copy)]
pub struct BulkheadLayer {
    max_concurrent: usize,
    max_queue: Option<usize>,
}

impl BulkheadLayer {
    /// At most `max_concurrent` calls at once (at least 1); waiting calls are not limited.
    pub fn new(max_concurrent: usize) -> Self {
        BulkheadLayer {
            max_concurrent: max_concurrent.clamp(1, Semaphore::MAX_PERMITS),
            max_queue: None,
        }
    }

    /// At most `max_queue` calls wait for a slot; more fail fast. `0` means no waiting at all.
    pub fn max_queue(mut self, max_queue: usize) -> Self {
        self.max_queue = Some(max_queue);
        self
    }
}

impl<S: KeyValue> Layer<S> for BulkheadLayer {
    type Store = Bulkhead<S>;

    fn layer(self, inner: S) -> Bulkhead<S> {
        Bulkhead::new(inner, self)
    }
}

/// A store behind a concurrency cap; see the [module docs](self).
#[derive(Debug)]
pub struct Bulkhead<S> {
    inner: S,
    limits: BulkheadLayer,
    slots: Semaphore,
    waiting: AtomicUsize,
}

/// Leaves the queue when dropped, whether the wait ended or was cancelled.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<S: KeyValue> Bulkhead<S> {
    /// Wraps `inner` with `limits`.
    pub fn new(inner: S, limits: BulkheadLayer) -> Self {
        Bulkhead {
            inner,
            slots: Semaphore::new(limits.max_concurrent),
            limits,
            waiting: AtomicUsize::new(0),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The limits.
    pub fn limits(&self) -> &BulkheadLayer {
        &self.limits
    }

    /// How many calls are running now.
    pub fn running(&self) -> usize {
        self.limits
            .max_concurrent
            .saturating_sub(self.slots.available_permits())
    }

    /// How many calls are waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn full(&self, operation: &'static str) -> Error {
        Error::new(
            ErrorKind::Overloaded,
            format!(
                "bulkhead full: {} calls running and {} waiting",
                self.limits.max_concurrent,
                self.waiting()
            ),
        )
        .with_temporary(true)
        .with_operation(operation)
    }

    async fn slot(&self, operation: &'static str) -> Result<SemaphorePermit<'_>> {
        match self.slots.try_acquire() {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::NoPermits) => {}
            Err(TryAcquireError::Closed) => return Err(self.full(operation)),
        }
        let joined = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                match self.limits.max_queue {
                    Some(max) if n >= max => None,
                    _ => Some(n + 1),
                }
            });
        if joined.is_err() {
            return Err(self.full(operation));
        }
        let _queued = Queued(&self.waiting);
        self.slots.acquire().await.map_err(|_| self.full(operation))
    }
}

impl<S: KeyValue> Guard for Bulkhead<S> {
    type Inner = S;

    fn guarded(&self) -> &S {
        &self.inner
    }

    async fn guard<T: Send>(
        &self,
        call: Call,
        run: impl Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        let _slot = self.slot(call.operation).await?;
        run.await
    }
}

guarded_key_value!(Bulkhead);

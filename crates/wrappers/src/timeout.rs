//! Bounds how long each call may take.
//!
//! [`Timeout`] abandons a call that is still running after its deadline and returns a temporary
//! [`ErrorKind::Timeout`] error naming the operation and the deadline. Reads (`get`, `get_many`,
//! `keys`, `collections`) and writes (`put`, `delete`, their `_many` forms, `destroy`,
//! `destroy_collection`, `cull`) may have separate deadlines; `close()` is never cut short.
//!
//! Abandoning a call drops its future: a write that already reached the backend may still be
//! applied. Put a [`Retry`](crate::retry) *outside* this layer (or use its
//! [`attempt_timeout`](crate::retry::RetryLayer::attempt_timeout)) to retry abandoned calls;
//! a time-out outside a retry bounds the whole retry sequence instead.
//!
//! The deadline uses tokio's timer: use the store inside a tokio runtime with time enabled.
//!
//! **Compared with py-key-value's `TimeoutWrapper`** (`timeout=5.0`, `asyncio.wait_for` on every
//! call, raising `TimeoutError`): the same default of 5 s, plus optional separate read and write
//! deadlines; the error is this crate's temporary `Timeout` kind, so retry and fallback
//! wrappers treat it as worth retrying.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, timeout::TimeoutLayer};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let store = MemoryStore::new().layer(
//!     TimeoutLayer::new(Duration::from_secs(2)).write_timeout(Duration::from_secs(5)),
//! );
//! store.put("k", object!({"n": 1})).await?;
//! assert_eq!(store.get("k").await?, Some(object!({"n": 1})));
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use key_value_core::{Error, ErrorKind, KeyValue, Result};

use crate::Layer;
use crate::guard::{Access, Call, Guard, guarded_key_value};

/// The deadlines; a [`Layer`] that wraps a store into a [`Timeout`].
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    read: Duration,
    write: Duration,
}

impl Default for TimeoutLayer {
    /// 5 s for every call, as py-key-value's `TimeoutWrapper`.
    fn default() -> Self {
        TimeoutLayer::new(Duration::from_secs(5))
    }
}

impl TimeoutLayer {
    /// The same deadline for reads and writes.
    pub fn new(timeout: Duration) -> Self {
        TimeoutLayer {
            read: timeout,
            write: timeout,
        }
    }

    /// The deadline of reads: `get`, `get_many`, `keys`, `collections`.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read = timeout;
        self
    }

    /// The deadline of writes: `put`, `delete`, their `_many` forms, `destroy`,
    /// `destroy_collection`, `cull`.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write = timeout;
        self
    }

    /// The read deadline.
    pub fn read(&self) -> Duration {
        self.read
    }

    /// The write deadline.
    pub fn write(&self) -> Duration {
        self.write
    }
}

impl<S: KeyValue> Layer<S> for TimeoutLayer {
    type Store = Timeout<S>;

    fn layer(self, inner: S) -> Timeout<S> {
        Timeout::new(inner, self)
    }
}

/// A store whose calls fail with a temporary `Timeout` error past a deadline; see the
/// [module docs](self).
#[derive(Debug)]
pub struct Timeout<S> {
    inner: S,
    limits: TimeoutLayer,
}

impl<S: KeyValue> Timeout<S> {
    /// Wraps `inner` with the deadlines of `limits`.
    pub fn new(inner: S, limits: TimeoutLayer) -> Self {
        Timeout { inner, limits }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The deadlines.
    pub fn limits(&self) -> &TimeoutLayer {
        &self.limits
    }
}

impl<S: KeyValue> Guard for Timeout<S> {
    type Inner = S;

    fn guarded(&self) -> &S {
        &self.inner
    }

    async fn guard<T: Send>(
        &self,
        call: Call,
        run: impl Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        let limit = match call.access {
            Access::Read => self.limits.read,
            Access::Write => self.limits.write,
        };
        match tokio::time::timeout(limit, run).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("no answer within {limit:?}; the call was abandoned"),
            )
            .with_operation(call.operation)),
        }
    }
}

guarded_key_value!(Timeout);

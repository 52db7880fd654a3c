//! A store that fails on command: for testing retry, time-out, fallback and circuit breakers
//! with injected faults instead of a broken server.
//!
//! [`FaultyStore`] wraps any store and, per call, either forwards it or fails it according to
//! its [`Faults`] plan: fail the next N calls, fail every call, delay every call, with the error
//! kind (and temporariness) chosen. It counts the calls that reached it.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_testkit::faulty::FaultyStore;
//! use std::time::Duration;
//!
//! # key_value_testkit::run(async {
//! let store = FaultyStore::new(MemoryStore::new());
//! store.faults().fail_next(2, ErrorKind::Connection);
//! assert_eq!(store.get("k").await.unwrap_err().kind(), ErrorKind::Connection);
//! assert!(store.get("k").await.unwrap_err().is_temporary());
//! assert_eq!(store.get("k").await.unwrap(), None); // the third call goes through
//! assert_eq!(store.calls(), 3);
//! # });
//! ```

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::{Error, ErrorKind, KeyValue, Result, StoreInfo};

/// What a [`FaultyStore`] does to the calls it receives. Shared: clones change the same plan.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Plan>,
}

#[derive(Debug, Default)]
struct Plan {
    fail_next: AtomicUsize,
    fail_always: AtomicUsize,
    kind: Mutex<Option<ErrorKind>>,
    delay_micros: AtomicU64,
    delay_next: AtomicUsize,
    delay_next_micros: AtomicU64,
}

impl Faults {
    /// Fails the next `n` calls with errors of `kind` (temporary for `Connection`/`Timeout`).
    pub fn fail_next(&self, n: usize, kind: ErrorKind) {
        *self.inner.kind.lock().unwrap_or_else(|p| p.into_inner()) = Some(kind);
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// Fails every call with `kind` until [`heal`](Self::heal).
    pub fn fail_always(&self, kind: ErrorKind) {
        *self.inner.kind.lock().unwrap_or_else(|p| p.into_inner()) = Some(kind);
        self.inner.fail_always.store(1, Ordering::SeqCst);
    }

    /// Delays every call by `by` before it runs (or fails).
    pub fn delay(&self, by: Duration) {
        let micros = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.inner.delay_micros.store(micros, Ordering::SeqCst);
    }

    /// Delays only the next `n` calls by `by` (on top of any [`delay`](Self::delay)): for
    /// testing a time-out that a later, prompt call gets past.
    pub fn delay_next(&self, n: usize, by: Duration) {
        let micros = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.inner.delay_next_micros.store(micros, Ordering::SeqCst);
        self.inner.delay_next.store(n, Ordering::SeqCst);
    }

    /// Stops failing and delaying.
    pub fn heal(&self) {
        self.inner.fail_next.store(0, Ordering::SeqCst);
        self.inner.fail_always.store(0, Ordering::SeqCst);
        self.inner.delay_micros.store(0, Ordering::SeqCst);
        self.inner.delay_next.store(0, Ordering::SeqCst);
    }

    async fn apply(&self, operation: &'static str) -> Result<()> {
        if self
            .inner
            .delay_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            let micros = self.inner.delay_next_micros.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
        let delay = self.inner.delay_micros.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_micros(delay)).await;
        }
        let fail = self.inner.fail_always.load(Ordering::SeqCst) > 0
            || self
                .inner
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if fail {
            let kind = self
                .inner
                .kind
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or(ErrorKind::Connection);
            Err(Error::new(kind, "injected fault").with_operation(operation))
        } else {
            Ok(())
        }
    }
}

/// A store that forwards to `inner` except where its [`Faults`] plan says to fail or wait.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    faults: Faults,
    calls: AtomicUsize,
}

impl<S: KeyValue> FaultyStore<S> {
    /// Wraps `inner`, with no faults planned.
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            faults: Faults::default(),
            calls: AtomicUsize::new(0),
        }
    }

    /// The fault plan (clone it to steer the store from elsewhere).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// How many calls reached this store, failed or not.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn enter(&self, operation: &'static str) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.faults.apply(operation).await
    }
}

impl<S: KeyValue> KeyValue for FaultyStore<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.enter("get").await?;
        self.inner.get_entry(collection, key).await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.enter("put").await?;
        self.inner.put_entry(collection, key, entry).await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.enter("delete").await?;
        self.inner.delete_entry(collection, key).await
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.enter("get_many").await?;
        self.inner.get_entries(collection, keys).await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.enter("put_many").await?;
        self.inner.put_entries(collection, keys, entries).await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.enter("delete_many").await?;
        self.inner.delete_entries(collection, keys).await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.enter("keys").await?;
        self.inner.list_keys(collection, limit).await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.enter("collections").await?;
        self.inner.list_collections(limit).await
    }

    async fn destroy(&self) -> Result<bool> {
        self.enter("destroy").await?;
        self.inner.destroy().await
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.enter("destroy_collection").await?;
        self.inner.destroy_collection(collection).await
    }

    async fn cull(&self) -> Result<()> {
        self.enter("cull").await?;
        self.inner.cull().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

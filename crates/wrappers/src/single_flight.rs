//! Stampede protection: concurrent misses for one key compute the value once.
//!
//! [`SingleFlight::get_or_compute`] reads a key and, if it is missing or expired, runs your
//! async closure to compute the value, stores it with the TTL you give, and returns it. When
//! many tasks ask for the same missing key at once (a "cache stampede" or "dog-pile"), only
//! the first one (the *leader*) computes; the others wait for it and receive the same value.
//!
//! - **Errors** of the computation (or of storing its result) are returned to the leader and
//!   every waiter, and nothing is cached: the next call computes again.
//! - **Cancellation**: if the leader's call is cancelled (its future dropped, its task
//!   aborted) or panics, the waiters are not left hanging: one of them becomes the new leader
//!   and runs *its own* closure.
//! - **Plain reads are deduplicated too**: concurrent `get`/`ttl` calls of one key share one
//!   read of the wrapped store. A write or delete of a key (or `destroy`,
//!   `destroy_collection`) detaches the reads and computations in flight for it, so a call
//!   made after a write returned never receives a value read before it.
//! - Batches (`get_many`, ...) are passed through as batches, without deduplication.
//!
//! Deduplication is per process (per wrapper): several processes missing the same key each
//! compute once. The computed value is written with a plain `put`, so a write by someone else
//! that lands while the computation runs is overwritten by the computed value; get-or-compute
//! is for caching derived data, not for values with another owner.
//!
//! **Compared with py-key-value**: py-key-value 0.4.6 has no single-flight wrapper; this is
//! new here (users of aiocache and others have long asked for dog-pile protection).
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, single_flight::SingleFlightLayer};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let store = MemoryStore::new().layer(SingleFlightLayer::new());
//! let report = store
//!     .get_or_compute(Some("reports"), "daily", Some(Duration::from_secs(300)), || async {
//!         // An expensive query, run once however many callers miss at the same time.
//!         Ok(object!({"total": 42}))
//!     })
//!     .await?;
//! assert_eq!(report["total"], 42);
//! // Now it is stored: the closure is not called again.
//! let again = store
//!     .get_or_compute(Some("reports"), "daily", None, || async { Ok(object!({"total": 0})) })
//!     .await?;
//! assert_eq!(again["total"], 42);
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use key_value_core::api::{check_collection, check_key};
use key_value_core::entry::ManagedEntry;
use key_value_core::{Error, KeyValue, Object, Result, StoreInfo, Ttl};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::Layer;

/// A [`Layer`] that wraps a store into a [`SingleFlight`]. It has no settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleFlightLayer;

impl SingleFlightLayer {
    /// The layer.
    pub fn new() -> Self {
        SingleFlightLayer
    }
}

impl<S: KeyValue> Layer<S> for SingleFlightLayer {
    type Store = SingleFlight<S>;

    fn layer(self, inner: S) -> SingleFlight<S> {
        SingleFlight::new(inner)
    }
}

type FlightKey = (String, String);
type Outcome<T> = std::result::Result<T, Arc<Error>>;
type Slot<T> = watch::Receiver<Option<Outcome<T>>>;

/// The calls in flight, by (collection, key).
struct Flights<T> {
    map: Mutex<HashMap<FlightKey, (u64, Slot<T>)>>,
    next_id: AtomicU64,
}

enum Join<'a, T> {
    Lead(Leader<'a, T>),
    Follow(Slot<T>),
}

/// The leader's handle on its flight. Dropped without [`Leader::finish`] (cancelled, panicked),
/// it removes the flight and closes the channel, which wakes the followers to try again.
struct Leader<'a, T> {
    flights: &'a Flights<T>,
    key: FlightKey,
    id: u64,
    tx: watch::Sender<Option<Outcome<T>>>,
}

impl<T> Leader<'_, T> {
    fn finish(&self, outcome: Outcome<T>) {
        self.flights.remove(&self.key, self.id);
        self.tx.send_replace(Some(outcome));
    }
}

impl<T> Drop for Leader<'_, T> {
    fn drop(&mut self) {
        self.flights.remove(&self.key, self.id);
    }
}

impl<T> Flights<T> {
    fn remove(&self, key: &FlightKey, id: u64) {
        let mut map = self.map.lock();
        if map.get(key).is_some_and(|(current, _)| *current == id) {
            map.remove(key);
        }
    }
}

impl<T: Clone> Flights<T> {
    fn new() -> Self {
        Flights {
            map: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    fn join(&self, collection: &str, key: &str) -> Join<'_, T> {
        let key = (collection.to_string(), key.to_string());
        let mut map = self.map.lock();
        if let Some((_, slot)) = map.get(&key) {
            return Join::Follow(slot.clone());
        }
        let (tx, rx) = watch::channel(None);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        map.insert(key.clone(), (id, rx));
        Join::Lead(Leader {
            flights: self,
            key,
            id,
            tx,
        })
    }

    /// Later callers start a new flight; those already waiting still get this one's outcome.
    fn detach(&self, collection: &str, key: &str) {
        let mut map = self.map.lock();
        if !map.is_empty() {
            map.remove(&(collection.to_string(), key.to_string()));
        }
    }

    fn detach_collection(&self, collection: &str) {
        self.map.lock().retain(|(c, _), _| c != collection);
    }

    fn detach_all(&self) {
        self.map.lock().clear();
    }

    /// Runs `work` once for all concurrent callers of (collection, key).
    async fn run<F, Fut>(&self, collection: &str, key: &str, work: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let leader = loop {
            match self.join(collection, key) {
                Join::Lead(leader) => break leader,
                Join::Follow(mut slot) => {
                    let outcome = match slot.wait_for(Option::is_some).await {
                        Ok(done) => (*done).clone(),
                        // The leader went away without an answer: try again, maybe as leader.
                        Err(_) => continue,
                    };
                    if let Some(outcome) = outcome {
                        return outcome.map_err(|e| shared_error(&e));
                    }
                }
            }
        };
        let outcome = work().await.map_err(Arc::new);
        leader.finish(outcome.clone());
        outcome.map_err(|e| shared_error(&e))
    }
}

/// The leader's error, as each caller receives it: same kind, temporariness, message and
/// context, with the original behind it as the source.
fn shared_error(error: &Arc<Error>) -> Error {
    let mut out =
        Error::new(error.kind(), error.message().to_string()).with_temporary(error.is_temporary());
    if let Some(op) = error.operation() {
        out = out.with_operation(op);
    }
    if let Some(c) = error.collection() {
        out = out.with_collection(c.to_string());
    }
    if let Some(k) = error.key() {
        out = out.with_key(k.to_string());
    }
    out.with_source(SharedError(error.clone()))
}

/// An error shared by every caller of one flight.
struct SharedError(Arc<Error>);

impl fmt::Debug for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

/// A store with get-or-compute and deduplicated reads; see the [module docs](self).
pub struct SingleFlight<S> {
    inner: S,
    gets: Flights<Option<ManagedEntry>>,
    computes: Flights<Object>,
}

impl<S: fmt::Debug> fmt::Debug for SingleFlight<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("inner", &self.inner)
            .field("reads_in_flight", &self.gets.map.lock().len())
            .field("computations_in_flight", &self.computes.map.lock().len())
            .finish()
    }
}

impl<S: KeyValue> SingleFlight<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        SingleFlight {
            inner,
            gets: Flights::new(),
            computes: Flights::new(),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Returns the value of `key` in `collection` (the default collection for `None` or
    /// `""`); if it is missing or expired, runs `compute`, stores its value with `ttl` (`None`:
    /// never expires) and returns it. Concurrent callers for one key share one computation; see
    /// the [module docs](self).
    ///
    /// # Errors
    /// The key, collection and TTL are checked as `put` checks them; the read, the computation
    /// and the write may fail. Errors name the operation `get_or_compute`, the collection and
    /// the key.
    pub async fn get_or_compute<F, Fut>(
        &self,
        collection: Option<&str>,
        key: &str,
        ttl: Option<Duration>,
        compute: F,
    ) -> Result<Object>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Object>>,
    {
        let info = self.inner.info();
        let collection = info.resolve_collection(collection);
        let run = async {
            check_key(info, key)?;
            check_collection(info, collection)?;
            let ttl = ttl.map(|d| Ttl::from(d).validate()).transpose()?;
            if let Some(entry) = self.get_entry(collection, key).await?
                && !entry.is_expired_at(info.clock().now())
            {
                return Ok(entry.value);
            }
            self.computes
                .run(collection, key, move || async move {
                    // A flight that finished just before this one started may have stored it.
                    if let Some(entry) = self.inner.get_entry(collection, key).await?
                        && !entry.is_expired_at(info.clock().now())
                    {
                        return Ok(entry.value);
                    }
                    let value = compute().await?;
                    let entry = ManagedEntry::created_at(value.clone(), info.clock().now(), ttl);
                    self.inner.put_entry(collection, key, entry).await?;
                    self.gets.detach(collection, key);
                    Ok(value)
                })
                .await
        };
        run.await
            .map_err(|e| e.in_context("get_or_compute", collection, Some(key)))
    }

    fn detach(&self, collection: &str, keys: &[&str]) {
        for key in keys {
            self.gets.detach(collection, key);
            self.computes.detach(collection, key);
        }
    }
}

impl<S: KeyValue> KeyValue for SingleFlight<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.gets
            .run(collection, key, || self.inner.get_entry(collection, key))
            .await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let result = self.inner.put_entry(collection, key, entry).await;
        self.detach(collection, &[key]);
        result
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let result = self.inner.delete_entry(collection, key).await;
        self.detach(collection, &[key]);
        result
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.inner.get_entries(collection, keys).await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let result = self.inner.put_entries(collection, keys, entries).await;
        self.detach(collection, keys);
        result
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let result = self.inner.delete_entries(collection, keys).await;
        self.detach(collection, keys);
        result
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_keys(collection, limit).await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_collections(limit).await
    }

    async fn destroy(&self) -> Result<bool> {
        let result = self.inner.destroy().await;
        self.gets.detach_all();
        self.computes.detach_all();
        result
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let result = self.inner.destroy_collection(collection).await;
        self.gets.detach_collection(collection);
        self.computes.detach_collection(collection);
        result
    }

    async fn cull(&self) -> Result<()> {
        self.inner.cull().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

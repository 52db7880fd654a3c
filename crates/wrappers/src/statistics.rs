//! Counts hits, misses, writes, deletes and errors, per collection and in total, readable while
//! the store runs: py-key-value's `StatisticsWrapper`.
//!
//! Counters are atomics in a sharded map (one shard lock, taken for reading, per call, and for
//! writing only the first time a collection is seen), so concurrent calls never wait for each
//! other. [`StatisticsHandle::snapshot`] copies them out at any time; the handle is cheap to
//! clone and stays valid however the wrapped store is later stacked or shared.
//!
//! What is counted, per collection (as in py-key-value):
//! - `get`: a hit per live entry read, a miss per missing or expired one (`get`, `ttl` and their
//!   batch forms alike: below the user API they are the same call);
//! - `put`: one per entry written (a batch of n counts n);
//! - `delete`: a hit per entry deleted, a miss per key that was not there;
//! - `errors`: one per call that failed (a failed batch counts one). py does not count errors.
//!
//! Enumeration, `destroy`, `cull` and `close` are not counted, as in py-key-value.
//!
//! How it differs from py-key-value's wrapper: no `ttl` and `exists` counters (the first is
//! counted under `get`; py never increments the second); an `errors` counter; totals across
//! collections; and the collection is never rewritten (py passes `"default_collection"`
//! explicitly to the inner store when a call names none, even if the inner store's default
//! differs).
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, statistics::StatisticsLayer};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = StatisticsLayer::new();
//! let stats = layer.handle();
//! let store = MemoryStore::new().layer(layer);
//! store.put("a", object!({"v": 1})).collection("users").await?;
//! store.get("a").collection("users").await?;
//! store.get_many(&["a", "b"]).collection("users").await?;
//! let snapshot = stats.snapshot();
//! let users = snapshot.collection("users");
//! assert_eq!((users.get.hit, users.get.miss, users.put), (2, 1, 1));
//! assert_eq!(snapshot.totals.get.count, 3);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use key_value_core::entry::ManagedEntry;
use key_value_core::{KeyValue, Result, StoreInfo, Timestamp};
use parking_lot::RwLock;

use crate::Layer;

/// Hit and miss counts of one kind of read or delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HitMiss {
    /// Hits plus misses.
    pub count: u64,
    /// Entries found (read live, or deleted).
    pub hit: u64,
    /// Entries not found.
    pub miss: u64,
}

/// The counters of one collection, or the totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectionStatistics {
    /// Reads (`get`, `ttl` and their batch forms), per key.
    pub get: HitMiss,
    /// Entries written.
    pub put: u64,
    /// Deletes, per key.
    pub delete: HitMiss,
    /// Calls that failed.
    pub errors: u64,
}

impl CollectionStatistics {
    fn add(&mut self, other: &CollectionStatistics) {
        self.get.count += other.get.count;
        self.get.hit += other.get.hit;
        self.get.miss += other.get.miss;
        self.put += other.put;
        self.delete.count += other.delete.count;
        self.delete.hit += other.delete.hit;
        self.delete.miss += other.delete.miss;
        self.errors += other.errors;
    }
}

/// The counters at one moment: per collection and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatisticsSnapshot {
    /// The sum over every collection.
    pub totals: CollectionStatistics,
    /// Per collection, for every collection used since the counters started or were reset.
    pub collections: BTreeMap<String, CollectionStatistics>,
}

impl StatisticsSnapshot {
    /// The counters of `collection` (all zero if it was not used).
    pub fn collection(&self, collection: &str) -> CollectionStatistics {
        self.collections
            .get(collection)
            .copied()
            .unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Counters {
    get_hit: AtomicU64,
    get_miss: AtomicU64,
    put: AtomicU64,
    delete_hit: AtomicU64,
    delete_miss: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn read(&self) -> CollectionStatistics {
        let get_hit = self.get_hit.load(Ordering::Relaxed);
        let get_miss = self.get_miss.load(Ordering::Relaxed);
        let delete_hit = self.delete_hit.load(Ordering::Relaxed);
        let delete_miss = self.delete_miss.load(Ordering::Relaxed);
        CollectionStatistics {
            get: HitMiss {
                count: get_hit + get_miss,
                hit: get_hit,
                miss: get_miss,
            },
            put: self.put.load(Ordering::Relaxed),
            delete: HitMiss {
                count: delete_hit + delete_miss,
                hit: delete_hit,
                miss: delete_miss,
            },
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

const SHARDS: usize = 16;

type Shard = RwLock<HashMap<String, Arc<Counters>>>;

#[derive(Debug)]
struct Registry {
    shards: [Shard; SHARDS],
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
        }
    }
}

impl Registry {
    fn counters(&self, collection: &str) -> Arc<Counters> {
        let mut hasher = DefaultHasher::new();
        collection.hash(&mut hasher);
        // The modulo keeps the index below SHARDS, so the conversion cannot lose anything.
        let index = (hasher.finish() % SHARDS as u64) as usize;
        let shard = &self.shards[index];
        if let Some(c) = shard.read().get(collection) {
            return c.clone();
        }
        shard
            .write()
            .entry(collection.to_string())
            .or_default()
            .clone()
    }
}

/// A view of the counters of a [`Statistics`] store: cheap to clone, readable at any time.
#[derive(Debug, Clone, Default)]
pub struct StatisticsHandle {
    registry: Arc<Registry>,
}

impl StatisticsHandle {
    /// The counters now. Counts of calls still running may or may not be included.
    pub fn snapshot(&self) -> StatisticsSnapshot {
        let mut snapshot = StatisticsSnapshot::default();
        for shard in &self.registry.shards {
            for (name, counters) in shard.read().iter() {
                let stats = counters.read();
                snapshot.totals.add(&stats);
                snapshot.collections.insert(name.clone(), stats);
            }
        }
        snapshot
    }

    /// Sets every counter back to zero (and forgets the collections seen).
    pub fn reset(&self) {
        for shard in &self.registry.shards {
            shard.write().clear();
        }
    }
}

/// The configuration of [`Statistics`]: the handle its counters will be read through.
#[derive(Debug, Clone, Default)]
pub struct StatisticsLayer {
    handle: StatisticsHandle,
}

impl StatisticsLayer {
    /// Fresh counters.
    pub fn new() -> Self {
        StatisticsLayer::default()
    }

    /// Counts into existing counters, e.g. to add up several stores.
    pub fn with_handle(handle: StatisticsHandle) -> Self {
        StatisticsLayer { handle }
    }

    /// The handle to read the counters through; take it before layering.
    pub fn handle(&self) -> StatisticsHandle {
        self.handle.clone()
    }
}

impl<S: KeyValue> Layer<S> for StatisticsLayer {
    type Store = Statistics<S>;

    fn layer(self, inner: S) -> Statistics<S> {
        Statistics::from_layer(inner, self)
    }
}

/// A store that counts what happens to it. See the [module docs](self).
#[derive(Debug)]
pub struct Statistics<S> {
    inner: S,
    handle: StatisticsHandle,
}

impl<S: KeyValue> Statistics<S> {
    /// Wraps `inner` with fresh counters.
    pub fn new(inner: S) -> Self {
        Statistics::from_layer(inner, StatisticsLayer::new())
    }

    /// Wraps `inner`, counting into the layer's handle.
    pub fn from_layer(inner: S, config: StatisticsLayer) -> Self {
        Statistics {
            inner,
            handle: config.handle,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The counters now (py's `statistics` property).
    pub fn statistics(&self) -> StatisticsSnapshot {
        self.handle.snapshot()
    }

    /// A handle to read the counters through later.
    pub fn handle(&self) -> StatisticsHandle {
        self.handle.clone()
    }

    fn counters(&self, collection: &str) -> Arc<Counters> {
        self.handle.registry.counters(collection)
    }

    fn now(&self) -> Timestamp {
        self.inner.info().clock().now()
    }

    fn record<T>(&self, collection: &str, result: &Result<T>, ok: impl FnOnce(&Counters, &T)) {
        let counters = self.counters(collection);
        match result {
            Ok(value) => ok(&counters, value),
            Err(_) => Counters::add(&counters.errors, 1),
        }
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl<S: KeyValue> KeyValue for Statistics<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let result = self.inner.get_entry(collection, key).await;
        let now = self.now();
        self.record(collection, &result, |c, entry| {
            let hit = entry.as_ref().is_some_and(|e| !e.is_expired_at(now));
            Counters::add(if hit { &c.get_hit } else { &c.get_miss }, 1);
        });
        result
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let result = self.inner.put_entry(collection, key, entry).await;
        self.record(collection, &result, |c, _| Counters::add(&c.put, 1));
        result
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let result = self.inner.delete_entry(collection, key).await;
        self.record(collection, &result, |c, deleted| {
            Counters::add(
                if *deleted {
                    &c.delete_hit
                } else {
                    &c.delete_miss
                },
                1,
            );
        });
        result
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let result = self.inner.get_entries(collection, keys).await;
        let now = self.now();
        self.record(collection, &result, |c, entries| {
            let hits = entries
                .iter()
                .filter(|e| e.as_ref().is_some_and(|e| !e.is_expired_at(now)))
                .count();
            Counters::add(&c.get_hit, count(hits));
            Counters::add(&c.get_miss, count(entries.len() - hits));
        });
        result
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let n = count(keys.len());
        let result = self.inner.put_entries(collection, keys, entries).await;
        self.record(collection, &result, |c, _| Counters::add(&c.put, n));
        result
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let result = self.inner.delete_entries(collection, keys).await;
        self.record(collection, &result, |c, deleted| {
            Counters::add(&c.delete_hit, count(*deleted));
            Counters::add(&c.delete_miss, count(keys.len().saturating_sub(*deleted)));
        });
        result
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_keys(collection, limit).await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_collections(limit).await
    }

    async fn destroy(&self) -> Result<bool> {
        self.inner.destroy().await
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.inner.destroy_collection(collection).await
    }

    async fn cull(&self) -> Result<()> {
        self.inner.cull().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

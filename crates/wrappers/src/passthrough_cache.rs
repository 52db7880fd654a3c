//! A fast store (the cache) in front of a slow one (the source).
//!
//! [`PassthroughCache`] reads the cache first; on a miss it reads the source and copies what it
//! found into the cache. Writes and deletes go to the source, then remove the key from the
//! cache (invalidation), so the next read fetches the new value.
//!
//! - **The cached copy never outlives the source entry**: it is stored with the source entry's
//!   own `expires_at` (not a fresh TTL from "now", the classic bug of two-tier caches), clamped
//!   by [`max_cache_ttl`](PassthroughCacheLayer::max_cache_ttl) if set. Expired cached copies
//!   are never served, whatever the cache store does natively. Without a clamp, `ttl()` on a
//!   hit reports the source's exact remaining TTL; with one, a hit reports the cached copy's
//!   (never longer than the source's).
//! - **Batches stay batches**: `get_many` is one cache batch, one source batch for the misses
//!   and one cache batch to fill; `put_many`/`delete_many` are one source batch and one cache
//!   batch.
//! - **Concurrent readers and writers**: a reader that fetched the old value from the source
//!   while a writer replaced it must not put the old value into the cache after the writer
//!   invalidated it. Each write bumps a generation counter (one of 256, by key hash) after it
//!   reached the source; a reader whose counter moved during its fill removes what it just
//!   cached. So, within this process, a read that starts after a write returned never sees the
//!   value it replaced.
//! - **Other writers** of the source (other processes) do not invalidate this cache: their
//!   changes show once the cached copy expires. Set `max_cache_ttl` to bound that staleness.
//! - **Cache failures**: a failed cache read is a miss and a failed fill is ignored (the cache
//!   only speeds things up). A failed *invalidation* after a successful source write fails the
//!   call (the cache could serve the old value), except `InvalidKey`/`InvalidCollection` errors,
//!   which mean the cache cannot hold that key and so has no copy of it.
//! - Misses are not cached (no negative caching); `{}` is a value like any other.
//! - `keys()`/`collections()` read the source. `destroy()`, `destroy_collection()` and `cull()`
//!   act on the source, then on the cache; `destroy` is declared only if both stores support
//!   it, `destroy_collection` if the source does and the cache can destroy that collection (or
//!   everything). `close()` closes both.
//!
//! The [`StoreInfo`] is the source's (name, limits, clock), with `native_batch` only if both
//! stores batch natively. Give both stores the same clock.
//!
//! **Compared with py-key-value's `PassthroughCacheWrapper`**
//! (`maximum_ttl=1800, missing_ttl=1800`): py clamps every cached copy to 30 minutes and gives
//! entries without TTL a 30-minute cached copy; here the clamp is optional (default none, since
//! the copy already expires with its source), and `ttl()` reports the source's TTL when no
//! clamp applies. py treats a cached `{}` as a miss; here it is a hit. py invalidates before
//! writing; here the key is invalidated after the source write, with the generation check above
//! against racing readers.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, passthrough_cache::PassthroughCacheLayer};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let slow = MemoryStore::new(); // think: a remote database
//! let store = slow.layer(
//!     PassthroughCacheLayer::new(MemoryStore::new()).max_cache_ttl(Duration::from_secs(60)),
//! );
//! store.put("k", object!({"n": 1})).ttl(10).await?;
//! assert_eq!(store.get("k").await?, Some(object!({"n": 1}))); // a miss: filled from the source
//! assert_eq!(store.get("k").await?, Some(object!({"n": 1}))); // a hit
//! assert_eq!((store.hits(), store.misses()), (1, 1));
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::{Error, ErrorKind, KeyValue, Result, StoreInfo, Timestamp};

use crate::Layer;

/// How many generation counters invalidations are spread over.
const SHARDS: usize = 256;

/// The cache store and its settings; a [`Layer`] that puts it in front of a source store.
#[derive(Debug, Clone)]
pub struct PassthroughCacheLayer<C> {
    cache: C,
    max_cache_ttl: Option<Duration>,
}

impl<C: KeyValue> PassthroughCacheLayer<C> {
    /// Caches in `cache`; cached copies expire with their source entries.
    pub fn new(cache: C) -> Self {
        PassthroughCacheLayer {
            cache,
            max_cache_ttl: None,
        }
    }

    /// Keeps a cached copy at most this long after it was cached (entries without TTL
    /// included), bounding how long a change made by another writer of the source goes
    /// unseen.
    pub fn max_cache_ttl(mut self, ttl: Duration) -> Self {
        self.max_cache_ttl = Some(ttl);
        self
    }
}

impl<S: KeyValue, C: KeyValue> Layer<S> for PassthroughCacheLayer<C> {
    type Store = PassthroughCache<S, C>;

    fn layer(self, inner: S) -> PassthroughCache<S, C> {
        PassthroughCache::from_layer(inner, self)
    }
}

/// A source store with a cache in front; see the [module docs](self).
pub struct PassthroughCache<S, C> {
    source: S,
    cache: C,
    max_cache_ttl: Option<Duration>,
    info: StoreInfo,
    generations: Box<[AtomicU64]>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<S: fmt::Debug, C: fmt::Debug> fmt::Debug for PassthroughCache<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassthroughCache")
            .field("source", &self.source)
            .field("cache", &self.cache)
            .field("max_cache_ttl", &self.max_cache_ttl)
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

/// A successful source write whose cache invalidation failed is reported as failed: the cache
/// may still serve the old value.
fn after_invalidation<T>(written: Result<T>, invalidated: Result<()>) -> Result<T> {
    match (written, invalidated) {
        (Err(e), _) => Err(e),
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(Error::new(
            e.kind(),
            format!(
                "the source store was updated but the cache could not be invalidated: {}",
                e.message()
            ),
        )
        .with_temporary(e.is_temporary())
        .with_source(e)),
    }
}

/// Invalidation errors that mean "the cache cannot hold this key, so it has no copy".
fn harmless(result: Result<()>) -> Result<()> {
    match result {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::InvalidKey | ErrorKind::InvalidCollection
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

impl<S: KeyValue, C: KeyValue> PassthroughCache<S, C> {
    /// `cache` in front of `source`, with cached copies expiring with their source entries.
    pub fn new(source: S, cache: C) -> Self {
        Self::from_layer(source, PassthroughCacheLayer::new(cache))
    }

    fn from_layer(source: S, layer: PassthroughCacheLayer<C>) -> Self {
        let mut info = source.info().clone();
        let cache_caps = *layer.cache.info().capabilities();
        let caps = info.capabilities_mut();
        caps.native_batch &= cache_caps.native_batch;
        caps.destroy &= cache_caps.destroy;
        caps.destroy_collection &= cache_caps.destroy_collection || cache_caps.destroy;
        PassthroughCache {
            source,
            cache: layer.cache,
            max_cache_ttl: layer.max_cache_ttl,
            info,
            generations: (0..SHARDS).map(|_| AtomicU64::new(0)).collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The source store (what [`inner`](Self::inner) also returns).
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The source store.
    pub fn inner(&self) -> &S {
        &self.source
    }

    /// The cache store.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// Keys answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Keys that had to be read from the source so far.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    fn now(&self) -> Timestamp {
        self.info.clock().now()
    }

    fn shard(collection: &str, key: &str) -> usize {
        let mut h = DefaultHasher::new();
        collection.hash(&mut h);
        key.hash(&mut h);
        (h.finish() % SHARDS as u64) as usize
    }

    fn generation(&self, shard: usize) -> u64 {
        self.generations
            .get(shard)
            .map_or(0, |g| g.load(Ordering::SeqCst))
    }

    fn bump(&self, shard: usize) {
        if let Some(g) = self.generations.get(shard) {
            g.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn bump_all(&self) {
        for g in self.generations.iter() {
            g.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The copy to cache: the source entry with its expiry clamped; `None` if it would be
    /// expired already.
    fn cache_copy(&self, entry: &ManagedEntry, now: Timestamp) -> Option<ManagedEntry> {
        let expires_at = match (entry.expires_at, self.max_cache_ttl) {
            (expires, None) => expires,
            (None, Some(max)) => Some(now.saturating_add(max)),
            (Some(expires), Some(max)) => Some(expires.min(now.saturating_add(max))),
        };
        if expires_at.is_some_and(|e| e <= now) {
            return None;
        }
        Some(ManagedEntry::new(
            entry.value.clone(),
            entry.created_at,
            expires_at,
        ))
    }

    async fn invalidate(&self, collection: &str, keys: &[&str]) -> Result<()> {
        for key in keys {
            self.bump(Self::shard(collection, key));
        }
        let result = match keys {
            [] => Ok(()),
            [key] => self.cache.delete_entry(collection, key).await.map(|_| ()),
            _ => self
                .cache
                .delete_entries(collection, keys)
                .await
                .map(|_| ()),
        };
        harmless(result)
    }
}

impl<S: KeyValue, C: KeyValue> KeyValue for PassthroughCache<S, C> {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        if let Ok(Some(hit)) = self.cache.get_entry(collection, key).await
            && !hit.is_expired_at(self.now())
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(hit));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let shard = Self::shard(collection, key);
        let before = self.generation(shard);
        let found = self.source.get_entry(collection, key).await?;
        if let Some(entry) = &found
            && let Some(copy) = self.cache_copy(entry, self.now())
        {
            // A failed fill only costs a later miss.
            let _ = self.cache.put_entry(collection, key, copy).await;
            if self.generation(shard) != before {
                // A write raced this read: what was just cached may be the old value.
                let _ = self.cache.delete_entry(collection, key).await;
            }
        }
        Ok(found)
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let written = self.source.put_entry(collection, key, entry).await;
        let invalidated = self.invalidate(collection, &[key]).await;
        after_invalidation(written, invalidated)
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let deleted = self.source.delete_entry(collection, key).await;
        let invalidated = self.invalidate(collection, &[key]).await;
        after_invalidation(deleted, invalidated)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let n = keys.len();
        let now = self.now();
        let mut out: Vec<Option<ManagedEntry>> =
            match self.cache.get_entries(collection, keys).await {
                Ok(found) if found.len() == n => found
                    .into_iter()
                    .map(|e| e.filter(|e| !e.is_expired_at(now)))
                    .collect(),
                _ => vec![None; n],
            };
        let missing: Vec<usize> = (0..n).filter(|&i| out[i].is_none()).collect();
        self.hits
            .fetch_add((n - missing.len()) as u64, Ordering::Relaxed);
        self.misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        if missing.is_empty() {
            return Ok(out);
        }
        let miss_keys: Vec<&str> = missing.iter().map(|&i| keys[i]).collect();
        let before: Vec<u64> = miss_keys
            .iter()
            .map(|k| self.generation(Self::shard(collection, k)))
            .collect();
        let fetched = self.source.get_entries(collection, &miss_keys).await?;
        if fetched.len() != miss_keys.len() {
            return Err(Error::new(
                ErrorKind::Backend,
                format!(
                    "{} returned {} entries for {} keys",
                    self.source.info().name(),
                    fetched.len(),
                    miss_keys.len()
                ),
            )
            .with_operation("get_many"));
        }

        let now = self.now();
        let mut seen = HashSet::new();
        let mut fill_keys = Vec::new();
        let mut fill_entries = Vec::new();
        let mut fill_before = Vec::new();
        for ((key, entry), gen_before) in miss_keys.iter().zip(&fetched).zip(&before) {
            if let Some(entry) = entry
                && seen.insert(*key)
                && let Some(copy) = self.cache_copy(entry, now)
            {
                fill_keys.push(*key);
                fill_entries.push(copy);
                fill_before.push(*gen_before);
            }
        }
        if !fill_keys.is_empty() {
            let _ = self
                .cache
                .put_entries(collection, &fill_keys, fill_entries)
                .await;
            let raced: Vec<&str> = fill_keys
                .iter()
                .zip(&fill_before)
                .filter(|(k, b)| self.generation(Self::shard(collection, k)) != **b)
                .map(|(k, _)| *k)
                .collect();
            if !raced.is_empty() {
                let _ = self.cache.delete_entries(collection, &raced).await;
            }
        }
        for (slot, entry) in missing.into_iter().zip(fetched) {
            out[slot] = entry;
        }
        Ok(out)
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let written = self.source.put_entries(collection, keys, entries).await;
        let invalidated = self.invalidate(collection, keys).await;
        after_invalidation(written, invalidated)
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let deleted = self.source.delete_entries(collection, keys).await;
        let invalidated = self.invalidate(collection, keys).await;
        after_invalidation(deleted, invalidated)
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.source.list_keys(collection, limit).await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.source.list_collections(limit).await
    }

    async fn destroy(&self) -> Result<bool> {
        if !self.info.capabilities().destroy {
            // Destroying the source without being able to clear the cache would leave the
            // cache serving what was destroyed.
            return Err(Error::unsupported("destroy", self.info.name()));
        }
        let destroyed = self.source.destroy().await;
        self.bump_all();
        let invalidated = self.cache.destroy().await.map(|_| ());
        after_invalidation(destroyed, invalidated)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        if !self.info.capabilities().destroy_collection {
            return Err(Error::unsupported("destroy_collection", self.info.name()));
        }
        let destroyed = self.source.destroy_collection(collection).await;
        self.bump_all();
        let invalidated = if self.cache.info().capabilities().destroy_collection {
            self.cache.destroy_collection(collection).await.map(|_| ())
        } else {
            self.cache.destroy().await.map(|_| ())
        };
        after_invalidation(destroyed, invalidated)
    }

    async fn cull(&self) -> Result<()> {
        let culled = self.source.cull().await;
        if self.cache.info().capabilities().cull {
            // Expired copies are never served anyway; culling the cache only frees memory.
            let _ = self.cache.cull().await;
        }
        culled
    }

    async fn close(&self) -> Result<()> {
        let source = self.source.close().await;
        let cache = self.cache.close().await;
        source.and(cache)
    }
}

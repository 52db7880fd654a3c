//! `MemoryStore`: a fast in-process store, bounded per collection with LRU eviction, whose
//! expired entries really go away.
//!
//! - **Bounded**: with [`max_entries_per_collection`](MemoryConfig::max_entries_per_collection)
//!   each collection keeps at most that many entries and evicts the least recently used
//!   (read or written) first.
//! - **Expiry frees memory**: each collection keeps its entries ordered by expiry time, and
//!   every call on a collection first drops the entries that have expired, so expired data
//!   never piles up behind live data (py-key-value's in-memory store keeps them until they are
//!   evicted). A collection nobody touches keeps its expired entries until
//!   [`cull`](key_value_core::KeyValue::cull) runs.
//! - **Concurrent**: one lock per collection, held only for the map operation itself.
//! - **No live objects**: values are copied in and out, as py-key-value's "no live objects" rule
//!   asks, so a caller mutating what it got back changes nothing stored.
//!
//! Stability: N/A (nothing persists).
//!
//! ```
//! use key_value_memory::MemoryStore;
//! use key_value_core::prelude::*;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::builder().max_entries_per_collection(10_000).build();
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(60).await?;
//! let (value, ttl) = store.ttl("user:1").collection("users").await?.expect("just written");
//! assert_eq!(value["name"], "Alice");
//! assert!(ttl.expect("has a TTL").as_secs_f64() <= 60.0);
//! assert_eq!(store.keys().collection("users").await?, vec!["user:1".to_string()]);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::collections::{BTreeSet, HashMap};
use std::num::NonZeroUsize;
use std::sync::Arc;

use key_value_core::config::StoreUrl;
use key_value_core::entry::{ManagedEntry, Object};
use key_value_core::setup::CloseFlag;
use key_value_core::{Capabilities, Clock, KeyValue, Result, Stability, StoreInfo, Timestamp};
use lru::LruCache;
use parking_lot::{Mutex, RwLock};

/// One collection: entries in recency order, plus an index of them by expiry time.
struct Collection {
    entries: LruCache<String, ManagedEntry>,
    by_expiry: BTreeSet<(Timestamp, String)>,
}

impl Collection {
    fn new(capacity: Option<NonZeroUsize>) -> Self {
        Collection {
            entries: match capacity {
                Some(cap) => LruCache::new(cap),
                None => LruCache::unbounded(),
            },
            by_expiry: BTreeSet::new(),
        }
    }

    /// Drops every entry that has expired at `now`. Costs one lookup when none has.
    fn purge_expired(&mut self, now: Timestamp) {
        while let Some((at, _)) = self.by_expiry.first() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.by_expiry.pop_first() {
                self.entries.pop(&key);
            }
        }
    }

    fn unindex(&mut self, key: &str, entry: &ManagedEntry) {
        if let Some(at) = entry.expires_at {
            // The index holds owned keys; a borrowed lookup would need a custom key type, and
            // this path runs only for entries with a TTL.
            self.by_expiry.remove(&(at, key.to_string()));
        }
    }

    fn insert(&mut self, key: &str, entry: ManagedEntry) {
        let expires_at = entry.expires_at;
        if let Some(slot) = self.entries.get_mut(key) {
            let old = std::mem::replace(slot, entry);
            if old.expires_at == expires_at {
                return; // already indexed under the same time
            }
            self.unindex(key, &old);
        } else if let Some((evicted_key, evicted)) = self.entries.push(key.to_string(), entry) {
            // `push` hands back the least recently used entry when the collection is full.
            self.unindex(&evicted_key, &evicted);
        }
        if let Some(at) = expires_at {
            self.by_expiry.insert((at, key.to_string()));
        }
    }

    fn remove(&mut self, key: &str) -> bool {
        match self.entries.pop(key) {
            Some(old) => {
                self.unindex(key, &old);
                true
            }
            None => false,
        }
    }
}

type Shared = Arc<Mutex<Collection>>;

/// A fast, bounded, in-process key-value store. See the [crate docs](crate).
pub struct MemoryStore {
    info: StoreInfo,
    capacity: Option<NonZeroUsize>,
    collections: RwLock<HashMap<String, Shared>>,
    closed: CloseFlag,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_entries_per_collection", &self.capacity)
            .field("collections", &self.collections.read().len())
            .field("default_collection", &self.info.default_collection())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

/// The options of a [`MemoryStore`]: its builder and the target of `memory://` URLs.
///
/// ```
/// use key_value_memory::MemoryConfig;
/// use key_value_core::config::StoreUrl;
/// use key_value_core::KeyValue;
///
/// let url = StoreUrl::parse("memory://?max_entries_per_collection=100&default_collection=users")?;
/// let store = MemoryConfig::from_url(&url)?.build();
/// assert_eq!(store.info().default_collection(), "users");
/// assert_eq!(store.info().capabilities().max_entries_per_collection, Some(100));
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryConfig {
    capacity: Option<NonZeroUsize>,
    default_collection: Option<String>,
    clock: Clock,
    seed: Vec<(String, String, Object)>,
}

impl MemoryConfig {
    /// The URL scheme of this store.
    pub const SCHEME: &'static str = "memory";

    /// The options of a `memory://` URL: `max_entries_per_collection`, `default_collection`.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        url.check_options(&["max_entries_per_collection", "default_collection"])?;
        let mut config = MemoryConfig::default();
        if let Some(max) = url.option::<usize>("max_entries_per_collection")? {
            config = config.max_entries_per_collection(max);
        }
        if let Some(c) = url.option::<String>("default_collection")? {
            config = config.default_collection(c);
        }
        Ok(config)
    }

    /// Keeps at most `max` entries per collection, evicting the least recently used. `0` means
    /// unbounded.
    pub fn max_entries_per_collection(mut self, max: usize) -> Self {
        self.capacity = NonZeroUsize::new(max);
        self
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by (a [`ManualClock`](key_value_core::ManualClock) in tests).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// An entry present from the start, without TTL (py-key-value's `seed`).
    pub fn seed(mut self, collection: &str, key: &str, value: Object) -> Self {
        self.seed
            .push((collection.to_string(), key.to_string(), value));
        self
    }

    /// The store.
    pub fn build(self) -> MemoryStore {
        let mut info = StoreInfo::new("MemoryStore", Stability::NotApplicable)
            .with_capabilities(Capabilities {
                native_ttl: true,
                native_batch: true,
                enumerate_keys: true,
                enumerate_collections: true,
                destroy: true,
                destroy_collection: true,
                cull: true,
                max_entries_per_collection: self.capacity.map(NonZeroUsize::get),
                ..Capabilities::default()
            })
            .with_clock(self.clock);
        if let Some(c) = self.default_collection {
            info = info.with_default_collection(c);
        }
        let store = MemoryStore {
            info,
            capacity: self.capacity,
            collections: RwLock::new(HashMap::new()),
            closed: CloseFlag::default(),
        };
        let now = store.info.clock().now();
        for (collection, key, value) in self.seed {
            let shared = store.collection_or_create(&collection);
            shared
                .lock()
                .insert(&key, ManagedEntry::created_at(value, now, None));
        }
        store
    }
}

impl MemoryStore {
    /// An unbounded store with the system clock.
    pub fn new() -> Self {
        MemoryStore::builder().build()
    }

    /// A builder for the options.
    pub fn builder() -> MemoryConfig {
        MemoryConfig::default()
    }

    /// How many entries `collection` holds now, expired ones that were not yet dropped included.
    pub fn len(&self, collection: &str) -> usize {
        self.collection(collection)
            .map(|c| c.lock().entries.len())
            .unwrap_or(0)
    }

    /// Whether `collection` holds nothing.
    pub fn is_empty(&self, collection: &str) -> bool {
        self.len(collection) == 0
    }

    fn collection(&self, name: &str) -> Option<Shared> {
        self.collections.read().get(name).cloned()
    }

    fn collection_or_create(&self, name: &str) -> Shared {
        if let Some(c) = self.collection(name) {
            return c;
        }
        self.collections
            .write()
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Collection::new(self.capacity))))
            .clone()
    }
}

impl KeyValue for MemoryStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.closed.check()?;
        let Some(shared) = self.collection(collection) else {
            return Ok(None);
        };
        let mut c = shared.lock();
        c.purge_expired(self.info.clock().now());
        Ok(c.entries.get(key).cloned())
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.closed.check()?;
        let shared = self.collection_or_create(collection);
        let mut c = shared.lock();
        c.purge_expired(self.info.clock().now());
        c.insert(key, entry);
        Ok(())
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.closed.check()?;
        let Some(shared) = self.collection(collection) else {
            return Ok(false);
        };
        let mut c = shared.lock();
        c.purge_expired(self.info.clock().now());
        Ok(c.remove(key))
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.closed.check()?;
        let Some(shared) = self.collection(collection) else {
            return Ok(vec![None; keys.len()]);
        };
        let mut c = shared.lock();
        c.purge_expired(self.info.clock().now());
        Ok(keys.iter().map(|k| c.entries.get(*k).cloned()).collect())
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.closed.check()?;
        let shared = self.collection_or_create(collection);
        let mut c = shared.lock();
        c.purge_expired(self.info.clock().now());
        for (key, entry) in keys.iter().zip(entries) {
            c.insert(key, entry);
        }
        Ok(())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.closed.check()?;
        let Some(shared) = self.collection(collection) else {
            return Ok(0);
        };
        let mut c = shared.lock();
        c.purge_expired(self.info.clock().now());
        Ok(keys.iter().filter(|k| c.remove(k)).count())
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let Some(shared) = self.collection(collection) else {
            return Ok(Vec::new());
        };
        let mut c = shared.lock();
        c.purge_expired(self.info.clock().now());
        let limit = limit.unwrap_or(usize::MAX);
        Ok(c.entries
            .iter()
            .take(limit)
            .map(|(k, _)| k.clone())
            .collect())
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let mut names: Vec<String> = self.collections.read().keys().cloned().collect();
        names.sort();
        names.truncate(limit.unwrap_or(usize::MAX));
        Ok(names)
    }

    async fn destroy(&self) -> Result<bool> {
        self.closed.check()?;
        let mut all = self.collections.write();
        let had_any = all.values().any(|c| !c.lock().entries.is_empty());
        all.clear();
        Ok(had_any)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.closed.check()?;
        Ok(self.collections.write().remove(collection).is_some())
    }

    async fn cull(&self) -> Result<()> {
        self.closed.check()?;
        let now = self.info.clock().now();
        let all: Vec<Shared> = self.collections.read().values().cloned().collect();
        for c in all {
            c.lock().purge_expired(now);
        }
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        self.collections.write().clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use key_value_core::prelude::*;
    use key_value_core::{ManualClock, Timestamp};
    use std::time::Duration;

    fn manual() -> (ManualClock, MemoryStore) {
        let clock = ManualClock::new(Timestamp::UNIX_EPOCH);
        let store = MemoryStore::builder()
            .clock(Clock::from(clock.clone()))
            .build();
        (clock, store)
    }

    #[tokio::test]
    async fn expired_entries_are_dropped_not_just_hidden() {
        let (clock, store) = manual();
        for i in 0..100 {
            let key = format!("k{i}");
            store.put(&key, object!({"i": i})).ttl(10).await.unwrap();
        }
        store.put("forever", object!({})).await.unwrap();
        assert_eq!(store.len("default_collection"), 101);
        clock.advance(Duration::from_secs(11));
        // Any call on the collection drops what has expired.
        assert_eq!(store.get("forever").await.unwrap(), Some(object!({})));
        assert_eq!(store.len("default_collection"), 1);
    }

    #[tokio::test]
    async fn cull_drops_expired_entries_of_untouched_collections() {
        let (clock, store) = manual();
        store
            .put("a", object!({}))
            .collection("c1")
            .ttl(1)
            .await
            .unwrap();
        store
            .put("b", object!({}))
            .collection("c2")
            .ttl(1)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(2));
        assert_eq!(store.len("c1") + store.len("c2"), 2);
        store.cull().await.unwrap();
        assert_eq!(store.len("c1") + store.len("c2"), 0);
    }

    #[tokio::test]
    async fn overwriting_moves_the_expiry_index() {
        let (clock, store) = manual();
        store.put("k", object!({"v": 1})).ttl(5).await.unwrap();
        store.put("k", object!({"v": 2})).ttl(100).await.unwrap();
        clock.advance(Duration::from_secs(6));
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 2})));
        store.put("k", object!({"v": 3})).await.unwrap();
        clock.advance(Duration::from_secs(200));
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 3})));
        let c = store.collection("default_collection").unwrap();
        assert!(c.lock().by_expiry.is_empty());
    }

    #[tokio::test]
    async fn lru_eviction_keeps_recently_read_entries_and_cleans_the_index() {
        let store = MemoryStore::builder().max_entries_per_collection(3).build();
        for k in ["a", "b", "c"] {
            store.put(k, object!({})).ttl(100).await.unwrap();
        }
        store.get("a").await.unwrap(); // "b" is now the least recently used
        store.put("d", object!({})).ttl(100).await.unwrap();
        let got = store.get_many(&["a", "b", "c", "d"]).await.unwrap();
        assert_eq!(
            got.iter().map(Option::is_some).collect::<Vec<_>>(),
            [true, false, true, true]
        );
        let c = store.collection("default_collection").unwrap();
        assert_eq!(c.lock().by_expiry.len(), 3);
    }

    #[tokio::test]
    async fn seed_entries_are_present_from_the_start() {
        let store = MemoryStore::builder()
            .seed("users", "u1", object!({"name": "Ann"}))
            .build();
        assert_eq!(
            store.get("u1").collection("users").await.unwrap(),
            Some(object!({"name": "Ann"}))
        );
    }

    #[tokio::test]
    async fn returned_values_are_copies() {
        let store = MemoryStore::new();
        store.put("k", object!({"n": 1})).await.unwrap();
        let mut got = store.get("k").await.unwrap().unwrap();
        got.insert("n".into(), 2.into());
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"n": 1})));
    }
}

//! `SimpleStore`: the minimal reference store.
//!
//! One map from `(collection, key)` to the entry's envelope text, exactly as py-key-value
//! writes it for Redis or Disk (`Envelope::WITH_KEY`). Every read parses the text back, so the
//! conformance suite run on this store also proves the envelope round trip. With
//! [`with_max_entries`](SimpleStore::with_max_entries) the store holds at most that many
//! entries in all and evicts the oldest written first (FIFO), as py-key-value's does.
//!
//! It exists to read: the smallest complete implementation of [`KeyValue`] with enumeration
//! and destroy, and a store for tests. Stability: N/A.
//!
//! ```
//! use key_value_simple::SimpleStore;
//! use key_value_core::prelude::*;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = SimpleStore::new();
//! store.put("user:1", object!({"name": "Alice"})).collection("users").await?;
//! let raw = store.raw_document("users", "user:1").expect("stored");
//! assert!(raw.starts_with(r#"{"collection": "users", "created_at": ""#));
//! assert!(raw.ends_with(r#""key": "user:1", "value": {"name": "Alice"}, "version": 1}"#));
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::num::NonZeroUsize;

use key_value_core::config::StoreUrl;
use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::setup::CloseFlag;
use key_value_core::{Capabilities, Clock, KeyValue, Result, Stability, StoreInfo};
use lru::LruCache;
use parking_lot::Mutex;

type Map = LruCache<(String, String), String>;

/// The minimal reference store. See the [crate docs](crate).
pub struct SimpleStore {
    info: StoreInfo,
    map: Mutex<Map>,
    closed: CloseFlag,
}

impl std::fmt::Debug for SimpleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimpleStore")
            .field("entries", &self.map.lock().len())
            .field("max_entries", &self.info.capabilities().max_entries)
            .finish()
    }
}

impl Default for SimpleStore {
    fn default() -> Self {
        SimpleStore::new()
    }
}

impl SimpleStore {
    /// An unbounded store.
    pub fn new() -> Self {
        SimpleStore::with_max_entries(0)
    }

    /// A store of at most `max_entries` entries in all (`0`: unbounded).
    pub fn with_max_entries(max_entries: usize) -> Self {
        let cap = NonZeroUsize::new(max_entries);
        SimpleStore {
            info: StoreInfo::new("SimpleStore", Stability::NotApplicable).with_capabilities(
                Capabilities {
                    enumerate_keys: true,
                    enumerate_collections: true,
                    destroy: true,
                    destroy_collection: true,
                    max_entries: cap.map(NonZeroUsize::get),
                    ..Capabilities::default()
                },
            ),
            map: Mutex::new(match cap {
                Some(cap) => LruCache::new(cap),
                None => LruCache::unbounded(),
            }),
            closed: CloseFlag::default(),
        }
    }

    /// The URL scheme of this store.
    pub const SCHEME: &'static str = "simple";

    /// A store from a `simple://` URL; options `max_entries` and `default_collection`.
    ///
    /// ```
    /// use key_value_core::{config::StoreUrl, KeyValue};
    /// let store = key_value_simple::SimpleStore::from_url(&StoreUrl::parse("simple://?max_entries=10")?)?;
    /// assert_eq!(store.info().capabilities().max_entries, Some(10));
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        url.check_options(&["max_entries", "default_collection"])?;
        let mut store = SimpleStore::with_max_entries(url.option("max_entries")?.unwrap_or(0));
        if let Some(c) = url.option::<String>("default_collection")? {
            store = store.with_default_collection(c);
        }
        Ok(store)
    }

    /// Uses `clock` to judge expiry (a manual clock in tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.info = self.info.with_clock(clock);
        self
    }

    /// Uses `collection` when a call names none.
    pub fn with_default_collection(mut self, collection: impl Into<String>) -> Self {
        self.info = self.info.with_default_collection(collection);
        self
    }

    /// The stored envelope text of an entry, as py-key-value would write it.
    pub fn raw_document(&self, collection: &str, key: &str) -> Option<String> {
        self.map
            .lock()
            .peek(&(collection.to_string(), key.to_string()))
            .cloned()
    }
}

fn id(collection: &str, key: &str) -> (String, String) {
    (collection.to_string(), key.to_string())
}

impl KeyValue for SimpleStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.closed.check()?;
        // `peek`, not `get`: reads must not change the eviction order (FIFO, not LRU).
        let text = self.map.lock().peek(&id(collection, key)).cloned();
        text.map(|t| Envelope::load(&t)).transpose()
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.closed.check()?;
        let text = Envelope::WITH_KEY.dump(&entry, collection, key);
        let mut map = self.map.lock();
        let id = id(collection, key);
        // Overwriting keeps the entry's place in the eviction order, as a Python dict does.
        match map.peek_mut(&id) {
            Some(slot) => *slot = text,
            None => {
                map.push(id, text);
            }
        }
        Ok(())
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.closed.check()?;
        Ok(self.map.lock().pop(&id(collection, key)).is_some())
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let now = self.info.clock().now();
        let map = self.map.lock();
        let mut keys = Vec::new();
        // Oldest first, skipping expired entries.
        for ((c, k), text) in map.iter().rev() {
            if keys.len() >= limit.unwrap_or(usize::MAX) {
                break;
            }
            if c == collection && !Envelope::load(text)?.is_expired_at(now) {
                keys.push(k.clone());
            }
        }
        Ok(keys)
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let map = self.map.lock();
        let mut names: Vec<String> = map.iter().map(|((c, _), _)| c.clone()).collect();
        names.sort();
        names.dedup();
        names.truncate(limit.unwrap_or(usize::MAX));
        Ok(names)
    }

    async fn destroy(&self) -> Result<bool> {
        self.closed.check()?;
        let mut map = self.map.lock();
        let had_any = !map.is_empty();
        map.clear();
        Ok(had_any)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.closed.check()?;
        let mut map = self.map.lock();
        let ids: Vec<(String, String)> = map
            .iter()
            .filter(|((c, _), _)| c == collection)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ids {
            map.pop(id);
        }
        Ok(!ids.is_empty())
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        self.map.lock().clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use key_value_core::prelude::*;

    #[tokio::test]
    async fn evicts_the_oldest_written_first_and_reads_do_not_change_that() {
        let store = SimpleStore::with_max_entries(2);
        store.put("a", object!({})).await.unwrap();
        store.put("b", object!({})).await.unwrap();
        store.get("a").await.unwrap();
        store.put("a", object!({"again": true})).await.unwrap();
        store.put("c", object!({})).await.unwrap();
        let got = store.get_many(&["a", "b", "c"]).await.unwrap();
        assert_eq!(
            got.iter().map(Option::is_some).collect::<Vec<_>>(),
            [false, true, true]
        );
    }

    #[tokio::test]
    async fn corrupt_stored_text_is_a_deserialization_error() {
        let store = SimpleStore::new();
        store.map.lock().push(id("c", "k"), "{not json".to_string());
        let err = store.get("k").collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization);
        assert_eq!(err.key(), Some("k"));
        assert_eq!(err.collection(), Some("c"));
    }
}

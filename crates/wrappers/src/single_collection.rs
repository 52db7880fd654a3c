//! Folds every collection into one collection of the inner store, by moving the collection
//! name into the key: py-key-value's `SingleCollectionWrapper`.
//!
//! Key `k` of collection `c` is stored in the backing collection as `{c}__{k}` (py's
//! `DEFAULT_PREFIX_SEPARATOR`, `"__"`, unless [another](SingleCollectionLayer::separator) is
//! set), exactly as py-key-value writes it, so both can share the backend. Useful over stores
//! where a collection is costly (a table, an index, a directory).
//!
//! How it differs from py-key-value's wrapper:
//! - Enumeration works: `keys()` lists the backing keys that start with `{c}__`, without that
//!   prefix; `collections()` lists the distinct `c` found before the first separator; backing
//!   keys without a separator (not written through this wrapper) are hidden.
//!   As in py-key-value the format is ambiguous when names contain the separator (`a__b`/`k`
//!   and `a`/`b__k` are the same stored key): reads and writes still work, but enumeration must
//!   choose. By default ([`Split::First`]) a stored key belongs to the collection before its
//!   first separator, so keys may contain the separator and collection names should not; with
//!   [`Split::Last`] collection names may contain it (as under a
//!   [`PrefixCollections`](crate::prefix::PrefixCollections) layer, whose names all do) and keys
//!   should not. Choosing different separators for stacked layers avoids the question.
//! - `destroy_collection(c)` deletes the keys of `c` in one batch (needs the inner store to list
//!   keys); `destroy()` destroys the backing collection (needs `destroy_collection` of the inner
//!   store).
//! - The inner store's key length limit applies to the combined key: a combination too long is
//!   an `InvalidKey` error before anything is sent. A bound on the inner store's collections
//!   becomes a bound on the whole wrapped store.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, single_collection::SingleCollectionLayer};
//! use std::sync::Arc;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let backing = Arc::new(MemoryStore::new());
//! let store = backing.clone().layer(SingleCollectionLayer::new("everything"));
//! store.put("user:1", object!({"name": "Alice"})).collection("users").await?;
//! store.put("theme", object!({"dark": true})).await?;
//! assert!(backing.get("users__user:1").collection("everything").await?.is_some());
//! assert!(backing.get("default_collection__theme").collection("everything").await?.is_some());
//! let mut collections = store.collections().await?;
//! collections.sort();
//! assert_eq!(collections, vec!["default_collection", "users"]);
//! assert_eq!(store.keys().collection("users").await?, vec!["user:1"]);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::collections::HashSet;

use key_value_core::entry::ManagedEntry;
use key_value_core::{DEFAULT_COLLECTION, Error, ErrorKind, KeyValue, Result, StoreInfo};

use crate::Layer;
use crate::prefix::{DEFAULT_SEPARATOR, list_stripped};

/// Where enumeration splits a stored key into collection and key when the separator occurs
/// more than once. Reads and writes do not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    /// At the first separator: keys may contain the separator, collection names should not.
    #[default]
    First,
    /// At the last separator: collection names may contain the separator, keys should not.
    Last,
}

/// The configuration of [`SingleCollection`]: the backing collection, the default collection
/// and the separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleCollectionLayer {
    single_collection: String,
    default_collection: String,
    separator: String,
    split: Split,
}

impl SingleCollectionLayer {
    /// Stores everything in the inner store's collection `single_collection`.
    pub fn new(single_collection: impl Into<String>) -> Self {
        SingleCollectionLayer {
            single_collection: single_collection.into(),
            default_collection: DEFAULT_COLLECTION.to_string(),
            separator: DEFAULT_SEPARATOR.to_string(),
            split: Split::First,
        }
    }

    /// Where enumeration splits stored keys that contain the separator more than once (see
    /// [`Split`]).
    pub fn split(mut self, split: Split) -> Self {
        self.split = split;
        self
    }

    /// The collection calls without one use: `"default_collection"` unless set, as py's
    /// `default_collection` argument. An empty name keeps the default.
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        let collection = collection.into();
        if !collection.is_empty() {
            self.default_collection = collection;
        }
        self
    }

    /// Uses `separator` between collection and key instead of `"__"` (py's `separator`). An
    /// empty separator keeps `"__"`, as in py-key-value (`separator or "__"`).
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        let separator = separator.into();
        if !separator.is_empty() {
            self.separator = separator;
        }
        self
    }
}

impl<S: KeyValue> Layer<S> for SingleCollectionLayer {
    type Store = SingleCollection<S>;

    fn layer(self, inner: S) -> SingleCollection<S> {
        SingleCollection::from_layer(inner, self)
    }
}

/// A store that keeps all its collections in one collection of the inner store. See the
/// [module docs](self).
#[derive(Debug)]
pub struct SingleCollection<S> {
    inner: S,
    single: String,
    separator: String,
    split: Split,
    max_stored_key: Option<usize>,
    info: StoreInfo,
}

impl<S: KeyValue> SingleCollection<S> {
    /// Wraps `inner`, storing everything in its collection `single_collection`.
    pub fn new(inner: S, single_collection: impl Into<String>) -> Self {
        SingleCollection::from_layer(inner, SingleCollectionLayer::new(single_collection))
    }

    /// Wraps `inner` with a full configuration.
    pub fn from_layer(inner: S, config: SingleCollectionLayer) -> Self {
        let inner_caps = *inner.info().capabilities();
        let mut info = inner
            .info()
            .clone()
            .with_default_collection(config.default_collection);
        let sep_len = config.separator.chars().count();
        let bound = match (
            inner_caps.max_entries_per_collection,
            inner_caps.max_entries,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let caps = info.capabilities_mut();
        // Collection names become part of the key: the inner key limit is the only limit, and
        // a name must leave room for the separator and a one-character key.
        caps.max_collection_length = inner_caps
            .max_key_length
            .map(|m| m.saturating_sub(sep_len + 1));
        caps.restricted_collection_names = false;
        caps.max_entries_per_collection = bound;
        caps.max_entries = bound;
        caps.enumerate_keys = inner_caps.enumerate_keys;
        caps.enumerate_collections = inner_caps.enumerate_keys;
        caps.destroy = inner_caps.destroy_collection;
        caps.destroy_collection = inner_caps.enumerate_keys;
        SingleCollection {
            inner,
            single: config.single_collection,
            separator: config.separator,
            split: config.split,
            max_stored_key: inner_caps.max_key_length,
            info,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The inner store's collection everything is stored in.
    pub fn single_collection(&self) -> &str {
        &self.single
    }

    /// The key `key` of `collection` is stored under: `{collection}{separator}{key}`.
    pub fn stored_key(&self, collection: &str, key: &str) -> String {
        let mut out = String::with_capacity(collection.len() + self.separator.len() + key.len());
        out.push_str(collection);
        out.push_str(&self.separator);
        out.push_str(key);
        out
    }

    fn checked_key(&self, collection: &str, key: &str) -> Result<String> {
        let stored = self.stored_key(collection, key);
        if let Some(max) = self.max_stored_key {
            let len = stored.chars().count();
            if len > max {
                return Err(Error::new(
                    ErrorKind::InvalidKey,
                    format!(
                        "collection and key make a {len}-character key; {} accepts at most {max}",
                        self.info.name()
                    ),
                )
                .with_key(key));
            }
        }
        Ok(stored)
    }

    fn checked_keys(&self, collection: &str, keys: &[&str]) -> Result<Vec<String>> {
        keys.iter()
            .map(|k| self.checked_key(collection, k))
            .collect()
    }

    fn collection_prefix(&self, collection: &str) -> String {
        format!("{collection}{}", self.separator)
    }

    /// The collection and key a stored key belongs to, for enumeration; `None` for keys not
    /// written through this wrapper.
    fn split_stored<'k>(&self, stored: &'k str) -> Option<(&'k str, &'k str)> {
        let sep = self.separator.as_str();
        let (collection, key) = match self.split {
            Split::First => stored.split_once(sep)?,
            Split::Last => stored.rsplit_once(sep)?,
        };
        (!key.is_empty()).then_some((collection, key))
    }
}

impl<S: KeyValue> KeyValue for SingleCollection<S> {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let stored = self.checked_key(collection, key)?;
        self.inner.get_entry(&self.single, &stored).await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let stored = self.checked_key(collection, key)?;
        self.inner.put_entry(&self.single, &stored, entry).await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let stored = self.checked_key(collection, key)?;
        self.inner.delete_entry(&self.single, &stored).await
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let stored = self.checked_keys(collection, keys)?;
        let refs: Vec<&str> = stored.iter().map(String::as_str).collect();
        self.inner.get_entries(&self.single, &refs).await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let stored = self.checked_keys(collection, keys)?;
        let refs: Vec<&str> = stored.iter().map(String::as_str).collect();
        self.inner.put_entries(&self.single, &refs, entries).await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let stored = self.checked_keys(collection, keys)?;
        let refs: Vec<&str> = stored.iter().map(String::as_str).collect();
        self.inner.delete_entries(&self.single, &refs).await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        if !self.info.capabilities().enumerate_keys {
            return Err(Error::unsupported("keys", self.info.name()));
        }
        let prefix = self.collection_prefix(collection);
        match self.split {
            Split::First => {
                list_stripped(&prefix, limit, |l| self.inner.list_keys(&self.single, l)).await
            }
            // A remainder holding the separator belongs to a longer collection name.
            Split::Last => Ok(self
                .inner
                .list_keys(&self.single, None)
                .await?
                .iter()
                .filter_map(|k| self.split_stored(k))
                .filter(|(c, _)| *c == collection)
                .map(|(_, k)| k.to_string())
                .take(limit.unwrap_or(usize::MAX))
                .collect()),
        }
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        if !self.info.capabilities().enumerate_collections {
            return Err(Error::unsupported("collections", self.info.name()));
        }
        let keys = self.inner.list_keys(&self.single, None).await?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for key in &keys {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            let Some((collection, _)) = self.split_stored(key) else {
                continue;
            };
            if seen.insert(collection) {
                out.push(collection.to_string());
            }
        }
        Ok(out)
    }

    async fn destroy(&self) -> Result<bool> {
        if !self.info.capabilities().destroy {
            return Err(Error::unsupported("destroy", self.info.name()));
        }
        self.inner.destroy_collection(&self.single).await
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        if !self.info.capabilities().destroy_collection {
            return Err(Error::unsupported("destroy_collection", self.info.name()));
        }
        let prefix = self.collection_prefix(collection);
        let ours: Vec<String> = self
            .inner
            .list_keys(&self.single, None)
            .await?
            .into_iter()
            .filter(|k| match self.split {
                Split::First => k.starts_with(&prefix),
                Split::Last => self.split_stored(k).is_some_and(|(c, _)| c == collection),
            })
            .collect();
        if ours.is_empty() {
            return Ok(false);
        }
        let refs: Vec<&str> = ours.iter().map(String::as_str).collect();
        Ok(self.inner.delete_entries(&self.single, &refs).await? > 0)
    }

    async fn cull(&self) -> Result<()> {
        self.inner.cull().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

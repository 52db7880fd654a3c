//! Prefixes every key ([`PrefixKeys`]) or every collection name ([`PrefixCollections`]), so
//! several applications or tenants can share one store without seeing each other's data:
//! py-key-value's `PrefixKeysWrapper` and `PrefixCollectionsWrapper`.
//!
//! The stored names are py-key-value's, byte for byte: key `k` under prefix `p` is stored as
//! `p__k`, collection `c` as `p__c` (py's `DEFAULT_PREFIX_SEPARATOR`, `"__"`), so a Python
//! service wrapping the same backend with the same prefix reads and writes the same entries.
//!
//! How they differ from py-key-value's wrappers:
//! - Enumeration works: `keys()` ([`PrefixKeys`]) and `collections()` ([`PrefixCollections`])
//!   return the names without the prefix, and hide the names that do not carry it.
//! - `destroy()` removes only what carries the prefix, never the rest of the shared store:
//!   [`PrefixCollections`] destroys each of its collections (when the inner store can list and
//!   destroy collections), [`PrefixKeys`] deletes its keys collection by collection (when the
//!   inner store can list them); `destroy_collection()` likewise. Where the inner store cannot,
//!   these are [`Unsupported`](key_value_core::ErrorKind::Unsupported).
//! - The inner store's key / collection length limits are reduced by the prefix, so a name too
//!   long once prefixed is an `InvalidKey` / `InvalidCollection` error before anything is sent.
//! - The separator can be changed ([`PrefixKeysLayer::separator`]); py's is fixed.
//! - [`PrefixKeys`] lists the inner store's collections unchanged (py has no enumeration), so a
//!   collection holding only other prefixes' keys is listed too.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::LayerExt;
//! use key_value_wrappers::prefix::{PrefixCollectionsLayer, PrefixKeysLayer};
//! use std::sync::Arc;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let shared = Arc::new(MemoryStore::new());
//! let app = shared.clone().layer(PrefixCollectionsLayer::new("app")).layer(PrefixKeysLayer::new("v1"));
//! app.put("user:1", object!({"name": "Alice"})).collection("users").await?;
//! // The physical names, as py-key-value writes them:
//! assert!(shared.get("v1__user:1").collection("app__users").await?.is_some());
//! // Enumeration shows the names the application uses:
//! assert_eq!(app.keys().collection("users").await?, vec!["user:1".to_string()]);
//! assert_eq!(app.collections().await?, vec!["users".to_string()]);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::future::Future;

use key_value_core::entry::ManagedEntry;
use key_value_core::{DEFAULT_COLLECTION, Error, KeyValue, Result, StoreInfo};

use crate::Layer;

/// The separator between prefix and name: py-key-value's `DEFAULT_PREFIX_SEPARATOR`.
pub const DEFAULT_SEPARATOR: &str = "__";

/// Lists names through `fetch` (the inner store's listing, given a limit), keeps those that
/// start with `prefix`, strips it, and returns at most `limit` of them.
///
/// The inner limit cannot simply be passed on: the inner store may return names without the
/// prefix and so too few of ours. When the limited listing is full and some of it was foreign,
/// everything is listed again without a limit.
pub(crate) async fn list_stripped<F, Fut>(
    prefix: &str,
    limit: Option<usize>,
    fetch: F,
) -> Result<Vec<String>>
where
    F: Fn(Option<usize>) -> Fut,
    Fut: Future<Output = Result<Vec<String>>>,
{
    let strip = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter_map(|n| n.strip_prefix(prefix).map(str::to_owned))
            .filter(|n| !n.is_empty())
            .collect()
    };
    let first = fetch(limit).await?;
    let Some(limit) = limit else {
        return Ok(strip(first));
    };
    let fetched = first.len();
    let mut names = strip(first);
    if fetched < limit || names.len() == fetched {
        names.truncate(limit);
        return Ok(names);
    }
    let mut names = strip(fetch(None).await?);
    names.truncate(limit);
    Ok(names)
}

fn reduce(limit: Option<usize>, by: usize) -> Option<usize> {
    limit.map(|m| m.saturating_sub(by))
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// The configuration of [`PrefixKeys`]: the prefix and separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixKeysLayer {
    prefix: String,
    separator: String,
}

impl PrefixKeysLayer {
    /// Stores key `k` as `{prefix}__{k}`.
    pub fn new(prefix: impl Into<String>) -> Self {
        PrefixKeysLayer {
            prefix: prefix.into(),
            separator: DEFAULT_SEPARATOR.to_string(),
        }
    }

    /// Uses `separator` instead of `"__"` (py-key-value cannot read the result then).
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = separator.into();
        self
    }
}

impl<S: KeyValue> Layer<S> for PrefixKeysLayer {
    type Store = PrefixKeys<S>;

    fn layer(self, inner: S) -> PrefixKeys<S> {
        PrefixKeys::from_layer(inner, self)
    }
}

/// A store whose keys carry a prefix in the inner store. See the [module docs](self).
#[derive(Debug)]
pub struct PrefixKeys<S> {
    inner: S,
    /// `{prefix}{separator}`: what every stored key starts with.
    full_prefix: String,
    info: StoreInfo,
}

impl<S: KeyValue> PrefixKeys<S> {
    /// Wraps `inner`, storing key `k` as `{prefix}__{k}`.
    pub fn new(inner: S, prefix: impl Into<String>) -> Self {
        PrefixKeys::from_layer(inner, PrefixKeysLayer::new(prefix))
    }

    /// Wraps `inner` with a full configuration.
    pub fn from_layer(inner: S, config: PrefixKeysLayer) -> Self {
        let full_prefix = format!("{}{}", config.prefix, config.separator);
        let mut info = inner.info().clone();
        let inner_caps = *inner.info().capabilities();
        let caps = info.capabilities_mut();
        caps.max_key_length = reduce(inner_caps.max_key_length, full_prefix.chars().count());
        // Removing only our keys needs listing them.
        caps.destroy_collection = inner_caps.enumerate_keys;
        caps.destroy = inner_caps.enumerate_keys && inner_caps.enumerate_collections;
        PrefixKeys {
            inner,
            full_prefix,
            info,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The key `key` is stored under.
    pub fn stored_key(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.full_prefix.len() + key.len());
        out.push_str(&self.full_prefix);
        out.push_str(key);
        out
    }

    fn stored_keys(&self, keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| self.stored_key(k)).collect()
    }

    /// Deletes every key of ours in `collection`, in one batch; whether there was any.
    async fn clear(&self, collection: &str) -> Result<bool> {
        let ours: Vec<String> = self
            .inner
            .list_keys(collection, None)
            .await?
            .into_iter()
            .filter(|k| k.starts_with(&self.full_prefix))
            .collect();
        if ours.is_empty() {
            return Ok(false);
        }
        let refs: Vec<&str> = ours.iter().map(String::as_str).collect();
        Ok(self.inner.delete_entries(collection, &refs).await? > 0)
    }
}

impl<S: KeyValue> KeyValue for PrefixKeys<S> {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.inner
            .get_entry(collection, &self.stored_key(key))
            .await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.inner
            .put_entry(collection, &self.stored_key(key), entry)
            .await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.inner
            .delete_entry(collection, &self.stored_key(key))
            .await
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let stored = self.stored_keys(keys);
        let refs: Vec<&str> = stored.iter().map(String::as_str).collect();
        self.inner.get_entries(collection, &refs).await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let stored = self.stored_keys(keys);
        let refs: Vec<&str> = stored.iter().map(String::as_str).collect();
        self.inner.put_entries(collection, &refs, entries).await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let stored = self.stored_keys(keys);
        let refs: Vec<&str> = stored.iter().map(String::as_str).collect();
        self.inner.delete_entries(collection, &refs).await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        list_stripped(&self.full_prefix, limit, |l| {
            self.inner.list_keys(collection, l)
        })
        .await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_collections(limit).await
    }

    async fn destroy(&self) -> Result<bool> {
        if !self.info.capabilities().destroy {
            return Err(Error::unsupported("destroy", self.info.name()));
        }
        let mut any = false;
        for collection in self.inner.list_collections(None).await? {
            any |= self.clear(&collection).await?;
        }
        Ok(any)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        if !self.info.capabilities().destroy_collection {
            return Err(Error::unsupported("destroy_collection", self.info.name()));
        }
        self.clear(collection).await
    }

    async fn cull(&self) -> Result<()> {
        self.inner.cull().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

// ---------------------------------------------------------------------------------------------
// Collections
// ---------------------------------------------------------------------------------------------

/// The configuration of [`PrefixCollections`]: the prefix, separator and default collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixCollectionsLayer {
    prefix: String,
    separator: String,
    default_collection: String,
}

impl PrefixCollectionsLayer {
    /// Stores collection `c` as `{prefix}__{c}`.
    pub fn new(prefix: impl Into<String>) -> Self {
        PrefixCollectionsLayer {
            prefix: prefix.into(),
            separator: DEFAULT_SEPARATOR.to_string(),
            default_collection: DEFAULT_COLLECTION.to_string(),
        }
    }

    /// Uses `separator` instead of `"__"` (py-key-value cannot read the result then).
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = separator.into();
        self
    }

    /// The collection calls without one use, before prefixing: `"default_collection"` unless
    /// set, as py's `default_collection` argument (whatever the inner store's default is). An
    /// empty name keeps the default.
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        let collection = collection.into();
        if !collection.is_empty() {
            self.default_collection = collection;
        }
        self
    }
}

impl<S: KeyValue> Layer<S> for PrefixCollectionsLayer {
    type Store = PrefixCollections<S>;

    fn layer(self, inner: S) -> PrefixCollections<S> {
        PrefixCollections::from_layer(inner, self)
    }
}

/// A store whose collection names carry a prefix in the inner store. See the
/// [module docs](self).
#[derive(Debug)]
pub struct PrefixCollections<S> {
    inner: S,
    full_prefix: String,
    info: StoreInfo,
}

impl<S: KeyValue> PrefixCollections<S> {
    /// Wraps `inner`, storing collection `c` as `{prefix}__{c}`.
    pub fn new(inner: S, prefix: impl Into<String>) -> Self {
        PrefixCollections::from_layer(inner, PrefixCollectionsLayer::new(prefix))
    }

    /// Wraps `inner` with a full configuration.
    pub fn from_layer(inner: S, config: PrefixCollectionsLayer) -> Self {
        let full_prefix = format!("{}{}", config.prefix, config.separator);
        let mut info = inner
            .info()
            .clone()
            .with_default_collection(config.default_collection);
        let inner_caps = *inner.info().capabilities();
        let caps = info.capabilities_mut();
        caps.max_collection_length = reduce(
            inner_caps.max_collection_length,
            full_prefix.chars().count(),
        );
        // Removing only our collections needs listing them.
        caps.destroy = inner_caps.enumerate_collections && inner_caps.destroy_collection;
        PrefixCollections {
            inner,
            full_prefix,
            info,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The collection name `collection` is stored under.
    pub fn stored_collection(&self, collection: &str) -> String {
        let mut out = String::with_capacity(self.full_prefix.len() + collection.len());
        out.push_str(&self.full_prefix);
        out.push_str(collection);
        out
    }
}

impl<S: KeyValue> KeyValue for PrefixCollections<S> {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.inner
            .get_entry(&self.stored_collection(collection), key)
            .await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.inner
            .put_entry(&self.stored_collection(collection), key, entry)
            .await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.inner
            .delete_entry(&self.stored_collection(collection), key)
            .await
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.inner
            .get_entries(&self.stored_collection(collection), keys)
            .await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.inner
            .put_entries(&self.stored_collection(collection), keys, entries)
            .await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.inner
            .delete_entries(&self.stored_collection(collection), keys)
            .await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner
            .list_keys(&self.stored_collection(collection), limit)
            .await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        list_stripped(&self.full_prefix, limit, |l| self.inner.list_collections(l)).await
    }

    async fn destroy(&self) -> Result<bool> {
        if !self.info.capabilities().destroy {
            return Err(Error::unsupported("destroy", self.info.name()));
        }
        let mut any = false;
        for collection in self.inner.list_collections(None).await? {
            if collection.starts_with(&self.full_prefix) {
                any |= self.inner.destroy_collection(&collection).await?;
            }
        }
        Ok(any)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.inner
            .destroy_collection(&self.stored_collection(collection))
            .await
    }

    async fn cull(&self) -> Result<()> {
        self.inner.cull().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

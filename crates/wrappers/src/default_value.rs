//! Answers reads of missing keys with a configured default value: py-key-value's
//! `DefaultValueWrapper` (`dict.get(key, default)` for a store).
//!
//! `get`/`get_many` return the default (a fresh copy each time) where the store has nothing
//! (or only an expired entry); `ttl`/`ttl_many` return it with the configured
//! [TTL](DefaultValueLayer::with_ttl) (`None` unless set), as py-key-value does. The default is
//! never written to the store: writes, deletes and enumeration pass through, so `delete` of a
//! missing key still returns `false` and `keys()` does not list defaulted keys.
//!
//! How it differs from py-key-value's wrapper:
//! - The default can be limited to some collections
//!   ([`only_collections`](DefaultValueLayer::only_collections)); py applies it everywhere,
//!   which is still the default here.
//! - A defaulted entry's TTL counts from the read, measured with the store's clock.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, default_value::DefaultValueLayer};
//! use std::time::Duration;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new().layer(
//!     DefaultValueLayer::new(object!({"theme": "light"})).with_ttl(Duration::from_secs(60))?,
//! );
//! assert_eq!(store.get("settings:42").await?, Some(object!({"theme": "light"})));
//! store.put("settings:42", object!({"theme": "dark"})).await?;
//! assert_eq!(store.get("settings:42").await?, Some(object!({"theme": "dark"})));
//! let (value, ttl) = store.ttl("settings:7").await?.expect("the default");
//! assert_eq!(value, object!({"theme": "light"}));
//! assert_eq!(ttl.map(|t| t.as_secs_f64().round()), Some(60.0));
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::collections::HashSet;
use std::time::Duration;

use key_value_core::entry::{ManagedEntry, Object};
use key_value_core::{Error, ErrorKind, KeyValue, Result, StoreInfo};

use crate::Layer;

/// The configuration of [`DefaultValue`]: the default, its reported TTL and where it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultValueLayer {
    value: Object,
    ttl: Option<Duration>,
    collections: Option<HashSet<String>>,
}

impl DefaultValueLayer {
    /// Reads of missing keys return `value`, without a TTL.
    pub fn new(value: Object) -> Self {
        DefaultValueLayer {
            value,
            ttl: None,
            collections: None,
        }
    }

    /// Reports `ttl` as the remaining TTL of the default (py's `default_ttl`). Zero is an
    /// [`ErrorKind::Config`] error: the default would be expired as soon as read.
    pub fn with_ttl(mut self, ttl: Duration) -> Result<Self> {
        if ttl.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "the TTL reported for the default value must be positive",
            ));
        }
        self.ttl = Some(ttl);
        Ok(self)
    }

    /// Applies the default only to these collections; elsewhere misses stay misses.
    pub fn only_collections<I, C>(mut self, collections: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        self.collections = Some(collections.into_iter().map(Into::into).collect());
        self
    }
}

impl<S: KeyValue> Layer<S> for DefaultValueLayer {
    type Store = DefaultValue<S>;

    fn layer(self, inner: S) -> DefaultValue<S> {
        DefaultValue::from_layer(inner, self)
    }
}

/// A store that answers misses with a default value. See the [module docs](self).
#[derive(Debug)]
pub struct DefaultValue<S> {
    inner: S,
    config: DefaultValueLayer,
}

impl<S: KeyValue> DefaultValue<S> {
    /// Wraps `inner`; reads of missing keys return `value`, without a TTL.
    pub fn new(inner: S, value: Object) -> Self {
        DefaultValue::from_layer(inner, DefaultValueLayer::new(value))
    }

    /// Wraps `inner` with a full configuration.
    pub fn from_layer(inner: S, config: DefaultValueLayer) -> Self {
        DefaultValue { inner, config }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The default value.
    pub fn default_value(&self) -> &Object {
        &self.config.value
    }

    fn applies_to(&self, collection: &str) -> bool {
        self.config
            .collections
            .as_ref()
            .is_none_or(|set| set.contains(collection))
    }

    /// `entry` if it is live, else the default.
    fn or_default(&self, entry: Option<ManagedEntry>) -> ManagedEntry {
        let now = self.inner.info().clock().now();
        match entry {
            Some(e) if !e.is_expired_at(now) => e,
            _ => ManagedEntry::new(
                self.config.value.clone(),
                None,
                self.config.ttl.map(|t| now.saturating_add(t)),
            ),
        }
    }
}

impl<S: KeyValue> KeyValue for DefaultValue<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let entry = self.inner.get_entry(collection, key).await?;
        if self.applies_to(collection) {
            Ok(Some(self.or_default(entry)))
        } else {
            Ok(entry)
        }
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.inner.put_entry(collection, key, entry).await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.inner.delete_entry(collection, key).await
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let entries = self.inner.get_entries(collection, keys).await?;
        if self.applies_to(collection) {
            Ok(entries
                .into_iter()
                .map(|e| Some(self.or_default(e)))
                .collect())
        } else {
            Ok(entries)
        }
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.inner.put_entries(collection, keys, entries).await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.inner.delete_entries(collection, keys).await
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

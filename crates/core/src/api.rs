//! The calls users make: [`KeyValueExt`], implemented for every [`KeyValue`].
//!
//! Each call is a small builder that you `.await`; optional arguments are methods, as
//! py-key-value's keyword arguments are:
//!
//! | py-key-value | key-value |
//! |---|---|
//! | `await store.get("k")` | `store.get("k").await?` |
//! | `await store.get("k", collection="users")` | `store.get("k").collection("users").await?` |
//! | `await store.put("k", {...}, collection="users", ttl=60)` | `store.put("k", object!({...})).collection("users").ttl(60).await?` |
//! | `await store.ttl("k")` | `store.ttl("k").await?` → `Option<(Object, Option<Duration>)>` |
//! | `await store.delete("k")` | `store.delete("k").await?` → `bool` |
//! | `await store.get_many(["a", "b"])` | `store.get_many(&["a", "b"]).await?` |
//! | `await store.put_many(keys, values, ttl=5)` | `store.put_many(&keys, values).ttl(5).await?` |
//! | `await store.delete_many(keys)` | `store.delete_many(&keys).await?` → `usize` |
//! | `await store.keys("users", limit=10)` | `store.keys().collection("users").limit(10).await?` |
//! | `await store.collections()` | `store.collections().await?` |
//!
//! Every call checks its arguments (non-empty keys within the store's declared length limits,
//! positive finite TTLs, as many values as keys), falls back to the store's default
//! collection, stamps `created_at`/`expires_at` from the store's clock, and treats expired
//! entries as missing on every read, whatever the backend does natively.
//!
//! Awaiting a builder boxes its future once; code that must avoid even that allocation calls
//! the [`KeyValue`] methods directly.
//!
//! ```
//! use key_value_core::prelude::*;
//! # use key_value_core::entry::ManagedEntry;
//! # struct Nothing(StoreInfo);
//! # impl KeyValue for Nothing {
//! #     fn info(&self) -> &StoreInfo { &self.0 }
//! #     async fn get_entry(&self, _: &str, _: &str) -> Result<Option<ManagedEntry>> { Ok(None) }
//! #     async fn put_entry(&self, _: &str, _: &str, _: ManagedEntry) -> Result<()> { Ok(()) }
//! #     async fn delete_entry(&self, _: &str, _: &str) -> Result<bool> { Ok(false) }
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! # let store = Nothing(StoreInfo::new("Nothing", Stability::NotApplicable));
//! let err = store.put("k", object!({"a": 1})).ttl(-1).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidTtl);
//! let err = store.put_many(&["a", "b"], vec![object!({})]).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidArgument);
//! let err = store.get("").await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidKey);
//! # });
//! ```

use std::future::IntoFuture;
use std::time::Duration;

use serde_json::Value;

use crate::capability::StoreInfo;
use crate::entry::{ManagedEntry, Object};
use crate::error::{Error, ErrorKind, Result};
use crate::store::{BoxFuture, KeyValue};
use crate::ttl::Ttl;

/// A value that can be stored: a JSON object.
///
/// Implemented for [`Object`] (a `serde_json::Map`) and for [`serde_json::Value`], which must
/// hold an object (anything else is an [`ErrorKind::Serialization`] error when the call runs).
pub trait IntoObject {
    /// The object, or why this is not one.
    fn into_object(self) -> Result<Object>;
}

impl IntoObject for Object {
    fn into_object(self) -> Result<Object> {
        Ok(self)
    }
}

impl IntoObject for &Object {
    fn into_object(self) -> Result<Object> {
        Ok(self.clone())
    }
}

impl IntoObject for Value {
    fn into_object(self) -> Result<Object> {
        match self {
            Value::Object(m) => Ok(m),
            other => Err(Error::new(
                ErrorKind::Serialization,
                format!(
                    "a stored value must be a JSON object, not {}",
                    match other {
                        Value::Null => "null",
                        Value::Bool(_) => "a boolean",
                        Value::Number(_) => "a number",
                        Value::String(_) => "a string",
                        Value::Array(_) => "an array",
                        Value::Object(_) => "an object",
                    }
                ),
            )),
        }
    }
}

/// A value with its remaining TTL, as `ttl()` returns it: `None` for the TTL means "never
/// expires".
pub type ValueWithTtl = (Object, Option<Duration>);

/// Checks a key against the store's rules: non-empty and within `max_key_length`.
pub fn check_key(info: &StoreInfo, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::new(ErrorKind::InvalidKey, "a key must not be empty"));
    }
    if let Some(max) = info.capabilities().max_key_length {
        let len = key.chars().count();
        if len > max {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "the key is {len} characters long; {} accepts at most {max}",
                    info.name()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a (resolved) collection name against `max_collection_length`.
pub fn check_collection(info: &StoreInfo, collection: &str) -> Result<()> {
    if let Some(max) = info.capabilities().max_collection_length {
        let len = collection.chars().count();
        if len > max {
            return Err(Error::new(
                ErrorKind::InvalidCollection,
                format!(
                    "the collection name is {len} characters long; {} accepts at most {max}",
                    info.name()
                ),
            ));
        }
    }
    Ok(())
}

fn live(entry: Option<ManagedEntry>, info: &StoreInfo) -> Option<ManagedEntry> {
    entry.filter(|e| !e.is_expired_at(info.clock().now()))
}

fn with_ttl(entry: Option<ManagedEntry>, info: &StoreInfo) -> Option<ValueWithTtl> {
    let now = info.clock().now();
    entry.filter(|e| !e.is_expired_at(now)).map(|e| {
        let remaining = e.remaining_at(now);
        (e.value, remaining)
    })
}

fn check_keys<'k, K: AsRef<str>>(info: &StoreInfo, keys: &'k [K]) -> Result<Vec<&'k str>> {
    keys.iter()
        .map(|k| {
            let k = k.as_ref();
            check_key(info, k).map_err(|e| e.with_key(k))?;
            Ok(k)
        })
        .collect()
}

/// Sets the builder's collection; shared by every builder.
macro_rules! collection_setter {
    () => {
        /// The collection to use instead of the store's default.
        pub fn collection(mut self, collection: &'a str) -> Self {
            self.collection = Some(collection);
            self
        }
    };
}

/// Sets the builder's TTL; shared by the write builders.
macro_rules! ttl_setter {
    () => {
        /// How long the entry lives: seconds (`60`, `1.5`) or a [`Duration`]. Must be positive
        /// and finite. Without it the entry never expires.
        pub fn ttl(mut self, ttl: impl Into<Ttl>) -> Self {
            self.ttl = Some(ttl.into());
            self
        }

        /// Like [`ttl`](Self::ttl), but takes an optional TTL, as py-key-value's `ttl=None`.
        pub fn ttl_opt(mut self, ttl: Option<impl Into<Ttl>>) -> Self {
            self.ttl = ttl.map(Into::into);
            self
        }
    };
}

/// `store.get(key)`: the value, or `None` if missing or expired.
#[must_use = "a builder does nothing until awaited"]
pub struct Get<'a, S: ?Sized> {
    store: &'a S,
    key: &'a str,
    collection: Option<&'a str>,
}

impl<'a, S: KeyValue + ?Sized> Get<'a, S> {
    collection_setter!();
}

impl<'a, S: KeyValue + ?Sized> IntoFuture for Get<'a, S> {
    type Output = Result<Option<Object>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                check_key(info, self.key)?;
                check_collection(info, collection)?;
                let entry = self.store.get_entry(collection, self.key).await?;
                Ok(live(entry, info).map(|e| e.value))
            };
            run.await
                .map_err(|e: Error| e.in_context("get", collection, Some(self.key)))
        })
    }
}

/// `store.ttl(key)`: the value and its remaining TTL, or `None` if missing or expired.
#[must_use = "a builder does nothing until awaited"]
pub struct GetWithTtl<'a, S: ?Sized> {
    store: &'a S,
    key: &'a str,
    collection: Option<&'a str>,
}

impl<'a, S: KeyValue + ?Sized> GetWithTtl<'a, S> {
    collection_setter!();
}

impl<'a, S: KeyValue + ?Sized> IntoFuture for GetWithTtl<'a, S> {
    type Output = Result<Option<ValueWithTtl>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                check_key(info, self.key)?;
                check_collection(info, collection)?;
                let entry = self.store.get_entry(collection, self.key).await?;
                Ok(with_ttl(entry, info))
            };
            run.await
                .map_err(|e: Error| e.in_context("ttl", collection, Some(self.key)))
        })
    }
}

/// `store.put(key, value)`: writes the value, replacing any previous one and its TTL.
#[must_use = "a builder does nothing until awaited"]
pub struct Put<'a, S: ?Sized> {
    store: &'a S,
    key: &'a str,
    value: Result<Object>,
    collection: Option<&'a str>,
    ttl: Option<Ttl>,
}

impl<'a, S: KeyValue + ?Sized> Put<'a, S> {
    collection_setter!();
    ttl_setter!();
}

impl<'a, S: KeyValue + ?Sized> IntoFuture for Put<'a, S> {
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                check_key(info, self.key)?;
                check_collection(info, collection)?;
                let ttl = self.ttl.map(Ttl::validate).transpose()?;
                let entry = ManagedEntry::created_at(self.value?, info.clock().now(), ttl);
                self.store.put_entry(collection, self.key, entry).await
            };
            run.await
                .map_err(|e: Error| e.in_context("put", collection, Some(self.key)))
        })
    }
}

/// `store.delete(key)`: whether an entry was deleted.
#[must_use = "a builder does nothing until awaited"]
pub struct Delete<'a, S: ?Sized> {
    store: &'a S,
    key: &'a str,
    collection: Option<&'a str>,
}

impl<'a, S: KeyValue + ?Sized> Delete<'a, S> {
    collection_setter!();
}

impl<'a, S: KeyValue + ?Sized> IntoFuture for Delete<'a, S> {
    type Output = Result<bool>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                check_key(info, self.key)?;
                check_collection(info, collection)?;
                self.store.delete_entry(collection, self.key).await
            };
            run.await
                .map_err(|e: Error| e.in_context("delete", collection, Some(self.key)))
        })
    }
}

/// `store.get_many(keys)`: one result per key, in order; `None` for missing or expired.
#[must_use = "a builder does nothing until awaited"]
pub struct GetMany<'a, S: ?Sized, K> {
    store: &'a S,
    keys: &'a [K],
    collection: Option<&'a str>,
}

impl<'a, S: KeyValue + ?Sized, K> GetMany<'a, S, K> {
    collection_setter!();
}

impl<'a, S: KeyValue + ?Sized, K: AsRef<str> + Sync> IntoFuture for GetMany<'a, S, K> {
    type Output = Result<Vec<Option<Object>>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                check_collection(info, collection)?;
                let keys = check_keys(info, self.keys)?;
                let entries = self.store.get_entries(collection, &keys).await?;
                Ok(entries
                    .into_iter()
                    .map(|e| live(e, info).map(|e| e.value))
                    .collect())
            };
            run.await
                .map_err(|e: Error| e.in_context("get_many", collection, None))
        })
    }
}

/// `store.ttl_many(keys)`: one `(value, remaining TTL)` per key, in order.
#[must_use = "a builder does nothing until awaited"]
pub struct TtlMany<'a, S: ?Sized, K> {
    store: &'a S,
    keys: &'a [K],
    collection: Option<&'a str>,
}

impl<'a, S: KeyValue + ?Sized, K> TtlMany<'a, S, K> {
    collection_setter!();
}

impl<'a, S: KeyValue + ?Sized, K: AsRef<str> + Sync> IntoFuture for TtlMany<'a, S, K> {
    type Output = Result<Vec<Option<ValueWithTtl>>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                check_collection(info, collection)?;
                let keys = check_keys(info, self.keys)?;
                let entries = self.store.get_entries(collection, &keys).await?;
                Ok(entries.into_iter().map(|e| with_ttl(e, info)).collect())
            };
            run.await
                .map_err(|e: Error| e.in_context("ttl_many", collection, None))
        })
    }
}

/// `store.put_many(keys, values)`: writes every pair with one TTL for the batch.
#[must_use = "a builder does nothing until awaited"]
pub struct PutMany<'a, S: ?Sized, K> {
    store: &'a S,
    keys: &'a [K],
    values: Vec<Object>,
    collection: Option<&'a str>,
    ttl: Option<Ttl>,
}

impl<'a, S: KeyValue + ?Sized, K> PutMany<'a, S, K> {
    collection_setter!();
    ttl_setter!();
}

impl<'a, S: KeyValue + ?Sized, K: AsRef<str> + Sync> IntoFuture for PutMany<'a, S, K> {
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                crate::entry::check_batch_len(self.keys.len(), self.values.len())?;
                check_collection(info, collection)?;
                let keys = check_keys(info, self.keys)?;
                let ttl = self.ttl.map(Ttl::validate).transpose()?;
                // One timestamp for the whole batch, as py-key-value does.
                let now = info.clock().now();
                let entries = self
                    .values
                    .into_iter()
                    .map(|v| ManagedEntry::created_at(v, now, ttl))
                    .collect();
                self.store.put_entries(collection, &keys, entries).await
            };
            run.await
                .map_err(|e: Error| e.in_context("put_many", collection, None))
        })
    }
}

/// `store.delete_many(keys)`: how many entries were deleted.
#[must_use = "a builder does nothing until awaited"]
pub struct DeleteMany<'a, S: ?Sized, K> {
    store: &'a S,
    keys: &'a [K],
    collection: Option<&'a str>,
}

impl<'a, S: KeyValue + ?Sized, K> DeleteMany<'a, S, K> {
    collection_setter!();
}

impl<'a, S: KeyValue + ?Sized, K: AsRef<str> + Sync> IntoFuture for DeleteMany<'a, S, K> {
    type Output = Result<usize>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                check_collection(info, collection)?;
                let keys = check_keys(info, self.keys)?;
                self.store.delete_entries(collection, &keys).await
            };
            run.await
                .map_err(|e: Error| e.in_context("delete_many", collection, None))
        })
    }
}

/// `store.keys()`: the keys of a collection, where the store can enumerate them.
#[must_use = "a builder does nothing until awaited"]
pub struct Keys<'a, S: ?Sized> {
    store: &'a S,
    collection: Option<&'a str>,
    limit: Option<usize>,
}

impl<'a, S: KeyValue + ?Sized> Keys<'a, S> {
    collection_setter!();

    /// Returns at most `limit` keys.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

impl<'a, S: KeyValue + ?Sized> IntoFuture for Keys<'a, S> {
    type Output = Result<Vec<String>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let info = self.store.info();
            let collection = info.resolve_collection(self.collection);
            let run = async {
                check_collection(info, collection)?;
                self.store.list_keys(collection, self.limit).await
            };
            run.await
                .map_err(|e: Error| e.in_context("keys", collection, None))
        })
    }
}

/// `store.collections()`: the collection names, where the store can enumerate them.
#[must_use = "a builder does nothing until awaited"]
pub struct Collections<'a, S: ?Sized> {
    store: &'a S,
    limit: Option<usize>,
}

impl<'a, S: KeyValue + ?Sized> Collections<'a, S> {
    /// Returns at most `limit` names.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

impl<'a, S: KeyValue + ?Sized> IntoFuture for Collections<'a, S> {
    type Output = Result<Vec<String>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.store
                .list_collections(self.limit)
                .await
                .map_err(|e| e.or_operation("collections"))
        })
    }
}

/// py-key-value's calls on every [`KeyValue`]: `get`, `put`, `delete`, `ttl` and their
/// `_many` forms, plus `keys` and `collections`. See the [module docs](self).
pub trait KeyValueExt: KeyValue {
    /// Reads a value. See [`Get`].
    fn get<'a>(&'a self, key: &'a str) -> Get<'a, Self> {
        Get {
            store: self,
            key,
            collection: None,
        }
    }

    /// Reads a value with its remaining TTL. See [`GetWithTtl`].
    fn ttl<'a>(&'a self, key: &'a str) -> GetWithTtl<'a, Self> {
        GetWithTtl {
            store: self,
            key,
            collection: None,
        }
    }

    /// Writes a value. See [`Put`].
    fn put<'a>(&'a self, key: &'a str, value: impl IntoObject) -> Put<'a, Self> {
        Put {
            store: self,
            key,
            value: value.into_object(),
            collection: None,
            ttl: None,
        }
    }

    /// Deletes a value. See [`Delete`].
    fn delete<'a>(&'a self, key: &'a str) -> Delete<'a, Self> {
        Delete {
            store: self,
            key,
            collection: None,
        }
    }

    /// Reads many values. See [`GetMany`].
    fn get_many<'a, K: AsRef<str> + Sync>(&'a self, keys: &'a [K]) -> GetMany<'a, Self, K> {
        GetMany {
            store: self,
            keys,
            collection: None,
        }
    }

    /// Reads many values with their TTLs. See [`TtlMany`].
    fn ttl_many<'a, K: AsRef<str> + Sync>(&'a self, keys: &'a [K]) -> TtlMany<'a, Self, K> {
        TtlMany {
            store: self,
            keys,
            collection: None,
        }
    }

    /// Writes many values with one TTL. See [`PutMany`].
    fn put_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
        values: Vec<Object>,
    ) -> PutMany<'a, Self, K> {
        PutMany {
            store: self,
            keys,
            values,
            collection: None,
            ttl: None,
        }
    }

    /// Deletes many values. See [`DeleteMany`].
    fn delete_many<'a, K: AsRef<str> + Sync>(&'a self, keys: &'a [K]) -> DeleteMany<'a, Self, K> {
        DeleteMany {
            store: self,
            keys,
            collection: None,
        }
    }

    /// Lists keys. See [`Keys`].
    fn keys(&self) -> Keys<'_, Self> {
        Keys {
            store: self,
            collection: None,
            limit: None,
        }
    }

    /// Lists collections. See [`Collections`].
    fn collections(&self) -> Collections<'_, Self> {
        Collections {
            store: self,
            limit: None,
        }
    }
}

impl<S: KeyValue + ?Sized> KeyValueExt for S {}

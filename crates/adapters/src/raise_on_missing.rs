//! [`RaiseOnMissingAdapter<S>`](RaiseOnMissingAdapter): reads that fail with
//! [`ErrorKind::MissingKey`] instead of returning nothing, as py-key-value's
//! `RaiseOnMissingAdapter`.
//!
//! | py-key-value | key-value |
//! |---|---|
//! | `RaiseOnMissingAdapter(store)` | `RaiseOnMissingAdapter::new(store)` |
//! | `await a.get("k")` | `a.get("k").await?` → `Option<Object>` |
//! | `await a.get("k", raise_on_missing=True)` | `a.get("k").raise_on_missing(true).await?` → `Option<Object>`, never `None` |
//! | (typed overload `Literal[True]`) | `a.get("k").required().await?` → `Object` |
//! | `get_many`, `ttl`, `ttl_many` | the same: `.raise_on_missing(bool)` or `.required()` |
//! | `put`, `put_many`, `delete`, `delete_many` | forwarded unchanged |
//!
//! A missing (or expired) key is an [`ErrorKind::MissingKey`] error with the operation
//! (`get`, `get_many`, `ttl`, `ttl_many`), the collection (resolved: the store's default when
//! none is given, where py-key-value says `"default"`) and the key. For the `_many` calls the
//! error's [`key`](key_value_core::Error::key) is the first missing key, as in py-key-value,
//! and its message lists every missing key.
//!
//! ```
//! use key_value_adapters::RaiseOnMissingAdapter;
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let store = RaiseOnMissingAdapter::new(MemoryStore::new());
//! store.put("a", object!({"n": 1})).collection("c").await?;
//!
//! let a: Object = store.get("a").collection("c").required().await?;
//! assert_eq!(a, object!({"n": 1}));
//!
//! let err = store.get_many(&["a", "b", "z"]).collection("c").required().await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::MissingKey);
//! assert_eq!(err.operation(), Some("get_many"));
//! assert_eq!(err.collection(), Some("c"));
//! assert_eq!(err.key(), Some("b"));
//! assert!(err.to_string().contains("'b', 'z'"));
//! # Ok(())
//! # }
//! ```

use std::future::IntoFuture;
use std::time::Duration;

use key_value_core::api;
use key_value_core::{
    BoxFuture, Error, ErrorKind, IntoObject, KeyValue, KeyValueExt, Object, Result,
};

/// How many missing keys an error message lists before summarizing the rest.
const LISTED_KEYS: usize = 10;

/// A store whose reads can require the key to exist. See the [module docs](self).
///
/// ```
/// use key_value_adapters::RaiseOnMissingAdapter;
/// use key_value_core::prelude::*;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
/// // Without the switch, a missing key is None, as on the store itself.
/// assert_eq!(store.get("k").await?, None);
/// let err = store.get("k").raise_on_missing(true).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::MissingKey);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RaiseOnMissingAdapter<S> {
    store: S,
}

fn missing_one(operation: &'static str, collection: &str, key: &str) -> Error {
    Error::new(
        ErrorKind::MissingKey,
        "a key was requested that was required but not found in the store",
    )
    .with_operation(operation)
    .with_collection(collection)
    .with_key(key)
}

/// The error for a batch with missing keys, or `None` when every key was found.
fn missing_many<K: AsRef<str>>(
    operation: &'static str,
    collection: &str,
    keys: &[K],
    found: impl Iterator<Item = bool>,
) -> Option<Error> {
    let missing: Vec<&str> = keys
        .iter()
        .zip(found)
        .filter(|(_, found)| !found)
        .map(|(k, _)| k.as_ref())
        .collect();
    let first = *missing.first()?;
    let mut listed: Vec<String> = missing
        .iter()
        .take(LISTED_KEYS)
        .map(|k| format!("'{k}'"))
        .collect();
    if missing.len() > LISTED_KEYS {
        listed.push(format!("and {} more", missing.len() - LISTED_KEYS));
    }
    Some(
        Error::new(
            ErrorKind::MissingKey,
            format!(
                "{} of {} requested keys were required but not found in the store: {}",
                missing.len(),
                keys.len(),
                listed.join(", ")
            ),
        )
        .with_operation(operation)
        .with_collection(collection)
        .with_key(first),
    )
}

impl<S: KeyValue> RaiseOnMissingAdapter<S> {
    /// Wraps `store`.
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// ```
    pub fn new(store: S) -> Self {
        RaiseOnMissingAdapter { store }
    }

    /// The store underneath.
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// assert_eq!(store.inner().info().name(), "MemoryStore");
    /// ```
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// Gives the store back.
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// let store: MemoryStore = RaiseOnMissingAdapter::new(MemoryStore::new()).into_inner();
    /// ```
    pub fn into_inner(self) -> S {
        self.store
    }

    /// Reads a value. See [`Get`].
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// store.put("k", object!({"v": 1})).await?;
    /// assert_eq!(store.get("k").raise_on_missing(true).await?, Some(object!({"v": 1})));
    /// # Ok(())
    /// # }
    /// ```
    pub fn get<'a>(&'a self, key: &'a str) -> Get<'a, S> {
        Get {
            store: &self.store,
            key,
            collection: None,
            raise_on_missing: false,
        }
    }

    /// Reads many values. See [`GetMany`].
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// store.put("a", object!({"v": 1})).await?;
    /// assert_eq!(store.get_many(&["a", "b"]).await?, vec![Some(object!({"v": 1})), None]);
    /// let err = store.get_many(&["a", "b"]).raise_on_missing(true).await.unwrap_err();
    /// assert_eq!(err.key(), Some("b"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_many<'a, K: AsRef<str> + Sync>(&'a self, keys: &'a [K]) -> GetMany<'a, S, K> {
        GetMany {
            store: &self.store,
            keys,
            collection: None,
            raise_on_missing: false,
        }
    }

    /// Reads a value with its remaining TTL. See [`GetWithTtl`].
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// store.put("k", object!({"v": 1})).ttl(60).await?;
    /// let (value, ttl) = store.ttl("k").required().await?;
    /// assert_eq!(value, object!({"v": 1}));
    /// assert!(ttl.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl<'a>(&'a self, key: &'a str) -> GetWithTtl<'a, S> {
        GetWithTtl {
            store: &self.store,
            key,
            collection: None,
            raise_on_missing: false,
        }
    }

    /// Reads many values with their remaining TTLs. See [`TtlMany`].
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// store.put_many(&["a", "b"], vec![object!({"v": 1}), object!({"v": 2})]).await?;
    /// let all = store.ttl_many(&["a", "b"]).required().await?;
    /// assert_eq!(all, vec![(object!({"v": 1}), None), (object!({"v": 2}), None)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl_many<'a, K: AsRef<str> + Sync>(&'a self, keys: &'a [K]) -> TtlMany<'a, S, K> {
        TtlMany {
            store: &self.store,
            keys,
            collection: None,
            raise_on_missing: false,
        }
    }

    /// Writes a value: the store's own [`put`](KeyValueExt::put), unchanged.
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// store.put("k", object!({"v": 1})).collection("c").ttl(60).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn put<'a>(&'a self, key: &'a str, value: impl IntoObject) -> api::Put<'a, S> {
        self.store.put(key, value)
    }

    /// Writes many values: the store's own [`put_many`](KeyValueExt::put_many), unchanged.
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// store.put_many(&["a"], vec![object!({"v": 1})]).ttl(5).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn put_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
        values: Vec<Object>,
    ) -> api::PutMany<'a, S, K> {
        self.store.put_many(keys, values)
    }

    /// Deletes a value: the store's own [`delete`](KeyValueExt::delete), unchanged.
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// assert!(!store.delete("k").await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete<'a>(&'a self, key: &'a str) -> api::Delete<'a, S> {
        self.store.delete(key)
    }

    /// Deletes many values: the store's own [`delete_many`](KeyValueExt::delete_many),
    /// unchanged.
    ///
    /// ```
    /// use key_value_adapters::RaiseOnMissingAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    /// assert_eq!(store.delete_many(&["a", "b"]).await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
    ) -> api::DeleteMany<'a, S, K> {
        self.store.delete_many(keys)
    }
}

/// The setters every read builder shares.
macro_rules! read_setters {
    () => {
        /// The collection to use instead of the store's default.
        pub fn collection(mut self, collection: &'a str) -> Self {
            self.collection = Some(collection);
            self
        }

        /// Whether a missing key is an [`ErrorKind::MissingKey`] error (py:
        /// `raise_on_missing=`). Off by default. The result keeps its `Option`s; use
        /// [`required`](Self::required) to drop them.
        pub fn raise_on_missing(mut self, raise: bool) -> Self {
            self.raise_on_missing = raise;
            self
        }

        /// Raises on a missing key and returns the values without `Option`.
        pub fn required(self) -> Required<Self> {
            Required(self)
        }
    };
}

/// `adapter.get(key)`: the value; `None`, or with the switch on an error, when missing.
///
/// ```
/// use key_value_adapters::RaiseOnMissingAdapter;
/// use key_value_core::prelude::*;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
/// let err = store.get("k").collection("c").required().await.unwrap_err();
/// assert_eq!((err.operation(), err.collection(), err.key()), (Some("get"), Some("c"), Some("k")));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct Get<'a, S> {
    store: &'a S,
    key: &'a str,
    collection: Option<&'a str>,
    raise_on_missing: bool,
}

impl<'a, S: KeyValue> Get<'a, S> {
    read_setters!();

    async fn run(self) -> Result<Option<Object>> {
        let mut call = self.store.get(self.key);
        if let Some(c) = self.collection {
            call = call.collection(c);
        }
        let found = call.await?;
        if found.is_none() && self.raise_on_missing {
            return Err(missing_one("get", self.resolved(), self.key));
        }
        Ok(found)
    }

    fn resolved(&self) -> &'a str {
        self.store.info().resolve_collection(self.collection)
    }
}

impl<'a, S: KeyValue> IntoFuture for Get<'a, S> {
    type Output = Result<Option<Object>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// `adapter.get_many(keys)`: one result per key, in order; with the switch on, an error when
/// any key is missing.
///
/// ```
/// use key_value_adapters::RaiseOnMissingAdapter;
/// use key_value_core::prelude::*;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
/// store.put("a", object!({"v": 1})).collection("c").await?;
/// let all: Vec<Object> = store.get_many(&["a"]).collection("c").required().await?;
/// assert_eq!(all, vec![object!({"v": 1})]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct GetMany<'a, S, K> {
    store: &'a S,
    keys: &'a [K],
    collection: Option<&'a str>,
    raise_on_missing: bool,
}

impl<'a, S: KeyValue, K: AsRef<str> + Sync> GetMany<'a, S, K> {
    read_setters!();

    async fn run(self) -> Result<Vec<Option<Object>>> {
        let mut call = self.store.get_many(self.keys);
        if let Some(c) = self.collection {
            call = call.collection(c);
        }
        let found = call.await?;
        if self.raise_on_missing {
            let collection = self.store.info().resolve_collection(self.collection);
            if let Some(e) = missing_many(
                "get_many",
                collection,
                self.keys,
                found.iter().map(Option::is_some),
            ) {
                return Err(e);
            }
        }
        Ok(found)
    }
}

impl<'a, S: KeyValue, K: AsRef<str> + Sync> IntoFuture for GetMany<'a, S, K> {
    type Output = Result<Vec<Option<Object>>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// `adapter.ttl(key)`: the value and its remaining TTL; `None`, or with the switch on an error,
/// when missing.
///
/// ```
/// use key_value_adapters::RaiseOnMissingAdapter;
/// use key_value_core::prelude::*;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
/// assert_eq!(store.ttl("k").collection("c").await?, None);
/// let err = store.ttl("k").raise_on_missing(true).await.unwrap_err();
/// assert_eq!(err.operation(), Some("ttl"));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct GetWithTtl<'a, S> {
    store: &'a S,
    key: &'a str,
    collection: Option<&'a str>,
    raise_on_missing: bool,
}

impl<'a, S: KeyValue> GetWithTtl<'a, S> {
    read_setters!();

    async fn run(self) -> Result<Option<(Object, Option<Duration>)>> {
        let mut call = self.store.ttl(self.key);
        if let Some(c) = self.collection {
            call = call.collection(c);
        }
        let found = call.await?;
        if found.is_none() && self.raise_on_missing {
            let collection = self.store.info().resolve_collection(self.collection);
            return Err(missing_one("ttl", collection, self.key));
        }
        Ok(found)
    }
}

impl<'a, S: KeyValue> IntoFuture for GetWithTtl<'a, S> {
    type Output = Result<Option<(Object, Option<Duration>)>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// `adapter.ttl_many(keys)`: one `(value, remaining TTL)` per key, in order; with the switch
/// on, an error when any key is missing.
///
/// ```
/// use key_value_adapters::RaiseOnMissingAdapter;
/// use key_value_core::prelude::*;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
/// let err = store.ttl_many(&["x"]).collection("c").raise_on_missing(true).await.unwrap_err();
/// assert_eq!((err.operation(), err.key()), (Some("ttl_many"), Some("x")));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct TtlMany<'a, S, K> {
    store: &'a S,
    keys: &'a [K],
    collection: Option<&'a str>,
    raise_on_missing: bool,
}

impl<'a, S: KeyValue, K: AsRef<str> + Sync> TtlMany<'a, S, K> {
    read_setters!();

    async fn run(self) -> Result<Vec<Option<(Object, Option<Duration>)>>> {
        let mut call = self.store.ttl_many(self.keys);
        if let Some(c) = self.collection {
            call = call.collection(c);
        }
        let found = call.await?;
        if self.raise_on_missing {
            let collection = self.store.info().resolve_collection(self.collection);
            if let Some(e) = missing_many(
                "ttl_many",
                collection,
                self.keys,
                found.iter().map(Option::is_some),
            ) {
                return Err(e);
            }
        }
        Ok(found)
    }
}

impl<'a, S: KeyValue, K: AsRef<str> + Sync> IntoFuture for TtlMany<'a, S, K> {
    type Output = Result<Vec<Option<(Object, Option<Duration>)>>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// A read that requires its keys: `.required()` on a read builder. Awaiting it gives the
/// values without `Option` (`Object`, `Vec<Object>`, `(Object, Option<Duration>)`, ...), or an
/// [`ErrorKind::MissingKey`] error.
///
/// ```
/// use key_value_adapters::RaiseOnMissingAdapter;
/// use key_value_core::prelude::*;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store = RaiseOnMissingAdapter::new(MemoryStore::new());
/// store.put("config", object!({"debug": false})).await?;
/// let config: Object = store.get("config").required().await?;
/// assert_eq!(config["debug"], false);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct Required<B>(B);

/// Values that are there, or the error for the first missing one: never reached after a run
/// with the switch on, but checked rather than assumed.
fn present<X>(
    found: Vec<Option<X>>,
    operation: &'static str,
    collection: &str,
    keys: &[impl AsRef<str>],
) -> Result<Vec<X>> {
    if let Some(e) = missing_many(
        operation,
        collection,
        keys,
        found.iter().map(Option::is_some),
    ) {
        return Err(e);
    }
    Ok(found.into_iter().flatten().collect())
}

impl<'a, S: KeyValue> IntoFuture for Required<Get<'a, S>> {
    type Output = Result<Object>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        let mut get = self.0;
        get.raise_on_missing = true;
        let (key, collection) = (get.key, get.resolved());
        Box::pin(async move {
            get.run()
                .await?
                .ok_or_else(|| missing_one("get", collection, key))
        })
    }
}

impl<'a, S: KeyValue> IntoFuture for Required<GetWithTtl<'a, S>> {
    type Output = Result<(Object, Option<Duration>)>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        let mut get = self.0;
        get.raise_on_missing = true;
        let key = get.key;
        let collection = get.store.info().resolve_collection(get.collection);
        Box::pin(async move {
            get.run()
                .await?
                .ok_or_else(|| missing_one("ttl", collection, key))
        })
    }
}

impl<'a, S: KeyValue, K: AsRef<str> + Sync> IntoFuture for Required<GetMany<'a, S, K>> {
    type Output = Result<Vec<Object>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        let mut get = self.0;
        get.raise_on_missing = true;
        let keys = get.keys;
        let collection = get.store.info().resolve_collection(get.collection);
        Box::pin(async move { present(get.run().await?, "get_many", collection, keys) })
    }
}

impl<'a, S: KeyValue, K: AsRef<str> + Sync> IntoFuture for Required<TtlMany<'a, S, K>> {
    type Output = Result<Vec<(Object, Option<Duration>)>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        let mut get = self.0;
        get.raise_on_missing = true;
        let keys = get.keys;
        let collection = get.store.info().resolve_collection(get.collection);
        Box::pin(async move { present(get.run().await?, "ttl_many", collection, keys) })
    }
}

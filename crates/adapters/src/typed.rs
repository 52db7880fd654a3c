//! [`TypedAdapter<T, S>`](TypedAdapter): store and read any `T: Serialize + DeserializeOwned`,
//! in the layout of py-key-value's `PydanticAdapter`.
//!
//! | py-key-value | key-value |
//! |---|---|
//! | `PydanticAdapter(store, User)` | `TypedAdapter::<User, _>::new(store)` |
//! | `PydanticAdapter(store, list[int], default_collection="c")` | `TypedAdapter::<Vec<i64>, _>::new(store).default_collection("c")` |
//! | `PydanticAdapter(..., raise_on_validation_error=True)` | `.raise_on_validation_error(true)` |
//! | `await a.get("k", collection="c")` | `a.get("k").collection("c").await?` → `Option<T>` |
//! | `await a.get("k", default=d)` | `a.get("k").default(d).await?` → `T` |
//! | `await a.put("k", v, ttl=60)` | `a.put("k", v).ttl(60).await?` (`v` or `&v`) |
//! | `await a.ttl("k")` | `a.ttl("k").await?` → `Option<(T, Option<Duration>)>` |
//! | `await a.get_many(keys, default=d)` | `a.get_many(&keys).default(d).await?` → `Vec<T>` |
//! | `await a.put_many(keys, values)` | `a.put_many(&keys, values).await?` |
//! | `await a.delete("k")`, `delete_many(keys)` | `a.delete("k").await?`, `a.delete_many(&keys).await?` |
//!
//! ## What is stored
//!
//! Exactly what py-key-value's `PydanticAdapter` stores, so each reads the other's entries:
//!
//! - a type that serializes to a JSON object (a struct with named fields, a map, a newtype
//!   around one) is stored as that object: `User { name: "A" }` → `{"name": "A"}`;
//! - any other type is wrapped: `vec![1, 2]` → `{"items": [1, 2]}`, `5` → `{"items": 5}`,
//!   `"s"` → `{"items": "s"}`, `None::<T>` → `{"items": null}`, tuples, enums, booleans.
//!
//! py-key-value decides from the type's JSON schema (`"type": "object"` or not); this adapter
//! decides from what the type's `Deserialize` impl asks for first (a struct or a map, or
//! anything else), once, when the adapter is made. The two agree on models, dataclasses and
//! dicts (objects) and on lists, tuples, sets, scalars, enums, `Optional[...]` and unions
//! (wrapped): a Rust enum, untagged or internally tagged enum, or `serde_json::Value` is
//! wrapped, as pydantic wraps a union or `Any`. Where a type needs the other choice, force it
//! with [`wrap_in_items`](TypedAdapter::wrap_in_items).
//!
//! ## Invalid stored data
//!
//! As in py-key-value, an entry that does not fit `T` (another type was written under the key,
//! a field is missing, a wrapped type lacks `"items"`) reads as missing by default: `None`, or
//! the `default` given. With [`raise_on_validation_error(true)`](TypedAdapter::raise_on_validation_error)
//! it is an [`ErrorKind::Deserialization`] error naming the operation, collection and key, and
//! what does not fit and where (`invalid type: a string, expected u32 (at /address/zip)`), never
//! the stored value.
//!
//! ## Differences from py-key-value
//!
//! - py-key-value logs invalid entries it skips; this crate has no logger: turn on
//!   `raise_on_validation_error` to learn why an entry reads as missing.
//! - `ttl_many` gives `None` for an invalid entry, where py-key-value gives `(None, ttl)`.
//! - A stored `null` under `Option<T>` reads as `Some(None)`; py-key-value cannot tell it from a
//!   missing key.
//!
//! ```
//! use key_value_adapters::TypedAdapter;
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! struct User {
//!     name: String,
//!     email: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let store = MemoryStore::new();
//! let users = TypedAdapter::<User, _>::new(&store).default_collection("users");
//! let alice = User { name: "Alice".into(), email: "alice@example.com".into() };
//! users.put("alice", &alice).ttl(3600).await?;
//! assert_eq!(users.get("alice").await?, Some(alice.clone()));
//!
//! // Stored as the plain object, readable by any client of the store:
//! let raw = store.get("alice").collection("users").await?;
//! assert_eq!(raw, Some(object!({"name": "Alice", "email": "alice@example.com"})));
//!
//! // Non-object types are wrapped as {"items": ...}:
//! let scores = TypedAdapter::<Vec<u32>, _>::new(&store);
//! scores.put("top", vec![10, 9, 8]).await?;
//! assert_eq!(store.get("top").await?, Some(object!({"items": [10, 9, 8]})));
//! # Ok(())
//! # }
//! ```

use std::any::type_name;
use std::borrow::Borrow;
use std::fmt;
use std::future::IntoFuture;
use std::marker::PhantomData;
use std::time::Duration;

use key_value_core::{
    BoxFuture, Error, ErrorKind, IntoObject, KeyValue, KeyValueExt, Object, Result, Ttl,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{de, shape};

/// The key a non-object value is wrapped under, as in py-key-value.
const ITEMS: &str = "items";

/// A typed view of a store: values of type `T`, stored as py-key-value's `PydanticAdapter`
/// stores them. See the [module docs](self).
///
/// `S` is any [`KeyValue`]: a store, a reference to one (`&store`), an `Arc`, a
/// [`SharedStore`](key_value_core::SharedStore) or a wrapped store.
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let counters = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// counters.put("hits", 41).await?;
/// let hits = counters.get("hits").default(0).await?;
/// counters.put("hits", hits + 1).await?;
/// assert_eq!(counters.get("hits").await?, Some(42));
/// # Ok(())
/// # }
/// ```
pub struct TypedAdapter<T, S> {
    store: S,
    default_collection: Option<String>,
    raise_on_validation_error: bool,
    wrap: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T, S: Clone> Clone for TypedAdapter<T, S> {
    fn clone(&self) -> Self {
        TypedAdapter {
            store: self.store.clone(),
            default_collection: self.default_collection.clone(),
            raise_on_validation_error: self.raise_on_validation_error,
            wrap: self.wrap,
            _type: PhantomData,
        }
    }
}

impl<T, S> fmt::Debug for TypedAdapter<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedAdapter")
            .field("type", &type_name::<T>())
            .field("default_collection", &self.default_collection)
            .field("raise_on_validation_error", &self.raise_on_validation_error)
            .field("wrap_in_items", &self.wrap)
            .finish_non_exhaustive()
    }
}

/// A value already turned into its stored object (or why it could not be), handed to the
/// store's `put`, which adds the operation, collection and key to the error.
struct Serialized(Result<Object>);

impl IntoObject for Serialized {
    fn into_object(self) -> Result<Object> {
        self.0
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<T: Serialize + DeserializeOwned, S: KeyValue> TypedAdapter<T, S> {
    /// A typed view of `store`, using the store's default collection and returning `None` for
    /// invalid entries (py-key-value's defaults).
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    /// use std::collections::HashMap;
    ///
    /// let tags = TypedAdapter::<Vec<String>, _>::new(MemoryStore::new());
    /// assert!(tags.wraps_in_items());
    /// let settings = TypedAdapter::<HashMap<String, bool>, _>::new(MemoryStore::new());
    /// assert!(!settings.wraps_in_items());
    /// ```
    pub fn new(store: S) -> Self {
        TypedAdapter {
            store,
            default_collection: None,
            raise_on_validation_error: false,
            wrap: !shape::is_object_type::<T>(),
            _type: PhantomData,
        }
    }

    /// The collection calls use when they name none (py: `default_collection=`); without it,
    /// the store's default collection.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = MemoryStore::new();
    /// let names = TypedAdapter::<String, _>::new(&store).default_collection("names");
    /// names.put("k", "Alice".to_string()).await?;
    /// assert_eq!(store.get("k").collection("names").await?, Some(object!({"items": "Alice"})));
    /// // A collection given to the call wins.
    /// names.put("k", "Bob".to_string()).collection("other").await?;
    /// assert_eq!(names.get("k").collection("other").await?.as_deref(), Some("Bob"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// Whether reading an entry that does not fit `T` is an [`ErrorKind::Deserialization`]
    /// error (`true`) or reads as missing (`false`, the default, as in py-key-value).
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = MemoryStore::new();
    /// store.put("n", object!({"items": "not a number"})).await?;
    ///
    /// let lenient = TypedAdapter::<u32, _>::new(&store);
    /// assert_eq!(lenient.get("n").await?, None);
    ///
    /// let strict = TypedAdapter::<u32, _>::new(&store).raise_on_validation_error(true);
    /// let err = strict.get("n").await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Deserialization);
    /// assert_eq!(err.key(), Some("n"));
    /// assert!(!err.to_string().contains("not a number"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn raise_on_validation_error(mut self, raise: bool) -> Self {
        self.raise_on_validation_error = raise;
        self
    }

    /// Overrides whether values are stored wrapped as `{"items": ...}`, for a type where the
    /// automatic choice (see the [module docs](self)) differs from the Python side's, e.g. a
    /// `serde_json::Value` that always holds an object, read by Python as `dict[str, Any]`.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    /// use serde_json::{json, Value};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let store = MemoryStore::new();
    /// let docs = TypedAdapter::<Value, _>::new(&store).wrap_in_items(false);
    /// docs.put("d", json!({"a": 1})).await?;
    /// assert_eq!(store.get("d").await?, Some(object!({"a": 1})));
    ///
    /// // Unwrapped, a value that is not an object cannot be stored.
    /// let err = docs.put("d", json!([1])).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Serialization);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wrap_in_items(mut self, wrap: bool) -> Self {
        self.wrap = wrap;
        self
    }

    /// Whether values are stored wrapped as `{"items": ...}`.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Point { x: i32, y: i32 }
    ///
    /// assert!(!TypedAdapter::<Point, _>::new(MemoryStore::new()).wraps_in_items());
    /// assert!(TypedAdapter::<Vec<Point>, _>::new(MemoryStore::new()).wraps_in_items());
    /// assert!(TypedAdapter::<Option<Point>, _>::new(MemoryStore::new()).wraps_in_items());
    /// ```
    pub fn wraps_in_items(&self) -> bool {
        self.wrap
    }

    /// The store underneath.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_core::prelude::*;
    /// use key_value_memory::MemoryStore;
    ///
    /// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
    /// assert_eq!(ints.inner().info().name(), "MemoryStore");
    /// ```
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// Gives the store back.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// let store: MemoryStore = TypedAdapter::<i64, _>::new(MemoryStore::new()).into_inner();
    /// ```
    pub fn into_inner(self) -> S {
        self.store
    }

    /// The object `value` is stored as: its JSON object, or `{"items": value}`.
    ///
    /// A value that cannot be serialized (a map with non-string keys, a failing `Serialize`
    /// impl), or that is not an object when wrapping is off, is an
    /// [`ErrorKind::Serialization`] error.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_core::object;
    /// use key_value_memory::MemoryStore;
    ///
    /// let pairs = TypedAdapter::<(u8, String), _>::new(MemoryStore::new());
    /// assert_eq!(pairs.to_object(&(1, "a".into()))?, object!({"items": [1, "a"]}));
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn to_object(&self, value: &T) -> Result<Object> {
        let json = serde_json::to_value(value).map_err(|e| {
            Error::new(
                ErrorKind::Serialization,
                format!("cannot serialize a {}: {e}", type_name::<T>()),
            )
        })?;
        if self.wrap {
            let mut object = Object::new();
            object.insert(ITEMS.to_string(), json);
            return Ok(object);
        }
        match json {
            Value::Object(object) => Ok(object),
            other => Err(Error::new(
                ErrorKind::Serialization,
                format!(
                    "a {} serialized to {}, not a JSON object, and wrapping in {{\"items\": ...}} is off",
                    type_name::<T>(),
                    kind_of(&other)
                ),
            )),
        }
    }

    /// Reads a stored object as a `T`: the object itself, or its `"items"` when wrapping.
    ///
    /// Always strict: an object that does not fit is an [`ErrorKind::Deserialization`] error
    /// saying what does not fit and where, never the value.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_core::{object, ErrorKind};
    /// use key_value_memory::MemoryStore;
    ///
    /// let lists = TypedAdapter::<Vec<u8>, _>::new(MemoryStore::new());
    /// assert_eq!(lists.from_object(object!({"items": [1, 2]}))?, vec![1, 2]);
    /// let err = lists.from_object(object!({"items": [1, "two"]})).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Deserialization);
    /// assert!(err.to_string().contains("/items/1"));
    /// let err = lists.from_object(object!({"list": [1]})).unwrap_err();
    /// assert!(err.to_string().contains("'items'"));
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn from_object(&self, mut object: Object) -> Result<T> {
        let value = if self.wrap {
            match object.remove(ITEMS) {
                Some(items) => items,
                None => {
                    return Err(Error::new(
                        ErrorKind::Deserialization,
                        format!(
                            "the stored value is not a valid {}: missing the 'items' wrapper",
                            type_name::<T>()
                        ),
                    ));
                }
            }
        } else {
            Value::Object(object)
        };
        de::from_value(value).map_err(|e| {
            let e = if self.wrap { e.at_key(ITEMS) } else { e };
            Error::new(
                ErrorKind::Deserialization,
                format!("the stored value is not a valid {}: {e}", type_name::<T>()),
            )
        })
    }

    /// Reads a value. See [`Get`].
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let flags = TypedAdapter::<bool, _>::new(MemoryStore::new());
    /// assert_eq!(flags.get("dark_mode").await?, None);
    /// flags.put("dark_mode", true).collection("prefs").await?;
    /// assert_eq!(flags.get("dark_mode").collection("prefs").await?, Some(true));
    /// # Ok(())
    /// # }
    /// ```
    pub fn get<'a>(&'a self, key: &'a str) -> Get<'a, T, S> {
        Get {
            adapter: self,
            key,
            collection: None,
        }
    }

    /// Reads many values, in order. See [`GetMany`].
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let words = TypedAdapter::<String, _>::new(MemoryStore::new());
    /// words.put("a", "alpha".to_string()).await?;
    /// assert_eq!(words.get_many(&["a", "b"]).await?, vec![Some("alpha".to_string()), None]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_many<'a, K: AsRef<str> + Sync>(&'a self, keys: &'a [K]) -> GetMany<'a, T, S, K> {
        GetMany {
            adapter: self,
            keys,
            collection: None,
        }
    }

    /// Reads a value with its remaining TTL. See [`GetWithTtl`].
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let tokens = TypedAdapter::<String, _>::new(MemoryStore::new());
    /// tokens.put("t", "abc".to_string()).ttl(60).await?;
    /// let (token, ttl) = tokens.ttl("t").await?.expect("stored");
    /// assert_eq!(token, "abc");
    /// assert!(ttl.is_some_and(|d| d.as_secs_f64() <= 60.0));
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl<'a>(&'a self, key: &'a str) -> GetWithTtl<'a, T, S> {
        GetWithTtl {
            adapter: self,
            key,
            collection: None,
        }
    }

    /// Reads many values with their remaining TTLs. See [`TtlMany`].
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let ints = TypedAdapter::<i32, _>::new(MemoryStore::new());
    /// ints.put("a", 1).await?;
    /// let got = ints.ttl_many(&["a", "b"]).await?;
    /// assert_eq!(got, vec![Some((1, None)), None]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl_many<'a, K: AsRef<str> + Sync>(&'a self, keys: &'a [K]) -> TtlMany<'a, T, S, K> {
        TtlMany {
            adapter: self,
            keys,
            collection: None,
        }
    }

    /// Writes a value (owned or borrowed). See [`Put`].
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let lists = TypedAdapter::<Vec<u8>, _>::new(MemoryStore::new());
    /// let v = vec![1, 2, 3];
    /// lists.put("borrowed", &v).await?;
    /// lists.put("owned", v).ttl(1.5).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn put<'a>(&'a self, key: &'a str, value: impl Borrow<T>) -> Put<'a, T, S> {
        Put {
            adapter: self,
            key,
            value: self.to_object(value.borrow()),
            collection: None,
            ttl: None,
        }
    }

    /// Writes many values with one TTL. See [`PutMany`].
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let ints = TypedAdapter::<u64, _>::new(MemoryStore::new());
    /// ints.put_many(&["a", "b"], [1, 2]).ttl(30).await?;
    /// assert_eq!(ints.get_many(&["a", "b"]).await?, vec![Some(1), Some(2)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn put_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
        values: impl IntoIterator<Item = impl Borrow<T>>,
    ) -> PutMany<'a, T, S, K> {
        let values = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| self.to_object(v.borrow()).map_err(|e| (i, e)))
            .collect();
        PutMany {
            adapter: self,
            keys,
            values,
            collection: None,
            ttl: None,
        }
    }

    /// Deletes a value; whether there was one. See [`Delete`].
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let ints = TypedAdapter::<i8, _>::new(MemoryStore::new());
    /// ints.put("a", 1).await?;
    /// assert!(ints.delete("a").await?);
    /// assert!(!ints.delete("a").await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete<'a>(&'a self, key: &'a str) -> Delete<'a, T, S> {
        Delete {
            adapter: self,
            key,
            collection: None,
        }
    }

    /// Deletes many values; how many there were. See [`DeleteMany`].
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let ints = TypedAdapter::<i8, _>::new(MemoryStore::new());
    /// ints.put_many(&["a", "b"], [1, 2]).await?;
    /// assert_eq!(ints.delete_many(&["a", "b", "c"]).await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
    ) -> DeleteMany<'a, T, S, K> {
        DeleteMany {
            adapter: self,
            keys,
            collection: None,
        }
    }

    /// The collection to hand to the store: the call's, else the adapter's default, else none
    /// (the store's default). An empty name counts as none, as in py-key-value.
    fn pick<'a>(&'a self, given: Option<&'a str>) -> Option<&'a str> {
        given
            .filter(|c| !c.is_empty())
            .or(self.default_collection.as_deref())
    }

    /// The collection the store actually uses, for error messages.
    fn resolved<'a>(&'a self, picked: Option<&'a str>) -> &'a str {
        self.store.info().resolve_collection(picked)
    }

    /// A stored object read as `T`: an error or `None` when it does not fit, per the setting.
    fn read(
        &self,
        object: Object,
        operation: &'static str,
        collection: &str,
        key: &str,
    ) -> Result<Option<T>> {
        match self.from_object(object) {
            Ok(value) => Ok(Some(value)),
            Err(e) if self.raise_on_validation_error => {
                Err(e.in_context(operation, collection, Some(key)))
            }
            Err(_) => Ok(None),
        }
    }

    async fn get_one(&self, key: &str, collection: Option<&str>) -> Result<Option<T>> {
        let collection = self.pick(collection);
        let mut call = self.store.get(key);
        if let Some(c) = collection {
            call = call.collection(c);
        }
        match call.await? {
            Some(object) => self.read(object, "get", self.resolved(collection), key),
            None => Ok(None),
        }
    }

    async fn get_some<K: AsRef<str> + Sync>(
        &self,
        keys: &[K],
        collection: Option<&str>,
    ) -> Result<Vec<Option<T>>> {
        let collection = self.pick(collection);
        let mut call = self.store.get_many(keys);
        if let Some(c) = collection {
            call = call.collection(c);
        }
        let objects = call.await?;
        let resolved = self.resolved(collection);
        objects
            .into_iter()
            .zip(keys)
            .map(|(object, key)| match object {
                Some(object) => self.read(object, "get_many", resolved, key.as_ref()),
                None => Ok(None),
            })
            .collect()
    }

    async fn ttl_one(
        &self,
        key: &str,
        collection: Option<&str>,
    ) -> Result<Option<(T, Option<Duration>)>> {
        let collection = self.pick(collection);
        let mut call = self.store.ttl(key);
        if let Some(c) = collection {
            call = call.collection(c);
        }
        match call.await? {
            Some((object, ttl)) => Ok(self
                .read(object, "ttl", self.resolved(collection), key)?
                .map(|value| (value, ttl))),
            None => Ok(None),
        }
    }

    async fn ttl_some<K: AsRef<str> + Sync>(
        &self,
        keys: &[K],
        collection: Option<&str>,
    ) -> Result<Vec<Option<(T, Option<Duration>)>>> {
        let collection = self.pick(collection);
        let mut call = self.store.ttl_many(keys);
        if let Some(c) = collection {
            call = call.collection(c);
        }
        let entries = call.await?;
        let resolved = self.resolved(collection);
        entries
            .into_iter()
            .zip(keys)
            .map(|(entry, key)| match entry {
                Some((object, ttl)) => Ok(self
                    .read(object, "ttl_many", resolved, key.as_ref())?
                    .map(|value| (value, ttl))),
                None => Ok(None),
            })
            .collect()
    }
}

/// Sets the builder's collection; shared by every builder.
macro_rules! collection_setter {
    () => {
        /// The collection to use instead of the adapter's default collection.
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

/// `adapter.get(key)`: the value, or `None` when missing, expired or (unless
/// [raising](TypedAdapter::raise_on_validation_error)) invalid.
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// ints.put("k", 7).collection("c").await?;
/// assert_eq!(ints.get("k").collection("c").await?, Some(7));
/// assert_eq!(ints.get("k").await?, None);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct Get<'a, T, S> {
    adapter: &'a TypedAdapter<T, S>,
    key: &'a str,
    collection: Option<&'a str>,
}

impl<'a, T, S> Get<'a, T, S> {
    collection_setter!();

    /// What to return instead of `None` (py: `default=`): the call then returns a `T`.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let names = TypedAdapter::<String, _>::new(MemoryStore::new());
    /// assert_eq!(names.get("k").default("anonymous".to_string()).await?, "anonymous");
    /// # Ok(())
    /// # }
    /// ```
    pub fn default(self, default: T) -> GetOr<'a, T, S> {
        GetOr { get: self, default }
    }
}

impl<'a, T, S> IntoFuture for Get<'a, T, S>
where
    T: Serialize + DeserializeOwned,
    S: KeyValue,
{
    type Output = Result<Option<T>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.adapter.get_one(self.key, self.collection))
    }
}

/// `adapter.get(key).default(value)`: the value, or the default when missing, expired or
/// invalid (unless [raising](TypedAdapter::raise_on_validation_error)).
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// assert_eq!(ints.get("k").default(-1).await?, -1);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct GetOr<'a, T, S> {
    get: Get<'a, T, S>,
    default: T,
}

impl<'a, T, S> GetOr<'a, T, S> {
    /// The collection to use instead of the adapter's default collection.
    pub fn collection(mut self, collection: &'a str) -> Self {
        self.get.collection = Some(collection);
        self
    }
}

impl<'a, T, S> IntoFuture for GetOr<'a, T, S>
where
    T: Serialize + DeserializeOwned + Send + 'a,
    S: KeyValue,
{
    type Output = Result<T>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let found = self.get.await?;
            Ok(found.unwrap_or(self.default))
        })
    }
}

/// `adapter.get_many(keys)`: one result per key, in order; `None` where missing, expired or
/// invalid (unless [raising](TypedAdapter::raise_on_validation_error)).
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// ints.put("a", 1).collection("c").await?;
/// assert_eq!(ints.get_many(&["a", "b"]).collection("c").await?, vec![Some(1), None]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct GetMany<'a, T, S, K> {
    adapter: &'a TypedAdapter<T, S>,
    keys: &'a [K],
    collection: Option<&'a str>,
}

impl<'a, T, S, K> GetMany<'a, T, S, K> {
    collection_setter!();

    /// What to return for each key that has no valid value (py: `default=`): the call then
    /// returns a `Vec<T>`.
    ///
    /// ```
    /// use key_value_adapters::TypedAdapter;
    /// use key_value_memory::MemoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> key_value_core::Result<()> {
    /// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
    /// ints.put("a", 1).await?;
    /// assert_eq!(ints.get_many(&["a", "b"]).default(0).await?, vec![1, 0]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn default(self, default: T) -> GetManyOr<'a, T, S, K> {
        GetManyOr { get: self, default }
    }
}

impl<'a, T, S, K> IntoFuture for GetMany<'a, T, S, K>
where
    T: Serialize + DeserializeOwned,
    S: KeyValue,
    K: AsRef<str> + Sync,
{
    type Output = Result<Vec<Option<T>>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.adapter.get_some(self.keys, self.collection))
    }
}

/// `adapter.get_many(keys).default(value)`: one value per key, the default where missing,
/// expired or invalid (unless [raising](TypedAdapter::raise_on_validation_error)).
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let names = TypedAdapter::<String, _>::new(MemoryStore::new());
/// let got = names.get_many(&["x", "y"]).default(String::new()).await?;
/// assert_eq!(got, vec![String::new(), String::new()]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct GetManyOr<'a, T, S, K> {
    get: GetMany<'a, T, S, K>,
    default: T,
}

impl<'a, T, S, K> GetManyOr<'a, T, S, K> {
    /// The collection to use instead of the adapter's default collection.
    pub fn collection(mut self, collection: &'a str) -> Self {
        self.get.collection = Some(collection);
        self
    }
}

impl<'a, T, S, K> IntoFuture for GetManyOr<'a, T, S, K>
where
    T: Serialize + DeserializeOwned + Clone + Send + 'a,
    S: KeyValue,
    K: AsRef<str> + Sync,
{
    type Output = Result<Vec<T>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let found = self.get.await?;
            Ok(found
                .into_iter()
                .map(|v| v.unwrap_or_else(|| self.default.clone()))
                .collect())
        })
    }
}

/// `adapter.ttl(key)`: the value and its remaining TTL (`None`: never expires), or `None` when
/// missing, expired or invalid (unless [raising](TypedAdapter::raise_on_validation_error)).
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// ints.put("k", 1).collection("c").await?;
/// assert_eq!(ints.ttl("k").collection("c").await?, Some((1, None)));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct GetWithTtl<'a, T, S> {
    adapter: &'a TypedAdapter<T, S>,
    key: &'a str,
    collection: Option<&'a str>,
}

impl<'a, T, S> GetWithTtl<'a, T, S> {
    collection_setter!();
}

impl<'a, T, S> IntoFuture for GetWithTtl<'a, T, S>
where
    T: Serialize + DeserializeOwned,
    S: KeyValue,
{
    type Output = Result<Option<(T, Option<Duration>)>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.adapter.ttl_one(self.key, self.collection))
    }
}

/// `adapter.ttl_many(keys)`: one `(value, remaining TTL)` per key, in order; `None` where
/// missing, expired or invalid (unless [raising](TypedAdapter::raise_on_validation_error)).
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// ints.put("a", 1).ttl(60).collection("c").await?;
/// let got = ints.ttl_many(&["a", "b"]).collection("c").await?;
/// assert!(matches!(got[0], Some((1, Some(_)))));
/// assert!(got[1].is_none());
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct TtlMany<'a, T, S, K> {
    adapter: &'a TypedAdapter<T, S>,
    keys: &'a [K],
    collection: Option<&'a str>,
}

impl<'a, T, S, K> TtlMany<'a, T, S, K> {
    collection_setter!();
}

impl<'a, T, S, K> IntoFuture for TtlMany<'a, T, S, K>
where
    T: Serialize + DeserializeOwned,
    S: KeyValue,
    K: AsRef<str> + Sync,
{
    type Output = Result<Vec<Option<(T, Option<Duration>)>>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.adapter.ttl_some(self.keys, self.collection))
    }
}

/// `adapter.put(key, value)`: writes the value, replacing any previous one and its TTL.
///
/// The value is serialized when the builder is made; a value that cannot be is an
/// [`ErrorKind::Serialization`] error when the call runs, and nothing is written.
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// ints.put("k", 1).collection("c").ttl(std::time::Duration::from_secs(5)).await?;
/// ints.put("k", 2).collection("c").ttl_opt(None::<f64>).await?;
/// assert_eq!(ints.ttl("k").collection("c").await?, Some((2, None)));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct Put<'a, T, S> {
    adapter: &'a TypedAdapter<T, S>,
    key: &'a str,
    value: Result<Object>,
    collection: Option<&'a str>,
    ttl: Option<Ttl>,
}

impl<'a, T, S> Put<'a, T, S> {
    collection_setter!();
    ttl_setter!();
}

impl<'a, T, S> IntoFuture for Put<'a, T, S>
where
    T: Serialize + DeserializeOwned,
    S: KeyValue,
{
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        let adapter = self.adapter;
        let mut call = adapter.store.put(self.key, Serialized(self.value));
        if let Some(c) = adapter.pick(self.collection) {
            call = call.collection(c);
        }
        call.ttl_opt(self.ttl).into_future()
    }
}

/// `adapter.put_many(keys, values)`: writes every pair with one TTL for the batch, as one
/// batch of the store.
///
/// Every value is serialized first: if one cannot be, the call is an
/// [`ErrorKind::Serialization`] error naming its key, and nothing is written.
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// let keys = vec!["a".to_string(), "b".to_string()];
/// ints.put_many(&keys, vec![1, 2]).collection("c").ttl(10).await?;
/// assert_eq!(ints.get_many(&keys).collection("c").await?, vec![Some(1), Some(2)]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct PutMany<'a, T, S, K> {
    adapter: &'a TypedAdapter<T, S>,
    keys: &'a [K],
    values: std::result::Result<Vec<Object>, (usize, Error)>,
    collection: Option<&'a str>,
    ttl: Option<Ttl>,
}

impl<'a, T, S, K> PutMany<'a, T, S, K> {
    collection_setter!();
    ttl_setter!();
}

impl<'a, T, S, K> IntoFuture for PutMany<'a, T, S, K>
where
    T: Serialize + DeserializeOwned,
    S: KeyValue,
    K: AsRef<str> + Sync,
{
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        let adapter = self.adapter;
        let collection = adapter.pick(self.collection);
        let values = match self.values {
            Ok(values) => values,
            Err((index, e)) => {
                let key = self.keys.get(index).map(AsRef::as_ref);
                let e = e.in_context("put_many", adapter.resolved(collection), key);
                return Box::pin(async move { Err(e) });
            }
        };
        let mut call = adapter.store.put_many(self.keys, values);
        if let Some(c) = collection {
            call = call.collection(c);
        }
        call.ttl_opt(self.ttl).into_future()
    }
}

/// `adapter.delete(key)`: whether an entry was deleted.
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// ints.put("k", 1).collection("c").await?;
/// assert!(!ints.delete("k").await?);
/// assert!(ints.delete("k").collection("c").await?);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct Delete<'a, T, S> {
    adapter: &'a TypedAdapter<T, S>,
    key: &'a str,
    collection: Option<&'a str>,
}

impl<'a, T, S> Delete<'a, T, S> {
    collection_setter!();
}

impl<'a, T, S> IntoFuture for Delete<'a, T, S>
where
    T: Serialize + DeserializeOwned,
    S: KeyValue,
{
    type Output = Result<bool>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        let adapter = self.adapter;
        let mut call = adapter.store.delete(self.key);
        if let Some(c) = adapter.pick(self.collection) {
            call = call.collection(c);
        }
        call.into_future()
    }
}

/// `adapter.delete_many(keys)`: how many entries were deleted.
///
/// ```
/// use key_value_adapters::TypedAdapter;
/// use key_value_memory::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> key_value_core::Result<()> {
/// let ints = TypedAdapter::<i64, _>::new(MemoryStore::new());
/// ints.put_many(&["a", "b"], [1, 2]).collection("c").await?;
/// assert_eq!(ints.delete_many(&["a", "b"]).collection("c").await?, 2);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until awaited"]
pub struct DeleteMany<'a, T, S, K> {
    adapter: &'a TypedAdapter<T, S>,
    keys: &'a [K],
    collection: Option<&'a str>,
}

impl<'a, T, S, K> DeleteMany<'a, T, S, K> {
    collection_setter!();
}

impl<'a, T, S, K> IntoFuture for DeleteMany<'a, T, S, K>
where
    T: Serialize + DeserializeOwned,
    S: KeyValue,
    K: AsRef<str> + Sync,
{
    type Output = Result<usize>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        let adapter = self.adapter;
        let mut call = adapter.store.delete_many(self.keys);
        if let Some(c) = adapter.pick(self.collection) {
            call = call.collection(c);
        }
        call.into_future()
    }
}

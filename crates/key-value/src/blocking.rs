//! The same calls without `async`, for programs that have no async runtime.
//!
//! [`Store<S>`](Store) owns a small Tokio runtime and runs each call of the async API
//! ([`KeyValueExt`]) on it to completion: it is a thin layer over the one async
//! implementation, not a second one. Every call is the async builder with `.call()` where the
//! async code has `.await`:
//!
//! | async | blocking |
//! |---|---|
//! | `store.get("k").collection("c").await?` | `store.get("k").collection("c").call()?` |
//! | `store.put("k", v).ttl(60).await?` | `store.put("k", v).ttl(60).call()?` |
//! | `store.get_many(&keys).await?` | `store.get_many(&keys).call()?` |
//! | `store.keys().limit(10).await?` | `store.keys().limit(10).call()?` |
//! | `store.close().await?` | `store.close()?` |
//! | anything else (`destroy`, adapters, wrappers) | `store.run(\|s\| async move { ... })?` |
//!
//! ```
//! use key_value::blocking;
//! use key_value::object;
//!
//! # fn main() -> key_value::Result<()> {
//! let store = blocking::open("memory://")?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(60).call()?;
//! let user = store.get("user:1").collection("users").call()?;
//! assert_eq!(user, Some(object!({"name": "Alice"})));
//! assert_eq!(store.keys().collection("users").call()?, vec!["user:1"]);
//! store.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Threads
//!
//! A `Store` is `Send + Sync`: share it between threads by reference (`std::thread::scope`) or
//! in an `Arc`, and call it from all of them at once. Its runtime has one worker thread, which
//! keeps a network store's background work (connection pools, reconnects) going between calls;
//! each call runs on the thread that makes it. To choose the runtime yourself (more workers, a
//! current-thread runtime), build it and pass it to [`Store::with_runtime`].
//!
//! ## Inside an async runtime
//!
//! Blocking a thread of an async runtime stalls every task on it, and Tokio forbids starting a
//! runtime from inside one (it panics). So a call made where a Tokio runtime is current (in an
//! `async` function, a task, `block_on`, or a `spawn_blocking` closure) does not block: it
//! returns an [`ErrorKind::InvalidArgument`] error saying to use the async API there. This is
//! the same in current-thread and multi-thread runtimes; `block_in_place` was not chosen since
//! it works only in the latter and still stalls a worker. In async code, use the store itself
//! ([`inner`](Store::inner)) with `.await`. Dropping a `Store` inside a runtime is fine.

use std::future::{Future, IntoFuture};

use key_value_core::api;
use key_value_core::{
    Error, ErrorKind, IntoObject, KeyValue, KeyValueExt, Object, Result, SharedStore, StoreInfo,
    Ttl,
};
use tokio::runtime::{Builder, Handle, Runtime};

/// A store with a blocking API: every call of [`KeyValueExt`], run to completion on the
/// store's own Tokio runtime. See the [module docs](self).
///
/// ```
/// use key_value::blocking;
/// use key_value::object;
/// use key_value::stores::memory::MemoryStore;
///
/// # fn main() -> key_value::Result<()> {
/// let store = blocking::Store::new(MemoryStore::new())?;
/// std::thread::scope(|s| {
///     for i in 0..4 {
///         let store = &store;
///         s.spawn(move || store.put(&format!("k{i}"), object!({"i": i})).call().expect("put"));
///     }
/// });
/// assert_eq!(store.get_many(&["k0", "k3"]).call()?.iter().flatten().count(), 2);
/// # Ok(())
/// # }
/// ```
pub struct Store<S> {
    store: S,
    /// Always `Some` until dropped: `Drop` takes it out to shut it down the right way.
    runtime: Option<Runtime>,
}

impl<S> std::fmt::Debug for Store<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Store")
            .field("store", &std::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

/// The runtime every [`Store::new`] starts: one worker thread, with the timers and I/O the
/// stores need.
fn new_runtime() -> Result<Runtime> {
    Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("key-value-blocking")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::Setup,
                "cannot start the Tokio runtime of the blocking API",
            )
            .with_source(e)
        })
}

/// The error for a blocking call made where it would block an async runtime.
fn inside_runtime(operation: &'static str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "the blocking API was called inside an async (Tokio) runtime, where blocking would stall \
         or deadlock it: use the async API there (`store.inner()` with `.await`), or call from a \
         thread outside the runtime",
    )
    .with_operation(operation)
}

/// The runtime to block on, if blocking is allowed on this thread.
fn runtime_for<'a>(runtime: Option<&'a Runtime>, operation: &'static str) -> Result<&'a Runtime> {
    if Handle::try_current().is_ok() {
        return Err(inside_runtime(operation));
    }
    runtime.ok_or_else(|| {
        Error::new(ErrorKind::Closed, "the blocking store is being dropped")
            .with_operation(operation)
    })
}

/// Opens the store a URL names (see [`open`](crate::open())), with a blocking API.
///
/// ```
/// use key_value::{blocking, object, ErrorKind};
///
/// # fn main() -> key_value::Result<()> {
/// let dir = std::env::temp_dir().join(format!("kv-blocking-open-doc-{}", std::process::id()));
/// let store = blocking::open(&format!("disk://{}", dir.display()))?;
/// store.put("k", object!({"v": 1})).call()?;
/// assert_eq!(store.get("k").call()?, Some(object!({"v": 1})));
/// store.close()?;
/// # drop(store);
/// # std::fs::remove_dir_all(&dir).ok();
///
/// let err = blocking::open("carrier-pigeon://loft").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Config);
/// # Ok(())
/// # }
/// ```
pub fn open(url: &str) -> Result<Store<SharedStore>> {
    let runtime = new_runtime()?;
    // Some stores start background work when opened: it belongs on this runtime.
    let store = {
        let _context = runtime.enter();
        crate::open(url)?
    };
    Ok(Store::with_runtime(store, runtime))
}

impl<S: KeyValue> Store<S> {
    /// `store` with a blocking API, on a new one-worker Tokio runtime.
    ///
    /// A runtime that cannot be started (the system refuses a thread) is an
    /// [`ErrorKind::Setup`] error.
    ///
    /// ```
    /// use key_value::blocking;
    /// use key_value::stores::memory::MemoryStore;
    ///
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::Store::new(MemoryStore::new())?;
    /// assert_eq!(store.get("missing").call()?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(store: S) -> Result<Self> {
        Ok(Store::with_runtime(store, new_runtime()?))
    }

    /// `store` with a blocking API, on a runtime you built (enable its I/O and timers for
    /// network stores: `enable_all()`).
    ///
    /// ```
    /// use key_value::blocking;
    /// use key_value::stores::memory::MemoryStore;
    ///
    /// # fn main() -> key_value::Result<()> {
    /// let runtime = tokio::runtime::Builder::new_current_thread()
    ///     .enable_all()
    ///     .build()
    ///     .expect("a runtime");
    /// let store = blocking::Store::with_runtime(MemoryStore::new(), runtime);
    /// assert_eq!(store.delete("k").call()?, false);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_runtime(store: S, runtime: Runtime) -> Self {
        Store {
            store,
            runtime: Some(runtime),
        }
    }

    /// Makes the store with an async function, on the new runtime: for stores whose
    /// constructor is `async` or must run inside a runtime.
    ///
    /// ```
    /// use key_value::blocking;
    /// use key_value::stores::memory::MemoryStore;
    ///
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::Store::open_with(|| async { Ok(MemoryStore::new()) })?;
    /// assert_eq!(store.info().name(), "MemoryStore");
    /// # Ok(())
    /// # }
    /// ```
    pub fn open_with<F, Fut>(make: F) -> Result<Self>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<S>>,
    {
        if Handle::try_current().is_ok() {
            return Err(inside_runtime("open"));
        }
        let runtime = new_runtime()?;
        let store = runtime.block_on(make())?;
        Ok(Store::with_runtime(store, runtime))
    }

    /// The async store underneath, for async code.
    ///
    /// ```
    /// use key_value::prelude::*;
    /// use key_value::blocking;
    /// use key_value::stores::memory::MemoryStore;
    ///
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::Store::new(MemoryStore::new())?;
    /// assert!(store.inner().info().capabilities().enumerate_keys);
    /// # Ok(())
    /// # }
    /// ```
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// Who the store is and what it can do.
    ///
    /// ```
    /// use key_value::blocking;
    ///
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("null://")?;
    /// assert_eq!(store.info().name(), "NullStore");
    /// # Ok(())
    /// # }
    /// ```
    pub fn info(&self) -> &StoreInfo {
        self.store.info()
    }

    fn call<B>(&self, builder: B, operation: &'static str) -> Call<'_, B> {
        Call {
            builder,
            runtime: self.runtime.as_ref(),
            operation,
        }
    }

    /// Reads a value: `None` if missing or expired. See [`api::Get`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("k", object!({"v": 1})).collection("c").call()?;
    /// assert_eq!(store.get("k").collection("c").call()?, Some(object!({"v": 1})));
    /// # Ok(())
    /// # }
    /// ```
    pub fn get<'a>(&'a self, key: &'a str) -> Call<'a, api::Get<'a, S>> {
        self.call(self.store.get(key), "get")
    }

    /// Reads a value with its remaining TTL. See [`api::GetWithTtl`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("k", object!({"v": 1})).ttl(60).call()?;
    /// let (value, ttl) = store.ttl("k").call()?.expect("present");
    /// assert_eq!(value, object!({"v": 1}));
    /// assert!(ttl.is_some_and(|t| t.as_secs() <= 60));
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl<'a>(&'a self, key: &'a str) -> Call<'a, api::GetWithTtl<'a, S>> {
        self.call(self.store.ttl(key), "ttl")
    }

    /// Writes a value. See [`api::Put`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("k", object!({"v": 1})).collection("c").ttl(1.5).call()?;
    /// store.put("k", object!({"v": 2})).collection("c").ttl_opt(None::<u64>).call()?;
    /// assert_eq!(store.ttl("k").collection("c").call()?, Some((object!({"v": 2}), None)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn put<'a>(&'a self, key: &'a str, value: impl IntoObject) -> Call<'a, api::Put<'a, S>> {
        self.call(self.store.put(key, value), "put")
    }

    /// Deletes a value; whether there was one. See [`api::Delete`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("k", object!({})).collection("c").call()?;
    /// assert!(store.delete("k").collection("c").call()?);
    /// assert!(!store.delete("k").collection("c").call()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete<'a>(&'a self, key: &'a str) -> Call<'a, api::Delete<'a, S>> {
        self.call(self.store.delete(key), "delete")
    }

    /// Reads many values, in order. See [`api::GetMany`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("a", object!({"v": 1})).collection("c").call()?;
    /// let got = store.get_many(&["a", "b"]).collection("c").call()?;
    /// assert_eq!(got, vec![Some(object!({"v": 1})), None]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
    ) -> Call<'a, api::GetMany<'a, S, K>> {
        self.call(self.store.get_many(keys), "get_many")
    }

    /// Reads many values with their remaining TTLs. See [`api::TtlMany`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("a", object!({"v": 1})).collection("c").call()?;
    /// let got = store.ttl_many(&["a", "b"]).collection("c").call()?;
    /// assert_eq!(got, vec![Some((object!({"v": 1}), None)), None]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
    ) -> Call<'a, api::TtlMany<'a, S, K>> {
        self.call(self.store.ttl_many(keys), "ttl_many")
    }

    /// Writes many values with one TTL. See [`api::PutMany`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put_many(&["a", "b"], vec![object!({"v": 1}), object!({"v": 2})]).ttl(60).call()?;
    /// assert_eq!(store.get_many(&["a", "b"]).call()?.iter().flatten().count(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn put_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
        values: Vec<Object>,
    ) -> Call<'a, api::PutMany<'a, S, K>> {
        self.call(self.store.put_many(keys, values), "put_many")
    }

    /// Deletes many values; how many there were. See [`api::DeleteMany`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put_many(&["a", "b"], vec![object!({}), object!({})]).collection("c").call()?;
    /// assert_eq!(store.delete_many(&["a", "b", "z"]).collection("c").call()?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete_many<'a, K: AsRef<str> + Sync>(
        &'a self,
        keys: &'a [K],
    ) -> Call<'a, api::DeleteMany<'a, S, K>> {
        self.call(self.store.delete_many(keys), "delete_many")
    }

    /// Lists the keys of a collection, where the store can. See [`api::Keys`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put_many(&["a", "b"], vec![object!({}), object!({})]).collection("c").call()?;
    /// let mut keys = store.keys().collection("c").call()?;
    /// keys.sort();
    /// assert_eq!(keys, vec!["a", "b"]);
    /// assert_eq!(store.keys().collection("c").limit(1).call()?.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn keys(&self) -> Call<'_, api::Keys<'_, S>> {
        self.call(self.store.keys(), "keys")
    }

    /// Lists the collections, where the store can. See [`api::Collections`].
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("k", object!({})).collection("users").call()?;
    /// assert_eq!(store.collections().call()?, vec!["users"]);
    /// assert_eq!(store.collections().limit(0).call()?, Vec::<String>::new());
    /// # Ok(())
    /// # }
    /// ```
    pub fn collections(&self) -> Call<'_, api::Collections<'_, S>> {
        self.call(self.store.collections(), "collections")
    }

    /// Releases what the store opened (connections, files); later calls fail with
    /// [`ErrorKind::Closed`] where the store tracks it. The runtime stops when the `Store` is
    /// dropped.
    ///
    /// ```
    /// # use key_value::{blocking, object};
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.close()?;
    /// store.close()?; // closing twice is fine
    /// # Ok(())
    /// # }
    /// ```
    pub fn close(&self) -> Result<()> {
        let runtime = runtime_for(self.runtime.as_ref(), "close")?;
        runtime.block_on(self.store.close())
    }

    /// Runs any async code on the store to completion: what has no blocking method
    /// (`destroy`, `cull`, adapters, wrappers, several calls in one go).
    ///
    /// ```
    /// use key_value::prelude::*;
    /// use key_value::blocking;
    ///
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("k", object!({})).call()?;
    /// assert!(store.run(|s| s.destroy())?);
    /// let n = store.run(|s| async move {
    ///     s.put("a", object!({"n": 1})).await?;
    ///     Ok(s.get("a").await?.map(|v| v["n"].clone()))
    /// })?;
    /// assert_eq!(n, Some(1.into()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn run<'a, F, Fut, T>(&'a self, f: F) -> Result<T>
    where
        F: FnOnce(&'a S) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let runtime = runtime_for(self.runtime.as_ref(), "run")?;
        runtime.block_on(f(&self.store))
    }
}

impl<S> Drop for Store<S> {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            if Handle::try_current().is_ok() {
                // A plain drop waits for the runtime's threads, which Tokio forbids (panics)
                // inside an async context: let them stop on their own.
                runtime.shutdown_background();
            }
        }
    }
}

/// One blocking call: the async builder and the runtime to run it on. Set options as on the
/// async builder, then run it with [`call`](Call::call).
///
/// ```
/// use key_value::{blocking, object};
///
/// # fn main() -> key_value::Result<()> {
/// let store = blocking::open("memory://")?;
/// let put = store.put("k", object!({"v": 1})).collection("c").ttl(30);
/// put.call()?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a blocking call does nothing until `.call()`"]
pub struct Call<'a, B> {
    builder: B,
    runtime: Option<&'a Runtime>,
    operation: &'static str,
}

impl<'a, B> Call<'a, B> {
    fn map(self, f: impl FnOnce(B) -> B) -> Self {
        Call {
            builder: f(self.builder),
            ..self
        }
    }
}

impl<B, T> Call<'_, B>
where
    B: IntoFuture<Output = Result<T>>,
{
    /// Runs the call to completion on the store's runtime, blocking this thread.
    ///
    /// Inside an async runtime it does not block: it is an [`ErrorKind::InvalidArgument`]
    /// error (see the [module docs](self)).
    ///
    /// ```
    /// use key_value::{blocking, object, ErrorKind};
    ///
    /// # fn main() -> key_value::Result<()> {
    /// let store = blocking::open("memory://")?;
    /// store.put("k", object!({})).call()?;
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread()
    ///     .build()
    ///     .expect("a runtime");
    /// let err = runtime.block_on(async { store.get("k").call() }).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    /// assert!(err.to_string().contains("async API"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn call(self) -> Result<T> {
        let runtime = runtime_for(self.runtime, self.operation)?;
        runtime.block_on(self.builder.into_future())
    }
}

/// The collection setter, as on the async builders.
macro_rules! collection_setter {
    () => {
        /// The collection to use instead of the store's default.
        pub fn collection(self, collection: &'a str) -> Self {
            self.map(|b| b.collection(collection))
        }
    };
}

/// The TTL setters, as on the async write builders.
macro_rules! ttl_setters {
    () => {
        /// How long the entry lives: seconds (`60`, `1.5`) or a [`Duration`](std::time::Duration).
        /// Must be positive and finite. Without it the entry never expires.
        pub fn ttl(self, ttl: impl Into<Ttl>) -> Self {
            self.map(|b| b.ttl(ttl))
        }

        /// Like [`ttl`](Self::ttl), but takes an optional TTL, as py-key-value's `ttl=None`.
        pub fn ttl_opt(self, ttl: Option<impl Into<Ttl>>) -> Self {
            self.map(|b| b.ttl_opt(ttl))
        }
    };
}

/// The limit setter, as on the async listing builders.
macro_rules! limit_setter {
    () => {
        /// Returns at most `limit` names.
        pub fn limit(self, limit: usize) -> Self {
            self.map(|b| b.limit(limit))
        }
    };
}

impl<'a, S: KeyValue> Call<'a, api::Get<'a, S>> {
    collection_setter!();
}

impl<'a, S: KeyValue> Call<'a, api::GetWithTtl<'a, S>> {
    collection_setter!();
}

impl<'a, S: KeyValue> Call<'a, api::Put<'a, S>> {
    collection_setter!();
    ttl_setters!();
}

impl<'a, S: KeyValue> Call<'a, api::Delete<'a, S>> {
    collection_setter!();
}

impl<'a, S: KeyValue, K> Call<'a, api::GetMany<'a, S, K>> {
    collection_setter!();
}

impl<'a, S: KeyValue, K> Call<'a, api::TtlMany<'a, S, K>> {
    collection_setter!();
}

impl<'a, S: KeyValue, K> Call<'a, api::PutMany<'a, S, K>> {
    collection_setter!();
    ttl_setters!();
}

impl<'a, S: KeyValue, K> Call<'a, api::DeleteMany<'a, S, K>> {
    collection_setter!();
}

impl<'a, S: KeyValue> Call<'a, api::Keys<'a, S>> {
    collection_setter!();
    limit_setter!();
}

impl<'a, S: KeyValue> Call<'a, api::Collections<'a, S>> {
    limit_setter!();
}

//! The store traits: [`KeyValue`] (static, zero-cost) and [`DynKeyValue`] (its object-safe twin).
//!
//! A backend implements [`KeyValue`]: three required methods on [`ManagedEntry`]s, with the
//! collection already resolved and the TTL already validated. Everything else has a default:
//! the batch calls loop over the single ones (override them where the backend batches), and
//! the optional capabilities return [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
//!
//! Users do not call these methods directly: the builders of [`KeyValueExt`](crate::KeyValueExt)
//! (`store.get("k").collection("c").await`) add what every store shares: default collection,
//! key and TTL checks, timestamps, and expiry on every read.
//!
//! Every `KeyValue` is also a [`DynKeyValue`], so stores chosen at run time, wrappers and
//! routers can hold an `Arc<dyn DynKeyValue>` ([`SharedStore`]), which is itself a `KeyValue`.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_core::{entry::ManagedEntry, Result};
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//!
//! /// A toy store: one map, no limits.
//! struct ToyStore {
//!     info: StoreInfo,
//!     map: Mutex<HashMap<(String, String), ManagedEntry>>,
//! }
//!
//! impl KeyValue for ToyStore {
//!     fn info(&self) -> &StoreInfo {
//!         &self.info
//!     }
//!     async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
//!         let map = self.map.lock().map_err(|_| Error::new(ErrorKind::Backend, "poisoned"))?;
//!         Ok(map.get(&(collection.to_string(), key.to_string())).cloned())
//!     }
//!     async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
//!         let mut map = self.map.lock().map_err(|_| Error::new(ErrorKind::Backend, "poisoned"))?;
//!         map.insert((collection.to_string(), key.to_string()), entry);
//!         Ok(())
//!     }
//!     async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
//!         let mut map = self.map.lock().map_err(|_| Error::new(ErrorKind::Backend, "poisoned"))?;
//!         Ok(map.remove(&(collection.to_string(), key.to_string())).is_some())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = ToyStore { info: StoreInfo::new("ToyStore", Stability::NotApplicable), map: Default::default() };
//! store.put("k", object!({"n": 1})).ttl(60).await?;
//! assert_eq!(store.get("k").await?, Some(object!({"n": 1})));
//! // The same store behind a trait object:
//! let shared: SharedStore = std::sync::Arc::new(store);
//! assert_eq!(shared.get("k").await?, Some(object!({"n": 1})));
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::capability::StoreInfo;
use crate::entry::ManagedEntry;
use crate::error::{Error, Result};

/// A boxed, `Send` future: what [`DynKeyValue`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store chosen at run time: any [`KeyValue`] behind an `Arc`.
pub type SharedStore = Arc<dyn DynKeyValue>;

/// A key-value store backend.
///
/// `collection` is always resolved (never empty) and keys are checked before these methods are
/// called; entries carry absolute timestamps. Stores must not filter expired entries on read
/// (the caller does, with the store's clock) but may drop them.
pub trait KeyValue: Send + Sync {
    /// Who the store is and what it can do.
    fn info(&self) -> &StoreInfo;

    /// Reads one entry, expired or not; `None` if absent.
    fn get_entry(
        &self,
        collection: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<ManagedEntry>>> + Send;

    /// Writes one entry, replacing any previous one (and its expiry).
    fn put_entry(
        &self,
        collection: &str,
        key: &str,
        entry: ManagedEntry,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes one entry; whether there was one.
    fn delete_entry(
        &self,
        collection: &str,
        key: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Reads many entries, in the order and number of `keys`. Defaults to a loop.
    fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<Vec<Option<ManagedEntry>>>> + Send {
        async move {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                out.push(self.get_entry(collection, key).await?);
            }
            Ok(out)
        }
    }

    /// Writes many entries; `keys` and `entries` have the same length. Defaults to a loop.
    fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            for (key, entry) in keys.iter().zip(entries) {
                self.put_entry(collection, key, entry).await?;
            }
            Ok(())
        }
    }

    /// Deletes many entries; how many existed. Defaults to a loop.
    fn delete_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<usize>> + Send {
        async move {
            let mut n = 0;
            for key in keys {
                n += usize::from(self.delete_entry(collection, key).await?);
            }
            Ok(n)
        }
    }

    /// Lists up to `limit` keys of `collection` (all when `None`). Requires
    /// [`enumerate_keys`](crate::Capabilities::enumerate_keys).
    fn list_keys(
        &self,
        collection: &str,
        limit: Option<usize>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send {
        let _ = (collection, limit);
        async move { Err(Error::unsupported("keys", self.info().name())) }
    }

    /// Lists up to `limit` collection names (all when `None`). Requires
    /// [`enumerate_collections`](crate::Capabilities::enumerate_collections).
    fn list_collections(
        &self,
        limit: Option<usize>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send {
        let _ = limit;
        async move { Err(Error::unsupported("collections", self.info().name())) }
    }

    /// Removes everything this store holds; whether anything was removed. Requires
    /// [`destroy`](crate::Capabilities::destroy).
    fn destroy(&self) -> impl Future<Output = Result<bool>> + Send {
        async move { Err(Error::unsupported("destroy", self.info().name())) }
    }

    /// Removes one collection; whether it existed. Requires
    /// [`destroy_collection`](crate::Capabilities::destroy_collection).
    fn destroy_collection(&self, collection: &str) -> impl Future<Output = Result<bool>> + Send {
        let _ = collection;
        async move { Err(Error::unsupported("destroy_collection", self.info().name())) }
    }

    /// Removes expired entries now. Requires [`cull`](crate::Capabilities::cull).
    fn cull(&self) -> impl Future<Output = Result<()>> + Send {
        async move { Err(Error::unsupported("cull", self.info().name())) }
    }

    /// Releases what the store opened (connections, files). Later calls fail with
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed). A client the user passed in is not
    /// closed. Closing twice is fine.
    fn close(&self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

/// The object-safe twin of [`KeyValue`], implemented for every `KeyValue` automatically.
///
/// Use it through [`SharedStore`] (`Arc<dyn DynKeyValue>`), which implements `KeyValue` again.
#[allow(missing_docs)] // Each method is the boxed form of the `KeyValue` method of the same name.
pub trait DynKeyValue: Send + Sync {
    fn dyn_info(&self) -> &StoreInfo;
    fn dyn_get_entry<'a>(
        &'a self,
        collection: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ManagedEntry>>>;
    fn dyn_put_entry<'a>(
        &'a self,
        collection: &'a str,
        key: &'a str,
        entry: ManagedEntry,
    ) -> BoxFuture<'a, Result<()>>;
    fn dyn_delete_entry<'a>(
        &'a self,
        collection: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool>>;
    fn dyn_get_entries<'a>(
        &'a self,
        collection: &'a str,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<Option<ManagedEntry>>>>;
    fn dyn_put_entries<'a>(
        &'a self,
        collection: &'a str,
        keys: &'a [&'a str],
        entries: Vec<ManagedEntry>,
    ) -> BoxFuture<'a, Result<()>>;
    fn dyn_delete_entries<'a>(
        &'a self,
        collection: &'a str,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<usize>>;
    fn dyn_list_keys<'a>(
        &'a self,
        collection: &'a str,
        limit: Option<usize>,
    ) -> BoxFuture<'a, Result<Vec<String>>>;
    fn dyn_list_collections(&self, limit: Option<usize>) -> BoxFuture<'_, Result<Vec<String>>>;
    fn dyn_destroy(&self) -> BoxFuture<'_, Result<bool>>;
    fn dyn_destroy_collection<'a>(&'a self, collection: &'a str) -> BoxFuture<'a, Result<bool>>;
    fn dyn_cull(&self) -> BoxFuture<'_, Result<()>>;
    fn dyn_close(&self) -> BoxFuture<'_, Result<()>>;
}

impl<T: KeyValue> DynKeyValue for T {
    fn dyn_info(&self) -> &StoreInfo {
        self.info()
    }
    fn dyn_get_entry<'a>(
        &'a self,
        collection: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ManagedEntry>>> {
        Box::pin(self.get_entry(collection, key))
    }
    fn dyn_put_entry<'a>(
        &'a self,
        collection: &'a str,
        key: &'a str,
        entry: ManagedEntry,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.put_entry(collection, key, entry))
    }
    fn dyn_delete_entry<'a>(
        &'a self,
        collection: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.delete_entry(collection, key))
    }
    fn dyn_get_entries<'a>(
        &'a self,
        collection: &'a str,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<Option<ManagedEntry>>>> {
        Box::pin(self.get_entries(collection, keys))
    }
    fn dyn_put_entries<'a>(
        &'a self,
        collection: &'a str,
        keys: &'a [&'a str],
        entries: Vec<ManagedEntry>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.put_entries(collection, keys, entries))
    }
    fn dyn_delete_entries<'a>(
        &'a self,
        collection: &'a str,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(self.delete_entries(collection, keys))
    }
    fn dyn_list_keys<'a>(
        &'a self,
        collection: &'a str,
        limit: Option<usize>,
    ) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(self.list_keys(collection, limit))
    }
    fn dyn_list_collections(&self, limit: Option<usize>) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(self.list_collections(limit))
    }
    fn dyn_destroy(&self) -> BoxFuture<'_, Result<bool>> {
        Box::pin(self.destroy())
    }
    fn dyn_destroy_collection<'a>(&'a self, collection: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.destroy_collection(collection))
    }
    fn dyn_cull(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.cull())
    }
    fn dyn_close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.close())
    }
}

/// Forwards every [`KeyValue`] method to the `dyn DynKeyValue` behind a pointer. It must go
/// through `**self`: the pointer is itself a `KeyValue`, hence a `DynKeyValue`, and calling its
/// own `dyn_*` methods would recurse forever.
macro_rules! forward_to_dyn {
    () => {
        fn info(&self) -> &StoreInfo {
            (**self).dyn_info()
        }
        fn get_entry(
            &self,
            collection: &str,
            key: &str,
        ) -> impl Future<Output = Result<Option<ManagedEntry>>> + Send {
            async move { (**self).dyn_get_entry(collection, key).await }
        }
        fn put_entry(
            &self,
            collection: &str,
            key: &str,
            entry: ManagedEntry,
        ) -> impl Future<Output = Result<()>> + Send {
            async move { (**self).dyn_put_entry(collection, key, entry).await }
        }
        fn delete_entry(
            &self,
            collection: &str,
            key: &str,
        ) -> impl Future<Output = Result<bool>> + Send {
            async move { (**self).dyn_delete_entry(collection, key).await }
        }
        fn get_entries(
            &self,
            collection: &str,
            keys: &[&str],
        ) -> impl Future<Output = Result<Vec<Option<ManagedEntry>>>> + Send {
            async move { (**self).dyn_get_entries(collection, keys).await }
        }
        fn put_entries(
            &self,
            collection: &str,
            keys: &[&str],
            entries: Vec<ManagedEntry>,
        ) -> impl Future<Output = Result<()>> + Send {
            async move { (**self).dyn_put_entries(collection, keys, entries).await }
        }
        fn delete_entries(
            &self,
            collection: &str,
            keys: &[&str],
        ) -> impl Future<Output = Result<usize>> + Send {
            async move { (**self).dyn_delete_entries(collection, keys).await }
        }
        fn list_keys(
            &self,
            collection: &str,
            limit: Option<usize>,
        ) -> impl Future<Output = Result<Vec<String>>> + Send {
            async move { (**self).dyn_list_keys(collection, limit).await }
        }
        fn list_collections(
            &self,
            limit: Option<usize>,
        ) -> impl Future<Output = Result<Vec<String>>> + Send {
            async move { (**self).dyn_list_collections(limit).await }
        }
        fn destroy(&self) -> impl Future<Output = Result<bool>> + Send {
            async move { (**self).dyn_destroy().await }
        }
        fn destroy_collection(
            &self,
            collection: &str,
        ) -> impl Future<Output = Result<bool>> + Send {
            async move { (**self).dyn_destroy_collection(collection).await }
        }
        fn cull(&self) -> impl Future<Output = Result<()>> + Send {
            async move { (**self).dyn_cull().await }
        }
        fn close(&self) -> impl Future<Output = Result<()>> + Send {
            async move { (**self).dyn_close().await }
        }
    };
}

impl KeyValue for Arc<dyn DynKeyValue> {
    forward_to_dyn!();
}

impl KeyValue for Box<dyn DynKeyValue> {
    forward_to_dyn!();
}

/// Forwards every [`KeyValue`] method through a smart pointer to a static `KeyValue`.
macro_rules! forward_to_inner {
    () => {
        fn info(&self) -> &StoreInfo {
            (**self).info()
        }
        fn get_entry(
            &self,
            collection: &str,
            key: &str,
        ) -> impl Future<Output = Result<Option<ManagedEntry>>> + Send {
            (**self).get_entry(collection, key)
        }
        fn put_entry(
            &self,
            collection: &str,
            key: &str,
            entry: ManagedEntry,
        ) -> impl Future<Output = Result<()>> + Send {
            (**self).put_entry(collection, key, entry)
        }
        fn delete_entry(
            &self,
            collection: &str,
            key: &str,
        ) -> impl Future<Output = Result<bool>> + Send {
            (**self).delete_entry(collection, key)
        }
        fn get_entries(
            &self,
            collection: &str,
            keys: &[&str],
        ) -> impl Future<Output = Result<Vec<Option<ManagedEntry>>>> + Send {
            (**self).get_entries(collection, keys)
        }
        fn put_entries(
            &self,
            collection: &str,
            keys: &[&str],
            entries: Vec<ManagedEntry>,
        ) -> impl Future<Output = Result<()>> + Send {
            (**self).put_entries(collection, keys, entries)
        }
        fn delete_entries(
            &self,
            collection: &str,
            keys: &[&str],
        ) -> impl Future<Output = Result<usize>> + Send {
            (**self).delete_entries(collection, keys)
        }
        fn list_keys(
            &self,
            collection: &str,
            limit: Option<usize>,
        ) -> impl Future<Output = Result<Vec<String>>> + Send {
            (**self).list_keys(collection, limit)
        }
        fn list_collections(
            &self,
            limit: Option<usize>,
        ) -> impl Future<Output = Result<Vec<String>>> + Send {
            (**self).list_collections(limit)
        }
        fn destroy(&self) -> impl Future<Output = Result<bool>> + Send {
            (**self).destroy()
        }
        fn destroy_collection(
            &self,
            collection: &str,
        ) -> impl Future<Output = Result<bool>> + Send {
            (**self).destroy_collection(collection)
        }
        fn cull(&self) -> impl Future<Output = Result<()>> + Send {
            (**self).cull()
        }
        fn close(&self) -> impl Future<Output = Result<()>> + Send {
            (**self).close()
        }
    };
}

impl<T: KeyValue> KeyValue for Arc<T> {
    forward_to_inner!();
}

impl<T: KeyValue> KeyValue for &T {
    forward_to_inner!();
}

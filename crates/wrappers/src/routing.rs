//! Sends each collection to its own store: py-key-value's `CollectionRoutingWrapper` (a map from
//! collection to store) and `RoutingWrapper` (a routing function), over a default store.
//!
//! The wrapped store is the default; [`RoutingLayer::route`] sends a collection elsewhere (a
//! [`SharedStore`], so any store, wrapped or not, local or remote, can be a target), and
//! [`RoutingLayer::route_with`] adds a function consulted for collections the map does not name.
//! Every call goes to the one store its collection routes to, with the collection unchanged, and
//! a batch stays one batch on that store.
//!
//! Beyond py-key-value's wrappers, which route only the eight data calls:
//! - `collections()` merges the collections of the default store and every routed store, each
//!   name listed only by the store it routes to (so a store used by several routes, or also as
//!   the default, never lists a name twice or a name that routes elsewhere);
//! - `keys()` and `destroy_collection()` go to the collection's store; `destroy()`, `cull()` and
//!   `close()` go to every store (each once);
//! - [`info`](KeyValue::info) declares what every store can do: a capability holds only if all
//!   stores have it, limits are the tightest; clock and default collection are the default
//!   store's. With a routing function the stores it may return are unknown, so collection
//!   enumeration, `destroy()` and `cull()` are then unsupported, and `close()` does not reach
//!   them; their capabilities are assumed to include the declared ones.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, routing::RoutingLayer};
//! use std::sync::Arc;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let sessions = Arc::new(MemoryStore::new());
//! let store = MemoryStore::new().layer(RoutingLayer::new().route("sessions", sessions.clone()));
//! store.put("s1", object!({"user": 1})).collection("sessions").await?;
//! store.put("u1", object!({"name": "Alice"})).collection("users").await?;
//! assert!(sessions.get("s1").collection("sessions").await?.is_some());
//! assert!(sessions.get("u1").collection("users").await?.is_none());
//! let mut collections = store.collections().await?;
//! collections.sort();
//! assert_eq!(collections, vec!["sessions", "users"]);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use key_value_core::entry::ManagedEntry;
use key_value_core::{Capabilities, Error, KeyValue, Result, SharedStore, StoreInfo};

use crate::Layer;

/// A routing function: the store for a collection, or `None` for the default store.
pub type RouteFn = Arc<dyn Fn(&str) -> Option<SharedStore> + Send + Sync>;

/// The configuration of [`Routing`]: the routes away from the default store.
#[derive(Clone, Default)]
pub struct RoutingLayer {
    routes: HashMap<String, SharedStore>,
    function: Option<RouteFn>,
}

impl fmt::Debug for RoutingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut routes: Vec<&String> = self.routes.keys().collect();
        routes.sort();
        f.debug_struct("RoutingLayer")
            .field("routes", &routes)
            .field("function", &self.function.is_some())
            .finish()
    }
}

impl RoutingLayer {
    /// No routes yet: everything goes to the default store.
    pub fn new() -> Self {
        RoutingLayer::default()
    }

    /// Sends `collection` to `store` (replacing an earlier route of the same collection).
    pub fn route(mut self, collection: impl Into<String>, store: SharedStore) -> Self {
        self.routes.insert(collection.into(), store);
        self
    }

    /// Asks `function` for the store of each collection the routes do not name; `None` means
    /// the default store (py's `RoutingWrapper`).
    pub fn route_with<F>(mut self, function: F) -> Self
    where
        F: Fn(&str) -> Option<SharedStore> + Send + Sync + 'static,
    {
        self.function = Some(Arc::new(function));
        self
    }
}

impl<S: KeyValue> Layer<S> for RoutingLayer {
    type Store = Routing<S>;

    fn layer(self, inner: S) -> Routing<S> {
        Routing::from_layer(inner, self)
    }
}

/// Where a call goes.
enum Target<'a> {
    Default,
    Route(&'a SharedStore),
    Dynamic(SharedStore),
}

/// Runs `$call` (an expression using `$store`) on the store `$collection` routes to, statically
/// dispatched for the default store.
macro_rules! dispatch {
    ($self:ident, $collection:expr, |$store:ident| $call:expr) => {
        match $self.target($collection) {
            Target::Default => {
                let $store = &$self.inner;
                $call.await
            }
            Target::Route($store) => $call.await,
            Target::Dynamic(owned) => {
                let $store = &owned;
                $call.await
            }
        }
    };
}

/// A store that routes collections to stores. See the [module docs](self).
pub struct Routing<S> {
    inner: S,
    routes: HashMap<String, SharedStore>,
    function: Option<RouteFn>,
    /// The routed stores, each once.
    distinct: Vec<SharedStore>,
    info: StoreInfo,
}

impl<S> fmt::Debug for Routing<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut routes: Vec<&String> = self.routes.keys().collect();
        routes.sort();
        f.debug_struct("Routing")
            .field("default", &self.info.name())
            .field("routes", &routes)
            .field("function", &self.function.is_some())
            .finish()
    }
}

fn same(a: &SharedStore, b: &SharedStore) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

fn tightest(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a store holding `a`'s and `b`'s collections can promise. Built from a copy of `a` so
/// a capability added to core later is carried over (from the default store) rather than lost.
fn both(a: &Capabilities, b: &Capabilities) -> Capabilities {
    let mut c = *a;
    c.native_ttl &= b.native_ttl;
    c.native_batch &= b.native_batch;
    c.enumerate_keys &= b.enumerate_keys;
    c.enumerate_collections &= b.enumerate_collections;
    c.destroy &= b.destroy;
    c.destroy_collection &= b.destroy_collection;
    c.cull &= b.cull;
    c.persistent &= b.persistent;
    c.discards_writes &= b.discards_writes;
    c.max_entries_per_collection =
        tightest(a.max_entries_per_collection, b.max_entries_per_collection);
    // Each store's own bound limits its collections, not the sum of the stores.
    c.max_entries = None;
    c.max_key_length = tightest(a.max_key_length, b.max_key_length);
    c.restricted_collection_names |= b.restricted_collection_names;
    c.max_collection_length = tightest(a.max_collection_length, b.max_collection_length);
    c.max_value_size = tightest(a.max_value_size, b.max_value_size);
    c
}

impl<S: KeyValue> Routing<S> {
    /// Routes each collection named in `routes` to its store, and the rest to `default` (py's
    /// `CollectionRoutingWrapper(collection_map, default_store)`).
    pub fn new<I, C>(default: S, routes: I) -> Self
    where
        I: IntoIterator<Item = (C, SharedStore)>,
        C: Into<String>,
    {
        let layer = routes
            .into_iter()
            .fold(RoutingLayer::new(), |layer, (c, s)| layer.route(c, s));
        Routing::from_layer(default, layer)
    }

    /// Wraps `default` with a configuration.
    pub fn from_layer(default: S, config: RoutingLayer) -> Self {
        let mut distinct: Vec<SharedStore> = Vec::new();
        for store in config.routes.values() {
            if !distinct.iter().any(|d| same(d, store)) {
                distinct.push(store.clone());
            }
        }
        let mut info = default.info().clone();
        let mut caps = *default.info().capabilities();
        if let Some(own) = caps.max_entries {
            caps.max_entries_per_collection = tightest(caps.max_entries_per_collection, Some(own));
        }
        for store in &distinct {
            let other = *store.info().capabilities();
            let other_bound = tightest(other.max_entries_per_collection, other.max_entries);
            caps = both(&caps, &other);
            caps.max_entries_per_collection =
                tightest(caps.max_entries_per_collection, other_bound);
        }
        if distinct.is_empty() {
            caps.max_entries = default.info().capabilities().max_entries;
        }
        if config.function.is_some() {
            caps.enumerate_collections = false;
            caps.destroy = false;
            caps.cull = false;
        }
        *info.capabilities_mut() = caps;
        Routing {
            inner: default,
            routes: config.routes,
            function: config.function,
            distinct,
            info,
        }
    }

    /// The default store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The store `collection` is routed to, or `None` for the default store.
    pub fn route_of(&self, collection: &str) -> Option<SharedStore> {
        match self.target(collection) {
            Target::Default => None,
            Target::Route(s) => Some(s.clone()),
            Target::Dynamic(s) => Some(s),
        }
    }

    fn target(&self, collection: &str) -> Target<'_> {
        if let Some(store) = self.routes.get(collection) {
            return Target::Route(store);
        }
        match self.function.as_ref().and_then(|f| f(collection)) {
            Some(store) => Target::Dynamic(store),
            None => Target::Default,
        }
    }

    fn unsupported(&self, operation: &'static str) -> Error {
        Error::unsupported(operation, self.info.name())
    }
}

impl<S: KeyValue> KeyValue for Routing<S> {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        dispatch!(self, collection, |store| store.get_entry(collection, key))
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        dispatch!(self, collection, |store| store
            .put_entry(collection, key, entry))
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        dispatch!(self, collection, |store| store
            .delete_entry(collection, key))
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        dispatch!(self, collection, |store| store
            .get_entries(collection, keys))
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        dispatch!(self, collection, |store| store
            .put_entries(collection, keys, entries))
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        dispatch!(self, collection, |store| store
            .delete_entries(collection, keys))
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        dispatch!(self, collection, |store| store.list_keys(collection, limit))
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        if !self.info.capabilities().enumerate_collections {
            return Err(self.unsupported("collections"));
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        let full = |out: &Vec<String>| limit.is_some_and(|l| out.len() >= l);
        for name in self.inner.list_collections(None).await? {
            if full(&out) {
                return Ok(out);
            }
            if matches!(self.target(&name), Target::Default) && seen.insert(name.clone()) {
                out.push(name);
            }
        }
        for store in &self.distinct {
            for name in store.list_collections(None).await? {
                if full(&out) {
                    return Ok(out);
                }
                let here = match self.target(&name) {
                    Target::Route(s) => same(s, store),
                    _ => false,
                };
                if here && seen.insert(name.clone()) {
                    out.push(name);
                }
            }
        }
        Ok(out)
    }

    async fn destroy(&self) -> Result<bool> {
        if !self.info.capabilities().destroy {
            return Err(self.unsupported("destroy"));
        }
        let mut any = self.inner.destroy().await?;
        for store in &self.distinct {
            any |= store.destroy().await?;
        }
        Ok(any)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        dispatch!(self, collection, |store| store
            .destroy_collection(collection))
    }

    async fn cull(&self) -> Result<()> {
        if !self.info.capabilities().cull {
            return Err(self.unsupported("cull"));
        }
        self.inner.cull().await?;
        for store in &self.distinct {
            store.cull().await?;
        }
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        // Every store is closed even if one fails; the first failure is reported.
        let mut first = self.inner.close().await.err();
        for store in &self.distinct {
            if let Err(e) = store.close().await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

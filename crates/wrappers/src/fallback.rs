//! Serves calls from a second store when the first one fails.
//!
//! [`Fallback`] sends every call to the *primary* store; when it fails with an error the policy
//! selects, the read is sent to the *fallback* store instead and its answer (or error) is
//! returned. By default only temporary errors (lost connection, time-out, open breaker) fall
//! back: a permanent error such as an invalid key or corrupt data says something about the
//! call or the data, and hiding it behind another store's answer would mask a bug.
//! [`fallback_on`](FallbackLayer::fallback_on) chooses other errors,
//! [`fallback_on_any_error`](FallbackLayer::fallback_on_any_error) all of them (py-key-value's
//! default).
//!
//! **Writes** (`put`, `delete`, their `_many` forms, `destroy`, `destroy_collection`, `cull`)
//! go to the primary only, as in py-key-value: a write that fails is reported, never silently
//! redirected. With [`write_to_fallback(true)`](FallbackLayer::write_to_fallback) a failed write
//! is sent to the fallback instead (py's `write_to_fallback=True`). Either way the stores are
//! never synchronised: what was written to one while the other was down is not copied over
//! later, so a fallback is a replica or an older copy you accept serving, not a mirror.
//!
//! Batches stay batches: a failed `get_many` is sent whole to the fallback, as one batch.
//! `close()` closes both stores.
//!
//! The [`StoreInfo`] is the primary's, with the limits (`max_key_length`,
//! `max_collection_length`, `max_value_size`) of whichever store is stricter and `native_batch`
//! only if both batch natively, since a call may reach either store.
//!
//! **Compared with py-key-value's `FallbackWrapper`** (`fallback_on=(Exception,)`,
//! `write_to_fallback=False`): the same write policy, but by default only temporary errors fall
//! back, where py falls back on any exception.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_testkit::faulty::FaultyStore;
//! use key_value_wrappers::{LayerExt, fallback::FallbackLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let replica = MemoryStore::new();
//! replica.put("k", object!({"from": "replica"})).await?;
//! // A primary that is down (a store that fails on command, from the test kit).
//! let primary = FaultyStore::new(MemoryStore::new());
//! primary.faults().fail_always(ErrorKind::Connection);
//! let store = primary.layer(FallbackLayer::new(replica));
//! assert_eq!(store.get("k").await?, Some(object!({"from": "replica"})));
//! // Writes are not redirected: the failure is reported.
//! assert_eq!(store.put("k", object!({})).await.unwrap_err().kind(), ErrorKind::Connection);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use key_value_core::entry::ManagedEntry;
use key_value_core::{Error, KeyValue, Result, StoreInfo};

use crate::Layer;

type Predicate = Arc<dyn Fn(&Error) -> bool + Send + Sync>;

/// The fallback store and policy; a [`Layer`] that wraps the primary store into a [`Fallback`].
#[derive(Clone)]
pub struct FallbackLayer<F> {
    fallback: F,
    fallback_on: Option<Predicate>,
    write_to_fallback: bool,
}

impl<F: fmt::Debug> fmt::Debug for FallbackLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackLayer")
            .field("fallback", &self.fallback)
            .field("custom_fallback_on", &self.fallback_on.is_some())
            .field("write_to_fallback", &self.write_to_fallback)
            .finish()
    }
}

impl<F: KeyValue> FallbackLayer<F> {
    /// Falls back to `fallback` on temporary errors, for reads only.
    pub fn new(fallback: F) -> Self {
        FallbackLayer {
            fallback,
            fallback_on: None,
            write_to_fallback: false,
        }
    }

    /// Which primary errors fall back, instead of "the temporary ones".
    pub fn fallback_on(
        mut self,
        predicate: impl Fn(&Error) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.fallback_on = Some(Arc::new(predicate));
        self
    }

    /// Falls back on every primary error, as py-key-value does by default.
    pub fn fallback_on_any_error(self) -> Self {
        self.fallback_on(|_| true)
    }

    /// Whether a failed write is sent to the fallback store (default `false`).
    pub fn write_to_fallback(mut self, enabled: bool) -> Self {
        self.write_to_fallback = enabled;
        self
    }
}

impl<S: KeyValue, F: KeyValue> Layer<S> for FallbackLayer<F> {
    type Store = Fallback<S, F>;

    fn layer(self, inner: S) -> Fallback<S, F> {
        Fallback::from_layer(inner, self)
    }
}

/// A primary store with a fallback store behind it; see the [module docs](self).
pub struct Fallback<S, F> {
    primary: S,
    fallback: F,
    fallback_on: Option<Predicate>,
    write_to_fallback: bool,
    info: StoreInfo,
}

impl<S: fmt::Debug, F: fmt::Debug> fmt::Debug for Fallback<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("primary", &self.primary)
            .field("fallback", &self.fallback)
            .field("write_to_fallback", &self.write_to_fallback)
            .finish()
    }
}

fn stricter(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl<S: KeyValue, F: KeyValue> Fallback<S, F> {
    /// `primary` with `fallback` behind it, falling back on temporary errors, for reads only.
    pub fn new(primary: S, fallback: F) -> Self {
        Self::from_layer(primary, FallbackLayer::new(fallback))
    }

    fn from_layer(primary: S, layer: FallbackLayer<F>) -> Self {
        let mut info = primary.info().clone();
        let other = *layer.fallback.info().capabilities();
        let caps = info.capabilities_mut();
        caps.max_key_length = stricter(caps.max_key_length, other.max_key_length);
        caps.max_collection_length =
            stricter(caps.max_collection_length, other.max_collection_length);
        caps.max_value_size = stricter(caps.max_value_size, other.max_value_size);
        caps.native_batch &= other.native_batch;
        caps.restricted_collection_names |= other.restricted_collection_names;
        Fallback {
            primary,
            fallback: layer.fallback,
            fallback_on: layer.fallback_on,
            write_to_fallback: layer.write_to_fallback,
            info,
        }
    }

    /// The primary store (what [`inner`](Self::inner) also returns).
    pub fn primary(&self) -> &S {
        &self.primary
    }

    /// The primary store.
    pub fn inner(&self) -> &S {
        &self.primary
    }

    /// The fallback store.
    pub fn fallback(&self) -> &F {
        &self.fallback
    }

    fn falls_back(&self, error: &Error) -> bool {
        match &self.fallback_on {
            Some(p) => p(error),
            None => error.is_temporary(),
        }
    }
}

/// Tries the primary, then (if allowed and the error qualifies) the fallback.
macro_rules! with_fallback {
    ($self:ident, $allowed:expr, |$s:ident| $call:expr) => {{
        let result = {
            let $s = &$self.primary;
            $call.await
        };
        match result {
            Err(e) if $allowed && $self.falls_back(&e) => {
                let $s = &$self.fallback;
                $call.await
            }
            other => other,
        }
    }};
}

impl<S: KeyValue, F: KeyValue> KeyValue for Fallback<S, F> {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        with_fallback!(self, true, |s| s.get_entry(collection, key))
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        if !self.write_to_fallback {
            return self.primary.put_entry(collection, key, entry).await;
        }
        // The entry is consumed by the primary's call; keep a copy for the fallback.
        match self.primary.put_entry(collection, key, entry.clone()).await {
            Err(e) if self.falls_back(&e) => self.fallback.put_entry(collection, key, entry).await,
            other => other,
        }
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        with_fallback!(self, self.write_to_fallback, |s| s
            .delete_entry(collection, key))
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        with_fallback!(self, true, |s| s.get_entries(collection, keys))
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        if !self.write_to_fallback {
            return self.primary.put_entries(collection, keys, entries).await;
        }
        match self
            .primary
            .put_entries(collection, keys, entries.clone())
            .await
        {
            Err(e) if self.falls_back(&e) => {
                self.fallback.put_entries(collection, keys, entries).await
            }
            other => other,
        }
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        with_fallback!(self, self.write_to_fallback, |s| s
            .delete_entries(collection, keys))
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        with_fallback!(self, true, |s| s.list_keys(collection, limit))
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        with_fallback!(self, true, |s| s.list_collections(limit))
    }

    async fn destroy(&self) -> Result<bool> {
        with_fallback!(self, self.write_to_fallback, |s| s.destroy())
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        with_fallback!(self, self.write_to_fallback, |s| s
            .destroy_collection(collection))
    }

    async fn cull(&self) -> Result<()> {
        with_fallback!(self, self.write_to_fallback, |s| s.cull())
    }

    async fn close(&self) -> Result<()> {
        let primary = self.primary.close().await;
        let fallback = self.fallback.close().await;
        primary.and(fallback)
    }
}

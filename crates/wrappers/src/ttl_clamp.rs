//! Clamps the TTL of every write into `[min, max]`, and optionally gives entries written
//! without a TTL a default one: py-key-value's `TTLClampWrapper`.
//!
//! A write with a TTL below `min` is stored with `min`, above `max` with `max`. A write without a
//! TTL is stored with the [missing TTL](TtlClampLayer::with_missing_ttl) when one is set, and
//! without expiry otherwise. Reads, deletes and everything else pass through unchanged.
//!
//! How it differs from py-key-value's wrapper:
//! - It works on entries: the TTL clamped is `expires_at - created_at` of the entry written
//!   (the caller's TTL for every write made through the user API, where `created_at` is the
//!   write time), or `expires_at - now` for an entry without `created_at`. An entry that is
//!   already expired when written stays expired instead of being revived with `min`.
//! - Invalid TTLs (zero, negative, NaN) are rejected before the wrapper sees them, as in
//!   py-key-value; the bounds themselves are checked when the layer is made: `min > max` or a
//!   zero missing TTL is an [`ErrorKind::Config`] error (py accepts them and clamps oddly).
//! - The missing TTL is not clamped, as in py-key-value.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, ttl_clamp::TtlClampLayer};
//! use std::time::Duration;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new().layer(
//!     TtlClampLayer::new(Duration::from_secs(10), Duration::from_secs(60))?
//!         .with_missing_ttl(Duration::from_secs(30))?,
//! );
//! store.put("long", object!({"v": 1})).ttl(3600).await?;
//! store.put("short", object!({"v": 2})).ttl(1).await?;
//! store.put("none", object!({"v": 3})).await?;
//! let secs = |t: Option<(Object, Option<Duration>)>| t.and_then(|(_, ttl)| ttl).map(|d| d.as_secs_f64().round());
//! assert_eq!(secs(store.ttl("long").await?), Some(60.0));
//! assert_eq!(secs(store.ttl("short").await?), Some(10.0));
//! assert_eq!(secs(store.ttl("none").await?), Some(30.0));
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::{Error, ErrorKind, KeyValue, Result, StoreInfo};

use crate::Layer;

/// The configuration of [`TtlClamp`]: the bounds and the TTL for writes without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlClampLayer {
    min: Duration,
    max: Duration,
    missing: Option<Duration>,
}

impl TtlClampLayer {
    /// Clamps TTLs into `[min, max]`; `min` may be zero. `min > max` is an
    /// [`ErrorKind::Config`] error.
    pub fn new(min: Duration, max: Duration) -> Result<Self> {
        if min > max {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the minimum TTL ({min:?}) is above the maximum TTL ({max:?})"),
            ));
        }
        Ok(TtlClampLayer {
            min,
            max,
            missing: None,
        })
    }

    /// Gives entries written without a TTL this one (py's `missing_ttl`). Zero is an
    /// [`ErrorKind::Config`] error: such entries would be expired as soon as written.
    pub fn with_missing_ttl(mut self, ttl: Duration) -> Result<Self> {
        if ttl.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "the TTL for entries written without one must be positive",
            ));
        }
        self.missing = Some(ttl);
        Ok(self)
    }

    /// The lower bound.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The upper bound.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The TTL given to writes without one, if any.
    pub fn missing_ttl(&self) -> Option<Duration> {
        self.missing
    }
}

impl<S: KeyValue> Layer<S> for TtlClampLayer {
    type Store = TtlClamp<S>;

    fn layer(self, inner: S) -> TtlClamp<S> {
        TtlClamp::from_layer(inner, self)
    }
}

/// A store whose writes have their TTL clamped. See the [module docs](self).
#[derive(Debug)]
pub struct TtlClamp<S> {
    inner: S,
    config: TtlClampLayer,
    info: StoreInfo,
}

impl<S: KeyValue> TtlClamp<S> {
    /// Wraps `inner`, clamping TTLs into `[min, max]` (see [`TtlClampLayer::new`]).
    pub fn new(inner: S, min: Duration, max: Duration) -> Result<Self> {
        Ok(TtlClamp::from_layer(inner, TtlClampLayer::new(min, max)?))
    }

    /// Wraps `inner` with a full configuration.
    pub fn from_layer(inner: S, config: TtlClampLayer) -> Self {
        // Writes keep their shape (batches stay batches), so every capability holds as is.
        let info = inner.info().clone();
        TtlClamp {
            inner,
            config,
            info,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &TtlClampLayer {
        &self.config
    }

    fn clamp(&self, mut entry: ManagedEntry) -> ManagedEntry {
        let now = self.info.clock().now();
        let base = entry.created_at.unwrap_or(now);
        entry.expires_at = match entry.expires_at {
            // The missing TTL is not clamped, as in py-key-value.
            None => self.config.missing.map(|ttl| base.saturating_add(ttl)),
            // Already expired when written: clamping up to `min` would revive it.
            Some(expires) if expires <= now => Some(expires),
            Some(expires) => {
                let ttl = expires.duration_since(base).unwrap_or(Duration::ZERO);
                Some(base.saturating_add(ttl.clamp(self.config.min, self.config.max)))
            }
        };
        entry
    }
}

impl<S: KeyValue> KeyValue for TtlClamp<S> {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.inner.get_entry(collection, key).await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let entry = self.clamp(entry);
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
        self.inner.get_entries(collection, keys).await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let entries = entries.into_iter().map(|e| self.clamp(e)).collect();
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

//! Refuses every write: py-key-value's `ReadOnlyWrapper`.
//!
//! Reads (`get`, `ttl`, their batch forms, `keys()`, `collections()`) pass through. Writes
//! (`put`, `delete`, their batch forms) fail with [`ErrorKind::ReadOnly`] naming the operation,
//! collection and key, or, with [`ReadOnlyLayer::silent`] (py's `raise_on_write=False`), do
//! nothing and report nothing done: `put` returns `Ok`, `delete` `false`, `delete_many` `0`.
//!
//! How it differs from py-key-value's wrapper:
//! - `destroy()`, `destroy_collection()` and `cull()` are writes too, refused (or ignored:
//!   `false`, `false`, `Ok`) the same way; py's wrapper has no such calls.
//! - A refused batch names its size in the message, not in the key (py writes `"3 keys"` as
//!   the key).
//! - After `close()`, writes fail with [`ErrorKind::Closed`] in both modes, like reads.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, read_only::ReadOnlyLayer};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::builder().seed("config", "flags", object!({"beta": true})).build();
//! let store = store.layer(ReadOnlyLayer::new());
//! assert_eq!(store.get("flags").collection("config").await?, Some(object!({"beta": true})));
//! let err = store.put("flags", object!({})).collection("config").await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::ReadOnly);
//! assert_eq!(err.collection(), Some("config"));
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use key_value_core::entry::ManagedEntry;
use key_value_core::setup::CloseFlag;
use key_value_core::{Capabilities, Error, ErrorKind, KeyValue, Result, StoreInfo};

use crate::Layer;

/// The configuration of [`ReadOnly`]: whether writes are errors or silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOnlyLayer {
    raise_on_write: bool,
}

impl Default for ReadOnlyLayer {
    fn default() -> Self {
        ReadOnlyLayer::new()
    }
}

impl ReadOnlyLayer {
    /// Writes fail with [`ErrorKind::ReadOnly`] (py's default, `raise_on_write=True`).
    pub fn new() -> Self {
        ReadOnlyLayer {
            raise_on_write: true,
        }
    }

    /// Writes are ignored and report nothing done (py's `raise_on_write=False`).
    pub fn silent() -> Self {
        ReadOnlyLayer {
            raise_on_write: false,
        }
    }

    /// Sets whether writes are errors (`true`) or ignored (`false`).
    pub fn raise_on_write(mut self, raise: bool) -> Self {
        self.raise_on_write = raise;
        self
    }
}

impl<S: KeyValue> Layer<S> for ReadOnlyLayer {
    type Store = ReadOnly<S>;

    fn layer(self, inner: S) -> ReadOnly<S> {
        ReadOnly::from_layer(inner, self)
    }
}

/// A store that refuses writes. See the [module docs](self).
#[derive(Debug)]
pub struct ReadOnly<S> {
    inner: S,
    raise_on_write: bool,
    closed: CloseFlag,
}

impl<S: KeyValue> ReadOnly<S> {
    /// Wraps `inner`; writes fail with [`ErrorKind::ReadOnly`].
    pub fn new(inner: S) -> Self {
        ReadOnly::from_layer(inner, ReadOnlyLayer::new())
    }

    /// Wraps `inner` with a configuration.
    pub fn from_layer(inner: S, config: ReadOnlyLayer) -> Self {
        ReadOnly {
            inner,
            raise_on_write: config.raise_on_write,
            closed: CloseFlag::default(),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Whether writes are errors (else they are ignored).
    pub fn raises_on_write(&self) -> bool {
        self.raise_on_write
    }

    /// An `Unsupported` error where the inner store lacks the capability: that answer comes
    /// before "read-only", as it would without the wrapper.
    fn supported(&self, operation: &'static str, has: fn(&Capabilities) -> bool) -> Result<()> {
        if has(self.inner.info().capabilities()) {
            Ok(())
        } else {
            Err(Error::unsupported(operation, self.inner.info().name()))
        }
    }

    /// `Err` for a refused write, `Ok(ignored)` for an ignored one.
    fn refuse<T>(
        &self,
        operation: &'static str,
        collection: Option<&str>,
        key: Option<&str>,
        count: Option<usize>,
        ignored: T,
    ) -> Result<T> {
        self.closed.check()?;
        if !self.raise_on_write {
            return Ok(ignored);
        }
        let message = match count {
            Some(n) => format!("{operation} of {n} keys refused: the store is read-only"),
            None => format!("{operation} refused: the store is read-only"),
        };
        let mut err = Error::new(ErrorKind::ReadOnly, message).with_operation(operation);
        if let Some(c) = collection {
            err = err.with_collection(c);
        }
        if let Some(k) = key {
            err = err.with_key(k);
        }
        Err(err)
    }
}

impl<S: KeyValue> KeyValue for ReadOnly<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.inner.get_entry(collection, key).await
    }

    async fn put_entry(&self, collection: &str, key: &str, _entry: ManagedEntry) -> Result<()> {
        self.refuse("put", Some(collection), Some(key), None, ())
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.refuse("delete", Some(collection), Some(key), None, false)
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
        _entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.refuse("put_many", Some(collection), None, Some(keys.len()), ())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.refuse("delete_many", Some(collection), None, Some(keys.len()), 0)
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_keys(collection, limit).await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_collections(limit).await
    }

    async fn destroy(&self) -> Result<bool> {
        self.supported("destroy", |c| c.destroy)?;
        self.refuse("destroy", None, None, None, false)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.supported("destroy_collection", |c| c.destroy_collection)?;
        self.refuse("destroy_collection", Some(collection), None, None, false)
    }

    async fn cull(&self) -> Result<()> {
        self.supported("cull", |c| c.cull)?;
        self.refuse("cull", None, None, None, ())
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        self.inner.close().await
    }
}

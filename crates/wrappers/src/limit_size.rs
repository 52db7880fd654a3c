//! Keeps values outside a size range out of the store: py-key-value's `LimitSizeWrapper`.
//!
//! The size of a value is the length of its JSON text as py-key-value measures it
//! (`len(json.dumps(value, sort_keys=True))`: Python's separators, non-ASCII escaped, so
//! characters and bytes agree), so both sides accept and refuse the same values.
//!
//! A value larger than [`max_size`](LimitSizeLayer::max_size) is an
//! [`ErrorKind::EntryTooLarge`] error (or, with `raise_on_too_large(false)`, silently not
//! written); one smaller than [`min_size`](LimitSizeLayer::min_size) is silently not written
//! (or, with `raise_on_too_small(true)`, an [`ErrorKind::EntryTooSmall`] error). Exactly `max`
//! or `min` is accepted. In a batch, the values out of range are dropped and the rest written in
//! one batch; a value that raises fails the whole batch before anything is written. Reads are
//! not affected.
//!
//! Differences from py-key-value's wrapper: none in behaviour; a limit of 0 for `max_size`
//! refuses every value (py does too, since `{}` has 2 characters).
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, limit_size::LimitSizeLayer};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new().layer(LimitSizeLayer::new().max_size(20).min_size(10));
//! // {"v": "small"} is 14 characters: accepted.
//! store.put("ok", object!({"v": "small"})).await?;
//! let err = store.put("big", object!({"v": "far too large for the limit"})).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::EntryTooLarge);
//! // Too small is skipped silently by default.
//! store.put("tiny", object!({})).await?;
//! assert_eq!(store.get("tiny").await?, None);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use key_value_core::entry::{ManagedEntry, Object};
use key_value_core::json::to_python_json_object;
use key_value_core::{Error, ErrorKind, KeyValue, Result, StoreInfo};

use crate::Layer;

/// The size of `value` as py-key-value's `estimate_serialized_size` measures it.
///
/// ```
/// use key_value_core::object;
/// use key_value_wrappers::limit_size::serialized_size;
/// assert_eq!(serialized_size(&object!({})), 2);
/// assert_eq!(serialized_size(&object!({"a": 1})), 8);
/// assert_eq!(serialized_size(&object!({"é": "x"})), 15); // {"\u00e9": "x"}
/// ```
pub fn serialized_size(value: &Object) -> usize {
    to_python_json_object(value).len()
}

/// The configuration of [`LimitSize`]: the size range and what to do outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSizeLayer {
    min_size: Option<usize>,
    max_size: Option<usize>,
    raise_on_too_small: bool,
    raise_on_too_large: bool,
}

impl Default for LimitSizeLayer {
    fn default() -> Self {
        LimitSizeLayer::new()
    }
}

impl LimitSizeLayer {
    /// No limits yet; too large will raise, too small will be skipped (py's defaults).
    pub fn new() -> Self {
        LimitSizeLayer {
            min_size: None,
            max_size: None,
            raise_on_too_small: false,
            raise_on_too_large: true,
        }
    }

    /// Values larger than `bytes` are refused.
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Values smaller than `bytes` are refused.
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = Some(bytes);
        self
    }

    /// Whether a value too small is an [`ErrorKind::EntryTooSmall`] error (`true`) or skipped
    /// silently (`false`, the default).
    pub fn raise_on_too_small(mut self, raise: bool) -> Self {
        self.raise_on_too_small = raise;
        self
    }

    /// Whether a value too large is an [`ErrorKind::EntryTooLarge`] error (`true`, the default)
    /// or skipped silently (`false`).
    pub fn raise_on_too_large(mut self, raise: bool) -> Self {
        self.raise_on_too_large = raise;
        self
    }
}

impl<S: KeyValue> Layer<S> for LimitSizeLayer {
    type Store = LimitSize<S>;

    fn layer(self, inner: S) -> LimitSize<S> {
        LimitSize::from_layer(inner, self)
    }
}

/// A store that refuses values outside a size range. See the [module docs](self).
#[derive(Debug)]
pub struct LimitSize<S> {
    inner: S,
    config: LimitSizeLayer,
}

impl<S: KeyValue> LimitSize<S> {
    /// Wraps `inner`, refusing values larger than `max_size` with an
    /// [`ErrorKind::EntryTooLarge`] error.
    pub fn new(inner: S, max_size: usize) -> Self {
        LimitSize::from_layer(inner, LimitSizeLayer::new().max_size(max_size))
    }

    /// Wraps `inner` with a full configuration.
    pub fn from_layer(inner: S, config: LimitSizeLayer) -> Self {
        LimitSize { inner, config }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &LimitSizeLayer {
        &self.config
    }

    /// Whether `value` may be written: `Ok(false)` to skip it, an error to refuse it.
    fn admit(&self, collection: &str, key: &str, value: &Object) -> Result<bool> {
        let c = &self.config;
        if c.min_size.is_none() && c.max_size.is_none() {
            return Ok(true);
        }
        let size = serialized_size(value);
        if let Some(min) = c.min_size.filter(|min| size < *min) {
            if !c.raise_on_too_small {
                return Ok(false);
            }
            return Err(Error::new(
                ErrorKind::EntryTooSmall,
                format!("the value is {size} bytes of JSON; at least {min} are required"),
            )
            .with_collection(collection)
            .with_key(key));
        }
        if let Some(max) = c.max_size.filter(|max| size > *max) {
            if !c.raise_on_too_large {
                return Ok(false);
            }
            return Err(Error::new(
                ErrorKind::EntryTooLarge,
                format!("the value is {size} bytes of JSON; at most {max} are allowed"),
            )
            .with_collection(collection)
            .with_key(key));
        }
        Ok(true)
    }
}

impl<S: KeyValue> KeyValue for LimitSize<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.inner.get_entry(collection, key).await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        if self.admit(collection, key, &entry.value)? {
            self.inner.put_entry(collection, key, entry).await
        } else {
            Ok(())
        }
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
        // Every value is checked before anything is written, so a refusal writes nothing.
        let admitted = keys
            .iter()
            .zip(&entries)
            .map(|(k, e)| self.admit(collection, k, &e.value))
            .collect::<Result<Vec<bool>>>()?;
        if admitted.iter().all(|a| *a) {
            return self.inner.put_entries(collection, keys, entries).await;
        }
        let (kept_keys, kept_entries): (Vec<&str>, Vec<ManagedEntry>) = keys
            .iter()
            .zip(entries)
            .zip(&admitted)
            .filter(|(_, a)| **a)
            .map(|((k, e), _)| (*k, e))
            .unzip();
        if kept_keys.is_empty() {
            return Ok(());
        }
        self.inner
            .put_entries(collection, &kept_keys, kept_entries)
            .await
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

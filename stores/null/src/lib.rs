//! `NullStore`: stores nothing.
//!
//! Every write succeeds and is discarded; every read finds nothing; `delete` returns `false`.
//! Useful to switch caching off without changing code, and as a baseline in benchmarks. It
//! declares [`discards_writes`](key_value_core::Capabilities::discards_writes), so the
//! conformance suite checks exactly that. Stability: N/A.
//!
//! ```
//! use key_value_null::NullStore;
//! use key_value_core::prelude::*;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = NullStore::new();
//! store.put("k", object!({"a": 1})).await?;
//! assert_eq!(store.get("k").await?, None);
//! assert!(!store.delete("k").await?);
//! assert_eq!(store.keys().await.unwrap_err().kind(), ErrorKind::Unsupported);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use key_value_core::config::StoreUrl;
use key_value_core::entry::ManagedEntry;
use key_value_core::setup::CloseFlag;
use key_value_core::{Capabilities, Clock, KeyValue, Result, Stability, StoreInfo};

/// A store that keeps nothing. See the [crate docs](crate).
#[derive(Debug)]
pub struct NullStore {
    info: StoreInfo,
    closed: CloseFlag,
}

impl Default for NullStore {
    fn default() -> Self {
        NullStore::new()
    }
}

impl NullStore {
    /// The store.
    pub fn new() -> Self {
        NullStore {
            info: StoreInfo::new("NullStore", Stability::NotApplicable).with_capabilities(
                Capabilities {
                    discards_writes: true,
                    native_batch: true,
                    ..Capabilities::default()
                },
            ),
            closed: CloseFlag::default(),
        }
    }

    /// The URL scheme of this store.
    pub const SCHEME: &'static str = "null";

    /// The store from a `null://` URL (it takes no options).
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        url.check_options(&[])?;
        Ok(NullStore::new())
    }

    /// Uses `clock` for the timestamps of (discarded) writes.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.info = self.info.with_clock(clock);
        self
    }
}

impl KeyValue for NullStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, _collection: &str, _key: &str) -> Result<Option<ManagedEntry>> {
        self.closed.check()?;
        Ok(None)
    }

    async fn put_entry(&self, _collection: &str, _key: &str, _entry: ManagedEntry) -> Result<()> {
        self.closed.check()?;
        Ok(())
    }

    async fn delete_entry(&self, _collection: &str, _key: &str) -> Result<bool> {
        self.closed.check()?;
        Ok(false)
    }

    async fn get_entries(
        &self,
        _collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.closed.check()?;
        Ok(vec![None; keys.len()])
    }

    async fn put_entries(
        &self,
        _collection: &str,
        _keys: &[&str],
        _entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.closed.check()?;
        Ok(())
    }

    async fn delete_entries(&self, _collection: &str, _keys: &[&str]) -> Result<usize> {
        self.closed.check()?;
        Ok(0)
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        Ok(())
    }
}

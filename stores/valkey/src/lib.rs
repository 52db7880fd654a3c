//! `ValkeyStore`: py-key-value's Redis layout on Valkey, standalone or as a cluster.
//!
//! Valkey speaks Redis's protocol, so this is [`key_value_redis`]'s code under Valkey's name
//! and URL schemes: the same layout (`{collection}::{key}` holding py-key-value's envelope,
//! expiry in milliseconds on the key), batches in one round trip, `SCAN`-based enumeration,
//! `destroy` touching only this store's keys, TLS and mutual TLS, reconnection after a restart.
//! See [`key_value_redis`] for the details.
//!
//! # Cluster mode
//!
//! With `cluster=true` (or [`ValkeyConfig::cluster`]) the host is a seed node and `nodes` adds
//! more: `valkey://127.0.0.1:17001?cluster=true&nodes=127.0.0.1:17002,127.0.0.1:17003`. Batches
//! are grouped by hash slot (one `MGET`/`DEL`/`MSET` or pipeline per slot, sent concurrently,
//! results put back in the caller's order), so no `CROSSSLOT` error reaches the caller;
//! `keys()`, `collections()` and `destroy()` scan every primary (from `CLUSTER SLOTS`). The
//! client follows `MOVED`/`ASK` redirections and reconnects to a node that restarted.
//!
//! # URLs
//!
//! `valkey://[user[:password]@]host[:port][/db][?options]`, `valkeys://` for TLS; the options
//! are [`RedisConfig`]'s (`key_prefix`, `tls_ca`, `tls_cert`, `tls_key`, `tls_insecure`,
//! `cluster`, `nodes`, `flush_on_destroy`, ...).
//!
//! py-key-value's `ValkeyStore` (valkey-glide) writes the same keys and values (with a
//! whole-second expiry), so both read each other's entries.
//!
//! Stability: Stable (py-key-value's layout).
//!
//! ```no_run
//! use key_value_valkey::ValkeyConfig;
//! use key_value_core::config::StoreUrl;
//! use key_value_core::prelude::*;
//!
//! # async fn demo() -> Result<()> {
//! let url = StoreUrl::parse("valkey://127.0.0.1:7001?cluster=true&nodes=127.0.0.1:7002")?;
//! let store = ValkeyConfig::from_url(&url)?.open()?;
//! store.put_many(&["a", "b", "c"], vec![object!({"n": 1}), object!({"n": 2}), object!({"n": 3})]).await?;
//! # Ok(()) }
//! ```

use key_value_core::config::StoreUrl;
use key_value_core::entry::ManagedEntry;
use key_value_core::{KeyValue, Result, StoreInfo};

pub use key_value_redis::{RedisConfig, RedisStore, TlsOptions, redis};

/// The configuration of a [`ValkeyStore`]: a [`RedisConfig`] under Valkey's name and schemes.
/// Every builder method of `RedisConfig` is reachable through `Deref`-free wrappers below or
/// [`ValkeyConfig::with`].
#[derive(Debug, Clone)]
pub struct ValkeyConfig {
    inner: RedisConfig,
}

impl ValkeyConfig {
    /// The URL scheme of plain connections.
    pub const SCHEME: &'static str = "valkey";
    /// The URL scheme of TLS connections.
    pub const TLS_SCHEME: &'static str = "valkeys";

    /// A server at `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ValkeyConfig::from_redis(RedisConfig::new(host, port))
    }

    /// From a [`RedisConfig`] built with any of its options.
    pub fn from_redis(config: RedisConfig) -> Self {
        ValkeyConfig {
            inner: config.store_name("ValkeyStore"),
        }
    }

    /// Parses a `valkey://` or `valkeys://` URL (see the [crate docs](crate#urls)).
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        RedisConfig::from_url_schemes(url, &[Self::SCHEME], &[Self::TLS_SCHEME])
            .map(Self::from_redis)
    }

    /// Applies any [`RedisConfig`] builder method: `config.with(|c| c.key_prefix("app:"))`.
    pub fn with(self, f: impl FnOnce(RedisConfig) -> RedisConfig) -> Self {
        ValkeyConfig::from_redis(f(self.inner))
    }

    /// Cluster mode (see the [crate docs](crate#cluster-mode)).
    pub fn cluster(self, cluster: bool) -> Self {
        self.with(|c| c.cluster(cluster))
    }

    /// More seed nodes (turns cluster mode on).
    pub fn nodes<S: Into<String>>(self, nodes: impl IntoIterator<Item = (S, u16)>) -> Self {
        self.with(|c| c.nodes(nodes))
    }

    /// A prefix before every key ([`RedisConfig::key_prefix`]).
    pub fn key_prefix(self, prefix: impl Into<String>) -> Self {
        self.with(|c| c.key_prefix(prefix))
    }

    /// The clock expiry is measured by.
    pub fn clock(self, clock: key_value_core::Clock) -> Self {
        self.with(|c| c.clock(clock))
    }

    /// The underlying Redis configuration.
    pub fn as_redis(&self) -> &RedisConfig {
        &self.inner
    }

    /// The store; connects on first use (see [`RedisConfig::open`]).
    pub fn open(self) -> Result<ValkeyStore> {
        Ok(ValkeyStore(self.inner.open()?))
    }

    /// The store, connected (a first `PING`).
    pub async fn connect(self) -> Result<ValkeyStore> {
        Ok(ValkeyStore(self.inner.connect().await?))
    }
}

/// A store on Valkey: [`RedisStore`] under Valkey's name.
#[derive(Debug)]
pub struct ValkeyStore(RedisStore);

impl ValkeyStore {
    /// The Redis store underneath (for its diagnostics: `redis_ttl`, `raw_value`).
    pub fn as_redis(&self) -> &RedisStore {
        &self.0
    }
}

impl KeyValue for ValkeyStore {
    fn info(&self) -> &StoreInfo {
        self.0.info()
    }
    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.0.get_entry(collection, key).await
    }
    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.0.put_entry(collection, key, entry).await
    }
    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.0.delete_entry(collection, key).await
    }
    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.0.get_entries(collection, keys).await
    }
    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.0.put_entries(collection, keys, entries).await
    }
    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.0.delete_entries(collection, keys).await
    }
    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.0.list_keys(collection, limit).await
    }
    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.0.list_collections(limit).await
    }
    async fn destroy(&self) -> Result<bool> {
        self.0.destroy().await
    }
    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.0.destroy_collection(collection).await
    }
    async fn close(&self) -> Result<()> {
        self.0.close().await
    }
}

//! [`MemcachedStore`]: entries on a memcached server, in py-key-value's `MemcachedStore` layout,
//! so a Rust and a Python program can share one server.
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_memcached::MemcachedConfig;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<()> {
//! let store = MemcachedConfig::new("127.0.0.1:11211").open()?; // connects at first use
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! // In Python: await MemcachedStore(host="127.0.0.1", port=11211).get("user:1", collection="users")
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! Exactly py-key-value 0.4.6's, with its default settings:
//!
//! - **key**: `collection::key` (UTF-8), with the optional [prefix](MemcachedConfig::prefix)
//!   in front (none by default) and the optional [key sanitization](KeySanitization) applied to
//!   `collection::key`;
//! - **flags**: `0`;
//! - **value**: the envelope `{"collection": …, "created_at": …, "expires_at": …, "key": …,
//!   "value": {…}, "version": 1}` in Python's `json.dumps(…, sort_keys=True)` form
//!   ([`Envelope::WITH_KEY`]);
//! - **exptime**: `0` without a TTL, else the remaining seconds (see below).
//!
//! # Keys
//!
//! memcached keys have at most 250 bytes and no spaces or control characters. With the
//! default [`KeySanitization::Passthrough`] (py-key-value's default, so Python reads and writes
//! the same keys) a key that breaks these rules is an [`InvalidKey`](ErrorKind::InvalidKey)
//! error (an [`InvalidCollection`](ErrorKind::InvalidCollection) one when the collection name is
//! at fault) **before anything is sent**, never a protocol error; the store declares
//! `max_key_length` and `max_collection_length` of `247 − prefix` characters, and checks the
//! whole key in bytes. [`KeySanitization::V1`] is py-key-value's
//! `MemcachedV1KeySanitizationStrategy` (compound keys over 240 characters hashed to `H_` +
//! SHA-256, compound keys starting with `H_`/`S_` rejected), extended so that every other key
//! memcached would refuse is hashed the same way: with V1 every key works, and the keys Python
//! can store are the same bytes. The prefix counts toward the 250 bytes.
//!
//! # Expiry
//!
//! Expiry is always enforced on read from the envelope's `expires_at`, to the microsecond, by
//! the store's [clock](MemcachedConfig::clock); the server's exptime only frees memory. It is
//! the remaining time **rounded up** to whole seconds (at least 1 s; py-key-value rounds down,
//! so the server may drop its entries up to a second early). memcached reads an exptime over
//! 30 days (2 592 000 s) as an absolute Unix time, so longer TTLs are sent as `now + ttl` in
//! Unix seconds by this machine's clock, which must then roughly agree with the server's
//! (py-key-value sends them relative, and memcached then drops them at once);
//! beyond 2038 (memcached's 32-bit exptime) the entry gets no server-side expiry.
//!
//! # Values
//!
//! A memcached item holds at most `item_size_max` bytes (`-I`, 1 MiB by default) including its
//! key and about 60 bytes of overhead. At its first write the store reads the server's
//! `item_size_max` (`stats settings`) and from then on rejects larger entries with a
//! [`ValueTooLarge`](ErrorKind::ValueTooLarge) error before sending them. The declared
//! `max_value_size` (a bound on the envelope text that holds for every key) assumes a default
//! server until then and is the server's afterwards.
//!
//! # Batches, connections, failures
//!
//! `get_many` is one multi-get, `put_many` and `delete_many` one pipeline: one round trip each.
//! The store keeps a pool of [`pool_size`](MemcachedConfig::pool_size) connections usable
//! from any number of tasks. [`MemcachedConfig::open`] sends nothing (and needs no runtime):
//! the first call connects. While the server is unreachable calls fail with temporary
//! [`Connection`](ErrorKind::Connection) (or [`Timeout`](ErrorKind::Timeout)) errors; once it is
//! back, the same store reconnects by itself. The store needs a tokio runtime with I/O and
//! time enabled.
//!
//! # What memcached cannot do
//!
//! memcached cannot list keys, so `keys`, `collections` and `destroy_collection` are
//! [`Unsupported`](ErrorKind::Unsupported), and so is `cull` (the server expires entries
//! itself). `destroy` sends `flush_all`, which empties the **whole server**, so it is allowed
//! only with [`allow_flush`](MemcachedConfig::allow_flush); otherwise it is `Unsupported`. The
//! capabilities say so. memcached is a cache: it evicts entries under memory pressure and keeps
//! nothing across its restarts, so the store does not declare `persistent`. py-key-value marks
//! its memcached store unstable; so does this one ([`Stability::Unstable`]).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::setup::CloseFlag;
use key_value_core::{Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo};
use tokio::sync::OnceCell;

mod client;
mod config;
mod keys;

pub use client::RawItem;
pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_PORT, DEFAULT_TIMEOUT, MemcachedConfig,
};
pub use keys::{KeySanitization, MAX_KEY_BYTES, MAX_PREFIX_BYTES, is_valid_memcached_key};

use client::{Pool, Request, Response, SetItem};
use keys::KeyMaker;

/// memcached's default `item_size_max` (`-I 1m`).
pub const DEFAULT_ITEM_SIZE_MAX: usize = 1024 * 1024;

/// What an item costs beyond its key and value: the item header (48 bytes on 64-bit builds),
/// the CAS value (8), the key's terminating NUL and the value's `\r\n` (59 measured on
/// memcached 1.6.18), rounded up.
pub const ITEM_OVERHEAD: usize = 64;

/// memcached reads an exptime above this many seconds (30 days) as an absolute Unix time.
pub const MAX_RELATIVE_EXPTIME: u64 = 60 * 60 * 24 * 30;

/// The largest envelope any key can store on a server with this `item_size_max`.
fn value_bound(item_size_max: usize, cap: Option<usize>) -> usize {
    let bound = item_size_max.saturating_sub(ITEM_OVERHEAD + MAX_KEY_BYTES);
    cap.map_or(bound, |c| c.min(bound))
}

/// A store on a memcached server, in py-key-value's layout. See the [crate docs](crate).
pub struct MemcachedStore {
    info: StoreInfo,
    /// The info with the server's real `max_value_size`, once read.
    probed_info: OnceLock<StoreInfo>,
    item_size_max: OnceCell<usize>,
    pool: Pool,
    keys: KeyMaker,
    allow_flush: bool,
    max_value_size: Option<usize>,
    closed: CloseFlag,
}

impl std::fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("address", &self.pool.address())
            .field("keys", &self.keys)
            .field("allow_flush", &self.allow_flush)
            .finish_non_exhaustive()
    }
}

impl MemcachedStore {
    /// A store on the server at `address` (`host:port`) with the default settings; see
    /// [`MemcachedConfig`] for the others. Connects at first use.
    pub fn new(address: impl Into<String>) -> Result<Self> {
        MemcachedConfig::new(address).open()
    }

    pub(crate) fn from_config(c: MemcachedConfig) -> Self {
        let passthrough = matches!(c.sanitization, KeySanitization::Passthrough);
        // Passthrough: the longest key (or collection) that fits next to a one-character
        // collection (or key), in characters; the byte limit is checked on every call.
        let room = MAX_KEY_BYTES - c.prefix.len() - 3;
        let capabilities = Capabilities {
            native_ttl: true,
            native_batch: true,
            destroy: c.allow_flush,
            max_key_length: passthrough.then_some(room),
            max_collection_length: passthrough.then_some(room),
            max_value_size: Some(value_bound(DEFAULT_ITEM_SIZE_MAX, c.max_value_size)),
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new("MemcachedStore", Stability::Unstable)
            .with_capabilities(capabilities)
            .with_clock(c.clock.clone());
        if let Some(dc) = &c.default_collection {
            info = info.with_default_collection(dc.clone());
        }
        MemcachedStore {
            info,
            probed_info: OnceLock::new(),
            item_size_max: OnceCell::new(),
            pool: Pool::new(c.address, c.pool_size, c.connect_timeout, c.timeout),
            keys: KeyMaker::new(c.prefix, c.sanitization),
            allow_flush: c.allow_flush,
            max_value_size: c.max_value_size,
            closed: CloseFlag::default(),
        }
    }

    /// The server address, `host:port`.
    pub fn address(&self) -> &str {
        self.pool.address()
    }

    /// The memcached key `key` in `collection` is stored under: prefix, `collection::key`,
    /// sanitization. An [`InvalidKey`](ErrorKind::InvalidKey) (or `InvalidCollection`) error
    /// when memcached cannot hold it.
    ///
    /// ```
    /// # use key_value_memcached::MemcachedConfig;
    /// let store = MemcachedConfig::new("127.0.0.1:11211").prefix("app:").open()?;
    /// assert_eq!(store.memcached_key("users", "user:1")?, "app:users::user:1");
    /// assert!(store.memcached_key("users", "user 1").is_err());
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn memcached_key(&self, collection: &str, key: &str) -> Result<String> {
        self.keys.make(collection, key)
    }

    /// Reads an item as the server holds it (bytes, flags, remaining server TTL) with the meta
    /// command `mg`; `None` when absent. For inspection and tests: nothing is decoded.
    pub async fn raw_get(&self, memcached_key: &str) -> Result<Option<RawItem>> {
        self.closed.check()?;
        if !is_valid_memcached_key(memcached_key) {
            return Err(
                Error::new(ErrorKind::InvalidKey, "not a valid memcached key")
                    .with_key(memcached_key),
            );
        }
        match self.pool.call(&Request::MetaGet(memcached_key)).await? {
            Response::Meta(item) => Ok(item),
            _ => Err(mismatch()),
        }
    }

    /// The server's `item_size_max` (read once, at the first write or this call).
    pub async fn item_size_max(&self) -> Result<usize> {
        self.closed.check()?;
        self.item_size_max
            .get_or_try_init(|| async {
                let size = match self.pool.call(&Request::StatsSettings).await {
                    Ok(Response::Stats(stats)) => stats
                        .get("item_size_max")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(DEFAULT_ITEM_SIZE_MAX),
                    Ok(_) => DEFAULT_ITEM_SIZE_MAX,
                    // A server or proxy without `stats settings`: assume the default.
                    Err(e) if e.kind() == ErrorKind::Backend => DEFAULT_ITEM_SIZE_MAX,
                    Err(e) => return Err(e),
                };
                let mut info = self.info.clone();
                info.capabilities_mut().max_value_size =
                    Some(value_bound(size, self.max_value_size));
                let _ = self.probed_info.set(info);
                Ok(size)
            })
            .await
            .copied()
    }

    /// The largest envelope `memcached_key` can hold.
    async fn value_limit(&self, memcached_key: &str) -> Result<usize> {
        let size = self.item_size_max().await?;
        let limit = size.saturating_sub(ITEM_OVERHEAD + memcached_key.len());
        Ok(self.max_value_size.map_or(limit, |c| c.min(limit)))
    }

    /// The exptime of `entry`: 0 without expiry; else the remaining seconds rounded up (at
    /// least 1), as an absolute Unix time beyond 30 days, and 0 beyond memcached's 32-bit range.
    fn exptime(&self, entry: &ManagedEntry) -> i64 {
        let Some(expires_at) = entry.expires_at else {
            return 0;
        };
        let remaining = expires_at
            .duration_since(self.info.clock().now())
            .unwrap_or(Duration::ZERO);
        let secs = (remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0)).max(1);
        if secs <= MAX_RELATIVE_EXPTIME {
            return secs as i64;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let absolute = now.saturating_add(secs);
        i64::try_from(absolute)
            .ok()
            .filter(|a| *a <= i64::from(i32::MAX))
            .unwrap_or(0)
    }

    /// The envelope of `entry` as stored, checked against the item size.
    async fn encode(
        &self,
        collection: &str,
        key: &str,
        memcached_key: &str,
        entry: &ManagedEntry,
    ) -> Result<String> {
        let text = Envelope::WITH_KEY.dump(entry, collection, key);
        let limit = self.value_limit(memcached_key).await?;
        if text.len() > limit {
            return Err(Error::new(
                ErrorKind::ValueTooLarge,
                format!(
                    "the entry is {} bytes; memcached at {} holds at most {limit} for this key \
                     (item_size_max {} minus key and item overhead)",
                    text.len(),
                    self.address(),
                    self.item_size_max
                        .get()
                        .copied()
                        .unwrap_or(DEFAULT_ITEM_SIZE_MAX),
                ),
            )
            .with_key(key));
        }
        Ok(text)
    }

    async fn set(&self, items: &[SetItem<'_>], keys: &[&str]) -> Result<()> {
        match self.pool.call(&Request::Set(items)).await? {
            Response::Stored(results) => {
                for (result, key) in results.into_iter().zip(keys) {
                    if let Err(line) = result {
                        let kind = if line.contains("object too large") {
                            ErrorKind::ValueTooLarge
                        } else {
                            ErrorKind::Backend
                        };
                        return Err(Error::new(
                            kind,
                            format!("memcached at {} did not store it: {line}", self.address()),
                        )
                        .with_temporary(kind == ErrorKind::Backend)
                        .with_key(*key));
                    }
                }
                Ok(())
            }
            _ => Err(mismatch()),
        }
    }

    async fn fetch(&self, memcached_keys: &[&str]) -> Result<HashMap<String, Vec<u8>>> {
        match self.pool.call(&Request::Get(memcached_keys)).await? {
            Response::Values(found) => Ok(found),
            _ => Err(mismatch()),
        }
    }
}

fn mismatch() -> Error {
    Error::new(
        ErrorKind::Backend,
        "internal error: answer of another request",
    )
}

/// Reads a stored envelope; anything else is a `Deserialization` error naming the key.
fn decode(bytes: &[u8], key: &str) -> Result<ManagedEntry> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::Deserialization,
            "the stored value is not UTF-8 text (not written by key-value or py-key-value)",
        )
        .with_key(key)
    })?;
    Envelope::load(text).map_err(|e| e.with_key(key))
}

impl KeyValue for MemcachedStore {
    fn info(&self) -> &StoreInfo {
        self.probed_info.get().unwrap_or(&self.info)
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.closed.check()?;
        let mk = self.keys.make(collection, key)?;
        let mut found = self.fetch(&[mk.as_str()]).await?;
        found.remove(&mk).map(|b| decode(&b, key)).transpose()
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.closed.check()?;
        let mk = self.keys.make(collection, key)?;
        let text = self.encode(collection, key, &mk, &entry).await?;
        let item = SetItem {
            key: &mk,
            exptime: self.exptime(&entry),
            data: text.as_bytes(),
        };
        self.set(&[item], &[key]).await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.closed.check()?;
        let mk = self.keys.make(collection, key)?;
        match self.pool.call(&Request::Delete(&[mk.as_str()])).await? {
            Response::Deleted(d) => Ok(d.first().copied().unwrap_or(false)),
            _ => Err(mismatch()),
        }
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.closed.check()?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mks = keys
            .iter()
            .map(|k| self.keys.make(collection, k).map_err(|e| e.with_key(*k)))
            .collect::<Result<Vec<_>>>()?;
        let mut unique: Vec<&str> = Vec::with_capacity(mks.len());
        let mut seen = std::collections::HashSet::with_capacity(mks.len());
        for mk in &mks {
            if seen.insert(mk.as_str()) {
                unique.push(mk);
            }
        }
        let found = self.fetch(&unique).await?;
        mks.iter()
            .zip(keys)
            .map(|(mk, key)| found.get(mk).map(|b| decode(b, key)).transpose())
            .collect()
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.closed.check()?;
        if keys.is_empty() {
            return Ok(());
        }
        // Every key and size is checked before anything is sent.
        let mut prepared = Vec::with_capacity(keys.len());
        for (key, entry) in keys.iter().zip(&entries) {
            let mk = self
                .keys
                .make(collection, key)
                .map_err(|e| e.with_key(*key))?;
            let text = self.encode(collection, key, &mk, entry).await?;
            prepared.push((mk, text, self.exptime(entry)));
        }
        let items: Vec<SetItem<'_>> = prepared
            .iter()
            .map(|(mk, text, exptime)| SetItem {
                key: mk,
                exptime: *exptime,
                data: text.as_bytes(),
            })
            .collect();
        self.set(&items, keys).await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.closed.check()?;
        if keys.is_empty() {
            return Ok(0);
        }
        let mks = keys
            .iter()
            .map(|k| self.keys.make(collection, k).map_err(|e| e.with_key(*k)))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&str> = mks.iter().map(String::as_str).collect();
        match self.pool.call(&Request::Delete(&refs)).await? {
            Response::Deleted(d) => Ok(d.into_iter().filter(|x| *x).count()),
            _ => Err(mismatch()),
        }
    }

    async fn destroy(&self) -> Result<bool> {
        self.closed.check()?;
        if !self.allow_flush {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "MemcachedStore does not support destroy unless allow_flush is set: it sends \
                 flush_all, which empties the whole memcached server",
            )
            .with_operation("destroy"));
        }
        match self.pool.call(&Request::FlushAll).await? {
            Response::Done => Ok(true),
            _ => Err(mismatch()),
        }
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        self.pool.close();
        Ok(())
    }
}

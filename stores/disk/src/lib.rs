//! Persistent stores in py-key-value's diskcache layout: [`DiskStore`] and [`MultiDiskStore`].
//!
//! Both keep their entries in SQLite databases laid out exactly as Python's
//! [diskcache](https://grantjenks.com/docs/diskcache/) 5.6.3 creates them, holding the rows
//! py-key-value 0.4.6's `DiskStore` and `MultiDiskStore` write. A Rust program and a Python
//! program can therefore share one directory, one after the other or at the same time.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_disk::DiskConfig;
//!
//! # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let store = DiskConfig::new(dir.path()).max_size(64 << 20).open()?;
//! store.put("user:1", object!({"name": "Alice", "age": 30})).collection("users").ttl(3600).await?;
//! let (value, ttl) = store.ttl("user:1").collection("users").await?.expect("just written");
//! assert_eq!(value["name"], "Alice");
//! assert!(ttl.expect("a TTL").as_secs() > 3590);
//! assert_eq!(store.keys().collection("users").await?, ["user:1"]);
//! store.close().await?;
//!
//! // The same directory later, or from another process: the entry is there.
//! let again = DiskConfig::new(dir.path()).open()?;
//! assert!(again.get("user:1").collection("users").await?.is_some());
//! // In Python: DiskStore(directory=dir).get("user:1", collection="users")
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```
//!
//! # Which store
//!
//! | | [`DiskStore`] | [`MultiDiskStore`] |
//! |---|---|---|
//! | layout | one `cache.db` for all collections | `<base>/<collection>/cache.db` per collection |
//! | stored key | `collection::key` | `key` |
//! | `max_size` bounds | the whole store | each collection |
//! | opened | by [`DiskConfig::open`] | base by [`MultiDiskConfig::open`], each collection on first use |
//! | URL | `disk:///path?max_size=…` | `multidisk:///path?max_size=…` |
//!
//! Both declare [`Stability::Stable`] (py-key-value's marking: the format is diskcache's and
//! will not change), `persistent`, `native_ttl`, `native_batch` and every optional operation:
//! `keys`, `collections`, `destroy`, `destroy_collection` and `cull`, which py-key-value's disk
//! stores do not have.
//!
//! # On-disk format
//!
//! A cache directory holds `cache.db` (with `cache.db-wal` and `cache.db-shm` while it is open:
//! WAL mode) and the value files. The schema is diskcache's, statement for statement, so
//! `sqlite3 cache.db .schema` prints the same text for a Rust-created and a Python-created
//! cache:
//!
//! ```sql
//! CREATE TABLE Settings ( key TEXT NOT NULL UNIQUE, value);
//! CREATE TABLE Cache ( rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, store_time REAL,
//!   expire_time REAL, access_time REAL, access_count INTEGER DEFAULT 0, tag BLOB,
//!   size INTEGER DEFAULT 0, mode INTEGER DEFAULT 0, filename TEXT, value BLOB);
//! CREATE UNIQUE INDEX Cache_key_raw ON Cache(key, raw);
//! CREATE INDEX Cache_expire_time ON Cache (expire_time);
//! CREATE INDEX Cache_store_time ON Cache (store_time);   -- only with max_size
//! -- five triggers keep Settings' `count` (rows) and `size` (value file bytes) current:
//! -- Settings_count_insert, Settings_count_delete, Settings_size_insert,
//! -- Settings_size_update, Settings_size_delete
//! ```
//!
//! **Settings** holds diskcache's settings, merged as `diskcache.Cache()` merges them (its
//! defaults, then what is stored, then what the store asks) and rewritten in its order:
//! `statistics=0`, `tag_index=0`, `eviction_policy` (`none`, or `least-recently-stored` with
//! `max_size`), `size_limit` (2³⁰, or `max_size`), `cull_limit=10`, `sqlite_auto_vacuum=1`,
//! `sqlite_cache_size=8192`, `sqlite_journal_mode=wal`, `sqlite_mmap_size=67108864`,
//! `sqlite_synchronous=1`, `disk_min_file_size=32768`, `disk_pickle_protocol=5`, then the
//! counters `count`, `size`, `hits`, `misses`. The `sqlite_*` settings are applied as pragmas
//! to every connection, as diskcache does (`auto_vacuum` before any table exists).
//!
//! **Rows.** Each entry is one `Cache` row: `key` the stored key as TEXT with `raw=1`;
//! `store_time` and `access_time` the write time and `expire_time` the expiry (or NULL), as
//! epoch seconds (REAL); `access_count=0`, `tag=NULL`. The value is py-key-value's envelope,
//! `{"collection": …, "created_at": …, "expires_at": …, "key": …, "value": {…}, "version": 1}`
//! in Python's `json.dumps(…, sort_keys=True)` form
//! ([`Envelope::WITH_KEY`](key_value_core::entry::Envelope::WITH_KEY)). Below 32 KiB
//! (`disk_min_file_size` characters) it is stored inline: `mode=1`, `value` TEXT, `size=0`,
//! `filename` NULL. From 32 KiB on it goes to a UTF-8 file named like diskcache's,
//! `xx/yy/<28 hex digits>.val` from 16 random bytes: `mode=3`, `filename` that relative path,
//! `size` its bytes, `value` NULL. Files are removed with their row (after the transaction
//! commits), with the `xx/yy` directories they leave empty.
//!
//! **Reading** follows py-key-value: rows whose `expire_time` has passed (by the store's
//! [clock](DiskConfig::clock)) are misses; a non-zero `expire_time` replaces the envelope's
//! `expires_at`; a value that is not text (what diskcache stores for Python bytes, numbers or
//! pickles) is a miss; a text that is not an envelope is an
//! [`ErrorKind::Deserialization`](key_value_core::ErrorKind::Deserialization) error naming the
//! key, and other keys keep working. Data from the database is never trusted: no `unwrap`, and
//! a `filename` that would leave the directory is a
//! [`PathSecurity`](key_value_core::ErrorKind::PathSecurity) error, never opened or removed.
//!
//! # `MultiDiskStore`
//!
//! Each collection gets its own cache in `<base>/<sanitize_filename(collection)>`, where
//! [`sanitize_filename`] is a port of `pathvalidate.sanitize_filename`, the function
//! py-key-value uses: forbidden characters (`/ \ : * ? " < > |` and control characters) are
//! removed, the name is cut to 255 bytes, a reserved Windows name gets an `_` (`con` →
//! `con_`), leading spaces and trailing spaces and dots are stripped. Its output is checked
//! against pathvalidate itself in the interop tests. The mapping is lossy, so where py-key-value
//! would let `a/b` and `ab` share a directory (and overwrite each other's keys), this store
//! refuses the second one with [`InvalidCollection`](key_value_core::ErrorKind::InvalidCollection),
//! learning the owner from the stored envelopes; names that sanitize to `""`, `.` or `..`
//! (such as `" "` or `"..."`) are refused too. [`MultiDiskStore::collection_directory`] tells
//! where a collection lives.
//!
//! Collections are opened on first use, once, even when many tasks start at the same time; a
//! read, `keys` or `delete` of a collection that has no directory returns nothing without
//! creating one.
//!
//! # `max_size`: a byte bound
//!
//! [`max_size`](DiskConfig::max_size) is diskcache's `size_limit`: a bound on the cache's
//! *volume*, the SQLite pages plus the bytes of the value files, not on a number of entries,
//! so the store declares no `max_entries` in its capabilities (it has no field for bytes;
//! [`DiskStore::max_size`] reports it). As in diskcache, every write then removes up to
//! `cull_limit` (10) expired entries and, if the volume has reached the limit, the least
//! recently *stored* entries up to the same count. The volume therefore stays below the limit
//! as long as single values are smaller than it; an entry larger than the whole limit is
//! evicted by the write that stored it. [`cull`](key_value_core::KeyValue::cull) removes every
//! expired entry and evicts until the volume is within the limit (diskcache's `Cache.cull`),
//! which also applies a lowered limit at once.
//!
//! Without `max_size` the policy is `none`, as py-key-value sets it: nothing is evicted, even
//! in a cache created with a bound. With `max_size`, a cache whose stored policy is `none`
//! switches to `least-recently-stored` (py-key-value would keep `none` and silently not
//! bound it); another stored policy (`least-recently-used`, `least-frequently-used`) is kept
//! and honoured, reads then updating `access_time` or `access_count` as diskcache's do, and
//! `statistics=1` makes reads count `hits` and `misses`.
//!
//! # Durability
//!
//! Every write is one SQLite transaction (`BEGIN IMMEDIATE` … `COMMIT`); a batch
//! (`put_many`, `delete_many`) is one transaction, all or nothing. With diskcache's
//! `synchronous=NORMAL` (1) in WAL mode, `COMMIT` writes the transaction to the WAL file before
//! it returns, and the WAL is synced to the device only at checkpoints. So a put that returned
//! `Ok` **survives the process being killed** (`kill -9`, a panic, an abort): the data is in the
//! operating system's page cache. It is **not guaranteed to survive a power loss or an OS
//! crash**: the last transactions before one may be lost, though the database stays
//! consistent. Value files are written (and, like the WAL, not synced) before their row is
//! committed, so a committed row always finds its file; a process killed between the two
//! leaves an orphan file that diskcache's `Cache.check(fix=True)` removes.
//!
//! [`Synchronous::Full`] (`synchronous(Synchronous::Full)`, URL `synchronous=full`) stores
//! `sqlite_synchronous=2`, which Python's diskcache then applies too: the WAL is synced at
//! every commit and value files (and their directory) before their row, so a put that
//! returned survives a power loss as well, for a slower write.
//!
//! The crash test (`tests/crash.rs`) kills a writer with SIGKILL at random moments, 25 times,
//! and checks that every acknowledged write is there, that SQLite's integrity check passes,
//! that the counters match the rows and that every value file is complete.
//!
//! # Several processes
//!
//! Any number of processes, Rust or Python, may use one directory at once: SQLite's locks
//! serialize the writers and WAL lets readers run alongside them. A write that finds the
//! database locked retries (after 20 µs, doubling up to 4 ms, jittered) until it gets the lock
//! or the [busy timeout](DiskConfig::busy_timeout) (60 s, diskcache's default) passes, then
//! fails with a temporary [`ErrorKind::Timeout`](key_value_core::ErrorKind::Timeout) error.
//! Opening a cache that another process is creating is retried the same way. The Settings
//! `count` and `size` are kept by triggers inside each transaction, so they stay exact; the
//! tests run two writer processes (and Python with Rust) on one directory and compare them
//! with the rows. Within a process, one writer connection per cache (behind a mutex) takes the
//! writes, and a small pool of connections serves the reads.
//!
//! # Async, and what was measured
//!
//! SQLite is blocking. Writes, enumeration and removal run on tokio's blocking pool
//! ([`spawn_blocking`](tokio::task::spawn_blocking)), so the async runtime is never blocked:
//! not by a checkpoint that syncs the disk (milliseconds) nor by a lock held by another
//! process (up to the busy timeout). Reads (`get`, `get_many`, `ttl`) run on the caller's
//! thread when that cannot block: an idle reader connection, one attempt (a locked database
//! sends the read to the blocking pool instead of waiting), values held in the database (a
//! value in its own file is read on the pool), and no statistics or access-time updates. A WAL
//! reader never waits for the writer, so such a read takes microseconds; it saves the
//! ~15 µs hand-off to the pool (see the table below and `docs/benchmarks.md`). No lock is held across an `.await`. A call whose future
//! is dropped still completes (a cancelled put may be applied, atomically).
//!
//! Measured in release mode on a 2-CPU Linux VM (`cargo test --release -p key-value-disk
//! latency -- --ignored --nocapture`; 5,000 calls each, small value, one task):
//!
//! | how | put mean / p50 / p99 / max | get mean / p50 / p99 / max |
//! |---|---|---|
//! | inline (blocks the runtime thread) | 22 / 16 / 31-42 / 3,100-3,400 µs | 23 / 22 / 37 / 300 µs |
//! | `spawn_blocking` (this crate) | 37 / 29 / 71-89 / 2,800-3,400 µs | 41 / 38-42 / 74-82 / 320-390 µs |
//! | one dedicated thread per store | 63 / 56 / 91 / 2,900-3,100 µs | 64 / 63 / 91 / 1,200-4,100 µs |
//!
//! `spawn_blocking` costs about 15 µs per call over inline, and beats a dedicated thread
//! with a channel (whose hand-offs cost more and which serializes all calls). The
//! millisecond maxima are WAL checkpoints: inline, they would stall every task on that runtime
//! thread. 16 concurrent tasks reached about 28,000-31,000 operations per second.
//!
//! # Enumeration and removal
//!
//! - `keys(collection)`: the live keys, in key order (`limit` honoured). For DiskStore the
//!   stored keys `collection::k`; for MultiDiskStore the keys of the collection's cache.
//! - `collections()`: the collections with live entries, sorted. DiskStore splits each stored
//!   key at its **first** `::`, as py-key-value does (so a collection name containing `::`
//!   is listed by its first part; its keys are still found by `keys` with the full name).
//!   MultiDiskStore lists the directories holding a cache with live entries, named by the
//!   collection their envelopes record (`a/b`, not `ab`) when sanitization changed it.
//! - `destroy()` / `destroy_collection(c)`: remove the rows and their value files, in
//!   batches so other writers get turns; whether anything was removed. MultiDiskStore empties
//!   the collection's cache and keeps its directory and `cache.db`, because another process
//!   may have that database open, and deleting an open SQLite file would silently lose that
//!   process's later writes.
//! - `cull()`: removes expired rows and their files, then evicts down to `max_size`.
//! - `delete` of an expired entry removes its row but reports `false`, as diskcache reports
//!   it absent.
//!
//! [`close`](key_value_core::KeyValue::close) closes every connection (SQLite then checkpoints
//! and removes the WAL files); later calls fail with
//! [`ErrorKind::Closed`](key_value_core::ErrorKind::Closed).
//!
//! # Errors
//!
//! A missing directory with [`auto_create(false)`](DiskConfig::auto_create), a path that is
//! a file, a `cache.db` that is not a SQLite database or cannot be opened: an
//! [`ErrorKind::Setup`](key_value_core::ErrorKind::Setup) error naming the file. A database
//! locked beyond the busy timeout: a temporary `Timeout` error. Other SQLite and file errors:
//! `Backend` errors naming the file, with the SQLite error as their source.

mod cache;
mod common;
mod config;
mod multi;
mod sanitize;

#[cfg(test)]
mod latency;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use key_value_core::entry::ManagedEntry;
use key_value_core::setup::CloseFlag;
use key_value_core::{Capabilities, KeyValue, Result, Stability, StoreInfo};

pub use cache::Synchronous;
pub use config::{DiskConfig, MultiDiskConfig};
pub use multi::MultiDiskStore;
pub use sanitize::sanitize_filename;

use cache::{Cache, KeyRange};
use common::{blocking, decode_all, now_secs, put_item};

/// py-key-value's compound-key separator.
const SEPARATOR: &str = "::";

/// The capabilities both stores declare.
fn capabilities() -> Capabilities {
    Capabilities {
        native_ttl: true,
        native_batch: true,
        enumerate_keys: true,
        enumerate_collections: true,
        destroy: true,
        destroy_collection: true,
        cull: true,
        persistent: true,
        ..Capabilities::default()
    }
}

/// Builds a store's info from its config.
fn store_info(name: &'static str, common: &config::Common) -> StoreInfo {
    let mut info = StoreInfo::new(name, Stability::Stable)
        .with_capabilities(capabilities())
        .with_clock(common.clock.clone());
    if let Some(c) = &common.default_collection {
        info = info.with_default_collection(c.clone());
    }
    info
}

/// A persistent store in one diskcache directory, as py-key-value's `DiskStore`: every
/// collection in one `cache.db`, under the key `collection::key`. See the [crate docs](crate).
pub struct DiskStore {
    info: StoreInfo,
    cache: Arc<Cache>,
    closed: CloseFlag,
    max_size: Option<u64>,
}

impl std::fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskStore")
            .field("directory", &self.cache.dir())
            .field("max_size", &self.max_size)
            .field("default_collection", &self.info.default_collection())
            .field("closed", &self.closed.is_closed())
            .finish()
    }
}

impl DiskStore {
    /// Opens (creating if needed) the store in `directory` with the defaults:
    /// `DiskConfig::new(directory).open()`.
    pub fn open(directory: impl Into<PathBuf>) -> Result<DiskStore> {
        DiskConfig::new(directory).open()
    }

    /// The configuration builder: `DiskStore::config(dir).max_size(n).open()`.
    pub fn config(directory: impl Into<PathBuf>) -> DiskConfig {
        DiskConfig::new(directory)
    }

    fn from_config(config: DiskConfig) -> Result<DiskStore> {
        let common = config.common;
        common.ensure_directory("directory")?;
        let cache = Cache::open(&common.directory, &common.cache_options())?;
        Ok(DiskStore {
            info: store_info("DiskStore", &common),
            cache: Arc::new(cache),
            closed: CloseFlag::default(),
            max_size: common.max_size,
        })
    }

    /// The store's directory (absolute), which holds `cache.db`.
    pub fn directory(&self) -> &Path {
        self.cache.dir()
    }

    /// The size bound in bytes (diskcache's `size_limit`), if one was set.
    pub fn max_size(&self) -> Option<u64> {
        self.max_size
    }

    fn compound(collection: &str, key: &str) -> String {
        let mut s = String::with_capacity(collection.len() + SEPARATOR.len() + key.len());
        s.push_str(collection);
        s.push_str(SEPARATOR);
        s.push_str(key);
        s
    }
}

impl KeyValue for DiskStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let mut found = self.get_entries(collection, &[key]).await?;
        Ok(found.pop().flatten())
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.put_entries(collection, &[key], vec![entry]).await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        Ok(self.delete_entries(collection, &[key]).await? > 0)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.closed.check()?;
        let prefix = collection.len() + SEPARATOR.len();
        let stored: Vec<String> = keys.iter().map(|k| Self::compound(collection, k)).collect();
        let now = now_secs(&self.info);
        let mut entries = match self.cache.try_get_many_inline(&stored, now) {
            Some(found) => decode_all(found?, |i| &stored[i][prefix..])?,
            None => Vec::new(),
        };
        if entries.len() == stored.len() {
            return Ok(entries);
        }
        // What could not be read inline (values in files, a busy database), on the pool.
        let done = entries.len();
        let cache = self.cache.clone();
        let rest = blocking(move || {
            let found = cache.get_many(&stored[done..], now)?;
            decode_all(found, |i| &stored[done + i][prefix..])
        })
        .await?;
        entries.extend(rest);
        Ok(entries)
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.closed.check()?;
        let collection = collection.to_string();
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let cache = self.cache.clone();
        let now = now_secs(&self.info);
        blocking(move || {
            let items = keys
                .iter()
                .zip(&entries)
                .map(|(k, e)| put_item(Self::compound(&collection, k), &collection, k, e))
                .collect();
            cache.put_many(items, now)
        })
        .await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.closed.check()?;
        let stored: Vec<String> = keys.iter().map(|k| Self::compound(collection, k)).collect();
        let cache = self.cache.clone();
        let now = now_secs(&self.info);
        blocking(move || cache.delete_many(&stored, now)).await
    }

    /// The live keys of `collection`, in key order (every stored key `collection::k` gives
    /// `k`).
    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let range = KeyRange::collection(collection);
        let prefix = Self::compound(collection, "");
        let cache = self.cache.clone();
        let now = now_secs(&self.info);
        blocking(move || {
            let keys = cache.keys(Some(&range), now, limit)?;
            // The range selects exactly the keys with this prefix; checked all the same.
            Ok(keys
                .iter()
                .filter_map(|k| k.strip_prefix(prefix.as_str()).map(str::to_string))
                .collect())
        })
        .await
    }

    /// The collections with live entries, sorted: the part of each stored key before its
    /// first `::`.
    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let cache = self.cache.clone();
        let now = now_secs(&self.info);
        blocking(move || cache.compound_collections(now, limit)).await
    }

    async fn destroy(&self) -> Result<bool> {
        self.closed.check()?;
        let cache = self.cache.clone();
        blocking(move || Ok(cache.clear(None)? > 0)).await
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.closed.check()?;
        let range = KeyRange::collection(collection);
        let cache = self.cache.clone();
        blocking(move || Ok(cache.clear(Some(&range))? > 0)).await
    }

    async fn cull(&self) -> Result<()> {
        self.closed.check()?;
        let cache = self.cache.clone();
        let now = now_secs(&self.info);
        blocking(move || cache.cull(now).map(|_| ())).await
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        let cache = self.cache.clone();
        blocking(move || {
            cache.close();
            Ok(())
        })
        .await
    }
}

//! `RedisStore`: py-key-value's Redis layout over redis-rs, on one server or a cluster, with
//! TLS (rustls with the `ring` provider) and mutual TLS.
//!
//! # Layout (shared with py-key-value)
//!
//! Each entry is one Redis string at `{collection}::{key}` holding py-key-value's JSON envelope
//! (with `key` and `collection`), byte for byte, so Python's `RedisStore` and this one share a
//! database. Expiry is set on the Redis key as well, with **millisecond** precision (`SET ... PX`
//! with the time left until the entry's `expires_at`, rounded up), where py-key-value floors it
//! to whole seconds (`SETEX`) and so drops entries up to a second early. py-key-value reads both.
//!
//! An optional [`key_prefix`](RedisConfig::key_prefix) goes before every key
//! (`{prefix}{collection}::{key}`); the default is none, which is what py-key-value reads.
//!
//! # Batches, enumeration, destroy
//!
//! - `get_many` is one `MGET`; `put_many` is one `MSET` (no TTL) or one pipeline of `SET ... PX`;
//!   `delete_many` is one `DEL`: one round trip each. In cluster mode they are split by hash
//!   slot (one command per slot, sent concurrently, results put back in order), so no
//!   `CROSSSLOT` error reaches the caller.
//! - `keys()` pages through `SCAN` to the end with `MATCH` on the collection's glob (glob
//!   characters in the prefix and collection name are escaped) and leaves out entries that
//!   have expired by the store's clock; `collections()` scans too. In cluster mode every
//!   primary is scanned.
//! - `destroy()` and `destroy_collection()` remove only this store's keys (`SCAN` + `UNLINK` in
//!   batches): with a prefix, the keys under it; without, every key of the
//!   `collection::key` form. `FLUSHDB` (py-key-value's `destroy`) only with
//!   [`flush_on_destroy`](RedisConfig::flush_on_destroy).
//!
//! # Connections
//!
//! [`RedisConfig::open`] needs no runtime and does not connect: the first call does, so a
//! server that cannot be reached is a temporary [`ErrorKind::Connection`] error on that call.
//! The connection is multiplexed and reconnects by itself: after a server restart, calls fail
//! with temporary `Connection`/`Timeout` errors during the outage and work again afterwards,
//! with the same store. A user's own [`ConnectionManager`](redis::aio::ConnectionManager)
//! can be used instead ([`RedisConfig::from_connection_manager`]); the store never closes it.
//!
//! A value that is not a valid envelope is an [`ErrorKind::Deserialization`] error naming the
//! key (py-key-value reads it as a miss). Values are limited to Redis's 512 MiB.
//!
//! Stability: Stable (py-key-value's `RedisStore` layout).
//!
//! ```no_run
//! use key_value_redis::RedisConfig;
//! use key_value_core::prelude::*;
//!
//! # async fn demo() -> Result<()> {
//! let store = RedisConfig::new("127.0.0.1", 6379).key_prefix("myapp:").open()?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(60).await?;
//! assert_eq!(store.keys().collection("users").await?, vec!["user:1".to_string()]);
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::setup::CloseFlag;
use key_value_core::{
    Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo, Timestamp,
};
use tokio::sync::Mutex;

mod config;
mod conn;

pub use config::{RedisConfig, TlsOptions};
pub use redis;

use config::Source;
use conn::{Conn, groups};

/// How many keys one `SCAN` step asks for, and one `UNLINK`/`MGET` of enumeration handles.
const SCAN_COUNT: usize = 500;

/// A store on Redis (or Valkey, or any server speaking its protocol), standalone or cluster.
/// Built by [`RedisConfig`].
pub struct RedisStore {
    info: StoreInfo,
    config: RedisConfig,
    conn: Mutex<Option<Conn>>,
    closed: CloseFlag,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// The builder: `RedisStore::builder().host(...)` is [`RedisConfig::new`].
    pub fn builder(host: impl Into<String>, port: u16) -> RedisConfig {
        RedisConfig::new(host, port)
    }

    pub(crate) fn from_config(config: RedisConfig) -> Self {
        let capabilities = Capabilities {
            native_ttl: true,
            native_batch: true,
            enumerate_keys: true,
            enumerate_collections: true,
            destroy: true,
            destroy_collection: true,
            persistent: true,
            max_value_size: Some(RedisConfig::MAX_VALUE_SIZE),
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new(config.store_name, Stability::Stable)
            .with_capabilities(capabilities)
            .with_clock(config.clock.clone());
        if let Some(c) = &config.default_collection {
            info = info.with_default_collection(c.clone());
        }
        RedisStore {
            info,
            config,
            conn: Mutex::new(None),
            closed: CloseFlag::default(),
        }
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// Sends `PING` (connecting first if needed).
    pub async fn ping(&self) -> Result<()> {
        let conn = self.conn().await?;
        let _: String = conn.query(&redis::cmd("PING")).await?;
        Ok(())
    }

    /// The connection, made on first use. A failed attempt is retried by the next call, and a
    /// cluster connection this store made is rebuilt after it failed (see `Conn::Cluster`).
    async fn conn(&self) -> Result<Conn> {
        self.closed.check()?;
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            let rebuild = c.has_failed() && matches!(self.config.source, Source::Connect);
            if !rebuild {
                return Ok(c.clone());
            }
        }
        let c = Conn::open(&self.config).await?;
        *guard = Some(c.clone());
        Ok(c)
    }

    /// The Redis key of an entry.
    fn redis_key(&self, collection: &str, key: &str) -> String {
        format!("{}{collection}::{key}", self.config.key_prefix)
    }

    fn decode(
        &self,
        collection: &str,
        key: &str,
        raw: Option<Vec<u8>>,
    ) -> Result<Option<ManagedEntry>> {
        let Some(raw) = raw else { return Ok(None) };
        let text = std::str::from_utf8(&raw).map_err(|e| {
            Error::new(
                ErrorKind::Deserialization,
                format!(
                    "the value at Redis key {:?} is not UTF-8 text: {e}",
                    self.redis_key(collection, key)
                ),
            )
            .with_collection(collection)
            .with_key(key)
        })?;
        Envelope::load(text).map(Some).map_err(|e| {
            Error::new(
                ErrorKind::Deserialization,
                format!(
                    "the value at Redis key {:?} is not a py-key-value entry: {}",
                    self.redis_key(collection, key),
                    e.message()
                ),
            )
            .with_collection(collection)
            .with_key(key)
            .with_source(e)
        })
    }

    /// `SET key value [PX ms]` for one entry.
    fn set_cmd(&self, collection: &str, key: &str, entry: &ManagedEntry) -> redis::Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.redis_key(collection, key))
            .arg(Envelope::WITH_KEY.dump(entry, collection, key));
        if let Some(ms) = self.px(entry) {
            cmd.arg("PX").arg(ms);
        }
        cmd
    }

    /// The milliseconds left until the entry expires by the store's clock, rounded up, at least
    /// 1 (py-key-value floors to seconds with a minimum of 1).
    fn px(&self, entry: &ManagedEntry) -> Option<u64> {
        entry.expires_at.map(|e| {
            let left = e.unix_micros() - self.info.clock().now().unix_micros();
            u64::try_from((left + 999) / 1000).unwrap_or(0).max(1)
        })
    }

    /// The glob matching every key of `collection` (or every key of the layout).
    fn glob(&self, collection: Option<&str>) -> String {
        let mut g = escape_glob(&self.config.key_prefix);
        match collection {
            Some(c) => {
                g.push_str(&escape_glob(c));
                g.push_str("::*");
            }
            None => g.push_str("*::*"),
        }
        g
    }

    /// Scans every key matching `pattern` (every primary in cluster mode), handing each page to
    /// `page` until it returns `false`.
    async fn scan<F>(&self, conn: &Conn, pattern: &str, mut page: F) -> Result<()>
    where
        F: AsyncPage,
    {
        for node in conn.primaries().await? {
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT);
                let (next, keys): (u64, Vec<String>) = conn.query_node(&cmd, &node).await?;
                if !keys.is_empty() && !page.page(keys).await? {
                    return Ok(());
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }

    /// `UNLINK`s `keys` (split by slot in cluster mode); how many existed.
    async fn unlink(&self, conn: &Conn, keys: Vec<String>) -> Result<usize> {
        let mut removed = 0;
        for chunk in keys.chunks(SCAN_COUNT) {
            let chunk = chunk.to_vec();
            let tasks = groups(conn.is_cluster(), &chunk).into_iter().map(|g| {
                let mut cmd = redis::cmd("UNLINK");
                for i in g {
                    cmd.arg(&chunk[i]);
                }
                async move { conn.query::<usize>(&cmd).await }
            });
            for n in join_all(tasks).await {
                removed += n?;
            }
        }
        Ok(removed)
    }

    /// Removes every key matching `pattern`; whether any existed.
    async fn remove_matching(&self, pattern: &str) -> Result<bool> {
        let conn = self.conn().await?;
        let mut all = Vec::new();
        self.scan(&conn, pattern, Collect(&mut all)).await?;
        // SCAN may return a key twice; UNLINK counts each once anyway.
        let all: Vec<String> = all
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(self.unlink(&conn, all).await? > 0)
    }
}

/// Escapes Redis glob metacharacters (`* ? [ ] \`) so `s` matches only itself.
pub fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// `MGET` of `keys` (one per slot in cluster mode, concurrently), in order.
async fn mget(conn: &Conn, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
    let groups = groups(conn.is_cluster(), keys);
    let tasks = groups.iter().map(|g| {
        let mut cmd = redis::cmd("MGET");
        for &i in g {
            cmd.arg(&keys[i]);
        }
        async move { conn.query::<Vec<Option<Vec<u8>>>>(&cmd).await }
    });
    let mut raws: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
    for (g, result) in groups.iter().zip(join_all(tasks).await) {
        for (&i, raw) in g.iter().zip(result?) {
            raws[i] = raw;
        }
    }
    Ok(raws)
}

/// Runs futures concurrently on the current task, results in order.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// What [`RedisStore::scan`] hands each page of keys to.
trait AsyncPage {
    fn page(&mut self, keys: Vec<String>)
    -> impl std::future::Future<Output = Result<bool>> + Send;
}

struct Collect<'a>(&'a mut Vec<String>);

impl AsyncPage for Collect<'_> {
    async fn page(&mut self, keys: Vec<String>) -> Result<bool> {
        self.0.extend(keys);
        Ok(true)
    }
}

impl KeyValue for RedisStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let conn = self.conn().await?;
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.redis_key(collection, key));
        let raw: Option<Vec<u8>> = conn.query(&cmd).await?;
        self.decode(collection, key, raw)
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let conn = self.conn().await?;
        let () = conn.query(&self.set_cmd(collection, key, &entry)).await?;
        Ok(())
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let conn = self.conn().await?;
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.redis_key(collection, key));
        let n: usize = conn.query(&cmd).await?;
        Ok(n > 0)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn().await?;
        let redis_keys: Vec<String> = keys.iter().map(|k| self.redis_key(collection, k)).collect();
        let raws = mget(&conn, &redis_keys).await?;
        keys.iter()
            .zip(raws)
            .map(|(k, raw)| self.decode(collection, k, raw))
            .collect()
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let conn = self.conn().await?;
        let redis_keys: Vec<String> = keys.iter().map(|k| self.redis_key(collection, k)).collect();
        let groups = groups(conn.is_cluster(), &redis_keys);
        let tasks = groups.iter().map(|g| {
            let any_ttl = g.iter().any(|&i| entries[i].expires_at.is_some());
            let mut pipe = redis::pipe();
            if any_ttl {
                for &i in g {
                    pipe.add_command(self.set_cmd(collection, keys[i], &entries[i]))
                        .ignore();
                }
            } else {
                let mut cmd = redis::cmd("MSET");
                for &i in g {
                    cmd.arg(&redis_keys[i]).arg(Envelope::WITH_KEY.dump(
                        &entries[i],
                        collection,
                        keys[i],
                    ));
                }
                pipe.add_command(cmd).ignore();
            }
            let conn = &conn;
            async move { conn.pipeline::<()>(&pipe).await }
        });
        for r in join_all(tasks).await {
            r?;
        }
        Ok(())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        if keys.is_empty() {
            return Ok(0);
        }
        let conn = self.conn().await?;
        // Duplicates count once, as DEL counts them.
        let unique: BTreeSet<String> = keys.iter().map(|k| self.redis_key(collection, k)).collect();
        let redis_keys: Vec<String> = unique.into_iter().collect();
        let tasks = groups(conn.is_cluster(), &redis_keys).into_iter().map(|g| {
            let mut cmd = redis::cmd("DEL");
            for i in g {
                cmd.arg(&redis_keys[i]);
            }
            let conn = &conn;
            async move { conn.query::<usize>(&cmd).await }
        });
        let mut n = 0;
        for r in join_all(tasks).await {
            n += r?;
        }
        Ok(n)
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let conn = self.conn().await?;
        let pattern = self.glob(Some(collection));
        let prefix = self.redis_key(collection, "");
        let mut found = Lister {
            conn: &conn,
            prefix: &prefix,
            now: self.info.clock().now(),
            seen: BTreeSet::new(),
            out: Vec::new(),
            limit: limit.unwrap_or(usize::MAX),
        };
        if found.limit == 0 {
            return Ok(Vec::new());
        }
        self.scan(&conn, &pattern, &mut found).await?;
        Ok(found.out)
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let conn = self.conn().await?;
        let limit = limit.unwrap_or(usize::MAX);
        let mut keys = Vec::new();
        self.scan(&conn, &self.glob(None), Collect(&mut keys))
            .await?;
        let prefix = &self.config.key_prefix;
        let names: BTreeSet<String> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(prefix.as_str()))
            .filter_map(|rest| rest.split_once("::").map(|(c, _)| c.to_string()))
            .collect();
        Ok(names.into_iter().take(limit).collect())
    }

    async fn destroy(&self) -> Result<bool> {
        if self.config.flush_on_destroy {
            let conn = self.conn().await?;
            let mut any = false;
            for node in conn.primaries().await? {
                let size: usize = conn.query_node(&redis::cmd("DBSIZE"), &node).await?;
                any |= size > 0;
                let () = conn.query_node(&redis::cmd("FLUSHDB"), &node).await?;
            }
            return Ok(any);
        }
        self.remove_matching(&self.glob(None)).await
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.remove_matching(&self.glob(Some(collection))).await
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        // Drops the store's handle; a user's own client lives on in the user's hands.
        self.conn.lock().await.take();
        Ok(())
    }
}

/// Collects live keys of one collection page by page (expired entries, by the store's clock,
/// are left out), up to a limit.
struct Lister<'a> {
    conn: &'a Conn,
    prefix: &'a str,
    now: Timestamp,
    seen: BTreeSet<String>,
    out: Vec<String>,
    limit: usize,
}

impl AsyncPage for &mut Lister<'_> {
    async fn page(&mut self, keys: Vec<String>) -> Result<bool> {
        let keys: Vec<String> = keys
            .into_iter()
            .filter(|k| k.starts_with(self.prefix) && !self.seen.contains(k))
            .collect();
        let raws = mget(self.conn, &keys).await?;
        for (k, raw) in keys.iter().zip(raws) {
            // Gone since the scan: not listed. A value that is not an entry still is a key here;
            // an expired entry (by the store's clock) is not.
            let live = match raw {
                None => false,
                Some(raw) => std::str::from_utf8(&raw)
                    .ok()
                    .and_then(|t| Envelope::load(t).ok())
                    .is_none_or(|e| !e.is_expired_at(self.now)),
            };
            if live && self.out.len() < self.limit {
                self.out.push(k[self.prefix.len()..].to_string());
            }
            self.seen.insert(k.clone());
        }
        Ok(self.out.len() < self.limit)
    }
}

impl RedisStore {
    /// The time left on a Redis key (`PTTL`), for diagnostics and tests: `None` when the key
    /// has no expiry or does not exist.
    pub async fn redis_ttl(&self, collection: &str, key: &str) -> Result<Option<Duration>> {
        let conn = self.conn().await?;
        let mut cmd = redis::cmd("PTTL");
        cmd.arg(self.redis_key(collection, key));
        let ms: i64 = conn.query(&cmd).await?;
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }

    /// The raw value stored for an entry (the envelope's bytes), for diagnostics and tests.
    pub async fn raw_value(&self, collection: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let conn = self.conn().await?;
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.redis_key(collection, key));
        conn.query(&cmd).await
    }

    /// Writes raw bytes at an entry's Redis key, for tests of corrupt data.
    #[doc(hidden)]
    pub async fn put_raw(&self, collection: &str, key: &str, raw: &[u8]) -> Result<()> {
        let conn = self.conn().await?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.redis_key(collection, key)).arg(raw);
        conn.query(&cmd).await
    }
}

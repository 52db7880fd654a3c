//! One diskcache 5.6.3 directory (`cache.db` plus value files), read and written exactly as
//! diskcache does. Synchronous: the stores call it from `spawn_blocking`.
//!
//! The parts of diskcache reproduced here (from `diskcache/core.py`):
//!
//! - `Cache.__init__`: the Settings merge (defaults, then the stored rows, then the caller's),
//!   the pragmas set before any table exists, `INSERT OR REPLACE` of every setting in the same
//!   order, the `INSERT OR IGNORE` of the counters, the tables, indexes and triggers with the
//!   very same SQL text, and the tag index created or dropped;
//! - `Cache._con`: every new connection re-applies the `sqlite_*` pragmas from Settings;
//! - `Disk.store` / `Disk.fetch` for `str` values: `mode=1` TEXT below `disk_min_file_size`
//!   characters, else a `mode=3` UTF-8 file `xx/yy/<28 hex>.val` with its byte `size`;
//! - `Cache.set`: SELECT, then UPDATE or INSERT, then `_cull` (expired rows first, then the
//!   eviction policy while the volume is over `size_limit`), in one `BEGIN IMMEDIATE`
//!   transaction; the replaced files are removed after COMMIT;
//! - `Cache.get`: the fast path without a transaction, or the slow path (statistics, or a
//!   least-recently/frequently-used policy) that updates the row in a transaction;
//! - `Cache.delete`, `Cache.expire`, `Cache.cull`, `Cache.clear`.
//!
//! What differs: `SQLITE_BUSY` is retried with a short jittered back-off up to the busy timeout
//! instead of SQLite's coarse busy handler; deleting an expired row removes it (diskcache
//! leaves it to the next cull) while still reporting it as absent; a value file deleted by a
//! concurrent overwrite between the SELECT and the read is retried instead of reported as a
//! miss; file names from the database are checked to stay inside the directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use key_value_core::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

/// The database file in a cache directory.
pub(crate) const DB_NAME: &str = "cache.db";

const MODE_RAW: i64 = 1;
const MODE_TEXT: i64 = 3;

/// Idle read connections kept per cache.
const MAX_IDLE_READERS: usize = 8;
/// Rows removed per transaction by `clear` and `expire`, so other writers get a turn.
const BATCH: i64 = 1000;
/// How many times a read retries when its value file vanished under a concurrent overwrite.
const FILE_RACE_RETRIES: usize = 5;

/// diskcache's eviction policies (`EVICTION_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvictionPolicy {
    None,
    LeastRecentlyStored,
    LeastRecentlyUsed,
    LeastFrequentlyUsed,
}

impl EvictionPolicy {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "none" => EvictionPolicy::None,
            "least-recently-stored" => EvictionPolicy::LeastRecentlyStored,
            "least-recently-used" => EvictionPolicy::LeastRecentlyUsed,
            "least-frequently-used" => EvictionPolicy::LeastFrequentlyUsed,
            _ => return None,
        })
    }

    /// The index the policy creates (`EVICTION_POLICY[...]['init']`).
    fn init_sql(self) -> Option<&'static str> {
        match self {
            EvictionPolicy::None => None,
            EvictionPolicy::LeastRecentlyStored => {
                Some("CREATE INDEX IF NOT EXISTS Cache_store_time ON Cache (store_time)")
            }
            EvictionPolicy::LeastRecentlyUsed => {
                Some("CREATE INDEX IF NOT EXISTS Cache_access_time ON Cache (access_time)")
            }
            EvictionPolicy::LeastFrequentlyUsed => {
                Some("CREATE INDEX IF NOT EXISTS Cache_access_count ON Cache (access_count)")
            }
        }
    }

    /// The column the policy evicts by, smallest first (`['cull']`).
    fn order_column(self) -> Option<&'static str> {
        match self {
            EvictionPolicy::None => None,
            EvictionPolicy::LeastRecentlyStored => Some("store_time"),
            EvictionPolicy::LeastRecentlyUsed => Some("access_time"),
            EvictionPolicy::LeastFrequentlyUsed => Some("access_count"),
        }
    }

    /// Whether a read updates the row (`['get']`), which needs a write transaction.
    fn updates_on_read(self) -> bool {
        matches!(
            self,
            EvictionPolicy::LeastRecentlyUsed | EvictionPolicy::LeastFrequentlyUsed
        )
    }
}

/// SQLite's `synchronous` level, stored as diskcache's `sqlite_synchronous` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Synchronous {
    /// `NORMAL` (1), diskcache's default. In WAL mode a commit is written to the WAL file
    /// before it returns, so it survives the process being killed; the WAL is synced at
    /// checkpoints only, so a power loss or OS crash can lose the last commits (never corrupt
    /// the database).
    Normal,
    /// `FULL` (2): the WAL is synced at every commit, and value files are synced before their
    /// row is committed, so a put that returned survives a power loss too. Slower writes.
    Full,
}

impl Synchronous {
    fn level(self) -> i64 {
        match self {
            Synchronous::Normal => 1,
            Synchronous::Full => 2,
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "normal" | "1" => Some(Synchronous::Normal),
            "full" | "2" => Some(Synchronous::Full),
            _ => None,
        }
    }
}

/// What a store asks of the caches it opens.
#[derive(Debug, Clone)]
pub(crate) struct CacheOptions {
    /// `Some(n)`: diskcache's `size_limit=n`, with its default eviction policy
    /// (least-recently-stored) unless the cache already has another non-`none` one.
    /// `None`: `eviction_policy="none"`, as py-key-value passes.
    pub size_limit: Option<u64>,
    /// The `sqlite_synchronous` setting to store, if any (else the stored one, else 1).
    pub synchronous: Option<Synchronous>,
    /// How long to retry a locked database before giving up.
    pub busy_timeout: Duration,
}

/// The settings a cache runs with, read once when it is opened (as diskcache keeps them as
/// attributes of its `Cache` object).
#[derive(Debug, Clone)]
struct Settings {
    eviction: EvictionPolicy,
    statistics: bool,
    size_limit: i64,
    cull_limit: i64,
    /// The expired-rows query of `_cull`, with `cull_limit` written into the SQL text.
    ///
    /// With the limit as a bound parameter, the bundled SQLite (planner sensitive to bound
    /// values) re-prepared this statement on every run: 48k instructions per put, 14% of
    /// all the work of a put-heavy benchmark (callgrind). As a literal it is prepared once.
    cull_expired_sql: String,
    min_file_size: i64,
    synchronous: i64,
    /// `(pragma, literal)` for every usable `sqlite_*` setting.
    pragmas: Vec<(String, String)>,
}

/// A value found by a read: its text (`None` when the stored value is not text, which
/// py-key-value reads as a miss) and diskcache's `expire_time`.
#[derive(Debug)]
pub(crate) struct Found {
    pub text: Option<String>,
    pub expire_time: Option<f64>,
}

/// A value to write: the stored key, the envelope text and the expiry epoch.
#[derive(Debug)]
pub(crate) struct PutItem {
    pub key: String,
    pub text: String,
    pub expire_time: Option<f64>,
}

/// How the value of a row is stored (`Disk.store`'s result).
struct StoredValue {
    size: i64,
    mode: i64,
    filename: Option<String>,
    value: Option<String>,
}

/// The stored keys of one collection in a compound-key cache: `[collection::, collection:;)`,
/// which in SQLite's binary order is exactly the TEXT keys starting with `collection::`.
#[derive(Debug, Clone)]
pub(crate) struct KeyRange {
    start: String,
    end: String,
}

impl KeyRange {
    /// The keys `collection::*`.
    pub(crate) fn collection(collection: &str) -> Self {
        KeyRange {
            start: format!("{collection}::"),
            end: format!("{collection}:;"),
        }
    }
}

/// One diskcache directory.
pub(crate) struct Cache {
    dir: PathBuf,
    db_path: PathBuf,
    settings: Settings,
    page_size: i64,
    busy_timeout: Duration,
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("dir", &self.dir)
            .field("settings", &self.settings)
            .finish()
    }
}

/// diskcache's `DEFAULT_SETTINGS`, in its order.
fn default_settings() -> Vec<(String, Value)> {
    let int = |k: &str, v: i64| (k.to_string(), Value::Integer(v));
    let text = |k: &str, v: &str| (k.to_string(), Value::Text(v.to_string()));
    vec![
        int("statistics", 0),
        int("tag_index", 0),
        text("eviction_policy", "least-recently-stored"),
        int("size_limit", 1 << 30),
        int("cull_limit", 10),
        int("sqlite_auto_vacuum", 1),
        int("sqlite_cache_size", 1 << 13),
        text("sqlite_journal_mode", "wal"),
        int("sqlite_mmap_size", 1 << 26),
        int("sqlite_synchronous", 1),
        int("disk_min_file_size", 1 << 15),
        int("disk_pickle_protocol", 5),
    ]
}

/// diskcache's `METADATA` counters.
const METADATA: [&str; 4] = ["count", "size", "hits", "misses"];

/// A Python dict's `d[k] = v`: replaces in place, or appends.
fn dict_set(dict: &mut Vec<(String, Value)>, key: &str, value: Value) {
    match dict.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => dict.push((key.to_string(), value)),
    }
}

fn dict_get<'a>(dict: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    dict.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A setting as an integer, the way Python would use it.
fn as_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Integer(i) => Some(*i),
        Value::Real(f) if f.is_finite() => Some(*f as i64),
        Value::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The literal for `PRAGMA name = literal`, if the stored value is one that cannot inject
/// SQL (an integer or a bare word); diskcache formats whatever is stored.
fn pragma_literal(v: &Value) -> Option<String> {
    match v {
        Value::Integer(i) => Some(i.to_string()),
        Value::Text(s)
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

fn pragma_name_ok(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Sleeps about `base` (between half and one and a half times), so that two processes
/// retrying a lock do not stay in step.
fn jittered_sleep(base: Duration) {
    let r = getrandom::u32().unwrap_or(0x8000_0000);
    let factor = 0.5 + f64::from(r) / f64::from(u32::MAX);
    std::thread::sleep(base.mul_f64(factor));
}

/// Runs `f` until it does not fail with `SQLITE_BUSY`/`SQLITE_LOCKED` or `timeout` has passed.
fn retry_busy<T>(
    timeout: Duration,
    mut f: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(20);
    loop {
        match f() {
            Err(e) if is_busy(&e) && start.elapsed() < timeout => {
                jittered_sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(4));
            }
            other => return other,
        }
    }
}

/// Whether a file name from the database stays inside the cache directory.
fn safe_relative(name: &str) -> bool {
    let path = Path::new(name);
    !name.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

impl Cache {
    /// Opens (creating if needed) the cache in `dir`, which must exist, as
    /// `diskcache.Cache(dir, ...)` does.
    pub(crate) fn open(dir: &Path, options: &CacheOptions) -> Result<Cache> {
        let dir = std::path::absolute(dir).map_err(|e| {
            Error::new(
                ErrorKind::Setup,
                format!("cannot resolve the directory {}: {e}", dir.display()),
            )
            .with_source(e)
        })?;
        let db_path = dir.join(DB_NAME);
        let setup = |e: rusqlite::Error| setup_error(&db_path, e);
        let timeout = options.busy_timeout;
        let conn = connect(&db_path).map_err(setup)?;

        // The stored settings, if the table exists yet.
        let current = retry_busy(timeout, || read_settings(&conn)).map_err(setup)?;
        let mut sets = default_settings();
        for (k, v) in current {
            dict_set(&mut sets, &k, v);
        }
        match options.size_limit {
            Some(limit) => {
                dict_set(
                    &mut sets,
                    "size_limit",
                    Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)),
                );
                let policy = dict_get(&sets, "eviction_policy");
                if matches!(policy, Some(Value::Text(p)) if p == "none") || policy.is_none() {
                    dict_set(
                        &mut sets,
                        "eviction_policy",
                        Value::Text("least-recently-stored".into()),
                    );
                }
            }
            None => dict_set(&mut sets, "eviction_policy", Value::Text("none".into())),
        }
        if let Some(s) = options.synchronous {
            dict_set(&mut sets, "sqlite_synchronous", Value::Integer(s.level()));
        }
        sets.retain(|(k, _)| !METADATA.contains(&k.as_str()));

        let mut pragmas: Vec<(String, String)> = Vec::new();
        let mut sorted: Vec<&(String, Value)> = sets.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in sorted {
            if let Some(name) = k.strip_prefix("sqlite_")
                && let Some(lit) = pragma_literal(v)
                && pragma_name_ok(name)
            {
                pragmas.push((name.to_string(), lit));
            }
        }
        // A chance to set the pragmas before any table exists (auto_vacuum needs it).
        for (name, lit) in &pragmas {
            apply_pragma(&conn, name, lit, timeout).map_err(setup)?;
        }
        let exec = |sql: &str| retry_busy(timeout, || conn.execute(sql, [])).map_err(setup);
        exec("CREATE TABLE IF NOT EXISTS Settings ( key TEXT NOT NULL UNIQUE, value)")?;
        for (k, v) in &sets {
            retry_busy(timeout, || {
                conn.execute(
                    "INSERT OR REPLACE INTO Settings VALUES (?, ?)",
                    rusqlite::params![k, v],
                )
            })
            .map_err(setup)?;
        }
        for k in METADATA {
            retry_busy(timeout, || {
                conn.execute(
                    "INSERT OR IGNORE INTO Settings VALUES (?, ?)",
                    rusqlite::params![k, 0],
                )
            })
            .map_err(setup)?;
        }
        let page_size: i64 = retry_busy(timeout, || {
            conn.query_row("PRAGMA page_size", [], |r| r.get(0))
        })
        .map_err(setup)?;
        exec(
            "CREATE TABLE IF NOT EXISTS Cache ( rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, \
             store_time REAL, expire_time REAL, access_time REAL, access_count INTEGER DEFAULT 0, \
             tag BLOB, size INTEGER DEFAULT 0, mode INTEGER DEFAULT 0, filename TEXT, value BLOB)",
        )?;
        exec("CREATE UNIQUE INDEX IF NOT EXISTS Cache_key_raw ON Cache(key, raw)")?;
        exec("CREATE INDEX IF NOT EXISTS Cache_expire_time ON Cache (expire_time)")?;
        let eviction = match dict_get(&sets, "eviction_policy") {
            Some(Value::Text(name)) => EvictionPolicy::parse(name),
            _ => None,
        }
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Setup,
                format!(
                    "{} names an eviction policy diskcache does not know: {:?}",
                    db_path.display(),
                    dict_get(&sets, "eviction_policy")
                ),
            )
        })?;
        if let Some(sql) = eviction.init_sql() {
            exec(sql)?;
        }
        exec(
            "CREATE TRIGGER IF NOT EXISTS Settings_count_insert AFTER INSERT ON Cache FOR EACH ROW \
             BEGIN UPDATE Settings SET value = value + 1 WHERE key = \"count\"; END",
        )?;
        exec(
            "CREATE TRIGGER IF NOT EXISTS Settings_count_delete AFTER DELETE ON Cache FOR EACH ROW \
             BEGIN UPDATE Settings SET value = value - 1 WHERE key = \"count\"; END",
        )?;
        exec(
            "CREATE TRIGGER IF NOT EXISTS Settings_size_insert AFTER INSERT ON Cache FOR EACH ROW \
             BEGIN UPDATE Settings SET value = value + NEW.size WHERE key = \"size\"; END",
        )?;
        exec(
            "CREATE TRIGGER IF NOT EXISTS Settings_size_update AFTER UPDATE ON Cache FOR EACH ROW \
             BEGIN UPDATE Settings SET value = value + NEW.size - OLD.size WHERE key = \"size\"; END",
        )?;
        exec(
            "CREATE TRIGGER IF NOT EXISTS Settings_size_delete AFTER DELETE ON Cache FOR EACH ROW \
             BEGIN UPDATE Settings SET value = value - OLD.size WHERE key = \"size\"; END",
        )?;
        if as_i64(dict_get(&sets, "tag_index")).unwrap_or(0) != 0 {
            exec("CREATE INDEX IF NOT EXISTS Cache_tag_rowid ON Cache(tag, rowid)")?;
            exec("UPDATE Settings SET value = 1 WHERE key = 'tag_index'")?;
        } else {
            exec("DROP INDEX IF EXISTS Cache_tag_rowid")?;
            exec("UPDATE Settings SET value = 0 WHERE key = 'tag_index'")?;
        }

        let int = |k: &str, default: i64| as_i64(dict_get(&sets, k)).unwrap_or(default);
        let settings = Settings {
            eviction,
            statistics: int("statistics", 0) != 0,
            size_limit: int("size_limit", 1 << 30),
            cull_limit: int("cull_limit", 10).max(0),
            cull_expired_sql: format!(
                "SELECT rowid, filename FROM Cache WHERE expire_time IS NOT NULL \
                 AND expire_time < ?1 ORDER BY expire_time LIMIT {}",
                int("cull_limit", 10).max(0)
            ),
            min_file_size: int("disk_min_file_size", 1 << 15),
            synchronous: int("sqlite_synchronous", 1),
            pragmas,
        };
        Ok(Cache {
            dir,
            db_path,
            settings,
            page_size,
            busy_timeout: timeout,
            writer: Mutex::new(Some(conn)),
            readers: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        })
    }

    /// The cache's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::new(ErrorKind::Closed, "the store was closed"))
        } else {
            Ok(())
        }
    }

    /// Closes every connection; later calls fail with `Closed`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.readers.lock().clear();
        self.writer.lock().take();
    }

    /// A new connection with the cache's pragmas, as diskcache's `_con`.
    fn connect_configured(&self) -> Result<Connection> {
        let conn = connect(&self.db_path).map_err(|e| self.db_error(e))?;
        for (name, lit) in &self.settings.pragmas {
            apply_pragma(&conn, name, lit, self.busy_timeout).map_err(|e| self.db_error(e))?;
        }
        Ok(conn)
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.check_open()?;
        let pooled = self.readers.lock().pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.connect_configured()?,
        };
        let out = f(&conn);
        let mut pool = self.readers.lock();
        if !self.closed.load(Ordering::Acquire) && pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer connection, retried while the
    /// database is locked by another connection. `f` returns its result and the value files
    /// to remove once the transaction is committed.
    fn write_txn<T>(
        &self,
        mut f: impl FnMut(&Transaction<'_>) -> rusqlite::Result<(T, Vec<String>)>,
    ) -> Result<T> {
        self.check_open()?;
        let mut guard = self.writer.lock();
        let conn = guard
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Closed, "the store was closed"))?;
        let (out, cleanup) = retry_busy(self.busy_timeout, || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .map_err(|e| self.db_error(e))?;
        drop(guard);
        for name in cleanup {
            self.remove_file(&name);
        }
        Ok(out)
    }

    /// A SQLite error as the store's error, naming the database.
    pub(crate) fn db_error(&self, e: rusqlite::Error) -> Error {
        db_error(&self.db_path, self.busy_timeout, e)
    }

    // ------------------------------------------------------------------------------------
    // Value files (`Disk.filename`, `Disk._write`, `Disk.fetch`, `Disk.remove`)

    /// Writes `text` to a new `xx/yy/<28 hex>.val` file; its relative name and size.
    fn write_file(&self, text: &str) -> Result<(String, i64)> {
        let io_err = |e: io::Error, what: &str| {
            Error::new(
                ErrorKind::Backend,
                format!("cannot {what} a value file in {}: {e}", self.dir.display()),
            )
            .with_source(e)
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut random = [0u8; 16];
            getrandom::fill(&mut random).map_err(|e| {
                Error::new(
                    ErrorKind::Backend,
                    format!("no randomness for a file name: {e}"),
                )
            })?;
            let name = hex(&random);
            let relative = Path::new(&name[..2])
                .join(&name[2..4])
                .join(format!("{}.val", &name[4..]));
            let full = self.dir.join(&relative);
            let parent = full.parent().unwrap_or(&self.dir);
            // Another cache may remove an empty directory between these two calls: retry, as
            // diskcache does.
            let _ = fs::create_dir_all(parent);
            let file = OpenOptions::new().write(true).create_new(true).open(&full);
            let mut file = match file {
                Ok(f) => f,
                Err(_) if attempt < 10 => continue,
                Err(e) => return Err(io_err(e, "create")),
            };
            let written = file.write_all(text.as_bytes()).and_then(|()| {
                if self.settings.synchronous >= 2 {
                    file.sync_all()?;
                    sync_dir(parent);
                }
                Ok(())
            });
            if let Err(e) = written {
                drop(file);
                let _ = fs::remove_file(&full);
                return Err(io_err(e, "write"));
            }
            let relative = relative
                .to_str()
                .map(str::to_string)
                .ok_or_else(|| Error::new(ErrorKind::Backend, "a value file name is not UTF-8"))?;
            return Ok((relative, i64::try_from(text.len()).unwrap_or(i64::MAX)));
        }
    }

    /// Reads a value file; `None` if it is gone.
    fn read_file(&self, name: &str) -> Result<Option<String>> {
        if !safe_relative(name) {
            return Err(Error::new(
                ErrorKind::PathSecurity,
                format!("the stored file name {name:?} leaves the cache directory"),
            ));
        }
        let full = self.dir.join(name);
        match fs::read(&full) {
            Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
                Error::new(
                    ErrorKind::Deserialization,
                    format!("the value file {} is not UTF-8 text", full.display()),
                )
                .with_source(e)
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::new(
                ErrorKind::Backend,
                format!("cannot read the value file {}: {e}", full.display()),
            )
            .with_source(e)),
        }
    }

    /// Removes a value file and the directories it leaves empty, ignoring errors (another
    /// process may have removed them first), as `Disk.remove`.
    fn remove_file(&self, name: &str) {
        if !safe_relative(name) {
            return;
        }
        let full = self.dir.join(name);
        let _ = fs::remove_file(&full);
        let mut parent = full.parent();
        while let Some(p) = parent {
            if p == self.dir || !p.starts_with(&self.dir) || fs::remove_dir(p).is_err() {
                break;
            }
            parent = p.parent();
        }
    }

    /// `Disk.store` for a `str` value.
    fn store_value(&self, text: String) -> Result<StoredValue> {
        // diskcache compares the length in characters; counted only when it can matter.
        let long = text.len() as i64 >= self.settings.min_file_size
            && text.chars().count() as i64 >= self.settings.min_file_size;
        if !long {
            return Ok(StoredValue {
                size: 0,
                mode: MODE_RAW,
                filename: None,
                value: Some(text),
            });
        }
        let (filename, size) = self.write_file(&text)?;
        Ok(StoredValue {
            size,
            mode: MODE_TEXT,
            filename: Some(filename),
            value: None,
        })
    }

    /// The text of a row's value (`Disk.fetch`): `NotText` for a value that is not text
    /// (py-key-value reads it as a miss), `FileGone` when its file vanished meanwhile.
    fn fetch(&self, mode: i64, filename: Option<&str>, value: RawValue) -> Result<Fetched> {
        match mode {
            MODE_RAW => match value {
                RawValue::Text(bytes) => String::from_utf8(bytes).map(Fetched::Text).map_err(|e| {
                    Error::new(
                        ErrorKind::Deserialization,
                        "the stored value is not UTF-8 text",
                    )
                    .with_source(e)
                }),
                _ => Ok(Fetched::NotText),
            },
            MODE_TEXT => match filename {
                Some(name) => Ok(match self.read_file(name)? {
                    Some(text) => Fetched::Text(text),
                    None => Fetched::FileGone,
                }),
                None => Err(Error::new(
                    ErrorKind::Deserialization,
                    "a text-file row (mode 3) has no file name",
                )),
            },
            // Bytes, pickles and anything else: not a py-key-value entry.
            _ => Ok(Fetched::NotText),
        }
    }

    // ------------------------------------------------------------------------------------
    // Operations

    /// Reads `keys` at time `now` (epoch seconds): one result per key, `Ok(None)` for a miss.
    pub(crate) fn get_many(&self, keys: &[String], now: f64) -> Result<Vec<Result<Option<Found>>>> {
        if self.settings.statistics || self.settings.eviction.updates_on_read() {
            return self.get_many_slow(keys, now);
        }
        self.with_reader(|conn| {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                out.push(self.get_fast(conn, key, now)?);
            }
            Ok(out)
        })
    }

    /// [`get_many`](Self::get_many) on the caller's thread, when that cannot block: only on
    /// the read-only path (no statistics, no access-time updates), with an idle reader
    /// connection, one attempt per query (a locked database is not waited for) and values
    /// stored in the database (a value in its own file may need a slow disk read).
    ///
    /// The answer covers the first keys, up to the first it cannot read here (a value in a file,
    /// a busy database); the caller reads the rest with [`get_many`](Self::get_many) on the
    /// blocking pool. `None` means "none here" (no idle reader, statistics or access-time
    /// updates on, or the very first key cannot be read here). Reading inline saves the ~15 µs
    /// hand-off to the blocking pool, which was most of the cost of a read (a `get` miss took
    /// 20 µs through the pool, 2 µs in plain rusqlite).
    pub(crate) fn try_get_many_inline(
        &self,
        keys: &[String],
        now: f64,
    ) -> Option<Result<Vec<Result<Option<Found>>>>> {
        if self.settings.statistics || self.settings.eviction.updates_on_read() {
            return None;
        }
        if let Err(e) = self.check_open() {
            return Some(Err(e));
        }
        let conn = self.readers.lock().pop()?;
        let out = self.get_inline(&conn, keys, now);
        let mut pool = self.readers.lock();
        if !self.closed.load(Ordering::Acquire) && pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    fn get_inline(
        &self,
        conn: &Connection,
        keys: &[String],
        now: f64,
    ) -> Option<Result<Vec<Result<Option<Found>>>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let row = conn.prepare_cached(SELECT_LIVE).and_then(|mut stmt| {
                let mut rows = stmt.query(rusqlite::params![key, now])?;
                match rows.next()? {
                    None => Ok(None),
                    Some(row) => Ok(Some((
                        row.get::<_, Option<f64>>(1)?,
                        row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                        row.get::<_, Option<String>>(3)?.is_some(),
                        RawValue::from(row.get_ref(4)?),
                    ))),
                }
            });
            let (expire_time, mode, in_file, value) = match row {
                Ok(None) => {
                    out.push(Ok(None));
                    continue;
                }
                Ok(Some(found)) => found,
                Err(e) if is_busy(&e) => break,
                Err(e) => return Some(Err(self.db_error(e))),
            };
            if in_file || mode == MODE_TEXT {
                break;
            }
            out.push(match self.fetch(mode, None, value) {
                Ok(Fetched::Text(text)) => Ok(Some(Found {
                    text: Some(text),
                    expire_time,
                })),
                Ok(Fetched::NotText | Fetched::FileGone) => Ok(Some(Found {
                    text: None,
                    expire_time,
                })),
                Err(e) => Err(e),
            });
        }
        if out.is_empty() && !keys.is_empty() {
            return None;
        }
        Some(Ok(out))
    }

    fn get_fast(&self, conn: &Connection, key: &str, now: f64) -> Result<Result<Option<Found>>> {
        for _ in 0..FILE_RACE_RETRIES {
            let found = retry_busy(self.busy_timeout, || {
                let mut stmt = conn.prepare_cached(SELECT_LIVE)?;
                let mut rows = stmt.query(rusqlite::params![key, now])?;
                match rows.next()? {
                    None => Ok(None),
                    Some(row) => Ok(Some((
                        row.get::<_, Option<f64>>(1)?,
                        row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                        row.get::<_, Option<String>>(3)?,
                        RawValue::from(row.get_ref(4)?),
                    ))),
                }
            })
            .map_err(|e| self.db_error(e))?;
            let Some((expire_time, mode, filename, value)) = found else {
                return Ok(Ok(None));
            };
            match self.fetch(mode, filename.as_deref(), value) {
                Ok(Fetched::Text(text)) => {
                    return Ok(Ok(Some(Found {
                        text: Some(text),
                        expire_time,
                    })));
                }
                Ok(Fetched::NotText) => {
                    return Ok(Ok(Some(Found {
                        text: None,
                        expire_time,
                    })));
                }
                // Overwritten or deleted since the SELECT: look again.
                Ok(Fetched::FileGone) => continue,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(None))
    }

    fn get_many_slow(&self, keys: &[String], now: f64) -> Result<Vec<Result<Option<Found>>>> {
        let policy = self.settings.eviction;
        let statistics = self.settings.statistics;
        self.write_txn(|tx| {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let row = tx
                    .prepare_cached(SELECT_LIVE)?
                    .query_row(rusqlite::params![key, now], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, Option<f64>>(1)?,
                            row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                            row.get::<_, Option<String>>(3)?,
                            RawValue::from(row.get_ref(4)?),
                        ))
                    })
                    .optional()?;
                let Some((rowid, expire_time, mode, filename, value)) = row else {
                    if statistics {
                        tx.execute(STAT_MISS, [])?;
                    }
                    out.push(Ok(None));
                    continue;
                };
                let fetched = self.fetch(mode, filename.as_deref(), value);
                let hit = matches!(fetched, Ok(Fetched::Text(_) | Fetched::NotText));
                if statistics {
                    tx.execute(if hit { STAT_HIT } else { STAT_MISS }, [])?;
                }
                if hit {
                    match policy {
                        EvictionPolicy::LeastRecentlyUsed => {
                            tx.execute(
                                "UPDATE Cache SET access_time = ?1 WHERE rowid = ?2",
                                rusqlite::params![now, rowid],
                            )?;
                        }
                        EvictionPolicy::LeastFrequentlyUsed => {
                            tx.execute(
                                "UPDATE Cache SET access_count = access_count + 1 WHERE rowid = ?1",
                                [rowid],
                            )?;
                        }
                        _ => {}
                    }
                }
                out.push(match fetched {
                    Ok(Fetched::Text(text)) => Ok(Some(Found {
                        text: Some(text),
                        expire_time,
                    })),
                    Ok(Fetched::NotText) => Ok(Some(Found {
                        text: None,
                        expire_time,
                    })),
                    Ok(Fetched::FileGone) => Ok(None),
                    Err(e) => Err(e),
                });
            }
            Ok((out, Vec::new()))
        })
    }

    /// Writes every item at time `now` in one transaction (`Cache.set` for each, culling after
    /// each as diskcache does).
    pub(crate) fn put_many(&self, items: Vec<PutItem>, now: f64) -> Result<()> {
        self.check_open()?;
        let mut rows = Vec::with_capacity(items.len());
        let mut new_files: Vec<String> = Vec::new();
        for item in items {
            match self.store_value(item.text) {
                Ok(stored) => {
                    if let Some(f) = &stored.filename {
                        new_files.push(f.clone());
                    }
                    rows.push((item.key, item.expire_time, stored));
                }
                Err(e) => {
                    for f in &new_files {
                        self.remove_file(f);
                    }
                    return Err(e);
                }
            }
        }
        let result = self.write_txn(|tx| {
            let mut cleanup = Vec::new();
            for (key, expire_time, stored) in &rows {
                let existing = tx
                    .prepare_cached("SELECT rowid, filename FROM Cache WHERE key = ? AND raw = ?")?
                    .query_row(rusqlite::params![key, 1], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
                    })
                    .optional()?;
                match existing {
                    Some((rowid, old_file)) => {
                        cleanup.extend(old_file);
                        tx.prepare_cached(
                            "UPDATE Cache SET store_time = ?, expire_time = ?, access_time = ?, \
                             access_count = ?, tag = ?, size = ?, mode = ?, filename = ?, value = ? \
                             WHERE rowid = ?",
                        )?
                        .execute(rusqlite::params![
                            now,
                            expire_time,
                            now,
                            0,
                            Option::<String>::None,
                            stored.size,
                            stored.mode,
                            stored.filename,
                            stored.value,
                            rowid
                        ])?;
                    }
                    None => {
                        tx.prepare_cached(
                            "INSERT INTO Cache( key, raw, store_time, expire_time, access_time, \
                             access_count, tag, size, mode, filename, value) \
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        )?
                        .execute(rusqlite::params![
                            key,
                            1,
                            now,
                            expire_time,
                            now,
                            0,
                            Option::<String>::None,
                            stored.size,
                            stored.mode,
                            stored.filename,
                            stored.value
                        ])?;
                    }
                }
                self.cull_in(tx, now, &mut cleanup)?;
            }
            Ok(((), cleanup))
        });
        if result.is_err() {
            for f in &new_files {
                self.remove_file(f);
            }
        }
        result
    }

    /// diskcache's `_cull`: up to `cull_limit` expired rows, then, while the volume is over
    /// the size limit, up to the rest of `cull_limit` rows in eviction order.
    fn cull_in(
        &self,
        tx: &Transaction<'_>,
        now: f64,
        cleanup: &mut Vec<String>,
    ) -> rusqlite::Result<()> {
        let mut limit = self.settings.cull_limit;
        if limit == 0 {
            return Ok(());
        }
        let expired = select_rows(tx, &self.settings.cull_expired_sql, rusqlite::params![now])?;
        if !expired.is_empty() {
            limit -= expired.len() as i64;
            delete_rows(tx, &expired, cleanup)?;
            if limit <= 0 {
                return Ok(());
            }
        }
        let Some(column) = self.settings.eviction.order_column() else {
            return Ok(());
        };
        if self.volume(tx)? < self.settings.size_limit {
            return Ok(());
        }
        let victims = select_rows(
            tx,
            &format!("SELECT rowid, filename FROM Cache ORDER BY {column} LIMIT ?1"),
            [limit],
        )?;
        delete_rows(tx, &victims, cleanup)
    }

    /// diskcache's `volume()`: database pages plus the bytes of the value files.
    fn volume(&self, conn: &Connection) -> rusqlite::Result<i64> {
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let size: Option<i64> = conn
            .query_row("SELECT value FROM Settings WHERE key = 'size'", [], |r| {
                r.get(0)
            })
            .optional()?
            .flatten();
        Ok(self
            .page_size
            .saturating_mul(pages)
            .saturating_add(size.unwrap_or(0)))
    }

    /// Deletes `keys` at time `now` in one transaction; how many were live. Expired rows are
    /// deleted too but not counted (diskcache reports them absent).
    pub(crate) fn delete_many(&self, keys: &[String], now: f64) -> Result<usize> {
        self.write_txn(|tx| {
            let mut cleanup = Vec::new();
            let mut live = 0;
            for key in keys {
                let row = tx
                    .prepare_cached(
                        "SELECT rowid, filename, expire_time FROM Cache WHERE key = ? AND raw = ?",
                    )?
                    .query_row(rusqlite::params![key, 1], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, Option<f64>>(2)?,
                        ))
                    })
                    .optional()?;
                if let Some((rowid, file, expire_time)) = row {
                    tx.prepare_cached("DELETE FROM Cache WHERE rowid = ?")?
                        .execute([rowid])?;
                    cleanup.extend(file);
                    if expire_time.is_none_or(|t| t > now) {
                        live += 1;
                    }
                }
            }
            Ok((live, cleanup))
        })
    }

    /// The live TEXT keys (in `range` if given), in key order, at most `limit`.
    pub(crate) fn keys(
        &self,
        range: Option<&KeyRange>,
        now: f64,
        limit: Option<usize>,
    ) -> Result<Vec<String>> {
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.with_reader(|conn| {
            retry_busy(self.busy_timeout, || {
                let text_key = |r: &rusqlite::Row<'_>| {
                    Ok(match r.get_ref(0)? {
                        ValueRef::Text(b) => std::str::from_utf8(b).ok().map(str::to_string),
                        _ => None,
                    })
                };
                let keys: Vec<Option<String>> = match range {
                    Some(r) => conn
                        .prepare_cached(
                            "SELECT key FROM Cache WHERE key >= ?1 AND key < ?2 AND raw = 1 \
                             AND (expire_time IS NULL OR expire_time > ?3) ORDER BY key LIMIT ?4",
                        )?
                        .query_map(rusqlite::params![r.start, r.end, now, limit], text_key)?
                        .collect::<rusqlite::Result<_>>()?,
                    None => conn
                        .prepare_cached(
                            "SELECT key FROM Cache WHERE raw = 1 AND typeof(key) = 'text' \
                             AND (expire_time IS NULL OR expire_time > ?1) ORDER BY key LIMIT ?2",
                        )?
                        .query_map(rusqlite::params![now, limit], text_key)?
                        .collect::<rusqlite::Result<_>>()?,
                };
                // Keys that are not valid UTF-8 cannot be asked for again: left out.
                Ok(keys.into_iter().flatten().collect())
            })
            .map_err(|e| self.db_error(e))
        })
    }

    /// The distinct collections of live compound keys (`collection::key`, split at the first
    /// `::`), sorted, at most `limit`.
    pub(crate) fn compound_collections(
        &self,
        now: f64,
        limit: Option<usize>,
    ) -> Result<Vec<String>> {
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.with_reader(|conn| {
            retry_busy(self.busy_timeout, || {
                let mut stmt = conn.prepare_cached(
                    "SELECT DISTINCT substr(key, 1, instr(key, '::') - 1) AS c FROM Cache \
                     WHERE raw = 1 AND typeof(key) = 'text' AND instr(key, '::') > 1 \
                     AND (expire_time IS NULL OR expire_time > ?1) ORDER BY c LIMIT ?2",
                )?;
                let rows =
                    stmt.query_map(rusqlite::params![now, limit], |r| r.get::<_, String>(0))?;
                rows.collect()
            })
            .map_err(|e| self.db_error(e))
        })
    }

    /// The envelope text of one live entry, if any (the oldest), to learn which collection a
    /// MultiDiskStore directory holds.
    pub(crate) fn sample_text(&self, now: Option<f64>) -> Result<Option<String>> {
        self.with_reader(|conn| {
            for _ in 0..FILE_RACE_RETRIES {
                let row = retry_busy(self.busy_timeout, || {
                    conn.query_row(
                        "SELECT mode, filename, value FROM Cache WHERE raw = 1 AND typeof(key) = 'text' \
                         AND (mode = 1 AND typeof(value) = 'text' OR mode = 3) \
                         AND (?1 IS NULL OR expire_time IS NULL OR expire_time > ?1) \
                         ORDER BY rowid LIMIT 1",
                        [now],
                        |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, Option<String>>(1)?,
                                RawValue::from(r.get_ref(2)?),
                            ))
                        },
                    )
                    .optional()
                })
                .map_err(|e| self.db_error(e))?;
                let Some((mode, filename, value)) = row else {
                    return Ok(None);
                };
                match self.fetch(mode, filename.as_deref(), value)? {
                    Fetched::Text(t) => return Ok(Some(t)),
                    Fetched::NotText => return Ok(None),
                    Fetched::FileGone => continue,
                }
            }
            Ok(None)
        })
    }

    /// Removes every row (in `range` if given) and its file, in batches (`Cache.clear`);
    /// how many rows were removed.
    pub(crate) fn clear(&self, range: Option<&KeyRange>) -> Result<usize> {
        let max_rowid: Option<i64> = self.with_reader(|conn| {
            retry_busy(self.busy_timeout, || {
                conn.query_row("SELECT MAX(rowid) FROM Cache", [], |r| r.get(0))
            })
            .map_err(|e| self.db_error(e))
        })?;
        let Some(max_rowid) = max_rowid else {
            return Ok(0);
        };
        let mut total = 0;
        loop {
            let n = self.write_txn(|tx| {
                let rows = match range {
                    Some(r) => select_rows(
                        tx,
                        "SELECT rowid, filename FROM Cache WHERE key >= ?1 AND key < ?2 AND raw = 1 \
                         AND rowid <= ?3 LIMIT ?4",
                        rusqlite::params![r.start, r.end, max_rowid, BATCH],
                    )?,
                    None => select_rows(
                        tx,
                        "SELECT rowid, filename FROM Cache WHERE rowid <= ?1 ORDER BY rowid LIMIT ?2",
                        rusqlite::params![max_rowid, BATCH],
                    )?,
                };
                let mut cleanup = Vec::new();
                delete_rows(tx, &rows, &mut cleanup)?;
                Ok((rows.len(), cleanup))
            })?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Removes the rows expired at `now` and their files (`Cache.expire`); how many.
    pub(crate) fn expire(&self, now: f64) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.write_txn(|tx| {
                let rows = select_rows(
                    tx,
                    "SELECT rowid, filename FROM Cache WHERE expire_time IS NOT NULL \
                     AND expire_time <= ?1 ORDER BY expire_time LIMIT ?2",
                    rusqlite::params![now, BATCH],
                )?;
                let mut cleanup = Vec::new();
                delete_rows(tx, &rows, &mut cleanup)?;
                Ok((rows.len(), cleanup))
            })?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// `Cache.cull`: expired rows, then evictions while over the size limit; how many rows.
    pub(crate) fn cull(&self, now: f64) -> Result<usize> {
        let mut total = self.expire(now)?;
        let Some(column) = self.settings.eviction.order_column() else {
            return Ok(total);
        };
        loop {
            let n = self.write_txn(|tx| {
                if self.volume(tx)? <= self.settings.size_limit {
                    return Ok((0, Vec::new()));
                }
                let rows = select_rows(
                    tx,
                    &format!("SELECT rowid, filename FROM Cache ORDER BY {column} LIMIT 10"),
                    [],
                )?;
                let mut cleanup = Vec::new();
                delete_rows(tx, &rows, &mut cleanup)?;
                Ok((rows.len(), cleanup))
            })?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }
}

/// A row's value column, copied out of the statement.
enum RawValue {
    Text(Vec<u8>),
    Other,
}

impl From<ValueRef<'_>> for RawValue {
    fn from(v: ValueRef<'_>) -> Self {
        match v {
            ValueRef::Text(b) => RawValue::Text(b.to_vec()),
            _ => RawValue::Other,
        }
    }
}

enum Fetched {
    Text(String),
    NotText,
    FileGone,
}

const SELECT_LIVE: &str = "SELECT rowid, expire_time, mode, filename, value FROM Cache \
     WHERE key = ?1 AND raw = 1 AND (expire_time IS NULL OR expire_time > ?2)";
const STAT_HIT: &str = "UPDATE Settings SET value = value + 1 WHERE key = 'hits'";
const STAT_MISS: &str = "UPDATE Settings SET value = value + 1 WHERE key = 'misses'";

fn select_rows<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<Vec<(i64, Option<String>)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn delete_rows(
    conn: &Connection,
    rows: &[(i64, Option<String>)],
    cleanup: &mut Vec<String>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached("DELETE FROM Cache WHERE rowid = ?")?;
    for (rowid, file) in rows {
        stmt.execute([rowid])?;
        if let Some(f) = file {
            cleanup.push(f.clone());
        }
    }
    Ok(())
}

/// Opens the database file without the URI interpretation (a directory named `file:x` is a
/// directory) and with our own busy handling.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::ZERO)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// `SELECT key, value FROM Settings`, or nothing when the table does not exist yet.
fn read_settings(conn: &Connection) -> rusqlite::Result<Vec<(String, Value)>> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'Settings')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT key, value FROM Settings")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Value>(1)?)))?;
    rows.collect()
}

/// diskcache's `reset(pragma, value, update=False)`: sets the pragma only if it differs.
fn apply_pragma(
    conn: &Connection,
    name: &str,
    literal: &str,
    timeout: Duration,
) -> rusqlite::Result<()> {
    retry_busy(timeout, || {
        let current: Option<Value> = conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .optional()?;
        let same = match &current {
            Some(Value::Integer(i)) => i.to_string() == literal,
            Some(Value::Text(s)) => s == literal,
            _ => false,
        };
        if !same {
            let mut stmt = conn.prepare(&format!("PRAGMA {name} = {literal}"))?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
        }
        Ok(())
    })
}

/// Syncs a directory so a new file's entry is durable (POSIX); ignored where unsupported.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A SQLite error while opening a cache: a `Setup` error naming the file and the cause.
fn setup_error(path: &Path, e: rusqlite::Error) -> Error {
    let inner = db_error(path, Duration::ZERO, e);
    let temporary = inner.is_temporary();
    Error::new(
        ErrorKind::Setup,
        format!("cannot open the diskcache database: {}", inner.message()),
    )
    .with_temporary(temporary)
    .with_source(inner)
}

/// A SQLite error as the store's error, with a message naming the database file.
pub(crate) fn db_error(path: &Path, timeout: Duration, e: rusqlite::Error) -> Error {
    let p = path.display();
    let (kind, message) = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => (
            ErrorKind::Timeout,
            format!("{p} stayed locked by another connection for more than {timeout:?}"),
        ),
        Some(ErrorCode::NotADatabase) => {
            (ErrorKind::Backend, format!("{p} is not a SQLite database"))
        }
        Some(ErrorCode::DatabaseCorrupt) => (ErrorKind::Backend, format!("{p} is corrupt")),
        Some(ErrorCode::CannotOpen) => (ErrorKind::Backend, format!("cannot open {p}: {e}")),
        Some(ErrorCode::ReadOnly) => (ErrorKind::Backend, format!("{p} is read-only: {e}")),
        Some(ErrorCode::PermissionDenied) => {
            (ErrorKind::Backend, format!("no permission to use {p}: {e}"))
        }
        Some(ErrorCode::DiskFull) => (ErrorKind::Backend, format!("the disk holding {p} is full")),
        Some(ErrorCode::SystemIoFailure) => (ErrorKind::Backend, format!("I/O error on {p}: {e}")),
        _ => (ErrorKind::Backend, format!("SQLite error on {p}: {e}")),
    };
    Error::new(kind, message).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges_cover_exactly_the_prefix() {
        let r = KeyRange::collection("users");
        assert_eq!(r.start, "users::");
        assert_eq!(r.end, "users:;");
        assert!(
            "users::x".as_bytes() >= r.start.as_bytes() && "users::x".as_bytes() < r.end.as_bytes()
        );
        assert!(
            "users:x".as_bytes() < r.start.as_bytes() || "users:x".as_bytes() >= r.end.as_bytes()
        );
        assert!("users;".as_bytes() >= r.end.as_bytes());
    }

    #[test]
    fn only_plain_relative_file_names_are_accepted() {
        assert!(safe_relative("ab/cd/0123.val"));
        for bad in ["", "/etc/passwd", "../x.val", "ab/../../x", "./x"] {
            assert!(!safe_relative(bad), "{bad}");
        }
    }

    #[test]
    fn pragma_values_cannot_inject_sql() {
        assert_eq!(pragma_literal(&Value::Integer(5)).as_deref(), Some("5"));
        assert_eq!(
            pragma_literal(&Value::Text("wal".into())).as_deref(),
            Some("wal")
        );
        assert_eq!(
            pragma_literal(&Value::Text("wal; DROP TABLE Cache".into())),
            None
        );
        assert!(!pragma_name_ok("journal_mode; x"));
    }
}

//! [`MySqlStore`]: entries in a MySQL or MariaDB table, with the design of py-key-value's
//! PostgreSQL store (py-key-value has no MySQL store).
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_mysql::MySqlStore;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<()> {
//! let store = MySqlStore::from_url("mysql://app:secret@127.0.0.1:3306/app?table=cache")?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS `kv_store` (
//!   `collection` VARBINARY(1024) NOT NULL, `key` VARBINARY(2048) NOT NULL,
//!   `value` JSON NOT NULL, `ttl` DOUBLE NULL,
//!   `created_at` BIGINT NULL, `expires_at` BIGINT NULL,
//!   PRIMARY KEY (`collection`, `key`), KEY `idx_kv_store_expires_at` (`expires_at`)
//! ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
//! ```
//!
//! - `value` is the bare value object as Python's `json.dumps(value, sort_keys=True)` text
//!   (MariaDB keeps the text; MySQL's JSON type normalises it), read back and parsed exactly.
//! - `created_at` and `expires_at` are **Unix microseconds** (`BIGINT`): exact to the
//!   microsecond, free of the session time zone (`DATETIME(6)` has none, `TIMESTAMP(6)` ends
//!   in 2038). `ttl` is the remaining time in seconds at write time, as in the PostgreSQL
//!   store; `created_at` is kept on overwrite, as there.
//! - Keys and collections are byte strings (`VARBINARY`), so they compare exactly: no
//!   case folding, accent folding or trailing-space padding, which `utf8mb4` collations do.
//!
//! # Key limits
//!
//! InnoDB index keys hold at most 3072 bytes, and the primary key holds both the collection
//! and the key: 1024 bytes for the collection and 2048 for the key. A UTF-8 character has up
//! to 4 bytes, so the store declares (and checks before sending anything)
//! [`MAX_COLLECTION_LENGTH`] = 256 and [`MAX_KEY_LENGTH`] = 512 **characters**: longer ones
//! are [`InvalidCollection`](ErrorKind::InvalidCollection) /
//! [`InvalidKey`](ErrorKind::InvalidKey) errors. Values are limited by the server's
//! `max_allowed_packet` (16 MiB by default on MariaDB and 64 MiB on MySQL 8).
//!
//! # Batches
//!
//! `get_many` and `delete_many` are one `... IN (?, ...)` statement and `put_many` one
//! multi-row `INSERT ... ON DUPLICATE KEY UPDATE` (duplicate keys in one call: the last value
//! wins) for up to 4096 keys (2048 rows for `put_many`; larger batches are split into that
//! many statements). Batches are padded to a power of two so that few distinct statements
//! exist; each is prepared once per connection and then executed in one round trip.
//!
//! `keys()`, `collections()`, `destroy()` (this table's rows only), `destroy_collection()`
//! and a `cull()` that deletes expired rows in bounded batches (`DELETE ... LIMIT`, 10 000 by
//! default) are supported. Expiry is checked on read with the store's clock.
//!
//! # Connections and failures
//!
//! The store keeps a mysql_async pool (or uses the caller's, never disconnected). Opening
//! sends nothing and needs no runtime. An unreachable server gives temporary
//! [`Connection`](ErrorKind::Connection) (or [`Timeout`](ErrorKind::Timeout)) errors, and the
//! pool reconnects once it is back. TLS is rustls with the ring provider.

use std::collections::HashMap;
use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::json;
use key_value_core::setup::{CloseFlag, SetupOnce};
use key_value_core::{
    Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo, Timestamp,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Pool, Row, Value};

mod config;
mod table;

pub use config::{
    DEFAULT_CULL_BATCH, DEFAULT_POOL_SIZE, DEFAULT_PORT, DEFAULT_TIMEOUT, MySqlConfig,
};
pub use table::{DEFAULT_TABLE, MAX_IDENTIFIER_LENGTH, TableName};

/// The client crate, for building your own pool ([`MySqlConfig::from_pool`]).
pub use mysql_async;

use table::{COLUMNS, UPSERT, bucket, create_sql, placeholders};

/// The bytes of the `collection` column.
pub const MAX_COLLECTION_BYTES: usize = 1024;
/// The bytes of the `key` column.
pub const MAX_KEY_BYTES: usize = 2048;
/// The longest collection name, in characters (4 bytes each at most).
pub const MAX_COLLECTION_LENGTH: usize = MAX_COLLECTION_BYTES / 4;
/// The longest key, in characters (4 bytes each at most).
pub const MAX_KEY_LENGTH: usize = MAX_KEY_BYTES / 4;

/// The most keys one `get_many`/`delete_many` statement carries.
pub const KEYS_PER_STATEMENT: usize = 4096;
/// The most rows one `put_many` statement carries (6 parameters each).
pub const ROWS_PER_STATEMENT: usize = 2048;

/// A store on one MySQL or MariaDB table. See the [crate docs](crate).
pub struct MySqlStore {
    info: StoreInfo,
    pool: Pool,
    owns_pool: bool,
    table: TableName,
    quoted: String,
    auto_create: bool,
    timeout: Duration,
    cull_batch: usize,
    setup: SetupOnce,
    closed: CloseFlag,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore")
            .field("table", &self.table.name())
            .field("owns_pool", &self.owns_pool)
            .finish_non_exhaustive()
    }
}

impl MySqlStore {
    /// A store from a `mysql://` URL (see [`MySqlConfig::from_url`]). Connects at first use.
    pub fn from_url(url: &str) -> Result<Self> {
        MySqlConfig::from_url(&key_value_core::config::StoreUrl::parse(url)?)?.open()
    }

    pub(crate) fn from_parts(
        c: MySqlConfig,
        table: TableName,
        pool: Pool,
        owns_pool: bool,
    ) -> Self {
        let capabilities = Capabilities {
            native_batch: true,
            enumerate_keys: true,
            enumerate_collections: true,
            destroy: true,
            destroy_collection: true,
            cull: true,
            persistent: true,
            max_key_length: Some(MAX_KEY_LENGTH),
            max_collection_length: Some(MAX_COLLECTION_LENGTH),
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new("MySqlStore", Stability::Preview)
            .with_capabilities(capabilities)
            .with_clock(c.clock.clone());
        if let Some(dc) = &c.default_collection {
            info = info.with_default_collection(dc.clone());
        }
        MySqlStore {
            info,
            pool,
            owns_pool,
            quoted: table.quoted(),
            table,
            auto_create: c.auto_create,
            timeout: c.timeout,
            cull_batch: c.cull_batch,
            setup: SetupOnce::default(),
            closed: CloseFlag::default(),
        }
    }

    /// The table the store uses.
    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// The pool the store uses (its own, or the caller's).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Deletes expired rows (by the store's clock) in batches of
    /// [`cull_batch_size`](MySqlConfig::cull_batch_size), until none are left; how many.
    pub async fn cull_expired(&self) -> Result<u64> {
        let op = "cull";
        let mut conn = self.conn(op).await?;
        let now = self.info.clock().now().unix_micros();
        let sql = format!(
            "DELETE FROM {} WHERE `expires_at` IS NOT NULL AND `expires_at` <= ? LIMIT {}",
            self.quoted, self.cull_batch
        );
        let mut total = 0;
        loop {
            conn.exec_drop(&sql, (now,))
                .await
                .map_err(|e| self.sql_error(e).with_operation(op))?;
            let n = conn.affected_rows();
            total += n;
            if n < self.cull_batch as u64 {
                return Ok(total);
            }
        }
    }

    /// A pooled connection, after the one-time table set-up.
    async fn conn(&self, operation: &'static str) -> Result<Conn> {
        self.closed
            .check()
            .map_err(|e| e.with_operation(operation))?;
        let mut conn = match tokio::time::timeout(self.timeout, self.pool.get_conn()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(my_error(e).with_operation(operation)),
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("no MySQL connection within {:?}", self.timeout),
                )
                .with_temporary(true)
                .with_operation(operation));
            }
        };
        self.setup
            .ensure(|| self.create_table(&mut conn))
            .await
            .map_err(|e| e.or_operation(operation))?;
        Ok(conn)
    }

    async fn create_table(&self, conn: &mut Conn) -> Result<()> {
        let exists: Option<u8> = conn
            .exec_first(
                "SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?",
                (self.table.name(),),
            )
            .await
            .map_err(my_error)?;
        if exists.is_some() {
            return Ok(());
        }
        if !self.auto_create {
            return Err(Error::new(
                ErrorKind::Setup,
                format!(
                    "table {} does not exist and auto_create is off",
                    self.table.name()
                ),
            ));
        }
        conn.query_drop(create_sql(&self.table))
            .await
            .map_err(my_error)
    }

    /// A server error, with a table dropped behind the store's back as a `Setup` error.
    fn sql_error(&self, e: mysql_async::Error) -> Error {
        if let mysql_async::Error::Server(s) = &e {
            if s.code == 1146 {
                return Error::new(
                    ErrorKind::Setup,
                    format!("table {} does not exist (any more)", self.table.name()),
                );
            }
        }
        my_error(e)
    }

    fn row_entry(row: &mut Row, offset: usize) -> Result<ManagedEntry> {
        let value: Vec<u8> = take(row, offset)?;
        let text = String::from_utf8(value)
            .map_err(|_| Error::new(ErrorKind::Deserialization, "the value column is not UTF-8"))?;
        let value = json::parse_object(&text)?;
        let created: Option<i64> = take(row, offset + 1)?;
        let expires: Option<i64> = take(row, offset + 2)?;
        Ok(ManagedEntry::new(
            value,
            created.map(Timestamp::from_unix_micros),
            expires.map(Timestamp::from_unix_micros),
        ))
    }

    fn row_params(
        &self,
        out: &mut Vec<Value>,
        collection: &str,
        key: &str,
        entry: &ManagedEntry,
        now: Timestamp,
    ) {
        out.push(Value::Bytes(collection.as_bytes().to_vec()));
        out.push(Value::Bytes(key.as_bytes().to_vec()));
        out.push(Value::Bytes(
            json::to_python_json_object(&entry.value).into_bytes(),
        ));
        out.push(match entry.expires_at {
            Some(e) => Value::Double((e.unix_micros() - now.unix_micros()) as f64 / 1e6),
            None => Value::NULL,
        });
        out.push(
            entry
                .created_at
                .map_or(Value::NULL, |c| Value::Int(c.unix_micros())),
        );
        out.push(
            entry
                .expires_at
                .map_or(Value::NULL, |e| Value::Int(e.unix_micros())),
        );
    }
}

fn take<T: mysql_async::prelude::FromValue>(row: &mut Row, index: usize) -> Result<T> {
    match row.take_opt::<T, _>(index) {
        Some(Ok(v)) => Ok(v),
        _ => Err(Error::new(
            ErrorKind::Deserialization,
            format!("unexpected column {index} in the table"),
        )),
    }
}

/// The distinct keys of `keys`, in first-seen order.
fn distinct<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.iter().copied().filter(|k| seen.insert(*k)).collect()
}

impl KeyValue for MySqlStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let op = "get";
        let mut conn = self.conn(op).await?;
        let sql = format!(
            "SELECT `value`, `created_at`, `expires_at` FROM {} WHERE `collection` = ? AND `key` = ?",
            self.quoted
        );
        let row: Option<Row> = conn
            .exec_first(&sql, (collection.as_bytes(), key.as_bytes()))
            .await
            .map_err(|e| self.sql_error(e).in_context(op, collection, Some(key)))?;
        match row {
            None => Ok(None),
            Some(mut row) => Self::row_entry(&mut row, 0)
                .map(Some)
                .map_err(|e| e.in_context(op, collection, Some(key))),
        }
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let op = "put";
        let mut conn = self.conn(op).await?;
        let now = self.info.clock().now();
        let sql = format!(
            "INSERT INTO {} {COLUMNS} VALUES (?, ?, ?, ?, ?, ?) {UPSERT}",
            self.quoted
        );
        let mut params = Vec::with_capacity(6);
        self.row_params(&mut params, collection, key, &entry, now);
        conn.exec_drop(&sql, Params::Positional(params))
            .await
            .map_err(|e| self.sql_error(e).in_context(op, collection, Some(key)))
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let op = "delete";
        let mut conn = self.conn(op).await?;
        let sql = format!(
            "DELETE FROM {} WHERE `collection` = ? AND `key` = ?",
            self.quoted
        );
        conn.exec_drop(&sql, (collection.as_bytes(), key.as_bytes()))
            .await
            .map_err(|e| self.sql_error(e).in_context(op, collection, Some(key)))?;
        Ok(conn.affected_rows() > 0)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let op = "get_many";
        if keys.is_empty() {
            self.closed.check().map_err(|e| e.with_operation(op))?;
            return Ok(Vec::new());
        }
        let mut conn = self.conn(op).await?;
        let unique = distinct(keys);
        let mut found: HashMap<String, ManagedEntry> = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(KEYS_PER_STATEMENT) {
            let n = bucket(chunk.len());
            let sql = format!(
                "SELECT `key`, `value`, `created_at`, `expires_at` FROM {} \
                 WHERE `collection` = ? AND `key` IN ({})",
                self.quoted,
                placeholders(n)
            );
            let mut params = Vec::with_capacity(n + 1);
            params.push(Value::Bytes(collection.as_bytes().to_vec()));
            for i in 0..n {
                let k = chunk[i.min(chunk.len() - 1)];
                params.push(Value::Bytes(k.as_bytes().to_vec()));
            }
            let rows: Vec<Row> = conn
                .exec(&sql, Params::Positional(params))
                .await
                .map_err(|e| self.sql_error(e).in_context(op, collection, None))?;
            for mut row in rows {
                let key: Vec<u8> = take(&mut row, 0)?;
                let key = String::from_utf8(key)
                    .map_err(|_| Error::new(ErrorKind::Deserialization, "a key is not UTF-8"))?;
                let entry = Self::row_entry(&mut row, 1)
                    .map_err(|e| e.in_context(op, collection, Some(&key)))?;
                found.insert(key, entry);
            }
        }
        Ok(key_value_core::entry::in_key_order(found, keys))
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let op = "put_many";
        key_value_core::entry::check_batch_len(keys.len(), entries.len())
            .map_err(|e| e.with_operation(op))?;
        if keys.is_empty() {
            self.closed.check().map_err(|e| e.with_operation(op))?;
            return Ok(());
        }
        let mut conn = self.conn(op).await?;
        let now = self.info.clock().now();
        // One row per key, the last value winning.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            last.insert(k, i);
        }
        let rows: Vec<usize> = (0..keys.len())
            .filter(|i| last.get(keys[*i]) == Some(i))
            .collect();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let n = bucket(chunk.len());
            let mut sql = format!("INSERT INTO {} {COLUMNS} VALUES ", self.quoted);
            for i in 0..n {
                sql.push_str(if i == 0 {
                    "(?, ?, ?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?, ?, ?)"
                });
            }
            sql.push(' ');
            sql.push_str(UPSERT);
            let mut params = Vec::with_capacity(n * 6);
            for i in 0..n {
                // Padding repeats the last row: the same upsert twice changes nothing.
                let r = chunk[i.min(chunk.len() - 1)];
                self.row_params(&mut params, collection, keys[r], &entries[r], now);
            }
            conn.exec_drop(&sql, Params::Positional(params))
                .await
                .map_err(|e| self.sql_error(e).in_context(op, collection, None))?;
        }
        Ok(())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let op = "delete_many";
        if keys.is_empty() {
            self.closed.check().map_err(|e| e.with_operation(op))?;
            return Ok(0);
        }
        let mut conn = self.conn(op).await?;
        let unique = distinct(keys);
        let mut deleted = 0u64;
        for chunk in unique.chunks(KEYS_PER_STATEMENT) {
            let n = bucket(chunk.len());
            let sql = format!(
                "DELETE FROM {} WHERE `collection` = ? AND `key` IN ({})",
                self.quoted,
                placeholders(n)
            );
            let mut params = Vec::with_capacity(n + 1);
            params.push(Value::Bytes(collection.as_bytes().to_vec()));
            for i in 0..n {
                let k = chunk[i.min(chunk.len() - 1)];
                params.push(Value::Bytes(k.as_bytes().to_vec()));
            }
            conn.exec_drop(&sql, Params::Positional(params))
                .await
                .map_err(|e| self.sql_error(e).in_context(op, collection, None))?;
            deleted += conn.affected_rows();
        }
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "keys";
        let mut conn = self.conn(op).await?;
        let now = self.info.clock().now().unix_micros();
        let limit = limit.map_or(u64::MAX, |l| l as u64);
        let sql = format!(
            "SELECT `key` FROM {} WHERE `collection` = ? \
             AND (`expires_at` IS NULL OR `expires_at` > ?) ORDER BY `key` LIMIT ?",
            self.quoted
        );
        let keys: Vec<Vec<u8>> = conn
            .exec(&sql, (collection.as_bytes(), now, limit))
            .await
            .map_err(|e| self.sql_error(e).in_context(op, collection, None))?;
        keys.into_iter()
            .map(|k| {
                String::from_utf8(k)
                    .map_err(|_| Error::new(ErrorKind::Deserialization, "a key is not UTF-8"))
            })
            .collect()
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "collections";
        let mut conn = self.conn(op).await?;
        let now = self.info.clock().now().unix_micros();
        let limit = limit.map_or(u64::MAX, |l| l as u64);
        let sql = format!(
            "SELECT DISTINCT `collection` FROM {} \
             WHERE `expires_at` IS NULL OR `expires_at` > ? ORDER BY `collection` LIMIT ?",
            self.quoted
        );
        let names: Vec<Vec<u8>> = conn
            .exec(&sql, (now, limit))
            .await
            .map_err(|e| self.sql_error(e).with_operation(op))?;
        names
            .into_iter()
            .map(|k| {
                String::from_utf8(k).map_err(|_| {
                    Error::new(ErrorKind::Deserialization, "a collection is not UTF-8")
                })
            })
            .collect()
    }

    async fn destroy(&self) -> Result<bool> {
        let op = "destroy";
        let mut conn = self.conn(op).await?;
        conn.exec_drop(format!("DELETE FROM {}", self.quoted), ())
            .await
            .map_err(|e| self.sql_error(e).with_operation(op))?;
        Ok(conn.affected_rows() > 0)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let op = "destroy_collection";
        let mut conn = self.conn(op).await?;
        conn.exec_drop(
            format!("DELETE FROM {} WHERE `collection` = ?", self.quoted),
            (collection.as_bytes(),),
        )
        .await
        .map_err(|e| self.sql_error(e).in_context(op, collection, None))?;
        Ok(conn.affected_rows() > 0)
    }

    async fn cull(&self) -> Result<()> {
        self.cull_expired().await.map(|_| ())
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        if self.owns_pool {
            // Idle connections are closed; those in use close when returned.
            let _ = self.pool.clone().disconnect().await;
        }
        Ok(())
    }
}

/// A mysql_async error as a store error: I/O and connection failures, a server shutting
/// down, too many connections and lost connections are temporary
/// [`Connection`](ErrorKind::Connection) errors; deadlocks and lock wait time-outs temporary
/// [`Backend`](ErrorKind::Backend) ones.
pub fn my_error(e: mysql_async::Error) -> Error {
    use mysql_async::{DriverError, Error as E};
    match e {
        E::Server(s) => {
            let (kind, temporary) = match s.code {
                1040 | 1053 | 1077 | 1078 | 1079 | 1080 | 1152 | 1158 | 1159 | 1160 | 1161
                | 2002 | 2003 | 2006 | 2013 | 1927 => (ErrorKind::Connection, true),
                1205 | 1213 => (ErrorKind::Backend, true),
                1146 | 1142 | 1044 | 1049 => (ErrorKind::Setup, false),
                1045 => (ErrorKind::Connection, false),
                1153 | 1301 => (ErrorKind::ValueTooLarge, false),
                1406 | 1071 => (ErrorKind::InvalidKey, false),
                _ => (ErrorKind::Backend, false),
            };
            Error::new(
                kind,
                format!("MySQL error {} ({}): {}", s.code, s.state, s.message),
            )
            .with_temporary(temporary)
        }
        E::Io(io) => {
            // A certificate that does not verify: retrying does not help.
            let tls = matches!(&io, mysql_async::IoError::Tls(_))
                || matches!(&io, mysql_async::IoError::Io(e)
                    if e.kind() == std::io::ErrorKind::InvalidData
                        && e.to_string().contains("certificate"));
            Error::new(ErrorKind::Connection, format!("MySQL: {io}"))
                .with_temporary(!tls)
                .with_source(io)
        }
        E::Driver(DriverError::PoolDisconnected) => {
            Error::new(ErrorKind::Closed, "the connection pool was disconnected")
        }
        E::Driver(d) => {
            let temporary = matches!(
                d,
                DriverError::ConnectionClosed | DriverError::PacketOutOfOrder
            );
            let kind = if temporary {
                ErrorKind::Connection
            } else {
                ErrorKind::Backend
            };
            Error::new(kind, format!("MySQL driver: {d}")).with_temporary(temporary)
        }
        E::Url(u) => Error::new(ErrorKind::Config, format!("MySQL URL: {u}")),
        E::Other(o) => Error::new(ErrorKind::Backend, format!("MySQL: {o}")),
    }
}

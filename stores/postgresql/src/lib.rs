//! [`PostgreSQLStore`]: entries in a PostgreSQL table, in py-key-value's `PostgreSQLStore`
//! layout, so a Rust and a Python program can share one table.
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_postgresql::PostgreSQLStore;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<()> {
//! let store = PostgreSQLStore::from_url("postgresql://app:secret@127.0.0.1/app?table=cache")?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! // Python: await PostgreSQLStore(url=..., table_name="cache").get("user:1", collection="users")
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! Exactly py-key-value 0.4.6's table (default name `kv_store`):
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS kv_store (
//!   collection TEXT NOT NULL, key TEXT NOT NULL, value JSONB NOT NULL,
//!   ttl DOUBLE PRECISION, created_at TIMESTAMPTZ, expires_at TIMESTAMPTZ,
//!   PRIMARY KEY (collection, key));
//! CREATE INDEX IF NOT EXISTS idx_kv_store_expires_at ON kv_store(expires_at)
//!   WHERE expires_at IS NOT NULL;
//! ```
//!
//! - `value` holds the bare value object (no envelope), sent as Python's
//!   `json.dumps(value, sort_keys=True)` text and normalised by JSONB; read back as
//!   `value::text` and parsed exactly.
//! - `ttl` is the remaining time in seconds **at write time**, by the store's clock, as Python
//!   writes it (informational: expiry is decided by `expires_at`); `NULL` without a TTL.
//! - `created_at` is **kept on overwrite** (the upsert updates `value`, `ttl` and `expires_at`
//!   only), as in py-key-value: it is the time the key was first written.
//! - JSONB cannot hold the NUL character (`\u0000`), which py-key-value therefore cannot store
//!   at all. This store keeps such values (and only those, plus any value that would look like
//!   one) as `{"__key_value_escaped__": "<the value's JSON text>"}` and reads them back
//!   unchanged ([`encode_value`], [`decode_value`]); Python sees that wrapper object.
//! - Expiry is checked on read with the store's clock; expired rows stay until [`cull`](
//!   key_value_core::KeyValue::cull) (or an overwrite) removes them.
//! - The index name follows py-key-value's rule ([`TableName::index_name`]), so both create
//!   the same schema; a table created by either works for both.
//!
//! The table name is validated (`[A-Za-z_][A-Za-z0-9_]{0,62}`), folded to lower case (as
//! PostgreSQL folds py-key-value's unquoted name) and quoted: no SQL can be injected.
//!
//! # Better than py-key-value
//!
//! - `get_many` and `delete_many` are one statement each (`key = ANY($2)`), `put_many` one
//!   `INSERT ... SELECT FROM UNNEST(...) ON CONFLICT DO UPDATE` (duplicate keys in one call:
//!   the last value wins, as with single puts): one round trip each.
//! - Statements are prepared once per connection and reused. Behind PgBouncer in transaction
//!   mode, turn that off ([`PostgreSQLConfig::statement_cache`]`(false)`,
//!   `?statement_cache=false`): each statement then goes out unnamed with its parameter types,
//!   still in one round trip.
//! - `keys()` (live keys of a collection, sorted), `collections()` (those with live keys),
//!   `destroy()` (deletes this table's rows only, never other tables), `destroy_collection()`.
//! - `cull()` deletes expired rows in bounded batches (10 000 per statement by default,
//!   through the partial index), looping until none are left, so a cache table does not bloat
//!   between `VACUUM`s. Run it periodically.
//!
//! # Keys
//!
//! Keys and collections are `TEXT` with no length limit of their own, but PostgreSQL's B-tree
//! primary key refuses index entries over 2704 bytes. The store therefore rejects a
//! collection and key whose UTF-8 lengths add up to more than [`MAX_KEY_BYTES`] (2600) with an
//! [`InvalidKey`](ErrorKind::InvalidKey) error before sending anything (py-key-value sends them
//! and gets a server error). NUL characters, which PostgreSQL text cannot hold, are rejected
//! the same way.
//!
//! # Connections and failures
//!
//! The store keeps a deadpool pool of [`pool_size`](PostgreSQLConfig::pool_size) connections
//! (or uses the caller's own pool, [`PostgreSQLConfig::from_pool`], which it never closes).
//! Opening sends nothing and needs no runtime. While the server is unreachable calls fail with
//! temporary [`Connection`](ErrorKind::Connection) (or [`Timeout`](ErrorKind::Timeout)) errors;
//! once it is back, the pool reconnects by itself.
//!
//! # TLS
//!
//! rustls with the ring provider, with libpq's `sslmode` meanings ([`TlsMode`]): `prefer`
//! (the default) and `require` encrypt without verifying the certificate, `verify-ca` checks
//! the chain against `sslrootcert` (or the system's roots), `verify-full` the chain and the
//! host name; `require` with `sslrootcert` acts as `verify-ca`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::{Object as PooledClient, Pool, PoolError};
use key_value_core::entry::{ManagedEntry, Object};
use key_value_core::json;
use key_value_core::setup::{CloseFlag, SetupOnce};
use key_value_core::{
    Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo, Timestamp,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

mod config;
mod table;
mod tls;

pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_CULL_BATCH, DEFAULT_POOL_SIZE, DEFAULT_PORT, DEFAULT_TIMEOUT,
    PostgreSQLConfig, TlsMode,
};
pub use table::{DEFAULT_TABLE, MAX_IDENTIFIER_LENGTH, TableName, is_valid_table_name};

/// The client crates, for building your own pool ([`PostgreSQLConfig::from_pool`]).
pub use deadpool_postgres;
pub use tokio_postgres;

use table::{Statements, Stmt};

/// The most UTF-8 bytes a collection and a key may have together: PostgreSQL's B-tree index
/// entries hold at most 2704 bytes, and the primary key holds both plus a few bytes of
/// overhead.
pub const MAX_KEY_BYTES: usize = 2600;

type Param<'a> = &'a (dyn ToSql + Sync);

/// A store on one PostgreSQL table, in py-key-value's layout. See the [crate docs](crate).
pub struct PostgreSQLStore {
    info: StoreInfo,
    pool: Pool,
    owns_pool: bool,
    table: TableName,
    statements: Statements,
    auto_create: bool,
    statement_cache: bool,
    cull_batch: usize,
    setup: SetupOnce,
    closed: CloseFlag,
}

impl std::fmt::Debug for PostgreSQLStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgreSQLStore")
            .field("table", &self.table.name())
            .field("owns_pool", &self.owns_pool)
            .field("statement_cache", &self.statement_cache)
            .finish_non_exhaustive()
    }
}

impl PostgreSQLStore {
    /// A store from a `postgresql://` URL (see [`PostgreSQLConfig::from_url`]). Connects at
    /// first use.
    pub fn from_url(url: &str) -> Result<Self> {
        PostgreSQLConfig::from_url(&key_value_core::config::StoreUrl::parse(url)?)?.open()
    }

    /// A store on the caller's pool and py-key-value's default table, which the store never
    /// closes.
    pub fn from_pool(pool: Pool) -> Result<Self> {
        PostgreSQLConfig::from_pool(pool).open()
    }

    pub(crate) fn from_parts(
        c: PostgreSQLConfig,
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
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new("PostgreSQLStore", Stability::Stable)
            .with_capabilities(capabilities)
            .with_clock(c.clock.clone());
        if let Some(dc) = &c.default_collection {
            info = info.with_default_collection(dc.clone());
        }
        PostgreSQLStore {
            info,
            pool,
            owns_pool,
            statements: Statements::new(&table),
            table,
            auto_create: c.auto_create,
            statement_cache: c.statement_cache,
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
    /// [`cull_batch_size`](PostgreSQLConfig::cull_batch_size), until none are left; how many.
    pub async fn cull_expired(&self) -> Result<u64> {
        let client = self.client("cull").await?;
        let now = to_system(self.info.clock().now());
        let batch = i64::try_from(self.cull_batch).unwrap_or(i64::MAX);
        let mut total = 0;
        loop {
            let n = self
                .execute(&client, Stmt::Cull, &[&now, &batch])
                .await
                .map_err(|e| e.with_operation("cull"))?;
            total += n;
            if n < self.cull_batch as u64 {
                return Ok(total);
            }
        }
    }

    /// A pooled connection, after the one-time table set-up.
    async fn client(&self, operation: &'static str) -> Result<PooledClient> {
        self.closed
            .check()
            .map_err(|e| e.with_operation(operation))?;
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| pool_error(e).with_operation(operation))?;
        self.setup
            .ensure(|| self.create_table(&client))
            .await
            .map_err(|e| e.or_operation(operation))?;
        Ok(client)
    }

    /// py-key-value's set-up: when the table is missing, create it and its index (or fail
    /// when `auto_create` is off).
    async fn create_table(&self, client: &PooledClient) -> Result<()> {
        let quoted = self.table.quoted();
        let exists = client
            .query_typed(
                "SELECT to_regclass($1) IS NOT NULL",
                &[(&quoted, tokio_postgres::types::Type::TEXT)],
            )
            .await
            .map_err(pg_error)?
            .first()
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false);
        if exists {
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
        let sql = Statements::create(&self.table);
        match client.batch_execute(&sql).await {
            Ok(()) => Ok(()),
            // Another process created it at the same moment (CREATE ... IF NOT EXISTS is not
            // safe against concurrent creation): it exists now.
            Err(e) if is_concurrent_create(&e) => Ok(()),
            Err(e) => Err(pg_error(e)),
        }
    }

    async fn query(
        &self,
        client: &PooledClient,
        stmt: Stmt,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        let sql = self.statements.sql(stmt);
        let types = Statements::types(stmt);
        if self.statement_cache {
            let prepared = client
                .prepare_typed_cached(sql, types)
                .await
                .map_err(|e| self.sql_error(e))?;
            client
                .query(&prepared, params)
                .await
                .map_err(|e| self.sql_error(e))
        } else {
            let typed: Vec<(Param<'_>, tokio_postgres::types::Type)> = params
                .iter()
                .zip(types)
                .map(|(p, t)| (*p, t.clone()))
                .collect();
            client
                .query_typed(sql, &typed)
                .await
                .map_err(|e| self.sql_error(e))
        }
    }

    async fn execute(
        &self,
        client: &PooledClient,
        stmt: Stmt,
        params: &[Param<'_>],
    ) -> Result<u64> {
        let sql = self.statements.sql(stmt);
        let types = Statements::types(stmt);
        if self.statement_cache {
            let prepared = client
                .prepare_typed_cached(sql, types)
                .await
                .map_err(|e| self.sql_error(e))?;
            client
                .execute(&prepared, params)
                .await
                .map_err(|e| self.sql_error(e))
        } else {
            let typed: Vec<(Param<'_>, tokio_postgres::types::Type)> = params
                .iter()
                .zip(types)
                .map(|(p, t)| (*p, t.clone()))
                .collect();
            client
                .execute_typed(sql, &typed)
                .await
                .map_err(|e| self.sql_error(e))
        }
    }

    /// A server error, with a table dropped behind the store's back as a `Setup` error.
    fn sql_error(&self, e: tokio_postgres::Error) -> Error {
        if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
            return Error::new(
                ErrorKind::Setup,
                format!("table {} does not exist (any more)", self.table.name()),
            )
            .with_source(e);
        }
        pg_error(e)
    }

    fn row_entry(row: &Row, offset: usize) -> Result<ManagedEntry> {
        let text: String = row.try_get(offset).map_err(decode_error)?;
        let value = decode_value(&text)?;
        let created: Option<SystemTime> = row.try_get(offset + 1).map_err(decode_error)?;
        let expires: Option<SystemTime> = row.try_get(offset + 2).map_err(decode_error)?;
        Ok(ManagedEntry::new(
            value,
            created.map(from_system),
            expires.map(from_system),
        ))
    }

    /// The `ttl` column: seconds left at write time by the store's clock, as Python writes it.
    fn ttl_column(&self, entry: &ManagedEntry, now: Timestamp) -> Option<f64> {
        entry
            .expires_at
            .map(|e| (e.unix_micros() - now.unix_micros()) as f64 / 1e6)
    }
}

/// The one key of the object that stands for a value JSONB cannot hold (see the crate docs).
pub const ESCAPED_VALUE_KEY: &str = "__key_value_escaped__";

/// The `value` column's text for `value`: Python's `json.dumps(value, sort_keys=True)`, or,
/// when that holds a NUL character (`\u0000`, which JSONB refuses) or the value itself has the
/// escape's shape, `{"__key_value_escaped__": "<that JSON text>"}`.
pub fn encode_value(value: &Object) -> String {
    let text = json::to_python_json_object(value);
    if !text.contains("\\u0000") && !is_escape_shaped(value) {
        return text;
    }
    let mut wrapper = Object::new();
    wrapper.insert(ESCAPED_VALUE_KEY.to_string(), text.into());
    json::to_python_json_object(&wrapper)
}

/// The value of a `value` column's text: the inverse of [`encode_value`].
pub fn decode_value(text: &str) -> Result<Object> {
    let mut value = json::parse_object(text)?;
    if is_escape_shaped(&value) {
        if let Some(serde_json::Value::String(inner)) = value.remove(ESCAPED_VALUE_KEY) {
            return json::parse_object(&inner);
        }
    }
    Ok(value)
}

fn is_escape_shaped(value: &Object) -> bool {
    value.len() == 1
        && value
            .get(ESCAPED_VALUE_KEY)
            .is_some_and(serde_json::Value::is_string)
}

fn check_key(collection: &str, key: &str) -> Result<()> {
    if collection.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidCollection,
            "PostgreSQL text cannot hold NUL characters",
        ));
    }
    if key.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            "PostgreSQL text cannot hold NUL characters",
        ));
    }
    if collection.len() + key.len() > MAX_KEY_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!(
                "the collection and key have {} UTF-8 bytes together; PostgreSQL's primary key \
                 index holds at most {MAX_KEY_BYTES}",
                collection.len() + key.len()
            ),
        ));
    }
    Ok(())
}

impl KeyValue for PostgreSQLStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let op = "get";
        check_key(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
        let client = self.client(op).await?;
        let rows = self
            .query(&client, Stmt::Get, &[&collection, &key])
            .await
            .map_err(|e| e.in_context(op, collection, Some(key)))?;
        match rows.first() {
            None => Ok(None),
            Some(row) => Self::row_entry(row, 0)
                .map(Some)
                .map_err(|e| e.in_context(op, collection, Some(key))),
        }
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let op = "put";
        check_key(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
        let client = self.client(op).await?;
        let now = self.info.clock().now();
        let value = encode_value(&entry.value);
        let ttl = self.ttl_column(&entry, now);
        let created = entry.created_at.map(to_system);
        let expires = entry.expires_at.map(to_system);
        self.execute(
            &client,
            Stmt::Put,
            &[&collection, &key, &value, &ttl, &created, &expires],
        )
        .await
        .map_err(|e| e.in_context(op, collection, Some(key)))?;
        Ok(())
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let op = "delete";
        check_key(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
        let client = self.client(op).await?;
        let n = self
            .execute(&client, Stmt::Delete, &[&collection, &key])
            .await
            .map_err(|e| e.in_context(op, collection, Some(key)))?;
        Ok(n > 0)
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
        for key in keys {
            check_key(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
        }
        let client = self.client(op).await?;
        let rows = self
            .query(&client, Stmt::GetMany, &[&collection, &keys])
            .await
            .map_err(|e| e.in_context(op, collection, None))?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in &rows {
            let key: String = row.try_get(0).map_err(decode_error)?;
            let entry =
                Self::row_entry(row, 1).map_err(|e| e.in_context(op, collection, Some(&key)))?;
            found.insert(key, entry);
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
        for key in keys {
            check_key(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
        }
        let client = self.client(op).await?;
        let now = self.info.clock().now();
        // One row per key, the last value winning (an upsert cannot touch a row twice).
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            last.insert(k, i);
        }
        let n = last.len();
        let mut ks: Vec<&str> = Vec::with_capacity(n);
        let mut values: Vec<String> = Vec::with_capacity(n);
        let mut ttls: Vec<Option<f64>> = Vec::with_capacity(n);
        let mut created: Vec<Option<SystemTime>> = Vec::with_capacity(n);
        let mut expires: Vec<Option<SystemTime>> = Vec::with_capacity(n);
        for (i, (key, entry)) in keys.iter().zip(&entries).enumerate() {
            if last.get(key) != Some(&i) {
                continue;
            }
            ks.push(key);
            values.push(encode_value(&entry.value));
            ttls.push(self.ttl_column(entry, now));
            created.push(entry.created_at.map(to_system));
            expires.push(entry.expires_at.map(to_system));
        }
        self.execute(
            &client,
            Stmt::PutMany,
            &[&collection, &ks, &values, &ttls, &created, &expires],
        )
        .await
        .map_err(|e| e.in_context(op, collection, None))?;
        Ok(())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let op = "delete_many";
        if keys.is_empty() {
            self.closed.check().map_err(|e| e.with_operation(op))?;
            return Ok(0);
        }
        for key in keys {
            check_key(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
        }
        let client = self.client(op).await?;
        let n = self
            .execute(&client, Stmt::DeleteMany, &[&collection, &keys])
            .await
            .map_err(|e| e.in_context(op, collection, None))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "keys";
        let client = self.client(op).await?;
        let now = to_system(self.info.clock().now());
        let limit = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = self
            .query(&client, Stmt::Keys, &[&collection, &now, &limit])
            .await
            .map_err(|e| e.in_context(op, collection, None))?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(decode_error))
            .collect()
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "collections";
        let client = self.client(op).await?;
        let now = to_system(self.info.clock().now());
        let limit = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = self
            .query(&client, Stmt::Collections, &[&now, &limit])
            .await
            .map_err(|e| e.or_operation(op))?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(decode_error))
            .collect()
    }

    async fn destroy(&self) -> Result<bool> {
        let op = "destroy";
        let client = self.client(op).await?;
        let n = self
            .execute(&client, Stmt::Destroy, &[])
            .await
            .map_err(|e| e.or_operation(op))?;
        Ok(n > 0)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let op = "destroy_collection";
        let client = self.client(op).await?;
        let n = self
            .execute(&client, Stmt::DestroyCollection, &[&collection])
            .await
            .map_err(|e| e.in_context(op, collection, None))?;
        Ok(n > 0)
    }

    async fn cull(&self) -> Result<()> {
        self.cull_expired().await.map(|_| ())
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        if self.owns_pool {
            self.pool.close();
        }
        Ok(())
    }
}

fn to_system(t: Timestamp) -> SystemTime {
    let micros = t.unix_micros();
    if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    }
}

fn from_system(s: SystemTime) -> Timestamp {
    match s.duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp::from_unix_micros(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
        Err(e) => Timestamp::from_unix_micros(
            -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
        ),
    }
}

fn decode_error(e: tokio_postgres::Error) -> Error {
    Error::new(
        ErrorKind::Deserialization,
        format!("unexpected column in the table: {e}"),
    )
    .with_source(e)
}

fn is_concurrent_create(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    )
}

/// A tokio-postgres error as a store error: connection failures (refused, reset, closed,
/// server shutting down, too many connections) are temporary
/// [`Connection`](ErrorKind::Connection) errors, serialization failures and deadlocks temporary
/// [`Backend`](ErrorKind::Backend) ones, a cancelled statement a [`Timeout`](ErrorKind::Timeout).
pub fn pg_error(e: tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let (kind, temporary) = match code {
            c if c.starts_with("08") => (ErrorKind::Connection, true),
            "57P01" | "57P02" | "57P03" | "53300" => (ErrorKind::Connection, true),
            "40001" | "40P01" | "55P03" => (ErrorKind::Backend, true),
            "57014" => (ErrorKind::Timeout, true),
            "42P01" => (ErrorKind::Setup, false),
            "54000" => (ErrorKind::InvalidKey, false),
            "42501" => (ErrorKind::Setup, false),
            _ => (ErrorKind::Backend, false),
        };
        let message = format!("PostgreSQL error {code}: {}", db.message());
        return Error::new(kind, message)
            .with_temporary(temporary)
            .with_source(e);
    }
    let text = e.to_string();
    if text.contains("TLS") || text.contains("tls") {
        // A certificate that does not verify, or a server without TLS when it is required:
        // retrying does not help.
        return Error::new(ErrorKind::Connection, format!("PostgreSQL: {text}"))
            .with_temporary(false)
            .with_source(e);
    }
    let connection = e.is_closed()
        || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
        || text.contains("connect")
        || text.contains("communicating")
        || text.contains("timeout")
        || text.contains("closed");
    if connection {
        Error::new(ErrorKind::Connection, format!("PostgreSQL: {text}"))
            .with_temporary(true)
            .with_source(e)
    } else {
        Error::new(ErrorKind::Backend, format!("PostgreSQL: {text}")).with_source(e)
    }
}

fn pool_error(e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => pg_error(e),
        PoolError::Timeout(t) => Error::new(
            ErrorKind::Timeout,
            format!("no PostgreSQL connection in time ({t:?})"),
        )
        .with_temporary(true),
        PoolError::Closed => Error::new(ErrorKind::Closed, "the connection pool was closed"),
        PoolError::NoRuntimeSpecified => Error::new(
            ErrorKind::Config,
            "the connection pool has no runtime for its time-outs",
        ),
        PoolError::PostCreateHook(e) => {
            Error::new(ErrorKind::Connection, format!("PostgreSQL: {e}")).with_temporary(true)
        }
    }
}

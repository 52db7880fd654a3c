//! [`AzureTablesStore`]: entries in one Azure Table Storage table, in py-key-value 0.4.6's
//! `AzureTablesStore` layout, so a Rust and a Python program can share one table.
//!
//! There is no maintained Azure Tables crate for Rust (the official SDK has no Tables crate;
//! `azure_data_tables` is the frozen legacy SDK), so this crate has its own small REST client
//! ([`client`]) with Shared Key, Shared Key Lite and SAS authentication ([`auth`]), on the
//! project's shared HTTP stack (reqwest, rustls with ring).
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_azure_tables::AzureTablesStore;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<()> {
//! let store = AzureTablesStore::from_connection_string(
//!     &std::env::var("AZURE_STORAGE_CONNECTION_STRING").unwrap_or_default(),
//!     "kvstore",
//! )?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! // Python: await AzureTablesStore(connection_string=..., table_name="kvstore").get("user:1", collection="users")
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! One table per store (created at the first write unless
//! [`auto_create(false)`](AzureTablesConfig::auto_create)); one entity per entry:
//!
//! | property | type | holds |
//! |---|---|---|
//! | `PartitionKey` | string | the collection (through the collection sanitization strategy, if any) |
//! | `RowKey` | string | the key (through the key sanitization strategy, if any) |
//! | `Value` | string | py-key-value's JSON envelope **with** `key` and `collection` (unsanitized), `created_at`, `expires_at`, `value`, `version` |
//! | `ExpiresAt` | `Edm.Int64` | `int(expires_at.timestamp())`, epoch seconds; only when the entry has a TTL |
//!
//! Writes are insert-or-replace (`PUT` without `If-Match`, py's `UpdateMode.REPLACE`), so an
//! overwrite drops an old `ExpiresAt`. On read, a missing or empty `Value` is a miss and
//! `ExpiresAt` overrides the envelope's `expires_at`, as in py-key-value; since `ExpiresAt`
//! has whole seconds, the envelope's exact time is kept when both agree to the second.
//! Expired entities are misses but are not deleted on read (py-key-value does not either);
//! [`cull`](key_value_core::KeyValue::cull) deletes them.
//!
//! # Keys, collections and sizes
//!
//! The service refuses `/ \ # ?`, C0 (U+0000–U+001F) and C1 (U+007F–U+009F) control characters
//! in `PartitionKey`/`RowKey`, and keys over 1 KiB of UTF-16 (512 code units). Without a
//! sanitization strategy (py-key-value's default) such keys and collections are
//! [`InvalidKey`](ErrorKind::InvalidKey) / [`InvalidCollection`](ErrorKind::InvalidCollection)
//! errors before anything is sent (py-key-value sends them and gets a service error). With
//! [`sanitize(true)`](AzureTablesConfig::sanitize) (py's `AzureTablesSanitizationStrategy` for
//! both) they are stored as `H_` + SHA-256, byte-for-byte as py-key-value does; user keys
//! starting with `H_` or `S_` are then `InvalidKey` errors.
//!
//! A string property holds at most 64 KB of UTF-16 and an entity at most 1 MiB. py-key-value
//! does nothing special about big values (it does not split them; the service refuses them),
//! so this store refuses, with [`ValueTooLarge`](ErrorKind::ValueTooLarge) before anything is
//! sent, an envelope longer than [`MAX_VALUE_CHARS`] (32 000 UTF-16 code units: 64 000 bytes
//! work on the real service and 65 536 do not, as reported in Azure/Azurite#2510; Azurite
//! allows 32 768) or an entity over
//! [`MAX_ENTITY_BYTES`]. The envelope is ASCII (`\u` escapes), so this is its length in bytes:
//! the value's JSON plus its key, collection and timestamps (about 130 bytes).
//!
//! # Batches
//!
//! - `put_many` runs entity group transactions (`$batch`) of up to 100 insert-or-replace
//!   operations (and at most ~4 MiB) per request, several in flight. One collection is one
//!   partition, which is what a transaction requires. Each transaction is atomic; a call of
//!   more than 100 keys is not (a failure may leave earlier transactions written). Keys given
//!   twice are written once, the last value winning (a transaction may not touch an entity
//!   twice).
//! - `delete_many` runs transactions of up to 100 deletes. A transaction fails as a whole when
//!   one entity is missing, so such a chunk is redone as single deletes, which also gives the
//!   exact count: one request per 100 existing keys, one per key otherwise.
//! - `get_many` runs single point reads, [`concurrency`](AzureTablesConfig::concurrency) (16)
//!   in flight: a transaction may hold only one read, and a `RowKey eq 'a' or ...` query is
//!   limited to 15 comparisons and scans the partition on the real service.
//!
//! Measured against Azurite 3.35.0 on this project's machine (loopback, 2 shared cores, the
//! `batch_of_250_keys_across_the_100_operation_limit` test prints it): `$batch` was reliable
//! (every operation applied, a failure reported with the failing operation's index); 1000 puts as 10 transactions took 0.17–0.31 s
//! against 1.4–2.1 s as 1000 single requests 16 at a time (two runs), 6 to 8 times faster. On the real service a transaction of 100 costs one
//! round trip instead of 100 (billing counts 100 operations either way).
//!
//! With a SAS credential, a transaction refused with 403 is redone as single requests:
//! Azurite 3.35.0 refuses every `$batch` authorized by a table SAS (the Python SDK's too)
//! while single requests with the same token work.
//!
//! # Enumeration, destroy, cull
//!
//! - `keys()`: a query `PartitionKey eq '<collection>'` with `$select=RowKey,ExpiresAt`, paged
//!   by 1000 with the continuation headers: one request per 1000 keys. Expired entities are
//!   skipped (an entity expiring within the current second is read to decide). Sanitized keys
//!   are listed as the user wrote them (hashed ones are read back from their envelope).
//! - `collections()`: the service has no "distinct" query, so this scans `$select=PartitionKey,RowKey,ExpiresAt`
//!   and, once a collection is found live, skips to the next with `PartitionKey gt '<it>'`:
//!   about one request per collection, but a collection whose first thousands of entities are
//!   expired costs one request per 1000 of them. Keep collections few or cull regularly.
//! - `destroy()` deletes the store's table (one request, whatever its size); the next write
//!   creates it again. On the real service a deleted table's name stays taken for about 40
//!   seconds: writes in that window fail with a temporary error (`TableBeingDeleted`); Azurite
//!   frees it at once.
//! - `destroy_collection()` queries the partition's `RowKey`s and deletes them in transactions
//!   of 100.
//! - `cull()` queries `ExpiresAt lt <now>L` over the whole table (a table scan on the service's
//!   side, one request per 1000 matches) and deletes the matches in transactions.
//!
//! # Authentication
//!
//! [`Credential`]: Shared Key from an account name and key (what the Python
//! SDK uses), Shared Key Lite, or a SAS token; from a connection string
//! ([`config::ConnectionString`]: `AccountName`/`AccountKey`/`TableEndpoint`/`EndpointSuffix`,
//! `SharedAccessSignature`, `UseDevelopmentStorage=true`), the builder, or a URL. Keys and
//! tokens never appear in `Debug`, logs or errors. Reads need no write permission: the table
//! is created at the first write, not at the first call.
//!
//! # Failures
//!
//! See [`error`]: 5xx, `ServerBusy`, `OperationTimedOut` and throttling are temporary
//! [`Backend`](ErrorKind::Backend) errors; a wrong key (403 `AuthenticationFailed`) is a
//! permanent one naming the code; an unreachable endpoint is a temporary
//! [`Connection`](ErrorKind::Connection) error. The service's [`error::ServiceError`] (status,
//! code) is the error's source. Creating the table at the first write may fail with a
//! [`Setup`](ErrorKind::Setup) error (wrapping the service's, temporariness kept); when the
//! credential may not create tables (403: a table SAS, or a wrong key) the store goes on and
//! the write itself reports what is wrong: the 403, or a `Setup` error saying the table does
//! not exist and could not be created. A table deleted behind the store's back is re-created
//! by the next write; reads of a missing table find nothing.
//!
//! # Azurite
//!
//! Verified against Azurite 3.35.0 (npm `azurite`, `services/azurite/start`, run with
//! `--skipApiVersionCheck --loose --disableTelemetry`), and with the real py-key-value 0.4.6
//! `AzureTablesStore` (azure-data-tables 12.7.0) on the same tables in both directions. Not
//! verified against the real Azure service. Where Azurite differs from Azure Table Storage:
//!
//! - `--loose` makes it ignore headers and parameters it does not support, and
//!   `--skipApiVersionCheck` accepts any `x-ms-version`; the real service checks both.
//! - It stores everything in one LokiJS database in memory (persisted to `--location`):
//!   no partitions, no throttling (`ServerBusy`), no query time-outs. The real service can
//!   answer a query page with no entities and a continuation; the store follows continuations
//!   in every case.
//! - Limits: it allows string properties up to 32 768 UTF-16 code units (the real service
//!   reportedly refuses 65 536 bytes: the store keeps to 32 000), checks keys at 512 code units like the
//!   service, does not cap entities at 255 properties, and has answered 403
//!   `AuthorizationFailure` (XML) where the service says `AuthenticationFailed` (JSON).
//! - Deleted tables can be created again at once (the real service: ~40 s).
//! - It refuses entity group transactions authorized by a table SAS (see Batches).
//! - Its errors for operations on a missing table (`TableNotFound`) and its batch answers
//!   follow the service's documented format; its timings are loopback timings, not Azure's.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{StreamExt, TryStreamExt, stream};
use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::sanitize::SanitizationStrategy;
use key_value_core::setup::CloseFlag;
use key_value_core::{
    Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo, Timestamp, json,
};
use serde_json::{Map, Value};

pub mod auth;
pub mod client;
pub mod config;
pub mod error;

pub use auth::Credential;
pub use client::TablesClient;
pub use config::{
    AzureTablesConfig, ConnectionString, DEFAULT_CONCURRENCY, DEVELOPMENT_ACCOUNT,
    DEVELOPMENT_ACCOUNT_KEY, DEVELOPMENT_TABLE_ENDPOINT,
};
pub use key_value_core::sanitize::AzureTablesSanitizationStrategy;

use client::{BatchOperation, Entity, MAX_BATCH_BYTES, MAX_BATCH_OPERATIONS, MAX_PAGE_SIZE, quote};
use error::{has_code, service_error};

/// The longest `PartitionKey` or `RowKey`, in UTF-16 code units (1 KiB).
pub const MAX_KEY_CHARS: usize = 512;
/// The longest `Value` (the JSON envelope) the store writes, in UTF-16 code units: a string
/// property holds 64 KB of UTF-16 on the real service.
pub const MAX_VALUE_CHARS: usize = 32_000;
/// The largest entity, in the service's accounting (1 MiB).
pub const MAX_ENTITY_BYTES: usize = 1024 * 1024;

/// A store on one Azure Table Storage table, in py-key-value's layout. See the
/// [crate docs](crate).
pub struct AzureTablesStore {
    info: StoreInfo,
    client: TablesClient,
    table: String,
    auto_create: bool,
    key_strategy: Option<Arc<dyn SanitizationStrategy>>,
    collection_strategy: Option<Arc<dyn SanitizationStrategy>>,
    concurrency: usize,
    table_ready: TableState,
    closed: CloseFlag,
}

impl std::fmt::Debug for AzureTablesStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureTablesStore")
            .field("client", &self.client)
            .field("table", &self.table)
            .field("auto_create", &self.auto_create)
            .field("key_sanitization_strategy", &self.key_strategy)
            .field(
                "collection_sanitization_strategy",
                &self.collection_strategy,
            )
            .finish_non_exhaustive()
    }
}

/// Whether the table is known to exist; reset when it turns out not to.
#[derive(Default)]
struct TableState {
    ready: AtomicBool,
    lock: tokio::sync::Mutex<()>,
}

impl AzureTablesStore {
    /// A store from an `azure-tables://` URL (see [`AzureTablesConfig`]).
    pub fn from_url(url: &str) -> Result<Self> {
        AzureTablesConfig::from_url(&key_value_core::config::StoreUrl::parse(url)?)?.open()
    }

    /// A store on `table` of the account a connection string names.
    pub fn from_connection_string(connection_string: &str, table: &str) -> Result<Self> {
        AzureTablesConfig::from_connection_string(connection_string, table)?.open()
    }

    pub(crate) fn from_parts(c: AzureTablesConfig, client: TablesClient) -> Self {
        let capabilities = Capabilities {
            native_batch: true,
            enumerate_keys: true,
            enumerate_collections: true,
            destroy: true,
            destroy_collection: true,
            cull: true,
            persistent: true,
            max_key_length: c.key_strategy.is_none().then_some(MAX_KEY_CHARS),
            restricted_collection_names: c.collection_strategy.is_none(),
            max_collection_length: c.collection_strategy.is_none().then_some(MAX_KEY_CHARS),
            max_value_size: Some(MAX_VALUE_CHARS),
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new("AzureTablesStore", Stability::Unstable)
            .with_capabilities(capabilities)
            .with_clock(c.clock.clone());
        if let Some(dc) = &c.default_collection {
            info = info.with_default_collection(dc.clone());
        }
        AzureTablesStore {
            info,
            client,
            table: c.table,
            auto_create: c.auto_create,
            key_strategy: c.key_strategy,
            collection_strategy: c.collection_strategy,
            concurrency: c.concurrency,
            table_ready: TableState::default(),
            closed: CloseFlag::default(),
        }
    }

    /// The table the store uses.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The REST client the store uses.
    pub fn client(&self) -> &TablesClient {
        &self.client
    }

    /// The `PartitionKey` and `RowKey` of `collection`/`key`: sanitized if the store has
    /// strategies, then checked against the service's rules.
    ///
    /// ```
    /// use key_value_azure_tables::{AzureTablesConfig, Credential};
    /// use key_value_core::ErrorKind;
    ///
    /// let store = AzureTablesConfig::development_storage("kvdemo").open()?;
    /// assert_eq!(store.destination("users", "user:1")?, ("users".into(), "user:1".into()));
    /// assert_eq!(store.destination("users", "a/b").unwrap_err().kind(), ErrorKind::InvalidKey);
    /// let store = AzureTablesConfig::development_storage("kvdemo").sanitize(true).open()?;
    /// assert!(store.destination("users", "a/b")?.1.starts_with("H_"));
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn destination<'a>(
        &self,
        collection: &'a str,
        key: &'a str,
    ) -> Result<(Cow<'a, str>, Cow<'a, str>)> {
        Ok((self.partition_key(collection)?, self.row_key(key)?))
    }

    fn partition_key<'a>(&self, collection: &'a str) -> Result<Cow<'a, str>> {
        let pk = match &self.collection_strategy {
            Some(s) => s.validate_and_sanitize(collection)?,
            None => Cow::Borrowed(collection),
        };
        check_key_field(
            &pk,
            ErrorKind::InvalidCollection,
            "collection",
            "PartitionKey",
        )?;
        Ok(pk)
    }

    fn row_key<'a>(&self, key: &'a str) -> Result<Cow<'a, str>> {
        let rk = match &self.key_strategy {
            Some(s) => s.validate_and_sanitize(key)?,
            None => Cow::Borrowed(key),
        };
        check_key_field(&rk, ErrorKind::InvalidKey, "key", "RowKey")?;
        Ok(rk)
    }

    /// Deletes expired entities (by the store's clock) and says how many.
    pub async fn cull_expired(&self) -> Result<usize> {
        let op = "cull";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let now = self.info.clock().now();
        // ExpiresAt holds whole seconds (the exact time is in [E, E + 1)), so E < floor(now)
        // means expired for certain.
        let bound = now.unix_micros().div_euclid(1_000_000);
        let filter = format!("ExpiresAt lt {bound}L");
        let mut continuation = None;
        let mut removed = 0;
        loop {
            let page = match self
                .client
                .query(
                    &self.table,
                    Some(&filter),
                    Some("PartitionKey,RowKey"),
                    Some(MAX_PAGE_SIZE),
                    continuation.as_ref(),
                )
                .await
            {
                Ok(p) => p,
                Err(e) if has_code(&e, "TableNotFound") => return Ok(removed),
                Err(e) => return Err(e.with_operation(op)),
            };
            let mut group: Option<(String, Vec<String>)> = None;
            for entity in &page.entities {
                let (Some(pk), Some(rk)) = (
                    str_property(entity, "PartitionKey"),
                    str_property(entity, "RowKey"),
                ) else {
                    continue;
                };
                match &mut group {
                    Some((gpk, rks)) if gpk == pk => rks.push(rk.to_string()),
                    _ => {
                        if let Some((gpk, rks)) = group.take() {
                            removed += self
                                .delete_rows(&gpk, &rks)
                                .await
                                .map_err(|e| e.with_operation(op))?;
                        }
                        group = Some((pk.to_string(), vec![rk.to_string()]));
                    }
                }
            }
            if let Some((gpk, rks)) = group.take() {
                removed += self
                    .delete_rows(&gpk, &rks)
                    .await
                    .map_err(|e| e.with_operation(op))?;
            }
            match page.continuation {
                Some(c) => continuation = Some(c),
                None => return Ok(removed),
            }
        }
    }

    /// Creates the table once (when `auto_create` is on).
    async fn ensure_table(&self) -> Result<()> {
        if !self.auto_create || self.table_ready.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = self.table_ready.lock.lock().await;
        if self.table_ready.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.client.create_table(&self.table).await {
            Ok(_) => {
                self.table_ready.ready.store(true, Ordering::Release);
                Ok(())
            }
            // An unreachable service is not a set-up problem: keep its kind.
            Err(e) if matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout) => Err(e),
            // Not allowed to create tables (a table SAS, a read-only key, or a wrong key): the
            // table may well exist, so the write itself tells.
            Err(e) if service_error(&e).is_some_and(|s| s.status() == 403) => {
                self.table_ready.ready.store(true, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                let temporary = e.is_temporary();
                Err(Error::new(
                    ErrorKind::Setup,
                    format!("could not create table {}: {e}", self.table),
                )
                .with_temporary(temporary)
                .with_source(e))
            }
        }
    }

    /// Runs a write, creating the table first, and again once if the table turns out to be
    /// gone (deleted behind the store's back).
    async fn write<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.ensure_table().await?;
        match op().await {
            Err(e) if has_code(&e, "TableNotFound") => {
                if !self.auto_create {
                    return Err(Error::new(
                        ErrorKind::Setup,
                        format!("table {} does not exist and auto_create is off", self.table),
                    )
                    .with_source(e));
                }
                self.table_ready.ready.store(false, Ordering::Release);
                self.ensure_table().await?;
                match op().await {
                    Err(e) if has_code(&e, "TableNotFound") => Err(Error::new(
                        ErrorKind::Setup,
                        format!(
                            "table {} does not exist and could not be created (does the credential \
                             allow creating tables?)",
                            self.table
                        ),
                    )
                    .with_source(e)),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// The JSON of the entity for `entry`, after the size checks.
    fn entity_body(
        &self,
        collection: &str,
        key: &str,
        pk: &str,
        rk: &str,
        entry: &ManagedEntry,
    ) -> Result<String> {
        let value = Envelope::WITH_KEY.dump(entry, collection, key);
        let value_chars = utf16_len(&value);
        if value_chars > MAX_VALUE_CHARS {
            return Err(Error::new(
                ErrorKind::ValueTooLarge,
                format!(
                    "the stored document is {value_chars} characters; an Azure Tables string property \
                     holds at most {MAX_VALUE_CHARS} (64 KB of UTF-16), and py-key-value's layout does not split values"
                ),
            ));
        }
        let expires = entry.expires_at.map(truncated_seconds);
        let size = entity_size(pk, rk, value_chars, expires.is_some());
        if size > MAX_ENTITY_BYTES {
            return Err(Error::new(
                ErrorKind::ValueTooLarge,
                format!(
                    "the entity is {size} bytes; Azure Tables holds at most {MAX_ENTITY_BYTES}"
                ),
            ));
        }
        let mut m = Map::new();
        m.insert("PartitionKey".into(), pk.into());
        m.insert("RowKey".into(), rk.into());
        m.insert("Value".into(), value.into());
        if let Some(secs) = expires {
            m.insert("ExpiresAt".into(), secs.to_string().into());
            m.insert("ExpiresAt@odata.type".into(), "Edm.Int64".into());
        }
        Ok(Value::Object(m).to_string())
    }

    async fn fetch(&self, pk: &str, rk: &str) -> Result<Option<ManagedEntry>> {
        match self.client.get_entity(&self.table, pk, rk, None).await? {
            None => Ok(None),
            Some(entity) => decode_entity(&entity),
        }
    }

    /// Deletes the rows `rks` of partition `pk` in transactions of 100 (a transaction that
    /// meets a missing row is redone as single deletes); how many existed.
    async fn delete_rows(&self, pk: &str, rks: &[String]) -> Result<usize> {
        // Closures over indices, not borrowed items: a stream of futures made from borrowed
        // closure arguments trips the compiler's `Send` check of the calling future.
        let chunks: Vec<&[String]> = rks.chunks(MAX_BATCH_OPERATIONS).collect();
        stream::iter(0..chunks.len())
            .map(|i| self.delete_chunk(pk, chunks[i]))
            .buffer_unordered(self.concurrency)
            .try_fold(0, |acc, n| async move { Ok(acc + n) })
            .await
    }

    async fn delete_chunk(&self, pk: &str, rks: &[String]) -> Result<usize> {
        if let [rk] = rks {
            return Ok(usize::from(
                self.client.delete_entity(&self.table, pk, rk).await?,
            ));
        }
        let ops: Vec<BatchOperation> = rks
            .iter()
            .map(|rk| BatchOperation::Delete {
                partition_key: pk.to_string(),
                row_key: rk.clone(),
            })
            .collect();
        match self.client.submit_batch(&self.table, &ops).await {
            Ok(()) => Ok(rks.len()),
            Err(e) if has_code(&e, "TableNotFound") => Ok(0),
            Err(e)
                if service_error(&e).is_some_and(|s| s.status() == 404)
                    || self.batch_refused(&e) =>
            {
                stream::iter(0..rks.len())
                    .map(|i| self.client.delete_entity(&self.table, pk, &rks[i]))
                    .buffer_unordered(self.concurrency)
                    .try_fold(
                        0,
                        |acc, existed| async move { Ok(acc + usize::from(existed)) },
                    )
                    .await
            }
            Err(e) => Err(e),
        }
    }

    /// Whether a transaction was refused for want of permission with a SAS: Azurite refuses
    /// every `$batch` authorized by a table SAS (the Python SDK's too), while single requests
    /// with the same token work, so those are used instead (and report a real permission
    /// problem themselves).
    fn batch_refused(&self, e: &Error) -> bool {
        matches!(self.client.credential(), Credential::Sas { .. })
            && service_error(e).is_some_and(|s| s.status() == 403)
    }

    /// Whether `entity` (with `ExpiresAt`) is live at `now`; an entity expiring within the
    /// second of `now` is read in full to decide.
    async fn is_live(&self, pk: &str, rk: &str, entity: &Entity, now: Timestamp) -> Result<bool> {
        let Some(secs) = expires_at_property(entity) else {
            return Ok(true);
        };
        let expires = secs.saturating_mul(1_000_000);
        let gap = expires.saturating_sub(now.unix_micros());
        if gap >= 1_000_000 {
            return Ok(true);
        }
        if gap <= -1_000_000 {
            return Ok(false);
        }
        Ok(self
            .fetch(pk, rk)
            .await?
            .is_some_and(|e| !e.is_expired_at(now)))
    }

    /// A field (`key` or `collection`) of the envelope stored at `pk`/`rk`.
    async fn envelope_field(&self, pk: &str, rk: &str, field: &str) -> Result<Option<String>> {
        let Some(entity) = self
            .client
            .get_entity(&self.table, pk, rk, Some("Value"))
            .await?
        else {
            return Ok(None);
        };
        let Some(text) = str_property(&entity, "Value") else {
            return Ok(None);
        };
        let doc = json::parse_object(text)?;
        Ok(doc.get(field).and_then(Value::as_str).map(str::to_string))
    }

    async fn user_key(&self, pk: &str, rk: &str) -> Result<Option<String>> {
        match &self.key_strategy {
            None => Ok(Some(rk.to_string())),
            Some(s) => match s.try_unsanitize(rk) {
                Some(k) => Ok(Some(k)),
                None => self.envelope_field(pk, rk, "key").await,
            },
        }
    }

    async fn user_collection(&self, pk: &str, rk: &str) -> Result<Option<String>> {
        match &self.collection_strategy {
            None => Ok(Some(pk.to_string())),
            Some(s) => match s.try_unsanitize(pk) {
                Some(c) => Ok(Some(c)),
                None => self.envelope_field(pk, rk, "collection").await,
            },
        }
    }
}

impl KeyValue for AzureTablesStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let op = "get";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        self.closed.check().map_err(ctx)?;
        let (pk, rk) = self.destination(collection, key).map_err(ctx)?;
        self.fetch(&pk, &rk).await.map_err(ctx)
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let op = "put";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        self.closed.check().map_err(ctx)?;
        let (pk, rk) = self.destination(collection, key).map_err(ctx)?;
        let body = self
            .entity_body(collection, key, &pk, &rk, &entry)
            .map_err(ctx)?;
        self.write(|| self.client.upsert_entity(&self.table, &pk, &rk, &body))
            .await
            .map_err(ctx)
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let op = "delete";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        self.closed.check().map_err(ctx)?;
        let (pk, rk) = self.destination(collection, key).map_err(ctx)?;
        self.client
            .delete_entity(&self.table, &pk, &rk)
            .await
            .map_err(ctx)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let op = "get_many";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let pk = self
            .partition_key(collection)
            .map_err(|e| e.in_context(op, collection, None))?;
        let rks = keys
            .iter()
            .map(|k| {
                self.row_key(k)
                    .map_err(|e| e.in_context(op, collection, Some(k)))
            })
            .collect::<Result<Vec<_>>>()?;
        let (pk, rks) = (&pk, &rks);
        stream::iter(0..keys.len())
            .map(|i| async move {
                let key = keys[i];
                self.fetch(pk, &rks[i])
                    .await
                    .map_err(|e| e.in_context(op, collection, Some(key)))
            })
            .buffered(self.concurrency)
            .try_collect()
            .await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let op = "put_many";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        key_value_core::entry::check_batch_len(keys.len(), entries.len())
            .map_err(|e| e.with_operation(op))?;
        if keys.is_empty() {
            return Ok(());
        }
        let pk = self
            .partition_key(collection)
            .map_err(|e| e.in_context(op, collection, None))?;
        // Everything is checked before anything is sent.
        let mut ops: Vec<(String, BatchOperation)> = Vec::with_capacity(keys.len());
        for (key, entry) in keys.iter().zip(&entries) {
            let ctx = |e: Error| e.in_context(op, collection, Some(key));
            let rk = self.row_key(key).map_err(ctx)?;
            let body = self
                .entity_body(collection, key, &pk, &rk, entry)
                .map_err(ctx)?;
            ops.push((
                (*key).to_string(),
                BatchOperation::Upsert {
                    partition_key: pk.to_string(),
                    row_key: rk.into_owned(),
                    body,
                },
            ));
        }
        // A transaction may not touch an entity twice: the last value of a key wins.
        let mut last = std::collections::HashMap::with_capacity(ops.len());
        for (i, (_, o)) in ops.iter().enumerate() {
            last.insert(o.keys().1.to_string(), i);
        }
        let ops: Vec<(String, BatchOperation)> = ops
            .into_iter()
            .enumerate()
            .filter(|(i, (_, o))| last.get(o.keys().1) == Some(i))
            .map(|(_, x)| x)
            .collect();
        let chunks = self.chunk_by_size(ops);
        self.ensure_table()
            .await
            .map_err(|e| e.in_context(op, collection, None))?;
        let (pk, chunks) = (&pk, &chunks);
        stream::iter(0..chunks.len())
            .map(|i| async move {
                let chunk = &chunks[i];
                let result = match chunk.as_slice() {
                    [(_, BatchOperation::Upsert { row_key, body, .. })] => {
                        self.write(|| self.client.upsert_entity(&self.table, pk, row_key, body))
                            .await
                    }
                    _ => {
                        let batch: Vec<BatchOperation> =
                            chunk.iter().map(|(_, o)| o.clone()).collect();
                        match self
                            .write(|| self.client.submit_batch(&self.table, &batch))
                            .await
                        {
                            Err(e) if self.batch_refused(&e) => {
                                let batch = &batch;
                                stream::iter(0..batch.len())
                                    .map(|j| async move {
                                        let (pk, rk) = batch[j].keys();
                                        let body = match &batch[j] {
                                            BatchOperation::Upsert { body, .. } => body.as_str(),
                                            BatchOperation::Delete { .. } => "",
                                        };
                                        self.client.upsert_entity(&self.table, pk, rk, body).await
                                    })
                                    .buffer_unordered(self.concurrency)
                                    .try_collect::<Vec<()>>()
                                    .await
                                    .map(|_| ())
                            }
                            other => other,
                        }
                    }
                };
                result.map_err(|e| {
                    let key = service_error(&e)
                        .and_then(|s| s.index())
                        .and_then(|i| chunk.get(i))
                        .map(|(k, _)| k.as_str());
                    e.in_context(op, collection, key)
                })
            })
            .buffer_unordered(self.concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let op = "delete_many";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let pk = self
            .partition_key(collection)
            .map_err(|e| e.in_context(op, collection, None))?;
        let mut rks: Vec<String> = Vec::with_capacity(keys.len());
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        for key in keys {
            let rk = self
                .row_key(key)
                .map_err(|e| e.in_context(op, collection, Some(key)))?;
            if seen.insert(rk.to_string()) {
                rks.push(rk.into_owned());
            }
        }
        self.delete_rows(&pk, &rks)
            .await
            .map_err(|e| e.in_context(op, collection, None))
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "keys";
        let ctx = |e: Error| e.in_context(op, collection, None);
        self.closed.check().map_err(ctx)?;
        let pk = self.partition_key(collection).map_err(ctx)?;
        let limit = limit.unwrap_or(usize::MAX);
        let now = self.info.clock().now();
        let filter = format!("PartitionKey eq {}", quote(&pk));
        let mut out = Vec::new();
        let mut continuation = None;
        while out.len() < limit {
            let page = match self
                .client
                .query(
                    &self.table,
                    Some(&filter),
                    Some("RowKey,ExpiresAt"),
                    Some(MAX_PAGE_SIZE),
                    continuation.as_ref(),
                )
                .await
            {
                Ok(p) => p,
                Err(e) if has_code(&e, "TableNotFound") => break,
                Err(e) => return Err(ctx(e)),
            };
            for entity in &page.entities {
                let Some(rk) = str_property(entity, "RowKey") else {
                    continue;
                };
                if !self.is_live(&pk, rk, entity, now).await.map_err(ctx)? {
                    continue;
                }
                if let Some(key) = self.user_key(&pk, rk).await.map_err(ctx)? {
                    out.push(key);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            match page.continuation {
                Some(c) => continuation = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "collections";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let limit = limit.unwrap_or(usize::MAX);
        let now = self.info.clock().now();
        let mut out = Vec::new();
        let mut counted: Option<String> = None;
        let mut filter: Option<String> = None;
        let mut continuation = None;
        while out.len() < limit {
            let page = match self
                .client
                .query(
                    &self.table,
                    filter.as_deref(),
                    Some("PartitionKey,RowKey,ExpiresAt"),
                    Some(MAX_PAGE_SIZE),
                    continuation.as_ref(),
                )
                .await
            {
                Ok(p) => p,
                Err(e) if has_code(&e, "TableNotFound") => break,
                Err(e) => return Err(e.with_operation(op)),
            };
            for entity in &page.entities {
                let (Some(pk), Some(rk)) = (
                    str_property(entity, "PartitionKey"),
                    str_property(entity, "RowKey"),
                ) else {
                    continue;
                };
                if counted.as_deref() == Some(pk)
                    || !self
                        .is_live(pk, rk, entity, now)
                        .await
                        .map_err(|e| e.with_operation(op))?
                {
                    continue;
                }
                counted = Some(pk.to_string());
                if let Some(name) = self
                    .user_collection(pk, rk)
                    .await
                    .map_err(|e| e.with_operation(op))?
                {
                    out.push(name);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            let last_pk = page
                .entities
                .last()
                .and_then(|e| str_property(e, "PartitionKey"));
            match page.continuation {
                None => break,
                // The rest of a collection already listed is skipped, not read.
                Some(_) if last_pk.is_some() && last_pk == counted.as_deref() => {
                    filter = counted
                        .as_deref()
                        .map(|pk| format!("PartitionKey gt {}", quote(pk)));
                    continuation = None;
                }
                Some(c) => continuation = Some(c),
            }
        }
        Ok(out)
    }

    async fn destroy(&self) -> Result<bool> {
        let op = "destroy";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let _guard = self.table_ready.lock.lock().await;
        let existed = self
            .client
            .delete_table(&self.table)
            .await
            .map_err(|e| e.with_operation(op))?;
        self.table_ready.ready.store(false, Ordering::Release);
        Ok(existed)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let op = "destroy_collection";
        let ctx = |e: Error| e.in_context(op, collection, None);
        self.closed.check().map_err(ctx)?;
        let pk = self.partition_key(collection).map_err(ctx)?;
        let filter = format!("PartitionKey eq {}", quote(&pk));
        let mut continuation = None;
        let mut removed = 0;
        loop {
            let page = match self
                .client
                .query(
                    &self.table,
                    Some(&filter),
                    Some("RowKey"),
                    Some(MAX_PAGE_SIZE),
                    continuation.as_ref(),
                )
                .await
            {
                Ok(p) => p,
                Err(e) if has_code(&e, "TableNotFound") => break,
                Err(e) => return Err(ctx(e)),
            };
            let rks: Vec<String> = page
                .entities
                .iter()
                .filter_map(|e| str_property(e, "RowKey").map(str::to_string))
                .collect();
            removed += self.delete_rows(&pk, &rks).await.map_err(ctx)?;
            match page.continuation {
                Some(c) => continuation = Some(c),
                None => break,
            }
        }
        Ok(removed > 0)
    }

    async fn cull(&self) -> Result<()> {
        self.cull_expired().await.map(|_| ())
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        Ok(())
    }
}

impl AzureTablesStore {
    /// Splits upserts into transactions of at most 100 operations and ~4 MiB.
    fn chunk_by_size(
        &self,
        ops: Vec<(String, BatchOperation)>,
    ) -> Vec<Vec<(String, BatchOperation)>> {
        let mut chunks = Vec::new();
        let mut current: Vec<(String, BatchOperation)> = Vec::new();
        let mut bytes = 0;
        for (key, o) in ops {
            let len = self.client.batch_operation_len(&self.table, &o);
            if !current.is_empty()
                && (current.len() == MAX_BATCH_OPERATIONS || bytes + len > MAX_BATCH_BYTES)
            {
                chunks.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += len;
            current.push((key, o));
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        chunks
    }
}

/// Reads an entity the py-key-value way: a missing or empty `Value` is a miss; `ExpiresAt`
/// (whole seconds) overrides the envelope's `expires_at` unless both agree to the second.
pub fn decode_entity(entity: &Entity) -> Result<Option<ManagedEntry>> {
    let Some(text) = str_property(entity, "Value").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let mut entry = Envelope::load(text)?;
    if let Some(secs) = expires_at_property(entity) {
        let agrees = entry
            .expires_at
            .is_some_and(|e| truncated_seconds(e) == secs);
        if !agrees {
            entry.expires_at = Some(Timestamp::from_unix_micros(secs.saturating_mul(1_000_000)));
        }
    }
    Ok(Some(entry))
}

/// `ExpiresAt` as py-key-value reads it: an integer (`Edm.Int64`, sent as a string, or
/// `Edm.Int32`, a JSON number); anything else is ignored.
fn expires_at_property(entity: &Entity) -> Option<i64> {
    match entity.get("ExpiresAt")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s)
            if entity.get("ExpiresAt@odata.type").and_then(Value::as_str) == Some("Edm.Int64") =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

fn str_property<'a>(entity: &'a Entity, name: &str) -> Option<&'a str> {
    entity.get(name).and_then(Value::as_str)
}

/// Python's `int(t.timestamp())`: seconds, truncated toward zero.
fn truncated_seconds(t: Timestamp) -> i64 {
    t.unix_micros() / 1_000_000
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The service's accounting of an entity's size: 4 bytes, the keys in UTF-16, and per
/// property 8 bytes, its name in UTF-16 and its value (a string: 4 bytes + UTF-16; an Int64 or
/// the `Timestamp` DateTime: 8 bytes).
fn entity_size(pk: &str, rk: &str, value_chars: usize, has_expires: bool) -> usize {
    let mut size = 4 + (utf16_len(pk) + utf16_len(rk)) * 2;
    size += 8 + "Value".len() * 2 + 4 + value_chars * 2;
    size += 8 + "Timestamp".len() * 2 + 8;
    if has_expires {
        size += 8 + "ExpiresAt".len() * 2 + 8;
    }
    size
}

/// The service's rules for `PartitionKey` and `RowKey`.
fn check_key_field(value: &str, kind: ErrorKind, what: &str, field: &str) -> Result<()> {
    let len = utf16_len(value);
    if len > MAX_KEY_CHARS {
        return Err(Error::new(
            kind,
            format!(
                "the {what} is {len} UTF-16 code units long; an Azure Tables {field} holds at most \
                 {MAX_KEY_CHARS} (1 KiB); sanitize(true) hashes longer ones"
            ),
        ));
    }
    if let Some(c) = value.chars().find(|c| is_forbidden_key_char(*c)) {
        return Err(Error::new(
            kind,
            format!(
                "the {what} contains {c:?}, which Azure Tables refuses in a {field} \
                 (/ \\ # ? and control characters); sanitize(true) hashes such values"
            ),
        ));
    }
    Ok(())
}

fn is_forbidden_key_char(c: char) -> bool {
    matches!(c, '/' | '\\' | '#' | '?' | '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use key_value_core::object;

    #[test]
    fn keys_are_checked_like_the_service_does() {
        for bad in [
            "a/b", "a\\b", "a#b", "a?b", "a\u{0}b", "tab\tkey", "\u{7f}", "\u{9f}",
        ] {
            let err = check_key_field(bad, ErrorKind::InvalidKey, "key", "RowKey").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{bad:?}");
        }
        for good in ["user:1", "a b", "it's", "100%", "é🌍", "\u{a0}", "a+b=c&d"] {
            check_key_field(good, ErrorKind::InvalidKey, "key", "RowKey").unwrap();
        }
        check_key_field(&"x".repeat(512), ErrorKind::InvalidKey, "key", "RowKey").unwrap();
        let long = check_key_field(
            &"x".repeat(513),
            ErrorKind::InvalidCollection,
            "collection",
            "PartitionKey",
        );
        assert_eq!(long.unwrap_err().kind(), ErrorKind::InvalidCollection);
        // 256 astral characters are 512 UTF-16 code units; 257 are too many.
        check_key_field(&"🌍".repeat(256), ErrorKind::InvalidKey, "key", "RowKey").unwrap();
        assert!(
            check_key_field(&"🌍".repeat(257), ErrorKind::InvalidKey, "key", "RowKey").is_err()
        );
    }

    #[test]
    fn storage_expiry_overrides_the_envelope_as_in_python() {
        let created = Timestamp::parse_iso("2025-01-01T00:00:00.250000+00:00").unwrap();
        let expires = Timestamp::parse_iso("2025-01-01T00:00:10.750000+00:00").unwrap();
        let entry = ManagedEntry::new(object!({"a": 1}), Some(created), Some(expires));
        let text = Envelope::WITH_KEY.dump(&entry, "c", "k");
        let mut entity = Map::new();
        entity.insert("Value".into(), text.clone().into());
        entity.insert("ExpiresAt@odata.type".into(), "Edm.Int64".into());
        entity.insert(
            "ExpiresAt".into(),
            (expires.unix_micros() / 1_000_000).to_string().into(),
        );
        // Same second: the envelope's exact time is kept.
        assert_eq!(decode_entity(&entity).unwrap(), Some(entry.clone()));
        // Another time in storage wins, in whole seconds.
        entity.insert("ExpiresAt".into(), "1800000000".into());
        let got = decode_entity(&entity).unwrap().unwrap();
        assert_eq!(
            got.expires_at,
            Some(Timestamp::from_unix_micros(1_800_000_000_000_000))
        );
        // Int32 numbers count; strings without the Int64 type do not.
        entity.insert("ExpiresAt".into(), 1_700_000_000.into());
        assert_eq!(
            decode_entity(&entity).unwrap().unwrap().expires_at,
            Some(Timestamp::from_unix_micros(1_700_000_000_000_000))
        );
        entity.remove("ExpiresAt@odata.type");
        entity.insert("ExpiresAt".into(), "1700000000".into());
        assert_eq!(decode_entity(&entity).unwrap(), Some(entry));
        // A missing or empty Value is a miss; a corrupt one an error.
        entity.insert("Value".into(), "".into());
        assert_eq!(decode_entity(&entity).unwrap(), None);
        entity.remove("Value");
        assert_eq!(decode_entity(&entity).unwrap(), None);
        entity.insert("Value".into(), "not json".into());
        assert_eq!(
            decode_entity(&entity).unwrap_err().kind(),
            ErrorKind::Deserialization
        );
    }

    #[test]
    fn truncation_is_pythons_int() {
        assert_eq!(truncated_seconds(Timestamp::from_unix_micros(1_999_999)), 1);
        assert_eq!(
            truncated_seconds(Timestamp::from_unix_micros(-1_500_000)),
            -1
        );
    }

    #[test]
    fn entity_sizes() {
        assert_eq!(
            entity_size("c", "k", 0, false),
            4 + 4 + 8 + 10 + 4 + 8 + 18 + 8
        );
        assert!(
            entity_size(&"x".repeat(512), &"x".repeat(512), MAX_VALUE_CHARS, true)
                < MAX_ENTITY_BYTES
        );
    }
}

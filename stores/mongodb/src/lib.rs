//! [`MongoDbStore`]: entries in a MongoDB database, in py-key-value's `MongoDBStore` layout, so
//! a Rust and a Python program can share one database.
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_mongodb::MongoDbConfig;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<()> {
//! let store = MongoDbConfig::new("mongodb://127.0.0.1:27017").open()?; // connects at first use
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! // In Python: await MongoDBStore(url="mongodb://127.0.0.1:27017").get("user:1", collection="users")
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! Exactly py-key-value 0.4.6's, with its default settings:
//!
//! - database `kv-store-adapter` ([`MongoDbConfig::database`]);
//! - one MongoDB collection per collection, named as the collection (or its
//!   [V1 sanitization](CollectionSanitization::V1), opt-in as in Python);
//! - one document per key: `{_id: ObjectId, key, collection: <collection as given>,
//!   created_at: <date>, expires_at: <date>, value: {object: <value>}, version: 1}` (the field
//!   order py-key-value's upsert leaves on MongoDB), with `expires_at` absent without a TTL. Integers are BSON `int32` when they fit, else `int64`,
//!   as pymongo writes them; other numbers are `double`.
//! - indexes `key_1` on `key` and `expires_at_1` on `expires_at` with `expireAfterSeconds: 0`
//!   (MongoDB's TTL monitor then deletes expired documents), created at the first write to a
//!   collection. The `key` index is **unique** by default where py-key-value's is not: see
//!   [`MongoDbConfig::unique_key_index`] (an existing index is never changed).
//!
//! A write replaces the whole document (an upsert by `key`), so a key written with a TTL and
//! then again without one has no `expires_at` left. (py-key-value's `$set` leaves the old
//! `expires_at` in place, and MongoDB then deletes the entry at that time.)
//!
//! # Time
//!
//! BSON dates have **millisecond** precision: `created_at` and `expires_at` are stored
//! floored to the millisecond (as pymongo does), and what the store reads back is that
//! millisecond value, so an entry may expire up to 1 ms before the microsecond asked for.
//! Expiry is always enforced on read by the store's [clock](MongoDbConfig::clock): MongoDB's TTL
//! monitor runs only every 60 s (and may lag far more on a busy server), so it only frees
//! space. [`cull`](KeyValue::cull) deletes the expired documents at once.
//!
//! # Names and values
//!
//! MongoDB refuses some collection names: empty, with `$` or NUL, starting with `system.` or
//! `.`, or making `database.collection` longer than 255 bytes. Without sanitization
//! (py-key-value's default) those are [`InvalidCollection`](ErrorKind::InvalidCollection) errors
//! before anything is sent; with [`CollectionSanitization::V1`] every name works. Keys may be
//! any string.
//!
//! A value is stored under `value.object`, so its field names never collide with the store's.
//! Field names starting with `$` or containing `.` are stored as they are: MongoDB 5.0 and
//! later accept them inside inserted and replacing documents, which is how this store writes
//! (older servers refuse them with an error the store reports as
//! [`Serialization`](ErrorKind::Serialization)). Field names with a NUL character cannot be
//! written in BSON: [`Serialization`](ErrorKind::Serialization) errors, before anything is
//! sent. Integers above `i64::MAX` (which pymongo refuses) are stored exactly as `decimal128`. A document is at most 16 MiB of BSON: larger entries are
//! [`ValueTooLarge`](ErrorKind::ValueTooLarge) errors, also before sending.
//!
//! # Batches, connections, failures
//!
//! `get_many` is one `find` with `$in` (reordered to the order asked), `put_many` one `update`
//! command of upserts (split when it would exceed MongoDB's message size) and `delete_many` one
//! `delete_many` with `$in`. [`MongoDbConfig::open`] sends nothing and needs no runtime: the
//! driver's client is made at the first call (it needs a tokio runtime), from a connection
//! string, or taken from the caller ([`MongoDbConfig::with_client`]; never shut down by the
//! store). While no server is reachable calls fail, after the
//! [server selection timeout](MongoDbConfig::server_selection_timeout), with temporary
//! [`Connection`](ErrorKind::Connection) errors; the driver reconnects by itself.
//!
//! `keys`, `collections` (names read back from the documents' `collection` field, so sanitized
//! names map to the names given), `destroy` (drops **only this store's database**),
//! `destroy_collection` (drops the MongoDB collection) and `cull` are supported.
//!
//! # Which servers
//!
//! The tests run against **secantusdb** 0.7.0b3 (a MongoDB wire-protocol server in Python on
//! WiredTiger, reporting version 8.2.11), started by `services/mongodb/start`: no real `mongod`
//! can be installed on the machine this was written on. Everything the store sends is plain
//! MongoDB 4.4+ (`find`, `update` with upserts, `delete`, `createIndexes`, `listCollections`,
//! `drop`, `dropDatabase`), and py-key-value's own `MongoDBStore` (pymongo) was checked against
//! the same server in both directions. What secantusdb cannot show: real MongoDB's TTL monitor
//! timing (secantusdb's is unverified), replica sets, transactions and change streams (the store
//! uses none), and server-side retries of concurrent unique upserts (the store retries a
//! duplicate-key failure of an upsert once itself).

use std::collections::{HashMap, HashSet};
use std::fmt;

use key_value_core::entry::ManagedEntry;
use key_value_core::setup::{CloseFlag, CollectionSetup};
use key_value_core::{Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo};
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use tokio::sync::OnceCell;

mod config;
pub mod document;
mod names;

pub use config::{DEFAULT_DATABASE, DEFAULT_SERVER_SELECTION_TIMEOUT, DEFAULT_URI, MongoDbConfig};
pub use mongodb;
pub use names::{CollectionSanitization, MAX_DATABASE_BYTES, MAX_NAMESPACE_BYTES};

use config::{ClientSource, redact_message, redact_uri};
use names::Namer;

/// The largest BSON document MongoDB stores.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// The most BSON bytes of documents put into one `update` command (MongoDB takes commands of
/// up to 16 MiB + 16 KiB); larger documents are written alone.
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// The most statements in one `update` command (MongoDB's `maxWriteBatchSize` is 100 000).
const BATCH_STATEMENTS: usize = 10_000;

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// A store on a MongoDB database, in py-key-value's layout. See the [crate docs](crate).
pub struct MongoDbStore {
    info: StoreInfo,
    source: ClientSource,
    client: OnceCell<Client>,
    database: String,
    namer: Namer,
    unique_key_index: bool,
    server_selection_timeout: Option<std::time::Duration>,
    setup: CollectionSetup,
    closed: CloseFlag,
}

impl fmt::Debug for MongoDbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MongoDbStore")
            .field("source", &self.source)
            .field("database", &self.database)
            .field("namer", &self.namer)
            .field("unique_key_index", &self.unique_key_index)
            .finish_non_exhaustive()
    }
}

impl MongoDbStore {
    /// A store on the deployment of connection string `uri` with the default settings; see
    /// [`MongoDbConfig`] for the others. Connects at first use.
    pub fn new(uri: impl Into<String>) -> Result<Self> {
        MongoDbConfig::new(uri).open()
    }

    /// A store using the caller's `client` (never shut down by the store).
    pub fn with_client(client: Client) -> Result<Self> {
        MongoDbConfig::with_client(client).open()
    }

    pub(crate) fn from_config(c: MongoDbConfig) -> Self {
        let namer = Namer::new(c.sanitization, &c.database);
        let capabilities = Capabilities {
            native_ttl: true,
            native_batch: true,
            enumerate_keys: true,
            enumerate_collections: true,
            destroy: true,
            destroy_collection: true,
            cull: true,
            persistent: true,
            max_collection_length: namer.is_passthrough().then(|| namer.max_collection_bytes()),
            restricted_collection_names: namer.is_passthrough(),
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new("MongoDBStore", Stability::Unstable)
            .with_capabilities(capabilities)
            .with_clock(c.clock.clone());
        if let Some(dc) = &c.default_collection {
            info = info.with_default_collection(dc.clone());
        }
        let client = match &c.source {
            ClientSource::Client(client) => OnceCell::new_with(Some(client.clone())),
            ClientSource::Uri(_) => OnceCell::new(),
        };
        MongoDbStore {
            info,
            source: c.source,
            client,
            database: c.database,
            namer,
            unique_key_index: c.unique_key_index,
            server_selection_timeout: c.server_selection_timeout,
            setup: CollectionSetup::default(),
            closed: CloseFlag::default(),
        }
    }

    /// The database the store uses.
    pub fn database_name(&self) -> &str {
        &self.database
    }

    /// The MongoDB collection `collection` is stored in: the name, or its sanitization. An
    /// [`InvalidCollection`](ErrorKind::InvalidCollection) error when MongoDB cannot hold it.
    ///
    /// ```
    /// # use key_value_mongodb::MongoDbConfig;
    /// let store = MongoDbConfig::new("mongodb://127.0.0.1:27017").sanitize_v1().open()?;
    /// assert_eq!(store.mongo_collection("test_collection!@#$%^&*()")?, "S_test_collection_-daf4a2ec");
    /// let plain = MongoDbConfig::new("mongodb://127.0.0.1:27017").open()?;
    /// assert!(plain.mongo_collection("a$b").is_err());
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn mongo_collection(&self, collection: &str) -> Result<String> {
        self.namer.make(collection).map(|c| c.into_owned())
    }

    /// The driver's client (made at the first call from the connection string, or the
    /// caller's). For inspection and tests; writing through it bypasses the store.
    pub async fn client(&self) -> Result<&Client> {
        self.closed.check()?;
        self.client
            .get_or_try_init(|| async {
                let ClientSource::Uri(uri) = &self.source else {
                    return Err(Error::new(ErrorKind::Backend, "internal error: no client"));
                };
                let mut options = ClientOptions::parse(uri.as_str())
                    .await
                    .map_err(|e| map_error(e, uri))?;
                if let Some(t) = self.server_selection_timeout {
                    options.server_selection_timeout = Some(t);
                } else if options.server_selection_timeout.is_none() {
                    options.server_selection_timeout = Some(DEFAULT_SERVER_SELECTION_TIMEOUT);
                }
                if options.app_name.is_none() {
                    options.app_name = Some("key-value".to_string());
                }
                Client::with_options(options).map_err(|e| map_error(e, uri))
            })
            .await
    }

    async fn db(&self) -> Result<Database> {
        Ok(self.client().await?.database(&self.database))
    }

    /// The raw document stored for `key` in `collection` (with `_id`), if any. For inspection
    /// and tests: nothing is decoded.
    pub async fn raw_document(&self, collection: &str, key: &str) -> Result<Option<Document>> {
        let coll = self.collection(collection).await?;
        coll.find_one(doc! {"key": key})
            .await
            .map_err(|e| self.error(e))
    }

    async fn collection(&self, collection: &str) -> Result<Collection<Document>> {
        let name = self.namer.make(collection)?;
        Ok(self.db().await?.collection::<Document>(&name))
    }

    /// The collection, its indexes created (once per store and collection) for writes.
    async fn collection_for_write(&self, collection: &str) -> Result<Collection<Document>> {
        let coll = self.collection(collection).await?;
        let name = coll.name().to_string();
        self.setup
            .ensure(&name, || self.create_indexes(&coll))
            .await
            .map_err(|e| e.with_collection(collection))?;
        Ok(coll)
    }

    async fn create_indexes(&self, coll: &Collection<Document>) -> Result<()> {
        let ttl = IndexModel::builder()
            .keys(doc! {"expires_at": 1})
            .options(
                IndexOptions::builder()
                    .expire_after(std::time::Duration::ZERO)
                    .build(),
            )
            .build();
        coll.create_index(ttl).await.map_err(|e| self.error(e))?;
        let key = IndexModel::builder()
            .keys(doc! {"key": 1})
            .options(
                self.unique_key_index
                    .then(|| IndexOptions::builder().unique(true).build()),
            )
            .build();
        match coll.create_index(key).await {
            Ok(_) => Ok(()),
            // py-key-value's non-unique `key_1` exists: keep it.
            Err(e) if matches!(command_code(&e), Some(85 | 86)) => Ok(()),
            Err(e) if command_code(&e) == Some(DUPLICATE_KEY) => Err(Error::new(
                ErrorKind::Setup,
                format!(
                    "cannot create the unique index on `key` of {}.{}: the collection already \
                     holds several documents for one key (open the store with \
                     unique_key_index(false) to use it as it is)",
                    self.database,
                    coll.name()
                ),
            )),
            Err(e) => Err(self.error(e)),
        }
    }

    fn error(&self, e: mongodb::error::Error) -> Error {
        match &self.source {
            ClientSource::Uri(uri) => map_error(e, uri),
            ClientSource::Client(_) => map_error(e, ""),
        }
    }

    /// Writes documents, one `update` command per chunk; retries once on a duplicate-key race.
    async fn write_documents(
        &self,
        coll: &Collection<Document>,
        docs: Vec<(String, Document, usize)>,
    ) -> Result<()> {
        let mut chunk: Vec<Document> = Vec::new();
        let mut chunk_bytes = 0;
        let mut chunk_keys: Vec<String> = Vec::new();
        for (key, doc, size) in docs {
            if size > BATCH_BYTES {
                self.replace_one(coll, &key, doc).await?;
                continue;
            }
            if !chunk.is_empty()
                && (chunk_bytes + size > BATCH_BYTES || chunk.len() >= BATCH_STATEMENTS)
            {
                self.update_command(coll, std::mem::take(&mut chunk), &chunk_keys)
                    .await?;
                chunk_keys.clear();
                chunk_bytes = 0;
            }
            chunk_bytes += size;
            chunk.push(doc! {"q": {"key": &key}, "u": doc, "upsert": true, "multi": false});
            chunk_keys.push(key);
        }
        if !chunk.is_empty() {
            self.update_command(coll, chunk, &chunk_keys).await?;
        }
        Ok(())
    }

    async fn replace_one(
        &self,
        coll: &Collection<Document>,
        key: &str,
        doc: Document,
    ) -> Result<()> {
        let mut retried = false;
        loop {
            match coll
                .replace_one(doc! {"key": key}, doc.clone())
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if !retried && write_code(&e) == Some(DUPLICATE_KEY) => retried = true,
                Err(e) => return Err(self.error(e).with_key(key)),
            }
        }
    }

    async fn update_command(
        &self,
        coll: &Collection<Document>,
        statements: Vec<Document>,
        keys: &[String],
    ) -> Result<()> {
        let db = self.db().await?;
        let mut start = 0;
        let mut retried = false;
        while start < statements.len() {
            let command = doc! {
                "update": coll.name(),
                "updates": statements[start..].to_vec(),
                "ordered": true,
            };
            let reply = db.run_command(command).await.map_err(|e| self.error(e))?;
            let Some(Bson::Array(errors)) = reply.get("writeErrors") else {
                if let Ok(wce) = reply.get_document("writeConcernError") {
                    return Err(Error::new(
                        ErrorKind::Backend,
                        format!("MongoDB write concern error: {wce}"),
                    )
                    .with_temporary(true));
                }
                return Ok(());
            };
            let Some(Bson::Document(first)) = errors.first() else {
                return Ok(());
            };
            let index = start + bson_int(first.get("index")).unwrap_or(0) as usize;
            let code = bson_int(first.get("code")).unwrap_or(0) as i32;
            let message = first.get_str("errmsg").unwrap_or("write error").to_string();
            if code == DUPLICATE_KEY && !retried {
                // Another writer inserted the same new key at the same time: the upsert now
                // finds its document. Everything before `index` is written.
                retried = true;
                start = index;
                continue;
            }
            let key = keys.get(index).cloned().unwrap_or_default();
            return Err(write_error(code, &message).with_key(key));
        }
        Ok(())
    }

    /// The names of the MongoDB collections of this store's database (`system.*` left out).
    async fn mongo_collections(&self) -> Result<Vec<String>> {
        let db = self.db().await?;
        let mut names = db
            .list_collection_names()
            .await
            .map_err(|e| self.error(e))?;
        names.retain(|n| !n.starts_with("system."));
        names.sort();
        Ok(names)
    }

    fn now(&self) -> mongodb::bson::DateTime {
        document::to_bson_date(self.info.clock().now())
    }
}

/// The size of `doc` in BSON bytes.
fn bson_size(doc: &Document) -> Result<usize> {
    let mut buf = Vec::new();
    doc.to_writer(&mut buf).map_err(|e| {
        Error::new(
            ErrorKind::Serialization,
            format!("the entry cannot be written as BSON: {e}"),
        )
    })?;
    Ok(buf.len())
}

fn bson_int(b: Option<&Bson>) -> Option<i64> {
    match b {
        Some(Bson::Int32(i)) => Some(i64::from(*i)),
        Some(Bson::Int64(i)) => Some(*i),
        Some(Bson::Double(f)) => Some(*f as i64),
        _ => None,
    }
}

fn command_code(e: &mongodb::error::Error) -> Option<i32> {
    use mongodb::error::ErrorKind as K;
    match e.kind.as_ref() {
        K::Command(c) => Some(c.code),
        K::Write(mongodb::error::WriteFailure::WriteError(w)) => Some(w.code),
        _ => None,
    }
}

fn write_code(e: &mongodb::error::Error) -> Option<i32> {
    command_code(e)
}

/// A write error of the server as a store error.
fn write_error(code: i32, message: &str) -> Error {
    let kind = match code {
        // BSONObjectTooLarge, and the 16 MiB limit of a document.
        10334 | 17419 | 17420 => ErrorKind::ValueTooLarge,
        // DollarPrefixedFieldName, DottedFieldName, and BadValue/InvalidDocument from servers
        // older than 5.0 on `$`/`.` field names.
        52 | 57 | 2 | 22 => ErrorKind::Serialization,
        _ => ErrorKind::Backend,
    };
    Error::new(
        kind,
        format!("MongoDB refused the write (code {code}): {message}"),
    )
}

/// A driver error as a store error, with the password of `uri` removed from its text.
fn map_error(e: mongodb::error::Error, uri: &str) -> Error {
    use mongodb::error::ErrorKind as K;
    let text = redact_message(&e.to_string(), uri);
    let (kind, temporary) = match e.kind.as_ref() {
        K::ServerSelection { .. }
        | K::Io(_)
        | K::ConnectionPoolCleared { .. }
        | K::DnsResolve { .. } => (ErrorKind::Connection, true),
        K::Authentication { .. } => (ErrorKind::Connection, false),
        K::InvalidArgument { .. } | K::InvalidTlsConfig { .. } => (ErrorKind::Config, false),
        K::BsonSerialization(_) => (ErrorKind::Serialization, false),
        K::BsonDeserialization(_) => (ErrorKind::Deserialization, false),
        K::Shutdown => (ErrorKind::Closed, false),
        K::Command(c) => match c.code {
            50 | 262 => (ErrorKind::Timeout, true),
            // NotWritablePrimary, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary,
            // InterruptedAtShutdown, InterruptedDueToReplStateChange, ShutdownInProgress,
            // PrimarySteppedDown, HostUnreachable, HostNotFound, NetworkTimeout.
            10107 | 13435 | 13436 | 11600 | 11602 | 91 | 189 | 6 | 7 | 89 => {
                (ErrorKind::Backend, true)
            }
            _ => (write_error(c.code, &c.message).kind(), false),
        },
        K::Write(mongodb::error::WriteFailure::WriteError(w)) => {
            (write_error(w.code, &w.message).kind(), false)
        }
        _ => (ErrorKind::Backend, e.contains_label("RetryableWriteError")),
    };
    let text = if uri.is_empty() {
        text
    } else if kind == ErrorKind::Connection {
        format!("{text} (server {})", redact_uri(uri))
    } else {
        text
    };
    Error::new(kind, format!("MongoDB: {text}")).with_temporary(temporary)
}

impl KeyValue for MongoDbStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.closed.check()?;
        let coll = self.collection(collection).await?;
        let found = coll
            .find_one(doc! {"key": key})
            .await
            .map_err(|e| self.error(e).with_key(key))?;
        found
            .map(|d| document::document_entry(&d).map_err(|e| e.with_key(key)))
            .transpose()
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.put_entries(collection, &[key], vec![entry]).await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.closed.check()?;
        let coll = self.collection(collection).await?;
        let result = coll
            .delete_one(doc! {"key": key})
            .await
            .map_err(|e| self.error(e).with_key(key))?;
        Ok(result.deleted_count > 0)
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
        let coll = self.collection(collection).await?;
        let unique: Vec<&str> = {
            let mut seen = HashSet::with_capacity(keys.len());
            keys.iter().copied().filter(|k| seen.insert(*k)).collect()
        };
        let mut cursor = coll
            .find(doc! {"key": {"$in": &unique}})
            .await
            .map_err(|e| self.error(e))?;
        let mut found: HashMap<String, Document> = HashMap::with_capacity(unique.len());
        while cursor.advance().await.map_err(|e| self.error(e))? {
            let d = cursor.deserialize_current().map_err(|e| self.error(e))?;
            if let Ok(k) = d.get_str("key") {
                found.insert(k.to_string(), d);
            }
        }
        keys.iter()
            .map(|k| {
                found
                    .get(*k)
                    .map(|d| document::document_entry(d).map_err(|e| e.with_key(*k)))
                    .transpose()
            })
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
        // Every document is built and checked before anything is sent.
        let mut docs = Vec::with_capacity(keys.len());
        for (key, entry) in keys.iter().zip(&entries) {
            let doc =
                document::entry_document(collection, key, entry).map_err(|e| e.with_key(*key))?;
            let size = bson_size(&doc).map_err(|e| e.with_key(*key))?;
            if size > MAX_DOCUMENT_BYTES {
                return Err(Error::new(
                    ErrorKind::ValueTooLarge,
                    format!(
                        "the entry is {size} bytes of BSON; MongoDB stores documents of at most \
                         {MAX_DOCUMENT_BYTES} bytes (16 MiB)"
                    ),
                )
                .with_key(*key));
            }
            docs.push((key.to_string(), doc, size));
        }
        let coll = self.collection_for_write(collection).await?;
        self.write_documents(&coll, docs).await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.closed.check()?;
        if keys.is_empty() {
            return Ok(0);
        }
        let coll = self.collection(collection).await?;
        let result = coll
            .delete_many(doc! {"key": {"$in": keys}})
            .await
            .map_err(|e| self.error(e))?;
        Ok(usize::try_from(result.deleted_count).unwrap_or(usize::MAX))
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let coll = self.collection(collection).await?;
        let now = self.now();
        let filter = doc! {"$or": [
            {"expires_at": {"$exists": false}},
            {"expires_at": Bson::Null},
            {"expires_at": {"$gt": now}},
        ]};
        let mut find = coll.find(filter).projection(doc! {"key": 1, "_id": 0});
        if let Some(n) = limit {
            if n == 0 {
                return Ok(Vec::new());
            }
            find = find.limit(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut cursor = find.await.map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        while cursor.advance().await.map_err(|e| self.error(e))? {
            let d = cursor.deserialize_current().map_err(|e| self.error(e))?;
            if let Ok(k) = d.get_str("key") {
                out.push(k.to_string());
            }
        }
        Ok(out)
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let db = self.db().await?;
        let mut out = Vec::new();
        for name in self.mongo_collections().await? {
            if limit.is_some_and(|n| out.len() >= n) {
                break;
            }
            if self.namer.is_passthrough() {
                out.push(name);
                continue;
            }
            // Sanitized names map back through the documents' `collection` field.
            let first = db
                .collection::<Document>(&name)
                .find_one(doc! {"collection": {"$type": "string"}})
                .projection(doc! {"collection": 1, "_id": 0})
                .await
                .map_err(|e| self.error(e))?;
            match first.as_ref().and_then(|d| d.get_str("collection").ok()) {
                Some(c) => out.push(c.to_string()),
                // An empty collection: its own name when that is what it stands for.
                None if self.namer.make(&name).is_ok_and(|m| m == name) => out.push(name),
                None => {}
            }
        }
        Ok(out)
    }

    async fn destroy(&self) -> Result<bool> {
        self.closed.check()?;
        let existed = !self.mongo_collections().await?.is_empty();
        self.db().await?.drop().await.map_err(|e| self.error(e))?;
        self.setup.forget_all();
        Ok(existed)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.closed.check()?;
        let coll = self.collection(collection).await?;
        let name = coll.name().to_string();
        let existed = self.mongo_collections().await?.contains(&name);
        coll.drop().await.map_err(|e| self.error(e))?;
        self.setup.forget(&name);
        Ok(existed)
    }

    async fn cull(&self) -> Result<()> {
        self.closed.check()?;
        let db = self.db().await?;
        let now = self.now();
        for name in self.mongo_collections().await? {
            db.collection::<Document>(&name)
                .delete_many(doc! {"expires_at": {"$lte": now}})
                .await
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        if self.closed.is_closed() {
            return Ok(());
        }
        self.closed.close();
        if let (ClientSource::Uri(_), Some(client)) = (&self.source, self.client.get()) {
            client.clone().shutdown().immediate(true).await;
        }
        Ok(())
    }
}

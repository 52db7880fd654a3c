//! [`FirestoreStore`]: entries as Google Cloud Firestore documents, over Firestore's REST v1
//! API, in py-key-value's `FirestoreStore` layout, so a Rust and a Python program can share
//! one database.
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_firestore::{Credentials, FirestoreConfig};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<()> {
//! let store = FirestoreConfig::new("my-project")
//!     .credentials(Credentials::service_account_file("/secrets/key.json")?)
//!     .open()?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! // Python: await FirestoreStore(project="my-project").get("user:1", collection="users")
//!
//! // Or from a URL, against the emulator:
//! let store = key_value_firestore::FirestoreStore::from_url(
//!     "firestore://my-project?emulator_host=127.0.0.1:8080",
//! )?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! Exactly py-key-value 0.4.6's: the collection is a top-level Firestore collection, the key
//! the document id, and the document holds (see [`document`]):
//!
//! ```text
//! version:    integerValue "1"
//! value:      stringValue  json.dumps(value, sort_keys=True)    e.g. "{\"age\": 30, \"name\": \"Alice\"}"
//! created_at: stringValue  "2025-01-01T00:00:00.123456+00:00"
//! expires_at: stringValue  "2025-01-01T01:00:00.123456+00:00"  (absent without a TTL)
//! ```
//!
//! A write replaces the whole document, as Python's `document.set()`. Documents Python writes
//! are read as they are, and Python reads this store's documents (checked field by field
//! against documents written by py-key-value's own `FirestoreStore` in the interop tests).
//! A `value` stored as a Firestore map (written by another tool) is read too.
//!
//! # Ids
//!
//! Keys and collection names are used as ids unchanged by default, as in py-key-value.
//! Firestore refuses some ids: empty, containing `/`, `.` and `..`, `__…__`, longer than 1500
//! UTF-8 bytes ([`id_problem`]); this store reports them as
//! [`InvalidKey`](ErrorKind::InvalidKey) /
//! [`InvalidCollection`](ErrorKind::InvalidCollection) errors before sending anything (py
//! sends them and fails in the client library or at the server). With
//! [`IdSanitization::V1`] (py-key-value's `FirestoreV1KeySanitizationStrategy` and
//! `FirestoreV1CollectionSanitizationStrategy`, byte for byte) every name works; both sides
//! must then use it. Listings return the stored ids: for sanitized names, the sanitized form.
//!
//! # Size
//!
//! A document holds at most 1 MiB by Firestore's arithmetic (names, field names and values,
//! overheads). The store computes each document's size before sending it and refuses larger
//! ones with a [`ValueTooLarge`](ErrorKind::ValueTooLarge) error; nothing is written, also
//! when one entry of a `put_many` is too large. The arithmetic was checked against the
//! emulator to the byte.
//!
//! # Batches
//!
//! - `get_many`: `documents:batchGet`, up to 500 documents per request.
//! - `put_many`: `documents:commit`, an atomic batch of at most 500 writes (Firestore's limit)
//!   and [`max_request_bytes`](FirestoreConfig::max_request_bytes); a larger batch is split
//!   into several commits, each atomic. A key given twice: the last value wins.
//! - `delete`/`delete_many`: `documents:batchWrite` of deletes with an `exists`
//!   precondition, so "did it exist" comes from the delete itself, atomically per document
//!   (py-key-value reads first, then deletes).
//!
//! # Beyond py-key-value
//!
//! `keys()` (ids of documents not expired, listed with only `expires_at` read; paged),
//! `collections()` (the database's top-level collection ids), `destroy_collection()`
//! (deletes its documents, 500 per commit), `destroy()` (every top-level collection of the
//! **database**: give the store a database of its own), and `cull()` (deletes expired
//! documents; each delete has an `updateTime` precondition, so a document rewritten
//! meanwhile survives). Expiry is always checked on read with the store's clock: Firestore
//! TTL policies delete up to a day or more late, need a timestamp field (py-key-value's
//! `expires_at` is a string) and the emulator never runs them. For a TTL policy, set
//! [`ttl_field`](FirestoreConfig::ttl_field) and create the policy on that field.
//!
//! # Authentication
//!
//! See [`Credentials`]: the emulator's `Bearer owner`, a static access token, a
//! service-account key (RS256 JWT signed with `ring`, exchanged for a token that is cached),
//! or the metadata server. **The exchange with Google's token endpoint and the metadata
//! server are not tested here** (no network): the JWT is unit-tested (structure, claims,
//! signature checked with the public key and `openssl`).
//!
//! # Failures
//!
//! Unreachable server: temporary [`Connection`](ErrorKind::Connection) error. Google's
//! `UNAVAILABLE`, `ABORTED`, `RESOURCE_EXHAUSTED`, `INTERNAL` and HTTP 5xx/429: temporary
//! [`Backend`](ErrorKind::Backend) errors; `DEADLINE_EXCEEDED`: a temporary
//! [`Timeout`](ErrorKind::Timeout); `PERMISSION_DENIED`, `UNAUTHENTICATED`,
//! `INVALID_ARGUMENT`, ...: permanent `Backend` errors with Google's message
//! ([`api_error`]). A refused token is dropped from the cache, so the next call fetches a new
//! one.
//!
//! # Tested against
//!
//! The Cloud Firestore emulator 1.19.9 (`cloud-firestore-emulator.jar` of the Debian package
//! `google-cloud-cli-firestore-emulator` 528.0.0, started by `services/firestore/start`),
//! with the conformance suite, store-specific tests and py-key-value-aio 0.4.6's own
//! `FirestoreStore` (google-cloud-firestore 2.34.1, which talks gRPC to the same emulator) in
//! both directions. The emulator differs from Cloud Firestore: it never runs TTL policies; it
//! accepts any token or none (security rules apply only when it is given a rules file, which
//! `services/firestore/start` does not); it has no quotas
//! or rate limits and does not enforce the 500-write limit of a commit (this store keeps to
//! it anyway), while it refuses requests over 4 MiB (Cloud Firestore: 10 MiB); it creates
//! named databases on first use (Cloud Firestore needs them created first); it is a single
//! in-memory process, strongly consistent, without contention between transactions. Nothing
//! here was run against Cloud Firestore itself.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use key_value_core::entry::ManagedEntry;
use key_value_core::sanitize::SanitizationStrategy;
use key_value_core::setup::CloseFlag;
use key_value_core::{Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo};

pub mod auth;
mod config;
pub mod document;
mod rest;

pub use auth::{Credentials, ServiceAccountKey};
pub use config::{
    DEFAULT_DATABASE, DEFAULT_ENDPOINT, DEFAULT_MAX_REQUEST_BYTES, EMULATOR_HOST_ENV,
    FirestoreConfig, IdSanitization,
};
pub use document::{MAX_DOCUMENT_BYTES, MAX_ID_BYTES, MAX_VALUE_BYTES, id_problem};
pub use rest::api_error;

/// The HTTP client crate, for [`HttpConfig`](key_value_http::HttpConfig).
pub use key_value_http;

use document::FIELD_EXPIRES_AT;
use rest::{CODE_FAILED_PRECONDITION, CODE_NOT_FOUND, CODE_OK, Rest};

/// Firestore's limit of writes per commit (and per `batchWrite`).
pub const MAX_WRITES_PER_REQUEST: usize = 500;

/// Documents per `batchGet` request.
const MAX_READS_PER_REQUEST: usize = 500;

/// Documents per page when listing.
const LIST_PAGE_SIZE: usize = 300;

/// A store on one Firestore database, in py-key-value's layout. See the [crate docs](crate).
pub struct FirestoreStore {
    info: StoreInfo,
    rest: Rest,
    project: String,
    database: String,
    keys: Arc<dyn SanitizationStrategy>,
    collections: Arc<dyn SanitizationStrategy>,
    ttl_field: Option<String>,
    max_request_bytes: usize,
    closed: CloseFlag,
}

impl std::fmt::Debug for FirestoreStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirestoreStore")
            .field("project", &self.project)
            .field("database", &self.database)
            .field("endpoint", &self.rest.url(""))
            .field("credentials", self.rest.auth().credentials())
            .finish_non_exhaustive()
    }
}

impl FirestoreStore {
    /// A store from a `firestore://` URL (see [`FirestoreConfig`]).
    pub fn from_url(url: &str) -> Result<Self> {
        FirestoreConfig::from_url(&key_value_core::config::StoreUrl::parse(url)?)?.open()
    }

    pub(crate) fn from_config(c: FirestoreConfig) -> Result<Self> {
        let resolved = c.resolve()?;
        let http = key_value_http::client(&c.http)?;
        let passthrough_keys = matches!(c.keys, IdSanitization::Passthrough);
        let passthrough_collections = matches!(c.collections, IdSanitization::Passthrough);
        let capabilities = Capabilities {
            native_batch: true,
            enumerate_keys: true,
            enumerate_collections: true,
            destroy: true,
            destroy_collection: true,
            cull: true,
            persistent: true,
            max_key_length: passthrough_keys.then_some(MAX_ID_BYTES),
            max_collection_length: passthrough_collections.then_some(MAX_ID_BYTES),
            restricted_collection_names: !matches!(c.collections, IdSanitization::V1),
            max_value_size: Some(MAX_VALUE_BYTES),
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new("FirestoreStore", Stability::Unstable)
            .with_capabilities(capabilities)
            .with_clock(c.clock.clone());
        if let Some(dc) = &c.default_collection {
            info = info.with_default_collection(dc.clone());
        }
        let auth = auth::Authorizer::new(resolved.credentials, http.clone());
        Ok(FirestoreStore {
            info,
            rest: Rest::new(
                http,
                &resolved.endpoint,
                &resolved.project,
                &c.database,
                auth,
            ),
            project: resolved.project,
            database: c.database.clone(),
            keys: c.keys.strategy(false),
            collections: c.collections.strategy(true),
            ttl_field: c.ttl_field.clone(),
            max_request_bytes: c.max_request_bytes,
            closed: CloseFlag::default(),
        })
    }

    /// The Google Cloud project.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The database id.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The Firestore collection id `collection` is stored under.
    ///
    /// ```
    /// use key_value_firestore::FirestoreConfig;
    /// let plain = FirestoreConfig::new("p").emulator_host("127.0.0.1:1").open()?;
    /// assert_eq!(plain.collection_id("users")?, "users");
    /// assert_eq!(plain.collection_id("a/b").unwrap_err().kind(), key_value_core::ErrorKind::InvalidCollection);
    /// let v1 = FirestoreConfig::new("p").emulator_host("127.0.0.1:1").sanitize_v1().open()?;
    /// assert!(v1.collection_id("a/b")?.starts_with("S_a_b-"));
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn collection_id<'a>(&self, collection: &'a str) -> Result<Cow<'a, str>> {
        let id = self
            .collections
            .validate_and_sanitize(collection)
            .map_err(|e| Error::new(ErrorKind::InvalidCollection, e.message().to_string()))?;
        match id_problem(&id) {
            None => Ok(id),
            Some(p) => Err(Error::new(ErrorKind::InvalidCollection, p)),
        }
    }

    /// The Firestore document id `key` is stored under.
    pub fn document_id<'a>(&self, key: &'a str) -> Result<Cow<'a, str>> {
        let id = self
            .keys
            .validate_and_sanitize(key)
            .map_err(|e| Error::new(ErrorKind::InvalidKey, e.message().to_string()))?;
        match id_problem(&id) {
            None => Ok(id),
            Some(p) => Err(Error::new(ErrorKind::InvalidKey, p)),
        }
    }

    /// The full resource name of the document of `collection`/`key`
    /// (`projects/P/databases/D/documents/C/K`).
    pub fn document_name(&self, collection: &str, key: &str) -> Result<String> {
        let c = self.collection_id(collection)?;
        let k = self.document_id(key)?;
        Ok(self.rest.document_name(&c, &k))
    }

    /// The REST URL of `path` (relative to the endpoint's `v1/`), e.g. of a document name.
    pub fn rest_url(&self, path: &str) -> String {
        self.rest.url(path)
    }

    /// The user's key of a document id, when the key strategy can tell; the id otherwise.
    fn key_of(&self, id: &str) -> String {
        self.keys
            .try_unsanitize(id)
            .unwrap_or_else(|| id.to_string())
    }

    fn check_open(&self, op: &'static str) -> Result<()> {
        self.closed.check().map_err(|e| e.with_operation(op))
    }

    /// One page of a collection id's documents with only `expires_at` read.
    async fn expiry_page(
        &self,
        collection_id: &str,
        token: Option<&str>,
    ) -> Result<(Vec<rest::Document>, Option<String>)> {
        self.rest
            .list_documents(collection_id, &[FIELD_EXPIRES_AT], LIST_PAGE_SIZE, token)
            .await
    }

    /// Every top-level collection id of the database.
    async fn all_collection_ids(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (ids, next) = self
                .rest
                .list_collection_ids(LIST_PAGE_SIZE, token.as_deref())
                .await?;
            for id in ids {
                if limit.is_some_and(|l| out.len() >= l) {
                    return Ok(out);
                }
                out.push(id);
            }
            match next {
                Some(t) if limit.is_none_or(|l| out.len() < l) => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Deletes every document of a collection id, in commits of up to 500; how many.
    async fn delete_all(&self, collection_id: &str) -> Result<usize> {
        let mut deleted = 0;
        let mut token: Option<String> = None;
        loop {
            let (docs, next) = self
                .rest
                .list_documents(
                    collection_id,
                    &["__name__"],
                    MAX_WRITES_PER_REQUEST,
                    token.as_deref(),
                )
                .await?;
            if !docs.is_empty() {
                let writes = docs
                    .iter()
                    .map(|d| serde_json::to_vec(&serde_json::json!({ "delete": d.name })))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(rest::serialization_error)?;
                for chunk in self.chunks(&writes) {
                    self.rest.commit(&chunk).await?;
                }
                deleted += docs.len();
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(deleted),
            }
        }
    }

    /// Splits serialized writes into requests of at most 500 writes and `max_request_bytes`.
    fn chunks<'w>(&self, writes: &'w [Vec<u8>]) -> Vec<Vec<&'w [u8]>> {
        let mut out = Vec::new();
        let mut current: Vec<&[u8]> = Vec::new();
        let mut bytes = 16;
        for w in writes {
            if !current.is_empty()
                && (current.len() == MAX_WRITES_PER_REQUEST
                    || bytes + w.len() + 1 > self.max_request_bytes)
            {
                out.push(std::mem::take(&mut current));
                bytes = 16;
            }
            bytes += w.len() + 1;
            current.push(w);
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }

    /// Deletes documents by name with a precondition each, via `batchWrite`; how many were
    /// deleted. A failed precondition (absent, or changed since) is not an error.
    async fn delete_with_preconditions(&self, writes: Vec<Vec<u8>>) -> Result<usize> {
        let mut deleted = 0;
        for chunk in self.chunks(&writes) {
            for status in self.rest.batch_write(&chunk).await? {
                match status.code {
                    CODE_OK => deleted += 1,
                    CODE_NOT_FOUND | CODE_FAILED_PRECONDITION => {}
                    _ => return Err(rest::status_error(&status)),
                }
            }
        }
        Ok(deleted)
    }

    fn update_write(&self, name: &str, fields: serde_json::Value) -> Result<Vec<u8>> {
        serde_json::to_vec(&serde_json::json!({
            "update": {"name": name, "fields": fields}
        }))
        .map_err(rest::serialization_error)
    }

    fn encode_write(
        &self,
        collection_id: &str,
        key: &str,
        entry: &ManagedEntry,
    ) -> Result<(String, Vec<u8>)> {
        let id = self.document_id(key)?;
        let encoded = document::encode(entry, collection_id, &id, self.ttl_field.as_deref());
        document::check_size(&encoded)?;
        let name = self.rest.document_name(collection_id, &id);
        let write = self.update_write(&name, encoded.fields)?;
        Ok((name, write))
    }
}

impl FirestoreStore {
    /// Deletes the expired documents (by the store's clock) of every top-level collection;
    /// how many. Each delete is conditional on the document being unchanged since it was
    /// listed.
    pub async fn cull_expired(&self) -> Result<usize> {
        let op = "cull";
        self.check_open(op)?;
        let now = self.info.clock().now();
        let mut deleted = 0;
        for cid in self
            .all_collection_ids(None)
            .await
            .map_err(|e| e.or_operation(op))?
        {
            let ctx = |e: Error| e.in_context(op, &cid, None);
            let mut token: Option<String> = None;
            loop {
                let (docs, next) = self
                    .expiry_page(&cid, token.as_deref())
                    .await
                    .map_err(ctx)?;
                let mut writes = Vec::new();
                for d in docs {
                    if document::expires_at(&d.fields).is_none_or(|e| e > now) {
                        continue;
                    }
                    // Only if unchanged since listed: a document rewritten meanwhile stays.
                    let precondition = match &d.update_time {
                        Some(t) => serde_json::json!({ "updateTime": t }),
                        None => serde_json::json!({ "exists": true }),
                    };
                    writes.push(
                        serde_json::to_vec(&serde_json::json!({
                            "delete": d.name,
                            "currentDocument": precondition,
                        }))
                        .map_err(|e| ctx(rest::serialization_error(e)))?,
                    );
                }
                if !writes.is_empty() {
                    deleted += self.delete_with_preconditions(writes).await.map_err(ctx)?;
                }
                match next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        Ok(deleted)
    }
}

impl KeyValue for FirestoreStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let op = "get";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        self.check_open(op)?;
        let name = self.document_name(collection, key).map_err(ctx)?;
        let mut found = self
            .rest
            .batch_get(std::slice::from_ref(&name))
            .await
            .map_err(ctx)?;
        match found.remove(&name).flatten() {
            None => Ok(None),
            Some(doc) => document::decode(&doc.fields).map(Some).map_err(ctx),
        }
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let op = "put";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        self.check_open(op)?;
        let cid = self.collection_id(collection).map_err(ctx)?;
        let (_, write) = self.encode_write(&cid, key, &entry).map_err(ctx)?;
        self.rest.commit(&[&write]).await.map_err(ctx)
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let op = "delete";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        self.check_open(op)?;
        let name = self.document_name(collection, key).map_err(ctx)?;
        let write = serde_json::to_vec(&serde_json::json!({
            "delete": name,
            "currentDocument": {"exists": true},
        }))
        .map_err(|e| ctx(rest::serialization_error(e)))?;
        let n = self
            .delete_with_preconditions(vec![write])
            .await
            .map_err(ctx)?;
        Ok(n > 0)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let op = "get_many";
        self.check_open(op)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let cid = self
            .collection_id(collection)
            .map_err(|e| e.in_context(op, collection, None))?;
        let mut names = Vec::with_capacity(keys.len());
        for key in keys {
            let id = self
                .document_id(key)
                .map_err(|e| e.in_context(op, collection, Some(key)))?;
            names.push(self.rest.document_name(&cid, &id));
        }
        let mut seen = HashSet::with_capacity(names.len());
        let unique: Vec<String> = names
            .iter()
            .filter(|n| seen.insert(n.as_str()))
            .cloned()
            .collect();
        let mut found: HashMap<String, Option<rest::Document>> =
            HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(MAX_READS_PER_REQUEST) {
            found.extend(
                self.rest
                    .batch_get(chunk)
                    .await
                    .map_err(|e| e.in_context(op, collection, None))?,
            );
        }
        keys.iter()
            .zip(&names)
            .map(|(key, name)| match found.get(name) {
                Some(Some(doc)) => document::decode(&doc.fields)
                    .map(Some)
                    .map_err(|e| e.in_context(op, collection, Some(key))),
                _ => Ok(None),
            })
            .collect()
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let op = "put_many";
        self.check_open(op)?;
        key_value_core::entry::check_batch_len(keys.len(), entries.len())
            .map_err(|e| e.with_operation(op))?;
        if keys.is_empty() {
            return Ok(());
        }
        let cid = self
            .collection_id(collection)
            .map_err(|e| e.in_context(op, collection, None))?;
        // Everything is encoded and checked before the first request: a bad key or an
        // oversized value writes nothing.
        let mut writes: Vec<(String, Vec<u8>)> = Vec::with_capacity(keys.len());
        for (key, entry) in keys.iter().zip(&entries) {
            writes.push(
                self.encode_write(&cid, key, entry)
                    .map_err(|e| e.in_context(op, collection, Some(key)))?,
            );
        }
        // One write per document, the last value winning, as with single puts.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(writes.len());
        for (i, (name, _)) in writes.iter().enumerate() {
            last.insert(name, i);
        }
        let bodies: Vec<Vec<u8>> = if last.len() == writes.len() {
            writes.into_iter().map(|(_, w)| w).collect()
        } else {
            let keep: Vec<bool> = writes
                .iter()
                .enumerate()
                .map(|(i, (name, _))| last.get(name.as_str()) == Some(&i))
                .collect();
            writes
                .into_iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|((_, w), _)| w)
                .collect()
        };
        for chunk in self.chunks(&bodies) {
            self.rest
                .commit(&chunk)
                .await
                .map_err(|e| e.in_context(op, collection, None))?;
        }
        Ok(())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let op = "delete_many";
        self.check_open(op)?;
        if keys.is_empty() {
            return Ok(0);
        }
        let cid = self
            .collection_id(collection)
            .map_err(|e| e.in_context(op, collection, None))?;
        let mut seen = HashSet::with_capacity(keys.len());
        let mut writes = Vec::with_capacity(keys.len());
        for key in keys {
            let id = self
                .document_id(key)
                .map_err(|e| e.in_context(op, collection, Some(key)))?;
            let name = self.rest.document_name(&cid, &id);
            // batchWrite refuses two writes to one document; a key given twice counts once.
            if !seen.insert(name.clone()) {
                continue;
            }
            writes.push(
                serde_json::to_vec(&serde_json::json!({
                    "delete": name,
                    "currentDocument": {"exists": true},
                }))
                .map_err(|e| rest::serialization_error(e).in_context(op, collection, None))?,
            );
        }
        self.delete_with_preconditions(writes)
            .await
            .map_err(|e| e.in_context(op, collection, None))
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "keys";
        self.check_open(op)?;
        let cid = self
            .collection_id(collection)
            .map_err(|e| e.in_context(op, collection, None))?;
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let ctx = |e: Error| e.in_context(op, collection, None);
        let now = self.info.clock().now();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (docs, next) = self
                .expiry_page(&cid, token.as_deref())
                .await
                .map_err(ctx)?;
            for d in docs {
                // Expired documents stay until culled (or deleted by a TTL policy): skip them.
                if document::expires_at(&d.fields).is_some_and(|e| e <= now) {
                    continue;
                }
                let id = d.name.rsplit('/').next().unwrap_or_default();
                out.push(self.key_of(id));
                if limit.is_some_and(|l| out.len() >= l) {
                    return Ok(out);
                }
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "collections";
        self.check_open(op)?;
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let ids = self
            .all_collection_ids(limit)
            .await
            .map_err(|e| e.or_operation(op))?;
        Ok(ids
            .into_iter()
            .map(|id| self.collections.try_unsanitize(&id).unwrap_or(id))
            .collect())
    }

    async fn destroy(&self) -> Result<bool> {
        let op = "destroy";
        self.check_open(op)?;
        let mut any = false;
        for cid in self
            .all_collection_ids(None)
            .await
            .map_err(|e| e.or_operation(op))?
        {
            any |= self
                .delete_all(&cid)
                .await
                .map_err(|e| e.in_context(op, &cid, None))?
                > 0;
        }
        Ok(any)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let op = "destroy_collection";
        self.check_open(op)?;
        let cid = self
            .collection_id(collection)
            .map_err(|e| e.in_context(op, collection, None))?;
        let n = self
            .delete_all(&cid)
            .await
            .map_err(|e| e.in_context(op, collection, None))?;
        Ok(n > 0)
    }

    async fn cull(&self) -> Result<()> {
        self.cull_expired().await.map(|_| ())
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        Ok(())
    }
}

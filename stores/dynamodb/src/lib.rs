//! [`DynamoDBStore`]: entries in one Amazon DynamoDB table, in py-key-value's
//! `DynamoDBStore` layout, so a Rust and a Python program can share one table.
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_dynamodb::DynamoDBStore;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<()> {
//! // Region and credentials from AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...
//! let store = DynamoDBStore::from_url("dynamodb://kv-cache")?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! // Python: await DynamoDBStore(table_name="kv-cache").get("user:1", collection="users")
//! # Ok(())
//! # }
//! ```
//!
//! The store speaks DynamoDB's JSON protocol itself over the project's one HTTP client
//! (reqwest, rustls with ring) with its own SigV4 signer: no AWS SDK, no aws-lc, no OpenSSL.
//!
//! # Layout
//!
//! Exactly py-key-value 0.4.6's (`key_value.aio.stores.dynamodb`):
//!
//! - one table (no default name: py-key-value requires one too), partition key `collection`
//!   (S) and sort key `key` (S), billing mode `PAY_PER_REQUEST`;
//! - per entry one item `{"collection": {S}, "key": {S}, "value": {S}, "ttl": {N}}`: `value` is
//!   py-key-value's JSON envelope **with** key and collection (`{"collection": .., "created_at":
//!   .., "expires_at": .., "key": .., "value": {..}, "version": 1}`, Python's `json.dumps`
//!   bytes); `ttl` is the expiry in whole Unix seconds (`int(expires_at.timestamp())`) and is
//!   present only when the entry has a TTL. There are no separate `created_at`/`expires_at`
//!   attributes: both are in the envelope.
//! - Reading, as py-key-value: an item without a (non-empty) `value` string is a miss, and
//!   the `ttl` attribute decides the expiry (py-key-value sets `expires_at` from it). Where the
//!   envelope's `expires_at` falls in the second `ttl` names, that exact time is kept, so
//!   remaining TTLs are exact to the microsecond.
//!
//! # Set-up
//!
//! At the first call the store looks at its table (`DescribeTable`). When it is missing and
//! [`auto_create`](DynamoDBConfig::auto_create) is on (the default), it creates it as above and
//! waits until it is `ACTIVE` (up to [`table_timeout`](DynamoDBConfig::table_timeout)); with
//! `auto_create` off a missing table is a [`Setup`](ErrorKind::Setup) error. An existing table
//! with another key schema is a `Setup` error too. Then, as py-key-value, it turns DynamoDB's
//! TTL on for the `ttl` attribute (`UpdateTimeToLive`) when it is off. A table deleted behind
//! the store's back is created again at the next call (with `auto_create`).
//!
//! IAM permissions used: `DescribeTable`, `CreateTable`, `DescribeTimeToLive`,
//! `UpdateTimeToLive` (set-up), `GetItem`, `PutItem`, `DeleteItem`, `BatchGetItem`,
//! `BatchWriteItem`, `Query`, `Scan`, and `DeleteTable` for [`destroy`](KeyValue::destroy).
//!
//! # Calls
//!
//! - `get`: `GetItem`, strongly consistent unless
//!   [`consistent_read(false)`](DynamoDBConfig::consistent_read); `put`: `PutItem`; `delete`:
//!   `DeleteItem` with `ReturnValues=ALL_OLD`, which says whether the item existed.
//! - `get_many`: `BatchGetItem` in chunks of 100 keys, `put_many`: `BatchWriteItem` in chunks of
//!   25 items, chunks sent concurrently (up to [`concurrency`](DynamoDBConfig::concurrency));
//!   unprocessed keys and items (throttling) are sent again with exponential back-off up to
//!   [`max_retries`](DynamoDBConfig::max_retries) times, then the call fails with a temporary
//!   error. Results keep the order of the keys. DynamoDB refuses a key twice in one batch, so
//!   keys are deduplicated first: `get_many` answers every occurrence, `put_many` writes the
//!   last value given for a key.
//! - `delete_many`: one `DeleteItem` (`ALL_OLD`) per distinct key, sent concurrently:
//!   `BatchWriteItem` cannot say which items existed, and the count must be exact.
//! - `keys()`: `Query` on the collection's partition, 1000 keys a page, projecting only `key`
//!   and `ttl`. Sorted by key (DynamoDB's byte order). An item in the very second its `ttl`
//!   names is read in full (`GetItem`) to decide whether it has expired.
//! - `collections()`: a `Scan` of the **whole table** projecting `collection` and `ttl`: it
//!   reads (and is billed for) every item, 1 MB a page. Fine for small tables and tools, not
//!   for a hot path.
//! - `destroy_collection()`: `Query` for the keys, then `BatchWriteItem` deletes.
//! - `destroy()`: deletes the store's own table (`DeleteTable`) and waits until it is gone;
//!   the next call creates it again. The table's settings (tags, backups, point-in-time
//!   recovery) go with it. With `auto_create` off (a table managed outside the store) it
//!   deletes every item instead (`Scan` + `BatchWriteItem`) and keeps the table.
//! - `cull()` ([`cull_expired`](DynamoDBStore::cull_expired)): a `Scan` with the filter
//!   `ttl < now` (whole table read), then a conditional `DeleteItem` per expired item, so an
//!   entry rewritten in the meantime is kept.
//!
//! # Expiry
//!
//! DynamoDB deletes expired items itself, but late ("typically within a few days", often
//! within 48 hours), and returns them from reads until then. Every read therefore checks the
//! expiry with the store's [clock](DynamoDBConfig::clock): an expired item is never returned,
//! `keys()` and `collections()` skip it too.
//!
//! # Keys and sizes
//!
//! Checked before anything is sent (py-key-value sends them and gets a `ValidationException`):
//!
//! - a key is 1 to 1024 UTF-8 bytes (DynamoDB's sort key limit), else
//!   [`InvalidKey`](ErrorKind::InvalidKey); a collection name at most 2048 bytes (partition
//!   key), else [`InvalidCollection`](ErrorKind::InvalidCollection). The store declares 1024 and
//!   2048 as `max_key_length` / `max_collection_length`, which count characters: exact for
//!   ASCII, while names with multi-byte characters hit the byte limit sooner.
//! - an item is at most 400 KB (409 600 bytes) counted as DynamoDB does ([`item_size`]: the
//!   UTF-8 bytes of every attribute name and string value, plus the `ttl` number's size). The
//!   envelope holds the key and collection again, so a value's room depends on them. A larger
//!   item is a [`ValueTooLarge`](ErrorKind::ValueTooLarge) error and nothing is written; in
//!   `put_many` one too large item fails the whole call before anything is sent. The declared
//!   `max_value_size` (409 600) is an upper bound.
//!
//! # Configuration, credentials, failures
//!
//! See [`DynamoDBConfig`] for the builder and the `dynamodb://[KEY_ID:SECRET@]table?region=..
//! &endpoint=..` URL; region, endpoint and credentials default to the usual AWS environment
//! variables (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ACCESS_KEY_ID`, ...), then to
//! the static keys and `region` of the AWS profile (`AWS_PROFILE`, else `default`; see
//! [`key_value_http::aws_profile`]). SSO, assumed roles and instance metadata are not read.
//! Secrets never appear in `Debug` output, logs or errors.
//!
//! - throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`,
//!   `RequestLimitExceeded`, ...) and 5xx answers are retried with back-off, and then are
//!   temporary [`Backend`](ErrorKind::Backend) errors;
//! - an unreachable endpoint is a temporary [`Connection`](ErrorKind::Connection) error (a
//!   time-out a temporary [`Timeout`](ErrorKind::Timeout)); not retried by the store;
//! - `ValidationException` and everything else DynamoDB refuses are permanent `Backend` errors
//!   with the server's code and message (parts echoing request values are cut); rejected
//!   credentials say so;
//! - a missing table is handled by the set-up above.
//!
//! # Verified against
//!
//! The tests run the conformance suite, the store's own tests and (on moto) interoperability
//! with py-key-value-aio 0.4.6's `DynamoDBStore` (aioboto3) against two emulators, not against
//! AWS itself:
//!
//! - **moto 5.x** (`moto[server]`, 5.2.5 when written; `services/moto`);
//! - **dynalite 4.0.0** (npm; `services/dynalite`).
//!
//! How they differ from real DynamoDB, as far as this store is concerned:
//!
//! - Neither deletes expired items (moto keeps the TTL setting only; dynalite has no TTL
//!   API at all and answers `UpdateTimeToLive` with `UnknownOperationException`, which the
//!   store's set-up tolerates — py-key-value's set-up fails there).
//! - Neither simulates capacity: no throttling, no `UnprocessedKeys`/`UnprocessedItems`, so the
//!   retry paths are covered by unit tests of the back-off and error mapping only.
//! - Item size: dynalite counts like DynamoDB (409 600 bytes) but counts strings in UTF-16 code
//!   units; moto refuses items over 405 000 bytes by its own count (numbers counted as their
//!   text). Between 405 000 and 409 600 bytes moto answers `ValidationException` ("Item size
//!   has exceeded the maximum allowed size"), which the store maps to `ValueTooLarge` too.
//! - Tables are `ACTIVE` at once (dynalite with `--createTableMs 0`), so waiting for
//!   `CREATING` → `ACTIVE` and for deletions is exercised only briefly.
//! - Signatures are not verified (moto answers even unsigned requests; dynalite only wants
//!   the header), so rejected-credentials handling is covered by unit tests of the error
//!   mapping.
//! - Table names need 3 characters on dynalite (as on AWS), not on moto.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use key_value_core::entry::ManagedEntry;
use key_value_core::setup::CloseFlag;
use key_value_core::{
    Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo, Timestamp,
};
use key_value_http::reqwest::{self, Url};
use key_value_http::sigv4::{Credentials, Signer};
use serde_json::{Value, json};

mod client;
mod config;
mod item;

pub use config::{
    DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BASE_DELAY, DEFAULT_TABLE_TIMEOUT,
    DynamoDBConfig, EMULATOR_REGION,
};
pub use item::{
    COLLECTION_ATTRIBUTE, KEY_ATTRIBUTE, MAX_COLLECTION_BYTES, MAX_ITEM_SIZE, MAX_KEY_BYTES,
    TTL_ATTRIBUTE, VALUE_ATTRIBUTE, is_valid_table_name, item_size,
};

/// The shared HTTP crate, for [`HttpConfig`](key_value_http::HttpConfig) and
/// [`sigv4::Credentials`](key_value_http::sigv4::Credentials).
pub use key_value_http;

use client::{Api, CallResult, Failure};
use item::{
    Liveness, build_item, check_names, key_of, liveness, parse_item, string_attr, ttl_attr,
};

/// The most keys one `BatchGetItem` may ask for.
pub const BATCH_GET_LIMIT: usize = 100;
/// The most items one `BatchWriteItem` may write or delete.
pub const BATCH_WRITE_LIMIT: usize = 25;
/// Keys per `Query` page in `keys()` (py-key-value's DynamoDB page size).
pub const QUERY_PAGE_SIZE: usize = 1000;

/// A store on one DynamoDB table, in py-key-value's layout. See the [crate docs](crate).
pub struct DynamoDBStore {
    info: StoreInfo,
    api: Api,
    table: String,
    auto_create: bool,
    consistent_read: bool,
    concurrency: usize,
    table_timeout: Duration,
    ready: AtomicBool,
    setup_lock: tokio::sync::Mutex<()>,
    closed: CloseFlag,
}

impl std::fmt::Debug for DynamoDBStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDBStore")
            .field("table", &self.table)
            .field("region", &self.api.signer.region())
            .field("access_key_id", &self.api.signer.access_key_id())
            .field("endpoint", &self.api.url.as_str())
            .field("auto_create", &self.auto_create)
            .field("consistent_read", &self.consistent_read)
            .finish_non_exhaustive()
    }
}

impl DynamoDBStore {
    /// A store from a `dynamodb://` URL (see [`DynamoDBConfig::from_url`]). Sends nothing yet.
    pub fn from_url(url: &str) -> Result<Self> {
        DynamoDBConfig::from_url(&key_value_core::config::StoreUrl::parse(url)?)?.open()
    }

    pub(crate) fn from_parts(
        c: DynamoDBConfig,
        region: String,
        endpoint: Url,
        credentials: Credentials,
        http: reqwest::Client,
    ) -> Self {
        let capabilities = Capabilities {
            native_ttl: true,
            native_batch: true,
            enumerate_keys: true,
            enumerate_collections: true,
            destroy: true,
            destroy_collection: true,
            cull: true,
            persistent: true,
            max_key_length: Some(MAX_KEY_BYTES),
            max_collection_length: Some(MAX_COLLECTION_BYTES),
            max_value_size: Some(MAX_ITEM_SIZE),
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new("DynamoDBStore", Stability::Unstable)
            .with_capabilities(capabilities)
            .with_clock(c.clock.clone());
        if let Some(dc) = &c.default_collection {
            info = info.with_default_collection(dc.clone());
        }
        DynamoDBStore {
            info,
            api: Api {
                http,
                url: endpoint,
                signer: Signer::new(credentials, region, "dynamodb"),
                max_retries: c.max_retries,
                base_delay: c.retry_base_delay,
            },
            table: c.table,
            auto_create: c.auto_create,
            consistent_read: c.consistent_read,
            concurrency: c.concurrency,
            table_timeout: c.table_timeout,
            ready: AtomicBool::new(false),
            setup_lock: tokio::sync::Mutex::new(()),
            closed: CloseFlag::default(),
        }
    }

    /// The table the store uses.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        self.api.signer.region()
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        self.api.url.as_str()
    }

    /// Deletes the items whose `ttl` lies in a past second (by the store's clock), with a
    /// `Scan` of the whole table and one conditional `DeleteItem` each (an item rewritten
    /// meanwhile is kept); how many were deleted. Items in the current second are left for
    /// the next run.
    pub async fn cull_expired(&self) -> Result<u64> {
        let op = "cull";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let now = self.info.clock().now().unix_micros().div_euclid(1_000_000);
        let names = json!({"#c": COLLECTION_ATTRIBUTE, "#k": KEY_ATTRIBUTE, "#t": TTL_ATTRIBUTE});
        let values = json!({":now": {"N": now.to_string()}});
        let mut deleted = 0u64;
        let mut start: Option<Value> = None;
        loop {
            let mut body = json!({
                "TableName": self.table,
                "FilterExpression": "#t < :now",
                "ProjectionExpression": "#c, #k",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ConsistentRead": self.consistent_read,
            });
            if let Some(s) = start.take() {
                body["ExclusiveStartKey"] = s;
            }
            let page = self
                .request("Scan", &body)
                .await
                .map_err(|f| f.error.or_operation(op))?;
            let keys: Vec<(String, String)> = items(&page)
                .iter()
                .filter_map(|i| {
                    Some((
                        string_attr(i, COLLECTION_ATTRIBUTE)?.to_string(),
                        string_attr(i, KEY_ATTRIBUTE)?.to_string(),
                    ))
                })
                .collect();
            let values = &values;
            // Indexes, not borrowed items, in the stream: closures over borrowed arguments
            // trip the compiler's `Send` proof (rust-lang/rust#102211).
            let results: Vec<bool> = stream::iter(0..keys.len())
                .map(|i| {
                    let (c, k) = (&keys[i].0, &keys[i].1);
                    async move {
                        let body = json!({
                            "TableName": self.table,
                            "Key": key_of(c, k),
                            "ConditionExpression": "#t < :now",
                            "ExpressionAttributeNames": {"#t": TTL_ATTRIBUTE},
                            "ExpressionAttributeValues": values,
                        });
                        match self.request("DeleteItem", &body).await {
                            Ok(_) => Ok(true),
                            Err(f) if f.is("ConditionalCheckFailedException") => Ok(false),
                            Err(f) => Err(f.error.in_context(op, c, Some(k))),
                        }
                    }
                })
                .buffer_unordered(self.concurrency)
                .try_collect()
                .await?;
            deleted += results.iter().filter(|d| **d).count() as u64;
            match page.get("LastEvaluatedKey") {
                Some(k) if !k.is_null() => start = Some(k.clone()),
                _ => return Ok(deleted),
            }
        }
    }

    /// Makes sure the table is there (once; again after it went missing).
    async fn ensure_ready(&self) -> Result<()> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = self.setup_lock.lock().await;
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        self.set_up().await.map_err(as_setup_error)?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// py-key-value's set-up: the table (created when missing and allowed), then TTL on `ttl`.
    async fn set_up(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.table_timeout;
        let described = json!({"TableName": self.table});
        let mut polls = 0u32;
        loop {
            match self.api.call("DescribeTable", &described).await {
                Ok(doc) => {
                    let table = &doc["Table"];
                    // CREATING, DELETING (then it will be missing and created), ...: wait.
                    if let Some("ACTIVE" | "UPDATING") = table["TableStatus"].as_str() {
                        self.check_schema(table)?;
                        break;
                    }
                }
                Err(f) if f.is("ResourceNotFoundException") => {
                    if !self.auto_create {
                        return Err(Error::new(
                            ErrorKind::Setup,
                            format!(
                                "table '{}' does not exist: create it (partition key \
                                 `collection` S, sort key `key` S) or turn auto_create on",
                                self.table
                            ),
                        ));
                    }
                    match self
                        .api
                        .call("CreateTable", &self.create_table_body())
                        .await
                    {
                        Ok(_) => continue,
                        // Created (or being deleted) by someone else meanwhile: wait for it.
                        Err(f) if f.is("ResourceInUseException") => {}
                        Err(f) => return Err(f.error),
                    }
                }
                Err(f) => return Err(f.error),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Setup,
                    format!(
                        "table '{}' did not become ACTIVE within {:?}",
                        self.table, self.table_timeout
                    ),
                )
                .with_temporary(true));
            }
            tokio::time::sleep(poll_delay(polls)).await;
            polls += 1;
        }
        self.enable_ttl().await
    }

    fn create_table_body(&self) -> Value {
        json!({
            "TableName": self.table,
            "KeySchema": [
                {"AttributeName": COLLECTION_ATTRIBUTE, "KeyType": "HASH"},
                {"AttributeName": KEY_ATTRIBUTE, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": COLLECTION_ATTRIBUTE, "AttributeType": "S"},
                {"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        })
    }

    /// A table with another key schema cannot hold this layout: say so instead of failing
    /// at every call.
    fn check_schema(&self, table: &Value) -> Result<()> {
        let role = |name: &str| {
            table["KeySchema"].as_array().and_then(|ks| {
                ks.iter()
                    .find(|k| k["AttributeName"] == name)
                    .and_then(|k| k["KeyType"].as_str())
            })
        };
        let kind = |name: &str| {
            table["AttributeDefinitions"].as_array().and_then(|ds| {
                ds.iter()
                    .find(|d| d["AttributeName"] == name)
                    .and_then(|d| d["AttributeType"].as_str())
            })
        };
        let keys = table["KeySchema"].as_array().map_or(0, Vec::len);
        let ok = keys == 2
            && role(COLLECTION_ATTRIBUTE) == Some("HASH")
            && role(KEY_ATTRIBUTE) == Some("RANGE")
            && kind(COLLECTION_ATTRIBUTE) == Some("S")
            && kind(KEY_ATTRIBUTE) == Some("S");
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Setup,
                format!(
                    "table '{}' has another key schema than py-key-value's (partition key \
                     `collection` S, sort key `key` S): {}",
                    self.table, table["KeySchema"]
                ),
            ))
        }
    }

    /// Turns DynamoDB's TTL on for `ttl` when it is off, as py-key-value does. Servers without
    /// the TTL API (dynalite) are tolerated: expiry is enforced on read anyway.
    async fn enable_ttl(&self) -> Result<()> {
        let doc = match self
            .api
            .call("DescribeTimeToLive", &json!({"TableName": self.table}))
            .await
        {
            Ok(doc) => doc,
            Err(f) if f.is("UnknownOperationException") => return Ok(()),
            Err(f) => return Err(f.error),
        };
        if doc["TimeToLiveDescription"]["TimeToLiveStatus"] != "DISABLED" {
            return Ok(());
        }
        let body = json!({
            "TableName": self.table,
            "TimeToLiveSpecification": {"Enabled": true, "AttributeName": TTL_ATTRIBUTE},
        });
        match self.api.call("UpdateTimeToLive", &body).await {
            Ok(_) => Ok(()),
            Err(f) if f.is("UnknownOperationException") => Ok(()),
            // Another process turned it on meanwhile.
            Err(f) if f.is("ValidationException") && f.error.message().contains("already") => {
                Ok(())
            }
            Err(f) => Err(f.error),
        }
    }

    /// One call on the table, after the set-up; a table gone missing is set up again (when
    /// allowed) and the call made once more.
    async fn request(&self, action: &'static str, body: &Value) -> CallResult<Value> {
        self.ensure_ready().await?;
        match self.api.call(action, body).await {
            Err(f) if f.is("ResourceNotFoundException") => {
                self.ready.store(false, Ordering::Release);
                if !self.auto_create {
                    return Err(Failure {
                        error: Error::new(
                            ErrorKind::Setup,
                            format!("table '{}' does not exist (any more)", self.table),
                        )
                        .with_source(f.error),
                        ..f
                    });
                }
                self.ensure_ready().await?;
                self.api.call(action, body).await
            }
            other => other,
        }
    }

    async fn delete_one(&self, collection: &str, key: &str) -> Result<bool> {
        let body = json!({
            "TableName": self.table,
            "Key": key_of(collection, key),
            "ReturnValues": "ALL_OLD",
        });
        let doc = self.request("DeleteItem", &body).await?;
        Ok(doc
            .get("Attributes")
            .and_then(Value::as_object)
            .is_some_and(|a| !a.is_empty()))
    }

    /// One `BatchGetItem` of at most 100 distinct keys, unprocessed keys asked again.
    async fn batch_get(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<(String, ManagedEntry)>> {
        let mut pending: Vec<Value> = keys.iter().map(|k| key_of(collection, k)).collect();
        let mut found = Vec::with_capacity(keys.len());
        let mut attempt = 0;
        loop {
            let body = json!({
                "RequestItems": {
                    self.table.as_str(): {"Keys": pending, "ConsistentRead": self.consistent_read},
                },
            });
            let doc = self.request("BatchGetItem", &body).await?;
            if let Some(list) = doc["Responses"][self.table.as_str()].as_array() {
                for item in list {
                    let Some(key) = string_attr(item, KEY_ATTRIBUTE) else {
                        continue;
                    };
                    let entry = parse_item(item).map_err(|e| e.with_key(key))?;
                    if let Some(entry) = entry {
                        found.push((key.to_string(), entry));
                    }
                }
            }
            pending = unprocessed(&doc["UnprocessedKeys"][self.table.as_str()]["Keys"]);
            if pending.is_empty() {
                return Ok(found);
            }
            self.retry_pause(&mut attempt, pending.len(), "keys")
                .await?;
        }
    }

    /// One `BatchWriteItem` of at most 25 requests, unprocessed ones sent again.
    async fn batch_write(&self, requests: Vec<Value>) -> Result<()> {
        let mut pending = requests;
        let mut attempt = 0;
        loop {
            let body = json!({"RequestItems": {self.table.as_str(): pending}});
            let doc = self.request("BatchWriteItem", &body).await?;
            pending = unprocessed(&doc["UnprocessedItems"][self.table.as_str()]);
            if pending.is_empty() {
                return Ok(());
            }
            self.retry_pause(&mut attempt, pending.len(), "items")
                .await?;
        }
    }

    /// Waits before sending unprocessed batch parts again, or gives up after `max_retries`.
    async fn retry_pause(&self, attempt: &mut u32, left: usize, what: &str) -> Result<()> {
        if *attempt >= self.api.max_retries {
            return Err(Error::new(
                ErrorKind::Backend,
                format!(
                    "DynamoDB left {left} {what} unprocessed after {} retries (throughput \
                     exceeded); nothing else failed, try again later",
                    self.api.max_retries
                ),
            )
            .with_temporary(true));
        }
        tokio::time::sleep(self.api.backoff(*attempt)).await;
        *attempt += 1;
        Ok(())
    }

    /// Deletes the given primary keys (`key_of` values) in `BatchWriteItem`s of 25.
    async fn delete_keys(&self, keys: Vec<Value>) -> Result<()> {
        let chunks: Vec<Vec<Value>> = keys
            .chunks(BATCH_WRITE_LIMIT)
            .map(|c| {
                c.iter()
                    .map(|k| json!({"DeleteRequest": {"Key": k}}))
                    .collect()
            })
            .collect();
        stream::iter(chunks)
            .map(|c| self.batch_write(c))
            .buffer_unordered(self.concurrency)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    /// Whether the item `collection`/`key` has expired at `now`, read in full (for listings in
    /// the second its `ttl` names).
    async fn expired(&self, collection: &str, key: &str, now: Timestamp) -> Result<bool> {
        Ok(self
            .get_entry(collection, key)
            .await?
            .is_none_or(|e| e.is_expired_at(now)))
    }

    async fn delete_everything(&self) -> Result<bool> {
        let body = json!({
            "TableName": self.table,
            "ProjectionExpression": "#c, #k",
            "ExpressionAttributeNames": {"#c": COLLECTION_ATTRIBUTE, "#k": KEY_ATTRIBUTE},
            "ConsistentRead": self.consistent_read,
        });
        let mut any = false;
        let mut start: Option<Value> = None;
        loop {
            let mut body = body.clone();
            if let Some(s) = start.take() {
                body["ExclusiveStartKey"] = s;
            }
            let page = self.request("Scan", &body).await?;
            let keys: Vec<Value> = items(&page)
                .iter()
                .filter_map(|i| {
                    Some(key_of(
                        string_attr(i, COLLECTION_ATTRIBUTE)?,
                        string_attr(i, KEY_ATTRIBUTE)?,
                    ))
                })
                .collect();
            any |= !keys.is_empty();
            self.delete_keys(keys).await?;
            match page.get("LastEvaluatedKey") {
                Some(k) if !k.is_null() => start = Some(k.clone()),
                _ => return Ok(any),
            }
        }
    }

    async fn delete_table(&self) -> Result<bool> {
        let _guard = self.setup_lock.lock().await;
        self.ready.store(false, Ordering::Release);
        let probe = json!({
            "TableName": self.table,
            "Limit": 1,
            "ProjectionExpression": "#c",
            "ExpressionAttributeNames": {"#c": COLLECTION_ATTRIBUTE},
        });
        let any = match self.api.call("Scan", &probe).await {
            Ok(doc) => !items(&doc).is_empty(),
            Err(f) if f.is("ResourceNotFoundException") => return Ok(false),
            Err(f) => return Err(f.error),
        };
        match self
            .api
            .call("DeleteTable", &json!({"TableName": self.table}))
            .await
        {
            Ok(_) => {}
            Err(f) if f.is("ResourceNotFoundException") => return Ok(any),
            Err(f) => return Err(f.error),
        }
        let deadline = tokio::time::Instant::now() + self.table_timeout;
        let mut polls = 0;
        loop {
            match self
                .api
                .call("DescribeTable", &json!({"TableName": self.table}))
                .await
            {
                Err(f) if f.is("ResourceNotFoundException") => return Ok(any),
                Err(f) => return Err(f.error),
                Ok(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(Error::new(
                        ErrorKind::Backend,
                        format!(
                            "table '{}' was still there {:?} after DeleteTable",
                            self.table, self.table_timeout
                        ),
                    )
                    .with_temporary(true));
                }
                Ok(_) => {}
            }
            tokio::time::sleep(poll_delay(polls)).await;
            polls += 1;
        }
    }
}

fn items(page: &Value) -> &[Value] {
    page["Items"].as_array().map_or(&[], Vec::as_slice)
}

fn unprocessed(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// 100 ms, doubling up to 2 s, between polls of a table's status.
fn poll_delay(polls: u32) -> Duration {
    Duration::from_millis(100)
        .saturating_mul(1 << polls.min(5))
        .min(Duration::from_secs(2))
}

/// Set-up failures are `Setup` errors, except connection failures and time-outs, which keep
/// their kind (and stay temporary): the server could not be asked at all.
fn as_setup_error(e: Error) -> Error {
    match e.kind() {
        ErrorKind::Setup | ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::Closed => e,
        _ => {
            let temporary = e.is_temporary();
            Error::new(ErrorKind::Setup, format!("DynamoDB set-up failed: {e}"))
                .with_temporary(temporary)
                .with_source(e)
        }
    }
}

/// The distinct keys in first-seen order.
fn distinct<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.iter().copied().filter(|k| seen.insert(*k)).collect()
}

fn check_collection(collection: &str) -> Result<()> {
    check_names(collection, "k")
}

impl KeyValue for DynamoDBStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let op = "get";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        check_names(collection, key).map_err(ctx)?;
        self.closed.check().map_err(ctx)?;
        let body = json!({
            "TableName": self.table,
            "Key": key_of(collection, key),
            "ConsistentRead": self.consistent_read,
        });
        let doc = self
            .request("GetItem", &body)
            .await
            .map_err(|f| ctx(f.error))?;
        match doc.get("Item") {
            Some(item) if item.is_object() => parse_item(item).map_err(ctx),
            _ => Ok(None),
        }
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let op = "put";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        check_names(collection, key).map_err(ctx)?;
        let item = build_item(collection, key, &entry).map_err(ctx)?;
        self.closed.check().map_err(ctx)?;
        let body = json!({"TableName": self.table, "Item": item});
        self.request("PutItem", &body)
            .await
            .map_err(|f| ctx(f.error))?;
        Ok(())
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let op = "delete";
        let ctx = |e: Error| e.in_context(op, collection, Some(key));
        check_names(collection, key).map_err(ctx)?;
        self.closed.check().map_err(ctx)?;
        self.delete_one(collection, key).await.map_err(ctx)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let op = "get_many";
        for key in keys {
            check_names(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
        }
        self.closed.check().map_err(|e| e.with_operation(op))?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let unique = distinct(keys);
        let unique = &unique;
        let found: Vec<Vec<(String, ManagedEntry)>> =
            stream::iter((0..unique.len()).step_by(BATCH_GET_LIMIT))
                .map(|start| {
                    let end = (start + BATCH_GET_LIMIT).min(unique.len());
                    self.batch_get(collection, &unique[start..end])
                })
                .buffer_unordered(self.concurrency)
                .try_collect()
                .await
                .map_err(|e| e.in_context(op, collection, None))?;
        let by_key: HashMap<String, ManagedEntry> = found.into_iter().flatten().collect();
        Ok(key_value_core::entry::in_key_order(by_key, keys))
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
        // The last value given for a key wins, as with single puts.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            check_names(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
            last.insert(key, i);
        }
        let mut requests = Vec::with_capacity(last.len());
        for (i, (key, entry)) in keys.iter().zip(&entries).enumerate() {
            if last.get(key) != Some(&i) {
                continue;
            }
            let item = build_item(collection, key, entry)
                .map_err(|e| e.in_context(op, collection, Some(key)))?;
            requests.push(json!({"PutRequest": {"Item": item}}));
        }
        drop(entries);
        self.closed.check().map_err(|e| e.with_operation(op))?;
        if requests.is_empty() {
            return Ok(());
        }
        let mut chunks = Vec::with_capacity(requests.len().div_ceil(BATCH_WRITE_LIMIT));
        let mut rest = requests.into_iter().peekable();
        while rest.peek().is_some() {
            chunks.push(rest.by_ref().take(BATCH_WRITE_LIMIT).collect::<Vec<_>>());
        }
        stream::iter(chunks)
            .map(|c| self.batch_write(c))
            .buffer_unordered(self.concurrency)
            .try_collect::<Vec<()>>()
            .await
            .map_err(|e| e.in_context(op, collection, None))?;
        Ok(())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let op = "delete_many";
        for key in keys {
            check_names(collection, key).map_err(|e| e.in_context(op, collection, Some(key)))?;
        }
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let unique = distinct(keys);
        let unique = &unique;
        let deleted: Vec<bool> = stream::iter(0..unique.len())
            .map(|i| {
                let key = unique[i];
                async move {
                    self.delete_one(collection, key)
                        .await
                        .map_err(|e| e.in_context(op, collection, Some(key)))
                }
            })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        Ok(deleted.into_iter().filter(|d| *d).count())
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "keys";
        let ctx = |e: Error| e.in_context(op, collection, None);
        check_collection(collection).map_err(ctx)?;
        self.closed.check().map_err(ctx)?;
        let limit = limit.unwrap_or(usize::MAX);
        let now = self.info.clock().now();
        let body = json!({
            "TableName": self.table,
            "KeyConditionExpression": "#c = :c",
            "ProjectionExpression": "#k, #t",
            "ExpressionAttributeNames": {"#c": COLLECTION_ATTRIBUTE, "#k": KEY_ATTRIBUTE, "#t": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":c": {"S": collection}},
            "ConsistentRead": self.consistent_read,
            "Limit": QUERY_PAGE_SIZE.min(limit.max(1)),
        });
        let mut out = Vec::new();
        let mut start: Option<Value> = None;
        while out.len() < limit {
            let mut body = body.clone();
            if let Some(s) = start.take() {
                body["ExclusiveStartKey"] = s;
            }
            let page = self
                .request("Query", &body)
                .await
                .map_err(|f| ctx(f.error))?;
            for item in items(&page) {
                let Some(key) = string_attr(item, KEY_ATTRIBUTE) else {
                    continue;
                };
                let live = match liveness(ttl_attr(item).map_err(ctx)?, now) {
                    Liveness::Live => true,
                    Liveness::Expired => false,
                    Liveness::Unsure => !self.expired(collection, key, now).await.map_err(ctx)?,
                };
                if live {
                    out.push(key.to_string());
                    if out.len() == limit {
                        break;
                    }
                }
            }
            match page.get("LastEvaluatedKey") {
                Some(k) if !k.is_null() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let op = "collections";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let limit = limit.unwrap_or(usize::MAX);
        let now = self.info.clock().now();
        let body = json!({
            "TableName": self.table,
            "ProjectionExpression": "#c, #t",
            "ExpressionAttributeNames": {"#c": COLLECTION_ATTRIBUTE, "#t": TTL_ATTRIBUTE},
            "ConsistentRead": self.consistent_read,
        });
        let mut found = BTreeSet::new();
        let mut start: Option<Value> = None;
        while found.len() < limit {
            let mut body = body.clone();
            if let Some(s) = start.take() {
                body["ExclusiveStartKey"] = s;
            }
            let page = self
                .request("Scan", &body)
                .await
                .map_err(|f| f.error.or_operation(op))?;
            for item in items(&page) {
                let Some(c) = string_attr(item, COLLECTION_ATTRIBUTE) else {
                    continue;
                };
                // A collection counts while one of its items may be live.
                let ttl = ttl_attr(item).map_err(|e| e.or_operation(op))?;
                if liveness(ttl, now) != Liveness::Expired && !found.contains(c) {
                    found.insert(c.to_string());
                    if found.len() == limit {
                        break;
                    }
                }
            }
            match page.get("LastEvaluatedKey") {
                Some(k) if !k.is_null() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(found.into_iter().collect())
    }

    async fn destroy(&self) -> Result<bool> {
        let op = "destroy";
        self.closed.check().map_err(|e| e.with_operation(op))?;
        let result = if self.auto_create {
            self.delete_table().await
        } else {
            self.delete_everything().await
        };
        result.map_err(|e| e.or_operation(op))
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let op = "destroy_collection";
        let ctx = |e: Error| e.in_context(op, collection, None);
        check_collection(collection).map_err(ctx)?;
        self.closed.check().map_err(ctx)?;
        let body = json!({
            "TableName": self.table,
            "KeyConditionExpression": "#c = :c",
            "ProjectionExpression": "#k",
            "ExpressionAttributeNames": {"#c": COLLECTION_ATTRIBUTE, "#k": KEY_ATTRIBUTE},
            "ExpressionAttributeValues": {":c": {"S": collection}},
            "ConsistentRead": self.consistent_read,
        });
        let mut any = false;
        let mut start: Option<Value> = None;
        loop {
            let mut body = body.clone();
            if let Some(s) = start.take() {
                body["ExclusiveStartKey"] = s;
            }
            let page = self
                .request("Query", &body)
                .await
                .map_err(|f| ctx(f.error))?;
            let keys: Vec<Value> = items(&page)
                .iter()
                .filter_map(|i| string_attr(i, KEY_ATTRIBUTE).map(|k| key_of(collection, k)))
                .collect();
            any |= !keys.is_empty();
            self.delete_keys(keys).await.map_err(ctx)?;
            match page.get("LastEvaluatedKey") {
                Some(k) if !k.is_null() => start = Some(k.clone()),
                _ => return Ok(any),
            }
        }
    }

    async fn cull(&self) -> Result<()> {
        self.cull_expired().await.map(|_| ())
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        Ok(())
    }
}

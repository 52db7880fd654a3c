//! [`S3Config`]: the builder of [`S3Store`] and what an `s3://` URL parses into, so
//! `S3Config::from_url(&url)?.open()` and `S3Config::new(bucket).open()` are one code path.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::sanitize::{
    S3CollectionSanitizationStrategy, S3KeySanitizationStrategy, SanitizationStrategy,
};
use key_value_core::{Clock, Error, ErrorKind, Result};
use key_value_http::HttpConfig;
use key_value_http::aws_profile::region_from_environment;
use key_value_http::sigv4::Credentials;

use crate::S3Store;

/// At most this many requests of one call run at once unless configured.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Keys asked for per ListObjectsV2 page unless configured (S3's maximum).
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// How many times a request S3 asks to retry (5xx, `SlowDown`, a lost connection) is retried
/// unless configured: 2, as the AWS SDKs' standard mode (3 attempts).
pub const DEFAULT_MAX_RETRIES: u32 = 2;

/// The region used when neither the configuration nor the environment names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How collection names and keys become the two parts of the object key
/// `collection/key`.
#[derive(Clone)]
pub enum Sanitization {
    /// py-key-value's `S3CollectionSanitizationStrategy` and `S3KeySanitizationStrategy`
    /// (the default, 500 bytes each): a part longer than its limit in UTF-8 bytes becomes its
    /// longest prefix that fits with 8 hex digits of its SHA-256 after it. Every name then
    /// fits S3's 1024-byte object keys.
    S3 {
        /// The limit for collection names, in UTF-8 bytes (at least 16; default 500).
        collection_max_bytes: usize,
        /// The limit for keys, in UTF-8 bytes (at least 16; default 500).
        key_max_bytes: usize,
    },
    /// Names are used as given: py-key-value's own default. `collection/key` longer than 1024
    /// bytes is then an [`InvalidKey`](ErrorKind::InvalidKey) error.
    None,
    /// Your own strategies (of [`key_value_core::sanitize`]).
    Custom {
        /// For collection names.
        collection: Arc<dyn SanitizationStrategy>,
        /// For keys.
        key: Arc<dyn SanitizationStrategy>,
    },
}

impl Default for Sanitization {
    fn default() -> Self {
        Sanitization::S3 {
            collection_max_bytes: S3CollectionSanitizationStrategy::DEFAULT_MAX_BYTES,
            key_max_bytes: S3KeySanitizationStrategy::DEFAULT_MAX_BYTES,
        }
    }
}

impl fmt::Debug for Sanitization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sanitization::S3 {
                collection_max_bytes,
                key_max_bytes,
            } => f
                .debug_struct("S3")
                .field("collection_max_bytes", collection_max_bytes)
                .field("key_max_bytes", key_max_bytes)
                .finish(),
            Sanitization::None => f.write_str("None"),
            Sanitization::Custom { collection, key } => f
                .debug_struct("Custom")
                .field("collection", collection)
                .field("key", key)
                .finish(),
        }
    }
}

/// The configuration of an [`S3Store`]: its builder, and what an `s3://` URL parses into.
///
/// What is not set here comes from the usual AWS environment when the store is opened:
/// credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, else
/// the static keys of the AWS profile ([`profile`](Self::profile), else `AWS_PROFILE`, else
/// `default`); the region from `AWS_REGION` or `AWS_DEFAULT_REGION`, else the profile's
/// `region`, else `us-east-1`; the endpoint from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`
/// (else AWS's own). See [`key_value_http::aws_profile`] for what profiles may hold.
///
/// ```
/// use key_value_core::config::StoreUrl;
/// use key_value_http::sigv4::Credentials;
/// use key_value_s3::S3Config;
///
/// // Nothing is sent here: the store checks (and creates) its bucket at its first call.
/// let store = S3Config::new("my-kv-bucket")
///     .endpoint("http://127.0.0.1:18334")
///     .credentials(Credentials::new("access", "secret"))
///     .open()?;
/// assert_eq!(store.bucket(), "my-kv-bucket");
///
/// let url = StoreUrl::parse(
///     "s3://access:TopS3cret@my-kv-bucket?endpoint=http://127.0.0.1:9000&region=eu-west-1&create_bucket=false",
/// )?;
/// let config = S3Config::from_url(&url)?;
/// assert_eq!(config.bucket_name(), "my-kv-bucket");
/// assert_eq!(config.region_name(), Some("eu-west-1"));
/// assert!(!format!("{config:?}").contains("TopS3cret"));
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// URL options: `region`, `profile` (an AWS profile name), `endpoint`, `path_style` (`true`/`false`), `create_bucket`
/// (`true`/`false`), `sanitize` (`s3` or `none`), `collection_max_bytes` and `key_max_bytes`
/// (with `sanitize=s3`), `concurrency`, `page_size`, `max_retries`, `default_collection`, `timeout` and
/// `connect_timeout` (seconds), `ca_file`, `insecure` (`true`/`false`). The host is the
/// bucket; `access:secret@` in front of it are the credentials. Unknown options are errors.
#[derive(Clone)]
pub struct S3Config {
    pub(crate) bucket: String,
    pub(crate) region: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) path_style: Option<bool>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) profile: Option<String>,
    pub(crate) create_bucket: bool,
    pub(crate) sanitization: Sanitization,
    pub(crate) concurrency: usize,
    pub(crate) page_size: usize,
    pub(crate) max_retries: u32,
    pub(crate) http: HttpConfig,
    pub(crate) default_collection: Option<String>,
    pub(crate) clock: Clock,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            // Credentials' own Debug shows the access key id only.
            .field("credentials", &self.credentials)
            .field("profile", &self.profile)
            .field("create_bucket", &self.create_bucket)
            .field("sanitization", &self.sanitization)
            .field("concurrency", &self.concurrency)
            .field("page_size", &self.page_size)
            .field("max_retries", &self.max_retries)
            .field("http", &self.http)
            .field("default_collection", &self.default_collection)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// The URL scheme: `s3://[access:secret@]bucket?options`.
    pub const SCHEME: &'static str = "s3";

    /// A store in `bucket`, with the defaults: region, endpoint and credentials from the
    /// environment, path-style addressing for custom endpoints and virtual-hosted style for
    /// AWS, the bucket created when missing, py-key-value's S3 sanitization, 16 concurrent
    /// requests per call, the system clock.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Config {
            bucket: bucket.into(),
            region: None,
            endpoint: None,
            path_style: None,
            credentials: None,
            profile: None,
            create_bucket: true,
            sanitization: Sanitization::default(),
            concurrency: DEFAULT_CONCURRENCY,
            page_size: DEFAULT_PAGE_SIZE,
            max_retries: DEFAULT_MAX_RETRIES,
            http: HttpConfig::default(),
            default_collection: None,
            clock: Clock::system(),
        }
    }

    /// Parses an `s3://[access:secret@]bucket?...` URL; a wrong scheme, a path, a bad or
    /// unknown option is an [`ErrorKind::Config`] error.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        if url.scheme() != Self::SCHEME {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "expected a {}:// URL, got {}://",
                    Self::SCHEME,
                    url.scheme()
                ),
            ));
        }
        url.check_options(&[
            "region",
            "profile",
            "endpoint",
            "path_style",
            "create_bucket",
            "sanitize",
            "collection_max_bytes",
            "key_max_bytes",
            "concurrency",
            "page_size",
            "max_retries",
            "default_collection",
            "timeout",
            "connect_timeout",
            "ca_file",
            "insecure",
        ])?;
        let Some(bucket) = url.host() else {
            return Err(Error::new(
                ErrorKind::Config,
                "s3:// needs a bucket: s3://bucket?options",
            ));
        };
        if url.port().is_some() || !matches!(url.path().as_str(), "" | "/") {
            return Err(Error::new(
                ErrorKind::Config,
                "s3:// takes a bucket name only (s3://bucket?endpoint=http://host:port for a \
                 custom server)",
            ));
        }
        let mut c = S3Config::new(bucket);
        match (url.username(), url.password()) {
            (Some(user), Some(password)) => c.credentials = Some(Credentials::new(user, password)),
            (None, None) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "s3:// credentials need both parts: s3://ACCESS_KEY_ID:SECRET@bucket",
                ));
            }
        }
        c.region = url.option::<String>("region")?;
        c.profile = url.option::<String>("profile")?;
        c.endpoint = url.option::<String>("endpoint")?;
        c.path_style = url.flag("path_style")?;
        if let Some(b) = url.flag("create_bucket")? {
            c.create_bucket = b;
        }
        let collection_max = url.option::<usize>("collection_max_bytes")?;
        let key_max = url.option::<usize>("key_max_bytes")?;
        match url.option::<String>("sanitize")?.as_deref() {
            None | Some("s3") => {
                c.sanitization = Sanitization::S3 {
                    collection_max_bytes: collection_max
                        .unwrap_or(S3CollectionSanitizationStrategy::DEFAULT_MAX_BYTES),
                    key_max_bytes: key_max.unwrap_or(S3KeySanitizationStrategy::DEFAULT_MAX_BYTES),
                };
            }
            Some("none" | "passthrough") => {
                if collection_max.is_some() || key_max.is_some() {
                    return Err(Error::new(
                        ErrorKind::Config,
                        "collection_max_bytes and key_max_bytes need sanitize=s3",
                    ));
                }
                c.sanitization = Sanitization::None;
            }
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("invalid value {other:?} for option `sanitize`: expected s3 or none"),
                ));
            }
        }
        if let Some(n) = url.option::<usize>("concurrency")? {
            c.concurrency = n;
        }
        if let Some(n) = url.option::<usize>("page_size")? {
            c.page_size = n;
        }
        if let Some(n) = url.option::<u32>("max_retries")? {
            c.max_retries = n;
        }
        c.default_collection = url.option::<String>("default_collection")?;
        if let Some(d) = seconds(url, "timeout")? {
            c.http.timeout = d;
        }
        if let Some(d) = seconds(url, "connect_timeout")? {
            c.http.connect_timeout = d;
        }
        if let Some(path) = url.option::<String>("ca_file")? {
            c.http.ca_file = Some(PathBuf::from(path));
        }
        if let Some(b) = url.flag("insecure")? {
            c.http.insecure = b;
        }
        Ok(c)
    }

    /// The region requests are signed for and buckets are created in (default: `AWS_REGION`,
    /// else `AWS_DEFAULT_REGION`, else the AWS profile's `region`, else `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// An S3-compatible server (`http://127.0.0.1:9000`; a path after the host is kept as a
    /// prefix). Default: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS
    /// (`https://s3.<region>.amazonaws.com`).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Path-style (`endpoint/bucket/key`, `true`) or virtual-hosted-style
    /// (`bucket.endpoint/key`, `false`) addressing. Default: path style for custom endpoints,
    /// virtual-hosted for AWS (path style there too when the bucket name is not a DNS label:
    /// dots, capitals, underscores).
    pub fn path_style(mut self, path_style: bool) -> Self {
        self.path_style = Some(path_style);
        self
    }

    /// The credentials to sign with (default: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    /// and `AWS_SESSION_TOKEN`, else the AWS profile's). Never printed.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The AWS profile (in `~/.aws/credentials` and `~/.aws/config`) to take credentials and
    /// region from when they are not set here. Its keys are used even when
    /// `AWS_ACCESS_KEY_ID` is set, but `AWS_REGION`/`AWS_DEFAULT_REGION` still beat its
    /// `region`, as in boto3 (see [`key_value_http::aws_profile`]). By default the
    /// environment's keys, else those of the profile `AWS_PROFILE` (or `default`) names. A
    /// named profile that neither file has is a [`Config`](ErrorKind::Config) error at open.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Whether the bucket is checked at the first call and created when missing (default
    /// `true`, as py-key-value). Off, no set-up request is sent at all, so credentials that
    /// may only read and write objects suffice, and a missing bucket shows as a permanent
    /// `NoSuchBucket` [`Backend`](ErrorKind::Backend) error of each call.
    pub fn create_bucket(mut self, create: bool) -> Self {
        self.create_bucket = create;
        self
    }

    /// How names become object keys (default [`Sanitization::S3`] with 500 bytes each).
    pub fn sanitization(mut self, sanitization: Sanitization) -> Self {
        self.sanitization = sanitization;
        self
    }

    /// py-key-value's S3 strategies with other byte limits, e.g. 255 each for servers that
    /// store objects as files (one name per path segment).
    pub fn max_bytes(mut self, collection_max_bytes: usize, key_max_bytes: usize) -> Self {
        self.sanitization = Sanitization::S3 {
            collection_max_bytes,
            key_max_bytes,
        };
        self
    }

    /// Shorthand for `sanitization(Sanitization::None)`: names used as given, as
    /// py-key-value's `S3Store` does by default.
    pub fn no_sanitization(self) -> Self {
        self.sanitization(Sanitization::None)
    }

    /// At most this many requests of one batch call (`get_many`, `put_many`, `delete_many`,
    /// listings' expiry checks) run at once (default 16).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Objects asked for per ListObjectsV2 page (1 to 1000, default 1000).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n;
        self
    }

    /// How many times a request is retried when S3 asks for it (5xx, `SlowDown`,
    /// `RequestTimeout`) or the connection failed (default 2, as the AWS SDKs; 0 never
    /// retries). Retries wait 100 ms, 200 ms, ... (at most 2 s, with jitter). Every request the
    /// store sends is idempotent, so a retry cannot apply a change twice.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Timeouts and TLS trust of the HTTP client (default: 30 s per request, 10 s to
    /// connect, the platform's roots).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by (a [`ManualClock`](key_value_core::ManualClock) in
    /// tests; default the system clock). Requests are always signed with the system time.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The bucket.
    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    /// The configured region, if any (the environment is read at [`open`](Self::open)).
    pub fn region_name(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The configured endpoint, if any (the environment is read at [`open`](Self::open)).
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Makes the store. Nothing is sent yet and no runtime is needed: the bucket is checked
    /// (and created) at the first call, so an unreachable server shows up then, as a
    /// temporary [`Connection`](ErrorKind::Connection) error. A bad bucket name, endpoint or
    /// option, or no credentials anywhere, is an [`ErrorKind::Config`] error.
    pub fn open(self) -> Result<S3Store> {
        S3Store::from_config(self)
    }
}

/// Whether `bucket` is a usable S3 bucket name: 3 to 63 characters of `a-z 0-9 . -` starting
/// and ending with a letter or digit (AWS's rules), or, for older buckets and other servers,
/// up to 255 characters that may also include capitals and `_`.
pub(crate) fn check_bucket(bucket: &str) -> Result<()> {
    let ok = (3..=255).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Config,
            format!(
                "invalid S3 bucket name {bucket:?}: use 3 to 63 characters of a-z, 0-9, '.' and \
                 '-', starting and ending with a letter or digit"
            ),
        ))
    }
}

/// Whether `bucket` can be a DNS label of a virtual-hosted-style URL over TLS.
pub(crate) fn dns_compatible(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The endpoint from the environment: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`.
pub(crate) fn endpoint_from_env() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// The region: configured, else from the environment or the AWS profile, else `us-east-1`.
pub(crate) fn resolve_region(configured: Option<&str>, profile: Option<&str>) -> Result<String> {
    Ok(match configured {
        Some(r) => r.to_string(),
        None => region_from_environment(profile)?.unwrap_or_else(|| DEFAULT_REGION.to_string()),
    })
}

fn seconds(url: &StoreUrl, name: &str) -> Result<Option<Duration>> {
    match url.option::<f64>(name)? {
        None => Ok(None),
        Some(secs) => Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .map(Some)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!("invalid value {secs} for option `{name}`: expected positive seconds"),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(url: &str) -> Result<S3Config> {
        S3Config::from_url(&StoreUrl::parse(url)?)
    }

    #[test]
    fn url_options() {
        let c = parse(
            "s3://ak:s%2Fk@my-bucket?region=eu-west-1&endpoint=http://127.0.0.1:9000&path_style=false\
             &create_bucket=false&key_max_bytes=255&collection_max_bytes=100&concurrency=4\
             &page_size=10&max_retries=0&default_collection=users&timeout=5&connect_timeout=1&insecure=true",
        )
        .unwrap();
        assert_eq!(c.bucket, "my-bucket");
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.path_style, Some(false));
        assert!(!c.create_bucket);
        assert!(matches!(
            c.sanitization,
            Sanitization::S3 {
                collection_max_bytes: 100,
                key_max_bytes: 255
            }
        ));
        assert_eq!((c.concurrency, c.page_size, c.max_retries), (4, 10, 0));
        assert_eq!(c.default_collection.as_deref(), Some("users"));
        assert_eq!(c.http.timeout, Duration::from_secs(5));
        assert!(c.http.insecure);
        assert_eq!(c.credentials.as_ref().unwrap().access_key_id(), "ak");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s/k") && !shown.contains("s%2Fk"),
            "{shown}"
        );
        assert!(matches!(
            parse("s3://b-1?sanitize=none").unwrap().sanitization,
            Sanitization::None
        ));
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for url in [
            "s3:///nobucket",
            "s3://bucket/path",
            "s3://bucket:9000",
            "s3://bucket?nope=1",
            "s3://bucket?sanitize=v9",
            "s3://bucket?sanitize=none&key_max_bytes=100",
            "s3://bucket?timeout=0",
            "s3://onlyuser@bucket",
            "redis://bucket",
        ] {
            assert_eq!(parse(url).unwrap_err().kind(), ErrorKind::Config, "{url}");
        }
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.v2", "Legacy_Bucket", &"a".repeat(63)] {
            assert!(check_bucket(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "-abc", "abc-", "a/b", "a b", "", &"a".repeat(256)] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
        assert!(dns_compatible("my-bucket"));
        assert!(!dns_compatible("my.bucket"));
        assert!(!dns_compatible("My_Bucket"));
    }
}

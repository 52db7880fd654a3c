//! [`DynamoDBConfig`]: the builder of [`DynamoDBStore`] and what a `dynamodb://` URL parses
//! into, so `DynamoDBConfig::from_url(&url)?.open()` and `DynamoDBConfig::new("t").open()` are
//! one code path.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::{Clock, Error, ErrorKind, Result};
use key_value_http::HttpConfig;
use key_value_http::aws_profile::{credentials_from_environment, region_from_environment};
use key_value_http::reqwest::Url;
use key_value_http::sigv4::Credentials;

use crate::DynamoDBStore;
use crate::item::is_valid_table_name;

/// How many times a throttled or failed (5xx) request, and a batch's unprocessed items, are
/// sent again unless configured.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// The first back-off delay before a retry unless configured; it doubles with each retry.
pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_millis(50);
/// How many requests one call keeps in flight at most unless configured.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// How long the store waits for its table to become `ACTIVE` (or to be gone) unless configured.
pub const DEFAULT_TABLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The region used with a custom endpoint when none is configured (emulators accept any).
pub const EMULATOR_REGION: &str = "us-east-1";

/// The configuration of a [`DynamoDBStore`]: its builder, and what a `dynamodb://` URL parses
/// into.
///
/// Region, endpoint and credentials not set explicitly come from the usual AWS environment
/// when the store is [opened](Self::open):
///
/// - credentials: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, else the
///   static keys of the AWS profile ([`profile`](Self::profile), else `AWS_PROFILE`, else
///   `default`) in `~/.aws/credentials` or `~/.aws/config`; with an explicit
///   [`profile`](Self::profile), that profile's keys come first;
/// - region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region`, else
///   `us-east-1` when an endpoint is configured (an emulator), else an error;
/// - endpoint: `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL` (both ignored when
///   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else `https://dynamodb.<region>.amazonaws.com`
///   (`.amazonaws.com.cn` in China regions).
///
/// SSO, assumed roles, web identity, credential processes and instance or container roles are
/// not supported: a profile that uses them is a [`Config`](ErrorKind::Config) error (see
/// [`key_value_http::aws_profile`]); pass such credentials explicitly or through the
/// environment.
///
/// ```
/// use key_value_core::config::StoreUrl;
/// use key_value_dynamodb::DynamoDBConfig;
/// use key_value_http::sigv4::Credentials;
///
/// // Nothing is sent here: the store creates its table at its first call.
/// let store = DynamoDBConfig::new("kv-cache")
///     .region("eu-west-1")
///     .endpoint("https://dynamodb.eu-west-1.amazonaws.com")
///     .credentials(Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI"))
///     .open()?;
/// assert_eq!(store.table(), "kv-cache");
/// assert_eq!(store.region(), "eu-west-1");
///
/// let url = StoreUrl::parse(
///     "dynamodb://AKIDEXAMPLE:wJalrXUtnFEMI@kv-cache?endpoint=http://127.0.0.1:14567&auto_create=false",
/// )?;
/// let config = DynamoDBConfig::from_url(&url)?;
/// assert!(!format!("{config:?}").contains("wJalrXUtnFEMI"));
/// assert_eq!(config.open()?.region(), "us-east-1");
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// URL form: `dynamodb://[ACCESS_KEY_ID:SECRET_ACCESS_KEY@]TABLE?options` (percent-encode `/`
/// and `+` in the secret; the secret is never shown). Options: `table` (instead of the host),
/// `region`, `profile` (an AWS profile name), `endpoint`, `auto_create` and `consistent_read` (`true`/`false`), `timeout` and
/// `connect_timeout` (seconds), `max_retries`, `retry_base_delay` (seconds), `concurrency`,
/// `table_timeout` (seconds), `ca_file` (a PEM file), `insecure` (`true` accepts any
/// certificate), `default_collection`. Unknown options are errors.
#[derive(Clone)]
pub struct DynamoDBConfig {
    pub(crate) table: String,
    pub(crate) region: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) profile: Option<String>,
    pub(crate) auto_create: bool,
    pub(crate) consistent_read: bool,
    pub(crate) http: HttpConfig,
    pub(crate) max_retries: u32,
    pub(crate) retry_base_delay: Duration,
    pub(crate) concurrency: usize,
    pub(crate) table_timeout: Duration,
    pub(crate) default_collection: Option<String>,
    pub(crate) clock: Clock,
}

impl fmt::Debug for DynamoDBConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials' Debug shows the access key id only.
        f.debug_struct("DynamoDBConfig")
            .field("table", &self.table)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("profile", &self.profile)
            .field("auto_create", &self.auto_create)
            .field("consistent_read", &self.consistent_read)
            .field("http", &self.http)
            .field("max_retries", &self.max_retries)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl DynamoDBConfig {
    /// The URL scheme: `dynamodb://[key:secret@]table?options`.
    pub const SCHEME: &'static str = "dynamodb";

    /// A store on table `table` (py-key-value has no default table name either), created when
    /// missing, with strongly consistent reads, 5 retries of throttled requests and up to 16
    /// requests in flight per call. Region, endpoint and credentials come from the environment
    /// unless set.
    pub fn new(table: impl Into<String>) -> Self {
        DynamoDBConfig {
            table: table.into(),
            region: None,
            endpoint: None,
            credentials: None,
            profile: None,
            auto_create: true,
            consistent_read: true,
            http: HttpConfig::default(),
            max_retries: DEFAULT_MAX_RETRIES,
            retry_base_delay: DEFAULT_RETRY_BASE_DELAY,
            concurrency: DEFAULT_CONCURRENCY,
            table_timeout: DEFAULT_TABLE_TIMEOUT,
            default_collection: None,
            clock: Clock::system(),
        }
    }

    /// Parses a `dynamodb://` URL; a wrong scheme, a bad or unknown option is an
    /// [`ErrorKind::Config`] error. The secret is never shown in errors.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        if url.scheme() != Self::SCHEME {
            return Err(Error::new(
                ErrorKind::Config,
                format!("expected a dynamodb:// URL, got {}://", url.scheme()),
            ));
        }
        url.check_options(&[
            "table",
            "region",
            "profile",
            "endpoint",
            "auto_create",
            "consistent_read",
            "timeout",
            "connect_timeout",
            "max_retries",
            "retry_base_delay",
            "concurrency",
            "table_timeout",
            "ca_file",
            "insecure",
            "default_collection",
        ])?;
        let path = url.path();
        if !path.is_empty() && path != "/" {
            return Err(Error::new(
                ErrorKind::Config,
                "a dynamodb:// URL names its table as the host (dynamodb://table?region=...), \
                 not with a path",
            ));
        }
        if url.port().is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "a dynamodb:// URL takes no port: the host is the table name; set the server \
                 with ?endpoint=http://host:port",
            ));
        }
        let table = match (url.option::<String>("table")?, url.host()) {
            (Some(t), None) => t,
            (Some(t), Some("")) => t,
            (None, Some(h)) if !h.is_empty() => h.to_string(),
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "the table is named twice: as the host and with ?table=",
                ));
            }
            (None, _) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "a dynamodb:// URL must name the table: dynamodb://table?region=...",
                ));
            }
        };
        let mut c = DynamoDBConfig::new(table);
        match (url.username(), url.password()) {
            (Some(id), Some(secret)) if !id.is_empty() => {
                c.credentials = Some(Credentials::new(id, secret));
            }
            (None, None) => {}
            (Some(id), None) if id.is_empty() => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "credentials in a dynamodb:// URL need both parts: \
                     dynamodb://ACCESS_KEY_ID:SECRET_ACCESS_KEY@table",
                ));
            }
        }
        c.region = url.option::<String>("region")?;
        c.profile = url.option::<String>("profile")?;
        c.endpoint = url.option::<String>("endpoint")?;
        if let Some(b) = url.flag("auto_create")? {
            c.auto_create = b;
        }
        if let Some(b) = url.flag("consistent_read")? {
            c.consistent_read = b;
        }
        if let Some(d) = seconds(url, "timeout")? {
            c.http.timeout = d;
        }
        if let Some(d) = seconds(url, "connect_timeout")? {
            c.http.connect_timeout = d;
        }
        if let Some(n) = url.option::<u32>("max_retries")? {
            c.max_retries = n;
        }
        if let Some(d) = seconds(url, "retry_base_delay")? {
            c.retry_base_delay = d;
        }
        if let Some(n) = url.option::<usize>("concurrency")? {
            c.concurrency = n;
        }
        if let Some(d) = seconds(url, "table_timeout")? {
            c.table_timeout = d;
        }
        if let Some(p) = url.option::<String>("ca_file")? {
            c.http.ca_file = Some(PathBuf::from(p));
        }
        if let Some(b) = url.flag("insecure")? {
            c.http.insecure = b;
        }
        c.default_collection = url.option::<String>("default_collection")?;
        Ok(c)
    }

    /// The table (3 to 255 characters of `A-Z a-z 0-9 _ - .`, checked by [`open`](Self::open)).
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// The AWS region requests are signed for (and the default endpoint's).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The endpoint, e.g. `http://127.0.0.1:14567` for a local emulator; by default the
    /// environment's or AWS's regional one.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The credentials requests are signed with; by default the environment's, else the AWS
    /// profile's. Never shown by `Debug` or in errors.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The AWS profile (in `~/.aws/credentials` and `~/.aws/config`) to take credentials and
    /// region from when they are not set here. Its keys are used even when
    /// `AWS_ACCESS_KEY_ID` is set, but `AWS_REGION`/`AWS_DEFAULT_REGION` still beat its
    /// `region`, as in boto3 (see [`key_value_http::aws_profile`]). By default the
    /// environment's keys, else those of the profile `AWS_PROFILE` (or `default`) names. A
    /// named profile that neither file has is a [`Config`](ErrorKind::Config) error at
    /// [`open`](Self::open).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Whether a missing table is created at first use (default `true`), as py-key-value's
    /// `auto_create`: on-demand capacity (`PAY_PER_REQUEST`), partition key `collection` and
    /// sort key `key` (both strings), then TTL enabled on the `ttl` attribute. With `false` a
    /// missing table is a [`Setup`](ErrorKind::Setup) error.
    pub fn auto_create(mut self, create: bool) -> Self {
        self.auto_create = create;
        self
    }

    /// Whether reads are strongly consistent (default `true`; eventually consistent reads
    /// cost half the read capacity but may miss a write made just before).
    pub fn consistent_read(mut self, consistent: bool) -> Self {
        self.consistent_read = consistent;
        self
    }

    /// How long one HTTP request may take in all (default 30 s); then a temporary
    /// [`Timeout`](ErrorKind::Timeout) error.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// How long connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout;
        self
    }

    /// The HTTP settings at once (time-outs, extra CA file, insecure mode).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// How many times a throttled or 5xx-failed request, and a batch's unprocessed items, are
    /// sent again, with exponential back-off and jitter (default 5). Connection failures are
    /// not retried here (put a retry wrapper around the store for that).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first back-off delay (default 50 ms); it doubles with each retry, up to 20 s.
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.retry_base_delay = delay;
        self
    }

    /// How many requests one call keeps in flight at most (batch chunks, `delete_many`'s
    /// deletes; default 16).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests;
        self
    }

    /// How long the store waits for its table to become `ACTIVE` after creating it, or to be
    /// gone after deleting it (default 300 s).
    pub fn table_timeout(mut self, timeout: Duration) -> Self {
        self.table_timeout = timeout;
        self
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by (default the system clock). Requests are always signed
    /// with the system clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Makes the store, resolving region, endpoint and credentials (explicit settings first,
    /// then the environment). Nothing is sent yet: the table is checked (and created) at the
    /// first call. A bad table name, endpoint or option, and missing credentials or region,
    /// are [`ErrorKind::Config`] errors. Needs no runtime.
    pub fn open(self) -> Result<DynamoDBStore> {
        if !is_valid_table_name(&self.table) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "invalid DynamoDB table name {:?}: it must have 3 to 255 characters of \
                     A-Z a-z 0-9 _ - .",
                    self.table
                ),
            ));
        }
        if self.concurrency == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "concurrency must be at least 1",
            ));
        }
        if self.http.timeout.is_zero()
            || self.http.connect_timeout.is_zero()
            || self.table_timeout.is_zero()
        {
            return Err(Error::new(ErrorKind::Config, "time-outs must be positive"));
        }
        let endpoint = self.endpoint.clone().or_else(endpoint_from_env);
        let region = match self.region.clone() {
            Some(r) => Some(r),
            None => region_from_environment(self.profile.as_deref())?,
        };
        let region = match (region, &endpoint) {
            (Some(r), _) => r,
            (None, Some(_)) => EMULATOR_REGION.to_string(),
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "no AWS region: set one (DynamoDBConfig::region, ?region=), AWS_REGION / \
                     AWS_DEFAULT_REGION, or `region` in the AWS profile",
                ));
            }
        };
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!("invalid AWS region {region:?}"),
            ));
        }
        let endpoint = match endpoint {
            Some(e) => parse_endpoint(&e)?,
            None => default_endpoint(&region)?,
        };
        let credentials = match self.credentials.clone() {
            Some(c) => Some(c),
            None => credentials_from_environment(self.profile.as_deref())?,
        };
        let credentials = match credentials {
            Some(c) => c,
            None => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "no AWS credentials: set them (DynamoDBConfig::credentials, \
                     dynamodb://KEY_ID:SECRET@table), AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY, or an AWS profile with static keys (local \
                     emulators accept any, e.g. test/test)",
                ));
            }
        };
        let http = key_value_http::client(&self.http)?;
        Ok(DynamoDBStore::from_parts(
            self,
            region,
            endpoint,
            credentials,
            http,
        ))
    }
}

fn endpoint_from_env() -> Option<String> {
    let ignore = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if ignore {
        return None;
    }
    ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

fn parse_endpoint(text: &str) -> Result<Url> {
    let url = Url::parse(text).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("invalid DynamoDB endpoint {text:?}: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("invalid DynamoDB endpoint {text:?}: expected http(s)://host[:port]"),
        ));
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("invalid DynamoDB endpoint {text:?}: no path, query or user info allowed"),
        ));
    }
    Ok(url)
}

fn default_endpoint(region: &str) -> Result<Url> {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    parse_endpoint(&format!("https://dynamodb.{region}.{suffix}"))
}

fn seconds(url: &StoreUrl, name: &str) -> Result<Option<Duration>> {
    match url.option::<f64>(name)? {
        None => Ok(None),
        Some(secs) => Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero() || name == "retry_base_delay")
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
    use super::*;

    fn parse(url: &str) -> Result<DynamoDBConfig> {
        DynamoDBConfig::from_url(&StoreUrl::parse(url)?)
    }

    #[test]
    fn url_options_reach_the_config() {
        let c = parse(
            "dynamodb://AKID:s%2Fe%2Bcret@my_table.v2?region=eu-west-1&endpoint=http://127.0.0.1:1\
             &auto_create=false&consistent_read=false&timeout=2.5&connect_timeout=1\
             &max_retries=0&concurrency=4&table_timeout=9&default_collection=users",
        )
        .unwrap();
        assert_eq!(c.table, "my_table.v2");
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert!(!c.auto_create && !c.consistent_read);
        assert_eq!(c.http.timeout, Duration::from_millis(2500));
        assert_eq!(c.max_retries, 0);
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.table_timeout, Duration::from_secs(9));
        assert_eq!(c.default_collection.as_deref(), Some("users"));
        assert_eq!(c.credentials, Some(Credentials::new("AKID", "s/e+cret")));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s/e+cret") && !shown.contains("e%2Bcret"),
            "{shown}"
        );
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for url in [
            "s3://bucket",
            "dynamodb://?region=x",
            "dynamodb://t1?regoin=x",
            "dynamodb://tbl/extra",
            "dynamodb://tbl:8000",
            "dynamodb://tbl?table=other",
            "dynamodb://tbl?auto_create=maybe",
            "dynamodb://tbl?timeout=0",
            "dynamodb://AKID@tbl",
        ] {
            let err = parse(url).err();
            assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config), "{url}");
        }
        assert_eq!(parse("dynamodb://?table=abc").unwrap().table, "abc");
    }

    #[test]
    fn open_checks_names_and_endpoints() {
        let creds = Credentials::new("a", "b");
        for table in ["ab", "has space", "ümlaut", &"t".repeat(256)] {
            let err = DynamoDBConfig::new(table)
                .region("us-east-1")
                .credentials(creds.clone())
                .open()
                .err();
            assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config), "{table}");
        }
        for endpoint in ["ftp://x", "http://h/path", "not a url", "http://u:p@h"] {
            let err = DynamoDBConfig::new("tbl")
                .endpoint(endpoint)
                .credentials(creds.clone())
                .open()
                .err();
            assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config), "{endpoint}");
        }
        assert_eq!(
            default_endpoint("cn-north-1").unwrap().as_str(),
            "https://dynamodb.cn-north-1.amazonaws.com.cn/"
        );
        assert_eq!(
            default_endpoint("eu-west-1").unwrap().as_str(),
            "https://dynamodb.eu-west-1.amazonaws.com/"
        );
        let store = DynamoDBConfig::new("tbl")
            .endpoint("http://127.0.0.1:14567")
            .credentials(creds)
            .open()
            .unwrap();
        if region_from_environment(None).ok().flatten().is_none() {
            assert_eq!(store.region(), EMULATOR_REGION);
        }
        assert_eq!(store.endpoint(), "http://127.0.0.1:14567/");
    }
}

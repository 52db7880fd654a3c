//! [`MemcachedConfig`]: the builder of [`MemcachedStore`] and what a `memcached://` URL parses
//! into, so `MemcachedConfig::from_url(&url)?.open()` and `MemcachedConfig::new(addr).open()`
//! are one code path.

use std::sync::Arc;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::sanitize::SanitizationStrategy;
use key_value_core::{Clock, Error, ErrorKind, Result};

use crate::MemcachedStore;
use crate::keys::{KeySanitization, check_prefix};

/// memcached's port.
pub const DEFAULT_PORT: u16 = 11211;
/// Connections per store unless configured.
pub const DEFAULT_POOL_SIZE: usize = 8;
/// How long connecting may take unless configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call (one round trip, or waiting for a free connection) may take unless
/// configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The configuration of a [`MemcachedStore`]: its builder, and what a `memcached://` URL parses
/// into.
///
/// ```
/// use key_value_core::config::StoreUrl;
/// use key_value_memcached::{KeySanitization, MemcachedConfig};
///
/// // Nothing connects here: the store connects at its first call.
/// let store = MemcachedConfig::new("127.0.0.1:11211").prefix("app:").pool_size(16).open()?;
/// assert_eq!(store.address(), "127.0.0.1:11211");
///
/// let url = StoreUrl::parse("memcached://10.0.0.5:11311?prefix=app:&pool_size=4&sanitize=v1")?;
/// let config = MemcachedConfig::from_url(&url)?;
/// assert_eq!(config.address(), "10.0.0.5:11311");
/// assert_eq!(config.key_prefix(), "app:");
/// assert!(matches!(config.sanitization(), KeySanitization::V1));
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// URL options: `prefix`, `pool_size`, `sanitize` (`none` or `v1`), `allow_flush`
/// (`true`/`false`), `default_collection`, `connect_timeout` and `timeout` (seconds),
/// `max_value_size` (bytes). The host defaults to `127.0.0.1` and the port to 11211, as in
/// py-key-value. Unknown options are errors.
#[derive(Debug, Clone)]
pub struct MemcachedConfig {
    pub(crate) address: String,
    pub(crate) prefix: String,
    pub(crate) pool_size: usize,
    pub(crate) sanitization: KeySanitization,
    pub(crate) allow_flush: bool,
    pub(crate) default_collection: Option<String>,
    pub(crate) clock: Clock,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_value_size: Option<usize>,
}

impl Default for MemcachedConfig {
    /// `127.0.0.1:11211`, py-key-value's default server.
    fn default() -> Self {
        MemcachedConfig::new(format!("127.0.0.1:{DEFAULT_PORT}"))
    }
}

impl MemcachedConfig {
    /// The URL scheme: `memcached://host:port?options`.
    pub const SCHEME: &'static str = "memcached";

    /// A store on the server at `address` (`host:port`; `[::1]:11211` for IPv6), with the
    /// defaults: no key prefix, no key sanitization (py-key-value's layout), 8 connections,
    /// `flush_all` not allowed, system clock.
    pub fn new(address: impl Into<String>) -> Self {
        MemcachedConfig {
            address: address.into(),
            prefix: String::new(),
            pool_size: DEFAULT_POOL_SIZE,
            sanitization: KeySanitization::Passthrough,
            allow_flush: false,
            default_collection: None,
            clock: Clock::system(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_value_size: None,
        }
    }

    /// Parses a `memcached://host:port?...` URL; a wrong scheme, a path, a bad or unknown
    /// option is an [`ErrorKind::Config`] error.
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
            "prefix",
            "pool_size",
            "sanitize",
            "allow_flush",
            "default_collection",
            "connect_timeout",
            "timeout",
            "max_value_size",
        ])?;
        if !matches!(url.path().as_str(), "" | "/") {
            return Err(Error::new(
                ErrorKind::Config,
                "memcached:// takes no path (memcached has no databases): memcached://host:port?options",
            ));
        }
        if url.username().is_some() || url.password().is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "memcached:// does not support credentials (SASL is not implemented)",
            ));
        }
        let host = url.host().unwrap_or("127.0.0.1");
        let port = url.port().unwrap_or(DEFAULT_PORT);
        let mut c = MemcachedConfig::new(format!("{host}:{port}"));
        if let Some(p) = url.option::<String>("prefix")? {
            c.prefix = p;
        }
        if let Some(n) = url.option::<usize>("pool_size")? {
            c.pool_size = n;
        }
        if let Some(s) = url.option::<String>("sanitize")? {
            c.sanitization = match s.as_str() {
                "none" | "passthrough" => KeySanitization::Passthrough,
                "v1" => KeySanitization::V1,
                other => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "invalid value {other:?} for option `sanitize`: expected none or v1"
                        ),
                    ));
                }
            };
        }
        if let Some(b) = url.flag("allow_flush")? {
            c.allow_flush = b;
        }
        c.default_collection = url.option::<String>("default_collection")?;
        if let Some(d) = seconds(url, "connect_timeout")? {
            c.connect_timeout = d;
        }
        if let Some(d) = seconds(url, "timeout")? {
            c.timeout = d;
        }
        c.max_value_size = url.option::<usize>("max_value_size")?;
        Ok(c)
    }

    /// A prefix put before every memcached key (default none, for py-key-value interop), to
    /// keep applications or tests sharing a server apart. It is used as is: include a
    /// separator (`"app:"`). It counts toward memcached's 250-byte key limit, must not contain
    /// spaces or control characters and is at most 184 bytes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The number of connections (default 8): at most that many calls run at once, the others
    /// wait (up to the [timeout](Self::timeout)) for a free connection.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// How keys become memcached keys (default [`KeySanitization::Passthrough`], py-key-value's
    /// default).
    pub fn key_sanitization(mut self, sanitization: KeySanitization) -> Self {
        self.sanitization = sanitization;
        self
    }

    /// Shorthand for `key_sanitization(KeySanitization::V1)`.
    pub fn sanitize_v1(self) -> Self {
        self.key_sanitization(KeySanitization::V1)
    }

    /// Shorthand for `key_sanitization(KeySanitization::Custom(strategy))`.
    pub fn key_strategy(self, strategy: impl SanitizationStrategy + 'static) -> Self {
        self.key_sanitization(KeySanitization::Custom(Arc::new(strategy)))
    }

    /// Lets [`destroy`](key_value_core::KeyValue::destroy) send `flush_all`, which empties the
    /// **whole server**, whatever the prefix (py-key-value's `destroy`). Off by default, and
    /// then `destroy` is an [`Unsupported`](ErrorKind::Unsupported) error.
    pub fn allow_flush(mut self, allow: bool) -> Self {
        self.allow_flush = allow;
        self
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by (a [`ManualClock`](key_value_core::ManualClock) in
    /// tests; default the system clock). The server's own expiry always follows real time.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How long connecting may take (default 5 s); then a temporary
    /// [`Timeout`](ErrorKind::Timeout) error.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one call may take, waiting for a free connection included (default 10 s);
    /// then a temporary [`Timeout`](ErrorKind::Timeout) error.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A lower bound than the server's on the size of a stored entry (its envelope text, in
    /// bytes). Without it the limit is the server's `item_size_max` minus memcached's per-item
    /// overhead and the key.
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = Some(bytes);
        self
    }

    /// The server address, `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The key prefix (empty for none).
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The key sanitization.
    pub fn sanitization(&self) -> &KeySanitization {
        &self.sanitization
    }

    /// The number of pooled connections.
    pub fn connections(&self) -> usize {
        self.pool_size
    }

    /// Whether `destroy` may send `flush_all`.
    pub fn flush_allowed(&self) -> bool {
        self.allow_flush
    }

    /// Makes the store. Nothing is sent yet and no runtime is needed: the store connects at
    /// its first call, so an unreachable server shows up then, as a temporary
    /// [`Connection`](ErrorKind::Connection) error. An invalid option is an
    /// [`ErrorKind::Config`] error.
    pub fn open(self) -> Result<MemcachedStore> {
        if self.address.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "the memcached address is empty",
            ));
        }
        if self.pool_size == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "pool_size must be at least 1",
            ));
        }
        if self.connect_timeout.is_zero() || self.timeout.is_zero() {
            return Err(Error::new(ErrorKind::Config, "time-outs must be positive"));
        }
        check_prefix(&self.prefix)?;
        Ok(MemcachedStore::from_config(self))
    }
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

//! [`RedisConfig`]: the builder of a [`RedisStore`] and what its URL parses into, so
//! `RedisConfig::from_url(&url)?.open()` and `RedisConfig::new("127.0.0.1", 6379).open()` are
//! one code path.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::{Clock, Error, ErrorKind, Result};
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;

use crate::RedisStore;

/// The options a `redis://` / `rediss://` URL may carry (`?name=value`).
pub(crate) const URL_OPTIONS: &[&str] = &[
    "default_collection",
    "key_prefix",
    "tls",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "tls_insecure",
    "cluster",
    "nodes",
    "flush_on_destroy",
    "connect_timeout",
    "response_timeout",
    "retries",
];

/// TLS settings: a CA file, a client certificate and key for mutual TLS, and the development
/// switch that skips verification.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// PEM file of the certificate authority the server's certificate must chain to. Without
    /// it, the system's trust store is used.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (mutual TLS), with [`key_file`](Self::key_file).
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key (mutual TLS).
    pub key_file: Option<PathBuf>,
    /// Skips the verification of the server's certificate and host name. For development
    /// only: anyone on the path can impersonate the server.
    pub insecure: bool,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Where the store's connection comes from.
#[derive(Clone)]
pub(crate) enum Source {
    /// The store connects itself, lazily on first use.
    Connect,
    /// The user's own connection manager (never closed by the store).
    Manager(ConnectionManager),
    /// The user's own cluster connection (never closed by the store).
    Cluster(ClusterConnection),
}

/// The configuration of a [`RedisStore`]: its builder, and what a `redis://` or `rediss://`
/// URL parses into.
///
/// URL form: `redis://[user[:password]@]host[:port][/db][?option=value&...]`, `rediss://` for
/// TLS. Options:
///
/// | option | meaning |
/// |---|---|
/// | `default_collection` | the collection used when a call names none |
/// | `key_prefix` | a prefix put before every Redis key (default none, as py-key-value) |
/// | `tls` | `true` to use TLS with a `redis://` URL (implied by `rediss://`) |
/// | `tls_ca` | PEM file of the CA to trust instead of the system's |
/// | `tls_cert`, `tls_key` | PEM files of the client certificate and key (mutual TLS) |
/// | `tls_insecure` | `true` skips certificate verification (development only) |
/// | `cluster` | `true` for a Redis/Valkey cluster; the URL's host is a seed node |
/// | `nodes` | more seed nodes, `host:port,host:port` (cluster mode) |
/// | `flush_on_destroy` | `true` makes `destroy()` run `FLUSHDB` (the whole database!) |
/// | `connect_timeout`, `response_timeout` | seconds (defaults 5 and 30) |
/// | `retries` | reconnection attempts per call before a `Connection` error (default 2) |
///
/// ```
/// use key_value_redis::RedisConfig;
/// use key_value_core::config::StoreUrl;
///
/// let url = StoreUrl::parse("rediss://app:s3cret@127.0.0.1:6380/2?key_prefix=app:&tls_ca=/etc/ca.pem")?;
/// let config = RedisConfig::from_url(&url)?;
/// assert_eq!(config.host(), "127.0.0.1");
/// assert_eq!(config.port(), 6380);
/// assert_eq!(config.database(), 2);
/// assert!(config.uses_tls());
/// assert!(!format!("{config:?}").contains("s3cret"));
/// // Opening does not connect: the first call does.
/// let store = config.open()?;
/// # drop(store);
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) db: i64,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) tls: Option<TlsOptions>,
    pub(crate) cluster: bool,
    pub(crate) extra_nodes: Vec<(String, u16)>,
    pub(crate) key_prefix: String,
    pub(crate) default_collection: Option<String>,
    pub(crate) clock: Clock,
    pub(crate) flush_on_destroy: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) retries: usize,
    pub(crate) source: Source,
    pub(crate) store_name: &'static str,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("tls", &self.tls)
            .field("cluster", &self.cluster)
            .field("extra_nodes", &self.extra_nodes)
            .field("key_prefix", &self.key_prefix)
            .field("default_collection", &self.default_collection)
            .field("flush_on_destroy", &self.flush_on_destroy)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("retries", &self.retries)
            .field(
                "client",
                &match self.source {
                    Source::Connect => "own",
                    Source::Manager(_) | Source::Cluster(_) => "user's",
                },
            )
            .finish()
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig::new("localhost", 6379)
    }
}

impl RedisConfig {
    /// The URL scheme of plain connections.
    pub const SCHEME: &'static str = "redis";
    /// The URL scheme of TLS connections.
    pub const TLS_SCHEME: &'static str = "rediss";
    /// Redis's limit on the size of one value (512 MiB).
    pub const MAX_VALUE_SIZE: usize = 512 * 1024 * 1024;

    /// A server at `host:port`, database 0, no TLS.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        RedisConfig {
            host: host.into(),
            port,
            db: 0,
            username: None,
            password: None,
            tls: None,
            cluster: false,
            extra_nodes: Vec::new(),
            key_prefix: String::new(),
            default_collection: None,
            clock: Clock::system(),
            flush_on_destroy: false,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(30),
            retries: 2,
            source: Source::Connect,
            store_name: "RedisStore",
        }
    }

    /// Parses a `redis://` or `rediss://` URL (see the [type docs](RedisConfig)).
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        Self::from_url_schemes(url, &[Self::SCHEME], &[Self::TLS_SCHEME])
    }

    /// [`from_url`](Self::from_url) with other scheme names (Valkey's).
    #[doc(hidden)]
    pub fn from_url_schemes(url: &StoreUrl, plain: &[&str], tls: &[&str]) -> Result<Self> {
        let scheme = url.scheme();
        let is_tls = tls.contains(&scheme);
        if !is_tls && !plain.contains(&scheme) {
            let known: Vec<String> = plain.iter().chain(tls).map(|s| format!("{s}://")).collect();
            return Err(Error::new(
                ErrorKind::Config,
                format!("expected a {} URL, got {scheme}://", known.join(" or ")),
            ));
        }
        url.check_options(URL_OPTIONS)?;
        let mut c = RedisConfig::new(
            url.host().unwrap_or("localhost"),
            url.port().unwrap_or(6379),
        );
        let path = url.path();
        let db = path.trim_matches('/');
        if !db.is_empty() {
            c.db = db.parse::<i64>().map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    format!("the path of a {scheme}:// URL is the database number, not {path:?}"),
                )
            })?;
        }
        c.username = url.username();
        c.password = url.password();
        c.default_collection = url.option::<String>("default_collection")?;
        if let Some(p) = url.option::<String>("key_prefix")? {
            c.key_prefix = p;
        }
        let mut tls_opts = TlsOptions {
            ca_file: url.option::<String>("tls_ca")?.map(PathBuf::from),
            cert_file: url.option::<String>("tls_cert")?.map(PathBuf::from),
            key_file: url.option::<String>("tls_key")?.map(PathBuf::from),
            insecure: false,
        };
        if let Some(b) = url.flag("tls_insecure")? {
            tls_opts.insecure = b;
        }
        if is_tls || url.flag("tls")?.unwrap_or(false) {
            c.tls = Some(tls_opts);
        } else if tls_opts.ca_file.is_some()
            || tls_opts.cert_file.is_some()
            || tls_opts.key_file.is_some()
            || tls_opts.insecure
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "TLS options need a TLS connection: use {}:// or add `tls=true`",
                    tls.first().copied().unwrap_or("rediss")
                ),
            ));
        }
        c.cluster = url.flag("cluster")?.unwrap_or(false);
        if let Some(nodes) = url.option::<String>("nodes")? {
            for node in nodes.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                c.extra_nodes.push(parse_node(node)?);
            }
            if !c.extra_nodes.is_empty() {
                c.cluster = true;
            }
        }
        if let Some(b) = url.flag("flush_on_destroy")? {
            c.flush_on_destroy = b;
        }
        if let Some(s) = url.option::<f64>("connect_timeout")? {
            c.connect_timeout = seconds("connect_timeout", s)?;
        }
        if let Some(s) = url.option::<f64>("response_timeout")? {
            c.response_timeout = seconds("response_timeout", s)?;
        }
        if let Some(n) = url.option::<usize>("retries")? {
            c.retries = n;
        }
        c.check()?;
        Ok(c)
    }

    /// A store over the user's own [`ConnectionManager`]. The store never closes it; its
    /// database, TLS and reconnection settings are the manager's.
    pub fn from_connection_manager(manager: ConnectionManager) -> Self {
        let mut c = RedisConfig::new("(user's client)", 0);
        c.source = Source::Manager(manager);
        c
    }

    /// A store over the user's own cluster connection. The store never closes it.
    pub fn from_cluster_connection(connection: ClusterConnection) -> Self {
        let mut c = RedisConfig::new("(user's client)", 0);
        c.cluster = true;
        c.source = Source::Cluster(connection);
        c
    }

    /// The database number (`SELECT`; default 0). Not available in cluster mode.
    pub fn db(mut self, db: i64) -> Self {
        self.db = db;
        self
    }

    /// The ACL user name.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The password (never shown by `Debug` or in errors).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Connects with TLS, verifying the server against the system's trust store unless
    /// [`TlsOptions`] say otherwise.
    pub fn tls(mut self, options: TlsOptions) -> Self {
        self.tls = Some(options);
        self
    }

    /// Connects with TLS and trusts the CA in this PEM file.
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.get_or_insert_with(TlsOptions::default).ca_file = Some(path.into());
        self
    }

    /// Connects with TLS and presents this client certificate and key (PEM files): mutual TLS.
    pub fn tls_client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        let tls = self.tls.get_or_insert_with(TlsOptions::default);
        tls.cert_file = Some(cert.into());
        tls.key_file = Some(key.into());
        self
    }

    /// Connects with TLS without verifying the server's certificate or host name. For
    /// development only.
    pub fn tls_insecure(mut self, insecure: bool) -> Self {
        self.tls.get_or_insert_with(TlsOptions::default).insecure = insecure;
        self
    }

    /// Cluster mode: the host and port (and [`nodes`](Self::nodes)) are seed nodes; batches
    /// are split by hash slot and enumeration visits every primary.
    pub fn cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// More seed nodes for cluster mode (and turns it on).
    pub fn nodes<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = (S, u16)>) -> Self {
        self.extra_nodes
            .extend(nodes.into_iter().map(|(h, p)| (h.into(), p)));
        self.cluster = true;
        self
    }

    /// A prefix put before every Redis key (`{prefix}{collection}::{key}`); enumeration and
    /// `destroy` then only see keys under it. Default none, which py-key-value reads.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by (a manual clock in tests).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Makes `destroy()` run `FLUSHDB`, emptying the whole database (every primary in cluster
    /// mode), as py-key-value does. Off by default: `destroy()` then removes only the keys of
    /// this store's layout (and prefix) with `SCAN` + `UNLINK`.
    pub fn flush_on_destroy(mut self, flush: bool) -> Self {
        self.flush_on_destroy = flush;
        self
    }

    /// How long establishing a connection may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one command may wait for its reply (default 30 s).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How many times a lost connection is retried before a call fails with a temporary
    /// `Connection` error (default 2). The next call tries again.
    pub fn retries(mut self, retries: usize) -> Self {
        self.retries = retries;
        self
    }

    /// The name the store reports (Valkey's crate sets `"ValkeyStore"`).
    #[doc(hidden)]
    pub fn store_name(mut self, name: &'static str) -> Self {
        self.store_name = name;
        self
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database number.
    pub fn database(&self) -> i64 {
        self.db
    }

    /// Whether connections use TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether cluster mode is on.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The key prefix (empty for none).
    pub fn prefix(&self) -> &str {
        &self.key_prefix
    }

    fn check(&self) -> Result<()> {
        if self.cluster && self.db != 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "a cluster has only database 0",
            ));
        }
        if let Some(tls) = &self.tls
            && tls.cert_file.is_some() != tls.key_file.is_some()
        {
            return Err(Error::new(
                ErrorKind::Config,
                "mutual TLS needs both a client certificate and its key",
            ));
        }
        Ok(())
    }

    /// The store. Nothing connects yet: the first call does, and reports a server that cannot
    /// be reached as a temporary [`ErrorKind::Connection`] error (so this needs no runtime).
    pub fn open(self) -> Result<RedisStore> {
        self.check()?;
        Ok(RedisStore::from_config(self))
    }

    /// The store, connected: [`open`](Self::open) and a first `PING`.
    pub async fn connect(self) -> Result<RedisStore> {
        let store = self.open()?;
        store.ping().await?;
        Ok(store)
    }
}

fn parse_node(node: &str) -> Result<(String, u16)> {
    let bad = || {
        Error::new(
            ErrorKind::Config,
            format!("invalid node {node:?} in option `nodes`: expected host:port"),
        )
    };
    let (host, port) = node.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

fn seconds(name: &str, s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("invalid value {s} for option `{name}`: {e}"),
        )
    })
}

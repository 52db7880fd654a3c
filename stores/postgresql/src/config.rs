//! [`PostgreSQLConfig`]: the builder of [`PostgreSQLStore`] and what a `postgresql://` URL
//! parses into, so `PostgreSQLConfig::from_url(&url)?.open()` and
//! `PostgreSQLConfig::new().host(..).open()` are one code path.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use key_value_core::config::StoreUrl;
use key_value_core::{Clock, Error, ErrorKind, Result};
use tokio_postgres::config::SslMode;

use crate::PostgreSQLStore;
use crate::table::{DEFAULT_TABLE, TableName};
use crate::tls::{self, Verify};

/// PostgreSQL's port.
pub const DEFAULT_PORT: u16 = 5432;
/// Connections per store unless configured.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long connecting may take unless configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long waiting for a pooled connection may take unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many expired rows one `cull` statement deletes at most.
pub const DEFAULT_CULL_BATCH: usize = 10_000;

/// TLS for the connection: libpq's `sslmode`s, with libpq's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `sslmode=disable`: plain TCP.
    Disable,
    /// `sslmode=prefer` (the default, as in libpq): TLS when the server offers it, plain
    /// otherwise; the certificate is not verified (encryption without authentication).
    Prefer,
    /// `sslmode=require`: TLS only; as in libpq the certificate is not verified, unless a
    /// [root certificate](PostgreSQLConfig::root_cert) is given, which makes it `verify-ca`.
    Require,
    /// `sslmode=verify-ca`: TLS, with the certificate chain verified against the roots (the
    /// [root certificate](PostgreSQLConfig::root_cert), else the system's); not the host name.
    VerifyCa,
    /// `sslmode=verify-full`: TLS, with the chain and the host name verified.
    VerifyFull,
}

#[derive(Clone)]
pub(crate) enum Source {
    Params,
    Pool(Pool),
}

/// The configuration of a [`PostgreSQLStore`]: its builder, and what a `postgresql://` (or
/// `postgres://`) URL parses into.
///
/// ```
/// use key_value_core::config::StoreUrl;
/// use key_value_postgresql::PostgreSQLConfig;
///
/// // Nothing connects here: the store connects at its first call.
/// let store = PostgreSQLConfig::new().host("127.0.0.1").user("app").table("cache").open()?;
/// assert_eq!(store.table().name(), "cache");
///
/// let url = StoreUrl::parse(
///     "postgresql://app:secret@db.internal:6432/cache?sslmode=require&table=kv&statement_cache=false",
/// )?;
/// let config = PostgreSQLConfig::from_url(&url)?;
/// assert_eq!(config.table_name().name(), "kv");
/// assert!(!format!("{config:?}").contains("secret"));
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// URL options: `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`),
/// `sslrootcert` (a PEM file), `table`, `auto_create` (`true`/`false`), `pool_size`,
/// `statement_cache` (`false` for PgBouncer in transaction mode), `connect_timeout` and
/// `timeout` (seconds), `cull_batch_size`, `application_name`, `default_collection`. The user
/// defaults to `postgres`, the host to `localhost`, the port to 5432 and the database to
/// `postgres`, as in py-key-value. Unknown options are errors.
#[derive(Clone)]
pub struct PostgreSQLConfig {
    pub(crate) source: Source,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: Option<String>,
    pub(crate) database: String,
    pub(crate) tls: TlsMode,
    pub(crate) root_cert: Option<PathBuf>,
    pub(crate) application_name: Option<String>,
    pub(crate) table: std::result::Result<TableName, String>,
    pub(crate) auto_create: bool,
    pub(crate) pool_size: usize,
    pub(crate) statement_cache: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) cull_batch: usize,
    pub(crate) default_collection: Option<String>,
    pub(crate) clock: Clock,
}

impl fmt::Debug for PostgreSQLConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("PostgreSQLConfig");
        match &self.source {
            Source::Params => d
                .field("host", &self.host)
                .field("port", &self.port)
                .field("user", &self.user)
                .field("password", &self.password.as_ref().map(|_| "<hidden>"))
                .field("database", &self.database)
                .field("tls", &self.tls),
            Source::Pool(_) => d.field("pool", &"<the caller's pool>"),
        };
        d.field("table", &self.table)
            .field("auto_create", &self.auto_create)
            .field("pool_size", &self.pool_size)
            .field("statement_cache", &self.statement_cache)
            .finish_non_exhaustive()
    }
}

impl Default for PostgreSQLConfig {
    fn default() -> Self {
        PostgreSQLConfig::new()
    }
}

impl PostgreSQLConfig {
    /// The URL scheme: `postgresql://user:password@host:port/database?options`.
    pub const SCHEME: &'static str = "postgresql";
    /// The short scheme, also accepted: `postgres://...`.
    pub const SHORT_SCHEME: &'static str = "postgres";

    /// py-key-value's defaults: `postgres@localhost:5432/postgres`, table `kv_store`, created
    /// when missing; 16 connections, prepared statements cached per connection, TLS when the
    /// server offers it.
    pub fn new() -> Self {
        PostgreSQLConfig {
            source: Source::Params,
            host: "localhost".into(),
            port: DEFAULT_PORT,
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            tls: TlsMode::Prefer,
            root_cert: None,
            application_name: None,
            table: Ok(TableName::new(DEFAULT_TABLE).unwrap_or_else(|_| unreachable!())),
            auto_create: true,
            pool_size: DEFAULT_POOL_SIZE,
            statement_cache: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            cull_batch: DEFAULT_CULL_BATCH,
            default_collection: None,
            clock: Clock::system(),
        }
    }

    /// A store on the caller's own pool, which the store never closes (`close()` only stops
    /// the store). Connection settings (`host`, `sslmode`, `pool_size`, ...) are the pool's.
    pub fn from_pool(pool: Pool) -> Self {
        PostgreSQLConfig {
            source: Source::Pool(pool),
            ..PostgreSQLConfig::new()
        }
    }

    /// Parses a `postgresql://` or `postgres://` URL; a wrong scheme, a bad or unknown option
    /// is an [`ErrorKind::Config`] error. The password is never shown in errors.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        if url.scheme() != Self::SCHEME && url.scheme() != Self::SHORT_SCHEME {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "expected a postgresql:// or postgres:// URL, got {}://",
                    url.scheme()
                ),
            ));
        }
        url.check_options(&[
            "sslmode",
            "sslrootcert",
            "table",
            "auto_create",
            "pool_size",
            "statement_cache",
            "connect_timeout",
            "timeout",
            "cull_batch_size",
            "application_name",
            "default_collection",
        ])?;
        let mut c = PostgreSQLConfig::new();
        if let Some(h) = url.host() {
            c.host = h.trim_start_matches('[').trim_end_matches(']').to_string();
        }
        if let Some(p) = url.port() {
            c.port = p;
        }
        if let Some(u) = url.username() {
            c.user = u;
        }
        c.password = url.password();
        let db = url.path();
        let db = db.trim_start_matches('/');
        if !db.is_empty() {
            if db.contains('/') {
                return Err(Error::new(
                    ErrorKind::Config,
                    "the URL path must be just the database name: postgresql://host/database",
                ));
            }
            c.database = db.to_string();
        }
        if let Some(mode) = url.option::<String>("sslmode")? {
            c.tls = match mode.as_str() {
                "disable" => TlsMode::Disable,
                "prefer" | "allow" => TlsMode::Prefer,
                "require" => TlsMode::Require,
                "verify-ca" => TlsMode::VerifyCa,
                "verify-full" => TlsMode::VerifyFull,
                other => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "invalid value {other:?} for option `sslmode`: expected disable, \
                             prefer, require, verify-ca or verify-full"
                        ),
                    ));
                }
            };
        }
        if let Some(p) = url.option::<String>("sslrootcert")? {
            c.root_cert = Some(PathBuf::from(p));
        }
        if let Some(t) = url.option::<String>("table")? {
            c = c.table(t);
        }
        if let Some(b) = url.flag("auto_create")? {
            c.auto_create = b;
        }
        if let Some(n) = url.option::<usize>("pool_size")? {
            c.pool_size = n;
        }
        if let Some(b) = url.flag("statement_cache")? {
            c.statement_cache = b;
        }
        if let Some(d) = seconds(url, "connect_timeout")? {
            c.connect_timeout = d;
        }
        if let Some(d) = seconds(url, "timeout")? {
            c.timeout = d;
        }
        if let Some(n) = url.option::<usize>("cull_batch_size")? {
            c.cull_batch = n;
        }
        c.application_name = url.option::<String>("application_name")?;
        c.default_collection = url.option::<String>("default_collection")?;
        Ok(c)
    }

    /// The server's host name or address (default `localhost`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The server's port (default 5432).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The user (default `postgres`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// The password (default none). Never shown by `Debug` or in errors.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The database (default `postgres`).
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// TLS (default [`TlsMode::Prefer`], libpq's default).
    pub fn tls(mut self, mode: TlsMode) -> Self {
        self.tls = mode;
        self
    }

    /// A PEM file with the certificates that sign the server's (`sslrootcert`; default: the
    /// system's roots). With [`TlsMode::Require`] it turns on chain verification, as in libpq.
    pub fn root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.root_cert = Some(path.into());
        self
    }

    /// The `application_name` the server shows for the store's connections.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// The table (default `kv_store`, py-key-value's). It must match
    /// `[A-Za-z_][A-Za-z0-9_]{0,62}` (checked by [`open`](Self::open)) and is folded to lower
    /// case, as PostgreSQL does with py-key-value's unquoted name.
    pub fn table(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.table = TableName::new(&name).map_err(|_| name);
        self
    }

    /// Whether a missing table (and its index) is created at first use (default `true`). With
    /// `false` a missing table is a [`Setup`](ErrorKind::Setup) error.
    pub fn auto_create(mut self, create: bool) -> Self {
        self.auto_create = create;
        self
    }

    /// The number of pooled connections (default 16).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Whether statements are prepared once per connection and reused (default `true`). Turn
    /// it off behind PgBouncer in transaction mode (before 1.21, or without
    /// `max_prepared_statements`): then nothing is prepared by name, each statement goes out
    /// with its parameter types in one round trip (unnamed statement).
    pub fn statement_cache(mut self, enabled: bool) -> Self {
        self.statement_cache = enabled;
        self
    }

    /// How long connecting may take (default 5 s); then a temporary
    /// [`Timeout`](ErrorKind::Timeout) or [`Connection`](ErrorKind::Connection) error.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a call may wait for a free pooled connection (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many expired rows one statement of [`cull`](key_value_core::KeyValue::cull) deletes
    /// (default 10 000); it loops until none are left.
    pub fn cull_batch_size(mut self, rows: usize) -> Self {
        self.cull_batch = rows;
        self
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by (default the system clock). Expiry is checked on read
    /// and by `cull` with this clock, not the server's.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The table, if its name is valid.
    pub fn table_name(&self) -> TableName {
        match &self.table {
            Ok(t) => t.clone(),
            Err(_) => TableName::new(DEFAULT_TABLE).unwrap_or_else(|_| unreachable!()),
        }
    }

    /// Makes the store. Nothing is sent yet: the store connects (and creates its table) at
    /// its first call, so an unreachable server shows up then, as a temporary
    /// [`Connection`](ErrorKind::Connection) error. An invalid option is an
    /// [`ErrorKind::Config`] error. Needs no runtime.
    pub fn open(self) -> Result<PostgreSQLStore> {
        let table = self.table.clone().map_err(|name| {
            TableName::new(&name)
                .err()
                .unwrap_or_else(|| Error::new(ErrorKind::Config, "invalid table name"))
        })?;
        if self.pool_size == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "pool_size must be at least 1",
            ));
        }
        if self.cull_batch == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "cull_batch_size must be at least 1",
            ));
        }
        if self.connect_timeout.is_zero() || self.timeout.is_zero() {
            return Err(Error::new(ErrorKind::Config, "time-outs must be positive"));
        }
        let (pool, owned) = match &self.source {
            Source::Pool(p) => (p.clone(), false),
            Source::Params => (self.build_pool()?, true),
        };
        Ok(PostgreSQLStore::from_parts(self, table, pool, owned))
    }

    fn build_pool(&self) -> Result<Pool> {
        let mut pg = tokio_postgres::Config::new();
        pg.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.database)
            .connect_timeout(self.connect_timeout)
            .keepalives(true);
        if let Some(p) = &self.password {
            pg.password(p);
        }
        if let Some(a) = &self.application_name {
            pg.application_name(a);
        }
        let mgr_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match self.tls {
            TlsMode::Disable => {
                pg.ssl_mode(SslMode::Disable);
                Manager::from_config(pg, tokio_postgres::NoTls, mgr_config)
            }
            mode => {
                pg.ssl_mode(if mode == TlsMode::Prefer {
                    SslMode::Prefer
                } else {
                    SslMode::Require
                });
                let verify = match (mode, &self.root_cert) {
                    (TlsMode::VerifyFull, _) => Verify::Full,
                    (TlsMode::VerifyCa, _) | (TlsMode::Require, Some(_)) => Verify::Chain,
                    _ => Verify::Nothing,
                };
                let config = tls::client_config(verify, self.root_cert.as_deref())?;
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(config);
                Manager::from_config(pg, tls, mgr_config)
            }
        };
        Pool::builder(manager)
            .max_size(self.pool_size)
            // Last in, first out: a caller gets the connection used most recently, whose
            // server process and statement cache are warm. deadpool's default (FIFO) rotated
            // sequential calls through every connection a burst of concurrency had opened.
            .queue_mode(deadpool_postgres::QueueMode::Lifo)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|e| Error::new(ErrorKind::Config, format!("cannot build the pool: {e}")))
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

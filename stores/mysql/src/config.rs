//! [`MySqlConfig`]: the builder of [`MySqlStore`] and what a `mysql://` URL parses into, so
//! `MySqlConfig::from_url(&url)?.open()` and `MySqlConfig::new().host(..).open()` are one code
//! path.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::{Clock, Error, ErrorKind, Result};
use mysql_async::{OptsBuilder, Pool, PoolConstraints, PoolOpts, SslOpts};

use crate::MySqlStore;
use crate::table::{DEFAULT_TABLE, TableName};

/// MySQL's port.
pub const DEFAULT_PORT: u16 = 3306;
/// Connections per store unless configured.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long getting a connection (connecting included) may take unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle pooled connection is kept.
pub const IDLE_CONNECTION_TTL: Duration = Duration::from_secs(300);
/// How many expired rows one `cull` statement deletes at most.
pub const DEFAULT_CULL_BATCH: usize = 10_000;

#[derive(Clone)]
pub(crate) enum Source {
    Params,
    Pool(Pool),
}

/// The configuration of a [`MySqlStore`]: its builder, and what a `mysql://` URL parses into.
///
/// ```
/// use key_value_core::config::StoreUrl;
/// use key_value_mysql::MySqlConfig;
///
/// // Nothing connects here: the store connects at its first call.
/// let store = MySqlConfig::new().host("127.0.0.1").user("app").database("app").table("cache").open()?;
/// assert_eq!(store.table().name(), "cache");
///
/// let url = StoreUrl::parse("mysql://app:secret@db.internal:3307/app?table=kv&ssl=true")?;
/// let config = MySqlConfig::from_url(&url)?;
/// assert_eq!(config.table_name().name(), "kv");
/// assert!(!format!("{config:?}").contains("secret"));
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// URL options: `table`, `auto_create` (`true`/`false`), `pool_size`, `timeout` (seconds),
/// `ssl` (`true`/`false`), `ssl_ca` (a PEM file), `cull_batch_size`, `default_collection`.
/// The URL path is the database (required: MySQL has no default one). The user defaults to
/// `root`, the host to `localhost` and the port to 3306. Unknown options are errors.
#[derive(Clone)]
pub struct MySqlConfig {
    pub(crate) source: Source,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: Option<String>,
    pub(crate) database: Option<String>,
    pub(crate) ssl: bool,
    pub(crate) ssl_ca: Option<PathBuf>,
    pub(crate) table: std::result::Result<TableName, String>,
    pub(crate) auto_create: bool,
    pub(crate) pool_size: usize,
    pub(crate) timeout: Duration,
    pub(crate) cull_batch: usize,
    pub(crate) default_collection: Option<String>,
    pub(crate) clock: Clock,
}

impl fmt::Debug for MySqlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MySqlConfig");
        match &self.source {
            Source::Params => d
                .field("host", &self.host)
                .field("port", &self.port)
                .field("user", &self.user)
                .field("password", &self.password.as_ref().map(|_| "<hidden>"))
                .field("database", &self.database)
                .field("ssl", &self.ssl),
            Source::Pool(_) => d.field("pool", &"<the caller's pool>"),
        };
        d.field("table", &self.table)
            .field("auto_create", &self.auto_create)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl Default for MySqlConfig {
    fn default() -> Self {
        MySqlConfig::new()
    }
}

impl MySqlConfig {
    /// The URL scheme: `mysql://user:password@host:port/database?options` (MariaDB too).
    pub const SCHEME: &'static str = "mysql";

    /// `root@localhost:3306`, table `kv_store` created when missing, 16 connections, no TLS.
    /// Set the [database](Self::database) before opening.
    pub fn new() -> Self {
        MySqlConfig {
            source: Source::Params,
            host: "localhost".into(),
            port: DEFAULT_PORT,
            user: "root".into(),
            password: None,
            database: None,
            ssl: false,
            ssl_ca: None,
            table: Ok(TableName::new(DEFAULT_TABLE).unwrap_or_else(|_| unreachable!())),
            auto_create: true,
            pool_size: DEFAULT_POOL_SIZE,
            timeout: DEFAULT_TIMEOUT,
            cull_batch: DEFAULT_CULL_BATCH,
            default_collection: None,
            clock: Clock::system(),
        }
    }

    /// A store on the caller's own pool (its connections must have a default database), which
    /// the store never disconnects.
    pub fn from_pool(pool: Pool) -> Self {
        MySqlConfig {
            source: Source::Pool(pool),
            ..MySqlConfig::new()
        }
    }

    /// Parses a `mysql://` URL; a wrong scheme, a bad or unknown option is an
    /// [`ErrorKind::Config`] error. The password is never shown in errors.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        if url.scheme() != Self::SCHEME {
            return Err(Error::new(
                ErrorKind::Config,
                format!("expected a mysql:// URL, got {}://", url.scheme()),
            ));
        }
        url.check_options(&[
            "table",
            "auto_create",
            "pool_size",
            "timeout",
            "ssl",
            "ssl_ca",
            "cull_batch_size",
            "default_collection",
        ])?;
        let mut c = MySqlConfig::new();
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
        let path = url.path();
        let db = path.trim_start_matches('/');
        if db.contains('/') {
            return Err(Error::new(
                ErrorKind::Config,
                "the URL path must be just the database name: mysql://host/database",
            ));
        }
        if !db.is_empty() {
            c.database = Some(db.to_string());
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
        if let Some(secs) = url.option::<f64>("timeout")? {
            c.timeout = Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Config,
                        format!(
                            "invalid value {secs} for option `timeout`: expected positive seconds"
                        ),
                    )
                })?;
        }
        if let Some(b) = url.flag("ssl")? {
            c.ssl = b;
        }
        if let Some(p) = url.option::<String>("ssl_ca")? {
            c.ssl = true;
            c.ssl_ca = Some(PathBuf::from(p));
        }
        if let Some(n) = url.option::<usize>("cull_batch_size")? {
            c.cull_batch = n;
        }
        c.default_collection = url.option::<String>("default_collection")?;
        Ok(c)
    }

    /// The server's host name or address (default `localhost`; always over TCP).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The server's port (default 3306).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The user (default `root`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// The password (default none). Never shown by `Debug` or in errors.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The database (schema) the table lives in.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// TLS (rustls with the ring provider, server certificate verified; default off).
    pub fn ssl(mut self, enabled: bool) -> Self {
        self.ssl = enabled;
        self
    }

    /// A PEM file with the certificates that sign the server's (turns TLS on).
    pub fn ssl_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl = true;
        self.ssl_ca = Some(path.into());
        self
    }

    /// The table (default `kv_store`). It must match `[A-Za-z_][A-Za-z0-9_]{0,63}` (checked by
    /// [`open`](Self::open)) and is folded to lower case.
    pub fn table(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.table = TableName::new(&name).map_err(|_| name);
        self
    }

    /// Whether a missing table is created at first use (default `true`). With `false` a
    /// missing table is a [`Setup`](ErrorKind::Setup) error.
    pub fn auto_create(mut self, create: bool) -> Self {
        self.auto_create = create;
        self
    }

    /// The number of pooled connections (default 16).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// How long getting a connection (connecting included) may take (default 10 s); then a
    /// temporary [`Timeout`](ErrorKind::Timeout) error.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many expired rows one statement of `cull` deletes (default 10 000); it loops until
    /// none are left.
    pub fn cull_batch_size(mut self, rows: usize) -> Self {
        self.cull_batch = rows;
        self
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by (default the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The table, if its name is valid (else the default).
    pub fn table_name(&self) -> TableName {
        match &self.table {
            Ok(t) => t.clone(),
            Err(_) => TableName::new(DEFAULT_TABLE).unwrap_or_else(|_| unreachable!()),
        }
    }

    /// Makes the store. Nothing is sent yet and no runtime is needed: the store connects (and
    /// creates its table) at its first call. An invalid option is an [`ErrorKind::Config`]
    /// error.
    pub fn open(self) -> Result<MySqlStore> {
        let table = self.table.clone().map_err(|name| {
            TableName::new(&name)
                .err()
                .unwrap_or_else(|| Error::new(ErrorKind::Config, "invalid table name"))
        })?;
        if self.cull_batch == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "cull_batch_size must be at least 1",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::new(ErrorKind::Config, "timeout must be positive"));
        }
        let (pool, owned) = match &self.source {
            Source::Pool(p) => (p.clone(), false),
            Source::Params => (self.build_pool()?, true),
        };
        Ok(MySqlStore::from_parts(self, table, pool, owned))
    }

    fn build_pool(&self) -> Result<Pool> {
        let Some(database) = &self.database else {
            return Err(Error::new(
                ErrorKind::Config,
                "no database: give one in the URL path (mysql://host/database) or with .database()",
            ));
        };
        let constraints = PoolConstraints::new(0, self.pool_size)
            .ok_or_else(|| Error::new(ErrorKind::Config, "pool_size must be at least 1"))?;
        let mut opts = OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(self.password.clone())
            .db_name(Some(database.clone()))
            .prefer_socket(false)
            .stmt_cache_size(128)
            .pool_opts(
                // No COM_RESET_CONNECTION on every return to the pool: it would drop the
                // prepared statements the store caches per connection (the store sets no
                // session state).
                // Idle connections are kept (with their statement caches) up to `pool_size`,
                // and closed after 5 minutes unused; with mysql_async's default (no idle
                // time-out, `min` 0) every connection would be closed when returned.
                PoolOpts::default()
                    .with_constraints(constraints)
                    .with_reset_connection(false)
                    .with_inactive_connection_ttl(IDLE_CONNECTION_TTL),
            );
        if self.ssl {
            let mut ssl = SslOpts::default();
            if let Some(ca) = &self.ssl_ca {
                ssl = ssl.with_root_certs(vec![ca.clone().into()]);
            }
            opts = opts.ssl_opts(ssl);
        }
        Ok(Pool::new(opts))
    }
}

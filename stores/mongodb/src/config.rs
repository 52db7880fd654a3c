//! [`MongoDbConfig`]: the builder of [`MongoDbStore`] and what a `mongodb://` URL parses into,
//! so `MongoDbConfig::from_url(&url)?.open()` and `MongoDbConfig::new(uri).open()` are one code
//! path.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::sanitize::SanitizationStrategy;
use key_value_core::{Clock, Error, ErrorKind, Result};
use mongodb::Client;
use mongodb::options::ConnectionString;

use crate::MongoDbStore;
use crate::names::{CollectionSanitization, check_database_name};

/// py-key-value's database: `kv-store-adapter`.
pub const DEFAULT_DATABASE: &str = "kv-store-adapter";
/// py-key-value's server when none is given (pymongo's default).
pub const DEFAULT_URI: &str = "mongodb://localhost:27017";
/// How long the driver looks for a usable server before a call fails, unless the connection
/// string says otherwise (`serverSelectionTimeoutMS`). The driver's own default is 30 s.
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// The options of a `mongodb://` URL that are the store's, not the driver's; they are removed
/// before the rest goes to the driver.
const STORE_OPTIONS: &[&str] = &["db", "sanitize", "default_collection", "unique_key_index"];

/// Where the store's client comes from.
#[derive(Clone)]
pub(crate) enum ClientSource {
    /// A connection string: the store makes (at its first call) and owns the client.
    Uri(String),
    /// The user's client: used as is, never shut down by the store.
    Client(Client),
}

impl fmt::Debug for ClientSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientSource::Uri(uri) => write!(f, "Uri({})", redact_uri(uri)),
            ClientSource::Client(_) => f.write_str("Client(..)"),
        }
    }
}

/// The configuration of a [`MongoDbStore`]: its builder, and what a `mongodb://` URL parses
/// into.
///
/// ```
/// use key_value_core::config::StoreUrl;
/// use key_value_mongodb::{CollectionSanitization, MongoDbConfig};
///
/// // Nothing connects here (and no runtime is needed): the store connects at its first call.
/// let store = MongoDbConfig::new("mongodb://127.0.0.1:27017").database("app").open()?;
/// assert_eq!(store.database_name(), "app");
///
/// let url = StoreUrl::parse("mongodb://user:s3cret@db.example:27017/?db=cache&sanitize=v1&authSource=admin")?;
/// let config = MongoDbConfig::from_url(&url)?;
/// assert_eq!(config.database_name(), "cache");
/// assert!(matches!(config.sanitization(), CollectionSanitization::V1));
/// assert!(!format!("{config:?}").contains("s3cret"));
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// URL options of the store: `db` (the database; else the URL's path, else
/// `kv-store-adapter`), `sanitize` (`none` or `v1`), `default_collection`, `unique_key_index`
/// (`true`/`false`). Every other option is the driver's (`authSource`, `tls`,
/// `directConnection`, `serverSelectionTimeoutMS`, `replicaSet`, ...) and is checked by it.
/// `mongodb+srv://` URLs work too (the SRV lookup happens at the first call).
#[derive(Debug, Clone)]
pub struct MongoDbConfig {
    pub(crate) source: ClientSource,
    pub(crate) database: String,
    pub(crate) sanitization: CollectionSanitization,
    pub(crate) default_collection: Option<String>,
    pub(crate) unique_key_index: bool,
    pub(crate) clock: Clock,
    pub(crate) server_selection_timeout: Option<Duration>,
}

impl Default for MongoDbConfig {
    /// `mongodb://localhost:27017`, database `kv-store-adapter`: py-key-value's defaults.
    fn default() -> Self {
        MongoDbConfig::new(DEFAULT_URI)
    }
}

impl MongoDbConfig {
    /// The URL scheme: `mongodb://[user:password@]host[:port][/database][?options]`.
    pub const SCHEME: &'static str = "mongodb";
    /// The DNS seed-list scheme: `mongodb+srv://host/...`.
    pub const SRV_SCHEME: &'static str = "mongodb+srv";

    /// A store on the deployment of the MongoDB connection string `uri` (passed to the driver
    /// as is), with py-key-value's defaults: database `kv-store-adapter`, no collection
    /// sanitization, a unique index on `key` (see [`unique_key_index`](Self::unique_key_index)),
    /// system clock.
    pub fn new(uri: impl Into<String>) -> Self {
        MongoDbConfig {
            source: ClientSource::Uri(uri.into()),
            database: DEFAULT_DATABASE.to_string(),
            sanitization: CollectionSanitization::Passthrough,
            default_collection: None,
            unique_key_index: true,
            clock: Clock::system(),
            server_selection_timeout: None,
        }
    }

    /// A store using the caller's `client` (py-key-value's `MongoDBStore(client=...)`). The
    /// store never shuts it down: [`close`](key_value_core::KeyValue::close) only stops this
    /// store from using it.
    pub fn with_client(client: Client) -> Self {
        MongoDbConfig {
            source: ClientSource::Client(client),
            ..MongoDbConfig::new(DEFAULT_URI)
        }
    }

    /// A store on `host:port` (no credentials, default options).
    pub fn from_host(host: &str, port: u16) -> Self {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        MongoDbConfig::new(format!("mongodb://{host}:{port}"))
    }

    /// Parses a `mongodb://` or `mongodb+srv://` URL. The store's own options are taken out;
    /// the rest must be a connection string the driver accepts. A wrong scheme or a bad option
    /// is an [`ErrorKind::Config`] error (which never shows the password).
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        if url.scheme() != Self::SCHEME && url.scheme() != Self::SRV_SCHEME {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "expected a {}:// or {}:// URL, got {}://",
                    Self::SCHEME,
                    Self::SRV_SCHEME,
                    url.scheme()
                ),
            ));
        }
        MongoDbConfig::parse(url.as_url().as_str())
    }

    /// Parses a MongoDB connection string with the store's options, like
    /// [`from_url`](Self::from_url), but also those a generic URL parser refuses, such as
    /// several hosts (`mongodb://h1:27017,h2:27017/?replicaSet=rs0&db=cache`).
    pub fn parse(text: &str) -> Result<Self> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(Error::new(
                ErrorKind::Config,
                format!("invalid MongoDB URL {}: no scheme", redact_uri(text)),
            ));
        };
        if scheme != Self::SCHEME && scheme != Self::SRV_SCHEME {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "expected a {}:// or {}:// URL, got {scheme}://",
                    Self::SCHEME,
                    Self::SRV_SCHEME
                ),
            ));
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, q),
            None => (rest, ""),
        };
        // The path (after the hosts, which may hold `@` in credentials) is the database.
        let after_at = before_query
            .rsplit_once('@')
            .map_or(before_query, |(_, h)| h);
        let path_db = after_at.split_once('/').map_or("", |(_, p)| p);
        let path_db =
            url::form_urlencoded::parse(format!("x={}", path_db.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
        let mut ours: Vec<(String, String)> = Vec::new();
        let mut kept = url::form_urlencoded::Serializer::new(String::new());
        let mut any_kept = false;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if STORE_OPTIONS.contains(&k.as_ref()) {
                ours.push((k.into_owned(), v.into_owned()));
            } else {
                kept.append_pair(&k, &v);
                any_kept = true;
            }
        }
        let driver_uri = if any_kept {
            format!("{scheme}://{before_query}?{}", kept.finish())
        } else {
            format!("{scheme}://{before_query}")
        };
        let option = |name: &str| {
            ours.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut c = MongoDbConfig::new(driver_uri);
        if let Some(db) = option("db") {
            c.database = db;
        } else if !path_db.is_empty() {
            c.database = path_db;
        }
        if let Some(s) = option("sanitize") {
            c.sanitization = match s.as_str() {
                "none" | "passthrough" => CollectionSanitization::Passthrough,
                "v1" => CollectionSanitization::V1,
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
        c.default_collection = option("default_collection");
        if let Some(b) = option("unique_key_index") {
            c.unique_key_index = match b.as_str() {
                "true" | "1" | "yes" | "on" | "" => true,
                "false" | "0" | "no" | "off" => false,
                other => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "invalid value {other:?} for option `unique_key_index`: expected true or false"
                        ),
                    ));
                }
            };
        }
        Ok(c)
    }
    /// The database the store uses (default `kv-store-adapter`, py-key-value's `db_name`).
    /// [`destroy`](key_value_core::KeyValue::destroy) drops exactly this database.
    pub fn database(mut self, name: impl Into<String>) -> Self {
        self.database = name.into();
        self
    }

    /// How collection names become MongoDB collection names (default
    /// [`CollectionSanitization::Passthrough`], py-key-value's default).
    pub fn collection_sanitization(mut self, sanitization: CollectionSanitization) -> Self {
        self.sanitization = sanitization;
        self
    }

    /// Shorthand for `collection_sanitization(CollectionSanitization::V1)`: py-key-value's
    /// `MongoDBV1CollectionSanitizationStrategy`.
    pub fn sanitize_v1(self) -> Self {
        self.collection_sanitization(CollectionSanitization::V1)
    }

    /// Shorthand for `collection_sanitization(CollectionSanitization::Custom(strategy))`.
    pub fn collection_strategy(self, strategy: impl SanitizationStrategy + 'static) -> Self {
        self.collection_sanitization(CollectionSanitization::Custom(Arc::new(strategy)))
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// Whether the index on `key` this store creates is unique (default `true`).
    ///
    /// py-key-value creates a non-unique one; with it, two concurrent first writes of one key
    /// can leave two documents, and reads then see either. A unique index makes that
    /// impossible. Both work with py-key-value: its writes are upserts by `key`, and it does
    /// not touch the indexes of a collection that exists. The store never changes an existing
    /// index: on a collection py-key-value created first, the non-unique index stays.
    pub fn unique_key_index(mut self, unique: bool) -> Self {
        self.unique_key_index = unique;
        self
    }

    /// The clock expiry is measured by (a [`ManualClock`](key_value_core::ManualClock) in
    /// tests; default the system clock). MongoDB's TTL monitor follows the server's clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How long a call waits for a usable server before failing with a temporary
    /// [`Connection`](ErrorKind::Connection) error (default 10 s, unless the connection string
    /// sets `serverSelectionTimeoutMS`). Ignored with [`with_client`](Self::with_client).
    pub fn server_selection_timeout(mut self, timeout: Duration) -> Self {
        self.server_selection_timeout = Some(timeout);
        self
    }

    /// The database name.
    pub fn database_name(&self) -> &str {
        &self.database
    }

    /// The collection sanitization.
    pub fn sanitization(&self) -> &CollectionSanitization {
        &self.sanitization
    }

    /// Makes the store. Nothing is sent and no runtime is needed: the connection string is
    /// checked here, the client is made at the first call, and an unreachable server shows up
    /// then, as a temporary [`Connection`](ErrorKind::Connection) error. A malformed connection
    /// string or database name is an [`ErrorKind::Config`] error.
    pub fn open(self) -> Result<MongoDbStore> {
        check_database_name(&self.database)?;
        if let ClientSource::Uri(uri) = &self.source {
            ConnectionString::parse(uri).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "invalid MongoDB connection string {}: {}",
                        redact_uri(uri),
                        redact_message(&e.to_string(), uri)
                    ),
                )
            })?;
        }
        if self.server_selection_timeout.is_some_and(|d| d.is_zero()) {
            return Err(Error::new(
                ErrorKind::Config,
                "server_selection_timeout must be positive",
            ));
        }
        Ok(MongoDbStore::from_config(self))
    }
}

/// `uri` with any password replaced by `***`.
pub(crate) fn redact_uri(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => uri.to_string(),
        Err(_) => match (uri.find("://"), uri.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}***{}", &uri[..s + 3], &uri[at..]),
            _ => uri.to_string(),
        },
    }
}

/// A driver message with the password of `uri` (if any) removed.
pub(crate) fn redact_message(message: &str, uri: &str) -> String {
    let password = url::Url::parse(uri)
        .ok()
        .and_then(|u| u.password().map(str::to_string));
    match password {
        Some(p) if !p.is_empty() => message.replace(&p, "***"),
        _ => message.to_string(),
    }
}

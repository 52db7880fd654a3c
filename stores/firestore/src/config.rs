//! [`FirestoreConfig`]: the builder of [`FirestoreStore`] and what a `firestore://` URL parses
//! into, so `FirestoreConfig::from_url(&url)?.open()` and `FirestoreConfig::new(..).open()`
//! are one code path.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::sanitize::{
    FirestoreV1CollectionSanitizationStrategy, FirestoreV1KeySanitizationStrategy,
    PassthroughStrategy, SanitizationStrategy,
};
use key_value_core::{Clock, Error, ErrorKind, Result};
use key_value_http::HttpConfig;

use crate::FirestoreStore;
use crate::auth::Credentials;

/// The database every project has.
pub const DEFAULT_DATABASE: &str = "(default)";

/// Cloud Firestore's REST endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://firestore.googleapis.com";

/// The largest request body the store sends (one `commit` or `batchWrite`). Real Firestore
/// accepts 10 MiB; the emulator refuses messages over 4 MiB, so the default stays below
/// that. JSON bodies are larger than the protobuf messages they stand for.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4_000_000;

/// The environment variable naming the emulator (`host:port`), as Google's client libraries
/// read it.
pub const EMULATOR_HOST_ENV: &str = "FIRESTORE_EMULATOR_HOST";

/// How keys or collection names become Firestore ids.
#[derive(Clone, Default)]
pub enum IdSanitization {
    /// Used unchanged (py-key-value's default). Names Firestore refuses (empty, `/`, `.`,
    /// `..`, `__…__`, over 1500 bytes) are [`InvalidKey`](ErrorKind::InvalidKey) /
    /// [`InvalidCollection`](ErrorKind::InvalidCollection) errors, sent nowhere.
    #[default]
    Passthrough,
    /// py-key-value's `FirestoreV1KeySanitizationStrategy` /
    /// `FirestoreV1CollectionSanitizationStrategy`: every name works; refused ones become
    /// `S_…-<sha256>`, over-long ones `H_<sha256>`; names starting with `H_` or `S_` are
    /// rejected. Both sides must use it to share data.
    V1,
    /// Any strategy; its output must still be a valid Firestore id.
    Custom(Arc<dyn SanitizationStrategy>),
}

impl IdSanitization {
    pub(crate) fn strategy(&self, collections: bool) -> Arc<dyn SanitizationStrategy> {
        match self {
            IdSanitization::Passthrough => Arc::new(PassthroughStrategy),
            IdSanitization::V1 if collections => {
                Arc::new(FirestoreV1CollectionSanitizationStrategy)
            }
            IdSanitization::V1 => Arc::new(FirestoreV1KeySanitizationStrategy),
            IdSanitization::Custom(s) => s.clone(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            IdSanitization::Passthrough => "passthrough",
            IdSanitization::V1 => "v1",
            IdSanitization::Custom(_) => "custom",
        }
    }
}

impl fmt::Debug for IdSanitization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The configuration of a [`FirestoreStore`]: its builder, and what a `firestore://` URL
/// parses into.
///
/// ```
/// use key_value_core::config::StoreUrl;
/// use key_value_firestore::FirestoreConfig;
///
/// // Nothing is sent here: the store talks to Firestore at its first call.
/// let store = FirestoreConfig::new("my-project").emulator_host("127.0.0.1:18081").open()?;
/// assert_eq!(store.database(), "(default)");
///
/// let url = StoreUrl::parse("firestore://:ya29.secret@my-project/cache-db?sanitize=v1")?;
/// let config = FirestoreConfig::from_url(&url)?;
/// assert!(!format!("{config:?}").contains("secret"));
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// # Where it connects, as whom
///
/// At [`open`](Self::open), in this order: an explicit [`emulator_host`](Self::emulator_host)
/// (default credentials: [`Credentials::emulator`]); explicit
/// [`credentials`](Self::credentials) (Cloud Firestore, or the [`endpoint`](Self::endpoint));
/// else, unless [`use_environment(false)`](Self::use_environment), `FIRESTORE_EMULATOR_HOST`
/// (the emulator, as Google's libraries do) and then `GOOGLE_APPLICATION_CREDENTIALS` (a
/// service-account key file). Nothing found is a [`Config`](ErrorKind::Config) error. The
/// project is the explicit one, else the key's `project_id`, else `GOOGLE_CLOUD_PROJECT`
/// (or `GCLOUD_PROJECT`).
///
/// # URL
///
/// `firestore://[:ACCESS_TOKEN@]PROJECT[/DATABASE]?options`: the project is the host, the
/// database the path (default `(default)`), a static access token the password (hidden in
/// every `Debug` and error). Options: `database`, `emulator_host` (`host:port`),
/// `credentials` (a service-account key file), `auth` (`emulator`, `anonymous`, `metadata`),
/// `endpoint`, `sanitize` (`none` or `v1`, for keys and collections), `default_collection`,
/// `ttl_field`, `timeout` and `connect_timeout` (seconds), `ca_file`, `max_request_bytes`,
/// `use_environment` (`false` to ignore the environment variables). Unknown options are
/// errors.
#[derive(Clone)]
pub struct FirestoreConfig {
    pub(crate) project: Option<String>,
    pub(crate) database: String,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) emulator_host: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) http: HttpConfig,
    pub(crate) keys: IdSanitization,
    pub(crate) collections: IdSanitization,
    pub(crate) default_collection: Option<String>,
    pub(crate) ttl_field: Option<String>,
    pub(crate) max_request_bytes: usize,
    pub(crate) use_environment: bool,
    pub(crate) clock: Clock,
}

impl fmt::Debug for FirestoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirestoreConfig")
            .field("project", &self.project)
            .field("database", &self.database)
            .field("credentials", &self.credentials)
            .field("emulator_host", &self.emulator_host)
            .field("endpoint", &self.endpoint)
            .field("keys", &self.keys)
            .field("collections", &self.collections)
            .field("default_collection", &self.default_collection)
            .field("ttl_field", &self.ttl_field)
            .finish_non_exhaustive()
    }
}

impl Default for FirestoreConfig {
    fn default() -> Self {
        FirestoreConfig {
            project: None,
            database: DEFAULT_DATABASE.to_string(),
            credentials: None,
            emulator_host: None,
            endpoint: None,
            http: HttpConfig::default(),
            keys: IdSanitization::Passthrough,
            collections: IdSanitization::Passthrough,
            default_collection: None,
            ttl_field: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            use_environment: true,
            clock: Clock::system(),
        }
    }
}

/// Where and as whom, once resolved.
pub(crate) struct Resolved {
    pub(crate) project: String,
    pub(crate) endpoint: String,
    pub(crate) credentials: Credentials,
}

impl FirestoreConfig {
    /// The URL scheme: `firestore://PROJECT/DATABASE?options`.
    pub const SCHEME: &'static str = "firestore";

    /// A store on `project`'s `(default)` database; where it connects and as whom is decided
    /// at [`open`](Self::open) (see the type's docs).
    pub fn new(project: impl Into<String>) -> Self {
        FirestoreConfig {
            project: Some(project.into()),
            ..FirestoreConfig::default()
        }
    }

    /// Parses a `firestore://` URL; a wrong scheme, a bad or unknown option is a
    /// [`Config`](ErrorKind::Config) error. The access token is never shown.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        if url.scheme() != Self::SCHEME {
            return Err(Error::new(
                ErrorKind::Config,
                format!("expected a firestore:// URL, got {}://", url.scheme()),
            ));
        }
        url.check_options(&[
            "database",
            "emulator_host",
            "credentials",
            "auth",
            "endpoint",
            "sanitize",
            "default_collection",
            "ttl_field",
            "timeout",
            "connect_timeout",
            "ca_file",
            "max_request_bytes",
            "use_environment",
        ])?;
        let mut c = FirestoreConfig::default();
        if let Some(project) = url.host() {
            c.project = Some(project.to_string());
        }
        let path = url.path();
        let path = path.trim_matches('/');
        if !path.is_empty() {
            c.database = path.to_string();
        }
        if let Some(db) = url.option::<String>("database")? {
            c.database = db;
        }
        if let Some(token) = url.password() {
            c.credentials = Some(Credentials::access_token(token));
        }
        if let Some(path) = url.option::<String>("credentials")? {
            c.credentials = Some(Credentials::service_account_file(path)?);
        }
        if let Some(auth) = url.option::<String>("auth")? {
            c.credentials = Some(match auth.as_str() {
                "emulator" | "owner" => Credentials::emulator(),
                "anonymous" | "none" => Credentials::anonymous(),
                "metadata" => Credentials::metadata_server(),
                other => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "invalid value {other:?} for option `auth`: expected emulator, \
                             anonymous or metadata"
                        ),
                    ));
                }
            });
        }
        if let Some(h) = url.option::<String>("emulator_host")? {
            c.emulator_host = Some(h);
        }
        if let Some(e) = url.option::<String>("endpoint")? {
            c.endpoint = Some(e);
        }
        if let Some(s) = url.option::<String>("sanitize")? {
            let mode = match s.as_str() {
                "none" | "passthrough" => IdSanitization::Passthrough,
                "v1" => IdSanitization::V1,
                other => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "invalid value {other:?} for option `sanitize`: expected none or v1"
                        ),
                    ));
                }
            };
            c.keys = mode.clone();
            c.collections = mode;
        }
        c.default_collection = url.option::<String>("default_collection")?;
        c.ttl_field = url.option::<String>("ttl_field")?;
        if let Some(d) = seconds(url, "timeout")? {
            c.http.timeout = d;
        }
        if let Some(d) = seconds(url, "connect_timeout")? {
            c.http.connect_timeout = d;
        }
        if let Some(p) = url.option::<String>("ca_file")? {
            c.http.ca_file = Some(PathBuf::from(p));
        }
        if let Some(n) = url.option::<usize>("max_request_bytes")? {
            c.max_request_bytes = n;
        }
        if let Some(b) = url.flag("use_environment")? {
            c.use_environment = b;
        }
        Ok(c)
    }

    /// The Google Cloud project.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// The database id (default `(default)`): `(default)` or 4-63 characters of `a-z`, `0-9`
    /// and `-`, starting with a letter.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// Talks to the Firestore emulator at `host:port` over plain HTTP, as
    /// [`Credentials::emulator`] unless other credentials are set.
    pub fn emulator_host(mut self, host: impl Into<String>) -> Self {
        self.emulator_host = Some(host.into());
        self
    }

    /// Who the store is (see [`Credentials`]).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Shorthand for `credentials(Credentials::access_token(token))`.
    pub fn access_token(self, token: impl Into<String>) -> Self {
        self.credentials(Credentials::access_token(token))
    }

    /// The REST endpoint (default `https://firestore.googleapis.com`; a regional endpoint,
    /// Private Service Connect, or a proxy).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Timeouts and TLS trust of the HTTP client.
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// The whole-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// How keys become document ids (default [`IdSanitization::Passthrough`]).
    pub fn key_sanitization(mut self, sanitization: IdSanitization) -> Self {
        self.keys = sanitization;
        self
    }

    /// How collection names become collection ids (default
    /// [`IdSanitization::Passthrough`]).
    pub fn collection_sanitization(mut self, sanitization: IdSanitization) -> Self {
        self.collections = sanitization;
        self
    }

    /// py-key-value's V1 strategies for keys and collections (see [`IdSanitization::V1`]).
    pub fn sanitize_v1(self) -> Self {
        self.key_sanitization(IdSanitization::V1)
            .collection_sanitization(IdSanitization::V1)
    }

    /// The collection used when a call names none (default `default_collection`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// Also writes the expiry as a Firestore timestamp in field `name`, for a Firestore TTL
    /// policy on that field (py-key-value's `expires_at` is a string, which TTL policies
    /// ignore). Python ignores the extra field; its own writes do not set it.
    pub fn ttl_field(mut self, name: impl Into<String>) -> Self {
        self.ttl_field = Some(name.into());
        self
    }

    /// The largest `commit`/`batchWrite` body (default [`DEFAULT_MAX_REQUEST_BYTES`]).
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Whether `open` may read `FIRESTORE_EMULATOR_HOST`, `GOOGLE_APPLICATION_CREDENTIALS`
    /// and `GOOGLE_CLOUD_PROJECT` (default `true`).
    pub fn use_environment(mut self, yes: bool) -> Self {
        self.use_environment = yes;
        self
    }

    /// The clock expiry is measured by.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The database id.
    pub fn database_id(&self) -> &str {
        &self.database
    }

    /// Builds the store. Nothing is sent and no runtime is needed: the store talks to
    /// Firestore at its first call.
    pub fn open(self) -> Result<FirestoreStore> {
        FirestoreStore::from_config(self)
    }

    pub(crate) fn resolve(&self) -> Result<Resolved> {
        check_database(&self.database)?;
        if let Some(f) = &self.ttl_field {
            check_field_name(f)?;
        }
        if self.max_request_bytes < 64 * 1024 {
            return Err(Error::new(
                ErrorKind::Config,
                "max_request_bytes must be at least 65536",
            ));
        }
        let env = |name: &str| {
            if self.use_environment {
                std::env::var(name).ok().filter(|v| !v.is_empty())
            } else {
                None
            }
        };
        let (endpoint, credentials) = if let Some(host) = &self.emulator_host {
            (
                emulator_endpoint(host)?,
                self.credentials
                    .clone()
                    .unwrap_or_else(Credentials::emulator),
            )
        } else if let Some(c) = &self.credentials {
            (
                self.endpoint
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ENDPOINT.into()),
                c.clone(),
            )
        } else if let Some(host) = env(EMULATOR_HOST_ENV) {
            (emulator_endpoint(&host)?, Credentials::emulator())
        } else if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
            (
                self.endpoint
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ENDPOINT.into()),
                Credentials::service_account_file(path)?,
            )
        } else {
            return Err(Error::new(
                ErrorKind::Config,
                "no Firestore credentials: set an emulator host, credentials (an access token, \
                 a service-account key, the metadata server), FIRESTORE_EMULATOR_HOST or \
                 GOOGLE_APPLICATION_CREDENTIALS",
            ));
        };
        let endpoint = match (&self.endpoint, &self.emulator_host) {
            (Some(e), Some(_)) => e.clone(),
            _ => endpoint,
        };
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the Firestore endpoint must be an http(s) URL, got {endpoint:?}"),
            ));
        }
        let project = self
            .project
            .clone()
            .or_else(|| {
                credentials
                    .service_account_key()
                    .and_then(|k| k.project_id().map(str::to_string))
            })
            .or_else(|| env("GOOGLE_CLOUD_PROJECT"))
            .or_else(|| env("GCLOUD_PROJECT"))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    "no Google Cloud project: set one (firestore://PROJECT, .project(..)) or \
                     GOOGLE_CLOUD_PROJECT",
                )
            })?;
        check_project(&project)?;
        Ok(Resolved {
            project,
            endpoint,
            credentials,
        })
    }
}

fn emulator_endpoint(host: &str) -> Result<String> {
    let host = host.trim().trim_end_matches('/');
    if host.starts_with("http://") || host.starts_with("https://") {
        return Ok(host.to_string());
    }
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(Error::new(
            ErrorKind::Config,
            format!("the emulator host must be host:port, got {host:?}"),
        ));
    }
    Ok(format!("http://{host}"))
}

/// `(default)` or Firestore's rule for named databases.
fn check_database(db: &str) -> Result<()> {
    let ok = db == DEFAULT_DATABASE
        || ((4..=63).contains(&db.len())
            && db.starts_with(|c: char| c.is_ascii_lowercase())
            && db.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && db
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Config,
            format!(
                "invalid Firestore database id {db:?}: use (default) or 4-63 characters of a-z, \
                 0-9 and -, starting with a letter and ending with a letter or digit"
            ),
        ))
    }
}

/// Project ids are lower-case letters, digits and `-` (older ones `domain.com:project`).
fn check_project(project: &str) -> Result<()> {
    let ok = !project.is_empty()
        && project.len() <= 100
        && project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Config,
            format!("invalid Google Cloud project id {project:?}"),
        ))
    }
}

/// A TTL field written by this store must be a simple field name (no dots or backticks).
fn check_field_name(name: &str) -> Result<()> {
    let reserved = (name.starts_with("__") && name.ends_with("__"))
        || [
            crate::document::FIELD_VERSION,
            crate::document::FIELD_VALUE,
            crate::document::FIELD_CREATED_AT,
            crate::document::FIELD_EXPIRES_AT,
        ]
        .contains(&name);
    let simple = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let ok = simple && !reserved;
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Config,
            format!(
                "invalid ttl_field {name:?}: use letters, digits and _ (not one of version, \
                 value, created_at, expires_at)"
            ),
        ))
    }
}

fn seconds(url: &StoreUrl, name: &str) -> Result<Option<Duration>> {
    match url.option::<f64>(name)? {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(Error::new(
            ErrorKind::Config,
            format!("option `{name}` must be a positive number of seconds, got {s}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<FirestoreConfig> {
        FirestoreConfig::from_url(&StoreUrl::parse(url)?)
    }

    #[test]
    fn urls() {
        let c = parse("firestore://proj/my-db?emulator_host=127.0.0.1:18081&sanitize=v1&default_collection=u&ttl_field=expire_at&timeout=2.5").unwrap();
        assert_eq!(c.project.as_deref(), Some("proj"));
        assert_eq!(c.database, "my-db");
        assert!(matches!(c.keys, IdSanitization::V1));
        assert!(matches!(c.collections, IdSanitization::V1));
        assert_eq!(c.http.timeout, Duration::from_millis(2500));
        let r = c.resolve().unwrap();
        assert_eq!(r.endpoint, "http://127.0.0.1:18081");
        assert_eq!(r.credentials.kind_name(), "emulator");

        let c = parse("firestore://:s3cret-token@proj?use_environment=false").unwrap();
        assert_eq!(c.database, DEFAULT_DATABASE);
        assert!(!format!("{c:?}").contains("s3cret"));
        let r = c.resolve().unwrap();
        assert_eq!(r.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(r.credentials.kind_name(), "access-token");

        let c =
            parse("firestore://proj?auth=metadata&endpoint=https://eu-firestore.example").unwrap();
        let r = c.resolve().unwrap();
        assert_eq!(r.endpoint, "https://eu-firestore.example");
        assert_eq!(r.credentials.kind_name(), "metadata-server");

        for bad in [
            "firestore://proj?emulator_hots=x",
            "firestore://proj?sanitize=v2",
            "firestore://proj?auth=magic",
            "firestore://proj?timeout=-1",
            "firestore://proj?credentials=/nonexistent/key.json",
            "redis://proj",
        ] {
            assert_eq!(parse(bad).unwrap_err().kind(), ErrorKind::Config, "{bad}");
        }
    }

    #[test]
    fn resolution_errors() {
        let no_env = FirestoreConfig::new("p").use_environment(false);
        let err = no_env.clone().resolve().err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("credentials"), "{err}");
        let err = FirestoreConfig::default()
            .use_environment(false)
            .emulator_host("h:1")
            .resolve()
            .err()
            .unwrap();
        assert!(err.to_string().contains("project"), "{err}");
        for db in ["Default", "ab", "a_b_c", "1abc", "abc-", &"a".repeat(64)] {
            let err = no_env
                .clone()
                .emulator_host("h:1")
                .database(db)
                .resolve()
                .err()
                .unwrap();
            assert_eq!(err.kind(), ErrorKind::Config, "{db}");
        }
        for field in ["expires_at", "a.b", "", "__x__"] {
            let err = no_env
                .clone()
                .emulator_host("h:1")
                .ttl_field(field)
                .resolve()
                .err()
                .unwrap();
            assert_eq!(err.kind(), ErrorKind::Config, "{field}");
        }
        let err = no_env.clone().emulator_host("h/x").resolve().err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = FirestoreConfig::new("a/b")
            .emulator_host("h:1")
            .resolve()
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}

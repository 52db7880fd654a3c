//! [`AzureTablesConfig`]: the builder of [`AzureTablesStore`] and what an `azure-tables://` URL
//! or a connection string parses into; [`ConnectionString`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::sanitize::{AzureTablesSanitizationStrategy, SanitizationStrategy};
use key_value_core::{Clock, Error, ErrorKind, Result};
use key_value_http::HttpConfig;

use crate::AzureTablesStore;
use crate::auth::Credential;

/// The account name of the storage emulators (Azurite, the old storage emulator).
pub const DEVELOPMENT_ACCOUNT: &str = "devstoreaccount1";
/// The account key of the storage emulators, published by Microsoft: not a secret.
pub const DEVELOPMENT_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The emulators' default Table endpoint (`UseDevelopmentStorage=true`).
pub const DEVELOPMENT_TABLE_ENDPOINT: &str = "http://127.0.0.1:10002/devstoreaccount1";
/// How many requests a batch call (`get_many`, `put_many`, ...) keeps in flight at most,
/// unless configured.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// An Azure Storage connection string, parsed: the Table endpoint and the credential.
///
/// Understood: `DefaultEndpointsProtocol`, `AccountName`, `AccountKey`, `EndpointSuffix`,
/// `TableEndpoint`, `SharedAccessSignature`, `UseDevelopmentStorage=true` (with
/// `DevelopmentStorageProxyUri`). Names are case-insensitive; the other services' entries
/// (`BlobEndpoint`, ...) are ignored. The key and the SAS never show in `Debug` or errors.
///
/// ```
/// use key_value_azure_tables::config::ConnectionString;
///
/// let cs = ConnectionString::parse(
///     "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net",
/// )?;
/// assert_eq!(cs.endpoint(), "https://acme.table.core.windows.net");
/// assert_eq!(cs.credential().account(), Some("acme"));
/// assert!(!format!("{cs:?}").contains("c2VjcmV0"));
///
/// let dev = ConnectionString::parse("UseDevelopmentStorage=true")?;
/// assert_eq!(dev.endpoint(), "http://127.0.0.1:10002/devstoreaccount1");
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionString {
    endpoint: String,
    credential: Credential,
}

impl ConnectionString {
    /// Parses `text`; a malformed one is a [`Config`](ErrorKind::Config) error that shows no
    /// secret.
    pub fn parse(text: &str) -> Result<Self> {
        let mut protocol = None;
        let mut account = None;
        let mut key = None;
        let mut suffix = None;
        let mut table_endpoint = None;
        let mut sas = None;
        let mut development = false;
        let mut proxy = None;
        for (i, segment) in text.split(';').enumerate() {
            let segment = segment.trim();
            if segment.is_empty() {
                continue;
            }
            let Some((name, value)) = segment.split_once('=') else {
                return Err(config_error(format!(
                    "connection string entry {} has no `=`",
                    i + 1
                )));
            };
            let value = value.trim().to_string();
            match name.trim().to_ascii_lowercase().as_str() {
                "defaultendpointsprotocol" => protocol = Some(value),
                "accountname" => account = Some(value),
                "accountkey" => key = Some(value),
                "endpointsuffix" => suffix = Some(value),
                "tableendpoint" => table_endpoint = Some(value),
                "sharedaccesssignature" => sas = Some(value),
                "usedevelopmentstorage" => development = value.eq_ignore_ascii_case("true"),
                "developmentstorageproxyuri" => proxy = Some(value),
                _ => {}
            }
        }
        if development {
            let endpoint = match proxy {
                Some(p) => format!("{}:10002/{DEVELOPMENT_ACCOUNT}", p.trim_end_matches('/')),
                None => DEVELOPMENT_TABLE_ENDPOINT.to_string(),
            };
            return Ok(ConnectionString {
                endpoint,
                credential: Credential::shared_key(DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY)?,
            });
        }
        let endpoint = match (table_endpoint, &account) {
            (Some(e), _) => e.trim_end_matches('/').to_string(),
            (None, Some(a)) => format!(
                "{}://{a}.table.{}",
                protocol.as_deref().unwrap_or("https"),
                suffix.as_deref().unwrap_or("core.windows.net")
            ),
            (None, None) => {
                return Err(config_error(
                    "the connection string has neither TableEndpoint nor AccountName".into(),
                ));
            }
        };
        let credential = match (key, sas, account) {
            (Some(k), _, Some(a)) => Credential::shared_key(a, &k)?,
            (Some(_), _, None) => {
                return Err(config_error(
                    "the connection string has an AccountKey but no AccountName".into(),
                ));
            }
            (None, Some(s), _) => Credential::sas(s),
            (None, None, _) => {
                return Err(config_error(
                    "the connection string has neither AccountKey nor SharedAccessSignature".into(),
                ));
            }
        };
        Ok(ConnectionString {
            endpoint,
            credential,
        })
    }

    /// The Table endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The credential.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }
}

fn config_error(message: String) -> Error {
    Error::new(ErrorKind::Config, message)
}

/// Whether `name` is a valid table name: 3 to 63 letters and digits, starting with a letter,
/// and not `tables`.
///
/// ```
/// use key_value_azure_tables::config::is_valid_table_name;
/// assert!(is_valid_table_name("kvstore1"));
/// assert!(!is_valid_table_name("kv_store"));
/// assert!(!is_valid_table_name("1kv"));
/// assert!(!is_valid_table_name("kv"));
/// assert!(!is_valid_table_name("Tables"));
/// ```
pub fn is_valid_table_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
        && !name.eq_ignore_ascii_case("tables")
}

/// The configuration of an [`AzureTablesStore`]: its builder, and what an `azure-tables://`
/// URL or a connection string parses into.
///
/// ```
/// use key_value_azure_tables::AzureTablesConfig;
/// use key_value_core::config::StoreUrl;
///
/// // Nothing is sent here: the store talks to the service at its first call.
/// let store = AzureTablesConfig::from_connection_string(
///     "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=c2VjcmV0",
///     "kvstore",
/// )?
/// .sanitize(true)
/// .open()?;
/// assert_eq!(store.table(), "kvstore");
///
/// let url = StoreUrl::parse(
///     "azure-tables://devstoreaccount1:c2VjcmV0@127.0.0.1:10002/devstoreaccount1/kvstore?tls=false&sanitize=true",
/// )?;
/// let config = AzureTablesConfig::from_url(&url)?;
/// assert_eq!(config.endpoint(), Some("http://127.0.0.1:10002/devstoreaccount1"));
/// assert_eq!(config.table(), "kvstore");
/// assert!(!format!("{config:?}").contains("c2VjcmV0"));
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// # URLs
///
/// `azure-tables://ACCOUNT:KEY@HOST[:PORT][/PATH]/TABLE?options`: the account name and its
/// base64 key (percent-encoded: `+` is `%2B`, `/` is `%2F`, `=` is `%3D`) as user and password,
/// the endpoint `https://HOST[:PORT][/PATH]` and the table as the last path segment. Without a
/// host, the credential and endpoint come from an option: `azure-tables:///TABLE?connection_string_env=VAR`
/// (the connection string in environment variable `VAR`) or
/// `azure-tables:///TABLE?development_storage=true` (the emulator's well-known account on
/// 127.0.0.1:10002).
///
/// Options: `tls` (`false` for `http://`), `key_env` (the account key from an environment
/// variable, instead of the password), `sas_env` (a SAS token from an environment variable),
/// `connection_string_env`, `development_storage`, `auth` (`shared_key` or `shared_key_lite`),
/// `sanitize` (`true`: [`AzureTablesSanitizationStrategy`] for keys and collections),
/// `auto_create`, `default_collection`, `timeout` (seconds), `concurrency`. Secrets are
/// never put in the query, so a URL can be logged. Unknown options are errors.
#[derive(Clone)]
pub struct AzureTablesConfig {
    pub(crate) endpoint: Option<String>,
    pub(crate) credential: Option<Credential>,
    pub(crate) table: String,
    pub(crate) auto_create: bool,
    pub(crate) key_strategy: Option<Arc<dyn SanitizationStrategy>>,
    pub(crate) collection_strategy: Option<Arc<dyn SanitizationStrategy>>,
    pub(crate) default_collection: Option<String>,
    pub(crate) clock: Clock,
    pub(crate) http: HttpConfig,
    pub(crate) concurrency: usize,
}

impl fmt::Debug for AzureTablesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureTablesConfig")
            .field("endpoint", &self.endpoint)
            .field("credential", &self.credential)
            .field("table", &self.table)
            .field("auto_create", &self.auto_create)
            .field("key_sanitization_strategy", &self.key_strategy)
            .field(
                "collection_sanitization_strategy",
                &self.collection_strategy,
            )
            .field("default_collection", &self.default_collection)
            .field("http", &self.http)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl AzureTablesConfig {
    /// The URL scheme: `azure-tables://account:key@host/table`.
    pub const SCHEME: &'static str = "azure-tables";

    /// A store on `table` at `endpoint` with `credential`; py-key-value's defaults otherwise
    /// (table created when missing, no sanitization).
    pub fn new(
        endpoint: impl Into<String>,
        credential: Credential,
        table: impl Into<String>,
    ) -> Self {
        AzureTablesConfig {
            endpoint: Some(endpoint.into()),
            credential: Some(credential),
            ..AzureTablesConfig::bare(table.into())
        }
    }

    fn bare(table: String) -> Self {
        AzureTablesConfig {
            endpoint: None,
            credential: None,
            table,
            auto_create: true,
            key_strategy: None,
            collection_strategy: None,
            default_collection: None,
            clock: Clock::system(),
            http: HttpConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// A store on `table` of the account a connection string names (py-key-value's
    /// `AzureTablesStore(connection_string=..., table_name=...)`).
    pub fn from_connection_string(
        connection_string: &str,
        table: impl Into<String>,
    ) -> Result<Self> {
        let cs = ConnectionString::parse(connection_string)?;
        Ok(AzureTablesConfig::new(cs.endpoint, cs.credential, table))
    }

    /// A store on `table` of `account` in Azure's public cloud
    /// (`https://<account>.table.core.windows.net`), with Shared Key; change the endpoint with
    /// [`endpoint`](Self::endpoint).
    pub fn with_account_key(
        account: impl Into<String>,
        key_base64: &str,
        table: impl Into<String>,
    ) -> Result<Self> {
        let account = account.into();
        let endpoint = format!("https://{account}.table.core.windows.net");
        Ok(AzureTablesConfig::new(
            endpoint,
            Credential::shared_key(account, key_base64)?,
            table,
        ))
    }

    /// A store on `table` of the storage emulator's well-known account at
    /// `http://127.0.0.1:10002/devstoreaccount1` (`UseDevelopmentStorage=true`).
    pub fn development_storage(table: impl Into<String>) -> Self {
        let mut config = AzureTablesConfig::bare(table.into());
        config.endpoint = Some(DEVELOPMENT_TABLE_ENDPOINT.to_string());
        config.credential =
            Credential::shared_key(DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY).ok();
        config
    }

    /// Parses an `azure-tables://` URL (see the type's docs); a wrong scheme, a bad or unknown
    /// option is an [`ErrorKind::Config`] error that shows no secret.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        if url.scheme() != Self::SCHEME {
            return Err(config_error(format!(
                "expected an azure-tables:// URL, got {}://",
                url.scheme()
            )));
        }
        url.check_options(&[
            "tls",
            "key_env",
            "sas_env",
            "connection_string_env",
            "development_storage",
            "auth",
            "sanitize",
            "auto_create",
            "default_collection",
            "timeout",
            "concurrency",
        ])?;
        let path = url.path();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let Some((table, prefix)) = segments.split_last() else {
            return Err(config_error(
                "an azure-tables:// URL needs the table as its last path segment".into(),
            ));
        };
        let mut c = AzureTablesConfig::bare((*table).to_string());
        let env = |name: &str| -> Result<Option<String>> {
            match url.option::<String>(name)? {
                None => Ok(None),
                Some(var) => std::env::var(&var).map(Some).map_err(|_| {
                    config_error(format!(
                        "option `{name}`: environment variable {var} is not set"
                    ))
                }),
            }
        };
        if let Some(cs) = env("connection_string_env")? {
            let cs = ConnectionString::parse(&cs)?;
            c.endpoint = Some(cs.endpoint);
            c.credential = Some(cs.credential);
        } else if url.flag("development_storage")? == Some(true) {
            c = AzureTablesConfig::development_storage(*table);
        }
        if let Some(host) = url.host() {
            let tls = url.flag("tls")?.unwrap_or(true);
            let mut endpoint = format!("{}://{host}", if tls { "https" } else { "http" });
            if let Some(port) = url.port() {
                endpoint.push_str(&format!(":{port}"));
            }
            for p in prefix {
                endpoint.push('/');
                endpoint.push_str(p);
            }
            c.endpoint = Some(endpoint);
            let account = url.username().or_else(|| {
                host.split('.')
                    .next()
                    .filter(|_| host.contains(".table."))
                    .map(str::to_string)
            });
            let key = match url.password() {
                Some(k) => Some(k),
                None => env("key_env")?,
            };
            if let Some(key) = key {
                let account = account.ok_or_else(|| {
                    config_error("an account key needs the account name as the URL's user".into())
                })?;
                c.credential = Some(Credential::shared_key(account, &key)?);
            }
        } else if !prefix.is_empty() {
            return Err(config_error(
                "without a host the URL's path is just the table: azure-tables:///TABLE?...".into(),
            ));
        }
        if let Some(sas) = env("sas_env")? {
            c.credential = Some(Credential::sas(sas));
        }
        match url.option::<String>("auth")?.as_deref() {
            None | Some("shared_key") => {}
            Some("shared_key_lite") => c.credential = c.credential.map(Credential::into_lite),
            Some(other) => {
                return Err(config_error(format!(
                    "invalid value {other:?} for option `auth`: expected shared_key or shared_key_lite"
                )));
            }
        }
        if c.endpoint.is_none() || c.credential.is_none() {
            return Err(config_error(
                "an azure-tables:// URL needs an endpoint and a credential: \
                 azure-tables://ACCOUNT:KEY@HOST/TABLE, ?key_env=VAR, ?sas_env=VAR, \
                 ?connection_string_env=VAR or ?development_storage=true"
                    .into(),
            ));
        }
        if url.flag("sanitize")? == Some(true) {
            c = c.sanitize(true);
        }
        if let Some(b) = url.flag("auto_create")? {
            c.auto_create = b;
        }
        c.default_collection = url.option::<String>("default_collection")?;
        if let Some(secs) = url.option::<f64>("timeout")? {
            let d = Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    config_error(format!(
                        "invalid value {secs} for option `timeout`: expected positive seconds"
                    ))
                })?;
            c.http = c.http.timeout(d);
        }
        if let Some(n) = url.option::<usize>("concurrency")? {
            c.concurrency = n;
        }
        Ok(c)
    }

    /// The Table endpoint (`https://<account>.table.core.windows.net`, or an emulator's
    /// `http://127.0.0.1:10002/devstoreaccount1`).
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Sets the endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the credential.
    pub fn credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// Sets the table.
    pub fn with_table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Whether a missing table is created at the first write (default `true`, as in
    /// py-key-value; "already exists" is fine). With `false`, writes to a missing table are
    /// [`Setup`](ErrorKind::Setup) errors and reads find nothing.
    pub fn auto_create(mut self, create: bool) -> Self {
        self.auto_create = create;
        self
    }

    /// `true`: [`AzureTablesSanitizationStrategy`] for keys and collections (py-key-value's
    /// opt-in strategy: values Azure refuses, or longer than 256 characters, become `H_` +
    /// SHA-256); `false`: none (the default, as in py-key-value).
    pub fn sanitize(mut self, sanitize: bool) -> Self {
        if sanitize {
            self.key_strategy = Some(Arc::new(AzureTablesSanitizationStrategy));
            self.collection_strategy = Some(Arc::new(AzureTablesSanitizationStrategy));
        } else {
            self.key_strategy = None;
            self.collection_strategy = None;
        }
        self
    }

    /// The strategy that turns keys into `RowKey`s (py: `key_sanitization_strategy`;
    /// default none).
    pub fn key_sanitization_strategy(
        mut self,
        strategy: impl SanitizationStrategy + 'static,
    ) -> Self {
        self.key_strategy = Some(Arc::new(strategy));
        self
    }

    /// The strategy that turns collections into `PartitionKey`s (py:
    /// `collection_sanitization_strategy`; default none).
    pub fn collection_sanitization_strategy(
        mut self,
        strategy: impl SanitizationStrategy + 'static,
    ) -> Self {
        self.collection_strategy = Some(Arc::new(strategy));
        self
    }

    /// The collection used when a call names none (default `"default_collection"`).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by (default the system clock). Requests are always dated
    /// by the system clock, which the service checks.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Timeouts and TLS trust of the HTTP client (default: 30 s per request, the platform's
    /// roots).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// How many requests `get_many`, `put_many` and `delete_many` keep in flight at most
    /// (default 16).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests;
        self
    }

    /// Makes the store. Nothing is sent yet (the table is created at the first write), so an
    /// unreachable service or a wrong key shows up at the first call. An invalid table name,
    /// endpoint or option is an [`ErrorKind::Config`] error. Needs no runtime.
    pub fn open(self) -> Result<AzureTablesStore> {
        if !is_valid_table_name(&self.table) {
            return Err(config_error(format!(
                "invalid table name {:?}: 3 to 63 letters and digits, starting with a letter",
                self.table
            )));
        }
        if self.concurrency == 0 {
            return Err(config_error("concurrency must be at least 1".into()));
        }
        let (Some(endpoint), Some(credential)) = (&self.endpoint, &self.credential) else {
            return Err(config_error(
                "the store needs an endpoint and a credential".into(),
            ));
        };
        let client = crate::client::TablesClient::new(endpoint, credential.clone(), &self.http)?;
        Ok(AzureTablesStore::from_parts(self, client))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const KEY: &str = "c2VjcmV0LWtleS1ieXRlcw==";

    #[test]
    fn connection_strings() {
        let cs = ConnectionString::parse(&format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_ACCOUNT_KEY};TableEndpoint=http://127.0.0.1:11002/devstoreaccount1/;"
        ))
        .unwrap();
        assert_eq!(cs.endpoint(), "http://127.0.0.1:11002/devstoreaccount1");
        assert!(matches!(cs.credential(), Credential::SharedKey { .. }));
        assert_eq!(cs.credential().account(), Some("devstoreaccount1"));

        let cs = ConnectionString::parse(&format!(
            "accountname=acme; accountkey={KEY}; endpointsuffix=core.chinacloudapi.cn"
        ))
        .unwrap();
        assert_eq!(cs.endpoint(), "https://acme.table.core.chinacloudapi.cn");

        let cs = ConnectionString::parse(
            "TableEndpoint=https://acme.table.core.windows.net;SharedAccessSignature=sv=2019-02-02&sig=SeCrEt",
        )
        .unwrap();
        assert!(matches!(cs.credential(), Credential::Sas { .. }));
        assert!(!format!("{cs:?}").contains("SeCrEt"));

        let cs = ConnectionString::parse(
            "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://10.0.0.5",
        )
        .unwrap();
        assert_eq!(cs.endpoint(), "http://10.0.0.5:10002/devstoreaccount1");
        assert_eq!(cs.credential().account(), Some(DEVELOPMENT_ACCOUNT));
    }

    #[test]
    fn bad_connection_strings_do_not_show_secrets() {
        for bad in [
            format!("AccountName=acme;{KEY}"),
            format!("AccountKey={KEY}"),
            "AccountName=acme".to_string(),
            "AccountName=acme;AccountKey=not-base64-SeCrEt!".to_string(),
            String::new(),
        ] {
            let err = ConnectionString::parse(&bad).err().unwrap();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
            let text = format!("{err} {err:?}");
            assert!(!text.contains(KEY) && !text.contains("SeCrEt"), "{text}");
        }
    }

    #[test]
    fn debug_of_the_config_hides_the_key_and_the_sas() {
        let config = AzureTablesConfig::from_connection_string(
            &format!("AccountName=acme;AccountKey={KEY}"),
            "kv",
        )
        .unwrap();
        let text = format!("{config:?}");
        assert!(text.contains("acme") && !text.contains(KEY), "{text}");
        let config = AzureTablesConfig::new("https://h", Credential::sas("sig=SeCrEt"), "kvt");
        assert!(!format!("{config:?}").contains("SeCrEt"));
        let store = config.open().unwrap();
        assert!(!format!("{store:?}").contains("SeCrEt"));
    }

    #[test]
    fn urls() {
        let parse = |s: &str| AzureTablesConfig::from_url(&StoreUrl::parse(s).unwrap());
        let c = parse("azure-tables://acme:c2VjcmV0LWtleS1ieXRlcw%3D%3D@acme.table.core.windows.net/kvstore?sanitize=true&auto_create=false&concurrency=4&timeout=2.5").unwrap();
        assert_eq!(c.endpoint(), Some("https://acme.table.core.windows.net"));
        assert_eq!(c.table(), "kvstore");
        assert!(c.key_strategy.is_some() && c.collection_strategy.is_some());
        assert!(!c.auto_create);
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.http.timeout, Duration::from_millis(2500));
        assert!(!format!("{c:?}").contains(KEY));

        let c =
            parse("azure-tables:///kvstore?development_storage=true&auth=shared_key_lite").unwrap();
        assert_eq!(c.endpoint(), Some(DEVELOPMENT_TABLE_ENDPOINT));
        assert!(matches!(
            c.credential,
            Some(Credential::SharedKeyLite { .. })
        ));

        for bad in [
            "azure-tables://acme.table.core.windows.net/kvstore",
            "azure-tables://acme:c2VjcmV0@h/",
            "azure-tables://acme:c2VjcmV0@h/t?bogus=1",
            "azure-tables://acme:c2VjcmV0@h/t?auth=oauth",
            "azure-tables:///t?key_env=KV_TEST_SURELY_UNSET_VARIABLE",
            "redis://h/t",
        ] {
            let err = parse(bad).err().unwrap();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        }
        let err = parse("azure-tables://acme:c2VjcmV0@h/bad_table")
            .unwrap()
            .open()
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}

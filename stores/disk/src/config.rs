//! [`DiskConfig`] and [`MultiDiskConfig`]: each is both the builder of its store and what its
//! URL parses into, so `DiskConfig::from_url(&url)?.open()` and
//! `DiskConfig::new(dir).max_size(n).open()` are one code path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::{Clock, Error, ErrorKind, Result};

use crate::cache::{CacheOptions, Synchronous};
use crate::{DiskStore, MultiDiskStore};

/// diskcache's default: a locked database is retried for 60 seconds.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The options both configs share.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    pub directory: PathBuf,
    pub max_size: Option<u64>,
    pub default_collection: Option<String>,
    pub clock: Clock,
    pub auto_create: bool,
    pub synchronous: Option<Synchronous>,
    pub busy_timeout: Duration,
}

impl Common {
    fn new(directory: PathBuf) -> Self {
        Common {
            directory,
            max_size: None,
            default_collection: None,
            clock: Clock::system(),
            auto_create: true,
            synchronous: None,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }

    fn from_url(url: &StoreUrl, scheme: &str) -> Result<Self> {
        if url.scheme() != scheme {
            return Err(Error::new(
                ErrorKind::Config,
                format!("expected a {scheme}:// URL, got {}://", url.scheme()),
            ));
        }
        url.check_options(&[
            "max_size",
            "default_collection",
            "auto_create",
            "synchronous",
            "busy_timeout",
        ])?;
        let mut c = Common::new(url.file_path()?);
        c.max_size = url.option::<u64>("max_size")?.filter(|n| *n > 0);
        c.default_collection = url.option::<String>("default_collection")?;
        if let Some(b) = url.flag("auto_create")? {
            c.auto_create = b;
        }
        if let Some(s) = url.option::<String>("synchronous")? {
            c.synchronous = Some(Synchronous::parse(&s).ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "invalid value {s:?} for option `synchronous`: expected normal or full"
                    ),
                )
            })?);
        }
        if let Some(secs) = url.option::<f64>("busy_timeout")? {
            c.busy_timeout = Duration::try_from_secs_f64(secs).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("invalid value {secs} for option `busy_timeout`: {e}"),
                )
            })?;
        }
        Ok(c)
    }

    pub(crate) fn cache_options(&self) -> CacheOptions {
        CacheOptions {
            size_limit: self.max_size,
            synchronous: self.synchronous,
            busy_timeout: self.busy_timeout,
        }
    }

    /// Creates the directory if missing and allowed; a `Setup` error otherwise.
    pub(crate) fn ensure_directory(&self, what: &str) -> Result<()> {
        ensure_directory(&self.directory, self.auto_create, what)
    }
}

/// Makes sure `dir` exists: created when `auto_create`, else a `Setup` error (py-key-value's
/// "does not exist. Either create the directory manually or set auto_create=True.").
pub(crate) fn ensure_directory(dir: &Path, auto_create: bool, what: &str) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if dir.exists() {
        return Err(Error::new(
            ErrorKind::Setup,
            format!("the {what} {} exists but is not a directory", dir.display()),
        ));
    }
    if !auto_create {
        return Err(Error::new(
            ErrorKind::Setup,
            format!(
                "the {what} {} does not exist; create it, or set auto_create",
                dir.display()
            ),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::new(
            ErrorKind::Setup,
            format!("cannot create the {what} {}: {e}", dir.display()),
        )
        .with_source(e)
    })
}

macro_rules! common_setters {
    () => {
        /// Bounds the size of the cache (`diskcache`'s `size_limit`, in bytes): SQLite pages plus
        /// value files. Writes then evict the least recently *stored* entries as diskcache does;
        /// see the [crate docs](crate#max_size-a-byte-bound). `0` means unbounded (the default).
        pub fn max_size(mut self, bytes: u64) -> Self {
            self.common.max_size = (bytes > 0).then_some(bytes);
            self
        }

        /// The collection used when a call names none (default `"default_collection"`).
        pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
            self.common.default_collection = Some(collection.into());
            self
        }

        /// The clock expiry and store times are measured by (a
        /// [`ManualClock`](key_value_core::ManualClock) in tests; default: the system clock).
        pub fn clock(mut self, clock: Clock) -> Self {
            self.common.clock = clock;
            self
        }

        /// Whether a missing directory is created (default `true`); when `false`, opening a
        /// missing one is an [`ErrorKind::Setup`] error.
        pub fn auto_create(mut self, auto_create: bool) -> Self {
            self.common.auto_create = auto_create;
            self
        }

        /// Stores SQLite's `synchronous` level in the cache's settings (`sqlite_synchronous`,
        /// which Python's diskcache also applies). Unset, a cache keeps its stored level,
        /// `NORMAL` for a new one. See the [crate docs](crate#durability).
        pub fn synchronous(mut self, level: Synchronous) -> Self {
            self.common.synchronous = Some(level);
            self
        }

        /// How long a call retries while another connection or process holds the database's
        /// write lock before failing with a temporary [`ErrorKind::Timeout`] error (default
        /// 60 s, diskcache's `timeout`).
        pub fn busy_timeout(mut self, timeout: Duration) -> Self {
            self.common.busy_timeout = timeout;
            self
        }

        /// The directory.
        pub fn directory(&self) -> &Path {
            &self.common.directory
        }

        /// The size bound, if any.
        pub fn max_size_bytes(&self) -> Option<u64> {
            self.common.max_size
        }

        /// Whether a missing directory is created.
        pub fn creates_directory(&self) -> bool {
            self.common.auto_create
        }

        /// The default collection, if one was set.
        pub fn default_collection_name(&self) -> Option<&str> {
            self.common.default_collection.as_deref()
        }
    };
}

/// The configuration of a [`DiskStore`]: its builder, and what a `disk://` URL parses into.
///
/// ```no_run
/// use key_value_disk::DiskConfig;
/// use key_value_core::config::StoreUrl;
///
/// let store = DiskConfig::new("/var/cache/app").max_size(1 << 30).open()?;
/// let same = DiskConfig::from_url(&StoreUrl::parse("disk:///var/cache/app?max_size=1073741824")?)?;
/// assert_eq!(same.max_size_bytes(), Some(1 << 30));
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// URL options: `max_size` (bytes), `default_collection`, `auto_create` (`true`/`false`),
/// `synchronous` (`normal`/`full`), `busy_timeout` (seconds). Unknown options are errors.
#[derive(Debug, Clone)]
pub struct DiskConfig {
    pub(crate) common: Common,
}

impl DiskConfig {
    /// The URL scheme: `disk:///absolute/path`, `disk://./relative`, `disk://~/in/home`.
    pub const SCHEME: &'static str = "disk";

    /// A store in `directory`, with the defaults: unbounded, directory created if missing,
    /// system clock.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        DiskConfig {
            common: Common::new(directory.into()),
        }
    }

    /// Parses a `disk://` URL; a wrong scheme, a bad or unknown option is an
    /// [`ErrorKind::Config`] error.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        Ok(DiskConfig {
            common: Common::from_url(url, Self::SCHEME)?,
        })
    }

    common_setters!();

    /// Opens the store: creates the directory (if allowed) and `cache.db` as diskcache does,
    /// or opens the existing one. This does blocking file I/O (a few milliseconds).
    pub fn open(self) -> Result<DiskStore> {
        DiskStore::from_config(self)
    }
}

/// The configuration of a [`MultiDiskStore`]: its builder, and what a `multidisk://` URL parses
/// into. `max_size` bounds each collection's cache separately, as in py-key-value.
///
/// ```no_run
/// use key_value_disk::MultiDiskConfig;
/// let store = MultiDiskConfig::new("/var/cache/app-by-collection").open()?;
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// URL options: as [`DiskConfig`]'s.
#[derive(Debug, Clone)]
pub struct MultiDiskConfig {
    pub(crate) common: Common,
}

impl MultiDiskConfig {
    /// The URL scheme: `multidisk:///absolute/path` (and the relative forms of `disk://`).
    pub const SCHEME: &'static str = "multidisk";

    /// A store with one cache per collection under `base_directory`.
    pub fn new(base_directory: impl Into<PathBuf>) -> Self {
        MultiDiskConfig {
            common: Common::new(base_directory.into()),
        }
    }

    /// Parses a `multidisk://` URL; a wrong scheme, a bad or unknown option is an
    /// [`ErrorKind::Config`] error.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        Ok(MultiDiskConfig {
            common: Common::from_url(url, Self::SCHEME)?,
        })
    }

    common_setters!();

    /// Opens the store: creates the base directory (if allowed). Collections are opened on
    /// first use.
    pub fn open(self) -> Result<MultiDiskStore> {
        MultiDiskStore::from_config(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_every_option() {
        let url = StoreUrl::parse(
            "disk:///tmp/x?max_size=1024&default_collection=users&auto_create=false&synchronous=full&busy_timeout=2.5",
        )
        .unwrap();
        let c = DiskConfig::from_url(&url).unwrap();
        assert_eq!(c.directory(), Path::new("/tmp/x"));
        assert_eq!(c.max_size_bytes(), Some(1024));
        assert_eq!(c.default_collection_name(), Some("users"));
        assert!(!c.creates_directory());
        assert_eq!(c.common.synchronous, Some(Synchronous::Full));
        assert_eq!(c.common.busy_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for bad in [
            "disk:///tmp/x?max_sise=1",
            "disk:///tmp/x?max_size=-1",
            "disk:///tmp/x?auto_create=maybe",
            "disk:///tmp/x?synchronous=off",
            "disk:///tmp/x?busy_timeout=-1",
            "disk://host/x",
            "multidisk:///tmp/x",
        ] {
            let url = StoreUrl::parse(bad).unwrap();
            let err = DiskConfig::from_url(&url).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}: {err}");
        }
        let url = StoreUrl::parse("disk:///tmp/x").unwrap();
        assert_eq!(
            MultiDiskConfig::from_url(&url).unwrap_err().kind(),
            ErrorKind::Config
        );
    }

    #[test]
    fn zero_max_size_means_unbounded_as_in_py_key_value() {
        assert_eq!(DiskConfig::new("/x").max_size(0).max_size_bytes(), None);
        let url = StoreUrl::parse("multidisk:///x?max_size=0").unwrap();
        assert_eq!(
            MultiDiskConfig::from_url(&url).unwrap().max_size_bytes(),
            None
        );
    }
}

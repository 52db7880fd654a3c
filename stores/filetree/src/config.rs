//! [`FileTreeConfig`]: the builder of a [`FileTreeStore`] and the target of `filetree://` URLs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use key_value_core::config::StoreUrl;
use key_value_core::sanitize::{
    FileTreeV1CollectionSanitizationStrategy, FileTreeV1KeySanitizationStrategy,
    PassthroughStrategy, SanitizationStrategy,
};
use key_value_core::{Clock, Error, ErrorKind, Result};

use crate::FileTreeStore;

/// The options of a [`FileTreeStore`]: its builder, and the target of `filetree://` URLs.
///
/// ```
/// use key_value_filetree::FileTreeConfig;
/// use key_value_core::config::StoreUrl;
/// use key_value_core::KeyValue;
///
/// let dir = tempfile::tempdir()?;
/// let store = FileTreeConfig::new(dir.path().join("data"))
///     .metadata_directory(dir.path().join("meta"))
///     .default_collection("users")
///     .v1_sanitization()?
///     .open()?;
/// assert_eq!(store.info().default_collection(), "users");
///
/// let url = StoreUrl::parse(&format!(
///     "filetree://{}?sanitize=v1&default_collection=users&auto_create=false",
///     dir.path().join("data").display()
/// ))?;
/// let same = FileTreeConfig::from_url(&url)?.open()?;
/// assert_eq!(same.data_directory(), store.data_directory());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "call open() to get the store"]
pub struct FileTreeConfig {
    data_directory: PathBuf,
    metadata_directory: Option<PathBuf>,
    default_collection: Option<String>,
    clock: Clock,
    auto_create: bool,
    key_sanitization: Option<Arc<dyn SanitizationStrategy>>,
    collection_sanitization: Option<Arc<dyn SanitizationStrategy>>,
}

impl FileTreeConfig {
    /// The URL scheme of this store: `filetree`.
    pub const SCHEME: &'static str = crate::SCHEME;

    /// The options known in a `filetree://` URL.
    pub const URL_OPTIONS: &'static [&'static str] = &[
        "default_collection",
        "sanitize",
        "metadata_directory",
        "auto_create",
    ];

    /// A store in `data_directory`, with py-key-value's defaults: the metadata (info files)
    /// in the same directory, no sanitization, directories created when missing, the default
    /// collection `"default_collection"` and the system clock.
    pub fn new(data_directory: impl Into<PathBuf>) -> Self {
        FileTreeConfig {
            data_directory: data_directory.into(),
            metadata_directory: None,
            default_collection: None,
            clock: Clock::system(),
            auto_create: true,
            key_sanitization: None,
            collection_sanitization: None,
        }
    }

    /// The options of a `filetree://` URL: the path is the data directory
    /// (`filetree:///abs/path`, `filetree://./relative`, `filetree://~/in/home`), and
    ///
    /// - `default_collection=NAME`;
    /// - `sanitize=v1` for the [FileTree V1 strategies](Self::v1_sanitization) (`none` or
    ///   `passthrough`, the default, for none);
    /// - `metadata_directory=PATH` (default: the data directory);
    /// - `auto_create=false` to require existing directories (default `true`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for another scheme, an unknown option or a bad value.
    pub fn from_url(url: &StoreUrl) -> Result<Self> {
        if url.scheme() != Self::SCHEME {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "a FileTreeStore URL starts with {}://, not {}://",
                    Self::SCHEME,
                    url.scheme()
                ),
            ));
        }
        url.check_options(Self::URL_OPTIONS)?;
        let mut config = FileTreeConfig::new(url.file_path()?);
        if let Some(dir) = url.option::<String>("metadata_directory")? {
            if dir.is_empty() {
                return Err(Error::new(
                    ErrorKind::Config,
                    "the option `metadata_directory` needs a path",
                ));
            }
            config = config.metadata_directory(dir);
        }
        if let Some(collection) = url.option::<String>("default_collection")? {
            config = config.default_collection(collection);
        }
        if let Some(auto_create) = url.flag("auto_create")? {
            config = config.auto_create(auto_create);
        }
        match url.option::<String>("sanitize")?.as_deref() {
            None | Some("none" | "passthrough") => {}
            Some("v1") => config = config.v1_sanitization()?,
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("invalid value {other:?} for option `sanitize`: expected v1 or none"),
                ));
            }
        }
        Ok(config)
    }

    /// Where the collection info files (`<collection>-info.json`) go; by default the data
    /// directory.
    pub fn metadata_directory(mut self, directory: impl Into<PathBuf>) -> Self {
        self.metadata_directory = Some(directory.into());
        self
    }

    /// The collection used when a call names none (default `"default_collection"`; an empty
    /// name keeps the default, as in py-key-value).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// The clock expiry is measured by, for `keys()` and `cull()` as for reads (a
    /// [`ManualClock`](key_value_core::ManualClock) in tests). It also dates new info files.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Whether missing directories are created (default `true`). With `false`, a missing
    /// data or metadata directory makes [`open`](Self::open) fail, and a write to a
    /// collection whose directory is missing fails, both with [`ErrorKind::Setup`].
    pub fn auto_create(mut self, auto_create: bool) -> Self {
        self.auto_create = auto_create;
        self
    }

    /// How keys become file names (default: unchanged, py-key-value's `PassthroughStrategy`).
    ///
    /// With a strategy set, the store no longer declares a `max_key_length` (it cannot know
    /// what the strategy produces); too long file names are still
    /// [`ErrorKind::InvalidKey`] errors.
    pub fn key_sanitization(mut self, strategy: Arc<dyn SanitizationStrategy>) -> Self {
        self.key_sanitization = Some(strategy);
        self
    }

    /// How collection names become directory names (default: unchanged). As for
    /// [`key_sanitization`](Self::key_sanitization), a strategy removes the declared
    /// `max_collection_length`.
    pub fn collection_sanitization(mut self, strategy: Arc<dyn SanitizationStrategy>) -> Self {
        self.collection_sanitization = Some(strategy);
        self
    }

    /// Both of py-key-value's FileTree V1 strategies, for this data directory
    /// ([`FileTreeV1KeySanitizationStrategy`] and [`FileTreeV1CollectionSanitizationStrategy`]):
    /// ASCII letters, digits and `_` are kept, anything else is replaced and marked with `S_`
    /// and a hash, and names are kept within the file name limit. The same layout as a
    /// py-key-value store configured with
    /// `FileTreeV1KeySanitizationStrategy(directory=data_directory)` and
    /// `FileTreeV1CollectionSanitizationStrategy(directory=data_directory)`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when the data directory's path is so long that fewer than 16
    /// characters are left for file names.
    pub fn v1_sanitization(self) -> Result<Self> {
        let keys = FileTreeV1KeySanitizationStrategy::new(&self.data_directory)?;
        let collections = FileTreeV1CollectionSanitizationStrategy::new(&self.data_directory)?;
        Ok(self
            .key_sanitization(Arc::new(keys))
            .collection_sanitization(Arc::new(collections)))
    }

    /// Opens the store: creates the data and metadata directories if missing (unless
    /// `auto_create` is off) and resolves them to absolute paths without symbolic links.
    /// This does blocking I/O once, like py-key-value's constructor.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Setup`] when a directory is missing and may not be created, cannot be
    /// created, or is not a directory.
    pub fn open(self) -> Result<FileTreeStore> {
        let root = prepare_directory(&self.data_directory, self.auto_create, "data")?;
        let meta = match &self.metadata_directory {
            Some(dir) => prepare_directory(dir, self.auto_create, "metadata")?,
            None => root.clone(),
        };
        let limits = (
            self.key_sanitization.is_none(),
            self.collection_sanitization.is_none(),
        );
        let passthrough: Arc<dyn SanitizationStrategy> = Arc::new(PassthroughStrategy);
        Ok(FileTreeStore::from_parts(
            root,
            meta,
            self.key_sanitization.unwrap_or_else(|| passthrough.clone()),
            self.collection_sanitization.unwrap_or(passthrough),
            limits,
            self.auto_create,
            self.clock,
            self.default_collection,
        ))
    }
}

/// Checks (and creates, if allowed) a directory, then returns its canonical path.
fn prepare_directory(path: &Path, auto_create: bool, what: &str) -> Result<PathBuf> {
    let fail = |message: String, e: Option<io::Error>| {
        let err = Error::new(ErrorKind::Setup, message);
        match e {
            Some(e) => err.with_source(e),
            None => err,
        }
    };
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(fail(
                format!(
                    "the {what} directory '{}' exists and is not a directory",
                    path.display()
                ),
                None,
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !auto_create {
                return Err(fail(
                    format!(
                        "Directory '{}' does not exist. Either create the directory manually or set auto_create=true.",
                        path.display()
                    ),
                    None,
                ));
            }
            fs::create_dir_all(path).map_err(|e| {
                let message = format!(
                    "cannot create the {what} directory '{}': {e}",
                    path.display()
                );
                fail(message, Some(e))
            })?;
        }
        Err(e) => {
            let message = format!(
                "cannot inspect the {what} directory '{}': {e}",
                path.display()
            );
            return Err(fail(message, Some(e)));
        }
    }
    fs::canonicalize(path).map_err(|e| {
        let message = format!(
            "cannot resolve the {what} directory '{}': {e}",
            path.display()
        );
        fail(message, Some(e))
    })
}

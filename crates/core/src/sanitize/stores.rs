//! The per-store strategies of py-key-value 0.4.6 ("V1" strategies, S3, Azure Tables,
//! Firestore), each producing exactly what the Python store's strategy produces.

use std::borrow::Cow;
use std::path::Path;

use super::SanitizationStrategy;
use super::low_level::{
    ALPHANUMERIC_CHARACTERS, HASHED_PREFIX, HashFragmentMode, MINIMUM_MAX_LENGTH, SANITIZED_PREFIX,
    char_len, generate_hash_fragment, hash_excess_length_unchecked, longer_than, sha256_hex,
    truncate_to_bytes,
};
use super::strategies::{
    AlwaysHashStrategy, HashExcessLengthStrategy, HybridSanitizationStrategy,
    reject_reserved_prefixes,
};
use crate::error::{Error, ErrorKind, Result};

/// Implements [`SanitizationStrategy`], `AsRef<$inner>` and `From<$ty> for $inner` for a
/// newtype around a generic strategy.
macro_rules! preset_of {
    ($ty:ident, $inner:ty) => {
        impl SanitizationStrategy for $ty {
            fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
                self.0.sanitize(value)
            }

            fn validate(&self, value: &str) -> Result<()> {
                self.0.validate(value)
            }

            fn try_unsanitize(&self, value: &str) -> Option<String> {
                self.0.try_unsanitize(value)
            }
        }

        impl AsRef<$inner> for $ty {
            fn as_ref(&self) -> &$inner {
                &self.0
            }
        }

        impl From<$ty> for $inner {
            fn from(preset: $ty) -> $inner {
                preset.0
            }
        }
    };
}

/// `A-Z a-z 0-9 _ - .`, the characters Elasticsearch and OpenSearch V1 keep in index names.
const INDEX_ALLOWED_CHARACTERS: &str =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.";

/// ASCII letters, digits and `_`.
const ALPHANUMERIC_AND_UNDERSCORE: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

// ------------------------------------------------------------------------------------------
// Memcached
// ------------------------------------------------------------------------------------------

/// Memcached keys (py: `MemcachedV1KeySanitizationStrategy`): a
/// [`HashExcessLengthStrategy`] with `max_length` 240, applied by the store to the compound
/// `"collection::key"`.
///
/// ```
/// use key_value_core::sanitize::{MemcachedV1KeySanitizationStrategy, SanitizationStrategy};
///
/// let s = MemcachedV1KeySanitizationStrategy::new();
/// assert_eq!(s.sanitize("users::user:1"), "users::user:1");
/// let long = "k".repeat(241);
/// assert_eq!(
///     s.sanitize(&long),
///     "H_74bb436be223189a34bf2ce2b5ccebf582f696060c4d83ce52c3cec08fb642d1"
/// );
/// assert!(s.validate("S_x").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemcachedV1KeySanitizationStrategy(HashExcessLengthStrategy);

impl MemcachedV1KeySanitizationStrategy {
    /// Memcached's key limit as used by py-key-value (the protocol allows 250 bytes).
    pub const MAX_LENGTH: usize = 240;

    /// The strategy.
    pub fn new() -> Self {
        MemcachedV1KeySanitizationStrategy(HashExcessLengthStrategy::default())
    }
}

impl Default for MemcachedV1KeySanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(MemcachedV1KeySanitizationStrategy, HashExcessLengthStrategy);

// ------------------------------------------------------------------------------------------
// MongoDB
// ------------------------------------------------------------------------------------------

/// MongoDB collection names (py: `MongoDBV1CollectionSanitizationStrategy`): a
/// [`HybridSanitizationStrategy`] with `max_length` 200, ASCII letters, digits and `_`
/// allowed, hash fragment only if changed.
///
/// ```
/// use key_value_core::sanitize::{MongoDbV1CollectionSanitizationStrategy, SanitizationStrategy};
///
/// let s = MongoDbV1CollectionSanitizationStrategy::new();
/// assert_eq!(s.sanitize("test_collection"), "test_collection");
/// assert_eq!(s.sanitize("test_collection!@#$%^&*()"), "S_test_collection_-daf4a2ec");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoDbV1CollectionSanitizationStrategy(HybridSanitizationStrategy);

impl MongoDbV1CollectionSanitizationStrategy {
    /// The maximum collection name length used by py-key-value.
    pub const MAX_LENGTH: usize = 200;

    /// The strategy.
    pub fn new() -> Self {
        MongoDbV1CollectionSanitizationStrategy(HybridSanitizationStrategy::preset(
            Self::MAX_LENGTH,
            ALPHANUMERIC_AND_UNDERSCORE,
            HashFragmentMode::OnlyIfChanged,
        ))
    }
}

impl Default for MongoDbV1CollectionSanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(
    MongoDbV1CollectionSanitizationStrategy,
    HybridSanitizationStrategy
);

// ------------------------------------------------------------------------------------------
// Elasticsearch / OpenSearch
// ------------------------------------------------------------------------------------------

/// Elasticsearch document ids (py: `ElasticsearchV1KeySanitizationStrategy`): an
/// [`AlwaysHashStrategy`] with 64 hex digits.
///
/// ```
/// use key_value_core::sanitize::{ElasticsearchV1KeySanitizationStrategy, SanitizationStrategy};
///
/// let s = ElasticsearchV1KeySanitizationStrategy::new();
/// assert_eq!(
///     s.sanitize("test"),
///     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ElasticsearchV1KeySanitizationStrategy(AlwaysHashStrategy);

impl ElasticsearchV1KeySanitizationStrategy {
    /// The strategy.
    pub fn new() -> Self {
        ElasticsearchV1KeySanitizationStrategy(AlwaysHashStrategy::default())
    }
}

impl Default for ElasticsearchV1KeySanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(ElasticsearchV1KeySanitizationStrategy, AlwaysHashStrategy);

/// Elasticsearch index names (py: `ElasticsearchV1CollectionSanitizationStrategy`): a
/// [`HybridSanitizationStrategy`] with `max_length` 200, `A-Z a-z 0-9 _ - .` allowed and the
/// hash fragment **always** added, so every collection becomes `S_<collection>-<hash8>` (the
/// store then lower-cases the index name).
///
/// ```
/// use key_value_core::sanitize::{
///     ElasticsearchV1CollectionSanitizationStrategy, SanitizationStrategy,
/// };
///
/// let s = ElasticsearchV1CollectionSanitizationStrategy::new();
/// assert_eq!(s.sanitize("users"), "S_users-7dfb4cf6");
/// assert_eq!(s.sanitize("my collection"), "S_my_collection-a84b8a37");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticsearchV1CollectionSanitizationStrategy(HybridSanitizationStrategy);

impl ElasticsearchV1CollectionSanitizationStrategy {
    /// The maximum index name length used by py-key-value.
    pub const MAX_LENGTH: usize = 200;

    /// The strategy.
    pub fn new() -> Self {
        ElasticsearchV1CollectionSanitizationStrategy(HybridSanitizationStrategy::preset(
            Self::MAX_LENGTH,
            INDEX_ALLOWED_CHARACTERS,
            HashFragmentMode::Always,
        ))
    }
}

impl Default for ElasticsearchV1CollectionSanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(
    ElasticsearchV1CollectionSanitizationStrategy,
    HybridSanitizationStrategy
);

/// OpenSearch document ids (py: `OpenSearchV1KeySanitizationStrategy`): the same as
/// [`ElasticsearchV1KeySanitizationStrategy`], a 64-digit [`AlwaysHashStrategy`].
///
/// ```
/// use key_value_core::sanitize::{OpenSearchV1KeySanitizationStrategy, SanitizationStrategy};
///
/// let s = OpenSearchV1KeySanitizationStrategy::new();
/// assert_eq!(
///     s.sanitize("test"),
///     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpenSearchV1KeySanitizationStrategy(AlwaysHashStrategy);

impl OpenSearchV1KeySanitizationStrategy {
    /// The strategy.
    pub fn new() -> Self {
        OpenSearchV1KeySanitizationStrategy(AlwaysHashStrategy::default())
    }
}

impl Default for OpenSearchV1KeySanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(OpenSearchV1KeySanitizationStrategy, AlwaysHashStrategy);

/// OpenSearch index names (py: `OpenSearchV1CollectionSanitizationStrategy`): the same as
/// [`ElasticsearchV1CollectionSanitizationStrategy`].
///
/// ```
/// use key_value_core::sanitize::{OpenSearchV1CollectionSanitizationStrategy, SanitizationStrategy};
///
/// let s = OpenSearchV1CollectionSanitizationStrategy::new();
/// assert_eq!(s.sanitize("users"), "S_users-7dfb4cf6");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSearchV1CollectionSanitizationStrategy(HybridSanitizationStrategy);

impl OpenSearchV1CollectionSanitizationStrategy {
    /// The maximum index name length used by py-key-value.
    pub const MAX_LENGTH: usize = 200;

    /// The strategy.
    pub fn new() -> Self {
        OpenSearchV1CollectionSanitizationStrategy(HybridSanitizationStrategy::preset(
            Self::MAX_LENGTH,
            INDEX_ALLOWED_CHARACTERS,
            HashFragmentMode::Always,
        ))
    }
}

impl Default for OpenSearchV1CollectionSanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(
    OpenSearchV1CollectionSanitizationStrategy,
    HybridSanitizationStrategy
);

// ------------------------------------------------------------------------------------------
// Keyring / Windows registry
// ------------------------------------------------------------------------------------------

/// Keyring keys (py: `KeyringV1KeySanitizationStrategy`): a [`HybridSanitizationStrategy`]
/// with `max_length` 256, ASCII letters and digits allowed, hash fragment only if changed.
///
/// ```
/// use key_value_core::sanitize::{KeyringV1KeySanitizationStrategy, SanitizationStrategy};
///
/// let s = KeyringV1KeySanitizationStrategy::new();
/// assert_eq!(s.sanitize("token42"), "token42");
/// assert_eq!(s.sanitize("user:1"), "S_user_1-abc3a47b");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringV1KeySanitizationStrategy(HybridSanitizationStrategy);

impl KeyringV1KeySanitizationStrategy {
    /// The maximum length used by py-key-value.
    pub const MAX_LENGTH: usize = 256;

    /// The strategy.
    pub fn new() -> Self {
        KeyringV1KeySanitizationStrategy(HybridSanitizationStrategy::preset(
            Self::MAX_LENGTH,
            ALPHANUMERIC_CHARACTERS,
            HashFragmentMode::OnlyIfChanged,
        ))
    }
}

impl Default for KeyringV1KeySanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(KeyringV1KeySanitizationStrategy, HybridSanitizationStrategy);

/// Keyring collections (py: `KeyringV1CollectionSanitizationStrategy`): the same as
/// [`KeyringV1KeySanitizationStrategy`].
///
/// ```
/// use key_value_core::sanitize::{KeyringV1CollectionSanitizationStrategy, SanitizationStrategy};
///
/// let s = KeyringV1CollectionSanitizationStrategy::new();
/// assert_eq!(s.sanitize("user:1"), "S_user_1-abc3a47b");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringV1CollectionSanitizationStrategy(HybridSanitizationStrategy);

impl KeyringV1CollectionSanitizationStrategy {
    /// The maximum length used by py-key-value.
    pub const MAX_LENGTH: usize = 256;

    /// The strategy.
    pub fn new() -> Self {
        KeyringV1CollectionSanitizationStrategy(HybridSanitizationStrategy::preset(
            Self::MAX_LENGTH,
            ALPHANUMERIC_CHARACTERS,
            HashFragmentMode::OnlyIfChanged,
        ))
    }
}

impl Default for KeyringV1CollectionSanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(
    KeyringV1CollectionSanitizationStrategy,
    HybridSanitizationStrategy
);

/// Windows registry collections (registry key names) (py:
/// `WindowsRegistryV1CollectionSanitizationStrategy`): a [`HybridSanitizationStrategy`] with
/// `max_length` 96, ASCII letters and digits allowed, hash fragment only if changed.
///
/// ```
/// use key_value_core::sanitize::{
///     SanitizationStrategy, WindowsRegistryV1CollectionSanitizationStrategy,
/// };
///
/// let s = WindowsRegistryV1CollectionSanitizationStrategy::new();
/// assert_eq!(s.sanitize("Settings"), "Settings");
/// assert_eq!(s.sanitize(r"a\b"), "S_a_b-c62016d0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsRegistryV1CollectionSanitizationStrategy(HybridSanitizationStrategy);

impl WindowsRegistryV1CollectionSanitizationStrategy {
    /// The maximum length used by py-key-value.
    pub const MAX_LENGTH: usize = 96;

    /// The strategy.
    pub fn new() -> Self {
        WindowsRegistryV1CollectionSanitizationStrategy(HybridSanitizationStrategy::preset(
            Self::MAX_LENGTH,
            ALPHANUMERIC_CHARACTERS,
            HashFragmentMode::OnlyIfChanged,
        ))
    }
}

impl Default for WindowsRegistryV1CollectionSanitizationStrategy {
    fn default() -> Self {
        Self::new()
    }
}

preset_of!(
    WindowsRegistryV1CollectionSanitizationStrategy,
    HybridSanitizationStrategy
);

// ------------------------------------------------------------------------------------------
// File tree
// ------------------------------------------------------------------------------------------

/// The file name length limit the file tree strategies assume: 255, which is what
/// `os.pathconf(dir, "PC_NAME_MAX")` returns on Linux ext4, xfs, btrfs and tmpfs, and the
/// constant py-key-value uses on Windows. This crate does not ask the file system (no libc);
/// use `with_limits` for other values.
pub const FILE_TREE_NAME_MAX: usize = 255;

/// The path length limit the file tree strategies assume: 4096 (`os.pathconf(dir,
/// "PC_PATH_MAX")` on Linux) on Unix, 260 (py-key-value's constant, `MAX_PATH`) on Windows.
#[cfg(not(windows))]
pub const FILE_TREE_PATH_MAX: usize = 4096;

/// The path length limit the file tree strategies assume: 4096 (`os.pathconf(dir,
/// "PC_PATH_MAX")` on Linux) on Unix, 260 (py-key-value's constant, `MAX_PATH`) on Windows.
#[cfg(windows)]
pub const FILE_TREE_PATH_MAX: usize = 260;

/// `len(Path(directory).as_posix())` as Python computes it on a POSIX system: repeated
/// separators and `.` components dropped, a trailing separator dropped, exactly two leading
/// slashes kept (`//x`), an empty path is `.`; undecodable bytes count one character each
/// (Python's `surrogateescape`). On Windows `\` is also a separator (an approximation of
/// `PureWindowsPath`).
fn python_posix_len(directory: &Path) -> usize {
    #[cfg(unix)]
    let text: Cow<'_, str> = {
        use std::os::unix::ffi::OsStrExt;
        let bytes = directory.as_os_str().as_bytes();
        let mut out = String::with_capacity(bytes.len());
        for chunk in bytes.utf8_chunks() {
            out.push_str(chunk.valid());
            // one placeholder character per undecodable byte, like surrogateescape
            out.extend(chunk.invalid().iter().map(|_| '\u{FFFD}'));
        }
        Cow::Owned(out)
    };
    #[cfg(not(unix))]
    let text: Cow<'_, str> = Cow::Owned(directory.to_string_lossy().replace('\\', "/"));

    let stripped = text.trim_start_matches('/');
    let leading = text.len() - stripped.len();
    let root_len = match leading {
        0 => 0,
        2 => 2,
        _ => 1,
    };
    let mut parts = 0usize;
    let mut parts_len = 0usize;
    for part in stripped.split('/') {
        if !part.is_empty() && part != "." {
            parts += 1;
            parts_len += char_len(part);
        }
    }
    let len = root_len + parts_len + parts.saturating_sub(1);
    if len == 0 { 1 } else { len }
}

fn file_tree_strategy(
    max_length: isize,
    what: &str,
    directory: &Path,
) -> Result<HybridSanitizationStrategy> {
    if max_length < MINIMUM_MAX_LENGTH as isize {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "directory '{}' leaves only {max_length} characters for {what}, at least {MINIMUM_MAX_LENGTH} are needed",
                directory.display()
            ),
        ));
    }
    Ok(HybridSanitizationStrategy::preset(
        max_length.unsigned_abs(),
        ALPHANUMERIC_AND_UNDERSCORE,
        HashFragmentMode::OnlyIfChanged,
    ))
}

fn to_isize(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

/// File tree collection names, i.e. directory names (py:
/// `FileTreeV1CollectionSanitizationStrategy(directory)`): a [`HybridSanitizationStrategy`]
/// with ASCII letters, digits and `_` allowed, hash fragment only if changed, and `max_length`
/// `NAME_MAX - 10` (room for the `-info.json` suffix of the collection's info file): 245 with
/// the assumed [`FILE_TREE_NAME_MAX`] of 255.
///
/// py-key-value asks the file system (`os.pathconf`); this port assumes Linux's values
/// (see [`FILE_TREE_NAME_MAX`], or pass others to
/// [`with_limits`](Self::with_limits)), so the directory need not exist.
///
/// ```
/// use key_value_core::sanitize::{FileTreeV1CollectionSanitizationStrategy, SanitizationStrategy};
///
/// let s = FileTreeV1CollectionSanitizationStrategy::new("/var/lib/kv")?;
/// assert_eq!(s.as_ref().max_length(), 245);
/// assert_eq!(s.sanitize("users"), "users");
/// assert_eq!(s.sanitize("../etc"), "S__etc-f7f9121f");
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTreeV1CollectionSanitizationStrategy(HybridSanitizationStrategy);

impl FileTreeV1CollectionSanitizationStrategy {
    /// The strategy for collections stored under `directory`, assuming
    /// [`FILE_TREE_NAME_MAX`].
    ///
    /// # Errors
    ///
    /// Never with the assumed limits; see [`with_limits`](Self::with_limits).
    pub fn new(directory: impl AsRef<Path>) -> Result<Self> {
        Self::with_limits(directory, FILE_TREE_NAME_MAX)
    }

    /// The strategy for a file system whose file names have at most `name_max` characters.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when `name_max - 10` is below 16.
    pub fn with_limits(directory: impl AsRef<Path>, name_max: usize) -> Result<Self> {
        let max_length = to_isize(name_max) - 10;
        file_tree_strategy(max_length, "collection names", directory.as_ref()).map(Self)
    }
}

preset_of!(
    FileTreeV1CollectionSanitizationStrategy,
    HybridSanitizationStrategy
);

/// File tree keys, i.e. file names (py: `FileTreeV1KeySanitizationStrategy(directory)`): a
/// [`HybridSanitizationStrategy`] with ASCII letters, digits and `_` allowed, hash fragment
/// only if changed, and `max_length = min(PATH_MAX - len(directory), NAME_MAX - 5)` (5 for the
/// `.json` extension), where `len(directory)` is the length in characters of the normalized
/// path as Python's `Path(directory).as_posix()` writes it (`/a//b/./` counts as `/a/b`).
///
/// With the assumed limits ([`FILE_TREE_NAME_MAX`] 255, [`FILE_TREE_PATH_MAX`] 4096) that is
/// 250 for any directory shorter than 3846 characters.
///
/// ```
/// use key_value_core::sanitize::{FileTreeV1KeySanitizationStrategy, SanitizationStrategy};
///
/// let s = FileTreeV1KeySanitizationStrategy::new("/var/lib/kv/users")?;
/// assert_eq!(s.as_ref().max_length(), 250);
/// assert_eq!(s.sanitize("user_1"), "user_1");
/// assert_eq!(s.sanitize("user:1"), "S_user_1-abc3a47b");
///
/// // only 4096 - 4090 = 6 characters would be left for the file name
/// assert!(FileTreeV1KeySanitizationStrategy::new(format!("/{}", "d".repeat(4089))).is_err());
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTreeV1KeySanitizationStrategy(HybridSanitizationStrategy);

impl FileTreeV1KeySanitizationStrategy {
    /// The strategy for keys stored in `directory`, assuming [`FILE_TREE_NAME_MAX`] and
    /// [`FILE_TREE_PATH_MAX`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when the directory's path is so long that fewer than 16
    /// characters are left for file names (py-key-value would go on and produce names longer
    /// than the limit).
    pub fn new(directory: impl AsRef<Path>) -> Result<Self> {
        Self::with_limits(directory, FILE_TREE_NAME_MAX, FILE_TREE_PATH_MAX)
    }

    /// The strategy for a file system with the given `NAME_MAX` and `PATH_MAX`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when fewer than 16 characters are left for file names.
    pub fn with_limits(
        directory: impl AsRef<Path>,
        name_max: usize,
        path_max: usize,
    ) -> Result<Self> {
        let directory = directory.as_ref();
        let remaining = to_isize(path_max) - to_isize(python_posix_len(directory));
        let max_length = remaining.min(to_isize(name_max) - 5);
        file_tree_strategy(max_length, "key file names", directory).map(Self)
    }
}

preset_of!(
    FileTreeV1KeySanitizationStrategy,
    HybridSanitizationStrategy
);

// ------------------------------------------------------------------------------------------
// S3
// ------------------------------------------------------------------------------------------

fn check_max_bytes(max_bytes: usize) -> Result<usize> {
    if max_bytes < MINIMUM_MAX_LENGTH {
        return Err(Error::new(
            ErrorKind::Config,
            format!("max_length must be greater than or equal to {MINIMUM_MAX_LENGTH}"),
        ));
    }
    Ok(max_bytes)
}

/// S3 object key parts (py: `S3KeySanitizationStrategy(max_bytes=500)`): values of at most
/// `max_bytes` UTF-8 bytes are unchanged, longer ones become their longest prefix of at most
/// `max_bytes - 8` bytes followed by 8 hex digits of their SHA-256
/// ([`hash_excess_length`](super::hash_excess_length) with `length_is_bytes`).
///
/// `validate` accepts everything: no prefix is reserved, so a user value that happens to equal
/// the hashed form of a longer value collides with it.
///
/// ```
/// use key_value_core::sanitize::{S3KeySanitizationStrategy, SanitizationStrategy};
///
/// let s = S3KeySanitizationStrategy::new(16)?;
/// assert_eq!(s.sanitize("short"), "short");
/// assert_eq!(s.sanitize("ééééééééé"), "éééé322feef3"); // 18 bytes > 16
/// assert_eq!(S3KeySanitizationStrategy::default().max_bytes(), 500);
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct S3KeySanitizationStrategy {
    max_bytes: usize,
}

impl S3KeySanitizationStrategy {
    /// The default limit, 500 bytes (S3 keys may have 1024 bytes; the store uses
    /// `collection/key`).
    pub const DEFAULT_MAX_BYTES: usize = 500;

    /// A strategy limiting values to `max_bytes` UTF-8 bytes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when `max_bytes < 16` (py-key-value raises on every long value
    /// instead).
    pub fn new(max_bytes: usize) -> Result<Self> {
        Ok(S3KeySanitizationStrategy {
            max_bytes: check_max_bytes(max_bytes)?,
        })
    }

    /// The limit in UTF-8 bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

impl Default for S3KeySanitizationStrategy {
    fn default() -> Self {
        S3KeySanitizationStrategy {
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}

impl SanitizationStrategy for S3KeySanitizationStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        hash_excess_length_unchecked(value, self.max_bytes, true)
    }
}

/// S3 collection names (py: `S3CollectionSanitizationStrategy(max_bytes=500)`): the same as
/// [`S3KeySanitizationStrategy`].
///
/// ```
/// use key_value_core::sanitize::{S3CollectionSanitizationStrategy, SanitizationStrategy};
///
/// let s = S3CollectionSanitizationStrategy::default();
/// assert_eq!(s.sanitize("users"), "users");
/// assert!(s.sanitize(&"日".repeat(200)).len() <= 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct S3CollectionSanitizationStrategy {
    max_bytes: usize,
}

impl S3CollectionSanitizationStrategy {
    /// The default limit, 500 bytes.
    pub const DEFAULT_MAX_BYTES: usize = 500;

    /// A strategy limiting values to `max_bytes` UTF-8 bytes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when `max_bytes < 16`.
    pub fn new(max_bytes: usize) -> Result<Self> {
        Ok(S3CollectionSanitizationStrategy {
            max_bytes: check_max_bytes(max_bytes)?,
        })
    }

    /// The limit in UTF-8 bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

impl Default for S3CollectionSanitizationStrategy {
    fn default() -> Self {
        S3CollectionSanitizationStrategy {
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}

impl SanitizationStrategy for S3CollectionSanitizationStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        hash_excess_length_unchecked(value, self.max_bytes, true)
    }
}

// ------------------------------------------------------------------------------------------
// Azure Tables
// ------------------------------------------------------------------------------------------

/// Azure Tables `PartitionKey` and `RowKey` values (py: `AzureTablesSanitizationStrategy`,
/// new in 0.4.6).
///
/// A value is safe when it has at most 256 characters and none of `/ \ # ?`, no C0 control
/// character (below U+0020) and no C1 control character (U+007F to U+009F). Safe values pass
/// unchanged; any other becomes `"H_"` and its whole SHA-256 (64 hex digits). `validate`
/// rejects values starting with `H_` or `S_`; `try_unsanitize` returns safe values unchanged
/// and `None` for `H_`/`S_` values.
///
/// ```
/// use key_value_core::sanitize::{AzureTablesSanitizationStrategy, SanitizationStrategy};
///
/// let s = AzureTablesSanitizationStrategy;
/// assert_eq!(s.sanitize("user:1"), "user:1");
/// assert_eq!(
///     s.sanitize("a/b"),
///     "H_c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11"
/// );
/// assert_eq!(
///     s.validate("S_x").unwrap_err().message(),
///     "Azure Tables keys cannot start with reserved prefixes 'H_' or 'S_': S_x"
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AzureTablesSanitizationStrategy;

impl AzureTablesSanitizationStrategy {
    /// The longest safe value, in characters.
    pub const MAX_LENGTH: usize = 256;

    /// Whether Azure Tables accepts `value` as a `PartitionKey`/`RowKey` as is.
    pub fn is_safe(value: &str) -> bool {
        !longer_than(value, Self::MAX_LENGTH)
            && value.chars().all(
                |c| !matches!(c, '/' | '\\' | '#' | '?' | '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'),
            )
    }
}

impl SanitizationStrategy for AzureTablesSanitizationStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        if Self::is_safe(value) {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(format!("{HASHED_PREFIX}{}", sha256_hex(value)))
        }
    }

    fn validate(&self, value: &str) -> Result<()> {
        reject_reserved_prefixes(value, "Azure Tables keys")
    }

    fn try_unsanitize(&self, value: &str) -> Option<String> {
        if value.starts_with(HASHED_PREFIX) || value.starts_with(SANITIZED_PREFIX) {
            None
        } else {
            Some(value.to_owned())
        }
    }
}

// ------------------------------------------------------------------------------------------
// Firestore
// ------------------------------------------------------------------------------------------

/// The longest Firestore id, in UTF-8 bytes.
const MAX_FIRESTORE_ID_BYTES: usize = 1500;

/// Whether Firestore rejects `value` as an id: empty, containing `/`, `.` or `..`, or
/// matching the regular expression `__.*__` in full (where `.` does not match a newline).
fn firestore_requires_sanitization(value: &str) -> bool {
    value.is_empty()
        || value.contains('/')
        || value == "."
        || value == ".."
        || (value.len() >= 4
            && value.starts_with("__")
            && value.ends_with("__")
            && !value[2..value.len() - 2].contains('\n'))
}

fn firestore_sanitize(value: &str) -> Cow<'_, str> {
    let changed = firestore_requires_sanitization(value);
    if value.len() > MAX_FIRESTORE_ID_BYTES {
        return Cow::Owned(format!("{HASHED_PREFIX}{}", sha256_hex(value)));
    }
    if !changed {
        return Cow::Borrowed(value);
    }
    let replaced = value.replace('/', "_");
    let hash = generate_hash_fragment(value, 64);
    let overhead = SANITIZED_PREFIX.len() + 1 + hash.len();
    let kept = truncate_to_bytes(&replaced, MAX_FIRESTORE_ID_BYTES - overhead);
    Cow::Owned(format!("{SANITIZED_PREFIX}{kept}-{hash}"))
}

/// Firestore document ids (py: `FirestoreV1KeySanitizationStrategy`, new in 0.4.6; not in the
/// 0.4.4 spec).
///
/// Values longer than 1500 UTF-8 bytes become `"H_"` and their whole SHA-256. Values Firestore
/// rejects (empty, containing `/`, `.`, `..`, or of the form `__…__` without a newline between
/// the underscores) become `"S_" + value.replace('/', '_') + "-" + sha256` (the middle part
/// truncated to 1433 bytes). Other values pass unchanged. `validate` rejects values starting
/// with `H_` or `S_`.
///
/// ```
/// use key_value_core::sanitize::{FirestoreV1KeySanitizationStrategy, SanitizationStrategy};
///
/// let s = FirestoreV1KeySanitizationStrategy;
/// assert_eq!(s.sanitize("user:1"), "user:1");
/// assert_eq!(
///     s.sanitize("a/b"),
///     "S_a_b-c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11"
/// );
/// assert_eq!(
///     s.validate("H_x").unwrap_err().message(),
///     "Firestore IDs cannot start with reserved prefixes 'H_' or 'S_': H_x"
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FirestoreV1KeySanitizationStrategy;

impl SanitizationStrategy for FirestoreV1KeySanitizationStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        firestore_sanitize(value)
    }

    fn validate(&self, value: &str) -> Result<()> {
        reject_reserved_prefixes(value, "Firestore IDs")
    }
}

/// Firestore collection ids (py: `FirestoreV1CollectionSanitizationStrategy`): the same as
/// [`FirestoreV1KeySanitizationStrategy`].
///
/// ```
/// use key_value_core::sanitize::{FirestoreV1CollectionSanitizationStrategy, SanitizationStrategy};
///
/// let s = FirestoreV1CollectionSanitizationStrategy;
/// assert_eq!(s.sanitize("users"), "users");
/// assert!(s.sanitize("__users__").starts_with("S___users__-"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FirestoreV1CollectionSanitizationStrategy;

impl SanitizationStrategy for FirestoreV1CollectionSanitizationStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        firestore_sanitize(value)
    }

    fn validate(&self, value: &str) -> Result<()> {
        reject_reserved_prefixes(value, "Firestore IDs")
    }
}

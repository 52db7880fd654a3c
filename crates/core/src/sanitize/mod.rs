//! Sanitization of keys and collection names: py-key-value 0.4.6's `_utils/sanitize.py`,
//! `_utils/sanitization.py` and per-store strategies, byte for byte.
//!
//! Backends restrict keys and collection names: Memcached keys have at most 250 bytes and no
//! spaces, Elasticsearch index names are lower-case without `\ / * ? " < > | , #`, file names
//! have at most 255 bytes, Azure Tables rejects `/ \ # ?` and control characters. A
//! [`SanitizationStrategy`] turns any user value into one the backend accepts, the same way
//! py-key-value does, so that a Rust and a Python program share the same stored data.
//!
//! # The contract
//!
//! - [`sanitize`](SanitizationStrategy::sanitize) maps a user value to the stored value. It is
//!   deterministic, never fails, and borrows the input when it is kept unchanged.
//! - [`validate`](SanitizationStrategy::validate) runs first and rejects user values that could
//!   collide with sanitized ones: the strategies that mark their output with a prefix reserve
//!   `H_` (hashed) and `S_` (sanitized), and reject user values starting with them with an
//!   [`ErrorKind::InvalidKey`](crate::ErrorKind::InvalidKey) error whose message is
//!   py-key-value's (`"Keys cannot start with reserved prefixes 'H_' or 'S_': <value>"`).
//! - [`try_unsanitize`](SanitizationStrategy::try_unsanitize) recovers the user value from a
//!   stored one when that is possible (for listing keys); most strategies cannot and return
//!   `None`.
//!
//! Stores call [`validate_and_sanitize`](SanitizationStrategy::validate_and_sanitize).
//!
//! # Which strategy
//!
//! | Strategy | Output | Use for |
//! |---|---|---|
//! | [`PassthroughStrategy`] | the value | backends without restrictions (the default of every store) |
//! | [`AlwaysHashStrategy`] | `sha256[..n]` | fixed-length ids that never need to be read back (Elasticsearch `_id`) |
//! | [`HashExcessLengthStrategy`] | the value, or `H_` + hash when too long | any characters, limited length (Memcached) |
//! | [`HybridSanitizationStrategy`] | the value, or `S_` + replaced/truncated value (+ `-` + hash fragment) | restricted characters and length (index, directory, registry names) |
//! | [`hash_excess_length`]-based S3 strategies | the value, or its prefix + 8 hex digits | byte-limited values (S3 keys) |
//!
//! and the presets of py-key-value's stores: [`MemcachedV1KeySanitizationStrategy`],
//! [`MongoDbV1CollectionSanitizationStrategy`], [`ElasticsearchV1KeySanitizationStrategy`],
//! [`ElasticsearchV1CollectionSanitizationStrategy`], [`OpenSearchV1KeySanitizationStrategy`],
//! [`OpenSearchV1CollectionSanitizationStrategy`], [`KeyringV1KeySanitizationStrategy`],
//! [`KeyringV1CollectionSanitizationStrategy`],
//! [`WindowsRegistryV1CollectionSanitizationStrategy`],
//! [`FileTreeV1CollectionSanitizationStrategy`], [`FileTreeV1KeySanitizationStrategy`],
//! [`S3KeySanitizationStrategy`], [`S3CollectionSanitizationStrategy`],
//! [`AzureTablesSanitizationStrategy`], [`FirestoreV1KeySanitizationStrategy`] and
//! [`FirestoreV1CollectionSanitizationStrategy`]. To read data written by py-key-value, use the
//! strategy the Python store was configured with (py-key-value stores default to passthrough;
//! the V1 strategies are opt-in).
//!
//! All hashes are SHA-256 of the UTF-8 value in lowercase hex. Lengths are counted in
//! characters (Unicode scalar values, Python's `len`) except where a strategy says bytes (S3,
//! Firestore).
//!
//! # Which outputs can collide
//!
//! Over values that pass `validate`, and up to collisions of the (truncated) SHA-256:
//!
//! - one-to-one: [`PassthroughStrategy`], [`AlwaysHashStrategy`], [`HashExcessLengthStrategy`]
//!   (short values are kept, long ones hashed with a reserved prefix),
//!   [`HybridSanitizationStrategy`] with [`HashFragmentMode::Always`] (the fragment hashes the
//!   original value), [`AzureTablesSanitizationStrategy`], the Firestore strategies;
//! - lossy: [`HybridSanitizationStrategy`] with `OnlyIfChanged` maps clean values longer than
//!   `max_length` to `S_` + their first `max_length - 2` characters **without** a hash, so two
//!   long values sharing that prefix collide (this concerns every Hybrid preset:
//!   MongoDB, Keyring, Windows registry, file tree); with [`HashFragmentMode::Never`] values
//!   differing only in disallowed characters collide (`"a:b"` and `"a;b"` both give `"S_a_b"`);
//!   the S3 strategies reserve no prefix, so a user value equal to the hashed form of a longer
//!   value collides with it.
//!
//! # Differences from py-key-value
//!
//! Outputs are identical for every accepted configuration (checked against vectors generated
//! with the real py-key-value 0.4.6, see `tests/sanitize_golden.rs`). Constructors reject, with
//! [`ErrorKind::Config`](crate::ErrorKind::Config) errors, parameters for which py-key-value
//! silently produces values longer than the limit (a Hybrid `max_length` below 16 or too small
//! for its hash fragment, a file tree directory leaving fewer than 16 characters for file
//! names, S3 limits below 16, which py-key-value rejects only when sanitizing a long value).
//!
//! ```
//! use key_value_core::sanitize::{
//!     MongoDbV1CollectionSanitizationStrategy, PassthroughStrategy, SanitizationStrategy,
//! };
//! use key_value_core::ErrorKind;
//!
//! let strategy: Box<dyn SanitizationStrategy> = Box::new(MongoDbV1CollectionSanitizationStrategy::new());
//! assert_eq!(strategy.validate_and_sanitize("sessions")?, "sessions");
//! assert_eq!(strategy.validate_and_sanitize("web sessions")?, "S_web_sessions-e1f9fcf1");
//! let err = strategy.validate_and_sanitize("S_web").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidKey);
//!
//! assert_eq!(PassthroughStrategy.validate_and_sanitize("S_web")?, "S_web");
//! # Ok::<(), key_value_core::Error>(())
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use crate::error::Result;

mod low_level;
mod stores;
mod strategies;

pub use low_level::{
    ALPHANUMERIC_CHARACTERS, CharSet, DEFAULT_HASH_FRAGMENT_SEPARATOR, DEFAULT_HASH_FRAGMENT_SIZE,
    DEFAULT_REPLACEMENT_CHARACTER, HASHED_PREFIX, HashFragmentMode, LOWERCASE_ALPHABET,
    MINIMUM_MAX_LENGTH, NUMBERS, SANITIZED_PREFIX, SanitizeStringOptions, UPPERCASE_ALPHABET,
    char_len, generate_hash_fragment, hash_excess_length, sanitize_characters_in_string,
    sanitize_string, sha256_hex, truncate_chars, truncate_to_bytes,
};
pub use stores::{
    AzureTablesSanitizationStrategy, ElasticsearchV1CollectionSanitizationStrategy,
    ElasticsearchV1KeySanitizationStrategy, FILE_TREE_NAME_MAX, FILE_TREE_PATH_MAX,
    FileTreeV1CollectionSanitizationStrategy, FileTreeV1KeySanitizationStrategy,
    FirestoreV1CollectionSanitizationStrategy, FirestoreV1KeySanitizationStrategy,
    KeyringV1CollectionSanitizationStrategy, KeyringV1KeySanitizationStrategy,
    MemcachedV1KeySanitizationStrategy, MongoDbV1CollectionSanitizationStrategy,
    OpenSearchV1CollectionSanitizationStrategy, OpenSearchV1KeySanitizationStrategy,
    S3CollectionSanitizationStrategy, S3KeySanitizationStrategy,
    WindowsRegistryV1CollectionSanitizationStrategy,
};
pub use strategies::{
    AlwaysHashStrategy, HashExcessLengthStrategy, HybridSanitizationStrategy,
    HybridSanitizationStrategyBuilder, PassthroughStrategy,
};

/// Turns user keys or collection names into values a backend accepts (py:
/// `SanitizationStrategy`).
///
/// See the [module documentation](self) for the contract and the available strategies.
pub trait SanitizationStrategy: Send + Sync + std::fmt::Debug {
    /// The stored form of `value`; borrowed when unchanged. Deterministic and infallible.
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str>;

    /// Rejects user values the strategy reserves (typically those starting with `H_` or
    /// `S_`) with an [`ErrorKind::InvalidKey`](crate::ErrorKind::InvalidKey) error. Accepts
    /// everything by default.
    fn validate(&self, value: &str) -> Result<()> {
        let _ = value;
        Ok(())
    }

    /// The user value a stored `value` came from, when the strategy can tell; `None` by
    /// default.
    fn try_unsanitize(&self, value: &str) -> Option<String> {
        let _ = value;
        None
    }

    /// [`validate`](Self::validate), then [`sanitize`](Self::sanitize): what a store does with
    /// every key and collection.
    ///
    /// # Errors
    ///
    /// The error of `validate`.
    fn validate_and_sanitize<'a>(&self, value: &'a str) -> Result<Cow<'a, str>> {
        self.validate(value)?;
        Ok(self.sanitize(value))
    }
}

macro_rules! forward_strategy {
    ($($ptr:ty),*) => {$(
        impl<T: SanitizationStrategy + ?Sized> SanitizationStrategy for $ptr {
            fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
                (**self).sanitize(value)
            }

            fn validate(&self, value: &str) -> Result<()> {
                (**self).validate(value)
            }

            fn try_unsanitize(&self, value: &str) -> Option<String> {
                (**self).try_unsanitize(value)
            }

            fn validate_and_sanitize<'a>(&self, value: &'a str) -> Result<Cow<'a, str>> {
                (**self).validate_and_sanitize(value)
            }
        }
    )*};
}

forward_strategy!(&T, Box<T>, Arc<T>);

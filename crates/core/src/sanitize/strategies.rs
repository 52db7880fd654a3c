//! The generic strategies of py-key-value's `_utils/sanitization.py`.

use std::borrow::Cow;

use super::SanitizationStrategy;
use super::low_level::{
    CharSet, DEFAULT_HASH_FRAGMENT_SIZE, DEFAULT_REPLACEMENT_CHARACTER, HASHED_PREFIX,
    HashFragmentMode, MINIMUM_MAX_LENGTH, SANITIZED_PREFIX, generate_hash_fragment, longer_than,
    replace_disallowed, sha256_hex, truncate_chars,
};
use crate::error::{Error, ErrorKind, Result};

/// The InvalidKey error of py-key-value's strategies for values starting with `H_` or `S_`:
/// `"<what> cannot start with reserved prefixes 'H_' or 'S_': <value>"`.
pub(crate) fn reject_reserved_prefixes(value: &str, what: &str) -> Result<()> {
    if value.starts_with(HASHED_PREFIX) || value.starts_with(SANITIZED_PREFIX) {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!("{what} cannot start with reserved prefixes 'H_' or 'S_': {value}"),
        ));
    }
    Ok(())
}

/// No sanitization: every value is stored as given (py: `PassthroughStrategy`).
///
/// For backends without restrictions on keys and collection names (memory, Redis, DynamoDB,
/// ...). This is what stores use when no strategy is configured. `validate` accepts everything
/// and `try_unsanitize` is the identity.
///
/// ```
/// use key_value_core::sanitize::{PassthroughStrategy, SanitizationStrategy};
///
/// let s = PassthroughStrategy;
/// assert_eq!(s.sanitize("any::key!"), "any::key!");
/// assert!(s.validate("H_reserved_elsewhere").is_ok());
/// assert_eq!(s.try_unsanitize("k").as_deref(), Some("k"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PassthroughStrategy;

impl SanitizationStrategy for PassthroughStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(value)
    }

    fn try_unsanitize(&self, value: &str) -> Option<String> {
        Some(value.to_owned())
    }
}

/// Replaces every value by the first `hash_length` hex digits of its SHA-256 (py:
/// `AlwaysHashStrategy`, default 64 digits).
///
/// Fixed-length, character-safe output; the original value is not recoverable. No prefixes are
/// reserved. py-key-value's `try_unsanitize` returns its argument unchanged (which is the hash,
/// not the original value); this port does the same.
///
/// ```
/// use key_value_core::sanitize::{AlwaysHashStrategy, SanitizationStrategy};
///
/// let s = AlwaysHashStrategy::new(16)?;
/// assert_eq!(s.sanitize("test"), "9f86d081884c7d65");
/// assert_eq!(AlwaysHashStrategy::default().sanitize("test").len(), 64);
/// assert!(AlwaysHashStrategy::new(8).is_err());
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlwaysHashStrategy {
    hash_length: usize,
}

impl AlwaysHashStrategy {
    /// The smallest hash length is 9 (it must be greater than this).
    pub const MINIMUM_HASH_LENGTH: usize = 8;
    /// The largest hash length: a whole SHA-256 in hex.
    pub const MAXIMUM_HASH_LENGTH: usize = 64;

    /// A strategy producing `hash_length` hex digits.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] unless `8 < hash_length <= 64`.
    pub fn new(hash_length: usize) -> Result<Self> {
        if hash_length <= Self::MINIMUM_HASH_LENGTH || hash_length > Self::MAXIMUM_HASH_LENGTH {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "hash_length must be greater than {} and less than {}: {hash_length}",
                    Self::MINIMUM_HASH_LENGTH,
                    Self::MAXIMUM_HASH_LENGTH
                ),
            ));
        }
        Ok(AlwaysHashStrategy { hash_length })
    }

    /// The number of hex digits produced.
    pub fn hash_length(&self) -> usize {
        self.hash_length
    }
}

impl Default for AlwaysHashStrategy {
    /// The full 64-digit hash.
    fn default() -> Self {
        AlwaysHashStrategy {
            hash_length: Self::MAXIMUM_HASH_LENGTH,
        }
    }
}

impl SanitizationStrategy for AlwaysHashStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        Cow::Owned(generate_hash_fragment(value, self.hash_length))
    }

    fn try_unsanitize(&self, value: &str) -> Option<String> {
        Some(value.to_owned())
    }
}

/// Leaves values of at most `max_length` characters unchanged and replaces longer ones by
/// `"H_"` and the first `max_length - 2` hex digits of their SHA-256 (at most 64) (py:
/// `HashExcessLengthStrategy`, default 240).
///
/// For backends that accept any character but limit the length (Memcached). `validate` rejects
/// values starting with `H_` or `S_`, so a hashed value never collides with a user's value.
///
/// ```
/// use key_value_core::sanitize::{HashExcessLengthStrategy, SanitizationStrategy};
///
/// let s = HashExcessLengthStrategy::new(16)?;
/// assert_eq!(s.sanitize("short::key"), "short::key");
/// assert_eq!(s.sanitize("a key longer than sixteen"), "H_55b33b8a29787f");
/// assert_eq!(
///     s.validate("H_mine").unwrap_err().message(),
///     "Keys cannot start with reserved prefixes 'H_' or 'S_': H_mine"
/// );
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashExcessLengthStrategy {
    max_length: usize,
}

impl HashExcessLengthStrategy {
    /// The default maximum length, 240 characters.
    pub const DEFAULT_MAX_LENGTH: usize = 240;

    /// A strategy hashing values longer than `max_length` characters.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when `max_length < 16` (py-key-value accepts anything here, but a
    /// `max_length` of 2 or less hashes every long value to the same string).
    pub fn new(max_length: usize) -> Result<Self> {
        if max_length < MINIMUM_MAX_LENGTH {
            return Err(Error::new(
                ErrorKind::Config,
                format!("max_length must be greater than or equal to {MINIMUM_MAX_LENGTH}"),
            ));
        }
        Ok(HashExcessLengthStrategy { max_length })
    }

    /// The maximum length in characters.
    pub fn max_length(&self) -> usize {
        self.max_length
    }
}

impl Default for HashExcessLengthStrategy {
    /// `max_length` 240.
    fn default() -> Self {
        HashExcessLengthStrategy {
            max_length: Self::DEFAULT_MAX_LENGTH,
        }
    }
}

impl SanitizationStrategy for HashExcessLengthStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        if longer_than(value, self.max_length) {
            let mut hash = sha256_hex(value);
            hash.truncate((self.max_length - 2).min(hash.len()));
            Cow::Owned(format!("{HASHED_PREFIX}{hash}"))
        } else {
            Cow::Borrowed(value)
        }
    }

    fn validate(&self, value: &str) -> crate::Result<()> {
        reject_reserved_prefixes(value, "Keys")
    }
}

/// Replaces disallowed characters, enforces a maximum length, and marks changed values with
/// an `S_` prefix and (depending on the mode) a hash fragment of the original value (py:
/// `HybridSanitizationStrategy`).
///
/// The algorithm, lengths in characters:
///
/// 1. If `allowed_characters` is set (and not empty), each run of disallowed characters becomes
///    one `replacement_character` (see
///    [`sanitize_characters_in_string`](super::sanitize_characters_in_string), whose quirks
///    apply). The value is *changed* if the result differs from the input (so `"a_b"` with
///    allowed alphanumerics is not changed: `_` was replaced by `_`).
/// 2. With [`HashFragmentMode::Always`], or `OnlyIfChanged` and a changed value, the result is
///    `"S_" + sanitized[..max_length - 3 - hash_fragment_length] + "-" + hash` where `hash` is
///    the SHA-256 fragment of the **original** value.
/// 3. Otherwise a value longer than `max_length` is truncated to `max_length - 2` and prefixed
///    with `S_` (**no hash**: long clean values sharing their first `max_length - 2`
///    characters collide); a changed value is prefixed with `S_` (`Never` mode); an unchanged
///    value is returned as is.
///
/// `validate` rejects values starting with `H_` or `S_`. `try_unsanitize` returns `None`.
///
/// ```
/// use key_value_core::sanitize::{
///     ALPHANUMERIC_CHARACTERS, HashFragmentMode, HybridSanitizationStrategy, SanitizationStrategy,
/// };
///
/// let s = HybridSanitizationStrategy::builder()
///     .allowed_characters(ALPHANUMERIC_CHARACTERS)
///     .build()?;
/// assert_eq!(s.sanitize("test::key"), "S_test_key-a2bc4860");
/// assert_eq!(s.sanitize("testkey"), "testkey");
///
/// let never = HybridSanitizationStrategy::builder()
///     .allowed_characters(ALPHANUMERIC_CHARACTERS)
///     .hash_fragment_mode(HashFragmentMode::Never)
///     .build()?;
/// assert_eq!(never.sanitize("test::key"), "S_test_key");
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HybridSanitizationStrategy {
    max_length: usize,
    allowed_characters: Option<CharSet>,
    replacement_character: char,
    hash_fragment_mode: HashFragmentMode,
    hash_fragment_length: usize,
}

/// Builds a [`HybridSanitizationStrategy`]; start with
/// [`HybridSanitizationStrategy::builder`].
///
/// ```
/// use key_value_core::sanitize::{HybridSanitizationStrategy, LOWERCASE_ALPHABET};
///
/// let s = HybridSanitizationStrategy::builder()
///     .max_length(64)
///     .allowed_characters(LOWERCASE_ALPHABET)
///     .replacement_character('-')
///     .hash_fragment_length(12)
///     .build()?;
/// assert_eq!(s.max_length(), 64);
/// assert!(HybridSanitizationStrategy::builder().max_length(15).build().is_err());
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "call build() to get the strategy"]
pub struct HybridSanitizationStrategyBuilder {
    inner: HybridSanitizationStrategy,
}

impl HybridSanitizationStrategyBuilder {
    /// The maximum length of sanitized values in characters (default 240).
    pub fn max_length(mut self, max_length: usize) -> Self {
        self.inner.max_length = max_length;
        self
    }

    /// The allowed characters (default: all). An empty set allows every character, like
    /// py-key-value's `""`.
    pub fn allowed_characters(mut self, allowed_characters: impl Into<CharSet>) -> Self {
        let set = allowed_characters.into();
        self.inner.allowed_characters = (!set.is_empty()).then_some(set);
        self
    }

    /// Allows every character (the default).
    pub fn all_characters_allowed(mut self) -> Self {
        self.inner.allowed_characters = None;
        self
    }

    /// The replacement of a run of disallowed characters (default `'_'`).
    pub fn replacement_character(mut self, replacement_character: char) -> Self {
        self.inner.replacement_character = replacement_character;
        self
    }

    /// When to append the hash fragment (default [`HashFragmentMode::OnlyIfChanged`]).
    pub fn hash_fragment_mode(mut self, hash_fragment_mode: HashFragmentMode) -> Self {
        self.inner.hash_fragment_mode = hash_fragment_mode;
        self
    }

    /// The length of the hash fragment in hex digits (default 8).
    pub fn hash_fragment_length(mut self, hash_fragment_length: usize) -> Self {
        self.inner.hash_fragment_length = hash_fragment_length;
        self
    }

    /// The strategy.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] unless `1 <= hash_fragment_length <= 64`, `max_length >= 16` and
    /// `max_length >= hash_fragment_length + 4` (room for `S_`, `-`, the fragment and one
    /// character). py-key-value checks nothing here; with such parameters it would produce
    /// values longer than `max_length`.
    pub fn build(self) -> Result<HybridSanitizationStrategy> {
        let s = self.inner;
        if s.hash_fragment_length == 0 || s.hash_fragment_length > 64 {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "hash_fragment_length must be between 1 and 64: {}",
                    s.hash_fragment_length
                ),
            ));
        }
        if s.max_length < MINIMUM_MAX_LENGTH {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "max_length must be greater than or equal to {MINIMUM_MAX_LENGTH}: {}",
                    s.max_length
                ),
            ));
        }
        if s.max_length < s.hash_fragment_length + 4 {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "max_length ({}) must leave room for 'S_', '-', the hash fragment ({}) and one character",
                    s.max_length, s.hash_fragment_length
                ),
            ));
        }
        Ok(s)
    }
}

impl HybridSanitizationStrategy {
    /// The default maximum length, 240 characters.
    pub const DEFAULT_MAX_LENGTH: usize = 240;

    /// A builder with py-key-value's defaults: `max_length` 240, every character allowed,
    /// replacement `'_'`, [`HashFragmentMode::OnlyIfChanged`], fragments of 8 hex digits.
    pub fn builder() -> HybridSanitizationStrategyBuilder {
        HybridSanitizationStrategyBuilder {
            inner: HybridSanitizationStrategy::default(),
        }
    }

    /// A strategy from parameters known to be valid (the per-store presets).
    pub(crate) fn preset(
        max_length: usize,
        allowed_characters: &str,
        hash_fragment_mode: HashFragmentMode,
    ) -> Self {
        HybridSanitizationStrategy {
            max_length,
            allowed_characters: Some(CharSet::new(allowed_characters)),
            replacement_character: DEFAULT_REPLACEMENT_CHARACTER,
            hash_fragment_mode,
            hash_fragment_length: DEFAULT_HASH_FRAGMENT_SIZE,
        }
    }

    /// The maximum length of sanitized values in characters.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The allowed characters; `None` when every character is allowed.
    pub fn allowed_characters(&self) -> Option<&CharSet> {
        self.allowed_characters.as_ref()
    }

    /// The replacement of a run of disallowed characters.
    pub fn replacement_character(&self) -> char {
        self.replacement_character
    }

    /// When the hash fragment is appended.
    pub fn hash_fragment_mode(&self) -> HashFragmentMode {
        self.hash_fragment_mode
    }

    /// The length of the hash fragment in hex digits.
    pub fn hash_fragment_length(&self) -> usize {
        self.hash_fragment_length
    }
}

impl Default for HybridSanitizationStrategy {
    /// py-key-value's defaults (which sanitize nothing but the length: every character is
    /// allowed).
    fn default() -> Self {
        HybridSanitizationStrategy {
            max_length: Self::DEFAULT_MAX_LENGTH,
            allowed_characters: None,
            replacement_character: DEFAULT_REPLACEMENT_CHARACTER,
            hash_fragment_mode: HashFragmentMode::OnlyIfChanged,
            hash_fragment_length: DEFAULT_HASH_FRAGMENT_SIZE,
        }
    }
}

impl SanitizationStrategy for HybridSanitizationStrategy {
    fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        let sanitized: Cow<'a, str> = match &self.allowed_characters {
            Some(set) if !value.chars().all(|c| set.contains(c)) => {
                let mut buf = [0u8; 4];
                let replacement = self.replacement_character.encode_utf8(&mut buf);
                Cow::Owned(replace_disallowed(value, |c| set.contains(c), replacement))
            }
            _ => Cow::Borrowed(value),
        };
        let mut changed = *sanitized != *value;

        let add_hash = match self.hash_fragment_mode {
            HashFragmentMode::Always => true,
            HashFragmentMode::OnlyIfChanged => changed,
            HashFragmentMode::Never => false,
        };
        if add_hash {
            let fragment = generate_hash_fragment(value, self.hash_fragment_length);
            // `build` guarantees max_length >= 3 + hash_fragment_length + 1
            let room = self.max_length - (2 + 1 + self.hash_fragment_length);
            let kept = truncate_chars(&sanitized, room);
            return Cow::Owned(format!("{SANITIZED_PREFIX}{kept}-{fragment}"));
        }

        let mut kept: &str = &sanitized;
        if longer_than(kept, self.max_length) {
            kept = truncate_chars(kept, self.max_length);
            changed = true;
        }
        if changed {
            // "S_" + kept is longer than max_length exactly when kept has more than
            // max_length - 2 characters.
            let kept = truncate_chars(kept, self.max_length - 2);
            return Cow::Owned(format!("{SANITIZED_PREFIX}{kept}"));
        }
        // unchanged and short enough: the input itself
        Cow::Borrowed(value)
    }

    fn validate(&self, value: &str) -> crate::Result<()> {
        reject_reserved_prefixes(value, "Keys")
    }
}

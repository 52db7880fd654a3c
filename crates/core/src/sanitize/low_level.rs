//! The low-level functions of py-key-value's `_utils/sanitize.py`: hashing, character
//! replacement, truncation.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};

/// The smallest `max_length` the length-limiting functions and strategies accept (py:
/// `MINIMUM_MAX_LENGTH`).
pub const MINIMUM_MAX_LENGTH: usize = 16;

/// The default length of a hash fragment, in hex digits (py: `DEFAULT_HASH_FRAGMENT_SIZE`).
pub const DEFAULT_HASH_FRAGMENT_SIZE: usize = 8;

/// The default separator between a sanitized value and its hash fragment (py:
/// `DEFAULT_HASH_FRAGMENT_SEPARATOR`).
pub const DEFAULT_HASH_FRAGMENT_SEPARATOR: &str = "-";

/// The default replacement for a run of disallowed characters (py:
/// `DEFAULT_REPLACEMENT_CHARACTER`).
pub const DEFAULT_REPLACEMENT_CHARACTER: char = '_';

/// `a` to `z` (py: `LOWERCASE_ALPHABET`).
pub const LOWERCASE_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz";

/// `A` to `Z` (py: `UPPERCASE_ALPHABET`).
pub const UPPERCASE_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `0` to `9` (py: `NUMBERS`).
pub const NUMBERS: &str = "0123456789";

/// ASCII letters and digits, in py-key-value's order (py: `ALPHANUMERIC_CHARACTERS`).
pub const ALPHANUMERIC_CHARACTERS: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The prefix of values replaced by a hash (`"H_"`); user values must not start with it.
pub const HASHED_PREFIX: &str = "H_";

/// The prefix of values whose characters were replaced or that were truncated (`"S_"`); user
/// values must not start with it.
pub const SANITIZED_PREFIX: &str = "S_";

/// The SHA-256 digest of the UTF-8 bytes of `value`, as 64 lowercase hex digits.
///
/// ```
/// use key_value_core::sanitize::sha256_hex;
///
/// assert_eq!(
///     sha256_hex("test"),
///     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
/// );
/// ```
pub fn sha256_hex(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(value.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in &digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// The first `size` hex digits of [`sha256_hex`] (all 64 when `size > 64`, like Python's
/// slicing) (py: `generate_hash_fragment`).
///
/// ```
/// use key_value_core::sanitize::generate_hash_fragment;
///
/// assert_eq!(generate_hash_fragment("test", 8), "9f86d081");
/// ```
pub fn generate_hash_fragment(value: &str, size: usize) -> String {
    let mut hash = sha256_hex(value);
    hash.truncate(size.min(hash.len()));
    hash
}

/// The number of characters (Unicode scalar values) of `value`: Python's `len(str)`.
pub fn char_len(value: &str) -> usize {
    value.chars().count()
}

/// Whether `value` has more than `max` characters, without counting them all when the byte
/// length already answers.
pub(crate) fn longer_than(value: &str, max: usize) -> bool {
    value.len() > max && value.chars().nth(max).is_some()
}

/// The first `max_chars` characters of `value` (Python's `value[:max_chars]`).
///
/// ```
/// use key_value_core::sanitize::truncate_chars;
///
/// assert_eq!(truncate_chars("日本語のキー", 3), "日本語");
/// assert_eq!(truncate_chars("abc", 10), "abc");
/// ```
pub fn truncate_chars(value: &str, max_chars: usize) -> &str {
    if value.len() <= max_chars {
        return value;
    }
    match value.char_indices().nth(max_chars) {
        Some((idx, _)) => &value[..idx],
        None => value,
    }
}

/// The longest prefix of `value` whose UTF-8 encoding has at most `max_bytes` bytes; never
/// splits a character (py: `_truncate_to_bytes`).
///
/// ```
/// use key_value_core::sanitize::truncate_to_bytes;
///
/// assert_eq!(truncate_to_bytes("aé😀", 4), "aé"); // the emoji's 4 bytes do not fit
/// assert_eq!(truncate_to_bytes("aé😀", 7), "aé😀");
/// ```
pub fn truncate_to_bytes(value: &str, max_bytes: usize) -> &str {
    if value.len() <= max_bytes {
        return value;
    }
    let mut end = max_bytes;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// A set of characters, the `allowed_characters` of the character-replacing functions and
/// strategies.
///
/// Built from a string of the allowed characters (order and repetitions do not matter).
/// Membership of ASCII characters is a bit test.
///
/// ```
/// use key_value_core::sanitize::{ALPHANUMERIC_CHARACTERS, CharSet};
///
/// let set = CharSet::new(ALPHANUMERIC_CHARACTERS);
/// assert!(set.contains('Q') && set.contains('7'));
/// assert!(!set.contains('_'));
/// assert_eq!(set.len(), 62);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct CharSet {
    ascii: u128,
    other: Vec<char>,
}

impl CharSet {
    /// The set of the characters of `chars`.
    pub fn new(chars: &str) -> Self {
        chars.chars().collect()
    }

    /// Whether `c` is in the set.
    pub fn contains(&self, c: char) -> bool {
        let code = u32::from(c);
        if code < 128 {
            self.ascii & (1u128 << code) != 0
        } else {
            self.other.binary_search(&c).is_ok()
        }
    }

    /// The number of characters in the set.
    pub fn len(&self) -> usize {
        self.ascii.count_ones() as usize + self.other.len()
    }

    /// Whether the set is empty. Strategies treat an empty set like no set at all: every
    /// character allowed (Python's `if allowed_characters:`).
    pub fn is_empty(&self) -> bool {
        self.ascii == 0 && self.other.is_empty()
    }

    /// The characters of the set, in code point order.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        (0u8..128)
            .filter(|&b| self.ascii & (1u128 << b) != 0)
            .map(char::from)
            .chain(self.other.iter().copied())
    }
}

impl FromIterator<char> for CharSet {
    fn from_iter<I: IntoIterator<Item = char>>(iter: I) -> Self {
        let mut set = CharSet::default();
        for c in iter {
            let code = u32::from(c);
            if code < 128 {
                set.ascii |= 1u128 << code;
            } else {
                set.other.push(c);
            }
        }
        set.other.sort_unstable();
        set.other.dedup();
        set
    }
}

impl From<&str> for CharSet {
    fn from(chars: &str) -> Self {
        CharSet::new(chars)
    }
}

impl From<&String> for CharSet {
    fn from(chars: &String) -> Self {
        CharSet::new(chars)
    }
}

impl From<String> for CharSet {
    fn from(chars: String) -> Self {
        CharSet::new(&chars)
    }
}

impl fmt::Debug for CharSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: String = self.chars().collect();
        f.debug_tuple("CharSet").field(&chars).finish()
    }
}

/// When a hash fragment is appended to a sanitized value (py: `HashFragmentMode`; py-key-value
/// has two identical enums, one in `sanitize` and one in `sanitization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashFragmentMode {
    /// Always append it, even when the value was not changed (py: `"always"`).
    Always,
    /// Append it only when sanitization changed the value (py: `"only_if_changed"`).
    #[default]
    OnlyIfChanged,
    /// Never append it (py: `"never"`).
    Never,
}

impl HashFragmentMode {
    /// py-key-value's name of the mode: `"always"`, `"only_if_changed"` or `"never"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HashFragmentMode::Always => "always",
            HashFragmentMode::OnlyIfChanged => "only_if_changed",
            HashFragmentMode::Never => "never",
        }
    }
}

impl fmt::Display for HashFragmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HashFragmentMode {
    type Err = Error;

    /// Parses py-key-value's name of a mode (`"always"`, `"only_if_changed"`, `"never"`).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "always" => Ok(HashFragmentMode::Always),
            "only_if_changed" => Ok(HashFragmentMode::OnlyIfChanged),
            "never" => Ok(HashFragmentMode::Never),
            other => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "unknown hash fragment mode '{other}', expected 'always', 'only_if_changed' or 'never'"
                ),
            )),
        }
    }
}

/// Replaces every run of characters for which `allowed` is false by `replace_with`, with
/// py-key-value's quirk: a result of exactly one character whose last input character was
/// replaced becomes `""`.
pub(crate) fn replace_disallowed(
    value: &str,
    allowed: impl Fn(char) -> bool,
    replace_with: &str,
) -> String {
    let replacement_chars = char_len(replace_with);
    let mut out = String::with_capacity(value.len());
    let mut out_chars = 0usize;
    let mut last_char_was_replaced = false;
    for c in value.chars() {
        if allowed(c) {
            out.push(c);
            out_chars += 1;
            last_char_was_replaced = false;
        } else if !last_char_was_replaced {
            out.push_str(replace_with);
            out_chars += replacement_chars;
            last_char_was_replaced = true;
        }
    }
    if out_chars == 1 && last_char_was_replaced {
        out.clear();
    }
    out
}

/// Replaces each run of consecutive characters not in `allowed_characters` by one
/// `replace_with` (py: `sanitize_characters_in_string`).
///
/// py-key-value's quirk is kept: when the result is exactly one character and the last input
/// character was replaced, the result is `""` (so an input made only of disallowed characters
/// gives `""` with a one-character replacement, but `"xy"` with the replacement `"xy"`, and
/// `"a!"` gives `""` with an empty replacement).
///
/// ```
/// use key_value_core::sanitize::{
///     ALPHANUMERIC_CHARACTERS, LOWERCASE_ALPHABET, sanitize_characters_in_string,
/// };
///
/// assert_eq!(sanitize_characters_in_string("test::key", ALPHANUMERIC_CHARACTERS, "_"), "test_key");
/// assert_eq!(sanitize_characters_in_string("Test123", LOWERCASE_ALPHABET, "_"), "_est_");
/// assert_eq!(sanitize_characters_in_string("!@#", ALPHANUMERIC_CHARACTERS, "_"), "");
/// ```
pub fn sanitize_characters_in_string(
    value: &str,
    allowed_characters: &str,
    replace_with: &str,
) -> String {
    let set = CharSet::new(allowed_characters);
    replace_disallowed(value, |c| set.contains(c), replace_with)
}

/// The parameters of [`sanitize_string`], with py-key-value's defaults.
///
/// ```
/// use key_value_core::sanitize::{HashFragmentMode, SanitizeStringOptions, NUMBERS};
///
/// let options = SanitizeStringOptions::new(16)
///     .with_allowed_characters(NUMBERS)
///     .with_hash_fragment_mode(HashFragmentMode::Always);
/// assert_eq!(options.replacement_character, "_");
/// assert_eq!(options.hash_fragment_length, 8);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SanitizeStringOptions<'a> {
    /// The maximum length of the result, hash fragment included: characters, or UTF-8 bytes when
    /// `length_is_bytes`. At least [`MINIMUM_MAX_LENGTH`].
    pub max_length: usize,
    /// The allowed characters; `None` or `""` allows every character (default `None`).
    pub allowed_characters: Option<&'a str>,
    /// What replaces a run of disallowed characters (default `"_"`).
    pub replacement_character: &'a str,
    /// What goes between the value and its hash fragment (default `"-"`).
    pub hash_fragment_separator: &'a str,
    /// When to add the hash fragment (default [`HashFragmentMode::OnlyIfChanged`]).
    pub hash_fragment_mode: HashFragmentMode,
    /// The length of the hash fragment in hex digits (default 8); at most `max_length / 2`.
    pub hash_fragment_length: usize,
    /// Whether `max_length` counts UTF-8 bytes instead of characters (default `false`).
    pub length_is_bytes: bool,
}

impl<'a> SanitizeStringOptions<'a> {
    /// py-key-value's defaults with the given `max_length`.
    pub fn new(max_length: usize) -> Self {
        SanitizeStringOptions {
            max_length,
            allowed_characters: None,
            replacement_character: "_",
            hash_fragment_separator: DEFAULT_HASH_FRAGMENT_SEPARATOR,
            hash_fragment_mode: HashFragmentMode::OnlyIfChanged,
            hash_fragment_length: DEFAULT_HASH_FRAGMENT_SIZE,
            length_is_bytes: false,
        }
    }

    /// Sets [`allowed_characters`](Self::allowed_characters).
    pub fn with_allowed_characters(mut self, allowed_characters: &'a str) -> Self {
        self.allowed_characters = Some(allowed_characters);
        self
    }

    /// Sets [`replacement_character`](Self::replacement_character).
    pub fn with_replacement_character(mut self, replacement_character: &'a str) -> Self {
        self.replacement_character = replacement_character;
        self
    }

    /// Sets [`hash_fragment_separator`](Self::hash_fragment_separator).
    pub fn with_hash_fragment_separator(mut self, hash_fragment_separator: &'a str) -> Self {
        self.hash_fragment_separator = hash_fragment_separator;
        self
    }

    /// Sets [`hash_fragment_mode`](Self::hash_fragment_mode).
    pub fn with_hash_fragment_mode(mut self, hash_fragment_mode: HashFragmentMode) -> Self {
        self.hash_fragment_mode = hash_fragment_mode;
        self
    }

    /// Sets [`hash_fragment_length`](Self::hash_fragment_length).
    pub fn with_hash_fragment_length(mut self, hash_fragment_length: usize) -> Self {
        self.hash_fragment_length = hash_fragment_length;
        self
    }

    /// Sets [`length_is_bytes`](Self::length_is_bytes).
    pub fn with_length_is_bytes(mut self, length_is_bytes: bool) -> Self {
        self.length_is_bytes = length_is_bytes;
        self
    }
}

fn min_length_error() -> Error {
    Error::new(
        ErrorKind::Config,
        format!("max_length must be greater than or equal to {MINIMUM_MAX_LENGTH}"),
    )
}

/// Replaces disallowed characters, truncates, and adds a hash fragment of the original value
/// according to `hash_fragment_mode` (py: `sanitize_string`).
///
/// - `Always`: the sanitized value is truncated to leave room for the separator and the
///   fragment, and the result is `<value><separator><hash>`, or just `<hash>` when nothing of
///   the value is left.
/// - `OnlyIfChanged`: the sanitized value truncated to `max_length`; if that equals the input it
///   is returned as is, otherwise the result is built like `Always`.
/// - `Never`: the sanitized value truncated to `max_length`; an
///   [`ErrorKind::InvalidKey`] error if nothing is left.
///
/// The hash is that of the original value. Unchanged values are returned borrowed.
///
/// # Errors
///
/// [`ErrorKind::Config`] when `max_length < 16`, when `hash_fragment_length > max_length / 2`,
/// or (a deliberate difference from py-key-value, whose slicing would then cut from the *end*
/// of the value) when the separator and the fragment alone are longer than `max_length`;
/// [`ErrorKind::InvalidKey`] when the mode is `Never` and the whole value was sanitized away.
///
/// ```
/// use key_value_core::sanitize::{
///     sanitize_string, HashFragmentMode, SanitizeStringOptions, LOWERCASE_ALPHABET, NUMBERS,
/// };
///
/// let always = SanitizeStringOptions::new(16).with_hash_fragment_mode(HashFragmentMode::Always);
/// assert_eq!(sanitize_string("test string", &always)?, "test st-d5579c46");
///
/// let digits = SanitizeStringOptions::new(16).with_allowed_characters(NUMBERS);
/// assert_eq!(sanitize_string("test", &digits)?, "9f86d081");
///
/// let lower = SanitizeStringOptions::new(16).with_allowed_characters(LOWERCASE_ALPHABET);
/// assert_eq!(sanitize_string("test with spaces", &lower)?, "test_wi-ed2daf39");
/// assert_eq!(sanitize_string("test", &lower)?, "test");
/// # Ok::<(), key_value_core::Error>(())
/// ```
pub fn sanitize_string<'v>(
    value: &'v str,
    options: &SanitizeStringOptions<'_>,
) -> Result<Cow<'v, str>> {
    let max_length = options.max_length;
    if max_length < MINIMUM_MAX_LENGTH {
        return Err(min_length_error());
    }
    if options.hash_fragment_length > max_length / 2 {
        return Err(Error::new(
            ErrorKind::Config,
            "hash_fragment_length must be less than or equal to half of max_length",
        ));
    }

    let bytes = options.length_is_bytes;
    let length = |s: &str| if bytes { s.len() } else { char_len(s) };
    let truncate = |s: &str, max: usize| -> usize {
        // the byte length of the truncated prefix
        if bytes {
            truncate_to_bytes(s, max).len()
        } else {
            truncate_chars(s, max).len()
        }
    };

    let sanitized: Cow<'v, str> = match options.allowed_characters {
        Some(allowed) if !allowed.is_empty() => {
            let set = CharSet::new(allowed);
            if value.chars().all(|c| set.contains(c)) {
                Cow::Borrowed(value)
            } else {
                Cow::Owned(replace_disallowed(
                    value,
                    |c| set.contains(c),
                    options.replacement_character,
                ))
            }
        }
        _ => Cow::Borrowed(value),
    };

    let with_fragment = |sanitized: &str| -> Result<Cow<'v, str>> {
        let fragment = generate_hash_fragment(value, options.hash_fragment_length);
        let required = length(options.hash_fragment_separator) + length(&fragment);
        let Some(room) = max_length.checked_sub(required) else {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "hash_fragment_separator and hash fragment ({required}) must fit in max_length ({max_length})"
                ),
            ));
        };
        let kept = &sanitized[..truncate(sanitized, room)];
        if kept.is_empty() {
            return Ok(Cow::Owned(fragment));
        }
        Ok(Cow::Owned(format!(
            "{kept}{}{fragment}",
            options.hash_fragment_separator
        )))
    };

    match options.hash_fragment_mode {
        HashFragmentMode::Always => with_fragment(&sanitized),
        HashFragmentMode::OnlyIfChanged => {
            let end = truncate(&sanitized, max_length);
            if sanitized[..end] == *value {
                return Ok(Cow::Borrowed(value));
            }
            with_fragment(&sanitized[..end])
        }
        HashFragmentMode::Never => {
            if sanitized.is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidKey,
                    "Entire value was sanitized and hash_fragment_mode is HashFragmentMode.NEVER",
                ));
            }
            let end = truncate(&sanitized, max_length);
            Ok(match sanitized {
                Cow::Borrowed(s) => Cow::Borrowed(&s[..end]),
                Cow::Owned(mut s) => {
                    s.truncate(end);
                    Cow::Owned(s)
                }
            })
        }
    }
}

/// [`hash_excess_length`] without the check of `max_length` (callers guarantee `>= 16`).
pub(crate) fn hash_excess_length_unchecked(
    value: &str,
    max_length: usize,
    length_is_bytes: bool,
) -> Cow<'_, str> {
    let too_long = if length_is_bytes {
        value.len() > max_length
    } else {
        longer_than(value, max_length)
    };
    if !too_long {
        return Cow::Borrowed(value);
    }
    let room = max_length.saturating_sub(DEFAULT_HASH_FRAGMENT_SIZE);
    let kept = if length_is_bytes {
        truncate_to_bytes(value, room)
    } else {
        truncate_chars(value, room)
    };
    let fragment = generate_hash_fragment(value, DEFAULT_HASH_FRAGMENT_SIZE);
    Cow::Owned(format!("{kept}{fragment}"))
}

/// Leaves values of at most `max_length` characters (UTF-8 bytes when `length_is_bytes`)
/// unchanged and replaces the tail of longer ones by 8 hex digits of their SHA-256 (py:
/// `hash_excess_length`): the result is the value truncated to `max_length - 8` (never splitting
/// a character) followed by the fragment, with no separator and no prefix.
///
/// # Errors
///
/// [`ErrorKind::Config`] when `max_length < 16`.
///
/// ```
/// use key_value_core::sanitize::hash_excess_length;
///
/// assert_eq!(hash_excess_length("short", 16, false)?, "short");
/// assert_eq!(hash_excess_length("a_rather_long_key", 16, false)?, "a_rather3067ee0a");
/// // 17 bytes > 16: the longest prefix of at most 16 - 8 bytes is 'a' + 3 'é' (7 bytes)
/// assert_eq!(hash_excess_length("aéééééééé", 16, true)?, "aéééaabb568b");
/// # Ok::<(), key_value_core::Error>(())
/// ```
pub fn hash_excess_length(
    value: &str,
    max_length: usize,
    length_is_bytes: bool,
) -> Result<Cow<'_, str>> {
    if max_length < MINIMUM_MAX_LENGTH {
        return Err(min_length_error());
    }
    Ok(hash_excess_length_unchecked(
        value,
        max_length,
        length_is_bytes,
    ))
}

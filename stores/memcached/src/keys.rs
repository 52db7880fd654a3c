//! From `(collection, key)` to the memcached key: prefix, compound key, sanitization, and
//! memcached's own rules checked before anything is sent.

use std::sync::Arc;

use key_value_core::sanitize::{
    HASHED_PREFIX, MemcachedV1KeySanitizationStrategy, SanitizationStrategy, sha256_hex,
};
use key_value_core::{Error, ErrorKind, Result};

/// The longest key memcached accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 250;

/// The length of a hashed key: `H_` and 64 hex digits.
pub(crate) const HASHED_KEY_BYTES: usize = 66;

/// The longest key prefix accepted: a hashed key must still fit behind it.
pub const MAX_PREFIX_BYTES: usize = MAX_KEY_BYTES - HASHED_KEY_BYTES;

/// How keys are turned into memcached keys.
///
/// The memcached key is always `prefix + s("collection::key")`, where `s` is the strategy.
#[derive(Debug, Clone, Default)]
pub enum KeySanitization {
    /// No sanitization: the key is `collection::key`, as py-key-value's default. Keys that
    /// memcached cannot hold (over 250 bytes with the prefix, or with spaces or control
    /// characters) are [`InvalidKey`](ErrorKind::InvalidKey) (or, when the collection is at
    /// fault, [`InvalidCollection`](ErrorKind::InvalidCollection)) errors, raised before
    /// anything is sent.
    #[default]
    Passthrough,
    /// py-key-value's `MemcachedV1KeySanitizationStrategy`: compound keys over 240 characters
    /// become `H_` + their SHA-256 in hex, and compound keys starting with `H_` or `S_` are
    /// rejected. Beyond py-key-value, a key that strategy leaves unusable for memcached (one
    /// with a space or a control character, or over 250 bytes because of multi-byte characters
    /// or the prefix) is hashed the same way instead of failing, so every key works.
    V1,
    /// Any strategy (for data written by a py-key-value store configured with it). Its
    /// outputs must be valid memcached keys; those that are not are `InvalidKey` errors.
    Custom(Arc<dyn SanitizationStrategy>),
}

impl KeySanitization {
    /// The URL form: `none` or `v1` (a custom strategy has none).
    pub fn name(&self) -> &'static str {
        match self {
            KeySanitization::Passthrough => "none",
            KeySanitization::V1 => "v1",
            KeySanitization::Custom(_) => "custom",
        }
    }
}

/// Whether `byte` may appear in a memcached key: no space, no control character, no DEL.
fn allowed(byte: u8) -> bool {
    byte > b' ' && byte != 0x7f
}

/// Whether memcached accepts `key` as it is.
pub fn is_valid_memcached_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_BYTES && key.bytes().all(allowed)
}

/// Checks a key prefix at configuration time.
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    if !prefix.bytes().all(allowed) {
        return Err(Error::new(
            ErrorKind::Config,
            "the key prefix must not contain spaces or control characters",
        ));
    }
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "the key prefix is {} bytes; at most {MAX_PREFIX_BYTES} leave room for a hashed key",
                prefix.len()
            ),
        ));
    }
    Ok(())
}

/// Makes memcached keys.
#[derive(Debug, Clone)]
pub(crate) struct KeyMaker {
    prefix: String,
    sanitization: KeySanitization,
}

impl KeyMaker {
    pub(crate) fn new(prefix: String, sanitization: KeySanitization) -> Self {
        KeyMaker {
            prefix,
            sanitization,
        }
    }

    /// The memcached key of `key` in `collection`.
    pub(crate) fn make(&self, collection: &str, key: &str) -> Result<String> {
        let compound = format!("{collection}::{key}");
        match &self.sanitization {
            KeySanitization::Passthrough => {
                let full = format!("{}{compound}", self.prefix);
                self.check_plain(&full, collection, key)?;
                Ok(full)
            }
            KeySanitization::V1 => {
                let strategy = MemcachedV1KeySanitizationStrategy::new();
                let sanitized = strategy.validate_and_sanitize(&compound)?;
                let full = format!("{}{sanitized}", self.prefix);
                if is_valid_memcached_key(&full) {
                    Ok(full)
                } else {
                    Ok(format!(
                        "{}{HASHED_PREFIX}{}",
                        self.prefix,
                        sha256_hex(&compound)
                    ))
                }
            }
            KeySanitization::Custom(strategy) => {
                let sanitized = strategy.validate_and_sanitize(&compound)?;
                let full = format!("{}{sanitized}", self.prefix);
                if is_valid_memcached_key(&full) {
                    Ok(full)
                } else {
                    Err(Error::new(
                        ErrorKind::InvalidKey,
                        format!(
                            "the sanitization strategy produced a key memcached cannot hold \
                             ({} bytes; at most {MAX_KEY_BYTES}, without spaces or control characters)",
                            full.len()
                        ),
                    ))
                }
            }
        }
    }

    /// Why a passthrough key is not a memcached key, blaming the collection or the key.
    fn check_plain(&self, full: &str, collection: &str, key: &str) -> Result<()> {
        if is_valid_memcached_key(full) {
            return Ok(());
        }
        let hint = "or use the V1 key sanitization (sanitize=v1), which hashes such keys";
        if !collection.bytes().all(allowed) {
            return Err(Error::new(
                ErrorKind::InvalidCollection,
                format!(
                    "memcached keys cannot contain spaces or control characters, and this collection name does; rename it, {hint}"
                ),
            ));
        }
        if !key.bytes().all(allowed) {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "memcached keys cannot contain spaces or control characters, and this key does; {hint}"
                ),
            ));
        }
        let fixed = self.prefix.len() + collection.len() + 2;
        let (kind, part) = if fixed >= MAX_KEY_BYTES {
            (ErrorKind::InvalidCollection, "collection name")
        } else {
            (ErrorKind::InvalidKey, "key")
        };
        Err(Error::new(
            kind,
            format!(
                "the memcached key would be {} bytes (prefix {} + collection {} + 2 + key {}); memcached accepts at most {MAX_KEY_BYTES}: shorten the {part}, {hint}",
                full.len(),
                self.prefix.len(),
                collection.len(),
                key.len()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_is_py_key_value_layout() {
        let m = KeyMaker::new(String::new(), KeySanitization::Passthrough);
        assert_eq!(
            m.make("users", "user:1").ok().as_deref(),
            Some("users::user:1")
        );
        let m = KeyMaker::new("app:".into(), KeySanitization::Passthrough);
        assert_eq!(
            m.make("users", "user:1").ok().as_deref(),
            Some("app:users::user:1")
        );
    }

    #[test]
    fn passthrough_rejects_what_memcached_rejects() {
        let m = KeyMaker::new(String::new(), KeySanitization::Passthrough);
        let kind = |c: &str, k: &str| m.make(c, k).err().map(|e| e.kind());
        assert_eq!(kind("c", "a b"), Some(ErrorKind::InvalidKey));
        assert_eq!(kind("c", "a\tb"), Some(ErrorKind::InvalidKey));
        assert_eq!(kind("c", "a\u{7f}"), Some(ErrorKind::InvalidKey));
        assert_eq!(kind("c d", "k"), Some(ErrorKind::InvalidCollection));
        assert_eq!(kind("c", &"k".repeat(247)), None);
        assert_eq!(kind("c", &"k".repeat(248)), Some(ErrorKind::InvalidKey));
        assert_eq!(
            kind(&"c".repeat(248), "k"),
            Some(ErrorKind::InvalidCollection)
        );
        // Bytes, not characters: 124 two-byte characters are 248 bytes.
        assert_eq!(kind("c", &"é".repeat(124)), Some(ErrorKind::InvalidKey));
        assert_eq!(kind("c", "é"), None);
    }

    #[test]
    fn v1_matches_py_key_value_and_hashes_the_rest() {
        let m = KeyMaker::new(String::new(), KeySanitization::V1);
        assert_eq!(
            m.make("users", "user:1").ok().as_deref(),
            Some("users::user:1")
        );
        let long = "k".repeat(300);
        let py = MemcachedV1KeySanitizationStrategy::new()
            .sanitize(&format!("c::{long}"))
            .into_owned();
        assert_eq!(m.make("c", &long).ok(), Some(py));
        let spaced = m.make("c", "a b").ok().unwrap_or_default();
        assert_eq!(spaced, format!("H_{}", sha256_hex("c::a b")));
        let wide = m.make("c", &"é".repeat(200)).ok().unwrap_or_default();
        assert!(wide.starts_with("H_") && wide.len() == HASHED_KEY_BYTES);
        assert_eq!(
            m.make("H_c", "k").err().map(|e| e.kind()),
            Some(ErrorKind::InvalidKey)
        );
        let m = KeyMaker::new("p".repeat(MAX_PREFIX_BYTES), KeySanitization::V1);
        let full = m.make("c", &"k".repeat(200)).ok().unwrap_or_default();
        assert_eq!(full.len(), MAX_KEY_BYTES);
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("app:").is_ok());
        assert!(check_prefix("a b").is_err());
        assert!(check_prefix(&"p".repeat(MAX_PREFIX_BYTES + 1)).is_err());
    }
}

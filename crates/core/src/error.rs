//! The one error type of the library.
//!
//! Every failure is an [`Error`] with an [`ErrorKind`] (one per py-key-value error class, plus
//! connection, backend and unsupported), whether it is [temporary](Error::is_temporary) (worth
//! retrying), the operation, collection and key it concerns, and the underlying error as its
//! [`source`](std::error::Error::source).
//!
//! Messages never contain values or secrets: only the operation, the collection and the key.
//!
//! ```
//! use key_value_core::{Error, ErrorKind};
//!
//! let err = Error::new(ErrorKind::InvalidTtl, "a TTL must be positive and finite, got -1")
//!     .with_operation("put")
//!     .with_collection("users")
//!     .with_key("user:1");
//! assert_eq!(err.kind(), ErrorKind::InvalidTtl);
//! assert!(!err.is_temporary());
//! assert_eq!(
//!     err.to_string(),
//!     "put failed (collection 'users', key 'user:1'): invalid TTL: a TTL must be positive and finite, got -1"
//! );
//! ```

use std::borrow::Cow;
use std::fmt;

/// What went wrong, one variant per class of failure.
///
/// The first group mirrors py-key-value's error classes (`SerializationError`,
/// `InvalidTTLError`, ...); the rest cover what a Rust library must also say explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A value could not be turned into the stored form (py: `SerializationError`).
    Serialization,
    /// Stored data could not be read back: corrupt JSON, a missing field, a bad timestamp
    /// (py: `DeserializationError`).
    Deserialization,
    /// A key that was required was not found (py: `MissingKeyError`).
    MissingKey,
    /// A TTL that is zero, negative, NaN or infinite (py: `InvalidTTLError`).
    InvalidTtl,
    /// A key the store cannot hold: empty, too long, or using a reserved prefix
    /// (py: `InvalidKeyError`).
    InvalidKey,
    /// A collection name the store cannot hold: too long or with characters the backend rejects.
    InvalidCollection,
    /// A value larger than the store accepts (py: `ValueTooLargeError`).
    ValueTooLarge,
    /// A value could not be encrypted (py: `EncryptionError`).
    Encryption,
    /// A value could not be decrypted: wrong key, tampered data (py: `DecryptionError`).
    Decryption,
    /// Encrypted data is not in the expected shape (py: `CorruptedDataError`).
    CorruptedData,
    /// Data was encrypted with a newer format version (py: `EncryptionVersionError`).
    EncryptionVersion,
    /// A write was attempted through a read-only store (py: `ReadOnlyError`).
    ReadOnly,
    /// An entry larger than a configured limit (py: `EntryTooLargeError`).
    EntryTooLarge,
    /// An entry smaller than a configured limit (py: `EntryTooSmallError`).
    EntryTooSmall,
    /// The store or a collection could not be set up (py: `StoreSetupError`).
    Setup,
    /// The backend could not be reached (py: `StoreConnectionError`).
    Connection,
    /// A path would escape the store's directory (py: `PathSecurityError`).
    PathSecurity,
    /// The operation took longer than allowed.
    Timeout,
    /// The backend answered with an error of its own.
    Backend,
    /// The call was refused before reaching the backend, to protect it: a full bulkhead or an
    /// exhausted rate limit. Temporary by default: the same call may pass later.
    Overloaded,
    /// The store does not support this operation; see its [`Capabilities`](crate::Capabilities).
    Unsupported,
    /// An argument is invalid, e.g. `put_many` with different numbers of keys and values.
    InvalidArgument,
    /// A configuration value (URL, option) is invalid.
    Config,
    /// The store was closed.
    Closed,
}

impl ErrorKind {
    /// A short lower-case description, used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Serialization => "serialization error",
            ErrorKind::Deserialization => "deserialization error",
            ErrorKind::MissingKey => "missing key",
            ErrorKind::InvalidTtl => "invalid TTL",
            ErrorKind::InvalidKey => "invalid key",
            ErrorKind::InvalidCollection => "invalid collection",
            ErrorKind::ValueTooLarge => "value too large",
            ErrorKind::Encryption => "encryption error",
            ErrorKind::Decryption => "decryption error",
            ErrorKind::CorruptedData => "corrupted data",
            ErrorKind::EncryptionVersion => "unsupported encryption version",
            ErrorKind::ReadOnly => "read-only store",
            ErrorKind::EntryTooLarge => "entry too large",
            ErrorKind::EntryTooSmall => "entry too small",
            ErrorKind::Setup => "setup failed",
            ErrorKind::Connection => "connection error",
            ErrorKind::PathSecurity => "path security violation",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Backend => "backend error",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Unsupported => "unsupported operation",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Closed => "store closed",
        }
    }

    /// Whether errors of this kind are temporary by default: connection failures, time-outs and
    /// overload refusals are worth retrying, everything else is not.
    pub fn is_temporary_by_default(self) -> bool {
        matches!(
            self,
            ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::Overloaded
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The boxed source error attached to an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every fallible call in this library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from a key-value store: its [`ErrorKind`], whether it is temporary, where it
/// happened and why.
///
/// Build one with [`Error::new`] and the `with_*` methods; stores usually attach the
/// operation, collection and key.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    temporary: bool,
    message: Cow<'static, str>,
    operation: Option<&'static str>,
    collection: Option<String>,
    key: Option<String>,
    source: Option<BoxError>,
}

impl Error {
    /// A new error of `kind` with a message. Its temporariness defaults to
    /// [`ErrorKind::is_temporary_by_default`].
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                temporary: kind.is_temporary_by_default(),
                message: message.into(),
                operation: None,
                collection: None,
                key: None,
                source: None,
            }),
        }
    }

    /// An [`ErrorKind::Unsupported`] error for a capability the store lacks.
    ///
    /// ```
    /// let err = key_value_core::Error::unsupported("keys", "NullStore");
    /// assert_eq!(err.to_string(), "keys failed: unsupported operation: NullStore does not support keys");
    /// ```
    pub fn unsupported(operation: &'static str, store: &str) -> Self {
        Error::new(
            ErrorKind::Unsupported,
            format!("{store} does not support {operation}"),
        )
        .with_operation(operation)
    }

    /// Sets the operation (`"get"`, `"put_many"`, ...) the error happened in.
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        self.inner.operation = Some(operation);
        self
    }

    /// Sets the operation only if none is set yet: lower layers know more precisely.
    pub fn or_operation(mut self, operation: &'static str) -> Self {
        if self.inner.operation.is_none() {
            self.inner.operation = Some(operation);
        }
        self
    }

    /// Fills in the operation, collection and key where the error does not name them yet.
    /// Lower layers know more precisely, so what they set is kept.
    pub fn in_context(
        mut self,
        operation: &'static str,
        collection: &str,
        key: Option<&str>,
    ) -> Self {
        let inner = &mut *self.inner;
        inner.operation.get_or_insert(operation);
        if inner.collection.is_none() {
            inner.collection = Some(collection.to_string());
        }
        if inner.key.is_none() {
            inner.key = key.map(str::to_string);
        }
        self
    }

    /// Sets the collection the error concerns.
    pub fn with_collection(mut self, collection: impl Into<String>) -> Self {
        self.inner.collection = Some(collection.into());
        self
    }

    /// Sets the key the error concerns.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.inner.key = Some(key.into());
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// Marks the error as temporary (worth retrying) or permanent.
    pub fn with_temporary(mut self, temporary: bool) -> Self {
        self.inner.temporary = temporary;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether retrying the same call may succeed (a lost connection, a time-out).
    pub fn is_temporary(&self) -> bool {
        self.inner.temporary
    }

    /// The message, without the context.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The operation the error happened in, if known.
    pub fn operation(&self) -> Option<&'static str> {
        self.inner.operation
    }

    /// The collection the error concerns, if known.
    pub fn collection(&self) -> Option<&str> {
        self.inner.collection.as_deref()
    }

    /// The key the error concerns, if known.
    pub fn key(&self) -> Option<&str> {
        self.inner.key.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        if let Some(op) = inner.operation {
            write!(f, "{op} failed")?;
            match (&inner.collection, &inner.key) {
                (Some(c), Some(k)) => write!(f, " (collection '{c}', key '{k}')")?,
                (Some(c), None) => write!(f, " (collection '{c}')")?,
                (None, Some(k)) => write!(f, " (key '{k}')")?,
                (None, None) => {}
            }
            f.write_str(": ")?;
        } else {
            match (&inner.collection, &inner.key) {
                (Some(c), Some(k)) => write!(f, "collection '{c}', key '{k}': ")?,
                (Some(c), None) => write!(f, "collection '{c}': ")?,
                (None, Some(k)) => write!(f, "key '{k}': ")?,
                (None, None) => {}
            }
        }
        write!(f, "{}", inner.kind)?;
        if !inner.message.is_empty() {
            write!(f, ": {}", inner.message)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &inner.kind)
            .field("temporary", &inner.temporary)
            .field("message", &inner.message);
        if let Some(op) = inner.operation {
            d.field("operation", &op);
        }
        if let Some(c) = &inner.collection {
            d.field("collection", c);
        }
        if let Some(k) = &inner.key {
            d.field("key", k);
        }
        if let Some(s) = &inner.source {
            d.field("source", &s.to_string());
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_are_temporary_by_default() {
        assert!(Error::new(ErrorKind::Connection, "refused").is_temporary());
        assert!(Error::new(ErrorKind::Timeout, "slow").is_temporary());
        assert!(Error::new(ErrorKind::Overloaded, "bulkhead full").is_temporary());
        assert!(!Error::new(ErrorKind::Backend, "no").is_temporary());
        assert!(
            Error::new(ErrorKind::Backend, "busy")
                .with_temporary(true)
                .is_temporary()
        );
    }

    #[test]
    fn display_names_context_and_source_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::new(ErrorKind::Connection, "cannot reach 127.0.0.1:6379")
            .with_operation("get")
            .with_key("k")
            .with_source(io);
        assert_eq!(
            err.to_string(),
            "get failed (key 'k'): connection error: cannot reach 127.0.0.1:6379"
        );
        let src = std::error::Error::source(&err).map(|s| s.to_string());
        assert_eq!(src.as_deref(), Some("refused"));
        assert_eq!(
            Error::new(ErrorKind::Closed, "").to_string(),
            "store closed"
        );
    }

    #[test]
    fn or_operation_keeps_the_inner_one() {
        let err = Error::new(ErrorKind::Backend, "x")
            .with_operation("get_many")
            .or_operation("get");
        assert_eq!(err.operation(), Some("get_many"));
    }
}

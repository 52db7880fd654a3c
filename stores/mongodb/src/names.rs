//! From a collection name to a MongoDB collection name: sanitization, then MongoDB's own
//! rules, checked before anything is sent.

use std::borrow::Cow;
use std::sync::Arc;

use key_value_core::sanitize::{MongoDbV1CollectionSanitizationStrategy, SanitizationStrategy};
use key_value_core::{Error, ErrorKind, Result};

/// The longest namespace (`database.collection`) MongoDB accepts, in bytes (MongoDB 4.4+).
pub const MAX_NAMESPACE_BYTES: usize = 255;
/// The longest database name MongoDB accepts, in bytes.
pub const MAX_DATABASE_BYTES: usize = 63;

/// How collection names become MongoDB collection names.
#[derive(Debug, Clone, Default)]
pub enum CollectionSanitization {
    /// No sanitization: the MongoDB collection has the collection's name, as py-key-value's
    /// default. Names MongoDB refuses (empty, with `$` or NUL, starting with `system.` or `.`,
    /// or longer than 255 bytes together with the database name and a dot) are
    /// [`InvalidCollection`](ErrorKind::InvalidCollection) errors, raised before anything is
    /// sent. (py-key-value sends them and gets the server's error.)
    #[default]
    Passthrough,
    /// py-key-value's `MongoDBV1CollectionSanitizationStrategy`: characters other than ASCII
    /// letters, digits and `_` are replaced and an 8-hex-digit hash is appended
    /// (`"test_collection!@#$%^&*()"` → `"S_test_collection_-daf4a2ec"`), at most 200
    /// characters; names starting with `S_` or `H_` are rejected. Every other name works
    /// (with a database name of at most 54 bytes).
    V1,
    /// Any strategy (for data written by a py-key-value store configured with it). Its
    /// outputs must be names MongoDB accepts; those that are not are `InvalidCollection`
    /// errors.
    Custom(Arc<dyn SanitizationStrategy>),
}

impl CollectionSanitization {
    /// The URL form: `none` or `v1` (a custom strategy has none).
    pub fn name(&self) -> &'static str {
        match self {
            CollectionSanitization::Passthrough => "none",
            CollectionSanitization::V1 => "v1",
            CollectionSanitization::Custom(_) => "custom",
        }
    }
}

/// Turns collection names into MongoDB collection names for one database.
#[derive(Debug)]
pub(crate) struct Namer {
    sanitization: CollectionSanitization,
    v1: MongoDbV1CollectionSanitizationStrategy,
    database_bytes: usize,
}

impl Namer {
    pub(crate) fn new(sanitization: CollectionSanitization, database: &str) -> Self {
        Namer {
            sanitization,
            v1: MongoDbV1CollectionSanitizationStrategy::new(),
            database_bytes: database.len(),
        }
    }

    /// The longest MongoDB collection name, in bytes, next to this database.
    pub(crate) fn max_collection_bytes(&self) -> usize {
        MAX_NAMESPACE_BYTES.saturating_sub(self.database_bytes + 1)
    }

    /// Whether collection names pass unchanged.
    pub(crate) fn is_passthrough(&self) -> bool {
        matches!(self.sanitization, CollectionSanitization::Passthrough)
    }

    /// The MongoDB collection of `collection`, or an `InvalidCollection` error.
    pub(crate) fn make<'a>(&self, collection: &'a str) -> Result<Cow<'a, str>> {
        let strategy: Option<&dyn SanitizationStrategy> = match &self.sanitization {
            CollectionSanitization::Passthrough => None,
            CollectionSanitization::V1 => Some(&self.v1),
            CollectionSanitization::Custom(s) => Some(s.as_ref()),
        };
        let name = match strategy {
            None => Cow::Borrowed(collection),
            Some(s) => s.validate_and_sanitize(collection).map_err(|e| {
                Error::new(ErrorKind::InvalidCollection, e.message().to_string())
                    .with_collection(collection)
            })?,
        };
        if let Some(why) = mongo_rejects(&name, self.max_collection_bytes()) {
            let hint = if self.is_passthrough() {
                " (the V1 collection sanitization makes every name usable)"
            } else {
                ""
            };
            return Err(Error::new(
                ErrorKind::InvalidCollection,
                format!("MongoDB does not accept the collection name {name:?}: {why}{hint}"),
            )
            .with_collection(collection));
        }
        Ok(name)
    }
}

/// Why MongoDB would refuse `name` as a collection name, if it would.
pub(crate) fn mongo_rejects(name: &str, max_bytes: usize) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.contains('$') {
        return Some("it contains `$`".into());
    }
    if name.contains('\0') {
        return Some("it contains a NUL character".into());
    }
    if name.starts_with("system.") {
        return Some("names starting with `system.` are reserved".into());
    }
    if name.starts_with('.') {
        return Some("it starts with `.`".into());
    }
    if name.len() > max_bytes {
        return Some(format!(
            "it is {} bytes; with the database name the namespace may have at most \
             {MAX_NAMESPACE_BYTES} bytes, which leaves {max_bytes}",
            name.len()
        ));
    }
    None
}

/// Checks a database name: what MongoDB accepts on every platform.
pub(crate) fn check_database_name(name: &str) -> Result<()> {
    let bad = name.chars().find(|c| {
        matches!(
            c,
            '/' | '\\' | '.' | ' ' | '"' | '$' | '*' | '<' | '>' | ':' | '|' | '?' | '\0'
        )
    });
    let why = if name.is_empty() {
        Some("it is empty".to_string())
    } else if let Some(c) = bad {
        Some(format!("it contains {c:?}"))
    } else if name.len() > MAX_DATABASE_BYTES {
        Some(format!(
            "it is {} bytes; MongoDB allows at most {MAX_DATABASE_BYTES}",
            name.len()
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::new(
            ErrorKind::Config,
            format!("invalid MongoDB database name {name:?}: {why}"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_rejects_what_mongodb_rejects() {
        let n = Namer::new(CollectionSanitization::Passthrough, "kv-store-adapter");
        assert_eq!(n.make("users").unwrap(), "users");
        assert_eq!(n.make("a.b-c!").unwrap(), "a.b-c!");
        for bad in ["", "a$b", "system.users", ".x", "a\0b"] {
            let e = n.make(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidCollection, "{bad:?}");
        }
        let max = 255 - "kv-store-adapter".len() - 1;
        assert!(n.make(&"x".repeat(max)).is_ok());
        assert!(n.make(&"x".repeat(max + 1)).is_err());
    }

    #[test]
    fn v1_is_py_key_values() {
        let n = Namer::new(CollectionSanitization::V1, "kv-store-adapter");
        assert_eq!(
            n.make("test_collection!@#$%^&*()").unwrap(),
            "S_test_collection_-daf4a2ec"
        );
        assert_eq!(n.make("plain_name").unwrap(), "plain_name");
        assert!(n.make(&"test_collection".repeat(100)).unwrap().len() <= 200);
        assert!(n.make("system.users").is_ok());
        assert_eq!(
            n.make("S_reserved").unwrap_err().kind(),
            ErrorKind::InvalidCollection
        );
    }

    #[test]
    fn database_names() {
        assert!(check_database_name("kv-store-adapter").is_ok());
        for bad in ["", "a.b", "a b", "a$", "a/b", &"x".repeat(64)] {
            assert_eq!(
                check_database_name(bad).unwrap_err().kind(),
                ErrorKind::Config
            );
        }
    }
}

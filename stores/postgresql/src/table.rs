//! Table names and the SQL written for one table.

use key_value_core::{Error, ErrorKind, Result};
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;

/// py-key-value's default table name.
pub const DEFAULT_TABLE: &str = "kv_store";

/// PostgreSQL's identifier limit (`NAMEDATALEN - 1`), in bytes.
pub const MAX_IDENTIFIER_LENGTH: usize = 63;

/// A validated table name: `[A-Za-z_][A-Za-z0-9_]{0,62}`.
///
/// py-key-value writes the name unquoted, so PostgreSQL folds it to lower case; this store
/// quotes the folded name, so `MyTable` is the same table for both (`mytable`). No SQL can be
/// injected through it: only letters, digits and `_` pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// As given (py-key-value hashes this form for long index names).
    given: String,
    /// Folded to lower case, the name PostgreSQL uses.
    folded: String,
}

impl TableName {
    /// Validates `name`; anything else than `[A-Za-z_][A-Za-z0-9_]{0,62}` is a
    /// [`Config`](ErrorKind::Config) error.
    ///
    /// ```
    /// use key_value_postgresql::TableName;
    /// assert_eq!(TableName::new("KV_Store")?.name(), "kv_store");
    /// assert!(TableName::new("kv; DROP TABLE x").is_err());
    /// assert!(TableName::new("1kv").is_err());
    /// assert!(TableName::new(&"t".repeat(64)).is_err());
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn new(name: &str) -> Result<Self> {
        if !is_valid_table_name(name) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "invalid table name {name:?}: it must match [A-Za-z_][A-Za-z0-9_]{{0,62}} \
                     (letters, digits and _, not starting with a digit, at most 63 characters)"
                ),
            ));
        }
        Ok(TableName {
            given: name.to_string(),
            folded: name.to_ascii_lowercase(),
        })
    }

    /// The table's name in PostgreSQL (lower case).
    pub fn name(&self) -> &str {
        &self.folded
    }

    /// The name quoted for SQL: `"kv_store"`.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.folded)
    }

    /// The name of the partial index on `expires_at`, by py-key-value's rule:
    /// `idx_<table>_expires_at`, or `idx_<first 16 hex digits of sha256(table)>_exp` when that
    /// is longer than 63 characters.
    ///
    /// ```
    /// use key_value_postgresql::TableName;
    /// assert_eq!(TableName::new("kv_store")?.index_name(), "idx_kv_store_expires_at");
    /// let long = TableName::new(&"t".repeat(60))?;
    /// assert_eq!(long.index_name().len(), 4 + 16 + 4);
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn index_name(&self) -> String {
        let plain = format!("idx_{}_expires_at", self.given);
        if plain.len() > MAX_IDENTIFIER_LENGTH {
            let digest = Sha256::digest(self.given.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("idx_{}_exp", &hex[..16])
        } else {
            plain.to_ascii_lowercase()
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.folded)
    }
}

/// Whether `name` matches `[A-Za-z_][A-Za-z0-9_]{0,62}`.
pub fn is_valid_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    name.len() <= MAX_IDENTIFIER_LENGTH && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The statements the store runs, each with its parameter types (sent with the statement in
/// PgBouncer mode, where nothing is prepared by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stmt {
    Get,
    GetMany,
    Put,
    PutMany,
    Delete,
    DeleteMany,
    Keys,
    Collections,
    Destroy,
    DestroyCollection,
    Cull,
}

const STMT_COUNT: usize = 11;

#[derive(Debug)]
pub(crate) struct Statements {
    text: [String; STMT_COUNT],
}

impl Statements {
    pub(crate) fn new(table: &TableName) -> Self {
        let t = table.quoted();
        let upsert = "ON CONFLICT (collection, key) DO UPDATE SET value = EXCLUDED.value, \
                      ttl = EXCLUDED.ttl, expires_at = EXCLUDED.expires_at";
        let text = [
            // Get
            format!(
                "SELECT value::text, created_at, expires_at FROM {t} \
                 WHERE collection = $1 AND key = $2"
            ),
            // GetMany
            format!(
                "SELECT key, value::text, created_at, expires_at FROM {t} \
                 WHERE collection = $1 AND key = ANY($2)"
            ),
            // Put
            format!(
                "INSERT INTO {t} (collection, key, value, ttl, created_at, expires_at) \
                 VALUES ($1, $2, $3::text::jsonb, $4, $5, $6) {upsert}"
            ),
            // PutMany
            format!(
                "INSERT INTO {t} (collection, key, value, ttl, created_at, expires_at) \
                 SELECT $1, u.k, u.v::jsonb, u.ttl, u.c, u.e \
                 FROM UNNEST($2::text[], $3::text[], $4::float8[], $5::timestamptz[], $6::timestamptz[]) \
                 AS u(k, v, ttl, c, e) {upsert}"
            ),
            // Delete
            format!("DELETE FROM {t} WHERE collection = $1 AND key = $2"),
            // DeleteMany
            format!("DELETE FROM {t} WHERE collection = $1 AND key = ANY($2)"),
            // Keys
            format!(
                "SELECT key FROM {t} WHERE collection = $1 \
                 AND (expires_at IS NULL OR expires_at > $2) ORDER BY key LIMIT $3"
            ),
            // Collections
            format!(
                "SELECT DISTINCT collection FROM {t} \
                 WHERE expires_at IS NULL OR expires_at > $1 ORDER BY collection LIMIT $2"
            ),
            // Destroy
            format!("DELETE FROM {t}"),
            // DestroyCollection
            format!("DELETE FROM {t} WHERE collection = $1"),
            // Cull: bounded batches, through the partial index on expires_at.
            format!(
                "DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t} \
                 WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2))"
            ),
        ];
        Statements { text }
    }

    pub(crate) fn sql(&self, stmt: Stmt) -> &str {
        &self.text[stmt as usize]
    }

    pub(crate) fn types(stmt: Stmt) -> &'static [Type] {
        match stmt {
            Stmt::Get | Stmt::Delete => &[Type::TEXT, Type::TEXT],
            Stmt::GetMany | Stmt::DeleteMany => &[Type::TEXT, Type::TEXT_ARRAY],
            Stmt::Put => &[
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::FLOAT8,
                Type::TIMESTAMPTZ,
                Type::TIMESTAMPTZ,
            ],
            Stmt::PutMany => &[
                Type::TEXT,
                Type::TEXT_ARRAY,
                Type::TEXT_ARRAY,
                Type::FLOAT8_ARRAY,
                Type::TIMESTAMPTZ_ARRAY,
                Type::TIMESTAMPTZ_ARRAY,
            ],
            Stmt::Keys => &[Type::TEXT, Type::TIMESTAMPTZ, Type::INT8],
            Stmt::Collections => &[Type::TIMESTAMPTZ, Type::INT8],
            Stmt::Destroy => &[],
            Stmt::DestroyCollection => &[Type::TEXT],
            Stmt::Cull => &[Type::TIMESTAMPTZ, Type::INT8],
        }
    }

    /// py-key-value's schema (`CREATE TABLE` and the partial index), for one table.
    pub(crate) fn create(table: &TableName) -> String {
        let t = table.quoted();
        let idx = table.index_name();
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (collection TEXT NOT NULL, key TEXT NOT NULL, \
             value JSONB NOT NULL, ttl DOUBLE PRECISION, created_at TIMESTAMPTZ, \
             expires_at TIMESTAMPTZ, PRIMARY KEY (collection, key)); \
             CREATE INDEX IF NOT EXISTS \"{idx}\" ON {t}(expires_at) WHERE expires_at IS NOT NULL"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_table_name("kv_store"));
        assert!(is_valid_table_name("_x"));
        assert!(is_valid_table_name(&"a".repeat(63)));
        for bad in ["", "1a", "a-b", "a b", "a\"b", "ä", &"a".repeat(64)] {
            assert!(!is_valid_table_name(bad), "{bad}");
        }
    }

    #[test]
    fn index_name_follows_python() {
        // idx_ + 48 + _expires_at = 63 characters: plain.
        let t = "a".repeat(48);
        assert_eq!(
            TableName::new(&t).unwrap().index_name(),
            format!("idx_{t}_expires_at")
        );
        // 64 characters: hashed.
        let t = "a".repeat(49);
        let digest = Sha256::digest(t.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            TableName::new(&t).unwrap().index_name(),
            format!("idx_{}_exp", &hex[..16])
        );
    }
}

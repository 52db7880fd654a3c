//! Table names and the SQL written for one table.

use key_value_core::{Error, ErrorKind, Result};

/// The default table name (py-key-value's PostgreSQL one).
pub const DEFAULT_TABLE: &str = "kv_store";

/// MySQL's identifier limit, in characters.
pub const MAX_IDENTIFIER_LENGTH: usize = 64;

/// A validated table name: `[A-Za-z_][A-Za-z0-9_]{0,63}`, folded to lower case (so it means
/// the same table whatever the server's `lower_case_table_names`) and quoted with backticks.
/// No SQL can be injected through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(String);

impl TableName {
    /// Validates `name`; anything else than `[A-Za-z_][A-Za-z0-9_]{0,63}` is a
    /// [`Config`](ErrorKind::Config) error.
    ///
    /// ```
    /// use key_value_mysql::TableName;
    /// assert_eq!(TableName::new("KV_Store")?.quoted(), "`kv_store`");
    /// assert!(TableName::new("kv`; DROP TABLE x").is_err());
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn new(name: &str) -> Result<Self> {
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok
            || name.len() > MAX_IDENTIFIER_LENGTH
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!("invalid table name {name:?}: it must match [A-Za-z_][A-Za-z0-9_]{{0,63}}"),
            ));
        }
        Ok(TableName(name.to_ascii_lowercase()))
    }

    /// The table's name (lower case).
    pub fn name(&self) -> &str {
        &self.0
    }

    /// The name quoted for SQL: `` `kv_store` ``.
    pub fn quoted(&self) -> String {
        format!("`{}`", self.0)
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) const COLUMNS: &str =
    "(`collection`, `key`, `value`, `ttl`, `created_at`, `expires_at`)";
pub(crate) const UPSERT: &str = "ON DUPLICATE KEY UPDATE `value` = VALUES(`value`), \
     `ttl` = VALUES(`ttl`), `expires_at` = VALUES(`expires_at`)";

/// The schema: py-key-value's PostgreSQL table on MySQL. Keys are byte strings (exact,
/// case-, accent- and trailing-space-sensitive); timestamps are Unix microseconds.
pub(crate) fn create_sql(t: &TableName) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\
         `collection` VARBINARY({}) NOT NULL, \
         `key` VARBINARY({}) NOT NULL, \
         `value` JSON NOT NULL, \
         `ttl` DOUBLE NULL, \
         `created_at` BIGINT NULL, \
         `expires_at` BIGINT NULL, \
         PRIMARY KEY (`collection`, `key`), \
         KEY `idx_{}_expires_at` (`expires_at`)\
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        t.quoted(),
        crate::MAX_COLLECTION_BYTES,
        crate::MAX_KEY_BYTES,
        // The index name is local to the table in MySQL; cut it to the identifier limit.
        &t.name()[..t.name().len().min(MAX_IDENTIFIER_LENGTH - 15)],
    )
}

/// `?, ?, ..., ?` (`n` placeholders).
pub(crate) fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// The number of rows a batch of `n` is padded to: the next power of two, so that few
/// distinct statements exist and each stays in the per-connection statement cache.
pub(crate) fn bucket(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

//! Test helpers: a store that owns the temporary directory it lives in.

#![allow(dead_code)]

use std::future::Future;

use key_value_core::entry::ManagedEntry;
use key_value_core::{KeyValue, Result, StoreInfo};
use tempfile::TempDir;

/// A store and its temporary directory: the directory is removed when the store is dropped
/// (fields drop in order, so the store's connections are closed first).
pub struct InTempDir<S> {
    pub store: S,
    pub dir: TempDir,
}

impl<S: KeyValue> KeyValue for InTempDir<S> {
    fn info(&self) -> &StoreInfo {
        self.store.info()
    }
    fn get_entry(
        &self,
        collection: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<ManagedEntry>>> + Send {
        self.store.get_entry(collection, key)
    }
    fn put_entry(
        &self,
        collection: &str,
        key: &str,
        entry: ManagedEntry,
    ) -> impl Future<Output = Result<()>> + Send {
        self.store.put_entry(collection, key, entry)
    }
    fn delete_entry(
        &self,
        collection: &str,
        key: &str,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.store.delete_entry(collection, key)
    }
    fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<Vec<Option<ManagedEntry>>>> + Send {
        self.store.get_entries(collection, keys)
    }
    fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> impl Future<Output = Result<()>> + Send {
        self.store.put_entries(collection, keys, entries)
    }
    fn delete_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<usize>> + Send {
        self.store.delete_entries(collection, keys)
    }
    fn list_keys(
        &self,
        collection: &str,
        limit: Option<usize>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send {
        self.store.list_keys(collection, limit)
    }
    fn list_collections(
        &self,
        limit: Option<usize>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send {
        self.store.list_collections(limit)
    }
    fn destroy(&self) -> impl Future<Output = Result<bool>> + Send {
        self.store.destroy()
    }
    fn destroy_collection(&self, collection: &str) -> impl Future<Output = Result<bool>> + Send {
        self.store.destroy_collection(collection)
    }
    fn cull(&self) -> impl Future<Output = Result<()>> + Send {
        self.store.cull()
    }
    fn close(&self) -> impl Future<Output = Result<()>> + Send {
        self.store.close()
    }
}

/// A fresh temporary directory.
pub fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("kv-disk-test-")
        .tempdir()
        .expect("a temporary directory")
}

/// The database in `dir` passes SQLite's integrity check, diskcache's counters match the rows
/// (`Cache.check()`'s rules), and every row's value file exists with its recorded size.
pub fn assert_consistent(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("cache.db")).expect("cache.db");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok", "{}", dir.display());
    let (rows, size): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM Cache",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("counts");
    let setting = |key: &str| -> i64 {
        conn.query_row("SELECT value FROM Settings WHERE key = ?", [key], |r| {
            r.get(0)
        })
        .expect("setting")
    };
    assert_eq!(
        setting("count"),
        rows,
        "Settings count in {}",
        dir.display()
    );
    assert_eq!(setting("size"), size, "Settings size in {}", dir.display());
    let mut stmt = conn
        .prepare("SELECT filename, size FROM Cache WHERE filename IS NOT NULL")
        .expect("files");
    let files: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("files")
        .collect::<rusqlite::Result<_>>()
        .expect("files");
    for (name, size) in files {
        let len = std::fs::metadata(dir.join(&name))
            .unwrap_or_else(|e| panic!("value file {name}: {e}"))
            .len();
        assert_eq!(len as i64, size, "value file {name}");
    }
}

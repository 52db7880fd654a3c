//! Shared test helpers: a store that owns its temporary directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use key_value_core::entry::ManagedEntry;
use key_value_core::{KeyValue, Result, StoreInfo};
use key_value_filetree::{FileTreeConfig, FileTreeStore};
use tempfile::TempDir;

/// A [`FileTreeStore`] in a fresh temporary directory that lives as long as the store.
pub struct TempStore {
    pub store: FileTreeStore,
    pub dir: TempDir,
}

impl TempStore {
    /// A store in `<tmp>/data` built from `configure(FileTreeConfig::new(<tmp>/data))`.
    pub fn new(configure: impl FnOnce(FileTreeConfig) -> FileTreeConfig) -> Self {
        Self::in_tmp(|config, _| configure(config))
    }

    /// As [`new`](Self::new), with the temporary directory `<tmp>` passed along (for other
    /// directories that must go away with it).
    pub fn in_tmp(configure: impl FnOnce(FileTreeConfig, &Path) -> FileTreeConfig) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = configure(FileTreeConfig::new(dir.path().join("data")), dir.path())
            .open()
            .expect("the store opens");
        TempStore { store, dir }
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        self.store.data_directory()
    }
}

impl std::ops::Deref for TempStore {
    type Target = FileTreeStore;
    fn deref(&self) -> &FileTreeStore {
        &self.store
    }
}

/// Every method forwards to the store, so the suite sees the store's own behaviour.
impl KeyValue for TempStore {
    fn info(&self) -> &StoreInfo {
        self.store.info()
    }
    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.store.get_entry(collection, key).await
    }
    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.store.put_entry(collection, key, entry).await
    }
    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        self.store.delete_entry(collection, key).await
    }
    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.store.get_entries(collection, keys).await
    }
    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.store.put_entries(collection, keys, entries).await
    }
    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.store.delete_entries(collection, keys).await
    }
    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.store.list_keys(collection, limit).await
    }
    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.store.list_collections(limit).await
    }
    async fn destroy(&self) -> Result<bool> {
        self.store.destroy().await
    }
    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.store.destroy_collection(collection).await
    }
    async fn cull(&self) -> Result<()> {
        self.store.cull().await
    }
    async fn close(&self) -> Result<()> {
        self.store.close().await
    }
}

/// Every path below `root`, relative, sorted (directories and files).
pub fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path);
            }
        }
    }
    out
}

/// The temporary files (`*.tmp`) anywhere below `root`.
pub fn temp_files(root: &Path) -> Vec<PathBuf> {
    tree(root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect()
}

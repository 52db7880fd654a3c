//! [`MultiDiskStore`]: one diskcache directory per collection, as py-key-value's
//! `MultiDiskStore`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use key_value_core::entry::ManagedEntry;
use key_value_core::json;
use key_value_core::setup::CloseFlag;
use key_value_core::{Error, ErrorKind, KeyValue, Result, StoreInfo};
use parking_lot::Mutex;
use serde_json::Value;

use crate::cache::{Cache, CacheOptions, DB_NAME};
use crate::common::{blocking, decode_all, now_secs, put_item};
use crate::config::{MultiDiskConfig, ensure_directory};
use crate::sanitize::{sanitize_filename, usable_directory_name};
use crate::store_info;

/// A collection directory: its cache once opened, and the collection it belongs to.
#[derive(Default)]
struct Slot {
    cache: Option<Arc<Cache>>,
    /// The collection whose entries the directory holds (from a stored envelope, or the first
    /// collection that used it here).
    owner: Option<String>,
}

struct Inner {
    base: PathBuf,
    options: CacheOptions,
    auto_create: bool,
    /// One slot per directory name, each with its own lock: opening a collection's cache
    /// happens under its slot's lock (in a blocking thread), so concurrent first uses wait
    /// for one open instead of racing.
    slots: Mutex<HashMap<String, Arc<Mutex<Slot>>>>,
    closed: CloseFlag,
}

/// A persistent store with one diskcache directory per collection, as py-key-value's
/// `MultiDiskStore`: `<base>/<sanitize_filename(collection)>/cache.db`, keys stored bare. See
/// the [crate docs](crate#multidiskstore).
pub struct MultiDiskStore {
    info: StoreInfo,
    inner: Arc<Inner>,
    max_size: Option<u64>,
}

impl std::fmt::Debug for MultiDiskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiDiskStore")
            .field("base_directory", &self.inner.base)
            .field("open_collections", &self.inner.slots.lock().len())
            .field("max_size", &self.max_size)
            .field("default_collection", &self.info.default_collection())
            .finish()
    }
}

impl MultiDiskStore {
    /// Opens (creating if needed) the store in `base_directory` with the defaults:
    /// `MultiDiskConfig::new(base_directory).open()`.
    pub fn open(base_directory: impl Into<PathBuf>) -> Result<MultiDiskStore> {
        MultiDiskConfig::new(base_directory).open()
    }

    /// The configuration builder: `MultiDiskStore::config(dir).max_size(n).open()`.
    pub fn config(base_directory: impl Into<PathBuf>) -> MultiDiskConfig {
        MultiDiskConfig::new(base_directory)
    }

    pub(crate) fn from_config(config: MultiDiskConfig) -> Result<MultiDiskStore> {
        let common = config.common;
        common.ensure_directory("base directory")?;
        let base = std::path::absolute(&common.directory).map_err(|e| {
            Error::new(
                ErrorKind::Setup,
                format!("cannot resolve {}: {e}", common.directory.display()),
            )
        })?;
        Ok(MultiDiskStore {
            info: store_info("MultiDiskStore", &common),
            inner: Arc::new(Inner {
                base,
                options: common.cache_options(),
                auto_create: common.auto_create,
                slots: Mutex::new(HashMap::new()),
                closed: CloseFlag::default(),
            }),
            max_size: common.max_size,
        })
    }

    /// The base directory (absolute).
    pub fn base_directory(&self) -> &Path {
        &self.inner.base
    }

    /// The directory holding `collection`'s cache: `<base>/<sanitize_filename(collection)>`.
    /// An [`ErrorKind::InvalidCollection`] error for a name that sanitizes to nothing usable
    /// (`""`, `"."` or `".."`).
    pub fn collection_directory(&self, collection: &str) -> Result<PathBuf> {
        Ok(self.inner.base.join(directory_name(collection)?))
    }

    /// Each collection's size bound in bytes, if one was set.
    pub fn max_size(&self) -> Option<u64> {
        self.max_size
    }
}

fn directory_name(collection: &str) -> Result<String> {
    let name = sanitize_filename(collection);
    if usable_directory_name(&name) {
        Ok(name)
    } else {
        Err(Error::new(
            ErrorKind::InvalidCollection,
            format!(
                "the collection name {collection:?} gives no usable directory name \
                 (pathvalidate.sanitize_filename gives {name:?})"
            ),
        )
        .with_collection(collection))
    }
}

/// The `collection` field of an envelope text, if it has one.
fn envelope_collection(text: &str) -> Option<String> {
    match json::parse_object(text).ok()?.remove("collection")? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

impl Inner {
    fn slot(&self, name: &str) -> Arc<Mutex<Slot>> {
        self.slots
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Opens the cache in directory `name` into `slot` if not yet: `None` when the directory
    /// has no cache and `create` is false.
    fn open_slot(&self, name: &str, slot: &mut Slot, create: bool) -> Result<Option<Arc<Cache>>> {
        self.closed.check()?;
        if let Some(cache) = &slot.cache {
            return Ok(Some(cache.clone()));
        }
        let dir = self.base.join(name);
        if !dir.join(DB_NAME).is_file() {
            if !create {
                return Ok(None);
            }
            ensure_directory(&dir, self.auto_create, "collection directory")?;
        }
        let cache = Arc::new(Cache::open(&dir, &self.options)?);
        // Which collection the directory already holds, if an entry says so.
        if slot.owner.is_none() {
            slot.owner = cache
                .sample_text(None)
                .ok()
                .flatten()
                .and_then(|t| envelope_collection(&t))
                .filter(|c| sanitize_filename(c) == name);
        }
        slot.cache = Some(cache.clone());
        Ok(Some(cache))
    }

    /// `collection`'s cache, opened on first use; `None` if it has none yet and `create` is
    /// false. A collection whose directory belongs to another collection is an
    /// `InvalidCollection` error.
    fn cache_for(&self, collection: &str, create: bool) -> Result<Option<Arc<Cache>>> {
        let name = directory_name(collection)?;
        let slot = self.slot(&name);
        let mut slot = slot.lock();
        let cache = self.open_slot(&name, &mut slot, create)?;
        if cache.is_some() {
            match &slot.owner {
                Some(owner) if owner != collection => {
                    return Err(Error::new(
                        ErrorKind::InvalidCollection,
                        format!(
                            "the collection {collection:?} maps to the directory {name:?}, which \
                             holds the collection {owner:?} (pathvalidate.sanitize_filename gives \
                             both the same name)"
                        ),
                    )
                    .with_collection(collection));
                }
                Some(_) => {}
                None => slot.owner = Some(collection.to_string()),
            }
        }
        Ok(cache)
    }

    /// The directory names under the base that hold a cache, sorted.
    fn cache_directories(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.base) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Backend,
                    format!("cannot list {}: {e}", self.base.display()),
                )
                .with_source(e));
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| self.base.join(n).join(DB_NAME).is_file())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every existing collection cache, opened.
    fn all_caches(&self) -> Result<Vec<(String, Arc<Cache>)>> {
        let mut out = Vec::new();
        for name in self.cache_directories()? {
            let slot = self.slot(&name);
            let mut slot = slot.lock();
            if let Some(cache) = self.open_slot(&name, &mut slot, false)? {
                out.push((name, cache));
            }
        }
        Ok(out)
    }

    fn close(&self) {
        self.closed.close();
        let slots: Vec<Arc<Mutex<Slot>>> = self.slots.lock().values().cloned().collect();
        for slot in slots {
            if let Some(cache) = slot.lock().cache.take() {
                cache.close();
            }
        }
    }
}

impl KeyValue for MultiDiskStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let mut found = self.get_entries(collection, &[key]).await?;
        Ok(found.pop().flatten())
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        self.put_entries(collection, &[key], vec![entry]).await
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        Ok(self.delete_entries(collection, &[key]).await? > 0)
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        self.inner.closed.check()?;
        let inner = self.inner.clone();
        let collection = collection.to_string();
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let now = now_secs(&self.info);
        blocking(move || {
            let Some(cache) = inner.cache_for(&collection, false)? else {
                return Ok(keys.iter().map(|_| None).collect());
            };
            let found = cache.get_many(&keys, now)?;
            decode_all(found, |i| &keys[i])
        })
        .await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.inner.closed.check()?;
        let inner = self.inner.clone();
        let collection = collection.to_string();
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let now = now_secs(&self.info);
        blocking(move || {
            let cache = inner.cache_for(&collection, true)?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Setup,
                    "the collection's cache could not be created",
                )
            })?;
            let items = keys
                .iter()
                .zip(&entries)
                .map(|(k, e)| put_item(k.clone(), &collection, k, e))
                .collect();
            cache.put_many(items, now)
        })
        .await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.inner.closed.check()?;
        let inner = self.inner.clone();
        let collection = collection.to_string();
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let now = now_secs(&self.info);
        blocking(move || match inner.cache_for(&collection, false)? {
            Some(cache) => cache.delete_many(&keys, now),
            None => Ok(0),
        })
        .await
    }

    /// The live keys of `collection`, in key order.
    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.closed.check()?;
        let inner = self.inner.clone();
        let collection = collection.to_string();
        let now = now_secs(&self.info);
        blocking(move || match inner.cache_for(&collection, false)? {
            Some(cache) => cache.keys(None, now, limit),
            None => Ok(Vec::new()),
        })
        .await
    }

    /// The collections with live entries, sorted: each collection directory's name, or the
    /// collection an entry in it names when sanitization changed that name.
    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.closed.check()?;
        let inner = self.inner.clone();
        let now = now_secs(&self.info);
        blocking(move || {
            let mut names = Vec::new();
            for (dir_name, cache) in inner.all_caches()? {
                let Some(text) = cache.sample_text(Some(now))? else {
                    continue; // no live entry
                };
                let name = envelope_collection(&text)
                    .filter(|c| sanitize_filename(c) == dir_name)
                    .unwrap_or(dir_name);
                names.push(name);
            }
            names.sort();
            names.truncate(limit.unwrap_or(usize::MAX));
            Ok(names)
        })
        .await
    }

    /// Empties every collection's cache (rows and value files); the directories and their
    /// `cache.db` stay, since another process may have them open.
    async fn destroy(&self) -> Result<bool> {
        self.inner.closed.check()?;
        let inner = self.inner.clone();
        blocking(move || {
            let mut removed = 0;
            for (_, cache) in inner.all_caches()? {
                removed += cache.clear(None)?;
            }
            Ok(removed > 0)
        })
        .await
    }

    /// Empties one collection's cache (rows and value files), keeping its directory.
    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.inner.closed.check()?;
        let inner = self.inner.clone();
        let collection = collection.to_string();
        blocking(move || match inner.cache_for(&collection, false)? {
            Some(cache) => Ok(cache.clear(None)? > 0),
            None => Ok(false),
        })
        .await
    }

    async fn cull(&self) -> Result<()> {
        self.inner.closed.check()?;
        let inner = self.inner.clone();
        let now = now_secs(&self.info);
        blocking(move || {
            for (_, cache) in inner.all_caches()? {
                cache.cull(now)?;
            }
            Ok(())
        })
        .await
    }

    async fn close(&self) -> Result<()> {
        let inner = self.inner.clone();
        blocking(move || {
            inner.close();
            Ok(())
        })
        .await
    }
}

//! The blocking half of the store: every operation as a sequence of `std::fs` calls, run on
//! tokio's blocking pool by the async half in `lib.rs`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::sanitize::SanitizationStrategy;
use key_value_core::{Clock, Error, ErrorKind, Result, Timestamp};

use crate::paths::{
    self, ENTRY_SUFFIX, INFO_SUFFIX, KEY_SUFFIX, Mode, NAME_MAX, component_problem, read_regular,
    realpath, resolve_child, same_version, sync_dir, write_atomic,
};

/// One entry to write: stored (sanitized) key, user key, envelope text.
pub(crate) struct Write {
    pub(crate) stored: String,
    pub(crate) key: String,
    pub(crate) text: String,
}

/// The directories, strategies and state shared by the async store and its blocking tasks.
pub(crate) struct Tree {
    /// The data directory, canonical (absolute, no symbolic links).
    pub(crate) root: PathBuf,
    /// The metadata directory, canonical.
    pub(crate) meta: PathBuf,
    pub(crate) keys: Arc<dyn SanitizationStrategy>,
    pub(crate) collections: Arc<dyn SanitizationStrategy>,
    pub(crate) auto_create: bool,
    pub(crate) clock: Clock,
    /// Stored collection names whose directory and info file this store has checked, with
    /// the collection name the info file holds.
    known: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("root", &self.root)
            .field("meta", &self.meta)
            .field("keys", &self.keys)
            .field("collections", &self.collections)
            .field("auto_create", &self.auto_create)
            .finish_non_exhaustive()
    }
}

/// An I/O error as a `Backend` error naming what was done to which path.
fn io_error(e: io::Error, doing: &str, path: &Path) -> Error {
    let temporary = matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    );
    Error::new(
        ErrorKind::Backend,
        format!("cannot {doing} {}: {e}", path.display()),
    )
    .with_temporary(temporary)
    .with_source(e)
}

fn setup_error(message: String) -> Error {
    Error::new(ErrorKind::Setup, message)
}

fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Fills in the collection and key of an error that does not name them yet.
pub(crate) fn about(e: Error, collection: &str, key: Option<&str>) -> Error {
    let e = if e.collection().is_none() {
        e.with_collection(collection)
    } else {
        e
    };
    match key {
        Some(k) if e.key().is_none() => e.with_key(k),
        _ => e,
    }
}

/// Reads an entry file's bytes: UTF-8, then py-key-value's envelope.
fn decode(bytes: Vec<u8>, path: &Path) -> Result<ManagedEntry> {
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Deserialization,
            format!("the entry file {} is not UTF-8: {e}", path.display()),
        )
    })?;
    Envelope::load(&text).map_err(|e| {
        Error::new(
            ErrorKind::Deserialization,
            format!(
                "the entry file {} is not a py-key-value entry: {}",
                path.display(),
                e.message()
            ),
        )
        .with_source(e)
    })
}

/// The `collection` field of an info file's text, or why there is none.
fn info_collection(bytes: Vec<u8>) -> std::result::Result<String, String> {
    let text = String::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let doc = key_value_core::json::parse_object(&text).map_err(|e| e.message().to_string())?;
    match doc.get("collection") {
        Some(serde_json::Value::String(name)) => Ok(name.clone()),
        _ => Err("it has no string field `collection`".to_string()),
    }
}

/// py-key-value's info file text: `{"collection": ..., "created_at": ..., "directory": ...,
/// "version": 1}` (`json.dumps(..., sort_keys=True)`).
pub(crate) fn info_json(collection: &str, created_at: Timestamp, directory: &Path) -> String {
    let mut out = String::with_capacity(96 + collection.len() + directory.as_os_str().len());
    out.push_str("{\"collection\": ");
    key_value_core::json::write_python_str(&mut out, collection);
    out.push_str(", \"created_at\": \"");
    created_at.write_iso(&mut out);
    out.push_str("\", \"directory\": ");
    paths::write_python_path(&mut out, directory);
    out.push_str(", \"version\": 1}");
    out
}

impl Tree {
    pub(crate) fn new(
        root: PathBuf,
        meta: PathBuf,
        keys: Arc<dyn SanitizationStrategy>,
        collections: Arc<dyn SanitizationStrategy>,
        auto_create: bool,
        clock: Clock,
    ) -> Self {
        Tree {
            root,
            meta,
            keys,
            collections,
            auto_create,
            clock,
            known: Mutex::new(HashMap::new()),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Names (no I/O)
    // -----------------------------------------------------------------------------------------

    /// The directory name of `collection`: sanitized, one plain path component, short enough
    /// for its info file name.
    pub(crate) fn collection_name(&self, collection: &str) -> Result<String> {
        let stored = self
            .collections
            .validate_and_sanitize(collection)
            .map_err(|e| {
                if e.kind() == ErrorKind::InvalidKey {
                    Error::new(ErrorKind::InvalidCollection, e.message().to_string())
                } else {
                    e
                }
            })?;
        if let Some(problem) = component_problem(&stored) {
            return Err(Error::new(
                ErrorKind::PathSecurity,
                format!(
                    "the collection {collection:?} (stored as {stored:?}) cannot be a directory name inside the data directory: {problem}"
                ),
            ));
        }
        let max = NAME_MAX - INFO_SUFFIX.len();
        if stored.len() > max {
            return Err(Error::new(
                ErrorKind::InvalidCollection,
                format!(
                    "the collection name is {} bytes long as a directory name (UTF-8); at most {max} fit, as file names have at most {NAME_MAX} bytes and the info file adds `{INFO_SUFFIX}` (use the FileTree V1 sanitization to store longer names)",
                    stored.len()
                ),
            ));
        }
        Ok(stored.into_owned())
    }

    /// The file name stem of `key`: sanitized, one plain path component, short enough with
    /// `.json`.
    pub(crate) fn key_name(&self, key: &str) -> Result<String> {
        let stored = self.keys.validate_and_sanitize(key)?;
        if let Some(problem) = component_problem(&stored) {
            return Err(Error::new(
                ErrorKind::PathSecurity,
                format!(
                    "the key {key:?} (stored as {stored:?}) cannot be a file name inside its collection directory: {problem}"
                ),
            ));
        }
        let max = NAME_MAX - ENTRY_SUFFIX.len();
        if stored.len() > max {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "the key is {} bytes long as a file name (UTF-8); at most {max} fit, as file names have at most {NAME_MAX} bytes including `{ENTRY_SUFFIX}` (use the FileTree V1 sanitization to store longer keys)",
                    stored.len()
                ),
            ));
        }
        Ok(stored.into_owned())
    }

    /// The key a file name stem stands for, when the stem alone tells: the strategy's
    /// `try_unsanitize` (checked by sanitizing it again), or the stem itself when it is a
    /// valid key that is stored unchanged. Otherwise `None` and the key file says.
    pub(crate) fn key_from_stem(&self, stem: &str) -> Option<String> {
        if let Some(key) = self.keys.try_unsanitize(stem) {
            if self.key_name(&key).ok().as_deref() == Some(stem) {
                return Some(key);
            }
        }
        (self.key_name(stem).ok().as_deref() == Some(stem)).then(|| stem.to_owned())
    }

    /// Whether `key`, stored as `stored`, needs a key file to be listed.
    pub(crate) fn needs_key_file(&self, key: &str, stored: &str) -> bool {
        self.key_from_stem(stored).as_deref() != Some(key)
    }

    fn info_name(stored: &str) -> String {
        format!("{stored}{INFO_SUFFIX}")
    }

    pub(crate) fn info_path(&self, stored: &str) -> PathBuf {
        self.meta.join(Self::info_name(stored))
    }

    fn forget(&self, stored: &str) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(stored);
    }

    pub(crate) fn forget_all(&self) {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn is_known(&self, stored: &str, collection: &str) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(stored)
            .is_some_and(|c| c == collection)
    }

    fn mark_known(&self, stored: &str, collection: &str) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stored.to_owned(), collection.to_owned());
    }

    // -----------------------------------------------------------------------------------------
    // Path security
    // -----------------------------------------------------------------------------------------

    /// `Ok` when `resolved` (what `path` resolves to) is the data directory or inside it.
    fn check_inside(&self, resolved: &Path, path: &Path) -> Result<()> {
        if resolved.starts_with(&self.root) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::PathSecurity,
                format!(
                    "{} resolves to {}, outside the data directory {}",
                    path.display(),
                    resolved.display(),
                    self.root.display()
                ),
            ))
        }
    }

    /// The resolved directory of a collection, checked to be inside the data directory, and
    /// whether it exists.
    fn collection_dir(&self, stored: &str) -> Result<(PathBuf, bool)> {
        let path = self.root.join(stored);
        let resolved =
            resolve_child(&self.root, stored).map_err(|e| io_error(e, "resolve", &path))?;
        self.check_inside(&resolved, &path)?;
        let exists = match fs::metadata(&resolved) {
            Ok(_) => true,
            Err(e) if is_not_found(&e) => false,
            Err(e) => return Err(io_error(e, "inspect", &resolved)),
        };
        Ok((resolved, exists))
    }

    /// The path of an entry file in a (resolved) collection directory, and what it resolves
    /// to, checked to be inside the data directory.
    fn entry_file(&self, dir: &Path, stored_key: &str) -> Result<(PathBuf, PathBuf)> {
        let name = format!("{stored_key}{ENTRY_SUFFIX}");
        let path = dir.join(&name);
        let resolved = resolve_child(dir, &name).map_err(|e| io_error(e, "resolve", &path))?;
        self.check_inside(&resolved, &path)?;
        Ok((path, resolved))
    }

    // -----------------------------------------------------------------------------------------
    // Collection set-up
    // -----------------------------------------------------------------------------------------

    /// Makes sure a collection's directory and info file exist (creating them if allowed) and
    /// returns the resolved directory. Path security is checked before anything is created.
    fn prepare_collection(&self, collection: &str, stored: &str) -> Result<PathBuf> {
        let (mut dir, exists) = self.collection_dir(stored)?;
        if !exists {
            if !self.auto_create {
                return Err(setup_error(format!(
                    "Directory '{}' does not exist. Either create the directory manually or set auto_create=true.",
                    dir.display()
                )));
            }
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(setup_error(format!(
                        "cannot create the collection directory {}: {e}",
                        dir.display()
                    ))
                    .with_source(e));
                }
            }
            if let Some(parent) = dir.parent() {
                sync_dir(parent).map_err(|e| io_error(e, "sync", parent))?;
            }
            // Check again: something may have been put there meanwhile.
            dir = self.collection_dir(stored)?.0;
            self.forget(stored);
        }
        match fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidCollection,
                    format!(
                        "{} exists and is not a directory, so it cannot hold the collection {collection:?}",
                        dir.display()
                    ),
                ));
            }
            Err(e) => return Err(io_error(e, "inspect", &dir)),
        }
        if !self.is_known(stored, collection) {
            self.ensure_info(collection, stored)?;
            self.mark_known(stored, collection);
        }
        Ok(dir)
    }

    /// Reads the collection's info file, or creates it (once: an existing file is never
    /// replaced). An info file naming another collection means two names share one directory.
    fn ensure_info(&self, collection: &str, stored: &str) -> Result<()> {
        let name = Self::info_name(stored);
        let path = self.meta.join(&name);
        for _attempt in 0..2 {
            let resolved =
                resolve_child(&self.meta, &name).map_err(|e| io_error(e, "resolve", &path))?;
            if !resolved.starts_with(&self.meta) && !resolved.starts_with(&self.root) {
                return Err(Error::new(
                    ErrorKind::PathSecurity,
                    format!(
                        "the info file {} resolves to {}, outside the metadata directory",
                        path.display(),
                        resolved.display()
                    ),
                ));
            }
            match fs::read(&resolved) {
                Ok(bytes) => {
                    return match info_collection(bytes) {
                        Ok(name) if name == collection => Ok(()),
                        Ok(other) => Err(Error::new(
                            ErrorKind::InvalidCollection,
                            format!(
                                "the collection {collection:?} is stored as {stored:?}, which already holds the collection {other:?} (see {}): the sanitization strategy maps both names to one directory",
                                path.display()
                            ),
                        )),
                        Err(why) => Err(setup_error(format!(
                            "the collection info file {} is corrupt: {why}",
                            path.display()
                        ))),
                    };
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(io_error(e, "read", &path)),
            }
            let text = info_json(collection, self.clock.now(), &self.root.join(stored));
            match write_atomic(&self.meta, &name, text.as_bytes(), Mode::CreateNew) {
                Ok(()) => {
                    return sync_dir(&self.meta).map_err(|e| io_error(e, "sync", &self.meta));
                }
                // Another writer created it first: read theirs.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(setup_error(format!(
                        "cannot write the collection info file {}: {e}",
                        path.display()
                    ))
                    .with_source(e));
                }
            }
        }
        Err(setup_error(format!(
            "the collection info file {} keeps changing",
            path.display()
        )))
    }

    // -----------------------------------------------------------------------------------------
    // Entries
    // -----------------------------------------------------------------------------------------

    fn read_in(&self, dir: &Path, stored_key: &str) -> Result<Option<ManagedEntry>> {
        let (_, file) = self.entry_file(dir, stored_key)?;
        match fs::read(&file) {
            Ok(bytes) => decode(bytes, &file).map(Some),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(io_error(e, "read", &file)),
        }
    }

    /// Reads several entries of one collection: `(stored key, user key)` pairs.
    pub(crate) fn read_entries(
        &self,
        collection: &str,
        stored_collection: &str,
        keys: &[(String, String)],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let (dir, exists) = self.collection_dir(stored_collection)?;
        if !exists {
            return Ok(vec![None; keys.len()]);
        }
        keys.iter()
            .map(|(stored, key)| {
                self.read_in(&dir, stored)
                    .map_err(|e| about(e, collection, Some(key)))
            })
            .collect()
    }

    /// Writes entries of one collection, each atomically, setting the collection up first.
    /// The directory is synced once, after the last rename.
    pub(crate) fn write_entries(
        &self,
        collection: &str,
        stored_collection: &str,
        writes: &[Write],
    ) -> Result<()> {
        let dir = self.prepare_collection(collection, stored_collection)?;
        for w in writes {
            self.write_in(&dir, w)
                .map_err(|e| about(e, collection, Some(&w.key)))?;
        }
        sync_dir(&dir).map_err(|e| io_error(e, "sync", &dir))
    }

    fn write_in(&self, dir: &Path, w: &Write) -> Result<()> {
        // Refuses a file that is a symbolic link leading out of the data directory (a link
        // that stays inside is replaced by the new file, as py-key-value does).
        let (path, _) = self.entry_file(dir, &w.stored)?;
        let name = format!("{}{ENTRY_SUFFIX}", w.stored);
        write_atomic(dir, &name, w.text.as_bytes(), Mode::Replace)
            .map_err(|e| io_error(e, "write", &path))?;
        if self.needs_key_file(&w.key, &w.stored) {
            self.write_key_file(dir, &w.stored, &w.key)?;
        }
        Ok(())
    }

    /// Records the user key of a file name that cannot be turned back into it, unless the
    /// key file already says so.
    fn write_key_file(&self, dir: &Path, stored: &str, key: &str) -> Result<()> {
        let name = format!("{stored}{KEY_SUFFIX}");
        let path = dir.join(&name);
        match read_regular(&path) {
            Ok(Some(bytes)) if bytes == key.as_bytes() => Ok(()),
            _ => write_atomic(dir, &name, key.as_bytes(), Mode::Replace)
                .map_err(|e| io_error(e, "write", &path)),
        }
    }

    /// The key a key file records for `stored`, if it is one that is stored as `stored`.
    fn key_from_key_file(&self, dir: &Path, stored: &str) -> Option<String> {
        let bytes = read_regular(&dir.join(format!("{stored}{KEY_SUFFIX}"))).ok()??;
        let key = String::from_utf8(bytes).ok()?;
        (self.key_name(&key).ok().as_deref() == Some(stored)).then_some(key)
    }

    /// Deletes entries of one collection: `(stored key, user key)` pairs; how many existed.
    pub(crate) fn delete_entries(
        &self,
        collection: &str,
        stored_collection: &str,
        keys: &[(String, String)],
    ) -> Result<usize> {
        let (dir, exists) = self.collection_dir(stored_collection)?;
        if !exists {
            return Ok(0);
        }
        let mut deleted = 0;
        for (stored, key) in keys {
            let found = self
                .delete_in(&dir, stored, key)
                .map_err(|e| about(e, collection, Some(key)))?;
            deleted += usize::from(found);
        }
        if deleted > 0 {
            sync_dir(&dir).map_err(|e| io_error(e, "sync", &dir))?;
        }
        Ok(deleted)
    }

    fn delete_in(&self, dir: &Path, stored: &str, key: &str) -> Result<bool> {
        let (path, _) = self.entry_file(dir, stored)?;
        if self.needs_key_file(key, stored) {
            // The key file goes first: a concurrent put writes its entry, then its key file,
            // so the key file can be left over (harmless) but an entry never loses it.
            let key_file = dir.join(format!("{stored}{KEY_SUFFIX}"));
            match fs::remove_file(&key_file) {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(io_error(e, "delete", &key_file)),
            }
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(io_error(e, "delete", &path)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Enumeration
    // -----------------------------------------------------------------------------------------

    /// The live keys of a collection, sorted by file name, at most `limit`.
    pub(crate) fn list_keys(&self, stored_collection: &str, limit: usize) -> Result<Vec<String>> {
        let (dir, exists) = self.collection_dir(stored_collection)?;
        if !exists || limit == 0 {
            return Ok(Vec::new());
        }
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(io_error(e, "list", &dir)),
        };
        let mut stems = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(e, "list", &dir))?;
            if let Some(stem) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(ENTRY_SUFFIX))
            {
                stems.push(stem.to_owned());
            }
        }
        stems.sort_unstable();
        let now = self.clock.now();
        let mut keys = Vec::new();
        for stem in stems {
            if keys.len() >= limit {
                break;
            }
            let Some(key) = self
                .key_from_stem(&stem)
                .or_else(|| self.key_from_key_file(&dir, &stem))
            else {
                continue; // a name this store cannot map back (see the crate docs)
            };
            // Links leading out of the data directory are not ours to list.
            let Ok((_, file)) = self.entry_file(&dir, &stem) else {
                continue;
            };
            match fs::metadata(&file) {
                Ok(meta) if meta.is_file() => {}
                _ => continue,
            }
            match fs::read(&file) {
                // A corrupt file is listed: `get` then reports it, naming the key.
                Ok(bytes) => {
                    if let Ok(entry) = decode(bytes, &file) {
                        if entry.is_expired_at(now) {
                            continue;
                        }
                    }
                }
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(io_error(e, "read", &file)),
            }
            keys.push(key);
        }
        Ok(keys)
    }

    /// The collections named by the info files of the metadata directory whose directory
    /// exists, sorted, at most `limit`.
    pub(crate) fn list_collections(&self, limit: usize) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.meta).map_err(|e| io_error(e, "list", &self.meta))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(e, "list", &self.meta))?;
            let file_name = entry.file_name();
            let Some(stored) = file_name.to_str().and_then(|n| n.strip_suffix(INFO_SUFFIX)) else {
                continue;
            };
            let Ok(Some(bytes)) = read_regular(&entry.path()) else {
                continue;
            };
            let Ok(collection) = info_collection(bytes) else {
                continue;
            };
            // Only collections this store would store under this name (not, say, files
            // written with another sanitization strategy), whose directory exists.
            if self.collection_name(&collection).ok().as_deref() != Some(stored) {
                continue;
            }
            if matches!(self.collection_dir(stored), Ok((dir, true)) if dir.is_dir()) {
                names.push(collection);
            }
        }
        names.sort_unstable();
        names.dedup();
        names.truncate(limit);
        Ok(names)
    }

    // -----------------------------------------------------------------------------------------
    // Removal
    // -----------------------------------------------------------------------------------------

    /// Removes a collection's directory (a symbolic link that stays inside the data directory
    /// is removed itself, not followed) and its info file; whether either existed.
    pub(crate) fn destroy_collection(&self, stored: &str) -> Result<bool> {
        // Refuses a directory that leads out of the data directory before touching anything.
        self.collection_dir(stored)?;
        let link = self.root.join(stored);
        let mut existed = false;
        match fs::symlink_metadata(&link) {
            Ok(meta) if meta.is_dir() => {
                fs::remove_dir_all(&link).map_err(|e| io_error(e, "delete", &link))?;
                existed = true;
            }
            Ok(meta) if meta.file_type().is_symlink() => {
                fs::remove_file(&link).map_err(|e| io_error(e, "delete", &link))?;
                existed = true;
            }
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidCollection,
                    format!("{} is not a collection directory", link.display()),
                ));
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(io_error(e, "inspect", &link)),
        }
        let info = self.info_path(stored);
        match fs::remove_file(&info) {
            Ok(()) => existed = true,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(io_error(e, "delete", &info)),
        }
        self.forget(stored);
        if existed {
            sync_dir(&self.root).map_err(|e| io_error(e, "sync", &self.root))?;
            sync_dir(&self.meta).map_err(|e| io_error(e, "sync", &self.meta))?;
        }
        Ok(existed)
    }

    /// Removes every directory of the data directory (not the metadata directory when it is
    /// one of them) and every info file; whether anything was removed.
    pub(crate) fn destroy(&self) -> Result<bool> {
        let mut removed = false;
        let entries = fs::read_dir(&self.root).map_err(|e| io_error(e, "list", &self.root))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(e, "list", &self.root))?;
            let path = entry.path();
            if self.meta.starts_with(&path) {
                continue; // the metadata directory, or a directory holding it
            }
            let file_type = entry
                .file_type()
                .map_err(|e| io_error(e, "inspect", &path))?;
            if file_type.is_dir() {
                fs::remove_dir_all(&path).map_err(|e| io_error(e, "delete", &path))?;
                removed = true;
            } else if file_type.is_symlink() && path.is_dir() {
                fs::remove_file(&path).map_err(|e| io_error(e, "delete", &path))?;
                removed = true;
            }
        }
        let entries = fs::read_dir(&self.meta).map_err(|e| io_error(e, "list", &self.meta))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(e, "list", &self.meta))?;
            let path = entry.path();
            let is_info = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(INFO_SUFFIX));
            let file_type = entry
                .file_type()
                .map_err(|e| io_error(e, "inspect", &path))?;
            if is_info && !file_type.is_dir() {
                match fs::remove_file(&path) {
                    Ok(()) => removed = true,
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(io_error(e, "delete", &path)),
                }
            }
        }
        self.forget_all();
        sync_dir(&self.root).map_err(|e| io_error(e, "sync", &self.root))?;
        sync_dir(&self.meta).map_err(|e| io_error(e, "sync", &self.meta))?;
        Ok(removed)
    }

    /// Deletes every expired entry file below the data directory, at any depth (so also
    /// collections py-key-value nested with `/` in their names), and temporary files left by
    /// crashes. Directories and files reached through symbolic links are visited only when
    /// the links stay inside the data directory. Unreadable or corrupt files are skipped.
    pub(crate) fn cull(&self) -> Result<()> {
        let now = self.clock.now();
        let mut pending = Vec::new();
        let mut visited = HashSet::new();
        let entries = fs::read_dir(&self.root).map_err(|e| io_error(e, "list", &self.root))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path == self.meta {
                continue;
            }
            if let Some(dir) = self.walkable_dir(&path) {
                if visited.insert(dir.clone()) {
                    pending.push(dir);
                }
            } else {
                self.remove_if_stale_temp(&entry);
            }
        }
        if self.meta != self.root {
            if let Ok(entries) = fs::read_dir(&self.meta) {
                for entry in entries.flatten() {
                    self.remove_if_stale_temp(&entry);
                }
            }
        }
        while let Some(dir) = pending.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if let Some(sub) = self.walkable_dir(&path) {
                    if visited.insert(sub.clone()) {
                        pending.push(sub);
                    }
                    continue;
                }
                let file_name = entry.file_name();
                let Some(name) = file_name.to_str() else {
                    continue;
                };
                if let Some(stem) = name.strip_suffix(ENTRY_SUFFIX) {
                    self.cull_file(&dir, &path, name, stem, now);
                } else {
                    self.remove_if_stale_temp(&entry);
                }
            }
        }
        Ok(())
    }

    /// The resolved directory `path` is or links to, if it is one inside the data directory.
    fn walkable_dir(&self, path: &Path) -> Option<PathBuf> {
        let meta = fs::symlink_metadata(path).ok()?;
        if meta.is_dir() {
            return Some(path.to_path_buf());
        }
        if !meta.file_type().is_symlink() {
            return None;
        }
        let resolved = realpath(path).ok()?;
        (resolved.starts_with(&self.root) && resolved.is_dir()).then_some(resolved)
    }

    fn remove_if_stale_temp(&self, entry: &fs::DirEntry) {
        let name = entry.file_name();
        if let (Some(name), Ok(meta)) = (name.to_str(), entry.metadata()) {
            if paths::is_stale_temp(name, &meta) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Deletes one entry file if it has expired at `now` and was not replaced since it was
    /// read (as py-key-value's cull: compares the file's identity before reading and before
    /// deleting), then its key file.
    fn cull_file(&self, dir: &Path, path: &Path, name: &str, stem: &str, now: Timestamp) {
        let Ok(resolved) = resolve_child(dir, name) else {
            return;
        };
        if !resolved.starts_with(&self.root) {
            return; // a link leading out: not ours
        }
        let Ok(before) = fs::metadata(&resolved) else {
            return;
        };
        if !before.is_file() {
            return;
        }
        let Ok(bytes) = fs::read(&resolved) else {
            return;
        };
        let Ok(entry) = decode(bytes, &resolved) else {
            return;
        };
        if !entry.is_expired_at(now) {
            return;
        }
        let Ok(again) = fs::metadata(&resolved) else {
            return;
        };
        if !same_version(&before, &again) || fs::remove_file(path).is_err() {
            return;
        }
        let key_file = dir.join(format!("{stem}{KEY_SUFFIX}"));
        if let Ok(Some(key)) = read_regular(&key_file) {
            if fs::remove_file(&key_file).is_ok() && fs::symlink_metadata(path).is_ok() {
                // A put landed meanwhile: its entry keeps its key file.
                let _ = write_atomic(dir, &format!("{stem}{KEY_SUFFIX}"), &key, Mode::Replace);
            }
        }
    }
}

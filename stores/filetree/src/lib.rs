//! `FileTreeStore`: one JSON file per entry, one directory per collection, in exactly the
//! layout of py-key-value 0.4.6's `FileTreeStore`, so a Rust and a Python program can share
//! one tree (and a person can read it with `cat`).
//!
//! ```
//! use key_value_filetree::FileTreeStore;
//! use key_value_core::prelude::*;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store = FileTreeStore::open(dir.path())?;
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(3600).await?;
//! assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
//! assert_eq!(store.keys().collection("users").await?, vec!["user:1"]);
//!
//! // The entry is a file, byte for byte what py-key-value writes:
//! let text = std::fs::read_to_string(dir.path().join("users").join("user:1.json"))?;
//! assert!(text.starts_with(r#"{"created_at": "20"#));
//! assert!(text.ends_with(r#"+00:00", "value": {"name": "Alice"}, "version": 1}"#));
//! assert!(dir.path().join("users-info.json").is_file());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Open it with [`FileTreeStore::open`], with the builder [`FileTreeConfig`], or from a URL
//! (`filetree:///var/lib/app/kv?sanitize=v1`, see [`FileTreeConfig::from_url`]).
//!
//! # Layout
//!
//! ```text
//! <data>/<collection>/<key>.json      one entry
//! <metadata>/<collection>-info.json   one per collection, created with its directory
//! ```
//!
//! - An entry file holds py-key-value's envelope without key and collection
//!   ([`Envelope::WITHOUT_KEY`](key_value_core::entry::Envelope::WITHOUT_KEY)):
//!   `{"created_at": "...", "expires_at": "...", "value": {...}, "version": 1}`, Python
//!   `json.dumps` formatting with sorted keys, `expires_at` only with a TTL, no trailing
//!   newline.
//! - An info file is
//!   `{"collection": "<name>", "created_at": "...", "directory": "<absolute resolved path>", "version": 1}`.
//!   It is written once, when the collection's first entry is written, and never replaced;
//!   an existing one (Python's) is read instead. Its `directory` is informative: this store
//!   always finds a collection at `<data>/<stored name>`.
//! - `<metadata>` is `<data>` unless [configured](FileTreeConfig::metadata_directory).
//! - Files are created with mode `0600` (as `mkstemp` creates py-key-value's).
//!
//! # Names
//!
//! By default keys and collection names are used as file names unchanged (py-key-value's
//! `PassthroughStrategy`). Then:
//!
//! - a name that is not one plain file name (`/`, NUL, `.`, `..`, and on Windows `\` and `:`)
//!   is an [`ErrorKind::PathSecurity`] error (see below);
//! - file names have at most 255 **bytes** (`NAME_MAX` on Linux file systems): a key at most
//!   [`MAX_KEY_BYTES`] (250, room for `.json`) and a collection at most
//!   [`MAX_COLLECTION_BYTES`] (245, room for `-info.json`) bytes of UTF-8; longer ones are
//!   [`ErrorKind::InvalidKey`] / [`ErrorKind::InvalidCollection`] errors. The store declares
//!   these numbers as its `max_key_length` and `max_collection_length`, which count
//!   characters: that is exact for ASCII names, while a name with multi-byte characters is
//!   limited sooner (a key of 84 CJK characters is 252 bytes, too long). File systems with a
//!   smaller limit report their own error.
//!
//! With [`FileTreeConfig::v1_sanitization`] (py-key-value's opt-in
//! `FileTreeV1KeySanitizationStrategy` and `FileTreeV1CollectionSanitizationStrategy`) every
//! name is safe and short enough: ASCII letters, digits and `_` are kept, other names become
//! `S_<cleaned>-<hash>`, long names are truncated; user names starting with `S_` or `H_` are
//! reserved (rejected). Any other [`SanitizationStrategy`] can be set per kind of name; its
//! output goes through the same checks. With any strategy, a name it changes must also pass
//! these checks.
//!
//! ## Listing keys of sanitized names
//!
//! Entry files do not contain their key (py-key-value's format), so
//! [`keys()`](key_value_core::KeyValueExt::keys) recovers keys from file names: through the
//! strategy's `try_unsanitize`, or when the file name is itself a valid key stored unchanged
//! (always the case without sanitization). For a key whose file name cannot be turned back
//! (`user:1` stored as `S_user_1-abc3a47b.json` by V1), this store also writes a *key file*
//! `S_user_1-abc3a47b.key` holding the key, and lists the entry through it. py-key-value
//! neither writes nor needs these files (it ignores files not ending in `.json`). Entries
//! written by py-key-value with such names have no key file and are **not listed** (they are
//! still read, written and deleted by key).
//!
//! Collections are listed from their info files' `collection` field, so sanitized directory
//! names map back to the names given, Python's included.
//!
//! # Security model
//!
//! The data directory is resolved once, at open, to an absolute path without symbolic links.
//! Before each operation (and before anything is created):
//!
//! - the stored collection and key names must each be exactly one plain path component (see
//!   [Names](#names)), so no name can reach outside its directory (`../x`, `a/b`, `/etc/x`,
//!   `x\0y` are [`ErrorKind::PathSecurity`] errors);
//! - `<data>/<collection>` and `<data>/<collection>/<key>.json` are resolved like Python's
//!   `Path.resolve()` (every symbolic link followed, missing parts kept) and must stay inside
//!   the data directory; a link leading out (even a dangling one) is an
//!   [`ErrorKind::PathSecurity`] error. Links that stay inside are allowed, as in
//!   py-key-value: a collection directory that is such a link is used through it (reads and
//!   writes go to its target); an entry file that is such a link is followed for reading,
//!   while writes and deletes act on the link itself (a put replaces it with a regular file,
//!   a delete removes it).
//! - `list_keys`, `list_collections` and `cull` skip links that lead out instead of failing;
//!   `destroy` and `destroy_collection` never follow links (they remove the link).
//!
//! Limits: these are checks by path, made just before the file system calls that use the
//! path (time-of-check to time-of-use). They protect against keys and collection names, and
//! against links already present, choosing a path outside the tree. They do not protect
//! against another process that can write inside the tree and swaps a directory for a link
//! between the check and the use; that would need `openat`/`O_NOFOLLOW`-style calls, which
//! neither this crate nor py-key-value makes. Give the tree to one trusted user.
//!
//! # Atomicity and durability
//!
//! Each entry file is written atomically: a temporary file `tmp<random>.tmp` in the same
//! directory is written, `fsync`ed and renamed over the entry, and the directory is then
//! `fsync`ed, so a reader sees the old or the new entry, never a part, and a returned put
//! survives a crash. A failed write removes its temporary file. Info files are written the
//! same way, but never over an existing one.
//!
//! Not atomic:
//!
//! - `put_many` and `delete_many`: each file is, the batch is not (a failure stops the batch
//!   after the entries already done; the directory is synced once per batch);
//! - setting up a collection (its directory, then its info file) and an entry with its key
//!   file (the entry first): a crash between the two leaves a directory without info file
//!   (repaired by the next write) or an entry that `keys()` does not list until rewritten;
//! - `destroy` and `destroy_collection` remove files one by one;
//! - `cull` checks that an expired file was not replaced after it was read, but a write
//!   landing between that check and the delete is lost (as in py-key-value);
//! - there is no locking: concurrent writers of one key, in one process or several, each
//!   write a whole file and the last rename wins.
//!
//! A crash can leave temporary files; `cull` removes those older than an hour.
//!
//! # Expiry
//!
//! Expired entries are misses for every read (the expiry is checked against the store's
//! clock when read, as in every store), but their files stay until [`cull`](KeyValue::cull)
//! deletes them. `cull` walks every directory below the data directory, at any depth, so
//! also collections py-key-value created with `/` in their names (its own cull only looks
//! one level down). `keys()` reads each file to leave out expired entries.
//!
//! # Differences from py-key-value
//!
//! - Keys are validated by the key strategy (py-key-value's FileTree store only sanitizes
//!   them): with V1, a user key starting with `S_` or `H_` is an error here, where Python
//!   stores it unchanged, where it could collide with a sanitized key.
//! - Names with path separators are errors, where py-key-value accepts any name that
//!   resolves inside the data directory (`a/b`, or even `../other/x` from a collection).
//! - Reads, deletes and listing do not create the collection directory and info file
//!   (py-key-value creates them on any first use of a collection). A write with
//!   `auto_create` off to a collection whose directory is missing is an
//!   [`ErrorKind::Setup`] error, a read is a miss.
//! - Two collection names stored under one directory name (a collision of a lossy
//!   strategy, or a case-insensitive file system) are detected through the info file: an
//!   [`ErrorKind::InvalidCollection`] error instead of silently sharing the entries.
//! - `keys`, `collections`, `destroy` and `destroy_collection` are supported (py-key-value's
//!   FileTree store only has `cull`).
//!
//! # Async
//!
//! Each operation runs as one task on tokio's blocking pool (`spawn_blocking`) doing plain
//! `std::fs` calls: an operation is a sequence of several system calls (resolving links,
//! creating a temporary file, writing, `fsync`, renaming, `fsync` of the directory), and
//! `tokio::fs` would send each of them to the blocking pool separately. Batches run in one
//! task. Called outside a tokio runtime, operations run inline on the calling thread.
//!
//! [`Envelope::WITHOUT_KEY`]: key_value_core::entry::Envelope::WITHOUT_KEY
//! [`SanitizationStrategy`]: key_value_core::sanitize::SanitizationStrategy

use std::path::{Path, PathBuf};
use std::sync::Arc;

use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::sanitize::SanitizationStrategy;
use key_value_core::setup::CloseFlag;
use key_value_core::{
    Capabilities, Clock, Error, ErrorKind, KeyValue, Result, Stability, StoreInfo,
};

mod config;
mod paths;
mod tree;

pub use config::FileTreeConfig;

use tree::{Tree, Write, about};

/// The URL scheme of this store: `filetree`.
pub const SCHEME: &str = "filetree";

/// The longest key, in UTF-8 bytes, that fits in a file name without sanitization: 255
/// (`NAME_MAX`) minus `.json`.
pub const MAX_KEY_BYTES: usize = paths::NAME_MAX - paths::ENTRY_SUFFIX.len();

/// The longest collection name, in UTF-8 bytes, that fits without sanitization: 255
/// (`NAME_MAX`) minus `-info.json`, the suffix of its info file.
pub const MAX_COLLECTION_BYTES: usize = paths::NAME_MAX - paths::INFO_SUFFIX.len();

/// A store keeping each entry in a JSON file of py-key-value's FileTree layout. See the
/// [crate docs](crate) for the layout, the rules for names, the security model and what is
/// atomic.
pub struct FileTreeStore {
    info: StoreInfo,
    tree: Arc<Tree>,
    closed: CloseFlag,
}

impl std::fmt::Debug for FileTreeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTreeStore")
            .field("data_directory", &self.tree.root)
            .field("metadata_directory", &self.tree.meta)
            .field("key_sanitization", &self.tree.keys)
            .field("collection_sanitization", &self.tree.collections)
            .field("auto_create", &self.tree.auto_create)
            .field("default_collection", &self.info.default_collection())
            .field("closed", &self.closed.is_closed())
            .finish()
    }
}

impl FileTreeStore {
    /// A store in `data_directory` with the defaults of [`FileTreeConfig::new`] (created if
    /// missing, info files in the same directory, no sanitization).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Setup`] when the directory cannot be created or is not a directory.
    pub fn open(data_directory: impl Into<PathBuf>) -> Result<Self> {
        FileTreeConfig::new(data_directory).open()
    }

    /// A builder for a store in `data_directory`: [`FileTreeConfig::new`].
    pub fn builder(data_directory: impl Into<PathBuf>) -> FileTreeConfig {
        FileTreeConfig::new(data_directory)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        root: PathBuf,
        meta: PathBuf,
        keys: Arc<dyn SanitizationStrategy>,
        collections: Arc<dyn SanitizationStrategy>,
        (key_limit, collection_limit): (bool, bool),
        auto_create: bool,
        clock: Clock,
        default_collection: Option<String>,
    ) -> Self {
        let mut info = StoreInfo::new("FileTreeStore", Stability::Stable)
            .with_capabilities(Capabilities {
                enumerate_keys: true,
                enumerate_collections: true,
                destroy: true,
                destroy_collection: true,
                cull: true,
                persistent: true,
                max_key_length: key_limit.then_some(MAX_KEY_BYTES),
                max_collection_length: collection_limit.then_some(MAX_COLLECTION_BYTES),
                ..Capabilities::default()
            })
            .with_clock(clock.clone());
        if let Some(collection) = default_collection {
            info = info.with_default_collection(collection);
        }
        FileTreeStore {
            info,
            tree: Arc::new(Tree::new(root, meta, keys, collections, auto_create, clock)),
            closed: CloseFlag::default(),
        }
    }

    /// The data directory: absolute, without symbolic links.
    pub fn data_directory(&self) -> &Path {
        &self.tree.root
    }

    /// The directory of the info files: absolute, without symbolic links.
    pub fn metadata_directory(&self) -> &Path {
        &self.tree.meta
    }

    /// The path of the file that holds (or would hold) `key` in `collection` (the default
    /// collection when empty), after sanitization. No file system access.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let store = key_value_filetree::FileTreeStore::open(dir.path())?;
    /// let path = store.entry_path("users", "user:1")?;
    /// assert_eq!(path, store.data_directory().join("users").join("user:1.json"));
    /// assert!(store.entry_path("users", "../x").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The errors a call with these names would return: invalid or unsafe names.
    pub fn entry_path(&self, collection: &str, key: &str) -> Result<PathBuf> {
        let collection = self.info.resolve_collection(Some(collection));
        let stored_collection = self.tree.collection_name(collection)?;
        let stored_key = self.tree.key_name(key)?;
        Ok(self
            .tree
            .root
            .join(stored_collection)
            .join(format!("{stored_key}{}", paths::ENTRY_SUFFIX)))
    }

    /// The path of `collection`'s info file (`<metadata>/<stored name>-info.json`). No file
    /// system access.
    ///
    /// # Errors
    ///
    /// Invalid or unsafe collection names.
    pub fn info_path(&self, collection: &str) -> Result<PathBuf> {
        let collection = self.info.resolve_collection(Some(collection));
        let stored = self.tree.collection_name(collection)?;
        Ok(self.tree.info_path(&stored))
    }

    /// Runs `op` on the blocking pool (inline outside a tokio runtime).
    async fn blocking<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tree) -> Result<T> + Send + 'static,
    {
        let tree = Arc::clone(&self.tree);
        if tokio::runtime::Handle::try_current().is_err() {
            return op(&tree);
        }
        match tokio::task::spawn_blocking(move || op(&tree)).await {
            Ok(result) => result,
            Err(e) => Err(Error::new(
                ErrorKind::Backend,
                format!("the file system task failed: {e}"),
            )),
        }
    }

    /// Stored names for `keys`: `(stored, key)` pairs; an error names its key.
    fn key_pairs(&self, collection: &str, keys: &[&str]) -> Result<Vec<(String, String)>> {
        keys.iter()
            .map(|key| {
                self.tree
                    .key_name(key)
                    .map(|stored| (stored, (*key).to_owned()))
                    .map_err(|e| about(e, collection, Some(key)))
            })
            .collect()
    }

    fn stored_collection(&self, collection: &str) -> Result<String> {
        self.tree
            .collection_name(collection)
            .map_err(|e| about(e, collection, None))
    }
}

impl KeyValue for FileTreeStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        self.closed.check()?;
        let stored_collection = self.stored_collection(collection)?;
        let pairs = self.key_pairs(collection, &[key])?;
        let collection = collection.to_owned();
        let mut found = self
            .blocking(move |t| t.read_entries(&collection, &stored_collection, &pairs))
            .await?;
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
        self.closed.check()?;
        let stored_collection = self.stored_collection(collection)?;
        let pairs = self.key_pairs(collection, keys)?;
        let collection = collection.to_owned();
        self.blocking(move |t| t.read_entries(&collection, &stored_collection, &pairs))
            .await
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        self.closed.check()?;
        key_value_core::entry::check_batch_len(keys.len(), entries.len())?;
        let stored_collection = self.stored_collection(collection)?;
        let pairs = self.key_pairs(collection, keys)?;
        let writes: Vec<Write> = pairs
            .into_iter()
            .zip(&entries)
            .map(|((stored, key), entry)| Write {
                text: Envelope::WITHOUT_KEY.dump(entry, collection, &key),
                stored,
                key,
            })
            .collect();
        let collection = collection.to_owned();
        self.blocking(move |t| {
            t.write_entries(&collection, &stored_collection, &writes)
                .map_err(|e| about(e, &collection, None))
        })
        .await
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        self.closed.check()?;
        let stored_collection = self.stored_collection(collection)?;
        let pairs = self.key_pairs(collection, keys)?;
        let collection = collection.to_owned();
        self.blocking(move |t| t.delete_entries(&collection, &stored_collection, &pairs))
            .await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let stored_collection = self.stored_collection(collection)?;
        let limit = limit.unwrap_or(usize::MAX);
        self.blocking(move |t| t.list_keys(&stored_collection, limit))
            .await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.closed.check()?;
        let limit = limit.unwrap_or(usize::MAX);
        self.blocking(move |t| t.list_collections(limit)).await
    }

    async fn destroy(&self) -> Result<bool> {
        self.closed.check()?;
        self.blocking(|t| t.destroy())
            .await
            .map_err(|e| e.or_operation("destroy"))
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.closed.check()?;
        let stored_collection = self.stored_collection(collection)?;
        self.blocking(move |t| t.destroy_collection(&stored_collection))
            .await
            .map_err(|e| about(e.or_operation("destroy_collection"), collection, None))
    }

    async fn cull(&self) -> Result<()> {
        self.closed.check()?;
        self.blocking(|t| t.cull())
            .await
            .map_err(|e| e.or_operation("cull"))
    }

    async fn close(&self) -> Result<()> {
        self.closed.close();
        Ok(())
    }
}

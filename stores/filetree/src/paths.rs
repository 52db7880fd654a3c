//! Blocking file system helpers: which names may become one path component, symlink
//! resolution as Python's `Path.resolve()` does it, and atomic writes.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The longest file name, in bytes, that Linux file systems (ext4, xfs, btrfs, tmpfs) and
/// Windows accept: `NAME_MAX`.
pub(crate) const NAME_MAX: usize = key_value_core::sanitize::FILE_TREE_NAME_MAX;
/// The extension of entry files.
pub(crate) const ENTRY_SUFFIX: &str = ".json";
/// The suffix of collection info files in the metadata directory.
pub(crate) const INFO_SUFFIX: &str = "-info.json";
/// The extension of key files: the original key of an entry whose file name cannot be turned
/// back into it.
pub(crate) const KEY_SUFFIX: &str = ".key";
/// Temporary files are `tmp<random>.tmp`, as Python's `tempfile.mkstemp(suffix=".tmp")`.
pub(crate) const TEMP_PREFIX: &str = "tmp";
/// See [`TEMP_PREFIX`].
pub(crate) const TEMP_SUFFIX: &str = ".tmp";
/// Temporary files older than this are leftovers of a crash, removed by `cull`.
pub(crate) const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);
/// How many symbolic links one resolution follows before giving up (Linux's `MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Why `name` cannot be used as exactly one path component, or `None` when it can.
///
/// Rejected: the empty name, NUL, `.` and `..`, path separators (`/`, and on Windows `\` and
/// the drive separator `:`), and anything else the platform does not parse as a single plain
/// file name (absolute paths, Windows prefixes).
pub(crate) fn component_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.contains('\0') {
        return Some("it contains a NUL character");
    }
    if name == "." || name == ".." {
        return Some("`.` and `..` name directories, not files");
    }
    if name.contains('/') {
        return Some("it contains the path separator `/`");
    }
    if cfg!(windows) && name.contains(['\\', ':']) {
        return Some("it contains a Windows path or drive separator (`\\` or `:`)");
    }
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(n)), None) if n == name => None,
        _ => Some("it is not a plain file name"),
    }
}

/// The absolute path `path` names with every symbolic link followed, like Python's
/// `os.path.realpath(path, strict=False)` (what `Path.resolve()` calls): components that do
/// not exist are appended as they are, and `..` after them is applied lexically.
///
/// `path` must be absolute. A chain of more than 40 links is an error.
pub(crate) fn realpath(path: &Path) -> io::Result<PathBuf> {
    let mut resolved = PathBuf::new();
    let mut pending: Vec<OsString> = Vec::new();
    enqueue(path, &mut resolved, &mut pending);
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(io::Error::other(format!(
                        "too many levels of symbolic links resolving {}",
                        path.display()
                    )));
                }
                let target = fs::read_link(&candidate)?;
                // An absolute target restarts from its root; a relative one continues from
                // the link's directory, which `resolved` still is.
                enqueue(&target, &mut resolved, &mut pending);
            }
            // An existing non-link, or a missing component: taken as it is.
            _ => resolved = candidate,
        }
    }
    Ok(resolved)
}

/// Pushes the components of `path` onto `pending` (last first), resetting `resolved` to the
/// root when `path` is absolute.
fn enqueue(path: &Path, resolved: &mut PathBuf, pending: &mut Vec<OsString>) {
    let mut parts = Vec::new();
    if path.has_root() {
        *resolved = PathBuf::new();
    }
    for component in path.components() {
        match component {
            Component::Prefix(prefix) => {
                *resolved = PathBuf::from(prefix.as_os_str());
                parts.clear();
            }
            Component::RootDir => {
                resolved.push(Component::RootDir.as_os_str());
                parts.clear();
            }
            Component::CurDir => {}
            Component::ParentDir => parts.push(OsString::from("..")),
            Component::Normal(name) => parts.push(name.to_owned()),
        }
    }
    pending.extend(parts.into_iter().rev());
}

/// [`realpath`] of `base.join(name)` where `base` is already resolved and `name` is one
/// component: one `lstat` unless `name` is a symbolic link.
pub(crate) fn resolve_child(base: &Path, name: &str) -> io::Result<PathBuf> {
    let candidate = base.join(name);
    match fs::symlink_metadata(&candidate) {
        Ok(meta) if meta.file_type().is_symlink() => realpath(&candidate),
        _ => Ok(candidate),
    }
}

/// Whether a temporary file should be written with create-new or replace semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Replace whatever is at the target (entries, key files).
    Replace,
    /// Fail with `AlreadyExists` if the target exists (info files: created once).
    CreateNew,
}

/// Writes `contents` to `dir/name` atomically: a temporary file `tmp<random>.tmp` in `dir`
/// (same file system, so the rename is atomic), written, `fsync`ed, then renamed onto the
/// target. On any error the temporary file is removed (dropping the `NamedTempFile`, also
/// inside a failed `persist`, deletes it). The directory itself is not synced here: see
/// [`sync_dir`].
///
/// The file gets mode `0600`, as `mkstemp` gives py-key-value's files.
pub(crate) fn write_atomic(dir: &Path, name: &str, contents: &[u8], mode: Mode) -> io::Result<()> {
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .rand_bytes(8)
        .tempfile_in(dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    let target = dir.join(name);
    let persisted = match mode {
        Mode::Replace => temp.persist(&target),
        Mode::CreateNew => temp.persist_noclobber(&target),
    };
    // A `PersistError` owns the temporary file; dropping it here removes the file.
    persisted.map(drop).map_err(|e| e.error)
}

/// `fsync`s a directory so that renames and unlinks in it survive a crash. A no-op where
/// directories cannot be opened (Windows).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The contents of `path` if it is a regular file (not a symbolic link); `None` when missing
/// or not a regular file.
pub(crate) fn read_regular(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether two `stat`s of one path show the same file, unchanged: same inode and device,
/// modification time and size (where the platform has inodes).
pub(crate) fn same_version(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (a.dev(), a.ino(), a.mtime(), a.mtime_nsec(), a.size())
            == (b.dev(), b.ino(), b.mtime(), b.mtime_nsec(), b.size())
    }
    #[cfg(not(unix))]
    {
        a.modified().ok() == b.modified().ok() && a.len() == b.len()
    }
}

/// Whether `name` looks like one of our (or py-key-value's) temporary files and `meta` says
/// it was last modified more than [`STALE_TEMP_AGE`] ago.
pub(crate) fn is_stale_temp(name: &str, meta: &fs::Metadata) -> bool {
    name.starts_with(TEMP_PREFIX)
        && name.ends_with(TEMP_SUFFIX)
        && meta.file_type().is_file()
        && meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age > STALE_TEMP_AGE)
}

/// Writes `path` as a JSON string the way Python's `json.dumps(str(path))` does: non-ASCII
/// escaped, and on Unix each byte that is not UTF-8 as the lone surrogate `\udcXX`
/// (Python's `surrogateescape`).
pub(crate) fn write_python_path(out: &mut String, path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if let Ok(text) = std::str::from_utf8(bytes) {
            key_value_core::json::write_python_str(out, text);
            return;
        }
        out.push('"');
        let mut piece = String::new();
        for chunk in bytes.utf8_chunks() {
            piece.clear();
            key_value_core::json::write_python_str(&mut piece, chunk.valid());
            // strip the quotes write_python_str adds
            out.push_str(&piece[1..piece.len() - 1]);
            for byte in chunk.invalid() {
                out.push_str(&format!("\\udc{byte:02x}"));
            }
        }
        out.push('"');
    }
    #[cfg(not(unix))]
    {
        key_value_core::json::write_python_str(out, &path.to_string_lossy());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        for ok in [
            "a", "user:1", "..json", "...", "a b", "é", ".hidden", "x.json",
        ] {
            assert_eq!(component_problem(ok), None, "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "/abs", "../x", "a/", "x\0y"] {
            assert!(component_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn realpath_follows_links_and_keeps_missing_parts() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink("real", root.join("rel")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/far", root.join("dangling")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(realpath(&root.join("rel/x")).unwrap(), root.join("real/x"));
        assert_eq!(
            realpath(&root.join("dangling/y")).unwrap(),
            PathBuf::from("/nonexistent/far/y")
        );
        assert_eq!(
            realpath(&root.join("missing/../real")).unwrap(),
            root.join("real")
        );
        assert!(realpath(&root.join("loop")).is_err());
        assert_eq!(resolve_child(&root, "rel").unwrap(), root.join("real"));
        assert_eq!(resolve_child(&root, "plain").unwrap(), root.join("plain"));
    }

    #[cfg(unix)]
    #[test]
    fn python_path_strings() {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        write_python_path(&mut out, Path::new("/tmp/caf\u{e9}/x"));
        assert_eq!(out, r#""/tmp/caf\u00e9/x""#);
        out.clear();
        write_python_path(
            &mut out,
            Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\xffb")),
        );
        assert_eq!(out, r#""/tmp/a\udcffb""#);
    }

    #[test]
    fn atomic_write_replaces_and_create_new_refuses() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "f", b"one", Mode::Replace).unwrap();
        write_atomic(dir.path(), "f", b"two", Mode::Replace).unwrap();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"two");
        let err = write_atomic(dir.path(), "f", b"three", Mode::CreateNew).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("f")], "no temporary file left");
    }
}

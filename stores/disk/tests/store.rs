//! Behaviour beyond the conformance suite: the size bound, value files, corrupt and foreign
//! rows, directories, locking, closing, and what MultiDiskStore adds.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::tempdir;
use key_value_core::config::StoreUrl;
use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::prelude::*;
use key_value_core::{Clock, ManualClock, Timestamp};
use key_value_disk::{DiskConfig, DiskStore, MultiDiskConfig, MultiDiskStore, Synchronous};
use rusqlite::Connection;

fn db(dir: &Path) -> Connection {
    Connection::open(dir.join("cache.db")).unwrap()
}

fn setting(dir: &Path, key: &str) -> rusqlite::types::Value {
    db(dir)
        .query_row("SELECT value FROM Settings WHERE key = ?", [key], |r| {
            r.get(0)
        })
        .unwrap()
}

fn int_setting(dir: &Path, key: &str) -> i64 {
    match setting(dir, key) {
        rusqlite::types::Value::Integer(i) => i,
        other => panic!("{key} = {other:?}"),
    }
}

/// diskcache's `volume()`: pages plus value file bytes.
fn volume(dir: &Path) -> i64 {
    let conn = db(dir);
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    pages * page_size + int_setting(dir, "size")
}

/// `(mode, filename, size)` of a stored key.
fn row(dir: &Path, key: &str) -> Option<(i64, Option<String>, i64)> {
    db(dir)
        .query_row(
            "SELECT mode, filename, size FROM Cache WHERE key = ?",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok()
}

/// Every `.val` file under `dir`.
fn value_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "val") {
                out.push(p);
            }
        }
    }
    out
}

fn manual() -> (ManualClock, Clock) {
    let m = ManualClock::new(Timestamp::from_unix_micros(1_800_000_000_123_456));
    (m.clone(), Clock::from(m))
}

fn big(n: usize, tag: usize) -> Object {
    object!({"data": "x".repeat(n), "tag": tag})
}

// ---------------------------------------------------------------------------------------------
// max_size

#[tokio::test]
async fn max_size_evicts_least_recently_stored_and_stays_within_the_bound() {
    let dir = tempdir();
    let limit = 300_000u64;
    let (clock, c) = manual();
    let store = DiskConfig::new(dir.path())
        .max_size(limit)
        .clock(c)
        .open()
        .unwrap();
    assert_eq!(store.max_size(), Some(limit));
    let caps = *store.info().capabilities();
    assert_eq!(caps.max_entries, None, "a byte bound is no entry count");
    assert_eq!(caps.max_entries_per_collection, None);
    assert!(caps.persistent && caps.native_ttl);
    for i in 0..40 {
        store
            .put(&format!("k{i}"), big(40_000, i))
            .collection("c")
            .await
            .unwrap();
        clock.advance(Duration::from_millis(10));
        let v = volume(dir.path());
        assert!(v < limit as i64, "volume {v} after put {i}");
    }
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let found = store.get_many(&keys).collection("c").await.unwrap();
    let present: Vec<usize> = (0..40).filter(|i| found[*i].is_some()).collect();
    assert!(present.contains(&39), "the newest is kept");
    assert!(!present.contains(&0), "the oldest is evicted");
    // Least recently stored first: what is left is the most recent run.
    let first = present[0];
    assert_eq!(present, (first..40).collect::<Vec<_>>());
    // Evicted rows took their files with them.
    assert_eq!(value_files(dir.path()).len(), present.len());
    assert_eq!(int_setting(dir.path(), "count"), present.len() as i64);
    assert_eq!(
        setting(dir.path(), "eviction_policy"),
        rusqlite::types::Value::Text("least-recently-stored".into())
    );
    assert_eq!(int_setting(dir.path(), "size_limit"), limit as i64);
}

#[tokio::test]
async fn max_size_bounds_small_inline_entries_too() {
    let dir = tempdir();
    let limit = 96 * 1024u64;
    let store = DiskConfig::new(dir.path()).max_size(limit).open().unwrap();
    for i in 0..3000 {
        store
            .put(
                &format!("k{i:05}"),
                object!({"pad": "p".repeat(200), "i": i}),
            )
            .await
            .unwrap();
    }
    let v = volume(dir.path());
    // Pages freed by evictions are reused, not necessarily returned at once: a few pages slack.
    assert!(v <= limit as i64 + 4 * 4096, "volume {v}");
    let count = int_setting(dir.path(), "count");
    assert!(count < 3000 && count > 50, "{count} entries kept");
    assert!(store.get("k02999").await.unwrap().is_some());
    assert!(store.get("k00000").await.unwrap().is_none());
}

#[tokio::test]
async fn cull_applies_a_lowered_bound_and_drops_expired_entries() {
    let dir = tempdir();
    let store = DiskConfig::new(dir.path())
        .max_size(50_000_000)
        .open()
        .unwrap();
    for i in 0..60 {
        store.put(&format!("k{i}"), big(40_000, i)).await.unwrap();
    }
    store.put("short", object!({})).ttl(0.05).await.unwrap();
    store.close().await.unwrap();
    assert!(volume(dir.path()) > 2_000_000);

    let store = DiskConfig::new(dir.path())
        .max_size(500_000)
        .open()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.cull().await.unwrap();
    assert!(volume(dir.path()) <= 500_000, "{}", volume(dir.path()));
    assert!(store.get("k59").await.unwrap().is_some(), "newest kept");
    assert!(store.get("k0").await.unwrap().is_none(), "oldest evicted");
    assert!(
        row(dir.path(), "default_collection::short").is_none(),
        "expired row culled"
    );
    let count = int_setting(dir.path(), "count") as usize;
    assert_eq!(value_files(dir.path()).len(), count);
}

#[tokio::test]
async fn without_max_size_the_policy_is_none_even_for_a_bounded_cache() {
    let dir = tempdir();
    DiskConfig::new(dir.path()).max_size(1000).open().unwrap();
    DiskStore::open(dir.path()).unwrap();
    // As py-key-value: `Cache(directory, eviction_policy="none")` keeps the size_limit.
    assert_eq!(
        setting(dir.path(), "eviction_policy"),
        rusqlite::types::Value::Text("none".into())
    );
    assert_eq!(int_setting(dir.path(), "size_limit"), 1000);
    let store = DiskStore::open(dir.path()).unwrap();
    for i in 0..20 {
        store.put(&format!("k{i}"), big(40_000, i)).await.unwrap();
    }
    assert_eq!(int_setting(dir.path(), "count"), 20, "nothing evicted");
}

// ---------------------------------------------------------------------------------------------
// Value files

/// An entry whose envelope text is exactly `len` characters long.
fn entry_of_length(collection: &str, key: &str, len: usize) -> ManagedEntry {
    let created = Timestamp::from_unix_micros(1_800_000_000_123_456);
    let empty = ManagedEntry::new(object!({"d": ""}), Some(created), None);
    let base = Envelope::WITH_KEY.dump(&empty, collection, key).len();
    ManagedEntry::new(object!({"d": "y".repeat(len - base)}), Some(created), None)
}

#[tokio::test]
async fn values_of_32_kib_and_more_go_to_files_exactly_at_the_threshold() {
    let dir = tempdir();
    let store = DiskStore::open(dir.path()).unwrap();
    store
        .put_entry("c", "below", entry_of_length("c", "below", 32767))
        .await
        .unwrap();
    store
        .put_entry("c", "at", entry_of_length("c", "at", 32768))
        .await
        .unwrap();
    assert_eq!(row(dir.path(), "c::below"), Some((1, None, 0)));
    let (mode, file, size) = row(dir.path(), "c::at").unwrap();
    assert_eq!((mode, size), (3, 32768));
    let file = dir.path().join(file.unwrap());
    assert_eq!(std::fs::read_to_string(&file).unwrap().len(), 32768);
    for key in ["below", "at"] {
        let got = store.get_entry("c", key).await.unwrap().unwrap();
        assert_eq!(
            Envelope::WITH_KEY.dump(&got, "c", key).len(),
            if key == "at" { 32768 } else { 32767 }
        );
    }
}

#[tokio::test]
async fn overwrites_and_deletes_remove_value_files_and_their_directories() {
    let dir = tempdir();
    let store = DiskStore::open(dir.path()).unwrap();
    store.put("k", big(40_000, 1)).await.unwrap();
    let first = value_files(dir.path());
    assert_eq!(first.len(), 1);
    store.put("k", big(50_000, 2)).await.unwrap();
    let second = value_files(dir.path());
    assert_eq!(second.len(), 1);
    assert_ne!(first, second, "the old file was replaced");
    assert_eq!(store.get("k").await.unwrap(), Some(big(50_000, 2)));
    assert_eq!(
        int_setting(dir.path(), "size"),
        std::fs::metadata(&second[0]).unwrap().len() as i64
    );

    store.put("k", object!({"small": true})).await.unwrap();
    assert!(
        value_files(dir.path()).is_empty(),
        "inline again: file removed"
    );
    assert_eq!(int_setting(dir.path(), "size"), 0);

    store
        .put_many(
            &["a", "b", "c"],
            vec![big(40_000, 1), big(40_000, 2), object!({})],
        )
        .await
        .unwrap();
    assert_eq!(value_files(dir.path()).len(), 2);
    assert_eq!(store.delete_many(&["a", "b", "c"]).await.unwrap(), 3);
    assert!(value_files(dir.path()).is_empty());
    // Only cache.db (and its WAL files) remain: the xx/yy directories went too.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with("cache.db"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(int_setting(dir.path(), "size"), 0);
}

#[tokio::test]
async fn destroy_and_destroy_collection_remove_files() {
    let dir = tempdir();
    let store = DiskStore::open(dir.path()).unwrap();
    store
        .put("k", big(40_000, 1))
        .collection("a")
        .await
        .unwrap();
    store
        .put("k", big(40_000, 2))
        .collection("b")
        .await
        .unwrap();
    assert!(store.destroy_collection("a").await.unwrap());
    assert_eq!(value_files(dir.path()).len(), 1);
    assert_eq!(
        store.get("k").collection("b").await.unwrap(),
        Some(big(40_000, 2))
    );
    assert!(store.destroy().await.unwrap());
    assert!(value_files(dir.path()).is_empty());
    assert!(!store.destroy().await.unwrap(), "nothing left to remove");
}

#[tokio::test]
async fn a_vanished_value_file_is_a_miss_and_a_foreign_path_is_refused() {
    let dir = tempdir();
    let store = DiskStore::open(dir.path()).unwrap();
    store.put("gone", big(40_000, 1)).await.unwrap();
    for f in value_files(dir.path()) {
        std::fs::remove_file(f).unwrap();
    }
    assert_eq!(store.get("gone").await.unwrap(), None);

    // A row pointing outside the directory is never read, nor removed.
    let outside = tempdir();
    let secret = outside.path().join("secret.val");
    std::fs::write(&secret, r#"{"value": {"secret": 1}}"#).unwrap();
    let evil = format!(
        "../{}/secret.val",
        outside.path().file_name().unwrap().to_str().unwrap()
    );
    db(dir.path())
        .execute(
            "INSERT INTO Cache (key, raw, store_time, access_time, mode, filename, size) \
             VALUES ('default_collection::evil', 1, 0, 0, 3, ?, 10)",
            [&evil],
        )
        .unwrap();
    let err = store.get("evil").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PathSecurity, "{err}");
    assert!(store.delete("evil").await.unwrap());
    assert!(secret.exists(), "a foreign file is not removed");
}

// ---------------------------------------------------------------------------------------------
// Corrupt and foreign rows

#[tokio::test]
async fn corrupt_rows_are_deserialization_errors_naming_the_key_and_others_still_work() {
    let dir = tempdir();
    let store = DiskStore::open(dir.path()).unwrap();
    store
        .put("good", object!({"v": 1}))
        .collection("c")
        .await
        .unwrap();
    let conn = db(dir.path());
    let insert = |key: &str, value_sql: &str, mode: i64| {
        conn.execute(
            &format!(
                "INSERT INTO Cache (key, raw, store_time, access_time, mode, value) \
                 VALUES (?, 1, 0, 0, ?, {value_sql})"
            ),
            rusqlite::params![key, mode],
        )
        .unwrap();
    };
    insert("c::not_json", "'not json'", 1);
    insert("c::no_value", r#"'{"version": 1}'"#, 1);
    insert("c::bad_date", r#"'{"value": {}, "created_at": "soon"}'"#, 1);
    insert("c::bad_utf8", "CAST(x'ff7b' AS TEXT)", 1);
    for key in ["not_json", "no_value", "bad_date", "bad_utf8"] {
        let err = store.get(key).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization, "{key}: {err}");
        assert_eq!(err.key(), Some(key));
        assert_eq!(err.collection(), Some("c"));
        let text = err.to_string();
        assert!(text.contains(key) && text.contains("'c'"), "{text}");
    }
    let err = store
        .get_many(&["good", "not_json"])
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.key(), Some("not_json"));
    assert_eq!(
        store.get("good").collection("c").await.unwrap(),
        Some(object!({"v": 1}))
    );
    let mut keys = store.keys().collection("c").await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        ["bad_date", "bad_utf8", "good", "no_value", "not_json"]
    );
    assert!(store.delete("not_json").collection("c").await.unwrap());
    store
        .put("no_value", object!({"fixed": true}))
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        store.get("no_value").collection("c").await.unwrap(),
        Some(object!({"fixed": true}))
    );
}

#[tokio::test]
async fn values_diskcache_stores_for_non_text_python_values_are_misses() {
    let dir = tempdir();
    let store = DiskStore::open(dir.path()).unwrap();
    let conn = db(dir.path());
    for (key, mode, value_sql) in [
        ("c::bytes", 1, "x'7b7d'"),
        ("c::int", 1, "42"),
        ("c::float", 1, "1.5"),
        ("c::pickle", 4, "x'8004'"),
        ("c::binary_file", 2, "NULL"),
    ] {
        conn.execute(
            &format!(
                "INSERT INTO Cache (key, raw, store_time, access_time, mode, value) \
                 VALUES (?, 1, 0, 0, ?, {value_sql})"
            ),
            rusqlite::params![key, mode],
        )
        .unwrap();
    }
    // A pickled key (raw = 0) is another key, even with the same bytes.
    conn.execute(
        "INSERT INTO Cache (key, raw, store_time, access_time, mode, value) \
         VALUES ('c::k', 0, 0, 0, 1, '{\"value\": {}}')",
        [],
    )
    .unwrap();
    for key in ["bytes", "int", "float", "pickle", "binary_file", "k"] {
        assert_eq!(store.get(key).collection("c").await.unwrap(), None, "{key}");
    }
}

#[tokio::test]
async fn expire_time_replaces_the_envelope_expiry_as_py_key_value_does() {
    let dir = tempdir();
    let (clock, c) = manual();
    let store = DiskConfig::new(dir.path()).clock(c).open().unwrap();
    store.put("k", object!({"v": 1})).ttl(100).await.unwrap();
    let now = clock.now().unix_seconds_f64();
    let conn = db(dir.path());
    conn.execute(
        "UPDATE Cache SET expire_time = ? WHERE key = 'default_collection::k'",
        [now + 500.0],
    )
    .unwrap();
    let (_, ttl) = store.ttl("k").await.unwrap().unwrap();
    assert!((499.0..=500.0).contains(&ttl.unwrap().as_secs_f64()));
    // An expire_time of 0.0 is long past: diskcache's SELECT hides the row, so do we.
    conn.execute(
        "UPDATE Cache SET expire_time = 0.0 WHERE key = 'default_collection::k'",
        [],
    )
    .unwrap();
    assert_eq!(store.get("k").await.unwrap(), None);
    // NULL: diskcache returns the row and py-key-value keeps the envelope's expires_at, which
    // then expires it on read.
    conn.execute(
        "UPDATE Cache SET expire_time = NULL WHERE key = 'default_collection::k'",
        [],
    )
    .unwrap();
    clock.advance(Duration::from_secs(1000));
    let entry = store
        .get_entry("default_collection", "k")
        .await
        .unwrap()
        .unwrap();
    assert!(
        entry.expires_at.is_some(),
        "the envelope's expires_at is kept when the column is NULL"
    );
    assert_eq!(
        store.get("k").await.unwrap(),
        None,
        "expired by the envelope"
    );
    // A passed expire_time is a miss even if the envelope says otherwise.
    conn.execute(
        "UPDATE Cache SET expire_time = ? WHERE key = 'default_collection::k'",
        [now - 1.0],
    )
    .unwrap();
    assert_eq!(
        store.get_entry("default_collection", "k").await.unwrap(),
        None
    );
    assert!(store.keys().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Directories, damaged databases, locks

#[tokio::test]
async fn auto_create_false_requires_the_directories() {
    let dir = tempdir();
    let missing = dir.path().join("missing");
    let err = DiskConfig::new(&missing)
        .auto_create(false)
        .open()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!missing.exists());
    let err = MultiDiskConfig::new(&missing)
        .auto_create(false)
        .open()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup);

    // The default creates it, parents included.
    let nested = missing.join("a/b");
    DiskStore::open(&nested).unwrap();
    assert!(nested.join("cache.db").is_file());

    // MultiDisk without auto_create: only existing collection directories are usable.
    let base = dir.path().join("base");
    std::fs::create_dir_all(base.join("present")).unwrap();
    let store = MultiDiskConfig::new(&base)
        .auto_create(false)
        .open()
        .unwrap();
    store
        .put("k", object!({}))
        .collection("present")
        .await
        .unwrap();
    let err = store
        .put("k", object!({}))
        .collection("absent")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert_eq!(store.get("k").collection("absent").await.unwrap(), None);
    assert!(!base.join("absent").exists());

    // A file where the directory should be.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert_eq!(DiskStore::open(&file).unwrap_err().kind(), ErrorKind::Setup);
}

#[tokio::test]
async fn a_damaged_database_is_a_clear_setup_error() {
    let dir = tempdir();
    std::fs::write(dir.path().join("cache.db"), vec![0x42u8; 8192]).unwrap();
    let err = DiskStore::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup);
    let text = err.to_string();
    assert!(
        text.contains("not a SQLite database") && text.contains("cache.db"),
        "{text}"
    );
}

#[tokio::test]
async fn a_locked_database_times_out_with_a_temporary_error_and_reads_go_on() {
    let dir = tempdir();
    let store = DiskConfig::new(dir.path())
        .busy_timeout(Duration::from_millis(300))
        .open()
        .unwrap();
    store.put("k", object!({"v": 1})).await.unwrap();
    let locker = db(dir.path());
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let err = store.put("k", object!({"v": 2})).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_temporary());
    assert!(err.to_string().contains("locked"), "{err}");
    // WAL: readers are not blocked by the writer.
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    // A lock released while we wait is taken.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        locker.execute_batch("COMMIT").unwrap();
    });
    store.put("k", object!({"v": 3})).await.unwrap();
    release.join().unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 3})));
}

#[tokio::test]
async fn close_releases_the_database_and_data_persists() {
    let dir = tempdir();
    let store = DiskStore::open(dir.path()).unwrap();
    store.put("k", big(40_000, 7)).ttl(3600).await.unwrap();
    store.close().await.unwrap();
    for err in [
        store.get("k").await.unwrap_err(),
        store.keys().await.unwrap_err(),
        store.collections().await.unwrap_err(),
        store.destroy().await.unwrap_err(),
        store.cull().await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Closed);
    }
    // The last connection closed checkpointed and removed the WAL, as SQLite does.
    assert!(!dir.path().join("cache.db-wal").exists());
    let again = DiskStore::open(dir.path()).unwrap();
    let (v, ttl) = again.ttl("k").await.unwrap().unwrap();
    assert_eq!(v, big(40_000, 7));
    assert!(ttl.unwrap() > Duration::from_secs(3590));
}

#[tokio::test]
async fn stored_settings_of_another_program_are_honoured() {
    let dir = tempdir();
    DiskConfig::new(dir.path())
        .max_size(10_000_000)
        .open()
        .unwrap();
    // A Python user switched to least-recently-used with statistics on.
    db(dir.path())
        .execute_batch(
            "UPDATE Settings SET value = 'least-recently-used' WHERE key = 'eviction_policy';
             UPDATE Settings SET value = 1 WHERE key = 'statistics';",
        )
        .unwrap();
    let (clock, c) = manual();
    let store = DiskConfig::new(dir.path())
        .max_size(10_000_000)
        .clock(c)
        .open()
        .unwrap();
    assert_eq!(
        setting(dir.path(), "eviction_policy"),
        rusqlite::types::Value::Text("least-recently-used".into()),
        "a non-none policy is kept"
    );
    let index: i64 = db(dir.path())
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'Cache_access_time'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 1);
    store.put("k", object!({})).await.unwrap();
    clock.advance(Duration::from_secs(5));
    store.get("k").await.unwrap().unwrap();
    store.get("missing").await.unwrap();
    let (store_time, access_time): (f64, f64) = db(dir.path())
        .query_row(
            "SELECT store_time, access_time FROM Cache WHERE key = 'default_collection::k'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        (access_time - store_time - 5.0).abs() < 1e-3,
        "access_time updated on read"
    );
    assert_eq!(int_setting(dir.path(), "hits"), 1);
    assert_eq!(int_setting(dir.path(), "misses"), 1);
}

#[tokio::test]
async fn synchronous_full_is_stored_for_every_program() {
    let dir = tempdir();
    DiskConfig::new(dir.path())
        .synchronous(Synchronous::Full)
        .open()
        .unwrap();
    assert_eq!(int_setting(dir.path(), "sqlite_synchronous"), 2);
    // Unset, the stored level is kept.
    let store = DiskStore::open(dir.path()).unwrap();
    assert_eq!(int_setting(dir.path(), "sqlite_synchronous"), 2);
    store.put("k", big(40_000, 1)).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(big(40_000, 1)));
}

#[tokio::test]
async fn urls_open_both_stores() {
    let dir = tempdir();
    let url = format!(
        "disk://{}?max_size=5000000&default_collection=users",
        dir.path().join("d").display()
    );
    let store = DiskConfig::from_url(&StoreUrl::parse(&url).unwrap())
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(store.max_size(), Some(5_000_000));
    assert_eq!(store.info().default_collection(), "users");
    store.put("k", object!({})).await.unwrap();
    assert_eq!(store.keys().collection("users").await.unwrap(), ["k"]);
    let url = format!(
        "multidisk://{}?auto_create=true",
        dir.path().join("m").display()
    );
    let multi = MultiDiskConfig::from_url(&StoreUrl::parse(&url).unwrap())
        .unwrap()
        .open()
        .unwrap();
    multi.put("k", object!({})).collection("c").await.unwrap();
    assert!(dir.path().join("m/c/cache.db").is_file());
    assert_eq!(DiskConfig::SCHEME, "disk");
    assert_eq!(MultiDiskConfig::SCHEME, "multidisk");
}

// ---------------------------------------------------------------------------------------------
// Enumeration

#[tokio::test]
async fn disk_collections_split_compound_keys_at_the_first_separator() {
    let dir = tempdir();
    let (clock, c) = manual();
    let store = DiskConfig::new(dir.path()).clock(c).open().unwrap();
    store
        .put("b::c", object!({}))
        .collection("a")
        .await
        .unwrap();
    store
        .put("k", object!({}))
        .collection("集合-🌍")
        .await
        .unwrap();
    store
        .put("gone", object!({}))
        .collection("expired")
        .ttl(1)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(store.collections().await.unwrap(), ["a", "集合-🌍"]);
    assert_eq!(store.keys().collection("a").await.unwrap(), ["b::c"]);
    assert_eq!(store.collections().limit(1).await.unwrap(), ["a"]);
    // A key ending just past the prefix range is not listed: "a:;x" is not in "a".
    db(dir.path())
        .execute(
            "INSERT INTO Cache (key, raw, store_time, access_time, mode, value) \
             VALUES ('a:;x', 1, 0, 0, 1, '{}')",
            [],
        )
        .unwrap();
    assert_eq!(store.keys().collection("a").await.unwrap(), ["b::c"]);
}

// ---------------------------------------------------------------------------------------------
// MultiDiskStore

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_disk_opens_each_collection_once_under_concurrent_first_use() {
    let dir = tempdir();
    let store = Arc::new(MultiDiskStore::open(dir.path()).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..32 {
        let store = store.clone();
        tasks.spawn(async move {
            let collection = format!("c{}", t % 4);
            for i in 0..10 {
                store
                    .put(&format!("t{t}_{i}"), object!({"t": t, "i": i}))
                    .collection(&collection)
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(store.collections().await.unwrap(), ["c0", "c1", "c2", "c3"]);
    for c in 0..4 {
        let keys = store.keys().collection(&format!("c{c}")).await.unwrap();
        assert_eq!(keys.len(), 80);
        assert_eq!(int_setting(&dir.path().join(format!("c{c}")), "count"), 80);
    }
    assert!(
        format!("{store:?}").contains("open_collections: 4"),
        "{store:?}"
    );
}

#[tokio::test]
async fn multi_disk_refuses_collections_sharing_a_directory() {
    let dir = tempdir();
    let store = MultiDiskStore::open(dir.path()).unwrap();
    store
        .put("k", object!({"from": "a/b"}))
        .collection("a/b")
        .await
        .unwrap();
    let err = store
        .put("k", object!({}))
        .collection("ab")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{err}");
    assert!(err.to_string().contains("a/b"), "{err}");
    store.close().await.unwrap();
    // Another instance learns the owner from the stored entries.
    let store = MultiDiskStore::open(dir.path()).unwrap();
    let err = store.get("k").collection("ab").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCollection);
    assert_eq!(
        store.get("k").collection("a/b").await.unwrap(),
        Some(object!({"from": "a/b"}))
    );
    assert_eq!(store.collections().await.unwrap(), ["a/b"]);
    // Names without a usable directory name.
    for bad in [" ", "...", ".", ".."] {
        let err = store
            .put("k", object!({}))
            .collection(bad)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{bad:?}");
    }
    assert_eq!(
        store.collection_directory("con").unwrap(),
        store.base_directory().join("con_")
    );
}

#[tokio::test]
async fn multi_disk_reads_do_not_create_collections_and_destroy_keeps_directories() {
    let dir = tempdir();
    let store = MultiDiskConfig::new(dir.path())
        .max_size(200_000)
        .open()
        .unwrap();
    assert_eq!(store.get("k").collection("never").await.unwrap(), None);
    assert!(!store.delete("k").collection("never").await.unwrap());
    assert!(store.keys().collection("never").await.unwrap().is_empty());
    assert!(!store.destroy_collection("never").await.unwrap());
    assert!(!dir.path().join("never").exists());

    store
        .put("k", big(40_000, 1))
        .collection("a")
        .await
        .unwrap();
    store.put("k", object!({})).collection("b").await.unwrap();
    assert!(store.destroy_collection("a").await.unwrap());
    assert!(
        dir.path().join("a/cache.db").is_file(),
        "kept for other processes"
    );
    assert!(value_files(&dir.path().join("a")).is_empty());
    assert_eq!(store.collections().await.unwrap(), ["b"]);
    assert!(store.destroy().await.unwrap());
    assert!(store.collections().await.unwrap().is_empty());
    // max_size applies per collection.
    for i in 0..20 {
        store
            .put(&format!("k{i}"), big(40_000, i))
            .collection("a")
            .await
            .unwrap();
    }
    assert!(volume(&dir.path().join("a")) < 200_000);
    assert_eq!(
        setting(&dir.path().join("a"), "eviction_policy"),
        rusqlite::types::Value::Text("least-recently-stored".into())
    );
    store.close().await.unwrap();
    assert_eq!(
        store.get("k").collection("a").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
}

/// A batch mixing small values (read on the caller's thread), values in their own files and
/// misses (read on the blocking pool) comes back whole and in order, whichever key comes
/// first, with repeats.
#[tokio::test]
async fn mixed_batches_of_small_and_file_backed_values_read_in_order() {
    let dir = tempdir();
    let store = DiskStore::open(dir.path()).unwrap();
    for i in 0..6 {
        let value = if i % 3 == 2 {
            big(40_000, i)
        } else {
            object!({"i": i})
        };
        store
            .put(&format!("k{i}"), value)
            .collection("c")
            .await
            .unwrap();
    }
    assert_eq!(value_files(dir.path()).len(), 2, "k2 and k5 live in files");
    let expected = |key: &str| -> Option<Object> {
        let i: usize = key.strip_prefix('k')?.parse().ok()?;
        (i < 6).then(|| {
            if i % 3 == 2 {
                big(40_000, i)
            } else {
                object!({"i": i})
            }
        })
    };
    for keys in [
        vec!["k0", "k1", "k2", "k3", "k4", "k5"],
        vec!["k2", "k0", "nope", "k5", "k1"],
        vec!["k0", "k1", "k3", "k2"],
        vec!["nope", "k5", "k5", "k4", "k0"],
    ] {
        let got = store.get_many(&keys).collection("c").await.unwrap();
        let want: Vec<Option<Object>> = keys.iter().map(|k| expected(k)).collect();
        assert_eq!(got, want, "{keys:?}");
    }
}

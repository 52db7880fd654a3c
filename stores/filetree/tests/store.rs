//! FileTreeStore's own behaviour: layout, info files, enumeration, key files, cull, destroy,
//! corrupt files, auto_create, name limits, configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{TempStore, temp_files, tree};
use key_value_core::config::StoreUrl;
use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::prelude::*;
use key_value_core::sanitize::{
    AlwaysHashStrategy, FileTreeV1KeySanitizationStrategy, SanitizationStrategy,
};
use key_value_core::{Clock, ManualClock, Timestamp};
use key_value_filetree::{FileTreeConfig, FileTreeStore, MAX_COLLECTION_BYTES, MAX_KEY_BYTES};

const CREATED: &str = "2026-11-25T17:56:48.812471+00:00";

fn manual_at(iso: &str) -> ManualClock {
    ManualClock::new(Timestamp::parse_iso(iso).unwrap())
}

fn paths(items: &[&str]) -> BTreeSet<PathBuf> {
    items.iter().map(PathBuf::from).collect()
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap()
}

fn json_str(s: &str) -> String {
    let mut out = String::new();
    key_value_core::json::write_python_str(&mut out, s);
    out
}

fn v1(c: FileTreeConfig) -> FileTreeConfig {
    c.v1_sanitization().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn layout_and_bytes_are_py_key_value_s() {
    let clock = manual_at(CREATED);
    let s = TempStore::new(|c| c.clock(Clock::from(clock.clone())));
    s.put("user:1", object!({"name": "Alice", "age": 30}))
        .collection("users")
        .await
        .unwrap();
    s.put("user:2", object!({"name": "Zoë"}))
        .collection("users")
        .ttl(3600)
        .await
        .unwrap();
    assert_eq!(
        tree(s.data()),
        paths(&[
            "users",
            "users-info.json",
            "users/user:1.json",
            "users/user:2.json"
        ])
    );
    assert_eq!(
        read(s.data().join("users/user:1.json")),
        format!(
            r#"{{"created_at": "{CREATED}", "value": {{"age": 30, "name": "Alice"}}, "version": 1}}"#
        )
    );
    assert_eq!(
        read(s.data().join("users/user:2.json")),
        format!(
            r#"{{"created_at": "{CREATED}", "expires_at": "2026-11-25T18:56:48.812471+00:00", "value": {{"name": "Zo\u00eb"}}, "version": 1}}"#
        )
    );
    let dir = s.data().join("users");
    assert_eq!(
        read(s.data().join("users-info.json")),
        format!(
            r#"{{"collection": "users", "created_at": "{CREATED}", "directory": {}, "version": 1}}"#,
            json_str(dir.to_str().unwrap())
        )
    );
    assert_eq!(
        s.entry_path("users", "user:1").unwrap(),
        dir.join("user:1.json")
    );
    assert_eq!(
        s.info_path("users").unwrap(),
        s.data().join("users-info.json")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join("user:1.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "like mkstemp");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn info_directory_is_absolute_and_resolved() {
    let tmp = tempfile::tempdir().unwrap();
    let real = fs::canonicalize(tmp.path()).unwrap().join("real");
    fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
    // opened through a symbolic link and a relative-looking `..`
    let store = FileTreeStore::open(tmp.path().join("link/../link/data")).unwrap();
    assert_eq!(store.data_directory(), real.join("data"));
    store.put("k", object!({})).collection("c").await.unwrap();
    let info = read(real.join("data/c-info.json"));
    let expected = format!(
        "\"directory\": {}",
        json_str(real.join("data/c").to_str().unwrap())
    );
    assert!(info.contains(&expected), "{info}");
}

#[tokio::test]
async fn unicode_names_are_literal_files_and_escaped_in_the_info_file() {
    let s = TempStore::new(|c| c);
    s.put("鍵-🔑", object!({"v": "世界"}))
        .collection("集合 🌍")
        .await
        .unwrap();
    assert!(s.data().join("集合 🌍").join("鍵-🔑.json").is_file());
    let info = read(s.data().join("集合 🌍-info.json"));
    assert!(
        info.starts_with(r#"{"collection": "\u96c6\u5408 \ud83c\udf0d", "created_at": ""#),
        "{info}"
    );
    assert_eq!(s.collections().await.unwrap(), vec!["集合 🌍"]);
    assert_eq!(s.keys().collection("集合 🌍").await.unwrap(), vec!["鍵-🔑"]);
}

#[tokio::test]
async fn info_file_is_created_once_and_an_existing_one_is_kept() {
    let clock = manual_at(CREATED);
    let s = TempStore::new(|c| c.clock(Clock::from(clock.clone())));
    s.put("a", object!({})).collection("c").await.unwrap();
    let info = read(s.data().join("c-info.json"));
    clock.advance(Duration::from_secs(100));
    s.put("b", object!({})).collection("c").await.unwrap();
    // a new store on the same tree does not rewrite it either
    let again = FileTreeConfig::new(s.data())
        .clock(Clock::from(clock.clone()))
        .open()
        .unwrap();
    again.put("c", object!({})).collection("c").await.unwrap();
    assert_eq!(read(s.data().join("c-info.json")), info);

    // An info file written by someone else (Python, another time) is read, not replaced.
    let theirs = r#"{"collection": "pre", "created_at": "2020-01-01T00:00:00+00:00", "directory": "/elsewhere/pre", "version": 1}"#;
    fs::write(s.data().join("pre-info.json"), theirs).unwrap();
    s.put("k", object!({"v": 1}))
        .collection("pre")
        .await
        .unwrap();
    assert_eq!(read(s.data().join("pre-info.json")), theirs);
    assert_eq!(
        s.get("k").collection("pre").await.unwrap(),
        Some(object!({"v": 1}))
    );
}

#[tokio::test]
async fn separate_metadata_directory() {
    let s = TempStore::in_tmp(|c, tmp| c.metadata_directory(tmp.join("meta")));
    s.put("k", object!({})).collection("c").await.unwrap();
    let meta = s.metadata_directory().to_path_buf();
    assert_eq!(meta, fs::canonicalize(s.dir.path()).unwrap().join("meta"));
    assert_eq!(tree(s.data()), paths(&["c", "c/k.json"]));
    assert_eq!(tree(&meta), paths(&["c-info.json"]));
    assert!(
        read(meta.join("c-info.json")).contains(&json_str(s.data().join("c").to_str().unwrap()))
    );
    assert_eq!(s.collections().await.unwrap(), vec!["c"]);
    assert!(s.destroy_collection("c").await.unwrap());
    assert!(tree(s.data()).is_empty());
    assert!(tree(&meta).is_empty());
}

#[tokio::test]
async fn reads_do_not_create_collections() {
    let s = TempStore::new(|c| c);
    assert_eq!(s.get("k").collection("c").await.unwrap(), None);
    assert!(!s.delete("k").collection("c").await.unwrap());
    assert!(s.keys().collection("c").await.unwrap().is_empty());
    assert!(!s.destroy_collection("c").await.unwrap());
    assert!(tree(s.data()).is_empty());
}

#[tokio::test]
async fn a_collection_directory_removed_behind_the_store_is_recreated() {
    let s = TempStore::new(|c| c);
    s.put("a", object!({"v": 1})).collection("c").await.unwrap();
    fs::remove_dir_all(s.data().join("c")).unwrap();
    s.put("b", object!({"v": 2})).collection("c").await.unwrap();
    assert_eq!(
        s.get("b").collection("c").await.unwrap(),
        Some(object!({"v": 2}))
    );
}

// ---------------------------------------------------------------------------------------------
// Sanitization and key files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn v1_layout_and_listing_through_key_files() {
    let s = TempStore::new(v1);
    s.put("user:1", object!({"n": 1}))
        .collection("my users")
        .await
        .unwrap();
    s.put("plain_key", object!({"n": 2}))
        .collection("my users")
        .await
        .unwrap();
    assert_eq!(
        tree(s.data()),
        paths(&[
            "S_my_users-1d502e8d",
            "S_my_users-1d502e8d-info.json",
            "S_my_users-1d502e8d/S_user_1-abc3a47b.json",
            "S_my_users-1d502e8d/S_user_1-abc3a47b.key",
            "S_my_users-1d502e8d/plain_key.json",
        ])
    );
    assert_eq!(
        read(s.data().join("S_my_users-1d502e8d/S_user_1-abc3a47b.key")),
        "user:1"
    );
    assert!(
        read(s.data().join("S_my_users-1d502e8d-info.json"))
            .starts_with(r#"{"collection": "my users", "#)
    );
    assert_eq!(s.collections().await.unwrap(), vec!["my users"]);
    let mut keys = s.keys().collection("my users").await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["plain_key", "user:1"]);

    // An entry py-key-value wrote (no key file) is read by key but cannot be listed.
    let stored = FileTreeV1KeySanitizationStrategy::new(s.data())
        .unwrap()
        .sanitize("a:b")
        .into_owned();
    assert!(stored.starts_with("S_a_b-"), "{stored}");
    let entry = ManagedEntry::new(object!({"n": 3}), None, None);
    fs::write(
        s.data().join(format!("S_my_users-1d502e8d/{stored}.json")),
        Envelope::WITHOUT_KEY.dump(&entry, "", ""),
    )
    .unwrap();
    assert_eq!(
        s.get("a:b").collection("my users").await.unwrap(),
        Some(object!({"n": 3}))
    );
    let mut keys = s.keys().collection("my users").await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["plain_key", "user:1"], "no key file, not listed");
    // Rewriting it through this store adds the key file.
    s.put("a:b", object!({"n": 4}))
        .collection("my users")
        .await
        .unwrap();
    let mut keys = s.keys().collection("my users").await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["a:b", "plain_key", "user:1"]);

    // Delete removes the key file too.
    assert!(s.delete("user:1").collection("my users").await.unwrap());
    assert!(
        !s.data()
            .join("S_my_users-1d502e8d/S_user_1-abc3a47b.key")
            .exists()
    );
    assert!(
        !s.data()
            .join("S_my_users-1d502e8d/S_user_1-abc3a47b.json")
            .exists()
    );
}

#[tokio::test]
async fn v1_reserves_prefixes_for_keys_and_collections() {
    let s = TempStore::new(v1);
    let err = s.put("S_x", object!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    let err = s.put("k", object!({})).collection("H_c").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCollection);
    assert!(tree(s.data()).is_empty());
}

#[tokio::test]
async fn a_key_file_naming_another_key_is_ignored() {
    let s = TempStore::new(v1);
    s.put("user:1", object!({})).collection("c").await.unwrap();
    let key_file = s.data().join("c/S_user_1-abc3a47b.key");
    fs::write(&key_file, "user:2").unwrap(); // not a key stored under this name
    assert!(s.keys().collection("c").await.unwrap().is_empty());
    s.put("user:1", object!({})).collection("c").await.unwrap();
    assert_eq!(read(&key_file), "user:1", "repaired by the next write");
}

#[tokio::test]
async fn try_unsanitize_of_a_custom_strategy_is_used_for_listing() {
    /// Reversible: stores keys hex-encoded.
    #[derive(Debug)]
    struct Hex;
    impl SanitizationStrategy for Hex {
        fn sanitize<'a>(&self, value: &'a str) -> std::borrow::Cow<'a, str> {
            value
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into()
        }
        fn try_unsanitize(&self, value: &str) -> Option<String> {
            let bytes: Option<Vec<u8>> = (0..value.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(value.get(i..i + 2)?, 16).ok())
                .collect();
            String::from_utf8(bytes?).ok()
        }
    }
    let s = TempStore::new(|c| c.key_sanitization(Arc::new(Hex)));
    assert_eq!(s.info().capabilities().max_key_length, None);
    s.put("a/b", object!({})).collection("c").await.unwrap();
    assert!(s.data().join("c/612f62.json").is_file());
    assert_eq!(tree(&s.data().join("c")).len(), 1, "no key file needed");
    assert_eq!(s.keys().collection("c").await.unwrap(), vec!["a/b"]);
}

#[tokio::test]
async fn lossy_strategy_keys_are_listed_through_key_files() {
    let s = TempStore::new(|c| c.key_sanitization(Arc::new(AlwaysHashStrategy::new(16).unwrap())));
    s.put_many(&["x", "y"], vec![object!({}), object!({})])
        .collection("c")
        .await
        .unwrap();
    let mut keys = s.keys().collection("c").await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["x", "y"]);
    assert_eq!(
        tree(&s.data().join("c")).len(),
        4,
        "two entries, two key files"
    );
}

#[tokio::test]
async fn colliding_collection_names_are_detected() {
    let s = TempStore::new(v1);
    let a = "a".repeat(300);
    let b = "a".repeat(301); // same first 243 characters: one V1 directory name
    s.put("k", object!({"v": 1})).collection(&a).await.unwrap();
    let err = s
        .put("k", object!({"v": 2}))
        .collection(&b)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{err}");
    assert_eq!(
        s.get("k").collection(&a).await.unwrap(),
        Some(object!({"v": 1}))
    );
    assert_eq!(s.collections().await.unwrap(), vec![a]);
}

// ---------------------------------------------------------------------------------------------
// Name limits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn names_longer_than_the_file_system_allows() {
    let s = TempStore::new(|c| c);
    let caps = *s.info().capabilities();
    assert_eq!(caps.max_key_length, Some(250));
    assert_eq!(caps.max_collection_length, Some(245));
    assert_eq!((MAX_KEY_BYTES, MAX_COLLECTION_BYTES), (250, 245));

    // at the limit: fits (a 255-byte file name)
    let key = "k".repeat(250);
    s.put(&key, object!({"v": 1}))
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        s.get(&key).collection("c").await.unwrap(),
        Some(object!({"v": 1}))
    );
    let collection = "c".repeat(245);
    s.put("k", object!({}))
        .collection(&collection)
        .await
        .unwrap();
    assert_eq!(s.keys().collection(&collection).await.unwrap(), vec!["k"]);

    // over: by characters (the declared limit), and by bytes for multi-byte names
    for key in ["k".repeat(251), "鍵".repeat(84)] {
        let err = s.put(&key, object!({})).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
        let err = s
            .put_entry("c", &key, ManagedEntry::new(object!({}), None, None))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        assert_eq!(
            s.get(&key).collection("c").await.unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
    }
    assert!(
        s.put(&"鍵".repeat(83), object!({}))
            .collection("c")
            .await
            .is_ok(),
        "249 bytes fit"
    );
    for collection in ["c".repeat(246), "集".repeat(82)] {
        let err = s
            .put("k", object!({}))
            .collection(&collection)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{err}");
    }
    let err = s
        .put("k", object!({}))
        .collection(&"集".repeat(82))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("246 bytes long"), "{err}");
    assert!(temp_files(s.data()).is_empty());
}

#[tokio::test]
async fn v1_sanitization_fits_long_names() {
    let s = TempStore::new(v1);
    let caps = *s.info().capabilities();
    assert_eq!(
        (caps.max_key_length, caps.max_collection_length),
        (None, None)
    );
    let long_key = "k".repeat(300);
    let wide_key = "鍵".repeat(300);
    let long_collection = "集合".repeat(200);
    for key in [&long_key, &wide_key] {
        s.put(key, object!({"k": key.len()}))
            .collection(&long_collection)
            .await
            .unwrap();
        assert_eq!(
            s.get(key).collection(&long_collection).await.unwrap(),
            Some(object!({"k": key.len()}))
        );
    }
    for path in tree(s.data()) {
        for part in path.iter() {
            assert!(part.len() <= 255, "{}", part.len());
        }
    }
    let mut keys = s.keys().collection(&long_collection).await.unwrap();
    keys.sort();
    assert_eq!(keys, vec![long_key, wide_key]);
    assert_eq!(s.collections().await.unwrap(), vec![long_collection]);
}

// ---------------------------------------------------------------------------------------------
// Enumeration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn keys_are_sorted_limited_and_skip_expired_and_foreign_files() {
    let clock = manual_at(CREATED);
    let s = TempStore::new(|c| c.clock(Clock::from(clock.clone())));
    for k in ["b", "a", "d", "c"] {
        s.put(k, object!({})).collection("c").await.unwrap();
    }
    s.put("e", object!({}))
        .collection("c")
        .ttl(1)
        .await
        .unwrap();
    fs::write(s.data().join("c/notes.txt"), "not an entry").unwrap();
    fs::write(s.data().join("c/tmpabc.tmp"), "a temporary file").unwrap();
    fs::create_dir(s.data().join("c/sub.json")).unwrap();
    assert_eq!(
        s.keys().collection("c").await.unwrap(),
        vec!["a", "b", "c", "d", "e"]
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        s.keys().collection("c").await.unwrap(),
        vec!["a", "b", "c", "d"]
    );
    assert_eq!(
        s.keys().collection("c").limit(2).await.unwrap(),
        vec!["a", "b"]
    );
    assert!(s.keys().collection("c").limit(0).await.unwrap().is_empty());
}

#[tokio::test]
async fn collections_come_from_info_files() {
    let s = TempStore::new(|c| c);
    for c in ["b", "a", "with space"] {
        s.put("k", object!({})).collection(c).await.unwrap();
    }
    fs::create_dir(s.data().join("no_info_file")).unwrap();
    fs::write(s.data().join("corrupt-info.json"), "{").unwrap();
    fs::create_dir(s.data().join("corrupt")).unwrap();
    // an info file whose directory is gone is a ghost
    fs::write(
        s.data().join("gone-info.json"),
        r#"{"collection": "gone", "created_at": "2020-01-01T00:00:00+00:00", "directory": "/x/gone", "version": 1}"#,
    )
    .unwrap();
    assert_eq!(s.collections().await.unwrap(), vec!["a", "b", "with space"]);
    assert_eq!(s.collections().limit(2).await.unwrap(), vec!["a", "b"]);
}

// ---------------------------------------------------------------------------------------------
// Cull, destroy
// ---------------------------------------------------------------------------------------------

fn expired_entry_text(at: Timestamp) -> String {
    let entry = ManagedEntry::new(object!({"old": true}), Some(at), Some(at));
    Envelope::WITHOUT_KEY.dump(&entry, "", "")
}

#[tokio::test]
async fn cull_deletes_expired_files_in_every_collection_at_any_depth() {
    let clock = manual_at(CREATED);
    let s = TempStore::new(|c| {
        c.clock(Clock::from(clock.clone()))
            .v1_sanitization()
            .unwrap()
    });
    for c in ["c1", "c2"] {
        s.put("old", object!({}))
            .collection(c)
            .ttl(1)
            .await
            .unwrap();
        s.put("old:sanitized", object!({}))
            .collection(c)
            .ttl(1)
            .await
            .unwrap();
        s.put("live", object!({})).collection(c).await.unwrap();
        s.put("later", object!({}))
            .collection(c)
            .ttl(100)
            .await
            .unwrap();
    }
    fs::write(s.data().join("c1/corrupt.json"), "not json").unwrap();
    // a collection py-key-value nests with "a/b" (passthrough), never set up by this store
    fs::create_dir_all(s.data().join("a/b")).unwrap();
    fs::write(s.data().join("a/b/k.json"), expired_entry_text(clock.now())).unwrap();
    fs::write(s.data().join("a/b-info.json"), "{}").unwrap();
    // leftovers of a crash: an old temporary file goes, a fresh one stays
    let stale = s.data().join("c1/tmpstale1.tmp");
    fs::write(&stale, "").unwrap();
    let old = SystemTime::now() - Duration::from_secs(7200);
    fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    fs::write(s.data().join("c1/tmpfresh1.tmp"), "").unwrap();

    clock.advance(Duration::from_secs(2));
    s.cull().await.unwrap();
    let expected = paths(&[
        "a",
        "a/b",
        "a/b-info.json",
        "c1",
        "c1-info.json",
        "c1/corrupt.json",
        "c1/later.json",
        "c1/live.json",
        "c1/tmpfresh1.tmp",
        "c2",
        "c2-info.json",
        "c2/later.json",
        "c2/live.json",
    ]);
    assert_eq!(tree(s.data()), expected);
    assert_eq!(
        s.get("live").collection("c2").await.unwrap(),
        Some(object!({}))
    );
    clock.advance(Duration::from_secs(100));
    s.cull().await.unwrap();
    assert!(!s.data().join("c1/later.json").exists());
}

#[tokio::test]
async fn destroy_collection_removes_the_directory_and_the_info_file() {
    let s = TempStore::new(|c| c);
    s.put("k", object!({"v": 1}))
        .collection("c1")
        .await
        .unwrap();
    s.put("k", object!({"v": 2}))
        .collection("c2")
        .await
        .unwrap();
    assert!(s.destroy_collection("c1").await.unwrap());
    assert_eq!(tree(s.data()), paths(&["c2", "c2-info.json", "c2/k.json"]));
    assert!(!s.destroy_collection("c1").await.unwrap());
    assert_eq!(s.collections().await.unwrap(), vec!["c2"]);
    // usable again, with a new info file
    s.put("k", object!({"v": 3}))
        .collection("c1")
        .await
        .unwrap();
    assert!(s.data().join("c1-info.json").is_file());
}

#[tokio::test]
async fn destroy_removes_every_collection_and_info_file() {
    let s = TempStore::new(|c| c);
    s.put("k", object!({})).collection("c1").await.unwrap();
    s.put("k", object!({})).collection("c2").await.unwrap();
    fs::write(s.data().join("README"), "not ours").unwrap();
    assert!(s.destroy().await.unwrap());
    assert_eq!(
        tree(s.data()),
        paths(&["README"]),
        "only store files are removed"
    );
    assert!(!s.destroy().await.unwrap());
    assert!(s.collections().await.unwrap().is_empty());
    s.put("k", object!({"v": 1}))
        .collection("c1")
        .await
        .unwrap();
    assert_eq!(
        s.get("k").collection("c1").await.unwrap(),
        Some(object!({"v": 1}))
    );
    assert!(
        s.data().join("c1-info.json").is_file(),
        "set up again after destroy"
    );
}

#[tokio::test]
async fn destroy_keeps_a_metadata_directory_inside_the_data_directory() {
    let s = TempStore::in_tmp(|c, tmp| c.metadata_directory(tmp.join("data/.meta")));
    s.put("k", object!({})).collection("c").await.unwrap();
    assert!(s.data().join(".meta/c-info.json").is_file());
    assert!(s.destroy().await.unwrap());
    assert_eq!(tree(s.data()), paths(&[".meta"]));
    s.put("k", object!({})).collection("c").await.unwrap();
    assert_eq!(s.collections().await.unwrap(), vec!["c"]);
}

// ---------------------------------------------------------------------------------------------
// Corrupt files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn corrupt_files_are_deserialization_errors_naming_the_key() {
    let s = TempStore::new(|c| c);
    s.put("good", object!({"v": 1}))
        .collection("c")
        .await
        .unwrap();
    let corrupt: [(&str, &[u8]); 5] = [
        ("not_json", b"not json"),
        ("not_object", b"[1, 2]"),
        (
            "no_value",
            br#"{"created_at": "2026-01-01T00:00:00+00:00", "version": 1}"#,
        ),
        (
            "bad_date",
            br#"{"created_at": "yesterday", "value": {}, "version": 1}"#,
        ),
        ("not_utf8", b"{\"value\": {\"x\": \"\xff\xfe\"}}"),
    ];
    for (key, bytes) in corrupt {
        fs::write(s.data().join(format!("c/{key}.json")), bytes).unwrap();
        let err = s.get(key).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization, "{key}: {err}");
        assert_eq!(err.key(), Some(key));
        assert_eq!(err.collection(), Some("c"));
        assert!(err.to_string().contains(&format!("{key}.json")), "{err}");
        let err = s
            .get_many(&["good", key])
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization);
        assert_eq!(err.key(), Some(key), "a batch error names the key");
        let err = s.get_entry("c", key).await.unwrap_err();
        assert_eq!(err.key(), Some(key), "also without the API layer");
    }
    assert_eq!(
        s.get("good").collection("c").await.unwrap(),
        Some(object!({"v": 1}))
    );
    // listed (so they can be found and deleted), deleted like any entry, kept by cull
    assert_eq!(s.keys().collection("c").await.unwrap().len(), 6);
    s.cull().await.unwrap();
    assert_eq!(s.keys().collection("c").await.unwrap().len(), 6);
    assert!(s.delete("not_json").collection("c").await.unwrap());
    // overwriting repairs
    s.put("not_utf8", object!({"v": 2}))
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        s.get("not_utf8").collection("c").await.unwrap(),
        Some(object!({"v": 2}))
    );
}

#[tokio::test]
async fn corrupt_info_file_is_a_setup_error() {
    let s = TempStore::new(|c| c);
    fs::write(s.data().join("c-info.json"), "garbage").unwrap();
    let err = s.put("k", object!({})).collection("c").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert!(err.to_string().contains("c-info.json"), "{err}");
    assert_eq!(
        read(s.data().join("c-info.json")),
        "garbage",
        "not overwritten"
    );
}

// ---------------------------------------------------------------------------------------------
// auto_create, configuration, lifecycle
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn auto_create_false() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let err = FileTreeConfig::new(&missing)
        .auto_create(false)
        .open()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!missing.exists());
    let err = FileTreeConfig::new(tmp.path())
        .metadata_directory(&missing)
        .auto_create(false)
        .open()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup);

    let store = FileTreeConfig::new(tmp.path())
        .auto_create(false)
        .open()
        .unwrap();
    let err = store
        .put("k", object!({}))
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert_eq!(store.get("k").collection("c").await.unwrap(), None);
    assert!(tree(tmp.path()).is_empty(), "nothing created");
    fs::create_dir(tmp.path().join("c")).unwrap();
    store
        .put("k", object!({"v": 1}))
        .collection("c")
        .await
        .unwrap();
    assert!(
        tmp.path().join("c-info.json").is_file(),
        "the info file is still written"
    );
    assert_eq!(
        store.get("k").collection("c").await.unwrap(),
        Some(object!({"v": 1}))
    );

    // and by default, directories are created
    let nested = tmp.path().join("x/y/z");
    FileTreeStore::open(&nested).unwrap();
    assert!(nested.is_dir());
    // a file where the directory should be
    fs::write(tmp.path().join("file"), "").unwrap();
    let err = FileTreeStore::open(tmp.path().join("file")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup);
}

#[tokio::test]
async fn url_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(tmp.path()).unwrap();
    let url = |q: &str| StoreUrl::parse(&format!("filetree://{}/data{q}", base.display())).unwrap();

    let store = FileTreeConfig::from_url(&url(
        "?default_collection=users&sanitize=v1&metadata_directory=",
    ))
    .err();
    assert_eq!(
        store.map(|e| e.kind()),
        Some(ErrorKind::Config),
        "empty metadata_directory"
    );

    let meta = base.join("meta");
    let store = FileTreeConfig::from_url(&url(&format!(
        "?default_collection=users&sanitize=v1&metadata_directory={}&auto_create=true",
        meta.display()
    )))
    .unwrap()
    .open()
    .unwrap();
    assert_eq!(store.info().default_collection(), "users");
    assert_eq!(store.data_directory(), base.join("data"));
    assert_eq!(store.metadata_directory(), meta);
    assert_eq!(
        store.info().capabilities().max_key_length,
        None,
        "V1 sanitization"
    );
    store.put("user:1", object!({})).await.unwrap();
    assert!(base.join("data/users/S_user_1-abc3a47b.json").is_file());
    assert!(meta.join("users-info.json").is_file());

    let plain = FileTreeConfig::from_url(&url("?sanitize=none"))
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(plain.info().capabilities().max_key_length, Some(250));
    assert_eq!(plain.info().default_collection(), "default_collection");

    for bad in ["?sanitize=v2", "?unknown=1", "?auto_create=maybe"] {
        let err = FileTreeConfig::from_url(&url(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
    }
    let err = FileTreeConfig::from_url(&StoreUrl::parse("disk:///tmp/x").unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = FileTreeConfig::from_url(&url("?auto_create=false"))
        .unwrap()
        .open()
        .map(drop);
    assert!(err.is_ok(), "the data directory exists by now");
    let err = FileTreeConfig::from_url(
        &StoreUrl::parse(&format!(
            "filetree://{}/nope?auto_create=false",
            base.display()
        ))
        .unwrap(),
    )
    .unwrap()
    .open()
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup);
    assert_eq!(key_value_filetree::SCHEME, "filetree");
    assert_eq!(FileTreeConfig::SCHEME, "filetree");
}

#[tokio::test]
async fn declares_itself() {
    let s = TempStore::new(|c| c.default_collection("mine"));
    let info = s.info();
    assert_eq!(info.name(), "FileTreeStore");
    assert_eq!(info.stability(), Stability::Stable);
    assert_eq!(info.default_collection(), "mine");
    let caps = info.capabilities();
    assert!(caps.persistent && caps.cull && caps.destroy && caps.destroy_collection);
    assert!(caps.enumerate_keys && caps.enumerate_collections);
    assert!(!caps.native_ttl && !caps.discards_writes);
    s.put("k", object!({})).await.unwrap();
    assert!(s.data().join("mine/k.json").is_file());
    assert!(format!("{:?}", s.store).contains("FileTreeStore"));
}

#[tokio::test]
async fn data_survives_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store = FileTreeStore::open(tmp.path()).unwrap();
        store
            .put("k", object!({"v": 1}))
            .collection("c")
            .ttl(3600)
            .await
            .unwrap();
        store.close().await.unwrap();
    }
    let store = FileTreeStore::open(tmp.path()).unwrap();
    let (value, ttl) = store.ttl("k").collection("c").await.unwrap().unwrap();
    assert_eq!(value, object!({"v": 1}));
    assert!(ttl.unwrap() > Duration::from_secs(3590));
}

#[tokio::test]
async fn closed_store_rejects_every_call() {
    let s = TempStore::new(|c| c);
    s.put("k", object!({})).await.unwrap();
    s.close().await.unwrap();
    let kinds = [
        s.get("k").await.map(drop).unwrap_err().kind(),
        s.delete("k").await.map(drop).unwrap_err().kind(),
        s.keys().await.map(drop).unwrap_err().kind(),
        s.collections().await.map(drop).unwrap_err().kind(),
        s.cull().await.unwrap_err().kind(),
        s.destroy().await.map(drop).unwrap_err().kind(),
        s.destroy_collection("default_collection")
            .await
            .map(drop)
            .unwrap_err()
            .kind(),
    ];
    assert!(kinds.iter().all(|k| *k == ErrorKind::Closed), "{kinds:?}");
    assert!(
        s.data().join("default_collection/k.json").is_file(),
        "data kept"
    );
}

#[test]
fn works_without_a_tokio_runtime() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    let s = TempStore::new(|c| c);
    let mut cx = Context::from_waker(Waker::noop());
    let entry = ManagedEntry::new(object!({"v": 1}), None, None);
    let put = pin!(s.put_entry("c", "k", entry.clone())).poll(&mut cx);
    assert!(matches!(put, Poll::Ready(Ok(()))));
    match pin!(s.get_entry("c", "k")).poll(&mut cx) {
        Poll::Ready(Ok(Some(got))) => assert_eq!(got, entry),
        other => panic!("{other:?}"),
    }
}

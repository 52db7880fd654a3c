//! Path security: no key or collection name, and no symbolic link leading out, makes the store
//! read, write, list or delete outside its data directory; links that stay inside work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use common::tree;
use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::prelude::*;
use key_value_filetree::{FileTreeConfig, FileTreeStore};

/// `<tmp>/data` (the store) next to `<tmp>/outside` holding one file.
struct Setup {
    tmp: tempfile::TempDir,
    store: FileTreeStore,
}

impl Setup {
    fn new(configure: impl FnOnce(FileTreeConfig) -> FileTreeConfig) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("sentinel.json"), entry_text("outside")).unwrap();
        let store = configure(FileTreeConfig::new(tmp.path().join("data")))
            .open()
            .unwrap();
        Setup { tmp, store }
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    /// Asserts that nothing outside the data directory changed.
    fn assert_outside_untouched(&self) {
        let top: BTreeSet<PathBuf> = fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| PathBuf::from(e.unwrap().file_name()))
            .collect();
        assert_eq!(
            top,
            BTreeSet::from([PathBuf::from("data"), PathBuf::from("outside")])
        );
        let outside = tree(&self.outside());
        assert_eq!(
            outside
                .into_iter()
                .filter(|p| !p.starts_with("subdir") && !p.starts_with("expired.json"))
                .collect::<BTreeSet<_>>(),
            BTreeSet::from([PathBuf::from("sentinel.json")]),
        );
        assert_eq!(
            fs::read_to_string(self.outside().join("sentinel.json")).unwrap(),
            entry_text("outside")
        );
    }
}

fn entry_text(marker: &str) -> String {
    Envelope::WITHOUT_KEY.dump(
        &ManagedEntry::new(object!({"marker": marker}), None, None),
        "",
        "",
    )
}

const BAD_NAMES: &[&str] = &[
    "../x",
    "../outside/sentinel",
    "../../../../../../etc/passwd",
    "a/b",
    "/etc/passwd",
    "/tmp/x",
    "x\0y",
    "..",
    ".",
    "a/../../x",
];

fn assert_security(result: Result<impl std::fmt::Debug>, what: &str) {
    match result {
        Err(e) => assert_eq!(e.kind(), ErrorKind::PathSecurity, "{what}: {e}"),
        Ok(v) => panic!("{what}: accepted ({v:?})"),
    }
}

#[tokio::test]
async fn traversal_in_keys_is_refused_everywhere() {
    let s = Setup::new(|c| c);
    s.store
        .put("ok", object!({}))
        .collection("c")
        .await
        .unwrap();
    for &key in BAD_NAMES {
        let w = format!("key {key:?}");
        assert_security(s.store.get(key).collection("c").await, &w);
        assert_security(s.store.ttl(key).collection("c").await, &w);
        assert_security(s.store.put(key, object!({})).collection("c").await, &w);
        assert_security(s.store.delete(key).collection("c").await, &w);
        assert_security(s.store.get_many(&["ok", key]).collection("c").await, &w);
        assert_security(
            s.store
                .put_many(&["ok", key], vec![object!({}), object!({})])
                .collection("c")
                .await,
            &w,
        );
        assert_security(s.store.delete_many(&["ok", key]).collection("c").await, &w);
        // also in a collection that does not exist yet
        assert_security(s.store.put(key, object!({})).collection("new").await, &w);
        let err = s.store.get(key).collection("c").await.unwrap_err();
        assert_eq!(err.key(), Some(key), "the error names the key");
    }
    s.assert_outside_untouched();
    let inside: BTreeSet<PathBuf> = tree(&s.data());
    assert_eq!(
        inside,
        ["c", "c-info.json", "c/ok.json"]
            .iter()
            .map(PathBuf::from)
            .collect(),
        "nothing else created, not even the collection `new`"
    );
    assert_eq!(
        s.store.get("ok").collection("c").await.unwrap(),
        Some(object!({}))
    );
}

#[tokio::test]
async fn traversal_in_collections_is_refused_everywhere() {
    let s = Setup::new(|c| c);
    for &collection in BAD_NAMES {
        let w = format!("collection {collection:?}");
        assert_security(s.store.get("k").collection(collection).await, &w);
        assert_security(
            s.store.put("k", object!({})).collection(collection).await,
            &w,
        );
        assert_security(s.store.delete("k").collection(collection).await, &w);
        assert_security(s.store.get_many(&["k"]).collection(collection).await, &w);
        assert_security(
            s.store
                .put_many(&["k"], vec![object!({})])
                .collection(collection)
                .await,
            &w,
        );
        assert_security(s.store.keys().collection(collection).await, &w);
        assert_security(s.store.destroy_collection(collection).await, &w);
        assert_security(s.store.info_path(collection), &w);
    }
    s.assert_outside_untouched();
    assert!(tree(&s.data()).is_empty(), "nothing created");
    assert!(s.store.collections().await.unwrap().is_empty());
}

#[tokio::test]
async fn v1_sanitization_makes_traversal_names_harmless() {
    let s = Setup::new(|c| c.v1_sanitization().unwrap());
    for &name in BAD_NAMES {
        s.store
            .put(name, object!({"name": name}))
            .collection(name)
            .await
            .unwrap();
        assert_eq!(
            s.store.get(name).collection(name).await.unwrap(),
            Some(object!({"name": name}))
        );
        assert_eq!(s.store.keys().collection(name).await.unwrap(), vec![name]);
    }
    s.assert_outside_untouched();
    for path in tree(&s.data()) {
        assert!(
            path.iter()
                .all(|part| part.to_str().is_some_and(|p| p.starts_with("S_"))),
            "{path:?}"
        );
    }
    let mut collections = s.store.collections().await.unwrap();
    collections.sort();
    let mut expected: Vec<&str> = BAD_NAMES.to_vec();
    expected.sort();
    assert_eq!(collections, expected);
}

#[cfg(unix)]
mod symlinks {
    use super::*;
    use std::os::unix::fs::symlink;

    fn expired_text() -> String {
        let at = key_value_core::Timestamp::from_unix_micros(1_000_000);
        Envelope::WITHOUT_KEY.dump(
            &ManagedEntry::new(object!({"old": true}), Some(at), Some(at)),
            "",
            "",
        )
    }

    #[tokio::test]
    async fn a_collection_directory_linking_outside_is_refused() {
        let s = Setup::new(|c| c);
        fs::create_dir(s.outside().join("subdir")).unwrap();
        fs::write(s.outside().join("subdir/k.json"), expired_text()).unwrap();
        symlink(s.outside().join("subdir"), s.data().join("evil")).unwrap();
        // a relative link works the same
        symlink("../outside/subdir", s.data().join("evil_relative")).unwrap();
        for collection in ["evil", "evil_relative"] {
            let w = format!("collection {collection}");
            assert_security(s.store.get("k").collection(collection).await, &w);
            assert_security(
                s.store.put("new", object!({})).collection(collection).await,
                &w,
            );
            assert_security(s.store.delete("k").collection(collection).await, &w);
            assert_security(s.store.keys().collection(collection).await, &w);
            assert_security(s.store.destroy_collection(collection).await, &w);
        }
        s.store.cull().await.unwrap();
        assert!(
            s.store.destroy().await.unwrap(),
            "removes the links, not their targets"
        );
        assert!(
            s.outside().join("subdir/k.json").is_file(),
            "not culled, not destroyed"
        );
        assert!(!s.outside().join("subdir/new.json").exists());
        assert_eq!(tree(&s.outside().join("subdir")).len(), 1);
        s.assert_outside_untouched();
    }

    #[tokio::test]
    async fn a_dangling_link_leading_outside_is_refused_before_creating_anything() {
        let s = Setup::new(|c| c);
        symlink(s.outside().join("to_be_created"), s.data().join("dangling")).unwrap();
        assert_security(
            s.store.put("k", object!({})).collection("dangling").await,
            "dangling",
        );
        assert!(!s.outside().join("to_be_created").exists());
        assert!(!s.data().join("dangling-info.json").exists());
        s.assert_outside_untouched();
    }

    #[tokio::test]
    async fn an_entry_file_linking_outside_is_refused() {
        let s = Setup::new(|c| c);
        s.store
            .put("ok", object!({}))
            .collection("c")
            .await
            .unwrap();
        symlink(
            s.outside().join("sentinel.json"),
            s.data().join("c/secret.json"),
        )
        .unwrap();
        fs::write(s.outside().join("expired.json"), expired_text()).unwrap();
        symlink(
            s.outside().join("expired.json"),
            s.data().join("c/old.json"),
        )
        .unwrap();
        assert_security(s.store.get("secret").collection("c").await, "get");
        assert_security(
            s.store.get_many(&["ok", "secret"]).collection("c").await,
            "get_many",
        );
        assert_security(
            s.store.put("secret", object!({})).collection("c").await,
            "put",
        );
        assert_security(s.store.delete("secret").collection("c").await, "delete");
        assert!(
            fs::symlink_metadata(s.data().join("c/secret.json"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(s.store.keys().collection("c").await.unwrap(), vec!["ok"]);
        s.store.cull().await.unwrap();
        assert!(
            s.outside().join("expired.json").is_file(),
            "cull does not follow it"
        );
        assert!(s.data().join("c/old.json").exists());
        s.assert_outside_untouched();
    }

    #[tokio::test]
    async fn an_info_file_linking_outside_is_refused() {
        let s = Setup::new(|c| c);
        fs::create_dir(s.data().join("c")).unwrap();
        symlink(
            s.outside().join("sentinel.json"),
            s.data().join("c-info.json"),
        )
        .unwrap();
        assert_security(s.store.put("k", object!({})).collection("c").await, "put");
        assert!(s.store.collections().await.unwrap().is_empty());
        s.assert_outside_untouched();
    }

    #[tokio::test]
    async fn links_that_stay_inside_are_followed() {
        let s = Setup::new(|c| c);
        s.store
            .put("k", object!({"v": 1}))
            .collection("real")
            .await
            .unwrap();
        symlink(s.data().join("real"), s.data().join("alias")).unwrap();
        symlink("real", s.data().join("alias_relative")).unwrap();
        for alias in ["alias", "alias_relative"] {
            assert_eq!(
                s.store.get("k").collection(alias).await.unwrap(),
                Some(object!({"v": 1})),
                "{alias}"
            );
        }
        s.store
            .put("k2", object!({"v": 2}))
            .collection("alias")
            .await
            .unwrap();
        assert!(
            s.data().join("real/k2.json").is_file(),
            "written through the link"
        );
        let mut keys = s.store.keys().collection("alias").await.unwrap();
        keys.sort();
        assert_eq!(keys, vec!["k", "k2"]);

        // an entry file linking to another entry inside
        symlink("k.json", s.data().join("real/same.json")).unwrap();
        assert_eq!(
            s.store.get("same").collection("real").await.unwrap(),
            Some(object!({"v": 1}))
        );
        // a put replaces the link itself, as py-key-value does; the target is untouched
        s.store
            .put("same", object!({"v": 3}))
            .collection("real")
            .await
            .unwrap();
        assert!(
            !fs::symlink_metadata(s.data().join("real/same.json"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            s.store.get("k").collection("real").await.unwrap(),
            Some(object!({"v": 1}))
        );

        // the link to the data directory itself is inside too (py-key-value: `==` root)
        symlink(s.data(), s.data().join("root_alias")).unwrap();
        assert_eq!(
            s.store.get("k").collection("root_alias").await.unwrap(),
            None
        );

        // destroy_collection of an alias removes the link, not the data behind it
        assert!(s.store.destroy_collection("alias").await.unwrap());
        assert!(!s.data().join("alias").exists());
        assert!(s.data().join("real/k.json").is_file());
        s.assert_outside_untouched();
    }

    #[tokio::test]
    async fn the_data_directory_may_itself_be_reached_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("real")).unwrap();
        symlink(tmp.path().join("real"), tmp.path().join("link")).unwrap();
        let store = FileTreeStore::open(tmp.path().join("link")).unwrap();
        store
            .put("k", object!({"v": 1}))
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            store.get("k").collection("c").await.unwrap(),
            Some(object!({"v": 1}))
        );
        assert!(tmp.path().join("real/c/k.json").is_file());
        assert_eq!(
            store.data_directory(),
            fs::canonicalize(tmp.path().join("real")).unwrap()
        );
    }
}

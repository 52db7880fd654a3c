//! ReadOnly: the conformance suite in silent mode, and every write refused in raising mode.
//!
//! The suite writes, so a store refusing writes cannot pass it as is. In silent mode (py's
//! `raise_on_write=False`) over an empty store, however, ReadOnly must behave exactly as the
//! null store does: every write accepted and dropped, every read a miss, every delete `false`.
//! The suite has that contract (`discards_writes`), so it runs through [`AsNull`], which only
//! declares it: any write that got through, or any delete that reported something, fails it.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use key_value_core::prelude::*;
use key_value_core::{ManagedEntry, Result};
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_wrappers::LayerExt;
use key_value_wrappers::read_only::{ReadOnly, ReadOnlyLayer};

/// Forwards everything, declaring `discards_writes`.
struct AsNull<S> {
    inner: S,
    info: StoreInfo,
}

impl<S: KeyValue> AsNull<S> {
    fn new(inner: S) -> Self {
        let mut info = inner.info().clone();
        info.capabilities_mut().discards_writes = true;
        AsNull { inner, info }
    }
}

impl<S: KeyValue> KeyValue for AsNull<S> {
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    async fn get_entry(&self, c: &str, k: &str) -> Result<Option<ManagedEntry>> {
        self.inner.get_entry(c, k).await
    }
    async fn put_entry(&self, c: &str, k: &str, e: ManagedEntry) -> Result<()> {
        self.inner.put_entry(c, k, e).await
    }
    async fn delete_entry(&self, c: &str, k: &str) -> Result<bool> {
        self.inner.delete_entry(c, k).await
    }
    async fn get_entries(&self, c: &str, k: &[&str]) -> Result<Vec<Option<ManagedEntry>>> {
        self.inner.get_entries(c, k).await
    }
    async fn put_entries(&self, c: &str, k: &[&str], e: Vec<ManagedEntry>) -> Result<()> {
        self.inner.put_entries(c, k, e).await
    }
    async fn delete_entries(&self, c: &str, k: &[&str]) -> Result<usize> {
        self.inner.delete_entries(c, k).await
    }
    async fn list_keys(&self, c: &str, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_keys(c, limit).await
    }
    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.inner.list_collections(limit).await
    }
    async fn destroy(&self) -> Result<bool> {
        self.inner.destroy().await
    }
    async fn destroy_collection(&self, c: &str) -> Result<bool> {
        self.inner.destroy_collection(c).await
    }
    async fn cull(&self) -> Result<()> {
        self.inner.cull().await
    }
    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

mod silent_conformance {
    use super::*;

    async fn store(fx: Fixture) -> AsNull<ReadOnly<MemoryStore>> {
        AsNull::new(
            MemoryStore::builder()
                .clock(fx.clock())
                .build()
                .layer(ReadOnlyLayer::silent()),
        )
    }

    key_value_testkit::conformance_suite!(store);
}

/// The same over a SharedStore, behind a SharedStore.
mod silent_shared_conformance {
    use super::*;

    async fn store(fx: Fixture) -> SharedStore {
        let inner: SharedStore = Arc::new(MemoryStore::builder().clock(fx.clock()).build());
        Arc::new(AsNull::new(
            inner.layer(ReadOnlyLayer::new().raise_on_write(false)),
        ))
    }

    key_value_testkit::conformance_suite!(store);
}

fn seeded() -> MemoryStore {
    MemoryStore::builder()
        .seed("c", "a", object!({"v": 1}))
        .seed("c", "b", object!({"v": 2}))
        .seed("d", "x", object!({"v": 3}))
        .build()
}

async fn assert_untouched<S: KeyValue>(s: &S) {
    assert_eq!(
        s.get_many(&["a", "b"]).collection("c").await.unwrap(),
        vec![Some(object!({"v": 1})), Some(object!({"v": 2}))]
    );
    assert_eq!(
        s.get("x").collection("d").await.unwrap(),
        Some(object!({"v": 3}))
    );
}

#[tokio::test]
async fn reads_pass_through() {
    let s = seeded().layer(ReadOnlyLayer::new());
    assert!(s.raises_on_write());
    assert_untouched(&s).await;
    let (value, ttl) = s.ttl("a").collection("c").await.unwrap().unwrap();
    assert_eq!((value, ttl), (object!({"v": 1}), None));
    let mut keys = s.keys().collection("c").await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["a", "b"]);
    let mut collections = s.collections().await.unwrap();
    collections.sort();
    assert_eq!(collections, vec!["c", "d"]);
    assert_eq!(s.get("missing").collection("c").await.unwrap(), None);
    assert_eq!(s.info().capabilities(), s.inner().info().capabilities());
}

#[tokio::test]
async fn every_write_is_a_read_only_error_naming_what_was_refused() {
    let s = seeded().layer(ReadOnlyLayer::new());
    let err = s
        .put("a", object!({"v": 9}))
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReadOnly);
    assert_eq!(
        (err.operation(), err.collection(), err.key()),
        (Some("put"), Some("c"), Some("a"))
    );
    let err = s.delete("a").collection("c").await.unwrap_err();
    assert_eq!(
        (err.kind(), err.operation(), err.key()),
        (ErrorKind::ReadOnly, Some("delete"), Some("a"))
    );
    let err = s
        .put_many(&["a", "n"], vec![object!({}), object!({})])
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.operation(), err.collection()),
        (ErrorKind::ReadOnly, Some("put_many"), Some("c"))
    );
    assert!(err.to_string().contains("2 keys"), "{err}");
    let err = s
        .delete_many(&["a", "b"])
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (ErrorKind::ReadOnly, Some("delete_many"))
    );
    let err = s.destroy().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (ErrorKind::ReadOnly, Some("destroy"))
    );
    let err = s.destroy_collection("c").await.unwrap_err();
    assert_eq!(
        (err.kind(), err.collection()),
        (ErrorKind::ReadOnly, Some("c"))
    );
    assert_eq!(s.cull().await.unwrap_err().kind(), ErrorKind::ReadOnly);
    // Directly at the entry level too.
    let entry = ManagedEntry::new(object!({}), None, None);
    assert_eq!(
        s.put_entry("c", "a", entry).await.unwrap_err().kind(),
        ErrorKind::ReadOnly
    );
    assert_untouched(&s).await;
    assert_untouched(s.inner()).await;
}

#[tokio::test]
async fn silent_mode_drops_writes_and_reports_nothing_done() {
    let s = seeded().layer(ReadOnlyLayer::silent());
    assert!(!s.raises_on_write());
    s.put("a", object!({"v": 9})).collection("c").await.unwrap();
    s.put("new", object!({})).collection("c").await.unwrap();
    s.put_many(&["a", "b"], vec![object!({}), object!({})])
        .collection("c")
        .await
        .unwrap();
    assert!(!s.delete("a").collection("c").await.unwrap());
    assert_eq!(s.delete_many(&["a", "b"]).collection("c").await.unwrap(), 0);
    assert!(!s.destroy().await.unwrap());
    assert!(!s.destroy_collection("c").await.unwrap());
    s.cull().await.unwrap();
    assert_untouched(&s).await;
    assert_eq!(s.get("new").collection("c").await.unwrap(), None);
}

#[tokio::test]
async fn after_close_writes_are_closed_errors_in_both_modes() {
    for layer in [ReadOnlyLayer::new(), ReadOnlyLayer::silent()] {
        let s = ReadOnly::from_layer(seeded(), layer);
        s.close().await.unwrap();
        assert_eq!(
            s.put("a", object!({})).await.unwrap_err().kind(),
            ErrorKind::Closed
        );
        assert_eq!(s.get("a").await.unwrap_err().kind(), ErrorKind::Closed);
    }
}

#[tokio::test]
async fn validation_errors_come_first() {
    // The user API checks arguments before the wrapper sees the call, as with any store.
    let s = ReadOnly::new(seeded());
    assert_eq!(
        s.put("", object!({})).await.unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    assert_eq!(
        s.put("k", object!({})).ttl(-1).await.unwrap_err().kind(),
        ErrorKind::InvalidTtl
    );
}

#[tokio::test]
async fn over_a_shared_store_and_under_other_wrappers() {
    let shared: SharedStore = Arc::new(seeded());
    let s = shared
        .clone()
        .layer(ReadOnlyLayer::new())
        .layer(key_value_wrappers::prefix::PrefixCollectionsLayer::new("p"));
    assert_eq!(
        s.put("k", object!({}))
            .collection("c")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ReadOnly
    );
    assert_eq!(shared.collections().await.unwrap().len(), 2);
    assert_untouched(&shared).await;
}

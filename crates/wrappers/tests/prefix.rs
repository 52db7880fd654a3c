//! PrefixKeys and PrefixCollections: the conformance suite (alone and stacked over
//! SingleCollection over a SharedStore), the stored names, enumeration, scoped destroy, length
//! limits, and the same physical names as py-key-value's wrappers over a DiskStore.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use key_value_core::prelude::*;
use key_value_disk::DiskStore;
use key_value_filetree::FileTreeStore;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_testkit::python::run_python;
use key_value_wrappers::LayerExt;
use key_value_wrappers::prefix::{
    PrefixCollections, PrefixCollectionsLayer, PrefixKeys, PrefixKeysLayer,
};
use key_value_wrappers::single_collection::{SingleCollectionLayer, Split};
use serde_json::{Value, json};

mod keys_conformance {
    use super::*;

    async fn store(fx: Fixture) -> PrefixKeys<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(PrefixKeysLayer::new("app"))
    }

    key_value_testkit::conformance_suite!(store);
}

mod collections_conformance {
    use super::*;

    async fn store(fx: Fixture) -> PrefixCollections<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(PrefixCollectionsLayer::new("tenant"))
    }

    key_value_testkit::conformance_suite!(store);
}

/// Bounded inner store: the per-collection bound passes through both wrappers.
mod both_bounded_conformance {
    use super::*;

    async fn store(fx: Fixture) -> PrefixCollections<PrefixKeys<MemoryStore>> {
        MemoryStore::builder()
            .clock(fx.clock())
            .max_entries_per_collection(500)
            .build()
            .layer(PrefixKeysLayer::new("k"))
            .layer(PrefixCollectionsLayer::new("c"))
    }

    key_value_testkit::conformance_suite!(store);
}

/// PrefixCollections over SingleCollection over a SharedStore, the whole stack shared again.
mod stacked_over_shared_conformance {
    use super::*;

    async fn store(fx: Fixture) -> SharedStore {
        let shared: SharedStore = Arc::new(MemoryStore::builder().clock(fx.clock()).build());
        Arc::new(
            shared
                .layer(SingleCollectionLayer::new("single").split(Split::Last))
                .layer(PrefixCollectionsLayer::new("tenant")),
        )
    }

    key_value_testkit::conformance_suite!(store);
}

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

#[tokio::test]
async fn stored_names_are_py_key_values() {
    let inner = Arc::new(MemoryStore::new());
    let keys = inner.clone().layer(PrefixKeysLayer::new("app"));
    keys.put("user:1", object!({"v": 1}))
        .collection("users")
        .await
        .unwrap();
    keys.put("k", object!({"v": 2})).await.unwrap();
    assert_eq!(
        inner.get("app__user:1").collection("users").await.unwrap(),
        Some(object!({"v": 1}))
    );
    assert_eq!(
        inner
            .get("app__k")
            .collection("default_collection")
            .await
            .unwrap(),
        Some(object!({"v": 2}))
    );
    assert_eq!(keys.stored_key("x"), "app__x");

    let collections = inner.clone().layer(PrefixCollectionsLayer::new("tenant"));
    collections
        .put("k", object!({"v": 3}))
        .collection("users")
        .await
        .unwrap();
    collections.put("k", object!({"v": 4})).await.unwrap();
    assert_eq!(
        inner.get("k").collection("tenant__users").await.unwrap(),
        Some(object!({"v": 3}))
    );
    assert_eq!(
        inner
            .get("k")
            .collection("tenant__default_collection")
            .await
            .unwrap(),
        Some(object!({"v": 4})),
        "a call without collection uses the prefixed default_collection, as py does"
    );
    assert_eq!(collections.stored_collection("x"), "tenant__x");
}

#[tokio::test]
async fn default_collection_and_separator_are_configurable() {
    let inner = Arc::new(MemoryStore::new());
    let s = inner.clone().layer(
        PrefixCollectionsLayer::new("t")
            .default_collection("main")
            .separator("/"),
    );
    assert_eq!(s.info().default_collection(), "main");
    s.put("k", object!({})).await.unwrap();
    assert!(inner.get("k").collection("t/main").await.unwrap().is_some());
    let k = inner
        .clone()
        .layer(PrefixKeysLayer::new("p").separator(":"));
    k.put("k", object!({})).await.unwrap();
    assert!(inner.get("p:k").await.unwrap().is_some());
}

#[tokio::test]
async fn enumeration_strips_the_prefix_and_hides_other_names() {
    let inner = Arc::new(MemoryStore::new());
    // Foreign names: another prefix, no prefix, and a name that only starts like ours.
    for key in ["other__a", "plain", "app_x", "app__"] {
        inner.put(key, object!({})).collection("c").await.unwrap();
    }
    let keys = inner.clone().layer(PrefixKeysLayer::new("app"));
    for key in ["a", "b", "c"] {
        keys.put(key, object!({})).collection("c").await.unwrap();
    }
    assert_eq!(
        sorted(keys.keys().collection("c").await.unwrap()),
        vec!["a", "b", "c"]
    );
    // A limit smaller than what the inner store holds, with foreign names in the way.
    for limit in 0..=4 {
        let got = keys.keys().collection("c").limit(limit).await.unwrap();
        assert_eq!(got.len(), limit.min(3), "limit {limit}: {got:?}");
        assert!(got.iter().all(|k| ["a", "b", "c"].contains(&k.as_str())));
    }

    for collection in ["other__x", "plain", "tenant_y"] {
        inner
            .put("k", object!({}))
            .collection(collection)
            .await
            .unwrap();
    }
    let collections = inner.clone().layer(PrefixCollectionsLayer::new("tenant"));
    for collection in ["users", "orders"] {
        collections
            .put("k", object!({}))
            .collection(collection)
            .await
            .unwrap();
    }
    assert_eq!(
        sorted(collections.collections().await.unwrap()),
        vec!["orders", "users"]
    );
    for limit in 0..=3 {
        let got = collections.collections().limit(limit).await.unwrap();
        assert_eq!(got.len(), limit.min(2), "limit {limit}: {got:?}");
    }
    assert_eq!(
        collections.keys().collection("users").await.unwrap(),
        vec!["k"]
    );
}

#[tokio::test]
async fn destroy_removes_only_what_carries_the_prefix() {
    let inner = Arc::new(MemoryStore::new());
    let ours = inner.clone().layer(PrefixKeysLayer::new("ours"));
    let theirs = inner.clone().layer(PrefixKeysLayer::new("theirs"));
    for c in ["c1", "c2"] {
        ours.put("k", object!({"o": 1}))
            .collection(c)
            .await
            .unwrap();
        theirs
            .put("k", object!({"t": 1}))
            .collection(c)
            .await
            .unwrap();
    }
    assert!(ours.destroy_collection("c1").await.unwrap());
    assert!(!ours.destroy_collection("c1").await.unwrap());
    assert_eq!(ours.get("k").collection("c1").await.unwrap(), None);
    assert!(theirs.get("k").collection("c1").await.unwrap().is_some());
    assert!(ours.destroy().await.unwrap());
    assert_eq!(ours.get("k").collection("c2").await.unwrap(), None);
    assert!(theirs.get("k").collection("c1").await.unwrap().is_some());
    assert!(theirs.get("k").collection("c2").await.unwrap().is_some());
    assert!(!ours.destroy().await.unwrap(), "nothing left to destroy");

    let ours = inner.clone().layer(PrefixCollectionsLayer::new("ours"));
    let theirs = inner.clone().layer(PrefixCollectionsLayer::new("theirs"));
    for c in ["c1", "c2"] {
        ours.put("k", object!({})).collection(c).await.unwrap();
        theirs.put("k", object!({})).collection(c).await.unwrap();
    }
    assert!(ours.destroy().await.unwrap());
    assert_eq!(ours.get("k").collection("c1").await.unwrap(), None);
    assert_eq!(ours.get("k").collection("c2").await.unwrap(), None);
    assert_eq!(
        sorted(theirs.collections().await.unwrap()),
        vec!["c1", "c2"]
    );
    assert!(theirs.destroy_collection("c1").await.unwrap());
    assert_eq!(theirs.collections().await.unwrap(), vec!["c2"]);
}

#[tokio::test]
async fn batches_stay_one_batch() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let s = faulty
        .clone()
        .layer(PrefixKeysLayer::new("k"))
        .layer(PrefixCollectionsLayer::new("c"));
    let keys = ["a", "b", "c"];
    s.put_many(
        &keys,
        vec![object!({"i": 1}), object!({"i": 2}), object!({"i": 3})],
    )
    .await
    .unwrap();
    let got = s.get_many(&keys).await.unwrap();
    assert_eq!(got[2], Some(object!({"i": 3})));
    assert_eq!(s.delete_many(&keys).await.unwrap(), 3);
    assert_eq!(faulty.calls(), 3);
}

#[tokio::test]
async fn length_limits_shrink_by_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let tree = FileTreeStore::open(dir.path()).unwrap();
    let key_limit = tree.info().capabilities().max_key_length.unwrap();
    let collection_limit = tree.info().capabilities().max_collection_length.unwrap();
    let s = tree
        .layer(PrefixKeysLayer::new("app"))
        .layer(PrefixCollectionsLayer::new("tenant"));
    let caps = *s.info().capabilities();
    assert_eq!(caps.max_key_length, Some(key_limit - 5));
    assert_eq!(caps.max_collection_length, Some(collection_limit - 8));
    let longest_key = "k".repeat(key_limit - 5);
    s.put(&longest_key, object!({"v": 1}))
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        s.get(&longest_key).collection("c").await.unwrap(),
        Some(object!({"v": 1}))
    );
    let err = s
        .put(&"k".repeat(key_limit - 4), object!({}))
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    let err = s
        .put("k", object!({}))
        .collection(&"c".repeat(collection_limit - 7))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCollection);
}

/// A store with only the three required methods: no enumeration, no destroy.
struct Plain {
    inner: MemoryStore,
    info: StoreInfo,
}

impl KeyValue for Plain {
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    async fn get_entry(
        &self,
        c: &str,
        k: &str,
    ) -> key_value_core::Result<Option<key_value_core::ManagedEntry>> {
        self.inner.get_entry(c, k).await
    }
    async fn put_entry(
        &self,
        c: &str,
        k: &str,
        e: key_value_core::ManagedEntry,
    ) -> key_value_core::Result<()> {
        self.inner.put_entry(c, k, e).await
    }
    async fn delete_entry(&self, c: &str, k: &str) -> key_value_core::Result<bool> {
        self.inner.delete_entry(c, k).await
    }
}

fn plain() -> Plain {
    Plain {
        inner: MemoryStore::new(),
        info: StoreInfo::new("Plain", Stability::NotApplicable),
    }
}

#[tokio::test]
async fn unsupported_where_the_inner_store_cannot_list() {
    let keys = plain().layer(PrefixKeysLayer::new("p"));
    let caps = *keys.info().capabilities();
    assert!(!caps.destroy && !caps.destroy_collection && !caps.enumerate_keys);
    keys.put("k", object!({})).collection("c").await.unwrap();
    for kind in [
        keys.destroy().await.map(|_| ()).unwrap_err().kind(),
        keys.destroy_collection("c")
            .await
            .map(|_| ())
            .unwrap_err()
            .kind(),
        keys.keys()
            .collection("c")
            .await
            .map(|_| ())
            .unwrap_err()
            .kind(),
    ] {
        assert_eq!(kind, ErrorKind::Unsupported);
    }
    assert!(
        keys.get("k").collection("c").await.unwrap().is_some(),
        "nothing removed"
    );

    let collections = plain().layer(PrefixCollectionsLayer::new("p"));
    assert!(!collections.info().capabilities().destroy);
    assert_eq!(
        collections.destroy().await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        collections.collections().await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
}

// ---------------------------------------------------------------------------------------------
// py-key-value interop
// ---------------------------------------------------------------------------------------------

const PRELUDE: &str = r#"
import asyncio, json, sys
import diskcache
from key_value.aio.stores.disk import DiskStore
from key_value.aio.wrappers.prefix_keys import PrefixKeysWrapper
from key_value.aio.wrappers.prefix_collections import PrefixCollectionsWrapper
directory = sys.argv[1]
arg = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
def raw_keys(path):
    cache = diskcache.Cache(path)
    keys = sorted(list(cache))
    cache.close()
    return keys
"#;

fn py(test: &str, body: &str, args: &[&str]) -> Option<String> {
    let out = run_python(test, &format!("{PRELUDE}\n{body}"), args);
    if out.is_none() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{test}: NOT RUN: KV_PYTHON is not configured (export KV_PYTHON=\"$(scripts/python-venv)\")"
        );
    }
    out
}

/// `[collection or null, key, value]` triples both sides write.
fn samples() -> Vec<(Option<&'static str>, &'static str, Object)> {
    vec![
        (Some("users"), "user:1", object!({"name": "Alice"})),
        (
            Some("users"),
            "user:2",
            object!({"name": "Bob", "n": [1, 2]}),
        ),
        (Some("集合-🌍"), "鍵-🔑", object!({"text": "世界"})),
        (Some("odd__name"), "k__with__seps", object!({"v": true})),
        (None, "no-collection", object!({"v": null})),
    ]
}

fn samples_json() -> String {
    Value::Array(
        samples()
            .into_iter()
            .map(|(c, k, v)| json!([c, k, Value::Object(v)]))
            .collect(),
    )
    .to_string()
}

/// The physical diskcache keys both sides must produce, written out independently of the code.
fn expected_raw_keys() -> BTreeSet<String> {
    [
        "cp__users::kp__user:1",
        "cp__users::kp__user:2",
        "cp__集合-🌍::kp__鍵-🔑",
        "cp__odd__name::kp__k__with__seps",
        "cp__default_collection::kp__no-collection",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

const PY_WRITE: &str = r#"
async def main():
    disk = DiskStore(directory=directory)
    store = PrefixCollectionsWrapper(PrefixKeysWrapper(disk, prefix="kp"), prefix="cp")
    for collection, key, value in arg:
        await store.put(key, value, collection=collection)
    await disk.close()
asyncio.run(main())
print(json.dumps(raw_keys(directory)))
"#;

const PY_READ: &str = r#"
async def main():
    disk = DiskStore(directory=directory)
    store = PrefixCollectionsWrapper(PrefixKeysWrapper(disk, prefix="kp"), prefix="cp")
    out = []
    for collection, key, _ in arg:
        out.append(await store.get(key, collection=collection))
    await disk.close()
    return out
values = asyncio.run(main())
print(json.dumps({"values": values, "raw": raw_keys(directory)}))
"#;

fn rust_stack(dir: &std::path::Path) -> PrefixCollections<PrefixKeys<DiskStore>> {
    DiskStore::open(dir)
        .unwrap()
        .layer(PrefixKeysLayer::new("kp"))
        .layer(PrefixCollectionsLayer::new("cp"))
}

fn raw_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("a list of keys")
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_writes_rust_reads_the_same_physical_names() {
    let test = "prefix_python_writes_rust_reads";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let Some(out) = py(test, PY_WRITE, &[path, &samples_json()]) else {
        return;
    };
    let raw: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(raw_set(&raw), expected_raw_keys());

    let store = rust_stack(dir.path());
    for (collection, key, value) in samples() {
        let get = store.get(key);
        let got = match collection {
            Some(c) => get.collection(c).await.unwrap(),
            None => get.await.unwrap(),
        };
        assert_eq!(got, Some(value), "{collection:?}/{key}");
    }
    assert_eq!(
        sorted(store.keys().collection("users").await.unwrap()),
        vec!["user:1", "user:2"]
    );
    assert_eq!(
        sorted(store.collections().await.unwrap()),
        vec!["default_collection", "odd__name", "users", "集合-🌍"]
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_writes_python_reads_the_same_physical_names() {
    let test = "prefix_rust_writes_python_reads";
    if key_value_testkit::python::python(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = rust_stack(dir.path());
    for (collection, key, value) in samples() {
        let put = store.put(key, value);
        match collection {
            Some(c) => put.collection(c).await.unwrap(),
            None => put.await.unwrap(),
        }
    }
    store.close().await.unwrap();
    let path = dir.path().to_str().unwrap();
    let Some(out) = py(test, PY_READ, &[path, &samples_json()]) else {
        return;
    };
    let out: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(raw_set(&out["raw"]), expected_raw_keys());
    let expected: Vec<Value> = samples()
        .into_iter()
        .map(|(_, _, v)| Value::Object(v))
        .collect();
    assert_eq!(out["values"], Value::Array(expected));
}

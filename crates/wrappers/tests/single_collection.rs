//! SingleCollection: the conformance suite (unbounded, bounded, over a SharedStore), the stored
//! keys, enumeration, scoped destroy, key length, and the same physical keys as
//! py-key-value's `SingleCollectionWrapper` over a DiskStore.

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
use key_value_wrappers::prefix::PrefixCollectionsLayer;
use key_value_wrappers::single_collection::{SingleCollection, SingleCollectionLayer, Split};
use serde_json::{Value, json};

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> SingleCollection<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(SingleCollectionLayer::new("everything"))
    }

    key_value_testkit::conformance_suite!(store);
}

/// The inner collection's bound becomes the whole store's bound.
mod bounded_conformance {
    use super::*;

    async fn store(fx: Fixture) -> SingleCollection<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .max_entries_per_collection(500)
            .build()
            .layer(SingleCollectionLayer::new("everything"))
    }

    key_value_testkit::conformance_suite!(store);
}

mod shared_custom_separator_conformance {
    use super::*;

    async fn store(fx: Fixture) -> SingleCollection<SharedStore> {
        let shared: SharedStore = Arc::new(MemoryStore::builder().clock(fx.clock()).build());
        shared.layer(
            SingleCollectionLayer::new("everything")
                .separator("::")
                .default_collection("main"),
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
async fn keys_are_stored_as_collection_separator_key() {
    let inner = Arc::new(MemoryStore::new());
    let s = inner.clone().layer(SingleCollectionLayer::new("single"));
    assert_eq!(s.single_collection(), "single");
    s.put("user:1", object!({"v": 1}))
        .collection("users")
        .await
        .unwrap();
    s.put("k", object!({"v": 2})).await.unwrap();
    s.put_many(&["a", "b"], vec![object!({"a": 1}), object!({"b": 1})])
        .collection("batch")
        .await
        .unwrap();
    let mut stored = inner.keys().collection("single").await.unwrap();
    stored.sort();
    assert_eq!(
        stored,
        vec![
            "batch__a",
            "batch__b",
            "default_collection__k",
            "users__user:1"
        ]
    );
    assert_eq!(inner.collections().await.unwrap(), vec!["single"]);
    assert_eq!(s.stored_key("c", "k"), "c__k");
}

#[tokio::test]
async fn enumeration_maps_back_and_hides_foreign_keys() {
    let inner = Arc::new(MemoryStore::new());
    // Keys not written through the wrapper: no separator, and a separator with nothing after.
    for key in ["plain", "trailing__"] {
        inner
            .put(key, object!({}))
            .collection("single")
            .await
            .unwrap();
    }
    let s = inner.clone().layer(SingleCollectionLayer::new("single"));
    for (c, k) in [
        ("users", "u1"),
        ("users", "u2"),
        ("orders", "o1"),
        ("x", "k__y"),
    ] {
        s.put(k, object!({})).collection(c).await.unwrap();
    }
    assert_eq!(
        sorted(s.collections().await.unwrap()),
        vec!["orders", "users", "x"]
    );
    assert_eq!(s.collections().limit(2).await.unwrap().len(), 2);
    assert_eq!(
        sorted(s.keys().collection("users").await.unwrap()),
        vec!["u1", "u2"]
    );
    assert_eq!(s.keys().collection("x").await.unwrap(), vec!["k__y"]);
    assert_eq!(
        s.keys().collection("users").limit(1).await.unwrap().len(),
        1
    );
    assert!(s.keys().collection("none").await.unwrap().is_empty());
}

#[tokio::test]
async fn split_decides_how_ambiguous_names_are_enumerated() {
    let inner = Arc::new(MemoryStore::new());
    let first = inner.clone().layer(SingleCollectionLayer::new("s"));
    first
        .put("k__x", object!({"v": 1}))
        .collection("a")
        .await
        .unwrap();
    first
        .put("k", object!({"v": 2}))
        .collection("b__c")
        .await
        .unwrap();
    let mut stored = inner.keys().collection("s").await.unwrap();
    stored.sort();
    assert_eq!(stored, vec!["a__k__x", "b__c__k"]);
    // First separator: keys may hold it.
    assert_eq!(sorted(first.collections().await.unwrap()), vec!["a", "b"]);
    assert_eq!(first.keys().collection("a").await.unwrap(), vec!["k__x"]);
    assert_eq!(first.keys().collection("b").await.unwrap(), vec!["c__k"]);
    // Last separator: collection names may hold it.
    let last = inner
        .clone()
        .layer(SingleCollectionLayer::new("s").split(Split::Last));
    assert_eq!(
        sorted(last.collections().await.unwrap()),
        vec!["a__k", "b__c"]
    );
    assert_eq!(last.keys().collection("b__c").await.unwrap(), vec!["k"]);
    assert!(last.keys().collection("b").await.unwrap().is_empty());
    // Reads and writes do not depend on the split.
    assert_eq!(
        last.get("k").collection("b__c").await.unwrap(),
        Some(object!({"v": 2}))
    );
    assert_eq!(
        last.get("k__x").collection("a").await.unwrap(),
        Some(object!({"v": 1}))
    );
    // Nor does destroy_collection remove another collection's keys.
    assert!(last.destroy_collection("b__c").await.unwrap());
    assert!(!last.destroy_collection("b").await.unwrap());
    assert_eq!(
        first.get("k__x").collection("a").await.unwrap(),
        Some(object!({"v": 1}))
    );
}

#[tokio::test]
async fn prefix_collections_over_single_collection_over_a_shared_store() {
    let shared: SharedStore = Arc::new(MemoryStore::new());
    let single = SingleCollectionLayer::new("single").split(Split::Last);
    let tenant = shared
        .clone()
        .layer(single.clone())
        .layer(PrefixCollectionsLayer::new("tenant"));
    let other = shared
        .clone()
        .layer(single)
        .layer(PrefixCollectionsLayer::new("other"));
    tenant
        .put("u1", object!({"v": 1}))
        .collection("users")
        .await
        .unwrap();
    tenant
        .put("o1", object!({"v": 2}))
        .collection("orders")
        .await
        .unwrap();
    other
        .put("u1", object!({"v": 3}))
        .collection("users")
        .await
        .unwrap();
    let mut stored = shared.keys().collection("single").await.unwrap();
    stored.sort();
    assert_eq!(
        stored,
        vec![
            "other__users__u1",
            "tenant__orders__o1",
            "tenant__users__u1"
        ]
    );
    assert_eq!(
        sorted(tenant.collections().await.unwrap()),
        vec!["orders", "users"]
    );
    assert_eq!(tenant.keys().collection("users").await.unwrap(), vec!["u1"]);
    assert!(tenant.destroy().await.unwrap());
    assert!(tenant.collections().await.unwrap().is_empty());
    assert_eq!(
        other.get("u1").collection("users").await.unwrap(),
        Some(object!({"v": 3}))
    );
}

#[tokio::test]
async fn destroy_collection_removes_one_collection_in_one_batch() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let s = faulty.clone().layer(SingleCollectionLayer::new("single"));
    s.put_many(
        &["a", "b", "c"],
        vec![object!({}), object!({}), object!({})],
    )
    .collection("one")
    .await
    .unwrap();
    s.put("a", object!({"keep": true}))
        .collection("two")
        .await
        .unwrap();
    let before = faulty.calls();
    assert!(s.destroy_collection("one").await.unwrap());
    assert_eq!(faulty.calls() - before, 2, "one listing, one delete_many");
    assert_eq!(
        s.get_many(&["a", "b", "c"])
            .collection("one")
            .await
            .unwrap(),
        vec![None, None, None]
    );
    assert_eq!(
        s.get("a").collection("two").await.unwrap(),
        Some(object!({"keep": true}))
    );
    assert!(!s.destroy_collection("one").await.unwrap());
    assert!(s.destroy().await.unwrap());
    assert!(s.collections().await.unwrap().is_empty());
}

#[tokio::test]
async fn batches_stay_one_batch() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let s = faulty.clone().layer(SingleCollectionLayer::new("single"));
    let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    let values: Vec<Object> = (0..50).map(|i| object!({"i": i})).collect();
    s.put_many(&keys, values.clone())
        .collection("c")
        .await
        .unwrap();
    let got = s.get_many(&keys).collection("c").await.unwrap();
    assert_eq!(got, values.into_iter().map(Some).collect::<Vec<_>>());
    assert_eq!(s.delete_many(&keys).collection("c").await.unwrap(), 50);
    assert_eq!(faulty.calls(), 3);
}

#[tokio::test]
async fn the_combined_key_must_fit_the_inner_limit() {
    let dir = tempfile::tempdir().unwrap();
    let tree = FileTreeStore::open(dir.path()).unwrap();
    let limit = tree.info().capabilities().max_key_length.unwrap();
    let s = tree.layer(SingleCollectionLayer::new("single"));
    assert_eq!(
        s.info().capabilities().max_collection_length,
        Some(limit - 3)
    );
    // "c" + "__" + key: exactly the limit works, one more is an InvalidKey error.
    let fits = "k".repeat(limit - 3);
    s.put(&fits, object!({"v": 1}))
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        s.get(&fits).collection("c").await.unwrap(),
        Some(object!({"v": 1}))
    );
    let too_long = "k".repeat(limit - 2);
    let err = s
        .put(&too_long, object!({}))
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    let err = s
        .get_many(&["ok", too_long.as_str()])
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
}

// ---------------------------------------------------------------------------------------------
// py-key-value interop
// ---------------------------------------------------------------------------------------------

const PRELUDE: &str = r#"
import asyncio, json, sys
import diskcache
from key_value.aio.stores.disk import DiskStore
from key_value.aio.wrappers.single_collection import SingleCollectionWrapper
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

fn samples() -> Vec<(Option<&'static str>, &'static str, Object)> {
    vec![
        (Some("users"), "user:1", object!({"name": "Alice"})),
        (Some("users"), "user:2", object!({"name": "Bob"})),
        (Some("集合-🌍"), "鍵-🔑", object!({"text": "世界"})),
        (Some("c"), "k__with__seps", object!({"v": [1, 2.5]})),
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

/// The physical diskcache keys (`collection::key` of the backing store), written out by hand.
fn expected_raw_keys() -> BTreeSet<String> {
    [
        "single::users__user:1",
        "single::users__user:2",
        "single::集合-🌍__鍵-🔑",
        "single::c__k__with__seps",
        "single::default_collection__no-collection",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

const PY_WRITE: &str = r#"
async def main():
    disk = DiskStore(directory=directory)
    store = SingleCollectionWrapper(disk, single_collection="single")
    for collection, key, value in arg:
        await store.put(key, value, collection=collection, ttl=600)
    await disk.close()
asyncio.run(main())
print(json.dumps(raw_keys(directory)))
"#;

const PY_READ: &str = r#"
async def main():
    disk = DiskStore(directory=directory)
    store = SingleCollectionWrapper(disk, single_collection="single")
    out = []
    for collection, key, _ in arg:
        out.append(await store.ttl(key, collection=collection))
    await disk.close()
    return out
values = asyncio.run(main())
print(json.dumps({"values": values, "raw": raw_keys(directory)}))
"#;

fn raw_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("a list of keys")
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_writes_rust_reads_the_same_physical_keys() {
    let test = "single_collection_python_writes_rust_reads";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let Some(out) = py(test, PY_WRITE, &[path, &samples_json()]) else {
        return;
    };
    let raw: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(raw_set(&raw), expected_raw_keys());

    let store = DiskStore::open(dir.path())
        .unwrap()
        .layer(SingleCollectionLayer::new("single"));
    for (collection, key, value) in samples() {
        let ttl = store.ttl(key);
        let got = match collection {
            Some(c) => ttl.collection(c).await.unwrap(),
            None => ttl.await.unwrap(),
        };
        let (got, left) = got.unwrap_or_else(|| panic!("{collection:?}/{key} missing"));
        assert_eq!(got, value);
        let left = left.expect("a TTL").as_secs_f64();
        assert!(left > 500.0 && left <= 600.0, "{left}");
    }
    assert_eq!(
        sorted(store.collections().await.unwrap()),
        vec!["c", "default_collection", "users", "集合-🌍"]
    );
    assert_eq!(
        store.keys().collection("c").await.unwrap(),
        vec!["k__with__seps"]
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_writes_python_reads_the_same_physical_keys() {
    let test = "single_collection_rust_writes_python_reads";
    if key_value_testkit::python::python(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path())
        .unwrap()
        .layer(SingleCollectionLayer::new("single"));
    for (collection, key, value) in samples() {
        let put = store.put(key, value).ttl(600);
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
    let rows = out["values"].as_array().unwrap();
    for ((_, key, value), row) in samples().into_iter().zip(rows) {
        assert_eq!(row[0], Value::Object(value), "{key}");
        let left = row[1].as_f64().expect("a TTL");
        assert!(left > 500.0 && left <= 600.0, "{key}: {left}");
    }
}

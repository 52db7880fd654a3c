//! The contract tests. Each takes a [`StoreFactory`] and panics when the store breaks the
//! contract.
//!
//! The first group ports py-key-value's `BaseStoreTests` one by one (named as there, see
//! `docs/conformance.md`); the rest adds what a demanding user expects. Where a store cannot do
//! something by its nature, the test checks what its declared capabilities promise instead.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::prelude::*;
use key_value_core::{Capabilities, Timestamp};
use serde_json::Value;

use crate::cases::{large_cases, simple_cases};
use crate::{Fixture, StoreFactory};

async fn store<F: StoreFactory>(factory: &F, test: &str) -> (F::Store, Fixture) {
    let fx = Fixture::manual(test);
    (factory.create(fx.clone()).await, fx)
}

fn caps<S: KeyValue>(store: &S) -> Capabilities {
    *store.info().capabilities()
}

/// What a read should return after a write of `value`: the value, or nothing for a store that
/// declares it discards writes.
fn kept<S: KeyValue, T>(store: &S, value: T) -> Option<T> {
    if caps(store).discards_writes {
        None
    } else {
        Some(value)
    }
}

fn kept_count<S: KeyValue>(store: &S, n: usize) -> usize {
    if caps(store).discards_writes { 0 } else { n }
}

/// The number of entries a store's bound lets one collection hold, if bounded.
fn bound<S: KeyValue>(store: &S) -> Option<usize> {
    let c = caps(store);
    match (c.max_entries_per_collection, c.max_entries) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn secs(d: Option<Duration>) -> f64 {
    d.map(|d| d.as_secs_f64()).unwrap_or(f64::NAN)
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}_{i}")).collect()
}

/// `test_store`: the store declares a name and a usable default collection.
pub async fn store_declares_itself<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "store_declares_itself").await;
    let info = s.info();
    assert!(!info.name().is_empty());
    assert!(!info.default_collection().is_empty());
    assert_eq!(info.resolve_collection(None), info.default_collection());
}

/// `test_empty_get`: reading from an empty store finds nothing.
pub async fn empty_get<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "empty_get").await;
    assert_eq!(s.get("test").await.unwrap(), None);
    assert_eq!(s.get("test").collection("test").await.unwrap(), None);
}

/// `test_empty_put`: writing into a new store works.
pub async fn empty_put<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "empty_put").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
}

/// `test_empty_ttl`: `ttl()` on an empty store finds nothing.
pub async fn empty_ttl<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "empty_ttl").await;
    assert_eq!(s.ttl("test").collection("test").await.unwrap(), None);
}

/// `test_put_serialization_errors` / `test_negative_models_put_get`: in Rust a non-JSON value
/// cannot be built, so the contract left is that a JSON value which is not an object is a
/// `Serialization` error and writes nothing.
pub async fn put_non_object_is_serialization_error<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_non_object").await;
    for bad in [
        Value::Null,
        Value::from(1),
        Value::from("text"),
        Value::from(vec![1, 2]),
    ] {
        let err = s.put("k", bad).collection("test").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization);
    }
    assert_eq!(s.get("k").collection("test").await.unwrap(), None);
}

/// `test_get_put_get`.
pub async fn get_put_get<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "get_put_get").await;
    assert_eq!(s.get("test").collection("test").await.unwrap(), None);
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.get("test").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test"}))
    );
}

/// `test_models_put_get[...]`: every JSON type round-trips unchanged.
pub async fn models_put_get<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "models_put_get").await;
    for (name, value) in simple_cases() {
        s.put(name, value.clone()).collection("test").await.unwrap();
        assert_eq!(
            s.get(name).collection("test").await.unwrap(),
            kept(&s, value),
            "case {name}"
        );
    }
}

/// `test_get_large_put_get[...]`.
pub async fn large_values_put_get<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "large_values_put_get").await;
    for (name, value) in large_cases() {
        s.put(name, value.clone()).collection("test").await.unwrap();
        assert_eq!(
            s.get(name).collection("test").await.unwrap(),
            kept(&s, value),
            "case {name}"
        );
    }
}

/// `test_put_many_get`.
pub async fn put_many_get<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_many_get").await;
    s.put_many(
        &["test", "test_2"],
        vec![object!({"test": "test"}), object!({"test": "test_2"})],
    )
    .collection("test")
    .await
    .unwrap();
    assert_eq!(
        s.get("test").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test"}))
    );
    assert_eq!(
        s.get("test_2").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test_2"}))
    );
}

/// `test_put_many_get_many`.
pub async fn put_many_get_many<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_many_get_many").await;
    s.put_many(
        &["test", "test_2"],
        vec![object!({"test": "test"}), object!({"test": "test_2"})],
    )
    .collection("test")
    .await
    .unwrap();
    assert_eq!(
        s.get_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        vec![
            kept(&s, object!({"test": "test"})),
            kept(&s, object!({"test": "test_2"}))
        ]
    );
}

/// `test_put_many_tuple_get_many`: keys given as an owned array of `String`s.
pub async fn put_many_array_get_many<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_many_array_get_many").await;
    let keys = [String::from("test"), String::from("test_2")];
    s.put_many(
        &keys,
        vec![object!({"test": "test"}), object!({"test": "test_2"})],
    )
    .collection("test")
    .await
    .unwrap();
    assert_eq!(
        s.get_many(&keys).collection("test").await.unwrap(),
        vec![
            kept(&s, object!({"test": "test"})),
            kept(&s, object!({"test": "test_2"}))
        ]
    );
}

/// `test_put_put_get_many`.
pub async fn put_put_get_many<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_put_get_many").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    s.put("test_2", object!({"test": "test_2"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.get_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        vec![
            kept(&s, object!({"test": "test"})),
            kept(&s, object!({"test": "test_2"}))
        ]
    );
}

/// `test_put_put_get_many_missing_one`: order kept, `None` for the missing key.
pub async fn put_put_get_many_missing_one<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_put_get_many_missing_one").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    s.put("test_2", object!({"test": "test_2"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.get_many(&["test", "test_2", "test_3"])
            .collection("test")
            .await
            .unwrap(),
        vec![
            kept(&s, object!({"test": "test"})),
            kept(&s, object!({"test": "test_2"})),
            None
        ]
    );
}

/// `test_put_get_delete_get`.
pub async fn put_get_delete_get<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_get_delete_get").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.get("test").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test"}))
    );
    assert_eq!(
        s.delete("test").collection("test").await.unwrap(),
        kept(&s, true).is_some()
    );
    assert_eq!(s.get("test").collection("test").await.unwrap(), None);
}

/// `test_get_put_get_delete_get`.
pub async fn get_put_get_delete_get<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "get_put_get_delete_get").await;
    assert_eq!(s.get("test").collection("test").await.unwrap(), None);
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.get("test").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test"}))
    );
    assert_eq!(
        s.delete("test").collection("test").await.unwrap(),
        kept(&s, true).is_some()
    );
    assert_eq!(s.get("test").collection("test").await.unwrap(), None);
}

/// `test_put_many_get_get_delete_many_get_many`.
pub async fn put_many_get_get_delete_many_get_many<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_many_get_get_delete_many_get_many").await;
    s.put_many(
        &["test", "test_2"],
        vec![object!({"test": "test"}), object!({"test": "test_2"})],
    )
    .collection("test")
    .await
    .unwrap();
    assert_eq!(
        s.get("test").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test"}))
    );
    assert_eq!(
        s.get("test_2").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test_2"}))
    );
    assert_eq!(
        s.delete_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        kept_count(&s, 2)
    );
    assert_eq!(
        s.get_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        vec![None, None]
    );
}

/// `test_put_many_get_many_delete_many_get_many`.
pub async fn put_many_get_many_delete_many_get_many<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_many_get_many_delete_many_get_many").await;
    s.put_many(
        &["test", "test_2"],
        vec![object!({"test": "test"}), object!({"test": "test_2"})],
    )
    .collection("test")
    .await
    .unwrap();
    assert_eq!(
        s.get_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        vec![
            kept(&s, object!({"test": "test"})),
            kept(&s, object!({"test": "test_2"}))
        ]
    );
    assert_eq!(
        s.delete_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        kept_count(&s, 2)
    );
    assert_eq!(
        s.get_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        vec![None, None]
    );
}

/// `test_delete`: deleting a missing key returns `false`.
pub async fn delete_missing<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "delete_missing").await;
    assert!(!s.delete("test").collection("test").await.unwrap());
}

/// `test_put_delete_delete`: the second delete returns `false`.
pub async fn put_delete_delete<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_delete_delete").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.delete("test").collection("test").await.unwrap(),
        kept(&s, true).is_some()
    );
    assert!(!s.delete("test").collection("test").await.unwrap());
}

/// `test_delete_many`: deleting missing keys counts 0.
pub async fn delete_many_missing<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "delete_many_missing").await;
    assert_eq!(
        s.delete_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        0
    );
}

/// `test_put_delete_many`: counts only what existed.
pub async fn put_delete_many<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_delete_many").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.delete_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        kept_count(&s, 1)
    );
}

/// `test_delete_many_delete_many`: 1, then 0.
pub async fn delete_many_delete_many<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "delete_many_delete_many").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.delete_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        kept_count(&s, 1)
    );
    assert_eq!(
        s.delete_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        0
    );
}

/// `test_get_put_get_put_delete_get`: an overwrite replaces the value.
pub async fn get_put_get_put_delete_get<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "get_put_get_put_delete_get").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.get("test").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test"}))
    );
    s.put("test", object!({"test": "test_2"}))
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.get("test").collection("test").await.unwrap(),
        kept(&s, object!({"test": "test_2"}))
    );
    assert_eq!(
        s.delete("test").collection("test").await.unwrap(),
        kept(&s, true).is_some()
    );
    assert_eq!(s.get("test").collection("test").await.unwrap(), None);
}

/// `test_put_many_delete_delete_get_many`.
pub async fn put_many_delete_delete_get_many<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_many_delete_delete_get_many").await;
    s.put_many(
        &["test", "test_2"],
        vec![object!({"test": "test"}), object!({"test": "test_2"})],
    )
    .collection("test")
    .await
    .unwrap();
    let present = kept(&s, true).is_some();
    assert_eq!(s.delete("test").collection("test").await.unwrap(), present);
    assert_eq!(
        s.delete("test_2").collection("test").await.unwrap(),
        present
    );
    assert_eq!(
        s.get_many(&["test", "test_2"])
            .collection("test")
            .await
            .unwrap(),
        vec![None, None]
    );
}

/// `test_put_ttl_get_ttl`: the value with its remaining TTL (100 s, nothing elapsed).
pub async fn put_ttl_get_ttl<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_ttl_get_ttl").await;
    s.put("test", object!({"test": "test"}))
        .collection("test")
        .ttl(100)
        .await
        .unwrap();
    let got = s.ttl("test").collection("test").await.unwrap();
    match kept(&s, ()) {
        None => assert_eq!(got, None),
        Some(()) => {
            let (value, ttl) = got.expect("the entry was just written");
            assert_eq!(value, object!({"test": "test"}));
            let ttl = secs(ttl);
            assert!((98.0..=100.0).contains(&ttl), "ttl {ttl}");
        }
    }
}

/// `test_negative_ttl`, extended: zero, negative, NaN and infinite TTLs are `InvalidTtl`
/// errors and write nothing.
pub async fn invalid_ttl_rejected<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "invalid_ttl_rejected").await;
    for ttl in [
        -100.0,
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        let err = s
            .put("test", object!({"test": "test"}))
            .collection("test")
            .ttl(ttl)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTtl, "ttl {ttl}");
        let err = s
            .put_many(&["test"], vec![object!({"test": "test"})])
            .collection("test")
            .ttl(ttl)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTtl, "ttl {ttl}");
    }
    assert_eq!(s.get("test").collection("test").await.unwrap(), None);
}

/// `test_put_expired_get_none`: an entry is there until its TTL passes, then gone from every
/// read (time moved with the injected clock).
pub async fn put_expired_get_none<F: StoreFactory>(factory: F) {
    let (s, fx) = store(&factory, "put_expired_get_none").await;
    s.put("test_key", object!({"test": "test"}))
        .collection("test_collection")
        .ttl(2)
        .await
        .unwrap();
    assert_eq!(
        s.get("test_key")
            .collection("test_collection")
            .await
            .unwrap(),
        kept(&s, object!({"test": "test"}))
    );
    fx.advance(Duration::from_millis(2001)).await;
    assert_eq!(
        s.get("test_key")
            .collection("test_collection")
            .await
            .unwrap(),
        None
    );
}

/// `test_long_collection_name`: `"test_collection" * 100` works, unless the store declares a
/// shorter limit, in which case it is an `InvalidCollection` error.
pub async fn long_collection_name<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "long_collection_name").await;
    let collection = "test_collection".repeat(100);
    let result = s
        .put("test_key", object!({"test": "test"}))
        .collection(&collection)
        .await;
    match caps(&s).max_collection_length {
        Some(max) if max < collection.chars().count() => {
            assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidCollection);
        }
        _ => {
            result.unwrap();
            assert_eq!(
                s.get("test_key").collection(&collection).await.unwrap(),
                kept(&s, object!({"test": "test"}))
            );
        }
    }
}

/// `test_long_key_name`: `"test_key" * 100` works, unless the store declares a shorter limit,
/// in which case it is an `InvalidKey` error.
pub async fn long_key_name<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "long_key_name").await;
    let key = "test_key".repeat(100);
    let result = s
        .put(&key, object!({"test": "test"}))
        .collection("test_collection")
        .await;
    match caps(&s).max_key_length {
        Some(max) if max < key.chars().count() => {
            assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidKey);
        }
        _ => {
            result.unwrap();
            assert_eq!(
                s.get(&key).collection("test_collection").await.unwrap(),
                kept(&s, object!({"test": "test"}))
            );
        }
    }
}

/// `test_special_characters_in_collection_name`. A store that declares
/// `restricted_collection_names` may refuse the name, but only with an `InvalidCollection`
/// error, never a backend error.
pub async fn special_characters_in_collection_name<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "special_characters_in_collection_name").await;
    let collection = "test_collection!@#$%^&*()";
    let result = s
        .put("test_key", object!({"test": "test"}))
        .collection(collection)
        .await;
    if caps(&s).restricted_collection_names {
        if let Err(e) = result {
            assert_eq!(e.kind(), ErrorKind::InvalidCollection, "{e}");
            let read = s.get("test_key").collection(collection).await;
            assert_eq!(
                read.map_err(|e| e.kind()),
                Err(ErrorKind::InvalidCollection)
            );
            return;
        }
    } else {
        result.unwrap();
    }
    assert_eq!(
        s.get("test_key").collection(collection).await.unwrap(),
        kept(&s, object!({"test": "test"}))
    );
}

/// `test_special_characters_in_key_name`.
pub async fn special_characters_in_key_name<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "special_characters_in_key_name").await;
    let key = "test_key!@#$%^&*()";
    s.put(key, object!({"test": "test"}))
        .collection("test_collection")
        .await
        .unwrap();
    assert_eq!(
        s.get(key).collection("test_collection").await.unwrap(),
        kept(&s, object!({"test": "test"}))
    );
}

/// `test_not_unbounded`: a bounded store evicts its oldest entries beyond its declared bound
/// and keeps the newest; an unbounded one keeps all 1000 entries.
pub async fn not_unbounded<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "not_unbounded").await;
    let n = bound(&s).map_or(1000, |b| b + 10);
    for i in 0..n {
        s.put(&format!("test_key_{i}"), object!({"test": "test"}))
            .collection("test_collection")
            .await
            .unwrap();
    }
    let first = s
        .get("test_key_0")
        .collection("test_collection")
        .await
        .unwrap();
    let last = s
        .get(&format!("test_key_{}", n - 1))
        .collection("test_collection")
        .await
        .unwrap();
    assert_eq!(last, kept(&s, object!({"test": "test"})));
    match bound(&s) {
        Some(b) => {
            assert_eq!(first, None, "the oldest entry outlived the bound {b}");
            let all = keys("test_key", n);
            let found = s
                .get_many(&all)
                .collection("test_collection")
                .await
                .unwrap();
            let present = found.iter().filter(|v| v.is_some()).count();
            assert!(present <= b, "{present} entries kept, bound is {b}");
        }
        None => assert_eq!(first, kept(&s, object!({"test": "test"}))),
    }
}

/// `test_concurrent_operations`, extended: 16 tasks, each doing get/put/put/delete on its own
/// keys and put/get on shared ones, on one store; every task sees its own writes.
pub async fn concurrent_operations<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "concurrent_operations").await;
    let s = Arc::new(s);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let s = s.clone();
        tasks.spawn(async move {
            for i in 0..5 {
                let key = format!("w{worker}_k{i}");
                assert_eq!(s.get(&key).collection("test").await.unwrap(), None);
                s.put(&key, object!({"w": worker, "i": i}))
                    .collection("test")
                    .await
                    .unwrap();
                assert_eq!(
                    s.get(&key).collection("test").await.unwrap(),
                    kept(&*s, object!({"w": worker, "i": i}))
                );
                s.put(&key, object!({"w": worker, "i": i, "again": true}))
                    .collection("test")
                    .await
                    .unwrap();
                assert_eq!(
                    s.get(&key).collection("test").await.unwrap(),
                    kept(&*s, object!({"w": worker, "i": i, "again": true}))
                );
                assert_eq!(
                    s.delete(&key).collection("test").await.unwrap(),
                    kept(&*s, true).is_some()
                );
                assert_eq!(s.get(&key).collection("test").await.unwrap(), None);
                let shared = format!("shared_{i}");
                s.put(&shared, object!({"w": worker}))
                    .collection("test")
                    .await
                    .unwrap();
                let got = s.get(&shared).collection("test").await.unwrap();
                if kept(&*s, ()).is_some() {
                    // Another task may have overwritten it, but it must be one task's write.
                    let w = got.expect("shared key present")["w"].as_i64().unwrap_or(-1);
                    assert!((0..16).contains(&w), "w = {w}");
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a worker panicked");
    }
}

/// `test_minimum_put_many_get_many_performance`: a batch of 10 round-trips in order.
pub async fn minimum_put_many_get_many_performance<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "minimum_put_many_get_many_performance").await;
    let ks = keys("test", 10);
    let values: Vec<Object> = (0..10).map(|i| object!({"test": i})).collect();
    s.put_many(&ks, values.clone())
        .collection("test")
        .await
        .unwrap();
    let got = s.get_many(&ks).collection("test").await.unwrap();
    let expected: Vec<Option<Object>> = values.into_iter().map(|v| kept(&s, v)).collect();
    assert_eq!(got, expected);
}

/// `test_minimum_put_many_delete_many_performance`: a batch of 10 deletes counts 10.
pub async fn minimum_put_many_delete_many_performance<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "minimum_put_many_delete_many_performance").await;
    let ks = keys("test", 10);
    let values: Vec<Object> = (0..10).map(|i| object!({"test": i})).collect();
    s.put_many(&ks, values).collection("test").await.unwrap();
    assert_eq!(
        s.delete_many(&ks).collection("test").await.unwrap(),
        kept_count(&s, 10)
    );
}

/// The same key in two collections holds two values; deleting one leaves the other.
pub async fn collection_isolation<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "collection_isolation").await;
    s.put("k", object!({"c": 1}))
        .collection("c1")
        .await
        .unwrap();
    s.put("k", object!({"c": 2}))
        .collection("c2")
        .await
        .unwrap();
    assert_eq!(
        s.get("k").collection("c1").await.unwrap(),
        kept(&s, object!({"c": 1}))
    );
    assert_eq!(
        s.get("k").collection("c2").await.unwrap(),
        kept(&s, object!({"c": 2}))
    );
    assert_eq!(s.get("k").await.unwrap(), None);
    assert_eq!(
        s.delete("k").collection("c1").await.unwrap(),
        kept(&s, true).is_some()
    );
    assert_eq!(
        s.get("k").collection("c2").await.unwrap(),
        kept(&s, object!({"c": 2}))
    );
}

/// A call without a collection uses the store's declared default collection.
pub async fn default_collection_is_used_when_none_given<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "default_collection").await;
    let default = s.info().default_collection().to_string();
    s.put("k", object!({"v": 1})).await.unwrap();
    assert_eq!(
        s.get("k").collection(&default).await.unwrap(),
        kept(&s, object!({"v": 1}))
    );
    s.put("k2", object!({"v": 2}))
        .collection(&default)
        .await
        .unwrap();
    assert_eq!(s.get("k2").await.unwrap(), kept(&s, object!({"v": 2})));
    assert_eq!(
        s.get("k").collection("").await.unwrap(),
        kept(&s, object!({"v": 1})),
        "an empty collection name means the default, as in py-key-value"
    );
}

/// An overwrite replaces the TTL too: without a TTL the entry no longer expires, and with one
/// it expires on the new schedule.
pub async fn overwrite_replaces_ttl<F: StoreFactory>(factory: F) {
    let (s, fx) = store(&factory, "overwrite_replaces_ttl").await;
    s.put("a", object!({"v": 1}))
        .collection("test")
        .ttl(10)
        .await
        .unwrap();
    s.put("a", object!({"v": 2}))
        .collection("test")
        .await
        .unwrap();
    s.put("b", object!({"v": 1}))
        .collection("test")
        .await
        .unwrap();
    s.put("b", object!({"v": 2}))
        .collection("test")
        .ttl(10)
        .await
        .unwrap();
    if kept(&s, ()).is_some() {
        let (_, ttl_a) = s.ttl("a").collection("test").await.unwrap().expect("a");
        assert_eq!(ttl_a, None);
        let (_, ttl_b) = s.ttl("b").collection("test").await.unwrap().expect("b");
        assert!((9.0..=10.0).contains(&secs(ttl_b)));
    }
    fx.advance(Duration::from_secs(11)).await;
    assert_eq!(
        s.get("a").collection("test").await.unwrap(),
        kept(&s, object!({"v": 2}))
    );
    assert_eq!(s.get("b").collection("test").await.unwrap(), None);
}

/// Non-ASCII keys, collections, field names and values round-trip.
pub async fn unicode_keys_and_values<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "unicode_keys_and_values").await;
    let value = object!({
        "text": "Hello 世界 🌍 émojis",
        "ключ-🔑": "значение",
        "combining": "e\u{301}",
        "rtl": "שלום"
    });
    s.put("鍵-🔑-ключ", value.clone())
        .collection("集合-🌍")
        .await
        .unwrap();
    assert_eq!(
        s.get("鍵-🔑-ключ").collection("集合-🌍").await.unwrap(),
        kept(&s, value)
    );
    assert_eq!(s.get("鍵-🔑-ключ").await.unwrap(), None);
}

/// An empty object is a value, not a miss.
pub async fn empty_object_value<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "empty_object_value").await;
    s.put("empty", Object::new())
        .collection("test")
        .await
        .unwrap();
    assert_eq!(
        s.get("empty").collection("test").await.unwrap(),
        kept(&s, Object::new())
    );
}

/// A 1 MiB value round-trips, or is a `ValueTooLarge` error where the store declares a
/// smaller limit (and then nothing is written).
pub async fn one_mib_value<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "one_mib_value").await;
    let value = object!({"data": "x".repeat(1 << 20)});
    let result = s.put("big", value.clone()).collection("test").await;
    match caps(&s).max_value_size {
        Some(max) if max < (1 << 20) + 16 => {
            assert_eq!(result.unwrap_err().kind(), ErrorKind::ValueTooLarge);
            assert_eq!(s.get("big").collection("test").await.unwrap(), None);
        }
        _ => {
            result.unwrap();
            assert_eq!(
                s.get("big").collection("test").await.unwrap(),
                kept(&s, value)
            );
        }
    }
}

/// A batch of 1000 (or the store's bound, if smaller) written, read and deleted in one call each.
pub async fn batch_of_1000<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "batch_of_1000").await;
    let n = bound(&s).map_or(1000, |b| b.min(1000));
    let ks = keys("batch", n);
    let values: Vec<Object> = (0..n).map(|i| object!({"i": i})).collect();
    s.put_many(&ks, values.clone())
        .collection("test")
        .ttl(3600)
        .await
        .unwrap();
    let got = s.get_many(&ks).collection("test").await.unwrap();
    assert_eq!(got.len(), n);
    let expected: Vec<Option<Object>> = values.into_iter().map(|v| kept(&s, v)).collect();
    assert_eq!(got, expected);
    assert_eq!(
        s.delete_many(&ks).collection("test").await.unwrap(),
        kept_count(&s, n)
    );
}

/// The remaining TTL counts down with the (injected) clock, and at expiry every read path
/// (`get`, `ttl`, `get_many`, `ttl_many`) stops returning the entry.
pub async fn expiry_follows_the_clock<F: StoreFactory>(factory: F) {
    let (s, fx) = store(&factory, "expiry_follows_the_clock").await;
    s.put("k", object!({"v": 1}))
        .collection("test")
        .ttl(10)
        .await
        .unwrap();
    s.put("forever", object!({"v": 2}))
        .collection("test")
        .await
        .unwrap();
    fx.advance(Duration::from_secs(4)).await;
    if kept(&s, ()).is_some() {
        let (_, ttl) = s.ttl("k").collection("test").await.unwrap().expect("live");
        let left = secs(ttl);
        assert!((5.0..=6.0).contains(&left), "{left} s left after 4 of 10");
    }
    fx.advance(Duration::from_secs(7)).await;
    assert_eq!(s.get("k").collection("test").await.unwrap(), None);
    assert_eq!(s.ttl("k").collection("test").await.unwrap(), None);
    let many = s
        .get_many(&["k", "forever"])
        .collection("test")
        .await
        .unwrap();
    assert_eq!(many, vec![None, kept(&s, object!({"v": 2}))]);
    let many = s
        .ttl_many(&["k", "forever"])
        .collection("test")
        .await
        .unwrap();
    assert_eq!(many, vec![None, kept(&s, (object!({"v": 2}), None))]);
}

/// Expiry with real time passing (the system clock): a 1 s entry is gone within 3 s.
pub async fn expiry_in_real_time<F: StoreFactory>(factory: F) {
    let fx = Fixture::system("expiry_in_real_time");
    let s = factory.create(fx).await;
    s.put("k", object!({"v": 1}))
        .collection("test")
        .ttl(1)
        .await
        .unwrap();
    assert_eq!(
        s.get("k").collection("test").await.unwrap(),
        kept(&s, object!({"v": 1}))
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        if s.get("k").collection("test").await.unwrap().is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a 1 s entry was still there after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `ttl_many` keeps order and length: values with their TTL, without, and misses.
pub async fn ttl_many_mixed<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "ttl_many_mixed").await;
    s.put("with", object!({"v": 1}))
        .collection("test")
        .ttl(100)
        .await
        .unwrap();
    s.put("without", object!({"v": 2}))
        .collection("test")
        .await
        .unwrap();
    let got = s
        .ttl_many(&["with", "missing", "without"])
        .collection("test")
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1], None);
    if kept(&s, ()).is_some() {
        let (v, ttl) = got[0].clone().expect("with");
        assert_eq!(v, object!({"v": 1}));
        assert!((98.0..=100.0).contains(&secs(ttl)));
        assert_eq!(got[2], Some((object!({"v": 2}), None)));
    } else {
        assert_eq!(got, vec![None, None, None]);
    }
}

/// A key asked twice in one `get_many` is answered twice.
pub async fn get_many_with_duplicates<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "get_many_with_duplicates").await;
    s.put("a", object!({"v": 1}))
        .collection("test")
        .await
        .unwrap();
    let got = s
        .get_many(&["a", "a", "missing", "a"])
        .collection("test")
        .await
        .unwrap();
    let a = kept(&s, object!({"v": 1}));
    assert_eq!(got, vec![a.clone(), a.clone(), None, a]);
}

/// `put_many` with more keys than values is an `InvalidArgument` error and writes nothing.
pub async fn put_many_length_mismatch_writes_nothing<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "put_many_length_mismatch").await;
    let err = s
        .put_many(&["a", "b"], vec![object!({"v": 1})])
        .collection("test")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.operation(), Some("put_many"));
    assert_eq!(
        s.get_many(&["a", "b"]).collection("test").await.unwrap(),
        vec![None, None]
    );
}

/// An empty key is an `InvalidKey` error in every call that takes keys.
pub async fn empty_key_rejected<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "empty_key_rejected").await;
    let kinds = [
        s.get("").await.map(|_| ()).unwrap_err().kind(),
        s.ttl("").await.map(|_| ()).unwrap_err().kind(),
        s.put("", object!({})).await.unwrap_err().kind(),
        s.delete("").await.map(|_| ()).unwrap_err().kind(),
        s.get_many(&["a", ""]).await.map(|_| ()).unwrap_err().kind(),
        s.put_many(&["a", ""], vec![object!({}), object!({})])
            .await
            .unwrap_err()
            .kind(),
        s.delete_many(&[""]).await.map(|_| ()).unwrap_err().kind(),
    ];
    assert!(
        kinds.iter().all(|k| *k == ErrorKind::InvalidKey),
        "{kinds:?}"
    );
    assert_eq!(
        s.get("a").await.unwrap(),
        None,
        "a failed batch wrote nothing"
    );
}

/// Errors say which call, collection and key they concern.
pub async fn errors_name_operation_collection_and_key<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "errors_name_context").await;
    let err = s
        .put("user:1", object!({}))
        .collection("users")
        .ttl(-1)
        .await
        .unwrap_err();
    assert_eq!(err.operation(), Some("put"));
    assert_eq!(err.collection(), Some("users"));
    assert_eq!(err.key(), Some("user:1"));
    let text = err.to_string();
    assert!(
        text.contains("put") && text.contains("users") && text.contains("user:1"),
        "{text}"
    );
}

/// Timestamps survive the store to the microsecond (what py-key-value reads back), and an
/// entry without TTL comes back without one.
pub async fn stored_timestamps_round_trip<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "stored_timestamps_round_trip").await;
    let now = s.info().clock().now();
    let created =
        Timestamp::from_unix_micros(now.unix_micros() - now.unix_micros() % 1_000_000 + 123_456);
    let expires = created.saturating_add(Duration::from_micros(3_600_654_321));
    let entry = ManagedEntry::new(object!({"v": 1}), Some(created), Some(expires));
    s.put_entry("test", "timed", entry.clone()).await.unwrap();
    s.put_entry(
        "test",
        "untimed",
        ManagedEntry::new(object!({"v": 2}), Some(created), None),
    )
    .await
    .unwrap();
    let got = s.get_entry("test", "timed").await.unwrap();
    let untimed = s.get_entry("test", "untimed").await.unwrap();
    if caps(&s).discards_writes {
        assert_eq!((got, untimed), (None, None));
        return;
    }
    let got = got.expect("timed entry");
    assert_eq!(got.value, entry.value);
    let drift = got
        .expires_at
        .map(|e| (e.unix_micros() - expires.unix_micros()).abs());
    assert!(
        drift.is_some_and(|d| d <= 1_000),
        "expires_at {:?} vs {:?}",
        got.expires_at,
        expires
    );
    if let Some(c) = got.created_at {
        assert!((c.unix_micros() - created.unix_micros()).abs() <= 1_000);
    }
    assert_eq!(untimed.expect("untimed entry").expires_at, None);
}

/// `keys()` lists a collection's live keys and honours `limit` where `enumerate_keys` is
/// declared; elsewhere it is an `Unsupported` error.
pub async fn keys_enumeration<F: StoreFactory>(factory: F) {
    let (s, fx) = store(&factory, "keys_enumeration").await;
    for k in ["a", "b", "c"] {
        s.put(k, object!({})).collection("enum").await.unwrap();
    }
    s.put("expiring", object!({}))
        .collection("enum")
        .ttl(1)
        .await
        .unwrap();
    s.put("other", object!({}))
        .collection("other")
        .await
        .unwrap();
    fx.advance(Duration::from_secs(2)).await;
    let result = s.keys().collection("enum").await;
    if !caps(&s).enumerate_keys {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        return;
    }
    let found: BTreeSet<String> = result.unwrap().into_iter().collect();
    let expected: BTreeSet<String> = if caps(&s).discards_writes {
        BTreeSet::new()
    } else {
        ["a", "b", "c"].iter().map(|k| k.to_string()).collect()
    };
    assert_eq!(found, expected);
    let limited = s.keys().collection("enum").limit(2).await.unwrap();
    assert_eq!(limited.len(), expected.len().min(2));
    assert!(limited.iter().all(|k| expected.contains(k)));
    assert!(
        s.keys().collection("never_used").await.unwrap().is_empty(),
        "an unknown collection has no keys"
    );
}

/// `collections()` lists the collections written to, where `enumerate_collections` is
/// declared; elsewhere it is an `Unsupported` error.
pub async fn collections_enumeration<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "collections_enumeration").await;
    s.put("k", object!({})).collection("col_1").await.unwrap();
    s.put("k", object!({})).collection("col_2").await.unwrap();
    let result = s.collections().await;
    if !caps(&s).enumerate_collections {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        return;
    }
    let found = result.unwrap();
    if !caps(&s).discards_writes {
        assert!(found.iter().any(|c| c == "col_1"), "{found:?}");
        assert!(found.iter().any(|c| c == "col_2"), "{found:?}");
    }
    assert!(s.collections().limit(1).await.unwrap().len() <= 1);
}

/// `destroy()` removes everything where declared; elsewhere it is an `Unsupported` error that
/// removes nothing.
pub async fn destroy_store<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "destroy_store").await;
    s.put("k", object!({"v": 1}))
        .collection("c1")
        .await
        .unwrap();
    s.put("k", object!({"v": 2}))
        .collection("c2")
        .await
        .unwrap();
    let result = s.destroy().await;
    if !caps(&s).destroy {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        assert_eq!(
            s.get("k").collection("c1").await.unwrap(),
            kept(&s, object!({"v": 1}))
        );
        return;
    }
    assert_eq!(result.unwrap(), kept(&s, true).is_some());
    assert_eq!(s.get("k").collection("c1").await.unwrap(), None);
    assert_eq!(s.get("k").collection("c2").await.unwrap(), None);
    s.put("k", object!({"v": 3}))
        .collection("c1")
        .await
        .unwrap();
    assert_eq!(
        s.get("k").collection("c1").await.unwrap(),
        kept(&s, object!({"v": 3})),
        "the store works after destroy"
    );
}

/// `destroy_collection()` removes one collection and no other, and says whether it existed;
/// elsewhere it is an `Unsupported` error that removes nothing.
pub async fn destroy_single_collection<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "destroy_single_collection").await;
    s.put("k", object!({"v": 1}))
        .collection("c1")
        .await
        .unwrap();
    s.put("k", object!({"v": 2}))
        .collection("c2")
        .await
        .unwrap();
    let result = s.destroy_collection("c1").await;
    if !caps(&s).destroy_collection {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        assert_eq!(
            s.get("k").collection("c1").await.unwrap(),
            kept(&s, object!({"v": 1}))
        );
        return;
    }
    assert_eq!(result.unwrap(), kept(&s, true).is_some());
    assert_eq!(s.get("k").collection("c1").await.unwrap(), None);
    assert_eq!(
        s.get("k").collection("c2").await.unwrap(),
        kept(&s, object!({"v": 2}))
    );
    assert!(!s.destroy_collection("c1").await.unwrap());
    s.put("k", object!({"v": 3}))
        .collection("c1")
        .await
        .unwrap();
    assert_eq!(
        s.get("k").collection("c1").await.unwrap(),
        kept(&s, object!({"v": 3})),
        "a destroyed collection can be used again"
    );
}

/// `cull()` removes expired entries and keeps live ones where declared; elsewhere it is an
/// `Unsupported` error.
pub async fn cull_expired<F: StoreFactory>(factory: F) {
    let (s, fx) = store(&factory, "cull_expired").await;
    s.put("old", object!({}))
        .collection("c")
        .ttl(1)
        .await
        .unwrap();
    s.put("live", object!({})).collection("c").await.unwrap();
    fx.advance(Duration::from_secs(2)).await;
    let result = s.cull().await;
    if !caps(&s).cull {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        return;
    }
    result.unwrap();
    assert_eq!(s.get_entry("c", "old").await.unwrap(), None, "culled");
    assert_eq!(
        s.get("live").collection("c").await.unwrap(),
        kept(&s, Object::new())
    );
}

/// After `close()`, calls fail with a `Closed` error; closing twice is fine.
pub async fn closed_store_rejects_calls<F: StoreFactory>(factory: F) {
    let (s, _) = store(&factory, "closed_store_rejects_calls").await;
    s.put("k", object!({})).await.unwrap();
    s.close().await.unwrap();
    s.close().await.unwrap();
    assert_eq!(s.get("k").await.unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(
        s.put("k", object!({})).await.unwrap_err().kind(),
        ErrorKind::Closed
    );
}

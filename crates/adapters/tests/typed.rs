//! Behaviour of `TypedAdapter` over MemoryStore: round trips of every kind of type, the exact
//! stored objects (`{"items": ...}` or not), invalid data in both modes, TTLs, collections,
//! batches, serialization errors, and other store types (`&S`, `Arc<S>`, `SharedStore`).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use key_value_adapters::TypedAdapter;
use key_value_core::prelude::*;
use key_value_core::{Clock, DEFAULT_COLLECTION, ManualClock};
use key_value_memory::MemoryStore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    street: String,
    zip: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    name: String,
    age: u32,
    email: Option<String>,
    tags: Vec<String>,
    address: Address,
    scores: BTreeMap<String, f64>,
}

fn alice() -> User {
    User {
        name: "Alice 🌍".into(),
        age: 30,
        email: None,
        tags: vec!["admin".into(), "ops".into()],
        address: Address {
            street: "1 Main St".into(),
            zip: 12345,
        },
        scores: BTreeMap::from([("math".into(), 9.5), ("art".into(), 7.0)]),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Color {
    Red,
    Green,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Point,
    Circle { radius: f64 },
    Pair(i32, i32),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UserId(u64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile(User);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Puts `value` through a `TypedAdapter<T>`, checks the raw stored object is `raw`, and reads
/// it back with get, get_many, ttl and ttl_many.
async fn round_trip<T>(value: T, raw: Value)
where
    T: Serialize + serde::de::DeserializeOwned + Clone + PartialEq + std::fmt::Debug + Send,
{
    let store = MemoryStore::new();
    let adapter = TypedAdapter::<T, _>::new(&store);
    adapter.put("k", &value).await.unwrap();
    let stored = store.get("k").await.unwrap().expect("stored");
    assert_eq!(Value::Object(stored), raw, "{}", std::any::type_name::<T>());
    assert_eq!(adapter.get("k").await.unwrap(), Some(value.clone()));
    assert_eq!(
        adapter.get_many(&["k", "missing"]).await.unwrap(),
        vec![Some(value.clone()), None]
    );
    assert_eq!(adapter.ttl("k").await.unwrap(), Some((value.clone(), None)));
    assert_eq!(
        adapter.ttl_many(&["missing", "k"]).await.unwrap(),
        vec![None, Some((value.clone(), None))]
    );
    assert_eq!(
        adapter.to_object(&value).unwrap(),
        store.get("k").await.unwrap().unwrap()
    );
}

#[test]
fn structs_and_maps_are_stored_as_their_object() {
    rt().block_on(async {
        let user = alice();
        round_trip(
            user.clone(),
            json!({
                "name": "Alice 🌍", "age": 30, "email": null, "tags": ["admin", "ops"],
                "address": {"street": "1 Main St", "zip": 12345},
                "scores": {"art": 7.0, "math": 9.5}
            }),
        )
        .await;
        round_trip(Profile(user.clone()), serde_json::to_value(&user).unwrap()).await;
        round_trip(
            HashMap::from([("a".to_string(), 1i64), ("b".to_string(), 2)]),
            json!({"a": 1, "b": 2}),
        )
        .await;
        round_trip(BTreeMap::from([(7u32, true)]), json!({"7": true})).await;
    });
}

#[test]
fn everything_else_is_wrapped_in_items() {
    rt().block_on(async {
        round_trip(
            vec![alice()],
            json!({"items": [serde_json::to_value(alice()).unwrap()]}),
        )
        .await;
        round_trip(vec![1i64, 2, 3], json!({"items": [1, 2, 3]})).await;
        round_trip(Vec::<String>::new(), json!({"items": []})).await;
        round_trip(vec![vec![1u8], vec![]], json!({"items": [[1], []]})).await;
        round_trip(
            "héllo \"world\"".to_string(),
            json!({"items": "héllo \"world\""}),
        )
        .await;
        round_trip(-42i64, json!({"items": -42})).await;
        round_trip(u64::MAX, json!({"items": u64::MAX})).await;
        round_trip(1.5f64, json!({"items": 1.5})).await;
        round_trip(false, json!({"items": false})).await;
        round_trip(Some(7i64), json!({"items": 7})).await;
        round_trip(None::<i64>, json!({"items": null})).await;
        round_trip(
            Some(alice()),
            json!({"items": serde_json::to_value(alice()).unwrap()}),
        )
        .await;
        round_trip((1i32, "a".to_string()), json!({"items": [1, "a"]})).await;
        round_trip(Color::Green, json!({"items": "green"})).await;
        round_trip(
            vec![Color::Red, Color::Green],
            json!({"items": ["red", "green"]}),
        )
        .await;
        round_trip(Shape::Point, json!({"items": "Point"})).await;
        round_trip(
            Shape::Circle { radius: 2.5 },
            json!({"items": {"Circle": {"radius": 2.5}}}),
        )
        .await;
        round_trip(Shape::Pair(1, -1), json!({"items": {"Pair": [1, -1]}})).await;
        round_trip(UserId(9), json!({"items": 9})).await;
        round_trip((), json!({"items": null})).await;
        round_trip(json!({"a": 1}), json!({"items": {"a": 1}})).await;
    });
}

#[test]
fn wrap_in_items_overrides_the_automatic_choice() {
    rt().block_on(async {
        let store = MemoryStore::new();
        let docs = TypedAdapter::<Value, _>::new(&store).wrap_in_items(false);
        assert!(!docs.wraps_in_items());
        docs.put("d", json!({"a": [1]})).await.unwrap();
        assert_eq!(store.get("d").await.unwrap(), Some(object!({"a": [1]})));
        assert_eq!(docs.get("d").await.unwrap(), Some(json!({"a": [1]})));
        let err = docs.put("e", json!([1])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization);
        assert_eq!(err.operation(), Some("put"));
        assert_eq!(err.key(), Some("e"));
        assert!(err.to_string().contains("an array"), "{err}");
        assert_eq!(store.get("e").await.unwrap(), None);

        // Forced wrapping of an object type.
        let users = TypedAdapter::<User, _>::new(&store).wrap_in_items(true);
        users.put("u", alice()).await.unwrap();
        let raw = store.get("u").await.unwrap().unwrap();
        assert_eq!(raw.keys().collect::<Vec<_>>(), vec!["items"]);
        assert_eq!(users.get("u").await.unwrap(), Some(alice()));
    });
}

/// Entries that do not fit the adapter's type, written by hand.
async fn write_invalid(store: &MemoryStore) {
    // A number where a User is expected, with a secret string in a wrong field.
    store
        .put("wrong_type", object!({"items": 5}))
        .collection("c")
        .await
        .unwrap();
    store
        .put(
            "bad_field",
            object!({"name": "Bob", "age": "s3cr3t-value", "email": null, "tags": [],
                     "address": {"street": "x", "zip": 1}, "scores": {}}),
        )
        .collection("c")
        .ttl(60)
        .await
        .unwrap();
    store
        .put(
            "good",
            serde_json::to_value(alice())
                .unwrap()
                .as_object()
                .unwrap()
                .clone(),
        )
        .collection("c")
        .await
        .unwrap();
}

#[test]
fn invalid_data_reads_as_missing_by_default() {
    rt().block_on(async {
        let store = MemoryStore::new();
        write_invalid(&store).await;
        let users = TypedAdapter::<User, _>::new(&store).default_collection("c");
        let fallback = User {
            name: "nobody".into(),
            ..alice()
        };
        for key in ["wrong_type", "bad_field"] {
            assert_eq!(users.get(key).await.unwrap(), None, "{key}");
            assert_eq!(
                users.get(key).default(fallback.clone()).await.unwrap(),
                fallback
            );
            assert_eq!(users.ttl(key).await.unwrap(), None, "{key}");
        }
        let keys = ["good", "wrong_type", "bad_field", "missing"];
        assert_eq!(
            users.get_many(&keys).await.unwrap(),
            vec![Some(alice()), None, None, None]
        );
        assert_eq!(
            users
                .get_many(&keys)
                .default(fallback.clone())
                .await
                .unwrap(),
            vec![
                alice(),
                fallback.clone(),
                fallback.clone(),
                fallback.clone()
            ]
        );
        assert_eq!(
            users.ttl_many(&keys).await.unwrap(),
            vec![Some((alice(), None)), None, None, None]
        );

        // A wrapped type reading an unwrapped object: the 'items' wrapper is missing.
        let lists = TypedAdapter::<Vec<String>, _>::new(&store).default_collection("c");
        assert_eq!(lists.get("good").await.unwrap(), None);
        // An object type reading a wrapped value.
        assert_eq!(users.get("wrong_type").await.unwrap(), None);
    });
}

#[test]
fn invalid_data_is_a_deserialization_error_when_raising() {
    rt().block_on(async {
        let store = MemoryStore::new();
        write_invalid(&store).await;
        let users = TypedAdapter::<User, _>::new(&store)
            .default_collection("c")
            .raise_on_validation_error(true);

        let check = |err: Error, op: &str, key: &str| {
            assert_eq!(err.kind(), ErrorKind::Deserialization, "{err}");
            assert_eq!(err.operation(), Some(op), "{err}");
            assert_eq!(err.collection(), Some("c"), "{err}");
            assert_eq!(err.key(), Some(key), "{err}");
            let text = format!("{err} {err:?}");
            assert!(!text.contains("s3cr3t"), "the value leaked: {text}");
            text
        };

        let text = check(
            users.get("bad_field").await.unwrap_err(),
            "get",
            "bad_field",
        );
        assert!(text.contains("/age"), "{text}");
        assert!(
            text.contains("invalid type: a string, expected u32"),
            "{text}"
        );
        assert!(text.contains("User"), "{text}");
        let text = check(
            users.get("wrong_type").await.unwrap_err(),
            "get",
            "wrong_type",
        );
        assert!(text.contains("missing field"), "{text}");
        check(
            users.get("bad_field").default(alice()).await.unwrap_err(),
            "get",
            "bad_field",
        );
        check(
            users.ttl("bad_field").await.unwrap_err(),
            "ttl",
            "bad_field",
        );
        let keys = ["good", "missing", "bad_field", "wrong_type"];
        check(
            users.get_many(&keys).await.unwrap_err(),
            "get_many",
            "bad_field",
        );
        check(
            users.get_many(&keys).default(alice()).await.unwrap_err(),
            "get_many",
            "bad_field",
        );
        check(
            users.ttl_many(&keys).await.unwrap_err(),
            "ttl_many",
            "bad_field",
        );
        // Valid and missing entries still read normally.
        assert_eq!(
            users.get_many(&["good", "missing"]).await.unwrap(),
            vec![Some(alice()), None]
        );

        let lists = TypedAdapter::<Vec<String>, _>::new(&store)
            .raise_on_validation_error(true)
            .default_collection("c");
        let text = check(lists.get("good").await.unwrap_err(), "get", "good");
        assert!(text.contains("'items'"), "{text}");
        let text = check(
            lists.get("wrong_type").await.unwrap_err(),
            "get",
            "wrong_type",
        );
        assert!(text.contains("/items"), "{text}");
        assert!(text.contains("expected a sequence"), "{text}");

        // An unknown enum variant does not show the stored string either.
        store
            .put("color", object!({"items": "s3cr3t-purple"}))
            .collection("c")
            .await
            .unwrap();
        let colors = TypedAdapter::<Color, _>::new(&store)
            .raise_on_validation_error(true)
            .default_collection("c");
        let text = check(colors.get("color").await.unwrap_err(), "get", "color");
        assert!(text.contains("`red`"), "{text}");
    });
}

#[test]
fn ttl_goes_through_the_adapter() {
    rt().block_on(async {
        let clock = ManualClock::starting_now();
        let store = MemoryStore::builder()
            .clock(Clock::from(clock.clone()))
            .build();
        let ints = TypedAdapter::<i64, _>::new(&store);
        ints.put("a", 1).ttl(10).await.unwrap();
        ints.put("b", 2)
            .ttl(Duration::from_secs(100))
            .await
            .unwrap();
        ints.put("c", 3).ttl_opt(None::<f64>).await.unwrap();
        ints.put_many(&["d", "e"], [4, 5]).ttl(20.5).await.unwrap();

        let (v, ttl) = ints.ttl("a").await.unwrap().unwrap();
        assert_eq!((v, ttl), (1, Some(Duration::from_secs(10))));
        assert_eq!(ints.ttl("c").await.unwrap(), Some((3, None)));
        let many = ints.ttl_many(&["d", "e", "c"]).await.unwrap();
        assert_eq!(
            many,
            vec![
                Some((4, Some(Duration::from_secs_f64(20.5)))),
                Some((5, Some(Duration::from_secs_f64(20.5)))),
                Some((3, None)),
            ]
        );

        clock.advance(Duration::from_secs(11));
        assert_eq!(ints.get("a").await.unwrap(), None);
        assert_eq!(
            ints.ttl("b").await.unwrap(),
            Some((2, Some(Duration::from_secs(89))))
        );
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            ints.get_many(&["a", "b", "c", "d", "e"]).await.unwrap(),
            vec![None, Some(2), Some(3), None, None]
        );

        // Invalid TTLs are the store's InvalidTtl errors, with the key.
        let err = ints.put("x", 1).ttl(0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTtl);
        assert_eq!(err.key(), Some("x"));
        let err = ints.put_many(&["x"], [1]).ttl(-1.0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTtl);
        assert_eq!(ints.get("x").await.unwrap(), None);
    });
}

#[test]
fn collections_default_and_override() {
    rt().block_on(async {
        let store = MemoryStore::new();
        let plain = TypedAdapter::<String, _>::new(&store);
        plain.put("k", "in default".to_string()).await.unwrap();
        assert_eq!(
            store.get("k").collection(DEFAULT_COLLECTION).await.unwrap(),
            Some(object!({"items": "in default"}))
        );

        let scoped = TypedAdapter::<String, _>::new(&store).default_collection("scoped");
        scoped.put("k", "in scoped".to_string()).await.unwrap();
        scoped
            .put("k", "in other".to_string())
            .collection("other")
            .await
            .unwrap();
        // An empty collection counts as none: the adapter's default.
        assert_eq!(
            scoped.get("k").collection("").await.unwrap().as_deref(),
            Some("in scoped")
        );
        assert_eq!(
            store.get("k").collection("scoped").await.unwrap(),
            Some(object!({"items": "in scoped"}))
        );
        assert_eq!(
            scoped
                .get("k")
                .collection("other")
                .await
                .unwrap()
                .as_deref(),
            Some("in other")
        );
        assert_eq!(plain.get("k").await.unwrap().as_deref(), Some("in default"));

        // Every operation honours the default and the override.
        scoped
            .put_many(&["a", "b"], ["A".to_string(), "B".to_string()])
            .await
            .unwrap();
        assert_eq!(
            store
                .get_many(&["a", "b"])
                .collection("scoped")
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            scoped
                .get_many(&["a", "b"])
                .collection("other")
                .await
                .unwrap(),
            vec![None, None]
        );
        assert!(scoped.ttl_many(&["a"]).await.unwrap()[0].is_some());
        assert!(scoped.ttl("a").collection("other").await.unwrap().is_none());
        assert_eq!(
            scoped
                .get("missing")
                .collection("other")
                .default("d".into())
                .await
                .unwrap(),
            "d"
        );
        assert_eq!(
            scoped
                .get_many(&["a"])
                .collection("other")
                .default("d".into())
                .await
                .unwrap(),
            vec!["d".to_string()]
        );
        assert!(!scoped.delete("a").collection("other").await.unwrap());
        assert!(scoped.delete("a").await.unwrap());
        assert_eq!(
            scoped
                .delete_many(&["a", "b"])
                .collection("other")
                .await
                .unwrap(),
            0
        );
        assert_eq!(scoped.delete_many(&["a", "b"]).await.unwrap(), 1);
        assert_eq!(store.get("b").collection("scoped").await.unwrap(), None);

        // The error names the collection actually used.
        let strict = TypedAdapter::<i64, _>::new(&store).raise_on_validation_error(true);
        let err = strict.get("k").await.unwrap_err();
        assert_eq!(err.collection(), Some(DEFAULT_COLLECTION));
    });
}

#[test]
fn serialization_failures_write_nothing_and_name_the_key() {
    rt().block_on(async {
        let store = MemoryStore::new();
        // serde_json cannot write a map whose keys are tuples.
        let maps =
            TypedAdapter::<BTreeMap<(i32, i32), i32>, _>::new(&store).default_collection("c");
        let bad = BTreeMap::from([((1, 2), 3)]);
        let err = maps.put("k", &bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization);
        assert_eq!(
            (err.operation(), err.collection(), err.key()),
            (Some("put"), Some("c"), Some("k"))
        );

        let err = maps
            .put_many(&["a", "b"], [BTreeMap::new(), bad.clone()])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization);
        assert_eq!(
            (err.operation(), err.collection(), err.key()),
            (Some("put_many"), Some("c"), Some("b"))
        );
        assert_eq!(
            store
                .get_many(&["a", "b", "k"])
                .collection("c")
                .await
                .unwrap(),
            vec![None, None, None]
        );

        // Length mismatches are the store's InvalidArgument errors.
        let ints = TypedAdapter::<i64, _>::new(&store);
        let err = ints.put_many(&["a", "b"], [1]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        // Key checks are the store's.
        assert_eq!(
            ints.get("").await.unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            ints.put("", 1).await.unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
    });
}

#[test]
fn batches_keep_order_and_duplicates() {
    rt().block_on(async {
        let store = MemoryStore::new();
        let users = TypedAdapter::<User, _>::new(&store);
        let bob = User {
            name: "Bob".into(),
            ..alice()
        };
        let keys: Vec<String> = vec!["b".into(), "a".into()];
        users.put_many(&keys, [&bob, &alice()]).await.unwrap();
        assert_eq!(
            users.get_many(&["a", "b", "a", "zz"]).await.unwrap(),
            vec![Some(alice()), Some(bob.clone()), Some(alice()), None]
        );
        assert_eq!(users.delete_many(&keys).await.unwrap(), 2);
        assert_eq!(users.get_many(&keys).await.unwrap(), vec![None, None]);
        assert_eq!(users.get_many::<&str>(&[]).await.unwrap(), vec![]);
    });
}

#[test]
fn works_over_references_arcs_and_shared_stores() {
    rt().block_on(async {
        let arc = Arc::new(MemoryStore::new());
        let by_arc = TypedAdapter::<Vec<u8>, _>::new(arc.clone());
        by_arc.put("k", vec![1, 2]).await.unwrap();
        assert_eq!(
            arc.get("k").await.unwrap(),
            Some(object!({"items": [1, 2]}))
        );

        let shared: SharedStore = arc.clone();
        let by_shared = TypedAdapter::<Vec<u8>, _>::new(shared.clone());
        assert_eq!(by_shared.get("k").await.unwrap(), Some(vec![1, 2]));
        by_shared.put("j", vec![3]).ttl(5).await.unwrap();
        assert_eq!(
            TypedAdapter::<Vec<u8>, _>::new(&*arc)
                .get("j")
                .await
                .unwrap(),
            Some(vec![3])
        );
        assert_eq!(by_shared.inner().info().name(), "MemoryStore");

        let cloned = by_shared.clone();
        assert_eq!(cloned.get("j").await.unwrap(), Some(vec![3]));
        let debug = format!("{cloned:?}");
        assert!(
            debug.contains("Vec<u8>") && !debug.contains("[3]"),
            "{debug}"
        );
        let back: SharedStore = cloned.into_inner();
        assert_eq!(back.get("j").await.unwrap(), Some(object!({"items": [3]})));
    });
}

#[test]
fn concurrent_use_from_tasks() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(async {
            let users = Arc::new(TypedAdapter::<User, _>::new(MemoryStore::new()));
            let tasks: Vec<_> = (0..16)
                .map(|i| {
                    let users = users.clone();
                    tokio::spawn(async move {
                        let key = format!("u{i}");
                        let user = User { age: i, ..alice() };
                        users.put(&key, &user).await.unwrap();
                        assert_eq!(users.get(&key).await.unwrap(), Some(user));
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let keys: Vec<String> = (0..16).map(|i| format!("u{i}")).collect();
            let all = users.get_many(&keys).await.unwrap();
            assert!(
                all.iter()
                    .enumerate()
                    .all(|(i, u)| u.as_ref().map(|u| u.age) == Some(i as u32))
            );
        });
}

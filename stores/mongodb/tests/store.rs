//! MongoDbStore beyond the conformance suite, against the server of `services/mongodb/start`
//! (`KV_MONGODB_URL`): the stored document field by field, the stale-`expires_at` fix, field
//! names with `$` and `.` in values, collection names MongoDB refuses, indexes, enumeration of
//! sanitized collections, `destroy` touching only the store's database, the caller's client,
//! concurrent first use; and without a server: URLs, redaction, unreachable servers.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use key_value_core::config::StoreUrl;
use key_value_core::prelude::*;
use key_value_mongodb::mongodb::bson::{Bson, Document, doc};
use key_value_mongodb::mongodb::{Client, options::ClientOptions};
use key_value_mongodb::{CollectionSanitization, MongoDbConfig, MongoDbStore};
use key_value_testkit::run;

fn store(url: &str, db: &str) -> MongoDbStore {
    MongoDbConfig::new(url).database(db).open().unwrap()
}

async fn raw(s: &MongoDbStore, collection: &str, key: &str) -> Document {
    s.raw_document(collection, key)
        .await
        .unwrap()
        .expect("document")
}

#[test]
fn document_has_py_key_values_layout() {
    let test = "document_layout";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    run(async move {
        let s = store(&url, &db);
        s.put(
            "k",
            object!({"name": "Alice", "n": 1, "big": 5_000_000_000_i64, "f": 0.5}),
        )
        .collection("users")
        .ttl(60)
        .await
        .unwrap();
        let d = raw(&s, "users", "k").await;
        let fields: Vec<&str> = d.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "_id",
                "key",
                "collection",
                "created_at",
                "expires_at",
                "value",
                "version"
            ]
        );
        assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))));
        assert_eq!(d.get("key"), Some(&Bson::String("k".into())));
        assert_eq!(d.get("version"), Some(&Bson::Int32(1)));
        assert_eq!(d.get("collection"), Some(&Bson::String("users".into())));
        let object = d
            .get_document("value")
            .unwrap()
            .get_document("object")
            .unwrap();
        assert_eq!(object.get("n"), Some(&Bson::Int32(1)));
        assert_eq!(object.get("big"), Some(&Bson::Int64(5_000_000_000)));
        assert_eq!(object.get("f"), Some(&Bson::Double(0.5)));
        let created = d.get_datetime("created_at").unwrap().timestamp_millis();
        let expires = d.get_datetime("expires_at").unwrap().timestamp_millis();
        assert!(
            (expires - created - 60_000).abs() <= 1,
            "{created} {expires}"
        );
        // Indexes: py-key-value's names, the TTL one with expireAfterSeconds 0, `key` unique.
        let client = s.client().await.unwrap();
        let coll = client.database(&db).collection::<Document>("users");
        let mut cursor = coll.list_indexes().await.unwrap();
        let mut names = Vec::new();
        while cursor.advance().await.unwrap() {
            let ix = cursor.deserialize_current().unwrap();
            let name = ix.keys.keys().next().cloned().unwrap();
            let opts = ix.options.unwrap_or_default();
            if name == "expires_at" {
                assert_eq!(opts.expire_after, Some(Duration::ZERO));
            }
            if name == "key" {
                assert_eq!(opts.unique, Some(true));
            }
            names.push(name);
        }
        names.sort();
        assert_eq!(names, ["_id", "expires_at", "key"]);
        s.destroy().await.unwrap();
    });
}

#[test]
fn re_put_without_ttl_removes_expires_at() {
    let test = "stale_expires_at";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    run(async move {
        let s = store(&url, &db);
        s.put("k", object!({"v": 1}))
            .collection("c")
            .ttl(3600)
            .await
            .unwrap();
        assert!(raw(&s, "c", "k").await.contains_key("expires_at"));
        let id = raw(&s, "c", "k").await.get_object_id("_id").unwrap();
        s.put("k", object!({"v": 2})).collection("c").await.unwrap();
        let d = raw(&s, "c", "k").await;
        assert!(!d.contains_key("expires_at"), "{d}");
        assert_eq!(
            d.get_object_id("_id").unwrap(),
            id,
            "the document is replaced in place"
        );
        let (v, ttl) = s.ttl("k").collection("c").await.unwrap().unwrap();
        assert_eq!((v, ttl), (object!({"v": 2}), None));
        // The same through put_many.
        s.put_many(&["a", "b"], vec![object!({}), object!({})])
            .collection("c")
            .ttl(3600)
            .await
            .unwrap();
        s.put_many(&["a", "b"], vec![object!({"x": 1}), object!({"x": 2})])
            .collection("c")
            .await
            .unwrap();
        for k in ["a", "b"] {
            assert!(!raw(&s, "c", k).await.contains_key("expires_at"));
        }
        s.destroy().await.unwrap();
    });
}

#[test]
fn dollar_and_dotted_field_names_in_values() {
    let test = "dollar_fields";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    run(async move {
        let s = store(&url, &db);
        let value = object!({"$set": {"a": 1}, "a.b": 2, "nested": {"$in": [1, {"$gt": 0}], "x.y.z": null}, "$": "$"});
        s.put("k", value.clone()).collection("c").await.unwrap();
        // Replacing an existing document with such a value works too.
        s.put("k", value.clone()).collection("c").await.unwrap();
        assert_eq!(
            s.get("k").collection("c").await.unwrap(),
            Some(value.clone())
        );
        s.put_many(&["m1", "m2"], vec![value.clone(), value.clone()])
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            s.get_many(&["m1", "m2"]).collection("c").await.unwrap(),
            vec![Some(value.clone()), Some(value.clone())]
        );
        // A NUL in a field name cannot be written in BSON: a typed error, nothing sent.
        let err = s
            .put("nul", object!({"a\u{0}b": 1}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization);
        assert_eq!(s.get("nul").collection("c").await.unwrap(), None);
        s.destroy().await.unwrap();
    });
}

#[test]
fn collection_names_mongodb_refuses_are_invalid_collection_errors() {
    // No server needed: the check happens before anything is sent.
    let s = MongoDbConfig::new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100")
        .open()
        .unwrap();
    let long = "x".repeat(300);
    run(async move {
        for bad in [
            "test_collection!@#$%^&*()",
            "system.users",
            "a\u{0}b",
            ".x",
            &long,
        ] {
            let err = s.put("k", object!({})).collection(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{bad:?}: {err}");
            let err = s.get("k").collection(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{bad:?}: {err}");
        }
    });
    let v1 = MongoDbConfig::new("mongodb://127.0.0.1:1")
        .sanitize_v1()
        .open()
        .unwrap();
    assert_eq!(
        v1.mongo_collection("test_collection!@#$%^&*()").unwrap(),
        "S_test_collection_-daf4a2ec"
    );
    assert!(
        v1.mongo_collection("system.users")
            .unwrap()
            .starts_with("S_system_users-")
    );
    assert_eq!(
        v1.mongo_collection("S_taken").unwrap_err().kind(),
        ErrorKind::InvalidCollection
    );
}

#[test]
fn v1_collections_map_back_to_their_names() {
    let test = "v1_collections";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    run(async move {
        let s = MongoDbConfig::new(&url)
            .database(&db)
            .sanitize_v1()
            .open()
            .unwrap();
        for c in ["test_collection!@#$%^&*()", "plain", "system.users", "ключ"] {
            s.put("k", object!({"c": c})).collection(c).await.unwrap();
        }
        let mut found = s.collections().await.unwrap();
        found.sort();
        let mut expected = vec!["test_collection!@#$%^&*()", "plain", "system.users", "ключ"];
        expected.sort();
        assert_eq!(found, expected);
        let names = s
            .client()
            .await
            .unwrap()
            .database(&db)
            .list_collection_names()
            .await
            .unwrap();
        assert!(
            names.contains(&"S_test_collection_-daf4a2ec".to_string()),
            "{names:?}"
        );
        assert!(s.destroy_collection("system.users").await.unwrap());
        assert!(!s.destroy_collection("system.users").await.unwrap());
        assert_eq!(s.get("k").collection("system.users").await.unwrap(), None);
        s.destroy().await.unwrap();
    });
}

#[test]
fn destroy_drops_only_the_stores_database() {
    let test = "destroy_own_db";
    let Some(url) = common::url(test) else { return };
    let (db1, db2) = (common::unique(test), common::unique(test));
    run(async move {
        let (a, b) = (store(&url, &db1), store(&url, &db2));
        a.put("k", object!({"v": 1})).await.unwrap();
        b.put("k", object!({"v": 2})).await.unwrap();
        assert!(a.destroy().await.unwrap());
        assert!(!a.destroy().await.unwrap(), "nothing left to destroy");
        assert_eq!(a.get("k").await.unwrap(), None);
        assert_eq!(b.get("k").await.unwrap(), Some(object!({"v": 2})));
        let dbs = b
            .client()
            .await
            .unwrap()
            .list_database_names()
            .await
            .unwrap();
        assert!(!dbs.contains(&db1) && dbs.contains(&db2), "{dbs:?}");
        b.destroy().await.unwrap();
    });
}

#[test]
fn the_callers_client_is_used_and_not_shut_down() {
    let test = "user_client";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    run(async move {
        let client = Client::with_options(ClientOptions::parse(&url).await.unwrap()).unwrap();
        let s = MongoDbConfig::with_client(client.clone())
            .database(&db)
            .open()
            .unwrap();
        s.put("k", object!({"v": 1})).await.unwrap();
        s.close().await.unwrap();
        assert_eq!(s.get("k").await.unwrap_err().kind(), ErrorKind::Closed);
        // The client still works.
        let n = client
            .database(&db)
            .collection::<Document>("default_collection")
            .count_documents(doc! {})
            .await
            .unwrap();
        assert_eq!(n, 1);
        client.database(&db).drop().await.unwrap();
    });
}

#[test]
fn concurrent_first_writes_leave_one_document_per_key() {
    let test = "concurrent_first_use";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    run(async move {
        let s = Arc::new(store(&url, &db));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.put("same", object!({"i": i}))
                    .collection("race")
                    .await
                    .unwrap();
                s.put_many(&["m1", "m2"], vec![object!({"i": i}), object!({"i": i})])
                    .collection("race")
                    .await
                    .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let coll = s
            .client()
            .await
            .unwrap()
            .database(&db)
            .collection::<Document>("race");
        for k in ["same", "m1", "m2"] {
            assert_eq!(
                coll.count_documents(doc! {"key": k}).await.unwrap(),
                1,
                "{k}"
            );
        }
        s.destroy().await.unwrap();
    });
}

#[test]
fn python_made_non_unique_index_is_kept() {
    let test = "non_unique_index";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    run(async move {
        let client = Client::with_options(ClientOptions::parse(&url).await.unwrap()).unwrap();
        let coll = client.database(&db).collection::<Document>("c");
        // What py-key-value's `_setup_collection` creates.
        coll.create_index(
            key_value_mongodb::mongodb::IndexModel::builder()
                .keys(doc! {"key": 1})
                .build(),
        )
        .await
        .unwrap();
        let s = store(&url, &db);
        s.put("k", object!({"v": 1})).collection("c").await.unwrap();
        assert_eq!(
            s.get("k").collection("c").await.unwrap(),
            Some(object!({"v": 1}))
        );
        let strict = MongoDbConfig::new(&url)
            .database(&db)
            .unique_key_index(false)
            .open()
            .unwrap();
        strict
            .put("k2", object!({}))
            .collection("c2")
            .await
            .unwrap();
        s.destroy().await.unwrap();
    });
}

#[test]
fn cull_and_keys_use_the_stores_clock_to_the_millisecond() {
    let test = "cull_clock";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    run(async move {
        let clock = key_value_core::ManualClock::starting_now();
        let s = MongoDbConfig::new(&url)
            .database(&db)
            .clock(clock.clone().into())
            .open()
            .unwrap();
        s.put("short", object!({}))
            .collection("c")
            .ttl(1)
            .await
            .unwrap();
        s.put("long", object!({}))
            .collection("c")
            .ttl(100)
            .await
            .unwrap();
        s.put("forever", object!({})).collection("c").await.unwrap();
        clock.advance(Duration::from_millis(1001));
        let mut keys = s.keys().collection("c").await.unwrap();
        keys.sort();
        assert_eq!(keys, ["forever", "long"]);
        s.cull().await.unwrap();
        assert_eq!(s.get_entry("c", "short").await.unwrap(), None);
        assert!(s.get_entry("c", "long").await.unwrap().is_some());
        s.destroy().await.unwrap();
    });
}

#[test]
fn unreachable_server_is_a_temporary_connection_error() {
    // Port 1 on loopback: nothing listens there.
    let s = MongoDbConfig::new("mongodb://127.0.0.1:1/?directConnection=true")
        .server_selection_timeout(Duration::from_millis(500))
        .open()
        .unwrap();
    run(async move {
        let started = Instant::now();
        let err = s.get("k").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        assert!(err.is_temporary(), "{err}");
        let err = s.put("k", object!({})).await.unwrap_err();
        assert!(err.is_temporary(), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    });
}

#[test]
fn urls_and_redaction() {
    let c = MongoDbConfig::parse(
        "mongodb://u:p%40ss@h1:27017,h2:27018/mydb?replicaSet=rs0&sanitize=v1&default_collection=dc",
    )
    .unwrap();
    assert_eq!(c.database_name(), "mydb");
    assert!(matches!(c.sanitization(), CollectionSanitization::V1));
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("p%40ss") && !shown.contains("p@ss"),
        "{shown}"
    );
    assert!(
        shown.contains("replicaSet=rs0") && !shown.contains("sanitize"),
        "{shown}"
    );
    let store = c.open().unwrap();
    assert_eq!(store.info().default_collection(), "dc");
    assert!(!format!("{store:?}").contains("p%40ss"));
    // `db` wins over the path; the default is py-key-value's.
    let c =
        MongoDbConfig::from_url(&StoreUrl::parse("mongodb://h/authdb?db=other").unwrap()).unwrap();
    assert_eq!(c.database_name(), "other");
    let c = MongoDbConfig::from_url(&StoreUrl::parse("mongodb://h").unwrap()).unwrap();
    assert_eq!(c.database_name(), "kv-store-adapter");
    // Driver options are checked by the driver, at open, without a runtime.
    let err = MongoDbConfig::from_url(
        &StoreUrl::parse("mongodb://u:secret@h/?w=notanumber&journal=maybe").unwrap(),
    )
    .unwrap()
    .open()
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(!err.to_string().contains("secret"), "{err}");
    let err =
        MongoDbConfig::from_url(&StoreUrl::parse("mongodb://h/?sanitize=v2").unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = MongoDbConfig::from_url(&StoreUrl::parse("redis://h").unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = MongoDbConfig::new("mongodb://h")
        .database("a.b")
        .open()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    // Opening needs no runtime (this test has none).
    MongoDbConfig::new("mongodb+srv://cluster.example.com/")
        .open()
        .unwrap();
}

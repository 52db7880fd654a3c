//! FirestoreStore beyond the conformance suite, against the Cloud Firestore emulator of
//! `services/firestore/start` (`KV_FIRESTORE_EMULATOR_HOST`): the raw documents, batches across
//! Firestore's 500-write limit, the size limit, paging, expiry, id rules, errors.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use key_value_core::prelude::*;
use key_value_core::sanitize::{FirestoreV1KeySanitizationStrategy, SanitizationStrategy};
use key_value_core::{Clock, ManualClock, Timestamp};
use key_value_firestore::key_value_http::{HttpConfig, client, reqwest};
use key_value_firestore::{Credentials, FirestoreConfig, FirestoreStore};
use key_value_testkit::{run, unique_name};
use serde_json::json;

/// A store on a fresh database with a manual clock at a time with microseconds.
fn setup(test: &str) -> Option<(String, String, FirestoreConfig, ManualClock)> {
    let host = common::emulator(test)?;
    let db = common::database_for(&unique_name(test));
    let clock = ManualClock::new(Timestamp::parse_iso("2030-01-02T03:04:05.123456+00:00").unwrap());
    let config = common::config(&host, &db).clock(Clock::from(clock.clone()));
    Some((host, db, config, clock))
}

#[test]
fn documents_have_pythons_fields_and_types() {
    let Some((host, _, config, _)) = setup("document_shape") else {
        return;
    };
    run(async move {
        let store = config.open().unwrap();
        store
            .put(
                "user:1",
                object!({"name": "Alice", "age": 30, "é": [1.5, null, true]}),
            )
            .collection("users")
            .ttl(3600)
            .await
            .unwrap();
        store
            .put("forever", object!({}))
            .collection("users")
            .await
            .unwrap();
        let name = store.document_name("users", "user:1").unwrap();
        assert!(name.ends_with("/documents/users/user:1"), "{name}");
        let raw = common::raw_document(&host, &name).await.unwrap();
        assert_eq!(
            raw["fields"],
            json!({
                "version": {"integerValue": "1"},
                "value": {"stringValue": "{\"age\": 30, \"name\": \"Alice\", \"\\u00e9\": [1.5, null, true]}"},
                "created_at": {"stringValue": "2030-01-02T03:04:05.123456+00:00"},
                "expires_at": {"stringValue": "2030-01-02T04:04:05.123456+00:00"},
            })
        );
        let raw = common::raw_document(&host, &store.document_name("users", "forever").unwrap())
            .await
            .unwrap();
        assert_eq!(
            raw["fields"],
            json!({
                "version": {"integerValue": "1"},
                "value": {"stringValue": "{}"},
                "created_at": {"stringValue": "2030-01-02T03:04:05.123456+00:00"},
            })
        );
        // An overwrite replaces the whole document (Python's `set()`), expiry included.
        store
            .put("user:1", object!({"v": 2}))
            .collection("users")
            .await
            .unwrap();
        let raw = common::raw_document(&host, &name).await.unwrap();
        assert!(raw["fields"].get("expires_at").is_none(), "{raw}");
        assert_eq!(raw["fields"]["value"]["stringValue"], "{\"v\": 2}");
    });
}

#[test]
fn ttl_field_adds_a_timestamp_for_ttl_policies() {
    let Some((host, _, config, _)) = setup("ttl_field") else {
        return;
    };
    run(async move {
        let store = config.ttl_field("expire_at").open().unwrap();
        store
            .put("k", object!({"a": 1}))
            .collection("c")
            .ttl(60)
            .await
            .unwrap();
        store
            .put("no_ttl", object!({}))
            .collection("c")
            .await
            .unwrap();
        let raw = common::raw_document(&host, &store.document_name("c", "k").unwrap())
            .await
            .unwrap();
        let ts = raw["fields"]["expire_at"]["timestampValue"]
            .as_str()
            .unwrap();
        assert_eq!(
            Timestamp::parse_iso(ts).unwrap(),
            Timestamp::parse_iso("2030-01-02T03:05:05.123456+00:00").unwrap()
        );
        assert_eq!(
            raw["fields"]["expires_at"]["stringValue"],
            "2030-01-02T03:05:05.123456+00:00"
        );
        let raw = common::raw_document(&host, &store.document_name("c", "no_ttl").unwrap())
            .await
            .unwrap();
        assert!(raw["fields"].get("expire_at").is_none(), "{raw}");
        assert_eq!(
            store.get("k").collection("c").await.unwrap(),
            Some(object!({"a": 1}))
        );
    });
}

#[test]
fn batches_cross_the_500_write_limit_and_listing_pages() {
    let Some((host, db, config, _)) = setup("batch_650") else {
        return;
    };
    run(async move {
        let store = config.open().unwrap();
        let keys: Vec<String> = (0..650).map(|i| format!("key-{i:04}")).collect();
        let values: Vec<Object> = (0..650).map(|i| object!({"i": i})).collect();
        store
            .put_many(&keys, values.clone())
            .collection("big")
            .ttl(600)
            .await
            .unwrap();
        assert_eq!(common::raw_ids(&host, &db, "big").await.len(), 650);
        let got = store.get_many(&keys).collection("big").await.unwrap();
        assert_eq!(got, values.iter().cloned().map(Some).collect::<Vec<_>>());
        // keys(): three pages of 300.
        let mut listed = store.keys().collection("big").await.unwrap();
        listed.sort();
        assert_eq!(listed, keys);
        let limited = store.keys().collection("big").limit(450).await.unwrap();
        assert_eq!(limited.len(), 450);
        assert!(limited.iter().all(|k| keys.contains(k)));
        // Duplicates in one call: the last value wins, counted once when deleted.
        store
            .put_many(
                &["key-0000", "key-0000"],
                vec![object!({"v": 1}), object!({"v": 2})],
            )
            .collection("big")
            .await
            .unwrap();
        assert_eq!(
            store.get("key-0000").collection("big").await.unwrap(),
            Some(object!({"v": 2}))
        );
        let mut with_dups: Vec<&str> = keys.iter().map(String::as_str).collect();
        with_dups.push("key-0001");
        with_dups.push("never-written");
        assert_eq!(
            store
                .delete_many(&with_dups)
                .collection("big")
                .await
                .unwrap(),
            650
        );
        assert!(common::raw_ids(&host, &db, "big").await.is_empty());
    });
}

#[test]
fn large_batches_are_split_by_request_size() {
    let Some((host, db, config, _)) = setup("batch_bytes") else {
        return;
    };
    run(async move {
        // 120 values of 100 kB: 12 MB, over the emulator's 4 MiB message limit in one commit.
        let store = config.open().unwrap();
        let keys: Vec<String> = (0..120).map(|i| format!("k{i}")).collect();
        let values: Vec<Object> = (0..120)
            .map(|i| object!({"i": i, "pad": "p".repeat(100_000)}))
            .collect();
        store
            .put_many(&keys, values.clone())
            .collection("c")
            .await
            .unwrap();
        assert_eq!(common::raw_ids(&host, &db, "c").await.len(), 120);
        assert_eq!(
            store.get_many(&keys).collection("c").await.unwrap(),
            values.into_iter().map(Some).collect::<Vec<_>>()
        );
    });
}

#[test]
fn an_oversized_request_is_a_temporary_server_error() {
    let Some((_, _, config, _)) = setup("request_too_large") else {
        return;
    };
    run(async move {
        // Allowed to send 20 MB at once, the store meets the emulator's 4 MiB limit:
        // RESOURCE_EXHAUSTED, which Google documents as retryable.
        let store = config.max_request_bytes(20_000_000).open().unwrap();
        let keys: Vec<String> = (0..6).map(|i| format!("k{i}")).collect();
        let values: Vec<Object> = (0..6)
            .map(|_| object!({"pad": "p".repeat(900_000)}))
            .collect();
        let err = store
            .put_many(&keys, values)
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert!(err.is_temporary(), "{err}");
        assert!(err.to_string().contains("RESOURCE_EXHAUSTED"), "{err}");
        assert_eq!(err.operation(), Some("put_many"));
    });
}

/// A value whose JSON text has exactly `n` bytes.
fn value_of(n: usize) -> Object {
    object!({"d": "x".repeat(n - 9)})
}

#[test]
fn oversized_documents_are_refused_before_sending() {
    let Some((host, db, config, _)) = setup("value_too_large") else {
        return;
    };
    run(async move {
        let store = config.open().unwrap();
        // Collection "c", key "k", created_at of 32 characters: the largest value fits a
        // document of exactly 1 MiB.
        let largest = 1_048_457;
        store
            .put("k", value_of(largest))
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            store.get("k").collection("c").await.unwrap(),
            Some(value_of(largest))
        );
        let err = store
            .put("k2", value_of(largest + 1))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
        assert_eq!(err.key(), Some("k2"));
        assert_eq!(store.get("k2").collection("c").await.unwrap(), None);
        // One oversized entry in a put_many: nothing of it is written.
        let err = store
            .put_many(
                &["small", "huge"],
                vec![object!({"a": 1}), value_of(2_000_000)],
            )
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
        assert_eq!(store.get("small").collection("c").await.unwrap(), None);
        let mut ids = common::raw_ids(&host, &db, "c").await;
        ids.sort();
        assert_eq!(ids, vec!["k"]);

        // The emulator itself refuses that one byte more: the arithmetic is Firestore's.
        let http = client(&HttpConfig::default()).unwrap();
        let text = key_value_core::json::to_python_json_object(&value_of(largest + 1));
        let body = json!({"fields": {
            "version": {"integerValue": "1"},
            "value": {"stringValue": text},
            "created_at": {"stringValue": "2030-01-02T03:04:05.123456+00:00"},
        }});
        let url = format!(
            "http://{host}/v1/projects/{}/databases/{db}/documents/c/k",
            common::project()
        );
        let response = http
            .patch(url)
            .header("authorization", "Bearer owner")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{text}");
        let mapped = key_value_firestore::api_error(status, &text);
        assert_eq!(mapped.kind(), ErrorKind::ValueTooLarge, "{mapped}");
    });
}

#[test]
fn expired_documents_are_hidden_then_culled() {
    let Some((host, db, config, clock)) = setup("expiry") else {
        return;
    };
    run(async move {
        let store = config.open().unwrap();
        store
            .put("old", object!({"v": 1}))
            .collection("c")
            .ttl(10)
            .await
            .unwrap();
        store
            .put("live", object!({"v": 2}))
            .collection("c")
            .await
            .unwrap();
        store
            .put("later", object!({"v": 3}))
            .collection("other")
            .ttl(100)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(11));
        assert_eq!(store.get("old").collection("c").await.unwrap(), None);
        assert_eq!(store.ttl("old").collection("c").await.unwrap(), None);
        assert_eq!(
            store
                .get_many(&["old", "live"])
                .collection("c")
                .await
                .unwrap(),
            vec![None, Some(object!({"v": 2}))]
        );
        assert_eq!(store.keys().collection("c").await.unwrap(), vec!["live"]);
        // Still stored (the emulator never runs TTL policies), and the store does not filter
        // below the API.
        let entry = store.get_entry("c", "old").await.unwrap().unwrap();
        assert_eq!(entry.value, object!({"v": 1}));
        assert_eq!(common::raw_ids(&host, &db, "c").await.len(), 2);
        assert_eq!(store.cull_expired().await.unwrap(), 1);
        assert_eq!(store.get_entry("c", "old").await.unwrap(), None);
        let mut ids = common::raw_ids(&host, &db, "c").await;
        ids.sort();
        assert_eq!(ids, vec!["live"]);
        assert_eq!(
            store.get("later").collection("other").await.unwrap(),
            Some(object!({"v": 3}))
        );
    });
}

#[test]
fn unreachable_server_is_a_temporary_connection_error() {
    run(async {
        let store = FirestoreConfig::new("p")
            .emulator_host("127.0.0.1:1")
            .use_environment(false)
            .open()
            .unwrap();
        let err = store.get("k").collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        assert!(err.is_temporary());
        assert_eq!(err.operation(), Some("get"));
        let err = store.put("k", object!({})).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        let err = store.keys().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    });
}

#[test]
fn ids_firestore_refuses_are_rejected_without_writing() {
    let Some((host, db, config, _)) = setup("invalid_ids") else {
        return;
    };
    run(async move {
        let store = config.open().unwrap();
        let long = "k".repeat(1501);
        let wide = "é".repeat(751); // 751 characters, 1502 bytes
        for key in ["a/b", ".", "..", "__k__", long.as_str(), wide.as_str()] {
            let err = store
                .put(key, object!({}))
                .collection("c")
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{key}: {err}");
            let err = store.get(key).collection("c").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{key}: {err}");
            let err = store.delete(key).collection("c").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{key}: {err}");
            let err = store
                .put_many(&["fine", key], vec![object!({}), object!({})])
                .collection("c")
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{key}: {err}");
            let err = store
                .get_many(&["fine", key])
                .collection("c")
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{key}: {err}");
        }
        for collection in ["a/b", ".", "__c__", long.as_str()] {
            let err = store
                .put("k", object!({}))
                .collection(collection)
                .await
                .unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidCollection,
                "{collection}: {err}"
            );
            let err = store.keys().collection(collection).await.unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidCollection,
                "{collection}: {err}"
            );
        }
        assert!(common::raw_ids(&host, &db, "c").await.is_empty());
        assert!(store.collections().await.unwrap().is_empty());
        // What Firestore accepts is accepted: 1500 bytes, dots inside, reserved look-alikes.
        let max = "é".repeat(750);
        for key in [max.as_str(), "...", "__k", "k__", "a.b", "H_x", "S_y"] {
            store
                .put(key, object!({"k": key}))
                .collection("c")
                .await
                .unwrap();
            assert_eq!(
                store.get(key).collection("c").await.unwrap(),
                Some(object!({"k": key}))
            );
        }
    });
}

#[test]
fn v1_sanitization_stores_pythons_ids() {
    let Some((host, db, config, _)) = setup("sanitize_v1") else {
        return;
    };
    run(async move {
        let store = config.sanitize_v1().open().unwrap();
        let long = "k".repeat(2000);
        for key in ["a/b", "__k__", ".", long.as_str(), "plain"] {
            store
                .put(key, object!({"k": key}))
                .collection("c")
                .await
                .unwrap();
            assert_eq!(
                store.get(key).collection("c").await.unwrap(),
                Some(object!({"k": key}))
            );
        }
        let mut ids = common::raw_ids(&host, &db, "c").await;
        ids.sort();
        let mut expected: Vec<String> = ["a/b", "__k__", ".", long.as_str(), "plain"]
            .iter()
            .map(|k| FirestoreV1KeySanitizationStrategy.sanitize(k).into_owned())
            .collect();
        expected.sort();
        assert_eq!(ids, expected);
        assert!(ids.iter().any(|i| i.starts_with("H_")));
        assert!(ids.iter().any(|i| i.starts_with("S_a_b-")));
        // keys() lists the stored ids.
        let mut keys = store.keys().collection("c").await.unwrap();
        keys.sort();
        assert_eq!(keys, expected);
        let err = store
            .put("S_x", object!({}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        let err = store
            .put("k", object!({}))
            .collection("H_c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCollection);
        store
            .put("k", object!({}))
            .collection("__c__")
            .await
            .unwrap();
        assert!(
            store
                .collections()
                .await
                .unwrap()
                .iter()
                .any(|c| c.starts_with("S___c__-"))
        );
    });
}

#[test]
fn deletes_report_existence() {
    let Some((_, _, config, _)) = setup("delete_existence") else {
        return;
    };
    run(async move {
        let store = config.open().unwrap();
        assert!(!store.delete("missing").collection("c").await.unwrap());
        store.put("a", object!({})).collection("c").await.unwrap();
        store.put("b", object!({})).collection("c").await.unwrap();
        assert!(store.delete("a").collection("c").await.unwrap());
        assert!(!store.delete("a").collection("c").await.unwrap());
        store.put("a", object!({})).collection("c").await.unwrap();
        assert_eq!(
            store
                .delete_many(&["a", "a", "b", "missing"])
                .collection("c")
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .delete_many(&["a", "b"])
                .collection("c")
                .await
                .unwrap(),
            0
        );
    });
}

#[test]
fn destroy_empties_only_the_stores_database() {
    let Some((host, db, config, _)) = setup("destroy_scope") else {
        return;
    };
    run(async move {
        let store = config.open().unwrap();
        let other_db = common::database_for(&unique_name("destroy_scope_other"));
        let other = common::config(&host, &other_db).open().unwrap();
        for s in [&store, &other] {
            s.put("k", object!({"v": 1}))
                .collection("c1")
                .await
                .unwrap();
            s.put("k", object!({"v": 2}))
                .collection("c2")
                .await
                .unwrap();
        }
        let mut cols = store.collections().await.unwrap();
        cols.sort();
        assert_eq!(cols, vec!["c1", "c2"]);
        assert!(store.destroy().await.unwrap());
        assert!(!store.destroy().await.unwrap());
        assert!(common::raw_ids(&host, &db, "c1").await.is_empty());
        assert!(store.collections().await.unwrap().is_empty());
        assert_eq!(
            other.get("k").collection("c2").await.unwrap(),
            Some(object!({"v": 2}))
        );
        common::wipe(&host, &other_db).await;
        assert_eq!(other.get("k").collection("c2").await.unwrap(), None);
    });
}

#[test]
fn any_token_or_none_reaches_the_emulator() {
    let Some((_, _, config, _)) = setup("credentials") else {
        return;
    };
    run(async move {
        for credentials in [
            Credentials::access_token("ya29.not-checked-by-the-emulator"),
            Credentials::anonymous(),
            Credentials::emulator(),
        ] {
            let kind = credentials.kind_name();
            let store = config.clone().credentials(credentials).open().unwrap();
            store
                .put("k", object!({"by": kind}))
                .collection("c")
                .await
                .unwrap();
            assert_eq!(
                store.get("k").collection("c").await.unwrap(),
                Some(object!({"by": kind}))
            );
            assert!(!format!("{store:?}").contains("not-checked"));
        }
    });
}

#[test]
fn server_errors_map_to_permanent_backend_errors_with_googles_message() {
    let Some((host, db, _, _)) = setup("server_errors") else {
        return;
    };
    run(async move {
        // A request the store never makes (it checks ids first), sent raw to get a real
        // INVALID_ARGUMENT body from the emulator.
        let http = client(&HttpConfig::default()).unwrap();
        let url = format!(
            "http://{host}/v1/projects/{}/databases/{db}/documents/c/__k__",
            common::project()
        );
        let response = http
            .patch(url)
            .header("authorization", "Bearer owner")
            .header("content-type", "application/json")
            .body("{\"fields\": {}}")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let err = key_value_firestore::api_error(status, &text);
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert!(!err.is_temporary());
        assert!(err.message().contains("INVALID_ARGUMENT"), "{err}");
        assert!(err.message().contains("reserved"), "{err}");
    });
}

#[test]
fn stores_open_without_a_runtime_and_hide_secrets() {
    let store = FirestoreStore::from_url(
        "firestore://:ya29.top-secret@proj/my-db?use_environment=false&default_collection=users",
    )
    .unwrap();
    assert_eq!(store.project(), "proj");
    assert_eq!(store.database(), "my-db");
    assert_eq!(store.info().default_collection(), "users");
    assert!(!format!("{store:?}").contains("top-secret"));
    assert_eq!(store.rest_url("x"), "https://firestore.googleapis.com/v1/x");
    let caps = store.info().capabilities();
    assert!(caps.native_batch && caps.enumerate_keys && caps.cull && !caps.native_ttl);
    assert_eq!(caps.max_key_length, Some(1500));
    let v1 = FirestoreStore::from_url("firestore://proj?auth=emulator&sanitize=v1").unwrap();
    assert_eq!(v1.info().capabilities().max_key_length, None);
    assert!(!v1.info().capabilities().restricted_collection_names);
}

//! DynamoDBStore's own tests, against moto (`KV_MOTO_URL`) and dynalite (`KV_DYNALITE_URL`),
//! each test on every server that is set and on a table of its own: the raw item layout,
//! batch chunking, the 400 KB limit, expired items, key limits, table set-up and loss,
//! destroy, cull, paging. Tests that need no server (unreachable endpoint, checks made before
//! sending) run everywhere.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_dynamodb::{DynamoDBConfig, DynamoDBStore, MAX_ITEM_SIZE, item_size};
use key_value_http::sigv4::Credentials;
use key_value_testkit::run;
use serde_json::json;

fn store(endpoint: &str, table: &str) -> DynamoDBStore {
    common::config(endpoint, table).open().unwrap()
}

/// A store on a port where nothing listens.
fn unreachable() -> DynamoDBStore {
    common::config("http://127.0.0.1:9", "unreachable_table")
        .connect_timeout(Duration::from_secs(2))
        .open()
        .unwrap()
}

#[test]
fn items_have_py_key_values_layout() {
    let test = "layout";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let s = store(&url, &table);
            s.put(
                "user:1",
                object!({"name": "Alice", "age": 30, "city": "Zürich"}),
            )
            .collection("users")
            .ttl(3600)
            .await
            .unwrap();
            s.put("plain", object!({"b": 2, "a": [1, 2.5, null]}))
                .collection("users")
                .await
                .unwrap();

            let timed = common::raw_item(&url, &table, "users", "user:1")
                .await
                .unwrap();
            // Sorted: with serde_json's `preserve_order` (on in all-features builds) the map
            // keeps the server's attribute order.
            let mut names: Vec<&String> = timed.as_object().unwrap().keys().collect();
            names.sort();
            assert_eq!(names, ["collection", "key", "ttl", "value"], "{server}");
            assert_eq!(timed["collection"], json!({"S": "users"}), "{server}");
            assert_eq!(timed["key"], json!({"S": "user:1"}), "{server}");
            let text = timed["value"]["S"].as_str().unwrap();
            // Exactly py-key-value's envelope bytes, key and collection included.
            let entry = s.get_entry("users", "user:1").await.unwrap().unwrap();
            assert_eq!(text, Envelope::WITH_KEY.dump(&entry, "users", "user:1"));
            assert!(
                text.starts_with("{\"collection\": \"users\", \"created_at\": \"")
                    && text.ends_with(
                        "\"key\": \"user:1\", \"value\": {\"age\": 30, \"city\": \"Z\\u00fcrich\", \
                         \"name\": \"Alice\"}, \"version\": 1}"
                    ),
                "{server}: {text}"
            );
            let expires = entry.expires_at.unwrap();
            let ttl: i64 = timed["ttl"]["N"].as_str().unwrap().parse().unwrap();
            assert_eq!(ttl, expires.unix_micros() / 1_000_000, "{server}");
            let lifetime = expires.unix_micros() - entry.created_at.unwrap().unix_micros();
            assert_eq!(lifetime, 3_600_000_000, "{server}");

            let plain = common::raw_item(&url, &table, "users", "plain")
                .await
                .unwrap();
            let mut names: Vec<&String> = plain.as_object().unwrap().keys().collect();
            names.sort();
            assert_eq!(
                names,
                ["collection", "key", "value"],
                "{server}: no ttl attribute without a TTL"
            );
            let text = plain["value"]["S"].as_str().unwrap();
            assert!(!text.contains("expires_at"), "{server}: {text}");
            assert!(
                text.ends_with(
                    "\"key\": \"plain\", \"value\": {\"a\": [1, 2.5, null], \"b\": 2}, \"version\": 1}"
                ),
                "{server}: {text}"
            );

            // The table the store created: py-key-value's schema, on-demand, TTL on `ttl`.
            let desc = common::raw(&url, "DescribeTable", &json!({"TableName": table}))
                .await
                .unwrap();
            let t = &desc["Table"];
            assert_eq!(t["TableStatus"], "ACTIVE", "{server}");
            let mut schema: Vec<(String, String)> = t["KeySchema"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| {
                    (
                        k["AttributeName"].as_str().unwrap().to_string(),
                        k["KeyType"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            schema.sort();
            assert_eq!(
                schema,
                [
                    ("collection".to_string(), "HASH".to_string()),
                    ("key".to_string(), "RANGE".to_string())
                ],
                "{server}"
            );
            assert_eq!(
                t["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST",
                "{server}"
            );
            let ttl = common::raw(&url, "DescribeTimeToLive", &json!({"TableName": table}))
                .await
                .unwrap();
            let status = &ttl["TimeToLiveDescription"];
            if server == "moto" {
                assert_eq!(status["TimeToLiveStatus"], "ENABLED");
                assert_eq!(status["AttributeName"], "ttl");
            } else {
                // dynalite has no UpdateTimeToLive: the set-up tolerates it.
                assert_eq!(status["TimeToLiveStatus"], "DISABLED");
            }
        });
    }
}

#[test]
fn batches_of_250_are_chunked_and_keep_order() {
    let test = "batch_250";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let s = store(&url, &table);
            let keys: Vec<String> = (0..250).map(|i| format!("k{i:03}")).collect();
            // Duplicates in one call: DynamoDB refuses them in one batch; the last value wins.
            let mut put_keys = keys.clone();
            put_keys.extend(["k000".to_string(), "k199".to_string()]);
            let mut values: Vec<Object> = (0..250).map(|i| object!({"i": i})).collect();
            values.extend([object!({"i": "last"}), object!({"i": "last199"})]);
            s.put_many(&put_keys, values)
                .collection("c")
                .ttl(600)
                .await
                .unwrap();
            assert_eq!(common::count_items(&url, &table).await, 250, "{server}");

            // Order kept, misses and duplicates answered in place, across chunks of 100.
            let mut ask: Vec<String> = keys.iter().rev().cloned().collect();
            ask.insert(10, "missing".to_string());
            ask.push("k000".to_string());
            ask.push("k000".to_string());
            let got = s.get_many(&ask).collection("c").await.unwrap();
            assert_eq!(got.len(), ask.len());
            for (k, v) in ask.iter().zip(&got) {
                let expected = match k.as_str() {
                    "missing" => None,
                    "k000" => Some(object!({"i": "last"})),
                    "k199" => Some(object!({"i": "last199"})),
                    other => Some(object!({"i": other[1..].parse::<i64>().unwrap()})),
                };
                assert_eq!(v, &expected, "{server}: {k}");
            }
            let ttls = s.ttl_many(&keys[..3]).collection("c").await.unwrap();
            for t in ttls {
                let left = t.unwrap().1.unwrap().as_secs_f64();
                assert!((590.0..=600.0).contains(&left), "{server}: {left}");
            }

            let mut delete: Vec<&str> = keys.iter().map(String::as_str).collect();
            delete.extend(["k001", "missing"]);
            assert_eq!(
                s.delete_many(&delete).collection("c").await.unwrap(),
                250,
                "{server}"
            );
            assert_eq!(common::count_items(&url, &table).await, 0, "{server}");
        });
    }
}

#[test]
fn items_over_400_kb_are_refused_before_sending() {
    // Against a port where nothing listens: the size check answers before any connection.
    run(async {
        let s = unreachable();
        let big = object!({"data": "x".repeat(MAX_ITEM_SIZE)});
        let err = s.put("big", big.clone()).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
        assert!(err.to_string().contains("400 KB"), "{err}");
        let err = s
            .put_many(&["small", "big"], vec![object!({}), big])
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
        assert_eq!(err.key(), Some("big"));
    });
    let test = "too_large";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let s = store(&url, &table);
            let big = object!({"data": "x".repeat(500 * 1024)});
            let err = s.put("big", big.clone()).collection("c").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{server}: {err}");
            let err = s
                .put_many(&["a", "big", "b"], vec![object!({}), big, object!({})])
                .collection("c")
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{server}: {err}");
            assert_eq!(
                common::count_items(&url, &table).await,
                0,
                "{server}: nothing written"
            );
        });
    }
}

/// An entry (no timestamps) whose item has exactly `size` bytes by DynamoDB's count, in
/// collection "c", key "k".
fn entry_of_item_size(size: usize) -> ManagedEntry {
    let entry = |n: usize| ManagedEntry::new(object!({"d": "x".repeat(n)}), None, None);
    let base = Envelope::WITH_KEY.dump(&entry(0), "c", "k");
    let overhead = item_size("c", "k", &base, None);
    let e = entry(size - overhead);
    assert_eq!(
        item_size("c", "k", &Envelope::WITH_KEY.dump(&e, "c", "k"), None),
        size
    );
    e
}

#[test]
fn the_size_limit_is_dynamodbs() {
    // dynalite counts item sizes as DynamoDB does: the largest item passes, one byte more is
    // refused by the store itself.
    if let Some(url) = common::dynalite("size_limit_dynalite") {
        let table = common::unique_table("size_limit");
        run(async move {
            let s = store(&url, &table);
            let entry = entry_of_item_size(MAX_ITEM_SIZE);
            s.put_entry("c", "k", entry.clone()).await.unwrap();
            assert_eq!(s.get("k").collection("c").await.unwrap(), Some(entry.value));
            let err = s
                .put_entry("c", "k", entry_of_item_size(MAX_ITEM_SIZE + 1))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
        });
    }
    // moto refuses items over 405 000 bytes by its own count: its ValidationException is
    // reported as ValueTooLarge too, and nothing is written.
    if let Some(url) = common::moto("size_limit_moto") {
        let table = common::unique_table("size_limit");
        run(async move {
            let s = store(&url, &table);
            s.put_entry("c", "k", entry_of_item_size(400_000))
                .await
                .unwrap();
            let err = s
                .put_entry("c", "k2", entry_of_item_size(MAX_ITEM_SIZE))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
            assert!(!err.is_temporary());
            assert_eq!(s.get("k2").collection("c").await.unwrap(), None);
        });
    }
}

#[test]
fn expired_items_are_never_returned() {
    let test = "expired";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let clock = ManualClock::starting_now();
            let s = common::config(&url, &table)
                .clock(clock.clone().into())
                .open()
                .unwrap();
            s.put("live", object!({"v": 1}))
                .collection("c")
                .await
                .unwrap();
            s.put("short", object!({"v": 2}))
                .collection("c")
                .ttl(5)
                .await
                .unwrap();
            // An item DynamoDB has not deleted yet, planted raw as Python writes it: the ttl
            // attribute in the past decides, even though the envelope says otherwise.
            let now = Timestamp::now_system().unix_micros() / 1_000_000;
            let future = ManagedEntry::new(
                object!({"v": 3}),
                None,
                Some(Timestamp::from_unix_micros((now + 3600) * 1_000_000)),
            );
            let mut item = json!({
                "collection": {"S": "c"},
                "key": {"S": "stale"},
                "value": {"S": Envelope::WITH_KEY.dump(&future, "c", "stale")},
                "ttl": {"N": (now - 100).to_string()},
            });
            common::raw(&url, "PutItem", &json!({"TableName": table, "Item": item}))
                .await
                .unwrap();
            item["key"] = json!({"S": "stale2"});
            item["value"] = json!({"S": "{\"value\": {\"v\": 4}}"});
            common::raw(&url, "PutItem", &json!({"TableName": table, "Item": item}))
                .await
                .unwrap();

            // The raw entry is there (the store reads it with its expiry) ...
            let raw = s.get_entry("c", "stale").await.unwrap().unwrap();
            assert_eq!(
                raw.expires_at.map(|t| t.unix_micros()),
                Some((now - 100) * 1_000_000),
                "{server}"
            );
            // ... and no read returns it.
            assert_eq!(s.get("stale").collection("c").await.unwrap(), None);
            assert_eq!(s.ttl("stale2").collection("c").await.unwrap(), None);
            assert_eq!(
                s.get_many(&["stale", "live", "stale2", "short"])
                    .collection("c")
                    .await
                    .unwrap(),
                vec![None, Some(object!({"v": 1})), None, Some(object!({"v": 2}))],
                "{server}"
            );
            assert_eq!(s.keys().collection("c").await.unwrap(), ["live", "short"]);
            clock.advance(Duration::from_secs(6));
            assert_eq!(s.get("short").collection("c").await.unwrap(), None);
            assert_eq!(s.keys().collection("c").await.unwrap(), ["live"]);
            assert_eq!(s.collections().await.unwrap(), ["c"]);
            // cull removes the three expired items and only them.
            assert_eq!(s.cull_expired().await.unwrap(), 3, "{server}");
            assert_eq!(common::count_items(&url, &table).await, 1, "{server}");
            assert_eq!(s.cull_expired().await.unwrap(), 0, "{server}");
            s.delete("live").collection("c").await.unwrap();
            assert!(s.collections().await.unwrap().is_empty());
        });
    }
}

#[test]
fn keys_near_their_expiry_second_are_checked_exactly() {
    // The ttl attribute has whole seconds; within that second keys() reads the envelope.
    let test = "expiry_second";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let start = Timestamp::from_unix_micros(
                Timestamp::now_system().unix_micros() / 1_000_000 * 1_000_000 + 200_000,
            );
            let clock = ManualClock::new(start);
            let s = common::config(&url, &table)
                .clock(clock.clone().into())
                .open()
                .unwrap();
            // Expires at start + 10.5 s: the ttl attribute says start + 10 s.
            s.put("k", object!({}))
                .collection("c")
                .ttl(10.5)
                .await
                .unwrap();
            clock.advance(Duration::from_millis(10_100));
            assert_eq!(s.keys().collection("c").await.unwrap(), ["k"], "{server}");
            clock.advance(Duration::from_millis(400));
            assert!(
                s.keys().collection("c").await.unwrap().is_empty(),
                "{server}"
            );
        });
    }
}

#[test]
fn unreachable_endpoint_is_a_temporary_connection_error() {
    run(async {
        let s = unreachable();
        for err in [
            s.get("k").await.map(|_| ()).unwrap_err(),
            s.put("k", object!({})).await.unwrap_err(),
            s.get_many(&["a", "b"]).await.map(|_| ()).unwrap_err(),
            s.delete_many(&["a"]).await.map(|_| ()).unwrap_err(),
            s.keys().await.map(|_| ()).unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
            assert!(err.is_temporary(), "{err}");
        }
    });
}

#[test]
fn invalid_keys_are_refused_before_sending() {
    run(async {
        let s = unreachable();
        // 1024 bytes is DynamoDB's sort key limit: a 1024-byte key only fails to connect.
        let ok = s.put(&"k".repeat(1024), object!({})).await.unwrap_err();
        assert_eq!(ok.kind(), ErrorKind::Connection);
        for key in ["k".repeat(1025), "é".repeat(513)] {
            let err = s.put(&key, object!({})).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
            let err = s.get_many(&["a", &key]).await.map(|_| ()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
        }
        for collection in ["c".repeat(2049), "ß".repeat(1025)] {
            let err = s
                .get("k")
                .collection(&collection)
                .await
                .map(|_| ())
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{err}");
            let err = s.keys().collection(&collection).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{err}");
        }
        let err = s.get_entry("c", "").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        let caps = s.info().capabilities();
        assert_eq!(caps.max_key_length, Some(1024));
        assert_eq!(caps.max_collection_length, Some(2048));
        assert_eq!(caps.max_value_size, Some(MAX_ITEM_SIZE));
    });
    let test = "key_limits";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let s = store(&url, &table);
            let (key, collection) = ("ü".repeat(512), "c".repeat(2048));
            s.put(&key, object!({"v": 1}))
                .collection(&collection)
                .await
                .unwrap();
            assert_eq!(
                s.get(&key).collection(&collection).await.unwrap(),
                Some(object!({"v": 1})),
                "{server}"
            );
        });
    }
}

#[test]
fn table_set_up_follows_auto_create() {
    let test = "auto_create";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let off = common::config(&url, &table)
                .auto_create(false)
                .open()
                .unwrap();
            let err = off.get("k").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Setup, "{server}: {err}");
            assert!(!err.is_temporary());
            assert!(err.to_string().contains("does not exist"), "{err}");
            let missing = common::raw(&url, "DescribeTable", &json!({"TableName": table})).await;
            assert!(missing.is_err(), "{server}: nothing was created");

            let on = store(&url, &table);
            on.put("k", object!({"v": 1})).await.unwrap();
            assert_eq!(
                off.get("k").await.unwrap(),
                Some(object!({"v": 1})),
                "{server}: the table exists now"
            );

            // A table deleted behind the store's back is created again at the next call.
            common::raw(&url, "DeleteTable", &json!({"TableName": table}))
                .await
                .unwrap();
            assert_eq!(on.get("k").await.unwrap(), None, "{server}");
            on.put("k", object!({"v": 2})).await.unwrap();
            assert_eq!(on.get("k").await.unwrap(), Some(object!({"v": 2})));
            // ... but not by a store that may not create it.
            common::raw(&url, "DeleteTable", &json!({"TableName": table}))
                .await
                .unwrap();
            let err = off.get("k").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Setup, "{server}: {err}");
        });
    }
}

#[test]
fn a_table_with_another_schema_is_a_setup_error() {
    let test = "other_schema";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            common::raw(
                &url,
                "CreateTable",
                &json!({
                    "TableName": table,
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                }),
            )
            .await
            .unwrap();
            let err = store(&url, &table).get("k").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Setup, "{server}: {err}");
            assert!(err.to_string().contains("key schema"), "{err}");
        });
    }
}

#[test]
fn destroy_deletes_the_table_or_only_the_items() {
    let test = "destroy";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let s = store(&url, &table);
            s.put("k", object!({})).collection("a").await.unwrap();
            assert!(s.destroy().await.unwrap(), "{server}");
            let gone = common::raw(&url, "DescribeTable", &json!({"TableName": table})).await;
            assert!(
                gone.is_err_and(|(_, body)| body.contains("ResourceNotFound")),
                "{server}"
            );
            assert!(!s.destroy().await.unwrap(), "{server}: nothing left");
            s.put("k", object!({"v": 1})).collection("a").await.unwrap();
            assert_eq!(
                s.get("k").collection("a").await.unwrap(),
                Some(object!({"v": 1}))
            );

            // A table managed outside the store (auto_create off) keeps existing.
            let managed = common::config(&url, &table)
                .auto_create(false)
                .open()
                .unwrap();
            managed
                .put_many(&["x", "y"], vec![object!({}), object!({})])
                .collection("b")
                .await
                .unwrap();
            assert!(managed.destroy().await.unwrap(), "{server}");
            assert_eq!(common::count_items(&url, &table).await, 0, "{server}");
            assert!(!managed.destroy().await.unwrap(), "{server}");
            assert!(
                common::raw(&url, "DescribeTable", &json!({"TableName": table}))
                    .await
                    .is_ok()
            );
        });
    }
}

#[test]
fn keys_are_paged_and_collections_scanned() {
    let test = "paging";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let s = store(&url, &table);
            let keys: Vec<String> = (0..1100).map(|i| format!("k{i:04}")).collect();
            let values = vec![object!({}); keys.len()];
            s.put_many(&keys, values).collection("big").await.unwrap();
            for c in ["c1", "c2", "c3"] {
                s.put("k", object!({})).collection(c).await.unwrap();
            }
            let listed = s.keys().collection("big").await.unwrap();
            assert_eq!(
                listed, keys,
                "{server}: every key, in order, over two pages"
            );
            assert_eq!(
                s.keys().collection("big").limit(5).await.unwrap(),
                keys[..5]
            );
            assert_eq!(
                s.collections().await.unwrap(),
                ["big", "c1", "c2", "c3"],
                "{server}"
            );
            assert_eq!(s.collections().limit(2).await.unwrap().len(), 2);
            assert!(s.destroy_collection("big").await.unwrap());
            assert!(s.keys().collection("big").await.unwrap().is_empty());
            assert_eq!(common::count_items(&url, &table).await, 3, "{server}");
        });
    }
}

#[test]
fn settings_change_nothing_in_the_data() {
    // Eventually consistent reads, one request at a time, no retries: same results.
    let test = "settings";
    for (server, url) in common::servers(test) {
        let table = common::unique_table(test);
        run(async move {
            let s = common::config(&url, &table)
                .consistent_read(false)
                .concurrency(1)
                .max_retries(0)
                .default_collection("dc")
                .open()
                .unwrap();
            let keys: Vec<String> = (0..130).map(|i| format!("k{i}")).collect();
            s.put_many(&keys, vec![object!({"v": 1}); 130])
                .await
                .unwrap();
            let got = s.get_many(&keys).await.unwrap();
            assert!(
                got.iter().all(|v| v == &Some(object!({"v": 1}))),
                "{server}"
            );
            assert_eq!(s.delete_many(&keys).await.unwrap(), 130, "{server}");
            let raw = common::raw_item(&url, &table, "dc", "k1").await;
            assert_eq!(raw, None);
        });
    }
}

#[test]
fn credentials_are_never_shown() {
    let store = DynamoDBConfig::new("kv-table")
        .region("eu-west-1")
        .credentials(Credentials::new("AKIDSHOWN", "hunter2secret").with_session_token("tok3n"))
        .open()
        .unwrap();
    let shown = format!("{store:?}");
    assert!(
        !shown.contains("hunter2secret") && !shown.contains("tok3n"),
        "{shown}"
    );
    let config = DynamoDBConfig::from_url(
        &key_value_core::config::StoreUrl::parse("dynamodb://AKID:hunter2secret@kv-table").unwrap(),
    )
    .unwrap();
    assert!(!format!("{config:?}").contains("hunter2secret"));
}

#[test]
fn moto_accepts_any_credentials() {
    // moto does not check DynamoDB signatures (unless started in its IAM mode, which the
    // shared server is not), so rejected credentials cannot be tested against it: this pins
    // that fact, so a moto that starts checking them shows up here. The mapping of rejected
    // credentials is covered by client.rs's unit tests.
    let Some(url) = common::moto("moto_credentials") else {
        return;
    };
    let table = common::unique_table("moto_credentials");
    run(async move {
        let s = common::config(&url, &table)
            .credentials(Credentials::new("AKIDWRONG", "wrong").with_session_token("bogus"))
            .open()
            .unwrap();
        s.put("k", object!({"v": 1})).await.unwrap();
        assert_eq!(s.get("k").await.unwrap(), Some(object!({"v": 1})));
    });
}

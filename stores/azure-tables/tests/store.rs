//! AzureTablesStore against Azurite (`services/azurite/start`, `KV_AZURITE_TABLES_URL`): the
//! raw layout, key rules with and without sanitization, batches across the 100-operation limit,
//! size limits, paging, expiry, failures (wrong key, unreachable service, missing table) and
//! every way to configure it. Each test uses its own table. Without the variable the tests say
//! NOT RUN (and fail in CI); the few that need no server always run.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use key_value_azure_tables::error::service_error;
use key_value_azure_tables::{
    AzureTablesConfig, AzureTablesStore, Credential, DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY,
    MAX_VALUE_CHARS,
};
use key_value_core::config::StoreUrl;
use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_testkit::run;
use serde_json::{Value, json};

/// Prints to the process's stderr (the harness hides `eprintln!` of passing tests).
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[test]
fn raw_layout_is_py_key_values() {
    let test = "raw_layout";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let clock =
            ManualClock::new(Timestamp::parse_iso("2026-01-02T03:04:05.678901+00:00").unwrap());
        let s = common::config(&endpoint, &table)
            .clock(clock.clone().into())
            .open()
            .unwrap();
        let value = object!({"name": "Zoë", "n": [1, 2.5, null], "nested": {"b": true, "a": "x"}});
        s.put("user:1", value.clone())
            .collection("users")
            .ttl(3600)
            .await
            .unwrap();
        s.put("plain", value.clone())
            .collection("users")
            .await
            .unwrap();
        let raw = common::raw_client(&endpoint);
        let timed = raw
            .get_entity(&table, "users", "user:1", None)
            .await
            .unwrap()
            .unwrap();
        let now = clock.now();
        let expires = now.saturating_add(Duration::from_secs(3600));
        let envelope = Envelope::WITH_KEY.dump(
            &ManagedEntry::new(value.clone(), Some(now), Some(expires)),
            "users",
            "user:1",
        );
        assert_eq!(timed["PartitionKey"], "users");
        assert_eq!(timed["RowKey"], "user:1");
        assert_eq!(timed["Value"], Value::String(envelope.clone()));
        assert!(envelope.starts_with(r#"{"collection": "users", "created_at": "2026-01-02T03:04:05.678901+00:00", "expires_at": "2026-01-02T04:04:05.678901+00:00", "key": "user:1", "value": {"n": [1, 2.5, null], "name": "Zo\u00eb", "nested": {"a": "x", "b": true}}, "version": 1}"#), "{envelope}");
        assert_eq!(timed["ExpiresAt@odata.type"], "Edm.Int64");
        assert_eq!(
            timed["ExpiresAt"],
            json!((expires.unix_micros() / 1_000_000).to_string())
        );
        let mut names: Vec<&str> = timed
            .keys()
            .map(String::as_str)
            .filter(|k| !k.starts_with("odata.") && *k != "Timestamp")
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "ExpiresAt",
                "ExpiresAt@odata.type",
                "PartitionKey",
                "RowKey",
                "Value"
            ]
        );
        let plain = raw
            .get_entity(&table, "users", "plain", None)
            .await
            .unwrap()
            .unwrap();
        assert!(plain.get("ExpiresAt").is_none(), "{plain:?}");
        assert!(!plain["Value"].as_str().unwrap().contains("expires_at"));
        // An overwrite without TTL drops ExpiresAt (insert-or-replace, not merge).
        s.put("user:1", value.clone())
            .collection("users")
            .await
            .unwrap();
        let replaced = raw
            .get_entity(&table, "users", "user:1", None)
            .await
            .unwrap()
            .unwrap();
        assert!(replaced.get("ExpiresAt").is_none(), "{replaced:?}");
        assert_eq!(
            s.ttl("user:1").collection("users").await.unwrap(),
            Some((value, None))
        );
        s.destroy().await.unwrap();
    });
}

#[test]
fn without_sanitization_bad_keys_are_refused_before_sending() {
    // An unreachable endpoint: an InvalidKey/InvalidCollection error (not Connection) proves
    // nothing was sent. Needs no server.
    run(async {
        let s = AzureTablesConfig::new(
            "http://127.0.0.1:9/devstoreaccount1",
            common::credential(),
            "kvnothing",
        )
        .open()
        .unwrap();
        for bad in [
            "a/b", "a\\b", "a#b", "a?b", "tab\tkey", "nul\u{0}", "c1\u{85}",
        ] {
            let err = s.put(bad, object!({})).collection("c").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{bad:?}: {err}");
            let err = s.get(bad).collection("c").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{bad:?}");
            let err = s.put("k", object!({})).collection(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{bad:?}");
            let err = s.get_many(&["ok", bad]).collection("c").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey);
            let err = s
                .delete_many(&["ok", bad])
                .collection("c")
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey);
            let err = s
                .put_many(&["ok", bad], vec![object!({}), object!({})])
                .collection("c")
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey);
        }
        let long = "k".repeat(513);
        let err = s.put(&long, object!({})).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        assert!(err.to_string().contains("512"), "{err}");
        let err = s.keys().collection(&"c".repeat(513)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCollection);
        // 300 astral characters are 600 UTF-16 code units.
        let err = s
            .put(&"🌍".repeat(300), object!({}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        let caps = s.info().capabilities();
        assert_eq!(caps.max_key_length, Some(512));
        assert!(caps.restricted_collection_names);
        // A valid key does reach the (absent) service.
        let err = s.get("fine").collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection);
    });
}

#[test]
fn unreachable_service_is_a_temporary_connection_error() {
    run(async {
        let s = AzureTablesConfig::new(
            "http://127.0.0.1:9/devstoreaccount1",
            common::credential(),
            "kvnothing",
        )
        .sanitize(true)
        .open()
        .unwrap();
        let errors = [
            s.get("k").await.map(|_| ()).unwrap_err(),
            s.put("k", object!({})).await.unwrap_err(),
            s.delete("k").await.map(|_| ()).unwrap_err(),
            s.put_many(&["a", "b"], vec![object!({}), object!({})])
                .await
                .unwrap_err(),
            s.get_many(&["a", "b"]).await.map(|_| ()).unwrap_err(),
            s.delete_many(&["a", "b"]).await.map(|_| ()).unwrap_err(),
            s.keys().await.map(|_| ()).unwrap_err(),
            s.collections().await.map(|_| ()).unwrap_err(),
            s.destroy().await.map(|_| ()).unwrap_err(),
            s.cull().await.unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
            assert!(err.is_temporary(), "{err}");
            assert!(err.operation().is_some(), "{err}");
        }
    });
}

#[test]
fn wrong_account_key_is_a_permanent_auth_error() {
    let test = "wrong_key";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        // A well-formed key that is not the account's.
        let wrong =
            Credential::shared_key(DEVELOPMENT_ACCOUNT, "d3JvbmcgYWNjb3VudCBrZXkgZm9yIHRlc3Rz")
                .unwrap();
        let s = AzureTablesConfig::new(&endpoint, wrong, &table)
            .open()
            .unwrap();
        let err = s.get("k").collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert!(!err.is_temporary(), "{err}");
        let service = service_error(&err).expect("the service's answer is the source");
        assert_eq!(service.status(), 403);
        // Azurite says AuthorizationFailure; Azure says AuthenticationFailed.
        let code = service.code().unwrap().to_string();
        assert!(
            ["AuthorizationFailure", "AuthenticationFailed"].contains(&code.as_str()),
            "{code}"
        );
        assert!(err.to_string().contains(&code), "{err}");
        assert!(!err.to_string().contains("d3Jvbm"), "{err}");
        // The first write tries to create the table, is refused, and writes: the same error.
        let err = s.put("k", object!({})).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert!(!err.is_temporary());
        assert!(err.to_string().contains(&code), "{err}");
        assert_eq!(service_error(&err).map(|e| e.status()), Some(403));
        // Nothing was created.
        assert!(
            !common::raw_client(&endpoint)
                .delete_table(&table)
                .await
                .unwrap()
        );
    });
}

#[test]
fn batch_of_250_keys_across_the_100_operation_limit() {
    let test = "batch_250";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let s = common::store(&endpoint, &table);
        let keys: Vec<String> = (0..250).map(|i| format!("k{i:03}")).collect();
        let values: Vec<Object> = (0..250).map(|i| object!({"i": i})).collect();
        s.put_many(&keys, values.clone())
            .collection("c")
            .ttl(600)
            .await
            .unwrap();
        let got = s.get_many(&keys).collection("c").await.unwrap();
        assert_eq!(got, values.iter().cloned().map(Some).collect::<Vec<_>>());
        let listed = s.keys().collection("c").await.unwrap();
        assert_eq!(listed, keys);
        // Duplicates in one call: written once, the last value wins (a transaction may not
        // touch an entity twice).
        let mut dup_keys = keys.clone();
        dup_keys.push("k000".into());
        let mut dup_values = values.clone();
        dup_values.push(object!({"i": "last"}));
        s.put_many(&dup_keys, dup_values)
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            s.get("k000").collection("c").await.unwrap(),
            Some(object!({"i": "last"}))
        );
        // Deleting 250 existing keys plus 30 missing ones and a duplicate: the chunks with a
        // missing key fall back to single deletes, and the count is exact.
        let mut to_delete = keys.clone();
        to_delete.extend((0..30).map(|i| format!("missing{i}")));
        to_delete.push("k001".into());
        assert_eq!(
            s.delete_many(&to_delete).collection("c").await.unwrap(),
            250
        );
        assert!(s.keys().collection("c").await.unwrap().is_empty());
        assert_eq!(s.delete_many(&keys).collection("c").await.unwrap(), 0);

        // Transactions against single requests, for the crate docs (no assertion on time).
        let many: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
        let many_values: Vec<Object> = (0..1000).map(|i| object!({"i": i})).collect();
        let t = Instant::now();
        s.put_many(&many, many_values.clone())
            .collection("timing")
            .await
            .unwrap();
        let batched = t.elapsed();
        let t = Instant::now();
        let singles = AzureTablesConfig::new(&endpoint, common::credential(), &table)
            .open()
            .unwrap();
        let shared = std::sync::Arc::new(singles);
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in many.chunks(63) {
            let (s2, chunk) = (shared.clone(), chunk.to_vec());
            tasks.spawn(async move {
                for k in chunk {
                    s2.put(&k, object!({"i": 0}))
                        .collection("timing2")
                        .await
                        .unwrap();
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        let single = t.elapsed();
        say(&format!(
            "batch_of_250: 1000 puts as 10 transactions: {batched:?}; as 1000 single requests (16 in flight): {single:?}"
        ));
        assert_eq!(s.keys().collection("timing").await.unwrap().len(), 1000);
        assert_eq!(
            s.delete_many(&many).collection("timing").await.unwrap(),
            1000
        );
        s.destroy().await.unwrap();
    });
}

#[test]
fn oversized_values_are_refused_and_nothing_is_written() {
    let test = "oversized";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let s = common::store(&endpoint, &table);
        let big = object!({"data": "x".repeat(MAX_VALUE_CHARS)});
        let err = s.put("big", big.clone()).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
        assert_eq!(err.key(), Some("big"));
        assert_eq!(s.get("big").collection("c").await.unwrap(), None);
        // One oversized value in a batch: nothing of the batch is written.
        let err = s
            .put_many(&["small", "big"], vec![object!({"v": 1}), big])
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
        assert_eq!(err.key(), Some("big"));
        assert_eq!(s.get("small").collection("c").await.unwrap(), None);
        // Non-ASCII counts as its \u escapes (6 characters each), as py-key-value writes it.
        let err = s
            .put("wide", object!({"d": "é".repeat(6_000)}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
        // Just under the limit is stored and read back.
        let fits = object!({"data": "y".repeat(MAX_VALUE_CHARS - 200)});
        s.put("fits", fits.clone())
            .collection("c")
            .ttl(60)
            .await
            .unwrap();
        assert_eq!(s.get("fits").collection("c").await.unwrap(), Some(fits));
        // 40 values of ~31 KB: over 1 MiB in all, split by size into several transactions.
        let keys: Vec<String> = (0..40).map(|i| format!("b{i}")).collect();
        let values: Vec<Object> = (0..40)
            .map(|i| object!({"i": i, "pad": "z".repeat(31_000)}))
            .collect();
        s.put_many(&keys, values.clone())
            .collection("bulk")
            .await
            .unwrap();
        assert_eq!(
            s.get_many(&keys).collection("bulk").await.unwrap(),
            values.into_iter().map(Some).collect::<Vec<_>>()
        );
        s.destroy().await.unwrap();
    });
}

#[test]
fn keys_and_collections_page_past_1000_entities() {
    let test = "paging";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let s = common::store(&endpoint, &table);
        let keys: Vec<String> = (0..1150).map(|i| format!("k{i:05}")).collect();
        let values: Vec<Object> = (0..1150).map(|_| object!({})).collect();
        s.put_many(&keys, values).collection("big").await.unwrap();
        for c in ["aaa", "mmm", "zzz", "it's"] {
            s.put("k", object!({})).collection(c).await.unwrap();
        }
        // An expired-only collection is not listed.
        s.put_entry(
            "expired_only",
            "k",
            ManagedEntry::new(
                object!({}),
                None,
                Some(Timestamp::from_unix_micros(1_000_000)),
            ),
        )
        .await
        .unwrap();
        let listed = s.keys().collection("big").await.unwrap();
        assert_eq!(listed, keys, "all 1150 keys, in order, over two pages");
        assert_eq!(
            s.keys().collection("big").limit(1001).await.unwrap(),
            keys[..1001]
        );
        assert_eq!(
            s.collections().await.unwrap(),
            ["aaa", "big", "it's", "mmm", "zzz"]
        );
        assert_eq!(s.collections().limit(2).await.unwrap(), ["aaa", "big"]);
        assert!(s.destroy_collection("big").await.unwrap());
        assert!(s.keys().collection("big").await.unwrap().is_empty());
        assert!(!s.destroy_collection("big").await.unwrap());
        assert_eq!(
            s.collections().await.unwrap(),
            ["aaa", "it's", "mmm", "zzz"]
        );
        s.destroy().await.unwrap();
    });
}

#[test]
fn odd_keys_round_trip_without_sanitization() {
    let test = "odd_keys";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let s = common::store(&endpoint, &table);
        let keys = [
            "it's",
            "''",
            "100%",
            "%41",
            "a b",
            "a+b",
            "a=b&c",
            "(x),[y]",
            "é🌍中",
            "~!@$^*",
            ":;<>|\"",
            "trailing ",
            " leading",
            "\u{a0}nbsp",
        ];
        for (i, k) in keys.iter().enumerate() {
            s.put(k, object!({"i": i}))
                .collection("c'ol 1")
                .await
                .unwrap();
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                s.get(k).collection("c'ol 1").await.unwrap(),
                Some(object!({"i": i})),
                "{k:?}"
            );
        }
        let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        sorted.sort();
        let mut listed = s.keys().collection("c'ol 1").await.unwrap();
        listed.sort();
        assert_eq!(listed, sorted);
        assert_eq!(s.collections().await.unwrap(), ["c'ol 1"]);
        assert_eq!(
            s.delete_many(&keys).collection("c'ol 1").await.unwrap(),
            keys.len()
        );
        s.destroy().await.unwrap();
    });
}

#[test]
fn sanitized_keys_are_hashed_like_python_and_listed_as_written() {
    let test = "sanitized";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let s = common::config(&endpoint, &table)
            .sanitize(true)
            .open()
            .unwrap();
        let long = "L".repeat(300);
        for (c, k) in [("a/b", "x#y"), ("a/b", long.as_str()), ("plain", "q?")] {
            s.put(k, object!({"k": k})).collection(c).await.unwrap();
        }
        let (pk, rk) = s.destination("a/b", "x#y").unwrap();
        assert_eq!(
            pk,
            "H_c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11"
        );
        assert!(rk.starts_with("H_") && rk.len() == 66);
        let raw = common::raw_client(&endpoint);
        let entity = raw
            .get_entity(&table, &pk, &rk, None)
            .await
            .unwrap()
            .unwrap();
        let doc: Value = serde_json::from_str(entity["Value"].as_str().unwrap()).unwrap();
        assert_eq!(doc["key"], "x#y", "the envelope keeps the user's key");
        assert_eq!(doc["collection"], "a/b");
        let mut listed = s.keys().collection("a/b").await.unwrap();
        listed.sort();
        assert_eq!(listed, [long.clone(), "x#y".to_string()]);
        let mut collections = s.collections().await.unwrap();
        collections.sort();
        assert_eq!(collections, ["a/b", "plain"]);
        let err = s.put("H_mine", object!({})).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        assert!(s.info().capabilities().max_key_length.is_none());
        assert!(s.delete("x#y").collection("a/b").await.unwrap());
        s.destroy().await.unwrap();
    });
}

#[test]
fn expiry_is_a_miss_not_a_delete_and_storage_expiry_wins() {
    let test = "expiry";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let clock = ManualClock::starting_now();
        let s = common::config(&endpoint, &table)
            .clock(clock.clone().into())
            .open()
            .unwrap();
        s.put("short", object!({"v": 1}))
            .collection("c")
            .ttl(0.3)
            .await
            .unwrap();
        s.put("long", object!({"v": 2}))
            .collection("c")
            .ttl(60)
            .await
            .unwrap();
        clock.advance(Duration::from_millis(200));
        // Expiring within the current second: decided from the exact time in the envelope.
        assert_eq!(s.keys().collection("c").await.unwrap(), ["long", "short"]);
        clock.advance(Duration::from_millis(200));
        assert_eq!(s.get("short").collection("c").await.unwrap(), None);
        assert_eq!(s.keys().collection("c").await.unwrap(), ["long"]);
        let raw = common::raw_client(&endpoint);
        assert!(
            raw.get_entity(&table, "c", "short", None)
                .await
                .unwrap()
                .is_some(),
            "a read does not delete (as in py-key-value)"
        );
        // ExpiresAt in storage overrides the envelope (py-key-value's rule): an entity whose
        // envelope never expires but whose ExpiresAt is past is a miss.
        let entry = ManagedEntry::new(object!({"v": 3}), None, None);
        let body = json!({
            "PartitionKey": "c", "RowKey": "overridden",
            "Value": Envelope::WITH_KEY.dump(&entry, "c", "overridden"),
            "ExpiresAt": "1000", "ExpiresAt@odata.type": "Edm.Int64",
        });
        raw.upsert_entity(&table, "c", "overridden", &body.to_string())
            .await
            .unwrap();
        assert_eq!(s.get("overridden").collection("c").await.unwrap(), None);
        assert_eq!(
            s.get_entry("c", "overridden")
                .await
                .unwrap()
                .unwrap()
                .expires_at,
            Some(Timestamp::from_unix_micros(1_000_000_000))
        );
        // An entity without Value is a miss (py-key-value's rule).
        raw.upsert_entity(
            &table,
            "c",
            "novalue",
            r#"{"PartitionKey": "c", "RowKey": "novalue", "Other": "x"}"#,
        )
        .await
        .unwrap();
        assert_eq!(s.get("novalue").collection("c").await.unwrap(), None);
        // cull deletes what expired, and only that.
        clock.advance(Duration::from_secs(2));
        assert_eq!(s.cull_expired().await.unwrap(), 2);
        assert!(
            raw.get_entity(&table, "c", "short", None)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            raw.get_entity(&table, "c", "overridden", None)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            s.get("long").collection("c").await.unwrap(),
            Some(object!({"v": 2}))
        );
        s.destroy().await.unwrap();
    });
}

#[test]
fn a_table_dropped_behind_the_stores_back_is_created_again() {
    let test = "dropped";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let s = common::store(&endpoint, &table);
        s.put("k", object!({"v": 1})).await.unwrap();
        let raw = common::raw_client(&endpoint);
        assert!(raw.delete_table(&table).await.unwrap());
        assert_eq!(s.get("k").await.unwrap(), None);
        assert!(!s.delete("k").await.unwrap());
        assert!(s.keys().await.unwrap().is_empty());
        assert!(s.collections().await.unwrap().is_empty());
        s.cull().await.unwrap();
        assert_eq!(s.delete_many(&["a", "b"]).await.unwrap(), 0);
        s.put("k", object!({"v": 2})).await.unwrap();
        assert_eq!(s.get("k").await.unwrap(), Some(object!({"v": 2})));
        assert!(raw.delete_table(&table).await.unwrap());
        s.put_many(&["a", "b"], vec![object!({}), object!({})])
            .await
            .unwrap();
        assert_eq!(s.keys().await.unwrap(), ["a", "b"]);
        assert!(s.destroy().await.unwrap());
        assert!(!s.destroy().await.unwrap());
    });
}

#[test]
fn auto_create_off_reads_nothing_and_refuses_writes() {
    let test = "no_auto_create";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let s = common::config(&endpoint, &table)
            .auto_create(false)
            .open()
            .unwrap();
        assert_eq!(s.get("k").await.unwrap(), None);
        let err = s.put("k", object!({})).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
        assert!(err.to_string().contains("auto_create"), "{err}");
        let raw = common::raw_client(&endpoint);
        assert!(raw.create_table(&table).await.unwrap());
        assert!(
            !raw.create_table(&table).await.unwrap(),
            "already exists is not an error"
        );
        s.put("k", object!({"v": 1})).await.unwrap();
        assert_eq!(s.get("k").await.unwrap(), Some(object!({"v": 1})));
        assert!(s.destroy().await.unwrap());
    });
}

#[test]
fn every_way_to_configure_it_reaches_azurite() {
    let test = "configure";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let mut stores: Vec<(&str, AzureTablesStore)> = Vec::new();
        let cs = format!(
            "DefaultEndpointsProtocol=http;AccountName={DEVELOPMENT_ACCOUNT};AccountKey={DEVELOPMENT_ACCOUNT_KEY};TableEndpoint={endpoint};"
        );
        stores.push((
            "connection string",
            AzureTablesStore::from_connection_string(&cs, &table).unwrap(),
        ));
        if let Ok(from_env) = std::env::var("KV_AZURITE_CONNECTION_STRING") {
            stores.push((
                "KV_AZURITE_CONNECTION_STRING",
                AzureTablesStore::from_connection_string(&from_env, &table).unwrap(),
            ));
        }
        let url = reqwest_url(&endpoint);
        let key = DEVELOPMENT_ACCOUNT_KEY
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let store_url = format!(
            "azure-tables://{DEVELOPMENT_ACCOUNT}:{key}@{}{}/{table}?tls=false&concurrency=4",
            url.0, url.1
        );
        stores.push(("URL", AzureTablesStore::from_url(&store_url).unwrap()));
        stores.push((
            "URL, Shared Key Lite",
            AzureTablesStore::from_url(&format!("{store_url}&auth=shared_key_lite")).unwrap(),
        ));
        stores.push((
            "builder, Shared Key Lite",
            AzureTablesConfig::new(&endpoint, common::credential().into_lite(), &table)
                .open()
                .unwrap(),
        ));
        let parsed = AzureTablesConfig::from_url(&StoreUrl::parse(&store_url).unwrap()).unwrap();
        assert!(!format!("{parsed:?}").contains("Eby8"), "{parsed:?}");
        for (i, (how, s)) in stores.iter().enumerate() {
            let key = format!("k{i}");
            s.put(&key, object!({"how": *how}))
                .collection("c")
                .await
                .unwrap_or_else(|e| panic!("{how}: {e}"));
            for (_, other) in &stores {
                assert_eq!(
                    other.get(&key).collection("c").await.unwrap(),
                    Some(object!({"how": *how})),
                    "{how}"
                );
            }
        }
        assert!(stores[0].1.destroy().await.unwrap());
    });
}

/// `(host:port, path)` of an endpoint URL.
fn reqwest_url(endpoint: &str) -> (String, String) {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    match rest.split_once('/') {
        Some((host, path)) => (host.to_string(), format!("/{path}")),
        None => (rest.to_string(), String::new()),
    }
}

#[test]
fn closed_store_and_errors_carry_context() {
    let test = "context";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    run(async move {
        let s = common::store(&endpoint, &table);
        let err = s
            .put("a#b", object!({}))
            .collection("users")
            .await
            .unwrap_err();
        assert_eq!(
            (err.operation(), err.collection(), err.key()),
            (Some("put"), Some("users"), Some("a#b"))
        );
        s.close().await.unwrap();
        let err = s.keys().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed);
        let err = s.cull().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed);
        let _ = common::raw_client(&endpoint).delete_table(&table).await;
    });
}

//! PostgreSQLStore beyond the conformance suite, against the server of
//! `services/postgresql/start` (`KV_POSTGRES_URL`): the raw row layout, created_at kept on
//! overwrite, schema and index names, auto_create off, the caller's pool, single-statement
//! batches (counted with pg_stat_statements), bounded cull, destroy limited to the store's
//! table, key limits, NUL characters. Tests without a server come first.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::entry::ManagedEntry;
use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_postgresql::{
    PostgreSQLConfig, PostgreSQLStore, TableName, TlsMode, decode_value, encode_value,
};
use key_value_testkit::run;

fn config(url: &str, table: &str) -> PostgreSQLConfig {
    PostgreSQLConfig::from_url(&StoreUrl::parse(url).unwrap())
        .unwrap()
        .table(table)
        .pool_size(4)
}

// ---------------------------------------------------------------- without a server

#[test]
fn url_options_parse_and_unknown_ones_are_rejected() {
    let url = StoreUrl::parse(
        "postgres://app:s3cr%40t@db.example:6432/cache?sslmode=require&table=My_Table&auto_create=false&pool_size=3&statement_cache=false&connect_timeout=2&timeout=3&cull_batch_size=500&default_collection=dc",
    )
    .unwrap();
    let c = PostgreSQLConfig::from_url(&url).unwrap();
    assert_eq!(c.table_name().name(), "my_table");
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cr"), "{debug}");
    assert!(
        debug.contains("db.example") && debug.contains("6432"),
        "{debug}"
    );
    let store = c.open().unwrap();
    assert_eq!(store.info().default_collection(), "dc");
    assert!(!format!("{store:?}").contains("s3cr"));

    for bad in [
        "postgresql://h/db?tabel=x",
        "postgresql://h/db?table=x;drop",
        "postgresql://h/db?table=1abc",
        "postgresql://h/db?sslmode=maybe",
        "postgresql://h/db?pool_size=0",
        "postgresql://h/a/b",
        "mysql://h/db",
    ] {
        let err = PostgreSQLConfig::from_url(&StoreUrl::parse(bad).unwrap())
            .and_then(|c| c.open())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}: {err}");
    }
    let err = PostgreSQLStore::from_url("postgresql://u:hunter2@h/db?table=a-b").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn table_names_are_validated_folded_and_quoted() {
    assert_eq!(TableName::new("KV_Store").unwrap().quoted(), "\"kv_store\"");
    assert_eq!(
        TableName::new("kv_store").unwrap().index_name(),
        "idx_kv_store_expires_at"
    );
    let long = "a".repeat(63);
    let idx = TableName::new(&long).unwrap().index_name();
    assert!(
        idx.starts_with("idx_") && idx.ends_with("_exp") && idx.len() == 24,
        "{idx}"
    );
    for bad in ["", "a b", "a\"b", "kv;drop table x", "é", &"a".repeat(64)] {
        assert_eq!(
            TableName::new(bad).unwrap_err().kind(),
            ErrorKind::Config,
            "{bad}"
        );
    }
    assert_eq!(
        PostgreSQLConfig::new()
            .table("x y")
            .open()
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
}

#[test]
fn tls_modes_build_without_a_server() {
    for mode in [TlsMode::Disable, TlsMode::Prefer, TlsMode::Require] {
        PostgreSQLConfig::new().tls(mode).open().unwrap();
    }
    let err = PostgreSQLConfig::new()
        .root_cert("/nonexistent/ca.pem")
        .tls(TlsMode::Require)
        .open()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn values_with_nul_are_escaped_reversibly() {
    let plain = object!({"a": "b"});
    assert_eq!(encode_value(&plain), r#"{"a": "b"}"#);
    for v in [
        object!({"v": "nul \u{0} here"}),
        object!({"__key_value_escaped__": "looks like one"}),
        object!({"v": "backslash-u \\u0000 text"}),
        plain.clone(),
    ] {
        assert_eq!(decode_value(&encode_value(&v)).unwrap(), v);
        assert!(!encode_value(&v).contains('\0'));
    }
}

// ---------------------------------------------------------------- with the server

#[test]
fn rows_have_python_layout_and_created_at_survives_overwrite() {
    let test = "raw_rows";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let clock =
            ManualClock::new(Timestamp::parse_iso("2026-01-02T03:04:05.123456+00:00").unwrap());
        let store = config(&url, &table)
            .clock(clock.clone().into())
            .open()
            .unwrap();
        store
            .put("user:1", object!({"name": "Alice", "age": 30}))
            .collection("users")
            .ttl(3600)
            .await
            .unwrap();
        store
            .put("plain", object!({"b": [1, 2.5, null], "a": "ü"}))
            .collection("users")
            .await
            .unwrap();
        let raw = common::raw_client(&url).await;
        let row = raw
            .query_one(
                &format!(
                    "SELECT value::text, jsonb_typeof(value), ttl, \
                     (extract(epoch from created_at) * 1000000)::bigint, \
                     (extract(epoch from expires_at) * 1000000)::bigint \
                     FROM \"{table}\" WHERE collection = 'users' AND key = 'user:1'"
                ),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), r#"{"age": 30, "name": "Alice"}"#);
        assert_eq!(row.get::<_, String>(1), "object");
        assert_eq!(row.get::<_, Option<f64>>(2), Some(3600.0));
        let created = Timestamp::parse_iso("2026-01-02T03:04:05.123456+00:00").unwrap();
        assert_eq!(row.get::<_, i64>(3), created.unix_micros());
        assert_eq!(row.get::<_, i64>(4), created.unix_micros() + 3_600_000_000);
        let row = raw
            .query_one(
                &format!("SELECT value::text, ttl, expires_at IS NULL FROM \"{table}\" WHERE key = 'plain'"),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            row.get::<_, String>(0),
            r#"{"a": "ü", "b": [1, 2.5, null]}"#
        );
        assert_eq!(row.get::<_, Option<f64>>(1), None);
        assert!(row.get::<_, bool>(2));

        // Overwrite 10 s later with a new TTL: value, ttl and expires_at change, created_at not.
        clock.advance(Duration::from_secs(10));
        store
            .put("user:1", object!({"v": 2}))
            .collection("users")
            .ttl(60)
            .await
            .unwrap();
        let entry = store.get_entry("users", "user:1").await.unwrap().unwrap();
        assert_eq!(entry.created_at, Some(created));
        assert_eq!(entry.value, object!({"v": 2}));
        assert_eq!(
            entry.expires_at,
            Some(created.saturating_add(Duration::from_secs(70)))
        );
        // The ttl column: the remaining seconds at write time (as Python writes it).
        let entry = ManagedEntry::new(
            object!({}),
            Some(created),
            Some(created.saturating_add(Duration::from_secs(100))),
        );
        store.put_entry("users", "old", entry).await.unwrap();
        let ttl: Option<f64> = raw
            .query_one(
                &format!("SELECT ttl FROM \"{table}\" WHERE key = 'old'"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(ttl, Some(90.0));
        let indexes: Vec<String> = raw
            .query(
                "SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
                &[&table],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            indexes.contains(&TableName::new(&table).unwrap().index_name()),
            "{indexes:?}"
        );
        raw.batch_execute(&format!("DROP TABLE \"{table}\""))
            .await
            .unwrap();
    });
}

#[test]
fn auto_create_off_needs_the_table() {
    let test = "auto_create_off";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let store = config(&url, &table).auto_create(false).open().unwrap();
        let err = store.get("k").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
        assert!(!err.is_temporary());
        // Once someone creates it (here: a store with auto_create), the same store works.
        config(&url, &table)
            .open()
            .unwrap()
            .put("k", object!({"v": 1}))
            .await
            .unwrap();
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
        // A table dropped behind the store's back is a Setup error, not a mystery.
        common::raw_client(&url)
            .await
            .batch_execute(&format!("DROP TABLE \"{table}\""))
            .await
            .unwrap();
        assert_eq!(store.get("k").await.unwrap_err().kind(), ErrorKind::Setup);
    });
}

#[test]
fn concurrent_first_use_creates_the_table_once() {
    let test = "concurrent_create";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = config(&url, &table).open().unwrap();
            tasks.spawn(async move {
                store
                    .put(&format!("k{i}"), object!({"i": i}))
                    .await
                    .unwrap();
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        let store = config(&url, &table).open().unwrap();
        assert_eq!(store.keys().await.unwrap().len(), 8);
        common::raw_client(&url)
            .await
            .batch_execute(&format!("DROP TABLE \"{table}\""))
            .await
            .unwrap();
    });
}

#[test]
fn the_callers_pool_is_not_closed() {
    let test = "callers_pool";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let pg: tokio_postgres::Config = url.parse().unwrap();
        let manager = deadpool_postgres::Manager::new(pg, tokio_postgres::NoTls);
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(2)
            .build()
            .unwrap();
        let store = PostgreSQLConfig::from_pool(pool.clone())
            .table(&table)
            .open()
            .unwrap();
        store.put("k", object!({"v": 1})).await.unwrap();
        store.close().await.unwrap();
        assert_eq!(store.get("k").await.unwrap_err().kind(), ErrorKind::Closed);
        assert!(!pool.is_closed());
        let client = pool.get().await.unwrap();
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
        client
            .batch_execute(&format!("DROP TABLE \"{table}\""))
            .await
            .unwrap();
        // A store with its own pool closes it.
        let own = config(&url, &table).open().unwrap();
        own.close().await.unwrap();
        assert!(own.pool().is_closed());
    });
}

/// The calls pg_stat_statements counted for the statements on `table` that start with `verb`.
async fn calls(raw: &tokio_postgres::Client, table: &str, verb: &str) -> i64 {
    raw.query_one(
        "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements \
         WHERE query LIKE $1 AND query LIKE $2",
        &[&format!("{verb}%"), &format!("%\"{table}\"%")],
    )
    .await
    .unwrap()
    .get(0)
}

fn batches_are_single_statements(statement_cache: bool) {
    let test = "single_statements";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let store = config(&url, &table)
            .statement_cache(statement_cache)
            .open()
            .unwrap();
        let raw = common::raw_client(&url).await;
        // Warm up: the table set-up and the first prepare are not what is measured.
        store.put("warm", object!({})).await.unwrap();
        let keys: Vec<String> = (0..500).map(|i| format!("key_{i}")).collect();
        let values: Vec<Object> = (0..500).map(|i| object!({"i": i})).collect();

        let (insert0, select0, delete0) = (
            calls(&raw, &table, "INSERT").await,
            calls(&raw, &table, "SELECT").await,
            calls(&raw, &table, "DELETE").await,
        );
        store
            .put_many(&keys, values.clone())
            .ttl(600)
            .await
            .unwrap();
        assert_eq!(
            calls(&raw, &table, "INSERT").await - insert0,
            1,
            "put_many of 500"
        );
        let got = store.get_many(&keys).await.unwrap();
        assert_eq!(got.iter().filter(|v| v.is_some()).count(), 500);
        assert_eq!(
            calls(&raw, &table, "SELECT").await - select0,
            1,
            "get_many of 500"
        );
        let ttls = store.ttl_many(&keys).await.unwrap();
        assert_eq!(ttls.len(), 500);
        assert_eq!(
            calls(&raw, &table, "SELECT").await - select0,
            2,
            "ttl_many of 500"
        );
        assert_eq!(store.delete_many(&keys).await.unwrap(), 500);
        assert_eq!(
            calls(&raw, &table, "DELETE").await - delete0,
            1,
            "delete_many of 500"
        );
        // Nothing else ran on the table.
        assert_eq!(calls(&raw, &table, "INSERT").await - insert0, 1);
        raw.batch_execute(&format!("DROP TABLE \"{table}\""))
            .await
            .unwrap();
    });
}

#[test]
fn batches_are_single_statements_with_cached_statements() {
    batches_are_single_statements(true);
}

#[test]
fn batches_are_single_statements_in_pgbouncer_mode() {
    batches_are_single_statements(false);
}

#[test]
fn cull_deletes_in_bounded_batches() {
    let test = "bounded_cull";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let clock = ManualClock::starting_now();
        let store = config(&url, &table)
            .cull_batch_size(7)
            .clock(clock.clone().into())
            .open()
            .unwrap();
        let raw = common::raw_client(&url).await;
        let keys: Vec<String> = (0..50).map(|i| format!("old_{i}")).collect();
        store
            .put_many(&keys, vec![object!({}); 50])
            .ttl(1)
            .await
            .unwrap();
        store
            .put_many(&["live1", "live2"], vec![object!({}); 2])
            .await
            .unwrap();
        store.put("later", object!({})).ttl(3600).await.unwrap();
        clock.advance(Duration::from_secs(5));
        let before = calls(&raw, &table, "DELETE").await;
        assert_eq!(store.cull_expired().await.unwrap(), 50);
        // 7 full batches and a last one of 1.
        assert_eq!(calls(&raw, &table, "DELETE").await - before, 8);
        let left: i64 = raw
            .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 3);
        assert_eq!(store.cull_expired().await.unwrap(), 0);
        raw.batch_execute(&format!("DROP TABLE \"{table}\""))
            .await
            .unwrap();
    });
}

#[test]
fn destroy_touches_only_the_stores_table() {
    let test = "destroy_own_table";
    let Some(url) = common::url(test) else { return };
    let ns = common::unique(test);
    let (t1, t2) = (
        common::table_for(&format!("{ns}_a")),
        common::table_for(&format!("{ns}_b")),
    );
    run(async move {
        let a = config(&url, &t1).open().unwrap();
        let b = config(&url, &t2).open().unwrap();
        a.put("k", object!({"v": 1}))
            .collection("c1")
            .await
            .unwrap();
        b.put("k", object!({"v": 2}))
            .collection("c1")
            .await
            .unwrap();
        assert!(a.destroy().await.unwrap());
        assert!(!a.destroy().await.unwrap());
        assert_eq!(a.get("k").collection("c1").await.unwrap(), None);
        assert_eq!(
            b.get("k").collection("c1").await.unwrap(),
            Some(object!({"v": 2}))
        );
        assert_eq!(b.collections().await.unwrap(), vec!["c1".to_string()]);
        let raw = common::raw_client(&url).await;
        raw.batch_execute(&format!("DROP TABLE \"{t1}\"; DROP TABLE \"{t2}\""))
            .await
            .unwrap();
    });
}

#[test]
fn keys_are_sorted_and_limited_and_long_or_nul_keys_are_rejected() {
    let test = "keys_and_limits";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let store = config(&url, &table).open().unwrap();
        for k in ["b", "a", "d", "c"] {
            store.put(k, object!({})).collection("c").await.unwrap();
        }
        assert_eq!(
            store.keys().collection("c").await.unwrap(),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            store.keys().collection("c").limit(2).await.unwrap(),
            ["a", "b"]
        );
        // 2600 bytes together fit; one more does not, and nothing is sent.
        let key = "k".repeat(2599);
        store
            .put(&key, object!({"v": 1}))
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            store.get(&key).collection("c").await.unwrap(),
            Some(object!({"v": 1}))
        );
        let err = store
            .put(&format!("{key}k"), object!({}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        let err = store
            .put("a\0b", object!({}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        // A value with NUL round-trips (JSONB cannot hold it as is).
        let v = object!({"s": "x\u{0}y"});
        store.put("nul", v.clone()).collection("c").await.unwrap();
        assert_eq!(store.get("nul").collection("c").await.unwrap(), Some(v));
        common::raw_client(&url)
            .await
            .batch_execute(&format!("DROP TABLE \"{table}\""))
            .await
            .unwrap();
    });
}

/// Whether the store's connections are encrypted (pg_stat_ssl of its own backend).
async fn encrypted(store: &PostgreSQLStore) -> bool {
    let client = store.pool().get().await.unwrap();
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[test]
fn tls_follows_libpq_sslmodes() {
    let test = "tls_sslmodes";
    let Some(url) = common::url(test) else { return };
    let Some(ca) = key_value_testkit::service::service_env("KV_POSTGRES_TLS_CA", test) else {
        return;
    };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let base = url.split('?').next().unwrap().to_string();
        let with = |query: &str| {
            PostgreSQLStore::from_url(&format!("{base}?table={table}&pool_size=1&{query}")).unwrap()
        };
        // Verified, by IP address and by host name (the certificate names both).
        for q in [
            format!("sslmode=verify-full&sslrootcert={ca}"),
            format!("sslmode=verify-ca&sslrootcert={ca}"),
            format!("sslmode=require&sslrootcert={ca}"),
            "sslmode=require".to_string(),
            "sslmode=prefer".to_string(),
        ] {
            let store = with(&q);
            store.put("k", object!({"v": 1})).await.unwrap();
            assert_eq!(
                store.get("k").await.unwrap(),
                Some(object!({"v": 1})),
                "{q}"
            );
            assert!(encrypted(&store).await, "{q}");
        }
        let by_name = PostgreSQLStore::from_url(&format!(
            "{}?table={table}&sslmode=verify-full&sslrootcert={ca}",
            base.replace("127.0.0.1", "localhost")
        ))
        .unwrap();
        assert_eq!(by_name.get("k").await.unwrap(), Some(object!({"v": 1})));
        let plain = with("sslmode=disable");
        assert_eq!(plain.get("k").await.unwrap(), Some(object!({"v": 1})));
        assert!(!encrypted(&plain).await);
        // The system's roots do not know the test CA: a connection error, not worth retrying.
        let err = with("sslmode=verify-full").get("k").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        assert!(!err.is_temporary(), "{err}");
        plain.destroy().await.unwrap();
        common::raw_client(&url)
            .await
            .batch_execute(&format!("DROP TABLE \"{table}\""))
            .await
            .unwrap();
    });
}

//! MySqlStore beyond the conformance suite, against the MariaDB of `services/mariadb/start`
//! (`KV_MYSQL_URL`): the raw row layout, created_at kept on overwrite, exact byte keys, key
//! limits, auto_create off, the caller's pool, single-statement batches (counted with
//! `SHOW SESSION STATUS`), bounded cull, destroy limited to the store's table. Tests without a
//! server come first.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_mysql::mysql_async::prelude::Queryable;
use key_value_mysql::{MAX_COLLECTION_LENGTH, MAX_KEY_LENGTH, MySqlConfig, MySqlStore, TableName};
use key_value_testkit::run;

fn config(url: &str, table: &str) -> MySqlConfig {
    MySqlConfig::from_url(&StoreUrl::parse(url).unwrap())
        .unwrap()
        .table(table)
        .pool_size(4)
}

#[test]
fn url_options_parse_and_unknown_ones_are_rejected() {
    let url = StoreUrl::parse(
        "mysql://app:s3cr%40t@db.example:3307/app?table=My_Table&auto_create=false&pool_size=3&timeout=2&cull_batch_size=9&default_collection=dc&ssl=true",
    )
    .unwrap();
    let c = MySqlConfig::from_url(&url).unwrap();
    assert_eq!(c.table_name().name(), "my_table");
    assert!(!format!("{c:?}").contains("s3cr"));
    let store = c.open().unwrap();
    assert_eq!(store.info().default_collection(), "dc");
    assert!(!format!("{store:?}").contains("s3cr"));
    let caps = *store.info().capabilities();
    assert_eq!(caps.max_key_length, Some(512));
    assert_eq!(caps.max_collection_length, Some(256));
    for bad in [
        "mysql://h/db?tabel=x",
        "mysql://h/db?table=x`y",
        "mysql://h/db?pool_size=0",
        "mysql://h/a/b",
        "mysql://h",
        "postgresql://h/db",
    ] {
        let err = MySqlConfig::from_url(&StoreUrl::parse(bad).unwrap())
            .and_then(|c| c.open())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}: {err}");
    }
    assert!(TableName::new(&"a".repeat(65)).is_err());
}

#[test]
fn rows_layout_exact_keys_and_created_at_kept() {
    let test = "raw_rows";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let created = Timestamp::parse_iso("2026-01-02T03:04:05.123456+00:00").unwrap();
        let clock = ManualClock::new(created);
        let store = config(&url, &table)
            .clock(clock.clone().into())
            .open()
            .unwrap();
        store
            .put(
                "user:1",
                object!({"name": "Alice", "age": 30, "city": "Zürich"}),
            )
            .collection("users")
            .ttl(3600)
            .await
            .unwrap();
        let raw = common::raw_pool(&url);
        let mut conn = raw.get_conn().await.unwrap();
        let row: (String, Option<f64>, Option<i64>, Option<i64>) = conn
            .query_first(format!(
                "SELECT CAST(`value` AS CHAR), `ttl`, `created_at`, `expires_at` FROM `{table}` \
                 WHERE `collection` = 'users' AND `key` = 'user:1'"
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.0,
            r#"{"age": 30, "city": "Z\u00fcrich", "name": "Alice"}"#
        );
        assert_eq!(row.1, Some(3600.0));
        assert_eq!(row.2, Some(created.unix_micros()));
        assert_eq!(row.3, Some(created.unix_micros() + 3_600_000_000));
        clock.advance(Duration::from_secs(10));
        store
            .put("user:1", object!({"v": 2}))
            .collection("users")
            .await
            .unwrap();
        let entry = store.get_entry("users", "user:1").await.unwrap().unwrap();
        assert_eq!(
            entry.created_at,
            Some(created),
            "created_at kept on overwrite"
        );
        assert_eq!(entry.expires_at, None);
        // Keys are exact bytes: case, accents and trailing spaces all count.
        for (i, k) in ["a", "A", "a ", "á", "😀"].iter().enumerate() {
            store
                .put(k, object!({"i": i}))
                .collection("exact")
                .await
                .unwrap();
        }
        for (i, k) in ["a", "A", "a ", "á", "😀"].iter().enumerate() {
            assert_eq!(
                store.get(k).collection("exact").await.unwrap(),
                Some(object!({"i": i}))
            );
        }
        assert_eq!(store.keys().collection("exact").await.unwrap().len(), 5);
        // The declared limits hold for 4-byte characters.
        let key = "😀".repeat(MAX_KEY_LENGTH);
        let col = "😀".repeat(MAX_COLLECTION_LENGTH);
        store
            .put(&key, object!({"v": 1}))
            .collection(&col)
            .await
            .unwrap();
        assert_eq!(
            store.get(&key).collection(&col).await.unwrap(),
            Some(object!({"v": 1}))
        );
        let err = store
            .put(&format!("{key}x"), object!({}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        let err = store
            .put("k", object!({}))
            .collection(&format!("{col}x"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCollection);
        conn.query_drop(format!("DROP TABLE `{table}`"))
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
        config(&url, &table)
            .open()
            .unwrap()
            .put("k", object!({"v": 1}))
            .await
            .unwrap();
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
        let raw = common::raw_pool(&url);
        raw.get_conn()
            .await
            .unwrap()
            .query_drop(format!("DROP TABLE `{table}`"))
            .await
            .unwrap();
        assert_eq!(store.get("k").await.unwrap_err().kind(), ErrorKind::Setup);
    });
}

async fn status(conn: &mut key_value_mysql::mysql_async::Conn, name: &str) -> u64 {
    let row: Option<(String, u64)> = conn
        .query_first(format!("SHOW SESSION STATUS LIKE '{name}'"))
        .await
        .unwrap();
    row.unwrap().1
}

#[test]
fn batches_are_single_statements() {
    let test = "single_statements";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    run(async move {
        // The caller's pool of one connection: every statement of the store runs on it, and its
        // session counters are read on the same connection between calls.
        let opts = key_value_mysql::mysql_async::OptsBuilder::from_opts(
            key_value_mysql::mysql_async::Opts::from_url(&url).unwrap(),
        )
        .prefer_socket(false)
        .pool_opts(
            key_value_mysql::mysql_async::PoolOpts::default()
                .with_constraints(key_value_mysql::mysql_async::PoolConstraints::new(1, 1).unwrap())
                .with_reset_connection(false),
        );
        let pool = key_value_mysql::mysql_async::Pool::new(opts);
        let store = MySqlConfig::from_pool(pool.clone())
            .table(&table)
            .open()
            .unwrap();
        store.put("warm", object!({})).await.unwrap();
        let keys: Vec<String> = (0..1000).map(|i| format!("key_{i}")).collect();
        let values: Vec<Object> = (0..1000).map(|i| object!({"i": i})).collect();

        let counters = || async {
            let mut conn = pool.get_conn().await.unwrap();
            (
                status(&mut conn, "Com_stmt_execute").await,
                status(&mut conn, "Com_stmt_prepare").await,
            )
        };
        for round in 0..2 {
            let (e0, p0) = counters().await;
            store
                .put_many(&keys, values.clone())
                .ttl(600)
                .await
                .unwrap();
            let (e1, p1) = counters().await;
            assert_eq!(e1 - e0, 1, "put_many of 1000: one statement");
            let got = store.get_many(&keys).await.unwrap();
            assert_eq!(got.iter().filter(|v| v.is_some()).count(), 1000);
            let (e2, p2) = counters().await;
            assert_eq!(e2 - e1, 1, "get_many of 1000: one statement");
            assert_eq!(store.delete_many(&keys).await.unwrap(), 1000);
            let (e3, p3) = counters().await;
            assert_eq!(e3 - e2, 1, "delete_many of 1000: one statement");
            if round == 0 {
                // Prepared once per connection ...
                assert_eq!((p1 - p0, p2 - p1, p3 - p2), (1, 1, 1));
            } else {
                // ... and then only executed: one round trip each.
                assert_eq!((p1 - p0, p2 - p1, p3 - p2), (0, 0, 0));
            }
        }
        // 1000 and 1024 keys share the padded statement (no new prepare).
        let more: Vec<String> = (0..1024).map(|i| format!("key_{i}")).collect();
        let (_, p0) = counters().await;
        store.get_many(&more).await.unwrap();
        let (_, p1) = counters().await;
        assert_eq!(p1 - p0, 0);
        pool.get_conn()
            .await
            .unwrap()
            .query_drop(format!("DROP TABLE `{table}`"))
            .await
            .unwrap();
        store.close().await.unwrap();
        // The caller's pool still works after the store closed.
        pool.get_conn()
            .await
            .unwrap()
            .query_drop("SELECT 1")
            .await
            .unwrap();
        pool.disconnect().await.unwrap();
    });
}

#[test]
fn cull_deletes_in_bounded_batches_and_destroy_touches_only_its_table() {
    let test = "cull_and_destroy";
    let Some(url) = common::url(test) else { return };
    let ns = common::unique(test);
    let (t1, t2) = (
        common::table_for(&format!("{ns}_a")),
        common::table_for(&format!("{ns}_b")),
    );
    run(async move {
        let clock = ManualClock::starting_now();
        let a: MySqlStore = config(&url, &t1)
            .cull_batch_size(7)
            .clock(clock.clone().into())
            .open()
            .unwrap();
        let b = config(&url, &t2).open().unwrap();
        let keys: Vec<String> = (0..50).map(|i| format!("old_{i}")).collect();
        a.put_many(&keys, vec![object!({}); 50])
            .ttl(1)
            .await
            .unwrap();
        a.put("live", object!({})).await.unwrap();
        a.put("later", object!({})).ttl(3600).await.unwrap();
        b.put("k", object!({"v": 2})).await.unwrap();
        clock.advance(Duration::from_secs(5));
        assert_eq!(a.cull_expired().await.unwrap(), 50);
        assert_eq!(a.cull_expired().await.unwrap(), 0);
        let mut left = a.keys().await.unwrap();
        left.sort();
        assert_eq!(left, ["later", "live"]);
        assert!(a.destroy().await.unwrap());
        assert!(!a.destroy().await.unwrap());
        assert_eq!(b.get("k").await.unwrap(), Some(object!({"v": 2})));
        let raw = common::raw_pool(&url);
        raw.get_conn()
            .await
            .unwrap()
            .query_drop(format!("DROP TABLE `{t1}`, `{t2}`"))
            .await
            .unwrap();
    });
}

#[test]
fn tls_with_the_servers_ca() {
    let test = "mysql_tls";
    let Some(url) = common::url(test) else { return };
    let Some(ca) = key_value_testkit::service::service_env("KV_MYSQL_TLS_CA", test) else {
        return;
    };
    let table = common::table_for(&common::unique(test));
    run(async move {
        let store =
            MySqlStore::from_url(&format!("{url}?table={table}&ssl_ca={ca}&pool_size=1")).unwrap();
        store.put("k", object!({"v": 1})).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
        let mut conn = store.pool().get_conn().await.unwrap();
        let cipher: Option<(String, String)> = conn
            .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            .await
            .unwrap();
        assert!(!cipher.unwrap().1.is_empty(), "the connection is encrypted");
        drop(conn);
        // Without the CA the certificate does not verify: a connection error.
        let err = MySqlStore::from_url(&format!("{url}?table={table}&ssl=true&timeout=5"))
            .unwrap()
            .get("k")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        assert!(!err.is_temporary(), "{err}");
        store.destroy().await.unwrap();
        let raw = common::raw_pool(&url);
        raw.get_conn()
            .await
            .unwrap()
            .query_drop(format!("DROP TABLE `{table}`"))
            .await
            .unwrap();
    });
}

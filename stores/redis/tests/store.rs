//! RedisStore beyond the conformance suite, on the shared plain redis-server: prefixes and
//! glob escaping, destroy touching only this store's keys, millisecond expiry on the key,
//! SCAN paging to the end, corrupt values, the user's own client, URLs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::prelude::*;
use key_value_redis::{RedisConfig, RedisStore, escape_glob, redis};
use key_value_testkit::Fixture;
use key_value_testkit::service::service_env;

fn store(test: &str, prefix: &str) -> Option<RedisStore> {
    let url = service_env("KV_REDIS_URL", test)?;
    let fx = Fixture::system(test);
    Some(
        RedisConfig::from_url(&StoreUrl::parse(&url).unwrap())
            .unwrap()
            .key_prefix(format!("{}:{prefix}", fx.namespace()))
            .open()
            .unwrap(),
    )
}

#[test]
fn glob_characters_in_collections_are_escaped() {
    assert_eq!(escape_glob(r"a*b?c[d]\e"), r"a\*b\?c\[d\]\\e");
    let Some(s) = store("glob_escaping", "") else {
        return;
    };
    key_value_testkit::run(async move {
        for c in ["a*", "a?", "a[x]", "ab", "ax", "a\\"] {
            s.put("k", object!({})).collection(c).await.unwrap();
        }
        for c in ["a*", "a?", "a[x]", "ab", "a\\"] {
            assert_eq!(s.keys().collection(c).await.unwrap(), vec!["k"], "{c}");
        }
        let mut cols = s.collections().await.unwrap();
        cols.sort();
        assert_eq!(cols, vec!["a*", "a?", "a[x]", "a\\", "ab", "ax"]);
        assert!(s.destroy_collection("a*").await.unwrap());
        assert_eq!(
            s.get("k").collection("ab").await.unwrap(),
            Some(object!({}))
        );
        s.destroy().await.unwrap();
    });
}

#[test]
fn destroy_touches_only_this_prefix() {
    let Some(a) = store("destroy_prefix", "a:") else {
        return;
    };
    let b = store("destroy_prefix", "b:").unwrap();
    key_value_testkit::run(async move {
        a.put("k", object!({"v": 1})).collection("c").await.unwrap();
        b.put("k", object!({"v": 2})).collection("c").await.unwrap();
        assert!(a.destroy().await.unwrap());
        assert!(!a.destroy().await.unwrap());
        assert_eq!(a.get("k").collection("c").await.unwrap(), None);
        assert_eq!(
            b.get("k").collection("c").await.unwrap(),
            Some(object!({"v": 2}))
        );
        assert_eq!(b.collections().await.unwrap(), vec!["c"]);
        b.destroy().await.unwrap();
    });
}

#[test]
fn expiry_on_the_key_has_millisecond_precision() {
    let Some(s) = store("px_precision", "") else {
        return;
    };
    key_value_testkit::run(async move {
        s.put("k", object!({})).ttl(1.5).await.unwrap();
        let left = s
            .redis_ttl("default_collection", "k")
            .await
            .unwrap()
            .unwrap();
        assert!(
            left > Duration::from_millis(1000) && left <= Duration::from_millis(1500),
            "{left:?}"
        );
        s.put("m", object!({})).collection("c").await.unwrap();
        s.put_many(&["m", "n"], vec![object!({}), object!({})])
            .collection("c")
            .ttl(2.25)
            .await
            .unwrap();
        let left = s.redis_ttl("c", "n").await.unwrap().unwrap();
        assert!(left > Duration::from_millis(2000), "{left:?}");
        tokio::time::sleep(Duration::from_millis(1600)).await;
        // Gone from Redis itself, not only filtered.
        assert_eq!(s.raw_value("default_collection", "k").await.unwrap(), None);
        s.destroy().await.unwrap();
    });
}

#[test]
fn keys_pages_through_scan_to_the_end() {
    let Some(s) = store("scan_paging", "") else {
        return;
    };
    key_value_testkit::run(async move {
        let names: Vec<String> = (0..2500).map(|i| format!("k{i}")).collect();
        let values = vec![object!({}); names.len()];
        s.put_many(&names, values).collection("big").await.unwrap();
        s.put("x", object!({})).collection("other").await.unwrap();
        let mut keys = s.keys().collection("big").await.unwrap();
        keys.sort();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(
            s.keys().collection("big").limit(1200).await.unwrap().len(),
            1200
        );
        assert_eq!(s.delete_many(&names).collection("big").await.unwrap(), 2500);
        s.destroy().await.unwrap();
    });
}

#[test]
fn corrupt_values_are_deserialization_errors_naming_the_key() {
    let Some(s) = store("corrupt", "") else {
        return;
    };
    key_value_testkit::run(async move {
        s.put_raw("c", "bad", b"not json").await.unwrap();
        s.put("good", object!({"v": 1}))
            .collection("c")
            .await
            .unwrap();
        let err = s.get("bad").collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization);
        assert_eq!(err.key(), Some("bad"));
        assert!(err.to_string().contains("bad"), "{err}");
        let err = s
            .get_many(&["good", "bad"])
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization);
        // Still listed and removable.
        let mut keys = s.keys().collection("c").await.unwrap();
        keys.sort();
        assert_eq!(keys, vec!["bad", "good"]);
        assert!(s.delete("bad").collection("c").await.unwrap());
        s.destroy().await.unwrap();
    });
}

#[test]
fn users_own_connection_manager_is_not_closed() {
    let Some(url) = service_env("KV_REDIS_URL", "own_client") else {
        return;
    };
    key_value_testkit::run(async move {
        let client = redis::Client::open(url.as_str()).unwrap();
        let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
        let prefix = format!("{}:", Fixture::system("own_client").namespace());
        let store = RedisConfig::from_connection_manager(manager.clone())
            .key_prefix(&prefix)
            .open()
            .unwrap();
        store.put("k", object!({"v": 1})).await.unwrap();
        store.close().await.unwrap();
        assert_eq!(store.get("k").await.unwrap_err().kind(), ErrorKind::Closed);
        let mut m = manager.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(format!("{prefix}default_collection::k"))
            .query_async(&mut m)
            .await
            .unwrap();
        assert!(raw.unwrap().contains("\"v\": 1"));
        let reopened = RedisConfig::from_connection_manager(manager)
            .key_prefix(&prefix)
            .open()
            .unwrap();
        reopened.destroy().await.unwrap();
    });
}

#[test]
fn urls_parse_and_reject_mistakes() {
    let c =
        RedisConfig::from_url(&StoreUrl::parse("redis://u:p%40ss@h:7000/3?key_prefix=x:").unwrap())
            .unwrap();
    assert_eq!(
        (c.host(), c.port(), c.database(), c.prefix()),
        ("h", 7000, 3, "x:")
    );
    assert!(!c.uses_tls());
    assert!(!format!("{c:?}").contains("p@ss"));
    let c =
        RedisConfig::from_url(&StoreUrl::parse("rediss://h?tls_insecure=true").unwrap()).unwrap();
    assert!(c.uses_tls());
    let c = RedisConfig::from_url(&StoreUrl::parse("redis://h?tls=true&tls_ca=/ca.pem").unwrap())
        .unwrap();
    assert!(c.uses_tls());
    let c = RedisConfig::from_url(&StoreUrl::parse("redis://h:1?nodes=h:2,h:3").unwrap()).unwrap();
    assert!(c.is_cluster());
    for bad in [
        "redis://h?typo=1",
        "redis://h/notanumber",
        "redis://h?tls_ca=/ca.pem",
        "redis://h?cluster=true&nodes=h",
        "redis://h/2?cluster=true",
        "rediss://h?tls_cert=/c.pem",
        "memcached://h",
    ] {
        let err = RedisConfig::from_url(&StoreUrl::parse(bad).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
    }
}

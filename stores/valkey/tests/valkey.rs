//! ValkeyStore on real Valkey beyond the suite: py-key-value interop on the standalone server
//! (both ways, TTLs, raw bytes), and cluster specifics (batches across many slots in the
//! caller's order, enumeration over every primary, destroy on every primary).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../redis/tests/common/mod.rs"]
mod common;
#[path = "../../redis/tests/common/interop.rs"]
mod interop;

use key_value_core::config::StoreUrl;
use key_value_core::prelude::*;
use key_value_testkit::Fixture;
use key_value_testkit::service::service_env;
use key_value_valkey::{ValkeyConfig, ValkeyStore};

#[test]
fn python_and_rust_share_valkey() {
    let Some(url) = service_env("KV_VALKEY_URL", "python_and_rust_share_valkey") else {
        return;
    };
    key_value_testkit::run(async move {
        let store = ValkeyConfig::from_url(&StoreUrl::parse(&url).unwrap())
            .unwrap()
            .open()
            .unwrap();
        assert_eq!(store.info().name(), "ValkeyStore");
        // py-key-value's RedisStore (redis-py) on the same Valkey server.
        let python_url = url.replacen("valkey://", "redis://", 1);
        interop::both_ways("valkey", store.as_redis(), &python_url).await;
    });
}

fn cluster(test: &str) -> Option<ValkeyStore> {
    let url = service_env("KV_VALKEY_CLUSTER_URL", test)?;
    let fx = Fixture::system(test);
    Some(
        ValkeyConfig::from_url(&StoreUrl::parse(&url).unwrap())
            .unwrap()
            .key_prefix(format!("{}:", fx.namespace()))
            .open()
            .unwrap(),
    )
}

#[test]
fn cluster_batches_span_slots_in_order() {
    let Some(s) = cluster("cluster_batches") else {
        return;
    };
    key_value_testkit::run(async move {
        let names: Vec<String> = (0..300).map(|i| format!("key-{i}")).collect();
        let values: Vec<Object> = (0..300).map(|i| object!({"i": i})).collect();
        s.put_many(&names, values.clone())
            .collection("c")
            .await
            .unwrap();
        // With TTLs too: the pipeline of SET PX per slot.
        s.put_many(&names[..100], values[..100].to_vec())
            .collection("t")
            .ttl(60)
            .await
            .unwrap();
        let mut asked: Vec<String> = names.iter().rev().cloned().collect();
        asked.push("missing".into());
        asked.push(names[5].clone());
        let got = s.get_many(&asked).collection("c").await.unwrap();
        for (k, v) in asked.iter().zip(&got) {
            match k.strip_prefix("key-") {
                Some(i) => assert_eq!(v, &Some(object!({"i": i.parse::<i64>().unwrap()})), "{k}"),
                None => assert_eq!(v, &None),
            }
        }
        let ttls = s.ttl_many(&names[..100]).collection("t").await.unwrap();
        assert!(
            ttls.iter()
                .all(|t| t.as_ref().is_some_and(|(_, ttl)| ttl.is_some()))
        );
        let mut keys = s.keys().collection("c").await.unwrap();
        keys.sort();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(keys, expected, "keys from every primary");
        let mut cols = s.collections().await.unwrap();
        cols.sort();
        assert_eq!(cols, vec!["c", "t"]);
        assert_eq!(
            s.delete_many(&names[..150]).collection("c").await.unwrap(),
            150
        );
        assert!(s.destroy_collection("c").await.unwrap());
        assert!(s.keys().collection("c").await.unwrap().is_empty());
        assert!(s.destroy().await.unwrap());
        assert!(s.collections().await.unwrap().is_empty());
    });
}

//! Statistics: the conformance suite, exact counts per operation and collection, errors,
//! expiry, and exact totals under concurrency.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::statistics::{
    CollectionStatistics, HitMiss, Statistics, StatisticsHandle, StatisticsLayer,
};

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> Statistics<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(StatisticsLayer::new())
    }

    key_value_testkit::conformance_suite!(store);
}

mod shared_conformance {
    use super::*;

    async fn store(fx: Fixture) -> SharedStore {
        let inner: SharedStore = Arc::new(MemoryStore::builder().clock(fx.clock()).build());
        Arc::new(Statistics::new(inner))
    }

    key_value_testkit::conformance_suite!(store);
}

fn hm(hit: u64, miss: u64) -> HitMiss {
    HitMiss {
        count: hit + miss,
        hit,
        miss,
    }
}

#[tokio::test]
async fn counts_each_operation_per_collection() {
    let s = Statistics::new(MemoryStore::new());
    s.put("a", object!({})).collection("users").await.unwrap();
    s.put_many(&["b", "c"], vec![object!({}), object!({})])
        .collection("users")
        .await
        .unwrap();
    s.get("a").collection("users").await.unwrap();
    s.get("zz").collection("users").await.unwrap();
    s.ttl("b").collection("users").await.unwrap();
    s.get_many(&["a", "b", "missing"])
        .collection("users")
        .await
        .unwrap();
    s.ttl_many(&["c", "nope"])
        .collection("users")
        .await
        .unwrap();
    s.delete("a").collection("users").await.unwrap();
    s.delete("a").collection("users").await.unwrap();
    s.delete_many(&["b", "c", "gone"])
        .collection("users")
        .await
        .unwrap();
    s.get("k").await.unwrap();
    // Not counted: enumeration, destroy, cull.
    s.keys().collection("users").await.unwrap();
    s.collections().await.unwrap();
    s.cull().await.unwrap();

    let snapshot = s.statistics();
    let users = CollectionStatistics {
        get: hm(5, 3),
        put: 3,
        delete: hm(3, 2),
        errors: 0,
    };
    assert_eq!(snapshot.collection("users"), users);
    let default = CollectionStatistics {
        get: hm(0, 1),
        ..CollectionStatistics::default()
    };
    assert_eq!(snapshot.collection("default_collection"), default);
    assert_eq!(
        snapshot.collections.keys().collect::<Vec<_>>(),
        vec!["default_collection", "users"]
    );
    assert_eq!(
        snapshot.totals,
        CollectionStatistics {
            get: hm(5, 4),
            put: 3,
            delete: hm(3, 2),
            errors: 0
        }
    );
    assert_eq!(
        snapshot.collection("never"),
        CollectionStatistics::default()
    );
}

#[tokio::test]
async fn expired_entries_count_as_misses() {
    let clock = ManualClock::new(Timestamp::from_unix_micros(1_700_000_000_000_000));
    let s = Statistics::new(MemoryStore::builder().clock(clock.clone().into()).build());
    s.put("k", object!({})).ttl(10).await.unwrap();
    s.get("k").await.unwrap();
    clock.advance(Duration::from_secs(11));
    s.get("k").await.unwrap();
    s.get_many(&["k"]).await.unwrap();
    assert_eq!(s.statistics().totals.get, hm(1, 2));
}

#[tokio::test]
async fn failed_calls_count_as_errors_only() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let s = faulty.clone().layer(StatisticsLayer::new());
    faulty.faults().fail_next(4, ErrorKind::Connection);
    s.get("k").collection("c").await.unwrap_err();
    s.put("k", object!({})).collection("c").await.unwrap_err();
    s.delete_many(&["a", "b"])
        .collection("c")
        .await
        .unwrap_err();
    s.put_many(&["a", "b"], vec![object!({}), object!({})])
        .collection("c")
        .await
        .unwrap_err();
    s.put("k", object!({})).collection("c").await.unwrap();
    let c = s.statistics().collection("c");
    assert_eq!(
        c,
        CollectionStatistics {
            put: 1,
            errors: 4,
            ..CollectionStatistics::default()
        }
    );
}

#[tokio::test]
async fn the_handle_outlives_stacking_and_can_reset() {
    let layer = StatisticsLayer::new();
    let handle: StatisticsHandle = layer.handle();
    let shared: SharedStore = Arc::new(MemoryStore::new());
    let s: SharedStore = Arc::new(
        shared
            .layer(layer)
            .layer(key_value_wrappers::prefix::PrefixCollectionsLayer::new("p")),
    );
    s.put("k", object!({})).collection("c").await.unwrap();
    s.get("k").collection("c").await.unwrap();
    // Statistics sits under the prefix, so it sees the stored collection name.
    let snapshot = handle.snapshot();
    assert_eq!(snapshot.collection("p__c").get, hm(1, 0));
    assert_eq!(snapshot.collection("p__c").put, 1);
    handle.reset();
    assert_eq!(handle.snapshot(), Default::default());
    s.get("k").collection("c").await.unwrap();
    assert_eq!(handle.snapshot().totals.get, hm(1, 0));
}

#[tokio::test]
async fn two_stores_can_count_into_one_handle() {
    let handle = StatisticsHandle::default();
    let a = MemoryStore::new().layer(StatisticsLayer::with_handle(handle.clone()));
    let b = MemoryStore::new().layer(StatisticsLayer::with_handle(handle.clone()));
    a.put("k", object!({})).await.unwrap();
    b.put("k", object!({})).await.unwrap();
    assert_eq!(handle.snapshot().totals.put, 2);
    assert_eq!(a.handle().snapshot(), b.statistics());
}

/// 8 tasks × 1000 operations on 4 collections, on a multi-threaded runtime, while a reader
/// takes snapshots: every count adds up exactly, and snapshots never go backwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_are_exact_under_concurrency() {
    let s = Arc::new(Statistics::new(MemoryStore::new()));
    let handle = s.handle();
    let reader = {
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..200 {
                let total = handle.snapshot().totals.put;
                assert!(total >= last, "a snapshot went backwards");
                last = total;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8u64 {
        let s = s.clone();
        tasks.spawn(async move {
            let collection = format!("c{}", worker % 4);
            // 250 rounds of 4 operations: put (always), get (hit), get (miss), delete (hit).
            for i in 0..250 {
                let key = format!("w{worker}_{i}");
                s.put(&key, object!({"i": i}))
                    .collection(&collection)
                    .await
                    .unwrap();
                assert!(s.get(&key).collection(&collection).await.unwrap().is_some());
                let missing = format!("{key}_missing");
                assert!(
                    s.get(&missing)
                        .collection(&collection)
                        .await
                        .unwrap()
                        .is_none()
                );
                assert!(s.delete(&key).collection(&collection).await.unwrap());
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    reader.await.unwrap();
    let snapshot = handle.snapshot();
    assert_eq!(snapshot.collections.len(), 4);
    for c in 0..4 {
        // Two workers per collection, 250 rounds each.
        assert_eq!(
            snapshot.collection(&format!("c{c}")),
            CollectionStatistics {
                get: hm(500, 500),
                put: 500,
                delete: hm(500, 0),
                errors: 0
            }
        );
    }
    let totals = snapshot.totals;
    assert_eq!(
        totals.get.count + totals.put + totals.delete.count,
        8 * 1000
    );
}

//! Bulkhead: the conformance suite, and the concurrency cap and queue bound with slow calls on
//! tokio's paused clock (counts at given virtual instants; no wall-clock timing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::bulkhead::{Bulkhead, BulkheadLayer};

mod conformance {
    use super::*;

    /// A small cap, so the suite's concurrent test queues.
    async fn store(fx: Fixture) -> Bulkhead<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(BulkheadLayer::new(4))
    }

    key_value_testkit::conformance_suite!(store);
}

type Slow = Arc<Bulkhead<FaultyStore<MemoryStore>>>;

/// A bulkhead over a store whose every call takes 1 s.
fn slow(layer: BulkheadLayer) -> Slow {
    let store = FaultyStore::new(MemoryStore::new());
    store.faults().delay(Duration::from_secs(1));
    Arc::new(store.layer(layer))
}

fn spawn_gets(store: &Slow, n: usize) -> Vec<tokio::task::JoinHandle<Result<Option<Object>>>> {
    (0..n)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.get("k").await })
        })
        .collect()
}

async fn tick() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn at_most_n_calls_run_at_once_and_the_rest_wait_in_order() {
    let store = slow(BulkheadLayer::new(2));
    let tasks = spawn_gets(&store, 6);
    tick().await;
    assert_eq!(store.inner().calls(), 2);
    assert_eq!((store.running(), store.waiting()), (2, 4));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(store.inner().calls(), 4);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(store.inner().calls(), 6);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!((store.running(), store.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn beyond_the_queue_bound_calls_fail_fast() {
    let store = slow(BulkheadLayer::new(1).max_queue(1));
    let tasks = spawn_gets(&store, 2); // one runs, one waits
    tick().await;
    let err = store.get("k").collection("c").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded, "{err}");
    assert!(err.is_temporary());
    assert!(err.to_string().contains("bulkhead full"), "{err}");
    assert_eq!((err.operation(), err.key()), (Some("get"), Some("k")));
    assert_eq!(store.inner().calls(), 1);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.inner().calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_zero_queue_means_no_waiting() {
    let store = slow(BulkheadLayer::new(1).max_queue(0));
    let running = spawn_gets(&store, 1);
    tick().await;
    store.get("k").await.unwrap_err();
    for t in running {
        t.await.unwrap().unwrap();
    }
    store.get("k").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_leaves_the_queue() {
    let store = slow(BulkheadLayer::new(1).max_queue(1));
    let running = spawn_gets(&store, 1).remove(0);
    tick().await;
    let waiter = spawn_gets(&store, 1).remove(0);
    tick().await;
    assert_eq!(store.waiting(), 1);
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    assert_eq!(store.waiting(), 0);
    // The freed queue place is usable.
    let next = spawn_gets(&store, 1).remove(0);
    tick().await;
    assert_eq!(store.waiting(), 1);
    running.await.unwrap().unwrap();
    next.await.unwrap().unwrap();
    assert_eq!(store.inner().calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_running_call_frees_its_slot() {
    let store = slow(BulkheadLayer::new(1));
    let running = spawn_gets(&store, 1).remove(0);
    tick().await;
    assert_eq!(store.running(), 1);
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    assert_eq!(store.running(), 0);
    store.get("k").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_batch_takes_one_slot() {
    let store = slow(BulkheadLayer::new(2));
    let s = store.clone();
    let batch = tokio::spawn(async move {
        s.put_many(
            &["a", "b", "c"],
            vec![object!({}), object!({}), object!({})],
        )
        .await
    });
    let single = spawn_gets(&store, 1).remove(0);
    tick().await;
    assert_eq!(
        store.inner().calls(),
        2,
        "the batch and the get run side by side"
    );
    batch.await.unwrap().unwrap();
    single.await.unwrap().unwrap();
}

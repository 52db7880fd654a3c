//! Rate limit: the conformance suite, and the token bucket on tokio's paused clock (counts of
//! calls that reached the store at given virtual instants; no wall-clock timing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::rate_limit::{BatchCost, RateLimit, RateLimitLayer};

mod conformance {
    use super::*;

    /// Generous enough that the suite never waits long.
    async fn store(fx: Fixture) -> RateLimit<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(RateLimitLayer::new(1_000_000.0, 10_000).unwrap())
    }

    key_value_testkit::conformance_suite!(store);
}

fn limited(layer: RateLimitLayer) -> Arc<RateLimit<FaultyStore<MemoryStore>>> {
    Arc::new(FaultyStore::new(MemoryStore::new()).layer(layer))
}

fn spawn_gets(
    store: &Arc<RateLimit<FaultyStore<MemoryStore>>>,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<Option<Object>>>> {
    (0..n)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.get("k").await })
        })
        .collect()
}

#[test]
fn invalid_limits_are_config_errors() {
    for (rate, burst) in [
        (0.0, 1),
        (-1.0, 1),
        (f64::NAN, 1),
        (f64::INFINITY, 1),
        (1.0, 0),
    ] {
        assert_eq!(
            RateLimitLayer::new(rate, burst).unwrap_err().kind(),
            ErrorKind::Config,
            "{rate} {burst}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_passes_then_calls_wait_for_the_rate() {
    // 10 per second, bursts of 5: 5 calls at once, then one every 100 ms.
    let store = limited(RateLimitLayer::new(10.0, 5).unwrap());
    let tasks = spawn_gets(&store, 20);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(store.inner().calls(), 5);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.inner().calls(), 10);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.inner().calls(), 15);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.inner().calls(), 20);
}

#[tokio::test(start_paused = true)]
async fn fail_fast_refuses_with_a_temporary_error() {
    let store = limited(RateLimitLayer::new(1.0, 3).unwrap().fail_fast());
    for _ in 0..3 {
        store.get("k").await.unwrap();
    }
    let err = store.get("k").collection("c").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded, "{err}");
    assert!(err.is_temporary());
    assert!(err.to_string().contains("rate limit"), "{err}");
    assert_eq!((err.operation(), err.key()), (Some("get"), Some("k")));
    assert_eq!(
        store.inner().calls(),
        3,
        "the refused call did not reach the store"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    store.get("k").await.unwrap();
    assert_eq!(store.inner().calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_batch_costs_its_size_by_default() {
    let store = limited(RateLimitLayer::new(1.0, 5).unwrap().fail_fast());
    store.get_many(&["a", "b", "c"]).await.unwrap();
    store.get_many(&["a", "b", "c"]).await.unwrap_err();
    store.get_many(&["a", "b"]).await.unwrap();
    store.get("a").await.unwrap_err();
    assert_eq!(store.inner().calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_batch_costs_one_per_call_when_configured() {
    let store = limited(
        RateLimitLayer::new(1.0, 5)
            .unwrap()
            .fail_fast()
            .batch_cost(BatchCost::PerCall),
    );
    let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    for _ in 0..5 {
        store.get_many(&keys).await.unwrap();
    }
    store.get_many(&keys).await.unwrap_err();
    assert_eq!(store.inner().calls(), 5);
}

#[tokio::test(start_paused = true)]
async fn failing_fast_a_batch_larger_than_the_burst_passes_on_a_full_bucket() {
    let store = limited(RateLimitLayer::new(1.0, 5).unwrap().fail_fast());
    let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    store.get_many(&keys).await.unwrap();
    store.get("k").await.unwrap_err();
}

#[tokio::test(start_paused = true)]
async fn waiting_a_large_batch_waits_for_all_its_tokens() {
    let store = limited(RateLimitLayer::new(10.0, 5).unwrap());
    let keys: Vec<String> = (0..25).map(|i| format!("k{i}")).collect();
    let s = store.clone();
    let batch = tokio::spawn(async move { s.get_many(&keys).await.map(|v| v.len()) });
    // 5 tokens at once, 20 more at 10/s: it goes through after 2 s.
    tokio::time::sleep(Duration::from_millis(1990)).await;
    assert_eq!(store.inner().calls(), 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(store.inner().calls(), 1);
    assert_eq!(batch.await.unwrap().unwrap(), 25);
}

#[tokio::test(start_paused = true)]
async fn max_wait_refuses_calls_that_would_wait_too_long() {
    let store = limited(
        RateLimitLayer::new(1.0, 1)
            .unwrap()
            .max_wait(Duration::from_millis(500)),
    );
    store.get("k").await.unwrap();
    let err = store.get("k").await.unwrap_err();
    assert!(err.is_temporary());
    assert!(err.to_string().contains("would wait"), "{err}");
    assert_eq!(store.inner().calls(), 1);
    // Nothing was reserved by the refused call: after 1 s one token is there.
    tokio::time::advance(Duration::from_secs(1)).await;
    store.get("k").await.unwrap();
    assert_eq!(store.inner().calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_gives_its_tokens_back() {
    let store = limited(RateLimitLayer::new(1.0, 1).unwrap());
    store.get("k").await.unwrap();
    let waiter = spawn_gets(&store, 1).remove(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    // The aborted call's token (due at 1 s) goes to the next caller instead of a 2 s wait.
    let next = spawn_gets(&store, 1).remove(0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(store.inner().calls(), 2);
    next.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn callers_are_served_in_arrival_order() {
    let store = limited(RateLimitLayer::new(10.0, 1).unwrap());
    let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        let s = store.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            s.put(&format!("k{i}"), object!({"i": i})).await.unwrap();
            order.lock().push(i);
        }));
        // Arrivals 1 ms apart, all while the bucket is empty.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock(), vec![0, 1, 2, 3, 4]);
}

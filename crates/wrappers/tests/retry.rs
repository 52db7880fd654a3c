//! Retry: the conformance suite (alone, and stacked with a time-out over a `SharedStore`), and
//! fault injection with `FaultyStore` on tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::retry::{Retry, RetryLayer};
use key_value_wrappers::timeout::TimeoutLayer;

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> Retry<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(RetryLayer::new())
    }

    key_value_testkit::conformance_suite!(store);
}

/// Two wrappers stacked over a store chosen at run time.
mod stacked_over_shared_store {
    use super::*;
    use key_value_wrappers::timeout::Timeout;

    async fn store(fx: Fixture) -> Retry<Timeout<SharedStore>> {
        let shared: SharedStore = Arc::new(MemoryStore::builder().clock(fx.clock()).build());
        shared
            .layer(TimeoutLayer::new(Duration::from_secs(30)))
            .layer(RetryLayer::new().attempt_timeout(Duration::from_secs(30)))
    }

    key_value_testkit::conformance_suite!(store);
}

fn faulty(policy: RetryLayer) -> Retry<FaultyStore<MemoryStore>> {
    FaultyStore::new(MemoryStore::new()).layer(policy)
}

#[tokio::test(start_paused = true)]
async fn temporary_failures_are_retried_until_success() {
    let store = faulty(RetryLayer::new().max_attempts(4));
    store
        .inner()
        .inner()
        .put("k", object!({"v": 1}))
        .await
        .unwrap();
    store.inner().faults().fail_next(3, ErrorKind::Connection);
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    assert_eq!(store.inner().calls(), 4, "3 failures + 1 success");
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_returned_at_once() {
    let store = faulty(RetryLayer::new().max_attempts(5));
    store.inner().faults().fail_next(3, ErrorKind::Backend);
    let err = store.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(!err.is_temporary());
    assert_eq!(store.inner().calls(), 1);
    assert!(!err.to_string().contains("gave up"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn last_error_names_the_attempts_and_keeps_the_context() {
    let store = faulty(RetryLayer::new().max_attempts(3));
    store.inner().faults().fail_always(ErrorKind::Connection);
    let err = store.get("user:1").collection("users").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(err.is_temporary());
    assert_eq!(err.operation(), Some("get"));
    assert_eq!(err.collection(), Some("users"));
    assert_eq!(err.key(), Some("user:1"));
    assert!(
        err.to_string().contains("gave up after 3 attempts"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(store.inner().calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_retried() {
    let store = faulty(
        RetryLayer::new()
            .max_attempts(3)
            .attempt_timeout(Duration::from_secs(1)),
    );
    store
        .inner()
        .inner()
        .put("k", object!({"v": 1}))
        .await
        .unwrap();
    store
        .inner()
        .faults()
        .delay_next(1, Duration::from_secs(60));
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    assert_eq!(
        store.inner().calls(),
        2,
        "the hung attempt, then a prompt one"
    );
}

#[tokio::test(start_paused = true)]
async fn attempts_that_all_time_out_end_in_a_temporary_timeout() {
    let store = faulty(
        RetryLayer::new()
            .max_attempts(2)
            .attempt_timeout(Duration::from_secs(1)),
    );
    store
        .inner()
        .faults()
        .delay_next(5, Duration::from_secs(60));
    let err = store.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_temporary());
    assert!(
        err.to_string().contains("gave up after 2 attempts"),
        "{err}"
    );
    assert_eq!(store.inner().calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_total_delay_budget_stops_retrying() {
    // Waits 100 ms, 200 ms, then the 50 ms left of the 350 ms budget: 4 attempts.
    let store = faulty(
        RetryLayer::new()
            .max_attempts(100)
            .jitter(false)
            .initial_delay(Duration::from_millis(100))
            .max_total_delay(Duration::from_millis(350)),
    );
    store.inner().faults().fail_always(ErrorKind::Timeout);
    let err = store.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(store.inner().calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_zero_budget_means_no_retry() {
    let store = faulty(RetryLayer::new().max_total_delay(Duration::ZERO));
    store.inner().faults().fail_always(ErrorKind::Connection);
    store.get("k").await.unwrap_err();
    assert_eq!(store.inner().calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_predicate_chooses_what_is_retried() {
    let store = faulty(RetryLayer::new().retry_if(|e| e.kind() == ErrorKind::Backend));
    store.inner().faults().fail_next(2, ErrorKind::Backend);
    store.put("k", object!({"v": 1})).await.unwrap();
    assert_eq!(store.inner().calls(), 3);
    // ... and a temporary error is now returned at once.
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    store.get("k").await.unwrap_err();
    assert_eq!(store.inner().calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn batches_are_retried_as_batches() {
    let store = faulty(RetryLayer::new());
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    let keys = ["a", "b", "c"];
    let values = vec![object!({"v": 1}), object!({"v": 2}), object!({"v": 3})];
    store.put_many(&keys, values.clone()).ttl(60).await.unwrap();
    assert_eq!(store.inner().calls(), 2, "one put_many per attempt");
    store.inner().faults().fail_next(2, ErrorKind::Connection);
    let got = store.get_many(&keys).await.unwrap();
    assert_eq!(got, values.into_iter().map(Some).collect::<Vec<_>>());
    assert_eq!(store.inner().calls(), 5);
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    assert_eq!(store.delete_many(&keys).await.unwrap(), 3);
    assert_eq!(store.inner().calls(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_retried_put_writes_the_same_entry() {
    let store = faulty(RetryLayer::new());
    store.inner().faults().fail_next(2, ErrorKind::Connection);
    store.put("k", object!({"v": 7})).ttl(100).await.unwrap();
    let (value, ttl) = store.ttl("k").await.unwrap().unwrap();
    assert_eq!(value, object!({"v": 7}));
    assert!(ttl.is_some_and(|t| t <= Duration::from_secs(100)));
}

#[tokio::test(start_paused = true)]
async fn jittered_waits_stay_under_the_exponential_bound() {
    // With paused time the waits pass instantly but are measured exactly: full jitter waits
    // at most 100 + 200 + 400 ms before the 4th attempt.
    let store = faulty(
        RetryLayer::new()
            .max_attempts(4)
            .initial_delay(Duration::from_millis(100)),
    );
    store.inner().faults().fail_always(ErrorKind::Connection);
    let start = tokio::time::Instant::now();
    store.get("k").await.unwrap_err();
    assert!(start.elapsed() <= Duration::from_millis(700));
    assert_eq!(store.inner().calls(), 4);
}

//! Circuit breaker: the conformance suite, and its state machine driven by injected faults on
//! tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::circuit_breaker::{CircuitBreaker, CircuitBreakerLayer, CircuitState};

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> CircuitBreaker<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(CircuitBreakerLayer::new())
    }

    key_value_testkit::conformance_suite!(store);
}

const COOL_DOWN: Duration = Duration::from_secs(10);

fn breaker(layer: CircuitBreakerLayer) -> CircuitBreaker<FaultyStore<MemoryStore>> {
    FaultyStore::new(MemoryStore::new()).layer(layer.cool_down(COOL_DOWN))
}

/// Fails `n` calls through the breaker.
async fn fail(store: &CircuitBreaker<FaultyStore<MemoryStore>>, n: usize) {
    for _ in 0..n {
        store.get("k").await.unwrap_err();
    }
}

#[tokio::test(start_paused = true)]
async fn opens_after_n_consecutive_failures_and_then_fails_fast() {
    let store = breaker(
        CircuitBreakerLayer::new()
            .name("sessions")
            .consecutive_failures(3),
    );
    store.inner().faults().fail_always(ErrorKind::Connection);
    fail(&store, 2).await;
    assert_eq!(store.state(), CircuitState::Closed);
    fail(&store, 1).await;
    assert_eq!(store.state(), CircuitState::Open);
    assert_eq!(store.inner().calls(), 3);

    let err = store.get("k").collection("c").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(err.is_temporary());
    assert!(
        err.to_string()
            .contains("circuit breaker 'sessions' is open"),
        "{err}"
    );
    assert_eq!((err.operation(), err.key()), (Some("get"), Some("k")));
    store.put("k", object!({})).await.unwrap_err();
    store.get_many(&["a", "b"]).await.unwrap_err();
    assert_eq!(
        store.inner().calls(),
        3,
        "an open breaker does not call the store"
    );
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_the_consecutive_count() {
    let store = breaker(CircuitBreakerLayer::new().consecutive_failures(3));
    store.inner().faults().fail_next(2, ErrorKind::Connection);
    fail(&store, 2).await;
    store.get("k").await.unwrap();
    store.inner().faults().fail_next(2, ErrorKind::Connection);
    fail(&store, 2).await;
    assert_eq!(store.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_after_the_cool_down_and_a_successful_trial_closes_it() {
    let store = breaker(CircuitBreakerLayer::new().consecutive_failures(2));
    store.inner().faults().fail_always(ErrorKind::Connection);
    fail(&store, 2).await;
    assert_eq!(store.state(), CircuitState::Open);
    store.inner().faults().heal();

    tokio::time::advance(COOL_DOWN / 2).await;
    store.get("k").await.unwrap_err();
    assert_eq!(
        store.inner().calls(),
        2,
        "still open half-way through the cool-down"
    );

    tokio::time::advance(COOL_DOWN / 2).await;
    assert_eq!(store.state(), CircuitState::HalfOpen);
    assert_eq!(store.get("k").await.unwrap(), None);
    assert_eq!(store.inner().calls(), 3, "the trial reached the store");
    assert_eq!(store.state(), CircuitState::Closed);
    store.put("k", object!({"v": 1})).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_reopens_it() {
    let store = breaker(CircuitBreakerLayer::new().consecutive_failures(2));
    store.inner().faults().fail_always(ErrorKind::Timeout);
    fail(&store, 2).await;
    tokio::time::advance(COOL_DOWN).await;
    assert_eq!(store.state(), CircuitState::HalfOpen);
    fail(&store, 1).await; // the trial
    assert_eq!(store.inner().calls(), 3);
    assert_eq!(store.state(), CircuitState::Open);
    fail(&store, 1).await;
    assert_eq!(store.inner().calls(), 3, "open again: fails fast");
    // A full new cool-down is needed.
    tokio::time::advance(COOL_DOWN - Duration::from_millis(1)).await;
    assert_eq!(store.state(), CircuitState::Open);
    tokio::time::advance(Duration::from_millis(1)).await;
    store.inner().faults().heal();
    store.get("k").await.unwrap();
    assert_eq!(store.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_lets_only_k_trials_through_and_needs_k_successes() {
    let store = Arc::new(breaker(
        CircuitBreakerLayer::new()
            .consecutive_failures(1)
            .trial_calls(2),
    ));
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    fail(&store, 1).await;
    tokio::time::advance(COOL_DOWN).await;

    store.inner().faults().delay(Duration::from_secs(1));
    let trials: Vec<_> = (0..2)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.get("k").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let err = store.get("k").await.unwrap_err();
    assert!(err.to_string().contains("half-open"), "{err}");
    assert_eq!(store.inner().calls(), 3, "1 failure + 2 trials");
    for t in trials {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn one_success_out_of_two_trials_keeps_it_half_open() {
    let store = breaker(
        CircuitBreakerLayer::new()
            .consecutive_failures(1)
            .trial_calls(2),
    );
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    fail(&store, 1).await;
    tokio::time::advance(COOL_DOWN).await;
    store.get("k").await.unwrap();
    assert_eq!(store.state(), CircuitState::HalfOpen);
    store.get("k").await.unwrap();
    assert_eq!(store.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_trial_frees_its_slot() {
    let store = Arc::new(breaker(CircuitBreakerLayer::new().consecutive_failures(1)));
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    fail(&store, 1).await;
    tokio::time::advance(COOL_DOWN).await;

    store
        .inner()
        .faults()
        .delay_next(1, Duration::from_secs(3600));
    let s = store.clone();
    let trial = tokio::spawn(async move { s.get("k").await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    // While the trial runs, other calls fail fast.
    store.get("k").await.unwrap_err();
    trial.abort();
    assert!(trial.await.unwrap_err().is_cancelled());
    // The slot is free again: the next call is a trial, succeeds and closes the breaker.
    store.get("k").await.unwrap();
    assert_eq!(store.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_do_not_count_as_failures() {
    let store = breaker(CircuitBreakerLayer::new().consecutive_failures(2));
    store.inner().faults().fail_always(ErrorKind::Backend);
    fail(&store, 10).await;
    assert_eq!(store.state(), CircuitState::Closed);
    assert_eq!(store.inner().calls(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_predicate_chooses_what_counts() {
    let store = breaker(
        CircuitBreakerLayer::new()
            .consecutive_failures(2)
            .failure_if(|e| e.kind() == ErrorKind::Backend),
    );
    store.inner().faults().fail_always(ErrorKind::Backend);
    fail(&store, 2).await;
    assert_eq!(store.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_failure_ratio_over_a_window_opens_it() {
    // Half of the last 4 calls failing opens it, though never 2 failures in a row.
    let store = breaker(
        CircuitBreakerLayer::new()
            .consecutive_failures(100)
            .failure_ratio(0.5, 4),
    );
    for i in 0..4 {
        if i % 2 == 0 {
            store.inner().faults().fail_next(1, ErrorKind::Connection);
            fail(&store, 1).await;
        } else {
            store.get("k").await.unwrap();
        }
        assert_eq!(store.state(), CircuitState::Closed, "call {i}");
    }
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    fail(&store, 1).await;
    assert_eq!(store.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn reset_closes_it() {
    let store = breaker(CircuitBreakerLayer::new().consecutive_failures(1));
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    fail(&store, 1).await;
    assert_eq!(store.state(), CircuitState::Open);
    store.reset();
    assert_eq!(store.state(), CircuitState::Closed);
    store.get("k").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_default_name_is_the_store_name() {
    let store = breaker(CircuitBreakerLayer::new().consecutive_failures(1));
    assert_eq!(store.name(), "MemoryStore");
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    fail(&store, 1).await;
    let err = store.get("k").await.unwrap_err();
    assert!(err.to_string().contains("'MemoryStore'"), "{err}");
}

//! Timeout: the conformance suite, and injected delays on tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::retry::RetryLayer;
use key_value_wrappers::timeout::{Timeout, TimeoutLayer};

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> Timeout<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(TimeoutLayer::default())
    }

    key_value_testkit::conformance_suite!(store);
}

fn faulty(layer: TimeoutLayer) -> Timeout<FaultyStore<MemoryStore>> {
    FaultyStore::new(MemoryStore::new()).layer(layer)
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_is_a_temporary_timeout_naming_the_call() {
    let store = faulty(TimeoutLayer::new(Duration::from_secs(1)));
    store.inner().faults().delay(Duration::from_secs(60));
    let err = store.get("k").collection("c").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_temporary());
    assert_eq!(err.operation(), Some("get"));
    assert_eq!(err.collection(), Some("c"));
    assert_eq!(err.key(), Some("k"));
    assert!(err.to_string().contains("1s"), "{err}");
    assert_eq!(store.inner().calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_prompt_call_passes() {
    let store = faulty(TimeoutLayer::new(Duration::from_secs(1)));
    store.inner().faults().delay(Duration::from_millis(900));
    store.put("k", object!({"v": 1})).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
}

#[tokio::test(start_paused = true)]
async fn reads_and_writes_have_their_own_deadlines() {
    let store = faulty(
        TimeoutLayer::new(Duration::from_secs(1))
            .read_timeout(Duration::from_secs(2))
            .write_timeout(Duration::from_secs(10)),
    );
    store.inner().faults().delay(Duration::from_secs(5));
    store.put("k", object!({"v": 1})).await.unwrap();
    store.put_many(&["a"], vec![object!({})]).await.unwrap();
    assert!(store.delete("a").await.unwrap());
    let err = store.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let err = store.get_many(&["k"]).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (ErrorKind::Timeout, Some("get_many"))
    );
    assert_eq!(store.keys().await.unwrap_err().kind(), ErrorKind::Timeout);
}

#[tokio::test(start_paused = true)]
async fn batches_and_admin_calls_are_bounded_too() {
    let store = faulty(TimeoutLayer::new(Duration::from_secs(1)));
    store.inner().faults().delay(Duration::from_secs(5));
    let kinds = [
        store
            .put_many(&["a"], vec![object!({})])
            .await
            .unwrap_err()
            .kind(),
        store.delete_many(&["a"]).await.unwrap_err().kind(),
        store.collections().await.unwrap_err().kind(),
        store.destroy().await.unwrap_err().kind(),
        store.destroy_collection("c").await.unwrap_err().kind(),
        store.cull().await.unwrap_err().kind(),
    ];
    assert!(kinds.iter().all(|k| *k == ErrorKind::Timeout), "{kinds:?}");
    // close() is never cut short.
    store.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn inside_a_retry_a_hung_call_is_retried() {
    // Timeout inside, retry outside: the first (hung) attempt is abandoned and retried.
    let store = FaultyStore::new(MemoryStore::new())
        .layer(TimeoutLayer::new(Duration::from_secs(1)))
        .layer(RetryLayer::new());
    store
        .inner()
        .inner()
        .inner()
        .put("k", object!({"v": 1}))
        .await
        .unwrap();
    store
        .inner()
        .inner()
        .faults()
        .delay_next(1, Duration::from_secs(3600));
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    assert_eq!(store.inner().inner().calls(), 2);
}

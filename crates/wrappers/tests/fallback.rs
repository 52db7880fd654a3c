//! Fallback: the conformance suite over two MemoryStores, and a failing primary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::fallback::{Fallback, FallbackLayer};

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> Fallback<MemoryStore, MemoryStore> {
        let fallback = MemoryStore::builder().clock(fx.clock()).build();
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(FallbackLayer::new(fallback))
    }

    key_value_testkit::conformance_suite!(store);
}

type Faulty = FaultyStore<MemoryStore>;

fn pair(
    layer: impl FnOnce(FallbackLayer<Faulty>) -> FallbackLayer<Faulty>,
) -> Fallback<Faulty, Faulty> {
    FaultyStore::new(MemoryStore::new()).layer(layer(FallbackLayer::new(FaultyStore::new(
        MemoryStore::new(),
    ))))
}

#[tokio::test]
async fn a_primary_that_is_down_is_replaced_by_the_fallback_for_reads() {
    let store = pair(|l| l);
    store
        .fallback()
        .put("k", object!({"from": "fallback"}))
        .await
        .unwrap();
    store.primary().faults().fail_always(ErrorKind::Connection);
    assert_eq!(
        store.get("k").await.unwrap(),
        Some(object!({"from": "fallback"}))
    );
    let (_, ttl) = store.ttl("k").await.unwrap().unwrap();
    assert_eq!(ttl, None);
    assert_eq!(store.primary().calls(), 2);
    store.primary().faults().heal();
    assert_eq!(
        store.get("k").await.unwrap(),
        None,
        "the healthy primary answers again"
    );
}

#[tokio::test]
async fn permanent_errors_are_not_masked_by_default() {
    let store = pair(|l| l);
    store.primary().faults().fail_always(ErrorKind::Backend);
    let err = store.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert_eq!(store.fallback().calls(), 0, "the fallback was not asked");
}

#[tokio::test]
async fn any_error_falls_back_when_configured() {
    let store = pair(|l| l.fallback_on_any_error());
    store.fallback().put("k", object!({"v": 1})).await.unwrap();
    store.primary().faults().fail_always(ErrorKind::Backend);
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
}

#[tokio::test]
async fn a_predicate_chooses_the_errors_that_fall_back() {
    let store = pair(|l| l.fallback_on(|e| e.kind() == ErrorKind::Deserialization));
    store.primary().faults().fail_always(ErrorKind::Connection);
    assert_eq!(
        store.get("k").await.unwrap_err().kind(),
        ErrorKind::Connection
    );
    assert_eq!(store.fallback().calls(), 0);
    store
        .primary()
        .faults()
        .fail_always(ErrorKind::Deserialization);
    assert_eq!(store.get("k").await.unwrap(), None);
    assert_eq!(store.fallback().calls(), 1);
}

#[tokio::test]
async fn writes_do_not_fall_back_by_default() {
    let store = pair(|l| l);
    store.primary().faults().fail_always(ErrorKind::Connection);
    let err = store.put("k", object!({"v": 1})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(
        store.delete("k").await.unwrap_err().kind(),
        ErrorKind::Connection
    );
    assert_eq!(store.fallback().calls(), 0);
    assert_eq!(store.fallback().inner().get("k").await.unwrap(), None);
}

#[tokio::test]
async fn writes_fall_back_when_enabled() {
    let store = pair(|l| l.write_to_fallback(true));
    store.primary().faults().fail_always(ErrorKind::Connection);
    store.put("k", object!({"v": 1})).ttl(60).await.unwrap();
    store
        .put_many(&["a", "b"], vec![object!({"v": 2}), object!({"v": 3})])
        .await
        .unwrap();
    assert_eq!(
        store.fallback().inner().get("k").await.unwrap(),
        Some(object!({"v": 1}))
    );
    assert_eq!(store.get("a").await.unwrap(), Some(object!({"v": 2})));
    assert_eq!(store.delete_many(&["a", "b"]).await.unwrap(), 2);
    assert_eq!(store.primary().inner().get("k").await.unwrap(), None);
}

#[tokio::test]
async fn batches_fall_back_as_one_batch() {
    let store = pair(|l| l);
    store
        .fallback()
        .put_many(&["a", "b"], vec![object!({"v": 1}), object!({"v": 2})])
        .await
        .unwrap();
    let before = store.fallback().calls();
    store.primary().faults().fail_always(ErrorKind::Timeout);
    let got = store.get_many(&["a", "b", "c"]).await.unwrap();
    assert_eq!(
        got,
        vec![Some(object!({"v": 1})), Some(object!({"v": 2})), None]
    );
    assert_eq!(store.fallback().calls() - before, 1);
    assert_eq!(store.primary().calls(), 1);
}

#[tokio::test]
async fn when_both_fail_the_fallback_error_is_returned() {
    let store = pair(|l| l);
    store.primary().faults().fail_always(ErrorKind::Connection);
    store.fallback().faults().fail_always(ErrorKind::Timeout);
    assert_eq!(store.get("k").await.unwrap_err().kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn info_is_the_primarys() {
    let primary = MemoryStore::new();
    let fallback = MemoryStore::builder()
        .max_entries_per_collection(10)
        .build();
    let store = primary.layer(FallbackLayer::new(fallback));
    assert_eq!(store.info().name(), "MemoryStore");
    assert!(store.info().capabilities().native_batch);
    assert_eq!(
        store.info().capabilities().max_entries_per_collection,
        None,
        "the bound that matters is the primary's"
    );
}

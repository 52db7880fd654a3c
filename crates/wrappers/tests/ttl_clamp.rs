//! TtlClamp: the conformance suite over MemoryStore, and the clamping itself.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::ttl_clamp::{TtlClamp, TtlClampLayer};

/// Bounds wide enough for every TTL the suite uses (1 s .. 1 h), so the contract holds as is.
mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> TtlClamp<MemoryStore> {
        MemoryStore::builder().clock(fx.clock()).build().layer(
            TtlClampLayer::new(Duration::from_millis(500), Duration::from_secs(86_400)).unwrap(),
        )
    }

    key_value_testkit::conformance_suite!(store);
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

fn clamp(min: u64, max: u64) -> TtlClampLayer {
    TtlClampLayer::new(Duration::from_secs(min), Duration::from_secs(max)).unwrap()
}

fn manual() -> (ManualClock, MemoryStore) {
    let clock = ManualClock::new(Timestamp::from_unix_micros(1_700_000_000_000_000));
    let store = MemoryStore::builder().clock(clock.clone().into()).build();
    (clock, store)
}

async fn ttl_of<S: KeyValue>(s: &S, key: &str) -> Option<Duration> {
    s.ttl(key).await.unwrap().expect("present").1
}

#[tokio::test]
async fn ttls_are_clamped_into_the_bounds() {
    let (_, inner) = manual();
    let s = inner.layer(clamp(10, 60));
    s.put("low", object!({})).ttl(1).await.unwrap();
    s.put("high", object!({})).ttl(3600).await.unwrap();
    s.put("inside", object!({})).ttl(30).await.unwrap();
    s.put("exact_max", object!({})).ttl(60).await.unwrap();
    s.put("fraction", object!({})).ttl(0.25).await.unwrap();
    assert_eq!(ttl_of(&s, "low").await, Some(Duration::from_secs(10)));
    assert_eq!(ttl_of(&s, "high").await, Some(Duration::from_secs(60)));
    assert_eq!(ttl_of(&s, "inside").await, Some(Duration::from_secs(30)));
    assert_eq!(ttl_of(&s, "exact_max").await, Some(Duration::from_secs(60)));
    assert_eq!(ttl_of(&s, "fraction").await, Some(Duration::from_secs(10)));
    // Reading through the inner store shows what was stored.
    let stored = s.inner().get_entry("default_collection", "high").await;
    let stored = stored.unwrap().unwrap();
    let lifetime = stored
        .expires_at
        .unwrap()
        .duration_since(stored.created_at.unwrap());
    assert_eq!(lifetime.map(secs), Some(60));
}

#[tokio::test]
async fn missing_ttl_applies_only_to_writes_without_one() {
    let (clock, inner) = manual();
    let s = inner.layer(
        clamp(10, 60)
            .with_missing_ttl(Duration::from_secs(600))
            .unwrap(),
    );
    s.put("none", object!({})).await.unwrap();
    s.put("given", object!({})).ttl(20).await.unwrap();
    // The missing TTL is not clamped (py-key-value does not clamp it either).
    assert_eq!(ttl_of(&s, "none").await, Some(Duration::from_secs(600)));
    assert_eq!(ttl_of(&s, "given").await, Some(Duration::from_secs(20)));
    clock.advance(Duration::from_secs(601));
    assert_eq!(
        s.get("none").await.unwrap(),
        None,
        "the missing TTL expires"
    );

    let (_, inner) = manual();
    let s = inner.layer(clamp(10, 60));
    s.put("none", object!({})).await.unwrap();
    assert_eq!(
        ttl_of(&s, "none").await,
        None,
        "without a missing TTL, no expiry"
    );
}

#[tokio::test]
async fn batches_are_clamped_and_stay_one_batch() {
    let (_, inner) = manual();
    let faulty = Arc::new(FaultyStore::new(inner));
    let s = faulty.clone().layer(clamp(10, 60));
    let keys = ["a", "b", "c"];
    s.put_many(&keys, vec![object!({}), object!({}), object!({})])
        .ttl(1)
        .await
        .unwrap();
    assert_eq!(faulty.calls(), 1, "one put_many reached the inner store");
    let got = s.ttl_many(&keys).await.unwrap();
    assert_eq!(faulty.calls(), 2);
    for (v, ttl) in got.into_iter().map(Option::unwrap) {
        assert_eq!(v, object!({}));
        assert_eq!(ttl, Some(Duration::from_secs(10)));
    }
    s.put_many(&keys, vec![object!({}), object!({}), object!({})])
        .ttl(7200)
        .await
        .unwrap();
    assert_eq!(faulty.calls(), 3);
    let got = s.ttl_many(&keys).await.unwrap();
    assert!(
        got.iter()
            .all(|e| e.as_ref().unwrap().1 == Some(Duration::from_secs(60)))
    );
}

#[tokio::test]
async fn entries_are_clamped_from_their_creation_time() {
    let (clock, inner) = manual();
    let s = inner.layer(clamp(10, 60));
    let created = clock.now();
    clock.advance(Duration::from_secs(5));
    // An entry created 5 s ago with a 1 h lifetime: clamped to 60 s from its creation.
    let entry =
        ManagedEntry::created_at(object!({"v": 1}), created, Some(Duration::from_secs(3600)));
    s.put_entry("c", "copied", entry).await.unwrap();
    assert_eq!(
        s.ttl("copied").collection("c").await.unwrap().unwrap().1,
        Some(Duration::from_secs(55))
    );
    // An entry already expired when written is not revived by the minimum.
    let expired = ManagedEntry::new(
        object!({"v": 2}),
        Some(created),
        Some(created.saturating_add(Duration::from_secs(1))),
    );
    s.put_entry("c", "expired", expired).await.unwrap();
    assert_eq!(s.get("expired").collection("c").await.unwrap(), None);
    // Without created_at, the clock's now is the base.
    let bare = ManagedEntry::new(
        object!({"v": 3}),
        None,
        Some(clock.now().saturating_add(Duration::from_secs(1))),
    );
    s.put_entry("c", "bare", bare).await.unwrap();
    assert_eq!(
        s.ttl("bare").collection("c").await.unwrap().unwrap().1,
        Some(Duration::from_secs(10))
    );
}

#[tokio::test]
async fn invalid_ttls_are_still_rejected() {
    let (_, inner) = manual();
    let s = inner.layer(clamp(0, 60));
    for bad in [0.0, -1.0, f64::NAN] {
        let err = s.put("k", object!({})).ttl(bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTtl, "{bad}");
    }
    assert_eq!(s.get("k").await.unwrap(), None);
}

#[test]
fn bad_bounds_are_config_errors() {
    let err = TtlClampLayer::new(Duration::from_secs(10), Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = clamp(0, 5).with_missing_ttl(Duration::ZERO).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(TtlClamp::new(MemoryStore::new(), Duration::ZERO, Duration::ZERO).is_ok());
    let layer = clamp(1, 2)
        .with_missing_ttl(Duration::from_secs(3))
        .unwrap();
    assert_eq!(
        (layer.min(), layer.max(), layer.missing_ttl()),
        (
            Duration::from_secs(1),
            Duration::from_secs(2),
            Some(Duration::from_secs(3))
        )
    );
}

#[tokio::test]
async fn works_over_a_shared_store_and_under_another_wrapper() {
    let (_, inner) = manual();
    let shared: SharedStore = Arc::new(inner);
    let s = shared
        .clone()
        .layer(clamp(10, 60))
        .layer(key_value_wrappers::prefix::PrefixKeysLayer::new("app"));
    s.put("k", object!({"v": 1}))
        .collection("c")
        .ttl(1)
        .await
        .unwrap();
    let (value, ttl) = shared.ttl("app__k").collection("c").await.unwrap().unwrap();
    assert_eq!(value, object!({"v": 1}));
    assert_eq!(ttl, Some(Duration::from_secs(10)));
    assert_eq!(s.info().capabilities(), shared.info().capabilities());
}

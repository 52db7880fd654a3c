//! DefaultValue: the conformance suite with the default limited to a collection the suite never
//! reads, and the defaults themselves (values, TTLs, batches, expiry, scope, writes untouched).

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
use key_value_wrappers::default_value::{DefaultValue, DefaultValueLayer};

/// A default answers every miss by design, so the contract's "missing is `None`" holds only
/// where it does not apply: here, everywhere but the `defaults` collection. The wrapper is still
/// on every call's path (deciding, for each, that no default applies).
mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> DefaultValue<MemoryStore> {
        MemoryStore::builder().clock(fx.clock()).build().layer(
            DefaultValueLayer::new(object!({"default": true}))
                .with_ttl(Duration::from_secs(60))
                .unwrap()
                .only_collections(["defaults"]),
        )
    }

    key_value_testkit::conformance_suite!(store);
}

fn manual() -> (ManualClock, MemoryStore) {
    let clock = ManualClock::new(Timestamp::from_unix_micros(1_700_000_000_000_000));
    let store = MemoryStore::builder().clock(clock.clone().into()).build();
    (clock, store)
}

fn default() -> Object {
    object!({"theme": "light", "tags": ["a"]})
}

#[tokio::test]
async fn misses_return_the_default_and_hits_the_value() {
    let (_, inner) = manual();
    let s = inner.layer(DefaultValueLayer::new(default()));
    assert_eq!(s.default_value(), &default());
    assert_eq!(s.get("missing").await.unwrap(), Some(default()));
    s.put("k", object!({"theme": "dark"})).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), Some(object!({"theme": "dark"})));
    assert_eq!(
        s.get_many(&["k", "missing", "k"]).await.unwrap(),
        vec![
            Some(object!({"theme": "dark"})),
            Some(default()),
            Some(object!({"theme": "dark"}))
        ]
    );
    // Without a configured TTL the default has none (py's default_ttl=None).
    assert_eq!(s.ttl("missing").await.unwrap(), Some((default(), None)));
}

#[tokio::test]
async fn the_default_reports_the_configured_ttl_and_real_entries_theirs() {
    let (_, inner) = manual();
    let s = inner.layer(
        DefaultValueLayer::new(default())
            .with_ttl(Duration::from_secs(30))
            .unwrap(),
    );
    s.put("k", object!({"v": 1})).ttl(100).await.unwrap();
    s.put("forever", object!({"v": 2})).await.unwrap();
    assert_eq!(
        s.ttl("missing").await.unwrap(),
        Some((default(), Some(Duration::from_secs(30))))
    );
    assert_eq!(
        s.ttl_many(&["k", "missing", "forever"]).await.unwrap(),
        vec![
            Some((object!({"v": 1}), Some(Duration::from_secs(100)))),
            Some((default(), Some(Duration::from_secs(30)))),
            Some((object!({"v": 2}), None)),
        ]
    );
}

#[tokio::test]
async fn an_expired_entry_is_a_miss_and_gets_the_default() {
    let (clock, inner) = manual();
    let s = inner.layer(DefaultValueLayer::new(default()));
    s.put("k", object!({"v": 1})).ttl(10).await.unwrap();
    clock.advance(Duration::from_secs(11));
    assert_eq!(s.get("k").await.unwrap(), Some(default()));
    assert_eq!(s.get_many(&["k"]).await.unwrap(), vec![Some(default())]);
}

#[tokio::test]
async fn the_default_is_never_written_and_each_read_is_a_fresh_copy() {
    let (_, inner) = manual();
    let inner = Arc::new(inner);
    let s = inner.clone().layer(DefaultValueLayer::new(default()));
    let mut first = s.get("a").await.unwrap().unwrap();
    first.insert("changed".into(), true.into());
    assert_eq!(s.get("a").await.unwrap(), Some(default()));
    assert_eq!(inner.get("a").await.unwrap(), None, "not stored");
    assert!(!s.delete("a").await.unwrap(), "nothing to delete");
    assert_eq!(s.delete_many(&["a", "b"]).await.unwrap(), 0);
    assert!(s.keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn only_the_chosen_collections_get_the_default() {
    let (_, inner) = manual();
    let s = inner.layer(DefaultValueLayer::new(default()).only_collections(["settings", "prefs"]));
    assert_eq!(
        s.get("k").collection("settings").await.unwrap(),
        Some(default())
    );
    assert_eq!(
        s.get("k").collection("prefs").await.unwrap(),
        Some(default())
    );
    assert_eq!(s.get("k").collection("users").await.unwrap(), None);
    assert_eq!(s.get("k").await.unwrap(), None);
    assert_eq!(
        s.get_many(&["k"]).collection("users").await.unwrap(),
        vec![None]
    );
}

#[tokio::test]
async fn batches_stay_one_batch() {
    let (_, inner) = manual();
    let faulty = Arc::new(FaultyStore::new(inner));
    let s = faulty.clone().layer(DefaultValueLayer::new(default()));
    let got = s.get_many(&["a", "b", "c"]).await.unwrap();
    assert_eq!(got, vec![Some(default()); 3]);
    assert_eq!(faulty.calls(), 1);
}

#[tokio::test]
async fn errors_are_not_turned_into_defaults() {
    let (_, inner) = manual();
    let faulty = Arc::new(FaultyStore::new(inner));
    let s = faulty.clone().layer(DefaultValueLayer::new(default()));
    faulty.faults().fail_next(2, ErrorKind::Connection);
    assert_eq!(s.get("a").await.unwrap_err().kind(), ErrorKind::Connection);
    assert_eq!(
        s.get_many(&["a"]).await.unwrap_err().kind(),
        ErrorKind::Connection
    );
}

#[test]
fn a_zero_ttl_is_a_config_error() {
    let err = DefaultValueLayer::new(default())
        .with_ttl(Duration::ZERO)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn over_a_shared_store_under_a_prefix() {
    let (_, inner) = manual();
    let shared: SharedStore = Arc::new(inner);
    let s = shared
        .clone()
        .layer(DefaultValueLayer::new(default()).only_collections(["p__c"]))
        .layer(key_value_wrappers::prefix::PrefixCollectionsLayer::new("p"));
    // The default is scoped by the collection the wrapper sees: the prefixed one.
    assert_eq!(s.get("k").collection("c").await.unwrap(), Some(default()));
    assert_eq!(s.get("k").collection("d").await.unwrap(), None);
}

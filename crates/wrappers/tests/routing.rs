//! Routing: the conformance suite with the suite's collections spread over several stores, and
//! routing itself: where calls land, batches per target, merged enumeration, capabilities,
//! routing functions, destroy/cull/close reaching every store.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use key_value_core::prelude::*;
use key_value_core::{Clock, ManagedEntry, Result};
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::routing::{Routing, RoutingLayer};

fn memory(clock: Clock) -> SharedStore {
    Arc::new(MemoryStore::builder().clock(clock).build())
}

/// The collections the suite uses most go to three different stores, one of them also reached
/// through a second route; the rest (including the default collection) to the default store.
mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> Routing<MemoryStore> {
        let a = memory(fx.clock());
        let b = memory(fx.clock());
        MemoryStore::builder().clock(fx.clock()).build().layer(
            RoutingLayer::new()
                .route("test", a.clone())
                .route("c1", b.clone())
                .route("enum", b)
                .route("col_1", a)
                .route("test_collection", memory(fx.clock())),
        )
    }

    key_value_testkit::conformance_suite!(store);
}

/// Over a shared default, behind a shared store, with a routing function too.
mod shared_with_function_conformance {
    use super::*;

    async fn store(fx: Fixture) -> SharedStore {
        let default = memory(fx.clock());
        let routed = memory(fx.clock());
        let by_function = memory(fx.clock());
        Arc::new(
            default.layer(
                RoutingLayer::new()
                    .route("test", routed)
                    .route_with(move |c| c.starts_with('c').then(|| by_function.clone())),
            ),
        )
    }

    key_value_testkit::conformance_suite!(store);
}

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

#[tokio::test]
async fn calls_land_in_the_routed_store_with_the_collection_unchanged() {
    let sessions = Arc::new(MemoryStore::new());
    let default = Arc::new(MemoryStore::new());
    let s = Routing::new(
        default.clone(),
        [("sessions", sessions.clone() as SharedStore)],
    );
    s.put("s1", object!({"v": 1}))
        .collection("sessions")
        .await
        .unwrap();
    s.put("u1", object!({"v": 2}))
        .collection("users")
        .await
        .unwrap();
    s.put("d", object!({"v": 3})).await.unwrap();
    assert_eq!(
        sessions.get("s1").collection("sessions").await.unwrap(),
        Some(object!({"v": 1}))
    );
    assert_eq!(sessions.collections().await.unwrap(), vec!["sessions"]);
    assert_eq!(
        sorted(default.collections().await.unwrap()),
        vec!["default_collection", "users"]
    );
    assert_eq!(
        s.get("s1").collection("sessions").await.unwrap(),
        Some(object!({"v": 1}))
    );
    assert_eq!(s.get("s1").collection("users").await.unwrap(), None);
    assert!(s.route_of("sessions").is_some());
    assert!(s.route_of("users").is_none());
    assert_eq!(s.keys().collection("sessions").await.unwrap(), vec!["s1"]);
    assert!(s.destroy_collection("sessions").await.unwrap());
    assert_eq!(
        sessions.get("s1").collection("sessions").await.unwrap(),
        None
    );
    assert_eq!(
        s.get("u1").collection("users").await.unwrap(),
        Some(object!({"v": 2}))
    );
}

#[tokio::test]
async fn batches_stay_one_batch_on_their_store() {
    let routed = Arc::new(FaultyStore::new(MemoryStore::new()));
    let default = Arc::new(FaultyStore::new(MemoryStore::new()));
    let s = default
        .clone()
        .layer(RoutingLayer::new().route("r", routed.clone() as SharedStore));
    let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    let values: Vec<Object> = (0..100).map(|i| object!({"i": i})).collect();
    s.put_many(&keys, values.clone())
        .collection("r")
        .await
        .unwrap();
    assert_eq!(s.get_many(&keys).collection("r").await.unwrap().len(), 100);
    assert_eq!(s.delete_many(&keys).collection("r").await.unwrap(), 100);
    assert_eq!((routed.calls(), default.calls()), (3, 0));
    s.put_many(&keys, values).collection("other").await.unwrap();
    assert_eq!((routed.calls(), default.calls()), (3, 1));
}

#[tokio::test]
async fn collections_merge_every_store_without_duplicates_or_strays() {
    let shared = Arc::new(MemoryStore::new());
    let default = Arc::new(MemoryStore::new());
    let other = Arc::new(MemoryStore::new());
    // Strays: names in a store that route elsewhere (written there directly).
    shared
        .put("k", object!({}))
        .collection("stray")
        .await
        .unwrap();
    default.put("k", object!({})).collection("a").await.unwrap();
    other
        .put("k", object!({}))
        .collection("users")
        .await
        .unwrap();
    let s = default.clone().layer(
        RoutingLayer::new()
            .route("a", shared.clone() as SharedStore)
            .route("b", shared.clone() as SharedStore)
            .route("stray_route", other.clone() as SharedStore),
    );
    for c in ["a", "b", "users", "default_collection"] {
        s.put("k", object!({"c": c})).collection(c).await.unwrap();
    }
    assert_eq!(
        sorted(s.collections().await.unwrap()),
        vec!["a", "b", "default_collection", "users"]
    );
    for limit in 0..=5 {
        let got = s.collections().limit(limit).await.unwrap();
        assert_eq!(got.len(), limit.min(4), "limit {limit}");
    }
    // "a" in the default store and "users" in `other` are not where those names route.
    assert_eq!(
        s.get("k").collection("a").await.unwrap(),
        Some(object!({"c": "a"}))
    );
    assert_eq!(
        shared.get("k").collection("a").await.unwrap(),
        Some(object!({"c": "a"}))
    );
}

/// A store with only the three required methods: no enumeration, no destroy, no batches.
struct Plain {
    inner: MemoryStore,
    info: StoreInfo,
}

impl KeyValue for Plain {
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    async fn get_entry(&self, c: &str, k: &str) -> Result<Option<ManagedEntry>> {
        self.inner.get_entry(c, k).await
    }
    async fn put_entry(&self, c: &str, k: &str, e: ManagedEntry) -> Result<()> {
        self.inner.put_entry(c, k, e).await
    }
    async fn delete_entry(&self, c: &str, k: &str) -> Result<bool> {
        self.inner.delete_entry(c, k).await
    }
}

#[tokio::test]
async fn capabilities_are_what_every_store_can_do() {
    let plain: SharedStore = Arc::new(Plain {
        inner: MemoryStore::new(),
        info: StoreInfo::new("Plain", Stability::NotApplicable).with_capabilities(Capabilities {
            max_key_length: Some(100),
            ..Capabilities::default()
        }),
    });
    let bounded: SharedStore = Arc::new(
        MemoryStore::builder()
            .max_entries_per_collection(50)
            .build(),
    );
    let s = MemoryStore::new().layer(
        RoutingLayer::new()
            .route("plain", plain)
            .route("bounded", bounded),
    );
    let caps = *s.info().capabilities();
    assert!(!caps.enumerate_keys && !caps.enumerate_collections && !caps.destroy);
    assert!(!caps.native_batch && !caps.native_ttl && !caps.cull);
    assert_eq!(caps.max_key_length, Some(100));
    assert_eq!(caps.max_entries_per_collection, Some(50));
    assert_eq!(s.info().name(), "MemoryStore");
    assert_eq!(
        s.collections().await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        s.destroy().await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(s.cull().await.unwrap_err().kind(), ErrorKind::Unsupported);
    // The tightest key limit is checked before any store is called.
    let long = "k".repeat(101);
    assert_eq!(
        s.put(&long, object!({})).await.unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    // Without routes the default store's capabilities hold as they are.
    let alone = MemoryStore::new().layer(RoutingLayer::new());
    assert_eq!(
        alone.info().capabilities(),
        MemoryStore::new().info().capabilities()
    );
}

#[tokio::test]
async fn a_routing_function_routes_what_the_map_does_not() {
    let even = Arc::new(MemoryStore::new());
    let mapped = Arc::new(MemoryStore::new());
    let default = Arc::new(MemoryStore::new());
    let even_shared: SharedStore = even.clone();
    let s = default.clone().layer(
        RoutingLayer::new()
            .route("n2", mapped.clone() as SharedStore)
            .route_with(move |c| {
                let n: u32 = c.strip_prefix('n')?.parse().ok()?;
                (n % 2 == 0).then(|| even_shared.clone())
            }),
    );
    for c in ["n1", "n2", "n4", "x"] {
        s.put("k", object!({})).collection(c).await.unwrap();
    }
    assert_eq!(even.collections().await.unwrap(), vec!["n4"]);
    assert_eq!(mapped.collections().await.unwrap(), vec!["n2"]);
    assert_eq!(
        sorted(default.collections().await.unwrap()),
        vec!["n1", "x"]
    );
    assert!(s.get("k").collection("n4").await.unwrap().is_some());
    assert_eq!(
        s.collections().await.unwrap_err().kind(),
        ErrorKind::Unsupported,
        "the stores a function may return are unknown"
    );
    assert!(format!("{:?}", s).contains("function: true"));
}

#[tokio::test]
async fn destroy_cull_and_close_reach_every_store_once() {
    let a = Arc::new(FaultyStore::new(MemoryStore::new()));
    let default = Arc::new(MemoryStore::new());
    let s = default.clone().layer(
        RoutingLayer::new()
            .route("x", a.clone() as SharedStore)
            .route("y", a.clone() as SharedStore),
    );
    s.put("k", object!({})).collection("x").await.unwrap();
    s.put("k", object!({})).collection("z").await.unwrap();
    let before = a.calls();
    assert!(s.destroy().await.unwrap());
    assert_eq!(
        a.calls() - before,
        1,
        "a store behind two routes is destroyed once"
    );
    assert_eq!(s.get("k").collection("x").await.unwrap(), None);
    assert_eq!(s.get("k").collection("z").await.unwrap(), None);
    s.cull().await.unwrap();
    s.close().await.unwrap();
    assert_eq!(
        a.get("k").collection("x").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(
        default.get("k").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
}

#[tokio::test]
async fn routers_stack_and_wrap() {
    let inner_routed: SharedStore = Arc::new(MemoryStore::new());
    let inner: SharedStore =
        Arc::new(MemoryStore::new().layer(RoutingLayer::new().route("deep", inner_routed.clone())));
    let outer_default = MemoryStore::new();
    let s = outer_default
        .layer(RoutingLayer::new().route("deep", inner))
        .layer(key_value_wrappers::prefix::PrefixKeysLayer::new("p"));
    s.put("k", object!({"v": 1}))
        .collection("deep")
        .await
        .unwrap();
    assert_eq!(
        inner_routed.get("p__k").collection("deep").await.unwrap(),
        Some(object!({"v": 1}))
    );
    assert_eq!(s.keys().collection("deep").await.unwrap(), vec!["k"]);
}

//! Passthrough cache: the conformance suite over two MemoryStores (and with a bounded cache),
//! and cache behaviour with the fixture's manual clock and a `FaultyStore` source that counts
//! the calls reaching it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::passthrough_cache::{PassthroughCache, PassthroughCacheLayer};

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> PassthroughCache<MemoryStore, MemoryStore> {
        let cache = MemoryStore::builder().clock(fx.clock()).build();
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(PassthroughCacheLayer::new(cache))
    }

    key_value_testkit::conformance_suite!(store);
}

/// A cache much smaller than what the suite writes: evictions must never lose data.
mod conformance_bounded_cache {
    use super::*;

    async fn store(fx: Fixture) -> PassthroughCache<MemoryStore, MemoryStore> {
        let cache = MemoryStore::builder()
            .clock(fx.clock())
            .max_entries_per_collection(3)
            .build();
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(PassthroughCacheLayer::new(cache))
    }

    key_value_testkit::conformance_suite!(store);
}

type Source = FaultyStore<MemoryStore>;

fn cached(
    fx: &Fixture,
    layer: impl FnOnce(PassthroughCacheLayer<MemoryStore>) -> PassthroughCacheLayer<MemoryStore>,
) -> PassthroughCache<Source, MemoryStore> {
    let cache = MemoryStore::builder().clock(fx.clock()).build();
    FaultyStore::new(MemoryStore::builder().clock(fx.clock()).build())
        .layer(layer(PassthroughCacheLayer::new(cache)))
}

#[tokio::test]
async fn a_miss_reads_the_source_and_fills_the_cache_then_hits() {
    let fx = Fixture::manual("pc_hit");
    let store = cached(&fx, |l| l);
    store.put("k", object!({"v": 1})).await.unwrap();
    assert_eq!(store.source().calls(), 1);
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    assert_eq!(store.source().calls(), 2, "the miss read the source");
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    assert_eq!(store.ttl("k").await.unwrap().unwrap().0, object!({"v": 1}));
    assert_eq!(store.source().calls(), 2, "hits do not reach the source");
    assert_eq!((store.hits(), store.misses()), (2, 1));
    // A missing key is not cached: each read asks the source.
    assert_eq!(store.get("missing").await.unwrap(), None);
    assert_eq!(store.get("missing").await.unwrap(), None);
    assert_eq!(store.source().calls(), 4);
}

#[tokio::test]
async fn the_cached_copy_expires_with_the_source_entry() {
    let fx = Fixture::manual("pc_ttl");
    let store = cached(&fx, |l| l);
    store.put("k", object!({"v": 1})).ttl(10).await.unwrap();
    store.get("k").await.unwrap();
    let source = store
        .source()
        .inner()
        .get_entry("default_collection", "k")
        .await
        .unwrap()
        .unwrap();
    let copy = store
        .cache()
        .get_entry("default_collection", "k")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        copy.expires_at, source.expires_at,
        "the copy keeps the source's expiry"
    );

    fx.advance(Duration::from_secs(4)).await;
    let (_, ttl) = store.ttl("k").await.unwrap().unwrap();
    assert!(
        ttl.unwrap() <= Duration::from_secs(6),
        "{ttl:?}: the source's remaining TTL"
    );
    assert_eq!(store.hits(), 1);

    fx.advance(Duration::from_secs(7)).await;
    assert_eq!(store.get("k").await.unwrap(), None);
    assert_eq!(store.ttl("k").await.unwrap(), None);
    assert_eq!(store.get_many(&["k"]).await.unwrap(), vec![None]);
}

#[tokio::test]
async fn max_cache_ttl_clamps_the_copy_but_never_extends_it() {
    let fx = Fixture::manual("pc_clamp");
    let store = cached(&fx, |l| l.max_cache_ttl(Duration::from_secs(5)));
    store.put("long", object!({"v": 1})).ttl(100).await.unwrap();
    store.put("short", object!({"v": 2})).ttl(2).await.unwrap();
    store.put("forever", object!({"v": 3})).await.unwrap();
    store.get_many(&["long", "short", "forever"]).await.unwrap();
    let now = fx.clock().now();
    let copy = |k: &'static str| {
        let cache = store.cache();
        async move {
            cache
                .get_entry("default_collection", k)
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(
        copy("long").await.expires_at,
        Some(now.saturating_add(Duration::from_secs(5)))
    );
    let short_source = store
        .source()
        .inner()
        .get_entry("default_collection", "short")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copy("short").await.expires_at, short_source.expires_at);
    assert_eq!(
        copy("forever").await.expires_at,
        Some(now.saturating_add(Duration::from_secs(5)))
    );

    let calls = store.source().calls();
    fx.advance(Duration::from_secs(6)).await;
    // The copies are stale now: the source answers again, with its own TTL.
    let (value, ttl) = store.ttl("long").await.unwrap().unwrap();
    assert_eq!(value, object!({"v": 1}));
    assert!(ttl.unwrap() > Duration::from_secs(90));
    assert_eq!(store.get("forever").await.unwrap(), Some(object!({"v": 3})));
    assert_eq!(store.get("short").await.unwrap(), None);
    assert_eq!(store.source().calls(), calls + 3);
}

#[tokio::test]
async fn max_cache_ttl_bounds_how_long_another_writer_goes_unseen() {
    let fx = Fixture::manual("pc_stale");
    let store = cached(&fx, |l| l.max_cache_ttl(Duration::from_secs(30)));
    store.put("k", object!({"v": 1})).await.unwrap();
    store.get("k").await.unwrap();
    // Someone writes to the source behind the cache's back.
    store
        .source()
        .inner()
        .put("k", object!({"v": 2}))
        .await
        .unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    fx.advance(Duration::from_secs(31)).await;
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 2})));
}

#[tokio::test]
async fn writes_and_deletes_invalidate_the_cached_copy() {
    let fx = Fixture::manual("pc_invalidate");
    let store = cached(&fx, |l| l);
    store.put("k", object!({"v": 1})).await.unwrap();
    store.get("k").await.unwrap();
    store.put("k", object!({"v": 2})).await.unwrap();
    assert_eq!(
        store
            .cache()
            .get_entry("default_collection", "k")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 2})));

    assert!(
        store
            .cache()
            .get_entry("default_collection", "k")
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.delete("k").await.unwrap());
    assert_eq!(
        store
            .cache()
            .get_entry("default_collection", "k")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get("k").await.unwrap(), None);

    store
        .put_many(&["a", "b"], vec![object!({"v": 1}), object!({"v": 1})])
        .await
        .unwrap();
    store.get_many(&["a", "b"]).await.unwrap();
    store
        .put_many(&["a", "b"], vec![object!({"v": 2}), object!({"v": 2})])
        .await
        .unwrap();
    assert_eq!(
        store.get_many(&["a", "b"]).await.unwrap(),
        vec![Some(object!({"v": 2})); 2]
    );
    assert_eq!(store.delete_many(&["a", "b"]).await.unwrap(), 2);
    assert_eq!(store.get_many(&["a", "b"]).await.unwrap(), vec![None, None]);

    store.put("c", object!({})).collection("x").await.unwrap();
    store.get("c").collection("x").await.unwrap();
    assert!(store.destroy_collection("x").await.unwrap());
    assert_eq!(store.get("c").collection("x").await.unwrap(), None);
}

#[tokio::test]
async fn batches_stay_batches() {
    let fx = Fixture::manual("pc_batches");
    let store = cached(&fx, |l| l);
    store
        .put_many(
            &["a", "b", "c"],
            vec![object!({"v": 1}), object!({"v": 2}), object!({"v": 3})],
        )
        .await
        .unwrap();
    assert_eq!(store.source().calls(), 1);
    let got = store
        .get_many(&["a", "b", "c", "missing", "a"])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![
            Some(object!({"v": 1})),
            Some(object!({"v": 2})),
            Some(object!({"v": 3})),
            None,
            Some(object!({"v": 1}))
        ]
    );
    assert_eq!(store.source().calls(), 2, "one source batch for the misses");
    let got = store.get_many(&["a", "b", "c"]).await.unwrap();
    assert_eq!(got.iter().filter(|v| v.is_some()).count(), 3);
    assert_eq!(store.source().calls(), 2, "all hits");
    store
        .get_many(&["a", "missing", "b", "missing2"])
        .await
        .unwrap();
    assert_eq!(store.source().calls(), 3, "only the misses, as one batch");
    assert_eq!(store.delete_many(&["a", "b", "c"]).await.unwrap(), 3);
    assert_eq!(store.source().calls(), 4);
}

#[tokio::test]
async fn a_failing_cache_is_bypassed_for_reads_but_fails_writes_it_cannot_invalidate() {
    let fx = Fixture::manual("pc_cache_down");
    let cache = FaultyStore::new(MemoryStore::builder().clock(fx.clock()).build());
    let store = MemoryStore::builder()
        .clock(fx.clock())
        .build()
        .layer(PassthroughCacheLayer::new(cache));
    store.put("k", object!({"v": 1})).await.unwrap();
    store.cache().faults().fail_always(ErrorKind::Connection);
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    assert_eq!(
        store.get_many(&["k"]).await.unwrap(),
        vec![Some(object!({"v": 1}))]
    );
    let err = store.put("k", object!({"v": 2})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(
        err.to_string().contains("could not be invalidated"),
        "{err}"
    );
    // The source write did happen.
    assert_eq!(
        store.source().get("k").await.unwrap(),
        Some(object!({"v": 2}))
    );
}

#[tokio::test]
async fn a_cache_that_cannot_destroy_makes_destroy_unsupported() {
    let fx = Fixture::manual("pc_caps");
    // A SharedStore cache declaring fewer capabilities: the memory store behind a wrapper
    // that hides `destroy`.
    struct NoDestroy(MemoryStore, StoreInfo);
    impl KeyValue for NoDestroy {
        fn info(&self) -> &StoreInfo {
            &self.1
        }
        async fn get_entry(&self, c: &str, k: &str) -> Result<Option<ManagedEntry>> {
            self.0.get_entry(c, k).await
        }
        async fn put_entry(&self, c: &str, k: &str, e: ManagedEntry) -> Result<()> {
            self.0.put_entry(c, k, e).await
        }
        async fn delete_entry(&self, c: &str, k: &str) -> Result<bool> {
            self.0.delete_entry(c, k).await
        }
    }
    let memory = MemoryStore::builder().clock(fx.clock()).build();
    let info = StoreInfo::new("NoDestroy", Stability::NotApplicable).with_clock(fx.clock());
    let cache: SharedStore = Arc::new(NoDestroy(memory, info));
    let store = MemoryStore::builder()
        .clock(fx.clock())
        .build()
        .layer(PassthroughCacheLayer::new(cache));
    store.put("k", object!({})).await.unwrap();
    assert!(!store.info().capabilities().destroy);
    assert!(!store.info().capabilities().destroy_collection);
    assert!(!store.info().capabilities().native_batch);
    assert_eq!(
        store.destroy().await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        store.get("k").await.unwrap(),
        Some(object!({})),
        "nothing was destroyed"
    );
}

/// A store that reads at once but answers late when armed: a reader that fetched the old value
/// while a writer replaced it.
struct LateAnswer<S> {
    inner: S,
    armed: AtomicBool,
}

impl<S: KeyValue> KeyValue for LateAnswer<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }
    async fn get_entry(&self, c: &str, k: &str) -> Result<Option<ManagedEntry>> {
        let found = self.inner.get_entry(c, k).await;
        if self.armed.swap(false, Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        found
    }
    async fn put_entry(&self, c: &str, k: &str, e: ManagedEntry) -> Result<()> {
        self.inner.put_entry(c, k, e).await
    }
    async fn delete_entry(&self, c: &str, k: &str) -> Result<bool> {
        self.inner.delete_entry(c, k).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_reader_racing_a_writer_does_not_cache_the_old_value() {
    let source = LateAnswer {
        inner: MemoryStore::new(),
        armed: AtomicBool::new(false),
    };
    let store = Arc::new(source.layer(PassthroughCacheLayer::new(MemoryStore::new())));
    store.put("k", object!({"v": 1})).await.unwrap();
    store.source().armed.store(true, Ordering::SeqCst);
    let s = store.clone();
    let reader = tokio::spawn(async move { s.get("k").await.unwrap() });
    tokio::time::sleep(Duration::from_millis(1)).await;
    // The reader holds v1 and has not filled the cache yet; the writer replaces it.
    store.put("k", object!({"v": 2})).await.unwrap();
    assert_eq!(reader.await.unwrap(), Some(object!({"v": 1})));
    // The reader's late fill was undone, so a read after the write sees the write.
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 2})));
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 2})));
}

#[tokio::test]
async fn close_closes_both_stores() {
    let store = MemoryStore::new().layer(PassthroughCacheLayer::new(MemoryStore::new()));
    store.close().await.unwrap();
    assert_eq!(
        store.cache().get("k").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(
        store.source().get("k").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
}

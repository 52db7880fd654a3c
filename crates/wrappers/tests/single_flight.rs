//! Single-flight: the conformance suite, and stampedes of concurrent callers on tokio's paused
//! clock (single-threaded, so who joins whom is deterministic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::single_flight::{SingleFlight, SingleFlightLayer};

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> SingleFlight<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(SingleFlightLayer::new())
    }

    key_value_testkit::conformance_suite!(store);
}

type Store = Arc<SingleFlight<FaultyStore<MemoryStore>>>;

fn store() -> Store {
    Arc::new(FaultyStore::new(MemoryStore::new()).layer(SingleFlightLayer::new()))
}

async fn tick() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Spawns `n` callers of `get_or_compute("k")` whose computation counts itself, takes 1 s and
/// returns `{"v": 1}`.
fn stampede(
    store: &Store,
    n: usize,
    computed: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Result<Object>>> {
    (0..n)
        .map(|_| {
            let s = store.clone();
            let computed = computed.clone();
            tokio::spawn(async move {
                s.get_or_compute(
                    Some("c"),
                    "k",
                    Some(Duration::from_secs(60)),
                    || async move {
                        computed.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        Ok(object!({"v": 1}))
                    },
                )
                .await
            })
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn sixty_four_concurrent_misses_compute_once() {
    let store = store();
    let computed = Arc::new(AtomicUsize::new(0));
    let tasks = stampede(&store, 64, &computed);
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), object!({"v": 1}));
    }
    assert_eq!(computed.load(Ordering::SeqCst), 1);
    assert_eq!(
        store.get("k").collection("c").await.unwrap(),
        Some(object!({"v": 1}))
    );
    let (_, ttl) = store.ttl("k").collection("c").await.unwrap().unwrap();
    assert!(ttl.is_some_and(|t| t <= Duration::from_secs(60)));
    // Stored: later calls do not compute.
    let again = stampede(&store, 8, &computed);
    for t in again {
        t.await.unwrap().unwrap();
    }
    assert_eq!(computed.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_error_reaches_every_waiter_and_is_not_cached() {
    let store = store();
    let computed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let s = store.clone();
            let computed = computed.clone();
            tokio::spawn(async move {
                s.get_or_compute(Some("c"), "k", None, || async move {
                    computed.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Err(Error::new(ErrorKind::Backend, "upstream said no").with_temporary(true))
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Backend);
        assert!(err.is_temporary());
        assert_eq!(err.operation(), Some("get_or_compute"));
        assert_eq!((err.collection(), err.key()), (Some("c"), Some("k")));
        assert!(err.to_string().contains("upstream said no"), "{err}");
    }
    assert_eq!(computed.load(Ordering::SeqCst), 1);
    assert_eq!(store.get("k").collection("c").await.unwrap(), None);
    // A later call computes again.
    let retried = stampede(&store, 4, &computed);
    for t in retried {
        assert_eq!(t.await.unwrap().unwrap(), object!({"v": 1}));
    }
    assert_eq!(computed.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_leader_does_not_wedge_the_followers() {
    let store = store();
    let s = store.clone();
    let leader = tokio::spawn(async move {
        s.get_or_compute(Some("c"), "k", None, || async {
            std::future::pending::<()>().await;
            Ok(object!({"v": "never"}))
        })
        .await
    });
    tick().await;
    let computed = Arc::new(AtomicUsize::new(0));
    let followers = stampede(&store, 16, &computed);
    tick().await;
    assert_eq!(
        computed.load(Ordering::SeqCst),
        0,
        "the followers wait for the leader"
    );
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    for f in followers {
        assert_eq!(f.await.unwrap().unwrap(), object!({"v": 1}));
    }
    assert_eq!(computed.load(Ordering::SeqCst), 1, "one follower took over");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_leader_does_not_wedge_the_followers() {
    let store = store();
    let s = store.clone();
    let leader = tokio::spawn(async move {
        s.get_or_compute(Some("c"), "k", None, || async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            panic!("the computation panicked");
        })
        .await
    });
    tick().await;
    let computed = Arc::new(AtomicUsize::new(0));
    let followers = stampede(&store, 4, &computed);
    assert!(leader.await.unwrap_err().is_panic());
    for f in followers {
        assert_eq!(f.await.unwrap().unwrap(), object!({"v": 1}));
    }
    assert_eq!(computed.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_plain_gets_share_one_read() {
    let store = store();
    store.put("k", object!({"v": 1})).await.unwrap();
    store.inner().faults().delay(Duration::from_secs(1));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.get("k").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Some(object!({"v": 1})));
    }
    assert_eq!(store.inner().calls(), 2, "the put and one shared read");
    // Later reads are new flights.
    store.get("k").await.unwrap();
    assert_eq!(store.inner().calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_shared_read_error_reaches_every_reader() {
    let store = store();
    store.inner().faults().delay(Duration::from_secs(1));
    store.inner().faults().fail_next(1, ErrorKind::Connection);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.get("k").await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection);
        assert!(err.is_temporary());
    }
    assert_eq!(store.inner().calls(), 1);
}

/// A store that reads at once but answers late when armed.
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
async fn a_read_after_a_write_does_not_join_a_read_from_before_it() {
    let store = Arc::new(
        LateAnswer {
            inner: MemoryStore::new(),
            armed: AtomicBool::new(false),
        }
        .layer(SingleFlightLayer::new()),
    );
    store.put("k", object!({"v": 1})).await.unwrap();
    store.inner().armed.store(true, Ordering::SeqCst);
    let s = store.clone();
    let early = tokio::spawn(async move { s.get("k").await.unwrap() });
    tick().await; // `early` has read v1 and answers in 1 s
    store.put("k", object!({"v": 2})).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 2})));
    assert_eq!(early.await.unwrap(), Some(object!({"v": 1})));
}

#[tokio::test(start_paused = true)]
async fn a_present_value_is_returned_without_computing() {
    let store = store();
    store
        .put("k", object!({"v": "stored"}))
        .collection("c")
        .await
        .unwrap();
    let value = store
        .get_or_compute(Some("c"), "k", None, || async {
            panic!("must not compute");
        })
        .await
        .unwrap();
    assert_eq!(value, object!({"v": "stored"}));
}

#[tokio::test]
async fn an_expired_value_is_computed_again() {
    let fx = Fixture::manual("sf_expiry");
    let store = MemoryStore::builder()
        .clock(fx.clock())
        .build()
        .layer(SingleFlightLayer::new());
    let n = AtomicUsize::new(0);
    let compute = || async {
        let i = n.fetch_add(1, Ordering::SeqCst);
        Ok(object!({"i": i}))
    };
    let ttl = Some(Duration::from_secs(10));
    assert_eq!(
        store.get_or_compute(None, "k", ttl, compute).await.unwrap(),
        object!({"i": 0})
    );
    assert_eq!(
        store.get_or_compute(None, "k", ttl, compute).await.unwrap(),
        object!({"i": 0})
    );
    fx.advance(Duration::from_secs(11)).await;
    assert_eq!(
        store.get_or_compute(None, "k", ttl, compute).await.unwrap(),
        object!({"i": 1})
    );
    // The default collection was used.
    assert_eq!(store.get("k").await.unwrap(), Some(object!({"i": 1})));
}

#[tokio::test]
async fn arguments_are_checked_like_put() {
    let store = MemoryStore::new().layer(SingleFlightLayer::new());
    let compute = || async { Ok(object!({})) };
    let err = store
        .get_or_compute(None, "", None, compute)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    assert_eq!(err.operation(), Some("get_or_compute"));
    let err = store
        .get_or_compute(Some("c"), "k", Some(Duration::ZERO), compute)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTtl);
    assert_eq!(store.get("k").collection("c").await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_store_write_is_reported_and_nothing_is_cached() {
    let store = FaultyStore::new(MemoryStore::new()).layer(SingleFlightLayer::new());
    // The read succeeds twice (plain read, leader's re-check), then the write fails.
    store.inner().faults().fail_next(0, ErrorKind::Connection);
    let s = &store;
    let err = store
        .get_or_compute(None, "k", None, || async move {
            s.inner().faults().fail_next(1, ErrorKind::Connection);
            Ok(object!({"v": 1}))
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(store.get("k").await.unwrap(), None);
}

//! The blocking API (`key_value::blocking`) on MemoryStore and DiskStore (in a temporary
//! directory): every method with its options, batches, listing, close, errors passing
//! through, calls from plain threads at once, and calls from inside async runtimes (an error,
//! never a panic or a deadlock).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use key_value::blocking::{self, Store};
use key_value::prelude::*;
use key_value::stores::disk::DiskStore;
use key_value::stores::memory::MemoryStore;
use key_value::{Clock, DEFAULT_COLLECTION, ManualClock};

/// Every method of the blocking API, on an empty store.
fn every_method<S: KeyValue>(store: &Store<S>) {
    // get / put / ttl / delete, default collection and a named one.
    assert_eq!(store.get("k").call().unwrap(), None);
    assert_eq!(store.ttl("k").call().unwrap(), None);
    store.put("k", object!({"v": 1})).call().unwrap();
    store
        .put("k", object!({"v": 2}))
        .collection("c")
        .ttl(3600)
        .call()
        .unwrap();
    assert_eq!(store.get("k").call().unwrap(), Some(object!({"v": 1})));
    assert_eq!(
        store.get("k").collection("c").call().unwrap(),
        Some(object!({"v": 2}))
    );
    assert_eq!(
        store.ttl("k").call().unwrap(),
        Some((object!({"v": 1}), None))
    );
    let (value, ttl) = store.ttl("k").collection("c").call().unwrap().unwrap();
    assert_eq!(value, object!({"v": 2}));
    let ttl = ttl.unwrap();
    assert!(ttl <= Duration::from_secs(3600) && ttl > Duration::from_secs(3000));
    store
        .put("k", object!({"v": 3}))
        .collection("c")
        .ttl_opt(None::<f64>)
        .call()
        .unwrap();
    assert_eq!(
        store.ttl("k").collection("c").call().unwrap(),
        Some((object!({"v": 3}), None))
    );
    store
        .put("d", object!({"v": 4}))
        .ttl(Duration::from_secs(60))
        .call()
        .unwrap();
    assert!(store.delete("d").call().unwrap());
    assert!(!store.delete("d").call().unwrap());
    assert!(!store.delete("k").collection("other").call().unwrap());
    assert!(store.delete("k").collection("c").call().unwrap());

    // Batches.
    let keys: Vec<String> = (0..50).map(|i| format!("key-{i}")).collect();
    let values: Vec<Object> = (0..50).map(|i| object!({"i": i})).collect();
    store
        .put_many(&keys, values.clone())
        .collection("batch")
        .ttl(600)
        .call()
        .unwrap();
    store
        .put_many(&["x", "y"], vec![object!({"x": 1}), object!({"y": 2})])
        .ttl_opt(Some(5.5))
        .call()
        .unwrap();
    let got = store.get_many(&keys).collection("batch").call().unwrap();
    assert_eq!(got, values.iter().cloned().map(Some).collect::<Vec<_>>());
    assert_eq!(
        store.get_many(&["y", "nope", "x"]).call().unwrap(),
        vec![Some(object!({"y": 2})), None, Some(object!({"x": 1}))]
    );
    let with_ttl = store
        .ttl_many(&["key-0", "missing"])
        .collection("batch")
        .call()
        .unwrap();
    assert_eq!(with_ttl[0].as_ref().unwrap().0, object!({"i": 0}));
    assert!(with_ttl[0].as_ref().unwrap().1.is_some());
    assert!(with_ttl[1].is_none());
    let xy = store.ttl_many(&["x", "y"]).call().unwrap();
    assert!(
        xy.iter()
            .all(|e| e.as_ref().unwrap().1.unwrap() <= Duration::from_secs_f64(5.5))
    );

    // Listing.
    let mut listed = store.keys().collection("batch").call().unwrap();
    listed.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        store
            .keys()
            .collection("batch")
            .limit(7)
            .call()
            .unwrap()
            .len(),
        7
    );
    let mut default_keys = store.keys().call().unwrap();
    default_keys.sort();
    assert_eq!(default_keys, vec!["k", "x", "y"]);
    let collections = store.collections().call().unwrap();
    for c in ["batch", DEFAULT_COLLECTION] {
        assert!(collections.iter().any(|x| x == c), "{c}: {collections:?}");
    }
    assert_eq!(store.collections().limit(1).call().unwrap().len(), 1);

    assert_eq!(
        store
            .delete_many(&keys[..10])
            .collection("batch")
            .call()
            .unwrap(),
        10
    );
    assert_eq!(store.delete_many(&["x", "y", "z"]).call().unwrap(), 2);
    assert_eq!(store.keys().collection("batch").call().unwrap().len(), 40);

    // Errors pass through with their kind and context.
    let err = store.put("k", object!({})).ttl(0).call().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTtl);
    assert_eq!((err.operation(), err.key()), (Some("put"), Some("k")));
    let err = store.get("").call().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    let err = store
        .put_many(&["a", "b"], vec![object!({})])
        .call()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = store
        .put("k", serde_json::json!([1, 2]))
        .call()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serialization);

    // Anything else through run().
    assert!(store.run(|s| s.destroy_collection("batch")).unwrap());
    assert_eq!(store.keys().collection("batch").call().unwrap().len(), 0);

    // Close, twice; DiskStore then refuses calls.
    store.close().unwrap();
    store.close().unwrap();
}

#[test]
fn every_method_on_memory() {
    let store = Store::new(MemoryStore::new()).unwrap();
    every_method(&store);
    assert_eq!(store.info().name(), "MemoryStore");
}

#[test]
fn every_method_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(DiskStore::open(dir.path()).unwrap()).unwrap();
    every_method(&store);
    let err = store.get("k").call().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    drop(store);

    // What the blocking API wrote, the async API (and a new store) reads.
    let store = blocking::open(&format!("disk://{}", dir.path().display())).unwrap();
    store
        .put("persisted", object!({"n": 1}))
        .collection("c")
        .call()
        .unwrap();
    store.close().unwrap();
    drop(store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = DiskStore::open(dir.path()).unwrap();
        assert_eq!(
            store.get("persisted").collection("c").await.unwrap(),
            Some(object!({"n": 1}))
        );
        assert_eq!(store.keys().collection("batch").await.unwrap().len(), 0);
    });
}

#[test]
fn every_method_through_open() {
    let store = blocking::open("memory://").unwrap();
    every_method(&store);
    assert_eq!(store.info().name(), "MemoryStore");

    let err = blocking::open("carrier-pigeon://loft").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = blocking::open("memory://?no_such_option=1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn on_a_runtime_of_your_own() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Store::with_runtime(MemoryStore::new(), runtime);
    every_method(&store);

    let store = Store::open_with(|| async { Ok(MemoryStore::new()) }).unwrap();
    every_method(&store);
    let err = Store::<MemoryStore>::open_with(|| async {
        Err(Error::new(ErrorKind::Connection, "no server"))
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
}

/// Threads writing and reading at once, each its own keys and batches.
fn from_threads<S: KeyValue>(store: &Store<S>) {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 40;
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            scope.spawn(move || {
                let collection = format!("t{}", t % 3);
                for i in 0..PER_THREAD {
                    let key = format!("{t}-{i}");
                    store
                        .put(&key, object!({"t": t, "i": i}))
                        .collection(&collection)
                        .call()
                        .unwrap();
                    assert_eq!(
                        store.get(&key).collection(&collection).call().unwrap(),
                        Some(object!({"t": t, "i": i}))
                    );
                }
                let keys: Vec<String> = (0..PER_THREAD).map(|i| format!("{t}-b{i}")).collect();
                let values = (0..PER_THREAD).map(|i| object!({"b": i})).collect();
                store
                    .put_many(&keys, values)
                    .collection(&collection)
                    .call()
                    .unwrap();
                let got = store
                    .get_many(&keys)
                    .collection(&collection)
                    .call()
                    .unwrap();
                assert!(got.iter().all(Option::is_some));
                assert_eq!(
                    store
                        .delete_many(&keys[..PER_THREAD / 2])
                        .collection(&collection)
                        .call()
                        .unwrap(),
                    PER_THREAD / 2
                );
            });
        }
    });
    let mut total = 0;
    for c in ["t0", "t1", "t2"] {
        total += store.keys().collection(c).call().unwrap().len();
    }
    assert_eq!(total, THREADS * (PER_THREAD + PER_THREAD / 2));
}

#[test]
fn concurrent_calls_from_plain_threads_on_memory() {
    from_threads(&Store::new(MemoryStore::new()).unwrap());
}

#[test]
fn concurrent_calls_from_plain_threads_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    from_threads(&Store::new(DiskStore::open(dir.path()).unwrap()).unwrap());
}

#[test]
fn a_store_shared_in_an_arc_across_spawned_threads() {
    let store = Arc::new(blocking::open("memory://").unwrap());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                store
                    .put(&format!("k{i}"), object!({"i": i}))
                    .call()
                    .unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(store.keys().call().unwrap().len(), 4);
    // The last owner may drop it on any thread.
    std::thread::spawn(move || drop(store)).join().unwrap();
}

#[test]
fn ttl_expiry_follows_the_store_clock() {
    let clock = ManualClock::starting_now();
    let store = Store::new(
        MemoryStore::builder()
            .clock(Clock::from(clock.clone()))
            .build(),
    )
    .unwrap();
    store.put("k", object!({})).ttl(10).call().unwrap();
    assert_eq!(
        store.ttl("k").call().unwrap().unwrap().1,
        Some(Duration::from_secs(10))
    );
    clock.advance(Duration::from_secs(11));
    assert_eq!(store.get("k").call().unwrap(), None);
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T>, operation: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(err.operation(), Some(operation), "{err}");
    assert!(err.to_string().contains("use the async API"), "{err}");
}

/// Every blocking entry point, called where a runtime is current: each refuses.
fn refused_everywhere<S: KeyValue>(store: &Store<S>) {
    assert_refused(store.get("k").call(), "get");
    assert_refused(store.ttl("k").call(), "ttl");
    assert_refused(store.put("k", object!({})).call(), "put");
    assert_refused(store.delete("k").call(), "delete");
    assert_refused(store.get_many(&["k"]).call(), "get_many");
    assert_refused(store.ttl_many(&["k"]).call(), "ttl_many");
    assert_refused(store.put_many(&["k"], vec![object!({})]).call(), "put_many");
    assert_refused(store.delete_many(&["k"]).call(), "delete_many");
    assert_refused(store.keys().call(), "keys");
    assert_refused(store.collections().call(), "collections");
    assert_refused(store.close(), "close");
    assert_refused(store.run(|s| s.destroy()), "run");
    assert_refused(
        Store::open_with(|| async { Ok(MemoryStore::new()) }),
        "open",
    );
}

#[test]
fn inside_a_current_thread_runtime_is_an_error_not_a_deadlock() {
    let store = Store::new(MemoryStore::new()).unwrap();
    store.put("k", object!({"v": 1})).call().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        refused_everywhere(&store);
        // The async API on the same store works there.
        assert_eq!(
            store.inner().get("k").await.unwrap(),
            Some(object!({"v": 1}))
        );
    });
    // Nothing was written by the refused calls; the store still works outside.
    assert_eq!(store.get("k").call().unwrap(), Some(object!({"v": 1})));
    assert_eq!(store.keys().call().unwrap(), vec!["k"]);
}

#[test]
fn inside_a_multi_thread_runtime_and_its_tasks_is_an_error() {
    let store = Arc::new(Store::new(MemoryStore::new()).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        refused_everywhere(&store);
        let in_task = store.clone();
        tokio::spawn(async move { refused_everywhere(&in_task) })
            .await
            .unwrap();
        // spawn_blocking threads carry the runtime's context: refused too (documented).
        let in_blocking = store.clone();
        tokio::task::spawn_blocking(move || refused_everywhere(&in_blocking))
            .await
            .unwrap();
    });
    assert_eq!(store.get("k").call().unwrap(), None);
}

#[tokio::test]
async fn made_and_dropped_inside_a_runtime_without_panicking() {
    // Making one is fine (it starts its own runtime), calling it is refused, dropping it does
    // not panic although a plain drop of a runtime would here.
    let store = Store::new(MemoryStore::new()).unwrap();
    assert_refused(store.get("k").call(), "get");
    let opened = blocking::open("memory://").unwrap();
    drop(store);
    drop(opened);
}

#[test]
fn stores_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store<MemoryStore>>();
    check::<Store<SharedStore>>();
    check::<Store<DiskStore>>();
    let store = Store::new(MemoryStore::new()).unwrap();
    let debug = format!("{store:?}");
    assert!(debug.contains("MemoryStore"), "{debug}");
}

/// The adapters and wrappers of the facade compose with the blocking API through `run`.
#[test]
fn typed_values_through_run() {
    use key_value::adapters::TypedAdapter;
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Point {
        x: i32,
        y: i32,
    }
    let store = Store::new(MemoryStore::new()).unwrap();
    store
        .run(|s| async move {
            TypedAdapter::<Point, _>::new(s)
                .put("p", Point { x: 1, y: 2 })
                .await
        })
        .unwrap();
    assert_eq!(
        store.get("p").call().unwrap(),
        Some(object!({"x": 1, "y": 2}))
    );
    let p = store
        .run(|s| async move { TypedAdapter::<Point, _>::new(s).get("p").await })
        .unwrap();
    assert_eq!(p, Some(Point { x: 1, y: 2 }));
}

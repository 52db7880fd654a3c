//! Tests that start their own memcached (`KV_MEMCACHED_BIN`, printed by
//! `services/memcached/start`) on a spare port of 16212-16219, because they kill, restart,
//! flush or reconfigure it: recovery after a server restart without recreating the store,
//! `destroy` with `flush_all`, and the item size read from the server.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::OwnServer;
use key_value_core::prelude::*;
use key_value_memcached::{ITEM_OVERHEAD, MAX_KEY_BYTES, MemcachedConfig, MemcachedStore};
use key_value_testkit::{Fixture, run, suite};

#[test]
fn the_same_store_recovers_after_a_server_restart() {
    let test = "restart";
    let Some(mut server) = OwnServer::start(test, &[]) else {
        return;
    };
    let store = Arc::new(
        MemcachedConfig::new(server.addr())
            .pool_size(4)
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(2))
            .open()
            .unwrap(),
    );
    // Workers keep calling through the outage; every failure must be a temporary one.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut workers = Vec::new();
    for w in 0..4 {
        let (store, stop, ok, failed) = (store.clone(), stop.clone(), ok.clone(), failed.clone());
        workers.push(runtime.spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}_{}", i % 10);
                let result = match i % 3 {
                    0 => store.put(&key, object!({"i": i})).await.map(|_| ()),
                    1 => store.get(&key).await.map(|_| ()),
                    _ => store.get_many(&[key.as_str(), "x"]).await.map(|_| ()),
                };
                match result {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        assert!(
                            matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout)
                                && e.is_temporary(),
                            "an outage must give temporary errors, got {e:?}"
                        );
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }

    runtime.block_on(async {
        store.put("before", object!({"v": 1})).await.unwrap();
        assert_eq!(store.get("before").await.unwrap(), Some(object!({"v": 1})));
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    assert!(ok.load(Ordering::Relaxed) > 0);

    // Outage: the pooled connections die with the server.
    server.kill();
    runtime.block_on(async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for err in [
            store.get("before").await.unwrap_err(),
            store.put("during", object!({"v": 2})).await.unwrap_err(),
            store.get_many(&["a", "b"]).await.unwrap_err(),
            store.put_many(&["a"], vec![object!({})]).await.unwrap_err(),
            store.delete("before").await.map(|_| ()).unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
            assert!(err.is_temporary(), "{err}");
        }
    });
    let failed_during = failed.load(Ordering::Relaxed);
    assert!(failed_during > 0, "the workers saw the outage");

    // Back: the same store works again at once, without being recreated.
    server.spawn();
    let ok_before = ok.load(Ordering::Relaxed);
    runtime.block_on(async {
        // memcached keeps nothing across a restart.
        assert_eq!(store.get("before").await.unwrap(), None);
        store.put("after", object!({"v": 3})).await.unwrap();
        assert_eq!(store.get("after").await.unwrap(), Some(object!({"v": 3})));
        assert_eq!(
            store.get_many(&["after", "before"]).await.unwrap(),
            vec![Some(object!({"v": 3})), None]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let failed_after = failed.load(Ordering::Relaxed);
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    assert!(
        ok.load(Ordering::Relaxed) > ok_before,
        "the workers recovered"
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        failed_after,
        "no failures once the server is back"
    );
    stop.store(true, Ordering::Relaxed);
    eprintln!(
        "restart: {} calls succeeded, {failed_during} failed during the outage (all temporary), {} after",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed) - failed_after
    );
    for w in workers {
        runtime.block_on(w).unwrap();
    }
}

#[test]
fn destroy_flushes_the_whole_server_when_allowed() {
    let test = "flush";
    let Some(server) = OwnServer::start(test, &[]) else {
        return;
    };
    let addr = server.addr();
    // The suite's destroy test, with flush_all allowed.
    let factory = {
        let addr = addr.clone();
        move |fx: Fixture| {
            let addr = addr.clone();
            async move {
                MemcachedConfig::new(addr)
                    .prefix(format!("{}:", fx.namespace()))
                    .allow_flush(true)
                    .clock(fx.clock())
                    .open()
                    .unwrap()
            }
        }
    };
    run(suite::destroy_store(factory));
    run(async move {
        // It empties the server, other prefixes included: that is why it is opt-in.
        let a = MemcachedConfig::new(&addr)
            .prefix("a:")
            .allow_flush(true)
            .open()
            .unwrap();
        let b = MemcachedConfig::new(&addr).prefix("b:").open().unwrap();
        a.put("k", object!({"v": 1})).await.unwrap();
        b.put("k", object!({"v": 2})).await.unwrap();
        assert!(a.destroy().await.unwrap());
        assert_eq!(a.get("k").await.unwrap(), None);
        assert_eq!(b.get("k").await.unwrap(), None);
        assert_eq!(
            b.destroy().await.unwrap_err().kind(),
            ErrorKind::Unsupported
        );
    });
}

#[test]
fn the_item_size_comes_from_the_server() {
    let test = "item_size";
    let Some(server) = OwnServer::start(test, &["-I", "2m"]) else {
        return;
    };
    let store: MemcachedStore = MemcachedConfig::new(server.addr()).open().unwrap();
    run(async move {
        let value = object!({"s": "x".repeat(1_500_000)});
        store.put("big", value.clone()).await.unwrap();
        assert_eq!(store.get("big").await.unwrap(), Some(value));
        assert_eq!(store.item_size_max().await.unwrap(), 2 << 20);
        assert_eq!(
            store.info().capabilities().max_value_size,
            Some((2 << 20) - ITEM_OVERHEAD - MAX_KEY_BYTES)
        );
        let err = store
            .put("bigger", object!({"s": "x".repeat(2 << 20)}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
    });
}

//! Failures: a server that is not there gives typed temporary errors, and a store whose
//! server stops and comes back recovers by itself. The restart test runs its own PostgreSQL
//! cluster (initdb with `KV_POSTGRES_BIN_DIR`, as `KV_POSTGRES_RUN_AS` when root) on a spare
//! port of 15433-15439, so the shared server is never touched.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use key_value_core::config::StoreUrl;
use key_value_core::prelude::*;
use key_value_postgresql::PostgreSQLConfig;
use key_value_testkit::run;

#[test]
fn an_unreachable_server_is_a_temporary_connection_error() {
    // A port in our private range that nothing listens on.
    let port = (15433..=15439)
        .rev()
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port");
    run(async move {
        let url = format!(
            "postgresql://postgres@127.0.0.1:{port}/postgres?connect_timeout=2&sslmode=disable"
        );
        let store = PostgreSQLConfig::from_url(&StoreUrl::parse(&url).unwrap())
            .unwrap()
            .open()
            .unwrap();
        for _ in 0..2 {
            let err = store.get("k").collection("c").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
            assert!(err.is_temporary(), "{err}");
            assert_eq!(err.operation(), Some("get"));
            let err = store
                .put_many(&["a", "b"], vec![object!({}), object!({})])
                .await
                .unwrap_err();
            assert!(err.is_temporary(), "{err}");
        }
        // With the default sslmode (prefer) too.
        let store = PostgreSQLConfig::new()
            .host("127.0.0.1")
            .port(port)
            .open()
            .unwrap();
        let err = store.get("k").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        assert!(err.is_temporary());
    });
}

#[test]
fn the_store_recovers_when_its_server_comes_back() {
    let test = "restart_recovery";
    let Some(mut server) = common::OwnServer::start(test) else {
        return;
    };
    let url = server.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = PostgreSQLConfig::from_url(&StoreUrl::parse(&url).unwrap())
        .unwrap()
        .pool_size(2)
        .connect_timeout(Duration::from_secs(2))
        .open()
        .unwrap();
    rt.block_on(async {
        store.put("k", object!({"v": 1})).ttl(3600).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
    });
    server.stop();
    rt.block_on(async {
        // Pooled connections are dead and new ones are refused: temporary errors, every time.
        for _ in 0..3 {
            let err = store.get("k").await.unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
                "{err}"
            );
            assert!(err.is_temporary(), "{err}");
        }
    });
    server.spawn();
    rt.block_on(async {
        // The same store, untouched, works again (at most one call may still meet a
        // connection that died with the old server).
        let deadline = Instant::now() + Duration::from_secs(20);
        let got = loop {
            match store.get("k").await {
                Ok(v) => break v,
                Err(e) => {
                    assert!(e.is_temporary(), "{e}");
                    assert!(Instant::now() < deadline, "no recovery: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        assert_eq!(
            got,
            Some(object!({"v": 1})),
            "the data survived the restart"
        );
        store.put("k2", object!({"v": 2})).await.unwrap();
        assert_eq!(store.get("k2").await.unwrap(), Some(object!({"v": 2})));
    });
}

//! Failures: a server that is not there gives typed temporary errors, and a store whose
//! server stops and comes back recovers by itself. The restart test runs its own MariaDB
//! (`KV_MARIADB_BIN`, `KV_MARIADB_INSTALL_DB`) on a spare port of 13307-13309.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use key_value_core::prelude::*;
use key_value_mysql::{MySqlConfig, MySqlStore};
use key_value_testkit::run;

#[test]
fn an_unreachable_server_is_a_temporary_connection_error() {
    let port = (13307..=13309)
        .rev()
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port");
    run(async move {
        let store =
            MySqlStore::from_url(&format!("mysql://root@127.0.0.1:{port}/kv?timeout=3")).unwrap();
        for _ in 0..2 {
            let err = store.get("k").collection("c").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
            assert!(err.is_temporary(), "{err}");
            assert_eq!(err.operation(), Some("get"));
        }
    });
}

#[test]
fn the_store_recovers_when_its_server_comes_back() {
    let test = "restart_recovery";
    let Some(mut server) = common::OwnServer::start(test) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store =
        MySqlConfig::from_url(&key_value_core::config::StoreUrl::parse(&server.url()).unwrap())
            .unwrap()
            .pool_size(2)
            .timeout(Duration::from_secs(3))
            .open()
            .unwrap();
    rt.block_on(async {
        store.put("k", object!({"v": 1})).await.unwrap();
    });
    server.stop();
    rt.block_on(async {
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
        let deadline = Instant::now() + Duration::from_secs(30);
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
        assert_eq!(got, Some(object!({"v": 1})));
        store.put("k2", object!({})).await.unwrap();
    });
}

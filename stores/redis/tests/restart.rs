//! The store survives a server restart: this test starts its OWN redis-server (the binary from
//! `KV_REDIS_SERVER_BIN`, on a free port of 16391-16399) so the shared servers are not
//! disturbed, kills it mid-run, checks that calls fail with typed, temporary errors during the
//! outage, restarts it, and checks that the same store works again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use key_value_core::prelude::*;
use key_value_redis::RedisConfig;
use key_value_testkit::service::service_env;

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Option<Child>,
    bin: String,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start(bin: &str, port: u16, dir: PathBuf) -> Server {
        let mut s = Server {
            child: None,
            bin: bin.to_string(),
            port,
            dir,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let child = Command::new(&self.bin)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    (16391..=16399)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in 16391-16399")
}

async fn until_ok<T>(what: &str, mut f: impl AsyncFnMut() -> Result<T>) -> T {
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if start.elapsed() < Duration::from_secs(20) => {
                assert!(e.is_temporary(), "{what}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{what}: still failing after 20 s: {e}"),
        }
    }
}

#[test]
fn survives_a_server_restart() {
    let Some(bin) = service_env("KV_REDIS_SERVER_BIN", "survives_a_server_restart") else {
        return;
    };
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("kv-redis-restart-{}-{port}", std::process::id()));
    let mut server = Server::start(&bin, port, dir);
    key_value_testkit::run(async move {
        let store = RedisConfig::new("127.0.0.1", port)
            .connect_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_secs(2))
            .retries(1)
            .open()
            .unwrap();
        until_ok("first connection", async || {
            store.put("k", object!({"v": 1})).await
        })
        .await;
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));

        server.kill();
        // During the outage: typed, temporary errors, quickly.
        for _ in 0..5 {
            let started = Instant::now();
            let err = store.get("k").await.unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
                "{err:?}"
            );
            assert!(err.is_temporary(), "{err:?}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{:?}",
                started.elapsed()
            );
            let err = store.put("k", object!({"v": 2})).await.unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
                "{err:?}"
            );
            assert!(err.is_temporary());
        }

        server.spawn();
        // The same store, no re-creation: it reconnects by itself.
        until_ok("after restart", async || {
            store.put("k", object!({"v": 3})).await
        })
        .await;
        assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 3})));
        assert_eq!(store.keys().await.unwrap(), vec!["k".to_string()]);
        store.close().await.unwrap();
    });
}

/// No server at all: `open()` needs no runtime and connects nothing; the first call is a
/// temporary `Connection` error naming the address, and never shows the password.
#[test]
fn unreachable_server_is_a_temporary_connection_error() {
    if service_env("KV_REDIS_SERVER_BIN", "unreachable_server").is_none() {
        return;
    }
    // From the top of the range, away from the restart test's server.
    let port = (16391..=16399)
        .rev()
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap();
    let store = RedisConfig::new("127.0.0.1", port)
        .password("hunter2-secret")
        .connect_timeout(Duration::from_secs(1))
        .retries(0)
        .open()
        .unwrap();
    assert!(!format!("{store:?}").contains("hunter2"));
    key_value_testkit::run(async move {
        let err = store.get("k").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err:?}");
        assert!(err.is_temporary());
        let text = format!("{err} {err:?}");
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    });
}

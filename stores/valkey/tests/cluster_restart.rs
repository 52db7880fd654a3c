//! A Valkey cluster survives the restart of one node: the test starts its OWN three-primary
//! cluster on spare ports (17011-17013, cluster bus 27011-27013) with the binaries of
//! `services/valkey/start` (`KV_VALKEY_SERVER_BIN`), so the shared cluster is not disturbed.
//! It kills one primary, checks that calls fail with typed temporary errors (never a panic or
//! a permanent error), restarts the node and checks that the same store object recovers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use key_value_core::config::StoreUrl;
use key_value_core::prelude::*;
use key_value_testkit::service::service_env;
use key_value_valkey::ValkeyConfig;

const PORTS: [u16; 3] = [17011, 17012, 17013];

/// One cluster node we started; killed when dropped.
struct Node {
    port: u16,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(server: &Path, dir: &Path, port: u16) -> Node {
    let child = Command::new(server)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            &format!("nodes-{port}.conf"),
            "--cluster-node-timeout",
            "1000",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir.to_str().unwrap(),
            "--daemonize",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("valkey-server starts");
    let node = Node { port, child };
    wait_until(Duration::from_secs(10), || {
        cli(server, port, &["ping"]).contains("PONG")
    });
    node
}

/// `valkey-cli` next to `valkey-server`.
fn cli_path(server: &Path) -> PathBuf {
    server.with_file_name("valkey-cli")
}

fn cli(server: &Path, port: u16, args: &[&str]) -> String {
    let out = Command::new(cli_path(server))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "not ready after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cluster_ok(server: &Path) -> bool {
    PORTS
        .iter()
        .all(|p| cli(server, *p, &["cluster", "info"]).contains("cluster_state:ok"))
}

#[test]
fn cluster_survives_the_restart_of_one_node() {
    let Some(server) = service_env("KV_VALKEY_SERVER_BIN", "cluster_restart") else {
        return;
    };
    let server = PathBuf::from(server);
    let dir = tempfile_dir();
    let mut nodes: Vec<Node> = PORTS
        .iter()
        .map(|p| start_node(&server, &dir, *p))
        .collect();
    let addresses: Vec<String> = PORTS.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let created = Command::new(cli_path(&server))
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-yes"])
        .output()
        .expect("valkey-cli --cluster create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    wait_until(Duration::from_secs(20), || cluster_ok(&server));

    // Short time-outs: a request already sent to the node that dies can otherwise wait the
    // whole default response time-out (30 s) before failing.
    let url = format!(
        "valkey://127.0.0.1:{}?cluster=true&nodes=127.0.0.1:{},127.0.0.1:{}&response_timeout=2&connect_timeout=1",
        PORTS[0], PORTS[1], PORTS[2]
    );
    let store = ValkeyConfig::from_url(&StoreUrl::parse(&url).unwrap())
        .unwrap()
        .open()
        .unwrap();
    let keys: Vec<String> = (0..60).map(|i| format!("key-{i}")).collect();
    let values: Vec<Object> = (0..60).map(|i| object!({"i": i})).collect();

    key_value_testkit::run(async {
        store
            .put_many(&keys, values.clone())
            .collection("c")
            .await
            .unwrap();
        let before = store.get_many(&keys).collection("c").await.unwrap();
        assert!(before.iter().all(Option::is_some));

        // Kill the second primary: its slots are unreachable.
        let victim = nodes.remove(1);
        let port = victim.port;
        drop(victim);
        let mut failures = 0;
        for _ in 0..5 {
            match store.get_many(&keys).collection("c").await {
                Ok(_) => {}
                Err(e) => {
                    failures += 1;
                    assert!(
                        e.is_temporary(),
                        "an outage must be a temporary error, got {e} ({:?})",
                        e.kind()
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            failures > 0,
            "a batch over every slot cannot succeed with a primary down"
        );

        // Restart it with its cluster config: it rejoins with the same slots.
        nodes.insert(1, start_node(&server, &dir, port));
        wait_until(Duration::from_secs(30), || cluster_ok(&server));

        // The same store recovers by itself (the restarted node lost its keys: no persistence).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let attempt = async {
                store
                    .put_many(&keys, values.clone())
                    .collection("c")
                    .await?;
                store.get_many(&keys).collection("c").await
            }
            .await;
            match attempt {
                Ok(got) if got.iter().all(Option::is_some) => {
                    let expected: Vec<Option<Object>> = values.iter().cloned().map(Some).collect();
                    assert_eq!(got, expected);
                    break;
                }
                Ok(_) => {}
                Err(e) => assert!(e.is_temporary(), "{e}"),
            }
            assert!(
                Instant::now() < deadline,
                "the store did not recover in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kv-valkey-cluster-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

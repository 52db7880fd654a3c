//! Test helpers: the shared server's address, and private memcached servers for the tests that
//! kill, restart or flush theirs.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use key_value_testkit::service::service_env;

/// The shared server started by `services/memcached/start` (`KV_MEMCACHED_ADDR`); `None` (after
/// saying so) outside CI when it is not set.
pub fn addr(test: &str) -> Option<String> {
    let addr = service_env("KV_MEMCACHED_ADDR", test);
    if addr.is_none() {
        not_run(test, "KV_MEMCACHED_ADDR");
    }
    addr
}

/// The shared server's address for the conformance suite, whose factory cannot skip a test:
/// without it the test fails, saying how to start the server.
pub fn suite_addr(test: &str) -> String {
    addr(test).unwrap_or_else(|| {
        panic!(
            "{test}: KV_MEMCACHED_ADDR is not set: start memcached with \
             `eval \"$(services/memcached/start)\"` (scripts/test does)"
        )
    })
}

/// Says NOT RUN where `cargo test` shows it (the harness captures `eprintln!` of passing tests).
pub fn not_run(test: &str, var: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "{test}: NOT RUN: {var} is not set (eval \"$(services/memcached/start)\")"
    );
}

/// A prefix unique to this test and process.
pub fn unique(test: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "kvtest_{test}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Ports handed out in this process (the private servers use 16212-16219).
static TAKEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A memcached this test started on a spare port of 16212-16219, killed when dropped.
pub struct OwnServer {
    pub bin: String,
    pub port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

impl OwnServer {
    /// Starts one with `extra` arguments (e.g. `-I 2m`), using `KV_MEMCACHED_BIN`; `None`
    /// (after saying so) outside CI when it is not set.
    pub fn start(test: &str, extra: &[&str]) -> Option<OwnServer> {
        let Some(bin) = service_env("KV_MEMCACHED_BIN", test) else {
            not_run(test, "KV_MEMCACHED_BIN");
            return None;
        };
        let port = {
            let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
            let port = (16212..=16219)
                .find(|p| !taken.contains(p) && TcpListener::bind(("127.0.0.1", *p)).is_ok())
                .expect("a free port in 16212-16219");
            taken.push(port);
            port
        };
        let mut server = OwnServer {
            bin,
            port,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        server.spawn();
        Some(server)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// (Re)starts the process and waits until it accepts connections.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut cmd = Command::new(&self.bin);
        // memcached refuses to run as root without -u.
        if std::env::var("USER").as_deref() == Ok("root") || is_root() {
            cmd.args(["-u", "nobody"]);
        }
        cmd.args([
            "-l",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "0",
            "-m",
            "64",
        ])
        .args(&self.extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = cmd.spawn().expect("memcached starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "memcached did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process (by its own PID) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "memcached still answers on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill();
        let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
        taken.retain(|p| *p != self.port);
    }
}

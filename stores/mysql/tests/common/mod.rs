//! Test helpers: the shared server's URL, a table per test, raw SQL on the side, and private
//! MariaDB servers for the tests that stop and restart theirs.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use key_value_testkit::service::service_env;

/// The shared server started by `services/mariadb/start` (`KV_MYSQL_URL`); `None` (after
/// saying so) outside CI when it is not set.
pub fn url(test: &str) -> Option<String> {
    service_env("KV_MYSQL_URL", test)
}

/// The shared server's URL for the conformance suite, whose factory cannot skip a test.
pub fn suite_url(test: &str) -> String {
    url(test).unwrap_or_else(|| {
        panic!(
            "{test}: KV_MYSQL_URL is not set: start MariaDB with \
             `eval \"$(services/mariadb/start)\"` (scripts/test does)"
        )
    })
}

/// A valid table name unique to `namespace` (a `Fixture::namespace` or [`unique`] name).
pub fn table_for(namespace: &str) -> String {
    key_value_testkit::sql_identifier(namespace, 64)
}

/// A name unique to this test and process.
pub fn unique(test: &str) -> String {
    key_value_testkit::unique_name(test)
}

/// A one-connection pool on `url` for raw SQL.
pub fn raw_pool(url: &str) -> mysql_async::Pool {
    let opts = mysql_async::Opts::from_url(url).expect("a mysql URL");
    let opts = mysql_async::OptsBuilder::from_opts(opts)
        .prefer_socket(false)
        .pool_opts(
            mysql_async::PoolOpts::default()
                .with_constraints(mysql_async::PoolConstraints::new(0, 1).expect("constraints")),
        );
    mysql_async::Pool::new(opts)
}

/// Ports handed out in this process (private servers use 13307-13309).
static TAKEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A MariaDB this test made (mariadb-install-db) and runs on a spare port of 13307-13309,
/// stopped and deleted when dropped.
pub struct OwnServer {
    bin: String,
    base: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl OwnServer {
    /// Makes and starts one with `KV_MARIADB_BIN` and `KV_MARIADB_INSTALL_DB`; `None` (after
    /// saying so) outside CI when they are not set.
    pub fn start(test: &str) -> Option<OwnServer> {
        let bin = service_env("KV_MARIADB_BIN", test)?;
        let install_db = service_env("KV_MARIADB_INSTALL_DB", test)?;
        let port = {
            let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
            let port = (13307..=13309)
                .find(|p| !taken.contains(p) && TcpListener::bind(("127.0.0.1", *p)).is_ok())
                .expect("a free port in 13307-13309");
            taken.push(port);
            port
        };
        let base = std::env::temp_dir().join(format!(
            "key-value-mariadb-test-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("data dir");
        let out = Command::new(&install_db)
            .arg("--no-defaults")
            .arg(format!("--user={}", whoami()))
            .arg(format!("--datadir={}", base.join("data").display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdin(Stdio::null())
            .output()
            .expect("mariadb-install-db runs");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = OwnServer {
            bin,
            base,
            port,
            child: None,
        };
        server.spawn();
        Some(server)
    }

    /// The store URL of this server (database `mysql`, which always exists).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }

    /// (Re)starts the server and waits until it accepts connections.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(&self.bin)
            .arg("--no-defaults")
            .arg(format!("--user={}", whoami()))
            .arg(format!("--datadir={}", self.base.join("data").display()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", self.base.join("sock").display()))
            .arg(format!("--pid-file={}", self.base.join("pid").display()))
            .args([
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mariadbd did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM to the process we started) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn whoami() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let out = Command::new("id").arg("-un").output().expect("id -un");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.base);
        let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
        taken.retain(|p| *p != self.port);
    }
}

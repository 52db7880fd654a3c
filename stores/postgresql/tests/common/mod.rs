//! Test helpers: the shared server's URL, a table per test, raw SQL on the side, and private
//! PostgreSQL clusters for the tests that stop and restart theirs.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use key_value_testkit::service::service_env;

/// The shared server started by `services/postgresql/start` (`KV_POSTGRES_URL`); `None`
/// (after saying so) outside CI when it is not set.
pub fn url(test: &str) -> Option<String> {
    service_env("KV_POSTGRES_URL", test)
}

/// The shared server's URL for the conformance suite, whose factory cannot skip a test.
pub fn suite_url(test: &str) -> String {
    url(test).unwrap_or_else(|| {
        panic!(
            "{test}: KV_POSTGRES_URL is not set: start PostgreSQL with \
             `eval \"$(services/postgresql/start)\"` (scripts/test does)"
        )
    })
}

/// A valid table name unique to `namespace` (a `Fixture::namespace` or [`unique`] name).
pub fn table_for(namespace: &str) -> String {
    key_value_testkit::sql_identifier(namespace, 63)
}

/// A name unique to this test and process.
pub fn unique(test: &str) -> String {
    key_value_testkit::unique_name(test)
}

/// A plain tokio-postgres client on `url` (a `postgresql://` URL without store options), its
/// connection driven in the background.
pub async fn raw_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Ports handed out in this process (private clusters use 15433-15439).
static TAKEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A PostgreSQL cluster this test made (initdb) and runs on a spare port of 15433-15439,
/// stopped and deleted when dropped.
pub struct OwnServer {
    bin_dir: PathBuf,
    run_as: Option<String>,
    base: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl OwnServer {
    /// Makes and starts one, with `KV_POSTGRES_BIN_DIR` and `KV_POSTGRES_RUN_AS` from the
    /// start script; `None` (after saying so) outside CI when they are not set.
    pub fn start(test: &str) -> Option<OwnServer> {
        let bin_dir = service_env("KV_POSTGRES_BIN_DIR", test)?;
        let run_as = std::env::var("KV_POSTGRES_RUN_AS")
            .ok()
            .filter(|s| !s.is_empty());
        let port = {
            let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
            let port = (15433..=15439)
                .find(|p| !taken.contains(p) && TcpListener::bind(("127.0.0.1", *p)).is_ok())
                .expect("a free port in 15433-15439");
            taken.push(port);
            port
        };
        let base = std::env::temp_dir().join(format!(
            "key-value-postgresql-test-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("cluster dir");
        let mut server = OwnServer {
            bin_dir: PathBuf::from(bin_dir),
            run_as,
            base,
            port,
            child: None,
        };
        if let Some(user) = &server.run_as {
            let status = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&server.base)
                .status()
                .expect("chown");
            assert!(status.success(), "chown {user} failed");
        }
        let data = server.base.join("data");
        let out = server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.spawn();
        Some(server)
    }

    fn command(&self, program: &str) -> Command {
        let bin = self.bin_dir.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={user}"))
                    .arg(format!("--regid={user}"))
                    .arg("--init-groups")
                    .arg("--")
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        }
    }

    /// The store URL of this cluster.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// (Re)starts the server and waits until it accepts connections.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.base.join("data"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-k"])
            .arg(&self.base)
            .args(["-c", "fsync=off", "-c", "max_connections=50"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = Command::new(self.bin_dir.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGINT, fast shutdown, to the postmaster we started) and waits until
    /// the port is closed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // setpriv execs, so the child is the postmaster itself.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "postgres still answers");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.base);
        let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
        taken.retain(|p| *p != self.port);
    }
}

//! `kv-bench`: the same workload on each store through the public `key-value` API, on the raw
//! Rust client of the same backend, on py-key-value-aio 0.4.6 (a Python subprocess) and, for
//! Redis, on `redis-benchmark`; prints medians of several runs and the ratios ours / baseline.
//!
//! ```text
//! kv-bench [--quick] [--ops N] [--runs N] [--stores memory,disk,...] [--json PATH] [--no-python]
//!          [--plot PATH.png] [--from-json PATH]   # --from-json: only plot an earlier report
//! ```
//!
//! Stores with a server are benchmarked when their `KV_*_URL` variable is set (as printed by
//! `services/<name>/start`); `scripts/bench` does that. See docs/benchmarks.md.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use key_value::prelude::{KeyValueExt, Object, SharedStore};
use parking_lot::Mutex;
use redis::AsyncCommands;

mod plot;

type Res<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Res<T>> + Send + 'a>>;

/// The operations of the workload, on one implementation.
trait Backend: Send + Sync {
    fn put<'a>(&'a self, col: &'a str, key: &'a str, ttl: Option<u64>) -> BoxFut<'a, ()>;
    fn get<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, bool>;
    fn put_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, ()>;
    fn get_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, usize>;
    fn delete<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, ()>;
}

/// The benchmark value: a JSON object of 20 string fields, about 1 KiB serialized.
fn make_value() -> Object {
    let mut o = Object::new();
    for i in 0..20 {
        o.insert(
            format!("field_{i:02}"),
            serde_json::Value::String("x".repeat(40)),
        );
    }
    o
}

// ---------------------------------------------------------------- ours (public API)

struct Ours {
    store: SharedStore,
    value: Object,
}

impl Backend for Ours {
    fn put<'a>(&'a self, col: &'a str, key: &'a str, ttl: Option<u64>) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let p = self.store.put(key, self.value.clone()).collection(col);
            match ttl {
                Some(t) => p.ttl(t).await?,
                None => p.await?,
            }
            Ok(())
        })
    }
    fn get<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move { Ok(self.store.get(key).collection(col).await?.is_some()) })
    }
    fn put_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let values = vec![self.value.clone(); keys.len()];
            self.store.put_many(keys, values).collection(col).await?;
            Ok(())
        })
    }
    fn get_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, usize> {
        Box::pin(async move {
            let got = self.store.get_many(keys).collection(col).await?;
            Ok(got.iter().filter(|v| v.is_some()).count())
        })
    }
    fn delete<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.store.delete(key).collection(col).await?;
            Ok(())
        })
    }
}

// ---------------------------------------------------------------- raw baselines

/// A `parking_lot::Mutex<HashMap>` holding the object (cloned in and out) and its expiry.
struct RawMemory {
    map: Mutex<HashMap<String, (Object, Option<Instant>)>>,
    value: Object,
}

impl Backend for RawMemory {
    fn put<'a>(&'a self, col: &'a str, key: &'a str, ttl: Option<u64>) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let exp = ttl.map(|t| Instant::now() + Duration::from_secs(t));
            self.map
                .lock()
                .insert(format!("{col}::{key}"), (self.value.clone(), exp));
            Ok(())
        })
    }
    fn get<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move {
            let got = self.map.lock().get(&format!("{col}::{key}")).cloned();
            Ok(matches!(got, Some((_, exp)) if exp.is_none_or(|e| e > Instant::now())))
        })
    }
    fn put_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let mut m = self.map.lock();
            for k in keys {
                m.insert(format!("{col}::{k}"), (self.value.clone(), None));
            }
            Ok(())
        })
    }
    fn get_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, usize> {
        Box::pin(async move {
            let m = self.map.lock();
            let got: Vec<Option<Object>> = keys
                .iter()
                .map(|k| m.get(&format!("{col}::{k}")).map(|(o, _)| o.clone()))
                .collect();
            Ok(got.iter().filter(|v| v.is_some()).count())
        })
    }
    fn delete<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.map.lock().remove(&format!("{col}::{key}"));
            Ok(())
        })
    }
}

/// redis-rs on a multiplexed connection: SET/SET EX/GET/MSET/MGET/DEL of the value's JSON.
struct RawRedis {
    conn: redis::aio::MultiplexedConnection,
    value: Object,
}

impl Backend for RawRedis {
    fn put<'a>(&'a self, col: &'a str, key: &'a str, ttl: Option<u64>) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            let v = serde_json::to_string(&self.value)?;
            let k = format!("{col}::{key}");
            match ttl {
                Some(t) => c.set_ex::<_, _, ()>(k, v, t).await?,
                None => c.set::<_, _, ()>(k, v).await?,
            }
            Ok(())
        })
    }
    fn get<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            let got: Option<String> = c.get(format!("{col}::{key}")).await?;
            Ok(match got {
                Some(s) => {
                    let _o: Object = serde_json::from_str(&s)?;
                    true
                }
                None => false,
            })
        })
    }
    fn put_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            let mut pairs = Vec::with_capacity(keys.len());
            for k in keys {
                pairs.push((format!("{col}::{k}"), serde_json::to_string(&self.value)?));
            }
            c.mset::<_, _, ()>(&pairs).await?;
            Ok(())
        })
    }
    fn get_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, usize> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            let ks: Vec<String> = keys.iter().map(|k| format!("{col}::{k}")).collect();
            let got: Vec<Option<String>> = c.mget(&ks).await?;
            let mut n = 0;
            for s in got.into_iter().flatten() {
                let _o: Object = serde_json::from_str(&s)?;
                n += 1;
            }
            Ok(n)
        })
    }
    fn delete<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            c.del::<_, i64>(format!("{col}::{key}")).await?;
            Ok(())
        })
    }
}

/// tokio-postgres, one connection, prepared statements on a table of the same schema as the
/// store's (JSONB value, TTL and timestamps).
struct RawPostgres {
    client: tokio_postgres::Client,
    put: tokio_postgres::Statement,
    get: tokio_postgres::Statement,
    put_many: tokio_postgres::Statement,
    get_many: tokio_postgres::Statement,
    delete: tokio_postgres::Statement,
    value: Object,
}

impl RawPostgres {
    async fn connect(url: &str, value: Object) -> Res<Self> {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS kv_bench_raw (collection TEXT NOT NULL, key TEXT NOT NULL, \
                 value JSONB NOT NULL, ttl DOUBLE PRECISION, created_at TIMESTAMPTZ, \
                 expires_at TIMESTAMPTZ, PRIMARY KEY (collection, key)); \
                 CREATE INDEX IF NOT EXISTS kv_bench_raw_expires_at ON kv_bench_raw(expires_at) \
                 WHERE expires_at IS NOT NULL",
            )
            .await?;
        // The same partial index as py-key-value's table (and so the store's): without it the
        // raw client did less work on every write with a TTL.
        let upsert = "ON CONFLICT (collection, key) DO UPDATE SET value = EXCLUDED.value, \
                      ttl = EXCLUDED.ttl, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at";
        let put = client
            .prepare(&format!(
                "INSERT INTO kv_bench_raw VALUES ($1, $2, $3::text::jsonb, $4::float8, now(), \
                 now() + $4::float8 * interval '1 second') {upsert}"
            ))
            .await?;
        let get = client
            .prepare(
                "SELECT value::text FROM kv_bench_raw WHERE collection = $1 AND key = $2 \
                 AND (expires_at IS NULL OR expires_at > now())",
            )
            .await?;
        let put_many = client
            .prepare(&format!(
                "INSERT INTO kv_bench_raw SELECT $1, k, v::jsonb, NULL, now(), NULL \
                 FROM unnest($2::text[], $3::text[]) AS t(k, v) {upsert}"
            ))
            .await?;
        let get_many = client
            .prepare(
                "SELECT key, value::text FROM kv_bench_raw WHERE collection = $1 AND key = ANY($2::text[]) \
                 AND (expires_at IS NULL OR expires_at > now())",
            )
            .await?;
        let delete = client
            .prepare("DELETE FROM kv_bench_raw WHERE collection = $1 AND key = $2")
            .await?;
        Ok(Self {
            client,
            put,
            get,
            put_many,
            get_many,
            delete,
            value,
        })
    }
}

impl Backend for RawPostgres {
    fn put<'a>(&'a self, col: &'a str, key: &'a str, ttl: Option<u64>) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let v = serde_json::to_string(&self.value)?;
            let ttl = ttl.map(|t| t as f64);
            self.client
                .execute(&self.put, &[&col, &key, &v, &ttl])
                .await?;
            Ok(())
        })
    }
    fn get<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move {
            let row = self.client.query_opt(&self.get, &[&col, &key]).await?;
            Ok(match row {
                Some(r) => {
                    let s: &str = r.try_get(0)?;
                    let _o: Object = serde_json::from_str(s)?;
                    true
                }
                None => false,
            })
        })
    }
    fn put_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let mut vals = Vec::with_capacity(keys.len());
            for _ in keys {
                vals.push(serde_json::to_string(&self.value)?);
            }
            self.client
                .execute(&self.put_many, &[&col, &keys, &vals])
                .await?;
            Ok(())
        })
    }
    fn get_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, usize> {
        Box::pin(async move {
            let rows = self.client.query(&self.get_many, &[&col, &keys]).await?;
            let mut by_key: HashMap<String, Object> = HashMap::with_capacity(rows.len());
            for r in rows {
                let k: String = r.try_get(0)?;
                let s: &str = r.try_get(1)?;
                by_key.insert(k, serde_json::from_str(s)?);
            }
            let ordered: Vec<Option<&Object>> = keys.iter().map(|k| by_key.get(k)).collect();
            Ok(ordered.iter().filter(|v| v.is_some()).count())
        })
    }
    fn delete<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.client.execute(&self.delete, &[&col, &key]).await?;
            Ok(())
        })
    }
}

/// rusqlite, one connection behind a mutex, WAL + synchronous=NORMAL (diskcache's defaults),
/// cached prepared statements; called inline (no thread hop).
struct RawSqlite {
    conn: Mutex<rusqlite::Connection>,
    value: Object,
}

impl RawSqlite {
    fn open(path: &std::path::Path, value: Object) -> Res<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expire REAL)",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            value,
        })
    }
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Backend for RawSqlite {
    fn put<'a>(&'a self, col: &'a str, key: &'a str, ttl: Option<u64>) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let v = serde_json::to_string(&self.value)?;
            let exp = ttl.map(|t| now_secs() + t as f64);
            let c = self.conn.lock();
            c.prepare_cached("INSERT OR REPLACE INTO kv VALUES (?1, ?2, ?3)")?
                .execute(rusqlite::params![format!("{col}::{key}"), v, exp])?;
            Ok(())
        })
    }
    fn get<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move { sqlite_get(&self.conn.lock(), &format!("{col}::{key}")) })
    }
    fn put_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn.lock();
            let tx = c.transaction()?;
            {
                let mut st =
                    tx.prepare_cached("INSERT OR REPLACE INTO kv VALUES (?1, ?2, NULL)")?;
                for k in keys {
                    let v = serde_json::to_string(&self.value)?;
                    st.execute(rusqlite::params![format!("{col}::{k}"), v])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
    fn get_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, usize> {
        Box::pin(async move {
            let c = self.conn.lock();
            let mut n = 0;
            for k in keys {
                if sqlite_get(&c, &format!("{col}::{k}"))? {
                    n += 1;
                }
            }
            Ok(n)
        })
    }
    fn delete<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let c = self.conn.lock();
            c.prepare_cached("DELETE FROM kv WHERE key = ?1")?
                .execute([format!("{col}::{key}")])?;
            Ok(())
        })
    }
}

fn sqlite_get(c: &rusqlite::Connection, key: &str) -> Res<bool> {
    use rusqlite::OptionalExtension;
    let got: Option<(String, Option<f64>)> = c
        .prepare_cached("SELECT value, expire FROM kv WHERE key = ?1")?
        .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match got {
        Some((s, exp)) if exp.is_none_or(|e| e > now_secs()) => {
            let _o: Object = serde_json::from_str(&s)?;
            true
        }
        _ => false,
    })
}

/// The memcached text protocol over plain tokio TCP connections (a small pool):
/// set/get/multi-get/delete, put_many as one pipelined write of `set`s.
struct RawMemcached {
    addr: String,
    pool: Mutex<Vec<tokio::io::BufStream<tokio::net::TcpStream>>>,
    value: Object,
}

type McConn = tokio::io::BufStream<tokio::net::TcpStream>;

impl RawMemcached {
    async fn conn(&self) -> Res<McConn> {
        let pooled = self.pool.lock().pop();
        match pooled {
            Some(c) => Ok(c),
            None => Ok(tokio::io::BufStream::new(
                tokio::net::TcpStream::connect(&self.addr).await?,
            )),
        }
    }
    fn give_back(&self, c: McConn) {
        self.pool.lock().push(c);
    }
    async fn line(c: &mut McConn) -> Res<String> {
        use tokio::io::AsyncBufReadExt;
        let mut l = String::new();
        c.read_line(&mut l).await?;
        if l.is_empty() {
            return Err("memcached closed the connection".into());
        }
        Ok(l.trim_end().to_string())
    }
    /// Reads `VALUE` blocks up to `END`; how many objects were parsed.
    async fn read_values(c: &mut McConn) -> Res<usize> {
        use tokio::io::AsyncReadExt;
        let mut n = 0;
        loop {
            let l = Self::line(c).await?;
            if l == "END" {
                return Ok(n);
            }
            let len: usize = l
                .split(' ')
                .nth(3)
                .ok_or_else(|| format!("memcached: {l}"))?
                .parse()?;
            let mut buf = vec![0u8; len + 2];
            c.read_exact(&mut buf).await?;
            let _o: Object = serde_json::from_slice(&buf[..len])?;
            n += 1;
        }
    }
    fn set_cmd(out: &mut Vec<u8>, key: &str, data: &str, exp: u64) {
        out.extend_from_slice(format!("set {key} 0 {exp} {}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

impl Backend for RawMemcached {
    fn put<'a>(&'a self, col: &'a str, key: &'a str, ttl: Option<u64>) -> BoxFut<'a, ()> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let mut c = self.conn().await?;
            let mut out = Vec::with_capacity(1200);
            Self::set_cmd(
                &mut out,
                &format!("{col}::{key}"),
                &serde_json::to_string(&self.value)?,
                ttl.unwrap_or(0),
            );
            c.write_all(&out).await?;
            c.flush().await?;
            let l = Self::line(&mut c).await?;
            self.give_back(c);
            if l != "STORED" {
                return Err(format!("memcached set: {l}").into());
            }
            Ok(())
        })
    }
    fn get<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let mut c = self.conn().await?;
            c.write_all(format!("get {col}::{key}\r\n").as_bytes())
                .await?;
            c.flush().await?;
            let n = Self::read_values(&mut c).await?;
            self.give_back(c);
            Ok(n == 1)
        })
    }
    fn put_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, ()> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let mut c = self.conn().await?;
            let mut out = Vec::with_capacity(1200 * keys.len());
            for k in keys {
                Self::set_cmd(
                    &mut out,
                    &format!("{col}::{k}"),
                    &serde_json::to_string(&self.value)?,
                    0,
                );
            }
            c.write_all(&out).await?;
            c.flush().await?;
            for _ in keys {
                let l = Self::line(&mut c).await?;
                if l != "STORED" {
                    return Err(format!("memcached set: {l}").into());
                }
            }
            self.give_back(c);
            Ok(())
        })
    }
    fn get_many<'a>(&'a self, col: &'a str, keys: &'a [String]) -> BoxFut<'a, usize> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let mut c = self.conn().await?;
            let mut cmd = String::from("get");
            for k in keys {
                cmd.push_str(&format!(" {col}::{k}"));
            }
            cmd.push_str("\r\n");
            c.write_all(cmd.as_bytes()).await?;
            c.flush().await?;
            let n = Self::read_values(&mut c).await?;
            self.give_back(c);
            Ok(n)
        })
    }
    fn delete<'a>(&'a self, col: &'a str, key: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let mut c = self.conn().await?;
            c.write_all(format!("delete {col}::{key}\r\n").as_bytes())
                .await?;
            c.flush().await?;
            let _l = Self::line(&mut c).await?;
            self.give_back(c);
            Ok(())
        })
    }
}

// ---------------------------------------------------------------- workload

/// The operations, in report order.
const OPS: &[&str] = &[
    "put",
    "get_hit",
    "get_miss",
    "put_many",
    "get_many",
    "delete",
    "put_ttl",
    "concurrent_1",
    "concurrent_8",
    "concurrent_64",
];

type RunResult = BTreeMap<String, f64>;

fn ops_per_sec(n: usize, t: Instant) -> f64 {
    n as f64 / t.elapsed().as_secs_f64().max(1e-9)
}

/// One run of every operation; ops/s (keys/s for batches) per operation.
async fn run_once(
    b: Arc<dyn Backend>,
    label: &str,
    run: usize,
    ops: usize,
    batch: usize,
) -> Res<RunResult> {
    let col = format!("{label}{run}");
    let col_m = format!("{col}m");
    let col_t = format!("{col}t");
    let col_c = format!("{col}c");
    let keys: Vec<String> = (0..ops).map(|i| format!("k{i}")).collect();
    let miss: Vec<String> = (0..ops).map(|i| format!("miss{i}")).collect();
    let mut r = RunResult::new();

    let t = Instant::now();
    for k in &keys {
        b.put(&col, k, None).await?;
    }
    r.insert("put".into(), ops_per_sec(ops, t));

    let t = Instant::now();
    for k in &keys {
        if !b.get(&col, k).await? {
            return Err(format!("{label}: get of {k} missed").into());
        }
    }
    r.insert("get_hit".into(), ops_per_sec(ops, t));

    let t = Instant::now();
    for k in &miss {
        if b.get(&col, k).await? {
            return Err(format!("{label}: get of {k} hit").into());
        }
    }
    r.insert("get_miss".into(), ops_per_sec(ops, t));

    let t = Instant::now();
    for chunk in keys.chunks(batch) {
        b.put_many(&col_m, chunk).await?;
    }
    r.insert("put_many".into(), ops_per_sec(ops, t));

    let t = Instant::now();
    for chunk in keys.chunks(batch) {
        let n = b.get_many(&col_m, chunk).await?;
        if n != chunk.len() {
            return Err(format!("{label}: get_many found {n} of {}", chunk.len()).into());
        }
    }
    r.insert("get_many".into(), ops_per_sec(ops, t));

    let t = Instant::now();
    for k in &keys {
        b.delete(&col, k).await?;
    }
    r.insert("delete".into(), ops_per_sec(ops, t));

    let t = Instant::now();
    for k in &keys {
        b.put(&col_t, k, Some(60)).await?;
    }
    r.insert("put_ttl".into(), ops_per_sec(ops, t));

    for tasks in [1usize, 8, 64] {
        let per = (ops / tasks).max(1);
        let t = Instant::now();
        let mut handles = Vec::with_capacity(tasks);
        for task in 0..tasks {
            let b = Arc::clone(&b);
            let col_c = col_c.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..per {
                    let k = format!("c{task}_{i}");
                    b.put(&col_c, &k, None).await?;
                    if !b.get(&col_c, &k).await? {
                        return Err::<(), Box<dyn std::error::Error + Send + Sync>>(
                            format!("concurrent get of {k} missed").into(),
                        );
                    }
                }
                Ok(())
            }));
        }
        for h in handles {
            h.await??;
        }
        r.insert(
            format!("concurrent_{tasks}"),
            ops_per_sec(per * tasks * 2, t),
        );
    }

    // Clean up (untimed).
    for k in &keys {
        b.delete(&col_m, k).await?;
        b.delete(&col_t, k).await?;
    }
    for task in 0..64 {
        for i in 0..(ops / 64).max(1) {
            b.delete(&col_c, &format!("c{task}_{i}")).await?;
        }
    }
    Ok(r)
}

/// Median, min and max of one operation over the runs.
#[derive(Clone, Copy)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

impl Stat {
    fn of(mut xs: Vec<f64>) -> Option<Stat> {
        if xs.is_empty() {
            return None;
        }
        xs.sort_by(|a, b| a.total_cmp(b));
        let n = xs.len();
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: xs[0],
            max: xs[n - 1],
        })
    }
    /// Half the min..max range, in percent of the median.
    fn spread_pct(&self) -> f64 {
        if self.median > 0.0 {
            (self.max - self.min) / 2.0 / self.median * 100.0
        } else {
            0.0
        }
    }
    fn json(&self) -> serde_json::Value {
        serde_json::json!({"median": self.median, "min": self.min, "max": self.max})
    }
}

fn stats(runs: &[RunResult]) -> BTreeMap<String, Stat> {
    let mut out = BTreeMap::new();
    for op in OPS {
        let xs: Vec<f64> = runs.iter().filter_map(|r| r.get(*op).copied()).collect();
        if let Some(s) = Stat::of(xs) {
            out.insert((*op).to_string(), s);
        }
    }
    out
}

// ---------------------------------------------------------------- baselines outside Rust

/// py-key-value-aio on the same store: runs bench/python/pykv_bench.py.
async fn python_bench(
    python: &str,
    store: &str,
    url: &str,
    ops: usize,
    runs: usize,
) -> Res<BTreeMap<String, Stat>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/pykv_bench.py");
    let out = tokio::process::Command::new(python)
        .args([
            script,
            "--store",
            store,
            "--url",
            url,
            "--ops",
            &ops.to_string(),
            "--runs",
            &runs.to_string(),
        ])
        .output()
        .await?;
    if !out.status.success() {
        return Err(format!(
            "python {store}: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
        )
        .into());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let mut res = BTreeMap::new();
    if let Some(m) = v.get("results").and_then(|r| r.as_object()) {
        for (op, xs) in m {
            let xs: Vec<f64> = xs
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default();
            if let Some(s) = Stat::of(xs) {
                res.insert(op.clone(), s);
            }
        }
    }
    Ok(res)
}

/// `redis-benchmark -t get,set -c 50 -d 1024 -q`: (SET rps, GET rps) per run.
async fn redis_benchmark(port: u16, n: usize) -> Res<(f64, f64)> {
    let out = tokio::process::Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "get,set",
            "-c",
            "50",
            "-d",
            "1024",
            "-n",
            &n.to_string(),
            "-q",
        ])
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut set = None;
    let mut get = None;
    for seg in text.split(['\r', '\n']) {
        let seg = seg.trim();
        let rps = |s: &str| -> Option<f64> {
            s.split_whitespace()
                .nth(1)
                .and_then(|x| x.parse::<f64>().ok())
        };
        if seg.starts_with("SET:") && seg.contains("requests per second") {
            set = rps(seg);
        } else if seg.starts_with("GET:") && seg.contains("requests per second") {
            get = rps(seg);
        }
    }
    match (set, get) {
        (Some(s), Some(g)) => Ok((s, g)),
        _ => Err(format!("redis-benchmark: unexpected output {text:?}").into()),
    }
}

// ---------------------------------------------------------------- driver

struct Args {
    quick: bool,
    ops: usize,
    runs: usize,
    stores: Option<Vec<String>>,
    json: Option<String>,
    plot: Option<String>,
    from_json: Option<String>,
    python: bool,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        quick: false,
        ops: 2000,
        runs: 5,
        stores: None,
        json: None,
        plot: None,
        from_json: None,
        python: true,
    };
    let mut ops = None;
    let mut runs = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--ops" => ops = Some(it.next().ok_or("--ops N")?.parse()?),
            "--runs" => runs = Some(it.next().ok_or("--runs N")?.parse()?),
            "--stores" => {
                a.stores = Some(
                    it.next()
                        .ok_or("--stores a,b")?
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                )
            }
            "--json" => a.json = Some(it.next().ok_or("--json PATH")?),
            "--no-python" => a.python = false,
            "--plot" => a.plot = Some(it.next().ok_or("--plot PATH.png")?),
            "--from-json" => a.from_json = Some(it.next().ok_or("--from-json PATH")?),
            "-h" | "--help" => {
                println!(
                    "kv-bench [--quick] [--ops N] [--runs N] [--stores memory,disk,...] [--json PATH] [--plot PATH.png] [--from-json PATH] [--no-python]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.quick {
        a.ops = 200;
        a.runs = 2;
    }
    a.ops = ops.unwrap_or(a.ops);
    a.runs = runs.unwrap_or(a.runs);
    Ok(a)
}

/// One store to benchmark: our URL, the raw baseline, and how Python opens the same thing.
struct Target {
    name: &'static str,
    url: String,
    raw: Option<Arc<dyn Backend>>,
    raw_name: &'static str,
    python: Option<(&'static str, String)>,
    redis_port: Option<u16>,
    /// At most this many operations per run: the cloud stores run against emulators that take
    /// milliseconds per call, and their figures describe the emulator, not the service.
    max_ops: Option<usize>,
    /// Runs this many times the requested operations (not in quick mode): an in-memory
    /// store does 2,000 puts in a few milliseconds, a window in which growing the heap (page
    /// faults) decides the result; at 20,000 the ratios settle (see docs/benchmarks.md).
    ops_scale: usize,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

fn port_of(url: &str) -> Option<u16> {
    url.rsplit(':')
        .next()?
        .split(['/', '?'])
        .next()?
        .parse()
        .ok()
}

async fn targets(a: &Args, tmp: &std::path::Path) -> Res<Vec<Target>> {
    let value = make_value();
    let want = |n: &str| a.stores.as_ref().is_none_or(|s| s.iter().any(|x| x == n));
    let mut t = Vec::new();
    if want("memory") {
        t.push(Target {
            name: "memory",
            url: "memory://?max_entries_per_collection=1000000".into(),
            raw: Some(Arc::new(RawMemory {
                map: Mutex::new(HashMap::new()),
                value: value.clone(),
            })),
            raw_name: "Mutex<HashMap>",
            python: Some(("memory", String::new())),
            redis_port: None,
            max_ops: None,
            ops_scale: 10,
        });
    }
    if want("disk") {
        t.push(Target {
            name: "disk",
            url: format!("disk://{}", tmp.join("ours-disk").display()),
            raw: Some(Arc::new(RawSqlite::open(
                &tmp.join("raw.sqlite"),
                value.clone(),
            )?)),
            raw_name: "rusqlite",
            python: Some(("disk", String::new())),
            redis_port: None,
            max_ops: None,
            ops_scale: 1,
        });
    }
    if want("filetree") {
        t.push(Target {
            name: "filetree",
            url: format!("filetree://{}", tmp.join("ours-filetree").display()),
            raw: None,
            raw_name: "-",
            python: None,
            redis_port: None,
            max_ops: None,
            ops_scale: 1,
        });
    }
    if want("redis")
        && let Some(url) = env("KV_REDIS_URL")
    {
        let conn = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        t.push(Target {
            name: "redis",
            url: url.clone(),
            raw: Some(Arc::new(RawRedis {
                conn,
                value: value.clone(),
            })),
            raw_name: "redis-rs",
            python: Some(("redis", url.clone())),
            redis_port: port_of(&url),
            max_ops: None,
            ops_scale: 1,
        });
    }
    if want("valkey")
        && let Some(url) = env("KV_VALKEY_URL")
    {
        let redis_url = url.replacen("valkey://", "redis://", 1);
        let conn = redis::Client::open(redis_url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        t.push(Target {
            name: "valkey",
            url,
            raw: Some(Arc::new(RawRedis {
                conn,
                value: value.clone(),
            })),
            raw_name: "redis-rs",
            python: None,
            redis_port: None,
            max_ops: None,
            ops_scale: 1,
        });
    }
    if want("postgresql")
        && let Some(url) = env("KV_POSTGRES_URL")
    {
        let sep = if url.contains('?') { '&' } else { '?' };
        t.push(Target {
            name: "postgresql",
            // The raw client connects without TLS, so the store must too: the test server
            // offers TLS and the store's default `sslmode=prefer` would take it.
            url: format!("{url}{sep}table=kv_bench&sslmode=disable"),
            raw: Some(Arc::new(RawPostgres::connect(&url, value.clone()).await?)),
            raw_name: "tokio-postgres",
            python: Some(("postgresql", url.clone())),
            redis_port: None,
            max_ops: None,
            ops_scale: 1,
        });
    }
    if want("memcached")
        && let Some(url) = env("KV_MEMCACHED_URL")
    {
        let addr = url.trim_start_matches("memcached://").to_string();
        t.push(Target {
            name: "memcached",
            url: url.clone(),
            raw: Some(Arc::new(RawMemcached {
                addr,
                pool: Mutex::new(Vec::new()),
                value: value.clone(),
            })),
            raw_name: "tokio TCP, text protocol",
            python: Some(("memcached", url)),
            redis_port: None,
            max_ops: None,
            ops_scale: 1,
        });
    }
    if want("mysql")
        && let Some(url) = env("KV_MYSQL_URL")
    {
        t.push(Target {
            name: "mysql",
            url,
            raw: None,
            raw_name: "-",
            python: None,
            redis_port: None,
            max_ops: None,
            ops_scale: 1,
        });
    }
    if want("mongodb")
        && let Some(url) = env("KV_MONGODB_URL")
    {
        t.push(Target {
            name: "mongodb",
            url,
            raw: None,
            raw_name: "-",
            python: None,
            redis_port: None,
            max_ops: None,
            ops_scale: 1,
        });
    }
    // Cloud stores, against the local stand-ins of services/ (ours only: there is no raw
    // client here to compare with, and py-key-value's runs would measure the emulator too).
    let cloud = |name: &'static str, url: String| Target {
        name,
        url,
        raw: None,
        raw_name: "-",
        python: None,
        redis_port: None,
        max_ops: Some(300),
        ops_scale: 1,
    };
    if want("dynamodb")
        && let Some(endpoint) = env("KV_DYNALITE_URL")
    {
        t.push(cloud(
            "dynamodb",
            format!("dynamodb://bench:bench@kv-bench?region=us-east-1&endpoint={endpoint}"),
        ));
    }
    if want("s3")
        && let (Some(endpoint), Some(id), Some(secret)) = (
            env("KV_RCLONE_S3_URL"),
            env("KV_RCLONE_S3_ACCESS_KEY"),
            env("KV_RCLONE_S3_SECRET_KEY"),
        )
    {
        t.push(cloud(
            "s3",
            format!("s3://{id}:{secret}@kv-bench?region=us-east-1&endpoint={endpoint}"),
        ));
    }
    if want("azure-tables") && env("KV_AZURITE_CONNECTION_STRING").is_some() {
        t.push(cloud(
            "azure-tables",
            "azure-tables:///kvbench?connection_string_env=KV_AZURITE_CONNECTION_STRING".into(),
        ));
    }
    if want("firestore")
        && let (Some(host), Some(project)) = (
            env("KV_FIRESTORE_EMULATOR_HOST"),
            env("KV_FIRESTORE_PROJECT"),
        )
    {
        t.push(cloud(
            "firestore",
            format!("firestore://{project}?emulator_host={host}"),
        ));
    }
    Ok(t)
}

fn fmt_rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn cell(s: Option<&Stat>) -> String {
    match s {
        Some(s) => format!("{} ±{:.0}%", fmt_rate(s.median), s.spread_pct()),
        None => "-".into(),
    }
}

fn ratio(a: Option<&Stat>, b: Option<&Stat>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}×", a.median / b.median),
        _ => "-".into(),
    }
}

fn sane(name: &str, s: &BTreeMap<String, Stat>) -> Res<()> {
    for op in OPS {
        match s.get(*op) {
            Some(st) if st.median.is_finite() && st.median > 0.0 => {}
            _ => return Err(format!("{name}: no sane number for {op}").into()),
        }
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if let Err(e) = real_main().await {
        eprintln!("kv-bench: {e}");
        std::process::exit(1);
    }
}

async fn real_main() -> Res<()> {
    let a = parse_args()?;
    if let Some(input) = &a.from_json {
        let report: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(input)?)?;
        let out = a
            .plot
            .as_deref()
            .ok_or("--from-json needs --plot PATH.png")?;
        plot::write(&report, out)?;
        println!("wrote {out}");
        return Ok(());
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir()?;
    let python = if a.python { env("KV_PYTHON") } else { None };
    let batch = 100;
    println!(
        "kv-bench: {} ops per operation, {} runs, batches of {batch}, value {} bytes of JSON{}",
        a.ops,
        a.runs,
        serde_json::to_string(&make_value())?.len(),
        if a.quick { " (quick)" } else { "" }
    );
    let mut report = serde_json::Map::new();
    let mut headline = Vec::new();
    for t in targets(&a, tmp.path()).await? {
        let ours: Arc<dyn Backend> = Arc::new(Ours {
            store: key_value::open(&t.url)?,
            value: make_value(),
        });
        let mut ours_runs = Vec::new();
        let mut raw_runs = Vec::new();
        let scaled = if a.quick { a.ops } else { a.ops * t.ops_scale };
        let ops = t.max_ops.map_or(scaled, |max| scaled.min(max));
        // Interleaved so that drift of the machine hits both alike, and the order swapped on
        // every run: whoever runs first grows the heap and pays its page faults (the kernel
        // zeroing fresh pages was 22% of a MemoryStore run's cycles in `perf`).
        for run in 0..a.runs {
            let raw_first = run % 2 == 1;
            if raw_first && let Some(raw) = &t.raw {
                raw_runs.push(run_once(Arc::clone(raw), "raw", run, ops, batch).await?);
            }
            ours_runs.push(run_once(Arc::clone(&ours), "ours", run, ops, batch).await?);
            if !raw_first && let Some(raw) = &t.raw {
                raw_runs.push(run_once(Arc::clone(raw), "raw", run, ops, batch).await?);
            }
        }
        let ours_s = stats(&ours_runs);
        sane(t.name, &ours_s)?;
        let raw_s = stats(&raw_runs);
        let py_s = match (&python, &t.python) {
            (Some(py), Some((kind, url))) => match python_bench(py, kind, url, ops, a.runs).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("kv-bench: py-key-value on {}: {e}", t.name);
                    BTreeMap::new()
                }
            },
            _ => BTreeMap::new(),
        };
        let rb = match t.redis_port {
            Some(port) => {
                let n = (a.ops * 10).max(1000);
                let mut sets = Vec::new();
                let mut gets = Vec::new();
                for _ in 0..a.runs {
                    match redis_benchmark(port, n).await {
                        Ok((s, g)) => {
                            sets.push(s);
                            gets.push(g);
                        }
                        Err(e) => eprintln!("kv-bench: {e}"),
                    }
                }
                Stat::of(sets).zip(Stat::of(gets))
            }
            None => None,
        };

        println!(
            "\n### {} (raw baseline: {}; {ops} operations per run)\n",
            t.name, t.raw_name
        );
        println!(
            "| operation | ours ops/s | raw ops/s | ours/raw | py-key-value ops/s | ours/py |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for op in OPS {
            let o = ours_s.get(*op);
            let r = raw_s.get(*op);
            let p = py_s.get(*op);
            println!(
                "| {op} | {} | {} | {} | {} | {} |",
                cell(o),
                cell(r),
                ratio(o, r),
                cell(p),
                ratio(o, p)
            );
        }
        let mut rb_json = serde_json::Value::Null;
        if let Some((set, get)) = rb {
            // The concurrent workload is half SET, half GET: the harmonic mean of the two.
            let mix = 2.0 / (1.0 / set.median + 1.0 / get.median);
            let mix_stat = Stat {
                median: mix,
                min: mix,
                max: mix,
            };
            println!(
                "\nredis-benchmark -c 50 -d 1024: SET {} GET {} (50/50 mix {}); ours concurrent_64 / redis-benchmark = {}; raw concurrent_64 / redis-benchmark = {}",
                cell(Some(&set)),
                cell(Some(&get)),
                fmt_rate(mix),
                ratio(ours_s.get("concurrent_64"), Some(&mix_stat)),
                ratio(raw_s.get("concurrent_64"), Some(&mix_stat)),
            );
            headline.push(format!(
                "{}: concurrent_64 ours / redis-benchmark(50 clients) = {}",
                t.name,
                ratio(ours_s.get("concurrent_64"), Some(&mix_stat))
            ));
            rb_json = serde_json::json!({"set": set.json(), "get": get.json(), "mix": mix});
        }
        let seq = ["put", "get_hit", "get_miss", "delete", "put_ttl"];
        let geo = |base: &BTreeMap<String, Stat>, ops: &[&str]| -> Option<f64> {
            let rs: Vec<f64> = ops
                .iter()
                .filter_map(|op| Some(ours_s.get(*op)?.median / base.get(*op)?.median))
                .collect();
            (rs.len() == ops.len())
                .then(|| (rs.iter().map(|r| r.ln()).sum::<f64>() / rs.len() as f64).exp())
        };
        let mut parts = Vec::new();
        if let Some(g) = geo(&raw_s, &seq) {
            parts.push(format!("sequential ours/raw {g:.2}×"));
        }
        if let Some(g) = geo(&raw_s, &["put_many", "get_many"]) {
            parts.push(format!("batches ours/raw {g:.2}×"));
        }
        if let Some(g) = geo(&raw_s, &["concurrent_64"]) {
            parts.push(format!("64 tasks ours/raw {g:.2}×"));
        }
        if let Some(g) = geo(&py_s, OPS) {
            parts.push(format!("all ops ours/py-key-value {g:.2}×"));
        }
        if !parts.is_empty() {
            headline.push(format!("{}: {}", t.name, parts.join(", ")));
        }

        let to_json = |s: &BTreeMap<String, Stat>| -> serde_json::Value {
            s.iter()
                .map(|(k, v)| (k.clone(), v.json()))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        report.insert(
            t.name.to_string(),
            serde_json::json!({
                "raw_name": t.raw_name,
                "ours": to_json(&ours_s),
                "raw": to_json(&raw_s),
                "python": to_json(&py_s),
                "redis_benchmark": rb_json,
            }),
        );
    }
    println!("\n## Headline (geometric means of the medians' ratios)\n");
    for l in &headline {
        println!("- {l}");
    }
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        println!("\nwrote {path}");
    }
    if let Some(path) = &a.plot {
        match plot::write(&report, path) {
            Ok(()) => println!("wrote {path}"),
            Err(e) => eprintln!("kv-bench: no plot: {e}"),
        }
    }
    println!(
        "\nkv-bench: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

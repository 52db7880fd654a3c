//! Interoperability with the real py-key-value 0.4.6 and diskcache 5.6.3 (`KV_PYTHON`; the
//! tests say NOT RUN without it, and fail in CI).
//!
//! Both directions, for DiskStore and MultiDiskStore: what Python writes, Rust reads with the
//! same values and TTLs, and the reverse; Python's raw `diskcache.Cache` reads our rows and its
//! own consistency check (`Cache.check()`) finds nothing to fix; rows, Settings and schema
//! compared byte for byte; the two languages writing one directory at the same time.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::tempdir;
use key_value_core::entry::Envelope;
use key_value_core::prelude::*;
use key_value_disk::{DiskConfig, DiskStore, MultiDiskStore, sanitize_filename};
use key_value_testkit::golden::assert_python_envelope;
use key_value_testkit::python::run_python;
use rusqlite::Connection;
use serde_json::{Value, json};

/// Imports and helpers every Python script starts with. `sys.argv[1]` is the directory,
/// `sys.argv[2]` (when given) a JSON argument.
const PRELUDE: &str = r#"
import asyncio, json, sys, time, warnings, sqlite3, os
import diskcache
from key_value.aio.stores.disk import DiskStore, MultiDiskStore
from pathlib import Path
directory = sys.argv[1]
arg = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
def check_cache(path):
    """diskcache's own consistency check; the warnings it raises (none expected)."""
    cache = diskcache.Cache(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.check()
    out = {"warnings": [str(w.message) for w in caught], "len": len(cache), "volume": cache.volume()}
    cache.close()
    return out
"#;

fn py(test: &str, body: &str, args: &[&str]) -> Option<String> {
    python(test, &format!("{PRELUDE}\n{body}"), args)
}

/// `run_python`, saying NOT RUN where `cargo test` shows it: the testkit's notice goes through
/// `eprintln!`, which the test harness captures for passing tests; a write to the process's
/// stderr is not captured.
fn python(test: &str, script: &str, args: &[&str]) -> Option<String> {
    let out = run_python(test, script, args);
    if out.is_none() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{test}: NOT RUN: KV_PYTHON is not configured (export KV_PYTHON=\"$(scripts/python-venv)\")"
        );
    }
    out
}

fn parse(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("bad JSON from Python ({e}): {out}"))
}

/// One entry both sides write: collection, key, value, TTL in seconds.
struct Sample {
    collection: &'static str,
    key: &'static str,
    value: Object,
    ttl: Option<f64>,
}

/// The entries of the interop tests: no TTL and TTL, unicode everywhere, values above
/// diskcache's 32 KiB file threshold (one ASCII, one whose escapes make it grow), several
/// collections, a key containing `::`.
fn samples() -> Vec<Sample> {
    let s = |collection, key, value, ttl| Sample {
        collection,
        key,
        value,
        ttl,
    };
    vec![
        s(
            "users",
            "user:1",
            object!({"name": "Alice", "age": 30}),
            None,
        ),
        s(
            "users",
            "user:2",
            object!({"name": "Bob", "tags": ["a", "b"], "score": 1.5, "none": null}),
            Some(3600.0),
        ),
        s(
            "集合-🌍",
            "鍵-🔑-ключ",
            object!({"text": "Hello 世界 🌍 émojis", "ключ-🔑": "значение", "combining": "e\u{301}"}),
            Some(600.0),
        ),
        s("blobs", "big", object!({"data": "x".repeat(40_000)}), None),
        s(
            "blobs",
            "big_ttl",
            object!({"data": "ü".repeat(20_000)}),
            Some(1800.0),
        ),
        s(
            "other",
            "k::with::colons",
            object!({"n": -7, "f": 1e300}),
            None,
        ),
        s(
            "test_collection!@#$%^&*()",
            "special!@#",
            object!({"v": true}),
            None,
        ),
    ]
}

/// The samples as the JSON argument Python reads.
fn samples_json(samples: &[Sample]) -> String {
    Value::Array(
        samples
            .iter()
            .map(|s| json!([s.collection, s.key, Value::Object(s.value.clone()), s.ttl]))
            .collect(),
    )
    .to_string()
}

/// Python writes every sample, plus `users/short` with a 0.2 s TTL, then waits for it to
/// expire.
const PY_WRITE: &str = r#"
async def main():
    store = STORE
    for collection, key, value, ttl in arg:
        await store.put(key, value, collection=collection, ttl=ttl)
    await store.put("short", {"v": 1}, collection="users", ttl=0.2)
    await asyncio.sleep(0.4)
    await store.close()
asyncio.run(main())
print("{}")
"#;

/// Python reads every sample (and `users/short`) with `ttl()`: `[value, ttl]` each.
const PY_READ: &str = r#"
async def main():
    store = STORE
    out = []
    for collection, key in arg + [["users", "short"]]:
        value, ttl = await store.ttl(key, collection=collection)
        out.append([value, ttl])
    await store.close()
    return out
print(json.dumps(asyncio.run(main())))
"#;

/// Reads every sample back through `store` and checks values and remaining TTLs (written at
/// most `elapsed` ago).
async fn assert_reads_samples<S: KeyValue>(store: &S, samples: &[Sample], elapsed: Duration) {
    for s in samples {
        let got = store.ttl(s.key).collection(s.collection).await.unwrap();
        let (value, ttl) = got.unwrap_or_else(|| panic!("{}/{} missing", s.collection, s.key));
        assert_eq!(value, s.value, "{}/{}", s.collection, s.key);
        match s.ttl {
            None => assert_eq!(ttl, None, "{}/{} has no TTL", s.collection, s.key),
            Some(t) => {
                let left = ttl.expect("a TTL").as_secs_f64();
                assert!(
                    left <= t && left >= t - elapsed.as_secs_f64() - 1.0,
                    "{}/{}: {left} s left of {t}",
                    s.collection,
                    s.key
                );
            }
        }
    }
    assert_eq!(
        store.get("short").collection("users").await.unwrap(),
        None,
        "an expired entry is a miss"
    );
}

/// Checks what Python's `ttl()` returned for the samples Rust wrote.
fn assert_python_read_samples(out: &Value, samples: &[Sample], elapsed: Duration) {
    let rows = out.as_array().expect("a list");
    assert_eq!(rows.len(), samples.len() + 1);
    for (s, row) in samples.iter().zip(rows) {
        assert_eq!(
            row[0],
            Value::Object(s.value.clone()),
            "{}/{}",
            s.collection,
            s.key
        );
        match s.ttl {
            None => assert_eq!(row[1], Value::Null, "{}/{}", s.collection, s.key),
            Some(t) => {
                let left = row[1].as_f64().expect("a TTL");
                assert!(
                    left <= t && left >= t - elapsed.as_secs_f64() - 1.0,
                    "{}/{}: Python sees {left} s left of {t}",
                    s.collection,
                    s.key
                );
            }
        }
    }
    assert_eq!(
        rows[samples.len()],
        json!([null, null]),
        "expired for Python too"
    );
}

async fn rust_write<S: KeyValue>(store: &S, samples: &[Sample]) {
    for s in samples {
        let put = store.put(s.key, s.value.clone()).collection(s.collection);
        match s.ttl {
            Some(t) => put.ttl(t).await.unwrap(),
            None => put.await.unwrap(),
        }
    }
    store
        .put("short", object!({"v": 1}))
        .collection("users")
        .ttl(0.2)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// A raw `Cache` row.
#[derive(Debug)]
struct Row {
    key: String,
    raw: i64,
    key_type: String,
    store_time: f64,
    expire_time: Option<f64>,
    access_time: f64,
    access_count: i64,
    tag_is_null: bool,
    size: i64,
    mode: i64,
    filename: Option<String>,
    value_type: String,
    value: Option<String>,
}

fn db(dir: &Path) -> Connection {
    Connection::open(dir.join("cache.db")).expect("cache.db opens")
}

fn rows(dir: &Path) -> Vec<Row> {
    let conn = db(dir);
    let mut stmt = conn
        .prepare(
            "SELECT key, raw, typeof(key), store_time, expire_time, access_time, access_count, \
             tag IS NULL, size, mode, filename, typeof(value), value FROM Cache ORDER BY key",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Row {
            key: r.get(0)?,
            raw: r.get(1)?,
            key_type: r.get(2)?,
            store_time: r.get(3)?,
            expire_time: r.get(4)?,
            access_time: r.get(5)?,
            access_count: r.get(6)?,
            tag_is_null: r.get(7)?,
            size: r.get(8)?,
            mode: r.get(9)?,
            filename: r.get(10)?,
            value_type: r.get(11)?,
            value: r.get(12)?,
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// `(key, value as text, typeof(value))` of every Settings row, in table order.
fn settings(dir: &Path) -> Vec<(String, String, String)> {
    let conn = db(dir);
    let mut stmt = conn
        .prepare("SELECT key, CAST(value AS TEXT), typeof(value) FROM Settings ORDER BY rowid")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn setting(dir: &Path, key: &str) -> i64 {
    db(dir)
        .query_row("SELECT value FROM Settings WHERE key = ?", [key], |r| {
            r.get(0)
        })
        .unwrap()
}

/// `sqlite3 .schema`: every object's type, name, table and SQL text.
fn schema(dir: &Path) -> Vec<(String, String, String, Option<String>)> {
    let conn = db(dir);
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn pragmas(dir: &Path) -> Vec<String> {
    let conn = db(dir);
    ["journal_mode", "auto_vacuum", "page_size"]
        .iter()
        .map(|p| {
            let v: rusqlite::types::Value = conn
                .query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
                .unwrap();
            format!("{p}={v:?}")
        })
        .collect()
}

/// The envelope text of a row, from its column or its file.
fn row_text(dir: &Path, row: &Row) -> String {
    match (&row.value, &row.filename) {
        (Some(v), None) => v.clone(),
        (None, Some(f)) => std::fs::read_to_string(dir.join(f)).expect("the value file"),
        other => panic!("row {} has {other:?}", row.key),
    }
}

/// Every row is py-key-value's: a TEXT key with raw=1, a TEXT envelope inline (mode 1) below
/// 32 KiB or a UTF-8 file (mode 3, `xx/yy/<28 hex>.val`, `size` = its bytes) above, the
/// envelope exactly py-key-value's bytes for its key, collection and value; Settings' count and
/// size agree with the rows.
fn assert_rows_are_py_key_value(
    dir: &Path,
    rows: &[Row],
    key_of: impl Fn(&str) -> (String, String),
) {
    let mut total_size = 0;
    for row in rows {
        assert_eq!((row.raw, row.key_type.as_str()), (1, "text"), "{row:?}");
        assert_eq!(row.store_time, row.access_time, "{row:?}");
        assert_eq!(row.access_count, 0);
        assert!(row.tag_is_null);
        let text = row_text(dir, row);
        let (collection, key) = key_of(&row.key);
        let entry = Envelope::load(&text).unwrap();
        assert_python_envelope(&text, Envelope::WITH_KEY, &collection, &key, &entry.value);
        if text.len() < 32768 {
            assert_eq!(
                (row.mode, row.value_type.as_str(), row.size),
                (1, "text", 0),
                "{}",
                row.key
            );
            assert_eq!(row.filename, None);
        } else {
            assert_eq!(
                (row.mode, row.value_type.as_str()),
                (3, "null"),
                "{}",
                row.key
            );
            let name = row.filename.as_deref().expect("a file name");
            let parts: Vec<&str> = name.split('/').collect();
            assert!(
                parts.len() == 3
                    && parts[0].len() == 2
                    && parts[1].len() == 2
                    && parts[2].len() == 32
                    && parts[2].ends_with(".val")
                    && name
                        .trim_end_matches(".val")
                        .chars()
                        .all(|c| c == '/' || c.is_ascii_hexdigit()),
                "file name {name}"
            );
            let len = std::fs::metadata(dir.join(name)).unwrap().len();
            assert_eq!(row.size as u64, len);
        }
        // expire_time is the envelope's expires_at (up to the float's precision).
        match (row.expire_time, entry.expires_at) {
            (None, None) => {}
            (Some(t), Some(e)) => assert!((t - e.unix_seconds_f64()).abs() < 0.01, "{row:?}"),
            other => panic!("{}: expire_time/expires_at {other:?}", row.key),
        }
        total_size += row.size;
    }
    assert_eq!(setting(dir, "count"), rows.len() as i64, "Settings count");
    assert_eq!(setting(dir, "size"), total_size, "Settings size");
}

fn split_compound(stored: &str) -> (String, String) {
    let (c, k) = stored.split_once("::").expect("a compound key");
    (c.to_string(), k.to_string())
}

fn disk_store(dir: &Path) -> DiskStore {
    DiskStore::open(dir).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_disk_store_writes_rust_reads() {
    let test = "python_disk_store_writes_rust_reads";
    let dir = tempdir();
    let samples = samples();
    let started = std::time::Instant::now();
    let script = PY_WRITE.replace("STORE", "DiskStore(directory=directory)");
    let Some(_) = py(
        test,
        &script,
        &[dir.path().to_str().unwrap(), &samples_json(&samples)],
    ) else {
        return;
    };
    // Python's rows are what the byte-level checks expect (the same checks run on ours).
    let python_rows = rows(dir.path());
    assert_rows_are_py_key_value(dir.path(), &python_rows, split_compound);
    assert!(
        python_rows.iter().any(|r| r.mode == 3),
        "a value went to a file"
    );

    let store = disk_store(dir.path());
    assert_reads_samples(&store, &samples, started.elapsed()).await;
    assert_eq!(
        store.keys().collection("users").await.unwrap(),
        vec!["user:1", "user:2"],
        "live keys only"
    );
    assert_eq!(
        store.keys().collection("other").await.unwrap(),
        vec!["k::with::colons"]
    );
    assert_eq!(
        store.collections().await.unwrap(),
        vec![
            "blobs",
            "other",
            "test_collection!@#$%^&*()",
            "users",
            "集合-🌍"
        ]
    );
    // Deleting a Python-written large value removes its file.
    let big = python_rows.iter().find(|r| r.key == "blobs::big").unwrap();
    let file = dir.path().join(big.filename.as_deref().unwrap());
    assert!(file.is_file());
    assert!(store.delete("big").collection("blobs").await.unwrap());
    assert!(!file.exists());
    store.cull().await.unwrap();
    store.close().await.unwrap();
    assert!(
        !rows(dir.path()).iter().any(|r| r.key == "users::short"),
        "cull removed the expired row"
    );

    // diskcache still finds the cache consistent after our changes.
    let out = py(
        test,
        "print(json.dumps(check_cache(directory)))",
        &[dir.path().to_str().unwrap()],
    )
    .unwrap();
    let check = parse(&out);
    assert_eq!(check["warnings"], json!([]), "{check}");
    assert_eq!(check["len"], json!(samples.len() - 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_disk_store_writes_python_reads() {
    let test = "rust_disk_store_writes_python_reads";
    let dir = tempdir();
    let samples = samples();
    let started = std::time::Instant::now();
    let store = disk_store(dir.path());
    rust_write(&store, &samples).await;
    store.close().await.unwrap();

    let our_rows = rows(dir.path());
    // Every sample, plus the expired row still present until a cull.
    assert_eq!(our_rows.len(), samples.len() + 1);
    assert_rows_are_py_key_value(dir.path(), &our_rows, split_compound);

    let keys: Vec<Value> = samples
        .iter()
        .map(|s| json!([s.collection, s.key]))
        .collect();
    let arg = Value::Array(keys).to_string();
    let script = PY_READ.replace("STORE", "DiskStore(directory=directory)");
    let Some(out) = py(test, &script, &[dir.path().to_str().unwrap(), &arg]) else {
        return;
    };
    assert_python_read_samples(&parse(&out), &samples, started.elapsed());

    // The raw diskcache API returns exactly the text we stored, with our expire_time.
    let raw = py(
        test,
        r#"
cache = diskcache.Cache(directory)
out = {}
for collection, key in arg:
    value, expire = cache.get(f"{collection}::{key}", expire_time=True)
    out[f"{collection}::{key}"] = [value, expire]
cache.close()
out["__check__"] = check_cache(directory)
print(json.dumps(out))
"#,
        &[dir.path().to_str().unwrap(), &arg],
    )
    .unwrap();
    let raw = parse(&raw);
    for row in our_rows.iter().filter(|r| r.key != "users::short") {
        let text = row_text(dir.path(), row);
        assert_eq!(raw[&row.key][0], json!(text), "diskcache reads {}", row.key);
        assert_eq!(raw[&row.key][1].as_f64(), row.expire_time, "{}", row.key);
    }
    assert_eq!(raw["__check__"]["warnings"], json!([]), "{raw}");
    assert_eq!(raw["__check__"]["len"], json!(samples.len() + 1));
}

/// The same entry written by each side: identical rows apart from the times, identical
/// Settings, identical schema and pragmas.
#[tokio::test(flavor = "multi_thread")]
async fn rows_settings_and_schema_match_byte_for_byte() {
    let test = "rows_settings_and_schema_match";
    for max_size in [None, Some(10_000_000u64)] {
        let py_dir = tempdir();
        let rs_dir = tempdir();
        let store = match max_size {
            Some(n) => DiskConfig::new(rs_dir.path()).max_size(n).open().unwrap(),
            None => disk_store(rs_dir.path()),
        };
        let value = object!({"name": "Alice", "age": 30});
        store
            .put("user:1", value.clone())
            .collection("users")
            .await
            .unwrap();
        store
            .put("user:2", value.clone())
            .collection("users")
            .ttl(3600)
            .await
            .unwrap();
        store
            .put("big", object!({"d": "z".repeat(40_000)}))
            .collection("users")
            .await
            .unwrap();
        store.close().await.unwrap();
        let ctor = match max_size {
            Some(n) => format!("DiskStore(directory=directory, max_size={n})"),
            None => "DiskStore(directory=directory)".to_string(),
        };
        let script = format!(
            r#"
async def main():
    store = {ctor}
    await store.put("user:1", {{"name": "Alice", "age": 30}}, collection="users")
    await store.put("user:2", {{"name": "Alice", "age": 30}}, collection="users", ttl=3600)
    await store.put("big", {{"d": "z" * 40000}}, collection="users")
    await store.close()
asyncio.run(main())
"#
        );
        let Some(_) = py(test, &script, &[py_dir.path().to_str().unwrap()]) else {
            return;
        };
        let (p, r) = (py_dir.path(), rs_dir.path());
        assert_eq!(schema(p), schema(r), "schema, max_size {max_size:?}");
        assert_eq!(pragmas(p), pragmas(r));
        assert_eq!(
            pragmas(r),
            [
                "journal_mode=Text(\"wal\")",
                "auto_vacuum=Integer(1)",
                "page_size=Integer(4096)"
            ]
        );
        // Settings: same keys, values, types and order (the row sizes of the big values agree
        // too, unless one created_at happens to fall on a whole second).
        let (ps, rs) = (settings(p), settings(r));
        let strip = |s: &[(String, String, String)]| -> Vec<(String, String, String)> {
            s.iter().filter(|(k, _, _)| k != "size").cloned().collect()
        };
        assert_eq!(strip(&ps), strip(&rs));
        assert_eq!(rs.len(), 16);
        if let Some(n) = max_size {
            assert!(rs.contains(&("size_limit".into(), n.to_string(), "integer".into())));
            assert!(rs.contains(&(
                "eviction_policy".into(),
                "least-recently-stored".into(),
                "text".into()
            )));
        }
        let (prow, rrow) = (rows(p), rows(r));
        assert_rows_are_py_key_value(p, &prow, split_compound);
        assert_rows_are_py_key_value(r, &rrow, split_compound);
        for (a, b) in prow.iter().zip(&rrow) {
            assert_eq!(
                (
                    &a.key,
                    a.raw,
                    &a.key_type,
                    a.mode,
                    &a.value_type,
                    a.expire_time.is_some()
                ),
                (
                    &b.key,
                    b.raw,
                    &b.key_type,
                    b.mode,
                    &b.value_type,
                    b.expire_time.is_some()
                )
            );
        }
    }
}

const MULTI_COLLECTIONS: [&str; 3] = ["a/b", "con", "tab\there"];

fn multi_samples() -> Vec<Sample> {
    let mut s = samples();
    for c in MULTI_COLLECTIONS {
        s.push(Sample {
            collection: c,
            key: "k",
            value: object!({"c": c}),
            ttl: Some(900.0),
        });
    }
    s
}

fn directory_names(base: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(base)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn python_multi_disk_store_writes_rust_reads() {
    let test = "python_multi_disk_store_writes_rust_reads";
    let dir = tempdir();
    let samples = multi_samples();
    let started = std::time::Instant::now();
    let script = PY_WRITE.replace("STORE", "MultiDiskStore(base_directory=Path(directory))");
    let Some(_) = py(
        test,
        &script,
        &[dir.path().to_str().unwrap(), &samples_json(&samples)],
    ) else {
        return;
    };
    let store = MultiDiskStore::open(dir.path()).unwrap();
    // Our directory names are pathvalidate's.
    let mut expected: Vec<String> = samples
        .iter()
        .map(|s| sanitize_filename(s.collection))
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(directory_names(dir.path()), expected);
    for s in &samples {
        assert_eq!(
            store.collection_directory(s.collection).unwrap(),
            dir.path().join(sanitize_filename(s.collection))
        );
    }
    assert_reads_samples(&store, &samples, started.elapsed()).await;
    // Bare keys in each directory, and the real collection names back from the envelopes.
    for s in &samples {
        let rows = rows(&dir.path().join(sanitize_filename(s.collection)));
        assert!(rows.iter().any(|r| r.key == s.key), "{}", s.key);
        assert_rows_are_py_key_value(
            &dir.path().join(sanitize_filename(s.collection)),
            &rows,
            |k| (s.collection.to_string(), k.to_string()),
        );
    }
    let mut names: Vec<&str> = samples.iter().map(|s| s.collection).collect();
    names.sort();
    names.dedup();
    assert_eq!(store.collections().await.unwrap(), names);
    assert_eq!(
        store.keys().collection("users").await.unwrap(),
        vec!["user:1", "user:2"]
    );
    // "ab" would share "a/b"'s directory: refused rather than mixed.
    let err = store.get("k").collection("ab").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{err}");
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_multi_disk_store_writes_python_reads() {
    let test = "rust_multi_disk_store_writes_python_reads";
    let dir = tempdir();
    let samples = multi_samples();
    let started = std::time::Instant::now();
    let store = MultiDiskStore::open(dir.path()).unwrap();
    rust_write(&store, &samples).await;
    store.close().await.unwrap();

    let keys: Vec<Value> = samples
        .iter()
        .map(|s| json!([s.collection, s.key]))
        .collect();
    let arg = Value::Array(keys).to_string();
    let script = PY_READ.replace("STORE", "MultiDiskStore(base_directory=Path(directory))");
    let Some(out) = py(test, &script, &[dir.path().to_str().unwrap(), &arg]) else {
        return;
    };
    assert_python_read_samples(&parse(&out), &samples, started.elapsed());
    // Python found our directories (it would have created empty ones otherwise) and
    // diskcache's check passes in each.
    let mut expected: Vec<String> = samples
        .iter()
        .map(|s| sanitize_filename(s.collection))
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(directory_names(dir.path()), expected);
    let out = py(
        test,
        r#"
out = {}
for name in sorted(os.listdir(directory)):
    out[name] = check_cache(os.path.join(directory, name))
print(json.dumps(out))
"#,
        &[dir.path().to_str().unwrap()],
    )
    .unwrap();
    let checks = parse(&out);
    for name in &expected {
        assert_eq!(checks[name]["warnings"], json!([]), "{name}: {checks}");
    }
}

/// Our port of `pathvalidate.sanitize_filename` against the real one, over awkward names.
#[test]
fn sanitize_filename_matches_pathvalidate() {
    let mut names: Vec<String> = [
        "users",
        "a/b",
        "a\\b",
        "x:y",
        "*?\"<>|",
        "con",
        "CON",
        "Con.txt",
        "con.con",
        "aux.tar.gz",
        "nul",
        "prn.",
        "COM1",
        "com9.log",
        "LPT¹",
        "clock$",
        "console",
        "icon",
        ".",
        "..",
        "...",
        "....x",
        " . ",
        ".hidden",
        "..x",
        "trail.",
        "trail. ",
        " lead",
        "  both  ",
        "   ",
        "",
        "\t",
        "\u{1c}\u{1d}",
        "\u{a0}",
        "a\u{0}b",
        "a\u{7f}b",
        "a\nb",
        "集合-🌍",
        "ключ",
        "e\u{301}",
        "test_collection!@#$%^&*()",
        "%2F",
        "-",
        "_",
        "a b",
        "a.b.c",
        "con .txt",
        "CON_",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.push("test_collection".repeat(100));
    names.push("é".repeat(200));
    names.push("🌍".repeat(70));
    names.push(format!("{}/{}", "a".repeat(250), "b".repeat(10)));
    let arg = serde_json::to_string(&names).unwrap();
    let Some(out) = python(
        "sanitize_filename_matches_pathvalidate",
        "import json, sys\nfrom pathvalidate import sanitize_filename\nprint(json.dumps([sanitize_filename(n) for n in json.loads(sys.argv[1])]))",
        &[&arg],
    ) else {
        return;
    };
    let expected: Vec<String> = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(expected.len(), names.len());
    for (name, want) in names.iter().zip(&expected) {
        assert_eq!(&sanitize_filename(name), want, "{name:?}");
    }
}

/// Python (py-key-value) and Rust write one directory at the same time: nothing is lost and
/// the counters stay right. Rust starts once Python has opened the cache and written, so the
/// two really overlap.
#[tokio::test(flavor = "multi_thread")]
async fn python_and_rust_write_one_directory_concurrently() {
    let test = "python_and_rust_write_concurrently";
    let dir = tempdir();
    let path = dir.path().to_str().unwrap().to_string();
    let marker = dir.path().join("python-started");
    let python = tokio::task::spawn_blocking(move || {
        py(
            test,
            r#"
async def main():
    store = DiskStore(directory=directory)
    for i in range(500):
        await store.put(f"py_{i}", {"i": i, "by": "python"}, collection="c")
        await store.put("shared", {"i": i, "by": "python"}, collection="c")
        if i == 0:
            open(os.path.join(directory, "python-started"), "w").close()
    await store.close()
asyncio.run(main())
print("{}")
"#,
            &[&path],
        )
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        if python.is_finished() || std::time::Instant::now() > deadline {
            break; // not run (no KV_PYTHON), or failed: the join below says which
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let store = disk_store(dir.path());
    let mut overlapped = false;
    for i in 0..500 {
        store
            .put(&format!("rs_{i}"), object!({"i": i, "by": "rust"}))
            .collection("c")
            .await
            .unwrap();
        store
            .put("shared", object!({"i": i, "by": "rust"}))
            .collection("c")
            .await
            .unwrap();
        overlapped |= !python.is_finished();
    }
    let Some(_) = python.await.unwrap() else {
        return;
    };
    assert!(overlapped, "Python finished before Rust started writing");
    for i in 0..500 {
        for (prefix, by) in [("py", "python"), ("rs", "rust")] {
            assert_eq!(
                store
                    .get(&format!("{prefix}_{i}"))
                    .collection("c")
                    .await
                    .unwrap(),
                Some(object!({"i": i, "by": by}))
            );
        }
    }
    let shared = store.get("shared").collection("c").await.unwrap().unwrap();
    assert_eq!(shared["i"], 499, "the last write of one side: {shared:?}");
    store.close().await.unwrap();
    assert_eq!(rows(dir.path()).len(), 1001);
    assert_eq!(setting(dir.path(), "count"), 1001);
}

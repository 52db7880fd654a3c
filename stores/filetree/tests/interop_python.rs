//! Interoperability with the real py-key-value 0.4.6 `FileTreeStore` (`KV_PYTHON`, see
//! `key_value_testkit::python`): Python writes and Rust reads, Rust writes and Python reads,
//! both write the same entries and the files are compared byte for byte, and Rust lists a
//! tree Python wrote. Each test runs without sanitization and with the FileTree V1
//! strategies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::tree;
use key_value_core::entry::ManagedEntry;
use key_value_core::prelude::*;
use key_value_core::sanitize::{FileTreeV1KeySanitizationStrategy, SanitizationStrategy};
use key_value_core::{Object, Timestamp};
use key_value_filetree::{FileTreeConfig, FileTreeStore};
use key_value_testkit::python::run_python;
use serde_json::{Value, json};

/// Shared by every script: a store on `spec["dir"]`, V1 strategies when `spec["v1"]`.
const PRELUDE: &str = r#"
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
from datetime import datetime
from pathlib import Path
from key_value.aio._utils.managed_entry import ManagedEntry
from key_value.aio.stores.filetree import (
    FileTreeStore, FileTreeV1CollectionSanitizationStrategy, FileTreeV1KeySanitizationStrategy)

spec = json.loads(sys.argv[1])

def make_store():
    d = Path(spec["dir"])
    d.mkdir(parents=True, exist_ok=True)
    if spec["v1"]:
        return FileTreeStore(
            data_directory=d,
            key_sanitization_strategy=FileTreeV1KeySanitizationStrategy(d),
            collection_sanitization_strategy=FileTreeV1CollectionSanitizationStrategy(d))
    return FileTreeStore(data_directory=d)

def iso(t):
    return None if t is None else t.isoformat()
"#;

/// Puts `spec["entries"]` (`[collection, key, value, ttl]`) and reports what was stored.
const PY_WRITE: &str = r#"
async def main():
    store = make_store()
    out = []
    for c, k, v, ttl in spec["entries"]:
        await store.put(k, v, collection=c, ttl=ttl)
        e = await store._get_managed_entry(key=k, collection=c)
        out.append({"created_at": iso(e.created_at), "expires_at": iso(e.expires_at)})
    print(json.dumps(out))
asyncio.run(main())
"#;

/// Reads `spec["entries"]` (`[collection, key]`) with `ttl()`, then culls.
const PY_READ: &str = r#"
async def main():
    store = make_store()
    out = []
    for c, k in spec["entries"]:
        value, ttl = await store.ttl(k, collection=c)
        e = await store._get_managed_entry(key=k, collection=c)
        out.append({"value": value, "ttl": ttl,
                    "created_at": iso(e.created_at) if e else None,
                    "expires_at": iso(e.expires_at) if e else None})
    await store.cull()
    print(json.dumps(out))
asyncio.run(main())
"#;

/// Writes `spec["entries"]` (`[collection, key, value, created_at, expires_at]`) with fixed
/// timestamps, through the store's own per-entry write.
const PY_WRITE_FIXED: &str = r#"
async def main():
    store = make_store()
    for c, k, v, created, expires in spec["entries"]:
        await store.setup_collection(collection=c)
        entry = ManagedEntry(value=v, created_at=datetime.fromisoformat(created),
                             expires_at=datetime.fromisoformat(expires) if expires else None)
        await store._put_managed_entry(key=k, collection=c, managed_entry=entry)
    print("ok")
asyncio.run(main())
"#;

fn python(test: &str, script: &str, spec: &Value) -> Option<String> {
    run_python(test, &format!("{PRELUDE}{script}"), &[&spec.to_string()])
}

/// Entries of both directions: several collections, unicode, with and without TTL, every
/// JSON type.
fn dataset() -> Vec<(&'static str, &'static str, Object, Option<u64>)> {
    vec![
        (
            "users",
            "user:1",
            object!({"name": "Alice", "age": 30}),
            Some(3600),
        ),
        (
            "users",
            "user:2",
            object!({"name": "Bob", "tags": ["a", "b"], "nested": {"x": 1.5, "y": null, "z": true}}),
            None,
        ),
        (
            "ユーザー 🌍",
            "鍵-🔑",
            object!({"text": "Hello 世界 🌍", "esc": "quote \" backslash \\ nl \n tab \t", "é": -7}),
            None,
        ),
        (
            "misc",
            "with space & sym!@#",
            object!({"small": 1e-7, "big": 12345678901234567890_u64, "neg": -0.5, "list": [1, "two", null]}),
            Some(600),
        ),
        ("default_collection", "plain_key", object!({}), None),
        ("default_collection", "k", object!({"v": 1}), Some(7200)),
    ]
}

fn spec(dir: &Path, v1: bool, entries: Vec<Value>) -> Value {
    json!({"dir": dir.to_str().unwrap(), "v1": v1, "entries": entries})
}

fn open(dir: &Path, v1: bool) -> FileTreeStore {
    let config = FileTreeConfig::new(dir);
    let config = if v1 {
        config.v1_sanitization().unwrap()
    } else {
        config
    };
    config.open().unwrap()
}

fn iso(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_iso()))
}

fn ttl_secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

#[tokio::test]
async fn python_writes_rust_reads() {
    for v1 in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = fs::canonicalize(tmp.path()).unwrap().join("tree");
        let entries: Vec<Value> = dataset()
            .into_iter()
            .map(|(c, k, v, ttl)| json!([c, k, v, ttl]))
            .collect();
        let Some(out) = python(
            "python_writes_rust_reads",
            PY_WRITE,
            &spec(&dir, v1, entries),
        ) else {
            return;
        };
        let stored: Vec<Value> = serde_json::from_str(&out).unwrap();
        let store = open(&dir, v1);
        for ((c, k, v, ttl), py) in dataset().into_iter().zip(&stored) {
            let what = format!("v1={v1} {c}/{k}");
            let entry = store.get_entry(c, k).await.unwrap().expect(&what);
            assert_eq!(entry.value, v, "{what}");
            assert_eq!(iso(entry.created_at), py["created_at"], "{what}");
            assert_eq!(iso(entry.expires_at), py["expires_at"], "{what}");
            let (value, left) = store.ttl(k).collection(c).await.unwrap().expect(&what);
            assert_eq!(value, v);
            match ttl {
                None => assert_eq!(left, None, "{what}"),
                Some(t) => {
                    let left = ttl_secs(left).unwrap();
                    assert!(left <= t as f64 && left > t as f64 - 60.0, "{what}: {left}");
                }
            }
        }

        // Enumeration of the tree Python wrote.
        let collections: BTreeSet<String> =
            store.collections().await.unwrap().into_iter().collect();
        let expected: BTreeSet<String> = dataset().iter().map(|e| e.0.to_string()).collect();
        assert_eq!(
            collections, expected,
            "v1={v1}: names map back through the info files"
        );
        let v1_keys = FileTreeV1KeySanitizationStrategy::new(&dir).unwrap();
        for c in &expected {
            let listed: BTreeSet<String> = store
                .keys()
                .collection(c)
                .await
                .unwrap()
                .into_iter()
                .collect();
            let expected: BTreeSet<String> = dataset()
                .iter()
                .filter(|e| e.0 == c)
                // Python writes no key files: V1 names it changed cannot be listed
                .filter(|e| !v1 || v1_keys.sanitize(e.1) == e.1)
                .map(|e| e.1.to_string())
                .collect();
            assert_eq!(listed, expected, "v1={v1} keys of {c}");
        }

        // Writing into Python's collections keeps Python's info files as they are.
        let info_path = store.info_path("users").unwrap();
        let info_before = fs::read(&info_path).unwrap();
        store
            .put("user:1", object!({"rewritten": true}))
            .collection("users")
            .await
            .unwrap();
        assert_eq!(fs::read(&info_path).unwrap(), info_before);
        if v1 {
            // ... and a key rewritten by Rust becomes listable
            assert!(
                store
                    .keys()
                    .collection("users")
                    .await
                    .unwrap()
                    .contains(&"user:1".to_string())
            );
        }
    }
}

#[tokio::test]
async fn rust_writes_python_reads() {
    for v1 in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = fs::canonicalize(tmp.path()).unwrap().join("tree");
        let store = open(&dir, v1);
        let mut written = Vec::new();
        for (c, k, v, ttl) in dataset() {
            match ttl {
                Some(t) => store.put(k, v).collection(c).ttl(t as f64).await.unwrap(),
                None => store.put(k, v).collection(c).await.unwrap(),
            }
            written.push(store.get_entry(c, k).await.unwrap().unwrap());
        }
        // an expired entry, which Python must not return (and its cull removes)
        let past = Timestamp::from_unix_micros(1_000_000);
        store
            .put_entry(
                "misc",
                "expired",
                ManagedEntry::new(object!({}), Some(past), Some(past)),
            )
            .await
            .unwrap();
        let mut entries: Vec<Value> = dataset().iter().map(|e| json!([e.0, e.1])).collect();
        entries.push(json!(["misc", "expired"]));
        let Some(out) = python(
            "rust_writes_python_reads",
            PY_READ,
            &spec(&dir, v1, entries),
        ) else {
            return;
        };
        let read: Vec<Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(read.len(), dataset().len() + 1);
        for (((c, k, v, ttl), py), entry) in dataset().into_iter().zip(&read).zip(&written) {
            let what = format!("v1={v1} {c}/{k}");
            assert_eq!(py["value"], Value::Object(v), "{what}");
            assert_eq!(py["created_at"], iso(entry.created_at), "{what}");
            assert_eq!(py["expires_at"], iso(entry.expires_at), "{what}");
            match ttl {
                None => assert_eq!(py["ttl"], Value::Null, "{what}"),
                Some(t) => {
                    let left = py["ttl"].as_f64().expect(&what);
                    assert!(left <= t as f64 && left > t as f64 - 60.0, "{what}: {left}");
                }
            }
        }
        let expired = &read[dataset().len()];
        assert_eq!(
            (&expired["value"], &expired["ttl"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(
            store.get_entry("misc", "expired").await.unwrap(),
            None,
            "culled by Python"
        );
        assert!(
            store
                .get_entry("misc", "with space & sym!@#")
                .await
                .unwrap()
                .is_some()
        );
    }
}

/// Replaces the value of `"created_at"` and the `root` prefix of `"directory"` in an info
/// file, the only parts that differ between two writers.
fn normalize_info(text: &str, root: &Path) -> String {
    let marker = "\"created_at\": \"";
    let start = text.find(marker).expect("created_at") + marker.len();
    let end = start + text[start..].find('"').expect("closing quote");
    let text = format!("{}<T>{}", &text[..start], &text[end..]);
    text.replace(
        &format!("\"directory\": \"{}/", root.display()),
        "\"directory\": \"<ROOT>/",
    )
}

#[tokio::test]
async fn both_write_the_same_bytes() {
    let created = "2026-11-25T17:56:48.812471+00:00";
    let expires = "2026-11-25T18:56:48.812471+00:00";
    let whole_second = "2026-01-01T00:00:00+00:00";
    for v1 in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(tmp.path()).unwrap();
        let (py_dir, rs_dir) = (base.join("python"), base.join("rust"));
        let mut entries = Vec::new();
        let store = open(&rs_dir, v1);
        for (i, (c, k, v, ttl)) in dataset().into_iter().enumerate() {
            let created = if i == 4 { whole_second } else { created };
            let expires = ttl.map(|_| expires);
            entries.push(json!([c, k, v, created, expires]));
            let entry = ManagedEntry::new(
                v,
                Some(Timestamp::parse_iso(created).unwrap()),
                expires.map(|e| Timestamp::parse_iso(e).unwrap()),
            );
            store.put_entry(c, k, entry).await.unwrap();
        }
        let Some(_) = python(
            "both_write_the_same_bytes",
            PY_WRITE_FIXED,
            &spec(&py_dir, v1, entries),
        ) else {
            return;
        };
        let is_key_file = |p: &PathBuf| p.extension().is_some_and(|e| e == "key");
        let py_tree = tree(&py_dir);
        let rs_tree: BTreeSet<PathBuf> = tree(&rs_dir)
            .into_iter()
            .filter(|p| !is_key_file(p))
            .collect();
        assert_eq!(
            rs_tree, py_tree,
            "v1={v1}: the same files with the same names"
        );
        if v1 {
            assert!(
                tree(&rs_dir).iter().any(is_key_file),
                "V1 changed names have key files"
            );
        }
        let mut compared = (0, 0);
        for path in &py_tree {
            let (py_path, rs_path) = (py_dir.join(path), rs_dir.join(path));
            if py_path.is_dir() {
                continue;
            }
            let (py_text, rs_text) = (
                fs::read_to_string(&py_path).unwrap(),
                fs::read_to_string(&rs_path).unwrap(),
            );
            if path.parent() == Some(Path::new("")) {
                assert!(path.to_str().unwrap().ends_with("-info.json"), "{path:?}");
                assert_eq!(
                    normalize_info(&rs_text, &rs_dir),
                    normalize_info(&py_text, &py_dir),
                    "v1={v1} info file {path:?}"
                );
                assert!(normalize_info(&rs_text, &rs_dir).contains("<ROOT>/"));
                compared.1 += 1;
            } else {
                assert_eq!(rs_text, py_text, "v1={v1} entry file {path:?}");
                compared.0 += 1;
            }
        }
        assert_eq!(
            compared,
            (dataset().len(), 4),
            "v1={v1}: entries and info files"
        );
    }
}

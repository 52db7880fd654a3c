//! Interoperability with the real py-key-value-aio 0.4.6 `FirestoreStore`
//! (google-cloud-firestore in the venv of `scripts/python-venv`, `KV_PYTHON`) on the emulator of
//! `services/firestore/start` (`KV_FIRESTORE_EMULATOR_HOST`), sharing one database: both
//! directions with TTLs, the raw documents each side writes compared field by field, deletes
//! and batches seen across, and py-key-value's V1 id sanitization on both sides. Python needs
//! only `FIRESTORE_EMULATOR_HOST` and the project: google-cloud-firestore then uses anonymous
//! credentials. The tests say NOT RUN without the variables, and fail in CI.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use key_value_core::entry::ManagedEntry;
use key_value_core::prelude::*;
use key_value_core::{KeyValue, Timestamp};
use key_value_firestore::FirestoreStore;
use key_value_testkit::python::run_async_main;
use key_value_testkit::{run, unique_name};
use serde_json::{Value, json};

/// Every script starts with this: `argv[1..4]` are the emulator, project and database,
/// `argv[4]` a JSON argument; `store()` is py-key-value's FirestoreStore on that database.
const PRELUDE: &str = r#"
import asyncio, json, os, sys, warnings
warnings.filterwarnings("ignore")
host, project, database = sys.argv[1], sys.argv[2], sys.argv[3]
arg = json.loads(sys.argv[4])
os.environ["FIRESTORE_EMULATOR_HOST"] = host
from datetime import datetime
from key_value.aio._utils.managed_entry import ManagedEntry
from key_value.aio.stores.firestore import (
    FirestoreStore, FirestoreV1CollectionSanitizationStrategy, FirestoreV1KeySanitizationStrategy)
def store(v1=False):
    if v1:
        return FirestoreStore(project=project, database=database,
            key_sanitization_strategy=FirestoreV1KeySanitizationStrategy(),
            collection_sanitization_strategy=FirestoreV1CollectionSanitizationStrategy())
    return FirestoreStore(project=project, database=database)
"#;

struct Env {
    host: String,
    db: String,
}

fn env(test: &str) -> Option<Env> {
    let host = common::emulator(test)?;
    key_value_testkit::python::python(test)?;
    Some(Env {
        host,
        db: common::database_for(&unique_name(test)),
    })
}

fn py(test: &str, e: &Env, body: &str, arg: &Value) -> Value {
    let project = common::project();
    run_async_main(
        test,
        PRELUDE,
        body,
        &[&e.host, &project, &e.db, &arg.to_string()],
    )
    .expect("KV_PYTHON was checked")
}

fn store(e: &Env) -> FirestoreStore {
    common::config(&e.host, &e.db).open().unwrap()
}

fn samples() -> Vec<(&'static str, &'static str, Value, Option<f64>)> {
    vec![
        ("users", "user:1", json!({"name": "Alice", "age": 30}), None),
        (
            "users",
            "user:2",
            json!({"name": "Bob", "tags": ["a", "b"], "score": 1.5, "none": null, "big": 1e300, "neg": -7}),
            Some(3600.0),
        ),
        (
            "集合-🌍",
            "鍵-🔑-ключ",
            json!({"text": "Hello 世界 🌍", "combining": "e\u{301}", "nested": {"z": 1, "a": [{}]}}),
            Some(600.5),
        ),
        ("blobs", "big", json!({"data": "x".repeat(100_000)}), None),
        (
            "special!@#$%^&*()",
            "k::with::colons*?[]%#",
            json!({"v": true, "quote\"": "\\"}),
            Some(90.25),
        ),
    ]
}

fn samples_json() -> Value {
    Value::Array(
        samples()
            .into_iter()
            .map(|(c, k, v, t)| json!([c, k, v, t]))
            .collect(),
    )
}

fn obj(v: &Value) -> Object {
    v.as_object().unwrap().clone()
}

#[test]
fn python_writes_rust_reads() {
    let test = "firestore_python_writes";
    let Some(e) = env(test) else { return };
    py(
        test,
        &e,
        r#"
async def main():
    s = store()
    for c, k, v, ttl in arg:
        await s.put(k, v, collection=c, ttl=ttl)
    await s.put_many(["m1", "m2", "m3"], [{"i": 1}, {"i": 2}, {"i": 3}], collection="many", ttl=300)
    return None
"#,
        &samples_json(),
    );
    run(async move {
        let s = store(&e);
        for (c, k, v, ttl) in samples() {
            assert_eq!(
                s.get(k).collection(c).await.unwrap(),
                Some(obj(&v)),
                "{c}/{k}"
            );
            // Listing puts the collection id in the URL path, percent-encoded.
            let keys = s.keys().collection(c).await.unwrap();
            assert!(keys.iter().any(|x| x == k), "{c}: {keys:?}");
            let (_, left) = s.ttl(k).collection(c).await.unwrap().unwrap();
            match ttl {
                None => assert_eq!(left, None),
                Some(t) => {
                    let left = left.unwrap().as_secs_f64();
                    assert!(left <= t && left > t - 60.0, "{c}/{k}: {left} of {t}");
                }
            }
        }
        assert_eq!(
            s.get_many(&["m1", "m2", "m3", "m4"])
                .collection("many")
                .await
                .unwrap(),
            vec![
                Some(object!({"i": 1})),
                Some(object!({"i": 2})),
                Some(object!({"i": 3})),
                None
            ]
        );
        let mut keys = s.keys().collection("many").await.unwrap();
        keys.sort();
        assert_eq!(keys, vec!["m1", "m2", "m3"]);
        let mut cols = s.collections().await.unwrap();
        cols.sort();
        let mut expected: Vec<&str> = samples().iter().map(|s| s.0).collect();
        expected.push("many");
        expected.sort();
        expected.dedup();
        assert_eq!(cols, expected);
    });
}

#[test]
fn rust_writes_python_reads() {
    let test = "firestore_rust_writes";
    let Some(e) = env(test) else { return };
    run(async {
        let s = store(&e);
        for (c, k, v, ttl) in samples() {
            s.put(k, obj(&v))
                .collection(c)
                .ttl_opt(ttl.map(Duration::from_secs_f64))
                .await
                .unwrap();
        }
        s.put_many(&["m1", "m2"], vec![object!({"i": 1}), object!({"i": 2})])
            .collection("many")
            .ttl(300)
            .await
            .unwrap();
    });
    let got = py(
        test,
        &e,
        r#"
async def main():
    s = store()
    out = []
    for c, k, v, ttl in arg:
        value, left = await s.ttl(k, collection=c)
        out.append({"get": await s.get(k, collection=c), "ttl_value": value, "ttl": left})
    many = await s.get_many(["m1", "m2", "m3"], collection="many")
    many_ttl = await s.ttl_many(["m1"], collection="many")
    return {"entries": out, "many": many, "many_ttl": many_ttl[0][1]}
"#,
        &samples_json(),
    );
    for ((c, k, v, ttl), got) in samples()
        .into_iter()
        .zip(got["entries"].as_array().unwrap())
    {
        assert_eq!(got["get"], v, "{c}/{k}");
        assert_eq!(got["ttl_value"], v, "{c}/{k}");
        match ttl {
            None => assert_eq!(got["ttl"], Value::Null),
            Some(t) => {
                let left = got["ttl"].as_f64().unwrap();
                assert!(left <= t && left > t - 60.0, "{c}/{k}: {left} of {t}");
            }
        }
    }
    assert_eq!(got["many"], json!([{"i": 1}, {"i": 2}, null]));
    let left = got["many_ttl"].as_f64().unwrap();
    assert!(left <= 300.0 && left > 240.0, "{left}");
}

#[test]
fn both_sides_write_the_same_document_field_by_field() {
    let test = "firestore_same_documents";
    let Some(e) = env(test) else { return };
    let cases = json!([
        ["py", "k1", {"b": 1, "a": [1.5, 1e300, -0.0, null, true], "é": "世界 🌍", "q": "\"\\/\n"}, "2030-01-02T03:04:05.123456+00:00", "2030-01-02T04:04:05.123456+00:00"],
        ["py", "k2", {}, "2030-01-02T03:04:05+00:00", null],
        ["py", "k3", {"n": {"deep": {"x": [[], {}]}}, "i": -9007199254740993i64}, "2030-01-02T03:04:05.000001+00:00", "2030-01-02T03:04:06+00:00"],
    ]);
    // Python writes into collection "py", Rust the same entries into "rs".
    py(
        test,
        &e,
        r#"
async def main():
    s = store()
    await s.setup()
    for c, k, v, created, expires in arg:
        entry = ManagedEntry(value=v, created_at=datetime.fromisoformat(created),
                             expires_at=datetime.fromisoformat(expires) if expires else None)
        await s._put_managed_entry(key=k, collection=c, managed_entry=entry)
    return None
"#,
        &cases,
    );
    run(async {
        let s = store(&e);
        for case in cases.as_array().unwrap() {
            let entry = ManagedEntry::new(
                obj(&case[2]),
                Some(Timestamp::parse_iso(case[3].as_str().unwrap()).unwrap()),
                case[4].as_str().map(|t| Timestamp::parse_iso(t).unwrap()),
            );
            let key = case[1].as_str().unwrap();
            s.put_entry("rs", key, entry.clone()).await.unwrap();
            let theirs = common::raw_document(&e.host, &s.document_name("py", key).unwrap())
                .await
                .unwrap();
            let ours = common::raw_document(&e.host, &s.document_name("rs", key).unwrap())
                .await
                .unwrap();
            assert_eq!(ours["fields"], theirs["fields"], "{key}");
            let names: Vec<&String> = theirs["fields"].as_object().unwrap().keys().collect();
            assert!(names.len() >= 3, "{names:?}");
            // And each side reads the other's document back to the same entry.
            assert_eq!(s.get_entry("py", key).await.unwrap(), Some(entry));
        }
    });
}

#[test]
fn deletes_and_large_batches_are_seen_across() {
    let test = "firestore_batches_across";
    let Some(e) = env(test) else { return };
    let keys: Vec<String> = (0..600).map(|i| format!("k{i:03}")).collect();
    py(
        test,
        &e,
        r#"
async def main():
    s = store()
    await s.put_many(arg, [{"i": i} for i in range(len(arg))], collection="from_py")
    return None
"#,
        &json!(keys),
    );
    run(async {
        let s = store(&e);
        let got = s.get_many(&keys).collection("from_py").await.unwrap();
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, v)| *v == Some(object!({"i": i})))
        );
        assert_eq!(
            s.delete_many(&keys[..300])
                .collection("from_py")
                .await
                .unwrap(),
            300
        );
        let values: Vec<Object> = (0..600).map(|i| object!({"r": i})).collect();
        s.put_many(&keys, values)
            .collection("from_rs")
            .await
            .unwrap();
        s.put("gone", object!({}))
            .collection("from_rs")
            .await
            .unwrap();
    });
    let got = py(
        test,
        &e,
        r#"
async def main():
    s = store()
    left = await s.get_many(arg, collection="from_py")
    theirs = await s.get_many(arg, collection="from_rs")
    existed = await s.delete("gone", collection="from_rs")
    missing = await s.delete("never", collection="from_rs")
    n = await s.delete_many(arg[:10], collection="from_rs")
    return {"left": left, "theirs": theirs, "existed": existed, "missing": missing, "n": n}
"#,
        &json!(keys),
    );
    let left = got["left"].as_array().unwrap();
    assert!(left[..300].iter().all(Value::is_null));
    assert!(
        left[300..]
            .iter()
            .enumerate()
            .all(|(i, v)| *v == json!({"i": i + 300}))
    );
    let theirs = got["theirs"].as_array().unwrap();
    assert!(
        theirs
            .iter()
            .enumerate()
            .all(|(i, v)| *v == json!({"r": i}))
    );
    assert_eq!(got["existed"], true);
    assert_eq!(got["missing"], false);
    assert_eq!(got["n"], 10);
    run(async {
        let s = store(&e);
        assert_eq!(s.get("gone").collection("from_rs").await.unwrap(), None);
        assert_eq!(s.keys().collection("from_rs").await.unwrap().len(), 590);
    });
}

#[test]
fn v1_sanitized_ids_are_shared() {
    let test = "firestore_v1_ids";
    let Some(e) = env(test) else { return };
    let long = "L".repeat(1600);
    let cases = json!([
        ["a/b", "x/y"],
        ["__k__", "__c__"],
        [long, "plain"],
        [".", ".."]
    ]);
    py(
        test,
        &e,
        r#"
async def main():
    s = store(v1=True)
    for k, c in arg:
        await s.put(k, {"k": k[:10]}, collection=c)
    return None
"#,
        &cases,
    );
    run(async {
        let s = common::config(&e.host, &e.db).sanitize_v1().open().unwrap();
        for case in cases.as_array().unwrap() {
            let (k, c) = (case[0].as_str().unwrap(), case[1].as_str().unwrap());
            let short: String = k.chars().take(10).collect();
            assert_eq!(
                s.get(k).collection(c).await.unwrap(),
                Some(object!({"k": short})),
                "{c}/{k}"
            );
            s.put(k, object!({"from": "rust"}))
                .collection(c)
                .await
                .unwrap();
        }
    });
    let got = py(
        test,
        &e,
        r#"
async def main():
    s = store(v1=True)
    return [await s.get(k, collection=c) for k, c in arg]
"#,
        &cases,
    );
    assert_eq!(
        got,
        json!([{"from": "rust"}, {"from": "rust"}, {"from": "rust"}, {"from": "rust"}])
    );
}

//! Interoperability with the real py-key-value-aio 0.4.6 `MongoDBStore` (pymongo; `KV_PYTHON`
//! from `scripts/python-venv`) on the server of `services/mongodb/start` (`KV_MONGODB_URL`).
//! Both directions: what Python writes Rust reads (values, TTLs), what Rust writes Python reads
//! (values, TTLs through Python's `ttl()`), deletes seen across, the V1 sanitization naming the
//! same MongoDB collections, and the raw documents of both compared field by field, BSON types
//! included. The tests say NOT RUN without the variables, and fail in CI.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_core::prelude::*;
use key_value_mongodb::mongodb::bson::{Bson, Document};
use key_value_mongodb::{MongoDbConfig, MongoDbStore};
use key_value_testkit::interop::{PYTHON_WRITES, Scenario, assert_reads_python_scenario, close_to};
use key_value_testkit::python::run_async_main;
use key_value_testkit::run;
use serde_json::{Value, json};

/// Every script starts with this: `sys.argv[1]` is the server URL, `sys.argv[2]` the database,
/// `sys.argv[3]` a JSON argument; `store(v1)` is py-key-value's MongoDBStore on that database.
const PRELUDE: &str = r#"
import asyncio, json, sys
from key_value.aio.stores.mongodb import MongoDBStore
from key_value.aio.stores.mongodb.store import MongoDBV1CollectionSanitizationStrategy
url, db = sys.argv[1], sys.argv[2]
arg = json.loads(sys.argv[3])
def store(v1=False):
    return MongoDBStore(url=url, db_name=db,
        collection_sanitization_strategy=MongoDBV1CollectionSanitizationStrategy() if v1 else None)
"#;

/// Runs `body` (which defines `async def main()` returning something JSON-serializable) with
/// the prelude; its result, or `None` when Python is not configured outside CI.
fn py(test: &str, url: &str, db: &str, body: &str, arg: &Value) -> Option<Value> {
    run_async_main(test, PRELUDE, body, &[url, db, &arg.to_string()])
}

fn obj(v: &Value) -> Object {
    v.as_object().cloned().unwrap()
}

fn rust_store(url: &str, db: &str, v1: bool) -> MongoDbStore {
    let c = MongoDbConfig::new(url).database(db);
    let c = if v1 { c.sanitize_v1() } else { c };
    c.open().unwrap()
}

#[test]
fn what_python_writes_rust_reads() {
    let test = "python_writes";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    let value = json!({"name": "Alice", "age": 30, "city": "Zürich", "n": [1, 2.5, null],
                       "big": 5_000_000_000_i64, "nested": {"ok": true}});
    let script = format!(
        "{PYTHON_WRITES}\n{}",
        r#"
async def main():
    s = store()
    v = arg["value"]
    await write_scenario(s, v, many="users")
    s1 = store(v1=True)
    await s1.put("k", v, collection="test_collection!@#$%^&*()", ttl=120)
    return "ok"
"#
    );
    let Some(written) = py(test, &url, &db, &script, &json!({"value": value})) else {
        return;
    };
    assert_eq!(written, json!("ok"));
    let value = obj(&value);
    run(async move {
        let s = rust_store(&url, &db, false);
        let names = Scenario {
            many: "users",
            ..Scenario::default()
        };
        assert_reads_python_scenario(&s, &value, names).await;
        let mut keys = s.keys().collection("users").await.unwrap();
        keys.sort();
        assert_eq!(keys, ["m1", "m2", "user:1", "user:2", "ключ"]);
        // V1: Python's sanitized collection is the one Rust uses; the names map back.
        let v1 = rust_store(&url, &db, true);
        let (v, ttl) = v1
            .ttl("k")
            .collection("test_collection!@#$%^&*()")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v, value);
        assert!(close_to(ttl.unwrap().as_secs_f64(), 120.0, 5.0), "{ttl:?}");
        let mut names = v1.collections().await.unwrap();
        names.sort();
        assert_eq!(names, ["test_collection!@#$%^&*()", "users"]);
        // Rust deletes what Python wrote.
        assert!(s.delete("user:1").collection("users").await.unwrap());
        assert_eq!(
            s.delete_many(&["m1", "m2", "zz"])
                .collection("users")
                .await
                .unwrap(),
            2
        );
        s.destroy().await.unwrap();
    });
}

#[test]
fn what_rust_writes_python_reads() {
    let test = "rust_writes";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    let value = json!({"name": "Bob", "n": -7, "big": 5_000_000_000_i64, "f": 0.25,
                       "list": [1, "two", null, {"x": []}], "$odd.name": {"a.b": 1}});
    {
        let (url, db, value) = (url.clone(), db.clone(), obj(&value));
        run(async move {
            let s = rust_store(&url, &db, false);
            s.put("plain", value.clone())
                .collection("users")
                .await
                .unwrap();
            s.put("timed", value.clone())
                .collection("users")
                .ttl(3600)
                .await
                .unwrap();
            s.put_many(&["m1", "m2"], vec![object!({"i": 1}), object!({"i": 2})])
                .collection("users")
                .ttl(600)
                .await
                .unwrap();
            s.put("gone", object!({}))
                .collection("users")
                .await
                .unwrap();
            // Re-put without a TTL: no `expires_at` left for Python to read.
            s.put("was_timed", object!({"v": 1}))
                .collection("users")
                .ttl(5)
                .await
                .unwrap();
            s.put("was_timed", object!({"v": 2}))
                .collection("users")
                .await
                .unwrap();
            let v1 = rust_store(&url, &db, true);
            v1.put("k", value.clone())
                .collection("test_collection!@#$%^&*()")
                .ttl(120)
                .await
                .unwrap();
        });
    }
    let Some(read) = py(
        test,
        &url,
        &db,
        r#"
async def main():
    s = store()
    out = {}
    out["plain"] = await s.ttl("plain", collection="users")
    out["timed"] = await s.ttl("timed", collection="users")
    out["many"] = await s.ttl_many(["m1", "m2", "nope"], collection="users")
    out["was_timed"] = await s.ttl("was_timed", collection="users")
    out["deleted"] = await s.delete("gone", collection="users")
    out["v1"] = await store(v1=True).ttl("k", collection="test_collection!@#$%^&*()")
    return out
"#,
        &json!({}),
    ) else {
        return;
    };
    assert_eq!(read["plain"], json!([value, null]));
    assert_eq!(read["timed"][0], value);
    assert!(
        close_to(read["timed"][1].as_f64().unwrap(), 3600.0, 5.0),
        "{read}"
    );
    for (i, entry) in read["many"].as_array().unwrap()[..2].iter().enumerate() {
        assert_eq!(entry[0], json!({"i": i + 1}));
        assert!(close_to(entry[1].as_f64().unwrap(), 600.0, 5.0), "{read}");
    }
    assert_eq!(read["many"][2], json!([null, null]));
    assert_eq!(read["was_timed"], json!([{"v": 2}, null]));
    assert_eq!(read["deleted"], json!(true));
    assert_eq!(read["v1"][0], value);
    assert!(
        close_to(read["v1"][1].as_f64().unwrap(), 120.0, 5.0),
        "{read}"
    );
    run(async move {
        let s = rust_store(&url, &db, false);
        assert_eq!(s.get("gone").collection("users").await.unwrap(), None);
        s.destroy().await.unwrap();
    });
}

/// The documents Python and Rust write for the same entry: the same fields in the same order
/// with the same BSON types and values (`_id` and the dates aside, which only differ by when).
#[test]
fn raw_documents_match_field_by_field() {
    let test = "raw_documents";
    let Some(url) = common::url(test) else { return };
    let db = common::unique(test);
    let value = json!({"s": "x", "i": 1, "neg": -2_147_483_649_i64, "big": 5_000_000_000_i64,
                       "f": 1.5, "t": true, "n": null, "a": [1, 2.5, "z", [], {}],
                       "o": {"deep": {"k": 1}}});
    for ttl in [json!(null), json!(3600)] {
        let Some(_) = py(
            test,
            &url,
            &db,
            r#"
async def main():
    await store().put("py", arg["value"], collection="c", ttl=arg["ttl"])
    return "ok"
"#,
            &json!({"value": value, "ttl": ttl}),
        ) else {
            return;
        };
        let (url, db, value) = (url.clone(), db.clone(), obj(&value));
        run(async move {
            let s = rust_store(&url, &db, false);
            let put = s.put("rs", value).collection("c");
            match ttl.as_u64() {
                Some(t) => put.ttl(t as f64).await.unwrap(),
                None => put.await.unwrap(),
            }
            let p = s.raw_document("c", "py").await.unwrap().unwrap();
            let r = s.raw_document("c", "rs").await.unwrap().unwrap();
            let names = |d: &Document| d.keys().cloned().collect::<Vec<_>>();
            assert_eq!(names(&p), names(&r), "{p}\n{r}");
            for (name, pv) in &p {
                let rv = r.get(name).unwrap();
                assert_eq!(pv.element_type(), rv.element_type(), "{name}: {pv} vs {rv}");
                match name.as_str() {
                    "_id" => {}
                    "key" => assert_eq!((pv, rv), (&Bson::from("py"), &Bson::from("rs"))),
                    "created_at" | "expires_at" => {
                        let (a, b) = (pv.as_datetime().unwrap(), rv.as_datetime().unwrap());
                        let diff = (a.timestamp_millis() - b.timestamp_millis()).abs();
                        assert!(diff < 60_000, "{name}: {a} vs {b}");
                    }
                    _ => assert_eq!(pv, rv, "{name}"),
                }
            }
            if ttl.is_null() {
                assert!(!r.contains_key("expires_at"));
            }
            s.destroy().await.unwrap();
        });
    }
}

//! Interoperability with the real py-key-value-aio 0.4.6 `MemcachedStore` (aiomcache; `KV_PYTHON`
//! from `scripts/python-venv`) on the server of `services/memcached/start`
//! (`KV_MEMCACHED_ADDR`). Both directions: what Python writes Rust reads (values, TTLs, raw
//! bytes compared with py-key-value's envelope), what Rust writes Python reads (values and TTLs,
//! long TTLs included), deletes seen across, and the V1 key sanitization producing the same
//! keys. The tests say NOT RUN without the variables, and fail in CI.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use key_value_core::entry::Envelope;
use key_value_core::prelude::*;
use key_value_memcached::{MemcachedConfig, MemcachedStore};
use key_value_testkit::golden::assert_python_envelope;
use key_value_testkit::interop::close_to;
use key_value_testkit::python::run_async_main;
use key_value_testkit::run;
use serde_json::{Value, json};

const DAY: f64 = 24.0 * 60.0 * 60.0;

/// Every script starts with this: `sys.argv[1]` is `host:port`, `sys.argv[2]` a JSON argument;
/// `store(v1)` is py-key-value's MemcachedStore on that server.
const PRELUDE: &str = r#"
import asyncio, json, sys
from key_value.aio.stores.memcached import MemcachedStore, MemcachedV1KeySanitizationStrategy
host, port = sys.argv[1].rsplit(":", 1)
arg = json.loads(sys.argv[2])
def store(v1=False):
    return MemcachedStore(host=host, port=int(port),
        key_sanitization_strategy=MemcachedV1KeySanitizationStrategy() if v1 else None)
"#;

/// Runs `body` (which defines `async def main()` returning something JSON-serializable) with
/// the prelude; its result, or `None` when Python is not configured outside CI.
fn py(test: &str, addr: &str, body: &str, arg: &Value) -> Option<Value> {
    run_async_main(test, PRELUDE, body, &[addr, &arg.to_string()])
}

/// Runs a future to completion on a fresh multi-threaded runtime and returns its output.
fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(fut)
}

fn obj(v: &Value) -> Object {
    v.as_object().cloned().unwrap()
}

#[test]
fn what_python_writes_rust_reads() {
    let test = "python_writes";
    let Some(addr) = common::addr(test) else {
        return;
    };
    let collection = common::unique(test);
    let value = json!({"name": "Alice", "age": 30, "city": "Zürich", "n": [1, 2.5, null]});
    let written = py(
        test,
        &addr,
        r#"
async def main():
    s = store()
    c, v = arg["collection"], arg["value"]
    await s.put("user:1", v, collection=c)
    await s.put("user:2", v, collection=c, ttl=3600)
    await s.put("ключ", v, collection=c, ttl=60)
    await s.put("forty_days", v, collection=c, ttl=40 * 86400)
    await s.put_many(["m1", "m2"], [{"i": 1}, {"i": 2}], collection=c, ttl=600)
    return "ok"
"#,
        &json!({"collection": collection, "value": value}),
    );
    let Some(written) = written else { return };
    assert_eq!(written, json!("ok"));
    let value = obj(&value);
    run(async move {
        let s = MemcachedStore::new(addr).unwrap();
        let c = collection.as_str();
        assert_eq!(
            s.get("user:1").collection(c).await.unwrap(),
            Some(value.clone())
        );
        let (v, ttl) = s
            .ttl("user:2")
            .collection(c)
            .await
            .unwrap()
            .expect("present");
        assert_eq!(v, value);
        assert!(close_to(ttl.unwrap().as_secs_f64(), 3600.0, 5.0), "{ttl:?}");
        let (_, ttl) = s.ttl("ключ").collection(c).await.unwrap().expect("present");
        assert!(close_to(ttl.unwrap().as_secs_f64(), 60.0, 5.0), "{ttl:?}");
        assert_eq!(
            s.get_many(&["m1", "m2", "nope"])
                .collection(c)
                .await
                .unwrap(),
            vec![Some(object!({"i": 1})), Some(object!({"i": 2})), None]
        );

        // Byte for byte what py-key-value writes, and the exptime it sends (int(ttl), so 3599).
        for (key, ttl) in [("user:1", None), ("user:2", Some(3600)), ("ключ", Some(60))] {
            let raw = s
                .raw_get(&s.memcached_key(c, key).unwrap())
                .await
                .unwrap()
                .expect("on the server");
            assert_eq!(raw.flags, 0);
            let text = String::from_utf8(raw.value).unwrap();
            assert_python_envelope(&text, Envelope::WITH_KEY, c, key, &value);
            match ttl {
                None => assert_eq!(raw.ttl, None),
                Some(t) => {
                    let server = raw.ttl.expect("an exptime");
                    assert!((t - 5..t).contains(&server), "{key}: server TTL {server}");
                }
            }
        }

        // py-key-value sends a 40-day TTL as a relative exptime, which memcached reads as a
        // 1970 timestamp: the entry is gone at once (this store sends it as absolute time).
        assert_eq!(s.get("forty_days").collection(c).await.unwrap(), None);

        // Rust deletes what Python wrote.
        assert_eq!(
            s.delete_many(&["user:1", "user:2", "ключ", "m1", "m2"])
                .collection(c)
                .await
                .unwrap(),
            5
        );
    });
}

#[test]
fn what_rust_writes_python_reads() {
    let test = "rust_writes";
    let Some(addr) = common::addr(test) else {
        return;
    };
    let collection = common::unique(test);
    let value = object!({"name": "Bob", "emoji": "🦀", "nested": {"b": [true, false], "a": 1.5}});
    let raw_texts = block_on({
        let (addr, c, value) = (addr.clone(), collection.clone(), value.clone());
        async move {
            let s = MemcachedStore::new(addr).unwrap();
            let c = c.as_str();
            s.put("plain", value.clone()).collection(c).await.unwrap();
            s.put("hour", value.clone())
                .collection(c)
                .ttl(3600)
                .await
                .unwrap();
            s.put("forty_days", value.clone())
                .collection(c)
                .ttl(Duration::from_secs(40 * 86400))
                .await
                .unwrap();
            s.put("short", value.clone())
                .collection(c)
                .ttl(2.5)
                .await
                .unwrap();
            s.put_many(&["m1", "m2"], vec![object!({"i": 1}), object!({"i": 2})])
                .collection(c)
                .ttl(600)
                .await
                .unwrap();
            let mut texts = serde_json::Map::new();
            for key in ["plain", "hour"] {
                let raw = s
                    .raw_get(&s.memcached_key(c, key).unwrap())
                    .await
                    .unwrap()
                    .unwrap();
                let text = String::from_utf8(raw.value).unwrap();
                assert_python_envelope(&text, Envelope::WITH_KEY, c, key, &value);
                texts.insert(key.to_string(), Value::String(text));
            }
            texts
        }
    });
    let Some(read) = py(
        test,
        &addr,
        r#"
async def main():
    s = store()
    c = arg["collection"]
    out = {}
    for k in ["plain", "hour", "forty_days", "short"]:
        got = await s.ttl(k, collection=c)
        out[k] = [got[0], got[1]]
    out["many"] = await s.get_many(["m1", "m2", "nope"], collection=c)
    # The raw bytes, through aiomcache.
    out["raw"] = {k: (await s._client.get(f"{c}::{k}".encode())).decode() for k in ["plain", "hour"]}
    out["deleted"] = await s.delete("plain", collection=c)
    return out
"#,
        &json!({"collection": collection}),
    ) else {
        return;
    };
    let value = Value::Object(value);
    assert_eq!(read["plain"][0], value);
    assert_eq!(read["plain"][1], Value::Null, "no TTL");
    assert_eq!(read["hour"][0], value);
    let hour = read["hour"][1].as_f64().unwrap();
    assert!(close_to(hour, 3600.0, 5.0), "Python's TTL {hour}");
    assert_eq!(
        read["forty_days"][0], value,
        "Python finds the 40-day entry"
    );
    let forty = read["forty_days"][1].as_f64().unwrap();
    assert!(close_to(forty, 40.0 * DAY, 5.0), "Python's TTL {forty}");
    let short = read["short"][1].as_f64().unwrap();
    assert!(short > 0.0 && short <= 2.5, "Python's TTL {short}");
    assert_eq!(read["many"], json!([{"i": 1}, {"i": 2}, null]));
    assert_eq!(
        Value::Object(raw_texts),
        read["raw"],
        "aiomcache reads the same bytes"
    );
    assert_eq!(read["deleted"], json!(true));
    run(async move {
        let s = MemcachedStore::new(addr).unwrap();
        assert_eq!(s.get("plain").collection(&collection).await.unwrap(), None);
        s.delete_many(&["hour", "forty_days", "short", "m1", "m2"])
            .collection(&collection)
            .await
            .unwrap();
    });
}

#[test]
fn v1_sanitization_gives_python_s_keys() {
    let test = "v1_interop";
    let Some(addr) = common::addr(test) else {
        return;
    };
    let collection = common::unique(test);
    let long_py = "p".repeat(300);
    let long_rs = "r".repeat(260);
    let Some(out) = py(
        test,
        &addr,
        r#"
async def main():
    s = store(v1=True)
    c = arg["collection"]
    await s.put(arg["long_py"], {"from": "python"}, collection=c, ttl=600)
    strategy = MemcachedV1KeySanitizationStrategy()
    return {k: strategy.sanitize(f"{c}::{k}") for k in [arg["long_py"], arg["long_rs"], "short"]}
"#,
        &json!({"collection": collection, "long_py": long_py, "long_rs": long_rs}),
    ) else {
        return;
    };
    let v1 = MemcachedConfig::new(addr.clone())
        .sanitize_v1()
        .open()
        .unwrap();
    for key in [&long_py, &long_rs, "short"] {
        assert_eq!(
            Value::String(v1.memcached_key(&collection, key).unwrap()),
            out[key],
            "{key}"
        );
    }
    run({
        let (c, long_py, long_rs) = (collection.clone(), long_py.clone(), long_rs.clone());
        async move {
            let (v, ttl) = v1
                .ttl(&long_py)
                .collection(&c)
                .await
                .unwrap()
                .expect("present");
            assert_eq!(v, object!({"from": "python"}));
            assert!(close_to(ttl.unwrap().as_secs_f64(), 600.0, 5.0));
            v1.put(&long_rs, object!({"from": "rust"}))
                .collection(&c)
                .ttl(600)
                .await
                .unwrap();
        }
    });
    let Some(read) = py(
        test,
        &addr,
        r#"
async def main():
    s = store(v1=True)
    c = arg["collection"]
    got = await s.ttl(arg["long_rs"], collection=c)
    await s.delete(arg["long_rs"], collection=c)
    await s.delete(arg["long_py"], collection=c)
    return [got[0], got[1]]
"#,
        &json!({"collection": collection, "long_py": long_py, "long_rs": long_rs}),
    ) else {
        return;
    };
    assert_eq!(read[0], json!({"from": "rust"}));
    assert!(close_to(read[1].as_f64().unwrap(), 600.0, 5.0), "{read}");
}

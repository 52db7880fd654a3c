//! Interoperability with the real py-key-value 0.4.6 (`RedisStore`, redis-py) on a shared
//! server, both ways, TTLs and raw bytes included. Used by the Redis and Valkey crates.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use key_value_core::entry::Envelope;
use key_value_core::prelude::*;
use key_value_redis::RedisStore;
use key_value_testkit::golden::assert_python_envelope;
use key_value_testkit::python::run_python;
use serde_json::{Value, json};

/// `argv[1]` the redis:// URL, `argv[2]` the mode, `argv[3]` the samples as JSON.
const SCRIPT: &str = r#"
import asyncio, json, sys
import redis.asyncio as aioredis
from key_value.aio.stores.redis import RedisStore
url, mode, samples = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
async def main():
    store = RedisStore(url=url)
    raw = aioredis.from_url(url)
    out = []
    for c, k, v, ttl in samples:
        if mode == "write":
            await store.put(k, v, collection=c, ttl=ttl)
            out.append(None)
        else:
            got = await store.get(k, collection=c)
            value, left = await store.ttl(k, collection=c)
            pttl = await raw.pttl(f"{c}::{k}")
            data = await raw.get(f"{c}::{k}")
            out.append({"get": got, "ttl_value": value, "ttl": left, "pttl": pttl,
                        "raw": data.decode("utf-8") if data is not None else None})
    if mode == "read":
        cols = sorted({c for c, _, _, _ in samples})
        keys = {c: sorted(await store.keys(collection=c, limit=1000)) for c in cols}
        out = {"entries": out, "keys": keys}
    await raw.aclose()
    print(json.dumps(out))
asyncio.run(main())
"#;

pub struct Sample {
    pub collection: String,
    pub key: &'static str,
    pub value: Object,
    pub ttl: Option<f64>,
}

/// Samples in collections unique to this run (`tag`), so parallel runs do not meet.
pub fn samples(tag: &str) -> Vec<Sample> {
    let s = |c: &str, key, value, ttl| Sample {
        collection: format!("{tag}_{c}"),
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
            object!({"text": "Hello 世界 🌍", "combining": "e\u{301}"}),
            Some(600.75),
        ),
        s("blobs", "big", object!({"data": "x".repeat(100_000)}), None),
        s(
            "other",
            "k::with::colons",
            object!({"n": -7, "f": 1e300}),
            Some(90.75),
        ),
        s(
            "special!@#$%^&*()",
            "special*?[]",
            object!({"v": true}),
            None,
        ),
    ]
}

fn samples_json(samples: &[Sample]) -> String {
    Value::Array(
        samples
            .iter()
            .map(|s| json!([s.collection, s.key, Value::Object(s.value.clone()), s.ttl]))
            .collect(),
    )
    .to_string()
}

/// Python writes, Rust reads (values, TTLs, raw bytes); Rust writes, Python reads (values,
/// `ttl()`, `PTTL`, raw bytes, `keys()`). `python_url` is a `redis://` URL of the same server.
pub async fn both_ways(test: &str, store: &RedisStore, python_url: &str) {
    let tag = format!("interop_{test}_{}", std::process::id());

    // Python writes, Rust reads.
    let py_samples = samples(&format!("{tag}_py"));
    let Some(_) = run_python(
        test,
        SCRIPT,
        &[python_url, "write", &samples_json(&py_samples)],
    ) else {
        return;
    };
    for s in &py_samples {
        let raw = store
            .raw_value(&s.collection, s.key)
            .await
            .unwrap()
            .expect("written by Python");
        let raw = String::from_utf8(raw).unwrap();
        assert_python_envelope(&raw, Envelope::WITH_KEY, &s.collection, s.key, &s.value);
        let got = store.ttl(s.key).collection(&s.collection).await.unwrap();
        let (value, left) = got.expect("Rust reads what Python wrote");
        assert_eq!(value, s.value, "{}", s.key);
        match s.ttl {
            None => {
                assert_eq!(left, None);
                assert_eq!(store.redis_ttl(&s.collection, s.key).await.unwrap(), None);
            }
            Some(t) => {
                let left = left.expect("a TTL").as_secs_f64();
                assert!(left <= t && left > t - 10.0, "{}: ttl {left} vs {t}", s.key);
                // Python's SETEX: whole seconds.
                let redis_left = store
                    .redis_ttl(&s.collection, s.key)
                    .await
                    .unwrap()
                    .unwrap();
                assert!(redis_left.as_secs_f64() <= t.floor(), "{redis_left:?}");
            }
        }
    }
    let mut keys = store
        .keys()
        .collection(&py_samples[0].collection)
        .await
        .unwrap();
    keys.sort();
    assert_eq!(keys, vec!["user:1", "user:2"]);

    // Rust writes, Python reads.
    let rs_samples = samples(&format!("{tag}_rs"));
    let written = std::time::Instant::now();
    for s in &rs_samples {
        let mut put = store.put(s.key, s.value.clone()).collection(&s.collection);
        if let Some(t) = s.ttl {
            put = put.ttl(t);
        }
        put.await.unwrap();
    }
    let out = run_python(
        test,
        SCRIPT,
        &[python_url, "read", &samples_json(&rs_samples)],
    )
    .unwrap();
    let out: Value = serde_json::from_str(out.trim()).unwrap();
    let elapsed = written.elapsed().as_secs_f64();
    for (s, got) in rs_samples.iter().zip(out["entries"].as_array().unwrap()) {
        assert_eq!(
            got["get"],
            Value::Object(s.value.clone()),
            "Python get {}",
            s.key
        );
        assert_eq!(got["ttl_value"], Value::Object(s.value.clone()));
        let raw = got["raw"].as_str().unwrap();
        assert_python_envelope(raw, Envelope::WITH_KEY, &s.collection, s.key, &s.value);
        let ours = store
            .raw_value(&s.collection, s.key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            raw.as_bytes(),
            &ours[..],
            "the same bytes through both clients"
        );
        match s.ttl {
            None => {
                assert!(got["ttl"].is_null(), "{got}");
                assert_eq!(got["pttl"], json!(-1));
            }
            Some(t) => {
                let left = got["ttl"].as_f64().unwrap();
                assert!(
                    left <= t && left > t - 10.0,
                    "{}: Python ttl {left} vs {t}",
                    s.key
                );
                // Millisecond precision on the key: not floored to whole seconds.
                let pttl = got["pttl"].as_i64().unwrap() as f64 / 1000.0;
                assert!(pttl <= t && pttl > t - 10.0, "pttl {pttl} vs {t}");
                // Whole seconds (SETEX) would leave at most floor(t) - elapsed.
                assert!(
                    pttl >= t - elapsed - 0.05,
                    "pttl {pttl} vs {t} after {elapsed} s"
                );
                if t.fract() > elapsed + 0.05 {
                    assert!(pttl > t.floor(), "pttl {pttl} was floored like SETEX");
                }
            }
        }
    }
    // py-key-value's keys() reads one SCAN page only (a known limitation), so on a busy
    // database it may list fewer; what it lists must be ours.
    let py_keys = out["keys"][&rs_samples[0].collection].as_array().unwrap();
    assert!(
        py_keys.iter().all(|k| k == "user:1" || k == "user:2"),
        "{py_keys:?}"
    );

    // Clean up this run's collections (and only them).
    for s in py_samples.iter().chain(&rs_samples) {
        store.destroy_collection(&s.collection).await.unwrap();
    }
    let _ = Duration::ZERO;
}

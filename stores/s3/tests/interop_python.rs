//! Interoperability with the real py-key-value-aio 0.4.6 `S3Store` (aioboto3; `KV_PYTHON` from
//! `scripts/python-venv`) on the same bucket, against moto (`KV_MOTO_URL`), rclone
//! `serve s3` (`KV_RCLONE_S3_URL`) and SeaweedFS (`KV_SEAWEEDFS_S3_URL`): both directions, TTLs included, the raw objects each side
//! writes compared byte for byte, long names through py-key-value's S3 sanitization
//! strategies, deletes seen across, and expired objects deleted by whichever side reads them.
//! The tests say NOT RUN without the variables, and fail in CI.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Server;
use key_value_core::entry::Envelope;
use key_value_core::prelude::*;
use key_value_core::{Clock, ManualClock, Timestamp};
use key_value_s3::S3Store;
use key_value_testkit::interop::{PYTHON_WRITES, Scenario, assert_reads_python_scenario, close_to};
use key_value_testkit::python::run_async_main;
use serde_json::{Value, json};

/// Every script starts with this: `sys.argv[1]` is a JSON argument with the server, the
/// bucket and test data; `store(sanitize)` is py-key-value's S3Store on that bucket, with
/// py-key-value's S3 strategies (at the server's byte limit) when `sanitize`.
const PRELUDE: &str = r#"
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
from key_value.aio.stores.s3 import S3Store, S3KeySanitizationStrategy, S3CollectionSanitizationStrategy
arg = json.loads(sys.argv[1])
def store(sanitize=False):
    kw = {}
    if sanitize:
        kw = dict(
            collection_sanitization_strategy=S3CollectionSanitizationStrategy(max_bytes=arg["max"]),
            key_sanitization_strategy=S3KeySanitizationStrategy(max_bytes=arg["max"]),
        )
    return S3Store(bucket_name=arg["bucket"], endpoint_url=arg["url"], region_name="us-east-1",
                   aws_access_key_id=arg["ak"], aws_secret_access_key=arg["sk"], **kw)
"#;

/// Runs `body` (defining `async def main()`) with the prelude; its JSON result.
fn py(test: &str, server: &Server, bucket: &str, body: &str, data: Value) -> Option<Value> {
    let arg = json!({
        "url": server.url,
        "ak": server.access_key,
        "sk": server.secret_key,
        "bucket": bucket,
        "max": server.max_part_bytes,
        "data": data,
    });
    run_async_main(test, PRELUDE, body, &[&arg.to_string()])
}

/// Generates one `#[test]` per server for each `async fn name(server: Server)` (sync: it runs
/// Python first, then its own runtime).
macro_rules! on_servers {
    ($($name:ident),* $(,)?) => {
        mod moto {
            $(
                #[test]
                fn $name() {
                    if let Some(server) = crate::common::moto(stringify!($name)) {
                        super::$name(server);
                    }
                }
            )*
        }
        mod rclone {
            $(
                #[test]
                fn $name() {
                    if let Some(server) = crate::common::rclone(stringify!($name)) {
                        super::$name(server);
                    }
                }
            )*
        }
        mod seaweedfs {
            $(
                #[test]
                fn $name() {
                    if let Some(server) = crate::common::seaweedfs(stringify!($name)) {
                        super::$name(server);
                    }
                }
            )*
        }
    };
}

on_servers!(
    what_python_writes_rust_reads,
    what_rust_writes_python_reads,
    long_names_through_the_s3_strategies_both_ways,
    expired_objects_are_deleted_by_either_reader,
);

/// Checks a raw object against py-key-value's layout: the body is the envelope (without key
/// and collection) of the entry it holds, byte for byte as [`Envelope::WITHOUT_KEY`] writes
/// it; content type and metadata as py-key-value sets them. Returns the body.
async fn check_raw_object(server: &Server, bucket: &str, object: &str) -> String {
    let (status, headers, body) = server.raw_get(bucket, object).await;
    assert_eq!(status, 200, "{object}");
    let body = String::from_utf8(body).unwrap();
    let entry = Envelope::load(&body).unwrap();
    assert_eq!(
        Envelope::WITHOUT_KEY.dump(&entry, "ignored", "ignored"),
        body,
        "{object}: the same bytes"
    );
    assert_eq!(headers["content-type"], "application/json", "{object}");
    let meta = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        meta("x-amz-meta-created-at"),
        entry.created_at.map(Timestamp::to_iso),
        "{object}"
    );
    assert_eq!(
        meta("x-amz-meta-expires-at"),
        entry.expires_at.map(Timestamp::to_iso),
        "{object}"
    );
    body
}

fn what_python_writes_rust_reads(server: Server) {
    let test = "python_writes";
    let bucket = common::unique_bucket(test);
    let value = json!({"name": "Alice", "age": 30, "city": "Zürich", "n": [1, 2.5, null], "z": {"b": 1, "a": true}});
    let script = format!(
        "{PYTHON_WRITES}\n{}",
        r#"
async def main():
    async with store() as s:
        await write_scenario(s, arg["data"], odd="ключ 🔑/x")
    return "ok"
"#
    );
    let Some(written) = py(test, &server, &bucket, &script, value.clone()) else {
        return;
    };
    assert_eq!(written, json!("ok"));
    let value = value.as_object().cloned().unwrap();
    let (rs_server, rs_bucket) = (server.clone(), bucket.clone());
    key_value_testkit::run(async move {
        let (server, bucket) = (rs_server, rs_bucket);
        // The bucket Python created is used as is.
        let s = server.config(&bucket).create_bucket(false).open().unwrap();
        let names = Scenario {
            odd_key: "ключ 🔑/x",
            ..Scenario::default()
        };
        assert_reads_python_scenario(&s, &value, names).await;
        let mut keys = s.keys().collection("users").await.unwrap();
        keys.sort();
        assert_eq!(keys, vec!["user:1", "user:2", "ключ 🔑/x"]);
        let mut collections = s.collections().await.unwrap();
        collections.sort();
        assert_eq!(collections, vec!["many", "users"]);
        for object in ["users/user:1", "users/user:2", "users/ключ 🔑/x", "many/m1"] {
            check_raw_object(&server, &bucket, object).await;
        }
        // Rust deletes what Python wrote.
        assert!(s.delete("user:1").collection("users").await.unwrap());
        assert_eq!(
            s.delete_many(&["m1", "m2"])
                .collection("many")
                .await
                .unwrap(),
            2
        );
    });
    let Some(after) = py(
        test,
        &server,
        &bucket,
        r#"
async def main():
    async with store() as s:
        return [await s.get("user:1", collection="users"), await s.get("m1", collection="many"),
                await s.get("user:2", collection="users")]
"#,
        Value::Null,
    ) else {
        return;
    };
    assert_eq!(after[0], Value::Null);
    assert_eq!(after[1], Value::Null);
    assert_eq!(after[2]["name"], json!("Alice"));
}

fn what_rust_writes_python_reads(server: Server) {
    let test = "rust_writes";
    let bucket = common::unique_bucket(test);
    let value =
        object!({"name": "Bob", "score": 1.5, "tags": ["a", "ü"], "big": 12345678901234_i64});
    {
        let server = server.clone();
        let bucket = bucket.clone();
        let value = value.clone();
        key_value_testkit::run(async move {
            let s = server.config(&bucket).open().unwrap();
            s.put("user:1", value.clone())
                .collection("users")
                .await
                .unwrap();
            s.put("user:2", value.clone())
                .collection("users")
                .ttl(3600)
                .await
                .unwrap();
            s.put_many(
                &["m1", "m2", "a b+c"],
                vec![object!({"i": 1}), object!({"i": 2}), object!({"i": 3})],
            )
            .collection("many")
            .ttl(600)
            .await
            .unwrap();
            for object in ["users/user:1", "users/user:2", "many/a b+c"] {
                check_raw_object(&server, &bucket, object).await;
            }
        });
    }
    let Some(read) = py(
        test,
        &server,
        &bucket,
        r#"
async def main():
    async with store() as s:
        out = {}
        out["user1"] = await s.get("user:1", collection="users")
        out["ttl1"] = (await s.ttl("user:1", collection="users"))[1]
        out["ttl2"] = (await s.ttl("user:2", collection="users"))[1]
        out["many"] = await s.get_many(["m1", "a b+c", "nope"], collection="many")
        out["deleted"] = await s.delete("m2", collection="many")
        out["deleted_again"] = await s.delete("m2", collection="many")
        return out
"#,
        Value::Null,
    ) else {
        return;
    };
    assert_eq!(read["user1"], Value::Object(value));
    assert_eq!(read["ttl1"], Value::Null);
    assert!(
        close_to(read["ttl2"].as_f64().unwrap(), 3600.0, 10.0),
        "{read}"
    );
    assert_eq!(read["many"], json!([{"i": 1}, {"i": 3}, null]));
    assert_eq!(read["deleted"], json!(true));
    assert_eq!(read["deleted_again"], json!(false));
    key_value_testkit::run(async move {
        let s = server.config(&bucket).open().unwrap();
        assert_eq!(s.get("m2").collection("many").await.unwrap(), None);
        assert_eq!(server.raw_head(&bucket, "many/m2").await, 404);
    });
}

fn long_names_through_the_s3_strategies_both_ways(server: Server) {
    let test = "long_names";
    let bucket = common::unique_bucket(test);
    let collection = "c".repeat(300) + "é";
    let py_key = "p".repeat(1000);
    let rust_key = "ж".repeat(700);
    let Some(written) = py(
        test,
        &server,
        &bucket,
        r#"
async def main():
    d = arg["data"]
    async with store(sanitize=True) as s:
        await s.put(d["py_key"], {"from": "python"}, collection=d["collection"])
    return "ok"
"#,
        json!({"collection": collection, "py_key": py_key}),
    ) else {
        return;
    };
    assert_eq!(written, json!("ok"));
    {
        let (server, bucket, collection, py_key, rust_key) = (
            server.clone(),
            bucket.clone(),
            collection.clone(),
            py_key.clone(),
            rust_key.clone(),
        );
        key_value_testkit::run(async move {
            let s = server.config(&bucket).open().unwrap();
            assert_eq!(
                s.get(&py_key).collection(&collection).await.unwrap(),
                Some(object!({"from": "python"}))
            );
            s.put(&rust_key, object!({"from": "rust"}))
                .collection(&collection)
                .await
                .unwrap();
            let object = s.object_key(&collection, &rust_key).unwrap();
            check_raw_object(&server, &bucket, &object).await;
        });
    }
    let Some(read) = py(
        test,
        &server,
        &bucket,
        r#"
async def main():
    d = arg["data"]
    async with store(sanitize=True) as s:
        return await s.get(d["rust_key"], collection=d["collection"])
"#,
        json!({"collection": collection, "rust_key": rust_key}),
    ) else {
        return;
    };
    assert_eq!(read, json!({"from": "rust"}));
}

fn expired_objects_are_deleted_by_either_reader(server: Server) {
    let test = "expired_both_ways";
    let bucket = common::unique_bucket(test);
    // Rust writes an entry that expired 50 s ago by real time (its clock is 100 s behind).
    {
        let (server, bucket) = (server.clone(), bucket.clone());
        key_value_testkit::run(async move {
            let past =
                Timestamp::from_unix_micros(Timestamp::now_system().unix_micros() - 100_000_000);
            let s: S3Store = server
                .config(&bucket)
                .clock(Clock::from(ManualClock::new(past)))
                .open()
                .unwrap();
            s.put("rust-old", object!({"v": 1}))
                .collection("c")
                .ttl(50)
                .await
                .unwrap();
            assert_eq!(server.raw_head(&bucket, "c/rust-old").await, 200);
        });
    }
    let Some(read) = py(
        test,
        &server,
        &bucket,
        r#"
async def main():
    async with store() as s:
        got = await s.get("rust-old", collection="c")
        await s.put("py-short", {"v": 2}, collection="c", ttl=30)
        return got
"#,
        Value::Null,
    ) else {
        return;
    };
    assert_eq!(read, Value::Null);
    key_value_testkit::run(async move {
        assert_eq!(
            server.raw_head(&bucket, "c/rust-old").await,
            404,
            "Python deleted it"
        );
        let clock = ManualClock::starting_now();
        let s = server
            .config(&bucket)
            .clock(Clock::from(clock.clone()))
            .open()
            .unwrap();
        assert_eq!(
            s.get("py-short").collection("c").await.unwrap(),
            Some(object!({"v": 2}))
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(s.get("py-short").collection("c").await.unwrap(), None);
        assert_eq!(
            server.raw_head(&bucket, "c/py-short").await,
            404,
            "Rust deleted it"
        );
    });
}

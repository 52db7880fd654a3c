//! Interoperability with the real py-key-value-aio 0.4.6 `DynamoDBStore` (aioboto3;
//! `KV_PYTHON` from `scripts/python-venv`) on moto (`KV_MOTO_URL`), sharing one table. Both
//! directions, TTLs included (Python's `ttl()` on Rust's items and Rust's on Python's), the raw
//! items each side writes compared attribute by attribute, Rust's envelope re-dumped by
//! Python's own serializer to the same bytes, expiry and deletes seen across, and each side
//! using the table the other created. The tests say NOT RUN without the variables, and fail
//! in CI.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_dynamodb::DynamoDBStore;
use key_value_testkit::interop::{PYTHON_WRITES, Scenario, assert_reads_python_scenario, close_to};
use key_value_testkit::python::run_async_main;
use key_value_testkit::run;
use serde_json::{Value, json};

/// Every script starts with this: `sys.argv[1]` is the endpoint, `sys.argv[2]` a JSON argument
/// with the table; `store()` is py-key-value's DynamoDBStore on that table, `raw()` a boto3
/// client.
const PRELUDE: &str = r#"
import asyncio, json, sys
from key_value.aio.stores.dynamodb import DynamoDBStore
url = sys.argv[1]
arg = json.loads(sys.argv[2])
def store():
    return DynamoDBStore(table_name=arg["table"], endpoint_url=url, region_name="us-east-1",
                         aws_access_key_id="test", aws_secret_access_key="test")
def raw():
    import boto3
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
"#;

fn py(test: &str, url: &str, body: &str, arg: &Value) -> Option<Value> {
    run_async_main(test, PRELUDE, body, &[url, &arg.to_string()])
}

fn store(url: &str, table: &str) -> DynamoDBStore {
    common::config(url, table).open().unwrap()
}

/// An item's attribute names with their types: `{"collection": "S", ...}`.
fn shape(item: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (name, attr) in item.as_object().unwrap() {
        let kind = attr.as_object().unwrap().keys().next().unwrap().clone();
        out.insert(name.clone(), Value::String(kind));
    }
    Value::Object(out)
}

/// The envelope of an item without its timestamps, parsed.
fn envelope_without_times(item: &Value) -> Value {
    let mut doc: Value = serde_json::from_str(item["value"]["S"].as_str().unwrap()).unwrap();
    let m = doc.as_object_mut().unwrap();
    m.remove("created_at");
    m.remove("expires_at");
    doc
}

#[test]
fn what_python_writes_rust_reads() {
    let test = "python_writes";
    let Some(url) = common::moto(test) else {
        return;
    };
    let table = common::unique_table(test);
    let value = json!({"name": "Alice", "age": 30, "city": "Zürich", "n": [1, 2.5, null], "z": {"b": 1, "a": true}});
    // Python creates the table (its own set-up) and writes.
    let script = format!(
        "{PYTHON_WRITES}\n{}",
        r#"
async def main():
    s = store()
    async with s:
        await write_scenario(s, arg["value"])
    return "ok"
"#
    );
    let Some(written) = py(
        test,
        &url,
        &script,
        &json!({"table": table, "value": value}),
    ) else {
        return;
    };
    assert_eq!(written, json!("ok"));
    let value = value.as_object().cloned().unwrap();
    run(async move {
        let s = store(&url, &table);
        assert_reads_python_scenario(&s, &value, Scenario::default()).await;
        // Rust lists what Python wrote (py-key-value's DynamoDBStore cannot).
        assert_eq!(
            s.keys().collection("users").await.unwrap(),
            ["user:1", "user:2", "ключ"]
        );
        assert_eq!(s.collections().await.unwrap(), ["many", "users"]);
        // Rust's entry for the same value has the same attributes, types and envelope.
        s.put("rust:2", value.clone())
            .collection("users")
            .ttl(3600)
            .await
            .unwrap();
        let python = common::raw_item(&url, &table, "users", "user:2")
            .await
            .unwrap();
        let rust = common::raw_item(&url, &table, "users", "rust:2")
            .await
            .unwrap();
        assert_eq!(shape(&python), shape(&rust));
        assert_eq!(
            shape(&rust),
            json!({"collection": "S", "key": "S", "value": "S", "ttl": "N"})
        );
        let (mut p, mut r) = (
            envelope_without_times(&python),
            envelope_without_times(&rust),
        );
        p["key"] = json!("k");
        r["key"] = json!("k");
        assert_eq!(p, r);
        let plain = common::raw_item(&url, &table, "users", "user:1")
            .await
            .unwrap();
        assert_eq!(
            shape(&plain),
            json!({"collection": "S", "key": "S", "value": "S"}),
            "Python writes no ttl without a TTL either"
        );
        // Python's entries expire for Rust by Rust's clock.
        let clock = ManualClock::starting_now();
        let later = common::config(&url, &table)
            .clock(clock.clone().into())
            .open()
            .unwrap();
        clock.advance(Duration::from_secs(3601));
        assert_eq!(later.get("user:2").collection("users").await.unwrap(), None);
        assert_eq!(
            later.get("user:1").collection("users").await.unwrap(),
            Some(value)
        );
        assert_eq!(later.keys().collection("users").await.unwrap(), ["user:1"]);
    });
}

#[test]
fn what_rust_writes_python_reads() {
    let test = "rust_writes";
    let Some(url) = common::moto(test) else {
        return;
    };
    let table = common::unique_table(test);
    let value = json!({"name": "Bob", "score": 1.5, "tags": ["a", "ß", "🌍"], "nested": {"y": null, "x": [1, {}]}});
    let v = value.as_object().cloned().unwrap();
    let (url2, table2) = (url.clone(), table.clone());
    // Rust creates the table and writes, including an entry that expired an hour ago.
    run(async move {
        let s = store(&url2, &table2);
        s.put("plain", v.clone()).collection("c").await.unwrap();
        s.put("timed", v.clone())
            .collection("c")
            .ttl(3600)
            .await
            .unwrap();
        s.put_many(&["b1", "b2"], vec![object!({"i": 1}), object!({"i": 2})])
            .collection("batch")
            .ttl(120)
            .await
            .unwrap();
        s.put("gone", object!({})).collection("c").await.unwrap();
        let past = ManualClock::new(Timestamp::from_unix_micros(
            Timestamp::now_system().unix_micros() - 7_200_000_000,
        ));
        let old = common::config(&url2, &table2)
            .clock(past.into())
            .open()
            .unwrap();
        old.put("expired", object!({"old": true}))
            .collection("c")
            .ttl(3600)
            .await
            .unwrap();
    });
    let Some(read) = py(
        test,
        &url,
        r#"
async def main():
    s = store()
    async with s:
        plain = await s.get("plain", collection="c")
        timed, ttl = await s.ttl("timed", collection="c")
        plain_ttl = (await s.ttl("plain", collection="c"))[1]
        many = await s.get_many(["b1", "b2", "nope"], collection="batch")
        b_ttl = (await s.ttl("b1", collection="batch"))[1]
        expired = await s.get("expired", collection="c")
        deleted = await s.delete("gone", collection="c")
        await s.put("py_timed", arg["value"], collection="c", ttl=3600)
        # Python's own serializer re-dumps Rust's envelope to the same bytes.
        item = raw().get_item(TableName=arg["table"],
                              Key={"collection": {"S": "c"}, "key": {"S": "timed"}})["Item"]
        text = item["value"]["S"]
        adapter = s._serialization_adapter
        redumped = adapter.dump_json(entry=adapter.load_json(text), key="timed", collection="c")
        ttl_attr = int(item["ttl"]["N"])
        entry = adapter.load_json(text)
    return {"plain": plain, "timed": timed, "ttl": ttl, "plain_ttl": plain_ttl,
            "many": many, "b_ttl": b_ttl, "expired": expired, "deleted": deleted,
            "same_bytes": redumped == text, "ttl_attr_ok": ttl_attr == int(entry.expires_at.timestamp())}
"#,
        &json!({"table": table, "value": value}),
    ) else {
        return;
    };
    assert_eq!(read["plain"], value);
    assert_eq!(read["timed"], value);
    assert!(
        close_to(read["ttl"].as_f64().unwrap(), 3600.0, 10.0),
        "{read}"
    );
    assert_eq!(read["plain_ttl"], Value::Null);
    assert_eq!(read["many"], json!([{"i": 1}, {"i": 2}, null]));
    assert!(
        close_to(read["b_ttl"].as_f64().unwrap(), 120.0, 10.0),
        "{read}"
    );
    assert_eq!(
        read["expired"],
        Value::Null,
        "Rust's expired entry, for Python"
    );
    assert_eq!(read["deleted"], json!(true));
    assert_eq!(read["same_bytes"], json!(true), "{read}");
    assert_eq!(read["ttl_attr_ok"], json!(true), "{read}");
    run(async move {
        let s = store(&url, &table);
        assert_eq!(
            s.get("gone").collection("c").await.unwrap(),
            None,
            "Python's delete"
        );
        let (got, ttl) = s.ttl("py_timed").collection("c").await.unwrap().unwrap();
        assert_eq!(Value::Object(got), value);
        assert!(close_to(ttl.unwrap().as_secs_f64(), 3600.0, 10.0));
        let rust = common::raw_item(&url, &table, "c", "timed").await.unwrap();
        let python = common::raw_item(&url, &table, "c", "py_timed")
            .await
            .unwrap();
        assert_eq!(shape(&rust), shape(&python));
        let (mut r, mut p) = (
            envelope_without_times(&rust),
            envelope_without_times(&python),
        );
        r["key"] = json!("k");
        p["key"] = json!("k");
        assert_eq!(r, p);
    });
}

#[test]
fn each_side_uses_the_table_the_other_created() {
    let test = "shared_table";
    let Some(url) = common::moto(test) else {
        return;
    };
    let ns = key_value_testkit::unique_name(test);
    let (rust_table, py_table) = (
        common::table_for(&ns),
        common::table_for(&format!("{ns}_py")),
    );
    let (u, t) = (url.clone(), rust_table.clone());
    run(async move {
        store(&u, &t).put("k", object!({"v": 1})).await.unwrap();
    });
    let Some(out) = py(
        test,
        &url,
        r#"
async def main():
    s = DynamoDBStore(table_name=arg["rust_table"], endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test", auto_create=False)
    async with s:
        got = await s.get("k")
        await s.put("k2", {"v": 2}, ttl=300)
    p = DynamoDBStore(table_name=arg["py_table"], endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    async with p:
        await p.put("k", {"v": 0})
    c = raw()
    def desc(t):
        d = c.describe_table(TableName=t)["Table"]
        return {"keys": sorted((k["AttributeName"], k["KeyType"]) for k in d["KeySchema"]),
                "attrs": sorted((a["AttributeName"], a["AttributeType"]) for a in d["AttributeDefinitions"]),
                "billing": d.get("BillingModeSummary", {}).get("BillingMode"),
                "ttl": c.describe_time_to_live(TableName=t)["TimeToLiveDescription"]}
    return {"got": got, "rust": desc(arg["rust_table"]), "py": desc(arg["py_table"])}
"#,
        &json!({"rust_table": rust_table, "py_table": py_table}),
    ) else {
        return;
    };
    assert_eq!(
        out["got"],
        json!({"v": 1}),
        "Python reads the table Rust created"
    );
    assert_eq!(out["rust"], out["py"], "both create the same table: {out}");
    assert_eq!(
        out["rust"]["ttl"],
        json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"})
    );
    run(async move {
        let s = common::config(&url, &py_table)
            .auto_create(false)
            .open()
            .unwrap();
        assert_eq!(s.get("k").await.unwrap(), Some(object!({"v": 0})));
        let r = store(&url, &rust_table);
        let (v, ttl) = r.ttl("k2").await.unwrap().unwrap();
        assert_eq!(v, object!({"v": 2}));
        assert!(close_to(ttl.unwrap().as_secs_f64(), 300.0, 10.0));
    });
}

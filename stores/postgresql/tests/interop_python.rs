//! Interoperability with the real py-key-value-aio 0.4.6 `PostgreSQLStore` (asyncpg;
//! `KV_PYTHON` from `scripts/python-venv`) on the server of `services/postgresql/start`
//! (`KV_POSTGRES_URL`), sharing one table. Both directions, TTLs included (Python's `ttl()` on
//! Rust's rows and Rust's on Python's), the raw row columns written by each side compared,
//! created_at kept across sides on overwrite, deletes seen across, and the schema each side
//! creates compared. The tests say NOT RUN without the variables, and fail in CI.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_core::prelude::*;
use key_value_postgresql::{PostgreSQLConfig, PostgreSQLStore};
use key_value_testkit::interop::{PYTHON_WRITES, Scenario, assert_reads_python_scenario, close_to};
use key_value_testkit::python::run_async_main;
use key_value_testkit::run;
use serde_json::{Value, json};

/// Every script starts with this: `sys.argv[1]` is the URL, `sys.argv[2]` a JSON argument
/// with the table; `store()` is py-key-value's PostgreSQLStore on that table.
const PRELUDE: &str = r#"
import asyncio, json, sys
from key_value.aio.stores.postgresql import PostgreSQLStore
url = sys.argv[1]
arg = json.loads(sys.argv[2])
def store():
    return PostgreSQLStore(url=url, table_name=arg["table"])
"#;

fn py(test: &str, url: &str, body: &str, arg: &Value) -> Option<Value> {
    run_async_main(test, PRELUDE, body, &[url, &arg.to_string()])
}

fn store(url: &str, table: &str) -> PostgreSQLStore {
    PostgreSQLConfig::from_url(&key_value_core::config::StoreUrl::parse(url).unwrap())
        .unwrap()
        .table(table)
        .pool_size(2)
        .open()
        .unwrap()
}

/// The raw columns of one row: value text, its JSONB type, ttl, created_at and expires_at in
/// Unix microseconds, and expires_at - created_at in microseconds.
async fn raw_row(url: &str, table: &str, collection: &str, key: &str) -> Value {
    let raw = common::raw_client(url).await;
    let row = raw
        .query_one(
            &format!(
                "SELECT value::text, jsonb_typeof(value), ttl, \
                 (extract(epoch from created_at) * 1000000)::bigint, \
                 (extract(epoch from expires_at) * 1000000)::bigint \
                 FROM \"{table}\" WHERE collection = $1 AND key = $2"
            ),
            &[&collection, &key],
        )
        .await
        .unwrap();
    let created: Option<i64> = row.get(3);
    let expires: Option<i64> = row.get(4);
    json!({
        "value": row.get::<_, String>(0),
        "type": row.get::<_, String>(1),
        "ttl": row.get::<_, Option<f64>>(2),
        "created": created,
        "expires": expires,
        "lifetime": expires.zip(created).map(|(e, c)| e - c),
    })
}

async fn drop_table(url: &str, table: &str) {
    common::raw_client(url)
        .await
        .batch_execute(&format!("DROP TABLE IF EXISTS \"{table}\""))
        .await
        .unwrap();
}

#[test]
fn what_python_writes_rust_reads() {
    let test = "python_writes";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    let value = json!({"name": "Alice", "age": 30, "city": "Zürich", "n": [1, 2.5, null], "z": {"b": 1, "a": true}});
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
        assert_eq!(
            s.keys().collection("users").await.unwrap(),
            ["user:1", "user:2", "ключ"]
        );
        assert_eq!(s.collections().await.unwrap(), ["many", "users"]);
        // Python's raw row: bare value, ttl = remaining seconds at write time (a hair under
        // 3600), expires_at - created_at = the TTL exactly.
        let row = raw_row(&url, &table, "users", "user:2").await;
        assert_eq!(row["type"], "object");
        assert!(close_to(row["ttl"].as_f64().unwrap(), 3600.0, 1.0), "{row}");
        assert!(row["ttl"].as_f64().unwrap() <= 3600.0, "{row}");
        assert_eq!(row["lifetime"], json!(3_600_000_000i64), "{row}");
        let row = raw_row(&url, &table, "users", "user:1").await;
        assert_eq!(row["ttl"], Value::Null);
        assert_eq!(row["expires"], Value::Null);
        drop_table(&url, &table).await;
    });
}

#[test]
fn what_rust_writes_python_reads_and_rows_match() {
    let test = "rust_writes";
    let Some(url) = common::url(test) else { return };
    let table = common::table_for(&common::unique(test));
    let value = json!({"name": "Bob", "score": 1.5, "tags": ["a", "ß"], "nested": {"y": null, "x": [1, {}]}});
    let v = value.as_object().cloned().unwrap();
    let (url2, table2) = (url.clone(), table.clone());
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
    });
    // The same value written by Python, to compare the raw rows.
    let Some(read) = py(
        test,
        &url,
        r#"
async def main():
    s = store()
    async with s:
        await s.put("py_timed", arg["value"], collection="c", ttl=3600)
        plain = await s.get("plain", collection="c")
        timed, ttl = await s.ttl("timed", collection="c")
        plain_ttl = (await s.ttl("plain", collection="c"))[1]
        many = await s.get_many(["b1", "b2", "nope"], collection="batch")
        b_ttl = (await s.ttl("b1", collection="batch"))[1]
        cols = await s.collections()
        deleted = await s.delete("gone", collection="c")
    return {"plain": plain, "timed": timed, "ttl": ttl, "plain_ttl": plain_ttl,
            "many": many, "b_ttl": b_ttl, "cols": sorted(cols), "deleted": deleted}
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
    assert_eq!(read["cols"], json!(["batch", "c"]));
    assert_eq!(read["deleted"], json!(true));
    run(async move {
        let s = store(&url, &table);
        assert_eq!(
            s.get("gone").collection("c").await.unwrap(),
            None,
            "Python's delete"
        );
        let rust = raw_row(&url, &table, "c", "timed").await;
        let python = raw_row(&url, &table, "c", "py_timed").await;
        assert_eq!(rust["value"], python["value"], "same JSONB");
        assert_eq!(rust["type"], "object");
        assert_eq!(rust["lifetime"], python["lifetime"]);
        assert_eq!(rust["lifetime"], json!(3_600_000_000i64));
        for row in [&rust, &python] {
            let ttl = row["ttl"].as_f64().unwrap();
            assert!(close_to(ttl, 3600.0, 1.0) && ttl <= 3600.0, "{row}");
        }
        let (got, ttl) = s.ttl("py_timed").collection("c").await.unwrap().unwrap();
        assert_eq!(Value::Object(got), value);
        assert!(close_to(ttl.unwrap().as_secs_f64(), 3600.0, 10.0));
        drop_table(&url, &table).await;
    });
}

#[test]
fn created_at_is_kept_across_sides_and_schemas_match() {
    let test = "created_at_and_schema";
    let Some(url) = common::url(test) else { return };
    let ns = common::unique(test);
    let (table, py_table) = (
        common::table_for(&ns),
        common::table_for(&format!("{ns}_py")),
    );
    let (u, t) = (url.clone(), table.clone());
    let first = run_value(async move {
        let s = store(&u, &t);
        s.put("k", object!({"v": 1})).collection("c").await.unwrap();
        raw_row(&u, &t, "c", "k").await
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    let Some(out) = py(
        test,
        &url,
        r#"
async def main():
    s = store()
    async with s:
        await s.put("k", {"v": 2}, collection="c", ttl=300)
    other = PostgreSQLStore(url=url, table_name=arg["py_table"])
    async with other:
        await other.put("k", {"v": 0}, collection="c")
    return "ok"
"#,
        &json!({"table": table, "py_table": py_table}),
    ) else {
        return;
    };
    assert_eq!(out, json!("ok"));
    run(async move {
        let after = raw_row(&url, &table, "c", "k").await;
        assert_eq!(
            after["created"], first["created"],
            "Python's overwrite kept created_at"
        );
        assert_eq!(after["value"], json!(r#"{"v": 2}"#));
        let s = store(&url, &table);
        s.put("k", object!({"v": 3})).collection("c").await.unwrap();
        let again = raw_row(&url, &table, "c", "k").await;
        assert_eq!(
            again["created"], first["created"],
            "Rust's overwrite kept created_at"
        );
        assert_eq!(again["expires"], Value::Null);
        // The schema Python created and the one Rust created are the same.
        let raw = common::raw_client(&url).await;
        let mut shapes = Vec::new();
        for t in [&table, &py_table] {
            let columns: Vec<String> = raw
                .query(
                    "SELECT column_name || ' ' || data_type || ' ' || is_nullable \
                     FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
                    &[t],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let indexes: Vec<String> = raw
                .query(
                    "SELECT replace(indexdef, $1, 'T') FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
                    &[t],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            shapes.push((columns, indexes.len()));
        }
        assert_eq!(shapes[0], shapes[1]);
        // Rust uses the table Python created.
        let p = store(&url, &py_table);
        assert_eq!(
            p.get("k").collection("c").await.unwrap(),
            Some(object!({"v": 0}))
        );
        drop_table(&url, &table).await;
        drop_table(&url, &py_table).await;
    });
}

fn run_value<T: Send + 'static>(fut: impl std::future::Future<Output = T>) -> T {
    let mut out = None;
    run(async {
        out = Some(fut.await);
    });
    out.unwrap()
}

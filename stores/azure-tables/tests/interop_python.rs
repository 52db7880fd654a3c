//! Interoperability with the real py-key-value-aio 0.4.6 `AzureTablesStore` (azure-data-tables;
//! `KV_PYTHON` from `scripts/python-venv`) on Azurite (`KV_AZURITE_TABLES_URL`), sharing one
//! table: both directions, without sanitization (py-key-value's default) and with
//! `AzureTablesSanitizationStrategy` for keys and collections; TTLs across sides, deletes
//! seen across, the raw entities each side writes compared, and SAS tokens made by the Python
//! SDK used by the Rust store. The tests say NOT RUN without the variables, and fail in CI.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_azure_tables::client::Entity;
use key_value_azure_tables::{AzureTablesConfig, AzureTablesStore, Credential};
use key_value_core::entry::Envelope;
use key_value_core::prelude::*;
use key_value_testkit::interop::{PYTHON_WRITES, Scenario, assert_reads_python_scenario, close_to};
use key_value_testkit::python::run_async_main;
use key_value_testkit::run;
use serde_json::{Value, json};

/// Every script starts with this: `sys.argv[1]` is the connection string, `sys.argv[2]` a JSON
/// argument with the table; `store(sanitize)` is py-key-value's AzureTablesStore on it.
const PRELUDE: &str = r#"
import asyncio, json, sys
from datetime import datetime, timedelta, timezone
from key_value.aio.stores.azure_tables import AzureTablesStore, AzureTablesSanitizationStrategy
cs = sys.argv[1]
arg = json.loads(sys.argv[2])
def store(sanitize=False):
    kw = {}
    if sanitize:
        kw = dict(collection_sanitization_strategy=AzureTablesSanitizationStrategy(),
                  key_sanitization_strategy=AzureTablesSanitizationStrategy())
    return AzureTablesStore(connection_string=cs, table_name=arg["table"], **kw)
"#;

fn connection_string(endpoint: &str) -> String {
    format!(
        "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};TableEndpoint={endpoint};",
        key_value_azure_tables::DEVELOPMENT_ACCOUNT,
        key_value_azure_tables::DEVELOPMENT_ACCOUNT_KEY
    )
}

fn py(test: &str, endpoint: &str, body: &str, arg: &Value) -> Option<Value> {
    run_async_main(
        test,
        PRELUDE,
        body,
        &[&connection_string(endpoint), &arg.to_string()],
    )
}

fn store(endpoint: &str, table: &str, sanitize: bool) -> AzureTablesStore {
    common::config(endpoint, table)
        .sanitize(sanitize)
        .open()
        .unwrap()
}

async fn raw(endpoint: &str, table: &str, pk: &str, rk: &str) -> Entity {
    common::raw_client(endpoint)
        .get_entity(table, pk, rk, None)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no entity {pk}/{rk}"))
}

/// The properties of an entity without the service's own (`odata.*`, `Timestamp`).
fn user_properties(entity: &Entity) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = entity
        .iter()
        .filter(|(k, _)| !k.starts_with("odata.") && *k != "Timestamp")
        .map(|(k, v)| {
            let kind = match v {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "other",
            };
            (k.clone(), kind.to_string())
        })
        .collect();
    props.sort();
    props
}

/// Checks that a stored `Value` is exactly what this crate writes for the same entry.
fn assert_rust_writes_the_same_bytes(entity: &Entity, collection: &str, key: &str) {
    let text = entity["Value"].as_str().unwrap();
    let entry = Envelope::load(text).unwrap();
    assert_eq!(Envelope::WITH_KEY.dump(&entry, collection, key), text);
}

#[test]
fn what_python_writes_rust_reads() {
    for sanitize in [false, true] {
        let test = if sanitize {
            "python_writes_sanitized"
        } else {
            "python_writes"
        };
        let Some(endpoint) = common::endpoint(test) else {
            return;
        };
        let table = common::unique_table(test);
        let value = json!({"name": "Alice", "age": 30, "city": "Zürich", "n": [1, 2.5, null], "z": {"b": 1, "a": true}});
        // Keys Azure accepts as they are; with sanitization also ones it refuses.
        let odd_key = if sanitize { "a/b#c?" } else { "it's ключ" };
        let collection = if sanitize { "users/eu" } else { "users" };
        let script = format!(
            "{PYTHON_WRITES}\n{}",
            r#"
async def main():
    s = store(arg["sanitize"])
    c = arg["collection"]
    async with s:
        await write_scenario(s, arg["value"], users=c, odd=arg["odd"])
        await s.put("gone", {"x": 1}, collection=c, ttl=0.5)
    await asyncio.sleep(1.2)
    return "ok"
"#
        );
        let Some(written) = py(
            test,
            &endpoint,
            &script,
            &json!({"table": table, "value": value, "sanitize": sanitize, "odd": odd_key, "collection": collection}),
        ) else {
            return;
        };
        assert_eq!(written, json!("ok"));
        let value = value.as_object().cloned().unwrap();
        let (endpoint, table) = (endpoint.clone(), table.clone());
        run(async move {
            let s = store(&endpoint, &table, sanitize);
            let names = Scenario {
                users: collection,
                odd_key,
                ..Scenario::default()
            };
            assert_reads_python_scenario(&s, &value, names).await;
            assert_eq!(
                s.get("gone").collection(collection).await.unwrap(),
                None,
                "expired"
            );
            assert_eq!(
                s.get_many(&["m1", "m2", "nope"])
                    .collection("many")
                    .await
                    .unwrap(),
                vec![Some(object!({"i": 1})), Some(object!({"i": 2})), None]
            );
            let mut keys = s.keys().collection(collection).await.unwrap();
            keys.sort();
            let mut expected = vec![odd_key.to_string(), "user:1".into(), "user:2".into()];
            expected.sort();
            assert_eq!(keys, expected);
            let mut cols = s.collections().await.unwrap();
            cols.sort();
            assert_eq!(cols, ["many", collection]);
            // Python's raw entity: the Value bytes are the ones Rust writes, ExpiresAt an Int64.
            let (pk, rk) = s.destination(collection, "user:2").unwrap();
            let entity = raw(&endpoint, &table, &pk, &rk).await;
            assert_eq!(entity["ExpiresAt@odata.type"], "Edm.Int64");
            assert_rust_writes_the_same_bytes(&entity, collection, "user:2");
            let (pk, rk) = s.destination(collection, odd_key).unwrap();
            if sanitize {
                assert!(pk.starts_with("H_") && rk.starts_with("H_"), "{pk} {rk}");
            }
            let entity = raw(&endpoint, &table, &pk, &rk).await;
            assert_rust_writes_the_same_bytes(&entity, collection, odd_key);
            // Rust deletes what Python wrote.
            assert!(s.delete("user:1").collection(collection).await.unwrap());
            assert_eq!(
                s.delete_many(&["m1", "m2", "m3"])
                    .collection("many")
                    .await
                    .unwrap(),
                2
            );
            s.destroy().await.unwrap();
        });
    }
}

#[test]
fn what_rust_writes_python_reads_and_entities_match() {
    for sanitize in [false, true] {
        let test = if sanitize {
            "rust_writes_sanitized"
        } else {
            "rust_writes"
        };
        let Some(endpoint) = common::endpoint(test) else {
            return;
        };
        let table = common::unique_table(test);
        let value = json!({"name": "Bob", "score": 1.5, "tags": ["a", "ß"], "nested": {"y": null, "x": [1, {}]}});
        let odd_key = if sanitize { "x\\y#z" } else { "100% it's" };
        let collection = if sanitize { "c?1" } else { "c" };
        let v = value.as_object().cloned().unwrap();
        let (e2, t2) = (endpoint.clone(), table.clone());
        run(async move {
            let s = store(&e2, &t2, sanitize);
            s.put("plain", v.clone())
                .collection(collection)
                .await
                .unwrap();
            s.put("timed", v.clone())
                .collection(collection)
                .ttl(3600)
                .await
                .unwrap();
            s.put(odd_key, v.clone())
                .collection(collection)
                .ttl(120)
                .await
                .unwrap();
            s.put_many(&["b1", "b2"], vec![object!({"i": 1}), object!({"i": 2})])
                .collection("batch")
                .ttl(120)
                .await
                .unwrap();
            s.put("gone", object!({}))
                .collection(collection)
                .await
                .unwrap();
        });
        let Some(read) = py(
            test,
            &endpoint,
            r#"
async def main():
    s = store(arg["sanitize"])
    c = arg["collection"]
    async with s:
        await s.put("py_timed", arg["value"], collection=c, ttl=3600)
        plain = await s.get("plain", collection=c)
        timed, ttl = await s.ttl("timed", collection=c)
        odd, odd_ttl = await s.ttl(arg["odd"], collection=c)
        plain_ttl = (await s.ttl("plain", collection=c))[1]
        many = await s.get_many(["b1", "b2", "nope"], collection="batch")
        b_ttl = (await s.ttl("b1", collection="batch"))[1]
        deleted = await s.delete("gone", collection=c)
        deleted_again = await s.delete("gone", collection=c)
    return {"plain": plain, "timed": timed, "ttl": ttl, "odd": odd, "odd_ttl": odd_ttl,
            "plain_ttl": plain_ttl, "many": many, "b_ttl": b_ttl, "deleted": deleted,
            "deleted_again": deleted_again}
"#,
            &json!({"table": table, "value": value, "sanitize": sanitize, "odd": odd_key, "collection": collection}),
        ) else {
            return;
        };
        assert_eq!(read["plain"], value);
        assert_eq!(read["timed"], value);
        assert_eq!(read["odd"], value);
        assert!(
            close_to(read["ttl"].as_f64().unwrap(), 3600.0, 10.0),
            "{read}"
        );
        assert!(
            close_to(read["odd_ttl"].as_f64().unwrap(), 120.0, 10.0),
            "{read}"
        );
        assert_eq!(read["plain_ttl"], Value::Null);
        assert_eq!(read["many"], json!([{"i": 1}, {"i": 2}, null]));
        assert!(
            close_to(read["b_ttl"].as_f64().unwrap(), 120.0, 10.0),
            "{read}"
        );
        assert_eq!(read["deleted"], json!(true));
        assert_eq!(read["deleted_again"], json!(false));
        run(async move {
            let s = store(&endpoint, &table, sanitize);
            assert_eq!(
                s.get("gone").collection(collection).await.unwrap(),
                None,
                "Python's delete"
            );
            // The entities both sides wrote for the same value have the same properties and
            // types, and the same Value bytes once the timestamps are aligned.
            let (pk, rust_rk) = s.destination(collection, "timed").unwrap();
            let (_, py_rk) = s.destination(collection, "py_timed").unwrap();
            let rust = raw(&endpoint, &table, &pk, &rust_rk).await;
            let python = raw(&endpoint, &table, &pk, &py_rk).await;
            assert_eq!(user_properties(&rust), user_properties(&python));
            assert_eq!(rust["ExpiresAt@odata.type"], python["ExpiresAt@odata.type"]);
            let py_entry = Envelope::load(python["Value"].as_str().unwrap()).unwrap();
            let rust_entry = Envelope::load(rust["Value"].as_str().unwrap()).unwrap();
            assert_eq!(py_entry.value, rust_entry.value);
            let aligned = Envelope::WITH_KEY.dump(&py_entry, collection, "timed");
            let rust_text = rust["Value"].as_str().unwrap();
            let strip = |t: &str| {
                let doc: Value = serde_json::from_str(t).unwrap();
                (
                    doc["collection"].clone(),
                    doc["key"].clone(),
                    doc["value"].clone(),
                    doc["version"].clone(),
                )
            };
            assert_eq!(strip(&aligned), strip(rust_text));
            // Python's lifetime and Rust's are both exactly one hour.
            for entry in [&py_entry, &rust_entry] {
                let lifetime = entry.expires_at.unwrap().unix_micros()
                    - entry.created_at.unwrap().unix_micros();
                assert_eq!(lifetime, 3_600_000_000);
            }
            let (got, ttl) = s
                .ttl("py_timed")
                .collection(collection)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(Value::Object(got), value);
            assert!(close_to(ttl.unwrap().as_secs_f64(), 3600.0, 10.0));
            s.destroy().await.unwrap();
        });
    }
}

#[test]
fn sas_tokens_made_by_the_python_sdk() {
    let test = "sas";
    let Some(endpoint) = common::endpoint(test) else {
        return;
    };
    let table = common::unique_table(test);
    let Some(tokens) = py(
        test,
        &endpoint,
        r#"
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables import (generate_table_sas, generate_account_sas, TableSasPermissions,
    AccountSasPermissions, ResourceTypes)
async def main():
    cred = AzureNamedKeyCredential(arg["account"], arg["key"])
    expiry = datetime.now(timezone.utc) + timedelta(hours=1)
    perms = AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True,
                                  create=True, update=True)
    account = generate_account_sas(cred, resource_types=ResourceTypes(service=True, container=True,
        object=True), permission=perms, expiry=expiry)
    entities_only = generate_account_sas(cred, resource_types=ResourceTypes(object=True),
        permission=perms, expiry=expiry)
    table_rw = generate_table_sas(cred, arg["table"], permission=TableSasPermissions(
        read=True, add=True, update=True, delete=True), expiry=expiry)
    table_ro = generate_table_sas(cred, arg["table"], permission=TableSasPermissions(read=True),
        expiry=expiry)
    return {"account": account, "entities_only": entities_only, "table_rw": table_rw,
            "table_ro": table_ro}
"#,
        &json!({"table": table, "account": key_value_azure_tables::DEVELOPMENT_ACCOUNT, "key": key_value_azure_tables::DEVELOPMENT_ACCOUNT_KEY}),
    ) else {
        return;
    };
    run(async move {
        let sas = |name: &str| Credential::sas(tokens[name].as_str().unwrap());
        // A SAS that may not create tables, on a missing table: a set-up error that says so.
        let cannot_create = AzureTablesConfig::new(&endpoint, sas("entities_only"), &table)
            .open()
            .unwrap();
        assert_eq!(cannot_create.get("k").await.unwrap(), None);
        let err = cannot_create.put("k", object!({"v": 0})).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
        assert!(err.to_string().contains("could not be created"), "{err}");
        // An account SAS with the container resource type may create the table.
        let account = AzureTablesConfig::new(&endpoint, sas("account"), &table)
            .open()
            .unwrap();
        account.put("k", object!({"v": 1})).await.unwrap();
        assert_eq!(account.get("k").await.unwrap(), Some(object!({"v": 1})));
        // A table SAS cannot create tables, but writes to the existing one.
        let rw = AzureTablesConfig::new(&endpoint, sas("table_rw"), &table)
            .open()
            .unwrap();
        rw.put_many(&["a", "b"], vec![object!({}), object!({})])
            .await
            .unwrap();
        assert_eq!(rw.get("k").await.unwrap(), Some(object!({"v": 1})));
        assert_eq!(rw.delete_many(&["a", "b", "c"]).await.unwrap(), 2);
        // A read-only SAS reads, and its writes are refused (permanently).
        let ro = AzureTablesConfig::new(&endpoint, sas("table_ro"), &table)
            .open()
            .unwrap();
        assert_eq!(ro.get("k").await.unwrap(), Some(object!({"v": 1})));
        let err = ro.put("k", object!({"v": 2})).await.unwrap_err();
        assert!(!err.is_temporary(), "{err}");
        assert_eq!(
            key_value_azure_tables::error::service_error(&err).map(|e| e.status()),
            Some(403),
            "{err}"
        );
        assert!(
            !format!("{err} {err:?} {ro:?}").contains("sig="),
            "no SAS in errors or Debug"
        );
        assert!(account.destroy().await.unwrap());
    });
}

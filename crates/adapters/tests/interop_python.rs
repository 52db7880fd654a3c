//! Interoperability of `TypedAdapter` with the real py-key-value 0.4.6 `PydanticAdapter`
//! (`KV_PYTHON`, see `key_value_testkit::python`; NOT RUN without it, a failure in CI), over
//! DiskStore and FileTreeStore on both sides: Python writes models, lists, scalars, optionals,
//! tuples, dicts and enums and Rust reads them (values, TTLs, and the exact stored objects,
//! `{"items": ...}` wrapping included); Rust writes the same and Python reads them; and both
//! treat an entry of another type as invalid (missing by default, an error when raising).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use key_value_adapters::TypedAdapter;
use key_value_core::prelude::*;
use key_value_disk::DiskStore;
use key_value_filetree::FileTreeStore;
use key_value_testkit::python::run_python;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const COLLECTION: &str = "typed";

/// The Python side: the same types as the Rust cases below, a store on `spec["dir"]`.
const PRELUDE: &str = r#"
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
from enum import Enum
from pathlib import Path
from typing import Optional
from pydantic import BaseModel, TypeAdapter
from key_value.aio.adapters.pydantic import PydanticAdapter
from key_value.aio.errors import DeserializationError
from key_value.aio.stores.disk import DiskStore
from key_value.aio.stores.filetree import FileTreeStore

spec = json.loads(sys.argv[1])
COLLECTION = "typed"

class Address(BaseModel):
    street: str
    zip: int

class User(BaseModel):
    name: str
    age: int
    email: Optional[str] = None
    tags: list[str]
    address: Address
    scores: dict[str, float]

class Color(str, Enum):
    red = "red"
    green = "green"

TYPES = {
    "user": User,
    "users": list[User],
    "ints": list[int],
    "nested": list[list[int]],
    "int": int,
    "str": str,
    "float": float,
    "bool": bool,
    "opt_some": Optional[int],
    "opt_none": Optional[int],
    "tuple": tuple[int, str],
    "dict": dict[str, int],
    "color": Color,
    "colors": list[Color],
}
TTLS = {"user": 3600, "ints": 600}

def make_store():
    if spec["store"] == "disk":
        return DiskStore(directory=spec["dir"])
    Path(spec["dir"]).mkdir(parents=True, exist_ok=True)
    return FileTreeStore(data_directory=spec["dir"])
"#;

/// Validates each JSON value of `spec["values"]` as its type, puts it through a
/// `PydanticAdapter`, and prints the raw stored objects.
const PY_WRITE: &str = r#"
async def main():
    store = make_store()
    raw = {}
    for key, value in spec["values"].items():
        tp = TYPES[key]
        adapter = PydanticAdapter(store, tp)
        await adapter.put(key, TypeAdapter(tp).validate_python(value), collection=COLLECTION, ttl=TTLS.get(key))
        raw[key] = await store.get(key, collection=COLLECTION)
    if hasattr(store, "close"):
        await store.close()
    print(json.dumps(raw))
asyncio.run(main())
"#;

/// Reads every key through a `PydanticAdapter` and prints the values (as JSON), TTLs and raw
/// stored objects, then how an entry of another type reads, leniently and strictly.
const PY_READ: &str = r#"
async def main():
    store = make_store()
    out = {}
    for key, tp in TYPES.items():
        adapter = PydanticAdapter(store, tp, default_collection=COLLECTION)
        value, ttl = await adapter.ttl(key)
        got = await adapter.get(key)
        out[key] = {
            "value": None if value is None else TypeAdapter(tp).dump_python(value, mode="json"),
            "get": None if got is None else TypeAdapter(tp).dump_python(got, mode="json"),
            "ttl": ttl,
            "raw": await store.get(key, collection=COLLECTION),
        }
    lenient = PydanticAdapter(store, User, default_collection=COLLECTION)
    out["lenient"] = await lenient.get("ints")
    strict = PydanticAdapter(store, list[str], default_collection=COLLECTION, raise_on_validation_error=True)
    try:
        await strict.get("int")
        out["strict"] = "no error"
    except DeserializationError:
        out["strict"] = "DeserializationError"
    if hasattr(store, "close"):
        await store.close()
    print(json.dumps(out))
asyncio.run(main())
"#;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    street: String,
    zip: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    name: String,
    age: u32,
    email: Option<String>,
    tags: Vec<String>,
    address: Address,
    scores: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Color {
    Red,
    Green,
}

fn user(name: &str, email: Option<&str>) -> User {
    User {
        name: name.into(),
        age: 42,
        email: email.map(Into::into),
        tags: vec!["a".into(), "ü-🌍".into()],
        address: Address {
            street: "Hauptstraße 1".into(),
            zip: 10115,
        },
        scores: BTreeMap::from([("x".into(), 1.5), ("y".into(), 2.0)]),
    }
}

/// Runs `$each!(key, Type, value)` for every case; the same keys and types as `TYPES` above.
macro_rules! for_each_case {
    ($each:ident) => {
        $each!("user", User, user("Alice", None));
        $each!(
            "users",
            Vec<User>,
            vec![user("Bob", Some("bob@example.com")), user("Chloé", None)]
        );
        $each!("ints", Vec<i64>, vec![1, -2, 3]);
        $each!("nested", Vec<Vec<i64>>, vec![vec![1], vec![], vec![2, 3]]);
        $each!("int", i64, -5);
        $each!("str", String, "héllo \"🌍\"\n".to_string());
        $each!("float", f64, 1.5);
        $each!("bool", bool, false);
        $each!("opt_some", Option<i64>, Some(7));
        $each!("opt_none", Option<i64>, None);
        $each!("tuple", (i64, String), (1, "a".to_string()));
        $each!("dict", BTreeMap<String, i64>, BTreeMap::from([("a".into(), 1), ("b".into(), 2)]));
        $each!("color", Color, Color::Green);
        $each!("colors", Vec<Color>, vec![Color::Red, Color::Green]);
    };
}

fn ttl_of(key: &str) -> Option<f64> {
    match key {
        "user" => Some(3600.0),
        "ints" => Some(600.0),
        _ => None,
    }
}

fn python(test: &str, script: &str, spec: &Value) -> Option<Value> {
    // `None` (the testkit has said NOT RUN) without KV_PYTHON outside CI.
    let out = run_python(test, &format!("{PRELUDE}\n{script}"), &[&spec.to_string()]);
    out.map(|o| {
        serde_json::from_str(o.trim()).unwrap_or_else(|e| panic!("bad JSON from Python ({e}): {o}"))
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// The object `value` is stored as, by our adapter.
fn raw_of<T: Serialize + DeserializeOwned>(value: &T) -> Value {
    let store = key_value_memory::MemoryStore::new();
    Value::Object(TypedAdapter::<T, _>::new(store).to_object(value).unwrap())
}

/// Checks a TTL read back is the one written, give or take the time the test took.
fn assert_ttl(key: &str, got: Option<f64>) {
    match (ttl_of(key), got) {
        (None, None) => {}
        (Some(want), Some(got)) => assert!(got <= want && got > want - 120.0, "{key}: {got}"),
        (want, got) => panic!("{key}: TTL {got:?}, expected {want:?}"),
    }
}

async fn rust_reads<S: KeyValue>(store: &S, python_raw: &Value) {
    macro_rules! read {
        ($key:expr, $ty:ty, $value:expr) => {{
            let expected: $ty = $value;
            let adapter = TypedAdapter::<$ty, _>::new(store)
                .default_collection(COLLECTION)
                .raise_on_validation_error(true);
            let (got, ttl) = adapter.ttl($key).await.unwrap().expect($key);
            assert_eq!(got, expected, "{}", $key);
            assert_ttl($key, ttl.map(|d: Duration| d.as_secs_f64()));
            assert_eq!(
                adapter.get($key).await.unwrap(),
                Some(expected.clone()),
                "{}",
                $key
            );
            // Python stored exactly what we store.
            assert_eq!(python_raw[$key], raw_of(&expected), "{}", $key);
        }};
    }
    for_each_case!(read);

    // An entry of another type: missing by default, an error when raising.
    let users = TypedAdapter::<User, _>::new(store).default_collection(COLLECTION);
    assert_eq!(users.get("ints").await.unwrap(), None);
    let strict = TypedAdapter::<Vec<String>, _>::new(store)
        .default_collection(COLLECTION)
        .raise_on_validation_error(true);
    let err = strict.get("int").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deserialization);
}

async fn rust_writes<S: KeyValue>(store: &S) {
    macro_rules! write {
        ($key:expr, $ty:ty, $value:expr) => {{
            let value: $ty = $value;
            TypedAdapter::<$ty, _>::new(store)
                .put($key, value)
                .collection(COLLECTION)
                .ttl_opt(ttl_of($key))
                .await
                .unwrap();
        }};
    }
    for_each_case!(write);
}

fn python_reads(test: &str, spec: &Value) {
    let Some(out) = python(test, PY_READ, spec) else {
        return;
    };
    macro_rules! check {
        ($key:expr, $ty:ty, $value:expr) => {{
            let expected: $ty = $value;
            let json = serde_json::to_value(&expected).unwrap();
            let got = &out[$key];
            assert_eq!(got["value"], json, "{}", $key);
            assert_eq!(got["get"], json, "{}", $key);
            assert_ttl($key, got["ttl"].as_f64());
            assert_eq!(got["raw"], raw_of(&expected), "{}", $key);
        }};
    }
    for_each_case!(check);
    assert_eq!(out["lenient"], Value::Null);
    assert_eq!(out["strict"], "DeserializationError");
}

/// The JSON values Python validates and writes: the Rust values, serialized.
fn values_json() -> Value {
    let mut values = serde_json::Map::new();
    macro_rules! add {
        ($key:expr, $ty:ty, $value:expr) => {{
            let value: $ty = $value;
            values.insert($key.to_string(), serde_json::to_value(&value).unwrap());
        }};
    }
    for_each_case!(add);
    Value::Object(values)
}

fn python_writes(test: &str, spec: &Value) -> Option<Value> {
    let mut spec = spec.clone();
    spec["values"] = values_json();
    python(test, PY_WRITE, &spec)
}

fn spec(store: &str, dir: &Path) -> Value {
    json!({"store": store, "dir": dir.to_str().unwrap()})
}

#[test]
fn disk_python_writes_rust_reads() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec("disk", dir.path());
    let Some(raw) = python_writes("disk_python_writes_rust_reads", &spec) else {
        return;
    };
    runtime().block_on(async {
        let store = DiskStore::open(dir.path()).unwrap();
        rust_reads(&store, &raw).await;
        store.close().await.unwrap();
    });
}

#[test]
fn disk_rust_writes_python_reads() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let store = DiskStore::open(dir.path()).unwrap();
        rust_writes(&store).await;
        store.close().await.unwrap();
    });
    python_reads("disk_rust_writes_python_reads", &spec("disk", dir.path()));
}

#[test]
fn filetree_python_writes_rust_reads() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec("filetree", dir.path());
    let Some(raw) = python_writes("filetree_python_writes_rust_reads", &spec) else {
        return;
    };
    runtime().block_on(async {
        let store = FileTreeStore::open(dir.path()).unwrap();
        rust_reads(&store, &raw).await;
    });
}

#[test]
fn filetree_rust_writes_python_reads() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let store = FileTreeStore::open(dir.path()).unwrap();
        rust_writes(&store).await;
    });
    python_reads(
        "filetree_rust_writes_python_reads",
        &spec("filetree", dir.path()),
    );
}

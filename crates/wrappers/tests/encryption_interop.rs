//! Interoperability of the encryption wrapper with py-key-value 0.4.6's own
//! `FernetEncryptionWrapper` (`KV_PYTHON`; NOT RUN without it, a failure in CI): Python writes
//! through its wrapper over its FileTreeStore or DiskStore and Rust reads the directory through
//! ours, and the reverse, with a PBKDF2-derived key from the same source material and salt, an
//! explicit Fernet key, and a MultiFernet key rotation; small, large and unicode values, TTLs;
//! py's compression and encryption wrappers stacked; bound values refused by Python.
#![cfg(all(feature = "encryption", feature = "compression"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, LazyLock};

use key_value_core::prelude::*;
use key_value_disk::DiskStore;
use key_value_filetree::FileTreeStore;
use key_value_testkit::python::run_python;
use key_value_wrappers::LayerExt;
use key_value_wrappers::compression::CompressionLayer;
use key_value_wrappers::encryption::{ENCRYPTED_DATA_KEY, EncryptionLayer, FernetKey};
use serde_json::{Value, json};

const MATERIAL: &str = "correct horse battery staple 🐴";
const SALT: &str = "sel-é";

/// Derived once per test binary: 1.2M PBKDF2 iterations take seconds in a debug build.
static DERIVED: LazyLock<FernetKey> = LazyLock::new(|| FernetKey::derive(MATERIAL, SALT).unwrap());
static OLD: LazyLock<FernetKey> = LazyLock::new(|| FernetKey::generate().unwrap());
static NEW: LazyLock<FernetKey> = LazyLock::new(|| FernetKey::generate().unwrap());

/// Runs `spec["ops"]` against `spec["layers"]` (innermost first) over a FileTreeStore or
/// DiskStore in `spec["dir"]`; prints one result per `get` / `raw` / `derive` op. A `get` that
/// raises reports the exception's class name.
const DRIVER: &str = r#"
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from cryptography.fernet import Fernet, MultiFernet
from key_value.aio.stores.filetree import FileTreeStore
from key_value.aio.stores.disk import DiskStore
from key_value.aio.wrappers.compression import CompressionWrapper
from key_value.aio.wrappers.encryption import FernetEncryptionWrapper
from key_value.aio.wrappers.encryption.fernet import _generate_encryption_key

spec = json.loads(sys.argv[1])

def base():
    d = Path(spec["dir"])
    d.mkdir(parents=True, exist_ok=True)
    return DiskStore(directory=d) if spec["disk"] else FileTreeStore(data_directory=d)

def wrap(store):
    for layer in spec["layers"]:
        kind = layer["kind"]
        if kind == "compression":
            store = CompressionWrapper(store, min_size_to_compress=layer["min"])
        elif kind == "material":
            store = FernetEncryptionWrapper(store, source_material=layer["material"], salt=layer["salt"])
        else:
            fernets = [Fernet(k) for k in layer["keys"]]
            fernet = fernets[0] if len(fernets) == 1 else MultiFernet(fernets)
            store = FernetEncryptionWrapper(store, fernet=fernet)
    return store

async def main():
    inner = base()
    store = wrap(inner)
    out = []
    for op in spec["ops"]:
        if op[0] == "put":
            _, c, k, v, ttl = op
            await store.put(k, v, collection=c, ttl=ttl)
        elif op[0] == "get":
            try:
                value, ttl = await store.ttl(op[2], collection=op[1])
                out.append({"value": value, "ttl": ttl})
            except Exception as e:
                out.append({"error": type(e).__name__})
        elif op[0] == "raw":
            out.append({"raw": await inner.get(op[2], collection=op[1])})
        elif op[0] == "derive":
            out.append({"key": _generate_encryption_key(source_material=op[1], salt=op[2]).decode()})
    if hasattr(inner, "close"):
        await inner.close()
    print(json.dumps(out))

asyncio.run(main())
"#;

fn python(
    test: &str,
    dir: &Path,
    disk: bool,
    layers: Value,
    ops: Vec<Value>,
) -> Option<Vec<Value>> {
    let spec = json!({"dir": dir.to_str().unwrap(), "disk": disk, "layers": layers, "ops": ops});
    // `None` (after the testkit said NOT RUN) without `KV_PYTHON` outside CI.
    let out = run_python(test, DRIVER, &[&spec.to_string()]);
    out.map(|text| {
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
    })
}

fn material_layer() -> Value {
    json!({"kind": "material", "material": MATERIAL, "salt": SALT})
}

fn keys_layer(keys: &[&FernetKey]) -> Value {
    json!({"kind": "keys", "keys": keys.iter().map(|k| k.to_base64()).collect::<Vec<_>>()})
}

struct Sample {
    collection: &'static str,
    key: &'static str,
    value: Object,
    ttl: Option<f64>,
}

fn samples() -> Vec<Sample> {
    let s = |collection, key, value, ttl| Sample {
        collection,
        key,
        value,
        ttl,
    };
    vec![
        s(
            "users",
            "small",
            object!({"name": "Alice", "age": 30}),
            None,
        ),
        s("users", "empty", object!({}), Some(3600.0)),
        s(
            "blobs",
            "large",
            object!({"text": "lorem ipsum dolor sit amet, ".repeat(2000), "n": [1, 2.5, null, true]}),
            None,
        ),
        s(
            "集合-🌍",
            "鍵-🔑-ключ",
            object!({"text": "Hello 世界 🌍", "ключ": "значение", "combining": "e\u{301}", "q": "\"\\\n\t\u{0}"}),
            Some(600.0),
        ),
        s(
            "numbers",
            "floats",
            object!({"small": 1e-7, "big": 1e300, "neg": -0.5, "int": 12345678901234567890_u64}),
            None,
        ),
    ]
}

fn put_ops(samples: &[Sample]) -> Vec<Value> {
    samples
        .iter()
        .map(|s| {
            json!([
                "put",
                s.collection,
                s.key,
                Value::Object(s.value.clone()),
                s.ttl
            ])
        })
        .collect()
}

fn get_ops(samples: &[Sample]) -> Vec<Value> {
    samples
        .iter()
        .map(|s| json!(["get", s.collection, s.key]))
        .collect()
}

async fn rust_write<S: KeyValue>(store: &S, samples: &[Sample]) {
    for s in samples {
        let put = store.put(s.key, s.value.clone()).collection(s.collection);
        match s.ttl {
            Some(t) => put.ttl(t).await.unwrap(),
            None => put.await.unwrap(),
        }
    }
}

async fn assert_rust_reads<S: KeyValue>(store: &S, samples: &[Sample]) {
    for s in samples {
        let (value, ttl) = store
            .ttl(s.key)
            .collection(s.collection)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}/{} missing", s.collection, s.key));
        assert_eq!(value, s.value, "{}/{}", s.collection, s.key);
        match s.ttl {
            None => assert_eq!(ttl, None, "{}", s.key),
            Some(t) => {
                let left = ttl.unwrap().as_secs_f64();
                assert!(left <= t && left > t - 60.0, "{}: {left} of {t}", s.key);
            }
        }
    }
}

fn assert_python_reads(rows: &[Value], samples: &[Sample]) {
    assert_eq!(rows.len(), samples.len());
    for (s, row) in samples.iter().zip(rows) {
        assert_eq!(
            row["value"],
            Value::Object(s.value.clone()),
            "{}: {row}",
            s.key
        );
        match s.ttl {
            None => assert_eq!(row["ttl"], Value::Null, "{}", s.key),
            Some(t) => {
                let left = row["ttl"].as_f64().unwrap();
                assert!(left <= t && left > t - 60.0, "{}: {left} of {t}", s.key);
            }
        }
    }
}

fn open(dir: &Path, disk: bool) -> SharedStore {
    if disk {
        Arc::new(DiskStore::open(dir).unwrap())
    } else {
        Arc::new(FileTreeStore::open(dir).unwrap())
    }
}

#[test]
fn derived_key_is_pythons() {
    let dir = tempfile::tempdir().unwrap();
    let Some(out) = python(
        "derived_key_is_pythons",
        dir.path(),
        false,
        json!([]),
        vec![json!(["derive", MATERIAL, SALT])],
    ) else {
        return;
    };
    assert_eq!(out[0]["key"], DERIVED.to_base64());
}

/// Python derives its key from the source material and salt, writes; ours derives the same
/// key and reads. Then the reverse.
async fn derived_key_both_ways(test: &str, disk: bool) {
    let dir = tempfile::tempdir().unwrap();
    let samples = samples();
    let Some(_) = python(
        test,
        dir.path(),
        disk,
        json!([material_layer()]),
        put_ops(&samples),
    ) else {
        return;
    };
    let inner = open(dir.path(), disk);
    for s in &samples {
        let raw = inner
            .get(s.key)
            .collection(s.collection)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(raw.len(), 2, "{}: {raw:?}", s.key);
        assert_eq!(raw["__encryption_version__"], 1);
        assert!(
            raw[ENCRYPTED_DATA_KEY]
                .as_str()
                .unwrap()
                .starts_with("Z0FBQUFB")
        );
    }
    let store = (&inner).layer(EncryptionLayer::new(DERIVED.clone()));
    assert_rust_reads(&store, &samples).await;

    // The reverse, into other collections' worth of keys: overwrite everything.
    rust_write(&store, &samples).await;
    inner.close().await.unwrap();
    drop(store);
    drop(inner);
    let rows = python(
        test,
        dir.path(),
        disk,
        json!([material_layer()]),
        get_ops(&samples),
    )
    .unwrap();
    assert_python_reads(&rows, &samples);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_key_both_ways_filetree() {
    derived_key_both_ways("derived_key_both_ways_filetree", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_key_both_ways_disk() {
    derived_key_both_ways("derived_key_both_ways_disk", true).await;
}

/// A key made here, handed to Python's `Fernet(key)`: each side reads what the other wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_key_both_ways() {
    let test = "explicit_key_both_ways";
    let dir = tempfile::tempdir().unwrap();
    let samples = samples();
    let (py_half, rs_half) = samples.split_at(2);
    let Some(_) = python(
        test,
        dir.path(),
        false,
        json!([keys_layer(&[&NEW])]),
        put_ops(py_half),
    ) else {
        return;
    };
    let inner = FileTreeStore::open(dir.path()).unwrap();
    let store = (&inner).layer(EncryptionLayer::new(NEW.clone()));
    assert_rust_reads(&store, py_half).await;
    rust_write(&store, rs_half).await;
    let rows = python(
        test,
        dir.path(),
        false,
        json!([keys_layer(&[&NEW])]),
        get_ops(&samples),
    )
    .unwrap();
    assert_python_reads(&rows, &samples);
}

/// MultiFernet rotation across languages: the old key wrote before the rotation, the new one
/// after; `[new, old]` reads both on each side, each key alone reads only its own values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_both_ways() {
    let test = "key_rotation_both_ways";
    let dir = tempfile::tempdir().unwrap();
    let value = |n: &str| object!({"written_by": n, "text": "rotate ".repeat(50)});
    // Python, before the rotation: the old key alone.
    let Some(_) = python(
        test,
        dir.path(),
        false,
        json!([keys_layer(&[&OLD])]),
        vec![json!([
            "put",
            "c",
            "py_old",
            Value::Object(value("py_old")),
            null
        ])],
    ) else {
        return;
    };
    // Python, after: MultiFernet([new, old]) encrypts with the new key.
    python(
        test,
        dir.path(),
        false,
        json!([keys_layer(&[&NEW, &OLD])]),
        vec![json!([
            "put",
            "c",
            "py_new",
            Value::Object(value("py_new")),
            null
        ])],
    )
    .unwrap();
    let inner = FileTreeStore::open(dir.path()).unwrap();
    let rotated = (&inner).layer(EncryptionLayer::with_keys([NEW.clone(), OLD.clone()]).unwrap());
    rotated
        .put("rs_new", value("rs_new"))
        .collection("c")
        .await
        .unwrap();
    let old_only = (&inner).layer(EncryptionLayer::new(OLD.clone()));
    old_only
        .put("rs_old", value("rs_old"))
        .collection("c")
        .await
        .unwrap();

    let all = ["py_old", "py_new", "rs_old", "rs_new"];
    for k in all {
        assert_eq!(
            rotated.get(k).collection("c").await.unwrap(),
            Some(value(k)),
            "rotated Rust reads {k}"
        );
    }
    let new_only = (&inner).layer(EncryptionLayer::new(NEW.clone()));
    for (k, old_reads) in [
        ("py_old", true),
        ("py_new", false),
        ("rs_old", true),
        ("rs_new", false),
    ] {
        let by_old = old_only.get(k).collection("c").await;
        let by_new = new_only.get(k).collection("c").await;
        if old_reads {
            assert_eq!(by_old.unwrap(), Some(value(k)));
            assert_eq!(by_new.unwrap_err().kind(), ErrorKind::Decryption, "{k}");
        } else {
            assert_eq!(by_new.unwrap(), Some(value(k)));
            assert_eq!(by_old.unwrap_err().kind(), ErrorKind::Decryption, "{k}");
        }
    }

    let gets: Vec<Value> = all.iter().map(|k| json!(["get", "c", k])).collect();
    let rotated_py = python(
        test,
        dir.path(),
        false,
        json!([keys_layer(&[&NEW, &OLD])]),
        gets.clone(),
    )
    .unwrap();
    for (k, row) in all.iter().zip(&rotated_py) {
        assert_eq!(
            row["value"],
            Value::Object(value(k)),
            "Python MultiFernet reads {k}"
        );
    }
    let old_py = python(test, dir.path(), false, json!([keys_layer(&[&OLD])]), gets).unwrap();
    for (k, row) in all.iter().zip(&old_py) {
        if k.ends_with("old") {
            assert_eq!(row["value"], Value::Object(value(k)), "{k}");
        } else {
            assert_eq!(row["error"], "DecryptionError", "Python's old key on {k}");
        }
    }
}

/// py's CompressionWrapper over its FernetEncryptionWrapper, and ours in the same order: large
/// values are compressed, then the small marker object encrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_over_encryption_both_ways() {
    let test = "compression_over_encryption_both_ways";
    let dir = tempfile::tempdir().unwrap();
    let samples = samples();
    let layers = json!([keys_layer(&[&NEW]), {"kind": "compression", "min": 1024}]);
    let Some(_) = python(test, dir.path(), false, layers.clone(), put_ops(&samples)) else {
        return;
    };
    let inner = FileTreeStore::open(dir.path()).unwrap();
    let encrypted = (&inner).layer(EncryptionLayer::new(NEW.clone()));
    // Below the encryption, the large value is a gzip marker.
    let marker = encrypted
        .get("large")
        .collection("blobs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marker["__compression_algorithm__"], "gzip");
    let store = (&encrypted).layer(CompressionLayer::new());
    assert_rust_reads(&store, &samples).await;
    // And back: overwrite everything from Rust, Python reads.
    rust_write(&store, &samples).await;
    let rows = python(test, dir.path(), false, layers, get_ops(&samples)).unwrap();
    assert_python_reads(&rows, &samples);
}

/// Bound values are ours alone: Python's wrapper fails on them with `DecryptionError`, while
/// unbound values written beside them read fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_values_are_refused_by_python() {
    let test = "bound_values_are_refused_by_python";
    let dir = tempfile::tempdir().unwrap();
    let inner = FileTreeStore::open(dir.path()).unwrap();
    let bound = (&inner).layer(EncryptionLayer::new(NEW.clone()).bind_to_key(true));
    let unbound = (&inner).layer(EncryptionLayer::new(NEW.clone()));
    bound
        .put("bound", object!({"v": 1}))
        .collection("c")
        .await
        .unwrap();
    unbound
        .put("unbound", object!({"v": 2}))
        .collection("c")
        .await
        .unwrap();
    let Some(rows) = python(
        test,
        dir.path(),
        false,
        json!([keys_layer(&[&NEW])]),
        vec![json!(["get", "c", "bound"]), json!(["get", "c", "unbound"])],
    ) else {
        return;
    };
    assert_eq!(rows[0]["error"], "DecryptionError");
    assert_eq!(rows[1]["value"], json!({"v": 2}));
}

/// What Python makes of bad data, next to what we make of it: both refuse a wrong key and a
/// newer version; the error classes differ only where documented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_and_newer_version_fail_on_both_sides() {
    let test = "wrong_key_and_newer_version_fail_on_both_sides";
    let dir = tempfile::tempdir().unwrap();
    let inner = FileTreeStore::open(dir.path()).unwrap();
    let store = (&inner).layer(EncryptionLayer::new(NEW.clone()));
    store
        .put("k", object!({"v": 1}))
        .collection("c")
        .await
        .unwrap();
    let mut newer = inner.get("k").collection("c").await.unwrap().unwrap();
    newer.insert("__encryption_version__".into(), json!(2));
    inner.put("newer", newer).collection("c").await.unwrap();
    let Some(rows) = python(
        test,
        dir.path(),
        false,
        json!([keys_layer(&[&OLD])]),
        vec![json!(["get", "c", "k"])],
    ) else {
        return;
    };
    assert_eq!(rows[0]["error"], "DecryptionError");
    let wrong = (&inner).layer(EncryptionLayer::new(OLD.clone()));
    assert_eq!(
        wrong.get("k").collection("c").await.unwrap_err().kind(),
        ErrorKind::Decryption
    );
    // py raises EncryptionVersionError inside its decryption function and reports it as
    // DecryptionError; ours names it.
    let rows = python(
        test,
        dir.path(),
        false,
        json!([keys_layer(&[&NEW])]),
        vec![json!(["get", "c", "newer"])],
    )
    .unwrap();
    assert_eq!(rows[0]["error"], "DecryptionError");
    assert_eq!(
        store.get("newer").collection("c").await.unwrap_err().kind(),
        ErrorKind::EncryptionVersion
    );
}

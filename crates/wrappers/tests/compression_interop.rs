//! Interoperability of the compression wrapper with py-key-value 0.4.6's own
//! `CompressionWrapper` (`KV_PYTHON`; NOT RUN without it, a failure in CI): Python writes
//! through its wrapper over its FileTreeStore or DiskStore and Rust reads the directory through
//! ours, and the reverse, for values below, at and above the threshold, large compressible
//! ones, unicode, and with TTLs. Python also decodes our raw markers by hand, and shows what it
//! does with the native LZ4 mode (it returns the marker unchanged).
#![cfg(feature = "compression")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use key_value_core::prelude::*;
use key_value_disk::DiskStore;
use key_value_filetree::FileTreeStore;
use key_value_testkit::python::run_python;
use key_value_wrappers::LayerExt;
use key_value_wrappers::compression::{COMPRESSED_DATA_KEY, CompressionLayer};
use serde_json::{Value, json};

/// Runs `spec["ops"]` against `spec["layers"]` (innermost first) over a FileTreeStore or
/// DiskStore in `spec["dir"]`; prints one result per `get` / `raw` op.
const DRIVER: &str = r#"
import asyncio, base64, gzip, json, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from key_value.aio.stores.filetree import FileTreeStore
from key_value.aio.stores.disk import DiskStore
from key_value.aio.wrappers.compression import CompressionWrapper

spec = json.loads(sys.argv[1])

def base():
    d = Path(spec["dir"])
    d.mkdir(parents=True, exist_ok=True)
    return DiskStore(directory=d) if spec["disk"] else FileTreeStore(data_directory=d)

def wrap(store):
    for layer in spec["layers"]:
        store = CompressionWrapper(store, **({"min_size_to_compress": layer["min"]} if "min" in layer else {}))
    return store

def decode(raw):
    """Our marker, decoded by hand the way py-key-value does."""
    data = base64.b64decode(raw["__compressed_data__"], validate=True)
    return {"header": list(data[:4]) + list(data[8:10]), "value": json.loads(gzip.decompress(data))}

async def main():
    inner = base()
    store = wrap(inner)
    out = []
    for op in spec["ops"]:
        if op[0] == "put":
            _, c, k, v, ttl = op
            await store.put(k, v, collection=c, ttl=ttl)
        elif op[0] == "get":
            value, ttl = await store.ttl(op[2], collection=op[1])
            out.append({"value": value, "ttl": ttl})
        elif op[0] == "raw":
            raw = await inner.get(op[2], collection=op[1])
            entry = {"raw": raw}
            if raw is not None and raw.get("__compression_algorithm__") == "gzip":
                entry["decoded"] = decode(raw)
            out.append(entry)
    if hasattr(inner, "close"):
        await inner.close()
    print(json.dumps(out))

asyncio.run(main())
"#;

fn python(test: &str, dir: &Path, disk: bool, layers: Value, ops: Vec<Value>) -> Option<Value> {
    let spec = json!({"dir": dir.to_str().unwrap(), "disk": disk, "layers": layers, "ops": ops});
    // `None` (after the testkit said NOT RUN) without `KV_PYTHON` outside CI.
    let out = run_python(test, DRIVER, &[&spec.to_string()]);
    out.map(|text| {
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
    })
}

/// One value both sides write: collection, key, value, TTL, whether py's default threshold
/// compresses it.
struct Sample {
    collection: &'static str,
    key: &'static str,
    value: Object,
    ttl: Option<f64>,
    compressed: bool,
}

fn samples() -> Vec<Sample> {
    let s = |collection, key, value, ttl, compressed| Sample {
        collection,
        key,
        value,
        ttl,
        compressed,
    };
    vec![
        s(
            "users",
            "small",
            object!({"name": "Alice", "age": 30, "tags": ["a", "b"]}),
            None,
            false,
        ),
        s(
            "blobs",
            "large",
            object!({"text": "lorem ipsum dolor sit amet, ".repeat(400), "n": [1, 2.5, null, true, {"x": -7}]}),
            Some(3600.0),
            true,
        ),
        s(
            "集合-🌍",
            "鍵-🔑-ключ",
            object!({"text": "Hello 世界 🌍 ключ значение ".repeat(120), "é": "e\u{301}", "q": "\"\\\n\t"}),
            Some(600.0),
            true,
        ),
        // `{"d": "<k x>"}` is k + 9 characters: 1023 stays as is, 1024 is compressed.
        s(
            "edge",
            "below",
            object!({"d": "x".repeat(1014)}),
            None,
            false,
        ),
        s("edge", "at", object!({"d": "x".repeat(1015)}), None, true),
        // Few characters, many escapes: 200 "é" are 1209 characters of JSON.
        s(
            "edge",
            "escaped",
            object!({"d": "é".repeat(200)}),
            None,
            true,
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

fn read_ops(samples: &[Sample], op: &str) -> Vec<Value> {
    samples
        .iter()
        .map(|s| json!([op, s.collection, s.key]))
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

fn assert_python_reads(out: &Value, samples: &[Sample]) {
    let rows = out.as_array().unwrap();
    assert_eq!(rows.len(), samples.len());
    for (s, row) in samples.iter().zip(rows) {
        assert_eq!(row["value"], Value::Object(s.value.clone()), "{}", s.key);
        match s.ttl {
            None => assert_eq!(row["ttl"], Value::Null, "{}", s.key),
            Some(t) => {
                let left = row["ttl"].as_f64().unwrap();
                assert!(left <= t && left > t - 60.0, "{}: {left} of {t}", s.key);
            }
        }
    }
}

/// Python's wrapper writes, ours reads (both modes), and the stored objects are markers
/// exactly where py's threshold says.
async fn python_writes_rust_reads(test: &str, disk: bool) {
    let dir = tempfile::tempdir().unwrap();
    let samples = samples();
    let Some(_) = python(test, dir.path(), disk, json!([{}]), put_ops(&samples)) else {
        return;
    };
    let inner: SharedStore = if disk {
        std::sync::Arc::new(DiskStore::open(dir.path()).unwrap())
    } else {
        std::sync::Arc::new(FileTreeStore::open(dir.path()).unwrap())
    };
    for s in &samples {
        let raw = inner
            .get(s.key)
            .collection(s.collection)
            .await
            .unwrap()
            .unwrap();
        if s.compressed {
            assert_eq!(raw.len(), 3, "{}: {raw:?}", s.key);
            assert_eq!(raw["__compression_algorithm__"], "gzip");
            assert_eq!(raw["__compression_version__"], 1);
            assert!(raw[COMPRESSED_DATA_KEY].is_string());
        } else {
            assert_eq!(raw, s.value, "{} is stored as is", s.key);
        }
    }
    assert_rust_reads(&(&inner).layer(CompressionLayer::new()), &samples).await;
    assert_rust_reads(&(&inner).layer(CompressionLayer::native()), &samples).await;
}

/// Ours writes in py's mode, Python's wrapper reads, and Python decodes the raw markers by hand.
async fn rust_writes_python_reads(test: &str, disk: bool) {
    let dir = tempfile::tempdir().unwrap();
    let samples = samples();
    let inner: SharedStore = if disk {
        std::sync::Arc::new(DiskStore::open(dir.path()).unwrap())
    } else {
        std::sync::Arc::new(FileTreeStore::open(dir.path()).unwrap())
    };
    rust_write(&(&inner).layer(CompressionLayer::new()), &samples).await;
    inner.close().await.unwrap();
    drop(inner);
    let Some(out) = python(
        test,
        dir.path(),
        disk,
        json!([{}]),
        read_ops(&samples, "get"),
    ) else {
        return;
    };
    assert_python_reads(&out, &samples);
    let raw = python(test, dir.path(), disk, json!([]), read_ops(&samples, "raw")).unwrap();
    for (s, row) in samples.iter().zip(raw.as_array().unwrap()) {
        if s.compressed {
            assert_eq!(row["raw"]["__compression_version__"], 1, "{}", s.key);
            assert_eq!(
                row["decoded"]["value"],
                Value::Object(s.value.clone()),
                "{}",
                s.key
            );
            // gzip magic, deflate, no flags; XFL 4 (level 1), OS 255: CPython's header.
            assert_eq!(row["decoded"]["header"], json!([31, 139, 8, 0, 4, 255]));
        } else {
            assert_eq!(row["raw"], Value::Object(s.value.clone()), "{}", s.key);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_writes_rust_reads_filetree() {
    python_writes_rust_reads("python_writes_rust_reads_filetree", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_writes_rust_reads_disk() {
    python_writes_rust_reads("python_writes_rust_reads_disk", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writes_python_reads_filetree() {
    rust_writes_python_reads("rust_writes_python_reads_filetree", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writes_python_reads_disk() {
    rust_writes_python_reads("rust_writes_python_reads_disk", true).await;
}

/// A threshold of 0 on both sides: every value compressed, `{}` included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threshold_zero_both_ways() {
    let test = "threshold_zero_both_ways";
    let dir = tempfile::tempdir().unwrap();
    let values = [
        ("empty", object!({})),
        ("tiny", object!({"a": 1})),
        ("unicode", object!({"🌍": "世界"})),
    ];
    let ops: Vec<Value> = values
        .iter()
        .map(|(k, v)| json!(["put", "py", k, Value::Object(v.clone()), null]))
        .collect();
    let Some(_) = python(test, dir.path(), false, json!([{"min": 0}]), ops) else {
        return;
    };
    let inner = FileTreeStore::open(dir.path()).unwrap();
    let store = (&inner).layer(CompressionLayer::new().min_size_to_compress(0));
    for (k, v) in &values {
        let raw = inner.get(k).collection("py").await.unwrap().unwrap();
        assert!(raw.contains_key(COMPRESSED_DATA_KEY), "{k}");
        assert_eq!(
            store.get(k).collection("py").await.unwrap().as_ref(),
            Some(v)
        );
        store.put(k, v.clone()).collection("rs").await.unwrap();
    }
    let ops: Vec<Value> = values
        .iter()
        .map(|(k, _)| json!(["get", "rs", k]))
        .collect();
    let out = python(test, dir.path(), false, json!([{"min": 0}]), ops).unwrap();
    for ((k, v), row) in values.iter().zip(out.as_array().unwrap()) {
        assert_eq!(row["value"], Value::Object(v.clone()), "{k}");
    }
}

/// The native mode is ours alone: Python's wrapper cannot decompress LZ4 and hands back the
/// marker object unchanged (its documented fallback); values below the threshold still read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_mode_is_not_readable_by_python() {
    let test = "native_mode_is_not_readable_by_python";
    let dir = tempfile::tempdir().unwrap();
    let samples = samples();
    let inner = FileTreeStore::open(dir.path()).unwrap();
    rust_write(&(&inner).layer(CompressionLayer::native()), &samples).await;
    let Some(out) = python(
        test,
        dir.path(),
        false,
        json!([{}]),
        read_ops(&samples, "get"),
    ) else {
        return;
    };
    for (s, row) in samples.iter().zip(out.as_array().unwrap()) {
        if s.compressed {
            assert_eq!(
                row["value"]["__compression_algorithm__"], "lz4",
                "{}",
                s.key
            );
            assert!(row["value"][COMPRESSED_DATA_KEY].is_string());
        } else {
            assert_eq!(row["value"], Value::Object(s.value.clone()), "{}", s.key);
        }
    }
    // Ours reads them in either mode.
    assert_rust_reads(&(&inner).layer(CompressionLayer::new()), &samples).await;
}

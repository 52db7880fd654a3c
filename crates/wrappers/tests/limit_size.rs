//! LimitSize: the conformance suite with limits the suite's values respect, the boundaries,
//! silent and raising modes, batches, and the size measure checked against py-key-value's own
//! `estimate_serialized_size`.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_testkit::python::run_python;
use key_value_wrappers::LayerExt;
use key_value_wrappers::limit_size::{LimitSize, LimitSizeLayer, serialized_size};
use serde_json::Value;

/// `{}` (2 bytes) is the smallest value the suite writes and 1 MiB plus its key the largest:
/// both limits are live but let the whole contract through, raising on both sides.
mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> LimitSize<MemoryStore> {
        MemoryStore::builder().clock(fx.clock()).build().layer(
            LimitSizeLayer::new()
                .min_size(2)
                .max_size(2 << 20)
                .raise_on_too_small(true)
                .raise_on_too_large(true),
        )
    }

    key_value_testkit::conformance_suite!(store);
}

mod shared_conformance {
    use super::*;

    async fn store(fx: Fixture) -> SharedStore {
        let inner: SharedStore = Arc::new(MemoryStore::builder().clock(fx.clock()).build());
        Arc::new(LimitSize::new(inner, 4 << 20))
    }

    key_value_testkit::conformance_suite!(store);
}

/// A value of exactly `size` bytes of JSON: `{"v": "xxx..."}` is 9 bytes plus the string.
fn sized(size: usize) -> Object {
    let v = object!({"v": "x".repeat(size - 9)});
    assert_eq!(serialized_size(&v), size);
    v
}

#[tokio::test]
async fn the_boundaries_are_inclusive() {
    let s = MemoryStore::new().layer(LimitSizeLayer::new().min_size(20).max_size(30));
    s.put("min", sized(20)).await.unwrap();
    s.put("max", sized(30)).await.unwrap();
    assert_eq!(s.get("min").await.unwrap(), Some(sized(20)));
    assert_eq!(s.get("max").await.unwrap(), Some(sized(30)));
    let err = s.put("big", sized(31)).collection("c").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EntryTooLarge);
    assert_eq!((err.collection(), err.key()), (Some("c"), Some("big")));
    assert!(err.to_string().contains("31"), "{err}");
    // Too small is skipped silently by default.
    s.put("small", sized(19)).await.unwrap();
    assert_eq!(s.get("small").await.unwrap(), None);
    assert_eq!(s.get("big").collection("c").await.unwrap(), None);
}

#[tokio::test]
async fn each_side_raises_or_skips_as_configured() {
    let s = MemoryStore::new().layer(
        LimitSizeLayer::new()
            .min_size(20)
            .max_size(30)
            .raise_on_too_small(true)
            .raise_on_too_large(false),
    );
    let err = s.put("small", sized(19)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EntryTooSmall);
    s.put("big", sized(31)).await.unwrap();
    assert_eq!(
        s.get_many(&["small", "big"]).await.unwrap(),
        vec![None, None]
    );
}

#[tokio::test]
async fn an_overwrite_that_is_skipped_keeps_the_old_value() {
    let s = MemoryStore::new().layer(LimitSizeLayer::new().max_size(30).raise_on_too_large(false));
    s.put("k", sized(25)).await.unwrap();
    s.put("k", sized(40)).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), Some(sized(25)));
}

#[tokio::test]
async fn batches_keep_the_values_in_range_in_one_call() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let s = faulty.clone().layer(
        LimitSizeLayer::new()
            .min_size(20)
            .max_size(30)
            .raise_on_too_large(false),
    );
    let keys = ["small", "ok1", "big", "ok2"];
    s.put_many(&keys, vec![sized(10), sized(20), sized(31), sized(30)])
        .await
        .unwrap();
    assert_eq!(faulty.calls(), 1, "the survivors went in one batch");
    assert_eq!(
        s.get_many(&keys).await.unwrap(),
        vec![None, Some(sized(20)), None, Some(sized(30))]
    );
    // Nothing in range: nothing sent at all.
    s.put_many(&["a", "b"], vec![sized(10), sized(40)])
        .await
        .unwrap();
    assert_eq!(faulty.calls(), 2, "only the get_many above");
}

#[tokio::test]
async fn a_refusal_fails_the_whole_batch_before_any_write() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let s = faulty.clone().layer(LimitSizeLayer::new().max_size(30));
    let err = s
        .put_many(&["ok", "big", "ok2"], vec![sized(20), sized(31), sized(20)])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EntryTooLarge);
    assert_eq!(err.key(), Some("big"));
    assert_eq!(faulty.calls(), 0);
    assert_eq!(s.get("ok").await.unwrap(), None);
}

#[tokio::test]
async fn reads_are_not_limited() {
    let inner = Arc::new(MemoryStore::new());
    inner.put("big", sized(100)).await.unwrap();
    let s = inner.clone().layer(LimitSizeLayer::new().max_size(30));
    assert_eq!(s.get("big").await.unwrap(), Some(sized(100)));
    assert!(s.delete("big").await.unwrap());
}

#[test]
fn no_limits_means_no_measuring_and_no_refusal() {
    let layer = LimitSizeLayer::default();
    assert_eq!(layer, LimitSizeLayer::new());
    key_value_testkit::run(async {
        let s = MemoryStore::new().layer(layer);
        s.put("k", object!({})).await.unwrap();
        assert_eq!(s.get("k").await.unwrap(), Some(object!({})));
    });
}

/// Values whose JSON text differs between serializers: escapes, floats, nesting, key order.
fn tricky_values() -> Vec<Object> {
    vec![
        object!({}),
        object!({"a": 1}),
        object!({"é": "世界 🌍", "text": "tab\tquote\"back\\slash\n"}),
        object!({"f": 1.0, "g": 0.1, "h": 1e-7, "i": 1e22, "j": -0.0, "k": 123456789.123}),
        object!({"z": [1, {"y": null, "b": true}], "a": {"c": [], "b": {}}}),
        object!({"big": "x".repeat(5000), "n": -42}),
        object!({"\u{7f}": "\u{1}\u{1f}", "combining": "e\u{301}"}),
    ]
}

#[test]
fn sizes_match_py_key_values_estimate() {
    let test = "limit_size_sizes_match_python";
    let values: Vec<Value> = tricky_values().into_iter().map(Value::Object).collect();
    let arg = Value::Array(values).to_string();
    let script = r#"
import json, sys
from key_value.aio._utils.managed_entry import estimate_serialized_size
print(json.dumps([estimate_serialized_size(v) for v in json.loads(sys.argv[1])]))
"#;
    let Some(out) = run_python(test, script, &[&arg]) else {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{test}: NOT RUN: KV_PYTHON is not set");
        return;
    };
    let python: Vec<usize> = serde_json::from_str(out.trim()).unwrap();
    let ours: Vec<usize> = tricky_values().iter().map(serialized_size).collect();
    assert_eq!(ours, python);
}

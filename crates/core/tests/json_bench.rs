//! A rough speed comparison with serde_json, ignored by default (timings are not asserted).
//!
//! ```text
//! CARGO_TARGET_DIR=/root/.cache/key-value/target \
//!   cargo test --release -p key-value-core --test json_bench -- --ignored --nocapture
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use key_value_core::json::{parse_object, to_python_json, to_python_json_compact};
use serde_json::{Value, json};

/// A typical ~1 KiB user value: nested object, a list of records, ints, floats, ASCII and
/// some non-ASCII text.
fn typical_value() -> Value {
    let items: Vec<Value> = (0..8)
        .map(|i| json!({"sku": format!("A-{i}"), "qty": i, "price": 9.99 + f64::from(i), "note": null}))
        .collect();
    json!({
        "id": 123456,
        "user": {"name": "Alice Müller", "email": "alice@example.com", "age": 34, "active": true,
                 "score": 98.25, "tags": ["admin", "beta", "ünïcödé"]},
        "items": items,
        "created_at": "2025-01-01T00:00:00.123456+00:00",
        "ratio": 0.3333333333333333,
        "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(3),
    })
}

fn time_per_call(mut f: impl FnMut()) -> Duration {
    // Warm up, then take the best of several rounds.
    for _ in 0..2_000 {
        f();
    }
    let rounds = 7;
    let iterations = 20_000u32;
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed() / iterations
        })
        .min()
        .unwrap_or_default()
}

#[test]
#[ignore = "timing only; run with --release --ignored --nocapture"]
fn compare_with_serde_json() {
    let value = typical_value();
    let text = to_python_json(&value);
    let serde_text = serde_json::to_string(&value).unwrap_or_default();
    println!(
        "value: {} bytes as Python JSON, {} bytes as serde_json::to_string",
        text.len(),
        serde_text.len()
    );

    let serde_write = time_per_call(|| {
        black_box(serde_json::to_string(black_box(&value)).ok());
    });
    let py_write = time_per_call(|| {
        black_box(to_python_json(black_box(&value)));
    });
    let py_compact = time_per_call(|| {
        black_box(to_python_json_compact(black_box(&value)));
    });
    let serde_read = time_per_call(|| {
        black_box(serde_json::from_str::<Value>(black_box(&text)).ok());
    });
    let py_read = time_per_call(|| {
        black_box(parse_object(black_box(&text)).ok());
    });
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("serde_json::to_string   {serde_write:?}");
    println!(
        "to_python_json          {py_write:?}  ({:.2}x serde_json)",
        ratio(py_write, serde_write)
    );
    println!(
        "to_python_json_compact  {py_compact:?}  ({:.2}x serde_json)",
        ratio(py_compact, serde_write)
    );
    println!("serde_json::from_str    {serde_read:?}");
    println!(
        "parse_object            {py_read:?}  ({:.2}x serde_json)",
        ratio(py_read, serde_read)
    );
}

#[test]
#[ignore = "timing only; run with --release --ignored --nocapture"]
fn compare_by_kind_of_content() {
    let arrays = [
        (
            "100 floats",
            (0..100)
                .map(|i| json!(9.99 + f64::from(i) * 1.37))
                .collect(),
        ),
        ("100 ints", (0..100).map(|i| json!(i * 12345)).collect()),
        (
            "100 ASCII strings",
            (0..100)
                .map(|i| json!(format!("some ascii text number {i}")))
                .collect(),
        ),
        (
            "100 non-ASCII strings",
            (0..100).map(|i| json!(format!("ünïcödé {i}"))).collect(),
        ),
    ];
    for (name, items) in arrays {
        let value = Value::Array(items);
        let serde = time_per_call(|| {
            black_box(serde_json::to_string(black_box(&value)).ok());
        });
        let ours = time_per_call(|| {
            black_box(to_python_json(black_box(&value)));
        });
        println!(
            "{name:<22} serde_json {serde:?}, to_python_json {ours:?} ({:.2}x)",
            ours.as_secs_f64() / serde.as_secs_f64()
        );
    }
}

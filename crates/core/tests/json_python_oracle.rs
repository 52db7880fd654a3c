//! Compares the writers with a live CPython on a batch of random values and floats, in one
//! `python3` run. Outside CI it is skipped, saying so, when `python3` is not installed; in CI
//! (`CI` set) that is a failure.
//!
//! Floats are handed to Python as raw bit patterns, so Python's `repr` is an independent
//! oracle for [`python_float_repr`], ties between two shortest candidates included.

use std::io::Write;
use std::process::{Command, Stdio};

use key_value_core::json::{
    parse_value, python_float_repr, to_python_json, to_python_json_compact,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Number, Value};

const SCRIPT: &str = r#"
import json, struct, sys
values = json.loads(sys.stdin.readline())
bits = json.loads(sys.stdin.readline())
out = {
    "sorted": [json.dumps(v, sort_keys=True) for v in values],
    "compact": [json.dumps(v, separators=(",", ":")) for v in values],
    "floats": [repr(struct.unpack("<d", struct.pack("<Q", b))[0]) for b in bits],
}
sys.stdout.write(json.dumps(out))
"#;

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        any::<String>().prop_map(Value::String),
        "[a-z \"\\\\\u{0}-\u{1f}\u{7f}\u{80}-\u{ff}é世🌍\u{fffe}\u{10ffff}]{0,10}"
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|e| Value::Object(e.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Floats that stress the digit choice: raw bit patterns, exact ties (multiples of 1/4 near
/// 2^51, whose shortest form has two equally close candidates), powers of ten and the
/// fixed/exponent boundaries.
fn float_bits(runner: &mut TestRunner) -> Vec<u64> {
    let mut bits = Vec::new();
    let random_bits = any::<u64>();
    let mut k: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        if let Ok(tree) = random_bits.new_tree(runner) {
            let b = tree.current();
            if f64::from_bits(b).is_finite() {
                bits.push(b);
            }
        }
    }
    for i in 0..5_000u64 {
        // xorshift: cheap deterministic spread.
        k ^= k << 13;
        k ^= k >> 7;
        k ^= k << 17;
        let quarter_steps = (1u64 << 52) + (k % (1u64 << 52));
        bits.push((quarter_steps as f64 * 0.25).to_bits());
        bits.push((-(quarter_steps as f64) * 0.25 * 1024.0).to_bits());
        bits.push(((k % 100_000_000) as f64 / 1e8 + i as f64).to_bits());
    }
    for e in -330..=310 {
        for m in [1.0, 1.5, 2.5, 9.999_999_999_999_999] {
            let f = m * 10f64.powi(e);
            if f.is_finite() {
                bits.push(f.to_bits());
                bits.push(f64::from_bits(f.to_bits() + 1).to_bits());
                bits.push(f64::from_bits(f.to_bits().wrapping_sub(1)).to_bits());
            }
        }
    }
    bits.retain(|b| f64::from_bits(*b).is_finite());
    bits
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn writers_match_live_python() {
    let mut runner = TestRunner::deterministic();
    let strategy = arb_value();
    let mut values = Vec::new();
    while values.len() < 500 {
        if let Ok(tree) = strategy.new_tree(&mut runner) {
            values.push(tree.current());
        }
    }
    let bits = float_bits(&mut runner);

    let child = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        // In CI a missing interpreter is a failure, never a silent pass.
        assert!(
            std::env::var("CI").is_err(),
            "python3 is required in CI for the live Python comparison"
        );
        eprintln!("python3 not found: the live Python comparison did NOT run");
        return;
    };
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // Python reads these values back exactly: our own writer's floats round-trip (checked
        // below through the float oracle), and key order does not matter to a dict.
        let input = to_python_json_compact(&Value::Array(values.clone()));
        writeln!(stdin, "{input}").expect("write values");
        writeln!(stdin, "{}", serde_json::to_string(&bits).expect("bits")).expect("write bits");
    }
    let output = child.wait_with_output().expect("python3 runs");
    assert!(output.status.success(), "python3 failed");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let result = parse_value(&text).expect("python output parses");

    let sorted = strings(&result, "sorted");
    let compact = strings(&result, "compact");
    let floats = strings(&result, "floats");
    assert_eq!(sorted.len(), values.len());
    assert_eq!(compact.len(), values.len());
    assert_eq!(floats.len(), bits.len());

    let mut float_mismatches = Vec::new();
    for (b, python) in bits.iter().zip(&floats) {
        let ours = python_float_repr(f64::from_bits(*b));
        if &ours != python {
            float_mismatches.push(format!("bits {b:#018x}: python {python}, rust {ours}"));
        }
    }
    assert!(
        float_mismatches.is_empty(),
        "{} of {} floats differ, e.g. {:?}",
        float_mismatches.len(),
        bits.len(),
        &float_mismatches[..float_mismatches.len().min(5)]
    );

    for (i, value) in values.iter().enumerate() {
        assert_eq!(to_python_json(value), sorted[i], "value {i}: {value:?}");
        // The Python side parsed our (sorted) text, so its insertion order is sorted too.
        assert_eq!(
            to_python_json_compact(value),
            compact[i],
            "value {i}: {value:?}"
        );
    }
    eprintln!(
        "compared {} values and {} floats with python3",
        values.len(),
        bits.len()
    );
}

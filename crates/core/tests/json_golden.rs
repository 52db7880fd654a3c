//! Golden vectors written by real CPython (`tests/data/json_vectors.json`, made by
//! `python3 crates/core/tests/data/json_gen_vectors.py`): the Rust writers must produce the
//! same bytes, and the reader must give back the same values.

use key_value_core::json::{
    parse_object, parse_value, to_python_json, to_python_json_compact,
    to_python_json_compact_object, to_python_json_object,
};
use serde_json::Value;

const VECTORS: &str = include_str!("data/json_vectors.json");

struct Vector {
    name: String,
    input: String,
    sorted: String,
    compact: String,
    compact_sorted: String,
}

fn field(v: &Value, name: &str) -> String {
    match v.get(name) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("vector field {name} is not a string: {other:?}"),
    }
}

fn vectors() -> Vec<Vector> {
    let doc: Value = serde_json::from_str(VECTORS).expect("json_vectors.json is valid JSON");
    let Some(Value::Array(items)) = doc.get("vectors") else {
        panic!("json_vectors.json has no vectors array");
    };
    items
        .iter()
        .map(|v| Vector {
            name: field(v, "name"),
            input: field(v, "input"),
            sorted: field(v, "sorted"),
            compact: field(v, "compact"),
            compact_sorted: field(v, "compact_sorted"),
        })
        .collect()
}

#[test]
fn there_are_enough_vectors() {
    let n = vectors().len();
    assert!(n >= 130, "only {n} vectors");
}

#[test]
fn sorted_style_matches_python_byte_for_byte() {
    for v in vectors() {
        let value = parse_value(&v.input).expect("input parses");
        let got = to_python_json(&value);
        assert!(
            got == v.sorted,
            "vector {}:\n  python: {}\n  rust:   {}",
            v.name,
            v.sorted.chars().take(300).collect::<String>(),
            got.chars().take(300).collect::<String>()
        );
        assert!(got.is_ascii(), "vector {}", v.name);
        if let Value::Object(map) = &value {
            assert_eq!(to_python_json_object(map), v.sorted, "vector {}", v.name);
        }
    }
}

#[test]
fn compact_style_matches_python_byte_for_byte() {
    for v in vectors() {
        let value = parse_value(&v.input).expect("input parses");
        let got = to_python_json_compact(&value);
        // Python's compact output keeps the dicts' insertion order; ours is sorted in every
        // build (whatever serde_json's `preserve_order`), so the expected bytes are those of
        // `separators=(",", ":"), sort_keys=True`.
        let expected = &v.compact_sorted;
        assert!(
            &got == expected,
            "vector {}:\n  python: {}\n  rust:   {}",
            v.name,
            expected.chars().take(300).collect::<String>(),
            got.chars().take(300).collect::<String>()
        );
        if let Value::Object(map) = &value {
            assert_eq!(
                &to_python_json_compact_object(map),
                expected,
                "vector {}",
                v.name
            );
        }
        // Either way it is the same value as Python's own compact text.
        assert_eq!(
            parse_value(&v.compact).expect("python compact parses"),
            value,
            "vector {}",
            v.name
        );
    }
}

#[test]
fn reading_python_output_gives_the_same_value_bit_for_bit() {
    for v in vectors() {
        let from_input = parse_value(&v.input).expect("input parses");
        let from_sorted = parse_value(&v.sorted).expect("python output parses");
        assert_eq!(from_sorted, from_input, "vector {}", v.name);
        // Writing what was read reproduces Python's bytes (floats came back exactly).
        assert_eq!(to_python_json(&from_sorted), v.sorted, "vector {}", v.name);
        if from_input.is_object() {
            let map = parse_object(&v.sorted).expect("object parses");
            assert_eq!(Value::Object(map), from_input, "vector {}", v.name);
        } else {
            assert!(parse_object(&v.sorted).is_err(), "vector {}", v.name);
        }
    }
}

#[test]
fn reader_agrees_with_serde_json_apart_from_float_rounding() {
    // serde_json (without `float_roundtrip`) may round some floats differently; everything
    // else must be identical.
    for v in vectors() {
        let ours = parse_value(&v.input).expect("input parses");
        let theirs: Value = serde_json::from_str(&v.input).expect("serde_json parses");
        if !v.name.starts_with("float") {
            assert_eq!(ours, theirs, "vector {}", v.name);
        }
    }
}

#[test]
fn deepest_accepted_nesting_fits_a_two_mib_thread_stack() {
    // Tokio's worker threads have 2 MiB stacks; read, write and drop the deepest document the
    // reader accepts on such a thread (in the unoptimised test build).
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let depth = key_value_core::json::MAX_DEPTH;
            let text = "[{\"k\": ".repeat(depth / 2) + "1" + &"}]".repeat(depth / 2);
            let value = parse_value(&text).expect("parses");
            let written = to_python_json(&value);
            assert_eq!(written, text);
            assert_eq!(to_python_json_compact(&value), text.replace(": ", ":"));
            let too_deep = format!("[{text}]");
            assert!(parse_value(&(too_deep.clone() + "]")).is_err());
            let err = parse_value(&format!("[{too_deep}]")).expect_err("too deep");
            assert!(
                err.message().contains("recursion limit"),
                "{}",
                err.message()
            );
        })
        .expect("spawn");
    assert!(handle.join().is_ok());
}

#[test]
fn invalid_and_non_finite_input_is_a_deserialization_error() {
    use key_value_core::ErrorKind;
    for text in [
        "",
        " ",
        "{",
        "{\"a\" 1}",
        "{\"a\": 1,}",
        "[1,]",
        "{'a': 1}",
        "{\"a\": 01}",
        "{\"a\": 1.}",
        "{\"a\": .5}",
        "{\"a\": 1e}",
        "{\"a\": +1}",
        "{\"a\": NaN}",
        "{\"a\": Infinity}",
        "{\"a\": -Infinity}",
        "{\"a\": [1, 2, NaN]}",
        "{\"a\": 1e400}",
        "{\"a\": \"\\ud800\"}",
        "{\"a\": \"\\udc00\"}",
        "{\"a\": \"\\ud800\\u0041\"}",
        "{\"a\": \"\\x41\"}",
        "{\"a\": \"\\u12\"}",
        "{\"a\": \"tab\there\"}",
        "{\"a\": \"unterminated}",
        "{\"a\": tru}",
        "{\"a\": 1} x",
        "\u{feff}{}",
        "[]",
        "\"text\"",
        "null",
    ] {
        match parse_object(text) {
            Ok(map) => panic!("{text:?} parsed as {map:?}"),
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::Deserialization, "{text:?}");
                assert!(
                    err.message()
                        .starts_with("Failed to deserialize JSON string: "),
                    "{text:?}: {}",
                    err.message()
                );
            }
        }
    }
    let err = parse_object("{\"a\": [1, NaN]}").expect_err("NaN");
    assert!(err.message().contains("NaN"), "{}", err.message());
    assert!(err.message().contains("non-finite"), "{}", err.message());
}

#[test]
fn reader_follows_json_loads_on_valid_edge_cases() {
    let map = parse_object(
        " \t\r\n{\"a\": 1, \"a\": 2, \"s\": \"\\/\\b\\f\\n\\r\\t\\\"\\\\\\u00E9\\uD83C\\uDF0D\", \
         \"z\": -0, \"big\": 18446744073709551616, \"neg\": -9223372036854775808, \
         \"e\": 1E2, \"f\": -0.0} \n",
    )
    .expect("valid");
    assert_eq!(map["a"], Value::from(2)); // the last duplicate wins, as in Python
    assert_eq!(map["s"], Value::from("/\u{8}\u{c}\n\r\t\"\\é🌍"));
    // json.loads("-0") is the int 0; serde_json reads a float -0.0. Python never writes "-0".
    assert_eq!(to_python_json(&map["z"]), "-0.0");
    assert_eq!(map["big"], Value::from(18446744073709551616.0)); // beyond 64 bits: a float
    assert_eq!(map["neg"], Value::from(i64::MIN));
    assert_eq!(map["e"], Value::from(100.0));
    assert_eq!(to_python_json(&map["f"]), "-0.0");
}

//! Property tests of the Python-compatible JSON writers and reader.

use key_value_core::json::{
    parse_object, parse_value, python_float_repr, to_python_json, to_python_json_compact,
    to_python_json_object,
};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Any finite `f64`, from raw bit patterns (subnormals, huge and tiny exponents included)
/// mixed with "human" decimals.
fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("finite", |f| f.is_finite()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        (-1_000_000i64..1_000_000, 0u32..10).prop_map(|(m, e)| m as f64 / 10f64.powi(e as i32)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite_f64().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[a-zA-Z0-9 \"\\\\\u{0}-\u{1f}\u{7f}é世🌍]{0,12}".prop_map(Value::String),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn arb_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((any::<String>(), arb_value()), 0..8)
        .prop_map(|entries| entries.into_iter().collect())
}

/// An independent implementation of Python's `repr(float)` layout from the standard library's
/// shortest round-trip digits (`{:e}`), to cross-check `python_float_repr`. (On an exact tie
/// between two shortest candidates std rounds up where Python takes the even digit.)
fn reference_repr(f: f64) -> String {
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if digits == "0" {
        return format!("{sign}0.0");
    }
    let n = digits.len() as i32;
    let body = if (-4..16).contains(&exp) {
        let point = exp + 1;
        if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point < n {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        } else {
            format!("{}{}.0", digits, "0".repeat((point - n) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{first}{frac}e{esign}{:02}", exp.abs())
    };
    format!("{sign}{body}")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        // Failures are reported with their minimal input; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sorted_output_round_trips_and_is_ascii(value in arb_value()) {
        let text = to_python_json(&value);
        prop_assert!(text.is_ascii(), "{}", text);
        prop_assert_eq!(parse_value(&text).ok(), Some(value.clone()));
        // serde_json reads it too (floats possibly rounded differently, so compare shapes).
        let theirs: Result<Value, _> = serde_json::from_str(&text);
        prop_assert!(theirs.is_ok(), "{}", text);
    }

    #[test]
    fn compact_output_round_trips_and_is_ascii(value in arb_value()) {
        let text = to_python_json_compact(&value);
        prop_assert!(text.is_ascii(), "{}", text);
        prop_assert!(!text.contains(", ") || text.contains('"'), "{}", text);
        prop_assert_eq!(parse_value(&text).ok(), Some(value));
    }

    #[test]
    fn objects_round_trip_through_parse_object(map in arb_object()) {
        let text = to_python_json_object(&map);
        prop_assert_eq!(&text, &to_python_json(&Value::Object(map.clone())));
        prop_assert_eq!(parse_object(&text).ok(), Some(map));
    }

    #[test]
    fn float_repr_parses_back_to_the_same_bits(f in finite_f64()) {
        let text = python_float_repr(f);
        let back: f64 = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back.to_bits(), f.to_bits(), "{}", text);
        let reference = reference_repr(f);
        if text != reference {
            // std's `{:e}` rounds an exact tie between two shortest candidates up; Python's
            // repr (and serde_json's formatter) takes the even digit. Allow only that.
            prop_assert_eq!(text.len(), reference.len(), "{} vs {}", text, reference);
            let (ours, theirs): (Vec<_>, Vec<_>) = text
                .bytes()
                .zip(reference.bytes())
                .filter(|(a, b)| a != b)
                .unzip();
            prop_assert_eq!(ours.len(), 1, "{} vs {}", text, reference);
            prop_assert!(ours[0] % 2 == 0 && ours[0].abs_diff(theirs[0]) == 1, "{} vs {}", text, reference);
            let reference_back: f64 = reference.parse().unwrap_or(f64::NAN);
            prop_assert_eq!(reference_back.to_bits(), f.to_bits());
        }
        // And the reader, not only std, gives the same bits back.
        let parsed = parse_value(&text).ok().and_then(|v| v.as_f64());
        prop_assert_eq!(parsed.map(f64::to_bits), Some(f.to_bits()), "{}", text);
    }

    #[test]
    fn strings_escape_like_python(s in any::<String>()) {
        let text = to_python_json(&Value::String(s.clone()));
        prop_assert!(text.is_ascii());
        // Every non-ASCII character becomes one \uXXXX, or two for astral characters.
        let escapes = s.chars().filter(|c| !c.is_ascii()).map(|c| c.len_utf16()).sum::<usize>();
        let found = text.matches("\\u").count();
        let ascii_u = s.chars().filter(|c| (*c as u32) < 0x20 || *c == '\u{7f}').count()
            - s.chars().filter(|c| matches!(c, '\n' | '\r' | '\t' | '\u{8}' | '\u{c}')).count();
        // A literal backslash followed by 'u' in the input is written as "\\u", also matched.
        let literal = s.matches("\\u").count();
        prop_assert_eq!(found, escapes + ascii_u + literal, "{}", text);
        prop_assert_eq!(parse_value(&text).ok(), Some(Value::String(s)));
    }
}

#[test]
// The literal is exact: halfway between the two shortest candidates.
#[allow(clippy::excessive_precision)]
fn ties_take_the_even_digit_like_python() {
    // Exactly halfway between ...012.2 and ...012.3; Python's repr gives the even one.
    assert_eq!(
        python_float_repr(-1770393933204012.25),
        "-1770393933204012.2"
    );
    assert_eq!(reference_repr(-1770393933204012.25), "-1770393933204012.3");
}

#[test]
fn reference_repr_matches_known_python_output() {
    for (f, python) in [
        (1e16, "1e+16"),
        (1e-5, "1e-05"),
        (123456789.0, "123456789.0"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),
        (0.1, "0.1"),
        (1.5e300, "1.5e+300"),
    ] {
        assert_eq!(reference_repr(f), python);
        assert_eq!(python_float_repr(f), python);
    }
}

#[test]
fn serde_json_map_order_is_python_code_point_order() {
    // The claim the sorted writer relies on: serde_json's default Map iterates keys in the
    // order of Python's sorted(), i.e. by code point, non-ASCII and astral keys included.
    let keys = [
        "b",
        "a",
        "B",
        "",
        "aa",
        "a a",
        "é",
        "e",
        "\u{7f}",
        "\u{0}",
        "~",
        "\u{e000}",
        "\u{ffff}",
        "\u{10000}",
        "🌍",
        "\u{10ffff}",
        "世界",
        "\u{fffd}",
        "\u{d7ff}",
    ];
    let mut map = Map::new();
    for k in keys {
        map.insert(k.to_owned(), Value::Null);
    }
    let mut by_code_point: Vec<&str> = keys.to_vec();
    by_code_point.sort_by(|a, b| a.chars().map(u32::from).cmp(b.chars().map(u32::from)));
    let iterated: Vec<&str> = map.keys().map(String::as_str).collect();
    if iterated != keys.to_vec() {
        // Not insertion order (`preserve_order` is off): the default build (BTreeMap): sorted, in code-point order, not UTF-16 order ("\u{ffff}"
        // comes before astral characters, whose UTF-16 surrogates would sort before U+E000).
        assert_eq!(iterated, by_code_point);
    }
    let text = to_python_json_object(&map);
    let expected: Vec<String> = by_code_point
        .iter()
        .map(|k| {
            let mut s = String::new();
            key_value_core::json::write_python_str(&mut s, k);
            s + ": null"
        })
        .collect();
    assert_eq!(text, format!("{{{}}}", expected.join(", ")));
}

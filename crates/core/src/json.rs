//! Python-compatible JSON text: the exact bytes `json.dumps` writes, and a reader for them.
//!
//! py-key-value stores every entry as `json.dumps(obj, sort_keys=True)`, and its compression
//! and encryption wrappers use `json.dumps(value, separators=(",", ":"))`. A Rust service that
//! shares a Redis or disk cache with a Python one must write the same bytes, so this module
//! reproduces CPython's `json` encoder exactly:
//!
//! | | [default style](to_python_json) | [compact style](to_python_json_compact) |
//! |---|---|---|
//! | Python call | `json.dumps(v, sort_keys=True)` | `json.dumps(v, separators=(",", ":"))` |
//! | separators | `", "` and `": "` | `","` and `":"` |
//! | key order | sorted by code point, at every level | sorted too (Python: insertion order) |
//! | non-ASCII | `\uXXXX` (lowercase hex; astral characters as a UTF-16 surrogate pair) | same |
//! | floats | Python `repr` ([`python_float_repr`]) | same |
//!
//! Escapes are those of `ensure_ascii=True`: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, and
//! `\u00XX` for the other control characters and DEL (`\x7f`). The output is therefore pure
//! ASCII, and its length in bytes equals Python's `len()` of the same text (which is what
//! py-key-value's `estimate_serialized_size` measures).
//!
//! ```
//! use key_value_core::json::{parse_object, to_python_json, to_python_json_compact};
//! use serde_json::json;
//!
//! let value = json!({"name": "Zoë", "age": 30, "scores": [1.0, 2.5e-7, 1e16]});
//! let text = to_python_json(&value);
//! assert_eq!(
//!     text,
//!     r#"{"age": 30, "name": "Zo\u00eb", "scores": [1.0, 2.5e-07, 1e+16]}"#
//! );
//! assert_eq!(
//!     to_python_json_compact(&value),
//!     r#"{"age":30,"name":"Zo\u00eb","scores":[1.0,2.5e-07,1e+16]}"#
//! );
//! // Reading it back gives the same value.
//! assert_eq!(serde_json::Value::Object(parse_object(&text)?), value);
//! # Ok::<(), key_value_core::Error>(())
//! ```
//!
//! # Numbers
//!
//! `serde_json::Value` numbers (without serde_json's `arbitrary_precision` feature) are `u64`,
//! `i64` or finite `f64`. Integers are written as Python writes `int`s; floats as Python's
//! `repr(float)`, which keeps `.0` on integral values (`1.0`) and switches to exponent notation
//! when the decimal exponent is below -4 or at least 16 (`1e-05`, `1e+16`). Python `int`s
//! outside the 64-bit range cannot be held by a `Value`; the reader turns them into the nearest
//! `f64` (as serde_json does), so they would be written back as floats.
//!
//! Non-finite floats (`NaN`, `Infinity`) cannot occur in a `Value`. Python writes them as the
//! non-standard literals `NaN`, `Infinity` and `-Infinity` (`allow_nan=True`); the reader
//! rejects those with a clear [`ErrorKind::Deserialization`] error instead of guessing a
//! replacement.
//!
//! # Reading
//!
//! The readers use serde_json with its `float_roundtrip` feature (enabled for the whole
//! workspace): without it serde_json rounds some floats to a neighbouring value, and a
//! Python-written entry read and written back would change bytes. With it, every float Python
//! writes comes back bit for bit.
//!
//! They follow `json.loads` on what py-key-value writes: the strict RFC 8259 grammar, duplicate
//! keys (the last one wins). They reject, with an [`ErrorKind::Deserialization`] error and
//! never a panic, invalid text and what a `Value` cannot hold: non-finite numbers (`NaN`,
//! `Infinity`, `1e400`, which Python writes for non-finite floats), lone UTF-16 surrogates such
//! as `"\ud800"` (which Python accepts), and documents nested more than [`MAX_DEPTH`] levels
//! deep. Two small differences from Python remain: `-0` is read as the float `-0.0` (Python:
//! the int `0`; Python itself never writes `-0`), and integers beyond 64 bits become floats.
//!
//! # Key order
//!
//! Both styles sort keys by code point, as Python's `sort_keys=True` does. With serde_json's
//! default `Map` (a `BTreeMap` ordered by the keys' UTF-8 bytes, which is code-point order)
//! iteration is already sorted and costs nothing extra. serde_json's `preserve_order` feature
//! is switched on for the whole build as soon as any dependency asks for it (bson does, so
//! builds with the MongoDB store have it); the writer detects that once and sorts entries
//! itself, so the bytes never depend on the build's features.
//!
//! Python's compact output (py-key-value's compression and encryption wrappers) keeps the
//! dictionary's insertion order instead, so for the same dictionary the bytes can differ;
//! Python readers do not care, since the order of keys carries no meaning.
//!
//! # Depth and speed
//!
//! The writers recurse once per nesting level, as `serde_json::to_string` does; values built by
//! the readers are at most [`MAX_DEPTH`] levels deep.
//!
//! Writing a typical 1 KiB object takes about 1.15 to 1.2 times as long as
//! `serde_json::to_string` (which writes neither the spaces nor the `\uXXXX` escapes); see
//! `tests/json_bench.rs`.

use std::sync::LazyLock;

use serde_json::{Map, Number, Value};

use crate::error::{Error, ErrorKind, Result};

/// The deepest nesting of arrays and objects that [`parse_object`] and [`parse_value`] accept.
///
/// serde_json's recursion limit (Python's is its recursion limit, about 1000 levels by
/// default). py-key-value values are far shallower in practice.
///
/// ```
/// use key_value_core::json::{parse_value, MAX_DEPTH};
///
/// let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
/// assert!(parse_value(&ok).is_ok());
/// let too_deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
/// assert!(parse_value(&too_deep).is_err());
/// ```
pub const MAX_DEPTH: usize = 127;

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// `value` as `json.dumps(value, sort_keys=True)` writes it.
///
/// ```
/// use key_value_core::json::to_python_json;
/// use serde_json::json;
///
/// let value = json!({"b": [1, -2, 0.1, null, true], "a": {"é": "🌍", "A": -0.0}});
/// assert_eq!(
///     to_python_json(&value),
///     r#"{"a": {"A": -0.0, "\u00e9": "\ud83c\udf0d"}, "b": [1, -2, 0.1, null, true]}"#
/// );
/// ```
pub fn to_python_json(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value::<true>(&mut out, value);
    out
}

/// Appends `value` to `out` as `json.dumps(value, sort_keys=True)` writes it.
///
/// ```
/// use key_value_core::json::write_python_json;
/// use serde_json::json;
///
/// let mut out = String::from("value=");
/// write_python_json(&mut out, &json!({"z": 1e-5, "y": 123456789.0}));
/// assert_eq!(out, r#"value={"y": 123456789.0, "z": 1e-05}"#);
/// ```
pub fn write_python_json(out: &mut String, value: &Value) {
    write_value::<true>(out, value);
}

/// `map` as `json.dumps(map, sort_keys=True)` writes it; the same as [`to_python_json`] on a
/// `Value::Object`, without having to build one.
///
/// ```
/// use key_value_core::json::to_python_json_object;
/// use serde_json::{json, Map, Value};
///
/// let mut map = Map::new();
/// map.insert("name".to_owned(), json!("Alice"));
/// map.insert("age".to_owned(), json!(30));
/// assert_eq!(to_python_json_object(&map), r#"{"age": 30, "name": "Alice"}"#);
/// assert_eq!(to_python_json_object(&Map::new()), "{}");
/// ```
pub fn to_python_json_object(map: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(128);
    write_object::<true>(&mut out, map);
    out
}

/// Appends `map` to `out` as `json.dumps(map, sort_keys=True)` writes it.
///
/// ```
/// use key_value_core::json::write_python_json_object;
/// use serde_json::json;
///
/// let map = json!({"k": [1, 2], "": {}}).as_object().cloned().unwrap_or_default();
/// let mut out = String::new();
/// write_python_json_object(&mut out, &map);
/// assert_eq!(out, r#"{"": {}, "k": [1, 2]}"#);
/// ```
pub fn write_python_json_object(out: &mut String, map: &Map<String, Value>) {
    write_object::<true>(out, map);
}

/// `value` as `json.dumps(value, separators=(",", ":"), sort_keys=True)` writes it: no spaces,
/// ASCII only, keys sorted (see the [module documentation](self#key-order)).
///
/// ```
/// use key_value_core::json::to_python_json_compact;
/// use serde_json::json;
///
/// let value = json!({"text": "naïve\n", "n": [1, 2.0, {"x": null}]});
/// assert_eq!(
///     to_python_json_compact(&value),
///     r#"{"n":[1,2.0,{"x":null}],"text":"na\u00efve\n"}"#
/// );
/// ```
pub fn to_python_json_compact(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value::<false>(&mut out, value);
    out
}

/// Appends `value` to `out` as `json.dumps(value, separators=(",", ":"))` writes it.
///
/// ```
/// use key_value_core::json::write_python_json_compact;
/// use serde_json::json;
///
/// let mut out = String::new();
/// write_python_json_compact(&mut out, &json!([1, "two", [], {}]));
/// assert_eq!(out, r#"[1,"two",[],{}]"#);
/// ```
pub fn write_python_json_compact(out: &mut String, value: &Value) {
    write_value::<false>(out, value);
}

/// `map` as `json.dumps(map, separators=(",", ":"))` writes it; the same as
/// [`to_python_json_compact`] on a `Value::Object`, without having to build one.
///
/// ```
/// use key_value_core::json::to_python_json_compact_object;
/// use serde_json::json;
///
/// let map = json!({"b": 1, "a": "é"}).as_object().cloned().unwrap_or_default();
/// assert_eq!(to_python_json_compact_object(&map), r#"{"a":"\u00e9","b":1}"#);
/// ```
pub fn to_python_json_compact_object(map: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(128);
    write_object::<false>(&mut out, map);
    out
}

/// Appends `map` to `out` as `json.dumps(map, separators=(",", ":"))` writes it.
///
/// ```
/// use key_value_core::json::write_python_json_compact_object;
/// use serde_json::json;
///
/// let map = json!({"x": [0.5]}).as_object().cloned().unwrap_or_default();
/// let mut out = String::new();
/// write_python_json_compact_object(&mut out, &map);
/// assert_eq!(out, r#"{"x":[0.5]}"#);
/// ```
pub fn write_python_json_compact_object(out: &mut String, map: &Map<String, Value>) {
    write_object::<false>(out, map);
}

/// Appends `s` to `out` as a JSON string literal, quotes included, escaped as Python's
/// `json.dumps(s)` does (`ensure_ascii=True`; both styles escape strings alike).
///
/// ```
/// use key_value_core::json::write_python_str;
///
/// let mut out = String::new();
/// write_python_str(&mut out, "say \"hi\"\t\\ \u{7f} café 🌍");
/// assert_eq!(out, r#""say \"hi\"\t\\ \u007f caf\u00e9 \ud83c\udf0d""#);
/// ```
pub fn write_python_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i += plain_prefix_len(&bytes[i..]);
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let esc = ESCAPE[usize::from(b)];
        if start < i {
            out.push_str(&s[start..i]);
        }
        match esc {
            NON_ASCII => {
                let (code_point, width) = decode_utf8(bytes, i);
                if code_point >= 0x1_0000 {
                    let c = code_point - 0x1_0000;
                    push_u_escape(out, 0xD800 | (c >> 10));
                    push_u_escape(out, 0xDC00 | (c & 0x3FF));
                } else {
                    push_u_escape(out, code_point);
                }
                i += width;
            }
            UNICODE => {
                push_u_escape(out, u32::from(b));
                i += 1;
            }
            short => {
                out.push('\\');
                out.push(char::from(short));
                i += 1;
            }
        }
        start = i;
    }
    if start < bytes.len() {
        out.push_str(&s[start..]);
    }
    out.push('"');
}

/// How many leading bytes of `bytes` are written as they are (printable ASCII other than `"`
/// and `\`).
///
/// Most strings are plain ASCII, so 16 bytes are checked at a time with branch-free
/// arithmetic the compiler vectorizes; a byte-at-a-time table walk costs about 12 instructions
/// per byte, which made escaping the largest single cost of writing an envelope.
#[inline]
fn plain_prefix_len(bytes: &[u8]) -> usize {
    let mut i = 0;
    for chunk in bytes.chunks_exact(16) {
        let mut special = false;
        for &b in chunk {
            special |= !(0x20..=0x7e).contains(&b) | (b == b'"') | (b == b'\\');
        }
        if special {
            break;
        }
        i += 16;
    }
    while let Some(&b) = bytes.get(i) {
        if ESCAPE[usize::from(b)] != PASS {
            break;
        }
        i += 1;
    }
    i
}

/// `repr(f)` in Python: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in `-4..16` (`0.0001`, `123456789.0`, with `.0` kept on integral
/// values) and in exponent notation otherwise (`1e-05`, `1.5e-07`, `1e+16`), with `-0.0` for
/// negative zero.
///
/// Non-finite values give Python's `repr` too (`nan`, `inf`, `-inf`), although they cannot
/// occur in a `serde_json::Value`. (In JSON text Python writes `NaN`, `Infinity` and
/// `-Infinity` instead; [`to_python_json`] can never meet them.)
///
/// ```
/// use key_value_core::json::python_float_repr;
///
/// assert_eq!(python_float_repr(1.0), "1.0");
/// assert_eq!(python_float_repr(0.1), "0.1");
/// assert_eq!(python_float_repr(1e16), "1e+16");
/// assert_eq!(python_float_repr(1e15), "1000000000000000.0");
/// assert_eq!(python_float_repr(1e-5), "1e-05");
/// assert_eq!(python_float_repr(0.0001), "0.0001");
/// assert_eq!(python_float_repr(2.5e-7), "2.5e-07");
/// assert_eq!(python_float_repr(-0.0), "-0.0");
/// assert_eq!(python_float_repr(5e-324), "5e-324");
/// assert_eq!(python_float_repr(1.7976931348623157e308), "1.7976931348623157e+308");
/// assert_eq!(python_float_repr(f64::NAN), "nan");
/// assert_eq!(python_float_repr(f64::NEG_INFINITY), "-inf");
/// ```
pub fn python_float_repr(f: f64) -> String {
    let mut out = String::with_capacity(24);
    write_python_float_repr(&mut out, f);
    out
}

/// Appends [`python_float_repr(f)`](python_float_repr) to `out`.
///
/// ```
/// use key_value_core::json::write_python_float_repr;
///
/// let mut out = String::from("x=");
/// write_python_float_repr(&mut out, 1.23456789012345e10);
/// assert_eq!(out, "x=12345678901.2345");
/// ```
pub fn write_python_float_repr(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    } else {
        write_finite_float(out, f);
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Parses JSON text that must hold an object, as py-key-value's `load_from_json` does.
///
/// Invalid JSON, a document that is not an object, and what a `Value` cannot hold (the
/// `NaN`/`Infinity` literals Python writes for non-finite floats, lone surrogates, nesting
/// deeper than [`MAX_DEPTH`]) are [`ErrorKind::Deserialization`] errors; see the
/// [module documentation](self#reading).
///
/// ```
/// use key_value_core::json::parse_object;
/// use key_value_core::ErrorKind;
/// use serde_json::json;
///
/// let map = parse_object(r#"{"name": "Zo\u00eb", "n": 1.7976931348623157e+308}"#)?;
/// assert_eq!(map["name"], json!("Zoë"));
/// assert_eq!(map["n"], json!(f64::MAX));
///
/// let err = parse_object("[1, 2]").expect_err("must fail");
/// assert_eq!(err.kind(), ErrorKind::Deserialization);
/// assert_eq!(err.message(), "Failed to deserialize JSON string: expected a JSON object, got an array");
///
/// let err = parse_object(r#"{"x": NaN}"#).expect_err("must fail");
/// assert_eq!(err.kind(), ErrorKind::Deserialization);
/// assert!(err.message().contains("non-finite"));
/// # Ok::<(), key_value_core::Error>(())
/// ```
pub fn parse_object(text: &str) -> Result<Map<String, Value>> {
    match parse_value(text)? {
        Value::Object(map) => Ok(map),
        other => Err(deserialization_error(format!(
            "expected a JSON object, got {}",
            type_name(&other)
        ))),
    }
}

/// Parses any JSON text into a `Value`, with the rules of [`parse_object`].
///
/// ```
/// use key_value_core::json::parse_value;
/// use serde_json::json;
///
/// assert_eq!(parse_value(" [1, 0, 1.0, 1e+16, \"\\ud83c\\udf0d\"] ")?, json!([1, 0, 1.0, 1e16, "🌍"]));
/// assert!(parse_value("[1, 2,]").is_err());
/// assert!(parse_value("-Infinity").is_err());
/// # Ok::<(), key_value_core::Error>(())
/// ```
pub fn parse_value(text: &str) -> Result<Value> {
    // `float_roundtrip` (enabled for the workspace) makes serde_json read every float exactly,
    // so a Python-written value comes back with the same bits and is written back identically.
    serde_json::from_str(text).map_err(|e| {
        let detail = if text.contains("NaN") || text.contains("Infinity") {
            format!("{e} (non-finite numbers such as NaN and Infinity are not supported)")
        } else {
            e.to_string()
        };
        deserialization_error(detail)
    })
}

// ---------------------------------------------------------------------------------------------
// Writer internals
// ---------------------------------------------------------------------------------------------

/// Writes a value; `PY_DEFAULT` selects `sort_keys=True` with `", "`/`": "` separators, else
/// the compact style in iteration order.
fn write_value<const PY_DEFAULT: bool>(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_python_str(out, s),
        Value::Array(items) => {
            let mut iter = items.iter();
            match iter.next() {
                None => out.push_str("[]"),
                Some(first) => {
                    out.push('[');
                    write_value::<PY_DEFAULT>(out, first);
                    for item in iter {
                        out.push_str(item_separator::<PY_DEFAULT>());
                        write_value::<PY_DEFAULT>(out, item);
                    }
                    out.push(']');
                }
            }
        }
        Value::Object(map) => write_object::<PY_DEFAULT>(out, map),
    }
}

const fn item_separator<const PY_DEFAULT: bool>() -> &'static str {
    if PY_DEFAULT { ", " } else { "," }
}

const fn key_separator<const PY_DEFAULT: bool>() -> &'static str {
    if PY_DEFAULT { ": " } else { ":" }
}

fn write_object<const PY_DEFAULT: bool>(out: &mut String, map: &Map<String, Value>) {
    if map.is_empty() {
        out.push_str("{}");
    } else if !map_iterates_sorted() && !keys_are_sorted(map) {
        write_object_sorted_explicitly::<PY_DEFAULT>(out, map);
    } else {
        write_entries::<PY_DEFAULT>(out, map.iter());
    }
}

/// The path for a map that does not iterate in key order (only with serde_json's
/// `preserve_order`, which any dependency can switch on for the whole build, as bson does):
/// sort references to the entries, then write them.
fn write_object_sorted_explicitly<const PY_DEFAULT: bool>(
    out: &mut String,
    map: &Map<String, Value>,
) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    write_entries::<PY_DEFAULT>(out, entries.into_iter());
}

fn write_entries<'a, const PY_DEFAULT: bool>(
    out: &mut String,
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
) {
    out.push('{');
    let mut first = true;
    for (key, value) in entries {
        if !first {
            out.push_str(item_separator::<PY_DEFAULT>());
        }
        first = false;
        write_python_str(out, key);
        out.push_str(key_separator::<PY_DEFAULT>());
        write_value::<PY_DEFAULT>(out, value);
    }
    out.push('}');
}

/// Whether `serde_json::Map` iterates in key order in this build: true with its default
/// `BTreeMap` (byte order of UTF-8 = code-point order, Python's string order), false with the
/// `preserve_order` feature (insertion order). Checked once.
fn map_iterates_sorted() -> bool {
    static SORTED: LazyLock<bool> = LazyLock::new(|| {
        let mut probe = Map::new();
        probe.insert("b".to_owned(), Value::Null);
        probe.insert("a".to_owned(), Value::Null);
        probe.keys().next().is_some_and(|k| k == "a")
    });
    *SORTED
}

fn keys_are_sorted(map: &Map<String, Value>) -> bool {
    let mut keys = map.keys();
    let Some(mut previous) = keys.next() else {
        return true;
    };
    for key in keys {
        if key < previous {
            return false;
        }
        previous = key;
    }
    true
}

fn write_number(out: &mut String, n: &Number) {
    use std::fmt::Write as _;
    if !n.is_f64() {
        // u64 or i64: serde_json writes them with `itoa`, digits only, as Python writes ints.
        let _ = write!(out, "{n}");
        return;
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => write_float_number(out, n),
        // Unreachable with serde_json's default features; this is what Python writes.
        Some(f) if f.is_nan() => out.push_str("NaN"),
        Some(f) => out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" }),
        // Only with serde_json's `arbitrary_precision`: the number's own text.
        None => out.push_str(&n.to_string()),
    }
}

/// Appends bytes known to be ASCII (digits).
#[inline]
fn push_ascii(out: &mut String, bytes: &[u8]) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        out.push_str(s);
    }
}

const HEX: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
];

/// Appends `\uXXXX` (lowercase hex) for a code unit below 0x10000.
#[inline]
fn push_u_escape(out: &mut String, unit: u32) {
    out.reserve(6);
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xF) as usize]);
    }
}

/// The code point starting at `bytes[i]` (a UTF-8 lead byte of a multi-byte sequence of a
/// valid `str`) and its width in bytes.
fn decode_utf8(bytes: &[u8], i: usize) -> (u32, usize) {
    let cont = |k: usize| u32::from(bytes.get(i + k).copied().unwrap_or(0x80) & 0x3F);
    let b0 = u32::from(bytes[i]);
    if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | cont(1), 2)
    } else if b0 < 0xF0 {
        (((b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}

/// Escape table: `PASS` for bytes written as they are, `UNICODE` for `\u00XX`, `NON_ASCII` for
/// the first byte of a multi-byte character, otherwise the letter after the backslash.
const PASS: u8 = 0;
const UNICODE: u8 = b'u';
const NON_ASCII: u8 = 1;
/// Continuation bytes never start a character, so they never reach the table lookup's
/// escape arm; they are marked like lead bytes.
static ESCAPE: [u8; 256] = {
    let mut table = [PASS; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = UNICODE;
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[0x7F] = UNICODE;
    let mut i = 0x80;
    while i < 0x100 {
        table[i] = NON_ASCII;
        i += 1;
    }
    table
};

/// Writes a finite float as Python's `repr`.
fn write_finite_float(out: &mut String, f: f64) {
    match Number::from_f64(f) {
        Some(n) => write_float_number(out, &n),
        // Not reached: `f` is finite.
        None => write_float_with_std(out, f),
    }
}

/// Writes a float `Number` as Python's `repr`: serde_json's own float formatting gives the
/// shortest round-trip digits, the same as Python's (shortest, closest, and the even digit on
/// an exact tie); texts already in Python's fixed-point form (the common case) stay as they
/// are, the others are laid out again with Python's rules.
fn write_float_number(out: &mut String, n: &Number) {
    use std::fmt::Write as _;
    let start = out.len();
    if write!(out, "{n}").is_ok() {
        let text = out.as_bytes().get(start..).unwrap_or_default();
        if is_python_fixed_form(text) {
            return;
        }
        let mut buf = [0u8; 40];
        if let Some(slot) = buf.get_mut(..text.len()) {
            slot.copy_from_slice(text);
            let len = text.len();
            out.truncate(start);
            if write_python_float_layout(out, &buf[..len]) {
                return;
            }
        }
    }
    // Not reached in practice (the formatter writes at most 24 bytes of plain decimal text).
    out.truncate(start);
    match n.as_f64() {
        Some(f) => write_float_with_std(out, f),
        None => out.push_str(&n.to_string()),
    }
}

/// The standard library's shortest form has the same digits as Python's except on exact ties,
/// where it rounds up instead of to even; only a fallback.
fn write_float_with_std(out: &mut String, f: f64) {
    let text = format!("{f:e}");
    if !write_python_float_layout(out, text.as_bytes()) {
        out.push_str(&text);
    }
}

/// Whether a float text holding the shortest digits is already in Python's `repr` form for
/// fixed notation: `-?(0|[1-9][0-9]{0,15})\.[0-9]+`, no trailing zero after the point except
/// a lone `.0`, and, when the integer part is `0`, fewer than four zeros after the point
/// (decimal exponent -4 or more; `0.0` itself included).
fn is_python_fixed_form(text: &[u8]) -> bool {
    let text = match text.split_first() {
        Some((b'-', rest)) => rest,
        _ => text,
    };
    let mut dot = None;
    for (i, &b) in text.iter().enumerate() {
        if b == b'.' && dot.is_none() {
            dot = Some(i);
        } else if !b.is_ascii_digit() {
            return false;
        }
    }
    let Some(dot) = dot else {
        return false;
    };
    let frac = &text[dot + 1..];
    if dot == 0 || dot > 16 || frac.is_empty() || (frac.len() > 1 && frac.ends_with(b"0")) {
        return false;
    }
    if text[0] == b'0' {
        dot == 1 && (frac == b"0" || !frac.starts_with(b"0000"))
    } else {
        true
    }
}

/// Re-lays out a decimal float text (`-1.5e-7`, `0.001`, `1e16`, `12.0`, ...) holding the
/// shortest digits, the way Python's `repr` does. Returns false, writing nothing, if the text
/// is not of that form.
fn write_python_float_layout(out: &mut String, text: &[u8]) -> bool {
    use std::fmt::Write as _;
    let mut digits = [0u8; 40];
    let mut n = 0usize;
    // The value is 0.DIGITS * 10^point.
    let mut point: i32 = 0;
    let mut seen_dot = false;
    let mut seen_nonzero = false;
    let mut seen_digit = false;
    let negative = text.first() == Some(&b'-');
    let mut i = usize::from(negative);
    while let Some(&b) = text.get(i) {
        match b {
            b'0' if !seen_nonzero => {
                seen_digit = true;
                if seen_dot {
                    point -= 1;
                }
            }
            b'0'..=b'9' => {
                seen_nonzero = true;
                seen_digit = true;
                let Some(slot) = digits.get_mut(n) else {
                    return false;
                };
                *slot = b;
                n += 1;
                if !seen_dot {
                    point += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => break,
            _ => return false,
        }
        i += 1;
    }
    if !seen_digit {
        return false;
    }
    if i < text.len() {
        // Exponent.
        i += 1;
        let exp_negative = match text.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut exp: i32 = 0;
        if i >= text.len() {
            return false;
        }
        while let Some(&b) = text.get(i) {
            if !b.is_ascii_digit() || exp > 100_000 {
                return false;
            }
            exp = exp * 10 + i32::from(b - b'0');
            i += 1;
        }
        point += if exp_negative { -exp } else { exp };
    }
    while n > 0 && digits[n - 1] == b'0' {
        n -= 1;
    }
    if negative {
        out.push('-');
    }
    if n == 0 {
        out.push_str("0.0");
        return true;
    }
    let digits = &digits[..n];
    let sci_exp = point - 1;
    if (-4..16).contains(&sci_exp) {
        if point <= 0 {
            out.push_str("0.");
            for _ in 0..-point {
                out.push('0');
            }
            push_ascii(out, digits);
        } else {
            // 1 <= point <= 16
            let point = point.unsigned_abs() as usize;
            if point < n {
                push_ascii(out, &digits[..point]);
                out.push('.');
                push_ascii(out, &digits[point..]);
            } else {
                push_ascii(out, digits);
                for _ in n..point {
                    out.push('0');
                }
                out.push_str(".0");
            }
        }
    } else {
        push_ascii(out, &digits[..1]);
        if n > 1 {
            out.push('.');
            push_ascii(out, &digits[1..]);
        }
        out.push_str(if sci_exp < 0 { "e-" } else { "e+" });
        let _ = write!(out, "{:02}", sci_exp.unsigned_abs());
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Reader internals
// ---------------------------------------------------------------------------------------------

fn deserialization_error(detail: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Deserialization,
        format!("Failed to deserialize JSON string: {detail}"),
    )
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn explicit_sort_path_sorts_by_code_point() {
        // This path only runs with serde_json's `preserve_order`; test it directly.
        let mut map = Map::new();
        for key in ["b", "a", "é", "Z", "🌍", "\u{ffff}", "aa", ""] {
            map.insert(key.to_owned(), json!(1));
        }
        let mut out = String::new();
        write_object_sorted_explicitly::<true>(&mut out, &map);
        assert_eq!(
            out,
            r#"{"": 1, "Z": 1, "a": 1, "aa": 1, "b": 1, "\u00e9": 1, "\uffff": 1, "\ud83c\udf0d": 1}"#
        );
        assert_eq!(out, to_python_json_object(&map));
    }

    #[test]
    fn the_order_probe_matches_the_build() {
        // serde_json's `preserve_order` feature is switched on for the whole build when any
        // dependency asks for it (bson does, with the mongodb store): the probe must see which
        // map this build has, and the sorted writer must be right either way.
        let map = json!({"b": 1, "a": 2})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(map_iterates_sorted(), keys_are_sorted(&map));
        assert_eq!(to_python_json_object(&map), r#"{"a": 2, "b": 1}"#);
    }

    #[test]
    fn float_layout_accepts_other_formatters_output() {
        for (text, expected) in [
            ("1e16", "1e+16"),
            ("1.5e-7", "1.5e-07"),
            ("0.00001", "1e-05"),
            ("-0e0", "-0.0"),
            ("0.0", "0.0"),
            ("12.50", "12.5"),
            ("100000000000000000000.0", "1e+20"),
            ("1E+2", "100.0"),
            ("0.000123", "0.000123"),
        ] {
            let mut out = String::new();
            assert!(
                write_python_float_layout(&mut out, text.as_bytes()),
                "{text}"
            );
            assert_eq!(out, expected, "{text}");
        }
        for bad in ["", "-", ".", "e5", "1e", "abc", "1..2", "1e+"] {
            let mut out = String::new();
            assert!(
                !write_python_float_layout(&mut out, bad.as_bytes()),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_report_the_position() {
        let err = parse_value("{\n  \"é\": tru\n}").expect_err("must fail");
        assert!(
            err.message()
                .starts_with("Failed to deserialize JSON string: "),
            "{}",
            err.message()
        );
        assert!(err.message().contains(" at line "), "{}", err.message());
        let err = parse_value("[1, -Infinity]").expect_err("must fail");
        assert!(err.message().contains("non-finite"), "{}", err.message());
    }
}

#!/usr/bin/env python3
"""Generates json_vectors.json: golden JSON texts written by real CPython.

Run from the repository root with any python3 (no packages needed):

    python3 crates/core/tests/data/json_gen_vectors.py

It rewrites crates/core/tests/data/json_vectors.json, which crates/core/tests/json_golden.rs
checks. The corpus covers py-key-value's own test cases (tests/shared/cases.py: the SIMPLE_CASES
and large-data cases with the JSON text py-key-value asserts), plus edge cases of floats,
strings, key order and nesting.

Each vector holds:
  name            a label
  input           the value as JSON text (json.dumps(v, ensure_ascii=False): raw UTF-8, the
                  dicts' insertion order), for the Rust side to parse
  sorted          json.dumps(v, sort_keys=True)          (py-key-value's dump_to_json)
  compact         json.dumps(v, separators=(",", ":"))   (compression/encryption wrappers;
                  keys in insertion order)
  compact_sorted  json.dumps(v, separators=(",", ":"), sort_keys=True): what the compact
                  writer gives when serde_json's Map iterates sorted (its default)
"""

import json
import math
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "json_vectors.json")


def bits_to_float(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


cases = []


def case(name, value, expected_sorted=None):
    if expected_sorted is not None:
        got = json.dumps(value, sort_keys=True)
        assert got == expected_sorted, (name, got, expected_sorted)
    cases.append((name, value))


# --- py-key-value tests/shared/cases.py (data, and the JSON text py-key-value asserts) -------
case("pkv-null-value", {"null_key": None}, '{"null_key": null}')
case("pkv-null-list", {"str_key": [None, None, None]}, '{"str_key": [null, null, null]}')
case(
    "pkv-null-nested",
    {"str_key": {"str_key_2": None, "str_key_3": None}},
    '{"str_key": {"str_key_2": null, "str_key_3": null}}',
)
case("pkv-null-key", {"null": "str_value"}, '{"null": "str_value"}')
case("pkv-null-in-value", {"str_key": "null"}, '{"str_key": "null"}')
case("pkv-bool-true", {"bool_true_key": True}, '{"bool_true_key": true}')
case("pkv-bool-false", {"bool_false_key": False}, '{"bool_false_key": false}')
case("pkv-bool-list", {"str_key": [True, False, True]}, '{"str_key": [true, false, true]}')
case(
    "pkv-bool-nested",
    {"str_key": {"str_key_2": True, "str_key_3": False}},
    '{"str_key": {"str_key_2": true, "str_key_3": false}}',
)
case("pkv-bool-key", {"true": "str_value"}, '{"true": "str_value"}')
case("pkv-bool-in-value", {"str_key": "true"}, '{"str_key": "true"}')
case("pkv-int", {"int_key": 1}, '{"int_key": 1}')
case("pkv-int-negative", {"negative_int_key": -42}, '{"negative_int_key": -42}')
case("pkv-int-large", {"large_int_key": 1 * 10**18}, '{"large_int_key": 1000000000000000000}')
case("pkv-int-key", {"1": "str_value"}, '{"1": "str_value"}')
case("pkv-int-in-value", {"str_key": "1"}, '{"str_key": "1"}')
case("pkv-float", {"float_key": 1.0}, '{"float_key": 1.0}')
case(
    "pkv-float-large",
    {"large_float_key": 1.23456789012345 * 10**10},
    '{"large_float_key": %r}' % (1.23456789012345 * 10**10),
)
case("pkv-float-key", {"1.0": "str_value"}, '{"1.0": "str_value"}')
case("pkv-float-in-value", {"str_key": "1.0"}, '{"str_key": "1.0"}')
case("pkv-string", {"string_key": "string_value"}, '{"string_key": "string_value"}')
case("pkv-string-1kb", {"string_key": "a" * 1024}, '{"string_key": "%s"}' % ("a" * 1024))
case(
    "pkv-string-unicode",
    {"unicode_key": "Hello 世界 🌍 émojis"},
    '{"unicode_key": "Hello \\u4e16\\u754c \\ud83c\\udf0d \\u00e9mojis"}',
)
case(
    "pkv-string-special",
    {"special_key": "Line1\nLine2\tTabbed"},
    '{"special_key": "Line1\\nLine2\\tTabbed"}',
)
uuid = "12345678-1234-5678-1234-567812345678"
case("pkv-uuid-key", {uuid: "str_value"}, '{"%s": "str_value"}' % uuid)
case("pkv-uuid-value", {"str_key": uuid}, '{"str_key": "%s"}' % uuid)
case("pkv-bytes-key", {"aGVsbG8gd29ybGQ=": "str_value"}, '{"aGVsbG8gd29ybGQ=": "str_value"}')
case("pkv-tuple", {"str_key": [1, "two", 3.0]}, '{"str_key": [1, "two", 3.0]}')
case("pkv-tuple-large", {"str_key": [1, "two", 3.0] * 1000})
case(
    "pkv-deep-nested",
    {"level1": {"level2": {"level3": {"level4": {"value": "deep"}}}}},
    '{"level1": {"level2": {"level3": {"level4": {"value": "deep"}}}}}',
)
case(
    "pkv-nested-list-dict",
    {"items": [{"id": 1, "name": "item1"}, {"id": 2, "name": "item2"}]},
    '{"items": [{"id": 1, "name": "item1"}, {"id": 2, "name": "item2"}]}',
)
case(  # py-key-value repeats it 1000 times; 100 keeps this file small
    "pkv-nested-list-dict-large",
    {"items": [{"name": "item1", "id": 1}, {"name": "item2", "id": 2}] * 100},
)
case(
    "pkv-nested-dict-list",
    {"categories": {"vegetables": ["carrot", "broccoli"], "fruits": ["apple", "banana"]}},
    '{"categories": {"fruits": ["apple", "banana"], "vegetables": ["carrot", "broccoli"]}}',
)
case("pkv-large-string", {"large_string_key": "a" * 10000})
case("pkv-large-list", {"large_list_key": list(range(1000))})
case(
    "pkv-envelope",
    {
        "version": 1,
        "value": {"name": "Alice", "age": 30},
        "key": "test_key",
        "collection": "test",
        "created_at": "2025-01-01T00:00:00.123456+00:00",
        "expires_at": "2025-01-01T00:00:10.123456+00:00",
    },
    '{"collection": "test", "created_at": "2025-01-01T00:00:00.123456+00:00", '
    '"expires_at": "2025-01-01T00:00:10.123456+00:00", "key": "test_key", '
    '"value": {"age": 30, "name": "Alice"}, "version": 1}',
)

# --- scalars at top level ------------------------------------------------------------------
for name, v in [("null", None), ("true", True), ("false", False)]:
    case("scalar-" + name, v)

# --- integers ------------------------------------------------------------------------------
for v in [0, 1, -1, 42, -42, 10**18, -(10**18), 2**53, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1]:
    case("int-%d" % v, v)
case("ints-in-object", {"zero": 0, "max_u64": 2**64 - 1, "min_i64": -(2**63), "neg": -7})

# --- floats --------------------------------------------------------------------------------
FLOATS = [
    1.23456789012345e10, 1.23456789012345 * 10**10, 0.1, 0.2, 0.1 + 0.2, 1e16, 1e15,
    9999999999999998.0, 1e-5, 1e-4, 0.0001234, 0.00001234, 123456789.0, 5e-324,
    1.7976931348623157e308, -1.7976931348623157e308, -0.0, 0.0, 2.5e-07, 1.0, -1.0, -1.5,
    100.0, 1e22, 1e23, 1e21, 1e100, 1e-100, 1.5e300, 2.2250738585072014e-308,
    2.225073858507201e-308, 4.9406564584124654e-324, 1.23e-310, 4.35e-320, 1 / 3, 2 / 3,
    math.pi, math.e, -math.pi, 9007199254740993.0, 12345678901234567890.0, 0.000099999,
    0.5, 0.25, 1e-7, 1e-07 * 3, 123.456, 1e+16 - 2, 1.0000000000000002, 0.9999999999999999,
    2**-1074 * 3, float(2**1023), 2**53 - 1.0, float(2**63), 1e308, 8.98846567431158e307,
    5e-05, 4.9999999999999996e-05, 0.001, 1234567890123456.7, 12345678901234567.0,
]
for f in dict.fromkeys(FLOATS):  # some literals are the same double (e.g. 5e-324)
    case("float-" + repr(f), f)
case("floats-in-object", {"pi": math.pi, "tiny": 5e-324, "big": 1e300, "neg_zero": -0.0, "one": 1.0})

# 300 random doubles (random bit patterns, finite only) and 200 random "human" decimals.
rng = random.Random(20261125)
random_bits = []
while len(random_bits) < 300:
    f = bits_to_float(rng.getrandbits(64))
    if math.isfinite(f):
        random_bits.append(f)
case("floats-random-bits", random_bits)
case("floats-random-decimal", [round(rng.uniform(-1e6, 1e6), rng.randint(0, 9)) for _ in range(200)])
case("floats-random-scaled", [rng.random() * 10.0 ** rng.randint(-30, 30) for _ in range(200)])

# --- strings -------------------------------------------------------------------------------
STRINGS = {
    "empty": "",
    "plain": "hello",
    "quotes": 'say "hi" \'there\'',
    "backslashes": "back\\slash \\\\ \\n (not a newline) \\u0041",
    "controls": "".join(chr(i) for i in range(0x20)) + "\x7f",
    "slash": "a/b</script>",
    "unicode": "Hello 世界 🌍 émojis",
    "lone-combining": "\u0301",
    "combining": "e\u0301 a\u0308\u0323",
    "latin1": "".join(chr(i) for i in range(0x80, 0x100)),
    "bmp-edges": "\u0800\u07ff\ud7ff\ue000\ufffd\ufeff\uffff",
    "astral": "\U00010000\U0001f600\U0010ffff",
    "line-separators": "\u2028\u2029\x85",
    "mixed-2000": ("ab\"\\\n é世🌍\x01" * 200),
}
for name, s in STRINGS.items():
    case("string-" + name, s)
case("strings-in-object", {"k" + str(i): s for i, s in enumerate(STRINGS.values()) if len(s) < 1000})

# --- containers and key order --------------------------------------------------------------
case("empty-object", {})
case("empty-array", [])
case("empty-nested", {"a": {}, "b": [], "c": [{}], "d": [[]]})
case(
    "keys-need-sorting",
    {
        "b": 1, "a": 2, "B": 3, "A": 4, "é": 5, "e": 6, "🌍": 7, "\uffff": 8, "\ue000": 9,
        "10": 10, "9": 11, "": 12, "aa": 13, "a a": 14, "_": 15, "~": 16, "\x7f": 17,
        "\x00": 18, "Z": 19, "z": 20, "世界": 21, "\U0010ffff": 22, "émojis": 23,
    },
)
case(
    "keys-nested-sorting",
    {"z": {"y": {"x": [{"b": 1, "a": 2}]}, "a": [3, {"d": {"c": None}}]}, "m": "middle"},
)
case("key-escapes", {'q"uote': 1, "back\\slash": 2, "new\nline": 3, "tab\t": 4, "\U0001f600": 5})
case("array-mixed", [None, True, False, 0, -1, 1.5, "s", [], {}, [1, [2, [3]]], {"k": [None]}])
deep = "leaf"
for i in range(100):
    deep = {"level%03d" % (100 - i): deep} if i % 2 else [deep, i]
case("deep-100", deep)
case(
    "typical-1kib",
    {
        "id": 123456,
        "user": {"name": "Alice Müller", "email": "alice@example.com", "age": 34,
                 "active": True, "score": 98.25, "tags": ["admin", "beta", "ünïcödé"]},
        "items": [{"sku": "A-%d" % i, "qty": i, "price": 9.99 + i, "note": None} for i in range(8)],
        "created_at": "2025-01-01T00:00:00.123456+00:00",
        "ratio": 0.3333333333333333,
        "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 3,
    },
)

vectors = []
for name, value in cases:
    vectors.append(
        {
            "name": name,
            "input": json.dumps(value, ensure_ascii=False),
            "sorted": json.dumps(value, sort_keys=True),
            "compact": json.dumps(value, separators=(",", ":")),
            "compact_sorted": json.dumps(value, separators=(",", ":"), sort_keys=True),
        }
    )

names = [v["name"] for v in vectors]
assert len(names) == len(set(names)), "duplicate vector names"

doc = {
    "generator": "crates/core/tests/data/json_gen_vectors.py",
    "python": sys.version.split()[0],
    "vectors": vectors,
}
with open(OUT, "w", encoding="ascii", newline="\n") as fh:
    json.dump(doc, fh, indent=1)
    fh.write("\n")
print("wrote %d vectors to %s" % (len(vectors), OUT))

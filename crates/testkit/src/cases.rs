//! Values the suite stores: py-key-value's test cases and a few more.

use key_value_core::{Object, object};

/// Small values of every JSON type (py-key-value's `SIMPLE_CASES`, plus edge numbers).
pub fn simple_cases() -> Vec<(&'static str, Object)> {
    vec![
        ("null", object!({"v": null})),
        ("true", object!({"v": true})),
        ("false", object!({"v": false})),
        ("zero", object!({"v": 0})),
        ("negative", object!({"v": -42})),
        ("i64_max", object!({"v": i64::MAX})),
        ("i64_min", object!({"v": i64::MIN})),
        ("u64_max", object!({"v": u64::MAX})),
        ("float", object!({"v": 1.5})),
        ("small_float", object!({"v": 1e-7})),
        ("big_float", object!({"v": 1e300})),
        ("string", object!({"v": "hello"})),
        ("empty_string", object!({"v": ""})),
        (
            "uuid_string",
            object!({"v": "123e4567-e89b-12d3-a456-426614174000"}),
        ),
        (
            "escapes",
            object!({"v": "quote \" backslash \\ newline \n tab \t nul \u{0}"}),
        ),
        (
            "array",
            object!({"v": [1, "two", 3.0, null, true, {"x": []}]}),
        ),
        (
            "nested",
            object!({"a": {"b": {"c": {"d": [1, 2, {"e": "f"}]}}}}),
        ),
        (
            "many_keys",
            object!({"z": 1, "a": 2, "M": 3, "_": 4, "0": 5}),
        ),
    ]
}

/// Large values (py-key-value's `LARGE_DATA_CASES`): a 10,000-character string, 10^18, a
/// float with many digits and the list 0..1000.
pub fn large_cases() -> Vec<(&'static str, Object)> {
    vec![
        ("long_string", object!({"v": "a".repeat(10_000)})),
        ("big_int", object!({"v": 1_000_000_000_000_000_000_i64})),
        ("precise_float", object!({"v": 1.23456789012345e10})),
        ("long_list", object!({"v": (0..1000).collect::<Vec<i32>>()})),
    ]
}

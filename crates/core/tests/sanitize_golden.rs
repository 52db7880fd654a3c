//! Golden vectors from the real py-key-value 0.4.6: every low-level function and strategy of
//! `key_value_core::sanitize` must give exactly py-key-value's output.
//!
//! The vectors are in `data/sanitize_vectors.json`, written by `data/gen_sanitize_vectors.py`
//! (see its header for how to run it). Inputs are stored once in `corpus`; each case names its
//! input by index `i`, its expected output `out` (absent when equal to the input), the error
//! `err`, and for strategies `unsan`, the result of `try_unsanitize(<output>)` (absent for
//! `None`, `true` for "its argument").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::sync::OnceLock;

use key_value_core::ErrorKind;
use key_value_core::sanitize::{
    AlwaysHashStrategy, AzureTablesSanitizationStrategy,
    ElasticsearchV1CollectionSanitizationStrategy, ElasticsearchV1KeySanitizationStrategy,
    FileTreeV1CollectionSanitizationStrategy, FileTreeV1KeySanitizationStrategy,
    FirestoreV1CollectionSanitizationStrategy, FirestoreV1KeySanitizationStrategy,
    HashExcessLengthStrategy, HashFragmentMode, HybridSanitizationStrategy,
    KeyringV1CollectionSanitizationStrategy, KeyringV1KeySanitizationStrategy,
    MemcachedV1KeySanitizationStrategy, MongoDbV1CollectionSanitizationStrategy,
    OpenSearchV1CollectionSanitizationStrategy, OpenSearchV1KeySanitizationStrategy,
    PassthroughStrategy, S3CollectionSanitizationStrategy, S3KeySanitizationStrategy,
    SanitizationStrategy, SanitizeStringOptions, WindowsRegistryV1CollectionSanitizationStrategy,
    hash_excess_length, sanitize_characters_in_string, sanitize_string,
};
use serde_json::Value;

const VECTORS: &str = include_str!("data/sanitize_vectors.json");

/// The number of cases in the file; update it when regenerating with a different corpus.
const EXPECTED_CASES: usize = 28338;

fn data() -> &'static Value {
    static DATA: OnceLock<Value> = OnceLock::new();
    DATA.get_or_init(|| serde_json::from_str(VECTORS).expect("sanitize_vectors.json parses"))
}

fn corpus() -> &'static [Value] {
    data()["corpus"].as_array().expect("corpus")
}

fn groups(section: &str) -> &'static [Value] {
    data()[section].as_array().expect(section)
}

fn cases(group: &Value) -> &[Value] {
    group["cases"].as_array().expect("cases")
}

fn input(case: &Value) -> &'static str {
    let i = case["i"].as_u64().expect("i") as usize;
    corpus()[i].as_str().expect("corpus string")
}

/// The expected output of a case: `out`, or the input itself when absent.
fn expected(case: &Value) -> &str {
    case.get("out")
        .map(|v| v.as_str().expect("out"))
        .unwrap_or_else(|| input(case))
}

fn str_param<'a>(group: &'a Value, name: &str) -> &'a str {
    group[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {group}"))
}

fn usize_param(group: &Value, name: &str) -> usize {
    group[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {group}")) as usize
}

fn header(group: &Value) -> String {
    let mut g = group.clone();
    if let Some(obj) = g.as_object_mut() {
        obj.remove("cases");
    }
    g.to_string()
}

#[test]
fn the_vectors_come_from_py_key_value_0_4_6() {
    assert_eq!(data()["py_key_value_aio"], "0.4.6");
    let total: usize = [
        "sanitize_characters_in_string",
        "sanitize_string",
        "hash_excess_length",
        "strategies",
    ]
    .iter()
    .flat_map(|s| groups(s))
    .map(|g| cases(g).len())
    .sum();
    assert_eq!(total, EXPECTED_CASES);
}

#[test]
fn sanitize_characters_in_string_matches() {
    let mut n = 0;
    for group in groups("sanitize_characters_in_string") {
        let allowed = str_param(group, "allowed");
        let replace_with = str_param(group, "replace_with");
        for case in cases(group) {
            let value = input(case);
            let got = sanitize_characters_in_string(value, allowed, replace_with);
            assert_eq!(got, expected(case), "{} value {value:?}", header(group));
            n += 1;
        }
    }
    assert!(n > 1000, "{n}");
}

#[test]
fn sanitize_string_matches() {
    let mut errors = 0;
    for group in groups("sanitize_string") {
        let mut options = SanitizeStringOptions::new(usize_param(group, "max_length"))
            .with_replacement_character(str_param(group, "replacement_character"))
            .with_hash_fragment_separator(str_param(group, "hash_fragment_separator"))
            .with_hash_fragment_mode(str_param(group, "hash_fragment_mode").parse().unwrap())
            .with_hash_fragment_length(usize_param(group, "hash_fragment_length"))
            .with_length_is_bytes(group["length_is_bytes"].as_bool().unwrap());
        options.allowed_characters = group["allowed_characters"].as_str();
        for case in cases(group) {
            let value = input(case);
            let got = sanitize_string(value, &options);
            match case.get("err") {
                Some(err) => {
                    let e = got.expect_err(&format!("{} value {value:?}", header(group)));
                    assert_eq!(e.message(), err.as_str().unwrap());
                    let kind = if options.max_length >= 16
                        && options.hash_fragment_length <= options.max_length / 2
                    {
                        ErrorKind::InvalidKey
                    } else {
                        ErrorKind::Config
                    };
                    assert_eq!(e.kind(), kind, "{e}");
                    errors += 1;
                }
                None => {
                    let got = got.unwrap_or_else(|e| panic!("{} {value:?}: {e}", header(group)));
                    assert_eq!(got, expected(case), "{} value {value:?}", header(group));
                }
            }
        }
    }
    assert!(errors > 100, "{errors}");
}

#[test]
fn hash_excess_length_matches() {
    for group in groups("hash_excess_length") {
        let max_length = usize_param(group, "max_length");
        let bytes = group["length_is_bytes"].as_bool().unwrap();
        for case in cases(group) {
            let value = input(case);
            let got = hash_excess_length(value, max_length, bytes);
            match case.get("err") {
                Some(err) => {
                    let e = got.expect_err("an error");
                    assert_eq!(e.message(), err.as_str().unwrap());
                    assert_eq!(e.kind(), ErrorKind::Config);
                }
                None => {
                    let got = got.unwrap();
                    assert_eq!(got, expected(case), "{} value {value:?}", header(group));
                    // unchanged values are not copied
                    assert_eq!(
                        matches!(got, Cow::Borrowed(_)),
                        case.get("out").is_none(),
                        "{value:?}"
                    );
                }
            }
        }
    }
}

fn hybrid_from(params: &Value) -> HybridSanitizationStrategy {
    let mut builder = HybridSanitizationStrategy::builder()
        .max_length(usize_param(params, "max_length"))
        .hash_fragment_mode(
            str_param(params, "hash_fragment_mode")
                .parse::<HashFragmentMode>()
                .unwrap(),
        )
        .hash_fragment_length(usize_param(params, "hash_fragment_length"));
    let replacement = str_param(params, "replacement_character");
    let mut chars = replacement.chars();
    builder = builder.replacement_character(chars.next().unwrap());
    assert!(chars.next().is_none(), "single-character replacement");
    if let Some(allowed) = params["allowed_characters"].as_str() {
        builder = builder.allowed_characters(allowed);
    }
    builder.build().unwrap()
}

/// Checks a Hybrid preset against py-key-value's effective parameters.
fn check_effective(hybrid: &HybridSanitizationStrategy, group: &Value) {
    let effective = &group["effective"];
    assert_eq!(*hybrid, hybrid_from(effective), "{}", header(group));
}

fn strategy_for(group: &Value) -> Box<dyn SanitizationStrategy> {
    let params = &group["params"];
    let name = str_param(group, "strategy");
    match name {
        "passthrough" => Box::new(PassthroughStrategy),
        "always_hash" => {
            Box::new(AlwaysHashStrategy::new(usize_param(params, "hash_length")).unwrap())
        }
        "hash_excess_length" => {
            Box::new(HashExcessLengthStrategy::new(usize_param(params, "max_length")).unwrap())
        }
        "hybrid" => Box::new(hybrid_from(params)),
        "memcached_v1_key" => Box::new(MemcachedV1KeySanitizationStrategy::new()),
        "mongodb_v1_collection" => {
            let s = MongoDbV1CollectionSanitizationStrategy::new();
            check_effective(s.as_ref(), group);
            Box::new(s)
        }
        "elasticsearch_v1_key" => Box::new(ElasticsearchV1KeySanitizationStrategy::new()),
        "elasticsearch_v1_collection" => {
            let s = ElasticsearchV1CollectionSanitizationStrategy::new();
            check_effective(s.as_ref(), group);
            Box::new(s)
        }
        "opensearch_v1_key" => Box::new(OpenSearchV1KeySanitizationStrategy::new()),
        "opensearch_v1_collection" => {
            let s = OpenSearchV1CollectionSanitizationStrategy::new();
            check_effective(s.as_ref(), group);
            Box::new(s)
        }
        "keyring_v1_key" => {
            let s = KeyringV1KeySanitizationStrategy::new();
            check_effective(s.as_ref(), group);
            Box::new(s)
        }
        "keyring_v1_collection" => {
            let s = KeyringV1CollectionSanitizationStrategy::new();
            check_effective(s.as_ref(), group);
            Box::new(s)
        }
        "windows_registry_v1_collection" => {
            let s = WindowsRegistryV1CollectionSanitizationStrategy::new();
            check_effective(s.as_ref(), group);
            Box::new(s)
        }
        "azure_tables" => Box::new(AzureTablesSanitizationStrategy),
        "firestore_v1_key" => Box::new(FirestoreV1KeySanitizationStrategy),
        "firestore_v1_collection" => Box::new(FirestoreV1CollectionSanitizationStrategy),
        "s3_key" => match params.get("max_bytes") {
            Some(n) => {
                Box::new(S3KeySanitizationStrategy::new(n.as_u64().unwrap() as usize).unwrap())
            }
            None => Box::new(S3KeySanitizationStrategy::default()),
        },
        "s3_collection" => match params.get("max_bytes") {
            Some(n) => Box::new(
                S3CollectionSanitizationStrategy::new(n.as_u64().unwrap() as usize).unwrap(),
            ),
            None => Box::new(S3CollectionSanitizationStrategy::default()),
        },
        "filetree_v1_collection" => {
            let s = FileTreeV1CollectionSanitizationStrategy::new(str_param(params, "directory"))
                .unwrap();
            check_effective(s.as_ref(), group);
            Box::new(s)
        }
        "filetree_v1_key" => {
            let s = FileTreeV1KeySanitizationStrategy::new(str_param(params, "directory")).unwrap();
            check_effective(s.as_ref(), group);
            Box::new(s)
        }
        other => panic!("unknown strategy {other}"),
    }
}

#[test]
fn strategies_match() {
    let mut checked = 0;
    for group in groups("strategies") {
        let name = str_param(group, "strategy");
        // file tree directories leaving fewer than 16 characters: rejected by the Rust port
        if name == "filetree_v1_key" && usize_param(&group["effective"], "max_length") < 16 {
            let dir = str_param(&group["params"], "directory");
            let err = FileTreeV1KeySanitizationStrategy::new(dir).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            continue;
        }
        let strategy = strategy_for(group);
        for case in cases(group) {
            let value = input(case);
            let what = format!("{} value {value:?}", header(group));

            let sanitized = strategy.sanitize(value);
            assert_eq!(sanitized, expected(case), "sanitize: {what}");
            if case.get("out").is_none() {
                assert!(
                    matches!(sanitized, Cow::Borrowed(_)),
                    "not borrowed: {what}"
                );
            }

            match case.get("err") {
                Some(err) => {
                    let e = strategy.validate(value).expect_err(&what);
                    assert_eq!(e.kind(), ErrorKind::InvalidKey, "{what}");
                    assert_eq!(e.message(), err.as_str().unwrap(), "{what}");
                    assert!(strategy.validate_and_sanitize(value).is_err());
                }
                None => {
                    strategy
                        .validate(value)
                        .unwrap_or_else(|e| panic!("validate: {what}: {e}"));
                    assert_eq!(strategy.validate_and_sanitize(value).unwrap(), sanitized);
                }
            }

            let unsanitized = strategy.try_unsanitize(&sanitized);
            match case.get("unsan") {
                None => assert_eq!(unsanitized, None, "try_unsanitize: {what}"),
                Some(Value::Bool(true)) => {
                    assert_eq!(
                        unsanitized.as_deref(),
                        Some(&*sanitized),
                        "try_unsanitize: {what}"
                    )
                }
                Some(other) => {
                    assert_eq!(
                        unsanitized.as_deref(),
                        other.as_str(),
                        "try_unsanitize: {what}"
                    )
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn every_strategy_is_covered() {
    let names: std::collections::BTreeSet<&str> = groups("strategies")
        .iter()
        .map(|g| str_param(g, "strategy"))
        .collect();
    for name in [
        "passthrough",
        "always_hash",
        "hash_excess_length",
        "hybrid",
        "memcached_v1_key",
        "mongodb_v1_collection",
        "elasticsearch_v1_key",
        "elasticsearch_v1_collection",
        "opensearch_v1_key",
        "opensearch_v1_collection",
        "keyring_v1_key",
        "keyring_v1_collection",
        "windows_registry_v1_collection",
        "azure_tables",
        "firestore_v1_key",
        "firestore_v1_collection",
        "s3_key",
        "s3_collection",
        "filetree_v1_collection",
        "filetree_v1_key",
    ] {
        assert!(names.contains(name), "{name}");
    }
}

//! The examples of the py-key-value specification (sections 3.1 to 3.3 and 11), as explicit
//! unit tests, plus the deliberate differences of the Rust port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::sync::Arc;

use key_value_core::ErrorKind;
use key_value_core::sanitize::*;

fn sha(value: &str) -> String {
    sha256_hex(value)
}

// ---------------------------------------------------------------------------------------------
// 3.1 low level
// ---------------------------------------------------------------------------------------------

#[test]
fn constants() {
    assert_eq!(MINIMUM_MAX_LENGTH, 16);
    assert_eq!(DEFAULT_HASH_FRAGMENT_SIZE, 8);
    assert_eq!(DEFAULT_HASH_FRAGMENT_SEPARATOR, "-");
    assert_eq!(DEFAULT_REPLACEMENT_CHARACTER, '_');
    assert_eq!(
        ALPHANUMERIC_CHARACTERS,
        format!("{LOWERCASE_ALPHABET}{UPPERCASE_ALPHABET}{NUMBERS}")
    );
}

#[test]
fn hash_is_sha256_of_utf8_lowercase_hex() {
    assert_eq!(
        sha256_hex(""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(generate_hash_fragment("test", 8), "9f86d081");
    assert_eq!(generate_hash_fragment("test", 100).len(), 64);
    assert_eq!(generate_hash_fragment("😀", 8), &sha("😀")[..8]);
}

#[test]
fn sanitize_characters_in_string_spec_examples() {
    assert_eq!(
        sanitize_characters_in_string("test::key", ALPHANUMERIC_CHARACTERS, "_"),
        "test_key"
    );
    assert_eq!(
        sanitize_characters_in_string("Test123", LOWERCASE_ALPHABET, "_"),
        "_est_"
    );
    // runs collapse; an input made only of disallowed characters gives ""
    assert_eq!(
        sanitize_characters_in_string("a!@#b", ALPHANUMERIC_CHARACTERS, "_"),
        "a_b"
    );
    assert_eq!(
        sanitize_characters_in_string("!!!", ALPHANUMERIC_CHARACTERS, "_"),
        ""
    );
    assert_eq!(
        sanitize_characters_in_string("", ALPHANUMERIC_CHARACTERS, "_"),
        ""
    );
}

#[test]
fn sanitize_characters_in_string_quirks() {
    // the "exactly one character and last replaced" rule, with unusual replacements
    assert_eq!(
        sanitize_characters_in_string("a!", ALPHANUMERIC_CHARACTERS, ""),
        ""
    );
    assert_eq!(
        sanitize_characters_in_string("!", ALPHANUMERIC_CHARACTERS, "xy"),
        "xy"
    );
    // a replaced "_" by "_" looks unchanged
    assert_eq!(
        sanitize_characters_in_string("a_b", ALPHANUMERIC_CHARACTERS, "_"),
        "a_b"
    );
}

#[test]
fn sanitize_string_spec_examples() {
    let always = SanitizeStringOptions::new(16).with_hash_fragment_mode(HashFragmentMode::Always);
    assert_eq!(
        sanitize_string("test string", &always).unwrap(),
        "test st-d5579c46"
    );
    let digits = SanitizeStringOptions::new(16).with_allowed_characters(NUMBERS);
    assert_eq!(sanitize_string("test", &digits).unwrap(), "9f86d081");
    let lower = SanitizeStringOptions::new(16).with_allowed_characters(LOWERCASE_ALPHABET);
    assert_eq!(
        sanitize_string("test with spaces", &lower).unwrap(),
        "test_wi-ed2daf39"
    );
}

#[test]
fn sanitize_string_modes() {
    let opts = |mode| {
        SanitizeStringOptions::new(16)
            .with_allowed_characters(ALPHANUMERIC_CHARACTERS)
            .with_hash_fragment_mode(mode)
    };
    // unchanged values are returned as they are (borrowed) only if changed
    let got = sanitize_string("abc", &opts(HashFragmentMode::OnlyIfChanged)).unwrap();
    assert!(matches!(got, Cow::Borrowed("abc")));
    assert_eq!(
        sanitize_string("abc", &opts(HashFragmentMode::Always)).unwrap(),
        format!("abc-{}", &sha("abc")[..8])
    );
    // NEVER: truncate only, error when everything was sanitized away
    assert_eq!(
        sanitize_string("a:b:c:d:e:f:g:h:i:j", &opts(HashFragmentMode::Never)).unwrap(),
        "a_b_c_d_e_f_g_h_"
    );
    let err = sanitize_string("!!!", &opts(HashFragmentMode::Never)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    assert_eq!(
        err.message(),
        "Entire value was sanitized and hash_fragment_mode is HashFragmentMode.NEVER"
    );
    // everything sanitized away with a hash: the fragment alone
    assert_eq!(
        sanitize_string("!!!", &opts(HashFragmentMode::Always)).unwrap(),
        &sha("!!!")[..8]
    );
}

#[test]
fn sanitize_string_parameter_errors() {
    let err = sanitize_string("x", &SanitizeStringOptions::new(15)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.message(),
        "max_length must be greater than or equal to 16"
    );
    let err = sanitize_string(
        "x",
        &SanitizeStringOptions::new(16).with_hash_fragment_length(9),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.message(),
        "hash_fragment_length must be less than or equal to half of max_length"
    );
}

#[test]
fn sanitize_string_rejects_a_separator_that_does_not_fit() {
    // Deliberate difference: py-key-value slices with a negative index here (value[:-2]),
    // cutting from the end and exceeding max_length.
    let options = SanitizeStringOptions::new(16)
        .with_hash_fragment_mode(HashFragmentMode::Always)
        .with_hash_fragment_separator("----------");
    let err = sanitize_string("value", &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    // NEVER does not use the separator
    let never = options.with_hash_fragment_mode(HashFragmentMode::Never);
    assert_eq!(sanitize_string("value", &never).unwrap(), "value");
}

#[test]
fn hash_excess_length_spec() {
    assert_eq!(
        hash_excess_length("x".repeat(16).as_str(), 16, false).unwrap(),
        "x".repeat(16)
    );
    let long = "x".repeat(17);
    assert_eq!(
        hash_excess_length(&long, 16, false).unwrap(),
        format!("{}{}", "x".repeat(8), &sha(&long)[..8])
    );
    // bytes: never splits a code point
    let emoji = "😀".repeat(5); // 20 bytes
    assert_eq!(
        hash_excess_length(&emoji, 16, true).unwrap(),
        format!("😀😀{}", &sha(&emoji)[..8])
    );
    // characters: 5 characters fit in 16
    assert_eq!(hash_excess_length(&emoji, 16, false).unwrap(), emoji);
    let err = hash_excess_length("x", 15, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn truncation_helpers() {
    assert_eq!(truncate_chars("e\u{301}x", 1), "e");
    assert_eq!(truncate_to_bytes("日本", 5), "日");
    assert_eq!(truncate_to_bytes("日本", 0), "");
    assert_eq!(char_len("日本😀"), 3);
}

// ---------------------------------------------------------------------------------------------
// 3.2 strategies
// ---------------------------------------------------------------------------------------------

#[test]
fn passthrough() {
    let s = PassthroughStrategy;
    assert!(matches!(s.sanitize("a::b"), Cow::Borrowed("a::b")));
    assert!(s.validate("H_x").is_ok());
    assert_eq!(s.try_unsanitize("a::b").as_deref(), Some("a::b"));
}

#[test]
fn always_hash() {
    assert_eq!(AlwaysHashStrategy::default().sanitize("test"), sha("test"));
    assert_eq!(
        AlwaysHashStrategy::new(9).unwrap().sanitize("test"),
        &sha("test")[..9]
    );
    for bad in [0, 8, 65] {
        let err = AlwaysHashStrategy::new(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(
            err.message(),
            format!("hash_length must be greater than 8 and less than 64: {bad}")
        );
    }
    // py-key-value returns its argument (meaningless, kept for fidelity)
    assert_eq!(
        AlwaysHashStrategy::default()
            .try_unsanitize("abc")
            .as_deref(),
        Some("abc")
    );
    assert!(AlwaysHashStrategy::default().validate("H_x").is_ok());
}

#[test]
fn hash_excess_length_strategy() {
    let s = HashExcessLengthStrategy::default();
    assert_eq!(s.max_length(), 240);
    let at = "k".repeat(240);
    assert!(matches!(s.sanitize(&at), Cow::Borrowed(_)));
    let over = "k".repeat(241);
    assert_eq!(s.sanitize(&over), format!("H_{}", sha(&over)));
    // with a small max_length the hash is cut to max_length - 2
    let small = HashExcessLengthStrategy::new(20).unwrap();
    assert_eq!(small.sanitize(&over), format!("H_{}", &sha(&over)[..18]));
    // lengths are characters, not bytes
    assert!(matches!(small.sanitize(&"😀".repeat(20)), Cow::Borrowed(_)));
    for v in ["H_", "S_x"] {
        let err = s.validate(v).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        assert_eq!(
            err.message(),
            format!("Keys cannot start with reserved prefixes 'H_' or 'S_': {v}")
        );
    }
    assert!(s.validate("h_x").is_ok() && s.validate("xH_").is_ok());
    assert_eq!(s.try_unsanitize("x"), None);
    assert_eq!(
        HashExcessLengthStrategy::new(15).unwrap_err().kind(),
        ErrorKind::Config
    );
}

fn hybrid(mode: HashFragmentMode) -> HybridSanitizationStrategy {
    HybridSanitizationStrategy::builder()
        .allowed_characters(ALPHANUMERIC_CHARACTERS)
        .hash_fragment_mode(mode)
        .build()
        .unwrap()
}

#[test]
fn hybrid_spec_examples() {
    assert_eq!(
        hybrid(HashFragmentMode::OnlyIfChanged).sanitize("test::key"),
        "S_test_key-a2bc4860"
    );
    assert_eq!(
        hybrid(HashFragmentMode::Never).sanitize("test::key"),
        "S_test_key"
    );
    assert_eq!(
        hybrid(HashFragmentMode::Always).sanitize("testkey"),
        format!("S_testkey-{}", &sha("testkey")[..8])
    );
    // empty stays empty unless the hash is always added
    assert_eq!(hybrid(HashFragmentMode::OnlyIfChanged).sanitize(""), "");
    assert_eq!(hybrid(HashFragmentMode::Never).sanitize(""), "");
    assert_eq!(
        hybrid(HashFragmentMode::Always).sanitize(""),
        format!("S_-{}", &sha("")[..8])
    );
}

#[test]
fn hybrid_long_clean_values_get_no_hash() {
    // ONLY_IF_CHANGED + over-long but clean: "S_" + value[:max-2], no hash (collision-prone)
    let s = hybrid(HashFragmentMode::OnlyIfChanged);
    let a = format!("{}a", "p".repeat(300));
    let b = format!("{}b", "p".repeat(300));
    assert_eq!(s.sanitize(&a), format!("S_{}", "p".repeat(238)));
    assert_eq!(s.sanitize(&a), s.sanitize(&b));
    // with a disallowed character, the hash of the original value is added
    let c = format!("{}!", "p".repeat(300));
    assert_eq!(
        s.sanitize(&c),
        format!("S_{}-{}", "p".repeat(229), &sha(&c)[..8])
    );
}

#[test]
fn hybrid_lengths_are_characters() {
    let s = HybridSanitizationStrategy::builder()
        .max_length(16)
        .build()
        .unwrap();
    let v = "日".repeat(16);
    assert!(matches!(s.sanitize(&v), Cow::Borrowed(_)));
    let v = "日".repeat(17);
    assert_eq!(s.sanitize(&v), format!("S_{}", "日".repeat(14)));
}

#[test]
fn hybrid_validation_and_builder_errors() {
    let s = HybridSanitizationStrategy::default();
    assert_eq!(
        s.validate("S_x").unwrap_err().message(),
        "Keys cannot start with reserved prefixes 'H_' or 'S_': S_x"
    );
    assert_eq!(s.try_unsanitize("x"), None);
    for builder in [
        HybridSanitizationStrategy::builder().max_length(15),
        HybridSanitizationStrategy::builder().hash_fragment_length(0),
        HybridSanitizationStrategy::builder().hash_fragment_length(65),
        HybridSanitizationStrategy::builder()
            .max_length(16)
            .hash_fragment_length(13),
    ] {
        assert_eq!(builder.build().unwrap_err().kind(), ErrorKind::Config);
    }
    // an empty allowed set means "everything allowed"
    let empty = HybridSanitizationStrategy::builder()
        .allowed_characters("")
        .build()
        .unwrap();
    assert_eq!(empty.allowed_characters(), None);
    assert_eq!(empty.sanitize("a::b"), "a::b");
}

// ---------------------------------------------------------------------------------------------
// 3.3 per-store strategies
// ---------------------------------------------------------------------------------------------

#[test]
fn memcached() {
    let s = MemcachedV1KeySanitizationStrategy::new();
    assert_eq!(s.as_ref().max_length(), 240);
    let compound = format!("users::{}", "k".repeat(240));
    assert_eq!(s.sanitize(&compound), format!("H_{}", sha(&compound)));
}

#[test]
fn mongodb_spec_example() {
    let s = MongoDbV1CollectionSanitizationStrategy::new();
    assert_eq!(
        s.sanitize("test_collection!@#$%^&*()"),
        "S_test_collection_-daf4a2ec"
    );
    assert_eq!(s.as_ref().max_length(), 200);
}

#[test]
fn elasticsearch_and_opensearch() {
    let key = ElasticsearchV1KeySanitizationStrategy::new();
    assert_eq!(key.sanitize("k"), sha("k"));
    assert_eq!(
        OpenSearchV1KeySanitizationStrategy::new().sanitize("k"),
        sha("k")
    );
    let coll = ElasticsearchV1CollectionSanitizationStrategy::new();
    // every collection is prefixed and hashed, even a valid one
    assert_eq!(
        coll.sanitize("My-Index.v1"),
        format!("S_My-Index.v1-{}", &sha("My-Index.v1")[..8])
    );
    assert_eq!(
        OpenSearchV1CollectionSanitizationStrategy::new().sanitize("a b"),
        coll.sanitize("a b")
    );
    assert_eq!(coll.sanitize(&"x".repeat(500)).chars().count(), 200);
}

#[test]
fn keyring_and_windows_registry() {
    assert_eq!(
        KeyringV1KeySanitizationStrategy::new()
            .as_ref()
            .max_length(),
        256
    );
    assert_eq!(
        KeyringV1CollectionSanitizationStrategy::new().sanitize("a_b"),
        "a_b"
    );
    assert_eq!(
        KeyringV1CollectionSanitizationStrategy::new().sanitize("a-b"),
        format!("S_a_b-{}", &sha("a-b")[..8])
    );
    assert_eq!(
        WindowsRegistryV1CollectionSanitizationStrategy::new()
            .as_ref()
            .max_length(),
        96
    );
}

#[test]
fn file_tree_limits() {
    assert_eq!(FILE_TREE_NAME_MAX, 255);
    let coll = FileTreeV1CollectionSanitizationStrategy::new("/data").unwrap();
    assert_eq!(coll.as_ref().max_length(), 245);
    let key = FileTreeV1KeySanitizationStrategy::new("/data").unwrap();
    assert_eq!(key.as_ref().max_length(), 250);
    assert_eq!(
        FileTreeV1CollectionSanitizationStrategy::with_limits("/data", 25)
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
    // min(PATH_MAX - len(dir), NAME_MAX - 5)
    let key = FileTreeV1KeySanitizationStrategy::with_limits("/data", 255, 100).unwrap();
    assert_eq!(key.as_ref().max_length(), 95);
}

#[cfg(unix)]
#[test]
fn file_tree_counts_the_directory_like_python_path_as_posix() {
    let max = |dir: &str| {
        FileTreeV1KeySanitizationStrategy::with_limits(dir, 1000, 200)
            .unwrap()
            .as_ref()
            .max_length()
    };
    assert_eq!(max("/ab/cd"), 200 - 6);
    assert_eq!(max("/ab//cd/./"), 200 - 6);
    assert_eq!(max("//ab/cd"), 200 - 7); // exactly two leading slashes are kept
    assert_eq!(max("///ab/cd"), 200 - 6);
    assert_eq!(max(""), 200 - 1); // "."
    assert_eq!(max("./ab"), 200 - 2);
    assert_eq!(max("/"), 200 - 1);
    assert_eq!(max("/日本"), 200 - 3); // characters, not bytes
    use std::os::unix::ffi::OsStrExt;
    let odd = std::ffi::OsStr::from_bytes(b"/a\xff\xfeb");
    let s = FileTreeV1KeySanitizationStrategy::with_limits(odd, 1000, 200).unwrap();
    assert_eq!(s.as_ref().max_length(), 200 - 5); // one character per undecodable byte
}

#[test]
fn s3() {
    let s = S3KeySanitizationStrategy::default();
    assert_eq!(s.max_bytes(), 500);
    assert!(s.validate("H_x").is_ok() && s.validate("S_x").is_ok());
    assert_eq!(s.try_unsanitize("x"), None);
    let v = "é".repeat(251); // 502 bytes
    let out = s.sanitize(&v);
    assert_eq!(out, format!("{}{}", "é".repeat(246), &sha(&v)[..8]));
    assert!(out.len() <= 500);
    assert_eq!(
        S3CollectionSanitizationStrategy::default().sanitize(&v),
        out
    );
    assert_eq!(
        S3KeySanitizationStrategy::new(15).unwrap_err().kind(),
        ErrorKind::Config
    );
    assert_eq!(
        S3CollectionSanitizationStrategy::new(15)
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
}

// ---------------------------------------------------------------------------------------------
// 11 Azure Tables, and Firestore (0.4.6)
// ---------------------------------------------------------------------------------------------

#[test]
fn azure_tables() {
    let s = AzureTablesSanitizationStrategy;
    let hashed = |v: &str| format!("H_{}", sha(v));
    let max = "x".repeat(256);
    assert!(matches!(s.sanitize(&max), Cow::Borrowed(_)));
    let over = "x".repeat(257);
    assert_eq!(s.sanitize(&over), hashed(&over));
    assert!(matches!(s.sanitize(&"日".repeat(256)), Cow::Borrowed(_)));
    for bad in [
        "a/b", "a\\b", "a#b", "a?b", "\u{0}", "\u{1f}", "\u{7f}", "\u{85}", "\u{9f}",
    ] {
        assert_eq!(s.sanitize(bad), hashed(bad), "{bad:?}");
    }
    for good in [" ", "~", "\u{a0}", "user:1", "日本", "😀", "", "a.b-c_d"] {
        assert_eq!(s.sanitize(good), good, "{good:?}");
    }
    let err = s.validate("H_x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    assert_eq!(
        err.message(),
        "Azure Tables keys cannot start with reserved prefixes 'H_' or 'S_': H_x"
    );
    assert_eq!(s.try_unsanitize(&hashed("a/b")), None);
    assert_eq!(s.try_unsanitize("user:1").as_deref(), Some("user:1"));
}

#[test]
fn firestore() {
    let s = FirestoreV1KeySanitizationStrategy;
    let prefixed = |v: &str, kept: &str| format!("S_{kept}-{}", sha(v));
    for (v, kept) in [
        ("", ""),
        (".", "."),
        ("..", ".."),
        ("a/b", "a_b"),
        ("__x__", "__x__"),
        ("____", "____"),
    ] {
        assert_eq!(s.sanitize(v), prefixed(v, kept), "{v:?}");
    }
    // `.` of the regex does not match a newline; "___" is too short
    for v in ["__a\nb__", "___", "...", "_x__"] {
        assert_eq!(s.sanitize(v), v, "{v:?}");
    }
    let long = "é".repeat(751); // 1502 bytes
    assert_eq!(s.sanitize(&long), format!("H_{}", sha(&long)));
    let at = "é".repeat(750);
    assert_eq!(s.sanitize(&at), at);
    assert_eq!(
        s.validate("S_x").unwrap_err().message(),
        "Firestore IDs cannot start with reserved prefixes 'H_' or 'S_': S_x"
    );
    assert_eq!(
        FirestoreV1CollectionSanitizationStrategy.sanitize("a/b"),
        s.sanitize("a/b")
    );
}

// ---------------------------------------------------------------------------------------------
// The trait
// ---------------------------------------------------------------------------------------------

#[test]
fn trait_objects_and_smart_pointers() {
    let strategies: Vec<Arc<dyn SanitizationStrategy>> = vec![
        Arc::new(PassthroughStrategy),
        Arc::new(MongoDbV1CollectionSanitizationStrategy::new()),
        Arc::new(AzureTablesSanitizationStrategy),
    ];
    for s in &strategies {
        let boxed: Box<&dyn SanitizationStrategy> = Box::new(s.as_ref());
        assert_eq!(boxed.sanitize("users"), "users");
        assert_eq!(
            Arc::clone(s).validate_and_sanitize("users").unwrap(),
            "users"
        );
    }
    let err = strategies[1].validate_and_sanitize("S_x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<HybridSanitizationStrategy>();
    assert_send_sync::<Box<dyn SanitizationStrategy>>();
}

#[test]
fn hash_fragment_mode_names() {
    for mode in [
        HashFragmentMode::Always,
        HashFragmentMode::OnlyIfChanged,
        HashFragmentMode::Never,
    ] {
        assert_eq!(mode.as_str().parse::<HashFragmentMode>().unwrap(), mode);
        assert_eq!(mode.to_string(), mode.as_str());
    }
    assert_eq!(HashFragmentMode::default(), HashFragmentMode::OnlyIfChanged);
    assert_eq!(
        "sometimes".parse::<HashFragmentMode>().unwrap_err().kind(),
        ErrorKind::Config
    );
}

#[test]
fn char_set() {
    let set = CharSet::new("ba😀a日");
    assert_eq!(set.len(), 4);
    assert_eq!(set.chars().collect::<String>(), "ab日😀");
    assert!(set.contains('😀') && !set.contains('c'));
    assert_eq!(format!("{set:?}"), "CharSet(\"ab日😀\")");
    assert!(CharSet::new("").is_empty());
}

//! Property tests of `key_value_core::sanitize`.
//!
//! - Every length-limiting strategy keeps its output within its limit (characters, or UTF-8
//!   bytes for S3 and Firestore), for any input.
//! - The strategies that hash never map two distinct (validated) inputs to one output:
//!   `AlwaysHashStrategy`, `HybridSanitizationStrategy` in `Always` mode,
//!   `HashExcessLengthStrategy`, Azure Tables, Firestore (up to SHA-256 collisions, which these
//!   tests cannot find).
//! - The lossy strategies keep their documented property instead: Hybrid `OnlyIfChanged`
//!   only merges clean over-long values sharing their first `max_length - 2` characters,
//!   Hybrid `Never` only merges values whose character-replaced, truncated forms are equal, and
//!   S3 only merges a short value with the hashed form of a long one.
//! - Sanitizing is deterministic and never panics, whatever the input and the parameters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;

use key_value_core::sanitize::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Characters weighted towards what sanitization cares about.
fn arb_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('a', 'e'),
        2 => proptest::char::range('A', 'Z'),
        2 => proptest::char::range('0', '9'),
        2 => proptest::sample::select(vec![
            ':', '_', '-', '.', '/', '\\', '#', '?', ' ', '!', '\n', '\t', '\u{0}', '\u{7f}',
            '\u{85}', '\u{9f}', '\u{a0}',
        ]),
        2 => proptest::sample::select(vec!['é', '日', '😀', '\u{301}', '\u{200b}', '\u{10ffff}']),
        1 => any::<char>(),
    ]
}

fn arb_text(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(arb_char(), 0..max_chars).prop_map(String::from_iter)
}

/// Short and very long texts (to cross every limit).
fn arb_any_length() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => arb_text(40),
        2 => arb_text(700),
        1 => (arb_text(4), 190usize..1600).prop_map(|(s, n)| s.repeat(n / s.len().max(1) + 1)),
    ]
}

/// Two distinct texts sharing a (often long) prefix: the hard case for collisions.
fn arb_pair() -> impl Strategy<Value = (String, String)> {
    (arb_any_length(), arb_text(6), arb_text(6))
        .prop_filter("distinct", |(_, x, y)| x != y)
        .prop_map(|(prefix, x, y)| (format!("{prefix}{x}"), format!("{prefix}{y}")))
}

fn not_reserved(s: &str) -> bool {
    !s.starts_with("H_") && !s.starts_with("S_")
}

fn arb_mode() -> impl Strategy<Value = HashFragmentMode> {
    prop_oneof![
        Just(HashFragmentMode::Always),
        Just(HashFragmentMode::OnlyIfChanged),
        Just(HashFragmentMode::Never),
    ]
}

fn arb_allowed() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some(ALPHANUMERIC_CHARACTERS)),
        Just(Some(LOWERCASE_ALPHABET)),
        Just(Some(NUMBERS)),
        Just(Some(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
        )),
        Just(Some(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-."
        )),
        Just(Some("abé日😀:")),
    ]
}

fn arb_hybrid_with(
    mode: impl Strategy<Value = HashFragmentMode>,
) -> impl Strategy<Value = HybridSanitizationStrategy> {
    (
        16usize..300,
        1usize..=64,
        mode,
        arb_allowed(),
        prop::sample::select(vec!['_', '-', 'x', '😀']),
    )
        .prop_filter_map("valid parameters", |(max, hash, mode, allowed, repl)| {
            let mut b = HybridSanitizationStrategy::builder()
                .max_length(max)
                .hash_fragment_length(hash)
                .hash_fragment_mode(mode)
                .replacement_character(repl);
            if let Some(a) = allowed {
                b = b.allowed_characters(a);
            }
            b.build().ok()
        })
}

fn arb_hybrid() -> impl Strategy<Value = HybridSanitizationStrategy> {
    arb_hybrid_with(arb_mode())
}

#[derive(Debug, Clone, Copy)]
enum Limit {
    Chars(usize),
    Bytes(usize),
}

impl Limit {
    fn holds(self, s: &str) -> bool {
        match self {
            Limit::Chars(n) => s.chars().count() <= n,
            Limit::Bytes(n) => s.len() <= n,
        }
    }
}

/// Every fixed length-limiting strategy with its limit.
fn limited_strategies() -> Vec<(Box<dyn SanitizationStrategy>, Limit)> {
    vec![
        (Box::new(AlwaysHashStrategy::default()), Limit::Chars(64)),
        (
            Box::new(AlwaysHashStrategy::new(9).unwrap()),
            Limit::Chars(9),
        ),
        (
            Box::new(HashExcessLengthStrategy::default()),
            Limit::Chars(240),
        ),
        (
            Box::new(HashExcessLengthStrategy::new(16).unwrap()),
            Limit::Chars(16),
        ),
        (
            Box::new(HybridSanitizationStrategy::default()),
            Limit::Chars(240),
        ),
        (
            Box::new(MemcachedV1KeySanitizationStrategy::new()),
            Limit::Chars(240),
        ),
        (
            Box::new(MongoDbV1CollectionSanitizationStrategy::new()),
            Limit::Chars(200),
        ),
        (
            Box::new(ElasticsearchV1KeySanitizationStrategy::new()),
            Limit::Chars(64),
        ),
        (
            Box::new(ElasticsearchV1CollectionSanitizationStrategy::new()),
            Limit::Chars(200),
        ),
        (
            Box::new(OpenSearchV1KeySanitizationStrategy::new()),
            Limit::Chars(64),
        ),
        (
            Box::new(OpenSearchV1CollectionSanitizationStrategy::new()),
            Limit::Chars(200),
        ),
        (
            Box::new(KeyringV1KeySanitizationStrategy::new()),
            Limit::Chars(256),
        ),
        (
            Box::new(KeyringV1CollectionSanitizationStrategy::new()),
            Limit::Chars(256),
        ),
        (
            Box::new(WindowsRegistryV1CollectionSanitizationStrategy::new()),
            Limit::Chars(96),
        ),
        (
            Box::new(FileTreeV1CollectionSanitizationStrategy::new("/var/lib/kv").unwrap()),
            Limit::Chars(245),
        ),
        (
            Box::new(FileTreeV1KeySanitizationStrategy::new("/var/lib/kv").unwrap()),
            Limit::Chars(250),
        ),
        (
            Box::new(
                FileTreeV1KeySanitizationStrategy::new(format!("/{}", "d".repeat(4070))).unwrap(),
            ),
            Limit::Chars(25),
        ),
        (
            Box::new(S3KeySanitizationStrategy::default()),
            Limit::Bytes(500),
        ),
        (
            Box::new(S3CollectionSanitizationStrategy::default()),
            Limit::Bytes(500),
        ),
        (
            Box::new(S3KeySanitizationStrategy::new(16).unwrap()),
            Limit::Bytes(16),
        ),
        (Box::new(AzureTablesSanitizationStrategy), Limit::Chars(256)),
        (
            Box::new(FirestoreV1KeySanitizationStrategy),
            Limit::Bytes(1500),
        ),
        (
            Box::new(FirestoreV1CollectionSanitizationStrategy),
            Limit::Bytes(1500),
        ),
    ]
}

/// Every strategy, for the determinism and no-panic properties.
fn all_strategies() -> Vec<Box<dyn SanitizationStrategy>> {
    let mut all: Vec<Box<dyn SanitizationStrategy>> =
        limited_strategies().into_iter().map(|(s, _)| s).collect();
    all.push(Box::new(PassthroughStrategy));
    all
}

// ---------------------------------------------------------------------------------------------
// Length limits
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fixed_strategies_respect_their_limit(value in arb_any_length()) {
        for (strategy, limit) in limited_strategies() {
            let out = strategy.sanitize(&value);
            prop_assert!(limit.holds(&out), "{strategy:?} {limit:?}: {value:?} -> {out:?}");
        }
    }

    #[test]
    fn hybrid_respects_max_length(strategy in arb_hybrid(), value in arb_any_length()) {
        let out = strategy.sanitize(&value);
        prop_assert!(out.chars().count() <= strategy.max_length(), "{strategy:?}: {value:?} -> {out:?}");
    }

    #[test]
    fn hybrid_output_has_only_allowed_characters(strategy in arb_hybrid(), value in arb_any_length()) {
        // allowed characters, the replacement, and the S_ / - / hex digits it adds
        if let Some(allowed) = strategy.allowed_characters() {
            let out = strategy.sanitize(&value);
            let ok = |c: char| {
                allowed.contains(c)
                    || c == strategy.replacement_character()
                    || matches!(c, 'S' | '_' | '-' | '0'..='9' | 'a'..='f')
            };
            prop_assert!(out.chars().all(ok), "{strategy:?}: {value:?} -> {out:?}");
        }
    }

    #[test]
    fn azure_output_is_always_safe(value in arb_any_length()) {
        let out = AzureTablesSanitizationStrategy.sanitize(&value);
        prop_assert!(AzureTablesSanitizationStrategy::is_safe(&out));
    }

    #[test]
    fn hash_excess_length_respects_max_length(
        value in arb_any_length(),
        max in 16usize..600,
        bytes in any::<bool>(),
    ) {
        let out = hash_excess_length(&value, max, bytes).unwrap();
        let limit = if bytes { Limit::Bytes(max) } else { Limit::Chars(max) };
        prop_assert!(limit.holds(&out));
        // short values are kept as they are, long ones end with 8 hex digits of the hash
        if limit.holds(&value) {
            prop_assert!(matches!(out, Cow::Borrowed(_)));
        } else {
            prop_assert!(out.ends_with(&generate_hash_fragment(&value, 8)));
            prop_assert!(value.starts_with(&out[..out.len() - 8]));
        }
    }

    #[test]
    fn sanitize_string_respects_max_length(
        value in arb_any_length(),
        max in 16usize..300,
        hash in 0usize..80,
        mode in arb_mode(),
        allowed in arb_allowed(),
        separator in prop::sample::select(vec!["-", "", "::", "é"]),
        bytes in any::<bool>(),
    ) {
        let mut options = SanitizeStringOptions::new(max)
            .with_hash_fragment_length(hash)
            .with_hash_fragment_mode(mode)
            .with_hash_fragment_separator(separator)
            .with_length_is_bytes(bytes);
        options.allowed_characters = allowed;
        if let Ok(out) = sanitize_string(&value, &options) {
            let limit = if bytes { Limit::Bytes(max) } else { Limit::Chars(max) };
            prop_assert!(limit.holds(&out), "{options:?}: {value:?} -> {out:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Collisions
// ---------------------------------------------------------------------------------------------

/// The strategies documented as one-to-one over validated inputs.
fn injective_strategies() -> Vec<Box<dyn SanitizationStrategy>> {
    vec![
        Box::new(PassthroughStrategy),
        Box::new(AlwaysHashStrategy::default()),
        Box::new(AlwaysHashStrategy::new(9).unwrap()),
        Box::new(HashExcessLengthStrategy::default()),
        Box::new(HashExcessLengthStrategy::new(16).unwrap()),
        Box::new(MemcachedV1KeySanitizationStrategy::new()),
        Box::new(ElasticsearchV1KeySanitizationStrategy::new()),
        Box::new(ElasticsearchV1CollectionSanitizationStrategy::new()),
        Box::new(OpenSearchV1CollectionSanitizationStrategy::new()),
        Box::new(AzureTablesSanitizationStrategy),
        Box::new(FirestoreV1KeySanitizationStrategy),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hashing_strategies_do_not_collide((a, b) in arb_pair()) {
        prop_assume!(not_reserved(&a) && not_reserved(&b));
        for strategy in injective_strategies() {
            prop_assert_ne!(strategy.sanitize(&a), strategy.sanitize(&b), "{:?}: {:?} / {:?}", strategy, a, b);
        }
    }

    #[test]
    fn hybrid_always_does_not_collide(
        strategy in arb_hybrid_with(Just(HashFragmentMode::Always)),
        (a, b) in arb_pair(),
    ) {
        prop_assume!(strategy.hash_fragment_length() >= 8);
        prop_assert_ne!(strategy.sanitize(&a), strategy.sanitize(&b));
    }

    /// Hybrid OnlyIfChanged: two validated inputs collide only if neither was changed by the
    /// character replacement, both are longer than max_length, and they share their first
    /// max_length - 2 characters.
    #[test]
    fn hybrid_only_if_changed_collides_only_on_long_clean_values(
        strategy in arb_hybrid_with(Just(HashFragmentMode::OnlyIfChanged)),
        (a, b) in arb_pair(),
    ) {
        prop_assume!(not_reserved(&a) && not_reserved(&b) && strategy.hash_fragment_length() >= 8);
        if strategy.sanitize(&a) == strategy.sanitize(&b) {
            let max = strategy.max_length();
            let clean = |v: &str| match strategy.allowed_characters() {
                None => true,
                Some(set) => {
                    let allowed: String = set.chars().collect();
                    let mut buf = [0u8; 4];
                    let repl = strategy.replacement_character().encode_utf8(&mut buf);
                    sanitize_characters_in_string(v, &allowed, repl) == v
                }
            };
            prop_assert!(clean(&a) && clean(&b));
            prop_assert!(a.chars().count() > max && b.chars().count() > max);
            prop_assert_eq!(truncate_chars(&a, max - 2), truncate_chars(&b, max - 2));
        }
    }

    /// Hybrid Never: two validated inputs collide only if their character-replaced forms agree
    /// on the first max_length - 2 characters.
    #[test]
    fn hybrid_never_collides_only_on_equal_replaced_forms(
        strategy in arb_hybrid_with(Just(HashFragmentMode::Never)),
        (a, b) in arb_pair(),
    ) {
        prop_assume!(not_reserved(&a) && not_reserved(&b));
        if strategy.sanitize(&a) == strategy.sanitize(&b) {
            let replaced = |v: &str| match strategy.allowed_characters() {
                None => v.to_owned(),
                Some(set) => {
                    let allowed: String = set.chars().collect();
                    let mut buf = [0u8; 4];
                    let repl = strategy.replacement_character().encode_utf8(&mut buf);
                    sanitize_characters_in_string(v, &allowed, repl)
                }
            };
            let max = strategy.max_length();
            prop_assert_eq!(
                truncate_chars(&replaced(&a), max - 2).to_owned(),
                truncate_chars(&replaced(&b), max - 2).to_owned()
            );
        }
    }

    /// S3: one-to-one among values within the limit and among values over it; only a short
    /// value equal to the hashed form of a long one collides.
    #[test]
    fn s3_collides_only_across_the_limit((a, b) in arb_pair(), max in 16usize..600) {
        let s = S3KeySanitizationStrategy::new(max).unwrap();
        let (sa, sb) = (s.sanitize(&a), s.sanitize(&b));
        if (a.len() <= max) == (b.len() <= max) {
            prop_assert_ne!(sa, sb);
        }
    }
}

#[test]
fn documented_collisions_exist() {
    // Hybrid OnlyIfChanged: long clean values sharing a prefix
    let s = KeyringV1KeySanitizationStrategy::new();
    let (a, b) = (
        format!("{}a", "x".repeat(300)),
        format!("{}b", "x".repeat(300)),
    );
    assert_eq!(s.sanitize(&a), s.sanitize(&b));
    // Hybrid Never: values differing in disallowed characters only
    let never = HybridSanitizationStrategy::builder()
        .allowed_characters(ALPHANUMERIC_CHARACTERS)
        .hash_fragment_mode(HashFragmentMode::Never)
        .build()
        .unwrap();
    assert_eq!(never.sanitize("a:b"), never.sanitize("a;b"));
    // S3: a short value equal to the hashed form of a long one (no reserved prefix)
    let s3 = S3KeySanitizationStrategy::new(16).unwrap();
    let long = "abcdefghijklmnopq";
    let hashed = s3.sanitize(long).into_owned();
    assert_eq!(s3.sanitize(&hashed), s3.sanitize(long));
}

// ---------------------------------------------------------------------------------------------
// Determinism and robustness
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sanitize_is_deterministic(value in arb_any_length(), hybrid in arb_hybrid()) {
        let first: Vec<String> = all_strategies().iter().map(|s| s.sanitize(&value).into_owned()).collect();
        let second: Vec<String> = all_strategies().iter().map(|s| s.sanitize(&value).into_owned()).collect();
        prop_assert_eq!(first, second);
        prop_assert_eq!(hybrid.sanitize(&value), hybrid.clone().sanitize(&value));
    }

    #[test]
    fn nothing_panics_on_arbitrary_unicode(
        value in any::<String>(),
        long in arb_any_length(),
        max in 0usize..300,
        hash in 0usize..100,
        mode in arb_mode(),
        allowed in any::<String>(),
        replacement in any::<String>(),
        separator in any::<String>(),
        bytes in any::<bool>(),
        directory in any::<String>(),
    ) {
        for v in [&value, &long] {
            for s in all_strategies() {
                let _ = s.sanitize(v);
                let _ = s.validate(v);
                let _ = s.try_unsanitize(v);
                let _ = s.validate_and_sanitize(v);
            }
            let _ = sanitize_characters_in_string(v, &allowed, &replacement);
            let _ = hash_excess_length(v, max, bytes);
            let mut options = SanitizeStringOptions::new(max)
                .with_hash_fragment_length(hash)
                .with_hash_fragment_mode(mode)
                .with_replacement_character(&replacement)
                .with_hash_fragment_separator(&separator)
                .with_length_is_bytes(bytes);
            options.allowed_characters = Some(&allowed);
            let _ = sanitize_string(v, &options);
            let _ = truncate_to_bytes(v, max);
            let _ = truncate_chars(v, max);
            if let Some(c) = replacement.chars().next() {
                let built = HybridSanitizationStrategy::builder()
                    .max_length(max)
                    .hash_fragment_length(hash)
                    .hash_fragment_mode(mode)
                    .allowed_characters(allowed.as_str())
                    .replacement_character(c)
                    .build();
                if let Ok(h) = built {
                    let _ = h.sanitize(v);
                }
            }
            if let Ok(s) = FileTreeV1KeySanitizationStrategy::new(&directory) {
                let _ = s.sanitize(v);
            }
            let _ = FileTreeV1CollectionSanitizationStrategy::with_limits(&directory, max);
            let _ = S3KeySanitizationStrategy::new(max).map(|s| s.sanitize(v).into_owned());
            let _ = AlwaysHashStrategy::new(hash).map(|s| s.sanitize(v).into_owned());
            let _ = HashExcessLengthStrategy::new(max).map(|s| s.sanitize(v).into_owned());
        }
    }
}

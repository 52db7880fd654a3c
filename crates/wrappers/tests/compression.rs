//! The compression wrapper: the full conformance suite over MemoryStore in py-key-value's gzip
//! mode (every value compressed, and py's default threshold), in the native LZ4 mode, and
//! stacked over encryption over a `SharedStore`; then its own behaviour: the stored marker
//! format, the threshold, reading every format, and corrupt data.
#![cfg(feature = "compression")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::compression::{
    Algorithm, COMPRESSED_DATA_KEY, Compression, CompressionLayer, DEFAULT_MAX_DECOMPRESSED_SIZE,
};
use serde_json::{Value, json};

mod py_mode_everything_compressed {
    use super::*;

    async fn store(fx: Fixture) -> Compression<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(CompressionLayer::new().min_size_to_compress(0))
    }

    key_value_testkit::conformance_suite!(store);
}

mod py_mode_default_threshold {
    use super::*;

    async fn store(fx: Fixture) -> Compression<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(CompressionLayer::new())
    }

    key_value_testkit::conformance_suite!(store);
}

mod native_mode {
    use super::*;

    async fn store(fx: Fixture) -> Compression<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(CompressionLayer::native().min_size_to_compress(0))
    }

    key_value_testkit::conformance_suite!(store);
}

/// Compression outermost, encryption below it, a `SharedStore` at the bottom: the order that
/// makes sense (encrypted data does not compress).
#[cfg(feature = "encryption")]
mod stacked_over_encryption_over_shared_store {
    use super::*;
    use key_value_core::SharedStore;
    use key_value_wrappers::encryption::{Encryption, EncryptionLayer, FernetKey};
    use std::sync::Arc;

    async fn store(fx: Fixture) -> Compression<Encryption<SharedStore>> {
        let shared: SharedStore = Arc::new(MemoryStore::builder().clock(fx.clock()).build());
        shared
            .layer(EncryptionLayer::new(FernetKey::generate().unwrap()))
            .layer(CompressionLayer::native().min_size_to_compress(100))
    }

    key_value_testkit::conformance_suite!(store);
}

fn store_at(layer: CompressionLayer, unix_secs: i64) -> Compression<MemoryStore> {
    let clock = ManualClock::new(Timestamp::from_unix_micros(unix_secs * 1_000_000));
    MemoryStore::builder()
        .clock(clock.into())
        .build()
        .layer(layer)
}

/// `{"d": "<k x's>"}`: `k + 9` characters of `sort_keys=True` JSON.
fn sized(k: usize) -> Object {
    object!({"d": "x".repeat(k)})
}

fn big() -> Object {
    object!({"text": "the quick brown fox jumps over the lazy dog ".repeat(200), "n": [1, 2.5, null, true]})
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, bytes).unwrap();
    enc.finish().unwrap()
}

async fn raw<S: KeyValue>(store: &Compression<S>, key: &str) -> Object {
    store
        .inner()
        .get(key)
        .collection("c")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn gzip_marker_is_py_key_values_format() {
    let store = store_at(CompressionLayer::new(), 1_700_000_000);
    store.put("k", big()).collection("c").await.unwrap();
    let stored = raw(&store, "k").await;
    // Sorted: all-features builds turn on serde_json's `preserve_order`.
    let mut keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "__compressed_data__",
            "__compression_algorithm__",
            "__compression_version__"
        ]
    );
    assert_eq!(stored["__compression_algorithm__"], "gzip");
    assert_eq!(stored["__compression_version__"], json!(1));
    let bytes = STANDARD
        .decode(stored[COMPRESSED_DATA_KEY].as_str().unwrap())
        .unwrap();
    // CPython's header: magic, deflate, no flags, mtime (the store's clock), XFL 4 (level 1),
    // OS 255.
    assert_eq!(&bytes[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(&bytes[4..8], &1_700_000_000u32.to_le_bytes());
    assert_eq!(&bytes[8..10], &[4, 255]);
    // The payload is the compact, ASCII-escaped JSON.
    let json = String::from_utf8(gunzip(&bytes)).unwrap();
    assert_eq!(
        json,
        key_value_core::json::to_python_json_compact(&Value::Object(big()))
    );
    assert!(bytes.len() < json.len() / 5, "compressible data shrinks");
    assert_eq!(store.get("k").collection("c").await.unwrap(), Some(big()));
}

#[tokio::test]
async fn lz4_marker_names_its_algorithm() {
    let store = store_at(CompressionLayer::native(), 0);
    store.put("k", big()).collection("c").await.unwrap();
    let stored = raw(&store, "k").await;
    assert_eq!(stored["__compression_algorithm__"], "lz4");
    assert_eq!(stored["__compression_version__"], json!(1));
    let bytes = STANDARD
        .decode(stored[COMPRESSED_DATA_KEY].as_str().unwrap())
        .unwrap();
    let json = lz4_flex::decompress_size_prepended(&bytes).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&json).unwrap(),
        Value::Object(big())
    );
    assert_eq!(store.get("k").collection("c").await.unwrap(), Some(big()));
}

#[tokio::test]
async fn threshold_is_pythons_sort_keys_length_inclusive() {
    let store = store_at(CompressionLayer::new(), 0);
    store
        .put("below", sized(1014))
        .collection("c")
        .await
        .unwrap();
    store.put("at", sized(1015)).collection("c").await.unwrap();
    assert_eq!(
        raw(&store, "below").await,
        sized(1014),
        "1023 chars: stored as is"
    );
    assert!(
        raw(&store, "at").await.contains_key(COMPRESSED_DATA_KEY),
        "1024 chars: compressed"
    );

    // Characters of the escaped text count: 171 "é" are 171 * 6 characters of JSON.
    store
        .put("escaped", object!({"d": "é".repeat(171)}))
        .collection("c")
        .await
        .unwrap();
    assert!(
        raw(&store, "escaped")
            .await
            .contains_key(COMPRESSED_DATA_KEY)
    );

    // The spaces of `sort_keys=True` JSON count too: 200 keys of 1-digit values.
    let many: Object = (0..200).map(|i| (format!("{i:03}"), json!(1))).collect();
    // Compact: 2 + 200 * 7 + 199 = 1601; with spaces 1601 + 200 + 199 = 2000.
    let store = store_at(CompressionLayer::new().min_size_to_compress(2000), 0);
    store
        .put("many", many.clone())
        .collection("c")
        .await
        .unwrap();
    assert!(raw(&store, "many").await.contains_key(COMPRESSED_DATA_KEY));
    let store = store_at(CompressionLayer::new().min_size_to_compress(2001), 0);
    store
        .put("many", many.clone())
        .collection("c")
        .await
        .unwrap();
    assert_eq!(raw(&store, "many").await, many);

    // Threshold 0 compresses even `{}`.
    let store = store_at(CompressionLayer::new().min_size_to_compress(0), 0);
    store
        .put("empty", Object::new())
        .collection("c")
        .await
        .unwrap();
    assert!(raw(&store, "empty").await.contains_key(COMPRESSED_DATA_KEY));
    assert_eq!(
        store.get("empty").collection("c").await.unwrap(),
        Some(Object::new())
    );
}

#[tokio::test]
async fn reads_values_stored_without_compression() {
    let store = store_at(CompressionLayer::new().min_size_to_compress(0), 0);
    store
        .inner()
        .put("plain", big())
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        store.get("plain").collection("c").await.unwrap(),
        Some(big())
    );
}

#[tokio::test]
async fn values_already_holding_the_marker_field_are_not_compressed() {
    let store = store_at(CompressionLayer::new().min_size_to_compress(0), 0);
    // Not a string: neither compressed on write nor decompressed on read, as in Python.
    let value = object!({"__compressed_data__": 5, "pad": "y".repeat(2000)});
    store.put("k", value.clone()).collection("c").await.unwrap();
    assert_eq!(raw(&store, "k").await, value);
    assert_eq!(store.get("k").collection("c").await.unwrap(), Some(value));

    // A string there is taken for compressed data on read: an error here, the stored object
    // with `return_undecodable` (Python's behaviour).
    let value = object!({"__compressed_data__": "hello"});
    store.put("s", value.clone()).collection("c").await.unwrap();
    assert_eq!(raw(&store, "s").await, value);
    let err = store.get("s").collection("c").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deserialization);
    let lenient = store
        .inner()
        .layer(CompressionLayer::new().return_undecodable(true));
    assert_eq!(lenient.get("s").collection("c").await.unwrap(), Some(value));
}

#[tokio::test]
async fn every_mode_reads_every_algorithm() {
    let gz = store_at(CompressionLayer::new().min_size_to_compress(0), 0);
    let lz = gz
        .inner()
        .layer(CompressionLayer::native().min_size_to_compress(0));
    gz.put("by_gzip", big()).collection("c").await.unwrap();
    lz.put("by_lz4", big()).collection("c").await.unwrap();
    for store in [&gz as &dyn DynKeyValue, &lz] {
        for key in ["by_gzip", "by_lz4"] {
            let entry = store.dyn_get_entry("c", key).await.unwrap().unwrap();
            assert_eq!(entry.value, big(), "{key}");
        }
    }
}

#[tokio::test]
async fn reads_markers_python_could_write() {
    let store = store_at(CompressionLayer::new(), 0);
    let json = br#"{"b":[1,2],"a":"\u00e9"}"#;
    let data = STANDARD.encode(gzip(json));
    // Python never reads the algorithm or version fields: a marker with the data alone is gzip.
    for marker in [
        object!({"__compressed_data__": data.clone()}),
        object!({"__compressed_data__": data.clone(), "__compression_version__": 1, "__compression_algorithm__": "gzip"}),
    ] {
        store
            .inner()
            .put("k", marker)
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            store.get("k").collection("c").await.unwrap(),
            Some(object!({"a": "é", "b": [1, 2]}))
        );
    }
    // Several gzip members, as `gzip.decompress` accepts.
    let mut two = gzip(br#"{"a":"#);
    two.extend(gzip(br#"1}"#));
    store
        .inner()
        .put("k", object!({"__compressed_data__": STANDARD.encode(two)}))
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        store.get("k").collection("c").await.unwrap(),
        Some(object!({"a": 1}))
    );
}

#[tokio::test]
async fn corrupt_data_is_a_deserialization_error() {
    let store = store_at(CompressionLayer::new(), 0);
    let good = STANDARD.encode(gzip(br#"{"a":1}"#));
    let mut bad_crc = gzip(br#"{"a":1}"#);
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    let truncated = &gzip(br#"{"a":1}"#)[..12];
    let mut bad_lz4 = lz4_flex::compress_prepend_size(br#"{"a":1}"#);
    bad_lz4.truncate(bad_lz4.len() - 2);
    let cases = [
        (
            "bad base64",
            object!({"__compressed_data__": "not base64!!"}),
        ),
        (
            "not gzip",
            object!({"__compressed_data__": STANDARD.encode(b"plain bytes, no gzip")}),
        ),
        (
            "bad crc",
            object!({"__compressed_data__": STANDARD.encode(bad_crc)}),
        ),
        (
            "truncated",
            object!({"__compressed_data__": STANDARD.encode(truncated)}),
        ),
        ("empty", object!({"__compressed_data__": ""})),
        (
            "array json",
            object!({"__compressed_data__": STANDARD.encode(gzip(b"[1,2]"))}),
        ),
        (
            "invalid json",
            object!({"__compressed_data__": STANDARD.encode(gzip(b"{\"a\":"))}),
        ),
        (
            "not utf-8",
            object!({"__compressed_data__": STANDARD.encode(gzip(b"{\"a\":\"\xff\"}"))}),
        ),
        (
            "nan",
            object!({"__compressed_data__": STANDARD.encode(gzip(b"{\"a\":NaN}"))}),
        ),
        (
            "bad lz4",
            object!({"__compressed_data__": STANDARD.encode(bad_lz4), "__compression_algorithm__": "lz4"}),
        ),
        (
            "lz4 too short",
            object!({"__compressed_data__": STANDARD.encode(b"ab"), "__compression_algorithm__": "lz4"}),
        ),
        (
            "unknown algorithm",
            object!({"__compressed_data__": good.clone(), "__compression_algorithm__": "brotli"}),
        ),
        (
            "algorithm not a string",
            object!({"__compressed_data__": good.clone(), "__compression_algorithm__": 7}),
        ),
    ];
    for (name, marker) in cases {
        store
            .inner()
            .put(name, marker.clone())
            .collection("c")
            .await
            .unwrap();
        let err = store.get(name).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization, "{name}: {err}");
        assert_eq!(err.key(), Some(name), "{name}");
        // Batches fail alike, naming the key.
        let err = store
            .get_many(&["absent", name])
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization, "{name}");
        assert_eq!(err.key(), Some(name), "{name}");
        // Python's behaviour on request: the stored object comes back.
        let lenient = store
            .inner()
            .layer(CompressionLayer::new().return_undecodable(true));
        assert_eq!(
            lenient.get(name).collection("c").await.unwrap(),
            Some(marker),
            "{name}"
        );
    }
}

#[tokio::test]
async fn decompression_is_limited() {
    let limited = CompressionLayer::new()
        .min_size_to_compress(0)
        .max_decompressed_size(10_000);
    let store = store_at(limited.clone(), 0);
    // Writes beyond the limit are refused, so nothing unreadable is written.
    let err = store
        .put("big", sized(20_000))
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
    assert_eq!(
        store.inner().get("big").collection("c").await.unwrap(),
        None
    );
    store.put("ok", sized(9_000)).collection("c").await.unwrap();
    assert_eq!(store.info().capabilities().max_value_size, Some(10_000));

    // A gzip bomb (10 MB of spaces in a few dozen KB) and a lying LZ4 prefix stop at the
    // limit.
    let bomb = gzip(&vec![b' '; 10_000_000]);
    assert!(bomb.len() < 100_000);
    let lz = lz4_flex::compress_prepend_size(&vec![b' '; 100_000]);
    for (name, marker) in [
        (
            "bomb",
            object!({"__compressed_data__": STANDARD.encode(bomb)}),
        ),
        (
            "lz4",
            object!({"__compressed_data__": STANDARD.encode(lz), "__compression_algorithm__": "lz4"}),
        ),
    ] {
        store
            .inner()
            .put(name, marker)
            .collection("c")
            .await
            .unwrap();
        let err = store.get(name).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization, "{name}");
        assert!(err.message().contains("limit"), "{name}: {err}");
    }
}

#[tokio::test]
async fn every_gzip_level_reads_back() {
    for level in [0, 1, 6, 9, 42] {
        let store = store_at(
            CompressionLayer::new()
                .gzip_level(level)
                .min_size_to_compress(0),
            0,
        );
        store.put("k", big()).collection("c").await.unwrap();
        assert_eq!(
            store.get("k").collection("c").await.unwrap(),
            Some(big()),
            "{level}"
        );
    }
}

#[tokio::test]
async fn batches_stay_batches_and_ttls_pass_through() {
    let store =
        FaultyStore::new(MemoryStore::new()).layer(CompressionLayer::new().min_size_to_compress(0));
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let values: Vec<Object> = (0..20)
        .map(|i| object!({"i": i, "pad": "z".repeat(i * 100)}))
        .collect();
    store
        .put_many(&keys, values.clone())
        .collection("c")
        .ttl(600)
        .await
        .unwrap();
    assert_eq!(store.inner().calls(), 1);
    let got = store.ttl_many(&keys).collection("c").await.unwrap();
    assert_eq!(store.inner().calls(), 2);
    for (v, got) in values.iter().zip(got) {
        let (value, ttl) = got.unwrap();
        assert_eq!(&value, v);
        assert!(ttl.unwrap().as_secs_f64() > 590.0);
    }
    assert_eq!(store.delete_many(&keys).collection("c").await.unwrap(), 20);
    assert_eq!(store.inner().calls(), 3);
}

#[tokio::test]
async fn info_is_the_inner_stores() {
    let inner = MemoryStore::new();
    let inner_info = inner.info().clone();
    let store = Compression::new(inner);
    let info = store.info();
    assert_eq!(info.name(), inner_info.name());
    assert_eq!(info.default_collection(), inner_info.default_collection());
    let (caps, inner_caps) = (info.capabilities(), inner_info.capabilities());
    assert_eq!(caps.native_batch, inner_caps.native_batch);
    assert_eq!(caps.enumerate_keys, inner_caps.enumerate_keys);
    assert_eq!(caps.max_value_size, Some(DEFAULT_MAX_DECOMPRESSED_SIZE));
    assert_eq!(store.config().write_algorithm(), Algorithm::Gzip);
    assert_eq!(store.config().threshold(), 1024);
    // Enumeration is forwarded.
    store.put("k", big()).collection("c").await.unwrap();
    assert_eq!(
        store.keys().collection("c").await.unwrap(),
        vec!["k".to_string()]
    );
}

#[tokio::test]
async fn unicode_values_round_trip_in_both_modes() {
    let value = object!({
        "text": "Hello 世界 🌍 ".repeat(300),
        "ключ-🔑": "значение",
        "combining": "e\u{301}",
        "controls": "\u{0}\u{1f}\u{7f}\n\t\"\\",
    });
    for layer in [CompressionLayer::new(), CompressionLayer::native()] {
        let store = store_at(layer, 0);
        store
            .put("鍵", value.clone())
            .collection("集合")
            .await
            .unwrap();
        assert!(
            store
                .inner()
                .get("鍵")
                .collection("集合")
                .await
                .unwrap()
                .unwrap()
                .contains_key(COMPRESSED_DATA_KEY)
        );
        assert_eq!(
            store.get("鍵").collection("集合").await.unwrap(),
            Some(value.clone())
        );
    }
}

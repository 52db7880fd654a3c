//! The encryption wrapper: the full conformance suite over MemoryStore, py-compatible and with
//! values bound to their collection and key, plus a key-rotation run; then its own behaviour:
//! the stored format, key derivation, rotation, binding, and every kind of bad data.
#![cfg(feature = "encryption")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use key_value_core::prelude::*;
use key_value_core::{ManualClock, Timestamp};
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::encryption::{
    ENCRYPTED_DATA_KEY, ENCRYPTION_BINDING_KEY, ENCRYPTION_VERSION_KEY, Encryption,
    EncryptionLayer, FernetKey,
};
use serde_json::{Value, json};

static KEY: LazyLock<FernetKey> = LazyLock::new(|| FernetKey::generate().unwrap());
static OLD_KEY: LazyLock<FernetKey> = LazyLock::new(|| FernetKey::generate().unwrap());

mod py_compatible {
    use super::*;

    async fn store(fx: Fixture) -> Encryption<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(EncryptionLayer::new(KEY.clone()))
    }

    key_value_testkit::conformance_suite!(store);
}

mod bound_to_key {
    use super::*;

    async fn store(fx: Fixture) -> Encryption<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(EncryptionLayer::new(KEY.clone()).bind_to_key(true))
    }

    key_value_testkit::conformance_suite!(store);
}

fn layer() -> EncryptionLayer {
    EncryptionLayer::new(KEY.clone())
}

fn store_with(layer: EncryptionLayer) -> Encryption<MemoryStore> {
    MemoryStore::new().layer(layer)
}

fn secret() -> Object {
    object!({"card": "4111 1111 1111 1111", "owner": "Zoë 🌍", "n": [1, 2.5, null]})
}

async fn raw<S: KeyValue>(store: &Encryption<S>, collection: &str, key: &str) -> Object {
    store
        .inner()
        .get(key)
        .collection(collection)
        .await
        .unwrap()
        .unwrap()
}

/// The raw Fernet token bytes of a stored value.
fn token_bytes(stored: &Object) -> Vec<u8> {
    let token = STANDARD
        .decode(stored[ENCRYPTED_DATA_KEY].as_str().unwrap())
        .unwrap();
    URL_SAFE.decode(token).unwrap()
}

fn with_token(stored: &Object, token: &[u8]) -> Object {
    let mut out = stored.clone();
    out.insert(
        ENCRYPTED_DATA_KEY.into(),
        Value::from(STANDARD.encode(URL_SAFE.encode(token))),
    );
    out
}

async fn get_err<S: KeyValue>(store: &S, collection: &str, key: &str) -> ErrorKind {
    store
        .get(key)
        .collection(collection)
        .await
        .unwrap_err()
        .kind()
}

#[tokio::test]
async fn stored_format_is_py_key_values() {
    let clock = ManualClock::new(Timestamp::from_unix_micros(1_700_000_000_500_000));
    let store = MemoryStore::builder()
        .clock(clock.into())
        .build()
        .layer(layer());
    store.put("k", secret()).collection("c").await.unwrap();
    let stored = raw(&store, "c", "k").await;
    let mut keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["__encrypted_data__", "__encryption_version__"]);
    assert_eq!(stored[ENCRYPTION_VERSION_KEY], json!(1));
    // Standard base64 of a URL-safe Fernet token: "gAAAAA..." in, "Z0FBQUFB..." out.
    let data = stored[ENCRYPTED_DATA_KEY].as_str().unwrap();
    assert!(data.starts_with("Z0FBQUFB"), "{data}");
    let token = String::from_utf8(STANDARD.decode(data).unwrap()).unwrap();
    assert!(token.starts_with("gAAAAA"), "{token}");
    // Fernet: version 0x80, the store clock's second, then IV, ciphertext and MAC.
    let bytes = URL_SAFE.decode(&token).unwrap();
    assert_eq!(bytes[0], 0x80);
    assert_eq!(&bytes[1..9], &1_700_000_000u64.to_be_bytes());
    assert_eq!((bytes.len() - 57) % 16, 0);
    // The plaintext is the compact, ASCII-escaped JSON.
    let plaintext = KEY.decrypt(&token).unwrap();
    assert_eq!(
        String::from_utf8(plaintext).unwrap(),
        key_value_core::json::to_python_json_compact(&Value::Object(secret()))
    );
    assert_eq!(
        store.get("k").collection("c").await.unwrap(),
        Some(secret())
    );
}

#[tokio::test]
async fn the_same_value_encrypts_differently_each_time() {
    let store = store_with(layer());
    store.put("a", secret()).collection("c").await.unwrap();
    store.put("b", secret()).collection("c").await.unwrap();
    assert_ne!(raw(&store, "c", "a").await, raw(&store, "c", "b").await);
}

/// py-key-value's derivation, checked against the value its `_generate_encryption_key`
/// returns for these strings (0.4.6, PBKDF2-HMAC-SHA256, 1.2M iterations). Slow in a debug
/// build (seconds), so only once.
#[test]
fn derived_key_matches_py_key_value() {
    let key = FernetKey::derive("correct horse battery staple 🐴", "sel-é").unwrap();
    assert_eq!(
        key.to_base64(),
        "zs9wZU1YGR2nAhHNCJTXusY7mTWnWQgg5kfKLaXemS4="
    );
}

#[test]
fn key_parsing_and_derivation_reject_bad_input_without_echoing_it() {
    for bad in [
        "",
        "short",
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=AAAA",
        "cw_0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=",
    ] {
        let err = FernetKey::from_base64(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        if !bad.is_empty() {
            assert!(!err.to_string().contains(bad));
        }
    }
    // Padding is optional, as the key text is often pasted.
    let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4").unwrap();
    assert_eq!(
        key.to_base64(),
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
    );
    for (material, salt) in [
        ("", "salt"),
        ("  ", "salt"),
        ("material", ""),
        ("material", "\t"),
    ] {
        assert_eq!(
            FernetKey::derive(material, salt).unwrap_err().kind(),
            ErrorKind::Config
        );
        assert_eq!(
            EncryptionLayer::from_source_material(material, salt)
                .unwrap_err()
                .kind(),
            ErrorKind::Config
        );
    }
    assert_eq!(
        FernetKey::derive_with_iterations("m", "s", 0)
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
    assert_eq!(
        EncryptionLayer::with_keys([]).unwrap_err().kind(),
        ErrorKind::Config
    );
}

#[tokio::test]
async fn keys_never_show_in_debug_or_errors() {
    let key = FernetKey::from_bytes([0x41; 32]);
    let encoded = key.to_base64();
    let store = store_with(EncryptionLayer::with_keys([key.clone(), OLD_KEY.clone()]).unwrap());
    let shown = format!("{key:?} {:?} {store:?}", store.config());
    assert!(!shown.contains(&encoded), "{shown}");
    assert!(!shown.contains("65, 65"), "{shown}");
    assert!(!shown.contains("AAAA"), "{shown}");
    store
        .inner()
        .put(
            "k",
            object!({"__encrypted_data__": "!!", "__encryption_version__": 1}),
        )
        .await
        .unwrap();
    let err = store.get("k").await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(&encoded));
}

#[tokio::test]
async fn tampered_tokens_fail_with_decryption() {
    let store = store_with(layer());
    store.put("k", secret()).collection("c").await.unwrap();
    let stored = raw(&store, "c", "k").await;
    let token = token_bytes(&stored);
    let n = token.len();
    for (name, index) in [
        ("version byte", 0),
        ("timestamp", 3),
        ("iv", 12),
        ("ciphertext", 30),
        ("last ciphertext byte", n - 33),
        ("mac", n - 1),
    ] {
        let mut bad = token.clone();
        bad[index] ^= 0x01;
        store
            .inner()
            .put("t", with_token(&stored, &bad))
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            get_err(&store, "c", "t").await,
            ErrorKind::Decryption,
            "{name}"
        );
    }
    // Truncated and extended tokens.
    for bad in [
        &token[..n - 1],
        &token[..57],
        &[token.as_slice(), &[0; 16]].concat()[..],
    ] {
        store
            .inner()
            .put("t", with_token(&stored, bad))
            .collection("c")
            .await
            .unwrap();
        assert_eq!(get_err(&store, "c", "t").await, ErrorKind::Decryption);
    }
    // The outer text is valid base64 of something that is not a token at all.
    let mut junk = stored.clone();
    junk.insert(
        ENCRYPTED_DATA_KEY.into(),
        Value::from(STANDARD.encode("not a token")),
    );
    store.inner().put("t", junk).collection("c").await.unwrap();
    assert_eq!(get_err(&store, "c", "t").await, ErrorKind::Decryption);
}

#[tokio::test]
async fn a_wrong_key_fails_with_decryption() {
    let store = store_with(layer());
    store.put("k", secret()).collection("c").await.unwrap();
    let other = store.inner().layer(EncryptionLayer::new(OLD_KEY.clone()));
    assert_eq!(get_err(&other, "c", "k").await, ErrorKind::Decryption);
    let err = other.get("k").collection("c").await.unwrap_err();
    assert_eq!(err.collection(), Some("c"));
    assert_eq!(err.key(), Some("k"));
}

#[tokio::test]
async fn plaintext_that_is_not_a_json_object_fails_with_decryption() {
    let store = store_with(layer());
    for plaintext in [&b"[1, 2]"[..], b"{\"a\": ", b"\xff\xfe"] {
        let token = KEY.encrypt(plaintext).unwrap();
        store
            .inner()
            .put("k", object!({"__encrypted_data__": STANDARD.encode(token), "__encryption_version__": 1}))
            .await
            .unwrap();
        assert_eq!(
            get_err(&store, "default_collection", "k").await,
            ErrorKind::Decryption
        );
    }
}

#[tokio::test]
async fn malformed_markers_fail_with_corrupted_data() {
    let store = store_with(layer());
    store.put("k", secret()).collection("c").await.unwrap();
    let good = raw(&store, "c", "k").await;
    let data = good[ENCRYPTED_DATA_KEY].clone();
    let cases = [
        (
            "missing version",
            object!({"__encrypted_data__": data.clone()}),
        ),
        (
            "string version",
            object!({"__encrypted_data__": data.clone(), "__encryption_version__": "1"}),
        ),
        (
            "float version",
            object!({"__encrypted_data__": data.clone(), "__encryption_version__": 1.0}),
        ),
        (
            "null version",
            object!({"__encrypted_data__": data.clone(), "__encryption_version__": null}),
        ),
        (
            "data not a string",
            object!({"__encrypted_data__": 12, "__encryption_version__": 1}),
        ),
        (
            "data null",
            object!({"__encrypted_data__": null, "__encryption_version__": 1}),
        ),
        (
            "bad base64",
            object!({"__encrypted_data__": "Z0FB!!QUFB", "__encryption_version__": 1}),
        ),
        (
            "url-safe base64 outside",
            object!({"__encrypted_data__": "_-_-", "__encryption_version__": 1}),
        ),
        (
            "binding not a string",
            object!({"__encrypted_data__": data.clone(), "__encryption_version__": 1, "__encryption_binding__": true}),
        ),
    ];
    for (name, marker) in cases {
        store
            .inner()
            .put(name, marker)
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            get_err(&store, "c", name).await,
            ErrorKind::CorruptedData,
            "{name}"
        );
    }
}

#[tokio::test]
async fn newer_versions_fail_with_encryption_version() {
    let store = store_with(layer());
    store.put("k", secret()).collection("c").await.unwrap();
    let good = raw(&store, "c", "k").await;
    for version in [json!(2), json!(99), json!(u64::MAX)] {
        let mut marker = good.clone();
        marker.insert(ENCRYPTION_VERSION_KEY.into(), version.clone());
        store
            .inner()
            .put("v", marker)
            .collection("c")
            .await
            .unwrap();
        assert_eq!(
            get_err(&store, "c", "v").await,
            ErrorKind::EncryptionVersion,
            "{version}"
        );
    }
    // Older (or zero) versions are read as version 1, as py-key-value does.
    let mut marker = good.clone();
    marker.insert(ENCRYPTION_VERSION_KEY.into(), json!(0));
    store
        .inner()
        .put("v", marker)
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        store.get("v").collection("c").await.unwrap(),
        Some(secret())
    );
    // An unknown binding scheme is a newer format too.
    let mut marker = good;
    marker.insert(
        ENCRYPTION_BINDING_KEY.into(),
        json!("collection+key+tenant"),
    );
    store
        .inner()
        .put("v", marker)
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        get_err(&store, "c", "v").await,
        ErrorKind::EncryptionVersion
    );
}

#[tokio::test]
async fn objects_without_the_marker_pass_through() {
    let store = store_with(layer());
    store
        .inner()
        .put("plain", secret())
        .collection("c")
        .await
        .unwrap();
    assert_eq!(
        store.get("plain").collection("c").await.unwrap(),
        Some(secret())
    );
}

#[tokio::test]
async fn bound_values_moved_elsewhere_fail_with_decryption() {
    let store = store_with(layer().bind_to_key(true));
    store
        .put("alice", secret())
        .collection("users")
        .await
        .unwrap();
    let stored = raw(&store, "users", "alice").await;
    assert_eq!(stored[ENCRYPTION_BINDING_KEY], json!("collection+key"));
    assert_eq!(stored[ENCRYPTION_VERSION_KEY], json!(1));
    // Other keys, other collections, and the same characters split differently.
    for (collection, key) in [
        ("users", "mallory"),
        ("admins", "alice"),
        ("user", "salice"),
        ("usersa", "lice"),
    ] {
        store
            .inner()
            .put(key, stored.clone())
            .collection(collection)
            .await
            .unwrap();
        assert_eq!(
            get_err(&store, collection, key).await,
            ErrorKind::Decryption,
            "{collection}/{key}"
        );
    }
    // Stripping the binding marker does not help: the master key does not open it.
    let mut stripped = stored.clone();
    stripped.remove(ENCRYPTION_BINDING_KEY);
    let unbound_reader = store.inner().layer(layer());
    unbound_reader
        .inner()
        .put("alice", stripped)
        .collection("users")
        .await
        .unwrap();
    assert_eq!(
        get_err(&unbound_reader, "users", "alice").await,
        ErrorKind::Decryption
    );

    // At its own place the value reads, through binding and non-binding wrappers alike.
    store
        .inner()
        .put("alice", stored)
        .collection("users")
        .await
        .unwrap();
    assert_eq!(
        store.get("alice").collection("users").await.unwrap(),
        Some(secret())
    );
    assert_eq!(
        unbound_reader
            .get("alice")
            .collection("users")
            .await
            .unwrap(),
        Some(secret())
    );
}

#[tokio::test]
async fn unbound_values_can_be_moved_which_is_why_binding_exists() {
    let store = store_with(layer());
    store
        .put("alice", secret())
        .collection("users")
        .await
        .unwrap();
    let stored = raw(&store, "users", "alice").await;
    store
        .inner()
        .put("mallory", stored)
        .collection("users")
        .await
        .unwrap();
    assert_eq!(
        store.get("mallory").collection("users").await.unwrap(),
        Some(secret())
    );
}

#[tokio::test]
async fn a_binding_wrapper_refuses_unbound_values_unless_told_otherwise() {
    let unbound = store_with(layer());
    unbound.put("k", secret()).collection("c").await.unwrap();
    let strict = unbound.inner().layer(layer().bind_to_key(true));
    assert_eq!(get_err(&strict, "c", "k").await, ErrorKind::Decryption);
    let migrating = unbound
        .inner()
        .layer(layer().bind_to_key(true).accept_unbound(true));
    assert_eq!(
        migrating.get("k").collection("c").await.unwrap(),
        Some(secret())
    );
    // Rewriting through it binds the value.
    migrating.put("k", secret()).collection("c").await.unwrap();
    assert!(
        raw(&migrating, "c", "k")
            .await
            .contains_key(ENCRYPTION_BINDING_KEY)
    );
    assert_eq!(
        strict.get("k").collection("c").await.unwrap(),
        Some(secret())
    );
}

#[tokio::test]
async fn key_rotation_reads_old_values_and_writes_with_the_first_key() {
    let old = store_with(EncryptionLayer::new(OLD_KEY.clone()));
    old.put("before", secret()).collection("c").await.unwrap();
    let rotated = old
        .inner()
        .layer(EncryptionLayer::with_keys([KEY.clone(), OLD_KEY.clone()]).unwrap());
    assert_eq!(
        rotated.get("before").collection("c").await.unwrap(),
        Some(secret())
    );
    rotated
        .put("after", secret())
        .collection("c")
        .await
        .unwrap();
    // Written with the new key: the new key alone reads it, the old one alone does not.
    let new_only = old.inner().layer(EncryptionLayer::new(KEY.clone()));
    assert_eq!(
        new_only.get("after").collection("c").await.unwrap(),
        Some(secret())
    );
    assert_eq!(get_err(&old, "c", "after").await, ErrorKind::Decryption);
    assert_eq!(
        get_err(&new_only, "c", "before").await,
        ErrorKind::Decryption
    );
    // Rotation works with binding too.
    let bound_old = old
        .inner()
        .layer(EncryptionLayer::new(OLD_KEY.clone()).bind_to_key(true));
    bound_old
        .put("bound", secret())
        .collection("c")
        .await
        .unwrap();
    let bound_rotated = old.inner().layer(
        EncryptionLayer::with_keys([KEY.clone(), OLD_KEY.clone()])
            .unwrap()
            .bind_to_key(true),
    );
    assert_eq!(
        bound_rotated.get("bound").collection("c").await.unwrap(),
        Some(secret())
    );
}

#[tokio::test]
async fn without_raising_undecryptable_values_read_as_missing() {
    let store = store_with(layer().raise_on_decryption_error(false));
    store.put("good", secret()).collection("c").await.unwrap();
    store
        .inner()
        .put(
            "corrupt",
            object!({"__encrypted_data__": 1, "__encryption_version__": 1}),
        )
        .collection("c")
        .await
        .unwrap();
    store
        .inner()
        .put(
            "newer",
            object!({"__encrypted_data__": "", "__encryption_version__": 2}),
        )
        .collection("c")
        .await
        .unwrap();
    let foreign = store.inner().layer(EncryptionLayer::new(OLD_KEY.clone()));
    foreign
        .put("foreign", secret())
        .collection("c")
        .await
        .unwrap();
    for key in ["corrupt", "newer", "foreign"] {
        assert_eq!(store.get(key).collection("c").await.unwrap(), None, "{key}");
        assert_eq!(store.ttl(key).collection("c").await.unwrap(), None, "{key}");
    }
    let got = store
        .get_many(&["good", "corrupt", "foreign", "absent"])
        .collection("c")
        .await
        .unwrap();
    assert_eq!(got, vec![Some(secret()), None, None, None]);
}

#[tokio::test]
async fn batches_stay_batches_and_ttls_pass_through() {
    let store = FaultyStore::new(MemoryStore::new()).layer(layer().bind_to_key(true));
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let values: Vec<Object> = (0..20).map(|i| object!({"i": i})).collect();
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
    let store = Encryption::new(inner, KEY.clone());
    assert_eq!(store.info().name(), inner_info.name());
    assert_eq!(store.info().capabilities(), inner_info.capabilities());
    assert!(!store.config().binds_to_key());
    store.put("k", secret()).collection("c").await.unwrap();
    assert_eq!(
        store.keys().collection("c").await.unwrap(),
        vec!["k".to_string()]
    );
}

#[tokio::test]
async fn layered_over_a_shared_store() {
    let shared: SharedStore = std::sync::Arc::new(MemoryStore::new());
    let store = shared.clone().layer(layer().bind_to_key(true));
    store.put("k", secret()).collection("c").await.unwrap();
    assert_eq!(
        store.get("k").collection("c").await.unwrap(),
        Some(secret())
    );
    let raw = shared.get("k").collection("c").await.unwrap().unwrap();
    assert!(raw.contains_key(ENCRYPTED_DATA_KEY));
}

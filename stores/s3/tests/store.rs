//! S3Store's own tests against rclone `serve s3` (`KV_RCLONE_S3_URL`), moto (`KV_MOTO_URL`)
//! and SeaweedFS (`KV_SEAWEEDFS_S3_URL`): the raw layout (bytes, content type, metadata, read with raw signed
//! requests), ListObjectsV2 paging, DeleteObjects batches beyond 1000, names with Unicode and
//! special characters, expiry (deleted on read, skipped by `keys()`, removed by `cull()`),
//! bucket set-up, and errors (wrong credentials, unreachable server, invalid names). Each test
//! uses its own bucket.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Server;
use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::prelude::*;
use key_value_core::{Clock, ManualClock};
use key_value_http::reqwest::Method;
use key_value_http::sigv4::Credentials;
use key_value_s3::{S3Config, S3Store};

/// Generates one `#[test]` per server for each `async fn name(server: Server)`.
macro_rules! on_servers {
    ($($name:ident),* $(,)?) => {
        mod rclone {
            $(
                #[test]
                fn $name() {
                    if let Some(server) = crate::common::rclone(stringify!($name)) {
                        key_value_testkit::run(super::$name(server));
                    }
                }
            )*
        }
        mod moto {
            $(
                #[test]
                fn $name() {
                    if let Some(server) = crate::common::moto(stringify!($name)) {
                        key_value_testkit::run(super::$name(server));
                    }
                }
            )*
        }
        mod seaweedfs {
            $(
                #[test]
                fn $name() {
                    if let Some(server) = crate::common::seaweedfs(stringify!($name)) {
                        key_value_testkit::run(super::$name(server));
                    }
                }
            )*
        }
    };
}

on_servers!(
    raw_layout_is_py_key_values,
    listing_pages_through_continuation_tokens,
    delete_many_beyond_one_delete_objects_batch,
    unicode_and_special_characters_round_trip,
    expired_object_is_deleted_on_read,
    keys_skip_and_cull_removes_expired_objects,
    long_names_are_hashed_as_py_key_value_does,
    missing_bucket_is_created_or_refused,
    bucket_in_another_region_gets_a_location_constraint,
    not_an_envelope_is_a_deserialization_error,
    deletes_say_whether_something_existed,
);

fn manual_store(server: &Server, bucket: &str) -> (S3Store, ManualClock) {
    let clock = ManualClock::starting_now();
    let store = server
        .config(bucket)
        .clock(Clock::from(clock.clone()))
        .open()
        .unwrap();
    (store, clock)
}

/// The store writes exactly py-key-value's object: body = envelope without key/collection,
/// `Content-Type: application/json`, `x-amz-meta-created-at` / `-expires-at` (ISO 8601).
async fn raw_layout_is_py_key_values(server: Server) {
    let bucket = common::unique_bucket("raw_layout");
    let (s, clock) = manual_store(&server, &bucket);
    let value = object!({"name": "Zoë", "n": [1, 2.5, null], "nested": {"b": true, "a": "x"}});
    s.put("user:1", value.clone())
        .collection("users")
        .ttl(3600)
        .await
        .unwrap();
    s.put("plain", object!({"v": 1}))
        .collection("users")
        .await
        .unwrap();

    let now = clock.now();
    let entry = ManagedEntry::created_at(value, now, Some(Duration::from_secs(3600)));
    let (status, headers, body) = server.raw_get(&bucket, "users/user:1").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let expected = Envelope::WITHOUT_KEY.dump(&entry, "users", "user:1");
    assert_eq!(String::from_utf8(body).unwrap(), expected);
    assert!(expected.starts_with(r#"{"created_at": ""#), "{expected}");
    assert!(!expected.contains("\"key\""), "{expected}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-amz-meta-created-at"], now.to_iso().as_str());
    assert_eq!(
        headers["x-amz-meta-expires-at"],
        entry.expires_at.unwrap().to_iso().as_str()
    );

    let (status, headers, body) = server.raw_get(&bucket, "users/plain").await;
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        format!(
            r#"{{"created_at": "{}", "value": {{"v": 1}}, "version": 1}}"#,
            now.to_iso()
        )
    );
    assert!(headers.get("x-amz-meta-expires-at").is_none());
    assert_eq!(s.object_key("users", "user:1").unwrap(), "users/user:1");
}

/// `keys()`, `collections()`, `destroy_collection()` and `destroy()` follow continuation
/// tokens: with 3 objects a page, 10 keys and 7 collections take several pages.
async fn listing_pages_through_continuation_tokens(server: Server) {
    let bucket = common::unique_bucket("paging");
    let s = server.config(&bucket).page_size(3).open().unwrap();
    let keys: Vec<String> = (0..10).map(|i| format!("k{i:02}")).collect();
    let values = (0..10).map(|i| object!({"i": i})).collect::<Vec<_>>();
    s.put_many(&keys, values).collection("many").await.unwrap();
    for c in 0..7 {
        s.put("k", object!({}))
            .collection(&format!("c{c}"))
            .await
            .unwrap();
    }
    let listed: BTreeSet<String> = s
        .keys()
        .collection("many")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(listed, keys.iter().cloned().collect());
    assert_eq!(s.keys().collection("many").limit(4).await.unwrap().len(), 4);
    let collections = s.collections().await.unwrap();
    let expected: Vec<String> = std::iter::once("c0".to_string())
        .chain((1..7).map(|c| format!("c{c}")))
        .chain(std::iter::once("many".to_string()))
        .collect();
    assert_eq!(collections, expected, "in S3's (lexicographic) order");
    assert_eq!(s.collections().limit(5).await.unwrap(), expected[..5]);

    assert!(s.destroy_collection("many").await.unwrap());
    for k in &keys {
        assert_eq!(
            server.raw_head(&bucket, &format!("many/{k}")).await,
            404,
            "{k}"
        );
    }
    assert!(!s.destroy_collection("many").await.unwrap());
    assert_eq!(
        s.get("k").collection("c6").await.unwrap(),
        Some(object!({}))
    );
    assert!(s.destroy().await.unwrap());
    assert!(!s.destroy().await.unwrap());
    assert_eq!(s.get("k").collection("c6").await.unwrap(), None);
    // The raw listing agrees: the bucket is empty.
    let (status, _, body) = server.raw(Method::GET, &bucket, None, "list-type=2").await;
    assert_eq!(status, 200);
    assert!(!String::from_utf8_lossy(&body).contains("<Contents>"));
}

/// `delete_many` of 1005 keys takes two DeleteObjects requests (1000 + 5) and counts them all.
async fn delete_many_beyond_one_delete_objects_batch(server: Server) {
    let bucket = common::unique_bucket("delete_batches");
    let s = server.config(&bucket).concurrency(32).open().unwrap();
    let keys: Vec<String> = (0..1005).map(|i| format!("k{i}")).collect();
    let values = (0..1005).map(|i| object!({"i": i})).collect::<Vec<_>>();
    s.put_many(&keys, values).collection("big").await.unwrap();
    let mut with_missing = keys.clone();
    with_missing.push("never-written".to_string());
    with_missing.push("k0".to_string()); // a duplicate counts once
    assert_eq!(
        s.delete_many(&with_missing)
            .collection("big")
            .await
            .unwrap(),
        1005
    );
    assert!(s.keys().collection("big").await.unwrap().is_empty());
    assert_eq!(server.raw_head(&bucket, "big/k1004").await, 404);
}

/// Keys and collection names with Unicode, spaces, `+`, `%`, `?`, `#`, `&`, `=`, `/` (in keys),
/// quotes and XML's special characters are sent, listed and deleted intact.
async fn unicode_and_special_characters_round_trip(server: Server) {
    let bucket = common::unique_bucket("special");
    let s = server.config(&bucket).open().unwrap();
    let mut keys = vec![
        "a b",
        "x+y",
        "100%",
        "%2F",
        "q?a=1&b=2#frag",
        "<xml> & \"quotes\" 'apos'",
        "path/to/key",
        "ключ-鍵-🔑",
        "e\u{301}",
        "tab\there",
        "~!@$^*()[]{};:,",
        "...",
    ];
    if server.name == "moto" {
        // rclone stores objects as files: no empty path parts, no trailing '/'.
        keys.extend(["a//b", "trailing/"]);
    }
    let collections = ["集合 🌍", "c+d%20e", "<&>"];
    for c in collections {
        for (i, k) in keys.iter().enumerate() {
            s.put(k, object!({"i": i, "k": *k}))
                .collection(c)
                .await
                .unwrap();
        }
    }
    for c in collections {
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                s.get(k).collection(c).await.unwrap(),
                Some(object!({"i": i, "k": *k})),
                "{c:?} {k:?}"
            );
        }
        let listed: BTreeSet<String> = s.keys().collection(c).await.unwrap().into_iter().collect();
        let expected: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
        assert_eq!(listed, expected, "{c:?}");
        let got = s.get_many(&keys).collection(c).await.unwrap();
        assert!(got.iter().all(Option::is_some));
    }
    let listed: BTreeSet<String> = s.collections().await.unwrap().into_iter().collect();
    assert_eq!(listed, collections.iter().map(|c| c.to_string()).collect());
    // The raw object is where py-key-value puts it.
    assert_eq!(server.raw_head(&bucket, "集合 🌍/ключ-鍵-🔑").await, 200);
    // DeleteObjects carries them in XML.
    assert_eq!(
        s.delete_many(&keys).collection("<&>").await.unwrap(),
        keys.len()
    );
    assert!(s.keys().collection("<&>").await.unwrap().is_empty());
    assert_eq!(
        s.get("a b").collection("c+d%20e").await.unwrap(),
        Some(object!({"i": 0, "k": "a b"}))
    );
}

/// As py-key-value: a read that finds an expired object deletes it (seen with a raw HEAD).
async fn expired_object_is_deleted_on_read(server: Server) {
    let bucket = common::unique_bucket("expired_on_read");
    let (s, clock) = manual_store(&server, &bucket);
    s.put("k", object!({"v": 1}))
        .collection("c")
        .ttl(10)
        .await
        .unwrap();
    s.put("m", object!({"v": 2}))
        .collection("c")
        .ttl(10)
        .await
        .unwrap();
    assert_eq!(server.raw_head(&bucket, "c/k").await, 200);
    clock.advance(Duration::from_secs(9));
    assert_eq!(
        s.get("k").collection("c").await.unwrap(),
        Some(object!({"v": 1}))
    );
    assert_eq!(server.raw_head(&bucket, "c/k").await, 200, "still live");
    clock.advance(Duration::from_secs(2));
    assert_eq!(s.get("k").collection("c").await.unwrap(), None);
    assert_eq!(
        server.raw_head(&bucket, "c/k").await,
        404,
        "deleted on read"
    );
    // get_many deletes too.
    assert_eq!(
        s.get_many(&["m", "k"]).collection("c").await.unwrap(),
        vec![None, None]
    );
    assert_eq!(server.raw_head(&bucket, "c/m").await, 404);
}

/// `keys()` leaves out objects whose `x-amz-meta-expires-at` has passed; `cull()` deletes
/// them and keeps the rest, including objects without metadata (never expiring).
async fn keys_skip_and_cull_removes_expired_objects(server: Server) {
    let bucket = common::unique_bucket("cull");
    let (s, clock) = manual_store(&server, &bucket);
    s.put("old", object!({}))
        .collection("c")
        .ttl(5)
        .await
        .unwrap();
    s.put("new", object!({}))
        .collection("c")
        .ttl(500)
        .await
        .unwrap();
    s.put("forever", object!({})).collection("c").await.unwrap();
    s.put("other", object!({}))
        .collection("d")
        .ttl(5)
        .await
        .unwrap();
    let body = Envelope::WITHOUT_KEY.dump(
        &ManagedEntry::new(object!({"foreign": true}), None, None),
        "c",
        "foreign",
    );
    assert_eq!(
        server.raw_put(&bucket, "c/foreign", body.as_bytes()).await,
        200
    );
    clock.advance(Duration::from_secs(10));
    let keys: BTreeSet<String> = s
        .keys()
        .collection("c")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        keys,
        ["forever", "foreign", "new"]
            .iter()
            .map(|k| k.to_string())
            .collect()
    );
    assert_eq!(
        server.raw_head(&bucket, "c/old").await,
        200,
        "keys() deletes nothing"
    );
    s.cull().await.unwrap();
    assert_eq!(server.raw_head(&bucket, "c/old").await, 404);
    assert_eq!(server.raw_head(&bucket, "d/other").await, 404);
    for live in ["c/new", "c/forever", "c/foreign"] {
        assert_eq!(server.raw_head(&bucket, live).await, 200, "{live}");
    }
}

/// Long names go through py-key-value's S3 strategies: the object key is the longest
/// prefix that fits and 8 hex digits of the SHA-256, and they still round-trip.
async fn long_names_are_hashed_as_py_key_value_does(server: Server) {
    let bucket = common::unique_bucket("long_names");
    let s = server.config(&bucket).open().unwrap();
    let limit = server.max_part_bytes;
    let collection = "ç".repeat(400);
    let key = "k".repeat(2000);
    s.put(&key, object!({"v": 1}))
        .collection(&collection)
        .await
        .unwrap();
    assert_eq!(
        s.get(&key).collection(&collection).await.unwrap(),
        Some(object!({"v": 1}))
    );
    let object = s.object_key(&collection, &key).unwrap();
    let (scoll, skey) = object.split_once('/').unwrap();
    assert!(
        scoll.len() <= limit && skey.len() <= limit,
        "{} {}",
        scoll.len(),
        skey.len()
    );
    let sanitize = |v: &str| {
        key_value_core::sanitize::hash_excess_length(v, limit, true)
            .unwrap()
            .into_owned()
    };
    assert_eq!(scoll, sanitize(&collection));
    assert_eq!(skey, sanitize(&key));
    assert_eq!(server.raw_head(&bucket, &object).await, 200);
    // A near miss of the long key is another object.
    let other = format!("{}x", "k".repeat(1999));
    assert_eq!(s.get(&other).collection(&collection).await.unwrap(), None);
}

/// A missing bucket is created at the first call; with `create_bucket(false)` nothing is
/// created and calls fail with the server's `NoSuchBucket`; an existing bucket works either way.
async fn missing_bucket_is_created_or_refused(server: Server) {
    let bucket = common::unique_bucket("no_create");
    let strict = server.config(&bucket).create_bucket(false).open().unwrap();
    for (call, err) in [
        ("get", strict.get("k").await.unwrap_err()),
        ("put", strict.put("k", object!({})).await.unwrap_err()),
        ("keys", strict.keys().await.unwrap_err()),
    ] {
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        // SeaweedFS refuses a PutObject into a missing bucket as AccessDenied (only admin
        // identities may create buckets by uploading).
        let code = if server.name == "seaweedfs" && call == "put" {
            "AccessDenied"
        } else {
            "NoSuchBucket"
        };
        assert!(err.to_string().contains(code), "{call}: {err}");
        assert!(!err.is_temporary());
    }
    let (status, _, _) = server.raw(Method::HEAD, &bucket, None, "").await;
    assert_eq!(status, 404, "nothing was created");

    let s = server.config(&bucket).open().unwrap();
    s.put("k", object!({"v": 1})).await.unwrap();
    let (status, _, _) = server.raw(Method::HEAD, &bucket, None, "").await;
    assert_eq!(status, 200);
    assert_eq!(strict.get("k").await.unwrap(), Some(object!({"v": 1})));
    // A second store on the existing bucket does not stumble over it.
    let again = server.config(&bucket).open().unwrap();
    assert_eq!(again.get("k").await.unwrap(), Some(object!({"v": 1})));
}

/// Outside us-east-1 the bucket is created with a `LocationConstraint` (moto records it; rclone
/// ignores regions), and requests are signed for that region.
async fn bucket_in_another_region_gets_a_location_constraint(server: Server) {
    let bucket = common::unique_bucket("region");
    let s = server.config(&bucket).region("eu-west-1").open().unwrap();
    assert_eq!(s.region(), "eu-west-1");
    s.put("k", object!({"v": 1})).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), Some(object!({"v": 1})));
    if server.name == "moto" {
        let (status, _, body) = server.raw(Method::GET, &bucket, None, "location").await;
        assert_eq!(status, 200);
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("eu-west-1"), "{body}");
    }
}

/// An object that is not an envelope is a `Deserialization` error naming the key, not a miss.
async fn not_an_envelope_is_a_deserialization_error(server: Server) {
    let bucket = common::unique_bucket("not_envelope");
    let s = server.config(&bucket).open().unwrap();
    s.put("ok", object!({})).collection("c").await.unwrap();
    assert_eq!(server.raw_put(&bucket, "c/bad", b"not json").await, 200);
    assert_eq!(
        server.raw_put(&bucket, "c/binary", &[0xff, 0xfe]).await,
        200
    );
    for key in ["bad", "binary"] {
        let err = s.get(key).collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization, "{err}");
        assert_eq!(err.key(), Some(key));
    }
}

/// `delete` answers whether the object existed (HEAD first, as py-key-value), `delete_many`
/// counts the existing distinct keys.
async fn deletes_say_whether_something_existed(server: Server) {
    let bucket = common::unique_bucket("deletes");
    let s = server.config(&bucket).open().unwrap();
    assert!(!s.delete("k").collection("c").await.unwrap());
    s.put("k", object!({})).collection("c").await.unwrap();
    s.put("j", object!({})).collection("c").await.unwrap();
    assert!(s.delete("k").collection("c").await.unwrap());
    assert!(!s.delete("k").collection("c").await.unwrap());
    assert_eq!(server.raw_head(&bucket, "c/k").await, 404);
    assert_eq!(
        s.delete_many(&["j", "j", "k"])
            .collection("c")
            .await
            .unwrap(),
        1
    );
    assert_eq!(server.raw_head(&bucket, "c/j").await, 404);
}

/// rclone checks signatures against its `--auth-key`: a wrong secret or an unknown access key
/// is a permanent error carrying the server's code.
#[test]
fn wrong_credentials_are_permanent_errors_with_the_server_code() {
    let Some(server) = common::rclone("wrong_credentials") else {
        return;
    };
    key_value_testkit::run(async move {
        let bucket = common::unique_bucket("wrong_credentials");
        for (access, secret, code) in [
            (
                server.access_key.as_str(),
                "wrong-secret",
                "SignatureDoesNotMatch",
            ),
            (
                "unknown-key",
                server.secret_key.as_str(),
                "InvalidAccessKeyId",
            ),
        ] {
            let s = server
                .config(&bucket)
                .credentials(Credentials::new(access, secret))
                .open()
                .unwrap();
            for err in [
                s.get("k").collection("c").await.unwrap_err(),
                s.put("k", object!({})).collection("c").await.unwrap_err(),
            ] {
                assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
                assert!(!err.is_temporary(), "{err}");
                let text = err.to_string();
                assert!(text.contains(code) && text.contains("403"), "{text}");
                assert!(
                    !text.contains("wrong-secret") && !format!("{err:?}").contains("wrong-secret")
                );
            }
        }
        // The right credentials work on the same bucket name.
        let s = server.config(&bucket).open().unwrap();
        s.put("k", object!({})).collection("c").await.unwrap();
    });
}

/// Nothing listening: a temporary `Connection` error, after the configured retries.
#[test]
fn unreachable_server_is_a_temporary_connection_error() {
    key_value_testkit::run(async {
        for retries in [0, 2] {
            let s = S3Config::new("some-bucket")
                .endpoint("http://127.0.0.1:9")
                .credentials(Credentials::new("a", "b"))
                .max_retries(retries)
                .open()
                .unwrap();
            let err = s.get("k").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
            assert!(err.is_temporary());
            assert_eq!(err.operation(), Some("get"));
            let err = s.put("k", object!({})).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        }
    });
}

/// Invalid names fail before anything is sent (the endpoint here does not exist).
#[test]
fn invalid_names_fail_before_sending() {
    key_value_testkit::run(async {
        let s = S3Config::new("some-bucket")
            .endpoint("http://127.0.0.1:9")
            .credentials(Credentials::new("a", "b"))
            .open()
            .unwrap();
        let err = s.put("k", object!({})).collection("a/b").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{err}");
        assert_eq!(err.collection(), Some("a/b"));
        assert_eq!(
            s.get("k").collection("..").await.unwrap_err().kind(),
            ErrorKind::InvalidCollection
        );
        for key in ["..", "a/./b", "x/.."] {
            let err = s.get(key).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{key}: {err}");
        }
        let raw = S3Config::new("some-bucket")
            .endpoint("http://127.0.0.1:9")
            .credentials(Credentials::new("a", "b"))
            .no_sanitization()
            .open()
            .unwrap();
        assert_eq!(raw.info().capabilities().max_key_length, Some(1022));
        let err = raw
            .put(&"é".repeat(600), object!({}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
        assert!(err.to_string().contains("1024"), "{err}");
        let err = raw
            .put_many(&["ok", &"x".repeat(1023)], vec![object!({}), object!({})])
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
    });
}

/// The store's declared capabilities match what it does.
#[test]
fn capabilities_are_declared() {
    let s = S3Config::new("some-bucket")
        .endpoint("http://127.0.0.1:9")
        .credentials(Credentials::new("a", "b"))
        .open()
        .unwrap();
    let info = s.info();
    assert_eq!(info.name(), "S3Store");
    assert_eq!(info.stability(), Stability::Unstable);
    let c = info.capabilities();
    assert!(c.enumerate_keys && c.enumerate_collections && c.destroy && c.destroy_collection);
    assert!(c.cull && c.persistent && c.restricted_collection_names);
    assert!(!c.native_ttl && !c.native_batch && !c.discards_writes);
    assert_eq!(c.max_key_length, None);
}

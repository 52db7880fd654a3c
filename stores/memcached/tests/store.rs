//! MemcachedStore against the real server of `services/memcached/start` (`KV_MEMCACHED_ADDR`):
//! the stored layout, TTL conversion (sub-second, over 30 days, beyond 2038), item-size
//! limits, key validation, batches, the pool, configuration. Each test uses its own prefix or
//! collection.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::config::StoreUrl;
use key_value_core::entry::Envelope;
use key_value_core::prelude::*;
use key_value_core::sanitize::{MemcachedV1KeySanitizationStrategy, SanitizationStrategy};
use key_value_memcached::{
    DEFAULT_ITEM_SIZE_MAX, ITEM_OVERHEAD, KeySanitization, MAX_KEY_BYTES, MemcachedConfig,
    MemcachedStore,
};
use key_value_testkit::golden::assert_python_envelope;
use key_value_testkit::run;

const DAY: u64 = 24 * 60 * 60;

/// A store on the shared server with a prefix unique to the test.
fn store(test: &str) -> Option<(MemcachedStore, String)> {
    let addr = common::addr(test)?;
    let prefix = format!("{}:", common::unique(test));
    let s = MemcachedConfig::new(addr).prefix(&prefix).open().unwrap();
    Some((s, prefix))
}

/// Sends one raw command to the server and returns the first answer line.
fn raw_command(addr: &str, command: &[u8]) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(command).unwrap();
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).unwrap();
    line.trim_end().to_string()
}

#[test]
fn stored_layout_is_py_key_value_s() {
    let test = "stored_layout";
    let Some(addr) = common::addr(test) else {
        return;
    };
    run(async move {
        // No prefix: exactly py-key-value's key, in a collection unique to the test.
        let s = MemcachedStore::new(addr).unwrap();
        let collection = common::unique(test);
        let value = object!({"name": "Alice", "age": 30, "tags": ["a", "é"]});
        s.put("user:1", value.clone())
            .collection(&collection)
            .await
            .unwrap();
        s.put("user:2", value.clone())
            .collection(&collection)
            .ttl(3600)
            .await
            .unwrap();

        let key1 = s.memcached_key(&collection, "user:1").unwrap();
        assert_eq!(key1, format!("{collection}::user:1"));
        let raw = s.raw_get(&key1).await.unwrap().expect("stored");
        assert_eq!(raw.flags, 0);
        assert_eq!(raw.ttl, None, "no TTL: exptime 0");
        let text = String::from_utf8(raw.value).unwrap();
        assert_python_envelope(&text, Envelope::WITH_KEY, &collection, "user:1", &value);
        assert!(!text.contains("expires_at"));

        let key2 = s.memcached_key(&collection, "user:2").unwrap();
        let raw = s.raw_get(&key2).await.unwrap().expect("stored");
        let text = String::from_utf8(raw.value).unwrap();
        assert_python_envelope(&text, Envelope::WITH_KEY, &collection, "user:2", &value);
        let entry = Envelope::load(&text).unwrap();
        let ttl = entry
            .expires_at
            .unwrap()
            .duration_since(entry.created_at.unwrap())
            .unwrap();
        assert_eq!(
            ttl,
            Duration::from_secs(3600),
            "the envelope keeps the exact TTL"
        );
        let server_ttl = raw.ttl.expect("an exptime");
        assert!(
            (3598..=3600).contains(&server_ttl),
            "server TTL {server_ttl}"
        );
        s.delete_many(&["user:1", "user:2"])
            .collection(&collection)
            .await
            .unwrap();
    });
}

/// How many seconds memcached may report beyond a TTL sent as an absolute time (see below).
const ABSOLUTE_SLACK: i64 = 3;

#[test]
fn ttl_over_30_days_is_sent_as_absolute_time() {
    let Some((s, _)) = store("long_ttl") else {
        return;
    };
    run(async move {
        let forty_days = Duration::from_secs(40 * DAY);
        s.put("k", object!({"v": 1}))
            .collection("c")
            .ttl(forty_days)
            .await
            .unwrap();
        // Sent relative, memcached would read 3 456 000 as a 1970 timestamp and drop it at once.
        let (value, ttl) = s.ttl("k").collection("c").await.unwrap().expect("present");
        assert_eq!(value, object!({"v": 1}));
        assert!(ttl.unwrap() > forty_days - Duration::from_secs(5));
        let raw = s
            .raw_get(&s.memcached_key("c", "k").unwrap())
            .await
            .unwrap()
            .expect("present on the server");
        let server_ttl = raw.ttl.expect("a server-side expiry");
        let expected = (40 * DAY) as i64;
        // An absolute exptime is rounded up to the next second, and memcached reports the
        // remaining time against its own clock, which ticks once a second and can lag the wall
        // clock by a second or two (CI saw 3456002): hence up to 3 s over.
        assert!(
            (expected - 5..=expected + ABSOLUTE_SLACK).contains(&server_ttl),
            "server TTL {server_ttl}, expected about {expected}"
        );

        // Exactly 30 days is still relative; 30 days and a second is absolute. Both stay.
        for secs in [30 * DAY, 30 * DAY + 1] {
            let key = format!("k{secs}");
            s.put(&key, object!({"v": 2}))
                .collection("c")
                .ttl(Duration::from_secs(secs))
                .await
                .unwrap();
            let raw = s
                .raw_get(&s.memcached_key("c", &key).unwrap())
                .await
                .unwrap()
                .expect("present on the server");
            let t = raw.ttl.unwrap();
            assert!(
                (secs as i64 - 5..=secs as i64 + ABSOLUTE_SLACK).contains(&t),
                "{secs}: {t}"
            );
        }
    });
}

#[test]
fn ttl_beyond_2038_keeps_the_entry_without_server_expiry() {
    let Some((s, _)) = store("ttl_2038") else {
        return;
    };
    run(async move {
        let century = Duration::from_secs(100 * 365 * DAY);
        s.put("k", object!({"v": 1}))
            .collection("c")
            .ttl(century)
            .await
            .unwrap();
        let (_, ttl) = s.ttl("k").collection("c").await.unwrap().expect("present");
        assert!(ttl.unwrap() > century - Duration::from_secs(5));
        let raw = s
            .raw_get(&s.memcached_key("c", "k").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            raw.ttl, None,
            "memcached's exptime cannot go past 2038: none is set"
        );
    });
}

#[test]
fn sub_second_ttl_is_one_second_on_the_server_and_exact_on_read() {
    let Some((s, _)) = store("sub_second") else {
        return;
    };
    run(async move {
        s.put("k", object!({"v": 1}))
            .collection("c")
            .ttl(0.4)
            .await
            .unwrap();
        let raw = s
            .raw_get(&s.memcached_key("c", "k").unwrap())
            .await
            .unwrap();
        if let Some(raw) = raw {
            // memcached's clock ticks in seconds: it may already have dropped it.
            let text = String::from_utf8(raw.value).unwrap();
            let e = Envelope::load(&text).unwrap();
            let exact = e.expires_at.unwrap().duration_since(e.created_at.unwrap());
            assert_eq!(
                exact,
                Some(Duration::from_millis(400)),
                "the envelope keeps 0.4 s"
            );
            assert!(raw.ttl.is_some_and(|t| t <= 1), "{:?}", raw.ttl);
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(s.get("k").collection("c").await.unwrap(), None);

        // The rounding is upward: 1.2 s is 2 s on the server, and the entry lives 1.2 s.
        s.put("k2", object!({"v": 2}))
            .collection("c")
            .ttl(1.2)
            .await
            .unwrap();
        let raw = s
            .raw_get(&s.memcached_key("c", "k2").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(
            raw.ttl.is_some_and(|t| (1..=2).contains(&t)),
            "{:?}",
            raw.ttl
        );
    });
}

#[test]
fn oversized_values_are_value_too_large_before_sending() {
    let Some((s, _)) = store("oversized") else {
        return;
    };
    run(async move {
        let before = s.info().capabilities().max_value_size;
        assert_eq!(
            before,
            Some(DEFAULT_ITEM_SIZE_MAX - ITEM_OVERHEAD - MAX_KEY_BYTES),
            "declared for a default server before the first call"
        );
        let item_size_max = s.item_size_max().await.unwrap();
        assert_eq!(
            item_size_max, DEFAULT_ITEM_SIZE_MAX,
            "the test server runs with -I 1m"
        );
        assert_eq!(
            s.info().capabilities().max_value_size,
            Some(item_size_max - ITEM_OVERHEAD - MAX_KEY_BYTES)
        );

        // The largest envelope this key can hold: just below it stores, one byte more fails.
        let mk = s.memcached_key("c", "big").unwrap();
        let limit = item_size_max - ITEM_OVERHEAD - mk.len();
        let envelope_len = |n: usize| {
            let e = key_value_core::entry::ManagedEntry::created_at(
                object!({"s": "x".repeat(n)}),
                s.info().clock().now(),
                None,
            );
            Envelope::WITH_KEY.dump(&e, "c", "big").len()
        };
        let overhead = envelope_len(0);
        let fits = limit - overhead;
        // Timestamps may lose their microseconds (shorter by 7): leave that margin.
        s.put("big", object!({"s": "x".repeat(fits - 7)}))
            .collection("c")
            .await
            .unwrap();
        assert!(s.get("big").collection("c").await.unwrap().is_some());
        let err = s
            .put("big2", object!({"s": "x".repeat(fits + 1)}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
        assert!(!err.is_temporary());
        assert_eq!(s.get("big2").collection("c").await.unwrap(), None);

        // In a batch, nothing is sent when one value is too large.
        let err = s
            .put_many(
                &["small", "huge"],
                vec![object!({"v": 1}), object!({"s": "x".repeat(2 << 20)})],
            )
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
        assert_eq!(err.key(), Some("huge"));
        assert_eq!(s.get("small").collection("c").await.unwrap(), None);

        // A configured lower bound applies too.
        let addr = s.address().to_string();
        let capped = MemcachedConfig::new(addr)
            .prefix(format!("{}:", common::unique("oversized_cap")))
            .max_value_size(1000)
            .open()
            .unwrap();
        assert_eq!(capped.info().capabilities().max_value_size, Some(1000));
        let err = capped
            .put("k", object!({"s": "x".repeat(1000)}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
        capped.put("k", object!({"s": "x"})).await.unwrap();
    });
}

#[test]
fn keys_memcached_cannot_hold_are_invalid_key_errors_before_sending() {
    // Nothing listens on 127.0.0.1:1: a Connection error would mean something was sent.
    let s = MemcachedConfig::new("127.0.0.1:1").open().unwrap();
    let v1 = MemcachedConfig::new("127.0.0.1:1")
        .sanitize_v1()
        .open()
        .unwrap();
    let key_251 = "k".repeat(251);
    let key_247 = "k".repeat(247);
    run(async move {
        for bad in [
            "a b",
            "tab\there",
            "nl\nhere",
            "nul\0here",
            "del\u{7f}here",
            &key_251,
        ] {
            for err in [
                s.put(bad, object!({})).collection("c").await.unwrap_err(),
                s.get(bad).collection("c").await.unwrap_err(),
                s.delete(bad).collection("c").await.unwrap_err(),
                s.get_many(&["ok", bad]).collection("c").await.unwrap_err(),
                s.delete_many(&["ok", bad])
                    .collection("c")
                    .await
                    .unwrap_err(),
            ] {
                assert_eq!(err.kind(), ErrorKind::InvalidKey, "{bad:?}: {err}");
                assert!(!err.is_temporary());
            }
        }
        // Collections: spaces and control characters are the collection's fault.
        let err = s
            .put("k", object!({}))
            .collection("my coll")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCollection, "{err}");
        // 250 bytes in all is the limit: "c::" + 247 fits, 248 does not; bytes, not characters.
        assert_eq!(s.memcached_key("c", &key_247).unwrap().len(), MAX_KEY_BYTES);
        let err = s
            .put(&"é".repeat(124), object!({}))
            .collection("c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        assert!(s.memcached_key("c", &"é".repeat(123)).is_ok());

        // With V1 they all become valid keys: py-key-value's hash for long ones, the same
        // hash for the rest.
        for key in ["a b", "tab\there", "nul\0here", &key_251, &"é".repeat(124)] {
            let mk = v1.memcached_key("c", key).unwrap();
            assert!(
                key_value_memcached::is_valid_memcached_key(&mk),
                "{key:?} -> {mk}"
            );
            assert!(mk.starts_with("H_"));
        }
        let py = MemcachedV1KeySanitizationStrategy::new()
            .sanitize(&format!("c::{key_251}"))
            .into_owned();
        assert_eq!(v1.memcached_key("c", &key_251).unwrap(), py);
        // V1 reserves H_ and S_ at the start of the compound key (the collection).
        let err = v1
            .put("k", object!({}))
            .collection("H_c")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        // The prefix counts toward the limit.
        let p = MemcachedConfig::new("127.0.0.1:1")
            .prefix("p".repeat(100))
            .open()
            .unwrap();
        assert_eq!(p.info().capabilities().max_key_length, Some(147));
        assert!(p.memcached_key("c", &"k".repeat(147)).is_ok());
        assert_eq!(
            p.put(&"k".repeat(148), object!({}))
                .collection("c")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidKey
        );
    });
}

#[test]
fn v1_stores_keys_memcached_rejects() {
    let test = "v1_keys";
    let Some(addr) = common::addr(test) else {
        return;
    };
    run(async move {
        let s = MemcachedConfig::new(addr)
            .prefix(format!("{}:", common::unique(test)))
            .key_sanitization(KeySanitization::V1)
            .open()
            .unwrap();
        let keys = ["a b", "ctl\u{1}", &"k".repeat(251), &"é".repeat(200)];
        let values: Vec<Object> = (0..keys.len()).map(|i| object!({"i": i})).collect();
        s.put_many(&keys, values.clone())
            .collection("c")
            .await
            .unwrap();
        let got = s.get_many(&keys).collection("c").await.unwrap();
        assert_eq!(got, values.into_iter().map(Some).collect::<Vec<_>>());
        assert_eq!(s.delete_many(&keys).collection("c").await.unwrap(), 4);
    });
}

#[test]
fn batches_cross_command_chunks_and_keep_order_and_duplicates() {
    let Some((s, _)) = store("batches") else {
        return;
    };
    run(async move {
        let keys: Vec<String> = (0..250).map(|i| format!("k{i}")).collect();
        let values: Vec<Object> = (0..250).map(|i| object!({"i": i})).collect();
        s.put_many(&keys, values.clone())
            .collection("c")
            .await
            .unwrap();
        let mut asked: Vec<String> = keys.iter().rev().cloned().collect();
        asked.push("k0".into());
        asked.push("missing".into());
        asked.push("k0".into());
        let got = s.get_many(&asked).collection("c").await.unwrap();
        assert_eq!(got.len(), asked.len());
        assert_eq!(got[0], Some(object!({"i": 249})));
        assert_eq!(got[249], Some(object!({"i": 0})));
        assert_eq!(got[250], Some(object!({"i": 0})));
        assert_eq!(got[251], None);
        assert_eq!(got[252], Some(object!({"i": 0})));
        let mut del = keys.clone();
        del.push("k1".into());
        assert_eq!(s.delete_many(&del).collection("c").await.unwrap(), 250);
        assert!(
            s.get_many(&keys)
                .collection("c")
                .await
                .unwrap()
                .iter()
                .all(Option::is_none)
        );
    });
}

#[test]
fn many_tasks_share_a_small_pool() {
    let test = "pool";
    let Some(addr) = common::addr(test) else {
        return;
    };
    run(async move {
        let s = Arc::new(
            MemcachedConfig::new(addr)
                .prefix(format!("{}:", common::unique(test)))
                .pool_size(2)
                .open()
                .unwrap(),
        );
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..64 {
            let s = s.clone();
            tasks.spawn(async move {
                for i in 0..20 {
                    let key = format!("t{t}_{i}");
                    s.put(&key, object!({"t": t, "i": i})).await.unwrap();
                    assert_eq!(s.get(&key).await.unwrap(), Some(object!({"t": t, "i": i})));
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
    });
}

#[test]
fn foreign_values_are_deserialization_errors() {
    let Some((s, prefix)) = store("foreign") else {
        return;
    };
    let addr = s.address().to_string();
    let key = format!("{prefix}c::k");
    assert_eq!(
        raw_command(&addr, format!("set {key} 0 0 8\r\nnot json\r\n").as_bytes()),
        "STORED"
    );
    run(async move {
        let err = s.get("k").collection("c").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization, "{err}");
        assert_eq!(err.key(), Some("k"));
        // Other keys keep working, and the store too.
        s.put("k2", object!({"v": 1}))
            .collection("c")
            .await
            .unwrap();
        assert!(s.get("k2").collection("c").await.unwrap().is_some());
        assert!(s.delete("k").collection("c").await.unwrap());
    });
}

#[test]
fn capabilities_and_unsupported_operations() {
    let s = MemcachedConfig::new("127.0.0.1:1").open().unwrap();
    let caps = *s.info().capabilities();
    assert!(caps.native_ttl && caps.native_batch);
    assert!(!caps.destroy && !caps.destroy_collection && !caps.cull);
    assert!(!caps.enumerate_keys && !caps.enumerate_collections);
    assert!(!caps.persistent);
    assert_eq!(caps.max_key_length, Some(247));
    assert_eq!(s.info().stability(), Stability::Unstable);
    let v1 = MemcachedConfig::new("127.0.0.1:1")
        .sanitize_v1()
        .open()
        .unwrap();
    assert_eq!(v1.info().capabilities().max_key_length, None);
    assert_eq!(v1.info().capabilities().max_collection_length, None);
    let flush = MemcachedConfig::new("127.0.0.1:1")
        .allow_flush(true)
        .open()
        .unwrap();
    assert!(flush.info().capabilities().destroy);
    run(async move {
        for err in [
            s.keys().collection("c").await.unwrap_err(),
            s.collections().await.unwrap_err(),
            s.destroy_collection("c").await.map(|_| ()).unwrap_err(),
            s.destroy().await.map(|_| ()).unwrap_err(),
            s.cull().await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        }
    });
}

#[test]
fn unreachable_server_is_a_temporary_connection_error() {
    // open() needs no runtime and sends nothing.
    let s = MemcachedConfig::new("127.0.0.1:1")
        .connect_timeout(Duration::from_secs(2))
        .open()
        .unwrap();
    run(async move {
        for err in [
            s.get("k").await.unwrap_err(),
            s.put("k", object!({})).await.unwrap_err(),
            s.get_many(&["a", "b"]).await.unwrap_err(),
            s.delete_many(&["a"]).await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
            assert!(err.is_temporary());
            assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
        }
        s.close().await.unwrap();
        assert_eq!(s.get("k").await.unwrap_err().kind(), ErrorKind::Closed);
    });
}

#[test]
fn url_options() {
    let parse = |u: &str| MemcachedConfig::from_url(&StoreUrl::parse(u).unwrap());
    let c = parse(
        "memcached://127.0.0.1:16211?prefix=app:&pool_size=3&sanitize=v1&allow_flush=true\
         &default_collection=users&connect_timeout=1.5&timeout=2&max_value_size=5000",
    )
    .unwrap();
    assert_eq!(c.address(), "127.0.0.1:16211");
    assert_eq!(c.key_prefix(), "app:");
    assert_eq!(c.connections(), 3);
    assert!(matches!(c.sanitization(), KeySanitization::V1));
    assert!(c.flush_allowed());
    let s = c.open().unwrap();
    assert_eq!(s.info().default_collection(), "users");
    assert_eq!(s.info().capabilities().max_value_size, Some(5000));
    assert!(s.info().capabilities().destroy);

    let d = parse("memcached://").unwrap();
    assert_eq!(d.address(), "127.0.0.1:11211");
    assert!(matches!(d.sanitization(), KeySanitization::Passthrough));
    assert!(!d.flush_allowed());
    assert_eq!(
        parse("memcached://[::1]:11311").unwrap().address(),
        "[::1]:11311"
    );
    assert_eq!(
        parse("memcached://h?sanitize=none").unwrap().address(),
        "h:11211"
    );

    for bad in [
        "memcached://h?prefx=a",
        "memcached://h?sanitize=v2",
        "memcached://h?pool_size=many",
        "memcached://h?timeout=0",
        "memcached://h?allow_flush=maybe",
        "memcached://h/db0",
        "memcached://u:p@h",
        "redis://h",
    ] {
        assert_eq!(
            parse(bad).err().map(|e| e.kind()),
            Some(ErrorKind::Config),
            "{bad}"
        );
    }
    for bad in ["memcached://h?pool_size=0", "memcached://h?prefix=a%20b"] {
        let err = parse(bad).and_then(MemcachedConfig::open).err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config), "{bad}");
    }
    let long = "p".repeat(key_value_memcached::MAX_PREFIX_BYTES + 1);
    assert!(MemcachedConfig::new("h:1").prefix(long).open().is_err());
}

//! Behaviour of `RaiseOnMissingAdapter` over MemoryStore: every read with and without the
//! switch, `.required()`, the error's operation, collection and key(s), expiry counting as
//! missing, and the forwarded writes.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use key_value_adapters::RaiseOnMissingAdapter;
use key_value_core::prelude::*;
use key_value_core::{Clock, DEFAULT_COLLECTION, ManualClock};
use key_value_memory::MemoryStore;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn check(err: &Error, op: &str, collection: &str, key: &str) {
    assert_eq!(err.kind(), ErrorKind::MissingKey, "{err}");
    assert_eq!(err.operation(), Some(op), "{err}");
    assert_eq!(err.collection(), Some(collection), "{err}");
    assert_eq!(err.key(), Some(key), "{err}");
}

async fn seeded() -> RaiseOnMissingAdapter<MemoryStore> {
    let store = RaiseOnMissingAdapter::new(MemoryStore::new());
    store
        .put_many(&["a", "b"], vec![object!({"v": "a"}), object!({"v": "b"})])
        .collection("c")
        .ttl(60)
        .await
        .unwrap();
    store.put("d", object!({"v": "d"})).await.unwrap();
    store
}

#[test]
fn get_returns_none_or_raises() {
    rt().block_on(async {
        let store = seeded().await;
        assert_eq!(store.get("x").collection("c").await.unwrap(), None);
        assert_eq!(
            store
                .get("x")
                .collection("c")
                .raise_on_missing(false)
                .await
                .unwrap(),
            None
        );
        let err = store
            .get("x")
            .collection("c")
            .raise_on_missing(true)
            .await
            .unwrap_err();
        check(&err, "get", "c", "x");
        assert!(err.to_string().contains("not found"), "{err}");
        let err = store.get("x").raise_on_missing(true).await.unwrap_err();
        check(&err, "get", DEFAULT_COLLECTION, "x");
        // The last switch wins.
        assert_eq!(
            store
                .get("x")
                .raise_on_missing(true)
                .raise_on_missing(false)
                .await
                .unwrap(),
            None
        );

        assert_eq!(
            store
                .get("a")
                .collection("c")
                .raise_on_missing(true)
                .await
                .unwrap(),
            Some(object!({"v": "a"}))
        );
        let a: Object = store.get("a").collection("c").required().await.unwrap();
        assert_eq!(a, object!({"v": "a"}));
        let d: Object = store.get("d").required().await.unwrap();
        assert_eq!(d, object!({"v": "d"}));
        let err = store.get("a").required().await.unwrap_err();
        check(&err, "get", DEFAULT_COLLECTION, "a");
        let err = store.get("a").collection("").required().await.unwrap_err();
        check(&err, "get", DEFAULT_COLLECTION, "a");
    });
}

#[test]
fn ttl_returns_none_or_raises() {
    rt().block_on(async {
        let store = seeded().await;
        assert_eq!(store.ttl("x").await.unwrap(), None);
        let err = store
            .ttl("x")
            .collection("c")
            .raise_on_missing(true)
            .await
            .unwrap_err();
        check(&err, "ttl", "c", "x");
        let (value, ttl) = store
            .ttl("a")
            .collection("c")
            .raise_on_missing(true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(value, object!({"v": "a"}));
        assert!(ttl.is_some_and(|t| t <= Duration::from_secs(60)));
        let (value, ttl) = store.ttl("d").required().await.unwrap();
        assert_eq!((value, ttl), (object!({"v": "d"}), None));
        let err = store
            .ttl("zz")
            .collection("c")
            .required()
            .await
            .unwrap_err();
        check(&err, "ttl", "c", "zz");
    });
}

#[test]
fn get_many_names_the_first_missing_key_and_lists_all() {
    rt().block_on(async {
        let store = seeded().await;
        let keys = ["a", "x", "b", "y"];
        assert_eq!(
            store.get_many(&keys).collection("c").await.unwrap(),
            vec![
                Some(object!({"v": "a"})),
                None,
                Some(object!({"v": "b"})),
                None
            ]
        );
        let err = store
            .get_many(&keys)
            .collection("c")
            .raise_on_missing(true)
            .await
            .unwrap_err();
        check(&err, "get_many", "c", "x");
        let text = err.to_string();
        assert!(text.contains("2 of 4"), "{text}");
        assert!(text.contains("'x', 'y'"), "{text}");
        assert!(!text.contains("'a'"), "{text}");

        let all = store
            .get_many(&["b", "a"])
            .collection("c")
            .raise_on_missing(true)
            .await
            .unwrap();
        assert_eq!(
            all,
            vec![Some(object!({"v": "b"})), Some(object!({"v": "a"}))]
        );
        let all: Vec<Object> = store
            .get_many(&["b", "a", "b"])
            .collection("c")
            .required()
            .await
            .unwrap();
        assert_eq!(
            all,
            vec![
                object!({"v": "b"}),
                object!({"v": "a"}),
                object!({"v": "b"})
            ]
        );
        let err = store.get_many(&["d", "a"]).required().await.unwrap_err();
        check(&err, "get_many", DEFAULT_COLLECTION, "a");

        // An empty batch has nothing missing.
        let none: Vec<Object> = store.get_many::<&str>(&[]).required().await.unwrap();
        assert!(none.is_empty());

        // Long lists are summarized.
        let many: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
        let err = store
            .get_many(&many)
            .raise_on_missing(true)
            .await
            .unwrap_err();
        check(&err, "get_many", DEFAULT_COLLECTION, "m00");
        let text = err.to_string();
        assert!(text.contains("25 of 25"), "{text}");
        assert!(text.contains("'m09', and 15 more"), "{text}");
        assert!(!text.contains("'m10'"), "{text}");
    });
}

#[test]
fn ttl_many_names_the_first_missing_key() {
    rt().block_on(async {
        let store = seeded().await;
        let got = store.ttl_many(&["a", "x"]).collection("c").await.unwrap();
        assert!(got[0].is_some() && got[1].is_none());
        let err = store
            .ttl_many(&["x", "a", "y"])
            .collection("c")
            .raise_on_missing(true)
            .await
            .unwrap_err();
        check(&err, "ttl_many", "c", "x");
        assert!(err.to_string().contains("'x', 'y'"), "{err}");
        let all = store
            .ttl_many(&["a", "b"])
            .collection("c")
            .required()
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].0, object!({"v": "b"}));
        assert!(all.iter().all(|(_, ttl)| ttl.is_some()));
        let err = store.ttl_many(&["d", "q"]).required().await.unwrap_err();
        check(&err, "ttl_many", DEFAULT_COLLECTION, "q");
    });
}

#[test]
fn expired_keys_are_missing() {
    rt().block_on(async {
        let clock = ManualClock::starting_now();
        let store = RaiseOnMissingAdapter::new(
            MemoryStore::builder()
                .clock(Clock::from(clock.clone()))
                .build(),
        );
        store.put("k", object!({"v": 1})).ttl(5).await.unwrap();
        store.get("k").required().await.unwrap();
        clock.advance(Duration::from_secs(6));
        check(
            &store.get("k").required().await.unwrap_err(),
            "get",
            DEFAULT_COLLECTION,
            "k",
        );
        check(
            &store
                .ttl_many(&["k"])
                .raise_on_missing(true)
                .await
                .unwrap_err(),
            "ttl_many",
            DEFAULT_COLLECTION,
            "k",
        );
    });
}

#[test]
fn writes_are_forwarded_and_errors_keep_their_kind() {
    rt().block_on(async {
        let store = RaiseOnMissingAdapter::new(MemoryStore::new());
        store
            .put("k", object!({"v": 1}))
            .collection("c")
            .ttl(30)
            .await
            .unwrap();
        store
            .put_many(&["a", "b"], vec![object!({"v": 2}), object!({"v": 3})])
            .await
            .unwrap();
        assert_eq!(
            store.inner().get("k").collection("c").await.unwrap(),
            Some(object!({"v": 1}))
        );
        assert!(
            store
                .inner()
                .ttl("k")
                .collection("c")
                .await
                .unwrap()
                .unwrap()
                .1
                .is_some()
        );
        assert_eq!(
            store.inner().get("b").await.unwrap(),
            Some(object!({"v": 3}))
        );
        assert!(store.delete("k").collection("c").await.unwrap());
        assert!(!store.delete("k").collection("c").await.unwrap());
        assert_eq!(store.delete_many(&["a", "b", "z"]).await.unwrap(), 2);
        assert_eq!(
            store.inner().get_many(&["a", "b"]).await.unwrap(),
            vec![None, None]
        );

        // Argument errors stay what they are, not MissingKey.
        let err = store.get("").raise_on_missing(true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        let err = store.get_many(&["ok", ""]).required().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey);
        let err = store.put("k", object!({})).ttl(0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTtl);
        let err = store
            .put_many(&["a"], vec![object!({}), object!({})])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);

        let shared = RaiseOnMissingAdapter::new(std::sync::Arc::new(MemoryStore::new()));
        let cloned = shared.clone();
        cloned.put("k", object!({"v": 1})).await.unwrap();
        assert_eq!(shared.get("k").required().await.unwrap(), object!({"v": 1}));
        assert_eq!(store.into_inner().info().name(), "MemoryStore");
    });
}

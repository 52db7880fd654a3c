//! The scenario the stores' py-key-value interop tests share: Python writes five entries
//! (without a TTL, with an hour, with a minute, a batch of two with ten minutes), Rust reads
//! them back with their remaining TTLs.
//!
//! A store's test puts [`PYTHON_WRITES`] in its script and calls `await write_scenario(s, v)`
//! with py-key-value's store, then [`assert_reads_python_scenario`] with its own; the store's
//! layout checks (raw rows, documents, items) stay in its own test. [`Scenario`] changes the
//! names where a store needs others (a key with `/`, a collection its sanitization rewrites).

use std::time::Duration;

use key_value_core::prelude::*;

/// Python: `async def write_scenario(s, v, users="users", many="many", odd="ключ")` puts
/// `user:1` (no TTL), `user:2` (3600 s) and `odd` (60 s) with value `v` in `users`, and
/// `m1`/`m2` (`{"i": 1}`, `{"i": 2}`, 600 s) in `many` with one `put_many`.
pub const PYTHON_WRITES: &str = r#"
async def write_scenario(s, v, users="users", many="many", odd="ключ"):
    await s.put("user:1", v, collection=users)
    await s.put("user:2", v, collection=users, ttl=3600)
    await s.put(odd, v, collection=users, ttl=60)
    await s.put_many(["m1", "m2"], [{"i": 1}, {"i": 2}], collection=many, ttl=600)
"#;

/// The names a scenario writes under: the arguments `users`, `many` and `odd` of the Python
/// `write_scenario`, with the same defaults.
#[derive(Debug, Clone, Copy)]
pub struct Scenario<'a> {
    /// The collection of `user:1`, `user:2` and the odd key.
    pub users: &'a str,
    /// The collection of the batch `m1`, `m2`.
    pub many: &'a str,
    /// The third key of `users`.
    pub odd_key: &'a str,
}

impl Default for Scenario<'_> {
    fn default() -> Self {
        Scenario {
            users: "users",
            many: "many",
            odd_key: "ключ",
        }
    }
}

/// Whether `actual` is within `tolerance` of `expected`.
pub fn close_to(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance
}

/// Checks what [`PYTHON_WRITES`] wrote under `names`, through `store`: values, remaining TTLs
/// (within 10 s), no TTL on `user:1`, and the batch in order with a miss.
///
/// # Panics
/// When anything differs: this is test code.
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub async fn assert_reads_python_scenario<S: KeyValue>(
    store: &S,
    value: &Object,
    names: Scenario<'_>,
) {
    let Scenario {
        users,
        many,
        odd_key,
    } = names;
    assert_eq!(
        store.get("user:1").collection(users).await.unwrap(),
        Some(value.clone())
    );
    let remaining = |ttl: Option<Duration>| ttl.expect("a TTL").as_secs_f64();
    let (v, ttl) = store
        .ttl("user:1")
        .collection(users)
        .await
        .unwrap()
        .expect("user:1");
    assert_eq!((&v, ttl), (value, None));
    let (v, ttl) = store
        .ttl("user:2")
        .collection(users)
        .await
        .unwrap()
        .expect("user:2");
    assert_eq!(&v, value);
    assert!(close_to(remaining(ttl), 3600.0, 10.0), "{ttl:?}");
    let (v, ttl) = store
        .ttl(odd_key)
        .collection(users)
        .await
        .unwrap()
        .expect("odd key");
    assert_eq!(&v, value);
    assert!(close_to(remaining(ttl), 60.0, 10.0), "{ttl:?}");
    assert_eq!(
        store
            .get_many(&["m2", "nope", "m1"])
            .collection(many)
            .await
            .unwrap(),
        vec![Some(object!({"i": 2})), None, Some(object!({"i": 1}))]
    );
    let (_, ttl) = store.ttl("m1").collection(many).await.unwrap().expect("m1");
    assert!(close_to(remaining(ttl), 600.0, 10.0), "{ttl:?}");
}

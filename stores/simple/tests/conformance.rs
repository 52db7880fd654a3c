//! The conformance suite on SimpleStore, plus its stored bytes against py-key-value's.

use key_value_core::entry::Envelope;
use key_value_core::prelude::*;
use key_value_simple::SimpleStore;
use key_value_testkit::Fixture;
use key_value_testkit::golden::assert_python_envelope;

mod unbounded {
    use super::*;

    async fn store(fx: Fixture) -> SimpleStore {
        SimpleStore::new().with_clock(fx.clock())
    }

    key_value_testkit::conformance_suite!(store);
}

mod bounded {
    use super::*;

    async fn store(fx: Fixture) -> SimpleStore {
        SimpleStore::with_max_entries(300).with_clock(fx.clock())
    }

    key_value_testkit::conformance_suite!(store);
}

#[tokio::test]
async fn stored_text_is_py_key_values_envelope() {
    let store = SimpleStore::new();
    let cases = key_value_testkit::cases::simple_cases();
    for (key, value) in &cases {
        store
            .put(key, value.clone())
            .collection("users")
            .ttl(3600)
            .await
            .unwrap();
        let raw = store.raw_document("users", key).unwrap();
        assert_python_envelope(&raw, Envelope::WITH_KEY, "users", key, value);
        assert!(raw.contains("\"expires_at\": \""), "{raw}");
    }
    store
        .put("u:1", object!({"name": "Ann"}))
        .collection("ユーザー")
        .await
        .unwrap();
    let raw = store.raw_document("ユーザー", "u:1").unwrap();
    assert!(
        raw.starts_with(r#"{"collection": "\u30e6\u30fc\u30b6\u30fc", "created_at": ""#),
        "{raw}"
    );
    assert!(!raw.contains("expires_at"), "no TTL, no expires_at: {raw}");
}

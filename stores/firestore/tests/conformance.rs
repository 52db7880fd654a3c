//! The conformance suite on FirestoreStore against the Cloud Firestore emulator of
//! `services/firestore/start` (`KV_FIRESTORE_EMULATOR_HOST`), twice: ids unchanged
//! (py-key-value's default) and with py-key-value's V1 id sanitization. Each test gets a
//! database of its own (named after `Fixture::namespace`), so tests running in parallel on the
//! one emulator do not meet, and `destroy` (which empties the store's database) is safe.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_firestore::FirestoreConfig;
use key_value_testkit::Fixture;

fn config(fx: &Fixture) -> FirestoreConfig {
    let host = std::env::var(common::HOST_VAR).unwrap();
    common::config(&host, &common::database_for(fx.namespace())).clock(fx.clock())
}

mod passthrough {
    use super::*;

    async fn store(fx: Fixture) -> key_value_firestore::FirestoreStore {
        config(&fx).open().unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_FIRESTORE_EMULATOR_HOST");
}

mod sanitize_v1 {
    use super::*;

    async fn store(fx: Fixture) -> key_value_firestore::FirestoreStore {
        config(&fx).sanitize_v1().open().unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_FIRESTORE_EMULATOR_HOST");
}

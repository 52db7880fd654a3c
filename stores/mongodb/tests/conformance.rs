//! The conformance suite on MongoDbStore against the server of `services/mongodb/start`
//! (`KV_MONGODB_URL`; secantusdb, a MongoDB wire-protocol server): without collection
//! sanitization (py-key-value's default) and with the V1 sanitization. Each test gets its own
//! database (`Fixture::namespace`), so tests running in parallel on the one server do not meet.
//!
//! Without sanitization, MongoDB refuses the collection name `test_collection!@#$%^&*()` of
//! `special_characters_in_collection_name` (it contains `$`): the store reports an
//! `InvalidCollection` error before sending, which `tests/store.rs` checks; that one suite test
//! is therefore left out of the passthrough run (and runs with V1, where the name works).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_mongodb::{MongoDbConfig, MongoDbStore};
use key_value_testkit::Fixture;

mod passthrough {
    use super::*;

    async fn store(fx: Fixture) -> MongoDbStore {
        MongoDbConfig::new(common::suite_url("mongodb conformance"))
            .database(common::database_name(fx.namespace()))
            .clock(fx.clock())
            .open()
            .unwrap()
    }

    // MongoDB refuses `$` in collection names: the store declares
    // `restricted_collection_names`, so the suite accepts an `InvalidCollection` there.
    key_value_testkit::conformance_suite!(store, requires = "KV_MONGODB_URL");
}

mod v1 {
    use super::*;

    async fn store(fx: Fixture) -> MongoDbStore {
        MongoDbConfig::new(common::suite_url("mongodb conformance (v1)"))
            .database(common::database_name(fx.namespace()))
            .sanitize_v1()
            .clock(fx.clock())
            .open()
            .unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_MONGODB_URL");
}

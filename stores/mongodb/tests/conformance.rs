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

    // Every test of `conformance_suite!` but `special_characters_in_collection_name`.
    key_value_testkit::__conformance_tests! { store; "KV_MONGODB_URL";
        store_declares_itself,
        empty_get, empty_put, empty_ttl,
        put_non_object_is_serialization_error,
        get_put_get,
        models_put_get,
        large_values_put_get,
        put_many_get, put_many_get_many, put_many_array_get_many,
        put_put_get_many, put_put_get_many_missing_one,
        put_get_delete_get, get_put_get_delete_get,
        put_many_get_get_delete_many_get_many, put_many_get_many_delete_many_get_many,
        delete_missing, put_delete_delete,
        delete_many_missing, put_delete_many, delete_many_delete_many,
        get_put_get_put_delete_get,
        put_many_delete_delete_get_many,
        put_ttl_get_ttl,
        invalid_ttl_rejected,
        put_expired_get_none,
        long_collection_name, long_key_name,
        special_characters_in_key_name,
        not_unbounded,
        concurrent_operations,
        minimum_put_many_get_many_performance, minimum_put_many_delete_many_performance,
        collection_isolation,
        default_collection_is_used_when_none_given,
        overwrite_replaces_ttl,
        unicode_keys_and_values,
        empty_object_value,
        one_mib_value,
        batch_of_1000,
        expiry_follows_the_clock,
        expiry_in_real_time,
        ttl_many_mixed,
        get_many_with_duplicates,
        put_many_length_mismatch_writes_nothing,
        empty_key_rejected,
        errors_name_operation_collection_and_key,
        stored_timestamps_round_trip,
        keys_enumeration,
        collections_enumeration,
        destroy_store,
        destroy_single_collection,
        cull_expired,
        closed_store_rejects_calls,
    }
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

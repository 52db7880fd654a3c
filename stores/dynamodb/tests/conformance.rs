//! The conformance suite on DynamoDBStore, once against moto (`services/moto/start`,
//! `KV_MOTO_URL`) and once against dynalite (`services/dynalite/start`, `KV_DYNALITE_URL`).
//! Each test gets its own table (named after `Fixture::namespace`), so tests running in
//! parallel on one server do not meet, and `destroy` (which deletes the store's table) is safe.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_dynamodb::DynamoDBStore;
use key_value_testkit::Fixture;

fn store(var: &str, fx: &Fixture) -> DynamoDBStore {
    common::config(&common::suite_url(var), &common::table_for(fx.namespace()))
        .clock(fx.clock())
        .open()
        .unwrap()
}

mod moto {
    use super::*;

    async fn factory(fx: Fixture) -> DynamoDBStore {
        store("KV_MOTO_URL", &fx)
    }

    key_value_testkit::conformance_suite!(factory, requires = "KV_MOTO_URL");
}

mod dynalite {
    use super::*;

    async fn factory(fx: Fixture) -> DynamoDBStore {
        store("KV_DYNALITE_URL", &fx)
    }

    key_value_testkit::conformance_suite!(factory, requires = "KV_DYNALITE_URL");
}

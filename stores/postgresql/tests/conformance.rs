//! The conformance suite on PostgreSQLStore against the real server of
//! `services/postgresql/start` (`KV_POSTGRES_URL`), twice: with prepared statements cached per
//! connection (the default) and without (PgBouncer transaction mode). Each test gets its own
//! table (named after `Fixture::namespace`), so tests running in parallel on the one server do
//! not meet, and `destroy` (which deletes the store's table rows only) is safe.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_core::config::StoreUrl;
use key_value_postgresql::{PostgreSQLConfig, PostgreSQLStore};
use key_value_testkit::Fixture;

fn config(fx: &Fixture, test: &str) -> PostgreSQLConfig {
    let url = StoreUrl::parse(&common::suite_url(test)).unwrap();
    PostgreSQLConfig::from_url(&url)
        .unwrap()
        .table(common::table_for(fx.namespace()))
        .pool_size(4)
        .clock(fx.clock())
}

mod cached_statements {
    use super::*;

    async fn store(fx: Fixture) -> PostgreSQLStore {
        config(&fx, "postgresql conformance").open().unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_POSTGRES_URL");
}

mod pgbouncer_mode {
    use super::*;

    async fn store(fx: Fixture) -> PostgreSQLStore {
        config(&fx, "postgresql conformance (no statement cache)")
            .statement_cache(false)
            .open()
            .unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_POSTGRES_URL");
}

//! The conformance suite on MySqlStore against the real MariaDB of `services/mariadb/start`
//! (`KV_MYSQL_URL`). Each test gets its own table (named after `Fixture::namespace`), so tests
//! running in parallel on the one server do not meet, and `destroy` (which deletes the
//! store's table rows only) is safe.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_core::config::StoreUrl;
use key_value_mysql::{MySqlConfig, MySqlStore};
use key_value_testkit::Fixture;

async fn store(fx: Fixture) -> MySqlStore {
    let url = StoreUrl::parse(&common::suite_url("mysql conformance")).unwrap();
    MySqlConfig::from_url(&url)
        .unwrap()
        .table(common::table_for(fx.namespace()))
        .pool_size(4)
        .clock(fx.clock())
        .open()
        .unwrap()
}

key_value_testkit::conformance_suite!(store, requires = "KV_MYSQL_URL");

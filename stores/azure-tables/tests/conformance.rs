//! The conformance suite on AzureTablesStore against Azurite (`services/azurite/start`,
//! `KV_AZURITE_TABLES_URL`), twice: with py-key-value's `AzureTablesSanitizationStrategy` for
//! keys and collections, and with it for keys only (so collections Azure refuses, like
//! `test_collection!@#$%^&*()` or one over 512 characters, are `InvalidCollection` errors, as
//! the store declares). Without any strategy (py-key-value's default) keys such as
//! `test_key!@#$%^&*()` are refused, which the suite does not allow; `tests/store.rs` covers
//! that mode. Each test gets its own table (named after `Fixture::namespace`), so tests running
//! in parallel do not meet and `destroy` (which deletes the table) is safe.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_azure_tables::{
    AzureTablesConfig, AzureTablesSanitizationStrategy, AzureTablesStore,
};
use key_value_testkit::Fixture;

fn config(fx: &Fixture) -> AzureTablesConfig {
    let endpoint = common::suite_endpoint("azure tables conformance");
    common::config(&endpoint, &common::table_for(fx.namespace())).clock(fx.clock())
}

mod sanitized {
    use super::*;

    async fn store(fx: Fixture) -> AzureTablesStore {
        config(&fx).sanitize(true).open().unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_AZURITE_TABLES_URL");
}

mod keys_sanitized_only {
    use super::*;

    async fn store(fx: Fixture) -> AzureTablesStore {
        config(&fx)
            .key_sanitization_strategy(AzureTablesSanitizationStrategy)
            .open()
            .unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_AZURITE_TABLES_URL");
}

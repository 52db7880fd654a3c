//! Test helpers: the Azurite endpoint of `services/azurite/start`, a table per test, and stores
//! on it.

#![allow(dead_code)]

use key_value_azure_tables::{
    AzureTablesConfig, AzureTablesStore, Credential, DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY,
    TablesClient,
};
use key_value_http::HttpConfig;
use key_value_testkit::service::service_env;

/// The variable `services/azurite/start` sets: the Table endpoint of the development account.
pub const VAR: &str = "KV_AZURITE_TABLES_URL";

/// Azurite's Table endpoint (`http://127.0.0.1:11002/devstoreaccount1`); `None` (after saying
/// so) outside CI when it is not set.
pub fn endpoint(test: &str) -> Option<String> {
    service_env(VAR, test)
}

/// The endpoint, for the conformance suite whose factory cannot skip a test.
pub fn suite_endpoint(test: &str) -> String {
    endpoint(test).unwrap_or_else(|| {
        panic!(
            "{test}: {VAR} is not set: start Azurite with `eval \"$(services/azurite/start)\"` \
             (scripts/test does)"
        )
    })
}

/// The development account's Shared Key credential.
pub fn credential() -> Credential {
    Credential::shared_key(DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY).unwrap()
}

/// A valid table name (letters and digits, starting with a letter, at most 63) unique to
/// `namespace` (a `Fixture::namespace` or [`unique`] name).
pub fn table_for(namespace: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in namespace.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let alnum: String = namespace
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(44)
        .collect();
    format!("t{alnum}{h:016x}")
}

/// A table name unique to this test and process.
pub fn unique_table(test: &str) -> String {
    table_for(&key_value_testkit::unique_name(test))
}

/// A config for `table` on Azurite's development account.
pub fn config(endpoint: &str, table: &str) -> AzureTablesConfig {
    AzureTablesConfig::new(endpoint, credential(), table)
}

/// A store with py-key-value's defaults (no sanitization) on `table`.
pub fn store(endpoint: &str, table: &str) -> AzureTablesStore {
    config(endpoint, table).open().unwrap()
}

/// A raw REST client on Azurite's development account.
pub fn raw_client(endpoint: &str) -> TablesClient {
    TablesClient::new(endpoint, credential(), &HttpConfig::default()).unwrap()
}

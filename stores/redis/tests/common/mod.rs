//! What the tests of the Redis store share: the server variables, read through
//! `service_env` (NOT RUN outside CI when missing, a failure in CI).

// Test code: failures are meant to panic.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use key_value_core::config::StoreUrl;
use key_value_redis::RedisConfig;
use key_value_testkit::Fixture;
use key_value_testkit::service::service_env;

/// The config of the server whose URL is in `var`, with the fixture's clock and its namespace
/// as key prefix; `None` (NOT RUN) when `var` is not set outside CI.
pub fn config(var: &str, fx: &Fixture) -> Option<RedisConfig> {
    let url = service_env(var, fx.namespace())?;
    let url = StoreUrl::parse(&url).unwrap();
    Some(
        RedisConfig::from_url(&url)
            .unwrap()
            .key_prefix(format!("{}:", fx.namespace()))
            .clock(fx.clock()),
    )
}

/// An environment variable the start script prints (a path, a binary); `None` (NOT RUN)
/// outside CI when missing.
pub fn env(var: &str, test: &str) -> Option<String> {
    service_env(var, test)
}

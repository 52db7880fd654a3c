//! Interoperability with the real py-key-value 0.4.6 `RedisStore` on the shared redis-server
//! (plain): what Python writes Rust reads and the reverse, TTLs and raw bytes included.
//! NOT RUN without `KV_PYTHON` / `KV_REDIS_URL` outside CI; a failure in CI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_core::config::StoreUrl;
use key_value_redis::RedisConfig;
use key_value_testkit::service::service_env;

#[path = "common/interop.rs"]
mod interop;

#[test]
fn python_and_rust_share_redis() {
    let Some(url) = service_env("KV_REDIS_URL", "python_and_rust_share_redis") else {
        return;
    };
    key_value_testkit::run(async move {
        // No prefix: py-key-value's own layout.
        let store = RedisConfig::from_url(&StoreUrl::parse(&url).unwrap())
            .unwrap()
            .open()
            .unwrap();
        interop::both_ways("redis", &store, &url).await;
    });
}

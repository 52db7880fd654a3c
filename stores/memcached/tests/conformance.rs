//! The conformance suite on MemcachedStore against the real server of
//! `services/memcached/start` (`KV_MEMCACHED_ADDR`): without key sanitization (py-key-value's
//! default) and with the V1 sanitization. Each test gets its own key prefix
//! (`Fixture::namespace`), so tests running in parallel on the one server do not meet.
//! `destroy` is not allowed here (it would flush the shared server), so the suite checks that it
//! is `Unsupported`; `tests/own_server.rs` runs `destroy_store` with `flush_all` on a private
//! server.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_memcached::{MemcachedConfig, MemcachedStore};
use key_value_testkit::Fixture;

mod passthrough {
    use super::*;

    async fn store(fx: Fixture) -> MemcachedStore {
        MemcachedConfig::new(common::suite_addr("memcached conformance"))
            .prefix(format!("{}:", fx.namespace()))
            .clock(fx.clock())
            .open()
            .unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_MEMCACHED_ADDR");
}

mod v1 {
    use super::*;

    async fn store(fx: Fixture) -> MemcachedStore {
        MemcachedConfig::new(common::suite_addr("memcached conformance (v1)"))
            .prefix(format!("{}:", fx.namespace()))
            .sanitize_v1()
            .clock(fx.clock())
            .open()
            .unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_MEMCACHED_ADDR");
}

//! The conformance suite on real redis-servers started by `services/redis/start`: plain, TLS
//! (server certificate checked against the test CA), TLS without verification, and mutual TLS.
//! Every test uses its fixture's namespace as key prefix, so parallel tests on one server
//! never see each other. Without the server variables the tests say NOT RUN (and fail in CI).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_redis::RedisStore;
use key_value_testkit::Fixture;

fn env(var: &str) -> String {
    std::env::var(var).expect("checked by the suite macro")
}

mod plain {
    use super::*;

    async fn store(fx: Fixture) -> RedisStore {
        common::config("KV_REDIS_URL", &fx).unwrap().open().unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_REDIS_URL");
}

/// `rediss://` with the test CA: the server's certificate is verified.
mod tls {
    use super::*;

    async fn store(fx: Fixture) -> RedisStore {
        common::config("KV_REDIS_TLS_URL", &fx)
            .unwrap()
            .tls_ca_file(env("KV_REDIS_TLS_CA"))
            .open()
            .unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_REDIS_TLS_URL");
}

/// `rediss://` without a CA, verification skipped (the development option).
mod tls_insecure {
    use super::*;

    async fn store(fx: Fixture) -> RedisStore {
        common::config("KV_REDIS_TLS_URL", &fx)
            .unwrap()
            .tls_insecure(true)
            .open()
            .unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_REDIS_TLS_URL");
}

/// Mutual TLS: the server requires the client certificate.
mod mtls {
    use super::*;

    async fn store(fx: Fixture) -> RedisStore {
        common::config("KV_REDIS_MTLS_URL", &fx)
            .unwrap()
            .tls_ca_file(env("KV_REDIS_TLS_CA"))
            .tls_client_cert(
                env("KV_REDIS_TLS_CLIENT_CERT"),
                env("KV_REDIS_TLS_CLIENT_KEY"),
            )
            .open()
            .unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_REDIS_MTLS_URL");
}

//! The conformance suite on real Valkey started by `services/valkey/start`: a standalone
//! server, and a cluster of three primaries (batches split by slot, enumeration over every
//! primary). Every test uses its fixture's namespace as key prefix.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../redis/tests/common/mod.rs"]
mod common;

use key_value_core::config::StoreUrl;
use key_value_testkit::Fixture;
use key_value_valkey::{ValkeyConfig, ValkeyStore};

fn config(var: &str, fx: &Fixture) -> ValkeyConfig {
    let url = StoreUrl::parse(&std::env::var(var).expect("checked by the suite macro")).unwrap();
    ValkeyConfig::from_url(&url)
        .unwrap()
        .key_prefix(format!("{}:", fx.namespace()))
        .clock(fx.clock())
}

mod standalone {
    use super::*;

    async fn store(fx: Fixture) -> ValkeyStore {
        config("KV_VALKEY_URL", &fx).open().unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_VALKEY_URL");
}

mod cluster {
    use super::*;

    async fn store(fx: Fixture) -> ValkeyStore {
        let c = config("KV_VALKEY_CLUSTER_URL", &fx);
        assert!(c.as_redis().is_cluster());
        c.open().unwrap()
    }

    key_value_testkit::conformance_suite!(store, requires = "KV_VALKEY_CLUSTER_URL");
}

//! The conformance suite on FileTreeStore: without sanitization (py-key-value's default) and
//! with the FileTree V1 strategies. Each test gets a fresh temporary directory, kept alive by
//! the store wrapper for the store's life.

mod common;

use common::TempStore;
use key_value_testkit::Fixture;

mod passthrough {
    use super::*;

    async fn store(fx: Fixture) -> TempStore {
        TempStore::new(|c| c.clock(fx.clock()))
    }

    key_value_testkit::conformance_suite!(store);
}

mod v1_sanitization {
    use super::*;

    async fn store(fx: Fixture) -> TempStore {
        TempStore::new(|c| {
            c.clock(fx.clock())
                .v1_sanitization()
                .expect("V1 strategies")
        })
    }

    key_value_testkit::conformance_suite!(store);
}

/// The same store with its metadata in another directory, behind `Arc<dyn DynKeyValue>`.
mod separate_metadata_dynamic {
    use super::*;
    use key_value_core::SharedStore;
    use std::sync::Arc;

    async fn store(fx: Fixture) -> SharedStore {
        Arc::new(TempStore::in_tmp(|c, tmp| {
            c.clock(fx.clock()).metadata_directory(tmp.join("meta"))
        }))
    }

    key_value_testkit::conformance_suite!(store);
}

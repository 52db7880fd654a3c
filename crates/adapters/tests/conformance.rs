//! Sanity: the conformance suite on a MemoryStore reached through a `TypedAdapter` and a
//! `RaiseOnMissingAdapter` (their `inner()` store), proving the adapters take any store as it
//! is and hand it back unchanged.

use std::sync::Arc;

use key_value_adapters::{RaiseOnMissingAdapter, TypedAdapter};
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;

mod through_typed {
    use super::*;

    async fn store(fx: Fixture) -> Arc<MemoryStore> {
        let adapter = TypedAdapter::<Vec<String>, _>::new(Arc::new(
            MemoryStore::builder().clock(fx.clock()).build(),
        ))
        .default_collection("typed");
        adapter.inner().clone()
    }

    key_value_testkit::conformance_suite!(store);
}

mod through_raise_on_missing {
    use super::*;

    async fn store(fx: Fixture) -> MemoryStore {
        RaiseOnMissingAdapter::new(MemoryStore::builder().clock(fx.clock()).build()).into_inner()
    }

    key_value_testkit::conformance_suite!(store);
}

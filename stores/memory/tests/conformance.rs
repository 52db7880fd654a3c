//! The conformance suite on MemoryStore, unbounded and bounded.

use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;

mod unbounded {
    use super::*;

    async fn store(fx: Fixture) -> MemoryStore {
        MemoryStore::builder().clock(fx.clock()).build()
    }

    key_value_testkit::conformance_suite!(store);
}

mod bounded {
    use super::*;

    /// Small enough that the eviction test and the batch test meet the bound.
    async fn store(fx: Fixture) -> MemoryStore {
        MemoryStore::builder()
            .clock(fx.clock())
            .max_entries_per_collection(500)
            .build()
    }

    key_value_testkit::conformance_suite!(store);
}

/// The same store behind `Arc<dyn DynKeyValue>`: proves the object-safe twin forwards every
/// call (batches, capabilities, close) unchanged.
mod dynamic {
    use super::*;
    use key_value_core::SharedStore;
    use std::sync::Arc;

    async fn store(fx: Fixture) -> SharedStore {
        Arc::new(MemoryStore::builder().clock(fx.clock()).build())
    }

    key_value_testkit::conformance_suite!(store);
}

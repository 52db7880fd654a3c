//! The conformance suite on DiskStore (unbounded and with a size bound) and MultiDiskStore,
//! each in a fresh temporary directory removed with the store.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{InTempDir, tempdir};
use key_value_disk::{DiskConfig, DiskStore, MultiDiskConfig, MultiDiskStore};
use key_value_testkit::Fixture;

mod disk {
    use super::*;

    async fn store(fx: Fixture) -> InTempDir<DiskStore> {
        let dir = tempdir();
        let store = DiskConfig::new(dir.path())
            .clock(fx.clock())
            .open()
            .unwrap();
        InTempDir { store, dir }
    }

    key_value_testkit::conformance_suite!(store);
}

/// With `max_size`: the least-recently-stored policy, its index and the cull after every write
/// are active. The bound (64 MiB) holds everything the suite writes, since a byte bound
/// declares no entry count the suite could check eviction against (see the unit tests).
mod disk_bounded {
    use super::*;

    async fn store(fx: Fixture) -> InTempDir<DiskStore> {
        let dir = tempdir();
        let store = DiskConfig::new(dir.path())
            .clock(fx.clock())
            .max_size(64 << 20)
            .open()
            .unwrap();
        InTempDir { store, dir }
    }

    key_value_testkit::conformance_suite!(store);
}

mod multi_disk {
    use super::*;

    async fn store(fx: Fixture) -> InTempDir<MultiDiskStore> {
        let dir = tempdir();
        let store = MultiDiskConfig::new(dir.path())
            .clock(fx.clock())
            .open()
            .unwrap();
        InTempDir { store, dir }
    }

    key_value_testkit::conformance_suite!(store);
}

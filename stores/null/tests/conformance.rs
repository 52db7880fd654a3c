//! The conformance suite on NullStore: it declares `discards_writes`, so every test checks
//! that nothing is ever found.

use key_value_null::NullStore;
use key_value_testkit::Fixture;

async fn store(fx: Fixture) -> NullStore {
    NullStore::new().with_clock(fx.clock())
}

key_value_testkit::conformance_suite!(store);

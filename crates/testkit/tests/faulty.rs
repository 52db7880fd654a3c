//! The fault-injecting store: it passes the whole suite when healthy, and fails as planned.

use std::time::{Duration, Instant};

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;

async fn store(fx: Fixture) -> FaultyStore<MemoryStore> {
    FaultyStore::new(MemoryStore::builder().clock(fx.clock()).build())
}

key_value_testkit::conformance_suite!(store);

#[tokio::test]
async fn fails_always_until_healed_and_counts_calls() {
    let s = FaultyStore::new(MemoryStore::new());
    s.faults().fail_always(ErrorKind::Backend);
    for _ in 0..3 {
        let err = s.put("k", object!({})).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Backend);
        assert!(!err.is_temporary());
    }
    s.faults().heal();
    s.put("k", object!({})).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), Some(object!({})));
    assert_eq!(s.calls(), 5);
}

#[tokio::test]
async fn delays_calls() {
    let s = FaultyStore::new(MemoryStore::new());
    s.faults().delay(Duration::from_millis(50));
    let start = Instant::now();
    s.get("k").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(50));
}

//! The conformance suite of `key-value`: one contract, written once, run by every store and
//! every wrapper.
//!
//! A store crate runs the whole suite with one line in a test file:
//!
//! ```ignore
//! async fn store(fx: key_value_testkit::Fixture) -> MyStore {
//!     MyStore::builder().clock(fx.clock()).build()
//! }
//! key_value_testkit::conformance_suite!(store);
//! ```
//!
//! That expands to one `#[test]` per contract test (so `cargo test` names each one), each
//! building a fresh store through the factory. The factory receives a [`Fixture`]: the clock
//! the store must use (a manual clock for the expiry tests, which then move time instead of
//! sleeping; the system clock for the real-time expiry test) and a [namespace](Fixture::namespace)
//! unique to the test, for stores on shared servers to isolate tests that run in parallel.
//!
//! Tests are chosen by the store's declared [`Capabilities`](key_value_core::Capabilities),
//! never skipped silently: a store that cannot enumerate keys gets a test that `keys()` is an
//! `Unsupported` error; a bounded store gets an eviction test; the null store, which declares
//! `discards_writes`, gets tests that it indeed finds nothing. Every test asserts something
//! that can fail.
//!
//! The tests are plain async functions in [`suite`]; a third-party store can also call them
//! one by one. [`golden`] checks a backend's raw stored text against py-key-value's bytes.
//!
//! ```
//! # use key_value_core::{entry::ManagedEntry, prelude::*};
//! # struct Toy(StoreInfo, std::sync::Mutex<std::collections::HashMap<(String, String), ManagedEntry>>, std::sync::atomic::AtomicBool);
//! # impl KeyValue for Toy {
//! #   fn info(&self) -> &StoreInfo { &self.0 }
//! #   async fn get_entry(&self, c: &str, k: &str) -> Result<Option<ManagedEntry>> { self.open()?; Ok(self.1.lock().unwrap().get(&(c.into(), k.into())).cloned()) }
//! #   async fn put_entry(&self, c: &str, k: &str, e: ManagedEntry) -> Result<()> { self.open()?; self.1.lock().unwrap().insert((c.into(), k.into()), e); Ok(()) }
//! #   async fn delete_entry(&self, c: &str, k: &str) -> Result<bool> { self.open()?; Ok(self.1.lock().unwrap().remove(&(c.into(), k.into())).is_some()) }
//! #   async fn close(&self) -> Result<()> { self.2.store(true, std::sync::atomic::Ordering::SeqCst); Ok(()) }
//! # }
//! # impl Toy { fn open(&self) -> Result<()> { if self.2.load(std::sync::atomic::Ordering::SeqCst) { Err(Error::new(ErrorKind::Closed, "")) } else { Ok(()) } } }
//! use key_value_testkit::{run, suite, Fixture};
//!
//! async fn toy(fx: Fixture) -> Toy {
//!     Toy(StoreInfo::new("Toy", Stability::NotApplicable).with_clock(fx.clock()), Default::default(), Default::default())
//! }
//! run(suite::get_put_get(toy));
//! run(suite::put_expired_get_none(toy));
//! run(suite::keys_enumeration(toy)); // checks that keys() is Unsupported here
//! ```

// The suite is test code: its assertions unwrap and panic by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use key_value_core::{Clock, KeyValue, ManualClock};

pub mod cases;
pub mod child;
pub mod faulty;
pub mod golden;
pub mod interop;
pub mod python;
pub mod service;
pub mod suite;

/// What the suite hands a store factory: the clock to use and a namespace unique to the test.
#[derive(Debug, Clone)]
pub struct Fixture {
    clock: Clock,
    manual: Option<ManualClock>,
    namespace: String,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Fixture {
    /// A fixture with a manual clock starting at the current time.
    pub fn manual(test: &str) -> Self {
        let manual = ManualClock::starting_now();
        Fixture {
            clock: Clock::from(manual.clone()),
            manual: Some(manual),
            namespace: namespace(test),
        }
    }

    /// A fixture with the system clock, for tests that let real time pass.
    pub fn system(test: &str) -> Self {
        Fixture {
            clock: Clock::system(),
            manual: None,
            namespace: namespace(test),
        }
    }

    /// The clock the store must measure expiry by.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// A name unique to this test run (test name, process id, counter): a key prefix, table
    /// or database name that keeps parallel tests on one server apart.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Moves a manual clock forward; with the system clock, sleeps instead.
    pub async fn advance(&self, by: Duration) {
        match &self.manual {
            Some(m) => m.advance(by),
            None => tokio::time::sleep(by).await,
        }
    }
}

/// `name` as an SQL identifier of at most `max_len` bytes (`[a-z_][a-z0-9_]*`): lower-cased,
/// other characters as `_`, and a long name cut and suffixed with a hash of the whole so cut
/// names stay apart. For stores that isolate tests by table (`Fixture::namespace()` in, table
/// name out).
///
/// ```
/// use key_value_testkit::sql_identifier;
/// assert_eq!(sql_identifier("kvtest_get-put_12_3", 63), "kvtest_get_put_12_3");
/// assert_eq!(sql_identifier("9lives", 63), "_9lives");
/// let long = sql_identifier(&"x".repeat(100), 63);
/// assert_eq!(long.len(), 63);
/// assert_ne!(long, sql_identifier(&format!("{}y", "x".repeat(99)), 63));
/// ```
pub fn sql_identifier(name: &str, max_len: usize) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert(0, '_');
    }
    if id.len() > max_len {
        // FNV-1a of the whole name keeps cut names apart.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        id.truncate(max_len.saturating_sub(17));
        id.push_str(&format!("_{h:016x}"));
    }
    id
}

/// A name unique to this test run (test name, process id, counter), as
/// [`Fixture::namespace`] gives, for tests that build stores without a fixture.
pub fn unique_name(test: &str) -> String {
    namespace(test)
}

fn namespace(test: &str) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("kvtest_{test}_{}_{n}", std::process::id())
}

/// Makes a fresh store for a test. Implemented for every `Fn(Fixture) -> impl Future<Output = S>`,
/// so an `async fn store(fx: Fixture) -> MyStore` is a factory.
pub trait StoreFactory {
    /// The store it makes.
    type Store: KeyValue + 'static;
    /// A fresh store using the fixture's clock.
    fn create(&self, fixture: Fixture) -> impl Future<Output = Self::Store>;
}

impl<F, Fut, S> StoreFactory for F
where
    F: Fn(Fixture) -> Fut,
    Fut: Future<Output = S>,
    S: KeyValue + 'static,
{
    type Store = S;
    fn create(&self, fixture: Fixture) -> impl Future<Output = S> {
        self(fixture)
    }
}

/// Runs one async test on a multi-threaded tokio runtime (two workers, time enabled).
///
/// # Panics
/// If the runtime cannot be built, or the test fails: this is test code.
pub fn run<Fut: Future<Output = ()>>(test: Fut) {
    #[allow(clippy::expect_used)]
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the test");
    runtime.block_on(test);
}

/// Expands to one `#[test]` per conformance test, each running against a fresh store from
/// `$factory` (a path to an `async fn(Fixture) -> Store`, or a closure).
///
/// Invoke it inside a module to run the suite more than once in one crate (for instance a
/// bounded and an unbounded configuration).
///
/// A store that needs a server names the variable its start script sets:
/// `conformance_suite!(factory, requires = "KV_REDIS_URL")`. Each test then checks it first
/// with [`service::service_env`]: outside CI a missing server means "NOT RUN" on stderr, in CI
/// a failure.
///
/// A stand-in server that breaks a guarantee the real service gives can be excused from named
/// tests, each with its reason: `conformance_suite!(factory, requires = "KV_X_URL",
/// unsupported = &[("concurrent_operations", "why")])`. Those tests print
/// `NOT APPLICABLE: why` on stderr instead of running (never a silent pass), and an extra test,
/// `unsupported_tests_exist`, fails when a listed name is not a suite test.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        $crate::conformance_suite!($factory, requires = "");
    };
    ($factory:expr, requires = $var:expr) => {
        $crate::__with_conformance_names! { __conformance_tests! { $factory; $var; &[]; } }
    };
    ($factory:expr, requires = $var:expr, unsupported = $unsupported:expr) => {
        $crate::__with_conformance_names! { __conformance_tests! { $factory; $var; $unsupported; } }

        #[test]
        fn unsupported_tests_exist() {
            let unsupported: &[(&str, &str)] = $unsupported;
            for (name, why) in unsupported {
                assert!(
                    $crate::CONFORMANCE_TESTS.contains(name),
                    "`{name}` is not a conformance test"
                );
                assert!(
                    !why.trim().is_empty(),
                    "`{name}` is excused without a reason"
                );
            }
        }
    };
}

/// Calls `$callback!` with the names of every conformance test, so that the list lives in one
/// place: the tests [`conformance_suite!`] expands to and [`CONFORMANCE_TESTS`].
#[doc(hidden)]
#[macro_export]
macro_rules! __with_conformance_names {
    ($callback:ident! { $($prefix:tt)* }) => {
        $crate::$callback! { $($prefix)*
            store_declares_itself,
            empty_get, empty_put, empty_ttl,
            put_non_object_is_serialization_error,
            get_put_get,
            models_put_get,
            large_values_put_get,
            put_many_get, put_many_get_many, put_many_array_get_many,
            put_put_get_many, put_put_get_many_missing_one,
            put_get_delete_get, get_put_get_delete_get,
            put_many_get_get_delete_many_get_many, put_many_get_many_delete_many_get_many,
            delete_missing, put_delete_delete,
            delete_many_missing, put_delete_many, delete_many_delete_many,
            get_put_get_put_delete_get,
            put_many_delete_delete_get_many,
            put_ttl_get_ttl,
            invalid_ttl_rejected,
            put_expired_get_none,
            long_collection_name, long_key_name,
            special_characters_in_collection_name, special_characters_in_key_name,
            not_unbounded,
            concurrent_operations,
            minimum_put_many_get_many_performance, minimum_put_many_delete_many_performance,
            collection_isolation,
            default_collection_is_used_when_none_given,
            overwrite_replaces_ttl,
            unicode_keys_and_values,
            empty_object_value,
            one_mib_value,
            batch_of_1000,
            expiry_follows_the_clock,
            expiry_in_real_time,
            ttl_many_mixed,
            get_many_with_duplicates,
            put_many_length_mismatch_writes_nothing,
            empty_key_rejected,
            errors_name_operation_collection_and_key,
            stored_timestamps_round_trip,
            keys_enumeration,
            collections_enumeration,
            destroy_store,
            destroy_single_collection,
            cull_expired,
            closed_store_rejects_calls,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($factory:expr; $var:expr; $unsupported:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let unsupported: &[(&str, &str)] = $unsupported;
                if let Some((_, why)) = unsupported.iter().find(|(n, _)| *n == stringify!($name)) {
                    $crate::service::not_applicable(concat!(module_path!(), "::", stringify!($name)), why);
                    return;
                }
                let var: &str = $var;
                if !var.is_empty()
                    && $crate::service::service_env(var, stringify!($name)).is_none()
                {
                    return;
                }
                $crate::run($crate::suite::$name($factory));
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __names {
    ($($name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}

/// The names of the conformance tests, in the order [`conformance_suite!`] declares them.
///
/// ```
/// assert!(key_value_testkit::CONFORMANCE_TESTS.contains(&"concurrent_operations"));
/// ```
pub const CONFORMANCE_TESTS: &[&str] = __with_conformance_names! { __names! {} };

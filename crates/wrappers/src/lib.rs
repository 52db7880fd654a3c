//! Stores that wrap stores.
//!
//! Every wrapper here is a [`KeyValue`] that holds another [`KeyValue`], so wrappers stack in
//! any order, over any store, and over `Arc<dyn DynKeyValue>` too. Each comes as a pair: a
//! `XxxLayer` (the configuration, a builder) and the wrapped store `Xxx<S>`. Apply a layer with
//! [`LayerExt::layer`]:
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, retry::RetryLayer, statistics::StatisticsLayer};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let statistics = StatisticsLayer::new();
//! let counts = statistics.handle();
//! // Statistics sees every attempt of the retry layer around it.
//! let store = MemoryStore::new()
//!     .layer(statistics)
//!     .layer(RetryLayer::new().max_attempts(3));
//! store.put("user:1", object!({"name": "Ada"})).collection("users").await?;
//! assert!(store.get("user:1").collection("users").await?.is_some());
//! assert_eq!(counts.snapshot().collection("users").put, 1);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```
//!
//! | Group | Wrappers |
//! |---|---|
//! | Values | [`compression`], [`encryption`], [`limit_size`], [`default_value`] |
//! | Names | [`prefix`] (keys and collections), [`single_collection`], [`routing`] |
//! | Policy | [`ttl_clamp`], [`read_only`] |
//! | Observability | [`statistics`], [`logging`] |
//! | Resilience | [`retry`], [`timeout`], [`fallback`], [`circuit_breaker`], [`rate_limit`], [`bulkhead`] |
//! | Caching | [`passthrough_cache`], [`single_flight`] |

use key_value_core::KeyValue;

/// Turns a store into a wrapped store.
///
/// Implemented by every `XxxLayer` of this crate; implement it for your own wrappers to make
/// them usable with [`LayerExt::layer`].
pub trait Layer<S: KeyValue> {
    /// The wrapped store.
    type Store: KeyValue;

    /// Wraps `inner`.
    fn layer(self, inner: S) -> Self::Store;
}

/// Adds [`layer`](LayerExt::layer) to every store.
pub trait LayerExt: KeyValue + Sized {
    /// Wraps this store with `layer`: `store.layer(a).layer(b)` puts `b` outermost.
    fn layer<L: Layer<Self>>(self, layer: L) -> L::Store {
        layer.layer(self)
    }
}

impl<S: KeyValue> LayerExt for S {}

// Values
#[cfg(feature = "compression")]
pub mod compression;
pub mod default_value;
#[cfg(feature = "encryption")]
pub mod encryption;
pub mod limit_size;

// Names
pub mod prefix;
pub mod routing;
pub mod single_collection;

// Policy
pub mod read_only;
pub mod ttl_clamp;

// The forwarding shared by the resilience wrappers that guard calls, and by the wrappers
// that transform values.
mod guard;
#[cfg(any(feature = "compression", feature = "encryption"))]
mod transform;

// Observability
pub mod logging;
pub mod statistics;

// Resilience
pub mod bulkhead;
pub mod circuit_breaker;
pub mod fallback;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

// Caching
pub mod passthrough_cache;
pub mod single_flight;

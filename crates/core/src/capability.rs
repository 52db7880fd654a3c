//! What a store can do, declared as data: [`Capabilities`], [`Stability`] and [`StoreInfo`].
//!
//! Wrappers, the conformance suite and users read these instead of guessing: a test of
//! `keys()` runs only where `enumerate_keys` is declared, and elsewhere checks that the call is
//! an [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) error.
//!
//! ```
//! use key_value_core::capability::{Capabilities, Stability, StoreInfo};
//!
//! let info = StoreInfo::new("MyStore", Stability::Preview)
//!     .with_capabilities(Capabilities { enumerate_keys: true, ..Capabilities::default() });
//! assert_eq!(info.default_collection(), "default_collection");
//! assert!(info.capabilities().enumerate_keys);
//! assert!(!info.capabilities().destroy);
//! ```

use std::fmt;

use crate::time::Clock;

/// py-key-value's default collection name, used when a call names none.
pub const DEFAULT_COLLECTION: &str = "default_collection";

/// How likely the store's *storage format* is to change incompatibly (py-key-value's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stability {
    /// No backwards-incompatible change planned: fit for long-lived data.
    Stable,
    /// Unlikely to change incompatibly.
    Preview,
    /// May change incompatibly.
    Unstable,
    /// Nothing persists, so there is no format to keep (in-memory and test stores).
    NotApplicable,
}

impl fmt::Display for Stability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stability::Stable => "Stable",
            Stability::Preview => "Preview",
            Stability::Unstable => "Unstable",
            Stability::NotApplicable => "N/A",
        })
    }
}

/// The optional abilities and limits of a store.
///
/// Build one with struct-update syntax from [`Capabilities::default()`], which declares
/// nothing optional and no limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// The backend expires entries itself (Redis `PX`, Memcached exptime, ...). Expiry is
    /// enforced on every read in any case.
    pub native_ttl: bool,
    /// Batch calls are native (one round trip), not loops over single calls.
    pub native_batch: bool,
    /// `keys()` lists a collection's keys.
    pub enumerate_keys: bool,
    /// `collections()` lists collection names.
    pub enumerate_collections: bool,
    /// `destroy()` removes everything the store holds.
    pub destroy: bool,
    /// `destroy_collection()` removes one collection.
    pub destroy_collection: bool,
    /// `cull()` removes expired entries.
    pub cull: bool,
    /// Data survives the process.
    pub persistent: bool,
    /// Writes are discarded on purpose (the null store): reads never find anything.
    pub discards_writes: bool,
    /// Each collection holds at most this many entries; the least recently used are evicted.
    pub max_entries_per_collection: Option<usize>,
    /// The store holds at most this many entries in all; the oldest are evicted.
    pub max_entries: Option<usize>,
    /// The longest key accepted, in characters; longer keys are
    /// [`InvalidKey`](crate::ErrorKind::InvalidKey) errors.
    pub max_key_length: Option<usize>,
    /// The backend refuses some collection names (MongoDB: `$`, a `system.` prefix, NUL), and
    /// the store reports them as [`InvalidCollection`](crate::ErrorKind::InvalidCollection)
    /// errors before sending anything. A sanitization strategy usually lifts this.
    pub restricted_collection_names: bool,
    /// The longest collection name accepted, in characters; longer ones are
    /// [`InvalidCollection`](crate::ErrorKind::InvalidCollection) errors.
    pub max_collection_length: Option<usize>,
    /// The largest value accepted, in bytes of its JSON text; larger ones are
    /// [`ValueTooLarge`](crate::ErrorKind::ValueTooLarge) errors.
    pub max_value_size: Option<usize>,
}

/// Who a store is: its name, stability, capabilities, default collection and clock.
#[derive(Debug, Clone)]
pub struct StoreInfo {
    name: &'static str,
    stability: Stability,
    capabilities: Capabilities,
    default_collection: String,
    clock: Clock,
}

impl StoreInfo {
    /// Info for a store named `name` (its type name, e.g. `"RedisStore"`), with no optional
    /// capabilities, the default collection `"default_collection"` and the system clock.
    pub fn new(name: &'static str, stability: Stability) -> Self {
        StoreInfo {
            name,
            stability,
            capabilities: Capabilities::default(),
            default_collection: DEFAULT_COLLECTION.to_string(),
            clock: Clock::system(),
        }
    }

    /// Sets the capabilities.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets the default collection; an empty name keeps `"default_collection"`, as
    /// py-key-value does.
    pub fn with_default_collection(mut self, collection: impl Into<String>) -> Self {
        let collection = collection.into();
        if !collection.is_empty() {
            self.default_collection = collection;
        }
        self
    }

    /// Sets the clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store's type name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The stability of its storage format.
    pub fn stability(&self) -> Stability {
        self.stability
    }

    /// What it can do.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Mutable access, for wrappers that change what they pass on.
    pub fn capabilities_mut(&mut self) -> &mut Capabilities {
        &mut self.capabilities
    }

    /// The collection used when a call names none.
    pub fn default_collection(&self) -> &str {
        &self.default_collection
    }

    /// The clock expiry is measured by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The collection a call uses: `collection`, or the default when it is `None` or empty
    /// (py-key-value's `collection or self.default_collection`).
    ///
    /// ```
    /// use key_value_core::capability::{Stability, StoreInfo};
    /// let info = StoreInfo::new("S", Stability::Stable);
    /// assert_eq!(info.resolve_collection(None), "default_collection");
    /// assert_eq!(info.resolve_collection(Some("")), "default_collection");
    /// assert_eq!(info.resolve_collection(Some("users")), "users");
    /// ```
    pub fn resolve_collection<'a>(&'a self, collection: Option<&'a str>) -> &'a str {
        match collection {
            Some(c) if !c.is_empty() => c,
            _ => &self.default_collection,
        }
    }
}

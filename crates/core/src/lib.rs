//! The core of [`key-value`](https://docs.rs/key-value): one async key-value API over many
//! storage backends, byte-compatible with Python's py-key-value.
//!
//! This crate holds what every store and wrapper shares; applications depend on the
//! `key-value` facade crate, which re-exports it with the stores.
//!
//! - [`store`]: the [`KeyValue`] trait a backend implements and its object-safe twin
//!   [`DynKeyValue`].
//! - [`api`]: the calls users make ([`KeyValueExt`]: `get`, `put`, `ttl`, `delete` and the
//!   `_many` forms), with argument checks, the default collection and expiry on read.
//! - [`entry`]: [`ManagedEntry`] and py-key-value's JSON [`Envelope`](entry::Envelope).
//! - [`json`]: JSON text exactly as Python's `json.dumps` writes it.
//! - [`time`]: timestamps in py-key-value's ISO form and the injectable [`Clock`].
//! - [`ttl`]: what a valid TTL is.
//! - [`capability`]: [`Capabilities`], [`Stability`] and [`StoreInfo`], declared as data.
//! - [`sanitize`]: py-key-value's key and collection sanitization strategies.
//! - [`setup`]: lazy one-time set-up per store and per collection.
//! - [`config`]: store URLs, parsed for every store's config.
//! - [`error`]: the one [`Error`] type.
//!
//! ```
//! use key_value_core::prelude::*;
//!
//! let value: Object = object!({"name": "Alice", "age": 30});
//! assert_eq!(value["age"], 30);
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
pub mod capability;
pub mod config;
pub mod entry;
pub mod error;
pub mod json;
pub mod sanitize;
pub mod setup;
pub mod store;
pub mod time;
pub mod ttl;

pub use api::{IntoObject, KeyValueExt, ValueWithTtl};
pub use capability::{Capabilities, DEFAULT_COLLECTION, Stability, StoreInfo};
pub use entry::{ManagedEntry, Object};
pub use error::{BoxError, Error, ErrorKind, Result};
pub use store::{BoxFuture, DynKeyValue, KeyValue, SharedStore};
pub use time::{Clock, ManualClock, Timestamp};
pub use ttl::Ttl;

/// `serde_json`, re-exported: values are `serde_json` objects.
pub use serde_json;

/// Everything a user of a store needs in scope: `use key_value_core::prelude::*;`.
pub mod prelude {
    pub use crate::api::{IntoObject, KeyValueExt, ValueWithTtl};
    pub use crate::capability::{Capabilities, Stability, StoreInfo};
    pub use crate::entry::Object;
    pub use crate::error::{Error, ErrorKind, Result};
    pub use crate::object;
    pub use crate::store::{DynKeyValue, KeyValue, SharedStore};
}

/// Builds an [`Object`] (a JSON object) with `serde_json::json!` syntax.
///
/// Only object literals are accepted, so the result is always an object.
///
/// ```
/// use key_value_core::object;
/// let name = "Alice";
/// let v = object!({"name": name, "tags": ["a", "b"], "nested": {"n": 1}});
/// assert_eq!(v["tags"][1], "b");
/// ```
#[macro_export]
macro_rules! object {
    ({ $($tt:tt)* }) => {
        match $crate::serde_json::json!({ $($tt)* }) {
            $crate::serde_json::Value::Object(map) => map,
            _ => ::core::unreachable!("a JSON object literal is always an object"),
        }
    };
}

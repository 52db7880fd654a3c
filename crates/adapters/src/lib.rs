//! Typed views over key-value stores, as py-key-value's adapters (`key_value.aio.adapters`).
//!
//! An adapter is not a store: it does not implement [`KeyValue`]; it sits between the
//! application and any store and changes what the calls take and return.
//!
//! - [`typed`]: [`TypedAdapter<T, S>`](TypedAdapter) stores any `T: Serialize +
//!   DeserializeOwned` in the layout of py-key-value's `PydanticAdapter` (objects as they are,
//!   everything else wrapped as `{"items": ...}`), so Python and Rust read each other's
//!   entries.
//! - [`raise_on_missing`]: [`RaiseOnMissingAdapter<S>`](RaiseOnMissingAdapter) turns a missing
//!   key into an [`ErrorKind::MissingKey`](key_value_core::ErrorKind::MissingKey) error on
//!   request, as py-key-value's `RaiseOnMissingAdapter`.
//!
//! ```
//! use key_value_adapters::TypedAdapter;
//! use key_value_memory::MemoryStore;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct User {
//!     name: String,
//!     age: u32,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let users = TypedAdapter::<User, _>::new(MemoryStore::new()).default_collection("users");
//! users.put("u1", User { name: "Alice".into(), age: 30 }).ttl(60).await?;
//! assert_eq!(users.get("u1").await?, Some(User { name: "Alice".into(), age: 30 }));
//! # Ok(())
//! # }
//! ```
//!
//! [`KeyValue`]: key_value_core::KeyValue

mod de;
pub mod raise_on_missing;
mod shape;
pub mod typed;

pub use raise_on_missing::RaiseOnMissingAdapter;
pub use typed::TypedAdapter;

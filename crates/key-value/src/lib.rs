//! # key-value
//!
//! One async key-value API over many storage backends, byte-compatible with Python's
//! [py-key-value](https://pypi.org/project/py-key-value-aio/): `get`/`put`/`delete`/`ttl` JSON
//! objects (and their `_many` forms) in named collections with a per-entry TTL, and swap the
//! backend without touching the code.
//!
//! ```
//! use key_value::prelude::*;
//! use key_value::stores::memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let store = MemoryStore::new();
//!
//! // py: await store.put("user:1", {"name": "Alice"}, collection="users", ttl=60)
//! store.put("user:1", object!({"name": "Alice"})).collection("users").ttl(60).await?;
//!
//! // py: await store.get("user:1", collection="users")
//! let user = store.get("user:1").collection("users").await?;
//! assert_eq!(user, Some(object!({"name": "Alice"})));
//!
//! // py: value, ttl = await store.ttl("user:1", collection="users")
//! let (_, ttl) = store.ttl("user:1").collection("users").await?.expect("present");
//! assert!(ttl.is_some());
//!
//! // Batches keep order; misses are None.
//! let many = store.get_many(&["user:1", "user:2"]).collection("users").await?;
//! assert_eq!(many, vec![user, None]);
//!
//! assert!(store.delete("user:1").collection("users").await?);
//! # Ok(())
//! # }
//! ```
//!
//! ## Choosing a store at run time
//!
//! Every store is a [`KeyValue`]; behind an `Arc<dyn DynKeyValue>` ([`SharedStore`]) it is one
//! type, and the same calls work:
//!
//! ```
//! use key_value::prelude::*;
//! use key_value::stores::{memory::MemoryStore, null::NullStore};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let caching = std::env::var("NO_CACHE").is_err();
//! let store: SharedStore = if caching { Arc::new(MemoryStore::new()) } else { Arc::new(NullStore::new()) };
//! store.put("k", object!({"v": 1})).await?;
//! println!("{} ({}): {:?}", store.info().name(), store.info().stability(), store.get("k").await?);
//! # Ok(())
//! # }
//! ```
//!
//! ## Crates
//!
//! This facade re-exports [`key_value_core`] (the traits, envelope, errors, sanitization) and
//! each store behind its own Cargo feature:
//!
//! | feature | module | store | stability |
//! |---|---|---|---|
//! | `memory` (default) | [`stores::memory`] | `MemoryStore` | N/A |
//! | `simple` (default) | [`stores::simple`] | `SimpleStore` | N/A |
//! | `null` (default) | [`stores::null`] | `NullStore` | N/A |
//! | `disk` (default) | [`stores::disk`] | `DiskStore`, `MultiDiskStore` | Stable |
//! | `filetree` (default) | [`stores::filetree`] | `FileTreeStore` | Stable |
//! | `memcached` | `stores::memcached` | `MemcachedStore` | Unstable |
//! | `redis` | `stores::redis` | `RedisStore` (standalone or cluster, TLS, mutual TLS) | Stable |
//! | `valkey` | `stores::valkey` | `ValkeyStore` (standalone or cluster) | Stable |
//! | `mongodb` | `stores::mongodb` | `MongoDbStore` | Unstable |
//! | `postgresql` | `stores::postgresql` | `PostgreSQLStore` (py-key-value's table, TLS via rustls) | Stable |
//! | `mysql` | `stores::mysql` | `MySqlStore` (MySQL or MariaDB; beyond py-key-value) | Preview |
//! | `azure-tables` | `stores::azure_tables` | `AzureTablesStore` (Azure Table Storage REST, Shared Key or SAS; Azurite) | Unstable |
//! | `s3` | `stores::s3` | `S3Store` (AWS S3 or S3-compatible servers, SigV4) | Unstable |
//! | `firestore` | `stores::firestore` | `FirestoreStore` (REST v1; emulator, access token, service-account key) | Unstable |
//!
//! Any of them can also be opened from a URL with [`open`]: `key_value::open("disk:///var/cache/app")`.
//!
//! Around the stores, each behind its Cargo feature (all on by default):
//!
//! | feature | module | what |
//! |---|---|---|
//! | `wrappers` (`compression`, `encryption`) | `wrappers` | stores that wrap stores (py-key-value's wrappers) |
//! | `adapters` | `adapters` | typed values (`TypedAdapter<T, S>`, py's `PydanticAdapter`) and `RaiseOnMissingAdapter` |
//! | `blocking` | `blocking` | the same calls without `async`, for programs without a runtime |

pub use key_value_core::*;

mod open;
pub use open::{open, schemes};

#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "wrappers")]
pub use key_value_wrappers as wrappers;

#[cfg(feature = "adapters")]
pub use key_value_adapters as adapters;

/// The stores, one module per backend, each behind its Cargo feature.
pub mod stores {
    /// In-process store, bounded per collection with LRU eviction.
    #[cfg(feature = "memory")]
    pub mod memory {
        pub use key_value_memory::*;
    }

    /// The minimal reference store.
    #[cfg(feature = "simple")]
    pub mod simple {
        pub use key_value_simple::*;
    }

    /// A store that keeps nothing.
    #[cfg(feature = "null")]
    pub mod null {
        pub use key_value_null::*;
    }

    /// Persistent stores in py-key-value's diskcache SQLite layout: `DiskStore` and
    /// `MultiDiskStore`.
    #[cfg(feature = "disk")]
    pub mod disk {
        pub use key_value_disk::*;
    }

    /// One JSON file per entry, in py-key-value's FileTree layout.
    #[cfg(feature = "filetree")]
    pub mod filetree {
        pub use key_value_filetree::*;
    }

    /// A memcached server, in py-key-value's `MemcachedStore` layout.
    #[cfg(feature = "memcached")]
    pub mod memcached {
        pub use key_value_memcached::*;
    }

    /// A Redis server or cluster, in py-key-value's `RedisStore` layout.
    #[cfg(feature = "redis")]
    pub mod redis {
        pub use key_value_redis::*;
    }

    /// A Valkey server or cluster, in py-key-value's Redis layout.
    #[cfg(feature = "valkey")]
    pub mod valkey {
        pub use key_value_valkey::*;
    }

    /// A MongoDB database, in py-key-value's `MongoDBStore` layout.
    #[cfg(feature = "mongodb")]
    pub mod mongodb {
        pub use key_value_mongodb::*;
    }

    /// A PostgreSQL table, in py-key-value's `PostgreSQLStore` layout.
    #[cfg(feature = "postgresql")]
    pub mod postgresql {
        pub use key_value_postgresql::*;
    }

    /// A MySQL or MariaDB table, with the PostgreSQL store's design (not in py-key-value).
    #[cfg(feature = "mysql")]
    pub mod mysql {
        pub use key_value_mysql::*;
    }

    /// An Azure Table Storage table, in py-key-value's `AzureTablesStore` layout.
    #[cfg(feature = "azure-tables")]
    pub mod azure_tables {
        pub use key_value_azure_tables::*;
    }

    /// An S3 bucket (AWS S3 or an S3-compatible server), in py-key-value's `S3Store` layout.
    #[cfg(feature = "s3")]
    pub mod s3 {
        pub use key_value_s3::*;
    }

    /// A Google Cloud Firestore database (REST v1), in py-key-value's `FirestoreStore` layout.
    #[cfg(feature = "firestore")]
    pub mod firestore {
        pub use key_value_firestore::*;
    }

    /// An Amazon DynamoDB table, in py-key-value's `DynamoDBStore` layout.
    #[cfg(feature = "dynamodb")]
    pub mod dynamodb {
        pub use key_value_dynamodb::*;
    }
}

//! Opening any store from a URL: [`open`].
//!
//! | URL | store | feature |
//! |---|---|---|
//! | `memory://?max_entries_per_collection=N&default_collection=C` | `MemoryStore` | `memory` |
//! | `simple://?max_entries=N` | `SimpleStore` | `simple` |
//! | `null://` | `NullStore` | `null` |
//! | `disk:///path?max_size=BYTES` | `DiskStore` | `disk` |
//! | `multidisk:///path` | `MultiDiskStore` | `disk` |
//! | `filetree:///path?sanitize=v1` | `FileTreeStore` | `filetree` |
//! | `memcached://host:port?prefix=P&pool_size=N&sanitize=v1&allow_flush=true` | `MemcachedStore` | `memcached` |
//! | `redis://[user:pw@]host:port/db?key_prefix=P&cluster=true&nodes=h:p,...` | `RedisStore` | `redis` |
//! | `rediss://host:port?tls_ca=CA.pem&tls_cert=C.pem&tls_key=K.pem&tls_insecure=false` | `RedisStore` (TLS) | `redis` |
//! | `valkey://host:port?cluster=true&nodes=h:p,...` | `ValkeyStore` | `valkey` |
//! | `mongodb://[user:pw@]host:port/?db=D&sanitize=v1&<driver options>` | `MongoDbStore` | `mongodb` |
//! | `postgresql://[user:pw@]host:port/db?sslmode=require&table=T&statement_cache=false` (or `postgres://`) | `PostgreSQLStore` | `postgresql` |
//! | `mysql://[user:pw@]host:port/db?table=T&ssl=true` | `MySqlStore` | `mysql` |
//! | `azure-tables://ACCOUNT:KEY@HOST[:PORT][/PATH]/TABLE?tls=false&sanitize=true` (or `azure-tables:///TABLE?connection_string_env=VAR`) | `AzureTablesStore` | `azure-tables` |
//! | `s3://[KEY_ID:SECRET@]bucket?region=R&endpoint=URL&create_bucket=false&sanitize=none` | `S3Store` | `s3` |
//! | `firestore://[:TOKEN@]project[/database]?emulator_host=H:P&credentials=KEY.json&sanitize=v1` | `FirestoreStore` | `firestore` |
//! | `dynamodb://[KEY_ID:SECRET@]table?region=R&endpoint=URL&auto_create=false` | `DynamoDBStore` | `dynamodb` |
//!
//! Each store's options are those of its config struct (`DiskConfig::from_url`, ...): one code
//! path for URLs and builders. Unknown options are errors, so a typo is never silently ignored.

use key_value_core::config::StoreUrl;
use key_value_core::{Error, ErrorKind, Result, SharedStore};

/// One scheme this build can open, and how.
struct Scheme {
    name: &'static str,
    open: fn(&StoreUrl) -> Result<SharedStore>,
}

/// Every scheme of the project, with the Cargo feature that provides it; those compiled in
/// have an opener.
const PLANNED: &[(&str, &str)] = &[
    ("memory", "memory"),
    ("simple", "simple"),
    ("null", "null"),
    ("disk", "disk"),
    ("multidisk", "disk"),
    ("filetree", "filetree"),
    ("redis", "redis"),
    ("rediss", "redis"),
    ("valkey", "valkey"),
    ("memcached", "memcached"),
    ("postgresql", "postgresql"),
    ("postgres", "postgresql"),
    ("mongodb", "mongodb"),
    ("mysql", "mysql"),
    ("dynamodb", "dynamodb"),
    ("s3", "s3"),
    ("azure-tables", "azure-tables"),
    ("firestore", "firestore"),
];

fn compiled() -> Vec<Scheme> {
    #[allow(unused_mut)]
    let mut schemes: Vec<Scheme> = Vec::new();
    #[cfg(feature = "memory")]
    schemes.push(Scheme {
        name: key_value_memory::MemoryConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_memory::MemoryConfig::from_url(url)?.build(),
            ))
        },
    });
    #[cfg(feature = "simple")]
    schemes.push(Scheme {
        name: key_value_simple::SimpleStore::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_simple::SimpleStore::from_url(url)?,
            ))
        },
    });
    #[cfg(feature = "null")]
    schemes.push(Scheme {
        name: key_value_null::NullStore::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(key_value_null::NullStore::from_url(
                url,
            )?))
        },
    });
    #[cfg(feature = "disk")]
    schemes.push(Scheme {
        name: key_value_disk::DiskConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_disk::DiskConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "disk")]
    schemes.push(Scheme {
        name: key_value_disk::MultiDiskConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_disk::MultiDiskConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "filetree")]
    schemes.push(Scheme {
        name: key_value_filetree::FileTreeConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_filetree::FileTreeConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "memcached")]
    schemes.push(Scheme {
        name: key_value_memcached::MemcachedConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_memcached::MemcachedConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "redis")]
    schemes.push(Scheme {
        name: key_value_redis::RedisConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_redis::RedisConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "redis")]
    schemes.push(Scheme {
        name: key_value_redis::RedisConfig::TLS_SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_redis::RedisConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "valkey")]
    schemes.push(Scheme {
        name: key_value_valkey::ValkeyConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_valkey::ValkeyConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "mongodb")]
    schemes.push(Scheme {
        name: key_value_mongodb::MongoDbConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_mongodb::MongoDbConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "postgresql")]
    schemes.push(Scheme {
        name: key_value_postgresql::PostgreSQLConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_postgresql::PostgreSQLConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "postgresql")]
    schemes.push(Scheme {
        name: key_value_postgresql::PostgreSQLConfig::SHORT_SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_postgresql::PostgreSQLConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "mysql")]
    schemes.push(Scheme {
        name: key_value_mysql::MySqlConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_mysql::MySqlConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "s3")]
    schemes.push(Scheme {
        name: key_value_s3::S3Config::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_s3::S3Config::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "firestore")]
    schemes.push(Scheme {
        name: key_value_firestore::FirestoreConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_firestore::FirestoreConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "dynamodb")]
    schemes.push(Scheme {
        name: key_value_dynamodb::DynamoDBConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_dynamodb::DynamoDBConfig::from_url(url)?.open()?,
            ))
        },
    });
    #[cfg(feature = "azure-tables")]
    schemes.push(Scheme {
        name: key_value_azure_tables::AzureTablesConfig::SCHEME,
        open: |url| {
            Ok(std::sync::Arc::new(
                key_value_azure_tables::AzureTablesConfig::from_url(url)?.open()?,
            ))
        },
    });
    schemes
}

/// The URL schemes this build can open.
///
/// ```
/// assert!(key_value::schemes().contains(&"memory"));
/// ```
pub fn schemes() -> Vec<&'static str> {
    compiled().iter().map(|s| s.name).collect()
}

/// Opens the store a URL names, as a [`SharedStore`].
///
/// An unknown scheme, or one whose Cargo feature is not compiled in, is an
/// [`ErrorKind::Config`] error that lists the schemes available.
///
/// ```
/// use key_value::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store = key_value::open("memory://?default_collection=users")?;
/// store.put("user:1", object!({"name": "Alice"})).await?;
/// assert_eq!(store.get("user:1").collection("users").await?, Some(object!({"name": "Alice"})));
///
/// let err = key_value::open("carrier-pigeon://loft").err().expect("unknown scheme");
/// assert_eq!(err.kind(), ErrorKind::Config);
/// assert!(err.to_string().contains("memory"));
/// # Ok(())
/// # }
/// ```
pub fn open(url: &str) -> Result<SharedStore> {
    let parsed = StoreUrl::parse(url)?;
    let scheme = parsed.scheme();
    let available = compiled();
    if let Some(s) = available.iter().find(|s| s.name == scheme) {
        return (s.open)(&parsed);
    }
    let names: Vec<&str> = available.iter().map(|s| s.name).collect();
    let message = match PLANNED.iter().find(|(name, _)| *name == scheme) {
        Some((_, feature)) => format!(
            "the {scheme}:// store is not compiled in: enable the `{feature}` feature of the key-value crate (available here: {})",
            names.join(", ")
        ),
        None => format!(
            "unknown store scheme `{scheme}` (available here: {})",
            names.join(", ")
        ),
    };
    Err(Error::new(ErrorKind::Config, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compiled_scheme_is_planned() {
        for s in schemes() {
            assert!(PLANNED.iter().any(|(name, _)| *name == s), "{s}");
        }
    }

    #[cfg(all(feature = "redis", feature = "valkey"))]
    #[test]
    fn redis_and_valkey_open_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        for (url, name) in [
            ("redis://127.0.0.1:1/2?key_prefix=app:", "RedisStore"),
            ("rediss://127.0.0.1:1?tls_insecure=true", "RedisStore"),
            (
                "valkey://127.0.0.1:1?cluster=true&nodes=127.0.0.1:2",
                "ValkeyStore",
            ),
        ] {
            let store = open(url);
            assert!(
                store.as_ref().is_ok_and(|s| s.dyn_info().name() == name),
                "{url}: {:?}",
                store.err()
            );
        }
        let err = open("redis://127.0.0.1:1?key_prefx=a").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn missing_feature_names_the_feature() {
        let err = open("redis://127.0.0.1:1").err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("`redis` feature")),
            "{err:?}"
        );
    }

    #[test]
    fn bad_options_are_config_errors() {
        let err = open("memory://?max_entries_per_colection=3").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
        let err = open("memory://?max_entries_per_collection=many").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
        let err = open("not a url").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
    }

    #[cfg(feature = "memcached")]
    #[test]
    fn memcached_opens_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        let store = open("memcached://127.0.0.1:1?prefix=app:&pool_size=2&sanitize=v1");
        assert!(
            store
                .as_ref()
                .is_ok_and(|s| s.dyn_info().name() == "MemcachedStore"),
            "{:?}",
            store.err()
        );
        let err = open("memcached://127.0.0.1:1?pool_sise=2").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
    }

    #[cfg(feature = "mongodb")]
    #[test]
    fn mongodb_opens_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        let store = open("mongodb://user:pw@127.0.0.1:1/?db=app&sanitize=v1&authSource=admin");
        assert!(
            store
                .as_ref()
                .is_ok_and(|s| s.dyn_info().name() == "MongoDBStore"),
            "{:?}",
            store.err()
        );
        let err = open("mongodb://127.0.0.1:1/?db=a.b").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
    }

    #[cfg(feature = "postgresql")]
    #[test]
    fn postgresql_opens_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        for url in [
            "postgresql://app:pw@127.0.0.1:1/db?table=cache&statement_cache=false",
            "postgres://127.0.0.1:1/db?sslmode=disable",
        ] {
            let store = open(url);
            assert!(
                store
                    .as_ref()
                    .is_ok_and(|s| s.dyn_info().name() == "PostgreSQLStore"),
                "{url}: {:?}",
                store.err()
            );
        }
        let err = open("postgresql://127.0.0.1:1/db?table=a;b").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_opens_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        let store = open(
            "s3://AKID:topsecret@kv-bucket?region=eu-west-1&endpoint=http://127.0.0.1:1&create_bucket=false&sanitize=none",
        );
        assert!(
            store
                .as_ref()
                .is_ok_and(|s| s.dyn_info().name() == "S3Store"),
            "{:?}",
            store.err()
        );
        let err = open("s3://AKID:topsecret@kv-bucket?regoin=eu-west-1").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
        let err = open("s3://AKID:topsecret@x?endpoint=http://127.0.0.1:1").err();
        assert_eq!(
            err.as_ref().map(|e| e.kind()),
            Some(ErrorKind::Config),
            "too short a bucket name"
        );
        assert!(!format!("{err:?}").contains("topsecret"));
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_opens_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        let store = open("mysql://app:pw@127.0.0.1:1/db?table=cache");
        assert!(
            store
                .as_ref()
                .is_ok_and(|s| s.dyn_info().name() == "MySqlStore"),
            "{:?}",
            store.err()
        );
        let err = open("mysql://127.0.0.1:1/db?table=a;b").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
    }

    #[cfg(feature = "dynamodb")]
    #[test]
    fn dynamodb_opens_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        let store = open(
            "dynamodb://AKID:secret@kv-cache?region=eu-west-1&endpoint=http://127.0.0.1:1&auto_create=false",
        );
        assert!(
            store
                .as_ref()
                .is_ok_and(|s| s.dyn_info().name() == "DynamoDBStore"),
            "{:?}",
            store.err()
        );
        let err = open("dynamodb://AKID:secret@kv?region=eu-west-1").err();
        assert_eq!(
            err.map(|e| e.kind()),
            Some(ErrorKind::Config),
            "too short a table name"
        );
        let err = open("dynamodb://AKID:secret@kv-cache?regoin=eu-west-1").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
        assert!(
            !format!("{:?}", open("dynamodb://AKID:topsecret@kv?region=x").err())
                .contains("topsecret")
        );
    }

    #[cfg(feature = "firestore")]
    #[test]
    fn firestore_opens_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        for url in [
            "firestore://proj?emulator_host=127.0.0.1:1",
            "firestore://:ya29.topsecret@proj/my-db?sanitize=v1&use_environment=false",
        ] {
            let store = open(url);
            assert!(
                store
                    .as_ref()
                    .is_ok_and(|s| s.dyn_info().name() == "FirestoreStore"),
                "{url}: {:?}",
                store.err()
            );
        }
        let err = open("firestore://proj?emulator_hots=127.0.0.1:1").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
        let err = open("firestore://:ya29.topsecret@proj/Bad_DB?use_environment=false").err();
        assert_eq!(err.as_ref().map(|e| e.kind()), Some(ErrorKind::Config));
        assert!(!format!("{err:?}").contains("topsecret"));
    }

    #[cfg(feature = "azure-tables")]
    #[test]
    fn azure_tables_opens_without_a_runtime_or_a_server() {
        use key_value_core::DynKeyValue;
        for url in [
            "azure-tables://acme:c2VjcmV0@acme.table.core.windows.net/kvstore?sanitize=true",
            "azure-tables://devstoreaccount1:c2VjcmV0@127.0.0.1:1/devstoreaccount1/kvstore?tls=false",
            "azure-tables:///kvstore?development_storage=true&auto_create=false",
        ] {
            let store = open(url);
            assert!(
                store
                    .as_ref()
                    .is_ok_and(|s| s.dyn_info().name() == "AzureTablesStore"),
                "{url}: {:?}",
                store.err()
            );
        }
        let err = open("azure-tables://acme:c2VjcmV0@acme.table.core.windows.net/kv_store").err();
        assert_eq!(
            err.as_ref().map(|e| e.kind()),
            Some(ErrorKind::Config),
            "bad table name"
        );
        let err = open("azure-tables://acme:c2VjcmV0@h/kvstore?sanitise=true").err();
        assert_eq!(err.as_ref().map(|e| e.kind()), Some(ErrorKind::Config));
        assert!(!format!("{err:?}").contains("c2VjcmV0"));
    }
}

//! The one [`KeyValue`] implementation the value-transforming wrappers share.
//!
//! [`Compression`](crate::compression::Compression) and
//! [`Encryption`](crate::encryption::Encryption) change each value on its way in and back on
//! its way out, and pass every other call through untouched. Each implements
//! [`EntryTransform`] (its two directions) and [`transformed_key_value!`] writes the rest once:
//! batches stay batches, one stamp (a timestamp) serves a whole batch write, and a failure
//! names the operation, collection and key.

use key_value_core::entry::ManagedEntry;
use key_value_core::{KeyValue, Result, StoreInfo};

/// A wrapper that changes entries on writes and changes them back on reads.
pub(crate) trait EntryTransform {
    /// The wrapped store.
    type Inner: KeyValue;
    /// What one write call computes once for all its entries (a timestamp).
    type Stamp: Copy;

    fn transformed(&self) -> &Self::Inner;

    fn transformed_info(&self) -> &StoreInfo;

    fn stamp(&self) -> Self::Stamp;

    /// The entry as stored.
    fn on_write(
        &self,
        collection: &str,
        key: &str,
        entry: ManagedEntry,
        stamp: Self::Stamp,
    ) -> Result<ManagedEntry>;

    /// The entry as stored turned back; `None` when it reads as missing.
    fn on_read(
        &self,
        collection: &str,
        key: &str,
        entry: ManagedEntry,
    ) -> Result<Option<ManagedEntry>>;
}

/// `impl KeyValue for $wrapper<S>` through its [`EntryTransform`] implementation.
macro_rules! transformed_key_value {
    ($wrapper:ident) => {
        impl<S: ::key_value_core::KeyValue> ::key_value_core::KeyValue for $wrapper<S> {
            fn info(&self) -> &::key_value_core::StoreInfo {
                $crate::transform::EntryTransform::transformed_info(self)
            }

            async fn get_entry(
                &self,
                collection: &str,
                key: &str,
            ) -> ::key_value_core::Result<Option<::key_value_core::entry::ManagedEntry>> {
                use $crate::transform::EntryTransform;
                match self.transformed().get_entry(collection, key).await? {
                    None => Ok(None),
                    Some(entry) => self
                        .on_read(collection, key, entry)
                        .map_err(|e| e.in_context("get", collection, Some(key))),
                }
            }

            async fn put_entry(
                &self,
                collection: &str,
                key: &str,
                entry: ::key_value_core::entry::ManagedEntry,
            ) -> ::key_value_core::Result<()> {
                use $crate::transform::EntryTransform;
                let entry = self
                    .on_write(collection, key, entry, self.stamp())
                    .map_err(|e| e.in_context("put", collection, Some(key)))?;
                self.transformed().put_entry(collection, key, entry).await
            }

            fn delete_entry(
                &self,
                collection: &str,
                key: &str,
            ) -> impl ::std::future::Future<Output = ::key_value_core::Result<bool>> + Send {
                $crate::transform::EntryTransform::transformed(self).delete_entry(collection, key)
            }

            async fn get_entries(
                &self,
                collection: &str,
                keys: &[&str],
            ) -> ::key_value_core::Result<Vec<Option<::key_value_core::entry::ManagedEntry>>> {
                use $crate::transform::EntryTransform;
                let entries = self.transformed().get_entries(collection, keys).await?;
                entries
                    .into_iter()
                    .zip(keys)
                    .map(|(entry, key)| match entry {
                        None => Ok(None),
                        Some(e) => self
                            .on_read(collection, key, e)
                            .map_err(|e| e.in_context("get_many", collection, Some(key))),
                    })
                    .collect()
            }

            async fn put_entries(
                &self,
                collection: &str,
                keys: &[&str],
                entries: Vec<::key_value_core::entry::ManagedEntry>,
            ) -> ::key_value_core::Result<()> {
                use $crate::transform::EntryTransform;
                let stamp = self.stamp();
                let stored = entries
                    .into_iter()
                    .zip(keys)
                    .map(|(entry, key)| {
                        self.on_write(collection, key, entry, stamp)
                            .map_err(|e| e.in_context("put_many", collection, Some(key)))
                    })
                    .collect::<::key_value_core::Result<Vec<_>>>()?;
                self.transformed()
                    .put_entries(collection, keys, stored)
                    .await
            }

            fn delete_entries(
                &self,
                collection: &str,
                keys: &[&str],
            ) -> impl ::std::future::Future<Output = ::key_value_core::Result<usize>> + Send {
                $crate::transform::EntryTransform::transformed(self)
                    .delete_entries(collection, keys)
            }

            fn list_keys(
                &self,
                collection: &str,
                limit: Option<usize>,
            ) -> impl ::std::future::Future<Output = ::key_value_core::Result<Vec<String>>> + Send
            {
                $crate::transform::EntryTransform::transformed(self).list_keys(collection, limit)
            }

            fn list_collections(
                &self,
                limit: Option<usize>,
            ) -> impl ::std::future::Future<Output = ::key_value_core::Result<Vec<String>>> + Send
            {
                $crate::transform::EntryTransform::transformed(self).list_collections(limit)
            }

            fn destroy(
                &self,
            ) -> impl ::std::future::Future<Output = ::key_value_core::Result<bool>> + Send {
                $crate::transform::EntryTransform::transformed(self).destroy()
            }

            fn destroy_collection(
                &self,
                collection: &str,
            ) -> impl ::std::future::Future<Output = ::key_value_core::Result<bool>> + Send {
                $crate::transform::EntryTransform::transformed(self).destroy_collection(collection)
            }

            fn cull(
                &self,
            ) -> impl ::std::future::Future<Output = ::key_value_core::Result<()>> + Send {
                $crate::transform::EntryTransform::transformed(self).cull()
            }

            fn close(
                &self,
            ) -> impl ::std::future::Future<Output = ::key_value_core::Result<()>> + Send {
                $crate::transform::EntryTransform::transformed(self).close()
            }
        }
    };
}

pub(crate) use transformed_key_value;

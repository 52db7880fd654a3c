//! The one [`KeyValue`] implementation the call-guarding wrappers share.
//!
//! [`Bulkhead`](crate::bulkhead::Bulkhead), [`CircuitBreaker`](crate::circuit_breaker),
//! [`RateLimit`](crate::rate_limit::RateLimit) and [`Timeout`](crate::timeout::Timeout) decide
//! whether, when and for how long a call runs; none changes what the call asks or answers. So
//! each implements [`Guard`] (its decision, one method) and [`guarded_key_value!`] writes the
//! thirteen forwarding methods once for all of them. `close()` is never guarded: shutting down
//! must not wait for a slot, a token or a closed circuit.

use std::future::Future;

use key_value_core::{KeyValue, Result};

/// Whether a call only reads or also changes the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `get`, `get_many`, `keys`, `collections`.
    Read,
    /// `put`, `delete`, their `_many` forms, `destroy`, `destroy_collection`, `cull`.
    Write,
}

/// One call, as a guard sees it before it runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    /// The operation's name in errors (`"get"`, `"put_many"`, ...).
    pub(crate) operation: &'static str,
    pub(crate) access: Access,
    /// The number of keys of a batch call (`get_many`, `put_many`, `delete_many`); `None` for
    /// the others.
    pub(crate) batch: Option<usize>,
}

impl Call {
    const fn new(operation: &'static str, access: Access, batch: Option<usize>) -> Self {
        Call {
            operation,
            access,
            batch,
        }
    }

    pub(crate) const fn read(operation: &'static str) -> Self {
        Call::new(operation, Access::Read, None)
    }

    pub(crate) const fn write(operation: &'static str) -> Self {
        Call::new(operation, Access::Write, None)
    }

    pub(crate) const fn read_batch(operation: &'static str, keys: usize) -> Self {
        Call::new(operation, Access::Read, Some(keys))
    }

    pub(crate) const fn write_batch(operation: &'static str, keys: usize) -> Self {
        Call::new(operation, Access::Write, Some(keys))
    }
}

/// A wrapper that decides how each call to its inner store runs.
pub(crate) trait Guard {
    /// The wrapped store.
    type Inner: KeyValue;

    fn guarded(&self) -> &Self::Inner;

    /// Runs `run` (the inner store's call, not started yet) under this guard, or refuses it
    /// with an error naming `call.operation`.
    fn guard<T: Send>(
        &self,
        call: Call,
        run: impl Future<Output = Result<T>> + Send,
    ) -> impl Future<Output = Result<T>> + Send;
}

/// `impl KeyValue for $wrapper<S>` through its [`Guard`] implementation.
macro_rules! guarded_key_value {
    ($wrapper:ident) => {
        impl<S: ::key_value_core::KeyValue> ::key_value_core::KeyValue for $wrapper<S> {
            fn info(&self) -> &::key_value_core::StoreInfo {
                $crate::guard::Guard::guarded(self).info()
            }

            async fn get_entry(
                &self,
                collection: &str,
                key: &str,
            ) -> ::key_value_core::Result<Option<::key_value_core::entry::ManagedEntry>> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                self.guard(Call::read("get"), inner.get_entry(collection, key))
                    .await
            }

            async fn put_entry(
                &self,
                collection: &str,
                key: &str,
                entry: ::key_value_core::entry::ManagedEntry,
            ) -> ::key_value_core::Result<()> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                self.guard(Call::write("put"), inner.put_entry(collection, key, entry))
                    .await
            }

            async fn delete_entry(
                &self,
                collection: &str,
                key: &str,
            ) -> ::key_value_core::Result<bool> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                self.guard(Call::write("delete"), inner.delete_entry(collection, key))
                    .await
            }

            async fn get_entries(
                &self,
                collection: &str,
                keys: &[&str],
            ) -> ::key_value_core::Result<Vec<Option<::key_value_core::entry::ManagedEntry>>> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                let call = Call::read_batch("get_many", keys.len());
                self.guard(call, inner.get_entries(collection, keys)).await
            }

            async fn put_entries(
                &self,
                collection: &str,
                keys: &[&str],
                entries: Vec<::key_value_core::entry::ManagedEntry>,
            ) -> ::key_value_core::Result<()> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                let call = Call::write_batch("put_many", keys.len());
                self.guard(call, inner.put_entries(collection, keys, entries))
                    .await
            }

            async fn delete_entries(
                &self,
                collection: &str,
                keys: &[&str],
            ) -> ::key_value_core::Result<usize> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                let call = Call::write_batch("delete_many", keys.len());
                self.guard(call, inner.delete_entries(collection, keys))
                    .await
            }

            async fn list_keys(
                &self,
                collection: &str,
                limit: Option<usize>,
            ) -> ::key_value_core::Result<Vec<String>> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                self.guard(Call::read("keys"), inner.list_keys(collection, limit))
                    .await
            }

            async fn list_collections(
                &self,
                limit: Option<usize>,
            ) -> ::key_value_core::Result<Vec<String>> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                self.guard(Call::read("collections"), inner.list_collections(limit))
                    .await
            }

            async fn destroy(&self) -> ::key_value_core::Result<bool> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                self.guard(Call::write("destroy"), inner.destroy()).await
            }

            async fn destroy_collection(&self, collection: &str) -> ::key_value_core::Result<bool> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                let call = Call::write("destroy_collection");
                self.guard(call, inner.destroy_collection(collection)).await
            }

            async fn cull(&self) -> ::key_value_core::Result<()> {
                use $crate::guard::{Call, Guard};
                let inner = self.guarded();
                self.guard(Call::write("cull"), inner.cull()).await
            }

            async fn close(&self) -> ::key_value_core::Result<()> {
                $crate::guard::Guard::guarded(self).close().await
            }
        }
    };
}

pub(crate) use guarded_key_value;

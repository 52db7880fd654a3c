//! Lazy one-time set-up, safe under concurrent first use.
//!
//! Stores that must create something before their first call (a table, an index, a
//! directory) keep a [`SetupOnce`] for the store and a [`CollectionSetup`] for each collection.
//! Concurrent first calls wait for one set-up instead of racing; a failed set-up is retried by
//! the next call instead of poisoning the store.
//!
//! ```
//! use key_value_core::setup::CollectionSetup;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let setup = CollectionSetup::default();
//! let runs = AtomicUsize::new(0);
//! for _ in 0..3 {
//!     setup.ensure("users", || async { runs.fetch_add(1, Ordering::SeqCst); Ok(()) }).await?;
//! }
//! assert_eq!(runs.load(Ordering::SeqCst), 1);
//! # Ok::<(), key_value_core::Error>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::error::{Error, ErrorKind, Result};

/// Runs a set-up step once; later calls return at once.
#[derive(Debug, Default)]
pub struct SetupOnce {
    done: OnceCell<()>,
}

impl SetupOnce {
    /// Runs `setup` unless it already succeeded; concurrent callers wait for the one running.
    /// Its error is returned as an [`ErrorKind::Setup`] error (unless it already is one), and
    /// the next call tries again.
    pub async fn ensure<F, Fut>(&self, setup: F) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        self.done
            .get_or_try_init(|| async { setup().await.map_err(as_setup_error) })
            .await
            .map(|_| ())
    }

    /// Whether the set-up has succeeded.
    pub fn is_done(&self) -> bool {
        self.done.initialized()
    }
}

/// A [`SetupOnce`] per collection name.
#[derive(Debug, Default)]
pub struct CollectionSetup {
    cells: Mutex<HashMap<String, Arc<SetupOnce>>>,
}

impl CollectionSetup {
    /// Runs `setup` for `collection` unless it already succeeded.
    pub async fn ensure<F, Fut>(&self, collection: &str, setup: F) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            match cells.get(collection) {
                Some(cell) if cell.is_done() => return Ok(()),
                Some(cell) => cell.clone(),
                None => {
                    let cell = Arc::new(SetupOnce::default());
                    cells.insert(collection.to_string(), cell.clone());
                    cell
                }
            }
        };
        cell.ensure(setup)
            .await
            .map_err(|e| e.with_collection(collection))
    }

    /// Forgets a collection's set-up (after it was destroyed), so it runs again.
    pub fn forget(&self, collection: &str) {
        self.cells
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(collection);
    }

    /// Forgets every collection's set-up.
    pub fn forget_all(&self) {
        self.cells.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Whether a store was closed: stores check it at the start of every call, so calls after
/// [`close`](crate::KeyValue::close) fail with [`ErrorKind::Closed`] instead of touching
/// released resources.
///
/// ```
/// use key_value_core::setup::CloseFlag;
/// let flag = CloseFlag::default();
/// assert!(flag.check().is_ok());
/// flag.close();
/// assert_eq!(flag.check().unwrap_err().kind(), key_value_core::ErrorKind::Closed);
/// ```
#[derive(Debug, Default)]
pub struct CloseFlag {
    closed: AtomicBool,
}

impl CloseFlag {
    /// Marks the store closed.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Whether it was closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// `Ok` while open, an [`ErrorKind::Closed`] error after.
    #[inline]
    pub fn check(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::new(ErrorKind::Closed, "the store was closed"))
        } else {
            Ok(())
        }
    }
}

fn as_setup_error(e: Error) -> Error {
    if e.kind() == ErrorKind::Setup {
        e
    } else {
        let temporary = e.is_temporary();
        Error::new(ErrorKind::Setup, format!("set-up failed: {e}"))
            .with_temporary(temporary)
            .with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_first_use_runs_setup_once() {
        let setup = Arc::new(CollectionSetup::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..32 {
            let (setup, runs) = (setup.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                let name = if i % 2 == 0 { "a" } else { "b" };
                setup
                    .ensure(name, || async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(())
                    })
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failed_setup_is_a_setup_error_and_is_retried() {
        let once = SetupOnce::default();
        let err = once
            .ensure(|| async { Err(Error::new(ErrorKind::Connection, "refused")) })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup);
        assert!(err.is_temporary());
        assert!(!once.is_done());
        once.ensure(|| async { Ok(()) }).await.unwrap();
        assert!(once.is_done());
    }
}

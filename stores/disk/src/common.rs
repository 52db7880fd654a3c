//! What both stores share: running blocking work off the async runtime, and turning rows into
//! entries and entries into rows.

use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::{Error, ErrorKind, Result, StoreInfo, Timestamp};

use crate::cache::{Found, PutItem};

/// Runs `f` on tokio's blocking thread pool and waits for it without blocking the runtime.
///
/// Every SQLite call goes through here: a call is tens of microseconds, but a busy database,
/// a checkpoint or a large value file can take milliseconds or more. If the future is dropped,
/// the work still completes (a cancelled put may still be applied, atomically).
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(Error::new(
            ErrorKind::Backend,
            "the disk operation panicked or its runtime shut down",
        )
        .with_source(e)),
    }
}

/// The store's clock as diskcache's `time.time()`.
pub(crate) fn now_secs(info: &StoreInfo) -> f64 {
    info.clock().now().unix_seconds_f64()
}

/// An `expire_time` column value as a timestamp (clamped to Python's `datetime` range).
fn expire_timestamp(epoch: f64) -> Timestamp {
    Timestamp::from_unix_seconds_f64(epoch).unwrap_or_else(|| {
        if epoch > 0.0 {
            Timestamp::from_unix_micros(i64::MAX)
        } else {
            Timestamp::from_unix_micros(i64::MIN)
        }
    })
}

/// A row read back as py-key-value's `_get_managed_entry` does: a value that is not text is a
/// miss; the envelope is parsed (a corrupt one is a `Deserialization` error naming `key`);
/// a non-zero `expire_time` replaces the envelope's `expires_at`.
pub(crate) fn decode(found: Option<Found>, key: &str) -> Result<Option<ManagedEntry>> {
    let Some(found) = found else {
        return Ok(None);
    };
    let Some(text) = found.text else {
        return Ok(None);
    };
    let mut entry = Envelope::load(&text).map_err(|e| e.with_key(key))?;
    if let Some(epoch) = found.expire_time
        && epoch != 0.0
    {
        entry.expires_at = Some(expire_timestamp(epoch));
    }
    Ok(Some(entry))
}

/// Decodes a batch read, naming the failing key; `user_key(i)` is the key the caller used.
pub(crate) fn decode_all<'a>(
    found: Vec<Result<Option<Found>>>,
    user_key: impl Fn(usize) -> &'a str,
) -> Result<Vec<Option<ManagedEntry>>> {
    found
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let key = user_key(i);
            r.map_err(|e| e.with_key(key)).and_then(|f| decode(f, key))
        })
        .collect()
}

/// The row py-key-value writes for `entry`: the envelope with key and collection, and
/// `expire_time` from its `expires_at`.
pub(crate) fn put_item(
    stored_key: String,
    collection: &str,
    key: &str,
    entry: &ManagedEntry,
) -> PutItem {
    PutItem {
        key: stored_key,
        text: Envelope::WITH_KEY.dump(entry, collection, key),
        expire_time: entry.expires_at.map(Timestamp::unix_seconds_f64),
    }
}

//! `kv copy`: every live entry of one store into another, timestamps and all.
//!
//! Entries are copied as [`ManagedEntry`]s, so `created_at` and `expires_at` arrive unchanged
//! (the remaining TTL is exactly the source's, not re-rounded). Expired entries are skipped.
//! Writing the same entries again overwrites them with the same content, so a copy can be
//! re-run after an interruption.

use std::fmt;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use key_value::api::{check_collection, check_key};
use key_value::entry::ManagedEntry;
use key_value::prelude::*;

/// Entries read and written per round trip.
const BATCH: usize = 500;

/// What a copy did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Entries written to the destination.
    pub copied: usize,
    /// Entries that had expired (or vanished) by the time they were read.
    pub skipped: usize,
    /// Entries the destination refused.
    pub failed: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "copied {}, skipped {} (expired), failed {}",
            self.copied, self.skipped, self.failed
        )
    }
}

/// Copies `collections` (all of the source's when empty) from `source` to `destination`.
pub async fn copy(
    source: &SharedStore,
    destination: &SharedStore,
    collections: &[String],
) -> Result<Summary> {
    let collections = if collections.is_empty() {
        source.collections().await.map_err(|e| {
            Error::new(
                e.kind(),
                format!("cannot list the source's collections ({e}); name them with --collection"),
            )
        })?
    } else {
        collections.to_vec()
    };

    let mut plan = Vec::with_capacity(collections.len());
    for c in &collections {
        plan.push((c.clone(), source.keys().collection(c).await?));
    }
    let total: usize = plan.iter().map(|(_, keys)| keys.len()).sum();

    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} entries ({per_sec}, {eta} left) {msg}")
    {
        bar.set_style(style);
    }

    let mut summary = Summary::default();
    for (collection, keys) in &plan {
        bar.set_message(collection.clone());
        for chunk in keys.chunks(BATCH) {
            let names: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let entries = source.get_entries(collection, &names).await?;
            let now = source.info().clock().now();
            let mut live_keys = Vec::with_capacity(names.len());
            let mut live = Vec::with_capacity(names.len());
            for (key, entry) in names.iter().zip(entries) {
                match entry {
                    Some(e) if !e.is_expired_at(now) => {
                        live_keys.push(*key);
                        live.push(e);
                    }
                    _ => summary.skipped += 1,
                }
            }
            write_batch(destination, collection, &live_keys, live, &mut summary).await;
            bar.inc(chunk.len() as u64);
        }
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// Writes one batch; if the destination refuses it, retries entry by entry so one bad entry
/// does not fail the others, reporting each refusal on stderr.
async fn write_batch(
    destination: &SharedStore,
    collection: &str,
    keys: &[&str],
    entries: Vec<ManagedEntry>,
    summary: &mut Summary,
) {
    if keys.is_empty() {
        return;
    }
    let info = destination.info();
    let valid = check_collection(info, collection).is_ok()
        && keys.iter().all(|k| check_key(info, k).is_ok());
    if valid
        && destination
            .put_entries(collection, keys, entries.clone())
            .await
            .is_ok()
    {
        summary.copied += keys.len();
        return;
    }
    for (key, entry) in keys.iter().zip(entries) {
        let result = match check_collection(info, collection).and(check_key(info, key)) {
            Ok(()) => destination.put_entry(collection, key, entry).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => summary.copied += 1,
            Err(e) => {
                summary.failed += 1;
                eprintln!("kv: not copied: collection '{collection}', key '{key}': {e}");
            }
        }
    }
}

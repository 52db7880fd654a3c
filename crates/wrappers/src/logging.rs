//! Logs every operation through [`tracing`]: py-key-value's `LoggingWrapper`.
//!
//! Each call runs inside a span named `key_value` (fields `op`, `collection`) and ends with one
//! event, target `key_value::logging`, carrying:
//!
//! | field | |
//! |---|---|
//! | `op` | `get`, `put`, `delete`, `get_many`, `put_many`, `delete_many`, `keys`, `collections`, `destroy`, `destroy_collection`, `cull`, `close` (`ttl` reads are `get`s below the user API) |
//! | `store` | the inner store's name |
//! | `collection` | the collection, where the call has one |
//! | `key` / `keys`, `count` | the key of a single call; the first five keys and the number of keys of a batch (keys can be [turned off](LoggingLayer::log_keys)) |
//! | `outcome` | `hit` / `miss` (get), `ok` (put and the rest), `deleted` / `not_found` (delete), `error` |
//! | `hits`, `misses` | for `get_many`, `delete_many` (deleted / not found), `keys` and `collections` (names listed) |
//! | `duration_us` | how long the inner store took, in microseconds |
//! | `error`, `error_kind` | on failure |
//! | `value` | the value read or written, as JSON (at most 4 KiB), **only** with [`log_values(true)`](LoggingLayer::log_values) |
//!
//! Events are at [`Level::INFO`] unless [set](LoggingLayer::level) otherwise, failures at
//! [`Level::WARN`] unless [set](LoggingLayer::error_level).
//!
//! How it differs from py-key-value's wrapper: values are never logged unless asked for (py
//! logs them on `get`, `ttl`, `put` and `put_many` whatever `log_values` says); one event per
//! call with its outcome and duration instead of a "start" and a "finish" line; failures are
//! logged (py logs nothing when the inner call raises); fields instead of a formatted string
//! (a `tracing` subscriber formats them, as text or JSON).
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, logging::LoggingLayer};
//! use tracing::Level;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new().layer(LoggingLayer::new().level(Level::DEBUG));
//! store.put("user:1", object!({"password": "hunter2"})).await?; // the value is not logged
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::time::Instant;

use key_value_core::entry::{ManagedEntry, Object};
use key_value_core::json::write_python_json_object;
use key_value_core::{Error, KeyValue, Result, StoreInfo, Timestamp};
use tracing::{Instrument, Level, Span};

use crate::Layer;

/// The target of every event and span of this wrapper.
pub const TARGET: &str = "key_value::logging";

/// The longest value logged, in bytes of JSON; longer ones are cut.
const MAX_VALUE_LEN: usize = 4096;

/// How many keys of a batch are logged (py logs the first five too).
const MAX_KEYS: usize = 5;

/// The configuration of [`Logging`]: levels and what may be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggingLayer {
    level: Level,
    error_level: Level,
    log_values: bool,
    log_keys: bool,
}

impl Default for LoggingLayer {
    fn default() -> Self {
        LoggingLayer::new()
    }
}

impl LoggingLayer {
    /// Events at `INFO`, failures at `WARN`, keys logged, values not.
    pub fn new() -> Self {
        LoggingLayer {
            level: Level::INFO,
            error_level: Level::WARN,
            log_values: false,
            log_keys: true,
        }
    }

    /// The level of spans and of the events of successful calls.
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// The level of the events of failed calls.
    pub fn error_level(mut self, level: Level) -> Self {
        self.error_level = level;
        self
    }

    /// Whether values read and written are logged (`false` by default: values may hold
    /// personal data or secrets).
    pub fn log_values(mut self, log: bool) -> Self {
        self.log_values = log;
        self
    }

    /// Whether keys are logged (`true` by default, as py-key-value does).
    pub fn log_keys(mut self, log: bool) -> Self {
        self.log_keys = log;
        self
    }
}

impl<S: KeyValue> Layer<S> for LoggingLayer {
    type Store = Logging<S>;

    fn layer(self, inner: S) -> Logging<S> {
        Logging::from_layer(inner, self)
    }
}

/// `tracing::event!` or `tracing::span!` (`$kind`) at a level chosen at run time (`tracing`
/// wants a constant per call site).
macro_rules! at_level {
    ($kind:ident, $level:expr, $($fields:tt)+) => {{
        let level: Level = $level;
        if level == Level::ERROR {
            tracing::$kind!(target: TARGET, Level::ERROR, $($fields)+)
        } else if level == Level::WARN {
            tracing::$kind!(target: TARGET, Level::WARN, $($fields)+)
        } else if level == Level::INFO {
            tracing::$kind!(target: TARGET, Level::INFO, $($fields)+)
        } else if level == Level::DEBUG {
            tracing::$kind!(target: TARGET, Level::DEBUG, $($fields)+)
        } else {
            tracing::$kind!(target: TARGET, Level::TRACE, $($fields)+)
        }
    }};
}

/// What one call did, for its event.
#[derive(Default)]
struct Report<'a> {
    key: Option<&'a str>,
    keys: Option<&'a [&'a str]>,
    outcome: &'static str,
    hits: Option<u64>,
    misses: Option<u64>,
    value: Option<String>,
}

/// A store that logs its calls. See the [module docs](self).
#[derive(Debug)]
pub struct Logging<S> {
    inner: S,
    config: LoggingLayer,
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn json_of<'a>(values: impl Iterator<Item = Option<&'a Object>>) -> String {
    let mut out = String::from("[");
    for (i, value) in values.enumerate() {
        if out.len() > MAX_VALUE_LEN {
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        match value {
            Some(v) => write_python_json_object(&mut out, v),
            None => out.push_str("null"),
        }
    }
    out.push(']');
    truncate(out)
}

/// Cuts `text` to [`MAX_VALUE_LEN`] bytes (on a character boundary), marking the cut.
fn truncate(mut text: String) -> String {
    if text.len() > MAX_VALUE_LEN {
        let mut cut = MAX_VALUE_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("…(truncated)");
    }
    text
}

impl<S: KeyValue> Logging<S> {
    /// Wraps `inner`, logging at `INFO` without values.
    pub fn new(inner: S) -> Self {
        Logging::from_layer(inner, LoggingLayer::new())
    }

    /// Wraps `inner` with a configuration.
    pub fn from_layer(inner: S, config: LoggingLayer) -> Self {
        Logging { inner, config }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn span(&self, op: &'static str, collection: Option<&str>) -> Span {
        at_level!(span, self.config.level, "key_value", op, collection)
    }

    fn value_of(&self, value: Option<&Object>) -> Option<String> {
        if !self.config.log_values {
            return None;
        }
        let mut out = String::new();
        match value {
            Some(v) => write_python_json_object(&mut out, v),
            None => out.push_str("null"),
        }
        Some(truncate(out))
    }

    fn values_of<'a>(&self, values: impl Iterator<Item = Option<&'a Object>>) -> Option<String> {
        self.config.log_values.then(|| json_of(values))
    }

    /// Emits the event of a call that returned.
    fn finish(
        &self,
        span: &Span,
        op: &'static str,
        collection: Option<&str>,
        started: Instant,
        error: Option<&Error>,
        report: Report<'_>,
    ) {
        let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let store = self.inner.info().name();
        let (key, keys, key_count) = if self.config.log_keys {
            let keys = report.keys.map(|ks| {
                let shown = ks.iter().take(MAX_KEYS).copied().collect::<Vec<_>>();
                shown.join(", ")
            });
            (report.key, keys, report.keys.map(|k| count(k.len())))
        } else {
            (None, None, report.keys.map(|k| count(k.len())))
        };
        let value = report.value.as_deref();
        let _entered = span.enter();
        match error {
            None => at_level!(
                event,
                self.config.level,
                op,
                store,
                collection,
                key,
                keys,
                count = key_count,
                outcome = report.outcome,
                hits = report.hits,
                misses = report.misses,
                duration_us,
                value,
                "{op} finished"
            ),
            Some(err) => at_level!(event,
                self.config.error_level,
                op,
                store,
                collection,
                key,
                keys,
                count = key_count,
                outcome = "error",
                duration_us,
                error = %err,
                error_kind = %err.kind(),
                "{op} failed"
            ),
        }
    }
}

impl<S: KeyValue> KeyValue for Logging<S> {
    fn info(&self) -> &StoreInfo {
        self.inner.info()
    }

    async fn get_entry(&self, collection: &str, key: &str) -> Result<Option<ManagedEntry>> {
        let span = self.span("get", Some(collection));
        let started = Instant::now();
        let result = self
            .inner
            .get_entry(collection, key)
            .instrument(span.clone())
            .await;
        let now = self.inner.info().clock().now();
        let report = |entry: &Option<ManagedEntry>| {
            let live = entry.as_ref().filter(|e| !e.is_expired_at(now));
            Report {
                key: Some(key),
                outcome: if live.is_some() { "hit" } else { "miss" },
                value: live.and_then(|e| self.value_of(Some(&e.value))),
                ..Report::default()
            }
        };
        match &result {
            Ok(entry) => self.finish(&span, "get", Some(collection), started, None, report(entry)),
            Err(e) => self.finish(
                &span,
                "get",
                Some(collection),
                started,
                Some(e),
                report(&None),
            ),
        }
        result
    }

    async fn put_entry(&self, collection: &str, key: &str, entry: ManagedEntry) -> Result<()> {
        let span = self.span("put", Some(collection));
        let value = self.value_of(Some(&entry.value));
        let started = Instant::now();
        let result = self
            .inner
            .put_entry(collection, key, entry)
            .instrument(span.clone())
            .await;
        let report = Report {
            key: Some(key),
            outcome: "ok",
            value,
            ..Report::default()
        };
        self.finish(
            &span,
            "put",
            Some(collection),
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn delete_entry(&self, collection: &str, key: &str) -> Result<bool> {
        let span = self.span("delete", Some(collection));
        let started = Instant::now();
        let result = self
            .inner
            .delete_entry(collection, key)
            .instrument(span.clone())
            .await;
        let report = Report {
            key: Some(key),
            outcome: match result {
                Ok(true) => "deleted",
                _ => "not_found",
            },
            ..Report::default()
        };
        self.finish(
            &span,
            "delete",
            Some(collection),
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn get_entries(
        &self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<ManagedEntry>>> {
        let span = self.span("get_many", Some(collection));
        let started = Instant::now();
        let result = self
            .inner
            .get_entries(collection, keys)
            .instrument(span.clone())
            .await;
        let now = self.inner.info().clock().now();
        let mut report = Report {
            keys: Some(keys),
            outcome: "ok",
            ..Report::default()
        };
        if let Ok(entries) = &result {
            fn live(e: &Option<ManagedEntry>, now: Timestamp) -> Option<&Object> {
                e.as_ref()
                    .filter(|e| !e.is_expired_at(now))
                    .map(|e| &e.value)
            }
            let hits = entries.iter().filter(|e| live(e, now).is_some()).count();
            report.hits = Some(count(hits));
            report.misses = Some(count(entries.len() - hits));
            report.value = self.values_of(entries.iter().map(|e| live(e, now)));
        }
        self.finish(
            &span,
            "get_many",
            Some(collection),
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn put_entries(
        &self,
        collection: &str,
        keys: &[&str],
        entries: Vec<ManagedEntry>,
    ) -> Result<()> {
        let span = self.span("put_many", Some(collection));
        let value = self.values_of(entries.iter().map(|e| Some(&e.value)));
        let started = Instant::now();
        let result = self
            .inner
            .put_entries(collection, keys, entries)
            .instrument(span.clone())
            .await;
        let report = Report {
            keys: Some(keys),
            outcome: "ok",
            value,
            ..Report::default()
        };
        self.finish(
            &span,
            "put_many",
            Some(collection),
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn delete_entries(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let span = self.span("delete_many", Some(collection));
        let started = Instant::now();
        let result = self
            .inner
            .delete_entries(collection, keys)
            .instrument(span.clone())
            .await;
        let mut report = Report {
            keys: Some(keys),
            outcome: "ok",
            ..Report::default()
        };
        if let Ok(deleted) = &result {
            report.hits = Some(count(*deleted));
            report.misses = Some(count(keys.len().saturating_sub(*deleted)));
        }
        self.finish(
            &span,
            "delete_many",
            Some(collection),
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let span = self.span("keys", Some(collection));
        let started = Instant::now();
        let result = self
            .inner
            .list_keys(collection, limit)
            .instrument(span.clone())
            .await;
        let report = Report {
            outcome: "ok",
            hits: result.as_ref().ok().map(|k| count(k.len())),
            ..Report::default()
        };
        self.finish(
            &span,
            "keys",
            Some(collection),
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let span = self.span("collections", None);
        let started = Instant::now();
        let result = self
            .inner
            .list_collections(limit)
            .instrument(span.clone())
            .await;
        let report = Report {
            outcome: "ok",
            hits: result.as_ref().ok().map(|c| count(c.len())),
            ..Report::default()
        };
        self.finish(
            &span,
            "collections",
            None,
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn destroy(&self) -> Result<bool> {
        let span = self.span("destroy", None);
        let started = Instant::now();
        let result = self.inner.destroy().instrument(span.clone()).await;
        let report = Report {
            outcome: if matches!(result, Ok(true)) {
                "deleted"
            } else {
                "not_found"
            },
            ..Report::default()
        };
        self.finish(
            &span,
            "destroy",
            None,
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let span = self.span("destroy_collection", Some(collection));
        let started = Instant::now();
        let result = self
            .inner
            .destroy_collection(collection)
            .instrument(span.clone())
            .await;
        let report = Report {
            outcome: if matches!(result, Ok(true)) {
                "deleted"
            } else {
                "not_found"
            },
            ..Report::default()
        };
        self.finish(
            &span,
            "destroy_collection",
            Some(collection),
            started,
            result.as_ref().err(),
            report,
        );
        result
    }

    async fn cull(&self) -> Result<()> {
        let span = self.span("cull", None);
        let started = Instant::now();
        let result = self.inner.cull().instrument(span.clone()).await;
        let report = Report {
            outcome: "ok",
            ..Report::default()
        };
        self.finish(&span, "cull", None, started, result.as_ref().err(), report);
        result
    }

    async fn close(&self) -> Result<()> {
        let span = self.span("close", None);
        let started = Instant::now();
        let result = self.inner.close().instrument(span.clone()).await;
        let report = Report {
            outcome: "ok",
            ..Report::default()
        };
        self.finish(&span, "close", None, started, result.as_ref().err(), report);
        result
    }
}

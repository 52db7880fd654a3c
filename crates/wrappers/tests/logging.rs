//! Logging: the conformance suite, and the events themselves, captured by a small
//! `tracing::Subscriber`: one per call with its fields, levels as configured, and values never
//! logged unless asked for (py-key-value's wrapper logs them even with `log_values=False`).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;
use key_value_testkit::Fixture;
use key_value_testkit::faulty::FaultyStore;
use key_value_wrappers::LayerExt;
use key_value_wrappers::logging::{Logging, LoggingLayer, TARGET};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

mod conformance {
    use super::*;

    async fn store(fx: Fixture) -> Logging<MemoryStore> {
        MemoryStore::builder()
            .clock(fx.clock())
            .build()
            .layer(LoggingLayer::new().log_values(true).level(Level::TRACE))
    }

    key_value_testkit::conformance_suite!(store);
}

/// One captured event or span: its level, target, name and fields as text.
#[derive(Debug, Clone)]
struct Captured {
    kind: &'static str,
    level: Level,
    target: String,
    name: String,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

/// Records every event and span (with every field ever recorded on it).
#[derive(Clone, Default)]
struct Capture {
    records: Arc<Mutex<Vec<Captured>>>,
    next_id: Arc<AtomicU64>,
}

impl Capture {
    fn events(&self) -> Vec<Captured> {
        let all = self.records.lock().unwrap().clone();
        all.into_iter().filter(|c| c.kind == "event").collect()
    }

    fn all(&self) -> Vec<Captured> {
        self.records.lock().unwrap().clone()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.records.lock().unwrap().push(Captured {
            kind: "span",
            level: *attrs.metadata().level(),
            target: attrs.metadata().target().to_string(),
            name: attrs.metadata().name().to_string(),
            fields,
        });
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut fields = BTreeMap::new();
        values.record(&mut Fields(&mut fields));
        self.records.lock().unwrap().push(Captured {
            kind: "record",
            level: Level::TRACE,
            target: String::new(),
            name: String::new(),
            fields,
        });
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.records.lock().unwrap().push(Captured {
            kind: "event",
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            name: event.metadata().name().to_string(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Runs `test` on a current-thread runtime with `capture` as the subscriber of this thread.
fn with_capture<F: std::future::Future<Output = ()>>(capture: &Capture, test: impl FnOnce() -> F) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(capture.clone(), || runtime.block_on(test()));
}

const SECRET: &str = "hunter2-very-secret";

/// Every call that sees a value, on a store wrapped with `layer`.
async fn exercise(layer: LoggingLayer) -> Logging<MemoryStore> {
    let s = MemoryStore::new().layer(layer);
    let value = object!({"password": SECRET});
    s.put("k1", value.clone()).collection("c").await.unwrap();
    s.put_many(&["k2", "k3"], vec![value.clone(), value.clone()])
        .collection("c")
        .ttl(60)
        .await
        .unwrap();
    assert_eq!(
        s.get("k1").collection("c").await.unwrap(),
        Some(value.clone())
    );
    s.ttl("k2").collection("c").await.unwrap();
    s.get_many(&["k1", "missing", "k3"])
        .collection("c")
        .await
        .unwrap();
    s.ttl_many(&["k1"]).collection("c").await.unwrap();
    s
}

fn mentions_secret(records: &[Captured]) -> bool {
    records
        .iter()
        .any(|r| r.fields.values().any(|v| v.contains(SECRET)))
}

#[test]
fn values_are_never_logged_by_default() {
    let capture = Capture::default();
    with_capture(&capture, || async {
        exercise(LoggingLayer::new()).await;
    });
    let events = capture.events();
    assert_eq!(events.len(), 6, "{events:#?}");
    assert!(
        !mentions_secret(&capture.all()),
        "a value was logged: {:#?}",
        capture.all()
    );
    assert!(events.iter().all(|e| e.field("value").is_none()));
}

#[test]
fn values_are_logged_when_enabled() {
    let capture = Capture::default();
    with_capture(&capture, || async {
        exercise(LoggingLayer::new().log_values(true)).await;
    });
    let events = capture.events();
    let with_value: Vec<&str> = events
        .iter()
        .filter(|e| e.field("value").is_some_and(|v| v.contains(SECRET)))
        .map(|e| e.field("op").unwrap())
        .collect();
    assert_eq!(
        with_value,
        vec!["put", "put_many", "get", "get", "get_many", "get_many"]
    );
    let get_many = events
        .iter()
        .find(|e| e.field("op") == Some("get_many"))
        .unwrap();
    let value = get_many.field("value").unwrap();
    assert!(value.starts_with('[') && value.contains("null"), "{value}");
}

#[test]
fn one_event_per_call_with_its_fields() {
    let capture = Capture::default();
    with_capture(&capture, || async {
        let s = exercise(LoggingLayer::new()).await;
        assert!(s.delete("k1").collection("c").await.unwrap());
        assert!(!s.delete("k1").collection("c").await.unwrap());
        assert_eq!(
            s.delete_many(&["k2", "k3", "k4"])
                .collection("c")
                .await
                .unwrap(),
            2
        );
        s.keys().collection("c").await.unwrap();
        s.collections().await.unwrap();
    });
    let events = capture.events();
    let ops: Vec<&str> = events.iter().map(|e| e.field("op").unwrap()).collect();
    assert_eq!(
        ops,
        vec![
            "put",
            "put_many",
            "get",
            "get",
            "get_many",
            "get_many",
            "delete",
            "delete",
            "delete_many",
            "keys",
            "collections"
        ]
    );
    for e in &events {
        assert_eq!(e.target, TARGET);
        assert_eq!(e.level, Level::INFO);
        assert_eq!(e.field("store"), Some("MemoryStore"));
        assert!(e.field("duration_us").is_some(), "{e:?}");
        assert!(e.field("message").is_some(), "{e:?}");
    }
    let get = &events[2];
    assert_eq!(
        (
            get.field("collection"),
            get.field("key"),
            get.field("outcome")
        ),
        (Some("c"), Some("k1"), Some("hit"))
    );
    let get_many = &events[4];
    assert_eq!(get_many.field("keys"), Some("k1, missing, k3"));
    assert_eq!(get_many.field("count"), Some("3"));
    assert_eq!(
        (get_many.field("hits"), get_many.field("misses")),
        (Some("2"), Some("1"))
    );
    assert_eq!(events[6].field("outcome"), Some("deleted"));
    assert_eq!(events[7].field("outcome"), Some("not_found"));
    assert_eq!(
        (events[8].field("hits"), events[8].field("misses")),
        (Some("2"), Some("1"))
    );
    assert_eq!(events[10].field("collection"), None);
    // Each call also opened a span with the operation and collection.
    let spans: Vec<Captured> = capture
        .all()
        .into_iter()
        .filter(|c| c.kind == "span")
        .collect();
    assert_eq!(spans.len(), events.len());
    assert!(
        spans
            .iter()
            .all(|s| s.name == "key_value" && s.target == TARGET)
    );
    assert_eq!(spans[0].field("op"), Some("put"));
    assert_eq!(spans[0].field("collection"), Some("c"));
}

#[test]
fn only_the_first_five_keys_of_a_batch_and_keys_can_be_hidden() {
    let capture = Capture::default();
    with_capture(&capture, || async {
        let keys: Vec<String> = (0..8).map(|i| format!("key{i}")).collect();
        let s = MemoryStore::new().layer(LoggingLayer::new());
        s.get_many(&keys).await.unwrap();
        let hidden = MemoryStore::new().layer(LoggingLayer::new().log_keys(false));
        hidden.get_many(&keys).await.unwrap();
        hidden.get("private-key-name").await.unwrap();
    });
    let events = capture.events();
    assert_eq!(
        events[0].field("keys"),
        Some("key0, key1, key2, key3, key4")
    );
    assert_eq!(events[0].field("count"), Some("8"));
    assert_eq!(events[1].field("keys"), None);
    assert_eq!(events[1].field("count"), Some("8"));
    assert_eq!(events[2].field("key"), None);
    assert!(
        !capture
            .all()
            .iter()
            .any(|r| r.fields.values().any(|v| v.contains("private-key-name")))
    );
}

#[test]
fn levels_are_configurable_and_failures_are_logged() {
    let capture = Capture::default();
    with_capture(&capture, || async {
        let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
        let s = faulty.clone().layer(
            LoggingLayer::new()
                .level(Level::DEBUG)
                .error_level(Level::ERROR),
        );
        s.put("k", object!({"v": SECRET})).await.unwrap();
        faulty.faults().fail_next(1, ErrorKind::Connection);
        s.put("k", object!({"v": SECRET})).await.unwrap_err();
    });
    let events = capture.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].level, Level::DEBUG);
    assert_eq!(events[0].field("outcome"), Some("ok"));
    assert_eq!(events[1].level, Level::ERROR);
    assert_eq!(events[1].field("outcome"), Some("error"));
    assert_eq!(events[1].field("error_kind"), Some("connection error"));
    assert!(events[1].field("error").unwrap().contains("injected fault"));
    assert!(!mentions_secret(&capture.all()));
    let spans = capture.all();
    assert!(
        spans
            .iter()
            .filter(|c| c.kind == "span")
            .all(|s| s.level == Level::DEBUG)
    );
}

#[test]
fn long_values_are_cut() {
    let capture = Capture::default();
    with_capture(&capture, || async {
        let s = MemoryStore::new().layer(LoggingLayer::new().log_values(true));
        s.put("k", object!({"v": "é".repeat(10_000)}))
            .await
            .unwrap();
    });
    let value = capture.events()[0].field("value").unwrap().to_string();
    assert!(value.len() < 4200, "{}", value.len());
    assert!(value.ends_with("…(truncated)"), "{value}");
}

#[test]
fn destroy_cull_and_close_are_logged_too() {
    let capture = Capture::default();
    with_capture(&capture, || async {
        let shared: SharedStore = Arc::new(MemoryStore::new());
        let s = shared.layer(LoggingLayer::new());
        s.put("k", object!({})).collection("c").await.unwrap();
        assert!(s.destroy_collection("c").await.unwrap());
        assert!(!s.destroy().await.unwrap());
        s.cull().await.unwrap();
        s.close().await.unwrap();
        assert_eq!(s.get("k").await.unwrap_err().kind(), ErrorKind::Closed);
    });
    let events = capture.events();
    let ops: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.field("op").unwrap(), e.field("outcome").unwrap()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("put", "ok"),
            ("destroy_collection", "deleted"),
            ("destroy", "not_found"),
            ("cull", "ok"),
            ("close", "ok"),
            ("get", "error")
        ]
    );
    assert_eq!(events[5].level, Level::WARN);
}

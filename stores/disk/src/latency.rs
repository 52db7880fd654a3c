//! How to run SQLite from async code, measured: inline on the runtime thread, through
//! `spawn_blocking`, or through one dedicated thread per store.
//!
//! `cargo test --release -p key-value-disk latency -- --ignored --nocapture`
//!
//! Each mode does the same work per call (envelope dump or parse, one SQLite transaction or
//! query) on a 64-byte value; the figures are per call, after a warm-up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use key_value_core::entry::ManagedEntry;
use key_value_core::prelude::*;
use key_value_core::{Timestamp, object};

use crate::DiskStore;
use crate::cache::{Cache, CacheOptions};
use crate::common::{decode, put_item};

const N: usize = 5000;

fn options() -> CacheOptions {
    CacheOptions {
        size_limit: None,
        synchronous: None,
        busy_timeout: Duration::from_secs(60),
    }
}

fn entry(i: usize) -> ManagedEntry {
    ManagedEntry::new(
        object!({"i": i, "name": "Alice", "pad": "0123456789abcdef0123456789"}),
        Some(Timestamp::now_system()),
        None,
    )
}

fn sync_put(cache: &Cache, i: usize) {
    let key = format!("k{}", i % 1000);
    let item = put_item(format!("c::{key}"), "c", &key, &entry(i));
    cache
        .put_many(vec![item], Timestamp::now_system().unix_seconds_f64())
        .unwrap();
}

fn sync_get(cache: &Cache, i: usize) -> Option<ManagedEntry> {
    let key = format!("c::k{}", i % 1000);
    let mut found = cache
        .get_many(&[key], Timestamp::now_system().unix_seconds_f64())
        .unwrap();
    decode(found.pop().unwrap().unwrap(), "k").unwrap()
}

struct Stats {
    mean: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    Stats {
        mean: us(samples.iter().sum::<Duration>()) / samples.len() as f64,
        p50: us(samples[samples.len() / 2]),
        p99: us(samples[samples.len() * 99 / 100]),
        max: us(samples[samples.len() - 1]),
    }
}

fn report(mode: &str, op: &str, s: &Stats) {
    println!(
        "{mode:<16} {op:<4} mean {:>6.1} µs  p50 {:>6.1} µs  p99 {:>7.1} µs  max {:>8.1} µs",
        s.mean, s.p50, s.p99, s.max
    );
}

/// A job for the dedicated thread.
type Job = Box<dyn FnOnce(&Cache) + Send>;

/// A dedicated thread per store, fed closures over a channel, answering on a oneshot.
struct Worker {
    tx: mpsc::Sender<Job>,
}

impl Worker {
    fn new(cache: Cache) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for job in rx {
                job(&cache);
            }
        });
        Worker { tx }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce(&Cache) -> T + Send + 'static) -> T {
        let (reply, wait) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move |c| {
                let _ = reply.send(f(c));
            }))
            .unwrap();
        wait.await.unwrap()
    }
}

#[test]
#[ignore = "a measurement, not a check: run with --release -- --ignored --nocapture"]
fn latency() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();

    // Inline: the bare cost of the work, and what a runtime thread would be blocked for.
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), &options()).unwrap();
    for i in 0..N {
        sync_put(&cache, i);
    }
    let mut puts = Vec::with_capacity(N);
    let mut gets = Vec::with_capacity(N);
    for i in 0..N {
        let t = Instant::now();
        sync_put(&cache, i);
        puts.push(t.elapsed());
        let t = Instant::now();
        assert!(sync_get(&cache, i).is_some());
        gets.push(t.elapsed());
    }
    report("inline", "put", &stats(puts));
    report("inline", "get", &stats(gets));

    // spawn_blocking: the store as shipped.
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    runtime.block_on(async {
        let value = object!({"i": 1, "name": "Alice", "pad": "0123456789abcdef0123456789"});
        for i in 0..N {
            store
                .put(&format!("k{}", i % 1000), value.clone())
                .collection("c")
                .await
                .unwrap();
        }
        let mut puts = Vec::with_capacity(N);
        let mut gets = Vec::with_capacity(N);
        for i in 0..N {
            let key = format!("k{}", i % 1000);
            let t = Instant::now();
            store
                .put(&key, value.clone())
                .collection("c")
                .await
                .unwrap();
            puts.push(t.elapsed());
            let t = Instant::now();
            assert!(store.get(&key).collection("c").await.unwrap().is_some());
            gets.push(t.elapsed());
        }
        report("spawn_blocking", "put", &stats(puts));
        report("spawn_blocking", "get", &stats(gets));
    });

    // A dedicated thread per store.
    let dir = tempfile::tempdir().unwrap();
    let worker = Arc::new(Worker::new(Cache::open(dir.path(), &options()).unwrap()));
    runtime.block_on(async {
        for i in 0..N {
            worker.run(move |c| sync_put(c, i)).await;
        }
        let mut puts = Vec::with_capacity(N);
        let mut gets = Vec::with_capacity(N);
        for i in 0..N {
            let t = Instant::now();
            worker.run(move |c| sync_put(c, i)).await;
            puts.push(t.elapsed());
            let t = Instant::now();
            assert!(worker.run(move |c| sync_get(c, i)).await.is_some());
            gets.push(t.elapsed());
        }
        report("dedicated thread", "put", &stats(puts));
        report("dedicated thread", "get", &stats(gets));
    });

    // Throughput under concurrency: 16 tasks, spawn_blocking store.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DiskStore::open(dir.path()).unwrap());
    runtime.block_on(async {
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..16 {
            let store = store.clone();
            tasks.spawn(async move {
                for i in 0..500 {
                    let key = format!("w{w}_{i}");
                    store.put(&key, object!({"i": i})).await.unwrap();
                    store.get(&key).await.unwrap().unwrap();
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        let ops = 16.0 * 500.0 * 2.0;
        println!(
            "spawn_blocking, 16 concurrent tasks: {:.0} ops/s (puts and gets)",
            ops / t.elapsed().as_secs_f64()
        );
    });
}

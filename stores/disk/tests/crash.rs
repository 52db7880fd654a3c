//! Durability under `kill -9`: a put that returned `Ok` survives the process being killed
//! right after.
//!
//! The test binary re-executes itself as a writer (`KV_DISK_CRASH_WRITER=<dir>`), which
//! writes in a loop (single puts overwriting 50 keys, batches of three new keys, one value in
//! seven above the 32 KiB file threshold) and prints each write to stdout once the call
//! returned `Ok`. The parent kills it with SIGKILL after a random 20-250 ms, reopens the
//! directory and checks that every acknowledged write is there (a key overwritten later may
//! hold a newer value, never an older one), that SQLite's integrity check passes, that
//! diskcache's counters match the rows and that every row's value file is complete.
//! 25 trials, a quarter of them with MultiDiskStore.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use key_value_core::prelude::*;
use key_value_disk::{DiskStore, MultiDiskStore};

const TRIALS: usize = 25;
const ENV_DIR: &str = "KV_DISK_CRASH_WRITER";
const ENV_KIND: &str = "KV_DISK_CRASH_KIND";

fn main() {
    if let Ok(dir) = std::env::var(ENV_DIR) {
        let kind = std::env::var(ENV_KIND).unwrap_or_default();
        writer(Path::new(&dir), &kind);
        return;
    }
    let started = Instant::now();
    let mut total_acks = 0;
    for trial in 0..TRIALS {
        let kind = if trial % 4 == 3 { "multi" } else { "disk" };
        total_acks += run_trial(trial, kind);
    }
    println!(
        "crash: {TRIALS} kill -9 trials, {total_acks} acknowledged writes, none lost ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

fn value(i: usize) -> Object {
    if i % 7 == 0 {
        object!({"i": i, "pad": "p".repeat(40_000)})
    } else {
        object!({"i": i})
    }
}

/// The child: writes until killed, printing each acknowledged write.
fn writer(dir: &Path, kind: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store: SharedStore = if kind == "multi" {
            std::sync::Arc::new(MultiDiskStore::open(dir).expect("open"))
        } else {
            std::sync::Arc::new(DiskStore::open(dir).expect("open"))
        };
        let stdout = std::io::stdout();
        for i in 0.. {
            let collection = format!("c{}", i % 3);
            let line = if i % 10 == 9 {
                let keys = [format!("b{i}_0"), format!("b{i}_1"), format!("b{i}_2")];
                store
                    .put_many(&keys, vec![value(i), value(i), value(i)])
                    .collection(&collection)
                    .await
                    .expect("put_many");
                format!("M {collection} b{i} {i}\n")
            } else {
                let key = format!("k{}", i % 50);
                store
                    .put(&key, value(i))
                    .collection(&collection)
                    .await
                    .expect("put");
                format!("P {collection} {key} {i}\n")
            };
            let mut out = stdout.lock();
            out.write_all(line.as_bytes()).expect("stdout");
            out.flush().expect("stdout");
        }
    });
}

fn random_below(n: u64) -> u64 {
    getrandom::u64().expect("randomness") % n
}

/// One trial: spawn, kill after a random delay, check. Returns the number of acknowledged
/// writes.
fn run_trial(trial: usize, kind: &str) -> usize {
    let dir = common::tempdir();
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .env(ENV_DIR, dir.path())
        .env(ENV_KIND, kind)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.is_empty() {
                let _ = first_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    // Kill at a random moment once writing has begun.
    first_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the writer acknowledged a first write");
    std::thread::sleep(Duration::from_millis(20 + random_below(230)));
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the writer was killed, not finished");
    let lines = reader.join().expect("reader");
    // A line cut by the kill is not an acknowledgement.
    let acks: Vec<&String> = lines.iter().filter(|l| l.split(' ').count() == 4).collect();
    assert!(!acks.is_empty());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(check(dir.path(), kind, &acks, trial));
    acks.len()
}

async fn check(dir: &Path, kind: &str, acks: &[&String], trial: usize) {
    let store: SharedStore = if kind == "multi" {
        std::sync::Arc::new(MultiDiskStore::open(dir).expect("reopen"))
    } else {
        std::sync::Arc::new(DiskStore::open(dir).expect("reopen"))
    };
    // The newest acknowledged write of each single key.
    let mut latest: HashMap<(String, String), usize> = HashMap::new();
    for line in acks {
        let parts: Vec<&str> = line.split(' ').collect();
        let (collection, name, i) = (parts[1], parts[2], parts[3].parse::<usize>().expect("i"));
        match parts[0] {
            "P" => {
                let slot = latest.entry((collection.into(), name.into())).or_default();
                *slot = (*slot).max(i);
            }
            "M" => {
                let keys = [
                    format!("{name}_0"),
                    format!("{name}_1"),
                    format!("{name}_2"),
                ];
                let got = store
                    .get_many(&keys)
                    .collection(collection)
                    .await
                    .expect("get_many");
                for (k, v) in keys.iter().zip(got) {
                    assert_eq!(
                        v,
                        Some(value(i)),
                        "trial {trial} ({kind}): batch key {k} lost"
                    );
                }
            }
            other => panic!("bad ack {other}"),
        }
    }
    for ((collection, key), i) in &latest {
        let got = store
            .get(key)
            .collection(collection)
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("trial {trial} ({kind}): {collection}/{key} lost"));
        let stored = got["i"].as_u64().expect("i") as usize;
        assert!(
            stored >= *i && stored % 50 == *i % 50,
            "trial {trial} ({kind}): {collection}/{key} holds write {stored}, acknowledged {i}"
        );
        assert_eq!(got, value(stored));
    }
    store.close().await.expect("close");
    let dbs: Vec<std::path::PathBuf> = if kind == "multi" {
        std::fs::read_dir(dir)
            .expect("base")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.join("cache.db").is_file())
            // A collection whose cache the kill interrupted while it was being created has a
            // cache.db without tables; it held no acknowledged write (all were read back above).
            .filter(|p| has_cache_table(&p.join("cache.db")))
            .collect()
    } else {
        vec![dir.to_path_buf()]
    };
    for d in dbs {
        common::assert_consistent(&d);
    }
}

fn has_cache_table(db: &Path) -> bool {
    let conn = rusqlite::Connection::open(db).expect("cache.db");
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'Cache')",
        [],
        |r| r.get(0),
    )
    .expect("sqlite_master")
}

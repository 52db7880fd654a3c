//! Two processes writing one directory at the same time lose nothing.
//!
//! The test binary re-executes itself twice (`KV_DISK_MP_ROLE=a|b`); both open the same new
//! directory at once (so the schema is created concurrently too), then write their own keys,
//! batches of their own keys, and keys both write, one value in ten above the 32 KiB file
//! threshold. Each prints every write acknowledged by `Ok`. Afterwards every own key holds its
//! value, every shared key holds the last value one of the two wrote to it, the processes'
//! write periods overlapped, and SQLite's and diskcache's consistency checks pass. Run for
//! DiskStore and for MultiDiskStore.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use key_value_core::prelude::*;
use key_value_disk::{DiskStore, MultiDiskStore};

const WRITES: usize = 400;
const SHARED: usize = 20;

fn main() {
    if let Ok(role) = std::env::var("KV_DISK_MP_ROLE") {
        let dir = std::env::var("KV_DISK_MP_DIR").expect("KV_DISK_MP_DIR");
        let kind = std::env::var("KV_DISK_MP_KIND").expect("KV_DISK_MP_KIND");
        child(&role, Path::new(&dir), &kind);
        return;
    }
    for kind in ["disk", "multi"] {
        let (acks, overlap_ms) = run_pair(kind);
        println!(
            "multiprocess ({kind}): 2 processes, {acks} acknowledged writes, none lost, \
             {overlap_ms} ms of overlap, counters consistent"
        );
    }
}

fn open(dir: &Path, kind: &str) -> SharedStore {
    if kind == "multi" {
        std::sync::Arc::new(MultiDiskStore::open(dir).expect("open"))
    } else {
        std::sync::Arc::new(DiskStore::open(dir).expect("open"))
    }
}

fn millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn value(role: &str, i: usize) -> Object {
    if i % 10 == 0 {
        object!({"by": role, "i": i, "pad": "p".repeat(40_000)})
    } else {
        object!({"by": role, "i": i})
    }
}

fn child(role: &str, dir: &Path, kind: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = open(dir, kind);
        println!("START {}", millis());
        for i in 0..WRITES {
            let collection = format!("c{}", i % 2);
            let own = format!("{role}_{i}");
            store
                .put(&own, value(role, i))
                .collection(&collection)
                .await
                .expect("put");
            println!("OWN {collection} {own} {i}");
            let shared = format!("shared_{}", i % SHARED);
            store
                .put(&shared, value(role, i))
                .collection("shared")
                .await
                .expect("put shared");
            println!("SHARED shared {shared} {i}");
            if i % 50 == 0 {
                let keys = [format!("{role}_batch{i}_0"), format!("{role}_batch{i}_1")];
                store
                    .put_many(&keys, vec![value(role, i), value(role, i)])
                    .collection(&collection)
                    .await
                    .expect("put_many");
                for k in &keys {
                    println!("OWN {collection} {k} {i}");
                }
            }
        }
        store.close().await.expect("close");
        println!("END {}", millis());
    });
}

/// Runs both writers to the end and checks the result; (acknowledged writes, overlap in ms).
fn run_pair(kind: &str) -> (usize, u128) {
    let dir = common::tempdir();
    let exe = std::env::current_exe().expect("the test binary");
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|role| {
            let child = Command::new(&exe)
                .env("KV_DISK_MP_ROLE", role)
                .env("KV_DISK_MP_DIR", dir.path())
                .env("KV_DISK_MP_KIND", kind)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn a writer");
            (role.to_string(), child)
        })
        .collect();
    let mut outputs = Vec::new();
    for (role, child) in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "writer {role} failed: {}", out.status);
        outputs.push((role, String::from_utf8(out.stdout).expect("UTF-8")));
    }

    let mut acks = 0;
    let mut periods = Vec::new();
    let mut own: Vec<(String, String, String, usize)> = Vec::new();
    // Per shared key: the last index each role wrote.
    let mut shared_last: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for (role, text) in &outputs {
        let mut start = 0;
        for line in text.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts[0] {
                "START" => start = parts[1].parse().expect("ms"),
                "END" => periods.push((start, parts[1].parse::<u128>().expect("ms"))),
                "OWN" => {
                    acks += 1;
                    own.push((
                        role.clone(),
                        parts[1].into(),
                        parts[2].into(),
                        parts[3].parse().expect("i"),
                    ));
                }
                "SHARED" => {
                    acks += 1;
                    let i: usize = parts[3].parse().expect("i");
                    shared_last
                        .entry(parts[2].into())
                        .or_default()
                        .insert(role.clone(), i);
                }
                other => panic!("unexpected output {other}"),
            }
        }
    }
    assert_eq!(periods.len(), 2);
    let overlap = periods[0]
        .1
        .min(periods[1].1)
        .saturating_sub(periods[0].0.max(periods[1].0));
    assert!(
        overlap > 0,
        "the two writers did not run at the same time: {periods:?}"
    );
    assert_eq!(own.len(), 2 * (WRITES + 2 * WRITES.div_ceil(50)));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = open(dir.path(), kind);
        for (role, collection, key, i) in &own {
            assert_eq!(
                store.get(key).collection(collection).await.expect("get"),
                Some(value(role, *i)),
                "{kind}: {collection}/{key}"
            );
        }
        for (key, last) in &shared_last {
            let got = store
                .get(key)
                .collection("shared")
                .await
                .expect("get")
                .unwrap_or_else(|| panic!("{kind}: shared/{key} lost"));
            let by = got["by"].as_str().expect("by").to_string();
            let i = got["i"].as_u64().expect("i") as usize;
            assert_eq!(
                last.get(&by),
                Some(&i),
                "{kind}: shared/{key} holds {by}'s write {i}, not {by}'s last one"
            );
            assert_eq!(got, value(&by, i));
        }
        let mut keys = Vec::new();
        for c in ["c0", "c1"] {
            keys.extend(store.keys().collection(c).await.expect("keys"));
        }
        assert_eq!(keys.len(), own.len(), "no stray or duplicate rows");
        store.close().await.expect("close");
    });
    if kind == "multi" {
        for c in ["c0", "c1", "shared"] {
            common::assert_consistent(&dir.path().join(c));
        }
    } else {
        common::assert_consistent(dir.path());
    }
    (acks, overlap)
}

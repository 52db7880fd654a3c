//! Atomic writes: readers never see a partial file, failed writes leave no temporary file,
//! and nothing `.tmp` is left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{TempStore, temp_files, tree};
use key_value_core::entry::Envelope;
use key_value_core::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_temporary_files_are_left_behind() {
    for v1 in [false, true] {
        let s = TempStore::new(|c| if v1 { c.v1_sanitization().unwrap() } else { c });
        for round in 0..5 {
            for c in ["a", "b c", "d:e"] {
                s.put("k", object!({"round": round}))
                    .collection(c)
                    .await
                    .unwrap();
                s.put("user:1", object!({"round": round}))
                    .collection(c)
                    .ttl(60)
                    .await
                    .unwrap();
                let keys: Vec<String> = (0..20).map(|i| format!("batch:{i}")).collect();
                let values = (0..20).map(|i| object!({"i": i, "round": round})).collect();
                s.put_many(&keys, values).collection(c).await.unwrap();
                s.delete_many(&keys[..10]).collection(c).await.unwrap();
            }
        }
        s.cull().await.unwrap();
        assert!(
            temp_files(s.data()).is_empty(),
            "v1={v1}: {:?}",
            temp_files(s.data())
        );
        assert!(!tree(s.data()).is_empty());
    }
}

/// A writer rewrites a large entry many times while readers read the file directly and
/// through the store: every read is one complete version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overwrites_are_atomic_for_readers() {
    let s = Arc::new(TempStore::new(|c| c));
    let big_a = object!({"fill": "a".repeat(2 << 20), "version": "a"});
    let big_b = object!({"fill": "b".repeat(3 << 20), "version": "b", "extra": [1, 2, 3]});
    s.put("big", big_a.clone()).collection("c").await.unwrap();
    let path = s.entry_path("c", "big").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let raw_reads = Arc::new(AtomicUsize::new(0));
    let raw_reader = {
        let (stop, raw_reads, path) = (stop.clone(), raw_reads.clone(), path.clone());
        let (a, b) = (big_a.clone(), big_b.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let text = fs::read_to_string(&path).expect("the entry file always exists");
                let entry = Envelope::load(&text).expect("a complete entry, never a part");
                assert!(entry.value == a || entry.value == b, "a mixed value");
                raw_reads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let store_reader = {
        let (s, stop) = (s.clone(), stop.clone());
        let (a, b) = (big_a.clone(), big_b.clone());
        tokio::spawn(async move {
            let mut reads = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let got = s
                    .get("big")
                    .collection("c")
                    .await
                    .unwrap()
                    .expect("present");
                assert!(got == a || got == b);
                reads += 1;
            }
            reads
        })
    };
    for i in 0..60 {
        let value = if i % 2 == 0 {
            big_b.clone()
        } else {
            big_a.clone()
        };
        s.put("big", value).collection("c").await.unwrap();
    }
    // let the readers see the last version too
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    raw_reader
        .join()
        .expect("the raw reader saw only whole entries");
    let store_reads = store_reader
        .await
        .expect("the store reader saw only whole entries");
    assert!(raw_reads.load(Ordering::Relaxed) > 0 && store_reads > 0);
    assert_eq!(s.get("big").collection("c").await.unwrap(), Some(big_a));
    assert!(temp_files(s.data()).is_empty());
}

/// Many tasks write one key at once: the file ends up as one of their values, whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_of_one_key_leave_one_whole_value() {
    let s = Arc::new(TempStore::new(|c| c));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..16 {
        let s = s.clone();
        tasks.spawn(async move {
            for i in 0..10 {
                s.put("k", object!({"w": w, "i": i, "pad": "x".repeat(10_000)}))
                    .collection("c")
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let got = s.get("k").collection("c").await.unwrap().unwrap();
    assert_eq!(got["i"], 9, "each writer's last write is its i = 9");
    assert!(temp_files(s.data()).is_empty());
}

/// When the rename fails (the target is a directory), the temporary file is removed and the
/// error is reported.
#[tokio::test]
async fn a_failed_write_removes_its_temporary_file() {
    let s = TempStore::new(|c| c);
    s.put("ok", object!({})).collection("c").await.unwrap();
    let blocker = s.data().join("c/k.json");
    fs::create_dir(&blocker).unwrap();
    fs::write(blocker.join("inside"), "keeps the directory non-empty").unwrap();
    let err = s
        .put("k", object!({"v": 1}))
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert_eq!(err.key(), Some("k"));
    assert!(err.to_string().contains("k.json"), "{err}");
    assert!(temp_files(s.data()).is_empty(), "{:?}", tree(s.data()));
    assert!(
        blocker.join("inside").is_file(),
        "the directory is untouched"
    );

    // in a batch, the entries before the failure are written, the rest not
    let err = s
        .put_many(
            &["first", "k", "last"],
            vec![object!({}), object!({}), object!({})],
        )
        .collection("c")
        .await
        .unwrap_err();
    assert_eq!(err.key(), Some("k"));
    assert!(s.data().join("c/first.json").is_file());
    assert!(!s.data().join("c/last.json").exists());
    assert!(temp_files(s.data()).is_empty());
}

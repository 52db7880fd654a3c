//! The README's first command: a tour of the API on the in-memory store.
//!
//! Run it with `cargo run -p key-value --example quickstart`.

use std::time::Duration;

use key_value::prelude::*;
use key_value::stores::memory::MemoryStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let store = MemoryStore::builder()
        .max_entries_per_collection(10_000)
        .build();
    let info = store.info();
    println!("store: {} (stability {})", info.name(), info.stability());

    // Like py-key-value's `await store.put("user:1", {...}, collection="users", ttl=60)`.
    store
        .put("user:1", object!({"name": "Alice", "age": 30}))
        .collection("users")
        .ttl(60)
        .await?;
    store
        .put_many(
            &["user:2", "user:3"],
            vec![object!({"name": "Bob"}), object!({"name": "Carol"})],
        )
        .collection("users")
        .ttl(Duration::from_secs(3600))
        .await?;

    let alice = store.get("user:1").collection("users").await?;
    println!(
        "get user:1 -> {}",
        serde_json::to_string(&alice).unwrap_or_default()
    );

    if let Some((_, Some(ttl))) = store.ttl("user:1").collection("users").await? {
        println!("ttl user:1 -> {:.1} s left", ttl.as_secs_f64());
    }

    let many = store
        .get_many(&["user:2", "user:3", "user:4"])
        .collection("users")
        .await?;
    let found = many.iter().filter(|v| v.is_some()).count();
    println!("get_many user:2..4 -> {found} of 3 found");

    let mut keys = store.keys().collection("users").await?;
    keys.sort();
    println!("keys(users) -> {keys:?}");

    println!(
        "delete user:1 -> {}",
        store.delete("user:1").collection("users").await?
    );
    println!(
        "get user:1 -> {:?}",
        store.get("user:1").collection("users").await?
    );

    // Bad input is a typed error, never a panic.
    match store.put("user:1", object!({})).ttl(-5).await {
        Err(err) => println!("put with ttl=-5 -> {:?} error: {err}", err.kind()),
        Ok(()) => println!("put with ttl=-5 -> accepted?!"),
    }
    Ok(())
}

//! Test helpers: the shared server's URL and database names unique to a test.

#![allow(dead_code)]

use key_value_testkit::service::service_env;

/// The server started by `services/mongodb/start` (`KV_MONGODB_URL`); `None` (after saying so)
/// outside CI when it is not set.
pub fn url(test: &str) -> Option<String> {
    let url = service_env("KV_MONGODB_URL", test);
    if url.is_none() {
        not_run(test, "KV_MONGODB_URL");
    }
    url
}

/// The server's URL for the conformance suite, whose factory cannot skip a test: without it
/// the test fails, saying how to start the server.
pub fn suite_url(test: &str) -> String {
    url(test).unwrap_or_else(|| {
        panic!(
            "{test}: KV_MONGODB_URL is not set: start the server with \
             `eval \"$(services/mongodb/start)\"` (scripts/test does)"
        )
    })
}

/// Says NOT RUN where `cargo test` shows it (the harness captures `eprintln!` of passing tests).
pub fn not_run(test: &str, var: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "{test}: NOT RUN: {var} is not set (eval \"$(services/mongodb/start)\")"
    );
}

/// A database name unique to this test and process (MongoDB allows 63 bytes).
pub fn unique(test: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    database_name(&format!(
        "kvtest_{test}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// `name` cut to MongoDB's 63-byte limit for database names, keeping its unique tail.
pub fn database_name(name: &str) -> String {
    if name.len() <= 40 {
        return name.to_string();
    }
    // Keep the start and the (unique) end.
    format!("{}_{}", &name[..20], &name[name.len() - 19..])
}

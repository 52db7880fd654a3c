//! Finding the real servers the tests run against.
//!
//! `scripts/test` starts every service with `services/<name>/start`, which prints the
//! environment variables its tests read (`KV_REDIS_URL=redis://127.0.0.1:16379`, ...).
//! [`service_env`] reads one. Without it a test cannot run: outside CI it says so on stderr and
//! passes without checking anything; in CI (`CI` set) that is a failure, never a silent pass.

use std::io::Write;

/// The value of `var`, set by the service's start script; `None` (after saying so on stderr)
/// when it is not set outside CI.
///
/// # Panics
/// In CI when `var` is not set.
pub fn service_env(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: {var} is not set; CI must run this test against the real server \
                 (scripts/test starts it with services/*/start)"
            );
            // Straight to stderr: the harness captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: NOT RUN: {var} is not set (start the server with services/<name>/start)"
            );
            None
        }
    }
}

/// Says on stderr that `test` does not apply to this configuration, and why (see the
/// `unsupported` argument of [`conformance_suite!`](crate::conformance_suite)).
pub fn not_applicable(test: &str, why: &str) {
    // Straight to stderr: the harness captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "{test}: NOT APPLICABLE: {why}");
}

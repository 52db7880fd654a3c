//! Running a test case in a child process with its own environment.
//!
//! Tests that need particular environment variables (`AWS_PROFILE`, `AWS_REGION`, ...) cannot
//! set them in their own process: the other tests of the binary run in parallel threads, and
//! `set_var` is unsafe (this workspace forbids `unsafe`). Instead the parent test starts the
//! same test binary again, runs only its `child` test with the variables it chose, and checks
//! that the child printed `case <name> ok`.
//!
//! ```no_run
//! use key_value_testkit::child::{case, in_child};
//!
//! #[test]
//! fn region_from_the_environment() {
//!     in_child("KV_MY_CASE", "region", &["AWS_REGION"], &[("AWS_REGION", "eu-west-1")]);
//! }
//!
//! /// The child side: does nothing unless started by `in_child`.
//! #[test]
//! fn child() {
//!     let Some(name) = case("KV_MY_CASE") else { return };
//!     match name.as_str() {
//!         "region" => assert_eq!(std::env::var("AWS_REGION").unwrap(), "eu-west-1"),
//!         other => panic!("unknown case {other}"),
//!     }
//!     println!("case {name} ok");
//! }
//! ```

use std::process::Command;

/// Runs the test named `child` of the current test binary in a new process, with `case_var`
/// set to `case`, every variable of `remove` unset, then `vars` set; panics with the child's
/// output unless it exits successfully and prints `case <case> ok`.
///
/// # Panics
/// When the child cannot be started, fails, or does not report the case as done.
#[allow(clippy::expect_used)]
pub fn in_child(case_var: &str, case: &str, remove: &[&str], vars: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(case_var, case);
    for name in remove {
        cmd.env_remove(name);
    }
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("the test binary starts again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("case {case} ok")),
        "case {case} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The case this process was started for by [`in_child`], if it was.
pub fn case(case_var: &str) -> Option<String> {
    std::env::var(case_var).ok()
}

//! Running the real py-key-value from tests, for interoperability checks.
//!
//! `scripts/test` installs py-key-value-aio 0.4.6 from PyPI into a throwaway virtualenv
//! (`scripts/python-venv`) and exports its interpreter as `KV_PYTHON`. Interop tests call
//! [`python`] to get it, or [`run_python`] to run a script with it.
//!
//! Without `KV_PYTHON` the tests cannot run: outside CI they say so on stderr and pass without
//! checking anything (run `export KV_PYTHON="$(scripts/python-venv)"` to run them); in CI
//! (`CI` set) that is a failure, never a silent pass.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

/// The interpreter of the py-key-value virtualenv, or `None` (after saying so) when it is not
/// configured outside CI.
///
/// # Panics
/// In CI when `KV_PYTHON` is not set or does not exist.
pub fn python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("KV_PYTHON").map(PathBuf::from) {
        Some(p) if p.exists() => Some(p),
        other => {
            let why = match other {
                Some(p) => format!("KV_PYTHON={} does not exist", p.display()),
                None => "KV_PYTHON is not set".to_string(),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: {why}; CI must run the py-key-value interop tests (scripts/test sets it)"
            );
            // Straight to the process's stderr: `eprintln!` is captured by the test harness and
            // hidden for passing tests, and this must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: NOT RUN: {why} (export KV_PYTHON=\"$(scripts/python-venv)\" to run it)"
            );
            None
        }
    }
}

/// Runs `script` (Python source) with the py-key-value interpreter and `args`, and returns its
/// stdout; `None` when the interpreter is not configured outside CI (see [`python`]).
///
/// # Panics
/// If the script fails: its stderr is in the message.
pub fn run_python(test: &str, script: &str, args: &[&str]) -> Option<String> {
    let py = python(test)?;
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{test}: cannot run {}: {e}", py.display()));
    assert!(
        out.status.success(),
        "{test}: the Python side failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `prelude`, then `body` (which defines `async def main()`), with `args` as `sys.argv[1:]`,
/// and returns what `main()` returned, read as JSON from the script's last line of output;
/// `None` when Python is not configured outside CI (see [`python`]).
///
/// # Panics
/// When the script fails or its last line is not JSON: this is test code.
#[allow(clippy::expect_used)]
pub fn run_async_main(
    test: &str,
    prelude: &str,
    body: &str,
    args: &[&str],
) -> Option<serde_json::Value> {
    let script = format!("{prelude}\n{body}\nprint(json.dumps(asyncio.run(main())))\n");
    let out = run_python(test, &script, args)?;
    let last = out.trim().lines().last().unwrap_or("null").trim();
    Some(serde_json::from_str(last).expect("main()'s result printed as JSON"))
}

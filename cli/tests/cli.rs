//! `kv` end to end: the real binary against real stores in temporary directories.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn kv_in(home: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv"));
    cmd.args(args)
        .env_remove("KV_STORE")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kv runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("kv finishes");
    Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn kv(home: &Path, args: &[&str]) -> Run {
    kv_in(home, args, None)
}

fn ok(run: Run) -> String {
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    run.stdout
}

#[test]
fn put_get_ttl_delete_on_the_default_disk_store() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(kv(
        h,
        &[
            "put",
            "user:1",
            r#"{"name": "Alice", "age": 30}"#,
            "-c",
            "users",
            "--ttl",
            "3600",
        ],
    ));
    // The default store is a DiskStore in the platform data directory.
    assert!(h.join("data/key-value/cache.db").exists());

    let got = ok(kv(h, &["get", "user:1", "--collection", "users"]));
    assert_eq!(got.trim(), r#"{"age":30,"name":"Alice"}"#);

    let ttl: serde_json::Value =
        serde_json::from_str(&ok(kv(h, &["ttl", "user:1", "-c", "users"]))).unwrap();
    assert_eq!(ttl["value"]["name"], "Alice");
    let left = ttl["ttl"].as_f64().unwrap();
    assert!((3590.0..=3600.0).contains(&left), "{left}");

    assert_eq!(ok(kv(h, &["keys", "-c", "users"])).trim(), "user:1");
    assert_eq!(ok(kv(h, &["collections"])).trim(), "users");
    assert_eq!(
        ok(kv(h, &["delete", "user:1", "-c", "users"])).trim(),
        "true"
    );
    assert_eq!(
        ok(kv(h, &["delete", "user:1", "-c", "users"])).trim(),
        "false"
    );

    let missing = kv(h, &["get", "user:1", "-c", "users"]);
    assert_eq!(missing.status, 1);
    assert!(missing.stdout.is_empty());
    assert!(
        missing.stderr.contains("no key 'user:1'"),
        "{}",
        missing.stderr
    );
}

#[test]
fn values_come_from_stdin_and_output_can_be_pretty() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let store = format!("filetree://{}", h.join("tree").display());
    ok(kv_in(
        h,
        &["--store", &store, "put", "k"],
        Some("{\"nested\": {\"list\": [1, 2]}}\n"),
    ));
    let pretty = ok(kv(h, &["--store", &store, "get", "k", "--pretty"]));
    assert_eq!(
        pretty.trim(),
        "{\n  \"nested\": {\n    \"list\": [\n      1,\n      2\n    ]\n  }\n}"
    );
    assert!(h.join("tree/default_collection/k.json").exists());
}

#[test]
fn kv_store_variable_selects_the_store() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let dir = h.join("via-env");
    let url = format!("multidisk://{}", dir.display());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv"));
    let out = cmd
        .args(["put", "k", "{}", "-c", "things"])
        .env("KV_STORE", &url)
        .env("HOME", h)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.join("things").is_dir(),
        "MultiDisk made a directory per collection"
    );
}

#[test]
fn errors_are_one_line_and_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for (args, needle) in [
        (vec!["put", "k", "[1, 2]"], "must be a JSON object"),
        (vec!["put", "k", "{not json"], "not valid JSON"),
        (vec!["put", "k", "{}", "--ttl", "-1"], "invalid TTL"),
        (
            vec!["--store", "nope://x", "get", "k"],
            "unknown store scheme `nope`",
        ),
        (vec!["--store", "null://", "keys"], "unsupported"),
        // A URL the store's config refuses: a typed configuration error naming the mistake.
        (
            vec!["--store", "dynamodb://127.0.0.1:1", "get", "k"],
            "takes no port",
        ),
        // Nothing listens on port 1: a typed connection error, in one line.
        (
            vec!["--store", "redis://127.0.0.1:1", "get", "k"],
            "connection error",
        ),
    ] {
        let run = kv(h, &args);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.starts_with("kv: "), "{}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn help_shows_examples() {
    let home = tempfile::tempdir().unwrap();
    let help = ok(kv(home.path(), &["--help"]));
    assert!(help.contains("Examples:"));
    assert!(help.contains("kv copy --from"));
}

#[test]
fn copy_between_different_stores_keeps_ttls_skips_expired_and_can_rerun() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let from = format!("disk://{}", h.join("src").display());
    let to = format!("filetree://{}", h.join("dst").display());
    for i in 0..30 {
        let key = format!("user:{i}");
        ok(kv(
            h,
            &[
                "--store",
                &from,
                "put",
                &key,
                &format!("{{\"i\": {i}}}"),
                "-c",
                "users",
                "--ttl",
                "600",
            ],
        ));
    }
    ok(kv(
        h,
        &[
            "--store",
            &from,
            "put",
            "cfg",
            "{\"v\": true}",
            "-c",
            "settings",
        ],
    ));
    ok(kv(
        h,
        &[
            "--store", &from, "put", "short", "{}", "-c", "settings", "--ttl", "0.3",
        ],
    ));
    std::thread::sleep(std::time::Duration::from_millis(400));

    let run = kv(h, &["copy", "--from", &from, "--to", &to]);
    let out = ok(run);
    assert!(out.contains("copied 31, skipped"), "{out}");
    assert!(out.contains("failed 0"), "{out}");

    let mut cols: Vec<String> = ok(kv(h, &["--store", &to, "collections"]))
        .lines()
        .map(str::to_string)
        .collect();
    cols.sort();
    assert_eq!(cols, ["settings", "users"]);
    assert_eq!(
        ok(kv(h, &["--store", &to, "keys", "-c", "users"]))
            .lines()
            .count(),
        30
    );
    assert_eq!(
        ok(kv(h, &["--store", &to, "get", "user:7", "-c", "users"])).trim(),
        r#"{"i":7}"#
    );
    let ttl: serde_json::Value = serde_json::from_str(&ok(kv(
        h,
        &["--store", &to, "ttl", "user:7", "-c", "users"],
    )))
    .unwrap();
    let left = ttl["ttl"].as_f64().unwrap();
    assert!(
        (500.0..=600.0).contains(&left),
        "remaining TTL carried over: {left}"
    );
    let ttl: serde_json::Value = serde_json::from_str(&ok(kv(
        h,
        &["--store", &to, "ttl", "cfg", "-c", "settings"],
    )))
    .unwrap();
    assert!(ttl["ttl"].is_null());
    assert_eq!(
        kv(h, &["--store", &to, "get", "short", "-c", "settings"]).status,
        1
    );

    // Running it again overwrites with the same content.
    let again = ok(kv(
        h,
        &["copy", "--from", &from, "--to", &to, "-c", "users"],
    ));
    assert!(again.starts_with("copied 30, skipped 0"), "{again}");
    assert_eq!(
        ok(kv(h, &["--store", &to, "keys", "-c", "users"]))
            .lines()
            .count(),
        30
    );
}

#[test]
fn copy_reports_entries_the_destination_refuses() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // A filetree with passthrough names cannot hold a key with a slash: that entry fails,
    // the other is copied.
    let src = format!("disk://{}", h.join("src").display());
    ok(kv(h, &["--store", &src, "put", "fine", "{}", "-c", "c"]));
    ok(kv(h, &["--store", &src, "put", "a/b", "{}", "-c", "c"]));
    let to = format!("filetree://{}", h.join("dst").display());
    let run = kv(h, &["copy", "--from", &src, "--to", &to]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("copied 1, skipped 0 (expired), failed 1"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("key 'a/b'"), "{}", run.stderr);
}

#[test]
fn copy_shows_progress_on_a_terminal_and_stays_quiet_when_piped() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let from = format!("disk://{}", h.join("src").display());
    for i in 0..20 {
        ok(kv(
            h,
            &["--store", &from, "put", &format!("k{i}"), "{}", "-c", "c"],
        ));
    }
    let piped = kv(h, &["copy", "--from", &from, "--to", "memory://"]);
    assert_eq!(piped.status, 0, "{}", piped.stderr);
    assert!(
        piped.stderr.is_empty(),
        "no progress bar when piped: {:?}",
        piped.stderr
    );
    assert_eq!(
        piped.stdout.trim(),
        "copied 20, skipped 0 (expired), failed 0"
    );

    // `script` (util-linux, part of every Debian system) gives the command a terminal.
    let to = format!("filetree://{}", h.join("dst").display());
    let command = format!("{} copy --from {from} --to {to}", env!("CARGO_BIN_EXE_kv"));
    let tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("HOME", h)
        .env_remove("KV_STORE")
        .output()
        .expect("`script` runs the command on a pseudo-terminal");
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{screen}");
    assert!(
        screen.contains("20/20 entries"),
        "progress bar drawn: {screen:?}"
    );
    assert!(
        screen.contains("copied 20, skipped 0 (expired), failed 0"),
        "{screen:?}"
    );
}

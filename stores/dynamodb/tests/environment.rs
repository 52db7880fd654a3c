//! Region, endpoint and credentials from the AWS environment variables. Each case runs in a
//! child process of this test binary with its own environment (tests may not change their
//! own process's environment: other tests run in parallel, and `set_var` is unsafe).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use key_value_core::ErrorKind;
use key_value_core::prelude::*;
use key_value_dynamodb::DynamoDBConfig;
use key_value_http::sigv4::Credentials;

const CASE: &str = "KV_DYNAMODB_ENV_CASE";
const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
];

/// Runs this test again in a child process with `vars` as the only AWS variables.
fn in_child(case: &str, vars: &[(&str, &str)]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CASE, case);
    for v in AWS_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "case {case} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("case {case} ok")), "{stdout}");
}

#[test]
fn everything_from_the_environment() {
    // AWS_ENDPOINT_URL_DYNAMODB wins over AWS_ENDPOINT_URL; with dynalite running, the store
    // made from the environment alone really works.
    let endpoint = std::env::var("KV_DYNALITE_URL").unwrap_or_else(|_| "http://127.0.0.1:9".into());
    in_child(
        "all",
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDFROMENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret-value"),
            ("AWS_SESSION_TOKEN", "env-session-token"),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint),
        ],
    );
}

#[test]
fn default_region_and_ignored_endpoints() {
    in_child(
        "regional",
        &[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_DEFAULT_REGION", "ap-southeast-2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ],
    );
}

#[test]
fn missing_credentials_or_region_are_config_errors() {
    in_child("missing", &[("AWS_ENDPOINT_URL_DYNAMODB", "")]);
}

#[test]
fn explicit_settings_beat_the_environment() {
    in_child(
        "explicit",
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
    );
}

/// The child side: does nothing unless started by `in_child`.
#[test]
fn child() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    match case.as_str() {
        "all" => {
            let store = DynamoDBConfig::new("env_table").open().unwrap();
            assert_eq!(store.region(), "eu-central-1");
            let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
            assert_eq!(store.endpoint().trim_end_matches('/'), endpoint);
            let config = DynamoDBConfig::new("env_table");
            let shown = format!("{store:?} {config:?}");
            assert!(
                !shown.contains("env-secret-value") && !shown.contains("env-session-token"),
                "{shown}"
            );
            if std::env::var("KV_DYNALITE_URL").is_ok() {
                key_value_testkit::run(async move {
                    store.put("k", object!({"v": 1})).await.unwrap();
                    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
                });
            }
        }
        "regional" => {
            let store = DynamoDBConfig::new("env_table").open().unwrap();
            assert_eq!(store.region(), "ap-southeast-2");
            assert_eq!(
                store.endpoint(),
                "https://dynamodb.ap-southeast-2.amazonaws.com/"
            );
        }
        "missing" => {
            let err = DynamoDBConfig::new("env_table")
                .region("eu-west-1")
                .open()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
            let err = DynamoDBConfig::new("env_table")
                .credentials(Credentials::new("a", "b"))
                .open()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains("AWS_REGION"), "{err}");
        }
        "explicit" => {
            let store = DynamoDBConfig::new("env_table")
                .region("sa-east-1")
                .endpoint("http://127.0.0.1:14567")
                .open()
                .unwrap();
            assert_eq!(store.region(), "sa-east-1");
            assert_eq!(store.endpoint(), "http://127.0.0.1:14567/");
            assert!(format!("{store:?}").contains("127.0.0.1:14567"));
        }
        other => panic!("unknown case {other}"),
    }
    println!("case {case} ok");
}

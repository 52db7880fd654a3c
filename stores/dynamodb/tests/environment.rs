//! Region, endpoint and credentials from the AWS environment variables and profile files.
//! Each case runs in a child process of this test binary with its own environment
//! (`key_value_testkit::child`: tests may not change their own process's environment).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use key_value_core::ErrorKind;
use key_value_core::prelude::*;
use key_value_dynamodb::DynamoDBConfig;
use key_value_http::sigv4::Credentials;
use key_value_testkit::child;

const CASE: &str = "KV_DYNAMODB_ENV_CASE";
const AWS_VARS: &[&str] = key_value_http::aws_profile::ENVIRONMENT_VARIABLES;

/// Runs this test again in a child process with `vars` as the only AWS variables. The AWS
/// config and credentials files point at files that do not exist unless `vars` says
/// otherwise, so the machine's own `~/.aws` never leaks in.
fn in_child(case: &str, vars: &[(&str, &str)]) {
    let nowhere = std::env::temp_dir().join("kv-no-such-aws-file");
    let nowhere = nowhere.to_str().unwrap();
    let mut all = vec![
        ("AWS_CONFIG_FILE", nowhere),
        ("AWS_SHARED_CREDENTIALS_FILE", nowhere),
    ];
    all.extend_from_slice(vars);
    child::in_child(CASE, case, AWS_VARS, &all);
}

/// Writes AWS `config` and `credentials` files for the profile cases into a directory of
/// their own; returns their paths.
fn profile_files(test: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("kv-dynamodb-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (config, credentials) = (dir.join("config"), dir.join("credentials"));
    std::fs::write(
        &config,
        "[default]\nregion = ca-central-1\n\n\
         [profile kvtest]\nregion = eu-north-1\n\n\
         [profile assumed]\nrole_arn = arn:aws:iam::123456789012:role/kv\nsource_profile = kvtest\n",
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIDDEFAULTPROFILE\naws_secret_access_key = default-profile-secret\n\n\
         [kvtest]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret-value\n",
    )
    .unwrap();
    (config, credentials)
}

#[test]
fn credentials_and_region_from_the_selected_profile() {
    let (config, credentials) = profile_files("profile");
    let endpoint = std::env::var("KV_DYNALITE_URL").unwrap_or_else(|_| "http://127.0.0.1:9".into());
    let dir = config.parent().unwrap().to_path_buf();
    // The same files where the AWS tools look by default: `$HOME/.aws/`.
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::copy(&config, home.join(".aws/config")).unwrap();
    std::fs::copy(&credentials, home.join(".aws/credentials")).unwrap();
    // `~/` in AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE is the home directory.
    in_child(
        "profile-tilde",
        &[
            ("HOME", dir.to_str().unwrap()),
            ("AWS_CONFIG_FILE", "~/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "~/credentials"),
            ("AWS_PROFILE", "kvtest"),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ],
    );
    // Unset (empty) file variables: `~/.aws/config` and `~/.aws/credentials`.
    in_child(
        "profile-home",
        &[
            ("HOME", home.to_str().unwrap()),
            ("AWS_CONFIG_FILE", ""),
            ("AWS_SHARED_CREDENTIALS_FILE", ""),
            ("AWS_PROFILE", "kvtest"),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ],
    );
    for (case, profile) in [
        ("profile", Some("kvtest")),
        ("profile-default", None),
        ("profile-unsupported", Some("assumed")),
        ("profile-unknown", Some("nobody")),
        ("profile-loses-to-env", Some("kvtest")),
        ("explicit-profile-beats-env", None),
    ] {
        let mut vars = vec![
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ];
        if let Some(p) = profile {
            vars.push(("AWS_PROFILE", p));
        }
        if case == "profile-loses-to-env" || case == "explicit-profile-beats-env" {
            vars.extend([
                ("AWS_ACCESS_KEY_ID", "AKIDENV"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
                ("AWS_REGION", "sa-east-1"),
            ]);
        }
        in_child(case, &vars);
    }
    std::fs::remove_dir_all(&dir).unwrap();
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
    let Some(case) = child::case(CASE) else {
        return;
    };
    match case.as_str() {
        "profile" | "profile-tilde" | "profile-home" => {
            let store = DynamoDBConfig::new("env_table").open().unwrap();
            assert_eq!(store.region(), "eu-north-1");
            let shown = format!("{store:?}");
            assert!(shown.contains("AKIDPROFILE"), "{shown}");
            assert!(!shown.contains("profile-secret-value"), "{shown}");
            if std::env::var("KV_DYNALITE_URL").is_ok() {
                key_value_testkit::run(async move {
                    store.put("k", object!({"v": 1})).await.unwrap();
                    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
                });
            }
        }
        "profile-default" => {
            let store = DynamoDBConfig::new("env_table").open().unwrap();
            assert_eq!(store.region(), "ca-central-1");
            assert!(format!("{store:?}").contains("AKIDDEFAULTPROFILE"));
        }
        "profile-unsupported" => {
            let err = DynamoDBConfig::new("env_table").open().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            assert!(err.message().contains("role_arn"), "{err}");
        }
        "profile-unknown" => {
            let err = DynamoDBConfig::new("env_table").open().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            assert!(err.message().contains("\"nobody\""), "{err}");
        }
        "explicit-profile-beats-env" => {
            // The store's own `profile` option: its keys win over the environment's, while
            // the environment's region still wins over the profile's, as in boto3.
            for config in [
                DynamoDBConfig::new("env_table").profile("kvtest"),
                DynamoDBConfig::from_url(
                    &key_value_core::config::StoreUrl::parse("dynamodb://env_table?profile=kvtest")
                        .unwrap(),
                )
                .unwrap(),
            ] {
                assert!(format!("{config:?}").contains("\"kvtest\""));
                let store = config.open().unwrap();
                assert_eq!(store.region(), "sa-east-1");
                let shown = format!("{store:?}");
                assert!(
                    shown.contains("AKIDPROFILE") && !shown.contains("AKIDENV"),
                    "{shown}"
                );
            }
            let err = DynamoDBConfig::new("env_table")
                .profile("nobody")
                .open()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            assert!(err.message().contains("store's configuration"), "{err}");
        }
        "profile-loses-to-env" => {
            let store = DynamoDBConfig::new("env_table").open().unwrap();
            assert_eq!(store.region(), "sa-east-1");
            let shown = format!("{store:?}");
            assert!(
                shown.contains("AKIDENV") && !shown.contains("AKIDPROFILE"),
                "{shown}"
            );
        }
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

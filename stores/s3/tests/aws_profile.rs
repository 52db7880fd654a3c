//! Credentials and region from AWS profile files, end to end against rclone `serve s3`
//! (`KV_RCLONE_S3_URL`), which checks SigV4 signatures: a store whose configuration names no
//! credentials signs with the selected profile's keys, a profile with a wrong secret is
//! refused by the server (so the file really was used), the environment's keys win over the
//! profile's, and a profile that needs an unsupported credential source is a `Config` error at
//! `open()`. Each case runs in a child process with its own environment
//! (`key_value_testkit::child`).

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use key_value_core::prelude::*;
use key_value_s3::S3Config;
use key_value_testkit::child;

const CASE: &str = "KV_S3_PROFILE_CASE";
const AWS_VARS: &[&str] = key_value_http::aws_profile::ENVIRONMENT_VARIABLES;

#[test]
fn credentials_and_region_come_from_the_selected_profile() {
    let Some(server) = common::rclone("aws_profile") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("kv-s3-aws-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (config, credentials) = (dir.join("config"), dir.join("credentials"));
    std::fs::write(
        &credentials,
        format!(
            "[kvtest]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n\n\
             [wrong]\naws_access_key_id = {key}\naws_secret_access_key = not-the-secret\n",
            key = server.access_key,
            secret = server.secret_key,
        ),
    )
    .unwrap();
    std::fs::write(
        &config,
        "[profile kvtest]\nregion = us-east-1\n\n[profile wrong]\nregion = us-east-1\n\n\
         [profile assumed]\nrole_arn = arn:aws:iam::123456789012:role/kv\nsource_profile = kvtest\n",
    )
    .unwrap();
    let bucket = common::unique_bucket("aws-profile");
    for (case, profile, env_keys) in [
        ("signs-with-profile", "kvtest", false),
        ("wrong-profile-refused", "wrong", false),
        ("env-beats-profile", "wrong", true),
        ("unsupported-source", "assumed", false),
        ("unknown-profile", "nobody", false),
        ("explicit-profile-beats-env", "wrong", true),
    ] {
        let mut vars = vec![
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_PROFILE", profile),
            ("KV_S3_PROFILE_BUCKET", bucket.as_str()),
        ];
        if case == "explicit-profile-beats-env" {
            // Valid keys in the environment, a wrong secret in the explicit profile.
            vars.extend([
                ("AWS_ACCESS_KEY_ID", "AKIDENV"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
            ]);
        } else if env_keys {
            vars.extend([
                ("AWS_ACCESS_KEY_ID", server.access_key.as_str()),
                ("AWS_SECRET_ACCESS_KEY", server.secret_key.as_str()),
            ]);
        }
        child::in_child(CASE, case, AWS_VARS, &vars);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The child side: does nothing unless started by `in_child`.
#[test]
fn child() {
    let Some(case) = child::case(CASE) else {
        return;
    };
    let server = common::rclone("aws_profile child").expect("the parent checked the server");
    let bucket = std::env::var("KV_S3_PROFILE_BUCKET").unwrap();
    // No credentials and no region in the configuration: both come from the environment.
    let open = || {
        S3Config::new(&bucket)
            .endpoint(&server.url)
            .max_bytes(server.max_part_bytes, server.max_part_bytes)
            .open()
    };
    match case.as_str() {
        "signs-with-profile" | "env-beats-profile" => {
            let store = open().unwrap();
            key_value_testkit::run(async move {
                store.put("k", object!({"v": 1})).await.unwrap();
                assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 1})));
                assert!(store.delete("k").await.unwrap());
            });
        }
        "explicit-profile-beats-env" => {
            // The store's own `profile` option (builder and URL) wins over the environment's
            // keys (wrong here) and over AWS_PROFILE (a wrong secret here).
            let url = format!("s3://{bucket}?profile=kvtest&endpoint={}", server.url);
            let from_url =
                S3Config::from_url(&key_value_core::config::StoreUrl::parse(&url).unwrap())
                    .unwrap();
            for config in [
                S3Config::new(&bucket)
                    .endpoint(&server.url)
                    .profile("kvtest"),
                from_url,
            ] {
                let store = config
                    .max_bytes(server.max_part_bytes, server.max_part_bytes)
                    .open()
                    .unwrap();
                key_value_testkit::run(async move {
                    store.put("k", object!({"v": 3})).await.unwrap();
                    assert_eq!(store.get("k").await.unwrap(), Some(object!({"v": 3})));
                });
            }
        }
        "wrong-profile-refused" => {
            let store = open().unwrap();
            key_value_testkit::run(async move {
                let err = store.get("k").await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
                let text = format!("{err} {err:?}");
                assert!(text.contains("SignatureDoesNotMatch"), "{text}");
                assert!(!text.contains("not-the-secret"), "{text}");
            });
        }
        "unsupported-source" => {
            let err = open().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            assert!(err.message().contains("role_arn"), "{err}");
        }
        "unknown-profile" => {
            let err = open().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            assert!(err.message().contains("\"nobody\""), "{err}");
        }
        other => panic!("unknown case {other}"),
    }
    println!("case {case} ok");
}

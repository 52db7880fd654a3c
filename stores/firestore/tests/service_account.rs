//! Service-account authentication: the RS256 JWT checked with a key made by `openssl` (its
//! structure, claims, and signature verified with ring and with `openssl dgst -verify`), and
//! our half of the token exchange (RFC 7523) against a local stand-in for Google's token
//! endpoint, with the token then used against the emulator. Google's real endpoint cannot be
//! reached from here: the live exchange is unverified.

// Test code: failures are meant to panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use key_value_core::prelude::*;
use key_value_firestore::auth::FIRESTORE_SCOPE;
use key_value_firestore::{Credentials, ServiceAccountKey};
use key_value_testkit::{run, unique_name};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl must be installed to run these tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A fresh 2048-bit RSA key as PKCS#8 PEM (`key.pem`), its PKCS#1 form (`key-rsa.pem`), its
/// public key (`pub.pem`) and its PKCS#1 public key in DER (`pub-rsa.der`), in `dir`.
fn make_keys(dir: &Path) {
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "key.pem",
        ],
        dir,
    );
    openssl(
        &[
            "rsa",
            "-in",
            "key.pem",
            "-traditional",
            "-out",
            "key-rsa.pem",
        ],
        dir,
    );
    openssl(
        &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
        dir,
    );
    openssl(
        &[
            "rsa",
            "-in",
            "key.pem",
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            "pub-rsa.der",
        ],
        dir,
    );
}

fn key_json(pem: &str, token_uri: Option<&str>) -> String {
    let mut v = json!({
        "type": "service_account",
        "project_id": "from-the-key",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "kv-test@from-the-key.iam.gserviceaccount.com",
        "client_id": "1234",
    });
    if let Some(uri) = token_uri {
        v["token_uri"] = uri.into();
    }
    v.to_string()
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn the_jwt_is_rs256_with_googles_claims_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    make_keys(dir.path());
    let pem = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
    let key = ServiceAccountKey::from_json(&key_json(&pem, None)).unwrap();
    assert_eq!(key.token_uri(), "https://oauth2.googleapis.com/token");
    assert_eq!(key.project_id(), Some("from-the-key"));
    let debug = format!("{key:?}");
    assert!(
        !debug.contains("BEGIN") && !debug.contains(&pem[40..80]),
        "{debug}"
    );

    let jwt = key.signed_jwt(FIRESTORE_SCOPE, 1_700_000_000).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(!jwt.contains(['=', '+', '/']), "base64url without padding");
    assert_eq!(
        decode_part(parts[0]),
        json!({"alg": "RS256", "typ": "JWT", "kid": "0123456789abcdef"})
    );
    assert_eq!(
        decode_part(parts[1]),
        json!({
            "iss": "kv-test@from-the-key.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/datastore",
            "aud": "https://oauth2.googleapis.com/token",
            "iat": 1_700_000_000u64,
            "exp": 1_700_003_600u64,
        })
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(signature.len(), 256);

    // ring, with openssl's public key (not the one the crate derives).
    let public = std::fs::read(dir.path().join("pub-rsa.der")).unwrap();
    assert_eq!(public, key.public_key_der());
    let verifier = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &public,
    );
    verifier.verify(signed.as_bytes(), &signature).unwrap();
    assert!(verifier.verify(b"something else", &signature).is_err());

    // openssl itself.
    std::fs::write(dir.path().join("data"), signed.as_bytes()).unwrap();
    std::fs::write(dir.path().join("sig"), &signature).unwrap();
    let out = openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig",
            "data",
        ],
        dir.path(),
    );
    assert!(String::from_utf8_lossy(&out).contains("Verified OK"));

    // The PKCS#1 form of the same key signs identically (PKCS#1 v1.5 is deterministic).
    let rsa_pem = std::fs::read_to_string(dir.path().join("key-rsa.pem")).unwrap();
    assert!(rsa_pem.contains("BEGIN RSA PRIVATE KEY"));
    let same = ServiceAccountKey::from_json(&key_json(&rsa_pem, None)).unwrap();
    assert_eq!(
        same.signed_jwt(FIRESTORE_SCOPE, 1_700_000_000).unwrap(),
        jwt
    );

    // A key file on disk, as GOOGLE_APPLICATION_CREDENTIALS names it.
    let path = dir.path().join("sa.json");
    std::fs::write(&path, key_json(&pem, None)).unwrap();
    let c = Credentials::service_account_file(&path).unwrap();
    assert_eq!(c.kind_name(), "service-account");
    assert!(!format!("{c:?}").contains("BEGIN"));
}

/// A stand-in for Google's token endpoint on 127.0.0.1: checks each request is a JWT bearer
/// grant whose assertion verifies with `public`, and answers a token. Returns its URL and the
/// number of exchanges so far.
async fn token_endpoint(public: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let audience = url.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = socket.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed early");
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let head = text[..end].to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break (head, text[end + 4..end + 4 + len].to_string());
                    }
                }
            };
            assert!(head.starts_with("post /token "), "{head}");
            assert!(
                head.contains("content-type: application/x-www-form-urlencoded"),
                "{head}"
            );
            let assertion = body
                .strip_prefix(
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=",
                )
                .unwrap_or_else(|| panic!("not a JWT bearer grant: {body}"));
            let parts: Vec<&str> = assertion.split('.').collect();
            let claims = decode_part(parts[1]);
            assert_eq!(claims["aud"], audience.as_str());
            assert_eq!(claims["scope"], FIRESTORE_SCOPE);
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                &public,
            )
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            let answer = format!(
                r#"{{"access_token": "ya29.token-{n}", "expires_in": 3599, "token_type": "Bearer"}}"#
            );
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            let _ = socket.shutdown().await;
        }
    });
    (url, count)
}

#[test]
fn the_token_is_fetched_once_and_reused() {
    let Some(host) = common::emulator("service_account_token") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    make_keys(dir.path());
    let pem = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
    let public = std::fs::read(dir.path().join("pub-rsa.der")).unwrap();
    run(async move {
        let (token_uri, exchanges) = token_endpoint(public).await;
        let key = ServiceAccountKey::from_json(&key_json(&pem, Some(&token_uri))).unwrap();
        let db = common::database_for(&unique_name("service_account_token"));
        let store = common::config(&host, &db)
            .credentials(Credentials::service_account(key))
            .open()
            .unwrap();
        // Concurrent first calls wait for one exchange.
        let puts = (0..8).map(|i| {
            let store = &store;
            async move {
                store
                    .put(&format!("k{i}"), object!({"i": i}))
                    .collection("c")
                    .await
            }
        });
        for r in futures_util::future::join_all(puts).await {
            r.unwrap();
        }
        assert_eq!(
            store.get("k3").collection("c").await.unwrap(),
            Some(object!({"i": 3}))
        );
        assert_eq!(exchanges.load(Ordering::SeqCst), 1);
        assert!(!format!("{store:?}").contains("ya29"));
    });
}

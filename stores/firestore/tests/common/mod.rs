//! Shared by the Firestore tests: the emulator of `services/firestore/start`
//! (`KV_FIRESTORE_EMULATOR_HOST`, `KV_FIRESTORE_PROJECT`), one database per test (the emulator
//! creates named databases on first use), and raw REST access to check what is stored.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use key_value_firestore::FirestoreConfig;
use key_value_firestore::key_value_http::{HttpConfig, client, reqwest};
use serde_json::Value;

pub const HOST_VAR: &str = "KV_FIRESTORE_EMULATOR_HOST";

/// The emulator's `host:port`, or `None` (NOT RUN) when it is not started.
pub fn emulator(test: &str) -> Option<String> {
    key_value_testkit::service::service_env(HOST_VAR, test)
}

/// The project the emulator was started with.
pub fn project() -> String {
    std::env::var("KV_FIRESTORE_PROJECT")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "key-value-test".to_string())
}

/// A Firestore database id (`[a-z][a-z0-9-]{3,62}`) unique to `name` (a test namespace).
pub fn database_for(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id.insert_str(0, "db-");
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    id.truncate(46);
    format!("{}-{h:016x}", id.trim_end_matches('-'))
}

/// A config on the emulator and a database of its own, ignoring the environment.
pub fn config(host: &str, database: &str) -> FirestoreConfig {
    FirestoreConfig::new(project())
        .database(database)
        .emulator_host(host)
        .use_environment(false)
}

/// The raw document (`name`, `fields`, ...) at a full resource name, or `None`.
pub async fn raw_document(host: &str, name: &str) -> Option<Value> {
    let http = client(&HttpConfig::default()).unwrap();
    let url = format!("http://{host}/v1/{}", encode_path(name));
    let response = http
        .get(url)
        .header("authorization", "Bearer owner")
        .send()
        .await
        .unwrap();
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return None;
    }
    assert!(response.status().is_success(), "{}", response.status());
    Some(serde_json::from_str(&response.text().await.unwrap()).unwrap())
}

/// Every document id of a top-level collection, read over REST.
pub async fn raw_ids(host: &str, database: &str, collection: &str) -> Vec<String> {
    let http = client(&HttpConfig::default()).unwrap();
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let url = format!(
            "http://{host}/v1/projects/{}/databases/{database}/documents/{}?pageSize=1000&mask.fieldPaths=__name__&pageToken={}",
            project(),
            key_value_firestore::key_value_http::sigv4::uri_encode(collection, false),
            key_value_firestore::key_value_http::sigv4::uri_encode(&token, false),
        );
        let text = http
            .get(url)
            .header("authorization", "Bearer owner")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let page: Value = serde_json::from_str(&text).unwrap();
        for d in page["documents"].as_array().cloned().unwrap_or_default() {
            out.push(
                d["name"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
        match page["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => return out,
        }
    }
}

/// Empties one database of the emulator (its own wipe endpoint).
pub async fn wipe(host: &str, database: &str) {
    let http = client(&HttpConfig::default()).unwrap();
    let url = format!(
        "http://{host}/emulator/v1/projects/{}/databases/{database}/documents",
        project()
    );
    let r = http.delete(url).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

fn encode_path(name: &str) -> String {
    name.split('/')
        .map(|s| key_value_firestore::key_value_http::sigv4::uri_encode(s, false))
        .collect::<Vec<_>>()
        .join("/")
}

//! Test helpers: the emulators' URLs, a table per test, and raw signed DynamoDB calls on the
//! side (to look at and plant items without the store).

#![allow(dead_code)]

use key_value_core::Timestamp;
use key_value_dynamodb::DynamoDBConfig;
use key_value_http::HttpConfig;
use key_value_http::sigv4::{Credentials, Signer};
use key_value_testkit::service::service_env;
use serde_json::Value;

/// moto (`services/moto/start`, `KV_MOTO_URL`); `None` (after saying so) outside CI when unset.
pub fn moto(test: &str) -> Option<String> {
    service_env("KV_MOTO_URL", test)
}

/// dynalite (`services/dynalite/start`, `KV_DYNALITE_URL`); `None` outside CI when unset.
pub fn dynalite(test: &str) -> Option<String> {
    service_env("KV_DYNALITE_URL", test)
}

/// Every server the tests know, with its variable: `(name, url)` for those that are set.
pub fn servers(test: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(u) = moto(test) {
        out.push(("moto", u));
    }
    if let Some(u) = dynalite(test) {
        out.push(("dynalite", u));
    }
    out
}

/// The URL of `var` for the conformance suite, whose factory cannot skip a test.
pub fn suite_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"))
}

/// A valid table name unique to `namespace` (a `Fixture::namespace` or [`unique`] name).
pub fn table_for(namespace: &str) -> String {
    key_value_testkit::sql_identifier(namespace, 255)
}

/// A table name unique to this test and process.
pub fn unique_table(test: &str) -> String {
    table_for(&key_value_testkit::unique_name(test))
}

/// The store's config for `endpoint` and `table`, with the emulators' dummy credentials.
pub fn config(endpoint: &str, table: &str) -> DynamoDBConfig {
    DynamoDBConfig::new(table)
        .endpoint(endpoint)
        .region("us-east-1")
        .credentials(Credentials::new("test", "test"))
}

/// One raw signed DynamoDB call; the answer's JSON, or `Err((status, body))`.
pub async fn raw(endpoint: &str, action: &str, body: &Value) -> Result<Value, (u16, String)> {
    raw_with(endpoint, Credentials::new("test", "test"), action, body).await
}

/// [`raw`] with other credentials.
pub async fn raw_with(
    endpoint: &str,
    credentials: Credentials,
    action: &str,
    body: &Value,
) -> Result<Value, (u16, String)> {
    let http = key_value_http::client(&HttpConfig::default()).unwrap();
    let mut request = http
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{action}"))
        .body(serde_json::to_vec(body).unwrap())
        .build()
        .unwrap();
    Signer::new(credentials, "us-east-1", "dynamodb")
        .sign(&mut request, Timestamp::now_system())
        .unwrap();
    let response = http.execute(request).await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    if status.is_success() {
        Ok(serde_json::from_str(&text).unwrap())
    } else {
        Err((status.as_u16(), text))
    }
}

/// The raw item at `collection`/`key`, read strongly consistently.
pub async fn raw_item(endpoint: &str, table: &str, collection: &str, key: &str) -> Option<Value> {
    let doc = raw(
        endpoint,
        "GetItem",
        &serde_json::json!({
            "TableName": table,
            "Key": {"collection": {"S": collection}, "key": {"S": key}},
            "ConsistentRead": true,
        }),
    )
    .await
    .unwrap();
    doc.get("Item").cloned()
}

/// Number of items in `table` (a consistent Scan); 0 when the table does not exist.
pub async fn count_items(endpoint: &str, table: &str) -> usize {
    let doc = raw(
        endpoint,
        "Scan",
        &serde_json::json!({"TableName": table, "Select": "COUNT", "ConsistentRead": true}),
    )
    .await;
    match doc {
        Ok(doc) => doc["Count"].as_u64().unwrap() as usize,
        Err((_, body)) if body.contains("ResourceNotFoundException") => 0,
        Err(e) => panic!("Scan failed: {e:?}"),
    }
}

//! A small client for the Azure Table service REST API: exactly the calls the store needs.
//!
//! | call | request |
//! |---|---|
//! | [`create_table`](TablesClient::create_table) | `POST /Tables` |
//! | [`delete_table`](TablesClient::delete_table) | `DELETE /Tables('t')` |
//! | [`get_entity`](TablesClient::get_entity) | `GET /t(PartitionKey='p',RowKey='r')` |
//! | [`upsert_entity`](TablesClient::upsert_entity) | `PUT /t(PartitionKey='p',RowKey='r')` without `If-Match` (insert or replace) |
//! | [`delete_entity`](TablesClient::delete_entity) | `DELETE /t(PartitionKey='p',RowKey='r')` with `If-Match: *` |
//! | [`query`](TablesClient::query) | `GET /t()?$filter=..&$select=..&$top=..` with continuation |
//! | [`submit_batch`](TablesClient::submit_batch) | `POST /$batch`: one entity group transaction |
//!
//! Every request carries `x-ms-version: 2019-02-02` (what the Python SDK sends),
//! `DataServiceVersion: 3.0`, `Accept: application/json;odata=minimalmetadata` and is
//! authenticated by its [`Credential`]. Keys in URLs have `'` doubled and every byte except
//! `A-Z a-z 0-9 - _ . ~` percent-encoded, as the Python SDK does.
//!
//! ```no_run
//! use key_value_azure_tables::client::TablesClient;
//! use key_value_azure_tables::auth::Credential;
//! use key_value_azure_tables::{DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY};
//! use key_value_http::HttpConfig;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let credential = Credential::shared_key(DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY)?;
//! let client = TablesClient::new("http://127.0.0.1:10002/devstoreaccount1", credential, &HttpConfig::default())?;
//! client.create_table("kvdemo").await?;
//! client.upsert_entity("kvdemo", "users", "alice", r#"{"PartitionKey": "users", "RowKey": "alice", "Value": "{}"}"#).await?;
//! let entity = client.get_entity("kvdemo", "users", "alice", None).await?;
//! assert_eq!(entity.and_then(|e| e.get("Value").cloned()), Some("{}".into()));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use key_value_core::{Error, ErrorKind, Result};
use key_value_http::reqwest::header::{ACCEPT, CONTENT_TYPE};
use key_value_http::reqwest::{self, Method};
use key_value_http::sigv4::uri_encode;
use key_value_http::{HttpConfig, transport_error};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::{Credential, http_date};
use crate::error::ServiceError;

/// The REST API version sent (`x-ms-version`), the one azure-data-tables 12.x sends.
pub const API_VERSION: &str = "2019-02-02";
/// The most operations one entity group transaction may hold.
pub const MAX_BATCH_OPERATIONS: usize = 100;
/// The largest request body of an entity group transaction this client sends: the service's
/// limit is 4 MiB; a little is kept for the multipart framing.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;
/// Entities per query page asked for (the service's maximum).
pub const MAX_PAGE_SIZE: usize = 1000;

const JSON_MINIMAL: &str = "application/json;odata=minimalmetadata";

/// An entity as the service sends it: a JSON object of properties (with `...@odata.type`
/// annotations for types JSON cannot tell, such as `Edm.Int64`).
pub type Entity = Map<String, Value>;

/// Where a query continues: the service's `x-ms-continuation-NextPartitionKey` and
/// `x-ms-continuation-NextRowKey` tokens (opaque).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// The `NextPartitionKey` token.
    pub next_partition_key: String,
    /// The `NextRowKey` token, if any.
    pub next_row_key: Option<String>,
}

/// One page of a query's results.
#[derive(Debug, Clone, Default)]
pub struct QueryPage {
    /// The entities of this page (possibly none, even when more follow).
    pub entities: Vec<Entity>,
    /// Where the next page starts; `None` on the last page.
    pub continuation: Option<Continuation>,
}

/// One operation of an entity group transaction.
#[derive(Debug, Clone)]
pub enum BatchOperation {
    /// Insert or replace the entity (`PUT` without `If-Match`); `body` is its JSON.
    Upsert {
        /// The entity's `PartitionKey`.
        partition_key: String,
        /// The entity's `RowKey`.
        row_key: String,
        /// The entity's JSON.
        body: String,
    },
    /// Delete the entity (`DELETE` with `If-Match: *`); the whole transaction fails with
    /// `ResourceNotFound` if it does not exist.
    Delete {
        /// The entity's `PartitionKey`.
        partition_key: String,
        /// The entity's `RowKey`.
        row_key: String,
    },
}

impl BatchOperation {
    /// The entity's `PartitionKey` and `RowKey`.
    pub fn keys(&self) -> (&str, &str) {
        match self {
            BatchOperation::Upsert {
                partition_key,
                row_key,
                ..
            }
            | BatchOperation::Delete {
                partition_key,
                row_key,
            } => (partition_key, row_key),
        }
    }
}

/// A Table service endpoint with a credential.
#[derive(Clone)]
pub struct TablesClient {
    http: reqwest::Client,
    endpoint: String,
    credential: Credential,
}

impl fmt::Debug for TablesClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TablesClient")
            .field("endpoint", &self.endpoint)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

struct Answer {
    status: u16,
    error_code: Option<String>,
    continuation: Option<Continuation>,
    body: String,
}

impl Answer {
    fn into_error(self) -> Error {
        ServiceError::from_response(self.status, self.error_code.as_deref(), &self.body)
            .into_error()
    }
}

impl TablesClient {
    /// A client of the Table service at `endpoint` (`https://<account>.table.core.windows.net`,
    /// or an emulator's `http://127.0.0.1:10002/devstoreaccount1`). An endpoint that is not an
    /// http(s) URL is a [`Config`](ErrorKind::Config) error.
    pub fn new(endpoint: &str, credential: Credential, http: &HttpConfig) -> Result<Self> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&endpoint).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("invalid Table service endpoint {endpoint:?}: {e}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str().is_none_or(str::is_empty)
            || parsed.query().is_some()
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "invalid Table service endpoint {endpoint:?}: expected http(s)://host[:port][/path] \
                     (put a SAS token in the credential, not the endpoint)"
                ),
            ));
        }
        Ok(TablesClient {
            http: key_value_http::client(http)?,
            endpoint,
            credential,
        })
    }

    /// The endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The credential.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The URL of one entity.
    pub fn entity_url(&self, table: &str, partition_key: &str, row_key: &str) -> String {
        format!(
            "{}/{table}(PartitionKey='{}',RowKey='{}')",
            self.endpoint,
            encode_key(partition_key),
            encode_key(row_key)
        )
    }

    /// Creates `table`: `true` if created, `false` if it already existed.
    pub async fn create_table(&self, table: &str) -> Result<bool> {
        let body = serde_json::json!({ "TableName": table }).to_string();
        let answer = self
            .send(
                Method::POST,
                &format!("{}/Tables", self.endpoint),
                Some(("application/json", body.into_bytes())),
                &[("Prefer", "return-no-content")],
            )
            .await?;
        match answer.status {
            200..=299 => Ok(true),
            409 => {
                let error = ServiceError::from_response(
                    answer.status,
                    answer.error_code.as_deref(),
                    &answer.body,
                );
                // A table deleted moments ago cannot be created again yet (Azure keeps the
                // name for about 40 s): that is a temporary failure, not "already exists".
                if error.is("TableBeingDeleted") {
                    Err(error.into_error())
                } else {
                    Ok(false)
                }
            }
            _ => Err(answer.into_error()),
        }
    }

    /// Deletes `table`: whether it existed.
    pub async fn delete_table(&self, table: &str) -> Result<bool> {
        let url = format!("{}/Tables('{}')", self.endpoint, encode_key(table));
        let answer = self.send(Method::DELETE, &url, None, &[]).await?;
        match answer.status {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(answer.into_error()),
        }
    }

    /// Reads one entity (only the properties of `select`, comma-separated, if given); `None`
    /// when it (or its table) does not exist.
    pub async fn get_entity(
        &self,
        table: &str,
        partition_key: &str,
        row_key: &str,
        select: Option<&str>,
    ) -> Result<Option<Entity>> {
        let mut url = self.entity_url(table, partition_key, row_key);
        if let Some(select) = select {
            url.push_str("?$select=");
            url.push_str(&uri_encode(select, false));
        }
        let answer = self.send(Method::GET, &url, None, &[]).await?;
        match answer.status {
            200 => parse_object(&answer.body).map(Some),
            404 => Ok(None),
            _ => Err(answer.into_error()),
        }
    }

    /// Inserts or replaces one entity (`body` is its JSON, holding the same keys).
    pub async fn upsert_entity(
        &self,
        table: &str,
        partition_key: &str,
        row_key: &str,
        body: &str,
    ) -> Result<()> {
        let url = self.entity_url(table, partition_key, row_key);
        let answer = self
            .send(
                Method::PUT,
                &url,
                Some(("application/json", body.as_bytes().to_vec())),
                &[],
            )
            .await?;
        match answer.status {
            200..=299 => Ok(()),
            _ => Err(answer.into_error()),
        }
    }

    /// Deletes one entity: whether it existed.
    pub async fn delete_entity(
        &self,
        table: &str,
        partition_key: &str,
        row_key: &str,
    ) -> Result<bool> {
        let url = self.entity_url(table, partition_key, row_key);
        let answer = self
            .send(Method::DELETE, &url, None, &[("If-Match", "*")])
            .await?;
        match answer.status {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(answer.into_error()),
        }
    }

    /// One page of the entities matching `filter` (an OData filter, see [`quote`]), with
    /// only the properties of `select`, at most `top` (≤ 1000), from `continuation`.
    pub async fn query(
        &self,
        table: &str,
        filter: Option<&str>,
        select: Option<&str>,
        top: Option<usize>,
        continuation: Option<&Continuation>,
    ) -> Result<QueryPage> {
        let mut params = Vec::new();
        if let Some(f) = filter {
            params.push(format!("$filter={}", uri_encode(f, false)));
        }
        if let Some(s) = select {
            params.push(format!("$select={}", uri_encode(s, false)));
        }
        if let Some(t) = top {
            params.push(format!("$top={}", t.clamp(1, MAX_PAGE_SIZE)));
        }
        if let Some(c) = continuation {
            params.push(format!(
                "NextPartitionKey={}",
                uri_encode(&c.next_partition_key, false)
            ));
            if let Some(rk) = &c.next_row_key {
                params.push(format!("NextRowKey={}", uri_encode(rk, false)));
            }
        }
        let mut url = format!("{}/{table}()", self.endpoint);
        if !params.is_empty() {
            url.push('?');
            url.push_str(&params.join("&"));
        }
        let answer = self.send(Method::GET, &url, None, &[]).await?;
        if answer.status != 200 {
            return Err(answer.into_error());
        }
        let continuation = answer.continuation.clone();
        let mut doc = parse_object(&answer.body)?;
        let entities = match doc.remove("value") {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .collect(),
            _ => {
                return Err(Error::new(
                    ErrorKind::Backend,
                    "the Table service's query answer has no `value` list",
                ));
            }
        };
        Ok(QueryPage {
            entities,
            continuation,
        })
    }

    /// Runs `operations` (at most [`MAX_BATCH_OPERATIONS`], all of one partition, no entity
    /// twice) as one entity group transaction: all of them or none. A failed operation is a
    /// [`ServiceError`] (the error's source) whose [`index`](ServiceError::index) names it.
    pub async fn submit_batch(&self, table: &str, operations: &[BatchOperation]) -> Result<()> {
        if operations.is_empty() {
            return Ok(());
        }
        let (content_type, body) = self.batch_body(table, operations);
        let answer = self
            .send(
                Method::POST,
                &format!("{}/$batch", self.endpoint),
                Some((&content_type, body.into_bytes())),
                &[],
            )
            .await?;
        if answer.status != 202 {
            return Err(answer.into_error());
        }
        match parse_batch_answer(&answer.body) {
            Ok(n) if n == operations.len() => Ok(()),
            Ok(n) => Err(Error::new(
                ErrorKind::Backend,
                format!(
                    "the Table service answered {n} of the {} operations of an entity group transaction",
                    operations.len()
                ),
            )),
            Err(e) => Err(e.into_error()),
        }
    }

    /// The length in bytes an operation adds to a batch body, for chunking by size.
    pub fn batch_operation_len(&self, table: &str, operation: &BatchOperation) -> usize {
        let mut out = String::new();
        self.write_operation(
            &mut out,
            "changeset_00000000000000000000000000000000",
            0,
            table,
            operation,
        );
        out.len()
    }

    fn batch_body(&self, table: &str, operations: &[BatchOperation]) -> (String, String) {
        let id = boundary_id(operations);
        let batch = format!("batch_{id}");
        let changeset = format!("changeset_{id}");
        let mut body = String::with_capacity(1024 * operations.len());
        body.push_str(&format!(
            "--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
        ));
        for (i, op) in operations.iter().enumerate() {
            self.write_operation(&mut body, &changeset, i, table, op);
        }
        body.push_str(&format!("--{changeset}--\r\n\r\n--{batch}--\r\n"));
        (format!("multipart/mixed; boundary={batch}"), body)
    }

    fn write_operation(
        &self,
        out: &mut String,
        changeset: &str,
        index: usize,
        table: &str,
        op: &BatchOperation,
    ) {
        let (pk, rk) = op.keys();
        let url = self.entity_url(table, pk, rk);
        out.push_str(&format!(
            "--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {index}\r\n\r\n"
        ));
        match op {
            BatchOperation::Upsert { body, .. } => {
                out.push_str(&format!(
                    "PUT {url} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Accept: {JSON_MINIMAL}\r\nDataServiceVersion: 3.0\r\n\r\n{body}\r\n",
                    body.len()
                ));
            }
            BatchOperation::Delete { .. } => {
                out.push_str(&format!(
                    "DELETE {url} HTTP/1.1\r\nAccept: {JSON_MINIMAL}\r\nDataServiceVersion: 3.0\r\nIf-Match: *\r\n\r\n\r\n"
                ));
            }
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&'static str, &str)],
    ) -> Result<Answer> {
        let mut builder = self
            .http
            .request(method, url)
            .header("x-ms-version", API_VERSION)
            .header("DataServiceVersion", "3.0")
            .header("MaxDataServiceVersion", "3.0;NetFx")
            .header(ACCEPT, JSON_MINIMAL);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some((content_type, bytes)) = body {
            builder = builder.header(CONTENT_TYPE, content_type).body(bytes);
        }
        let mut request = builder.build().map_err(|e| {
            Error::new(ErrorKind::InvalidArgument, "could not build the request")
                .with_source(e.without_url())
        })?;
        self.credential
            .authorize(&mut request, &http_date(SystemTime::now()))?;
        let response = self.http.execute(request).await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let error_code = header("x-ms-error-code");
        let continuation = header("x-ms-continuation-NextPartitionKey").map(|pk| Continuation {
            next_partition_key: pk,
            next_row_key: header("x-ms-continuation-NextRowKey"),
        });
        let body = response.text().await.map_err(transport_error)?;
        Ok(Answer {
            status,
            error_code,
            continuation,
            body,
        })
    }
}

/// A key as it goes into an entity URL: `'` doubled, then percent-encoded.
///
/// ```
/// use key_value_azure_tables::client::encode_key;
/// assert_eq!(encode_key("k'é/x y"), "k%27%27%C3%A9%2Fx%20y");
/// ```
pub fn encode_key(key: &str) -> String {
    uri_encode(&key.replace('\'', "''"), false)
}

/// A string as an OData literal: in single quotes, with `'` doubled.
///
/// ```
/// use key_value_azure_tables::client::quote;
/// assert_eq!(quote("it's"), "'it''s'");
/// ```
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn parse_object(body: &str) -> Result<Entity> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::new(
            ErrorKind::Backend,
            "the Table service answered something that is not a JSON object",
        )),
    }
}

/// Unique enough for a multipart boundary: a hash of the operations, the time and a counter
/// (a boundary must not occur in the body; 32 hex digits of SHA-256 will not).
fn boundary_id(operations: &[BatchOperation]) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = Sha256::new();
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.update(now.to_le_bytes());
    for op in operations {
        let (pk, rk) = op.keys();
        hasher.update(pk.as_bytes());
        hasher.update([0]);
        hasher.update(rk.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the multipart answer of an entity group transaction: how many operations succeeded,
/// or the first failure (a changeset that fails has one answer: the failed operation's).
fn parse_batch_answer(body: &str) -> std::result::Result<usize, ServiceError> {
    let mut ok = 0;
    let mut rest = body;
    while let Some(pos) = rest.find("HTTP/1.1 ") {
        let line_end = rest[pos..].find('\n').map_or(rest.len(), |e| pos + e);
        let status_line = &rest[pos..line_end];
        let status: u16 = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        rest = &rest[line_end..];
        if (200..300).contains(&status) {
            ok += 1;
            continue;
        }
        // The failed operation's own body: after its headers, up to the next boundary.
        let part_end = rest.find("\n--").unwrap_or(rest.len());
        let part = &rest[..part_end];
        let payload = part
            .find("\r\n\r\n")
            .map(|i| &part[i + 4..])
            .or_else(|| part.find("\n\n").map(|i| &part[i + 2..]))
            .unwrap_or("");
        return Err(ServiceError::from_response(status, None, payload));
    }
    if ok == 0 {
        return Err(ServiceError::new(
            502,
            None,
            "the entity group transaction's answer holds no operation result",
        ));
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn client() -> TablesClient {
        TablesClient::new(
            "http://127.0.0.1:11002/devstoreaccount1/",
            Credential::sas("sig=x"),
            &HttpConfig::default(),
        )
        .unwrap()
    }

    #[test]
    fn endpoints_are_checked() {
        for bad in ["", "ftp://h/a", "http://", "not a url", "https://h/a?sig=1"] {
            let err = TablesClient::new(bad, Credential::sas("x"), &HttpConfig::default())
                .err()
                .unwrap();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        }
        assert_eq!(
            client().endpoint(),
            "http://127.0.0.1:11002/devstoreaccount1"
        );
    }

    #[test]
    fn entity_urls_encode_like_the_python_sdk() {
        assert_eq!(
            client().entity_url("kvtable", "c ol", "k'é/x"),
            "http://127.0.0.1:11002/devstoreaccount1/kvtable(PartitionKey='c%20ol',RowKey='k%27%27%C3%A9%2Fx')"
        );
    }

    #[test]
    fn batch_bodies_are_multipart_changesets() {
        let ops = vec![
            BatchOperation::Upsert {
                partition_key: "c".into(),
                row_key: "a".into(),
                body: r#"{"PartitionKey":"c","RowKey":"a"}"#.into(),
            },
            BatchOperation::Delete {
                partition_key: "c".into(),
                row_key: "b".into(),
            },
        ];
        let c = client();
        let (content_type, body) = c.batch_body("t", &ops);
        let boundary = content_type
            .strip_prefix("multipart/mixed; boundary=")
            .unwrap();
        assert!(boundary.starts_with("batch_"));
        assert!(body.starts_with(&format!("--{boundary}\r\n")));
        assert!(body.ends_with(&format!("--{boundary}--\r\n")));
        assert!(body.contains(
            "PUT http://127.0.0.1:11002/devstoreaccount1/t(PartitionKey='c',RowKey='a') HTTP/1.1\r\n"
        ));
        assert!(body.contains("Content-Length: 33\r\n"));
        assert!(body.contains(
            "DELETE http://127.0.0.1:11002/devstoreaccount1/t(PartitionKey='c',RowKey='b') HTTP/1.1\r\n"
        ));
        assert!(body.contains("If-Match: *\r\n"));
        let sized: usize = ops.iter().map(|op| c.batch_operation_len("t", op)).sum();
        assert!(sized < body.len() && body.len() < sized + 300);
    }

    #[test]
    fn batch_answers() {
        // Azurite 3.35.0's answers, captured.
        let ok = "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n\
            --changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
            HTTP/1.1 204 No Content\r\nDataServiceVersion: 3.0;\r\n\r\n\r\n\
            --changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
            HTTP/1.1 204 No Content\r\nDataServiceVersion: 3.0;\r\n\r\n\r\n\
            --changesetresponse_2--\r\n--batchresponse_1--\r\n";
        assert_eq!(parse_batch_answer(ok), Ok(2));
        let failed = "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n\
            --changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
            HTTP/1.1 404 Not Found\r\nContent-ID: 2\r\nContent-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n\
            {\"odata.error\":{\"code\":\"ResourceNotFound\",\"message\":{\"lang\":\"en-US\",\"value\":\"1:The specified resource does not exist.\\nRequestId:x\"}}}\r\n\
            --changesetresponse_2--\r\n--batchresponse_1--\r\n";
        let err = parse_batch_answer(failed).unwrap_err();
        assert_eq!(err.status(), 404);
        assert_eq!(err.code(), Some("ResourceNotFound"));
        assert_eq!(err.index(), Some(1));
        assert!(parse_batch_answer("garbage").is_err());
    }
}

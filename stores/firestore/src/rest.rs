//! The few Firestore REST v1 methods the store uses, and the mapping of Google's errors.
//!
//! Reads and writes carry document names in the JSON body (`batchGet`, `commit`,
//! `batchWrite`), so keys never need URL escaping and a missing document is told apart from
//! a missing database (a per-document `missing` or per-write status, not an HTTP 404). Only
//! listings put a collection id in the URL path, percent-encoded.

use std::collections::HashMap;

use key_value_core::{Error, ErrorKind, Result};
use key_value_http::reqwest::{self, Method, StatusCode};
use key_value_http::sigv4::uri_encode;
use key_value_http::transport_error;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::Authorizer;

/// gRPC status codes (`google.rpc.Code`) the store tells apart.
pub(crate) const CODE_OK: i64 = 0;
pub(crate) const CODE_NOT_FOUND: i64 = 5;
pub(crate) const CODE_FAILED_PRECONDITION: i64 = 9;

/// A document as the REST API returns it.
#[derive(Debug, Deserialize)]
pub(crate) struct Document {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) fields: Map<String, Value>,
    #[serde(rename = "updateTime")]
    pub(crate) update_time: Option<String>,
}

/// A per-write result of `batchWrite`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Status {
    #[serde(default)]
    pub(crate) code: i64,
    #[serde(default)]
    pub(crate) message: String,
}

#[derive(Deserialize)]
struct BatchGetItem {
    found: Option<Document>,
    missing: Option<String>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ListDocuments {
    #[serde(default)]
    documents: Vec<Document>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListCollectionIds {
    #[serde(default, rename = "collectionIds")]
    collection_ids: Vec<String>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct BatchWriteResponse {
    #[serde(default)]
    status: Vec<Status>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

/// The REST client of one database.
pub(crate) struct Rest {
    http: reqwest::Client,
    /// `https://firestore.googleapis.com/v1/` or `http://<emulator>/v1/`.
    base: String,
    /// `projects/<p>/databases/<d>/documents`.
    root: String,
    auth: Authorizer,
}

impl Rest {
    pub(crate) fn new(
        http: reqwest::Client,
        endpoint: &str,
        project: &str,
        database: &str,
        auth: Authorizer,
    ) -> Self {
        Rest {
            http,
            base: format!("{}/v1/", endpoint.trim_end_matches('/')),
            root: format!("projects/{project}/databases/{database}/documents"),
            auth,
        }
    }

    pub(crate) fn auth(&self) -> &Authorizer {
        &self.auth
    }

    /// The full name of a document.
    pub(crate) fn document_name(&self, collection_id: &str, document_id: &str) -> String {
        format!("{}/{collection_id}/{document_id}", self.root)
    }

    /// The endpoint URL of `path` (relative to `v1/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends one request and returns the body of a successful answer.
    async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<String> {
        let mut request = self.http.request(method, self.url(path));
        if let Some(h) = self.auth.header().await? {
            request = request.header(reqwest::header::AUTHORIZATION, h);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let text = response.text().await.map_err(transport_error)?;
        if !status.is_success() {
            if status == StatusCode::UNAUTHORIZED {
                self.auth.invalidate();
            }
            return Err(api_error(status, &text));
        }
        Ok(text)
    }

    async fn post(&self, method: &str, body: Vec<u8>) -> Result<String> {
        let path = format!("{}:{method}", self.root);
        self.send(Method::POST, &path, Some(body)).await
    }

    /// `documents:batchGet`: for each name, the document or `None` when it does not exist.
    pub(crate) async fn batch_get(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, Option<Document>>> {
        let body = serde_json::to_vec(&serde_json::json!({ "documents": names }))
            .map_err(serialization_error)?;
        let text = self.post("batchGet", body).await?;
        let items: Vec<BatchGetItem> = parse(&text)?;
        let mut out = HashMap::with_capacity(items.len());
        for item in items {
            if let Some(e) = item.error {
                return Err(api_error_of(StatusCode::OK, e));
            }
            if let Some(doc) = item.found {
                out.insert(doc.name.clone(), Some(doc));
            } else if let Some(name) = item.missing {
                out.insert(name, None);
            }
        }
        Ok(out)
    }

    /// `documents:commit` of already serialized writes (an atomic batch).
    pub(crate) async fn commit(&self, writes: &[&[u8]]) -> Result<()> {
        self.post("commit", writes_body(writes)).await.map(|_| ())
    }

    /// `documents:batchWrite`: the writes applied independently, one status each.
    pub(crate) async fn batch_write(&self, writes: &[&[u8]]) -> Result<Vec<Status>> {
        let text = self.post("batchWrite", writes_body(writes)).await?;
        let response: BatchWriteResponse = parse(&text)?;
        let mut status = response.status;
        // An omitted status means OK.
        status.resize_with(writes.len(), Status::default);
        Ok(status)
    }

    /// One page of `documents.list` of a top-level collection, with only the `fields` given
    /// (`__name__` for none).
    pub(crate) async fn list_documents(
        &self,
        collection_id: &str,
        fields: &[&str],
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<(Vec<Document>, Option<String>)> {
        let mut path = format!(
            "{}/{}?pageSize={page_size}",
            self.root,
            uri_encode(collection_id, false)
        );
        for f in fields {
            path.push_str("&mask.fieldPaths=");
            path.push_str(&uri_encode(f, false));
        }
        if let Some(t) = page_token {
            path.push_str("&pageToken=");
            path.push_str(&uri_encode(t, false));
        }
        let text = self.send(Method::GET, &path, None).await?;
        let page: ListDocuments = parse(&text)?;
        Ok((
            page.documents,
            page.next_page_token.filter(|t| !t.is_empty()),
        ))
    }

    /// One page of `documents:listCollectionIds` (top-level collections).
    pub(crate) async fn list_collection_ids(
        &self,
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>)> {
        let mut body = serde_json::json!({ "pageSize": page_size });
        if let Some(t) = page_token {
            body["pageToken"] = t.into();
        }
        let body = serde_json::to_vec(&body).map_err(serialization_error)?;
        let text = self.post("listCollectionIds", body).await?;
        let page: ListCollectionIds = parse(&text)?;
        Ok((
            page.collection_ids,
            page.next_page_token.filter(|t| !t.is_empty()),
        ))
    }
}

fn writes_body(writes: &[&[u8]]) -> Vec<u8> {
    let len: usize = writes.iter().map(|w| w.len() + 1).sum();
    let mut body = Vec::with_capacity(len + 16);
    body.extend_from_slice(b"{\"writes\":[");
    for (i, w) in writes.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(w);
    }
    body.extend_from_slice(b"]}");
    body
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::Backend,
            format!("unexpected response from Firestore: {e}"),
        )
    })
}

pub(crate) fn serialization_error(e: serde_json::Error) -> Error {
    Error::new(ErrorKind::Serialization, "could not build the request").with_source(e)
}

/// Google's error answer as a store error: `UNAVAILABLE`, `ABORTED`, `RESOURCE_EXHAUSTED`,
/// `INTERNAL`, `UNKNOWN` and any 5xx/429 are temporary `Backend` errors,
/// `DEADLINE_EXCEEDED` a temporary `Timeout`; a document over Firestore's size limit a
/// `ValueTooLarge`; everything else (`PERMISSION_DENIED`, `UNAUTHENTICATED`,
/// `INVALID_ARGUMENT`, `NOT_FOUND`, ...) a permanent `Backend` error with Google's message.
pub fn api_error(status: StatusCode, body: &str) -> Error {
    // Streaming methods answer `[{"error": ...}]`. (A derived struct would also accept a JSON
    // array as its fields in order, so the two forms are told apart first.)
    let parsed = if body.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<ErrorBody>>(body)
            .ok()
            .and_then(|mut v| (!v.is_empty()).then(|| v.swap_remove(0)))
    } else {
        serde_json::from_str::<ErrorBody>(body).ok()
    };
    match parsed {
        Some(b) => api_error_of(status, b.error),
        None => key_value_http::status_error(status, body),
    }
}

fn api_error_of(http: StatusCode, e: ApiError) -> Error {
    let status = if e.status.is_empty() {
        code_name(e.code).to_string()
    } else {
        e.status
    };
    status_to_error(&status, http, &e.message)
}

/// A per-write status (`batchWrite`) as a store error.
pub(crate) fn status_error(s: &Status) -> Error {
    status_to_error(code_name(s.code), StatusCode::OK, &s.message)
}

fn status_to_error(status: &str, http: StatusCode, message: &str) -> Error {
    let mut text: String = message.trim().chars().take(500).collect();
    if text.len() < message.trim().len() {
        text.push('…');
    }
    let full = if http == StatusCode::OK {
        format!("Firestore {status}: {text}")
    } else {
        format!("Firestore {status} (HTTP {}): {text}", http.as_u16())
    };
    let too_large = status == "INVALID_ARGUMENT"
        && (message.contains("longer than")
            || message.contains("maximum entity size")
            || message.contains("exceeds the maximum"));
    let (kind, temporary) = match status {
        "UNAVAILABLE" | "ABORTED" | "RESOURCE_EXHAUSTED" | "INTERNAL" | "UNKNOWN" => {
            (ErrorKind::Backend, true)
        }
        "DEADLINE_EXCEEDED" => (ErrorKind::Timeout, true),
        _ if too_large => (ErrorKind::ValueTooLarge, false),
        _ => (
            ErrorKind::Backend,
            http.is_server_error() || http == StatusCode::TOO_MANY_REQUESTS,
        ),
    };
    Error::new(kind, full).with_temporary(temporary)
}

fn code_name(code: i64) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        // HTTP codes sometimes stand in for gRPC ones in REST bodies.
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> Error {
        api_error(StatusCode::from_u16(status).unwrap(), body)
    }

    #[test]
    fn google_statuses_map_to_kinds() {
        for (http, status, kind, temporary) in [
            (503, "UNAVAILABLE", ErrorKind::Backend, true),
            (409, "ABORTED", ErrorKind::Backend, true),
            (429, "RESOURCE_EXHAUSTED", ErrorKind::Backend, true),
            (504, "DEADLINE_EXCEEDED", ErrorKind::Timeout, true),
            (500, "INTERNAL", ErrorKind::Backend, true),
            (403, "PERMISSION_DENIED", ErrorKind::Backend, false),
            (401, "UNAUTHENTICATED", ErrorKind::Backend, false),
            (400, "INVALID_ARGUMENT", ErrorKind::Backend, false),
            (404, "NOT_FOUND", ErrorKind::Backend, false),
            (400, "FAILED_PRECONDITION", ErrorKind::Backend, false),
        ] {
            let body = format!(
                r#"{{"error": {{"code": {http}, "message": "because {status}", "status": "{status}"}}}}"#
            );
            let e = err(http, &body);
            assert_eq!(e.kind(), kind, "{status}");
            assert_eq!(e.is_temporary(), temporary, "{status}");
            assert!(e.message().contains(&format!("because {status}")), "{e}");
            assert!(e.message().contains(status), "{e}");
        }
    }

    #[test]
    fn other_bodies() {
        let e = err(
            400,
            r#"{"error":{"code":400,"message":"maximum entity size is 1048576 bytes","status":"INVALID_ARGUMENT"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::ValueTooLarge);
        let e = err(
            503,
            r#"[{"error":{"code":503,"message":"down","status":"UNAVAILABLE"}}]"#,
        );
        assert!(e.is_temporary() && e.message().contains("down"), "{e}");
        let e = err(502, "<html>bad gateway</html>");
        assert!(e.is_temporary() && e.kind() == ErrorKind::Backend, "{e}");
        let e = err(403, "nope");
        assert!(!e.is_temporary(), "{e}");
        let e = status_error(&Status {
            code: 14,
            message: "later".into(),
        });
        assert!(
            e.is_temporary() && e.message().contains("UNAVAILABLE"),
            "{e}"
        );
    }
}

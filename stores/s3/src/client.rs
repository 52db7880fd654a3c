//! Signed S3 requests over the shared HTTP client, and the mapping of S3's answers to
//! [`Error`]s.

use std::time::Duration;

use key_value_core::time::Timestamp;
use key_value_core::{Error, ErrorKind, Result};
use key_value_http::reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use key_value_http::reqwest::{self, Method, StatusCode};
use key_value_http::sigv4::{Signer, uri_encode};
use key_value_http::{is_temporary_status, status_error, transport_error};

use crate::xml;

/// An S3 answer, read whole.
pub(crate) struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    /// The S3 error code of the body, if it is an `<Error>` document.
    pub fn code(&self) -> Option<String> {
        xml::error_code(&String::from_utf8_lossy(&self.body)).map(|(code, _)| code)
    }

    /// The answer as an error (for a status the caller did not expect).
    pub fn error(&self) -> Error {
        s3_error(self.status, &self.body)
    }

    /// A header's value, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Where requests go and how they are signed.
pub(crate) struct Client {
    http: reqwest::Client,
    signer: Signer,
    /// The bucket's URL without a trailing slash: `http://host:port/bucket` (path style) or
    /// `https://bucket.s3.region.amazonaws.com` (virtual-hosted style).
    root: String,
    path_style: bool,
    /// How many times a retryable failure is retried.
    retries: u32,
}

impl Client {
    pub fn new(
        http: reqwest::Client,
        signer: Signer,
        root: String,
        path_style: bool,
        retries: u32,
    ) -> Self {
        Client {
            http,
            signer,
            root,
            path_style,
            retries,
        }
    }

    /// The bucket's URL with a query (`list-type=2&...`, already encoded) or none.
    pub fn bucket_url(&self, query: &str) -> String {
        let mut url = self.root.clone();
        if !self.path_style {
            url.push('/');
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// The URL of an object (its key percent-encoded, `/` kept).
    pub fn object_url(&self, object_key: &str) -> String {
        format!("{}/{}", self.root, uri_encode(object_key, true))
    }

    /// Sends a signed request and reads the whole answer, retrying what S3 asks to be
    /// retried (as the AWS SDKs do; every S3 request the store sends is idempotent).
    /// Transport failures are temporary `Connection`/`Timeout` errors; HTTP error statuses are
    /// returned, not raised.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Option<Vec<u8>>,
    ) -> Result<Response> {
        let mut builder = self.http.request(method, url);
        for (name, value) in headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let unsigned = builder.build().map_err(|e| {
            Error::new(ErrorKind::InvalidArgument, "could not build the S3 request")
                .with_source(e.without_url())
        })?;
        let mut attempt = 0;
        loop {
            let result = self.send_once(&unsigned).await;
            let retry = match &result {
                Ok(r) => retryable(r),
                Err(e) => e.is_temporary(),
            };
            if !retry || attempt >= self.retries {
                return result;
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, unsigned: &reqwest::Request) -> Result<Response> {
        let Some(mut request) = unsigned.try_clone() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "cannot send a streaming S3 request body",
            ));
        };
        // Signed per attempt: a signature is valid for a few minutes only.
        self.signer.sign(&mut request, Timestamp::now_system())?;
        let response = self.http.execute(request).await.map_err(transport_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport_error)?.to_vec();
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// Whether an answer is one the AWS SDKs retry: throttling, 5xx, and the codes that say so.
fn retryable(r: &Response) -> bool {
    is_temporary_status(r.status)
        || (!r.status.is_success()
            && r.code().is_some_and(|c| {
                matches!(
                    c.as_str(),
                    "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable"
                )
            }))
}

/// The pause before retry `attempt + 1`: 100 ms doubling per attempt, capped at 2 s, of which
/// a random half to all is waited, so that clients retrying together spread out.
fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(100)
        .saturating_mul(1 << attempt.min(5))
        .min(Duration::from_secs(2));
    // No RNG dependency for this: the clock's sub-second nanoseconds are random enough.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    cap.mul_f64(0.5 + f64::from(nanos % 1000) / 2000.0)
}

/// An S3 error answer as an [`Error`], with the server's code and message:
///
/// - `SlowDown`, `ServiceUnavailable`, `InternalError`, `RequestTimeout`, `OperationAborted`
///   and any 5xx, 408 or 429 are temporary [`Backend`](ErrorKind::Backend) errors;
/// - `EntityTooLarge` is [`ValueTooLarge`](ErrorKind::ValueTooLarge), `KeyTooLongError`
///   [`InvalidKey`](ErrorKind::InvalidKey);
/// - everything else (`AccessDenied`, `InvalidAccessKeyId`, `SignatureDoesNotMatch`,
///   `NoSuchBucket`, ...) is a permanent `Backend` error.
pub(crate) fn s3_error(status: StatusCode, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    let Some((code, message)) = xml::error_code(&text) else {
        return status_error(status, &text);
    };
    let temporary_status = is_temporary_status(status);
    let (kind, temporary) = match code.as_str() {
        "SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout"
        | "OperationAborted" => (ErrorKind::Backend, true),
        "EntityTooLarge" => (ErrorKind::ValueTooLarge, false),
        "KeyTooLongError" => (ErrorKind::InvalidKey, false),
        _ => (ErrorKind::Backend, temporary_status),
    };
    let mut message: String = message.chars().take(300).collect();
    if message.is_empty() {
        message = status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string();
    }
    Error::new(
        kind,
        format!("S3 answered HTTP {} {code}: {message}", status.as_u16()),
    )
    .with_temporary(temporary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, code: &str) -> Error {
        let body = format!("<Error><Code>{code}</Code><Message>why</Message></Error>");
        s3_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            body.as_bytes(),
        )
    }

    #[test]
    fn errors_map_by_code() {
        let e = err(503, "SlowDown");
        assert!(e.is_temporary());
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.to_string().contains("503 SlowDown: why"), "{e}");
        assert!(err(500, "InternalError").is_temporary());
        for code in [
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
        ] {
            let e = err(403, code);
            assert!(!e.is_temporary());
            assert!(e.to_string().contains(code));
        }
        assert_eq!(err(400, "EntityTooLarge").kind(), ErrorKind::ValueTooLarge);
        assert_eq!(err(400, "KeyTooLongError").kind(), ErrorKind::InvalidKey);
        let e = s3_error(StatusCode::BAD_GATEWAY, b"<html>proxy</html>");
        assert!(e.is_temporary());
        assert!(e.to_string().contains("502"));
    }
}

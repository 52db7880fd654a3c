//! DynamoDB's JSON protocol over the shared HTTP client: signed POSTs, error mapping, retries
//! of throttled requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use key_value_core::{Error, ErrorKind, Timestamp};
use key_value_http::reqwest::{self, Url, header};
use key_value_http::sigv4::Signer;
use key_value_http::transport_error;
use serde_json::Value;

/// The longest back-off between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(20);

/// A failed call: the store error, and DynamoDB's error code when the server sent one
/// (`ResourceNotFoundException`, `ConditionalCheckFailedException`, ...).
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: Option<String>,
    pub error: Error,
    /// Whether the server answered (with an error status), as opposed to a transport failure.
    pub answered: bool,
}

impl Failure {
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            code: None,
            error,
            answered: false,
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        f.error
    }
}

pub(crate) type CallResult<T> = std::result::Result<T, Failure>;

/// Signed calls to one endpoint.
#[derive(Debug)]
pub(crate) struct Api {
    pub http: reqwest::Client,
    pub url: Url,
    pub signer: Signer,
    pub max_retries: u32,
    pub base_delay: Duration,
}

impl Api {
    /// Calls `action` (`GetItem`, ...) with `body`; throttling and 5xx answers are retried
    /// with back-off up to `max_retries` times. Transport failures are not retried: a delete
    /// that reached the server but lost its answer would then report "not found".
    pub async fn call(&self, action: &'static str, body: &Value) -> CallResult<Value> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::new(
                ErrorKind::Serialization,
                format!("cannot encode the {action} request"),
            )
            .with_source(e)
        })?;
        // Built once; each attempt signs a cheap copy (the body is shared, not copied).
        let template = self
            .http
            .post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{action}"))
            .body(bytes)
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot build the DynamoDB request")
                    .with_source(e.without_url())
            })?;
        let mut attempt = 0;
        loop {
            let request = template.try_clone().ok_or_else(|| {
                Error::new(
                    ErrorKind::Backend,
                    "the DynamoDB request cannot be repeated",
                )
            })?;
            match self.once(action, request).await {
                Err(f) if f.answered && f.error.is_temporary() && attempt < self.max_retries => {
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn once(&self, action: &'static str, mut request: reqwest::Request) -> CallResult<Value> {
        // Signatures must use the real time, whatever clock the store measures expiry by.
        self.signer.sign(&mut request, Timestamp::now_system())?;
        let response = self.http.execute(request).await.map_err(transport_error)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Object(Default::default()));
            }
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::from(
                    Error::new(
                        ErrorKind::Backend,
                        format!("DynamoDB answered {action} with invalid JSON"),
                    )
                    .with_source(e),
                )
            });
        }
        Err(api_error(status, &bytes))
    }

    /// Exponential back-off with jitter: between half and all of `base * 2^attempt`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let full = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(MAX_DELAY);
        let half = full / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(if nanos == 0 { 0 } else { random() % nanos })
    }
}

/// A cheap pseudo-random number for jitter (splitmix64 over a counter and the time): spreading
/// retries needs no cryptographic randomness.
fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let time = u64::try_from(Timestamp::now_system().unix_micros()).unwrap_or(0);
    let mut z = time
        .wrapping_add(COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// DynamoDB error codes that mean "slow down and try again".
const THROTTLING: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Codes that mean the credentials or their permissions are wrong.
const AUTH: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "MissingAuthenticationToken",
    "AccessDeniedException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
];

/// Maps an error answer to a store error: throttling and 5xx are temporary `Backend` errors,
/// a too large item `ValueTooLarge`, everything else a permanent `Backend` error with the
/// server's code and message.
pub(crate) fn api_error(status: reqwest::StatusCode, body: &[u8]) -> Failure {
    let doc: Option<Value> = serde_json::from_slice(body).ok();
    let code = doc
        .as_ref()
        .and_then(|d| d.get("__type").or_else(|| d.get("code")))
        .and_then(Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .filter(|c| !c.is_empty());
    let message = doc
        .as_ref()
        .and_then(|d| d.get("message").or_else(|| d.get("Message")))
        .and_then(Value::as_str)
        .map(redact_values)
        .unwrap_or_default();
    let Some(code) = code else {
        let text = String::from_utf8_lossy(body);
        return Failure {
            code: None,
            error: key_value_http::status_error(status, &redact_values(&text)),
            answered: true,
        };
    };
    let temporary = status.is_server_error() || THROTTLING.contains(&code.as_str());
    let kind = if code == "ValidationException" && message.contains("Item size") {
        ErrorKind::ValueTooLarge
    } else {
        ErrorKind::Backend
    };
    let text = if AUTH.contains(&code.as_str()) {
        format!("DynamoDB rejected the credentials or their permissions ({code}): {message}")
    } else if message.is_empty() {
        format!("DynamoDB {code} (HTTP {})", status.as_u16())
    } else {
        format!("DynamoDB {code}: {message}")
    };
    Failure {
        error: Error::new(kind, text).with_temporary(temporary),
        code: Some(code),
        answered: true,
    }
}

/// Server messages may echo the request (`Value '[{...}]' at 'requestItems...'`), values
/// included; those parts are cut, and the message is kept short.
fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(400));
    let mut rest = message;
    while let Some(start) = rest.find("Value '") {
        out.push_str(&rest[..start + "Value '".len()]);
        rest = &rest[start + "Value '".len()..];
        match rest.find("' at '") {
            Some(end) => {
                out.push('…');
                rest = &rest[end..];
            }
            None => {
                out.push_str("…'");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    if out.chars().count() > 300 {
        let mut cut: String = out.chars().take(300).collect();
        cut.push('…');
        return cut;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> Failure {
        api_error(
            reqwest::StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
        )
    }

    #[test]
    fn errors_are_mapped_by_code() {
        let f = map(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
        );
        assert!(f.is("ProvisionedThroughputExceededException"));
        assert!(f.error.is_temporary());
        assert_eq!(f.error.kind(), ErrorKind::Backend);
        let f = map(
            400,
            r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad thing"}"#,
        );
        assert!(!f.error.is_temporary());
        assert!(
            f.error
                .to_string()
                .contains("ValidationException: bad thing")
        );
        let f = map(
            400,
            r#"{"__type":"com.amazon.coral.validate#ValidationException","Message":"Item size has exceeded the maximum allowed size"}"#,
        );
        assert_eq!(f.error.kind(), ErrorKind::ValueTooLarge);
        let f = map(500, r#"{"__type":"x#InternalServerError"}"#);
        assert!(f.error.is_temporary());
        let f = map(503, "<html>busy</html>");
        assert!(f.code.is_none() && f.error.is_temporary());
        let f = map(
            400,
            r#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
        );
        assert!(!f.error.is_temporary());
        assert!(f.error.to_string().contains("credentials"));
    }

    #[test]
    fn echoed_values_are_cut() {
        let m = redact_values(
            "1 validation error detected: Value '[{\"secret\": 1}]' at 'requestItems.t.member.keys' \
             failed to satisfy constraint",
        );
        assert!(!m.contains("secret"), "{m}");
        assert!(m.contains("at 'requestItems"), "{m}");
        assert_eq!(redact_values(&"x".repeat(500)).chars().count(), 301);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let api = Api {
            http: key_value_http::client(&key_value_http::HttpConfig::default()).unwrap(),
            url: Url::parse("http://127.0.0.1:1/").unwrap(),
            signer: Signer::new(
                key_value_http::sigv4::Credentials::new("a", "b"),
                "us-east-1",
                "dynamodb",
            ),
            max_retries: 3,
            base_delay: Duration::from_millis(100),
        };
        for attempt in 0..40 {
            let d = api.backoff(attempt);
            let full = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(16))
                .min(MAX_DELAY);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
    }
}

//! AWS Signature Version 4, for the DynamoDB and S3 stores.
//!
//! A signer adds `x-amz-date`, `authorization` and (with temporary credentials)
//! `x-amz-security-token` to a [`reqwest::Request`] built by the store; S3 also gets
//! `x-amz-content-sha256`. The canonical request follows AWS's rules: path segments encoded
//! once for S3 and twice for every other service, query pairs sorted, header names lower-cased.
//!
//! ```
//! use key_value_http::sigv4::{Credentials, Signer};
//! use key_value_core::time::Timestamp;
//!
//! let signer = Signer::new(
//!     Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
//!     "us-east-1",
//!     "dynamodb",
//! );
//! let mut request = reqwest::Request::new(
//!     reqwest::Method::POST,
//!     "http://127.0.0.1:8000/".parse().unwrap(),
//! );
//! // 2015-08-30T12:36:00Z
//! signer.sign(&mut request, Timestamp::from_unix_micros(1_440_938_160_000_000)).unwrap();
//! let auth = request.headers()["authorization"].to_str().unwrap();
//! assert!(auth.starts_with(
//!     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request"
//! ));
//! // The secret never appears in Debug output.
//! assert!(!format!("{signer:?}").contains("wJalr"));
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use key_value_core::time::Timestamp;
use key_value_core::{Error, ErrorKind, Result};
use reqwest::header::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

/// The SHA-256 of an empty body, the payload hash of every GET, HEAD and DELETE.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An AWS access key pair, with the session token of temporary credentials.
///
/// `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// Long-term credentials: an access key id and its secret.
    ///
    /// ```
    /// # use key_value_http::sigv4::Credentials;
    /// let creds = Credentials::new("AKID", "secret");
    /// assert_eq!(creds.access_key_id(), "AKID");
    /// assert!(!format!("{creds:?}").contains("secret\""));
    /// ```
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// Adds the session token of temporary (STS) credentials.
    ///
    /// ```
    /// # use key_value_http::sigv4::Credentials;
    /// let creds = Credentials::new("ASIA", "secret").with_session_token("token");
    /// assert!(!format!("{creds:?}").contains("token\""));
    /// ```
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and the optional
    /// `AWS_SESSION_TOKEN`; `None` when either of the first two is unset or empty.
    ///
    /// ```
    /// # use key_value_http::sigv4::Credentials;
    /// let from_env = Credentials::from_env();
    /// # drop(from_env);
    /// ```
    pub fn from_env() -> Option<Self> {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut creds = Credentials::new(get("AWS_ACCESS_KEY_ID")?, get("AWS_SECRET_ACCESS_KEY")?);
        creds.session_token = get("AWS_SESSION_TOKEN");
        Some(creds)
    }

    /// The access key id (not secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
}

/// The region from `AWS_REGION`, else `AWS_DEFAULT_REGION`.
///
/// ```
/// let region = key_value_http::sigv4::region_from_env().unwrap_or_else(|| "us-east-1".into());
/// assert!(!region.is_empty());
/// ```
pub fn region_from_env() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// Signs requests for one service in one region.
#[derive(Clone, Debug)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
}

impl Signer {
    /// A signer for `service` (`"dynamodb"`, `"s3"`, ...) in `region`.
    ///
    /// ```
    /// # use key_value_http::sigv4::{Credentials, Signer};
    /// let signer = Signer::new(Credentials::new("AKID", "secret"), "eu-west-1", "s3");
    /// assert_eq!(signer.region(), "eu-west-1");
    /// ```
    pub fn new(
        credentials: Credentials,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Signer {
            credentials,
            region: region.into(),
            service: service.into(),
        }
    }

    /// The access key id requests are signed with (not secret: it names the key).
    pub fn access_key_id(&self) -> &str {
        self.credentials.access_key_id()
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs `request` as of `now`, adding the signature headers.
    ///
    /// The body must be in memory (not a stream). A header value that is not visible ASCII is
    /// an [`ErrorKind::InvalidArgument`] error.
    pub fn sign(&self, request: &mut reqwest::Request, now: Timestamp) -> Result<()> {
        let is_s3 = self.service == "s3";
        let payload_hash = match request.body() {
            None => EMPTY_SHA256.to_string(),
            Some(body) => match body.as_bytes() {
                Some(bytes) => hex::encode(Sha256::digest(bytes)),
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "cannot sign a streaming request body",
                    ));
                }
            },
        };
        let amz_date = amz_date(now);
        let date = &amz_date[..8];

        let headers = request.headers_mut();
        insert(headers, "x-amz-date", &amz_date)?;
        if is_s3 {
            insert(headers, "x-amz-content-sha256", &payload_hash)?;
        }
        if let Some(token) = &self.credentials.session_token {
            insert(headers, "x-amz-security-token", token)?;
        }

        let url = request.url();
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => {
                return Err(Error::new(ErrorKind::InvalidArgument, "URL without a host"));
            }
        };

        // Canonical headers: host plus every header the request carries, sorted by name.
        let mut signed: Vec<(String, String)> = vec![("host".to_string(), host)];
        for (name, value) in request.headers() {
            let value = value.to_str().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("header {name} is not visible ASCII"),
                )
            })?;
            signed.push((name.as_str().to_string(), normalize_space(value)));
        }
        signed.sort();
        let mut merged: Vec<(String, String)> = Vec::with_capacity(signed.len());
        for (name, value) in signed {
            match merged.last_mut() {
                Some((last, joined)) if *last == name => {
                    joined.push(',');
                    joined.push_str(&value);
                }
                _ => merged.push((name, value)),
            }
        }
        let signed_headers = merged
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(";");

        let canonical_request = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            request.method().as_str(),
            canonical_uri(url.path(), !is_s3),
            canonical_query(url),
            merged
                .iter()
                .map(|(n, v)| format!("{n}:{v}\n"))
                .collect::<String>(),
            signed_headers,
            payload_hash,
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let key = format!("AWS4{}", self.credentials.secret_access_key);
        let k_date = hmac(key.as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, self.service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.credentials.access_key_id
        );
        insert(request.headers_mut(), "authorization", &authorization)?;
        Ok(())
    }
}

fn insert(headers: &mut reqwest::header::HeaderMap, name: &'static str, value: &str) -> Result<()> {
    let value = HeaderValue::from_str(value).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{name} is not a valid header value"),
        )
    })?;
    headers.insert(HeaderName::from_static(name), value);
    Ok(())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` from the ISO form `YYYY-MM-DDTHH:MM:SS...`.
fn amz_date(now: Timestamp) -> String {
    let iso =
        Timestamp::from_unix_micros(now.unix_micros().div_euclid(1_000_000) * 1_000_000).to_iso();
    let digits: String = iso
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{digits}Z")
}

fn normalize_space(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Percent-encodes `text` the way AWS expects: every byte except `A-Z a-z 0-9 - _ . ~`, and
/// `/` too unless `keep_slash`.
///
/// ```
/// use key_value_http::sigv4::uri_encode;
/// assert_eq!(uri_encode("a b/c~(d)", true), "a%20b/c~%28d%29");
/// assert_eq!(uri_encode("a/b", false), "a%2Fb");
/// assert_eq!(uri_encode("é", true), "%C3%A9");
/// ```
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                out.push('%');
                out.push_str(&format!("{byte:02X}"));
            }
        }
    }
    out
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn canonical_uri(path: &str, double_encode: bool) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    path.split('/')
        .map(|segment| {
            let raw = String::from_utf8_lossy(&percent_decode(segment)).into_owned();
            let once = uri_encode(&raw, false);
            if double_encode {
                uri_encode(&once, false)
            } else {
                once
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(url: &reqwest::Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(iso: &str) -> Timestamp {
        Timestamp::parse_iso(iso).expect("valid timestamp")
    }

    fn example() -> Credentials {
        Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    }

    /// `get-vanilla` from AWS's SigV4 test suite.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let signer = Signer::new(example(), "us-east-1", "service");
        let mut request = reqwest::Request::new(
            reqwest::Method::GET,
            "https://example.amazonaws.com/".parse().unwrap(),
        );
        signer
            .sign(&mut request, at("2015-08-30T12:36:00+00:00"))
            .unwrap();
        assert_eq!(
            request.headers()["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(request.headers()["x-amz-date"], "20150830T123600Z");
    }

    /// `get-vanilla-query-order-key-case` from AWS's SigV4 test suite: query pairs sorted.
    #[test]
    fn aws_test_suite_query_order() {
        let signer = Signer::new(example(), "us-east-1", "service");
        let mut request = reqwest::Request::new(
            reqwest::Method::GET,
            "https://example.amazonaws.com/?Param2=value2&Param1=value1"
                .parse()
                .unwrap(),
        );
        signer
            .sign(&mut request, at("2015-08-30T12:36:00+00:00"))
            .unwrap();
        assert_eq!(
            request.headers()["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    /// The GET-object example of the S3 SigV4 documentation (with a Range header).
    #[test]
    fn s3_documentation_get_object() {
        let signer = Signer::new(
            Credentials::new(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            "us-east-1",
            "s3",
        );
        let mut request = reqwest::Request::new(
            reqwest::Method::GET,
            "https://examplebucket.s3.amazonaws.com/test.txt"
                .parse()
                .unwrap(),
        );
        request
            .headers_mut()
            .insert("range", HeaderValue::from_static("bytes=0-9"));
        signer
            .sign(&mut request, at("2013-05-24T00:00:00+00:00"))
            .unwrap();
        assert_eq!(
            request.headers()["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn session_token_is_signed_and_sent() {
        let signer = Signer::new(example().with_session_token("tok"), "us-east-1", "dynamodb");
        let mut request = reqwest::Request::new(
            reqwest::Method::POST,
            "http://127.0.0.1:8000/".parse().unwrap(),
        );
        signer
            .sign(&mut request, at("2015-08-30T12:36:00+00:00"))
            .unwrap();
        assert_eq!(request.headers()["x-amz-security-token"], "tok");
        let auth = request.headers()["authorization"].to_str().unwrap();
        assert!(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token"));
        assert!(!format!("{signer:?}").contains("tok\""));
    }

    #[test]
    fn canonical_uri_encodes_segments() {
        assert_eq!(
            canonical_uri("/bucket/a%20b(c)", false),
            "/bucket/a%20b%28c%29"
        );
        assert_eq!(canonical_uri("/a%20b", true), "/a%2520b");
        assert_eq!(canonical_uri("", true), "/");
    }
}

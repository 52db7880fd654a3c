//! Test helpers: the servers of `services/rclone` and `services/moto`, a bucket per test, and
//! raw signed requests that bypass the store.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use key_value_core::time::Timestamp;
use key_value_http::reqwest::{self, Method};
use key_value_http::sigv4::{Credentials, Signer, uri_encode};
use key_value_http::{HttpConfig, client};
use key_value_s3::S3Config;
use key_value_testkit::service::service_env;

/// One of the S3 servers the tests run against.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: &'static str,
    pub url: String,
    pub access_key: String,
    pub secret_key: String,
    /// Whether the server checks signatures and access keys.
    pub checks_signatures: bool,
    /// The per-part byte limit the sanitization must keep to (rclone: file names).
    pub max_part_bytes: usize,
}

/// rclone `serve s3` (`KV_RCLONE_S3_URL` and its keys); `None` (after saying so) outside CI
/// when it is not running.
pub fn rclone(test: &str) -> Option<Server> {
    let url = service_env("KV_RCLONE_S3_URL", test)?;
    Some(Server {
        name: "rclone",
        url,
        access_key: std::env::var("KV_RCLONE_S3_ACCESS_KEY").expect("KV_RCLONE_S3_ACCESS_KEY"),
        secret_key: std::env::var("KV_RCLONE_S3_SECRET_KEY").expect("KV_RCLONE_S3_SECRET_KEY"),
        checks_signatures: true,
        max_part_bytes: 255,
    })
}

/// moto (`KV_MOTO_URL`, any credentials); `None` (after saying so) outside CI when it is not
/// running.
pub fn moto(test: &str) -> Option<Server> {
    let url = service_env("KV_MOTO_URL", test)?;
    Some(Server {
        name: "moto",
        url,
        access_key: "test".to_string(),
        secret_key: "test".to_string(),
        checks_signatures: false,
        max_part_bytes: 500,
    })
}

/// SeaweedFS's S3 gateway (`KV_SEAWEEDFS_S3_URL`, any credentials); `None` (after saying
/// so) outside CI when it is not running.
pub fn seaweedfs(test: &str) -> Option<Server> {
    let url = service_env("KV_SEAWEEDFS_S3_URL", test)?;
    Some(Server {
        name: "seaweedfs",
        url,
        access_key: "test".to_string(),
        secret_key: "test".to_string(),
        checks_signatures: false,
        max_part_bytes: 255,
    })
}

/// A valid bucket name unique to `namespace` (a `Fixture::namespace` or `unique_name`):
/// lower case, `-` for anything else, at most 63 characters (cut with a hash of the whole).
pub fn bucket_for(namespace: &str) -> String {
    let mut name: String = namespace
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if name.len() > 63 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in namespace.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        name.truncate(46);
        name.push_str(&format!("-{h:016x}"));
    }
    name.trim_matches('-').to_string()
}

/// A unique bucket name for a test.
pub fn unique_bucket(test: &str) -> String {
    bucket_for(&key_value_testkit::unique_name(test))
}

impl Server {
    /// The store configuration for `bucket` on this server.
    pub fn config(&self, bucket: &str) -> S3Config {
        S3Config::new(bucket)
            .endpoint(&self.url)
            .region("us-east-1")
            .credentials(Credentials::new(&self.access_key, &self.secret_key))
            .max_bytes(self.max_part_bytes, self.max_part_bytes)
    }

    fn signer(&self) -> Signer {
        Signer::new(
            Credentials::new(&self.access_key, &self.secret_key),
            "us-east-1",
            "s3",
        )
    }

    /// A raw signed request, bypassing the store: status, headers and body.
    pub async fn raw(
        &self,
        method: Method,
        bucket: &str,
        object: Option<&str>,
        query: &str,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut url = format!("{}/{bucket}", self.url);
        if let Some(object) = object {
            url.push('/');
            url.push_str(&uri_encode(object, true));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let http = client(&HttpConfig::default()).unwrap();
        let mut request = http.request(method, &url).build().unwrap();
        self.signer()
            .sign(&mut request, Timestamp::now_system())
            .unwrap();
        let response = http.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    /// A raw signed GET of an object.
    pub async fn raw_get(
        &self,
        bucket: &str,
        object: &str,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        self.raw(Method::GET, bucket, Some(object), "").await
    }

    /// A raw signed HEAD of an object: its status.
    pub async fn raw_head(&self, bucket: &str, object: &str) -> u16 {
        self.raw(Method::HEAD, bucket, Some(object), "").await.0
    }

    /// A raw signed PUT of an object with a body (for data the store did not write).
    pub async fn raw_put(&self, bucket: &str, object: &str, body: &[u8]) -> u16 {
        let url = format!("{}/{bucket}/{}", self.url, uri_encode(object, true));
        let http = client(&HttpConfig::default()).unwrap();
        let mut request = http
            .request(Method::PUT, &url)
            .body(body.to_vec())
            .build()
            .unwrap();
        self.signer()
            .sign(&mut request, Timestamp::now_system())
            .unwrap();
        http.execute(request).await.unwrap().status().as_u16()
    }
}

//! The one HTTP stack of key-value's REST stores (DynamoDB, S3, Azure Tables, Firestore, ...).
//!
//! Every REST store builds its client with [`client`], so they all share one TLS setup (rustls
//! with the `ring` provider: no OpenSSL, no aws-lc), the same timeouts, and the same mapping of
//! transport failures and HTTP statuses to [`key_value_core::Error`]s:
//!
//! - connection refused / reset → [`ErrorKind::Connection`], temporary;
//! - a timeout → [`ErrorKind::Timeout`], temporary;
//! - HTTP 408, 429 and 5xx → [`ErrorKind::Backend`], temporary (worth retrying);
//! - any other status → [`ErrorKind::Backend`], permanent.
//!
//! Request signing lives here too, one module per provider that needs a shared signer:
//! [`sigv4`] for AWS (DynamoDB and S3).
//!
//! ```
//! use key_value_http::{client, HttpConfig};
//! use std::time::Duration;
//!
//! let http = client(&HttpConfig::default().timeout(Duration::from_secs(10))).unwrap();
//! # drop(http);
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use reqwest;

use key_value_core::{Error, ErrorKind, Result};

pub mod aws_profile;
pub mod sigv4;

/// How a REST store's HTTP client connects: timeouts and TLS trust.
///
/// The default trusts the platform's root certificates, times a whole request out after 30 s
/// and a connection attempt after 10 s.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The longest a whole request (connect, send, receive) may take.
    pub timeout: Duration,
    /// The longest a connection attempt may take.
    pub connect_timeout: Duration,
    /// A PEM file of extra CA certificates to trust (a private CA, an emulator's certificate).
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate. Only for development against self-signed emulators.
    pub insecure: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            ca_file: None,
            insecure: false,
        }
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("ca_file", &self.ca_file)
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl HttpConfig {
    /// Sets the whole-request timeout.
    ///
    /// ```
    /// # use key_value_http::HttpConfig;
    /// # use std::time::Duration;
    /// let config = HttpConfig::default().timeout(Duration::from_secs(5));
    /// assert_eq!(config.timeout, Duration::from_secs(5));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connection timeout.
    ///
    /// ```
    /// # use key_value_http::HttpConfig;
    /// # use std::time::Duration;
    /// let config = HttpConfig::default().connect_timeout(Duration::from_secs(2));
    /// assert_eq!(config.connect_timeout, Duration::from_secs(2));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts the CA certificates of a PEM file in addition to the platform's.
    ///
    /// ```
    /// # use key_value_http::HttpConfig;
    /// let config = HttpConfig::default().ca_file("/etc/my-ca.pem");
    /// assert!(config.ca_file.is_some());
    /// ```
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Accepts any server certificate (development only).
    ///
    /// ```
    /// # use key_value_http::HttpConfig;
    /// assert!(HttpConfig::default().insecure(true).insecure);
    /// ```
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }
}

/// Builds the shared HTTP client: rustls with `ring`, HTTP/1.1 and HTTP/2, the configured
/// timeouts and trust.
///
/// A missing or unreadable `ca_file` is a [`ErrorKind::Config`] error.
///
/// ```
/// use key_value_http::{client, HttpConfig};
/// use key_value_core::ErrorKind;
///
/// assert!(client(&HttpConfig::default()).is_ok());
/// let err = client(&HttpConfig::default().ca_file("/nonexistent/ca.pem")).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Config);
/// ```
pub fn client(config: &HttpConfig) -> Result<reqwest::Client> {
    let tls = tls_config(config)?;
    reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Config, "could not build the HTTP client").with_source(e)
        })
}

fn tls_config(config: &HttpConfig) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            Error::new(ErrorKind::Config, "no usable TLS protocol version").with_source(e)
        })?;
    let mut tls = if config.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        // The platform's roots may be absent (minimal containers); an explicit CA still works.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("cannot read CA file {}", path.display()),
                )
                .with_source(e)
            })?;
            let mut added = 0;
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
                let cert: rustls::pki_types::CertificateDer<'static> = cert.map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("bad PEM in CA file {}", path.display()),
                    )
                    .with_source(e)
                })?;
                roots.add(cert).map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("bad certificate in {}", path.display()),
                    )
                    .with_source(e)
                })?;
                added += 1;
            }
            if added == 0 {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("no certificate in CA file {}", path.display()),
                ));
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// The verifier behind [`HttpConfig::insecure`]: signatures are still checked, names and
/// chains are not.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Turns a transport failure (no HTTP status) into an [`Error`]: timeouts are temporary
/// [`ErrorKind::Timeout`], everything else a temporary [`ErrorKind::Connection`].
///
/// The URL is left out of the message (it may hold a signed query or a secret).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use key_value_http::{client, transport_error, HttpConfig};
/// use key_value_core::ErrorKind;
///
/// let http = client(&HttpConfig::default()).unwrap();
/// // Nothing listens on port 9 of the loopback interface.
/// let err = http.get("http://127.0.0.1:9/").send().await.unwrap_err();
/// let err = transport_error(err);
/// assert_eq!(err.kind(), ErrorKind::Connection);
/// assert!(err.is_temporary());
/// # }
/// ```
pub fn transport_error(error: reqwest::Error) -> Error {
    let error = error.without_url();
    if error.is_timeout() {
        Error::new(ErrorKind::Timeout, "the HTTP request timed out")
            .with_temporary(true)
            .with_source(error)
    } else if error.is_decode() || error.is_body() {
        Error::new(ErrorKind::Backend, "could not read the HTTP response")
            .with_temporary(true)
            .with_source(error)
    } else {
        Error::new(ErrorKind::Connection, "could not reach the server")
            .with_temporary(true)
            .with_source(error)
    }
}

/// Whether an HTTP status says "try again later": 408, 429 and every 5xx. The one rule behind
/// [`status_error`], for stores that map their service's own error codes first.
///
/// ```
/// use key_value_http::{is_temporary_status, reqwest::StatusCode};
///
/// assert!(is_temporary_status(StatusCode::TOO_MANY_REQUESTS));
/// assert!(is_temporary_status(StatusCode::BAD_GATEWAY));
/// assert!(!is_temporary_status(StatusCode::NOT_FOUND));
/// ```
pub fn is_temporary_status(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
}

/// Turns an unexpected HTTP status into an [`ErrorKind::Backend`] error whose message holds the
/// status and the start of the response body (the server's own error text); 408, 429 and 5xx
/// are temporary.
///
/// ```
/// use key_value_http::{status_error, reqwest::StatusCode};
///
/// let err = status_error(StatusCode::SERVICE_UNAVAILABLE, "SlowDown");
/// assert!(err.is_temporary());
/// assert!(err.to_string().contains("503"));
/// assert!(!status_error(StatusCode::FORBIDDEN, "denied").is_temporary());
/// ```
pub fn status_error(status: reqwest::StatusCode, body: &str) -> Error {
    let temporary = is_temporary_status(status);
    let mut snippet: String = body.chars().take(300).collect();
    if snippet.len() < body.len() {
        snippet.push('…');
    }
    let snippet = snippet.trim();
    let message = if snippet.is_empty() {
        format!("the server answered HTTP {status}")
    } else {
        format!("the server answered HTTP {status}: {snippet}")
    };
    Error::new(ErrorKind::Backend, message).with_temporary(temporary)
}

//! Who the store says it is: [`Credentials`], and the cached access tokens behind them.
//!
//! - [`Credentials::emulator`]: `Authorization: Bearer owner`, which the Firestore emulator
//!   treats as an administrator (security rules bypassed).
//! - [`Credentials::anonymous`]: no `Authorization` header at all.
//! - [`Credentials::access_token`]: a static OAuth2 access token you obtained elsewhere (it is
//!   never refreshed; Google's tokens live one hour).
//! - [`Credentials::service_account`]: a service-account JSON key. The store signs an RS256
//!   JWT with the key (`ring`) and exchanges it at the key's `token_uri` (OAuth 2.0 JWT bearer
//!   grant, RFC 7523) for an access token with the `datastore` scope, cached until five
//!   minutes before it expires and refreshed by one caller while the others wait.
//! - [`Credentials::metadata_server`]: the token of the attached service account from the
//!   Compute Engine metadata server (Cloud Run, GKE, GCE), cached the same way.
//!
//! The JWT is checked by this crate's tests (structure, claims, and the signature verified
//! with the public key and by `openssl`); the exchange with Google's token endpoint and the
//! metadata server **could not be tested here** (no network) and are unverified.
//!
//! Secrets (private keys, tokens, the signed assertion) never appear in `Debug` output or in
//! errors.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use key_value_core::{Error, ErrorKind, Result};
use key_value_http::reqwest::header::HeaderValue;
use key_value_http::{reqwest, status_error, transport_error};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;

/// The OAuth2 scope of Cloud Firestore (and Datastore).
pub const FIRESTORE_SCOPE: &str = "https://www.googleapis.com/auth/datastore";

/// Google's OAuth2 token endpoint, used when a key names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// How long a signed assertion is valid (Google accepts at most one hour).
const ASSERTION_LIFETIME: u64 = 3600;

/// A cached token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A service-account key, as Google's JSON key file holds it (`"type": "service_account"`).
///
/// The private key is parsed (PKCS#8 or PKCS#1 PEM) when the key is read, so a broken key
/// file is a [`Config`](ErrorKind::Config) error at once, not at the first call. `Debug`
/// shows the account, never the key.
///
/// ```
/// use key_value_firestore::ServiceAccountKey;
/// let err = ServiceAccountKey::from_json(r#"{"type": "service_account", "client_email": "a@b", "private_key": "nope"}"#)
///     .unwrap_err();
/// assert_eq!(err.kind(), key_value_core::ErrorKind::Config);
/// assert!(!err.to_string().contains("nope"));
/// ```
#[derive(Clone)]
pub struct ServiceAccountKey {
    client_email: String,
    private_key_id: Option<String>,
    token_uri: String,
    project_id: Option<String>,
    key: Arc<RsaKeyPair>,
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
    project_id: Option<String>,
}

impl ServiceAccountKey {
    /// Reads a service-account JSON key. A file that is not JSON, not of type
    /// `service_account`, lacks `client_email` or `private_key`, or whose key is not an RSA
    /// key in PEM form is a [`Config`](ErrorKind::Config) error that never quotes the key.
    pub fn from_json(text: &str) -> Result<Self> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| {
            // serde_json's message holds a line and column, never the text.
            Error::new(
                ErrorKind::Config,
                format!("the service-account key is not valid JSON ({e})"),
            )
        })?;
        if let Some(kind) = file.kind.as_deref() {
            if kind != "service_account" {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the credentials are of type {kind:?}; only \"service_account\" keys are \
                         supported (or pass an access token)"
                    ),
                ));
            }
        }
        let client_email = file.client_email.filter(|s| !s.is_empty()).ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "the service-account key has no client_email",
            )
        })?;
        let pem = file.private_key.ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "the service-account key has no private_key",
            )
        })?;
        let key = parse_rsa_pem(&pem)?;
        Ok(ServiceAccountKey {
            client_email,
            private_key_id: file.private_key_id.filter(|s| !s.is_empty()),
            token_uri: file
                .token_uri
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string()),
            project_id: file.project_id.filter(|s| !s.is_empty()),
            key: Arc::new(key),
        })
    }

    /// Reads a service-account JSON key file (what `GOOGLE_APPLICATION_CREDENTIALS` names).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read the service-account key {}", path.display()),
            )
            .with_source(e)
        })?;
        ServiceAccountKey::from_json(&text)
    }

    /// The service account's e-mail address (the JWT's issuer).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The project the key belongs to, if the key file names it.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// Where the signed assertion is exchanged for an access token.
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The signed JWT (RS256) this key exchanges for an access token: header
    /// `{"alg": "RS256", "typ": "JWT", "kid": <private_key_id>}`, claims `iss` (the account),
    /// `scope`, `aud` (the token URI), `iat` = `issued_at` (Unix seconds) and `exp` one hour
    /// later. It is a credential: do not log it.
    pub fn signed_jwt(&self, scope: &str, issued_at: u64) -> Result<String> {
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), "RS256".into());
        header.insert("typ".into(), "JWT".into());
        if let Some(kid) = &self.private_key_id {
            header.insert("kid".into(), kid.clone().into());
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": scope,
            "aud": self.token_uri,
            "iat": issued_at,
            "exp": issued_at + ASSERTION_LIFETIME,
        });
        let mut jwt = URL_SAFE_NO_PAD.encode(serde_json::Value::Object(header).to_string());
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jwt.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::new(ErrorKind::Config, "could not sign the JWT with the key"))?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jwt)
    }

    /// The public half of the key (DER `RSAPublicKey`), to verify [`signed_jwt`](Self::signed_jwt).
    pub fn public_key_der(&self) -> Vec<u8> {
        use ring::signature::KeyPair;
        self.key.public_key().as_ref().to_vec()
    }
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .field("token_uri", &self.token_uri)
            .field("private_key", &"<hidden>")
            .finish()
    }
}

/// The RSA key of a PEM block: `PRIVATE KEY` (PKCS#8, what Google's key files hold) or
/// `RSA PRIVATE KEY` (PKCS#1).
fn parse_rsa_pem(pem: &str) -> Result<RsaKeyPair> {
    let bad = |what: &str| {
        Error::new(
            ErrorKind::Config,
            format!("the service-account private_key is not {what}"),
        )
    };
    for (label, pkcs8) in [("PRIVATE KEY", true), ("RSA PRIVATE KEY", false)] {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let Some(start) = pem.find(&begin) else {
            continue;
        };
        let body = &pem[start + begin.len()..];
        let stop = body.find(&end).ok_or_else(|| bad("a complete PEM block"))?;
        let b64: String = body[..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| bad("valid base64 PEM"))?;
        let key = if pkcs8 {
            RsaKeyPair::from_pkcs8(&der)
        } else {
            RsaKeyPair::from_der(&der)
        };
        return key.map_err(|e| {
            // KeyRejected's text is a fixed description ("InvalidEncoding", ...).
            Error::new(
                ErrorKind::Config,
                format!("the service-account private_key is not a usable RSA key ({e})"),
            )
        });
    }
    Err(bad("a PEM private key (-----BEGIN PRIVATE KEY-----)"))
}

/// How the store authenticates its requests. `Debug` never shows a token or key.
///
/// ```
/// use key_value_firestore::Credentials;
/// let c = Credentials::access_token("ya29.secret-token");
/// assert!(!format!("{c:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Emulator,
    Anonymous,
    Token(HeaderValue),
    ServiceAccount(ServiceAccountKey),
    MetadataServer,
}

impl Credentials {
    /// `Authorization: Bearer owner`: the Firestore emulator's administrator, which bypasses
    /// security rules. The default against an emulator.
    pub fn emulator() -> Self {
        Credentials {
            kind: Kind::Emulator,
        }
    }

    /// No `Authorization` header (an emulator with security rules, a proxy that adds its own).
    pub fn anonymous() -> Self {
        Credentials {
            kind: Kind::Anonymous,
        }
    }

    /// A static OAuth2 access token (`Authorization: Bearer <token>`), used as is and never
    /// refreshed. A token that cannot be an HTTP header value (control characters) makes
    /// every call fail with a [`Config`](ErrorKind::Config) error.
    pub fn access_token(token: impl Into<String>) -> Self {
        let token = token.into();
        let value = HeaderValue::from_str(&format!("Bearer {token}")).map(|mut v| {
            v.set_sensitive(true);
            v
        });
        match value {
            Ok(v) => Credentials {
                kind: Kind::Token(v),
            },
            // Kept as an always-failing token: the builder is infallible, the error comes at
            // the first call (see `header`).
            Err(_) => Credentials {
                kind: Kind::Token(HeaderValue::from_static("")),
            },
        }
    }

    /// A service-account key: tokens are obtained by signing a JWT and exchanging it (see
    /// the [module docs](self)).
    pub fn service_account(key: ServiceAccountKey) -> Self {
        Credentials {
            kind: Kind::ServiceAccount(key),
        }
    }

    /// A service-account JSON key file.
    pub fn service_account_file(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Credentials::service_account(ServiceAccountKey::from_file(
            path,
        )?))
    }

    /// Tokens of the attached service account from the Compute Engine metadata server
    /// (`GCE_METADATA_HOST`, default `metadata.google.internal`). Unverified here.
    pub fn metadata_server() -> Self {
        Credentials {
            kind: Kind::MetadataServer,
        }
    }

    /// The service-account key, for these credentials.
    pub fn service_account_key(&self) -> Option<&ServiceAccountKey> {
        match &self.kind {
            Kind::ServiceAccount(k) => Some(k),
            _ => None,
        }
    }

    /// A short name of the kind: `emulator`, `anonymous`, `access-token`, `service-account`,
    /// `metadata-server`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Emulator => "emulator",
            Kind::Anonymous => "anonymous",
            Kind::Token(_) => "access-token",
            Kind::ServiceAccount(_) => "service-account",
            Kind::MetadataServer => "metadata-server",
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::ServiceAccount(k) => f
                .debug_tuple("Credentials::ServiceAccount")
                .field(&k.client_email)
                .finish(),
            Kind::Token(_) => f.write_str("Credentials::AccessToken(<hidden>)"),
            Kind::Emulator => f.write_str("Credentials::Emulator"),
            Kind::Anonymous => f.write_str("Credentials::Anonymous"),
            Kind::MetadataServer => f.write_str("Credentials::MetadataServer"),
        }
    }
}

/// A token and when to stop using it.
struct Cached {
    header: HeaderValue,
    refresh_at: Instant,
}

/// Hands out the `Authorization` header of each request, fetching and caching tokens.
pub(crate) struct Authorizer {
    credentials: Credentials,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
    // One refresh at a time; the others wait and then use its token.
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl Authorizer {
    pub(crate) fn new(credentials: Credentials, http: reqwest::Client) -> Self {
        Authorizer {
            credentials,
            http,
            cached: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The header for the next request, `None` for anonymous requests.
    pub(crate) async fn header(&self) -> Result<Option<HeaderValue>> {
        match &self.credentials.kind {
            Kind::Emulator => Ok(Some(HeaderValue::from_static("Bearer owner"))),
            Kind::Anonymous => Ok(None),
            Kind::Token(v) if v.is_empty() => Err(Error::new(
                ErrorKind::Config,
                "the access token contains characters an HTTP header cannot hold",
            )),
            Kind::Token(v) => Ok(Some(v.clone())),
            Kind::ServiceAccount(_) | Kind::MetadataServer => self.cached_token().await.map(Some),
        }
    }

    /// Forgets the cached token (after the server refused it), so the next call fetches one.
    pub(crate) fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn fresh(&self) -> Option<HeaderValue> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.header.clone())
    }

    async fn cached_token(&self) -> Result<HeaderValue> {
        if let Some(h) = self.fresh() {
            return Ok(h);
        }
        let _guard = self.refresh.lock().await;
        if let Some(h) = self.fresh() {
            return Ok(h);
        }
        let started = Instant::now();
        let response = match &self.credentials.kind {
            Kind::ServiceAccount(key) => self.exchange(key).await?,
            _ => self.metadata_server_token().await?,
        };
        let mut header = HeaderValue::from_str(&format!("Bearer {}", response.access_token))
            .map_err(|_| {
                Error::new(
                    ErrorKind::Backend,
                    "the token endpoint returned an access token that is not a valid header",
                )
            })?;
        header.set_sensitive(true);
        let lifetime = Duration::from_secs(response.expires_in.unwrap_or(3600));
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            header: header.clone(),
            refresh_at: started + lifetime - margin,
        });
        Ok(header)
    }

    /// The JWT bearer grant (RFC 7523) at the key's token URI.
    async fn exchange(&self, key: &ServiceAccountKey) -> Result<TokenResponse> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let jwt = key.signed_jwt(FIRESTORE_SCOPE, now)?;
        // The JWT is base64url and dots only: nothing to escape in the form.
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}"
        );
        let request = self
            .http
            .post(&key.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.token_request(request, &key.token_uri).await
    }

    async fn metadata_server_token(&self) -> Result<TokenResponse> {
        let host = std::env::var("GCE_METADATA_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "metadata.google.internal".to_string());
        let url = format!(
            "http://{host}/computeMetadata/v1/instance/service-accounts/default/token?scopes={}",
            key_value_http::sigv4::uri_encode(FIRESTORE_SCOPE, false)
        );
        let request = self.http.get(&url).header("metadata-flavor", "Google");
        self.token_request(request, "the metadata server").await
    }

    async fn token_request(
        &self,
        request: reqwest::RequestBuilder,
        from: &str,
    ) -> Result<TokenResponse> {
        let context = |e: Error| {
            let message = format!("could not get an access token from {from}: {}", e.message());
            Error::new(e.kind(), message)
                .with_temporary(e.is_temporary())
                .with_source(e)
        };
        let response = request
            .send()
            .await
            .map_err(|e| context(transport_error(e)))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| context(transport_error(e)))?;
        if !status.is_success() {
            // OAuth error bodies are `{"error": ..., "error_description": ...}`: no secrets.
            return Err(context(status_error(status, &text)));
        }
        serde_json::from_str::<TokenResponse>(&text).map_err(|_| {
            Error::new(
                ErrorKind::Backend,
                format!("could not get an access token from {from}: unexpected response"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_are_config_errors_without_the_key() {
        for text in [
            "not json",
            r#"{"type": "authorized_user", "client_email": "a@b", "private_key": "x"}"#,
            r#"{"type": "service_account", "private_key": "x"}"#,
            r#"{"type": "service_account", "client_email": "a@b"}"#,
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA-secret-AAAA\n-----END PRIVATE KEY-----\n"}"#,
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nTUlJQmFkS2V5c2VjcmV0\n-----END PRIVATE KEY-----\n"}"#,
        ] {
            let err = ServiceAccountKey::from_json(text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{text}");
            assert!(!format!("{err} {err:?}").contains("secret"), "{err:?}");
        }
    }

    #[test]
    fn debug_hides_tokens() {
        let c = Credentials::access_token("ya29.very-secret");
        assert!(!format!("{c:?}").contains("secret"));
        assert_eq!(c.kind_name(), "access-token");
    }

    #[tokio::test]
    async fn static_and_emulator_headers() {
        let http = key_value_http::client(&Default::default()).unwrap();
        let a = Authorizer::new(Credentials::access_token("abc"), http.clone());
        let h = a.header().await.unwrap().unwrap();
        assert_eq!(h.to_str().unwrap(), "Bearer abc");
        assert!(h.is_sensitive());
        let a = Authorizer::new(Credentials::emulator(), http.clone());
        assert_eq!(
            a.header().await.unwrap().unwrap().to_str().unwrap(),
            "Bearer owner"
        );
        let a = Authorizer::new(Credentials::anonymous(), http.clone());
        assert!(a.header().await.unwrap().is_none());
        let a = Authorizer::new(Credentials::access_token("bad\ntoken"), http);
        let err = a.header().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!err.to_string().contains("token\n"));
    }
}

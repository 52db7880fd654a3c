//! Authentication of Table service requests: Shared Key, Shared Key Lite and SAS tokens.
//!
//! Shared Key signs `VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedResource`
//! with HMAC-SHA256 under the base64-decoded account key; Shared Key Lite signs only
//! `Date \n CanonicalizedResource`. For the Table service the canonicalized resource is
//! `/<account><URL path as sent>` (percent-encoded, so an emulator's path-style URL gives
//! `/devstoreaccount1/devstoreaccount1/table`), plus `?comp=<value>` when the query has a `comp`
//! parameter; no other query parameter and no `x-ms-` header is signed. The date is sent both
//! as `x-ms-date` and `Date`, as the Python and .NET SDKs do.
//!
//! A SAS token is appended to every request's query instead; nothing is signed.
//!
//! ```
//! use key_value_azure_tables::auth::{shared_key_string_to_sign, sign};
//!
//! let string_to_sign = shared_key_string_to_sign(
//!     "GET",
//!     "",
//!     "Wed, 25 Nov 2026 22:46:43 GMT",
//!     "/devstoreaccount1/devstoreaccount1/kvtable(PartitionKey='c',RowKey='k')",
//! );
//! // The well-known development key of Azurite, published by Microsoft.
//! let key = key_value_azure_tables::DEVELOPMENT_ACCOUNT_KEY;
//! let key = key_value_azure_tables::auth::decode_account_key(key)?;
//! assert_eq!(sign(&key, &string_to_sign), "cFCo983iKHB3BeCBt1HGDXZmXyncNQwxjFECA2AhTeE=");
//! # Ok::<(), key_value_core::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use key_value_core::{Error, ErrorKind, Result};
use key_value_http::reqwest;
use key_value_http::reqwest::header::{AUTHORIZATION, CONTENT_TYPE, DATE, HeaderValue};
use sha2::Sha256;

/// How requests prove who they come from. `Debug` never shows the key or the token.
#[derive(Clone)]
pub enum Credential {
    /// Shared Key (`Authorization: SharedKey account:signature`), what the Python and .NET SDKs
    /// use with an account key.
    SharedKey {
        /// The storage account's name.
        account: String,
        /// The account key, base64-decoded.
        key: Arc<[u8]>,
    },
    /// Shared Key Lite (`Authorization: SharedKeyLite account:signature`): signs less of the
    /// request; for proxies that rewrite `Content-Type`.
    SharedKeyLite {
        /// The storage account's name.
        account: String,
        /// The account key, base64-decoded.
        key: Arc<[u8]>,
    },
    /// A shared access signature (account or table SAS), appended to every request's query.
    Sas {
        /// The token without a leading `?` (`sv=...&sig=...`).
        token: Arc<str>,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::SharedKey { account, .. } => f
                .debug_struct("SharedKey")
                .field("account", account)
                .field("key", &"<hidden>")
                .finish(),
            Credential::SharedKeyLite { account, .. } => f
                .debug_struct("SharedKeyLite")
                .field("account", account)
                .field("key", &"<hidden>")
                .finish(),
            Credential::Sas { .. } => f.debug_struct("Sas").field("token", &"<hidden>").finish(),
        }
    }
}

impl Credential {
    /// Shared Key with an account name and its base64 account key; a key that is not base64
    /// is a [`Config`](ErrorKind::Config) error (which does not show the key).
    ///
    /// ```
    /// use key_value_azure_tables::auth::Credential;
    /// let c = Credential::shared_key("myaccount", "c2VjcmV0")?;
    /// assert_eq!(c.account(), Some("myaccount"));
    /// assert!(!format!("{c:?}").contains("c2VjcmV0"));
    /// assert!(Credential::shared_key("myaccount", "not base64!").is_err());
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn shared_key(account: impl Into<String>, key_base64: &str) -> Result<Self> {
        Ok(Credential::SharedKey {
            account: checked_account(account.into())?,
            key: decode_account_key(key_base64)?.into(),
        })
    }

    /// Shared Key Lite with an account name and its base64 account key.
    pub fn shared_key_lite(account: impl Into<String>, key_base64: &str) -> Result<Self> {
        Ok(Credential::SharedKeyLite {
            account: checked_account(account.into())?,
            key: decode_account_key(key_base64)?.into(),
        })
    }

    /// A SAS token (`sv=...&sig=...`, a leading `?` is dropped).
    pub fn sas(token: impl AsRef<str>) -> Self {
        let token = token.as_ref().trim().trim_start_matches('?');
        Credential::Sas {
            token: token.into(),
        }
    }

    /// The account name, for the key-based credentials.
    pub fn account(&self) -> Option<&str> {
        match self {
            Credential::SharedKey { account, .. } | Credential::SharedKeyLite { account, .. } => {
                Some(account)
            }
            Credential::Sas { .. } => None,
        }
    }

    /// The same credential signing with Shared Key Lite instead of Shared Key (a SAS stays a
    /// SAS).
    pub fn into_lite(self) -> Self {
        match self {
            Credential::SharedKey { account, key } => Credential::SharedKeyLite { account, key },
            other => other,
        }
    }

    /// Authenticates a built request dated `date` (an RFC 1123 date, see [`http_date`]): sets
    /// `x-ms-date`, `Date` and `Authorization`, or appends the SAS token to the query.
    pub fn authorize(&self, request: &mut reqwest::Request, date: &str) -> Result<()> {
        let date_value = HeaderValue::from_str(date)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "invalid request date"))?;
        request
            .headers_mut()
            .insert("x-ms-date", date_value.clone());
        request.headers_mut().insert(DATE, date_value);
        let (account, key, lite) = match self {
            Credential::Sas { token } => {
                if !token.is_empty() {
                    let query = match request.url().query() {
                        Some(q) if !q.is_empty() => format!("{q}&{token}"),
                        _ => token.to_string(),
                    };
                    request.url_mut().set_query(Some(&query));
                }
                return Ok(());
            }
            Credential::SharedKey { account, key } => (account, key, false),
            Credential::SharedKeyLite { account, key } => (account, key, true),
        };
        let resource = canonicalized_resource(account, request.url());
        let string_to_sign = if lite {
            shared_key_lite_string_to_sign(date, &resource)
        } else {
            let content_type = request
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            shared_key_string_to_sign(request.method().as_str(), content_type, date, &resource)
        };
        let scheme = if lite { "SharedKeyLite" } else { "SharedKey" };
        let value = format!("{scheme} {account}:{}", sign(key, &string_to_sign));
        let value = HeaderValue::from_str(&value).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "the account name cannot be sent in an HTTP header",
            )
        })?;
        request.headers_mut().insert(AUTHORIZATION, value);
        Ok(())
    }
}

fn checked_account(account: String) -> Result<String> {
    if account.is_empty()
        || !account
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(Error::new(
            ErrorKind::Config,
            format!("invalid storage account name {account:?}: letters and digits only"),
        ));
    }
    Ok(account)
}

/// Decodes a base64 account key; anything else is a [`Config`](ErrorKind::Config) error that
/// does not show the key.
pub fn decode_account_key(key_base64: &str) -> Result<Vec<u8>> {
    match STANDARD.decode(key_base64.trim()) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(Error::new(
            ErrorKind::Config,
            "the account key is not valid base64",
        )),
    }
}

/// Shared Key's string to sign for the Table service.
pub fn shared_key_string_to_sign(
    method: &str,
    content_type: &str,
    date: &str,
    canonicalized_resource: &str,
) -> String {
    // Content-MD5 is never sent, so its line is empty.
    format!("{method}\n\n{content_type}\n{date}\n{canonicalized_resource}")
}

/// Shared Key Lite's string to sign for the Table service.
pub fn shared_key_lite_string_to_sign(date: &str, canonicalized_resource: &str) -> String {
    format!("{date}\n{canonicalized_resource}")
}

/// `/<account><path>[?comp=<value>]` for a request URL.
pub fn canonicalized_resource(account: &str, url: &reqwest::Url) -> String {
    let mut resource = format!("/{account}{}", url.path());
    if let Some((_, comp)) = url.query_pairs().find(|(name, _)| name == "comp") {
        resource.push_str("?comp=");
        resource.push_str(&comp);
    }
    resource
}

/// Base64 of HMAC-SHA256(`key`, `string_to_sign`).
pub fn sign(key: &[u8], string_to_sign: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `time` as an RFC 1123 date (`Wed, 25 Nov 2026 22:46:43 GMT`), what `x-ms-date` holds.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use key_value_azure_tables::auth::http_date;
/// assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
/// assert_eq!(
///     http_date(UNIX_EPOCH + Duration::from_secs(1_795_646_803)),
///     "Wed, 25 Nov 2026 22:46:43 GMT"
/// );
/// ```
pub fn http_date(time: SystemTime) -> String {
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} GMT",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Year, month (1-12) and day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::DEVELOPMENT_ACCOUNT_KEY;

    const DATE: &str = "Wed, 25 Nov 2026 22:46:43 GMT";

    fn dev_key() -> Vec<u8> {
        decode_account_key(DEVELOPMENT_ACCOUNT_KEY).unwrap()
    }

    /// Requests captured from azure-data-tables 12.7.0 (the Python SDK py-key-value uses),
    /// signed with the development key at `DATE`: method, content type, URL as sent, and the
    /// signature the SDK put in `Authorization: SharedKey devstoreaccount1:<signature>`.
    const PYTHON_SDK_VECTORS: &[(&str, &str, &str, &str)] = &[
        (
            "PUT",
            "application/json",
            "http://127.0.0.1:59711/devstoreaccount1/kvtable(PartitionKey='c%20ol',RowKey='k%27%27%C3%A9%2Fx')",
            "UsVVFwxeEYWzmyoJTUiBEuuR6wOI4HcYiDlt92+2hqQ=",
        ),
        (
            "GET",
            "",
            "http://127.0.0.1:59711/devstoreaccount1/kvtable(PartitionKey='c',RowKey='k')?$select=PartitionKey",
            "cFCo983iKHB3BeCBt1HGDXZmXyncNQwxjFECA2AhTeE=",
        ),
        (
            "DELETE",
            "",
            "http://127.0.0.1:59711/devstoreaccount1/kvtable(PartitionKey='c',RowKey='k')",
            "Z5SDWL1bASzWUQY9DPOEaqUGpCWOIIaV0IrUqMQ4ATE=",
        ),
        (
            "GET",
            "",
            "http://127.0.0.1:59711/devstoreaccount1/kvtable()?$top=1000&$select=RowKey&$filter=PartitionKey%20eq%20%27c%27",
            "DATgmRAFwoidbOQbza3NZMKSnqBoN1vL1ePuZ6yj1+I=",
        ),
        (
            "POST",
            "multipart/mixed; boundary=batch_abfb1453-9e3a-4a58-a942-226de14b9555",
            "http://127.0.0.1:59711/devstoreaccount1/$batch",
            "vaYfaSCKmXt7qcX1Nml1WQWSlfhtD1B+BTzqwNwKPa0=",
        ),
        (
            "POST",
            "application/json;odata=nometadata",
            "http://127.0.0.1:59711/devstoreaccount1/Tables",
            "AHC2wAu1Mej4UFx1wlMW+6Bxl5d7AhSUIXMOsZzY6Ck=",
        ),
        (
            "DELETE",
            "",
            "http://127.0.0.1:59711/devstoreaccount1/Tables('kvtable')",
            "zDrJ0NtaVBIx2k72vh4wBEr2TL+6jo65QDAAP/EPmoA=",
        ),
    ];

    #[test]
    fn shared_key_matches_the_python_sdk() {
        let credential =
            Credential::shared_key("devstoreaccount1", DEVELOPMENT_ACCOUNT_KEY).unwrap();
        let http = key_value_http::client(&key_value_http::HttpConfig::default()).unwrap();
        for (method, content_type, url, expected) in PYTHON_SDK_VECTORS {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut builder = http.request(method, *url);
            if !content_type.is_empty() {
                builder = builder.header(CONTENT_TYPE, *content_type);
            }
            let mut request = builder.build().unwrap();
            credential.authorize(&mut request, DATE).unwrap();
            let auth = request.headers()[AUTHORIZATION].to_str().unwrap();
            assert_eq!(
                auth,
                format!("SharedKey devstoreaccount1:{expected}"),
                "{url}"
            );
            assert_eq!(request.headers()["x-ms-date"], DATE);
            assert_eq!(request.headers()[reqwest::header::DATE], DATE);
        }
    }

    #[test]
    fn string_to_sign_is_the_documented_one() {
        let url = reqwest::Url::parse(
            "http://127.0.0.1:59711/devstoreaccount1/kvtable(PartitionKey='c%20ol',RowKey='k%27%27%C3%A9%2Fx')",
        )
        .unwrap();
        let resource = canonicalized_resource("devstoreaccount1", &url);
        assert_eq!(
            resource,
            "/devstoreaccount1/devstoreaccount1/kvtable(PartitionKey='c%20ol',RowKey='k%27%27%C3%A9%2Fx')"
        );
        assert_eq!(
            shared_key_string_to_sign("PUT", "application/json", DATE, &resource),
            format!("PUT\n\napplication/json\n{DATE}\n{resource}")
        );
        assert_eq!(
            sign(
                &dev_key(),
                &shared_key_string_to_sign("PUT", "application/json", DATE, &resource)
            ),
            "UsVVFwxeEYWzmyoJTUiBEuuR6wOI4HcYiDlt92+2hqQ="
        );
        let with_comp = reqwest::Url::parse(
            "https://a.table.core.windows.net/?restype=service&comp=properties",
        )
        .unwrap();
        assert_eq!(
            canonicalized_resource("a", &with_comp),
            "/a/?comp=properties"
        );
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mac = sign(b"Jefe", "what do ya want for nothing?");
        let hex: String = STANDARD
            .decode(mac)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn shared_key_lite_signs_date_and_resource_only() {
        let credential =
            Credential::shared_key_lite("devstoreaccount1", DEVELOPMENT_ACCOUNT_KEY).unwrap();
        let mut request = key_value_http::client(&key_value_http::HttpConfig::default())
            .unwrap()
            .get("http://127.0.0.1:11002/devstoreaccount1/Tables")
            .header(CONTENT_TYPE, "ignored/by-lite")
            .build()
            .unwrap();
        credential.authorize(&mut request, DATE).unwrap();
        let expected = sign(
            &dev_key(),
            &format!("{DATE}\n/devstoreaccount1/devstoreaccount1/Tables"),
        );
        assert_eq!(
            request.headers()[AUTHORIZATION].to_str().unwrap(),
            format!("SharedKeyLite devstoreaccount1:{expected}")
        );
    }

    #[test]
    fn sas_goes_into_the_query_and_is_never_printed() {
        let credential = Credential::sas("?sv=2019-02-02&tn=t&sig=SeCrEt%3D");
        let mut request = key_value_http::client(&key_value_http::HttpConfig::default())
            .unwrap()
            .get("http://h/acct/t()?$top=5")
            .build()
            .unwrap();
        credential.authorize(&mut request, DATE).unwrap();
        assert_eq!(
            request.url().query(),
            Some("$top=5&sv=2019-02-02&tn=t&sig=SeCrEt%3D")
        );
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert!(!format!("{credential:?}").contains("SeCrEt"));
        let key = Credential::shared_key("acct", DEVELOPMENT_ACCOUNT_KEY).unwrap();
        assert!(!format!("{key:?} {:?}", key.clone().into_lite()).contains("Eby8"));
    }

    #[test]
    fn bad_keys_and_accounts_are_config_errors_without_the_key() {
        let err = Credential::shared_key("acct", "%%%secret%%%")
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!err.to_string().contains("secret"));
        let err = Credential::shared_key("bad account", DEVELOPMENT_ACCOUNT_KEY)
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
    }

    #[test]
    fn http_dates() {
        use std::time::Duration;
        let at = |s: u64| http_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_795_646_803), DATE);
        assert_eq!(at(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT");
    }
}

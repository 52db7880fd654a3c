//! The Table service's errors: [`ServiceError`] (status, error code, message) and how they
//! become [`key_value_core::Error`]s.
//!
//! | answer | kind | temporary |
//! |---|---|---|
//! | 5xx, `ServerBusy`, `OperationTimedOut`, `InternalError`, 408, 429 | [`Backend`](ErrorKind::Backend) | yes |
//! | 409 `TableBeingDeleted` (a table is re-created within ~40 s of its deletion) | [`Backend`](ErrorKind::Backend) | yes |
//! | `PropertyValueTooLarge`, `EntityTooLarge`, `RequestBodyTooLarge`, 413 | [`ValueTooLarge`](ErrorKind::ValueTooLarge) | no |
//! | `KeyValueTooLarge`, `OutOfRangeInput` on keys | [`InvalidKey`](ErrorKind::InvalidKey) | no |
//! | 403 `AuthenticationFailed` / `AuthorizationFailure` / ... | [`Backend`](ErrorKind::Backend), with the code | no |
//! | anything else | [`Backend`](ErrorKind::Backend), with the code | no |
//!
//! The original [`ServiceError`] stays reachable as the error's
//! [`source`](std::error::Error::source), so callers can match on the service's code:
//!
//! ```
//! use key_value_azure_tables::error::{service_error, ServiceError};
//! use key_value_core::ErrorKind;
//!
//! let err = ServiceError::new(503, Some("ServerBusy"), "The server is busy.").into_error();
//! assert!(err.is_temporary());
//! assert_eq!(service_error(&err).and_then(|e| e.code()), Some("ServerBusy"));
//! let err = ServiceError::new(403, Some("AuthenticationFailed"), "Server failed to authenticate the request.").into_error();
//! assert_eq!(err.kind(), ErrorKind::Backend);
//! assert!(!err.is_temporary());
//! assert!(err.to_string().contains("AuthenticationFailed"));
//! ```

use std::fmt;

use key_value_core::{Error, ErrorKind};
use serde_json::Value;

/// An error answer of the Table service: HTTP status, error code (`ResourceNotFound`,
/// `TableAlreadyExists`, ...) and the first line of its message. In an entity group
/// transaction, [`index`](Self::index) is the failed operation's position in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    status: u16,
    code: Option<String>,
    message: String,
    index: Option<usize>,
}

impl ServiceError {
    /// An error with a status, an optional code and a message (only its first line is kept:
    /// the rest is request ids and times).
    pub fn new(status: u16, code: Option<&str>, message: &str) -> Self {
        let (index, message) = split_index(message.lines().next().unwrap_or("").trim());
        ServiceError {
            status,
            code: code.filter(|c| !c.is_empty()).map(str::to_string),
            message: message.to_string(),
            index,
        }
    }

    /// Reads the error of a response: the code from the `x-ms-error-code` header or the body
    /// (JSON `odata.error` or XML `<Error>`), the message from the body.
    pub fn from_response(status: u16, header_code: Option<&str>, body: &str) -> Self {
        let (body_code, message) = parse_error_body(body);
        let code = header_code.map(str::to_string).or(body_code);
        ServiceError::new(status, code.as_deref(), &message)
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The service's error code, if it sent one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The first line of the service's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// In a batch, the 0-based position of the operation that failed, if the service said.
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    /// Whether the code is `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Whether retrying may help.
    pub fn is_temporary(&self) -> bool {
        self.status >= 500
            || self.status == 408
            || self.status == 429
            || matches!(
                self.code.as_deref(),
                Some("ServerBusy" | "OperationTimedOut" | "InternalError" | "TableBeingDeleted")
            )
    }

    /// The [`Error`] this answer stands for (see the module docs); `self` becomes its source.
    pub fn into_error(self) -> Error {
        let kind = match (self.status, self.code.as_deref()) {
            (_, Some("PropertyValueTooLarge" | "EntityTooLarge" | "RequestBodyTooLarge"))
            | (413, _) => ErrorKind::ValueTooLarge,
            (_, Some("KeyValueTooLarge")) => ErrorKind::InvalidKey,
            _ => ErrorKind::Backend,
        };
        let temporary = self.is_temporary();
        Error::new(kind, self.to_string())
            .with_temporary(temporary)
            .with_source(self)
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Azure Tables answered HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(i) = self.index {
            write!(f, " (batch operation {i})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// The [`ServiceError`] behind an error, if the service answered with one.
pub fn service_error(error: &Error) -> Option<&ServiceError> {
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(e) = s.downcast_ref::<ServiceError>() {
            return Some(e);
        }
        source = s.source();
    }
    None
}

/// Whether `error` is the service's answer `code`.
pub(crate) fn has_code(error: &Error, code: &str) -> bool {
    service_error(error).is_some_and(|e| e.is(code))
}

/// `"3:The specified resource does not exist."` → `(Some(3), "The specified ...")`.
fn split_index(message: &str) -> (Option<usize>, &str) {
    if let Some((head, rest)) = message.split_once(':') {
        if !head.is_empty() && head.len() <= 3 && head.bytes().all(|b| b.is_ascii_digit()) {
            return (head.parse().ok(), rest);
        }
    }
    (None, message)
}

fn parse_error_body(body: &str) -> (Option<String>, String) {
    let trimmed = body.trim();
    if trimmed.starts_with('{') {
        if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(trimmed) {
            let error = doc.get("odata.error").or_else(|| doc.get("error"));
            let code = error
                .and_then(|e| e.get("code"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let message = error
                .and_then(|e| e.get("message"))
                .and_then(|m| m.get("value").or(Some(m)))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            return (code, message);
        }
    }
    if trimmed.starts_with('<') {
        return (
            xml_element(trimmed, "Code"),
            xml_element(trimmed, "Message").unwrap_or_default(),
        );
    }
    (None, trimmed.to_string())
}

fn xml_element(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim().to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_json_xml_and_batch_errors() {
        let e = ServiceError::from_response(
            404,
            None,
            r#"{"odata.error":{"code":"ResourceNotFound","message":{"lang":"en-US","value":"1:The specified resource does not exist.\nRequestId:x\nTime:y"}}}"#,
        );
        assert_eq!(e.code(), Some("ResourceNotFound"));
        assert_eq!(e.index(), Some(1));
        assert_eq!(e.message(), "The specified resource does not exist.");
        let e = ServiceError::from_response(
            403,
            Some("AuthorizationFailure"),
            "<?xml version=\"1.0\"?><Error><Code>AuthorizationFailure</Code><Message>Server failed to authenticate the request.\nRequestId:x</Message></Error>",
        );
        assert_eq!(e.code(), Some("AuthorizationFailure"));
        assert_eq!(e.message(), "Server failed to authenticate the request.");
        let err = e.into_error();
        assert!(!err.is_temporary());
        assert!(
            err.to_string().contains("403 AuthorizationFailure"),
            "{err}"
        );
        let e = ServiceError::from_response(500, None, "");
        assert!(e.is_temporary());
        assert_eq!(e.code(), None);
    }

    #[test]
    fn kinds_and_temporariness() {
        let too_big = ServiceError::new(400, Some("PropertyValueTooLarge"), "big").into_error();
        assert_eq!(too_big.kind(), ErrorKind::ValueTooLarge);
        assert!(!too_big.is_temporary());
        for (status, code) in [
            (503, "ServerBusy"),
            (500, "OperationTimedOut"),
            (409, "TableBeingDeleted"),
        ] {
            let err = ServiceError::new(status, Some(code), "").into_error();
            assert!(err.is_temporary(), "{code}");
            assert!(has_code(&err, code));
        }
        let conflict = ServiceError::new(409, Some("EntityAlreadyExists"), "").into_error();
        assert!(!conflict.is_temporary());
    }
}

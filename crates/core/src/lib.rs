//! The core of `key-value`.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod json;
pub mod sanitize;

pub use error::{BoxError, Error, ErrorKind, Result};

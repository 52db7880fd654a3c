//! Checks a backend's raw stored text against the bytes py-key-value writes.
//!
//! Stores that can read their raw documents (a Redis string, a SQLite row, a file) call
//! [`assert_python_envelope`] in their own tests; it rebuilds what py-key-value 0.4.6 would
//! have written for the same entry and timestamps and compares byte for byte.
//!
//! ```
//! use key_value_core::entry::{Envelope, ManagedEntry};
//! use key_value_core::{object, Timestamp};
//! use key_value_testkit::golden::assert_python_envelope;
//!
//! let raw = r#"{"collection": "users", "created_at": "2026-11-25T17:56:48.732037+00:00", "key": "user:1", "value": {"age": 30, "name": "Alice"}, "version": 1}"#;
//! assert_python_envelope(raw, Envelope::WITH_KEY, "users", "user:1", &object!({"name": "Alice", "age": 30}));
//! ```

use key_value_core::Object;
use key_value_core::entry::Envelope;

/// Asserts that `raw` is exactly py-key-value's envelope text for `value` stored under
/// `collection`/`key` in the given form, with whatever timestamps `raw` carries.
///
/// # Panics
/// When it is not: this is a test assertion.
pub fn assert_python_envelope(
    raw: &str,
    form: Envelope,
    collection: &str,
    key: &str,
    value: &Object,
) {
    let entry = match Envelope::load(raw) {
        Ok(entry) => entry,
        Err(e) => panic!("stored text is not an envelope: {e}\n{raw}"),
    };
    assert_eq!(&entry.value, value, "stored value differs");
    let expected = form.dump(&entry, collection, key);
    assert_eq!(raw, expected, "stored bytes differ from py-key-value's");
}

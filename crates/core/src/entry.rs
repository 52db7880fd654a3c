//! The stored entry ([`ManagedEntry`]) and py-key-value's JSON envelope around it.
//!
//! py-key-value never stores a bare value: it stores an envelope with the value, its creation
//! time, its expiry time and a format version, as `json.dumps(envelope, sort_keys=True)`.
//! [`Envelope`] writes and reads exactly those bytes, so a Python and a Rust service can share
//! one backend.
//!
//! ```
//! use key_value_core::entry::{Envelope, ManagedEntry};
//! use key_value_core::time::Timestamp;
//! use serde_json::json;
//!
//! let value = json!({"name": "Alice", "age": 30}).as_object().cloned().unwrap_or_default();
//! let created = Timestamp::parse_iso("2025-01-01T00:00:00.123456+00:00")?;
//! let entry = ManagedEntry::new(value, Some(created), None);
//! let text = Envelope::WITH_KEY.dump(&entry, "test", "test_key");
//! assert_eq!(
//!     text,
//!     r#"{"collection": "test", "created_at": "2025-01-01T00:00:00.123456+00:00", "key": "test_key", "value": {"age": 30, "name": "Alice"}, "version": 1}"#
//! );
//! assert_eq!(Envelope::load(&text)?, entry);
//! # Ok::<(), key_value_core::Error>(())
//! ```

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::json;
use crate::time::Timestamp;

/// A stored value: a JSON object, as py-key-value's values are `dict[str, Any]`.
pub type Object = Map<String, Value>;

/// A value with its creation and expiry times: what stores keep.
///
/// Expiry is absolute (`expires_at`), as in py-key-value; the remaining TTL is computed when
/// asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedEntry {
    /// The user's value.
    pub value: Object,
    /// When the entry was written, if known.
    pub created_at: Option<Timestamp>,
    /// When the entry expires; `None` means never.
    pub expires_at: Option<Timestamp>,
}

impl ManagedEntry {
    /// An entry from its parts.
    pub fn new(
        value: Object,
        created_at: Option<Timestamp>,
        expires_at: Option<Timestamp>,
    ) -> Self {
        ManagedEntry {
            value,
            created_at,
            expires_at,
        }
    }

    /// An entry created at `now` that expires `ttl` later (never if `ttl` is `None`).
    ///
    /// ```
    /// use key_value_core::entry::ManagedEntry;
    /// use key_value_core::time::Timestamp;
    /// use std::time::Duration;
    /// let e = ManagedEntry::created_at(Default::default(), Timestamp::UNIX_EPOCH, Some(Duration::from_secs(10)));
    /// assert_eq!(e.expires_at.map(|t| t.unix_micros()), Some(10_000_000));
    /// ```
    pub fn created_at(value: Object, now: Timestamp, ttl: Option<Duration>) -> Self {
        ManagedEntry {
            value,
            created_at: Some(now),
            expires_at: ttl.map(|d| now.saturating_add(d)),
        }
    }

    /// Whether the entry has expired at `now` (expiry is inclusive, as py-key-value's
    /// `expires_at <= now`).
    #[inline]
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }

    /// The time left at `now`: `None` for an entry that never expires, `Some(ZERO)` for an
    /// expired one.
    pub fn remaining_at(&self, now: Timestamp) -> Option<Duration> {
        self.expires_at
            .map(|e| e.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

/// Orders entries found by a batch read as `keys` asked for them: `None` where nothing was
/// found, each entry moved out rather than copied, except for a key asked for more than once
/// in the same call (then the earlier answers are copies).
///
/// Batch reads of SQL stores come back in the database's order; copying every entry out of the
/// lookup table cost a deep copy per key (a third of PostgreSQL's `get_many` instructions in
/// callgrind).
///
/// ```
/// use std::collections::HashMap;
/// use key_value_core::entry::{in_key_order, ManagedEntry};
/// use key_value_core::object;
///
/// let mut found = HashMap::new();
/// found.insert("b".to_string(), ManagedEntry::new(object!({"n": 2}), None, None));
/// let ordered = in_key_order(found, &["a", "b", "b"]);
/// assert!(ordered[0].is_none());
/// assert_eq!(ordered[1], ordered[2]);
/// assert_eq!(ordered[2].as_ref().map(|e| e.value["n"].clone()), Some(2.into()));
/// ```
pub fn in_key_order(
    mut found: std::collections::HashMap<String, ManagedEntry>,
    keys: &[&str],
) -> Vec<Option<ManagedEntry>> {
    let mut uses: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(keys.len());
    for key in keys {
        *uses.entry(key).or_default() += 1;
    }
    keys.iter()
        .map(|key| {
            let left = uses.get_mut(key).map_or(0, |n| {
                *n -= 1;
                *n
            });
            if left == 0 {
                found.remove(*key)
            } else {
                found.get(*key).cloned()
            }
        })
        .collect()
}

/// Checks that a batch write has one value per key, before anything is written: the
/// [`ErrorKind::InvalidArgument`] error of `put_many` and of every store's `put_entries`.
///
/// ```
/// use key_value_core::{entry::check_batch_len, ErrorKind};
///
/// assert!(check_batch_len(2, 2).is_ok());
/// assert_eq!(check_batch_len(2, 1).unwrap_err().kind(), ErrorKind::InvalidArgument);
/// ```
pub fn check_batch_len(keys: usize, values: usize) -> Result<()> {
    if keys == values {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{keys} keys but {values} values: put_many needs one value per key"),
        ))
    }
}

/// Which fields an envelope carries: py-key-value's `SerializationAdapter` settings.
///
/// The common forms are constants: [`Envelope::WITH_KEY`] (Redis, Disk, Memcached, RocksDB, ...),
/// [`Envelope::WITHOUT_KEY`] (FileTree, Memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// Whether `key` and `collection` (unsanitized) are written.
    pub include_key: bool,
    /// Whether `created_at` / `expires_at` are written (py: `date_format="isoformat"`).
    pub include_dates: bool,
    /// Whether `value` is written as a JSON string instead of an object (py:
    /// `value_format="string"`, Firestore).
    pub value_as_string: bool,
}

impl Envelope {
    /// Key, collection and ISO dates: the envelope of Redis, Valkey, Memcached, Disk, MultiDisk,
    /// RocksDB, DynamoDB, Vault, Aerospike, Azure Tables.
    pub const WITH_KEY: Envelope = Envelope {
        include_key: true,
        include_dates: true,
        value_as_string: false,
    };
    /// ISO dates, no key or collection: FileTree's and MemoryStore's envelope.
    pub const WITHOUT_KEY: Envelope = Envelope {
        include_key: false,
        include_dates: true,
        value_as_string: false,
    };

    /// The envelope text py-key-value writes for `entry` stored under `collection`/`key`.
    pub fn dump(&self, entry: &ManagedEntry, collection: &str, key: &str) -> String {
        let mut out = String::with_capacity(128);
        self.dump_into(&mut out, entry, collection, key);
        out
    }

    /// [`dump`](Self::dump) into an existing buffer.
    pub fn dump_into(&self, out: &mut String, entry: &ManagedEntry, collection: &str, key: &str) {
        // Fields in sorted order, as `json.dumps(..., sort_keys=True)` writes them.
        out.push('{');
        if self.include_key {
            out.push_str("\"collection\": ");
            json::write_python_str(out, collection);
            out.push_str(", ");
        }
        if self.include_dates {
            if let Some(c) = entry.created_at {
                out.push_str("\"created_at\": \"");
                c.write_iso(out);
                out.push_str("\", ");
            }
            if let Some(e) = entry.expires_at {
                out.push_str("\"expires_at\": \"");
                e.write_iso(out);
                out.push_str("\", ");
            }
        }
        if self.include_key {
            out.push_str("\"key\": ");
            json::write_python_str(out, key);
            out.push_str(", ");
        }
        out.push_str("\"value\": ");
        if self.value_as_string {
            let inner = json::to_python_json_object(&entry.value);
            json::write_python_str(out, &inner);
        } else {
            json::write_python_json_object(out, &entry.value);
        }
        out.push_str(", \"version\": 1}");
    }

    /// Reads an envelope of any of these forms, as py-key-value's `load_json` does: `value` is
    /// required (an object, or a string holding one); `created_at`/`expires_at` are optional
    /// ISO strings; `version`, `key` and `collection` are ignored.
    ///
    /// Corrupt input is an [`ErrorKind::Deserialization`] error, never a panic.
    pub fn load(text: &str) -> Result<ManagedEntry> {
        // The fast path reads the fields straight from the text without building the outer
        // map, keeping only the three that make an entry (a fifth of the read path's time in
        // a batch read). Anything it cannot take, the general parser reads again, so every
        // error says what it always said.
        match serde_json::from_str::<EnvelopeFields>(text) {
            Ok(fields) => fields.into_entry(),
            Err(_) => Envelope::load_object(json::parse_object(text)?),
        }
    }

    /// [`load`](Self::load) from an already parsed document.
    pub fn load_object(mut doc: Object) -> Result<ManagedEntry> {
        EnvelopeFields {
            value: doc.remove("value"),
            created_at: doc.remove("created_at"),
            expires_at: doc.remove("expires_at"),
        }
        .into_entry()
    }
}

/// The fields of an envelope that make an entry; the others are ignored, as py-key-value does.
struct EnvelopeFields {
    value: Option<Value>,
    created_at: Option<Value>,
    expires_at: Option<Value>,
}

impl EnvelopeFields {
    fn into_entry(self) -> Result<ManagedEntry> {
        let value = match self.value {
            Some(Value::Object(m)) => m,
            Some(Value::String(s)) => json::parse_object(&s)?,
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::Deserialization,
                    format!(
                        "the envelope's value must be an object or a JSON string, not {}",
                        json_type(&other)
                    ),
                ));
            }
            None => {
                return Err(Error::new(
                    ErrorKind::Deserialization,
                    "value field not found",
                ));
            }
        };
        Ok(ManagedEntry {
            value,
            created_at: timestamp_field(self.created_at, "created_at")?,
            expires_at: timestamp_field(self.expires_at, "expires_at")?,
        })
    }
}

impl<'de> serde::Deserialize<'de> for EnvelopeFields {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> serde::de::Visitor<'de> for EnvelopeVisitor {
    type Value = EnvelopeFields;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an envelope object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<EnvelopeFields, A::Error> {
        let mut fields = EnvelopeFields {
            value: None,
            created_at: None,
            expires_at: None,
        };
        // A repeated field keeps its last value, as a parsed map would.
        while let Some(name) = map.next_key::<FieldName>()? {
            match name {
                FieldName::Value => fields.value = Some(map.next_value()?),
                FieldName::CreatedAt => fields.created_at = Some(map.next_value()?),
                FieldName::ExpiresAt => fields.expires_at = Some(map.next_value()?),
                // Read, not skipped: serde's skipping checks less than parsing does (lone
                // surrogates, numbers out of range, nesting depth), and both readers must
                // refuse the same documents. These fields are small.
                FieldName::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// An envelope field's name, read without allocating it.
enum FieldName {
    Value,
    CreatedAt,
    ExpiresAt,
    Other,
}

impl<'de> serde::Deserialize<'de> for FieldName {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct NameVisitor;
        impl serde::de::Visitor<'_> for NameVisitor {
            type Value = FieldName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                name: &str,
            ) -> std::result::Result<FieldName, E> {
                Ok(match name {
                    "value" => FieldName::Value,
                    "created_at" => FieldName::CreatedAt,
                    "expires_at" => FieldName::ExpiresAt,
                    _ => FieldName::Other,
                })
            }
        }
        deserializer.deserialize_identifier(NameVisitor)
    }
}

fn timestamp_field(field: Option<Value>, name: &str) -> Result<Option<Timestamp>> {
    match field.as_ref() {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Timestamp::parse_iso(s).map(Some),
        Some(other) => Err(Error::new(
            ErrorKind::Deserialization,
            format!(
                "{name} must be an ISO-8601 string, not {}",
                json_type(other)
            ),
        )),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn entry_with_ttl() -> ManagedEntry {
        let created = Timestamp::parse_iso("2025-01-01T00:00:00.123456+00:00").unwrap();
        ManagedEntry::created_at(
            obj(json!({"name": "Alice", "age": 30})),
            created,
            Some(Duration::from_secs(10)),
        )
    }

    #[test]
    fn dumps_the_spec_example_byte_for_byte() {
        assert_eq!(
            Envelope::WITH_KEY.dump(&entry_with_ttl(), "test", "test_key"),
            r#"{"collection": "test", "created_at": "2025-01-01T00:00:00.123456+00:00", "expires_at": "2025-01-01T00:00:10.123456+00:00", "key": "test_key", "value": {"age": 30, "name": "Alice"}, "version": 1}"#
        );
        assert_eq!(
            Envelope::WITHOUT_KEY.dump(&entry_with_ttl(), "test", "test_key"),
            r#"{"created_at": "2025-01-01T00:00:00.123456+00:00", "expires_at": "2025-01-01T00:00:10.123456+00:00", "value": {"age": 30, "name": "Alice"}, "version": 1}"#
        );
        let string_form = Envelope {
            include_key: false,
            include_dates: true,
            value_as_string: true,
        };
        assert_eq!(
            string_form.dump(&entry_with_ttl(), "c", "k"),
            r#"{"created_at": "2025-01-01T00:00:00.123456+00:00", "expires_at": "2025-01-01T00:00:10.123456+00:00", "value": "{\"age\": 30, \"name\": \"Alice\"}", "version": 1}"#
        );
        let no_dates = Envelope {
            include_key: true,
            include_dates: false,
            value_as_string: false,
        };
        assert_eq!(
            no_dates.dump(&entry_with_ttl(), "c", "k"),
            r#"{"collection": "c", "key": "k", "value": {"age": 30, "name": "Alice"}, "version": 1}"#
        );
    }

    #[test]
    fn escapes_non_ascii_keys_like_python() {
        let e = ManagedEntry::new(obj(json!({"é": "世界"})), None, None);
        assert_eq!(
            Envelope::WITH_KEY.dump(&e, "c\"1", "🌍"),
            r#"{"collection": "c\"1", "key": "\ud83c\udf0d", "value": {"\u00e9": "\u4e16\u754c"}, "version": 1}"#
        );
    }

    #[test]
    fn loads_every_form_it_writes_and_python_forms() {
        for env in [
            Envelope::WITH_KEY,
            Envelope::WITHOUT_KEY,
            Envelope {
                include_key: true,
                include_dates: true,
                value_as_string: true,
            },
        ] {
            let text = env.dump(&entry_with_ttl(), "c", "k");
            assert_eq!(Envelope::load(&text).unwrap(), entry_with_ttl(), "{text}");
        }
        let no_micros = r#"{"created_at": "2025-01-01T00:00:00+00:00", "value": {}, "version": 1}"#;
        let e = Envelope::load(no_micros).unwrap();
        assert_eq!(
            e.created_at.map(|t| t.to_iso()).as_deref(),
            Some("2025-01-01T00:00:00+00:00")
        );
        assert_eq!(e.expires_at, None);
    }

    #[test]
    fn corrupt_envelopes_are_deserialization_errors() {
        for bad in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"value": 3}"#,
            r#"{"value": "not json"}"#,
            r#"{"value": "[1]"}"#,
            r#"{"value": {}, "expires_at": 5}"#,
            r#"{"value": {}, "created_at": "soon"}"#,
        ] {
            let err = Envelope::load(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Deserialization, "{bad}");
        }
    }

    #[test]
    fn expiry_is_inclusive_and_remaining_is_computed_at_call_time() {
        let e = entry_with_ttl();
        let created = e.created_at.unwrap();
        assert!(!e.is_expired_at(created));
        assert_eq!(e.remaining_at(created), Some(Duration::from_secs(10)));
        let at_expiry = created.saturating_add(Duration::from_secs(10));
        assert!(e.is_expired_at(at_expiry));
        assert_eq!(e.remaining_at(at_expiry), Some(Duration::ZERO));
        let forever = ManagedEntry::new(Object::new(), None, None);
        assert!(!forever.is_expired_at(at_expiry));
        assert_eq!(forever.remaining_at(at_expiry), None);
    }

    /// `load`'s fast path (fields read straight from the text) and the general one (parse,
    /// then `load_object`) agree on every input, errors included.
    #[test]
    fn fast_and_general_readers_agree() {
        let general = |t: &str| json::parse_object(t).and_then(Envelope::load_object);
        let cases = [
            r#"{"value": {"a": 1}}"#,
            r#"{"collection": "c", "created_at": "2025-01-01T00:00:00+00:00", "expires_at": null, "key": "k", "value": {"a": [1, {"b": null}]}, "version": 1}"#,
            r#"{"value": "{\"a\": 1}", "version": 1}"#,
            r#"{"val\u0075e": {"escaped": "name"}}"#,
            r#"{"value": {"first": 1}, "value": {"last": 2}}"#,
            r#"{"value": {}, "created_at": "2025-01-01T00:00:00+00:00", "created_at": null}"#,
            r#"{"value": {}, "key": {"nested": [1, 2, {"deep": true}]}, "extra": [null]}"#,
            // What skipping a field would let through but parsing refuses.
            r#"{"value": {}, "key": "\ud800"}"#,
            r#"{"value": {}, "version": 1e400}"#,
            r#"{"version": 1}"#,
            r#"{"value": 3}"#,
            r#"{"value": "not json"}"#,
            r#"{"value": {}, "created_at": 5}"#,
            r#"{"value": {}, "expires_at": "yesterday"}"#,
            r#"[1, 2]"#,
            r#""text""#,
            "null",
            r#"{"value": {"x": NaN}}"#,
            r#"{"value": {}} trailing"#,
            r#"{"value": {},}"#,
            "",
        ];
        let deep = format!(
            r#"{{"value": {{}}, "key": {}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        for text in cases.iter().copied().chain([deep.as_str()]) {
            let fast = Envelope::load(text);
            let slow = general(text);
            match (&fast, &slow) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{text}");
                    assert_eq!(a.message(), b.message(), "{text}");
                }
                _ => panic!("{text}: fast {fast:?}, general {slow:?}"),
            }
        }
        assert_eq!(
            Envelope::load(r#"{"value": {"first": 1}, "value": {"last": 2}}"#)
                .unwrap()
                .value,
            obj(json!({"last": 2}))
        );
    }
}

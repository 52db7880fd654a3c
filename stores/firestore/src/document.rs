//! py-key-value's Firestore document, Firestore's id rules and its size arithmetic.
//!
//! py-key-value 0.4.6 writes each entry with `document.set(...)` of
//! `BasicSerializationAdapter(value_format="string").dump_dict(entry)`:
//!
//! | field | Firestore type | content |
//! |---|---|---|
//! | `version` | `integerValue` | `1` |
//! | `value` | `stringValue` | `json.dumps(value, sort_keys=True)` (Python separators, `ensure_ascii`) |
//! | `created_at` | `stringValue` | `datetime.isoformat()`, e.g. `2025-01-01T00:00:00.123456+00:00` (absent when unknown) |
//! | `expires_at` | `stringValue` | the same form; absent without a TTL |
//!
//! No `key` or `collection` field is written: the collection is the Firestore collection and
//! the key the document id.

use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::{Error, ErrorKind, Result, Timestamp, json};
use serde_json::{Map, Value};

/// The longest collection or document id Firestore accepts, in UTF-8 bytes.
pub const MAX_ID_BYTES: usize = 1500;

/// The largest document Firestore stores, by its own size arithmetic
/// (<https://firebase.google.com/docs/firestore/storage-size>).
pub const MAX_DOCUMENT_BYTES: usize = 1_048_576;

/// The largest value (its JSON text, in bytes) any entry can have: a document with one-byte
/// collection and key ids and no timestamps. Longer ids and the timestamps leave less room
/// (every `put` computes the exact size of its document).
pub const MAX_VALUE_BYTES: usize = MAX_DOCUMENT_BYTES
    - DOCUMENT_OVERHEAD
    - (2 + 2 + NAME_OVERHEAD)
    - (FIELD_VERSION.len() + 1 + 8)
    - (FIELD_VALUE.len() + 1 + 1);

/// Firestore's fixed per-document overhead.
const DOCUMENT_OVERHEAD: usize = 32;
/// Firestore's fixed overhead of a document name.
const NAME_OVERHEAD: usize = 16;

pub(crate) const FIELD_VERSION: &str = "version";
pub(crate) const FIELD_VALUE: &str = "value";
pub(crate) const FIELD_CREATED_AT: &str = "created_at";
pub(crate) const FIELD_EXPIRES_AT: &str = "expires_at";

/// Why Firestore refuses `id` as a collection or document id, if it does: empty, containing
/// `/`, `.` or `..`, matching `__.*__` (Firestore's reserved ids; `.` not matching a newline,
/// as in py-key-value's check), or longer than 1500 UTF-8 bytes.
///
/// ```
/// use key_value_firestore::id_problem;
/// assert_eq!(id_problem("user:1"), None);
/// assert!(id_problem("a/b").is_some());
/// assert!(id_problem("__reserved__").is_some());
/// assert!(id_problem(&"x".repeat(1501)).is_some());
/// ```
pub fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("Firestore ids cannot be empty".into())
    } else if id.contains('/') {
        Some("Firestore ids cannot contain '/'".into())
    } else if id == "." || id == ".." {
        Some("Firestore ids cannot be '.' or '..'".into())
    } else if id.len() >= 4
        && id.starts_with("__")
        && id.ends_with("__")
        && !id[2..id.len() - 2].contains('\n')
    {
        Some("Firestore reserves ids matching __.*__".into())
    } else if id.len() > MAX_ID_BYTES {
        Some(format!(
            "the id has {} UTF-8 bytes; Firestore accepts at most {MAX_ID_BYTES}",
            id.len()
        ))
    } else {
        None
    }
}

/// The stored size of a string (field name or value): its UTF-8 bytes plus one.
fn string_size(s: &str) -> usize {
    s.len() + 1
}

/// A document ready to be sent: its `fields` object and its size by Firestore's arithmetic.
pub(crate) struct Encoded {
    pub(crate) fields: Value,
    pub(crate) size: usize,
}

/// py-key-value's document for `entry` in collection id `collection_id` under document id
/// `document_id`, plus an optional `timestampValue` field for a Firestore TTL policy.
pub(crate) fn encode(
    entry: &ManagedEntry,
    collection_id: &str,
    document_id: &str,
    ttl_field: Option<&str>,
) -> Encoded {
    let value = json::to_python_json_object(&entry.value);
    let mut size =
        DOCUMENT_OVERHEAD + string_size(collection_id) + string_size(document_id) + NAME_OVERHEAD;
    let mut fields = Map::new();
    fields.insert(
        FIELD_VERSION.into(),
        serde_json::json!({"integerValue": "1"}),
    );
    size += string_size(FIELD_VERSION) + 8;
    size += string_size(FIELD_VALUE) + string_size(&value);
    fields.insert(
        FIELD_VALUE.into(),
        serde_json::json!({"stringValue": value}),
    );
    for (name, at) in [
        (FIELD_CREATED_AT, entry.created_at),
        (FIELD_EXPIRES_AT, entry.expires_at),
    ] {
        if let Some(at) = at {
            let iso = at.to_iso();
            size += string_size(name) + string_size(&iso);
            fields.insert(name.into(), serde_json::json!({"stringValue": iso}));
        }
    }
    if let (Some(name), Some(at)) = (ttl_field, entry.expires_at) {
        size += string_size(name) + 8;
        fields.insert(
            name.into(),
            serde_json::json!({"timestampValue": at.to_iso()}),
        );
    }
    Encoded {
        fields: Value::Object(fields),
        size,
    }
}

/// A [`ValueTooLarge`](ErrorKind::ValueTooLarge) error when the document is over Firestore's
/// limit.
pub(crate) fn check_size(encoded: &Encoded) -> Result<()> {
    if encoded.size > MAX_DOCUMENT_BYTES {
        return Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!(
                "the document would take {} bytes by Firestore's arithmetic; Firestore stores \
                 at most {MAX_DOCUMENT_BYTES}",
                encoded.size
            ),
        ));
    }
    Ok(())
}

/// The entry of a document's `fields`, read as py-key-value reads it: `value` a JSON string
/// (or a map), `created_at`/`expires_at` ISO strings (timestamps are accepted too); other
/// fields are ignored.
pub(crate) fn decode(fields: &Map<String, Value>) -> Result<ManagedEntry> {
    let mut doc = Map::new();
    for name in [FIELD_VALUE, FIELD_CREATED_AT, FIELD_EXPIRES_AT] {
        if let Some(v) = fields.get(name) {
            doc.insert(name.into(), to_json(v)?);
        }
    }
    Envelope::load_object(doc)
}

/// The expiry of a document listed with a field mask, `None` when it has none or it cannot
/// be read (such a document is reported by `get`, not hidden by listings).
pub(crate) fn expires_at(fields: &Map<String, Value>) -> Option<Timestamp> {
    match fields.get(FIELD_EXPIRES_AT)? {
        Value::Object(v) => v
            .get("stringValue")
            .or_else(|| v.get("timestampValue"))
            .and_then(Value::as_str)
            .and_then(|s| Timestamp::parse_iso(s).ok()),
        _ => None,
    }
}

/// A Firestore `Value` as plain JSON.
fn to_json(v: &Value) -> Result<Value> {
    let bad = || {
        Error::new(
            ErrorKind::Deserialization,
            "the document holds a Firestore value of an unexpected form",
        )
    };
    let Value::Object(typed) = v else {
        return Err(bad());
    };
    let Some((kind, inner)) = typed.iter().next() else {
        return Err(bad());
    };
    Ok(match kind.as_str() {
        "stringValue" | "timestampValue" | "referenceValue" | "bytesValue" => inner.clone(),
        "nullValue" => Value::Null,
        "booleanValue" => inner.clone(),
        "integerValue" => match inner {
            Value::String(s) => s.parse::<i64>().map(Value::from).map_err(|_| bad())?,
            Value::Number(_) => inner.clone(),
            _ => return Err(bad()),
        },
        "doubleValue" => match inner {
            Value::Number(_) => inner.clone(),
            // NaN and the infinities come as strings; JSON cannot hold them.
            _ => Value::Null,
        },
        "mapValue" => {
            let mut out = Map::new();
            if let Some(Value::Object(fields)) = inner.get("fields") {
                for (k, v) in fields {
                    out.insert(k.clone(), to_json(v)?);
                }
            }
            Value::Object(out)
        }
        "arrayValue" => {
            let mut out = Vec::new();
            if let Some(Value::Array(values)) = inner.get("values") {
                for v in values {
                    out.push(to_json(v)?);
                }
            }
            Value::Array(out)
        }
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use key_value_core::object;

    #[test]
    fn encodes_python_fields() {
        let created = Timestamp::parse_iso("2025-01-01T00:00:00.123456+00:00").unwrap();
        let entry = ManagedEntry::created_at(
            object!({"b": 1, "a": "é"}),
            created,
            Some(std::time::Duration::from_secs(10)),
        );
        let e = encode(&entry, "c", "k", None);
        assert_eq!(
            e.fields,
            serde_json::json!({
                "version": {"integerValue": "1"},
                "value": {"stringValue": "{\"a\": \"\\u00e9\", \"b\": 1}"},
                "created_at": {"stringValue": "2025-01-01T00:00:00.123456+00:00"},
                "expires_at": {"stringValue": "2025-01-01T00:00:10.123456+00:00"},
            })
        );
        let back = decode(e.fields.as_object().unwrap()).unwrap();
        assert_eq!(back, entry);
        let with_ttl = encode(&entry, "c", "k", Some("expire_at"));
        assert_eq!(
            with_ttl.fields["expire_at"],
            serde_json::json!({"timestampValue": "2025-01-01T00:00:10.123456+00:00"})
        );
        assert_eq!(with_ttl.size, e.size + 10 + 8);
    }

    #[test]
    fn size_follows_firestore_arithmetic() {
        // Measured against the emulator: with collection "c", key "k" and a 32-byte
        // created_at, the longest accepted value string has 1 048 457 bytes.
        let created = Timestamp::parse_iso("2025-01-01T00:00:00.123456+00:00").unwrap();
        let value = |n: usize| object!({"d": "x".repeat(n - 9)}); // {"d": "..."} is n bytes
        let fits = encode(
            &ManagedEntry::new(value(1_048_457), Some(created), None),
            "c",
            "k",
            None,
        );
        assert!(check_size(&fits).is_ok());
        let over = encode(
            &ManagedEntry::new(value(1_048_458), Some(created), None),
            "c",
            "k",
            None,
        );
        assert_eq!(
            check_size(&over).unwrap_err().kind(),
            ErrorKind::ValueTooLarge
        );
        let max = encode(
            &ManagedEntry::new(value(MAX_VALUE_BYTES), None, None),
            "c",
            "k",
            None,
        );
        assert_eq!(max.size, MAX_DOCUMENT_BYTES);
    }

    #[test]
    fn decodes_maps_and_rejects_garbage() {
        let fields = serde_json::json!({
            "value": {"mapValue": {"fields": {"n": {"integerValue": "7"}, "l": {"arrayValue": {"values": [{"booleanValue": true}, {"nullValue": null}, {"doubleValue": 1.5}]}}}}},
            "version": {"integerValue": "1"},
            "other": {"geoPointValue": {}},
        });
        let e = decode(fields.as_object().unwrap()).unwrap();
        assert_eq!(e.value, object!({"n": 7, "l": [true, null, 1.5]}));
        assert_eq!(e.created_at, None);
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"value": {"stringValue": "not json"}}),
            serde_json::json!({"value": {"integerValue": "3"}}),
            serde_json::json!({"value": {"stringValue": "{}"}, "created_at": {"stringValue": "soon"}}),
            serde_json::json!({"value": {"stringValue": "{}"}, "expires_at": {"integerValue": "5"}}),
            serde_json::json!({"value": {"weirdValue": 1}}),
        ] {
            let err = decode(bad.as_object().unwrap()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Deserialization, "{bad}");
        }
    }

    #[test]
    fn id_rules() {
        for bad in ["", ".", "..", "a/b", "/", "____", "__x__", "__a b__"] {
            assert!(id_problem(bad).is_some(), "{bad:?}");
        }
        for good in [
            "a", "...", "_x_", "__x", "x__", "__a\nb__", "a b", "é", "x:y#z%",
        ] {
            assert_eq!(id_problem(good), None, "{good:?}");
        }
        assert_eq!(id_problem(&"é".repeat(750)), None);
        assert!(id_problem(&format!("{}x", "é".repeat(750))).is_some());
    }
}

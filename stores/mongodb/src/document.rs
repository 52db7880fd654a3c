//! py-key-value's MongoDB document (`MongoDBSerializationAdapter`) and the JSON ⇄ BSON value
//! conversion, with pymongo's choice of BSON types.

use key_value_core::entry::{ManagedEntry, Object};
use key_value_core::serde_json::{Number, Value};
use key_value_core::time::Timestamp;
use key_value_core::{Error, ErrorKind, Result};
use mongodb::bson::{Bson, DateTime, Decimal128, Document};

/// The document py-key-value 0.4.6 writes for `entry` under `key` in `collection`, with the
/// field order its upsert leaves: `key` (from the query), then the `$set` fields in the
/// lexicographic order MongoDB applies them: `collection, created_at, expires_at, value:
/// {object}, version` (the server puts `_id` first). Dates are BSON dates (milliseconds, floored, as pymongo);
/// `expires_at` is absent without a TTL.
pub fn entry_document(collection: &str, key: &str, entry: &ManagedEntry) -> Result<Document> {
    let mut value = Document::new();
    value.insert("object", object_to_bson(&entry.value)?);
    let mut doc = Document::new();
    doc.insert("key", key);
    doc.insert("collection", collection);
    if let Some(c) = entry.created_at {
        doc.insert("created_at", to_bson_date(c));
    }
    if let Some(e) = entry.expires_at {
        doc.insert("expires_at", to_bson_date(e));
    }
    doc.insert("value", value);
    doc.insert("version", 1_i32);
    Ok(doc)
}

/// Reads a stored document as py-key-value does: `value.object` is required, `created_at` and
/// `expires_at` are optional BSON dates; `version`, `key` and `collection` are ignored.
/// Anything else is a [`Deserialization`](ErrorKind::Deserialization) error.
pub fn document_entry(doc: &Document) -> Result<ManagedEntry> {
    let object = match doc.get("value") {
        Some(Bson::Document(v)) => match v.get("object") {
            Some(Bson::Document(o)) => o,
            Some(other) => {
                return Err(deser(format!(
                    "`value.object` must be a document, not {:?}",
                    other.element_type()
                )));
            }
            None => return Err(deser("`value.object` not found in the MongoDB document")),
        },
        Some(other) => {
            return Err(deser(format!(
                "`value` must be a document, not {:?}",
                other.element_type()
            )));
        }
        None => return Err(deser("value field not found")),
    };
    let value = document_to_object(object)?;
    Ok(ManagedEntry::new(
        value,
        date_field(doc, "created_at")?,
        date_field(doc, "expires_at")?,
    ))
}

/// A timestamp as a BSON date: milliseconds, floored (as pymongo does with `datetime`).
pub fn to_bson_date(t: Timestamp) -> DateTime {
    DateTime::from_millis(t.unix_micros().div_euclid(1000))
}

/// A BSON date as a timestamp (whole milliseconds).
pub fn from_bson_date(d: DateTime) -> Timestamp {
    Timestamp::from_unix_micros(d.timestamp_millis().saturating_mul(1000))
}

fn date_field(doc: &Document, name: &str) -> Result<Option<Timestamp>> {
    match doc.get(name) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::DateTime(d)) => Ok(Some(from_bson_date(*d))),
        Some(other) => Err(deser(format!(
            "`{name}` must be a BSON date, not {:?}",
            other.element_type()
        ))),
    }
}

fn deser(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Deserialization, message.into())
}

/// A JSON object as a BSON document, with pymongo's types: integers as `int32` when they fit,
/// else `int64`; other numbers as `double`.
///
/// Field names are kept as they are, `$`-prefixed and dotted ones included: they sit under
/// `value.object`, never at the top level, and MongoDB 5.0+ stores such names on inserts and
/// replacements (which is how this store writes). A field name with a NUL character cannot be
/// written in BSON: a [`Serialization`](ErrorKind::Serialization) error. Integers above
/// `i64::MAX` (up to `u64::MAX`), which pymongo refuses to write, are stored exactly as
/// `decimal128` (py-key-value reads those as `bson.Decimal128`, not as JSON numbers).
pub fn object_to_bson(object: &Object) -> Result<Document> {
    let mut doc = Document::new();
    for (k, v) in object {
        if k.contains('\0') {
            return Err(Error::new(
                ErrorKind::Serialization,
                format!("the field name {k:?} contains a NUL character, which BSON cannot hold"),
            ));
        }
        doc.insert(k.clone(), json_to_bson(v)?);
    }
    Ok(doc)
}

fn json_to_bson(value: &Value) -> Result<Bson> {
    Ok(match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                match i32::try_from(i) {
                    Ok(small) => Bson::Int32(small),
                    Err(_) => Bson::Int64(i),
                }
            } else if n.is_u64() {
                // Beyond int64 (pymongo refuses these): an exact decimal128.
                Bson::Decimal128(n.to_string().parse::<Decimal128>().map_err(|e| {
                    Error::new(
                        ErrorKind::Serialization,
                        format!("the integer {n} cannot be stored as a BSON decimal128: {e}"),
                    )
                })?)
            } else {
                Bson::Double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(a) => Bson::Array(a.iter().map(json_to_bson).collect::<Result<_>>()?),
        Value::Object(o) => Bson::Document(object_to_bson(o)?),
    })
}

/// A stored BSON document as a JSON object; BSON types JSON has no form for (dates, object
/// ids, binary, decimals, non-finite doubles, ...) are `Deserialization` errors.
pub fn document_to_object(doc: &Document) -> Result<Object> {
    doc.iter()
        .map(|(k, v)| Ok((k.clone(), bson_to_json(v)?)))
        .collect()
}

fn bson_to_json(value: &Bson) -> Result<Value> {
    Ok(match value {
        Bson::Null => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(f) => Value::Number(
            Number::from_f64(*f)
                .ok_or_else(|| deser(format!("the stored number {f} has no JSON form")))?,
        ),
        Bson::Decimal128(d) => {
            let text = d.to_string();
            if let Ok(u) = text.parse::<u64>() {
                Value::from(u)
            } else if let Ok(i) = text.parse::<i64>() {
                Value::from(i)
            } else {
                return Err(deser(format!(
                    "the stored decimal128 {text} is not an integer key-value wrote"
                )));
            }
        }
        Bson::String(s) => Value::String(s.clone()),
        Bson::Array(a) => Value::Array(a.iter().map(bson_to_json).collect::<Result<_>>()?),
        Bson::Document(d) => Value::Object(document_to_object(d)?),
        other => {
            return Err(deser(format!(
                "the stored value holds a BSON {:?}, which has no JSON form (not written by \
                 key-value or py-key-value)",
                other.element_type()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use key_value_core::serde_json::json;

    #[test]
    fn round_trip_with_pymongo_types() {
        let v = json!({"small": 1, "big": 5_000_000_000_i64, "f": 1.5, "s": "x", "n": null,
                       "a": [1, {"$in": true}], "a.b": {"c": false}});
        let object = v.as_object().cloned().unwrap_or_default();
        let created = Timestamp::from_unix_micros(1_700_000_000_123_456);
        let entry = ManagedEntry::new(object.clone(), Some(created), None);
        let doc = entry_document("c", "k", &entry).unwrap_or_default();
        let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["key", "collection", "created_at", "value", "version"]
        );
        let inner = doc
            .get_document("value")
            .and_then(|v| v.get_document("object"));
        let inner = inner.cloned().unwrap_or_default();
        assert_eq!(inner.get("small"), Some(&Bson::Int32(1)));
        assert_eq!(inner.get("big"), Some(&Bson::Int64(5_000_000_000)));
        let back = document_entry(&doc).ok();
        assert_eq!(back.as_ref().map(|e| &e.value), Some(&object));
        assert_eq!(
            back.and_then(|e| e.created_at).map(|t| t.unix_micros()),
            Some(1_700_000_000_123_000)
        );
    }

    #[test]
    fn unwritable_values_are_serialization_errors() {
        let v = json!({"a\u{0}b": 1});
        let e = object_to_bson(v.as_object().unwrap_or(&Object::new())).err();
        assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::Serialization));
        let v = json!({"n": u64::MAX});
        let d = object_to_bson(v.as_object().unwrap_or(&Object::new())).unwrap_or_default();
        assert!(matches!(d.get("n"), Some(Bson::Decimal128(_))));
        assert_eq!(document_to_object(&d).ok().as_ref(), v.as_object());
    }

    #[test]
    fn foreign_documents_are_deserialization_errors() {
        let mut doc = Document::new();
        doc.insert("key", "k");
        assert_eq!(
            document_entry(&doc).err().map(|e| e.kind()),
            Some(ErrorKind::Deserialization)
        );
        let mut object = Document::new();
        object.insert("when", DateTime::from_millis(0));
        let mut value = Document::new();
        value.insert("object", object);
        doc.insert("value", value);
        assert_eq!(
            document_entry(&doc).err().map(|e| e.kind()),
            Some(ErrorKind::Deserialization)
        );
    }
}

//! The item layout (py-key-value's), DynamoDB's size rules and the checks made before sending.

use key_value_core::entry::{Envelope, ManagedEntry};
use key_value_core::{Error, ErrorKind, Result, Timestamp};
use serde_json::{Map, Value, json};

/// The partition key attribute (string): the collection.
pub const COLLECTION_ATTRIBUTE: &str = "collection";
/// The sort key attribute (string): the key.
pub const KEY_ATTRIBUTE: &str = "key";
/// The string attribute holding py-key-value's JSON envelope (with key and collection).
pub const VALUE_ATTRIBUTE: &str = "value";
/// The number attribute holding the expiry in Unix seconds (DynamoDB's TTL attribute), present
/// only on entries with a TTL.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// The largest item DynamoDB stores: 400 KB, attribute names and values included.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;
/// The longest sort key (the key) DynamoDB accepts, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest partition key (the collection) DynamoDB accepts, in UTF-8 bytes.
pub const MAX_COLLECTION_BYTES: usize = 2048;

/// Whether `name` is a valid DynamoDB table name: 3 to 255 characters of `A-Z a-z 0-9 _ - .`.
///
/// ```
/// use key_value_dynamodb::is_valid_table_name;
/// assert!(is_valid_table_name("kv-store_v1.2"));
/// assert!(!is_valid_table_name("kv"));
/// assert!(!is_valid_table_name("kv store"));
/// ```
pub fn is_valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The size DynamoDB counts for a number attribute's value: one byte per two significant
/// digits, plus one, plus one more in some cases (the rule dynalite reproduces from DynamoDB),
/// plus one for a negative number.
fn number_size(n: i64) -> usize {
    if n == 0 {
        return 1;
    }
    let digits = n.unsigned_abs().to_string();
    let exponent = digits.len() - 1;
    let significant = digits.trim_end_matches('0').len();
    let extra = usize::from(significant % 2 == 0 && exponent % 2 == 0);
    1 + significant.div_ceil(2) + extra + usize::from(n < 0)
}

/// The size DynamoDB counts for an item of this store: the UTF-8 bytes of each attribute's
/// name and string value, and the size of the `ttl` number when present.
///
/// ```
/// use key_value_dynamodb::item_size;
/// // "collection" + "users" + "key" + "u1" + "value" + 2 bytes of JSON
/// assert_eq!(item_size("users", "u1", "{}", None), 10 + 5 + 3 + 2 + 5 + 2);
/// assert_eq!(item_size("users", "u1", "{}", Some(1_700_000_000)), 27 + 3 + 2);
/// ```
pub fn item_size(collection: &str, key: &str, value: &str, ttl: Option<i64>) -> usize {
    COLLECTION_ATTRIBUTE.len()
        + collection.len()
        + KEY_ATTRIBUTE.len()
        + key.len()
        + VALUE_ATTRIBUTE.len()
        + value.len()
        + ttl.map_or(0, |t| TTL_ATTRIBUTE.len() + number_size(t))
}

/// The `ttl` attribute for an expiry: whole Unix seconds, truncated as Python's
/// `int(expires_at.timestamp())`.
pub(crate) fn ttl_seconds(expires_at: Timestamp) -> i64 {
    expires_at.unix_micros() / 1_000_000
}

/// Rejects what DynamoDB refuses as a key, before anything is sent.
pub(crate) fn check_names(collection: &str, key: &str) -> Result<()> {
    if collection.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidCollection,
            "DynamoDB refuses an empty partition key (collection)",
        ));
    }
    if collection.len() > MAX_COLLECTION_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidCollection,
            format!(
                "the collection name has {} UTF-8 bytes; DynamoDB's partition key holds at most \
                 {MAX_COLLECTION_BYTES}",
                collection.len()
            ),
        ));
    }
    if key.is_empty() {
        return Err(Error::new(ErrorKind::InvalidKey, "a key must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!(
                "the key has {} UTF-8 bytes; DynamoDB's sort key holds at most {MAX_KEY_BYTES}",
                key.len()
            ),
        ));
    }
    Ok(())
}

/// The primary key of an entry, as DynamoDB's JSON wants it.
pub(crate) fn key_of(collection: &str, key: &str) -> Value {
    json!({
        COLLECTION_ATTRIBUTE: {"S": collection},
        KEY_ATTRIBUTE: {"S": key},
    })
}

/// The item py-key-value writes for `entry`, or a `ValueTooLarge` error when DynamoDB would
/// refuse it.
pub(crate) fn build_item(collection: &str, key: &str, entry: &ManagedEntry) -> Result<Value> {
    let text = Envelope::WITH_KEY.dump(entry, collection, key);
    let ttl = entry.expires_at.map(ttl_seconds);
    let size = item_size(collection, key, &text, ttl);
    if size > MAX_ITEM_SIZE {
        return Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!(
                "the item would have {size} bytes; DynamoDB stores at most {MAX_ITEM_SIZE} \
                 (400 KB) per item, attribute names, key and collection included"
            ),
        ));
    }
    let mut item = Map::with_capacity(4);
    item.insert(COLLECTION_ATTRIBUTE.into(), json!({"S": collection}));
    item.insert(KEY_ATTRIBUTE.into(), json!({"S": key}));
    item.insert(VALUE_ATTRIBUTE.into(), json!({"S": text}));
    if let Some(t) = ttl {
        item.insert(TTL_ATTRIBUTE.into(), json!({"N": t.to_string()}));
    }
    Ok(Value::Object(item))
}

/// The string of a string attribute, if the item has one of that name.
pub(crate) fn string_attr<'a>(item: &'a Value, name: &str) -> Option<&'a str> {
    item.get(name)?.get("S")?.as_str()
}

/// The `ttl` attribute in whole seconds, if present; a `ttl` that is not a number is a
/// `Deserialization` error.
pub(crate) fn ttl_attr(item: &Value) -> Result<Option<i64>> {
    let Some(attr) = item.get(TTL_ATTRIBUTE) else {
        return Ok(None);
    };
    let Some(text) = attr.get("N").and_then(Value::as_str) else {
        return Err(Error::new(
            ErrorKind::Deserialization,
            "the item's ttl attribute is not a number",
        ));
    };
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Some(n));
    }
    match text.parse::<f64>() {
        // As Python's int(): towards zero.
        Ok(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(Some(f.trunc() as i64)),
        _ => Err(Error::new(
            ErrorKind::Deserialization,
            format!("the item's ttl attribute {text:?} is not a Unix time in seconds"),
        )),
    }
}

/// The entry an item holds, as py-key-value reads it: `None` when the item has no (or an
/// empty) `value` string; the `ttl` attribute, when present, decides the expiry. Where the
/// envelope's `expires_at` falls within that second, it is kept, to the microsecond.
pub(crate) fn parse_item(item: &Value) -> Result<Option<ManagedEntry>> {
    let Some(text) = string_attr(item, VALUE_ATTRIBUTE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let mut entry = Envelope::load(text)?;
    if let Some(secs) = ttl_attr(item)? {
        let agrees = entry.expires_at.is_some_and(|e| ttl_seconds(e) == secs);
        if !agrees {
            entry.expires_at = Some(Timestamp::from_unix_micros(secs.saturating_mul(1_000_000)));
        }
    }
    Ok(Some(entry))
}

/// What the `ttl` attribute alone says about an item at `now`, for listings that do not read
/// the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    Live,
    Expired,
    /// Within the second the `ttl` names: only the envelope can tell.
    Unsure,
}

pub(crate) fn liveness(ttl: Option<i64>, now: Timestamp) -> Liveness {
    let Some(secs) = ttl else {
        return Liveness::Live;
    };
    // The entry expires within [secs, secs + 1) seconds (see `parse_item`).
    let start = secs.saturating_mul(1_000_000);
    let now = now.unix_micros();
    if now < start {
        Liveness::Live
    } else if now >= start.saturating_add(1_000_000) {
        Liveness::Expired
    } else {
        Liveness::Unsure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use key_value_core::object;

    #[test]
    fn number_sizes_follow_dynamodb() {
        // dynalite's (DynamoDB's) sizes, checked against the server: 1700000000 costs 2 bytes
        // there (digits "17"), 17 costs 2, 1 costs 2.
        assert_eq!(number_size(1_700_000_000), 2);
        assert_eq!(number_size(17), 2);
        assert_eq!(number_size(1), 2);
        assert_eq!(number_size(0), 1);
        assert_eq!(number_size(1_764_108_123), 6);
        assert_eq!(number_size(-5), 3);
    }

    #[test]
    fn item_is_py_key_values_layout() {
        let created = Timestamp::from_unix_micros(1_764_108_000_123_456);
        let expires = Timestamp::from_unix_micros(1_764_111_600_999_999);
        let entry = ManagedEntry::new(object!({"b": 1, "a": "é"}), Some(created), Some(expires));
        let item = build_item("users", "u:1", &entry).unwrap();
        assert_eq!(item["collection"], json!({"S": "users"}));
        assert_eq!(item["key"], json!({"S": "u:1"}));
        assert_eq!(item["ttl"], json!({"N": "1764111600"}));
        assert_eq!(
            item["value"]["S"],
            "{\"collection\": \"users\", \"created_at\": \"2025-11-25T22:00:00.123456+00:00\", \
             \"expires_at\": \"2025-11-25T23:00:00.999999+00:00\", \"key\": \"u:1\", \
             \"value\": {\"a\": \"\\u00e9\", \"b\": 1}, \"version\": 1}"
        );
        let back = parse_item(&item).unwrap().unwrap();
        assert_eq!(
            back, entry,
            "the envelope's expiry is kept to the microsecond"
        );
        let untimed = ManagedEntry::new(object!({}), Some(created), None);
        let item = build_item("c", "k", &untimed).unwrap();
        assert!(item.get("ttl").is_none());
        assert_eq!(parse_item(&item).unwrap().unwrap().expires_at, None);
    }

    #[test]
    fn the_ttl_attribute_wins_when_it_disagrees() {
        let mut item = build_item(
            "c",
            "k",
            &ManagedEntry::new(
                object!({}),
                None,
                Some(Timestamp::from_unix_micros(5_500_000)),
            ),
        )
        .unwrap();
        item["ttl"] = json!({"N": "100"});
        let e = parse_item(&item).unwrap().unwrap();
        assert_eq!(e.expires_at, Some(Timestamp::from_unix_micros(100_000_000)));
        item["ttl"] = json!({"N": "1.5e2"});
        let e = parse_item(&item).unwrap().unwrap();
        assert_eq!(e.expires_at, Some(Timestamp::from_unix_micros(150_000_000)));
        item["ttl"] = json!({"S": "100"});
        assert_eq!(
            parse_item(&item).unwrap_err().kind(),
            ErrorKind::Deserialization
        );
        item["value"] = json!({"S": ""});
        assert_eq!(parse_item(&item).unwrap(), None, "py-key-value: a miss");
        item["value"] = json!({"S": "{not json"});
        item.as_object_mut().map(|m| m.remove("ttl"));
        assert_eq!(
            parse_item(&item).unwrap_err().kind(),
            ErrorKind::Deserialization
        );
    }

    #[test]
    fn too_large_items_and_bad_names_are_refused() {
        let entry = |n: usize| ManagedEntry::new(object!({"d": "x".repeat(n)}), None, None);
        // {"collection": "c", "key": "k", "value": {"d": "..."}, "version": 1}
        let overhead = Envelope::WITH_KEY.dump(&entry(0), "c", "k").len() + 10 + 1 + 3 + 1 + 5;
        assert!(build_item("c", "k", &entry(MAX_ITEM_SIZE - overhead)).is_ok());
        let err = build_item("c", "k", &entry(MAX_ITEM_SIZE - overhead + 1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
        assert!(check_names("c", &"k".repeat(1024)).is_ok());
        assert_eq!(
            check_names("c", &"é".repeat(513)).unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            check_names(&"c".repeat(2049), "k").unwrap_err().kind(),
            ErrorKind::InvalidCollection
        );
        assert_eq!(
            check_names("c", "").unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            check_names("", "k").unwrap_err().kind(),
            ErrorKind::InvalidCollection
        );
    }

    #[test]
    fn liveness_brackets_the_ttl_second() {
        let at = |s: f64| Timestamp::from_unix_micros((s * 1e6) as i64);
        assert_eq!(liveness(None, at(1e9)), Liveness::Live);
        assert_eq!(liveness(Some(100), at(99.9)), Liveness::Live);
        assert_eq!(liveness(Some(100), at(100.0)), Liveness::Unsure);
        assert_eq!(liveness(Some(100), at(100.5)), Liveness::Unsure);
        assert_eq!(liveness(Some(100), at(101.0)), Liveness::Expired);
    }
}

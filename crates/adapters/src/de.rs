//! Reading a stored `serde_json::Value` into a `T`, with errors that never contain the data.
//!
//! `serde_json`'s own messages quote what they found (`invalid type: string "s3cr3t", expected
//! u32`), and stored values may be secret. This deserializer behaves as `serde_json::from_value`
//! but builds its own error type, whose messages say what kind of value was found (`a string`)
//! and where (a JSON pointer, as pydantic's error `loc`), never the value itself. As pydantic
//! does, messages a type's own `Deserialize` impl writes (`Error::custom`) are kept as written.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Expected, IntoDeserializer,
    MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde_json::{Map, Number, Value};

/// Why a value does not fit the type: a message without data, and where in the value.
#[derive(Debug)]
pub(crate) struct DeError {
    message: String,
    /// Innermost segment first: errors collect their path on the way out.
    path: Vec<Segment>,
}

#[derive(Debug)]
enum Segment {
    Index(usize),
    Key(String),
}

impl DeError {
    fn new(message: String) -> Self {
        DeError {
            message,
            path: Vec::new(),
        }
    }

    fn at_index(mut self, index: usize) -> Self {
        self.path.push(Segment::Index(index));
        self
    }

    pub(crate) fn at_key(mut self, key: &str) -> Self {
        self.path.push(Segment::Key(key.to_string()));
        self
    }

    /// Where the error is, as a JSON pointer (RFC 6901); empty for the whole value.
    pub(crate) fn pointer(&self) -> String {
        let mut out = String::new();
        for segment in self.path.iter().rev() {
            out.push('/');
            match segment {
                Segment::Index(i) => out.push_str(&i.to_string()),
                Segment::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            }
        }
        out
    }

    /// What is wrong, without the path.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = self.pointer();
        if pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} (at {pointer})", self.message)
        }
    }
}

impl std::error::Error for DeError {}

/// The kind of a value, never the value.
fn kind(unexpected: &Unexpected<'_>) -> &'static str {
    match unexpected {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a number",
        Unexpected::Char(_) => "a character",
        Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct => "a newtype struct",
        Unexpected::Seq => "an array",
        Unexpected::Map => "an object",
        Unexpected::Enum => "an enum",
        Unexpected::UnitVariant => "a unit variant",
        Unexpected::NewtypeVariant => "a newtype variant",
        Unexpected::TupleVariant => "a tuple variant",
        Unexpected::StructVariant => "a struct variant",
        // `Other` is free text a type may fill with the value.
        Unexpected::Other(_) => "an unexpected value",
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        DeError::new(format!(
            "invalid type: {}, expected {expected}",
            kind(&unexpected)
        ))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        DeError::new(format!(
            "invalid value: {}, expected {expected}",
            kind(&unexpected)
        ))
    }

    fn invalid_length(len: usize, expected: &dyn Expected) -> Self {
        DeError::new(format!("invalid length {len}, expected {expected}"))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        // The variant found is data (an enum stored as a string); the expected ones are the
        // type's.
        DeError::new(format!("unknown variant, expected {}", one_of(expected)))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        // A field name is structure, not a value; pydantic names it too (in `loc`).
        DeError::new(format!(
            "unknown field `{field}`, expected {}",
            one_of(expected)
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(format!("missing field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(format!("duplicate field `{field}`"))
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing".to_string(),
        [one] => format!("`{one}`"),
        _ => {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

/// `serde_json::from_value`, with [`DeError`]s.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, DeError> {
    T::deserialize(ValueDe(value))
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Unexpected::Unsigned(u),
            (None, Some(i)) => Unexpected::Signed(i),
            _ => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

fn visit_number<'de, V: Visitor<'de>>(n: Number, visitor: V) -> Result<V::Value, DeError> {
    // The order serde_json uses: unsigned, then signed, then float.
    if let Some(u) = n.as_u64() {
        visitor.visit_u64(u)
    } else if let Some(i) = n.as_i64() {
        visitor.visit_i64(i)
    } else if let Some(f) = n.as_f64() {
        visitor.visit_f64(f)
    } else {
        Err(DeError::new("a number out of range".to_string()))
    }
}

fn visit_array<'de, V: Visitor<'de>>(array: Vec<Value>, visitor: V) -> Result<V::Value, DeError> {
    let len = array.len();
    let mut seq = SeqDe {
        iter: array.into_iter(),
        index: 0,
    };
    let out = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements in array"))
    }
}

fn visit_object<'de, V: Visitor<'de>>(
    object: Map<String, Value>,
    visitor: V,
) -> Result<V::Value, DeError> {
    let len = object.len();
    let mut map = MapDe {
        iter: object.into_iter(),
        pending: None,
    };
    let out = visitor.visit_map(&mut map)?;
    if map.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements in map"))
    }
}

struct ValueDe(Value);

impl<'de> Deserializer<'de> for ValueDe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(a) => visit_array(a, visitor),
            Value::Object(o) => visit_object(o, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(variant) => visitor.visit_enum(EnumDe {
                variant,
                value: None,
            }),
            Value::Object(object) => {
                let mut iter = object.into_iter();
                match (iter.next(), iter.next()) {
                    (Some((variant, value)), None) => visitor.visit_enum(EnumDe {
                        variant,
                        value: Some(value),
                    }),
                    _ => Err(de::Error::invalid_value(
                        Unexpected::Map,
                        &"an object with a single key",
                    )),
                }
            }
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a string or an object",
            )),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct SeqDe {
    iter: std::vec::IntoIter<Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for SeqDe {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(value) => {
                let index = self.index;
                self.index += 1;
                seed.deserialize(ValueDe(value))
                    .map(Some)
                    .map_err(|e| e.at_index(index))
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDe {
    iter: serde_json::map::IntoIter,
    pending: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for MapDe {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((key, value)) => {
                let out = seed
                    .deserialize(KeyDe(key.clone()))
                    .map_err(|e| e.at_key(&key))?;
                self.pending = Some((key, value));
                Ok(Some(out))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.pending.take() {
            Some((key, value)) => seed.deserialize(ValueDe(value)).map_err(|e| e.at_key(&key)),
            None => Err(DeError::new(
                "a map value was requested before its key".to_string(),
            )),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An object key: a string that number, boolean and enum types parse, as serde_json's map keys.
struct KeyDe(String);

macro_rules! parsed_key {
    ($($method:ident => $ty:ty, $visit:ident;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                match self.0.parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    // Let the type's visitor say that a string is not what it wants.
                    Err(_) => visitor.visit_string(self.0),
                }
            }
        )*
    };
}

impl<'de> Deserializer<'de> for KeyDe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_string(self.0)
    }

    parsed_key! {
        deserialize_i8 => i8, visit_i8;
        deserialize_i16 => i16, visit_i16;
        deserialize_i32 => i32, visit_i32;
        deserialize_i64 => i64, visit_i64;
        deserialize_i128 => i128, visit_i128;
        deserialize_u8 => u8, visit_u8;
        deserialize_u16 => u16, visit_u16;
        deserialize_u32 => u32, visit_u32;
        deserialize_u64 => u64, visit_u64;
        deserialize_u128 => u128, visit_u128;
        deserialize_f32 => f32, visit_f32;
        deserialize_f64 => f64, visit_f64;
        deserialize_bool => bool, visit_bool;
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(EnumDe {
            variant: self.0,
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct EnumDe {
    variant: String,
    value: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDe {
    type Error = DeError;
    type Variant = VariantDe;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDe), DeError> {
        let de: de::value::StrDeserializer<'_, DeError> = self.variant.as_str().into_deserializer();
        let variant = seed.deserialize(de)?;
        Ok((
            variant,
            VariantDe {
                name: self.variant,
                value: self.value,
            },
        ))
    }
}

struct VariantDe {
    name: String,
    value: Option<Value>,
}

impl<'de> VariantAccess<'de> for VariantDe {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a unit variant",
            )),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(value) => seed
                .deserialize(ValueDe(value))
                .map_err(|e| e.at_key(&self.name)),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(Value::Array(a)) => visit_array(a, visitor).map_err(|e| e.at_key(&self.name)),
            Some(other) => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a tuple variant",
            )),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match self.value {
            Some(Value::Object(o)) => visit_object(o, visitor),
            Some(Value::Array(a)) => visit_array(a, visitor),
            Some(other) => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a struct variant",
            )),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a struct variant",
            )),
        };
        result.map_err(|e| e.at_key(&self.name))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::from_value;
    use serde::Deserialize;
    use serde_json::json;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Debug, PartialEq, Deserialize)]
    struct Address {
        zip: u32,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct User {
        name: String,
        address: Address,
        tags: Vec<String>,
        nick: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Shape {
        Point,
        Circle(f64),
        Pair(i64, i64),
        Rect { w: u32, h: u32 },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(untagged)]
    enum Either {
        Num(i64),
        Text(String),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "type")]
    enum Tagged {
        A { a: i64 },
        B,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        a: i64,
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let v = json!({"name": "A", "address": {"zip": 12345}, "tags": ["x"], "nick": null});
        let expected: User = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(from_value::<User>(v).unwrap(), expected);
        for v in [
            json!("Point"),
            json!({"Circle": 1.5}),
            json!({"Pair": [1, -2]}),
            json!({"Rect": {"w": 1, "h": 2}}),
        ] {
            let expected: Shape = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(from_value::<Shape>(v).unwrap(), expected);
        }
        assert_eq!(from_value::<Either>(json!(5)).unwrap(), Either::Num(5));
        assert_eq!(
            from_value::<Either>(json!("x")).unwrap(),
            Either::Text("x".into())
        );
        assert_eq!(
            from_value::<Tagged>(json!({"type": "A", "a": 1})).unwrap(),
            Tagged::A { a: 1 }
        );
        assert_eq!(
            from_value::<Tagged>(json!({"type": "B"})).unwrap(),
            Tagged::B
        );
        let m: HashMap<i64, bool> = from_value(json!({"1": true, "-2": false})).unwrap();
        assert!(!m[&-2]);
        let m: BTreeMap<bool, u8> = from_value(json!({"true": 1})).unwrap();
        assert_eq!(m[&true], 1);
        assert_eq!(
            from_value::<(i64, String)>(json!([1, "a"])).unwrap(),
            (1, "a".into())
        );
        assert_eq!(from_value::<u64>(json!(u64::MAX)).unwrap(), u64::MAX);
        assert_eq!(from_value::<i128>(json!(-5)).unwrap(), -5);
        assert_eq!(from_value::<f32>(json!(1)).unwrap(), 1.0);
        assert_eq!(from_value::<Option<u8>>(json!(null)).unwrap(), None);
        assert_eq!(from_value::<()>(json!(null)).unwrap(), ());
        assert_eq!(from_value::<char>(json!("c")).unwrap(), 'c');
    }

    #[test]
    fn errors_say_where_and_what_kind_never_the_value() {
        let e = from_value::<User>(json!({
            "name": "A", "address": {"zip": "s3cr3t"}, "tags": [], "nick": null
        }))
        .unwrap_err();
        assert_eq!(e.pointer(), "/address/zip");
        assert_eq!(e.message(), "invalid type: a string, expected u32");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");

        let e = from_value::<User>(json!({
            "name": "A", "address": {"zip": 1}, "tags": ["ok", 7], "nick": null
        }))
        .unwrap_err();
        assert_eq!(e.pointer(), "/tags/1");

        let e = from_value::<u8>(json!(300)).unwrap_err();
        assert_eq!(e.to_string(), "invalid value: an integer, expected u8");

        let e = from_value::<Shape>(json!("s3cr3t")).unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(e.to_string().contains("`Point`"), "{e}");

        let e = from_value::<Shape>(json!({"Rect": {"w": "s3cr3t", "h": 1}})).unwrap_err();
        assert_eq!(e.pointer(), "/Rect/w");

        let e = from_value::<Strict>(json!({"a": 1, "b": 2})).unwrap_err();
        assert!(e.to_string().starts_with("unknown field `b`"), "{e}");

        let e = from_value::<User>(json!({"name": "A"})).unwrap_err();
        assert_eq!(e.to_string(), "missing field `address`");

        let e = from_value::<(i64,)>(json!([1, 2])).unwrap_err();
        assert!(e.to_string().starts_with("invalid length 2"), "{e}");

        let e = from_value::<HashMap<String, i64>>(json!({"a/b~c": "s3cr3t"})).unwrap_err();
        assert_eq!(e.pointer(), "/a~1b~0c");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }
}

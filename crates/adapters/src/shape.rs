//! Whether a type is stored as a JSON object or wrapped as `{"items": ...}`.
//!
//! py-key-value's `PydanticAdapter` decides once per type, from the type's JSON schema: a schema
//! of `"type": "object"` (models, dataclasses, dicts) is stored as is, anything else (lists,
//! numbers, strings, enums, optionals, unions, `Any`) is wrapped. A Rust type has no schema,
//! but its `Deserialize` impl asks the deserializer for one shape first: a probe deserializer
//! records that request without any data.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Whether `T` is a JSON object type (a struct or a map, possibly behind newtypes), i.e. stored
/// without the `{"items": ...}` wrapper.
pub(crate) fn is_object_type<T: for<'de> Deserialize<'de>>() -> bool {
    match T::deserialize(Probe) {
        Err(Found(Some(object))) => object,
        // The type asked for nothing before failing, or succeeded without data: no shape to
        // go by, so wrap it, as py-key-value does for types without an object schema.
        Err(Found(None)) | Ok(_) => false,
    }
}

/// The probe's "error": carries the shape the type asked for.
#[derive(Debug)]
struct Found(Option<bool>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shape probe")
    }
}

impl std::error::Error for Found {}

impl de::Error for Found {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Found(None)
    }
}

struct Probe;

/// The answer of the probe: the shape the type asked for, as an error that stops it.
fn found<T>(object: bool) -> Result<T, Found> {
    Err(Found(Some(object)))
}

macro_rules! wrapped {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Found> {
                found(false)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Probe {
    type Error = Found;

    // `deserialize_any` is how untagged and internally tagged enums and `serde_json::Value`
    // start: unions and `Any` in pydantic's terms, which have no object schema.
    wrapped! {
        deserialize_any deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit
        deserialize_seq deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Found> {
        found(true)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Found> {
        found(true)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Found> {
        // A newtype is stored as what it wraps.
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, Found> {
        found(false)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, Found> {
        found(false)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, Found> {
        found(false)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Found> {
        found(false)
    }
}

#[cfg(test)]
mod tests {
    use super::is_object_type;
    use serde::Deserialize;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Model {
        a: i64,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Wrapper(Model);

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Id(u64);

    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum Color {
        Red,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Either {
        A(Model),
        B(i64),
    }

    #[derive(Deserialize)]
    #[serde(tag = "type")]
    #[allow(dead_code)]
    enum Tagged {
        A { a: i64 },
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Flat {
        #[serde(flatten)]
        rest: HashMap<String, i64>,
    }

    #[test]
    fn objects_are_structs_and_maps() {
        assert!(is_object_type::<Model>());
        assert!(is_object_type::<Wrapper>());
        assert!(is_object_type::<Flat>());
        assert!(is_object_type::<HashMap<String, i64>>());
        assert!(is_object_type::<BTreeMap<u32, String>>());
        assert!(is_object_type::<serde_json::Map<String, serde_json::Value>>());
        assert!(is_object_type::<Box<Model>>());
    }

    #[test]
    fn everything_else_is_wrapped() {
        assert!(!is_object_type::<Vec<Model>>());
        assert!(!is_object_type::<Option<Model>>());
        assert!(!is_object_type::<i64>());
        assert!(!is_object_type::<f64>());
        assert!(!is_object_type::<bool>());
        assert!(!is_object_type::<String>());
        assert!(!is_object_type::<(i64, String)>());
        assert!(!is_object_type::<()>());
        assert!(!is_object_type::<Id>());
        assert!(!is_object_type::<Color>());
        assert!(!is_object_type::<Either>());
        assert!(!is_object_type::<Tagged>());
        assert!(!is_object_type::<serde_json::Value>());
    }
}

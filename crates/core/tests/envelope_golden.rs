//! The envelope against vectors written by the real py-key-value 0.4.6
//! (`tests/data/gen_envelope_vectors.py`): same bytes out, same entry back in.

use key_value_core::Timestamp;
use key_value_core::entry::{Envelope, ManagedEntry};
use serde_json::Value;

#[test]
fn envelopes_match_py_key_value_byte_for_byte() {
    let doc: Value = serde_json::from_str(include_str!("data/envelope_vectors.json")).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 200, "only {} vectors", vectors.len());
    for v in vectors {
        let adapter = v["adapter"].as_str().unwrap();
        let form = Envelope {
            include_key: v["with_key"].as_bool().unwrap(),
            include_dates: adapter != "no_dates",
            value_as_string: adapter == "string_value",
        };
        let created = Timestamp::from_unix_micros(v["created_at_micros"].as_i64().unwrap());
        let expires = v["expires_at_micros"]
            .as_i64()
            .map(Timestamp::from_unix_micros);
        assert_eq!(created.to_iso(), v["created_at_iso"].as_str().unwrap());
        let entry = ManagedEntry::new(
            v["value"].as_object().unwrap().clone(),
            Some(created),
            expires,
        );
        let expected = v["json"].as_str().unwrap();
        let written = form.dump(
            &entry,
            v["collection"].as_str().unwrap(),
            v["key"].as_str().unwrap(),
        );
        assert_eq!(written, expected, "adapter {adapter}");

        let read = Envelope::load(expected).unwrap();
        assert_eq!(read.value, entry.value);
        if form.include_dates {
            assert_eq!(read, entry);
        } else {
            assert_eq!((read.created_at, read.expires_at), (None, None));
        }
    }
}

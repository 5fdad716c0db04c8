//! Strict JSON parsing of request bodies: UTF-8, well-formed, and no property repeated in
//! one object (serde_json would silently keep the last one). Called by the HTTP layer on
//! every statement body, so the happy path does no more work than `serde_json::from_slice`
//! plus one map lookup per key; the path of a repeated key is built only while unwinding.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::path::{render_segments, Segment};
use super::ValidationError;

/// Parses `bytes` as one JSON document, refusing duplicate properties with their path
/// (`actor.name: appears more than once`).
pub fn parse_json(bytes: &[u8]) -> Result<Value, ValidationError> {
    let mut duplicate = None;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue { duplicate: &mut duplicate }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(error) => Err(match duplicate {
            Some(mut reversed) => {
                reversed.reverse();
                ValidationError::new(render_segments(&reversed), "appears more than once")
            }
            None => ValidationError::new("", format!("is not well-formed JSON: {error}")),
        }),
    }
}

/// Set when a repeated key is found: that key first, then each enclosing key or index
/// pushed while the error travels outwards.
type DuplicatePath = Option<Vec<Segment>>;

struct StrictValue<'a> {
    duplicate: &'a mut DuplicatePath,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite float from JSON text.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let seed = StrictValue { duplicate: &mut *self.duplicate };
            match seq.next_element_seed(seed) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Value::Array(items)),
                Err(error) => {
                    if let Some(path) = self.duplicate.as_mut() {
                        path.push(Segment::Index(items.len()));
                    }
                    return Err(error);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let seed = StrictValue { duplicate: &mut *self.duplicate };
            let value = match access.next_value_seed(seed) {
                Ok(value) => value,
                Err(error) => {
                    if let Some(path) = self.duplicate.as_mut() {
                        path.push(Segment::Key(key));
                    }
                    return Err(error);
                }
            };
            match map.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(slot) => {
                    *self.duplicate = Some(vec![Segment::Key(slot.key().clone())]);
                    return Err(de::Error::custom("duplicate property"));
                }
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json_and_keeps_property_order() {
        let text = r#"{"z":1,"a":[true,null,-2,1.5e3,"é"],"m":{"y":{},"b":[]}}"#;
        let strict = parse_json(text.as_bytes()).expect("well-formed JSON");
        let plain: Value = serde_json::from_str(text).unwrap();
        assert_eq!(strict, plain);
        let keys: Vec<&String> = strict.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn names_the_path_of_a_repeated_property() {
        for (body, expected) in [
            (r#"{"id":"a","id":"b"}"#, "id: appears more than once"),
            (r#"{"actor":{"name":"A","name":"B"}}"#, "actor.name: appears more than once"),
            (
                r#"{"context":{"contextActivities":{"parent":[{"id":"x"},{"id":"y","id":"z"}]}}}"#,
                "context.contextActivities.parent[1].id: appears more than once",
            ),
            (r#"[{},{"verb":{},"verb":{}}]"#, "[1].verb: appears more than once"),
            (
                r#"{"result":{"extensions":{"http://e.com/x":1,"http://e.com/x":2}}}"#,
                r#"result.extensions["http://e.com/x"]: appears more than once"#,
            ),
        ] {
            let error = parse_json(body.as_bytes()).expect_err(body);
            assert_eq!(error.to_string(), expected, "body {body}");
        }
    }

    #[test]
    fn refuses_bodies_that_are_not_json() {
        for (body, why) in [
            (&b"{\"a\":"[..], "truncated"),
            (b"{\"a\":1} x", "trailing characters"),
            (b"", "empty"),
            (b"{\"a\":\"\xff\"}", "invalid UTF-8 in a string"),
            (b"{'a':1}", "single quotes"),
            (b"{\"a\":NaN}", "NaN"),
        ] {
            let error = parse_json(body).expect_err(why);
            assert!(error.path.is_empty(), "{why}: the path should be empty, got {error}");
            assert!(error.rule.contains("not well-formed JSON"), "{why}: {error}");
        }
    }
}

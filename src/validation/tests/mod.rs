//! Table-driven tests of statement validation: every rule with an accepted and a refused
//! value, under both versions where they differ, and the wording of each error.

mod actors;
mod batches;
mod context;
mod objects;
mod result;
mod statement;

use serde_json::{json, Value};

use super::validate_statement;
use crate::xapi::XapiVersion;

pub const BOTH: &[XapiVersion] = &[XapiVersion::V1_0_3, XapiVersion::V2_0_0];
pub const V1: &[XapiVersion] = &[XapiVersion::V1_0_3];
pub const V2: &[XapiVersion] = &[XapiVersion::V2_0_0];

/// The valid statement every case mutates.
pub fn base() -> Value {
    json!({
        "actor": {"objectType": "Agent", "name": "A", "mbox": "mailto:a@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted", "display": {"en-US": "attempted"}},
        "object": {"objectType": "Activity", "id": "http://www.example.com/meetings/occurances/34534"}
    })
}

/// `base()` with the value at a JSON pointer replaced (intermediate objects are created).
pub fn with(pointer: &str, value: Value) -> Value {
    set(base(), pointer, value)
}

pub fn set(mut statement: Value, pointer: &str, value: Value) -> Value {
    let mut node = &mut statement;
    let mut tokens = pointer.split('/').skip(1).peekable();
    while let Some(token) = tokens.next() {
        let token = token.replace("~1", "/").replace("~0", "~");
        if tokens.peek().is_none() {
            match node {
                Value::Array(items) => items[token.parse::<usize>().unwrap()] = value,
                _ => {
                    node.as_object_mut().expect("pointer goes through objects").insert(token, value);
                }
            }
            return statement;
        }
        node = match node {
            Value::Array(items) => &mut items[token.parse::<usize>().unwrap()],
            _ => node.as_object_mut().expect("pointer goes through objects").entry(token).or_insert_with(|| json!({})),
        };
    }
    value
}

/// `base()` without the property at a JSON pointer.
pub fn without(pointer: &str) -> Value {
    let mut statement = base();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    statement.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(key);
    statement
}

pub fn assert_accepted(why: &str, statement: &Value, versions: &[XapiVersion]) {
    for version in versions {
        if let Err(error) = validate_statement(statement, *version) {
            panic!("{why} should be accepted under {version}, got \"{error}\"\n{statement:#}");
        }
    }
}

/// Refused under each version, with an error whose text contains `expected` (which
/// starts with the property path, so the path is checked too).
pub fn assert_refused(why: &str, statement: &Value, versions: &[XapiVersion], expected: &str) {
    for version in versions {
        match validate_statement(statement, *version) {
            Ok(()) => panic!("{why} should be refused under {version}\n{statement:#}"),
            Err(error) => {
                let text = error.to_string();
                assert!(text.contains(expected), "{why} under {version}: expected {expected:?} in \"{text}\"");
            }
        }
    }
}

pub type Case = (&'static str, Value, &'static str);

/// Runs refused cases: (why, statement, expected error fragment).
pub fn refuse_all(cases: Vec<Case>, versions: &[XapiVersion]) {
    for (why, statement, expected) in cases {
        assert_refused(why, &statement, versions, expected);
    }
}

pub fn accept_all(cases: Vec<(&'static str, Value)>, versions: &[XapiVersion]) {
    for (why, statement) in cases {
        assert_accepted(why, &statement, versions);
    }
}

#[test]
fn the_base_statement_is_valid_under_both_versions() {
    assert_accepted("the base statement", &base(), BOTH);
}

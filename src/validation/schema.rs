//! The JSON Schema half of statement validation: loads `schemas/<version>/statement.schema.json`
//! once, registers the xAPI string formats, and turns `jsonschema` errors into the same
//! `path: rule` wording as the Rust rules. Used by `validate_statement` and the agent parameter.

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::primitive_type::PrimitiveType;
use jsonschema::{Draft, Validator};
use serde_json::{json, Value};

use super::datatypes as dt;
use super::path::from_pointer;
use super::ValidationError;
use crate::xapi::XapiVersion;

const SCHEMA_1_0_3: &str = include_str!("../../schemas/1.0.3/statement.schema.json");
const SCHEMA_2_0_0: &str = include_str!("../../schemas/2.0.0/statement.schema.json");

/// A custom format: its name in the schemas, its predicate, and what a value must be.
struct Format {
    name: &'static str,
    check: fn(&str) -> bool,
    noun: &'static str,
}

const FORMATS: &[Format] = &[
    Format {
        name: "xapi-iri",
        check: dt::is_iri,
        noun: r#"an absolute IRI with a scheme, like "http://example.com/x""#,
    },
    Format {
        name: "xapi-irl",
        check: dt::is_irl,
        noun: r#"an absolute IRL with a scheme, like "https://example.com/x""#,
    },
    Format {
        name: "xapi-uri",
        check: dt::is_uri,
        noun: r#"an absolute URI with a scheme, like "http://example.com/x""#,
    },
    Format { name: "xapi-uuid", check: dt::is_canonical_uuid, noun: "a UUID in canonical 8-4-4-4-12 hexadecimal form" },
    Format {
        name: "xapi-timestamp",
        check: dt::is_timestamp,
        noun: r#"an ISO 8601 timestamp, like "2024-05-04T17:00:00.000Z""#,
    },
    Format { name: "xapi-duration", check: dt::is_duration, noun: r#"an ISO 8601 duration, like "PT1H30M" or "P4W""# },
    Format { name: "xapi-language-tag", check: dt::is_language_tag, noun: r#"an RFC 5646 language tag, like "en-US""# },
    Format { name: "xapi-mailto", check: dt::is_mailto, noun: r#"a "mailto:" IRI holding an e-mail address"# },
    Format { name: "xapi-sha1", check: dt::is_sha1_hex, noun: "40 hexadecimal digits (the SHA-1 of a mailto IRI)" },
    Format {
        name: "xapi-sha2",
        check: dt::is_sha2_hex,
        noun: "a hex SHA-2 digest (56, 64, 96 or 128 hexadecimal digits)",
    },
    Format {
        name: "xapi-media-type",
        check: dt::is_media_type,
        noun: r#"an Internet media type, like "application/json""#,
    },
    Format { name: "xapi-version-1.0", check: dt::is_version_1_0, noun: r#""1.0" or "1.0.x" under xAPI 1.0.3"# },
    Format { name: "xapi-version-2.0", check: dt::is_version_1_0_or_2_0, noun: r#""1.0", "1.0.x", "2.0" or "2.0.x""# },
];

static STATEMENT_1_0_3: LazyLock<Validator> = LazyLock::new(|| compile(&parse(SCHEMA_1_0_3)));
static STATEMENT_2_0_0: LazyLock<Validator> = LazyLock::new(|| compile(&parse(SCHEMA_2_0_0)));

/// An Agent or Group on its own (the `agent` parameter), reusing the statement schema's
/// definitions so there is one source of truth for agent structure.
static ACTOR: LazyLock<Validator> = LazyLock::new(|| {
    let statement = parse(SCHEMA_2_0_0);
    compile(&json!({
        "$schema": statement["$schema"],
        "$defs": statement["$defs"],
        "$ref": "#/$defs/actor",
    }))
});

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("bundled statement schema is valid JSON")
}

fn compile(schema: &Value) -> Validator {
    let mut options = jsonschema::options();
    options.with_draft(Draft::Draft202012).should_validate_formats(true);
    for format in FORMATS {
        options.with_format(format.name, format.check);
    }
    options.build(schema).expect("bundled statement schema compiles")
}

/// Checks a statement's structure, describing the first problem found.
pub fn check_statement(statement: &Value, version: XapiVersion) -> Result<(), ValidationError> {
    let validator = match version {
        XapiVersion::V1_0_3 => &*STATEMENT_1_0_3,
        XapiVersion::V2_0_0 => &*STATEMENT_2_0_0,
    };
    check(validator, statement, version)
}

/// Checks the structure of an Agent or Group given on its own.
pub fn check_actor(actor: &Value) -> Result<(), ValidationError> {
    check(&ACTOR, actor, XapiVersion::V2_0_0)
}

fn check(validator: &Validator, instance: &Value, version: XapiVersion) -> Result<(), ValidationError> {
    // The fast boolean walk runs on every statement; error details only for invalid ones.
    if validator.is_valid(instance) {
        return Ok(());
    }
    let first = validator.iter_errors(instance).next();
    Err(match first {
        Some(error) => describe(instance, &error, version),
        None => ValidationError::new("", "is not a valid statement"),
    })
}

/// Words one schema error the way the Rust rules word theirs.
fn describe(root: &Value, error: &jsonschema::ValidationError, version: XapiVersion) -> ValidationError {
    let pointer = error.instance_path.as_str();
    let path = from_pointer(root, pointer);
    let instance: &Value = &error.instance;
    let rule = match &error.kind {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let key = unexpected.first().map(String::as_str).unwrap_or_default();
            let child = from_pointer(root, &format!("{pointer}/{}", escape_pointer(key)));
            return ValidationError::new(child, unknown_property_rule(instance, &path, key, version));
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            format!(r#"required property "{name}" is missing{}"#, missing_hint(instance, name))
        }
        ValidationErrorKind::Type { kind } => {
            format!("must be {}, not {}", expected_types(kind), describe_value(instance))
        }
        ValidationErrorKind::Constant { expected_value } => constant_rule(expected_value, instance),
        ValidationErrorKind::Enum { options } => enum_rule(options, instance),
        ValidationErrorKind::Format { format } => format!("must be {}", format_noun(format)),
        ValidationErrorKind::PropertyNames { error } => match &error.kind {
            ValidationErrorKind::Format { format } => {
                format!("key {} must be {}", error.instance, format_noun(format))
            }
            _ => format!("key {} is not allowed", error.instance),
        },
        ValidationErrorKind::MinItems { limit } => {
            format!("must have at least {limit} item{}", if *limit == 1 { "" } else { "s" })
        }
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        _ => error.to_string(),
    };
    ValidationError::new(path, rule)
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

const IFIS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

/// Every property name xAPI defines, to spot a name sent in the wrong case.
#[rustfmt::skip]
const KNOWN_PROPERTIES: &[&str] = &[
    "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
    "version", "attachments", "objectType", "name", "mbox", "mbox_sha1sum", "openid", "account",
    "homePage", "member", "display", "definition", "description", "type", "moreInfo", "extensions",
    "interactionType", "correctResponsesPattern", "choices", "scale", "source", "target", "steps",
    "score", "success", "completion", "response", "duration", "scaled", "raw", "min", "max",
    "registration", "instructor", "team", "contextActivities", "contextAgents", "contextGroups",
    "revision", "platform", "language", "statement", "parent", "grouping", "category", "other",
    "agent", "group", "relevantTypes", "usageType", "contentType", "length", "sha2", "fileUrl",
];

fn unknown_property_rule(object: &Value, path: &str, key: &str, version: XapiVersion) -> String {
    let object_type = object.get("objectType").and_then(Value::as_str);
    if version == XapiVersion::V1_0_3 && matches!(key, "contextAgents" | "contextGroups") && path.ends_with("context") {
        return format!("is not an allowed property in xAPI 1.0.3 ({key} was added in xAPI 2.0)");
    }
    if object_type == Some("SubStatement") && matches!(key, "id" | "stored" | "version" | "authority") {
        return "is not allowed in a SubStatement".to_owned();
    }
    if IFIS.contains(&key) && object_type.is_none() {
        // Only an Activity position refuses an identifier: the object lacks its objectType.
        return r#"is not an allowed property (an Agent or Group used as an object needs "objectType")"#.to_owned();
    }
    if matches!(key, "actor" | "verb") && object_type.is_none() {
        return r#"is not an allowed property (a SubStatement needs "objectType": "SubStatement")"#.to_owned();
    }
    if key == "member" && object_type != Some("Group") {
        return r#"is not an allowed property (only a Group has members; set "objectType": "Group")"#.to_owned();
    }
    match KNOWN_PROPERTIES.iter().find(|known| known.eq_ignore_ascii_case(key)) {
        Some(known) if *known != key => {
            format!(r#"is not an allowed property (names are case-sensitive: did you mean "{known}"?)"#)
        }
        _ => "is not an allowed property".to_owned(),
    }
}

fn missing_hint(object: &Value, name: &str) -> &'static str {
    let has_identifier = IFIS.iter().chain(&["member"]).any(|ifi| object.get(ifi).is_some());
    if name == "id" && has_identifier && object.get("objectType").is_none() {
        r#" (an Agent or Group used as an object needs "objectType")"#
    } else {
        ""
    }
}

fn constant_rule(expected: &Value, instance: &Value) -> String {
    if expected == "Agent" && instance == "Group" {
        return r#"must be "Agent": a Group is not allowed here"#.to_owned();
    }
    format!("must be {expected}")
}

fn enum_rule(options: &Value, instance: &Value) -> String {
    if instance == "SubStatement" {
        return "must not be \"SubStatement\": a SubStatement cannot contain another SubStatement".to_owned();
    }
    let listed: Vec<String> =
        options.as_array().map(|items| items.iter().map(Value::to_string).collect()).unwrap_or_default();
    format!("must be one of {} (case-sensitive)", listed.join(", "))
}

fn format_noun(format: &str) -> &str {
    FORMATS.iter().find(|known| known.name == format).map_or("well-formed", |known| known.noun)
}

fn expected_types(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(single) => type_noun(*single).to_owned(),
        TypeKind::Multiple(many) => {
            let nouns: Vec<&str> = many.into_iter().map(type_noun).collect();
            nouns.join(" or ")
        }
    }
}

fn type_noun(primitive: PrimitiveType) -> &'static str {
    match primitive {
        PrimitiveType::Array => "an array",
        PrimitiveType::Boolean => "true or false",
        PrimitiveType::Integer => "an integer",
        PrimitiveType::Null => "null",
        PrimitiveType::Number => "a number",
        PrimitiveType::Object => "an object",
        PrimitiveType::String => "a string",
    }
}

fn describe_value(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bundled_schemas_compile() {
        assert!(STATEMENT_1_0_3.is_valid(&json!({
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://example.com/v"},
            "object": {"id": "http://example.com/a"}
        })));
        assert!(!STATEMENT_2_0_0.is_valid(&json!({})));
    }

    #[test]
    fn the_schemas_differ_only_in_what_xapi_2_0_changed() {
        let mut older = parse(SCHEMA_1_0_3);
        let mut newer = parse(SCHEMA_2_0_0);
        for schema in [&mut older, &mut newer] {
            let root = schema.as_object_mut().unwrap();
            root.remove("$id");
            root.remove("title");
            root["properties"].as_object_mut().unwrap().remove("version");
        }
        let defs = newer["$defs"].as_object_mut().unwrap();
        for only_in_2_0 in ["relevantTypes", "contextAgent", "contextGroup"] {
            assert!(defs.remove(only_in_2_0).is_some(), "2.0 schema should define {only_in_2_0}");
        }
        let context = defs["context"]["properties"].as_object_mut().unwrap();
        context.remove("contextAgents");
        context.remove("contextGroups");
        assert_eq!(older, newer, "the 1.0.3 and 2.0.0 schemas drifted apart");
    }

    #[test]
    fn every_format_used_by_the_schemas_is_registered() {
        for text in [SCHEMA_1_0_3, SCHEMA_2_0_0] {
            for (start, _) in text.match_indices("\"format\": \"") {
                let name = text[start + 11..].split('"').next().unwrap();
                assert!(
                    FORMATS.iter().any(|known| known.name == name),
                    "format {name} is used in a schema but not registered"
                );
            }
        }
    }
}

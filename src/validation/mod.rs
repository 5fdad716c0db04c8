//! Statement and parameter validation: strict JSON parsing, JSON Schema structure checks
//! (documents in `schemas/`) and the rules a schema cannot express. Called by the service
//! layer before anything reaches storage.

mod agents;
pub mod datatypes;
mod duration;
mod error;
mod json;
mod path;
mod rules;
mod schema;
pub mod signature;

#[cfg(test)]
mod tests;

use std::collections::HashSet;

use serde_json::Value;

use crate::xapi::XapiVersion;

pub use datatypes::{is_canonical_uuid, is_duration, is_iri, is_irl, is_language_tag, validate_agent_param};
pub use error::ValidationError;
pub use json::parse_json;
use path::Path;

/// Validates one statement under the rules of `version`: structure by the JSON Schema,
/// then the cross-property rules. The error names the first problem found.
pub fn validate_statement(statement: &Value, version: XapiVersion) -> Result<(), ValidationError> {
    schema::check_statement(statement, version)?;
    rules::check_statement(statement, &Path::Root, false)
}

/// Validates a request body: one statement object, or an array of statements (possibly
/// empty) whose errors are reported as `[i].path`. Ids within one array must be distinct.
pub fn validate_statements(body: &Value, version: XapiVersion) -> Result<(), ValidationError> {
    let statements = match body {
        Value::Object(_) => return validate_statement(body, version),
        Value::Array(statements) => statements,
        _ => return Err(ValidationError::new("", "must be a statement object or an array of statement objects")),
    };
    let mut ids = HashSet::with_capacity(statements.len());
    for (i, statement) in statements.iter().enumerate() {
        validate_statement(statement, version).map_err(|error| at_index(i, error))?;
        if let Some(id) = statement.get("id").and_then(Value::as_str) {
            // UUIDs compare without regard to case.
            if !ids.insert(id.to_ascii_lowercase()) {
                return Err(at_index(
                    i,
                    ValidationError::new("id", "is used by another statement in the same request"),
                ));
            }
        }
    }
    Ok(())
}

fn at_index(index: usize, error: ValidationError) -> ValidationError {
    let path = if error.path.is_empty() {
        format!("[{index}]")
    } else if error.path.starts_with('[') {
        format!("[{index}]{}", error.path)
    } else {
        format!("[{index}].{}", error.path)
    };
    ValidationError::new(path, error.rule)
}

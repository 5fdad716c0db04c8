//! Attachment rules of the Statement resource: multipart parts matched to attachments by
//! SHA-2 only (none missing, none extra), signed statements checked (JWS well formed,
//! RS256/384/512, payload equivalent to the statement), and the parts to send back for
//! `attachments=true`.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::error::{ApiError, ErrorCode};
use crate::validation::signature::{verify_jws, SIGNATURE_USAGE};
use crate::xapi::equivalence::statements_equivalent;
use crate::xapi::multipart::Part;

fn refuse(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidStatement, message)
}

/// The attachments of a statement, with the path prefix of each.
fn attachments_of(statement: &Value) -> impl Iterator<Item = (usize, &Value)> {
    statement["attachments"].as_array().into_iter().flatten().enumerate()
}

fn sha2_of(attachment: &Value) -> Option<String> {
    attachment["sha2"].as_str().map(str::to_ascii_lowercase)
}

/// Checks the received parts against the statements' attachments, and every signature.
/// Returns the parts to store, keyed by lowercase hash.
pub fn check_parts(statements: &[Value], parts: Vec<Part>, in_batch: bool) -> Result<HashMap<String, Part>, ApiError> {
    let mut by_hash: HashMap<String, Part> = HashMap::new();
    for (index, part) in parts.into_iter().enumerate() {
        let hash = part.sha2().map(str::to_ascii_lowercase).unwrap_or_default();
        let declared = statements.iter().flat_map(attachments_of).any(|(_, a)| sha2_of(a).as_deref() == Some(&hash));
        if !declared {
            return Err(refuse(format!(
                "multipart: part {} (X-Experience-API-Hash {hash}) matches no attachment's sha2",
                index + 2
            )));
        }
        by_hash.insert(hash, part);
    }
    for (statement_index, statement) in statements.iter().enumerate() {
        let prefix = if in_batch { format!("[{statement_index}].") } else { String::new() };
        for (index, attachment) in attachments_of(statement) {
            let hash = sha2_of(attachment).unwrap_or_default();
            let part = by_hash.get(&hash);
            let is_signature = attachment["usageType"].as_str() == Some(SIGNATURE_USAGE);
            if part.is_none() && (is_signature || attachment.get("fileUrl").is_none()) {
                return Err(refuse(format!(
                    "{prefix}attachments[{index}]: no multipart part carries data with sha2 {hash}{}",
                    if is_signature { " (a signature must be sent as a part)" } else { " and it has no fileUrl" }
                )));
            }
            if let (true, Some(part)) = (is_signature, part) {
                check_signature(statement, &part.body, index).map_err(|e| match in_batch {
                    true => refuse(format!("[{statement_index}].{}", e.message)),
                    false => e,
                })?;
            }
        }
    }
    Ok(by_hash)
}

fn check_signature(statement: &Value, jws: &[u8], index: usize) -> Result<(), ApiError> {
    let payload = verify_jws(jws, index).map_err(|e| refuse(e.to_string()))?;
    if !statements_equivalent(statement, &payload) {
        return Err(refuse(format!(
            "attachments[{index}]: the signed payload is not equivalent to the statement it signs"
        )));
    }
    Ok(())
}

/// The distinct attachment hashes of the statements that may have stored bytes.
pub fn stored_hashes(statements: &[Value]) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for statement in statements {
        for (_, attachment) in attachments_of(statement) {
            let (Some(hash), Some(content_type)) = (attachment["sha2"].as_str(), attachment["contentType"].as_str())
            else {
                continue;
            };
            if seen.insert(hash.to_ascii_lowercase()) {
                found.push((hash.to_string(), content_type.to_string()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn part(hash: &str) -> Part {
        Part { headers: vec![("X-Experience-API-Hash".into(), hash.into())], body: b"data".to_vec() }
    }

    fn statement_with(attachment: Value) -> Value {
        json!({"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": "http://example.com/v"},
               "object": {"id": "http://example.com/o"}, "attachments": [attachment]})
    }

    #[test]
    fn parts_must_match_attachments_by_hash_and_attachments_need_data_or_a_file_url() {
        let with_data = statement_with(json!({"sha2": "AB", "contentType": "text/plain"}));
        let by_url =
            statement_with(json!({"sha2": "cd", "contentType": "text/plain", "fileUrl": "http://x.example/f"}));

        assert!(check_parts(std::slice::from_ref(&with_data), vec![part("ab")], false).is_ok());
        assert!(check_parts(std::slice::from_ref(&by_url), vec![], false).is_ok());
        let missing = check_parts(std::slice::from_ref(&with_data), vec![], false).unwrap_err();
        assert!(missing.message.contains("attachments[0]"), "{}", missing.message);
        let extra = check_parts(std::slice::from_ref(&by_url), vec![part("ef")], false).unwrap_err();
        assert!(extra.message.contains("matches no attachment"), "{}", extra.message);
        let batch = check_parts(&[by_url, with_data], vec![], true).unwrap_err();
        assert!(batch.message.starts_with("[1].attachments[0]"), "{}", batch.message);
    }

    #[test]
    fn a_signature_must_arrive_as_a_part() {
        let signed = statement_with(json!({"sha2": "ab", "contentType": "application/octet-stream",
            "usageType": SIGNATURE_USAGE, "fileUrl": "http://x.example/sig"}));
        let error = check_parts(&[signed], vec![], false).unwrap_err();
        assert!(error.message.contains("signature"), "{}", error.message);
    }
}

//! The document resources' rules (State, Activity Profile, Agent Profile): concurrency
//! (`If-Match` / `If-None-Match`, 409 / 412, and how 1.0.3 and 2.0 differ), JSON merge on
//! POST, ETags. Writes are compare-and-swap on the ETag read, so concurrent writers never
//! lose an update; the store stays free of these rules.

use std::sync::Arc;

use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::auth::{Access, Principal};
use crate::error::{ApiError, ErrorCode};
use crate::storage::{Document, DocumentKey, DocumentKind, DocumentScope, Expectation, Store};
use crate::xapi::time::{now_micros, Micros};
use crate::xapi::XapiVersion;

/// A concurrent writer can change the document between our read and our write; the
/// rules are then evaluated again on what is there now.
const WRITE_ATTEMPTS: usize = 8;

/// The concurrency headers of a request.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl Conditions {
    fn any(&self) -> bool {
        self.if_match.is_some() || self.if_none_match.is_some()
    }
}

pub struct DocumentService {
    store: Arc<dyn Store>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Store or replace.
    Put,
    /// Store, or merge into an existing JSON document.
    Post,
}

pub fn sha1_hex(content: &[u8]) -> String {
    hex::encode(Sha1::digest(content))
}

fn access(kind: DocumentKind, write: bool) -> Access {
    match (kind, write) {
        (DocumentKind::State, false) => Access::ReadState,
        (DocumentKind::State, true) => Access::WriteState,
        (_, false) => Access::ReadProfiles,
        (_, true) => Access::WriteProfiles,
    }
}

impl DocumentService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    pub async fn get_document(&self, principal: &Principal, key: &DocumentKey) -> Result<Document, ApiError> {
        principal.require(access(key.scope.kind, false))?;
        self.store
            .find_document(key)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no document with id {:?} here", key.id)))
    }

    /// The ids of the scope's documents, and the latest update among them.
    pub async fn list_ids(
        &self,
        principal: &Principal,
        scope: &DocumentScope,
        since: Option<Micros>,
    ) -> Result<(Vec<String>, Option<Micros>), ApiError> {
        principal.require(access(scope.kind, false))?;
        let found = self.store.query_document_ids(scope, since).await?;
        let latest = found.iter().map(|(_, updated)| *updated).max();
        Ok((found.into_iter().map(|(id, _)| id).collect(), latest))
    }

    /// Stores (PUT) or merges into (POST) a document, under the concurrency rules of the
    /// request's version.
    #[allow(clippy::too_many_arguments)]
    pub async fn write_document(
        &self,
        principal: &Principal,
        version: XapiVersion,
        key: &DocumentKey,
        content: Vec<u8>,
        content_type: Option<String>,
        conditions: &Conditions,
        mode: Write,
    ) -> Result<(), ApiError> {
        principal.require(access(key.scope.kind, true))?;
        let content_type = content_type.unwrap_or_else(|| "application/octet-stream".to_string());
        if mode == Write::Post {
            check_posted_json(&content, &content_type)?;
        }
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.store.find_document(key).await?;
            check_conditions(conditions, current.as_ref())?;
            if mode == Write::Put && !conditions.any() {
                check_unconditional_put(version, key.scope.kind, current.is_some())?;
            }
            let (content, content_type) = match (&current, mode) {
                (Some(existing), Write::Post) => merge_json(existing, &content, &content_type)?,
                _ => (content.clone(), content_type.clone()),
            };
            let document = Document { etag: sha1_hex(&content), content, content_type, updated: now_micros() };
            let expect = match &current {
                Some(existing) => Expectation::Etag(existing.etag.clone()),
                None => Expectation::Absent,
            };
            if self.store.insert_document(key, document, expect).await? {
                return Ok(());
            }
        }
        Err(ApiError::new(ErrorCode::PreconditionFailed, "the document kept changing while being written; retry"))
    }

    pub async fn delete_document(
        &self,
        principal: &Principal,
        key: &DocumentKey,
        conditions: &Conditions,
    ) -> Result<(), ApiError> {
        principal.require(access(key.scope.kind, true))?;
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.store.find_document(key).await?;
            check_conditions(conditions, current.as_ref())?;
            let expect = match &current {
                Some(existing) => Expectation::Etag(existing.etag.clone()),
                None => Expectation::Absent,
            };
            if self.store.delete_document(key, expect).await? {
                return Ok(());
            }
        }
        Err(ApiError::new(ErrorCode::PreconditionFailed, "the document kept changing while being deleted; retry"))
    }

    pub async fn delete_documents(&self, principal: &Principal, scope: &DocumentScope) -> Result<(), ApiError> {
        principal.require(access(scope.kind, true))?;
        self.store.delete_documents(scope).await?;
        Ok(())
    }
}

/// The tags of an `If-Match` / `If-None-Match` value: `*`, or quoted (possibly weak) tags.
fn tags(header: &str) -> Vec<String> {
    header
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"').to_ascii_lowercase())
        .filter(|tag| !tag.is_empty())
        .collect()
}

fn check_conditions(conditions: &Conditions, current: Option<&Document>) -> Result<(), ApiError> {
    if let Some(header) = &conditions.if_match {
        let wanted = tags(header);
        let matches = match current {
            Some(document) => wanted.iter().any(|t| t == "*" || *t == document.etag),
            None => false,
        };
        if !matches {
            return Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                format!("If-Match: {header} does not match the document's current ETag"),
            ));
        }
    }
    if let Some(header) = &conditions.if_none_match {
        let refused = tags(header);
        let matches = match current {
            Some(document) => refused.iter().any(|t| t == "*" || *t == document.etag),
            None => false,
        };
        if matches {
            return Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                format!("If-None-Match: {header} matches the existing document"),
            ));
        }
    }
    Ok(())
}

/// A PUT without concurrency headers: 409 over an existing document (2.0, and 1.0.3
/// profiles); 1.0.3 profiles also need a header to create one.
fn check_unconditional_put(version: XapiVersion, kind: DocumentKind, exists: bool) -> Result<(), ApiError> {
    let state_in_1_0_3 = kind == DocumentKind::State && version == XapiVersion::V1_0_3;
    if state_in_1_0_3 {
        return Ok(());
    }
    if exists {
        return Err(ApiError::new(
            ErrorCode::PreconditionRequired,
            "If-Match: required to replace an existing document; GET it, then PUT with If-Match set to its ETag",
        ));
    }
    if version == XapiVersion::V1_0_3 {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "If-Match / If-None-Match: xAPI 1.0.3 requires one of them on a profile PUT (If-None-Match: * to create)",
        ));
    }
    Ok(())
}

/// A POST declared as JSON must be a JSON object, since it may be merged later.
fn check_posted_json(content: &[u8], content_type: &str) -> Result<(), ApiError> {
    if !is_json_type(content_type) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(content) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "body: a POST with Content-Type application/json must be a JSON object",
        )),
    }
}

/// POST onto an existing document: both must be JSON objects; top-level properties of the
/// posted one replace the stored ones.
fn merge_json(existing: &Document, posted: &[u8], posted_type: &str) -> Result<(Vec<u8>, String), ApiError> {
    let refuse = |why: &str| {
        ApiError::new(ErrorCode::InvalidRequest, format!("body: cannot merge into the stored document: {why}"))
    };
    if !is_json_type(&existing.content_type) {
        return Err(refuse("the stored document is not application/json"));
    }
    if !is_json_type(posted_type) {
        return Err(refuse("the posted document is not application/json"));
    }
    let mut stored: Value =
        serde_json::from_slice(&existing.content).map_err(|_| refuse("the stored document is not valid JSON"))?;
    let incoming: Value =
        serde_json::from_slice(posted).map_err(|_| refuse("the posted document is not valid JSON"))?;
    let (Some(stored_map), Some(incoming_map)) = (stored.as_object_mut(), incoming.as_object()) else {
        return Err(refuse("both documents must be JSON objects"));
    };
    for (name, value) in incoming_map {
        stored_map.insert(name.clone(), value.clone());
    }
    Ok((serde_json::to_vec(&stored).map_err(ApiError::internal)?, "application/json".to_string()))
}

fn is_json_type(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(content: &str, content_type: &str) -> Document {
        Document {
            content: content.as_bytes().to_vec(),
            content_type: content_type.into(),
            etag: sha1_hex(content.as_bytes()),
            updated: 0,
        }
    }

    #[test]
    fn if_match_needs_the_current_etag_and_if_none_match_star_needs_no_document() {
        let current = document("{}", "application/json");
        let quoted = format!("\"{}\"", current.etag);
        let ok = Conditions { if_match: Some(quoted.clone()), if_none_match: None };
        assert!(check_conditions(&ok, Some(&current)).is_ok());
        assert!(check_conditions(&ok, None).is_err(), "If-Match with no document fails");
        let stale = Conditions { if_match: Some("\"abc\"".into()), if_none_match: None };
        assert_eq!(check_conditions(&stale, Some(&current)).unwrap_err().status(), 412);
        let create_only = Conditions { if_match: None, if_none_match: Some("*".into()) };
        assert!(check_conditions(&create_only, None).is_ok());
        assert_eq!(check_conditions(&create_only, Some(&current)).unwrap_err().status(), 412);
        let weak = Conditions { if_match: Some(format!("W/{quoted}")), if_none_match: None };
        assert!(check_conditions(&weak, Some(&current)).is_ok());
    }

    #[test]
    fn unconditional_puts_follow_each_versions_rules() {
        use DocumentKind::*;
        use XapiVersion::*;
        let cases = [
            (V1_0_3, State, true, None),
            (V1_0_3, State, false, None),
            (V1_0_3, AgentProfile, false, Some(400)),
            (V1_0_3, ActivityProfile, true, Some(409)),
            (V2_0_0, State, true, Some(409)),
            (V2_0_0, State, false, None),
            (V2_0_0, AgentProfile, false, None),
        ];
        for (version, kind, exists, expected) in cases {
            let status = check_unconditional_put(version, kind, exists).err().map(|e| e.status());
            assert_eq!(status, expected, "{version} {kind:?} exists={exists}");
        }
    }

    #[test]
    fn merge_replaces_top_level_properties_only_between_json_objects() {
        let stored = document(r#"{"car":{"make":"Ford"},"driver":"Ann"}"#, "application/json");
        let (merged, content_type) =
            merge_json(&stored, br#"{"car":{"model":"Ram"}}"#, "application/json; charset=utf-8").unwrap();
        let merged: Value = serde_json::from_slice(&merged).unwrap();
        assert_eq!(merged, serde_json::json!({"car": {"model": "Ram"}, "driver": "Ann"}));
        assert_eq!(content_type, "application/json");
        assert!(merge_json(&stored, b"abc", "application/json").is_err());
        assert!(merge_json(&stored, b"{}", "text/plain").is_err());
        assert!(merge_json(&document("x", "application/octet-stream"), b"{}", "application/json").is_err());
        assert!(merge_json(&document("[1]", "application/json"), b"{}", "application/json").is_err());
    }

    #[test]
    fn a_json_post_must_be_an_object_even_for_a_new_document() {
        assert!(check_posted_json(br#"{"a":1}"#, "application/json").is_ok());
        assert!(check_posted_json(b"{\"a\":1}{", "application/json").is_err());
        assert!(check_posted_json(b"[1]", "application/json; charset=utf-8").is_err());
        assert!(check_posted_json(b"not json", "text/plain").is_ok());
    }
}

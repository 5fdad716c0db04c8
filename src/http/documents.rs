//! Handlers of the document resources: `activities/state`, `activities/profile` and
//! `agents/profile` (`put_document`, `post_document`, `get_documents`, `delete_documents`).

use super::call::{Method, XapiCall};
use super::reply::Reply;
use super::statement_params::{parse_agent, timestamp};
use super::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::service::{Conditions, Write};
use crate::storage::{DocumentKey, DocumentKind, DocumentScope};
use crate::validation::{is_canonical_uuid, is_iri};
use crate::xapi::time::format_http_date;
use crate::xapi::XapiVersion;

/// The parameter naming one document of each kind.
fn id_param(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::State => "stateId",
        _ => "profileId",
    }
}

fn allowed_params(kind: DocumentKind, method: Method) -> &'static [&'static str] {
    match (kind, method.reads()) {
        (DocumentKind::State, true) => &["activityId", "agent", "registration", "stateId", "since"],
        (DocumentKind::State, false) => &["activityId", "agent", "registration", "stateId"],
        (DocumentKind::ActivityProfile, true) => &["activityId", "profileId", "since"],
        (DocumentKind::ActivityProfile, false) => &["activityId", "profileId"],
        (DocumentKind::AgentProfile, true) => &["agent", "profileId", "since"],
        (DocumentKind::AgentProfile, false) => &["agent", "profileId"],
    }
}

/// The IFI key of an `agent` parameter that must be an Agent.
pub fn agent_param(call: &XapiCall) -> Result<String, ApiError> {
    Ok(parse_agent(call.required_param("agent")?, false)?.1)
}

pub fn activity_param(call: &XapiCall) -> Result<String, ApiError> {
    let id = call.required_param("activityId")?;
    if !is_iri(id) {
        return Err(ApiError::invalid_parameter("activityId", format!("{id:?} must be an absolute IRI")));
    }
    Ok(id.to_string())
}

fn scope_of(kind: DocumentKind, call: &XapiCall) -> Result<DocumentScope, ApiError> {
    let activity_id = match kind {
        DocumentKind::AgentProfile => None,
        _ => Some(activity_param(call)?),
    };
    let agent = match kind {
        DocumentKind::ActivityProfile => None,
        _ => Some(agent_param(call)?),
    };
    let registration = match call.param("registration") {
        Some(text) if is_canonical_uuid(text) => Some(text.to_ascii_lowercase()),
        Some(text) => return Err(ApiError::invalid_parameter("registration", format!("{text:?} must be a UUID"))),
        None => None,
    };
    Ok(DocumentScope { kind, activity_id, agent, registration })
}

fn document_id(kind: DocumentKind, call: &XapiCall) -> Result<Option<String>, ApiError> {
    let name = id_param(kind);
    match call.param(name) {
        Some("") => Err(ApiError::invalid_parameter(name, "must not be empty")),
        other => Ok(other.map(str::to_string)),
    }
}

pub async fn handle_documents(
    state: &AppState,
    call: &XapiCall,
    version: XapiVersion,
    principal: &Principal,
    kind: DocumentKind,
) -> Result<Reply, ApiError> {
    if call.method == Method::Other || call.method == Method::Options {
        return Err(ApiError::new(ErrorCode::MethodNotAllowed, "documents: support GET, HEAD, PUT, POST and DELETE"));
    }
    call.check_params(allowed_params(kind, call.method))?;
    let scope = scope_of(kind, call)?;
    let id = document_id(kind, call)?;
    let documents = &state.documents;
    let conditions =
        Conditions { if_match: call.headers.if_match.clone(), if_none_match: call.headers.if_none_match.clone() };
    let key = |id: String| DocumentKey { scope: scope.clone(), id };
    let required =
        || ApiError::new(ErrorCode::MissingParameter, format!("{}: is a required parameter", id_param(kind)));
    match call.method {
        Method::Put | Method::Post => {
            let key = key(id.ok_or_else(required)?);
            let content = call.body.to_vec();
            let content_type = call.headers.content_type.clone();
            let mode = if call.method == Method::Put { Write::Put } else { Write::Post };
            documents.write_document(principal, version, &key, content, content_type, &conditions, mode).await?;
            Ok(Reply::empty(204))
        }
        Method::Delete => {
            match id {
                Some(id) => documents.delete_document(principal, &key(id), &conditions).await?,
                None if kind == DocumentKind::State => documents.delete_documents(principal, &scope).await?,
                None => return Err(required()),
            }
            Ok(Reply::empty(204))
        }
        _ => {
            let since = timestamp(call, "since")?;
            match id {
                Some(id) => {
                    if since.is_some() && version.is_2_0() {
                        return Err(ApiError::invalid_parameter(
                            "since",
                            format!("cannot be combined with {}", id_param(kind)),
                        ));
                    }
                    let document = documents.get_document(principal, &key(id)).await?;
                    Ok(Reply {
                        status: 200,
                        headers: vec![
                            ("ETag", format!("\"{}\"", document.etag)),
                            ("Last-Modified", format_http_date(document.updated)),
                        ],
                        content_type: Some(document.content_type),
                        body: document.content.into(),
                        stream: None,
                    })
                }
                None => {
                    let (ids, latest) = documents.list_ids(principal, &scope, since).await?;
                    let reply = Reply::json(200, &serde_json::json!(ids));
                    Ok(match latest {
                        Some(latest) => reply.header("Last-Modified", format_http_date(latest)),
                        None => reply,
                    })
                }
            }
        }
    }
}

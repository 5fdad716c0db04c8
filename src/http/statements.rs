//! Handlers of the Statement resource: `put_statement`, `post_statements`,
//! `get_statements` (one, or a page with a `more` link) and `get_more`.

use actix_web::web::Bytes;

use super::attachment_body::{multipart_reply, statements_fitting};
use super::call::{Method, XapiCall};
use super::more::MoreCursor;
use super::reply::Reply;
use super::statement_params::{parse_statement_get, StatementGet};
use super::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::service::Format;
use crate::storage::{StatementQuery, StoredStatement};
use crate::validation;
use crate::xapi::format::AcceptLanguage;
use crate::xapi::multipart::{parse_statement_request, Part};
use crate::xapi::time::format_http_date;
use crate::xapi::XapiVersion;

pub async fn handle_statements(
    state: &AppState,
    call: &XapiCall,
    version: XapiVersion,
    principal: &Principal,
) -> Result<Reply, ApiError> {
    match call.method {
        Method::Put => put_statement(state, call, version, principal).await,
        Method::Post => post_statements(state, call, version, principal).await,
        Method::Get | Method::Head => get_statements(state, call, version, principal).await,
        _ => Err(ApiError::new(ErrorCode::MethodNotAllowed, "statements: supports GET, HEAD, PUT and POST")),
    }
}

async fn put_statement(
    state: &AppState,
    call: &XapiCall,
    version: XapiVersion,
    principal: &Principal,
) -> Result<Reply, ApiError> {
    call.check_params(&["statementId"])?;
    let id_text = call.required_param("statementId")?;
    if !validation::is_canonical_uuid(id_text) {
        return Err(ApiError::invalid_parameter("statementId", format!("{id_text:?} must be a UUID")));
    }
    let id =
        uuid::Uuid::parse_str(id_text).map_err(|_| ApiError::invalid_parameter("statementId", "must be a UUID"))?;
    let (body, parts) = statement_body(call)?;
    state.statements.store_statements(principal, version, body, Some(id), parts).await?;
    Ok(Reply::empty(204))
}

async fn post_statements(
    state: &AppState,
    call: &XapiCall,
    version: XapiVersion,
    principal: &Principal,
) -> Result<Reply, ApiError> {
    call.check_params(&[])?;
    let (body, parts) = statement_body(call)?;
    let ids = state.statements.store_statements(principal, version, body, None, parts).await?;
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    Ok(Reply::json(200, &serde_json::json!(ids)))
}

/// The statement JSON of a PUT or POST body, and the attachment parts of a multipart one.
fn statement_body(call: &XapiCall) -> Result<(serde_json::Value, Vec<Part>), ApiError> {
    let (json, parts) = match call.headers.media_type().as_deref() {
        None | Some("application/json") => (call.body.to_vec(), Vec::new()),
        Some("multipart/mixed") => {
            let content_type = call.headers.content_type.as_deref().unwrap_or_default();
            parse_statement_request(content_type, &call.body)
                .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.to_string()))?
        }
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedContentType,
                format!(
                    "Content-Type: {other:?} is not accepted for statements; use application/json or multipart/mixed"
                ),
            ))
        }
    };
    if json.is_empty() {
        return Err(ApiError::new(ErrorCode::MalformedJson, "body: a statement or an array of statements is required"));
    }
    let value =
        validation::parse_json(&json).map_err(|e| ApiError::new(ErrorCode::MalformedJson, format!("body: {e}")))?;
    Ok((value, parts))
}

async fn get_statements(
    state: &AppState,
    call: &XapiCall,
    version: XapiVersion,
    principal: &Principal,
) -> Result<Reply, ApiError> {
    let languages = AcceptLanguage::parse(call.headers.accept_language.as_deref());
    match parse_statement_get(call)? {
        StatementGet::One { id, voided, format, attachments } => {
            let statement = state.statements.find_statement(principal, id, voided).await?;
            let one = std::slice::from_ref(&statement);
            let rendered = state.statements.render(one, format, &languages).await?;
            let json = rendered.into_iter().next().unwrap_or_default();
            let reply = match attachments {
                true => {
                    let files = state.statements.attachment_files(one).await?;
                    multipart_reply(&json, files.into_iter().flatten().collect())
                }
                false => Reply::json_text(200, json),
            };
            Ok(reply.header("Last-Modified", format_http_date(statement.stored)))
        }
        StatementGet::Many { mut query, format, attachments } => {
            let until_cap = query.ascending.then(|| state.statements.consistent_through());
            query.until = min_bound(query.until, until_cap);
            let cursor = MoreCursor {
                params: call.params.clone(),
                after: 0,
                until_cap,
                key: principal.key.clone(),
                version: version.header_value().to_string(),
                accept_language: call.headers.accept_language.clone(),
                expires: MoreCursor::expiry_from_now(),
            };
            answer_page(state, principal, &query, format, attachments, &languages, cursor).await
        }
    }
}

/// Follows a `more` link. The cursor carries the credential and version of the request
/// that started the paging.
pub async fn get_more(state: &AppState, cursor: MoreCursor) -> Result<Reply, ApiError> {
    let principal = state.auth.principal_for_key(&cursor.key).await?.ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidCredentials, "more: the credential that made this link is no longer valid")
    })?;
    let call = XapiCall {
        method: Method::Get,
        params: cursor.params.clone(),
        headers: Default::default(),
        body: Bytes::new(),
        alternate: false,
    };
    let StatementGet::Many { mut query, format, attachments } = parse_statement_get(&call)? else {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "more: the link does not describe a query"));
    };
    query.after = Some(cursor.after);
    query.until = min_bound(query.until, cursor.until_cap);
    let languages = AcceptLanguage::parse(cursor.accept_language.as_deref());
    answer_page(state, &principal, &query, format, attachments, &languages, cursor).await
}

async fn answer_page(
    state: &AppState,
    principal: &Principal,
    query: &StatementQuery,
    format: Format,
    attachments: bool,
    languages: &AcceptLanguage,
    mut cursor: MoreCursor,
) -> Result<Reply, ApiError> {
    let (mut statements, mut more) = state.statements.query_statements(principal, query).await?;
    let mut files = Vec::new();
    if attachments {
        files = state.statements.attachment_files(&statements).await?;
        let fitting = statements_fitting(&files, state.settings.max_attachment_page_bytes);
        if fitting < statements.len() {
            // The rest follow through `more`, so no page exceeds the byte cap.
            statements.truncate(fitting);
            files.truncate(fitting);
            more = true;
        }
    }
    let rendered = state.statements.render(&statements, format, languages).await?;
    let more_link = match statements.last() {
        Some(last) if more => {
            cursor.after = last.stored;
            format!("{}/statements/more/{}", state.settings.base_path, state.cursors.seal(&cursor))
        }
        _ => String::new(),
    };
    let mut body = String::with_capacity(rendered.iter().map(|s| s.len() + 1).sum::<usize>() + more_link.len() + 32);
    body.push_str("{\"statements\":[");
    body.push_str(&rendered.join(","));
    body.push_str("],\"more\":");
    body.push_str(&serde_json::Value::String(more_link).to_string());
    body.push('}');
    let reply = match attachments {
        true => multipart_reply(&body, files.into_iter().flatten().collect()),
        false => Reply::json_text(200, body),
    };
    Ok(match latest_stored(&statements) {
        Some(stored) => reply.header("Last-Modified", format_http_date(stored)),
        None => reply,
    })
}

fn latest_stored(statements: &[StoredStatement]) -> Option<i64> {
    statements.iter().map(|s| s.stored).max()
}

fn min_bound(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

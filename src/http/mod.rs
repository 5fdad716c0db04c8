//! The HTTP layer: translates HTTP to service calls and back. Every xAPI request enters
//! through `xapi_entry`, which resolves the version and the credentials before the body is
//! read, then routes by resource. Nothing below this module knows actix-web.

mod about;
mod admin;
mod attachment_body;
mod audit;
mod badges;
mod call;
mod definitions;
mod documents;
mod more;
pub mod openapi;
mod people;
mod reply;
mod report_links;
mod skills;
mod statement_params;
mod statements;

use std::sync::Arc;

use tokio::sync::Notify;

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;

pub use call::{Method, XapiCall};
pub use more::CursorSealer;
pub use reply::Reply;

use crate::auth::{Authenticator, Principal};
use crate::config::Settings;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::Metrics;
use crate::service::rules::RuleCatalog;
use crate::service::{DocumentService, StatementService};
use crate::storage::DocumentKind;
use crate::xapi::time::format_micros;
use crate::xapi::XapiVersion;

/// What every request handler can reach.
pub struct AppState {
    pub settings: Settings,
    pub auth: Authenticator,
    pub statements: Arc<StatementService>,
    pub documents: DocumentService,
    pub cursors: CursorSealer,
    /// `None` when rules are turned off.
    pub rules: Option<Arc<RuleCatalog>>,
    /// `None` when skills inference is turned off.
    pub skills: Option<Arc<crate::skills::SkillsService>>,
    /// `None` when credentials are turned off.
    pub badges: Option<Arc<crate::credentials::service::BadgeService>>,
    /// People's opt-outs, honoured by inference, rules and analyses.
    pub consent: Arc<crate::governance::ConsentRegistry>,
    /// Erases people (`DELETE /api/people`).
    pub eraser: Arc<crate::governance::erasure::Eraser>,
    pub metrics: Arc<Metrics>,
    /// Wakes the delivery worker (after a re-drive).
    pub outbox_ready: Arc<Notify>,
}

/// Headers browsers may send to, and read from, the LRS (content runs in the learner's
/// browser, on another origin).
const CORS_ALLOWED_HEADERS: [&str; 7] = [
    "Authorization",
    "Content-Type",
    "Content-Length",
    "If-Match",
    "If-None-Match",
    "X-Experience-API-Version",
    "Accept-Language",
];
const CORS_EXPOSED_HEADERS: [&str; 7] = [
    "ETag",
    "Last-Modified",
    "Content-Type",
    "Content-Length",
    "WWW-Authenticate",
    "X-Experience-API-Version",
    "X-Experience-API-Consistent-Through",
];

/// CORS from the configured origins; preflights are answered before authentication.
pub fn cors(settings: &Settings) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"])
        .allowed_headers(CORS_ALLOWED_HEADERS)
        .expose_headers(CORS_EXPOSED_HEADERS)
        .max_age(3600);
    for origin in &settings.cors_origins {
        cors = if origin == "*" { cors.allow_any_origin() } else { cors.allowed_origin(origin) };
    }
    cors
}

pub fn configure(config: &mut web::ServiceConfig, state: web::Data<AppState>) {
    let base = state.settings.base_path.clone();
    config
        .app_data(state)
        .configure(skills::configure)
        .configure(badges::configure)
        .configure(audit::configure)
        .configure(report_links::configure)
        .configure(people::configure)
        .configure(openapi::configure)
        .configure(admin::configure)
        .service(web::scope(&base).default_service(web::to(xapi_entry)))
        .default_service(web::to(admin::no_endpoint));
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resource<'a> {
    Statements,
    More(&'a str),
    About,
    Documents(DocumentKind),
    Activities,
    Agents,
}

fn resource(path: &str) -> Option<Resource<'_>> {
    match path.trim_matches('/') {
        "statements" => Some(Resource::Statements),
        "about" => Some(Resource::About),
        "activities/state" => Some(Resource::Documents(DocumentKind::State)),
        "activities/profile" => Some(Resource::Documents(DocumentKind::ActivityProfile)),
        "agents/profile" => Some(Resource::Documents(DocumentKind::AgentProfile)),
        "activities" => Some(Resource::Activities),
        "agents" => Some(Resource::Agents),
        other => other.strip_prefix("statements/more/").map(Resource::More),
    }
}

async fn xapi_entry(request: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let base = &state.settings.base_path;
    let path = request.path().strip_prefix(base.as_str()).unwrap_or(request.path());
    let head_only = request.method() == actix_web::http::Method::HEAD;
    let Some(resource) = resource(path) else {
        let error = ApiError::not_found(format!("{path}: no xAPI resource here"));
        return finish(&state, Reply::from(error), state.settings.version_when_missing, false, head_only);
    };
    let statements_like = matches!(resource, Resource::Statements | Resource::More(_));
    let (version, reply) = match resource {
        Resource::About => about::get_about(&request, &state),
        Resource::More(token) => more_entry(&state, token).await,
        other => resource_entry(&state, &request, payload, other).await,
    };
    finish(&state, reply, version, statements_like, head_only)
}

/// Adds the headers every xAPI response carries.
fn finish(
    state: &AppState,
    reply: Reply,
    version: XapiVersion,
    statements_like: bool,
    head_only: bool,
) -> HttpResponse {
    let mut reply = reply.header("X-Experience-API-Version", version.header_value());
    if statements_like {
        let through = format_micros(state.statements.consistent_through());
        reply = reply.header("X-Experience-API-Consistent-Through", through);
    }
    reply.into_http(head_only)
}

async fn more_entry(state: &AppState, token: &str) -> (XapiVersion, Reply) {
    let cursor = match state.cursors.open(token) {
        Ok(cursor) => cursor,
        Err(error) => return (state.settings.version_when_missing, error.into()),
    };
    let version = XapiVersion::parse_header(&cursor.version).unwrap_or(state.settings.version_when_missing);
    let reply = statements::get_more(state, cursor).await.unwrap_or_else(Reply::from);
    (version, reply)
}

async fn resource_entry(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
    resource: Resource<'_>,
) -> (XapiVersion, Reply) {
    let fallback = state.settings.version_when_missing;
    let (call, principal) = match build_call(state, request, payload).await {
        Ok(built) => built,
        Err((version, error)) => return (version.unwrap_or(fallback), error.into()),
    };
    let version = match version_of_headers(&call.headers) {
        Ok(version) => version,
        Err(error) => return (fallback, error.into()),
    };
    if call.alternate && version.is_2_0() {
        return (version, ApiError::new(ErrorCode::InvalidRequest, NO_ALTERNATE_SYNTAX_IN_2_0).into());
    }
    let principal = match principal {
        Some(principal) => principal,
        None => match state.auth.authenticate(call.headers.authorization.as_deref(), client_address(request)).await {
            Ok(principal) => principal,
            Err(error) => return (version, error.into()),
        },
    };
    let handled = match resource {
        Resource::Documents(kind) => documents::handle_documents(state, &call, version, &principal, kind).await,
        Resource::Activities => definitions::get_activity(state, &call, &principal).await,
        Resource::Agents => definitions::get_person(state, &call, &principal).await,
        _ => statements::handle_statements(state, &call, version, &principal).await,
    };
    (version, handled.unwrap_or_else(Reply::from))
}

const NO_ALTERNATE_SYNTAX_IN_2_0: &str =
    "method: the alternate request syntax is not part of xAPI 2.0; send the real HTTP method";

/// Reads the request into an `XapiCall`. For an ordinary request the version and the
/// credentials are checked before the body is read (and the principal returned); the
/// alternate syntax carries them in its body.
async fn build_call(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<(XapiCall, Option<Principal>), (Option<XapiVersion>, ApiError)> {
    let headers = call::CallHeaders::from_http(request.headers());
    let params = call::parse_query(request.query_string());
    let method = Method::parse(request.method().as_str());
    let limit = state.settings.max_body_bytes;
    if let Some((_, method_param)) = params.iter().find(|(name, _)| name == "method") {
        let header_version = headers.version.as_deref().and_then(|v| XapiVersion::parse_header(v).ok());
        let refuse = |message: &str| (header_version, ApiError::new(ErrorCode::InvalidRequest, message.to_string()));
        if header_version == Some(XapiVersion::V2_0_0) {
            return Err(refuse(NO_ALTERNATE_SYNTAX_IN_2_0));
        }
        if method != Method::Post {
            return Err(refuse("method: the alternate request syntax is only for POST requests"));
        }
        if params.len() > 1 {
            return Err(refuse(
                "method: with the alternate request syntax every other parameter goes in the form body",
            ));
        }
        let body = read_body(payload, limit).await.map_err(|e| (header_version, e))?;
        let call = call::from_alternate_syntax(method_param, &headers, &body).map_err(|e| (header_version, e))?;
        return Ok((call, None));
    }
    let version = version_of_headers(&headers).map_err(|e| (None, e))?;
    let principal = state
        .auth
        .authenticate(headers.authorization.as_deref(), client_address(request))
        .await
        .map_err(|e| (Some(version), e))?;
    let body = read_body(payload, limit).await.map_err(|e| (Some(version), e))?;
    Ok((XapiCall { method, params, headers, body, alternate: false }, Some(principal)))
}

/// The TCP peer's address (not `X-Forwarded-For`, which any client can write).
pub(crate) fn client_address(request: &HttpRequest) -> Option<std::net::IpAddr> {
    request.peer_addr().map(|address| address.ip())
}

fn version_of_headers(headers: &call::CallHeaders) -> Result<XapiVersion, ApiError> {
    let value = headers.version.as_deref().ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidVersionHeader, "X-Experience-API-Version: required header is missing")
    })?;
    XapiVersion::parse_header(value).map_err(|e| ApiError::new(ErrorCode::InvalidVersionHeader, e.to_string()))
}

/// Reads a body that must be UTF-8 text (a rule, a framework file), refusing others with
/// `code` and a message naming `what` it must be.
pub(crate) async fn read_text_body(
    payload: web::Payload,
    limit: usize,
    code: ErrorCode,
    what: &str,
) -> Result<String, ApiError> {
    let body = read_body(payload, limit).await?;
    String::from_utf8(body.to_vec()).map_err(|_| ApiError::new(code, format!("body: {what} must be UTF-8 text")))
}

/// Reads the body, refusing (413) one larger than the configured limit.
pub(crate) async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("body: could not be read ({e})")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("body: larger than the configured limit of {limit} bytes (max_body_bytes)"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

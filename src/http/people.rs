//! `/api/people/consent`: a person's opt-outs of inference and of nudges, read and set by
//! administrators (scope `admin`). A change applies from the next statement; a change of
//! inference consent also starts skills inference over, so estimates about someone who
//! opted out disappear (and come back if they opt in again).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{audit, authorize, query_params, refuse_unknown, respond};
use super::statement_params::parse_agent;
use super::{AppState, Reply};
use crate::auth::Access;
use crate::error::{ApiError, ErrorCode};

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/people/consent", web::get().to(get_consent))
        .route("/api/people/consent", web::put().to(put_consent))
        .route("/api/people/report", web::get().to(get_report))
        .route("/api/people", web::delete().to(erase))
        .route("/api/people/{agent}", web::delete().to(erase))
        .route("/api/people/{agent}/report", web::get().to(get_report));
}

fn person_of(agent: &str) -> Result<String, ApiError> {
    Ok(parse_agent(agent, false)?.1)
}

/// The agent a request names: the `{agent}` path segment (Agent JSON, percent-encoded, or
/// a bare `mailto:` address) or the `agent` parameter.
fn named_agent(request: &HttpRequest, query: &std::collections::HashMap<String, String>) -> Result<String, ApiError> {
    if let Some(segment) = request.match_info().get("agent") {
        let text = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| ApiError::invalid_parameter("agent", "the path segment must be UTF-8"))?;
        return Ok(match text.starts_with("mailto:") {
            true => json!({ "mbox": text }).to_string(),
            false => text.into_owned(),
        });
    }
    query.get("agent").cloned().ok_or_else(|| {
        ApiError::new(ErrorCode::MissingParameter, "agent: is a required parameter (an xAPI Agent or Person as JSON)")
    })
}

/// Erases every trace of a person (see `governance::erasure`); answers with what was
/// removed and whether a scan of the store's files found anything left.
#[utoipa::path(delete, path = "/api/people", tag = "governance", security(("basic" = [])),
    params(("agent" = String, Query, description = "The person: an xAPI Agent, or a Person listing every identifier, as JSON")),
    responses((status = 200, description = "What was erased, and whether the files came out clean",
        body = crate::governance::erasure::ErasureReport), super::openapi::Refusals))]
pub(super) async fn erase(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let query = query_params(&request)?;
            refuse_unknown(&query, &["agent"])?;
            let text = named_agent(&request, &query)?;
            let agent = crate::validation::parse_json(text.as_bytes()).map_err(|e| {
                ApiError::invalid_parameter("agent", format!("must be an Agent or Person as JSON ({e})"))
            })?;
            let subject = crate::governance::subject::subject_of(&agent)
                .and_then(|s| {
                    crate::governance::subject::refuse_credential_accounts(&s, &state.settings.public_url).map(|()| s)
                })
                .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, e))?;
            let report = state.eraser.erase(subject, &principal.key).await?;
            Ok(Reply::json(200, &serde_json::to_value(report).map_err(ApiError::internal)?))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/people/consent", tag = "governance", security(("basic" = [])),
    params(("agent" = String, Query, description = "The person, an xAPI Agent as JSON")),
    responses((status = 200, description = "The person's opt-outs", body = crate::governance::Consent), super::openapi::Refusals))]
pub(super) async fn get_consent(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let query = query_params(&request)?;
            let agent = query.get("agent").ok_or_else(|| {
                ApiError::new(ErrorCode::MissingParameter, "agent: is a required parameter (an xAPI Agent as JSON)")
            })?;
            let consent = state.consent.of(&person_of(agent)?);
            Ok(Reply::json(200, &serde_json::to_value(consent).map_err(ApiError::internal)?))
        }
        .await,
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentChange {
    /// An xAPI Agent.
    agent: Value,
    /// May skills be inferred from their statements (and may they be in analyses)?
    inference: bool,
    /// May rules run on their statements?
    nudges: bool,
}

#[utoipa::path(put, path = "/api/people/consent", tag = "governance", security(("basic" = [])),
    request_body = ConsentChange,
    responses((status = 200, description = "The person's opt-outs, as now in force", body = crate::governance::Consent), super::openapi::Refusals))]
pub(super) async fn put_consent(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let body = super::read_body(payload, state.settings.max_body_bytes).await?;
            let change: ConsentChange = serde_json::from_slice(&body).map_err(|e| {
                ApiError::new(ErrorCode::InvalidParameter, format!("body: needs agent, inference and nudges: {e}"))
            })?;
            let person = person_of(&change.agent.to_string())?;
            let store = state.statements.store();
            let changed = state.consent.set(&**store, &person, change.inference, change.nudges).await?;
            if changed {
                if let Some(skills) = &state.skills {
                    skills.catalog().request_rebuild();
                }
            }
            let details = json!({"inference": change.inference, "nudges": change.nudges});
            let label = state.eraser.erased.pseudonyms().person_label(&person);
            audit(&state, &principal, "consent.set", &label, details).await?;
            Ok(Reply::json(200, &serde_json::to_value(state.consent.of(&person)).map_err(ApiError::internal)?))
        }
        .await,
    )
}

/// What is held about a person, as JSON or, with `format=html`, as a page for them.
#[utoipa::path(get, path = "/api/people/report", tag = "governance", security(("basic" = [])),
    params(
        ("agent" = String, Query, description = "The person, an xAPI Agent as JSON"),
        ("format" = Option<String>, Query, description = "json (default) or html, a page for the person")),
    responses(
        (status = 200, description = "What is held about the person",
            content((crate::governance::report::TransparencyReport = "application/json"), (String = "text/html"))),
        super::openapi::Refusals))]
pub(super) async fn get_report(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let query = query_params(&request)?;
            refuse_unknown(&query, &["agent", "format"])?;
            let text = named_agent(&request, &query)?;
            let person = person_of(&text)?;
            let agent: Value = serde_json::from_str(&text).map_err(ApiError::internal)?;
            let needles = crate::governance::subject::subject_of(&agent).map(|s| s.needles).unwrap_or_default();
            report_reply(&state, &person, &needles, query.get("format").map(String::as_str)).await
        }
        .await,
    )
}

/// The person's transparency report as JSON or (`format=html`) a page.
pub(super) async fn report_reply(
    state: &AppState,
    person: &str,
    needles: &[String],
    format: Option<&str>,
) -> Result<Reply, ApiError> {
    let label = state.eraser.erased.pseudonyms().person_label(person);
    let store = state.statements.store();
    let consent = state.consent.of(person);
    let now = crate::xapi::time::now_micros();
    let report =
        crate::governance::report::report(&**store, state.skills.as_deref(), consent, person, needles, &label, now)
            .await?;
    match format {
        None | Some("json") => Ok(Reply::json(200, &serde_json::to_value(report).map_err(ApiError::internal)?)),
        Some("html") => {
            let mut reply = Reply::json_text(200, crate::governance::report::render_html(&report));
            reply.content_type = Some("text/html; charset=utf-8".into());
            Ok(reply)
        }
        Some(other) => Err(ApiError::invalid_parameter("format", format!("{other:?} must be json or html"))),
    }
}

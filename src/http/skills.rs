//! `/api/skills`: the framework (read; files replaced by administrators), a person's
//! explained profile, a team's map and talent search. Reads need the `skills` scope (or
//! `admin`); changing the framework needs `admin`.

use std::sync::Arc;

use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{authorize, respond};
use super::statement_params::parse_agent;
use super::{AppState, Reply};
use crate::auth::Access;
use crate::error::{ApiError, ErrorCode};
use crate::skills::catalog::CatalogError;
use crate::skills::SkillsService;
use crate::xapi::time::{now_micros, parse_timestamp, to_micros, Micros};

/// Most candidates one search returns.
const MAX_CANDIDATES: usize = 500;
/// Most members one team map covers.
const MAX_MEMBERS: usize = 10_000;

pub fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::scope("/api/skills")
            .route("/status", web::get().to(get_status))
            .route("/framework", web::get().to(get_framework))
            .route("/framework/{file}", web::put().to(put_framework_file))
            .route("/rebuild", web::post().to(post_rebuild))
            .route("/profile", web::get().to(get_profile))
            .route("/map", web::post().to(post_team_map))
            .route("/teams", web::get().to(get_teams))
            .route("/teams/{team}", web::get().to(get_team))
            .route("/search", web::get().to(get_search))
            .route("/demand", web::get().to(get_demand))
            .default_service(web::to(super::admin::no_endpoint)),
    );
}

/// Inference's progress, and how far statements are visible.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct StatusAnswer {
    #[serde(flatten)]
    status: crate::skills::queries::InferenceStatus,
    consistent_through: Micros,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct FrameworkInstalled {
    skills: usize,
    roles: usize,
    mappings: usize,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Rebuilding {
    rebuilding: bool,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct TeamListing {
    teams: Vec<crate::storage::TeamCount>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct SearchAnswer {
    skill: String,
    candidates: Vec<crate::skills::queries::Candidate>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct DemandAnswer {
    months: usize,
    emerging: Vec<String>,
    skills: Vec<crate::skills::demand::SkillDemand>,
}

fn service(state: &AppState) -> Result<Arc<SkillsService>, ApiError> {
    state.skills.clone().ok_or_else(|| ApiError::not_found("skills inference is turned off on this server"))
}

fn json_reply(value: impl serde::Serialize) -> Result<Reply, ApiError> {
    Ok(Reply::json(200, &serde_json::to_value(value).map_err(ApiError::internal)?))
}

/// `at` (ISO 8601) when given, else now: the moment estimates are decayed to.
fn moment(text: Option<&str>) -> Result<Micros, ApiError> {
    match text {
        None => Ok(now_micros()),
        Some(text) => parse_timestamp(text)
            .map(|t| to_micros(&t))
            .ok_or_else(|| ApiError::invalid_parameter("at", format!("{text:?} must be an ISO 8601 timestamp"))),
    }
}

#[utoipa::path(get, path = "/api/skills/status", tag = "skills", security(("basic" = [])),
    responses((status = 200, description = "How far inference is", body = StatusAnswer), super::openapi::Refusals))]
pub(super) async fn get_status(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::ReadSkills).await?;
            let status = service(&state)?.status().await?;
            json_reply(StatusAnswer { status, consistent_through: state.statements.consistent_through() })
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/skills/framework", tag = "skills", security(("basic" = [])),
    responses((status = 200, description = "The skills framework in force", body = crate::skills::framework::Framework), super::openapi::Refusals))]
pub(super) async fn get_framework(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::ReadSkills).await?;
            json_reply(&*service(&state)?.framework())
        }
        .await,
    )
}

#[utoipa::path(put, path = "/api/skills/framework/{file}", tag = "skills", security(("basic" = [])),
    params(("file" = String, Path, description = "The framework file's name (its format follows from the extension)")),
    request_body(content = String, content_type = "text/plain", description = "The file (see docs/skills-formats.md)"),
    responses((status = 200, description = "The framework now in force", body = FrameworkInstalled), super::openapi::Refusals))]
pub(super) async fn put_framework_file(
    request: HttpRequest,
    state: web::Data<AppState>,
    file: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let limit = state.settings.max_body_bytes;
            let text = super::read_text_body(payload, limit, ErrorCode::InvalidRequest, "a framework file").await?;
            let catalog = service(&state)?.catalog().clone();
            let file = file.into_inner();
            let name = file.clone();
            let framework =
                web::block(move || catalog.put(&file, &text)).await.map_err(ApiError::internal)?.map_err(|error| {
                    match error {
                        CatalogError::Invalid(error) => ApiError::new(ErrorCode::InvalidFramework, error.to_string()),
                        CatalogError::Io(error) => ApiError::internal(error),
                    }
                })?;
            let details = json!({"fingerprint": framework.fingerprint(), "skills": framework.skills.len()});
            super::admin::audit(&state, &principal, "skills.framework.put", &name, details).await?;
            json_reply(FrameworkInstalled {
                skills: framework.skills.len(),
                roles: framework.roles.len(),
                mappings: framework.mappings.len(),
            })
        }
        .await,
    )
}

/// Starts inference over from the first statement; answers at once (`202`).
#[utoipa::path(post, path = "/api/skills/rebuild", tag = "skills", security(("basic" = [])),
    responses((status = 202, description = "Inference starts over", body = Rebuilding), super::openapi::Refusals))]
pub(super) async fn post_rebuild(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            service(&state)?.catalog().request_rebuild();
            super::admin::audit(&state, &principal, "skills.rebuild", "", json!({})).await?;
            Ok(Reply::json(202, &serde_json::to_value(Rebuilding { rebuilding: true }).map_err(ApiError::internal)?))
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileQuery {
    agent: String,
    at: Option<String>,
}

#[utoipa::path(get, path = "/api/skills/profile", tag = "skills", security(("basic" = [])),
    params(
        ("agent" = String, Query, description = "The person, an xAPI Agent as JSON"),
        ("at" = Option<String>, Query, description = "The moment estimates are decayed to (ISO 8601; default now)")),
    responses((status = 200, description = "The person's explained estimates", body = crate::skills::queries::Profile), super::openapi::Refusals))]
pub(super) async fn get_profile(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::ReadSkills).await?;
            let query: ProfileQuery = parse_query(&request)?;
            let (_, person) = parse_agent(&query.agent, false)?;
            let profile = service(&state)?.profile(&person, moment(query.at.as_deref())?).await?;
            json_reply(profile)
        }
        .await,
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MapRequest {
    members: Vec<Member>,
    at: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Member {
    /// An xAPI Agent.
    agent: Value,
    role: Option<String>,
}

#[utoipa::path(post, path = "/api/skills/map", tag = "skills", security(("basic" = [])),
    request_body = MapRequest,
    responses((status = 200, description = "Levels per skill over the members, and their gaps", body = crate::skills::queries::TeamMap), super::openapi::Refusals))]
pub(super) async fn post_team_map(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::ReadSkills).await?;
            let body = super::read_body(payload, state.settings.max_body_bytes).await?;
            let wanted: MapRequest = serde_json::from_slice(&body).map_err(|e| {
                ApiError::new(ErrorCode::InvalidParameter, format!("body: not a team map request: {e}"))
            })?;
            if wanted.members.len() > MAX_MEMBERS {
                return Err(ApiError::invalid_parameter("members", format!("at most {MAX_MEMBERS} per map")));
            }
            let skills = service(&state)?;
            let framework = skills.framework();
            let mut members = Vec::with_capacity(wanted.members.len());
            for (index, member) in wanted.members.iter().enumerate() {
                let (_, person) = parse_agent(&member.agent.to_string(), false)
                    .map_err(|e| ApiError::new(e.code, format!("members[{index}].{}", e.message)))?;
                if let Some(role) = member.role.as_ref().filter(|r| !framework.roles.contains_key(*r)) {
                    return Err(ApiError::invalid_parameter(
                        &format!("members[{index}].role"),
                        format!("{role} is not a role of the framework"),
                    ));
                }
                members.push((person, member.role.clone()));
            }
            json_reply(skills.team_map(&members, moment(wanted.at.as_deref())?))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/skills/teams", tag = "skills", security(("basic" = [])),
    responses((status = 200, description = "Every team with its number of members", body = TeamListing), super::openapi::Refusals))]
pub(super) async fn get_teams(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::ReadSkills).await?;
            json_reply(TeamListing { teams: state.statements.store().teams().await? })
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AtQuery {
    at: Option<String>,
}

#[utoipa::path(get, path = "/api/skills/teams/{team}", tag = "skills", security(("basic" = [])),
    params(
        ("team" = String, Path, description = "The team's exact name"),
        ("at" = Option<String>, Query, description = "The moment estimates are decayed to (ISO 8601; default now)")),
    responses((status = 200, description = "The team's map", body = crate::skills::queries::TeamMap), super::openapi::Refusals))]
pub(super) async fn get_team(
    request: HttpRequest,
    state: web::Data<AppState>,
    team: web::Path<String>,
) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::ReadSkills).await?;
            let query: AtQuery = parse_query(&request)?;
            let map = service(&state)?.team(&team, moment(query.at.as_deref())?).await?;
            json_reply(
                map.ok_or_else(|| ApiError::not_found(format!("team: nobody is in a team named {:?}", team.as_str())))?,
            )
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    skill: String,
    limit: Option<usize>,
    at: Option<String>,
}

#[utoipa::path(get, path = "/api/skills/search", tag = "skills", security(("basic" = [])),
    params(
        ("skill" = String, Query, description = "The skill's IRI"),
        ("limit" = Option<usize>, Query, description = "Most candidates, 1 to 500 (default 20)"),
        ("at" = Option<String>, Query, description = "The moment estimates are decayed to (ISO 8601; default now)")),
    responses((status = 200, description = "People ranked by their cautious level", body = SearchAnswer), super::openapi::Refusals))]
pub(super) async fn get_search(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::ReadSkills).await?;
            let query: SearchQuery = parse_query(&request)?;
            let skills = service(&state)?;
            if !skills.framework().skills.contains_key(&query.skill) {
                return Err(ApiError::invalid_parameter(
                    "skill",
                    format!("{} is not a skill of the framework", query.skill),
                ));
            }
            let limit = query.limit.unwrap_or(20);
            if !(1..=MAX_CANDIDATES).contains(&limit) {
                return Err(ApiError::invalid_parameter("limit", format!("must be from 1 to {MAX_CANDIDATES}")));
            }
            let candidates = skills.search(&query.skill, moment(query.at.as_deref())?, limit);
            json_reply(SearchAnswer { skill: query.skill, candidates })
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemandQuery {
    months: Option<usize>,
    at: Option<String>,
}

#[utoipa::path(get, path = "/api/skills/demand", tag = "skills", security(("basic" = [])),
    params(
        ("months" = Option<usize>, Query, description = "Months of history, 3 to 120 (default 24)"),
        ("at" = Option<String>, Query, description = "The end of the history (ISO 8601; default now)")),
    responses((status = 200, description = "Evidence volumes per skill, with the emerging ones", body = DemandAnswer), super::openapi::Refusals))]
pub(super) async fn get_demand(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::ReadSkills).await?;
            let query: DemandQuery = parse_query(&request)?;
            let months = query.months.unwrap_or(24);
            if !(3..=120).contains(&months) {
                return Err(ApiError::invalid_parameter("months", "must be from 3 to 120"));
            }
            // Enabled rules that name a skill are a demand signal for it.
            let rule_sources: Vec<String> = match &state.rules {
                Some(rules) => {
                    let listing = rules.list();
                    listing
                        .rules
                        .iter()
                        .filter(|r| r.enabled && !r.health.disabled)
                        .filter_map(|r| rules.get(&r.name).map(|(_, source)| source))
                        .collect()
                }
                None => Vec::new(),
            };
            let skills = service(&state)?.demand(moment(query.at.as_deref())?, months as u32, &rule_sources).await?;
            let emerging = skills.iter().filter(|s| s.emerging).map(|s| s.skill.clone()).collect();
            json_reply(DemandAnswer { months, emerging, skills })
        }
        .await,
    )
}

/// The query string as `T`, each parameter at most once, unknown ones refused.
fn parse_query<T: serde::de::DeserializeOwned>(request: &HttpRequest) -> Result<T, ApiError> {
    let params = super::admin::query_params(request)?;
    let object: serde_json::Map<String, Value> = params
        .into_iter()
        .map(|(name, value)| {
            let value = match name.as_str() {
                "limit" | "months" => value.parse::<u64>().map(Value::from).unwrap_or(Value::String(value)),
                _ => Value::String(value),
            };
            (name, value)
        })
        .collect();
    serde_json::from_value(Value::Object(object))
        .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, format!("query: {e}")))
}

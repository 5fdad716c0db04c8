//! Fluency's own API beside the xAPI base path: `/api/rules` (list, get, create or
//! replace, enable, disable, delete), `/api/outbox` (inspect, re-drive dead letters),
//! `/api/interventions`, `/api/impact` and `/metrics`. Everything under `/api` needs the
//! `admin` scope, but `/api/impact`, which `analytics` is enough for.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{AppState, Reply};
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ErrorCode};
use crate::service::impact::ImpactAnswer;
use crate::service::impact::{run_impact_within, ImpactRequest};
use crate::service::rules::{CatalogError, RuleCatalog};
use crate::service::rules::{RuleView, RulesListing};
use crate::storage::{Intervention, InterventionQuery, OutboxItem, OutboxStatus, RuleRun};
use crate::xapi::time::{now_micros, parse_timestamp, to_micros};

/// Most items one listing returns.
const MAX_LISTING: usize = 1000;
/// Run records shown with a rule.
const RECENT_RUNS: usize = 20;

pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/metrics", web::get().to(get_metrics)).service(
        web::scope("/api")
            .route("/rules", web::get().to(list_rules))
            .route("/rules/{name}", web::get().to(get_rule))
            .route("/rules/{name}", web::put().to(put_rule))
            .route("/rules/{name}", web::delete().to(delete_rule))
            .route("/rules/{name}/enable", web::post().to(enable_rule))
            .route("/rules/{name}/disable", web::post().to(disable_rule))
            .route("/outbox", web::get().to(list_outbox))
            .route("/outbox/{key}/redrive", web::post().to(redrive))
            .route("/interventions", web::get().to(list_interventions))
            .route("/impact", web::post().to(post_impact))
            .default_service(web::to(no_endpoint)),
    );
}

/// Any path or method the API does not serve: the JSON error, never an empty 404.
pub(super) async fn no_endpoint(request: HttpRequest) -> HttpResponse {
    let error = ApiError::not_found(format!("{} {}: no endpoint here", request.method(), request.path()));
    Reply::from(error).into_http(false)
}

/// Metrics name rules and show traffic volumes: an administrator's to read.
async fn get_metrics(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match authorize(&state, &request, Access::Administer).await {
        Ok(_) => HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render()),
        Err(error) => Reply::from(error).into_http(false),
    }
}

/// Authenticates the caller and checks it may `access`.
pub(super) async fn authorize(state: &AppState, request: &HttpRequest, access: Access) -> Result<Principal, ApiError> {
    let header = request.headers().get("Authorization").and_then(|v| v.to_str().ok());
    let principal = state.auth.authenticate(header, super::client_address(request)).await?;
    principal.require(access)?;
    Ok(principal)
}

/// Appends the action to the audit log, after it succeeded.
pub(super) async fn audit(
    state: &AppState,
    principal: &Principal,
    action: &str,
    target: &str,
    details: Value,
) -> Result<(), ApiError> {
    crate::governance::record(&**state.statements.store(), &principal.key, action, target, details).await?;
    Ok(())
}

pub(super) fn respond(result: Result<Reply, ApiError>) -> HttpResponse {
    result.unwrap_or_else(Reply::from).into_http(false)
}

fn catalog(state: &AppState) -> Result<Arc<RuleCatalog>, ApiError> {
    state.rules.clone().ok_or_else(|| ApiError::not_found("rules are turned off on this server (rules.enabled)"))
}

fn catalog_error(error: CatalogError) -> ApiError {
    match error {
        CatalogError::Invalid(error) => ApiError::new(ErrorCode::InvalidRule, error.to_string()),
        other => ApiError::internal(anyhow::Error::new(other)),
    }
}

/// Runs a catalog edit (file I/O and compilation) off the async threads.
async fn edit<T: Send + 'static>(
    catalog: Arc<RuleCatalog>,
    change: impl FnOnce(&RuleCatalog) -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(move || change(&catalog)).await.map_err(ApiError::internal)?.map_err(catalog_error)
}

fn json_reply(status: u16, value: impl serde::Serialize) -> Result<Reply, ApiError> {
    Ok(Reply::json(status, &serde_json::to_value(value).map_err(ApiError::internal)?))
}

/// A rule with its file's text and its latest runs.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct RuleDetail {
    #[serde(flatten)]
    view: RuleView,
    source: String,
    recent_runs: Vec<RuleRun>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct OutboxListing {
    items: Vec<OutboxItem>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Redriven {
    key: String,
    status: OutboxStatus,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct InterventionListing {
    interventions: Vec<Intervention>,
}

#[utoipa::path(get, path = "/api/rules", tag = "rules", security(("basic" = [])),
    responses((status = 200, description = "The installed rules and the files refused", body = RulesListing), super::openapi::Refusals))]
pub(super) async fn list_rules(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            json_reply(200, catalog(&state)?.list())
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/rules/{name}", tag = "rules", security(("basic" = [])),
    params(("name" = String, Path, description = "The rule's name")),
    responses((status = 200, description = "The rule, its source and its latest runs", body = RuleDetail), super::openapi::Refusals))]
pub(super) async fn get_rule(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let (view, source) = catalog(&state)?.get(&name).ok_or_else(|| no_rule(&name))?;
            let recent_runs = state.statements.store().rule_runs(&name, RECENT_RUNS).await?;
            json_reply(200, RuleDetail { view, source, recent_runs })
        }
        .await,
    )
}

#[utoipa::path(put, path = "/api/rules/{name}", tag = "rules", security(("basic" = [])),
    params(("name" = String, Path, description = "The rule's name, as its metadata says")),
    request_body(content = String, content_type = "text/plain", description = "The rule file (Rhai with its metadata header)"),
    responses(
        (status = 200, description = "The rule was replaced", body = RuleView),
        (status = 201, description = "The rule was created", body = RuleView),
        super::openapi::Refusals))]
pub(super) async fn put_rule(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let limit = state.settings.max_body_bytes;
            let source = super::read_text_body(payload, limit, ErrorCode::InvalidRule, "a rule file").await?;
            let name = name.into_inner();
            let wanted = name.clone();
            let (view, created) = edit(catalog(&state)?, move |c| c.put(&wanted, &source)).await?;
            audit(&state, &principal, "rule.put", &name, json!({"version": view.version, "created": created})).await?;
            json_reply(if created { 201 } else { 200 }, view)
        }
        .await,
    )
}

#[utoipa::path(delete, path = "/api/rules/{name}", tag = "rules", security(("basic" = [])),
    params(("name" = String, Path, description = "The rule's name")),
    responses((status = 204, description = "The rule's file was removed"), super::openapi::Refusals))]
pub(super) async fn delete_rule(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let wanted = name.clone();
            let deleted = edit(catalog(&state)?, move |c| c.delete(&wanted)).await?;
            if deleted {
                audit(&state, &principal, "rule.delete", &name, json!({})).await?;
                Ok(Reply::empty(204))
            } else {
                Err(no_rule(&name))
            }
        }
        .await,
    )
}

#[utoipa::path(post, path = "/api/rules/{name}/enable", tag = "rules", security(("basic" = [])),
    params(("name" = String, Path, description = "The rule's name")),
    responses((status = 200, description = "The rule, enabled (a disable for failures is cleared)", body = RuleView), super::openapi::Refusals))]
pub(super) async fn enable_rule(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    set_enabled(request, state, name.into_inner(), true).await
}

#[utoipa::path(post, path = "/api/rules/{name}/disable", tag = "rules", security(("basic" = [])),
    params(("name" = String, Path, description = "The rule's name")),
    responses((status = 200, description = "The rule, disabled", body = RuleView), super::openapi::Refusals))]
pub(super) async fn disable_rule(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    set_enabled(request, state, name.into_inner(), false).await
}

async fn set_enabled(request: HttpRequest, state: web::Data<AppState>, name: String, enabled: bool) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let wanted = name.clone();
            let view = edit(catalog(&state)?, move |c| c.set_enabled(&wanted, enabled)).await?;
            let view = view.ok_or_else(|| no_rule(&name))?;
            let action = if enabled { "rule.enable" } else { "rule.disable" };
            audit(&state, &principal, action, &name, json!({})).await?;
            json_reply(200, view)
        }
        .await,
    )
}

fn no_rule(name: &str) -> ApiError {
    ApiError::not_found(format!("name: no rule is named {name:?}"))
}

type Query = HashMap<String, String>;

/// The query parameters, each at most once: a repeated one is refused, not collapsed.
pub(super) fn query_params(request: &HttpRequest) -> Result<Query, ApiError> {
    let mut params = Query::new();
    for (name, value) in super::call::parse_query(request.query_string()) {
        if params.contains_key(&name) {
            return Err(ApiError::invalid_parameter(&name, "is given more than once"));
        }
        params.insert(name, value);
    }
    Ok(params)
}

fn limit_param(query: &Query) -> Result<usize, ApiError> {
    match query.get("limit") {
        None => Ok(100),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_LISTING).contains(&limit) => Ok(limit),
            _ => Err(ApiError::invalid_parameter("limit", format!("must be a whole number from 1 to {MAX_LISTING}"))),
        },
    }
}

fn time_param(query: &Query, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = query.get(name) else { return Ok(None) };
    let instant = parse_timestamp(text)
        .ok_or_else(|| ApiError::invalid_parameter(name, format!("{text:?} must be an ISO 8601 timestamp")))?;
    Ok(Some(to_micros(&instant)))
}

pub(super) fn refuse_unknown(query: &Query, known: &[&str]) -> Result<(), ApiError> {
    match query.keys().find(|name| !known.contains(&name.as_str())) {
        Some(name) => Err(ApiError::new(
            ErrorCode::UnknownParameter,
            format!("{name}: unknown parameter; known: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

#[utoipa::path(get, path = "/api/outbox", tag = "deliveries", security(("basic" = [])),
    params(
        ("status" = Option<OutboxStatus>, Query, description = "Which items (default dead_letter)"),
        ("limit" = Option<usize>, Query, description = "Most items, 1 to 1000 (default 100)")),
    responses((status = 200, description = "Outbox items, most recently updated first", body = OutboxListing), super::openapi::Refusals))]
pub(super) async fn list_outbox(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let query = query_params(&request)?;
            refuse_unknown(&query, &["status", "limit"])?;
            let status_text = query.get("status").map_or("dead_letter", String::as_str);
            let status = OutboxStatus::parse(status_text)
                .ok_or_else(|| ApiError::invalid_parameter("status", "must be pending, delivered or dead_letter"))?;
            let items = state.statements.store().outbox_items(status, limit_param(&query)?).await?;
            json_reply(200, OutboxListing { items })
        }
        .await,
    )
}

#[utoipa::path(post, path = "/api/outbox/{key}/redrive", tag = "deliveries", security(("basic" = [])),
    params(("key" = String, Path, description = "The dead letter's key")),
    responses((status = 200, description = "The item is pending again", body = Redriven), super::openapi::Refusals))]
pub(super) async fn redrive(request: HttpRequest, state: web::Data<AppState>, key: web::Path<String>) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            if !state.statements.store().redrive_outbox(&key, now_micros()).await? {
                return Err(ApiError::not_found(format!("key: no dead letter has the key {:?}", key.as_str())));
            }
            audit(&state, &principal, "outbox.redrive", &key, json!({})).await?;
            state.outbox_ready.notify_one();
            json_reply(200, Redriven { key: key.into_inner(), status: OutboxStatus::Pending })
        }
        .await,
    )
}

#[utoipa::path(post, path = "/api/impact", tag = "impact", security(("basic" = [])),
    request_body = ImpactRequest,
    responses((status = 200, description = "The analysis", body = ImpactAnswer), super::openapi::Refusals))]
pub(super) async fn post_impact(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Analyse).await?;
            let body = super::read_body(payload, state.settings.max_body_bytes).await?;
            let wanted = ImpactRequest::from_json(&body)
                .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, format!("body: not an impact request: {e}")))?;
            let kpi = wanted.kpi.clone();
            // Reading and analysing is CPU work: a runtime thread of the blocking pool
            // does it, so HTTP workers keep answering.
            let store = state.statements.store().clone();
            let most = state.settings.max_analysis_statements;
            let runtime = tokio::runtime::Handle::current();
            let mut answer = web::block(move || runtime.block_on(run_impact_within(&*store, &wanted, most)))
                .await
                .map_err(ApiError::internal)??;
            crate::governance::suppression::suppress_small_groups(&mut answer, state.settings.min_group_size);
            // Who was in it, by pseudonym: each person's transparency report lists the analyses.
            let pseudonyms = state.eraser.erased.pseudonyms();
            let people: Vec<String> = answer.persons.iter().map(|p| pseudonyms.person_label(p)).collect();
            let details =
                json!({"treated": answer.treated_persons, "comparison": answer.comparison_persons, "people": people});
            audit(&state, &principal, "impact.run", &kpi, details).await?;
            json_reply(200, answer)
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/interventions", tag = "rules", security(("basic" = [])),
    params(
        ("rule" = Option<String>, Query, description = "Only this rule's"),
        ("activity" = Option<String>, Query, description = "Only for this activity IRI"),
        ("agent" = Option<String>, Query, description = "Only for this person (an xAPI Agent as JSON)"),
        ("since" = Option<String>, Query, description = "Recorded at or after (ISO 8601)"),
        ("until" = Option<String>, Query, description = "Recorded at or before (ISO 8601)"),
        ("limit" = Option<usize>, Query, description = "Most interventions, 1 to 1000 (default 100)")),
    responses((status = 200, description = "Interventions the rules recorded", body = InterventionListing), super::openapi::Refusals))]
pub(super) async fn list_interventions(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let query = query_params(&request)?;
            refuse_unknown(&query, &["rule", "activity", "agent", "since", "until", "limit"])?;
            let actor_id = match query.get("agent") {
                Some(text) => Some(super::statement_params::parse_agent(text, false)?.1),
                None => None,
            };
            let filter = InterventionQuery {
                rule: query.get("rule").cloned(),
                activity: query.get("activity").cloned(),
                actor_id,
                since: time_param(&query, "since")?,
                until: time_param(&query, "until")?,
                limit: limit_param(&query)?,
            };
            let interventions = state.statements.store().query_interventions(&filter).await?;
            json_reply(200, InterventionListing { interventions })
        }
        .await,
    )
}

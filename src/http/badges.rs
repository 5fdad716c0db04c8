//! `/api/badges`: Open Badges 3.0 credentials. Public, because anyone a learner shows a
//! credential to must be able to check it: each credential by its (unguessable) id URL, as
//! JSON or a baked SVG, the achievements they name, the status lists, verification, and the
//! did:web DID document at `/.well-known/did.json`. Administrators (`admin` scope) define
//! achievements, award, list and revoke, and rotate the issuer key.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{authorize, query_params, refuse_unknown, respond};
use super::statement_params::parse_agent;
use super::{AppState, Reply};
use crate::auth::Access;
use crate::credentials::catalog::AchievementCatalogError;
use crate::credentials::service::{AwardError, AwardRequest, BadgeService, RevokeError};
use crate::credentials::BadgeView;
use crate::error::{ApiError, ErrorCode};
use crate::storage::BadgeFilter;

/// The largest credential `POST /api/badges/verify` reads: real ones are a few kB, and
/// canonicalising is work an anonymous caller should not be able to inflate.
const MAX_VERIFY_BYTES: usize = 64 * 1024;
/// Most credentials one listing returns.
const MAX_LISTING: usize = 1000;

pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/.well-known/did.json", web::get().to(get_did_document)).service(
        web::scope("/api/badges")
            .route("/achievements", web::get().to(list_achievements))
            .route("/achievements/{id}", web::get().to(get_achievement))
            .route("/achievements/{id}", web::put().to(put_achievement))
            .route("/awards", web::post().to(post_award))
            .route("/awards", web::get().to(list_awards))
            .route("/credentials/{id}", web::get().to(get_credential))
            .route("/credentials/{id}/badge.svg", web::get().to(get_baked_svg))
            .route("/credentials/{id}/revoke", web::post().to(post_revoke))
            .route("/status/{key}/{list}", web::get().to(get_status_list))
            .route("/verify", web::post().to(post_verify))
            .route("/keys/rotate", web::post().to(post_rotate_key))
            .default_service(web::to(super::admin::no_endpoint)),
    );
}

fn service(state: &AppState) -> Result<Arc<BadgeService>, ApiError> {
    state.badges.clone().ok_or_else(|| ApiError::not_found("credentials are turned off on this server"))
}

fn ld_json(value: &Value) -> Reply {
    let mut reply = Reply::json(200, value);
    reply.content_type = Some("application/ld+json".into());
    reply
}

fn parse_json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("body: {e}")))
}

fn award_error(error: AwardError) -> ApiError {
    match error {
        AwardError::UnknownAchievement(_) | AwardError::InvalidPerson(_) => {
            ApiError::new(ErrorCode::InvalidRequest, error.to_string())
        }
        AwardError::OptedOut(_) => ApiError::new(ErrorCode::OptedOut, error.to_string()),
        AwardError::Backend(error) => ApiError::internal(error),
    }
}

async fn get_did_document(state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            let document = service(&state)?.issuer().did_document().map_err(ApiError::internal)?;
            let document = document.ok_or_else(|| {
                ApiError::not_found(
                    "this server's issuer is a did:key (credentials.did_method); it has no did:web document",
                )
            })?;
            let mut reply = Reply::json(200, &document);
            reply.content_type = Some("application/did+ld+json".into());
            Ok(reply)
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/badges/achievements", tag = "credentials", security(("basic" = [])),
    responses((status = 200, description = "Every achievement defined", body = serde_json::Value), super::openapi::Refusals))]
pub(super) async fn list_achievements(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let achievements: Vec<_> = service(&state)?.catalog().all().values().cloned().collect();
            Ok(Reply::json(200, &json!(achievements)))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/badges/achievements/{id}", tag = "credentials",
    params(("id" = String, Path, description = "The achievement's id")),
    responses((status = 200, description = "The OB 3.0 Achievement, public", content((serde_json::Value = "application/ld+json"))), super::openapi::Refusals))]
pub(super) async fn get_achievement(state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    respond(
        async {
            let service = service(&state)?;
            let achievement = service
                .catalog()
                .get(&id)
                .ok_or_else(|| ApiError::not_found(format!("id: no achievement {:?}", *id)))?;
            let mut body = service.achievement_json(&achievement);
            body["@context"] =
                json!([crate::credentials::contexts::CREDENTIALS_V2, crate::credentials::contexts::OPEN_BADGES_V3]);
            Ok(ld_json(&body))
        }
        .await,
    )
}

#[utoipa::path(put, path = "/api/badges/achievements/{id}", tag = "credentials", security(("basic" = [])),
    params(("id" = String, Path, description = "The achievement's id")), request_body = serde_json::Value,
    responses((status = 200, description = "The achievement as stored", body = serde_json::Value), super::openapi::Refusals))]
pub(super) async fn put_achievement(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let text = super::read_text_body(
                payload,
                state.settings.max_body_bytes,
                ErrorCode::InvalidAchievement,
                "an achievement",
            )
            .await?;
            let service = service(&state)?;
            let id = id.into_inner();
            let checked = service.clone();
            let target = id.clone();
            let achievement = web::block(move || checked.put_achievement(&target, &text))
                .await
                .map_err(ApiError::internal)?
                .map_err(|error| match error {
                    AchievementCatalogError::Invalid(error) => {
                        ApiError::new(ErrorCode::InvalidAchievement, error.to_string())
                    }
                    AchievementCatalogError::Io(error) => ApiError::internal(error),
                })?;
            super::admin::audit(&state, &principal, "badges.achievement.put", &id, json!({"name": achievement.name}))
                .await?;
            Ok(Reply::json(200, &json!(achievement)))
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AwardBody {
    agent: Value,
    achievement: String,
    idempotency_key: Option<String>,
}

#[utoipa::path(post, path = "/api/badges/awards", tag = "credentials", security(("basic" = [])),
    request_body = serde_json::Value,
    responses((status = 201, description = "A credential was issued", body = serde_json::Value),
        (status = 200, description = "The credential issued before for the same award", body = serde_json::Value), super::openapi::Refusals))]
pub(super) async fn post_award(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let body: AwardBody = parse_json_body(&super::read_body(payload, state.settings.max_body_bytes).await?)?;
            let (_, person) = parse_agent(&body.agent.to_string(), false)?;
            if body.idempotency_key.as_ref().is_some_and(|key| key.is_empty() || key.len() > 200) {
                return Err(ApiError::new(ErrorCode::InvalidRequest, "idempotency_key: must be 1 to 200 characters"));
            }
            let award_key = body.idempotency_key.map(|key| format!("api:{}:{key}", principal.key));
            let request =
                AwardRequest { person, achievement: body.achievement, award_key, actor: principal.key.clone() };
            let service = service(&state)?;
            let awarded = service.award(request).await.map_err(award_error)?;
            let status = if awarded.created { 201 } else { 200 };
            Ok(Reply::json(status, &json!(BadgeView::of(&awarded.badge, &service))))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/badges/awards", tag = "credentials", security(("basic" = [])),
    params(("agent" = Option<String>, Query, description = "The holder, an xAPI Agent as JSON"),
        ("achievement" = Option<String>, Query, description = "An achievement id"),
        ("include_revoked" = Option<bool>, Query, description = "Revoked credentials too"),
        ("limit" = Option<u32>, Query, description = "Most credentials listed")),
    responses((status = 200, description = "Issued credentials, newest first", body = serde_json::Value), super::openapi::Refusals))]
pub(super) async fn list_awards(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let query = query_params(&request)?;
            refuse_unknown(&query, &["agent", "achievement", "include_revoked", "limit"])?;
            let person = match query.get("agent") {
                Some(agent) => Some(parse_agent(agent, false)?.1),
                None => None,
            };
            let include_revoked = match query.get("include_revoked").map(String::as_str) {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ApiError::invalid_parameter(
                        "include_revoked",
                        format!("{other:?} must be true or false"),
                    ))
                }
            };
            let limit = match query.get("limit") {
                None => 100,
                Some(text) => {
                    text.parse::<usize>().ok().filter(|l| (1..=MAX_LISTING).contains(l)).ok_or_else(|| {
                        ApiError::invalid_parameter("limit", format!("must be a whole number from 1 to {MAX_LISTING}"))
                    })?
                }
            };
            let filter = BadgeFilter { person, achievement: query.get("achievement").cloned(), include_revoked, limit };
            let service = service(&state)?;
            let badges = service.list(&filter).await.map_err(ApiError::internal)?;
            let views: Vec<_> = badges.iter().map(|badge| BadgeView::of(badge, &service)).collect();
            Ok(Reply::json(200, &json!(views)))
        }
        .await,
    )
}

async fn find_credential(state: &AppState, id: &str) -> Result<crate::storage::BadgeRecord, ApiError> {
    let not_found = || ApiError::not_found(format!("id: no credential {id:?}"));
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    service(state)?.find(id).await.map_err(ApiError::internal)?.ok_or_else(not_found)
}

#[utoipa::path(get, path = "/api/badges/credentials/{id}", tag = "credentials",
    params(("id" = String, Path, description = "The credential's id")),
    responses((status = 200, description = "The signed OpenBadgeCredential, public", content((serde_json::Value = "application/ld+json"))), super::openapi::Refusals))]
pub(super) async fn get_credential(state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    respond(async { Ok(ld_json(&find_credential(&state, &id).await?.document)) }.await)
}

#[utoipa::path(get, path = "/api/badges/credentials/{id}/badge.svg", tag = "credentials",
    params(("id" = String, Path, description = "The credential's id")),
    responses((status = 200, description = "The badge image with the credential baked in", content((String = "image/svg+xml"))), super::openapi::Refusals))]
pub(super) async fn get_baked_svg(state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    respond(
        async {
            let badge = find_credential(&state, &id).await?;
            let svg = crate::credentials::baking::baked_svg(&badge.document);
            let mut reply = Reply::json_text(200, svg);
            reply.content_type = Some("image/svg+xml".into());
            Ok(reply.header("Content-Disposition", format!("attachment; filename=\"{}.svg\"", badge.id)))
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
}

#[utoipa::path(post, path = "/api/badges/credentials/{id}/revoke", tag = "credentials", security(("basic" = [])),
    params(("id" = String, Path, description = "The credential's id")), request_body = serde_json::Value,
    responses((status = 200, description = "The revoked credential", body = serde_json::Value),
        (status = 409, description = "It was revoked already", body = super::openapi::ErrorBody), super::openapi::Refusals))]
pub(super) async fn post_revoke(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let body: RevokeBody = parse_json_body(&super::read_body(payload, state.settings.max_body_bytes).await?)?;
            let service = service(&state)?;
            let badge = service.revoke(&id, &body.reason, &principal.key).await.map_err(|error| match error {
                RevokeError::NotFound(_) => ApiError::not_found(error.to_string()),
                RevokeError::AlreadyRevoked(_) => ApiError::new(ErrorCode::AlreadyRevoked, error.to_string()),
                RevokeError::InvalidReason(_) => ApiError::new(ErrorCode::InvalidRequest, error.to_string()),
                RevokeError::Backend(error) => ApiError::internal(error),
            })?;
            Ok(Reply::json(200, &json!(BadgeView::of(&badge, &service))))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/badges/status/{key}/{list}", tag = "credentials",
    params(("key" = String, Path, description = "The issuer key"), ("list" = String, Path, description = "The list number")),
    responses((status = 200, description = "The signed Bitstring Status List credential, public", content((serde_json::Value = "application/ld+json"))), super::openapi::Refusals))]
pub(super) async fn get_status_list(state: web::Data<AppState>, path: web::Path<(String, String)>) -> HttpResponse {
    respond(
        async {
            let (key, list) = path.into_inner();
            let not_found = || ApiError::not_found(format!("no status list {key}/{list}"));
            let list: u64 = list.parse().map_err(|_| not_found())?;
            let signed =
                service(&state)?.status_list(&key, list).await.map_err(ApiError::internal)?.ok_or_else(not_found)?;
            // Revocations must show within seconds: caches may keep a list only briefly.
            Ok(ld_json(&signed).header("Cache-Control", "max-age=5"))
        }
        .await,
    )
}

#[utoipa::path(post, path = "/api/badges/verify", tag = "credentials", request_body = serde_json::Value,
    responses((status = 200, description = "Each check and whether it held", body = serde_json::Value), super::openapi::Refusals))]
pub(super) async fn post_verify(state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    respond(
        async {
            let body = super::read_body(payload, MAX_VERIFY_BYTES).await?;
            let credential: Value = crate::validation::parse_json(&body).map_err(|e| {
                ApiError::new(ErrorCode::MalformedJson, format!("body: must be a credential as JSON ({e})"))
            })?;
            let verdict = service(&state)?.verify(credential).await.map_err(ApiError::internal)?;
            Ok(Reply::json(200, &json!(verdict)))
        }
        .await,
    )
}

#[utoipa::path(post, path = "/api/badges/keys/rotate", tag = "credentials", security(("basic" = [])),
    responses((status = 200, description = "The new current issuer key", body = serde_json::Value), super::openapi::Refusals))]
pub(super) async fn post_rotate_key(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let issuer = service(&state)?.issuer().clone();
            let key =
                web::block(move || issuer.rotate()).await.map_err(ApiError::internal)?.map_err(ApiError::internal)?;
            super::admin::audit(&state, &principal, "badges.key.rotate", &key, json!({})).await?;
            Ok(Reply::json(200, &json!({"current_key": key})))
        }
        .await,
    )
}

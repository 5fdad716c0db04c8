//! `/api/audit`: the audit log's entries in order, and `verify`, which checks the whole
//! hash chain. Scope `admin`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::admin::{authorize, query_params, refuse_unknown, respond};
use super::{AppState, Reply};
use crate::auth::Access;
use crate::error::ApiError;

const MAX_LISTING: usize = 1000;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct AuditListing {
    entries: Vec<crate::storage::AuditEntry>,
}

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/audit", web::get().to(get_audit))
        .route("/api/audit/verify", web::get().to(get_verify))
        .route("/api/retention/run", web::post().to(run_retention));
}

/// Runs the retention policies now (`dry_run=true`: lists what would go, deletes nothing).
#[utoipa::path(post, path = "/api/retention/run", tag = "governance", security(("basic" = [])),
    params(("dry_run" = Option<bool>, Query, description = "true: list what would be deleted, delete nothing")),
    responses((status = 200, description = "What each policy selected and what was deleted",
        body = crate::governance::retention::RetentionReport), super::openapi::Refusals))]
pub(super) async fn run_retention(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let query = query_params(&request)?;
            refuse_unknown(&query, &["dry_run"])?;
            let dry_run = match query.get("dry_run").map(String::as_str) {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ApiError::invalid_parameter("dry_run", format!("{other:?} must be true or false")))
                }
            };
            let policies = &state.settings.governance.retention;
            let report =
                crate::governance::retention::run(&state.statements, policies, dry_run, &principal.key).await?;
            Ok(Reply::json(200, &serde_json::to_value(report).map_err(ApiError::internal)?))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/audit", tag = "governance", security(("basic" = [])),
    params(
        ("after" = Option<u64>, Query, description = "Entries after this sequence number (default 0)"),
        ("limit" = Option<usize>, Query, description = "Most entries, up to 1000 (default 100)")),
    responses((status = 200, description = "Audit log entries, oldest first", body = AuditListing), super::openapi::Refusals))]
pub(super) async fn get_audit(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let query = query_params(&request)?;
            refuse_unknown(&query, &["after", "limit"])?;
            let number =
                |name: &str, default: u64, most: u64| match query.get(name) {
                    None => Ok(default),
                    Some(text) => text.parse::<u64>().ok().filter(|n| *n <= most).ok_or_else(|| {
                        ApiError::invalid_parameter(name, format!("must be a whole number up to {most}"))
                    }),
                };
            let after = number("after", 0, u64::MAX)?;
            let limit = number("limit", 100, MAX_LISTING as u64)?.max(1) as usize;
            let entries = state.statements.store().audit_entries(after, limit).await?;
            Ok(Reply::json(200, &serde_json::to_value(AuditListing { entries }).map_err(ApiError::internal)?))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/audit/verify", tag = "governance", security(("basic" = [])),
    responses((status = 200, description = "Whether the hash chain is intact", body = crate::governance::Verification), super::openapi::Refusals))]
pub(super) async fn get_verify(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            authorize(&state, &request, Access::Administer).await?;
            let verification = crate::governance::verify(&**state.statements.store()).await?;
            Ok(Reply::json(200, &serde_json::to_value(verification).map_err(ApiError::internal)?))
        }
        .await,
    )
}

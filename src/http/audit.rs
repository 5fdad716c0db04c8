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
    config.route("/api/audit", web::get().to(get_audit)).route("/api/audit/verify", web::get().to(get_verify));
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

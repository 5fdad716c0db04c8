//! The console's routes, one file per page, and its embedded assets.

mod audit;
mod deliveries;
mod impact;
mod initiatives;
mod overview;
mod rule_edit;
mod rules;
mod sign_in;
mod skills;
mod talent;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};

use super::guard::secured;

const STYLESHEET: &str = include_str!("../assets/console.css");
const SCRIPT: &str = include_str!("../assets/console.js");

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("", web::get().to(overview::get_overview))
        .route("/", web::get().to(overview::get_overview))
        .route("/sign-in", web::get().to(sign_in::get_sign_in))
        .route("/sign-in", web::post().to(sign_in::post_sign_in))
        .route("/sign-out", web::post().to(sign_in::post_sign_out))
        .route("/sso", web::get().to(sign_in::get_sso))
        .route("/sso/callback", web::get().to(sign_in::get_sso_callback))
        .route("/impact", web::get().to(impact::get_impact))
        .route("/impact", web::post().to(impact::post_impact))
        .route("/impact/{id}", web::get().to(impact::get_analysis))
        .route("/impact/{id}/export", web::get().to(impact::get_export))
        .route("/initiatives", web::get().to(initiatives::get_initiatives))
        .route("/initiatives", web::post().to(initiatives::post_initiative))
        .route("/rules", web::get().to(rules::get_rules))
        .route("/rules/{name}", web::get().to(rules::get_rule))
        .route("/rules/{name}/enabled", web::post().to(rules::post_enabled))
        .route("/rules/{name}/edit", web::get().to(rule_edit::get_edit))
        .route("/rules/{name}/edit", web::post().to(rule_edit::post_edit))
        .route("/deliveries", web::get().to(deliveries::get_deliveries))
        .route("/deliveries/{key}/redrive", web::post().to(deliveries::post_redrive))
        .route("/audit", web::get().to(audit::get_audit))
        .route("/skills", web::get().to(skills::get_skills))
        .route("/skills/teams/{team}", web::get().to(skills::get_team))
        .route("/skills/search", web::get().to(talent::get_search))
        .route("/skills/demand", web::get().to(talent::get_demand))
        .route("/assets/console.css", web::get().to(|| asset(STYLESHEET, "text/css; charset=utf-8")))
        .route("/assets/console.js", web::get().to(|| asset(SCRIPT, "text/javascript; charset=utf-8")))
        .default_service(web::to(not_found));
}

async fn asset(body: &'static str, content_type: &'static str) -> HttpResponse {
    secured(StatusCode::OK)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type(content_type)
        .body(body)
}

async fn not_found() -> HttpResponse {
    super::guard::refuse(StatusCode::NOT_FOUND, None, "There is no console page here.")
}

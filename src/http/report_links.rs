//! Links a person opens to read their own transparency report without a credential:
//! `POST /api/people/report-link` (scope `admin`) makes one (a random token; only its
//! SHA-256 is stored, with whom it shows and until when) and, given a delivery `target`,
//! queues it there; `GET /api/people/report/shared?token=...` shows the report (HTML, or
//! `format=json`) until the link expires.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::admin::{audit, authorize, query_params, refuse_unknown, respond};
use super::{AppState, Reply};
use crate::auth::Access;
use crate::error::{ApiError, ErrorCode};
use crate::rules::intent::{Intent, IntentRecord, NotifyMessage};
use crate::storage::{NewOutboxItem, OutboxKind, RulesCommit};
use crate::xapi::time::{format_micros, now_micros};

const HOUR_MICROS: i64 = 3_600 * 1_000_000;
const DEFAULT_HOURS: u32 = 72;
const MAX_HOURS: u32 = 720;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/people/report-link", web::post().to(create_link))
        .route("/api/people/report/shared", web::get().to(shared_report));
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkRequest {
    #[schema(value_type = Object)]
    agent: Value,
    /// How long the link works.
    #[serde(default)]
    hours: Option<u32>,
    /// A delivery target (`[targets.<name>]`) to send the link to.
    #[serde(default)]
    target: Option<String>,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A made link: where it points and until when.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct MadeLink {
    url: String,
    expires: String,
    sent_to: Option<String>,
}

#[utoipa::path(post, path = "/api/people/report-link", tag = "governance", security(("basic" = [])),
    request_body = LinkRequest,
    responses((status = 200, description = "The personal link", body = MadeLink), super::openapi::Refusals))]
pub(super) async fn create_link(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    respond(
        async {
            let principal = authorize(&state, &request, Access::Administer).await?;
            let body = super::read_body(payload, state.settings.max_body_bytes).await?;
            let wanted: LinkRequest = serde_json::from_slice(&body).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    format!("body: needs agent, and may give hours and target: {e}"),
                )
            })?;
            let person = super::statement_params::parse_agent(&wanted.agent.to_string(), false)?.1;
            let hours = wanted.hours.unwrap_or(DEFAULT_HOURS);
            if hours == 0 || hours > MAX_HOURS {
                return Err(ApiError::invalid_parameter("hours", format!("{hours} must be between 1 and {MAX_HOURS}")));
            }
            if let Some(target) = &wanted.target {
                if !state.settings.targets.contains_key(target) {
                    return Err(ApiError::invalid_parameter(
                        "target",
                        format!("{target:?} is not a configured delivery target"),
                    ));
                }
            }
            let mut secret = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
            let expires = now_micros() + i64::from(hours) * HOUR_MICROS;
            let store = state.statements.store();
            store.insert_report_link(&token_hash(&token), &person, expires).await?;
            let url =
                format!("{}/api/people/report/shared?token={token}", state.settings.public_url.trim_end_matches('/'));
            let label = state.eraser.erased.pseudonyms().person_label(&person);
            if let Some(target) = &wanted.target {
                send_link(&state, target, &url, &label, expires).await?;
            }
            let details = json!({"hours": hours, "target": wanted.target});
            audit(&state, &principal, "people.report_link", &label, details).await?;
            let made = MadeLink { url, expires: format_micros(expires), sent_to: wanted.target };
            Ok(Reply::json(200, &serde_json::to_value(made).map_err(ApiError::internal)?))
        }
        .await,
    )
}

/// Queues the link as a notification to `target`; the message carries the person's audit
/// name, so erasing them removes it too.
async fn send_link(state: &AppState, target: &str, url: &str, label: &str, expires: i64) -> Result<(), ApiError> {
    let text = format!(
        "What Fluency holds about you, and why: {url} (a personal link, valid until {}; ref {label})",
        format_micros(expires)
    );
    let key = uuid::Uuid::new_v4().to_string();
    let record = IntentRecord {
        key: key.clone(),
        rule: "fluency:report-link".into(),
        rule_version: "1".into(),
        trigger: uuid::Uuid::nil(),
        index: 0,
        intent: Intent::Notify { target: target.to_string(), message: NotifyMessage::Text { text } },
    };
    let item = NewOutboxItem {
        key,
        rule: record.rule.clone(),
        trigger: record.trigger,
        kind: OutboxKind::Notify,
        target: Some(target.to_string()),
        intent: serde_json::to_value(&record).map_err(ApiError::internal)?,
        created: now_micros(),
    };
    let commit = RulesCommit { evaluated_through: None, outbox: vec![item], ..Default::default() };
    state.statements.store().commit_rules(commit).await?;
    state.outbox_ready.notify_one();
    Ok(())
}

#[utoipa::path(get, path = "/api/people/report/shared", tag = "governance",
    params(("token" = String, Query, description = "The link's token"),
        ("format" = Option<String>, Query, description = "html (default for a browser) or json")),
    responses((status = 200, description = "The person's transparency report",
            content((crate::governance::report::TransparencyReport = "application/json"), (String = "text/html"))),
        super::openapi::Refusals))]
pub(super) async fn shared_report(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(
        async {
            let query = query_params(&request)?;
            refuse_unknown(&query, &["token", "format"])?;
            let token = query
                .get("token")
                .ok_or_else(|| ApiError::new(ErrorCode::MissingParameter, "token: is a required parameter"))?;
            let refused = |why: &str| ApiError::new(ErrorCode::InvalidCredentials, format!("token: {why}"));
            let store = state.statements.store();
            let (person, expires) =
                store.find_report_link(&token_hash(token)).await?.ok_or_else(|| refused("not a valid link"))?;
            if expires < now_micros() {
                return Err(refused(&format!("the link expired at {}; ask for a new one", format_micros(expires))));
            }
            let needles = crate::governance::subject::subject_of_key(&person).map(|s| s.needles).unwrap_or_default();
            super::people::report_reply(&state, &person, &needles, query.get("format").map(String::as_str)).await
        }
        .await,
    )
}

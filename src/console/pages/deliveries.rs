//! Deliveries (administrators): the outbox by status (dead letters first: they need a
//! person), each item's rule, target, attempts and last error, and re-driving a dead
//! letter, which makes it pending again and wakes the delivery worker.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::super::guard::{html, refuse, require, see_other, submitted};
use super::super::layout::{csrf_field, page};
use super::super::roles::Need;
use super::super::Console;
use crate::http::AppState;
use crate::storage::OutboxStatus;
use crate::xapi::time::{format_micros, now_micros};

/// Items listed per status.
const LISTED: usize = 200;

#[derive(Deserialize)]
pub struct StatusQuery {
    status: Option<String>,
}

const STATUSES: [(&str, &str); 3] =
    [("dead_letter", "Dead letters"), ("pending", "Pending"), ("delivered", "Delivered")];

pub async fn get_deliveries(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    query: web::Query<StatusQuery>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Administer) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let wanted = query.status.as_deref().unwrap_or("dead_letter");
    let Some(status) = OutboxStatus::parse(wanted) else {
        return refuse(StatusCode::BAD_REQUEST, Some(&session), "status: must be dead_letter, pending or delivered");
    };
    let items = match state.statements.store().outbox_items(status, LISTED).await {
        Ok(items) => items,
        Err(error) => {
            tracing::error!(error = %error, "Reading the outbox failed.");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The outbox could not be read.");
        }
    };
    let content = html! {
        nav.tabs aria-label="Outbox status" {
            ul {
                @for (value, label) in STATUSES {
                    li {
                        @if value == wanted {
                            a href={"/console/deliveries?status=" (value)} aria-current="page" { (label) }
                        } @else {
                            a href={"/console/deliveries?status=" (value)} { (label) }
                        }
                    }
                }
            }
        }
        @if items.is_empty() {
            p { "None." }
        } @else {
            div.table-scroll tabindex="0" role="region" aria-label="Outbox items" { table {
                thead { tr {
                    th scope="col" { "Updated" } th scope="col" { "Rule" } th scope="col" { "Kind" } th scope="col" { "Target" }
                    th scope="col" { "Attempts" } th scope="col" { "Last error" }
                    @if status == OutboxStatus::DeadLetter { th scope="col" { "Action" } }
                } }
                tbody {
                    @for item in &items {
                        tr {
                            td { (format_micros(item.updated).get(..19).unwrap_or_default()) }
                            td { (item.rule) }
                            td { (item.kind.as_str()) }
                            td { (item.target.as_deref().unwrap_or("–")) }
                            td.num { (item.attempts) }
                            td { (item.last_error.as_deref().unwrap_or("")) }
                            @if status == OutboxStatus::DeadLetter {
                                td {
                                    form method="post" action={"/console/deliveries/" (item.key) "/redrive"} {
                                        (csrf_field(&session))
                                        button type="submit" aria-label={"Re-drive the " (item.kind.as_str()) " of " (item.rule)} { "Re-drive" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    html(StatusCode::OK, page(&session, "/console/deliveries", "Deliveries", content))
}

pub async fn post_redrive(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    key: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (session, _) = match submitted(&request, &console, payload, Need::Administer).await {
        Ok(submitted) => submitted,
        Err(answer) => return answer,
    };
    let store = state.statements.store();
    match store.redrive_outbox(&key, now_micros()).await {
        Ok(true) => {}
        Ok(false) => return refuse(StatusCode::NOT_FOUND, Some(&session), "No dead letter has this key."),
        Err(error) => {
            tracing::error!(error = %error, "Re-driving a dead letter failed.");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The item could not be re-driven.");
        }
    }
    if let Err(error) =
        crate::governance::record(&**store, &session.viewer.actor, "outbox.redrive", &key, json!({})).await
    {
        tracing::error!(error = %error, "Recording a re-drive in the audit log failed.");
    }
    state.outbox_ready.notify_one();
    see_other("/console/deliveries?status=pending")
}

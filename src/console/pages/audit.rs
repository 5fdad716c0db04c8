//! The audit log (administrators): its entries, oldest first, a page at a time, and a
//! check of the whole hash chain on request.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;

use super::super::guard::{html, refuse, require};
use super::super::layout::page;
use super::super::roles::Need;
use super::super::Console;
use crate::http::AppState;
use crate::xapi::time::format_micros;

const PAGE: usize = 100;

#[derive(Deserialize)]
pub struct AuditQuery {
    after: Option<u64>,
    verify: Option<String>,
}

pub async fn get_audit(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    query: Result<web::Query<AuditQuery>, actix_web::Error>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Administer) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let Ok(query) = query else {
        return refuse(StatusCode::BAD_REQUEST, Some(&session), "after: must be a sequence number");
    };
    let store = state.statements.store();
    let after = query.after.unwrap_or(0);
    let entries = match store.audit_entries(after, PAGE).await {
        Ok(entries) => entries,
        Err(error) => {
            tracing::error!(error = %error, "Reading the audit log failed.");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The audit log could not be read.");
        }
    };
    let verification = match query.verify.is_some() {
        true => match crate::governance::verify(&**store).await {
            Ok(verification) => Some(verification),
            Err(error) => {
                tracing::error!(error = %error, "Verifying the audit log failed.");
                return refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Some(&session),
                    "The audit log could not be verified.",
                );
            }
        },
        false => None,
    };
    let content = html! {
        @match &verification {
            Some(v) if v.valid => p.notice role="status" { "The chain of " (v.entries) " entries is intact; its head is " code { (v.head) } "." },
            Some(v) => p.error role="alert" { "The chain is broken at entry " (v.first_broken.unwrap_or(0)) "." },
            None => p { a href="/console/audit?verify=1" { "Check the whole chain" } },
        }
        @if entries.is_empty() {
            p { "No entry after " (after) "." }
        } @else {
            div.table-scroll tabindex="0" role="region" aria-label="Audit log entries" { table {
                thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Details" } } }
                tbody {
                    @for entry in &entries {
                        tr {
                            td.num { (entry.sequence) }
                            td { (format_micros(entry.draft.at).get(..19).unwrap_or_default()) }
                            td { (entry.draft.actor) }
                            td { code { (entry.draft.action) } }
                            td { (entry.draft.target) }
                            td { code { (entry.draft.details.to_string()) } }
                        }
                    }
                }
            } }
            @if entries.len() == PAGE {
                p { a href={"/console/audit?after=" (entries.last().map_or(after, |e| e.sequence))} { "Later entries" } }
            }
        }
    };
    html(StatusCode::OK, page(&session, "/console/audit", "Audit log", content))
}

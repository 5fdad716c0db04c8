//! Rules (administrators): the list with each rule's health, turning a rule on or off, and
//! a rule's page with its source, its last error at its line, and its recent runs.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::json;

use super::super::guard::{html, refuse, require, see_other, submitted};
use super::super::layout::{count, csrf_field, page};
use super::super::roles::Need;
use super::super::Console;
use crate::http::AppState;
use crate::rules::RuleError;

/// Run records shown on a rule's page.
const RECENT_RUNS: usize = 20;

pub(super) fn error_text(error: &RuleError) -> String {
    match (error.line, error.column) {
        (Some(line), Some(column)) => format!("line {line}, column {column}: {}", error.message),
        (Some(line), None) => format!("line {line}: {}", error.message),
        _ => error.message.clone(),
    }
}

pub async fn get_rules(request: HttpRequest, console: web::Data<Console>, state: web::Data<AppState>) -> HttpResponse {
    let session = match require(&request, &console, Need::Administer) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let Some(catalog) = &state.rules else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "Rules are turned off on this server (rules.enabled).");
    };
    let listing = catalog.list();
    let content = html! {
        @if listing.rules.is_empty() {
            p { "No rule is installed (see docs/rules.md)." }
        } @else {
            table.rules {
                caption { "Installed rules" }
                thead { tr {
                    th scope="col" { "Rule" } th scope="col" { "State" } th scope="col" { "Runs" }
                    th scope="col" { "Failures" } th scope="col" { "Last error" } th scope="col" { "Change" }
                } }
                tbody {
                    @for rule in &listing.rules {
                        @let on = rule.enabled && !rule.health.disabled;
                        tr id={"rule-" (rule.name)} {
                            th scope="row" {
                                a href={"/console/rules/" (rule.name)} { (rule.name) }
                                @if !rule.description.is_empty() { br; span.hint { (rule.description) } }
                            }
                            td.state { @if on { "enabled" } @else if rule.health.disabled { "stopped by failures" } @else { "disabled" } }
                            td.num { (count(rule.health.runs)) }
                            td.num { (count(rule.health.failures)) }
                            td { @if let Some(error) = &rule.health.last_error { (error_text(error)) } }
                            td {
                                form method="post" action={"/console/rules/" (rule.name) "/enabled"} {
                                    (csrf_field(&session))
                                    input type="hidden" name="enabled" value=(if on { "false" } else { "true" });
                                    button type="submit" aria-label={(if on { "Disable " } else { "Enable " }) (rule.name)} {
                                        @if on { "Disable" } @else { "Enable" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !listing.refused.is_empty() {
            h2 { "Files that could not be installed" }
            ul { @for error in &listing.refused { li { (error.file.as_deref().unwrap_or("?")) ": " (error_text(error)) } } }
        }
    };
    html(StatusCode::OK, page(&session, "/console/rules", "Rules", content))
}

pub async fn get_rule(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Administer) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let Some((view, source)) = state.rules.as_ref().and_then(|catalog| catalog.get(&name)) else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "No rule has this name.");
    };
    let runs = match state.statements.store().rule_runs(&name, RECENT_RUNS).await {
        Ok(runs) => runs,
        Err(error) => {
            tracing::error!(error = %error, "Reading a rule's runs failed.");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The rule's runs could not be read.");
        }
    };
    let error_line = view.health.last_error.as_ref().and_then(|e| e.line);
    let content = html! {
        p { (view.description) }
        p { "File " code { (view.file) } ", version " code { (view.version.get(..12).unwrap_or(&view.version)) } }
        @if let Some(error) = &view.health.last_error {
            p.error role="alert" { "Last error, " (error_text(error)) }
        }
        h2 { "Source" }
        p { a href={"/console/rules/" (view.name) "/edit"} { "Edit, or dry-run on recent statements" } }
        (source_listing(&source, error_line))
        h2 { "Recent runs" }
        @if runs.is_empty() {
            p { "None recorded." }
        } @else {
            table {
                thead { tr { th scope="col" { "Statement" } th scope="col" { "Intents" } th scope="col" { "State changes" } th scope="col" { "Error" } } }
                tbody {
                    @for run in &runs {
                        tr {
                            td { code { (run.trigger) } }
                            td.num { (run.intents) }
                            td.num { (run.state_changes) }
                            td { @if let Some(error) = &run.error { (error.get("message").and_then(|m| m.as_str()).unwrap_or("failed")) } }
                        }
                    }
                }
            }
        }
    };
    html(StatusCode::OK, page(&session, "/console/rules", &view.name, content))
}

/// The source with line numbers, the line of an error marked.
pub(super) fn source_listing(source: &str, error_line: Option<usize>) -> Markup {
    html! {
        pre.source { code {
            @for (index, line) in source.lines().enumerate() {
                @if Some(index + 1) == error_line {
                    mark { span.line-number { (index + 1) } (line) } "\n"
                } @else {
                    span.line-number { (index + 1) } (line) "\n"
                }
            }
        } }
    }
}

pub async fn post_enabled(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (session, form) = match submitted(&request, &console, payload, Need::Administer).await {
        Ok(submitted) => submitted,
        Err(answer) => return answer,
    };
    let enabled = match form.get("enabled") {
        Some("true") => true,
        Some("false") => false,
        _ => return refuse(StatusCode::BAD_REQUEST, Some(&session), "enabled: must be true or false"),
    };
    let Some(catalog) = state.rules.clone() else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "Rules are turned off on this server.");
    };
    let wanted = name.clone();
    // File I/O and compilation: off the async threads.
    let changed = web::block(move || catalog.set_enabled(&wanted, enabled)).await;
    match changed {
        Ok(Ok(Some(_))) => {}
        Ok(Ok(None)) => return refuse(StatusCode::NOT_FOUND, Some(&session), "No rule has this name."),
        Ok(Err(error)) => return refuse(StatusCode::BAD_REQUEST, Some(&session), &error.to_string()),
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "Changing the rule failed."),
    }
    let action = if enabled { "rule.enable" } else { "rule.disable" };
    if let Err(error) =
        crate::governance::record(&**state.statements.store(), &session.viewer.actor, action, &name, json!({})).await
    {
        tracing::error!(error = %error, "Recording a rule change in the audit log failed.");
    }
    see_other("/console/rules")
}

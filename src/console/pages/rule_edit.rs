//! Editing a rule (administrators): the file in a text area; saving installs it only if it
//! compiles, else the error is shown at its line; a dry run runs the text as it is (saved
//! or not) on the most recent stored statements with an in-memory host, so nothing is
//! delivered or recorded, and shows what the rule would have done with each.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::super::guard::{html, refuse, require, see_other, submitted};
use super::super::layout::{csrf_field, page};
use super::super::roles::Need;
use super::super::session::Session;
use super::super::Console;
use super::rules::{error_text, source_listing};
use crate::http::AppState;
use crate::rules::dry_run::{dry_run, DryRun, DryRunError};
use crate::rules::{RuleError, RuleFile};
use crate::service::rules::CatalogError;
use crate::storage::StatementQuery;

/// Recent statements a dry run uses.
const DRY_RUN_STATEMENTS: usize = 200;

pub async fn get_edit(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Administer) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let Some((_, source)) = state.rules.as_ref().and_then(|catalog| catalog.get(&name)) else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "No rule has this name.");
    };
    html(StatusCode::OK, edit_page(&session, &name, &source, None, None))
}

fn edit_page(session: &Session, name: &str, source: &str, error: Option<&RuleError>, run: Option<&DryRun>) -> Markup {
    let content = html! {
        @if let Some(error) = error {
            p.error role="alert" id="form-error" { "Not saved: " (error_text(error)) }
            (source_listing(source, error.line))
        }
        form.rule-edit method="post" action={"/console/rules/" (name) "/edit"} {
            (csrf_field(session))
            p {
                label for="source" { "Rule file" }
                textarea id="source" name="source" rows="24" spellcheck="false" { (source) }
            }
            p.actions {
                button type="submit" name="action" value="dry_run" { "Dry run on recent statements" }
                " "
                button type="submit" name="action" value="save" { "Save" }
            }
        }
        @if let Some(run) = run { (dry_run_table(run)) }
    };
    page(session, "/console/rules", &format!("Edit {name}"), content)
}

fn dry_run_table(run: &DryRun) -> Markup {
    let matched = run.steps.iter().filter(|s| s.matched).count();
    let intents: usize = run
        .steps
        .iter()
        .filter_map(|s| s.outcome.as_ref())
        .filter_map(|o| o.result.as_ref().ok())
        .map(|e| e.intents.len())
        .sum();
    html! {
        h2 id="dry-run" { "Dry run" }
        p role="status" { "On the " (run.steps.len()) " most recent statements: matched " (matched) ", would have made " (intents) " intents. Nothing was sent." }
        div.table-scroll tabindex="0" role="region" aria-label="Dry run results" { table {
            thead { tr { th scope="col" { "Statement" } th scope="col" { "Matched" } th scope="col" { "Result" } th scope="col" { "Intents" } } }
            tbody {
                @for step in run.steps.iter().filter(|s| s.matched || s.invalid.is_some()) {
                    tr {
                        td { code { (step.statement_id) } }
                        td { @if step.matched { "yes" } @else { "invalid: " (step.invalid.as_deref().unwrap_or("")) } }
                        td {
                            @match step.outcome.as_ref().map(|o| &o.result) {
                                Some(Ok(evaluated)) => (short(&evaluated.returned)),
                                Some(Err(error)) => span.error { (error_text(error)) },
                                None => "",
                            }
                        }
                        td {
                            @if let Some(Ok(evaluated)) = step.outcome.as_ref().map(|o| &o.result) {
                                @for intent in &evaluated.intents {
                                    code { (short(&json!(intent.intent))) } br;
                                }
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// JSON, cut to a readable length.
fn short(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match text.char_indices().nth(160) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

pub async fn post_edit(
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
    let Some(catalog) = state.rules.clone() else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "Rules are turned off on this server.");
    };
    let source = form.get("source").unwrap_or_default().replace("\r\n", "\n");
    let name = name.into_inner();
    match form.get("action") {
        Some("save") => {
            let (wanted, text) = (name.clone(), source.clone());
            match web::block(move || catalog.put(&wanted, &text)).await {
                Ok(Ok((view, _))) => {
                    let details = json!({"version": view.version, "created": false});
                    let store = state.statements.store();
                    if let Err(error) =
                        crate::governance::record(&**store, &session.viewer.actor, "rule.put", &name, details).await
                    {
                        tracing::error!(error = %error, "Recording a rule edit in the audit log failed.");
                    }
                    see_other(&format!("/console/rules/{name}"))
                }
                Ok(Err(CatalogError::Invalid(error))) => {
                    html(StatusCode::BAD_REQUEST, edit_page(&session, &name, &source, Some(&error), None))
                }
                Ok(Err(error)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), &error.to_string()),
                Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "Saving the rule failed."),
            }
        }
        Some("dry_run") => {
            let recent = match recent_statements(&state).await {
                Ok(recent) => recent,
                Err(answer) => return answer,
            };
            let file = format!("{name}.rhai");
            let settings = state.settings.rules.engine();
            let text = source.clone();
            let ran = web::block(move || {
                let rule = RuleFile::parse(&file, &text).map_err(DryRunError::Refused)?;
                dry_run(rule, settings, &[], &recent)
            })
            .await;
            match ran {
                Ok(Ok(run)) => html(StatusCode::OK, edit_page(&session, &name, &source, None, Some(&run))),
                Ok(Err(DryRunError::Refused(error))) => {
                    html(StatusCode::BAD_REQUEST, edit_page(&session, &name, &source, Some(&error), None))
                }
                Ok(Err(error)) => refuse(StatusCode::BAD_REQUEST, Some(&session), &error.to_string()),
                Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The dry run failed."),
            }
        }
        _ => refuse(StatusCode::BAD_REQUEST, Some(&session), "action: must be save or dry_run"),
    }
}

/// The most recent stored statements, oldest first (the order the runner saw them).
async fn recent_statements(state: &AppState) -> Result<Vec<Value>, HttpResponse> {
    let query = StatementQuery { ascending: false, limit: DRY_RUN_STATEMENTS, ..Default::default() };
    let page = state.statements.store().query_statements(&query).await.map_err(|error| {
        tracing::error!(error = %error, "Reading recent statements for a dry run failed.");
        refuse(StatusCode::INTERNAL_SERVER_ERROR, None, "The recent statements could not be read.")
    })?;
    Ok(page.statements.iter().rev().filter_map(|s| serde_json::from_str(&s.json).ok()).collect())
}

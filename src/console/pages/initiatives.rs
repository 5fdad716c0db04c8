//! Initiatives: a leader (for their teams) or an administrator (for any) launches a rule
//! from the console's template (`console::initiatives`), sees the initiatives of their
//! teams with how often each ran, and opens the impact form set to analyse one.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::json;

use super::super::guard::{html, refuse, require, see_other, submitted, Form};
use super::super::initiatives::{Initiative, Worse, MAX_REASON, PREFIX};
use super::super::layout::{count, csrf_field, page};
use super::super::roles::{Need, Viewer};
use super::super::session::Session;
use super::super::Console;
use crate::http::AppState;
use crate::service::rules::RuleView;

/// The team an initiative's rule was made for, from its description.
fn team_of(rule: &RuleView) -> Option<&str> {
    rule.description.strip_prefix("Initiative for ")?.split_once(": ").map(|(team, _)| team)
}

fn may_launch_for(viewer: &Viewer, team: &str) -> bool {
    viewer.admin || viewer.leads.contains(team)
}

pub async fn get_initiatives(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Curate) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    match initiatives_page(&session, &console, &state, &HashMap::new(), None).await {
        Ok(page) => html(StatusCode::OK, page),
        Err(answer) => answer,
    }
}

async fn initiatives_page(
    session: &Session,
    console: &Console,
    state: &AppState,
    values: &HashMap<String, String>,
    error: Option<&str>,
) -> Result<Markup, HttpResponse> {
    let viewer = &session.viewer;
    let teams = state.statements.store().teams().await.map_err(|error| {
        tracing::error!(error = %error, "Listing teams failed.");
        refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(session), "The teams could not be read.")
    })?;
    let teams: Vec<(String, String)> = teams
        .into_iter()
        .filter(|t| may_launch_for(viewer, &t.team))
        .map(|t| (t.team.clone(), format!("{} ({} members)", t.team, t.members)))
        .collect();
    let (kpis, activities) = console.activity.read(|figures| {
        let kpis: Vec<(String, String)> = figures
            .kpis
            .iter()
            .map(|(id, (name, _))| (id.clone(), name.clone().unwrap_or_else(|| id.clone())))
            .collect();
        let mut activities: Vec<_> =
            figures.activities.iter().filter(|(id, _)| !figures.kpis.contains_key(*id)).collect();
        activities.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
        let activities: Vec<(String, String)> = activities
            .into_iter()
            .take(200)
            .map(|(id, (name, _))| (id.clone(), name.clone().map_or_else(|| id.clone(), |n| format!("{n} ({id})"))))
            .collect();
        (kpis, activities)
    });
    let launched: Vec<RuleView> = state
        .rules
        .as_ref()
        .map(|catalog| catalog.list().rules)
        .unwrap_or_default()
        .into_iter()
        .filter(|rule| rule.name.starts_with(PREFIX))
        .filter(|rule| team_of(rule).is_some_and(|team| may_launch_for(viewer, team)))
        .collect();
    let worse = [("above", "above the threshold"), ("below", "below the threshold")]
        .map(|(v, t)| (v.to_string(), t.to_string()));
    let value = |name: &str| values.get(name).map(String::as_str).unwrap_or_default().to_string();
    Ok(page(
        session,
        "/console/initiatives",
        "Initiatives",
        html! {
            p { "Assign an activity to the members of a team whose KPI gets worse than a threshold (unless they took it in the last 30 days), then see whether it moved the KPI." }
            @if let Some(error) = error { p.error role="alert" id="form-error" { (error) } }
            @if teams.is_empty() {
                p.notice { "No team of yours is known yet (teams come from the people import)." }
            } @else {
                form.initiative method="post" action="/console/initiatives" {
                    (csrf_field(session))
                    (super::impact::select("team", "Team", &teams, values, false))
                    (super::impact::select("kpi", "KPI", &kpis, values, false))
                    (super::impact::select("worse", "Act when the KPI is", &worse, values, false))
                    p {
                        label for="threshold" { "Threshold" }
                        input id="threshold" name="threshold" type="number" step="any" required value=(value("threshold"));
                    }
                    (super::impact::select("activity", "Activity to assign", &activities, values, false))
                    p {
                        label for="reason" { "Reason shown to the person" }
                        input id="reason" name="reason" type="text" required maxlength=(MAX_REASON) value=(value("reason"));
                    }
                    p { button type="submit" { "Launch the initiative" } }
                }
            }
            h2 { "Launched" }
            @if launched.is_empty() {
                p { "None yet." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Initiative" } th scope="col" { "State" } th scope="col" { "Runs" } th scope="col" { "Impact" } } }
                    tbody {
                        @for rule in &launched {
                            tr {
                                th scope="row" { (rule.description) br; span.hint { (rule.name) } }
                                td { @if rule.enabled && !rule.health.disabled { "running" } @else { "stopped" } }
                                td.num { (count(rule.health.runs)) }
                                td { a href={"/console/impact?treated_rule=" (rule.name)} aria-label={"See the impact of " (rule.name)} { "See its impact" } }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn initiative(form: &Form, viewer: &Viewer, members: Vec<String>) -> Result<Initiative, String> {
    let team = form.get("team").ok_or("team: choose a team")?.to_string();
    let worse = match form.get("worse") {
        Some("above") => Worse::Above,
        Some("below") => Worse::Below,
        _ => return Err("worse: must be above or below".into()),
    };
    let threshold = form.get("threshold").and_then(|t| t.parse::<f64>().ok()).ok_or("threshold: must be a number")?;
    let made = Initiative {
        team,
        kpi: form.get("kpi").ok_or("kpi: choose a KPI")?.to_string(),
        worse,
        threshold,
        activity: form.get("activity").ok_or("activity: choose an activity")?.to_string(),
        reason: form.get("reason").unwrap_or_default().to_string(),
        members,
        launched_by: viewer.actor.clone(),
    };
    made.check()?;
    Ok(made)
}

pub async fn post_initiative(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    let (session, form) = match submitted(&request, &console, payload, Need::Curate).await {
        Ok(submitted) => submitted,
        Err(answer) => return answer,
    };
    let values: HashMap<String, String> =
        form.fields().filter(|(name, _)| *name != "csrf").map(|(n, v)| (n.to_string(), v.to_string())).collect();
    let again = |status: StatusCode, message: String| {
        let (session, console, state, values) = (session.clone(), console.clone(), state.clone(), values.clone());
        async move {
            match initiatives_page(&session, &console, &state, &values, Some(&message)).await {
                Ok(page) => html(status, page),
                Err(answer) => answer,
            }
        }
    };
    let team = form.get("team").unwrap_or_default().to_string();
    // The same refusal whether or not the team exists.
    if !may_launch_for(&session.viewer, &team) {
        return refuse(
            StatusCode::FORBIDDEN,
            Some(&session),
            "You may launch initiatives only for the teams you lead.",
        );
    }
    let Some(catalog) = state.rules.clone() else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "Rules are turned off on this server (rules.enabled).");
    };
    let members = match state.statements.store().people_in_team(&team).await {
        Ok(people) => people.into_iter().map(|p| p.person).collect(),
        Err(error) => {
            tracing::error!(error = %error, "Reading a team's members failed.");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The team could not be read.");
        }
    };
    let made = match initiative(&form, &session.viewer, members) {
        Ok(made) => made,
        Err(message) => return again(StatusCode::BAD_REQUEST, message).await,
    };
    let name = Initiative::rule_name();
    let (wanted, source) = (name.clone(), made.rule_source(&name));
    match web::block(move || catalog.put(&wanted, &source)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => return again(StatusCode::BAD_REQUEST, error.to_string()).await,
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "Launching failed."),
    }
    let details = json!({"team": made.team, "kpi": made.kpi, "threshold": made.threshold, "activity": made.activity,
        "members": made.members.len()});
    let store = state.statements.store();
    if let Err(error) =
        crate::governance::record(&**store, &session.viewer.actor, "initiative.launch", &name, details).await
    {
        tracing::error!(error = %error, "Recording an initiative in the audit log failed.");
    }
    see_other("/console/initiatives")
}

//! Talent search (who is strongest in a skill, across the organisation: administrators and
//! those who see every team) and skill demand (evidence per skill and month, with the
//! emerging skills: anyone who sees teams, as it names nobody).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;

use super::super::guard::{html, refuse, require};
use super::super::layout::page;
use super::super::roles::Need;
use super::super::Console;
use crate::http::AppState;
use crate::xapi::time::now_micros;

/// Candidates a search lists.
const CANDIDATES: usize = 20;
const MONTH_CHOICES: [usize; 4] = [12, 24, 36, 60];

#[derive(Deserialize)]
pub struct SearchQuery {
    skill: Option<String>,
}

pub async fn get_search(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    query: Result<web::Query<SearchQuery>, actix_web::Error>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Teams) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    if !(session.viewer.admin || session.viewer.all_teams) {
        return refuse(
            StatusCode::FORBIDDEN,
            Some(&session),
            "Talent search spans every team: it is for those who see them all.",
        );
    }
    let Some(skills) = &state.skills else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "Skills inference is turned off on this server.");
    };
    let framework = skills.framework();
    let wanted = query.ok().and_then(|q| q.skill.clone()).filter(|s| !s.is_empty());
    if let Some(skill) = wanted.as_ref().filter(|s| !framework.skills.contains_key(*s)) {
        return refuse(
            StatusCode::BAD_REQUEST,
            Some(&session),
            &format!("skill: {skill} is not a skill of the framework"),
        );
    }
    let candidates = wanted.as_ref().map(|skill| skills.search(skill, now_micros(), CANDIDATES)).unwrap_or_default();
    let name = |iri: &str| {
        framework.skills.get(iri).and_then(|s| s.display_name()).cloned().unwrap_or_else(|| iri.to_string())
    };
    let content = html! {
        form.search method="get" action="/console/skills/search" {
            p {
                label for="skill" { "Skill" }
                select id="skill" name="skill" required {
                    @for (iri, skill) in &framework.skills {
                        option value=(iri) selected[wanted.as_deref() == Some(iri.as_str())] { (skill.display_name().unwrap_or(iri)) }
                    }
                }
                " "
                button type="submit" { "Search" }
            }
        }
        @if let Some(skill) = &wanted {
            h2 { "Strongest in " (name(skill)) }
            @if candidates.is_empty() {
                p { "Nobody has evidence for this skill or a related one yet." }
            } @else {
                div.table-scroll tabindex="0" role="region" aria-label="Candidates" { table {
                    thead { tr { th scope="col" { "Person" } th scope="col" { "Level" } th scope="col" { "Evidence" } th scope="col" { "Through" } } }
                    tbody {
                        @for candidate in &candidates {
                            tr {
                                td { (candidate.person.trim_start_matches("mbox:mailto:")) }
                                td.num { (format!("{:.1}", candidate.estimate.level)) " (" (format!("{:.1}–{:.1}", candidate.estimate.level_low, candidate.estimate.level_high)) ")" }
                                td.num { (candidate.estimate.evidence) }
                                td { (candidate.path.iter().map(|step| name(&step.skill)).collect::<Vec<_>>().join(" → ")) }
                            }
                        }
                    }
                } }
            }
        }
    };
    html(StatusCode::OK, page(&session, "/console/skills", "Talent search", content))
}

#[derive(Deserialize)]
pub struct DemandQuery {
    months: Option<usize>,
}

pub async fn get_demand(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    query: Result<web::Query<DemandQuery>, actix_web::Error>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Teams) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let Some(skills) = &state.skills else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "Skills inference is turned off on this server.");
    };
    let months = query.ok().and_then(|q| q.months).unwrap_or(36);
    if !MONTH_CHOICES.contains(&months) {
        return refuse(StatusCode::BAD_REQUEST, Some(&session), "months: must be 12, 24, 36 or 60");
    }
    // Enabled rules that name a skill are a demand signal for it, as in the API.
    let rule_sources: Vec<String> = match &state.rules {
        Some(rules) => rules
            .list()
            .rules
            .iter()
            .filter(|r| r.enabled && !r.health.disabled)
            .filter_map(|r| rules.get(&r.name).map(|(_, source)| source))
            .collect(),
        None => Vec::new(),
    };
    let mut demand = match skills.demand(now_micros(), months as u32, &rule_sources).await {
        Ok(demand) => demand,
        Err(error) => {
            tracing::error!(error = %error, "Reading skill demand failed.");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "Skill demand could not be read.");
        }
    };
    demand.sort_by(|a, b| b.emerging.cmp(&a.emerging).then(b.trend_per_month.total_cmp(&a.trend_per_month)));
    let content = html! {
        form.months method="get" action="/console/skills/demand" {
            p {
                label for="months" { "Months of history" }
                select id="months" name="months" {
                    @for choice in MONTH_CHOICES { option value=(choice) selected[choice == months] { (choice) } }
                }
                " "
                button type="submit" { "Show" }
            }
        }
        @let emerging: Vec<_> = demand.iter().filter(|d| d.emerging).collect();
        h2 { "Emerging skills" }
        @if emerging.is_empty() {
            p { "None: no skill's evidence rose significantly (p < 0.05, by a quarter or more) over the window." }
        } @else {
            ul { @for skill in &emerging { li { (skill.name.as_deref().unwrap_or(&skill.skill)) } } }
        }
        h2 { "Evidence per skill" }
        div.table-scroll tabindex="0" role="region" aria-label="Evidence per skill" { table {
            thead { tr {
                th scope="col" { "Skill" } th scope="col" { "Evidence in the window" } th scope="col" { "Change per month" }
                th scope="col" { "Roles requiring it" } th scope="col" { "Rules asking for it" }
            } }
            tbody {
                @for skill in &demand {
                    tr {
                        th scope="row" { (skill.name.as_deref().unwrap_or(&skill.skill)) @if skill.emerging { " (emerging)" } }
                        td.num { (skill.months.iter().map(|(_, evidence, _)| evidence).sum::<u64>()) }
                        td.num { (format!("{:+.1}", skill.trend_per_month)) }
                        td.num { (skill.roles_requiring) }
                        td.num { (skill.rules_asking) }
                    }
                }
            }
        } }
    };
    html(StatusCode::OK, page(&session, "/console/skills", "Skill demand", content))
}

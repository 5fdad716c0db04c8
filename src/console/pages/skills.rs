//! Skills: the teams a viewer may see (all for administrators and analysts, their own for
//! a leader), and a team's heat map of skill levels with its members' gaps against their
//! roles. Groups smaller than `min_group_size` show as suppressed.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::super::guard::{html, refuse, require};
use super::super::layout::page;
use super::super::roles::Need;
use super::super::Console;
use crate::http::AppState;
use crate::xapi::time::now_micros;

/// Gaps listed on a team's page, largest first.
const MAX_GAPS: usize = 200;

pub async fn get_skills(request: HttpRequest, console: web::Data<Console>, state: web::Data<AppState>) -> HttpResponse {
    let session = match require(&request, &console, Need::Teams) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let teams = match state.statements.store().teams().await {
        Ok(teams) => teams,
        Err(error) => {
            tracing::error!(error = %error, "Listing teams failed.");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The teams could not be read.");
        }
    };
    let visible: Vec<_> = teams.iter().filter(|t| session.viewer.may_see_team(&t.team)).collect();
    let everyone = session.viewer.admin || session.viewer.all_teams;
    let content = html! {
        p {
            @if everyone { a href="/console/skills/search" { "Talent search" } " · " }
            a href="/console/skills/demand" { "Skill demand and emerging skills" }
        }
        @if visible.is_empty() {
            p { "No team of yours is known yet (teams come from the people import, see docs/skills.md)." }
        } @else {
            ul.teams {
                @for team in &visible {
                    li { a href={"/console/skills/teams/" (urlencode(&team.team))} { (team.team) } " · " (team.members) " members" }
                }
            }
        }
    };
    html(StatusCode::OK, page(&session, "/console/skills", "Skills", content))
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub async fn get_team(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    team: web::Path<String>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Teams) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    // The same answer whether or not the team exists: a leader learns nothing of others.
    if !session.viewer.may_see_team(&team) {
        return refuse(StatusCode::FORBIDDEN, Some(&session), "You may see only the teams you lead.");
    }
    let Some(skills) = &state.skills else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "Skills inference is turned off on this server.");
    };
    let map = match skills.team(&team, now_micros()).await {
        Ok(Some(map)) => map,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, Some(&session), "Nobody is in this team."),
        Err(error) => {
            tracing::error!(error = %error, "Reading a team's skills failed.");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The team's skills could not be read.");
        }
    };
    let framework = skills.framework();
    let skill_name = |iri: &str| {
        framework.skills.get(iri).and_then(|s| s.display_name()).cloned().unwrap_or_else(|| iri.to_string())
    };
    let role_name = |id: &str| {
        let role = framework.roles.get(id);
        role.and_then(|r| r.name.get("en").or_else(|| r.name.get("en-US")).or_else(|| r.name.values().next()))
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    let mut gaps = map.gaps.clone();
    gaps.sort_by(|a, b| b.gap.total_cmp(&a.gap));
    let content = html! {
        p { (map.members) " members." }
        table.heat {
            caption { "Skill levels (0 to 5): mean, and the middle half of the team" }
            thead { tr { th scope="col" { "Skill" } th scope="col" { "People with evidence" } th scope="col" { "Mean level" } th scope="col" { "Quartiles" } } }
            tbody {
                @for skill in &map.skills {
                    tr {
                        th scope="row" { (skill.name.as_deref().unwrap_or(&skill.skill)) }
                        td.num { (skill.people) }
                        @match skill.mean_level {
                            Some(level) => td class={"num level level-" (level.clamp(0.0, 5.0).floor() as u32)} { (format!("{level:.1}")) },
                            None => td.suppressed { "suppressed (too few people)" },
                        }
                        td { @if let Some([low, middle, high]) = skill.quartiles { (format!("{low:.1} · {middle:.1} · {high:.1}")) } }
                    }
                }
            }
        }
        h2 { "Gaps against roles" }
        @if gaps.is_empty() {
            p { "Nobody falls short of their role." }
        } @else {
            div.table-scroll tabindex="0" role="region" aria-label="Gaps against roles" { table {
                thead { tr { th scope="col" { "Person" } th scope="col" { "Role" } th scope="col" { "Skill" } th scope="col" { "Target" } th scope="col" { "Level" } } }
                tbody {
                    @for gap in gaps.iter().take(MAX_GAPS) {
                        tr {
                            td { (gap.person.trim_start_matches("mbox:mailto:")) }
                            td { (role_name(&gap.role)) } td { (skill_name(&gap.skill)) }
                            td.num { (format!("{:.1}", gap.target)) }
                            td.num { (gap.level.map_or("none".into(), |l| format!("{l:.1}"))) }
                        }
                    }
                }
            } }
        }
    };
    html(StatusCode::OK, page(&session, "/console/skills", &format!("Skills of {}", team.as_str()), content))
}

//! A self-contained HTML skills report (inline CSS and SVG, no script, no external asset):
//! a team × skill heat map of mean levels, the gaps against roles per team, and the top
//! emerging skills. Templates escape every text (maud). Teams smaller than the minimum group
//! size are not shown as cells: a cell of one or two people would describe individuals.
//! Called by `fluency skills report`.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::demand::SkillDemand;
use super::framework::{Framework, MAX_LEVEL};
use super::queries::TeamMap;

/// Fewest people with evidence a gap count may describe (cells follow the team map's own
/// suppression).
pub const MIN_GROUP: usize = super::queries::MIN_GROUP;
/// Skills shown as heat map columns, the most widely evidenced first.
const MAX_COLUMNS: usize = 24;
const CELL: f64 = 34.0;
const ROW_LABEL: f64 = 150.0;
const COLUMN_LABEL: f64 = 130.0;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:0;background:#fafafa}\
main{max-width:1100px;margin:0 auto;padding:24px;background:#fff}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:28px}\
table{border-collapse:collapse;font-size:.95em}th,td{text-align:left;padding:4px 10px;border-bottom:1px solid #ddd}\
td.num{text-align:right;font-variant-numeric:tabular-nums}svg{max-width:100%;height:auto;font-size:11px}.notes{color:#444;font-size:.9em}";

/// One team's map, as `SkillsService::team_map` answers it.
pub struct TeamSection {
    pub team: String,
    pub map: TeamMap,
}

pub fn render_report(title: &str, framework: &Framework, teams: &[TeamSection], demand: &[SkillDemand]) -> String {
    let columns = heat_map_columns(teams);
    let emerging: Vec<&SkillDemand> = demand.iter().filter(|d| d.emerging).take(10).collect();
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main {
                h1 { (title) }
                p.notes {
                    (teams.len()) " teams, " (framework.skills.len()) " skills in the framework. Levels run from 0 to "
                    (MAX_LEVEL) " (2.5 is the population average); a cell shows the mean level of the team's members with "
                    "evidence for the skill, and is left blank when fewer than " (MIN_GROUP) " of them have any."
                }
                h2 { "Levels by team and skill" }
                (heat_map(framework, teams, &columns))
                h2 { "Gaps against roles" }
                (gap_table(framework, teams))
                h2 { "Emerging skills" }
                @if emerging.is_empty() {
                    p { "No skill's evidence is rising significantly." }
                } @else {
                    table {
                        tr { th { "Skill" } th { "Evidence last month" } th { "Trend per month" } th { "In 12 months (95% interval)" } th { "Roles requiring it" } }
                        @for skill in &emerging {
                            tr {
                                td { (skill.name.clone().unwrap_or_else(|| skill.skill.clone())) }
                                td.num { (skill.months.last().map_or(0, |m| m.1)) }
                                td.num { (format!("{:+.1}", skill.trend_per_month)) }
                                td.num { @if let Some(f) = skill.forecasts.iter().find(|f| f.months_ahead == 12) {
                                    (format!("{:.0} ({:.0} to {:.0})", f.evidence, f.low, f.high))
                                } }
                                td.num { (skill.roles_requiring) }
                            }
                        }
                    }
                }
            } }
        }
    };
    page.into_string()
}

/// The skills most members (over all teams) have evidence for.
fn heat_map_columns(teams: &[TeamSection]) -> Vec<String> {
    let mut people: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for team in teams {
        for skill in &team.map.skills {
            *people.entry(skill.skill.as_str()).or_default() += skill.people;
        }
    }
    let mut ranked: Vec<(&str, usize)> = people.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ranked.into_iter().take(MAX_COLUMNS).map(|(skill, _)| skill.to_string()).collect()
}

fn skill_name(framework: &Framework, iri: &str) -> String {
    framework.skills.get(iri).and_then(|s| s.display_name()).cloned().unwrap_or_else(|| iri.to_string())
}

/// White (0) to dark blue (5), with the level written on cells dark enough for white text.
fn colour(level: f64) -> (String, &'static str) {
    let share = (level / MAX_LEVEL).clamp(0.0, 1.0);
    let mix = |light: f64, dark: f64| (light + (dark - light) * share).round() as u8;
    let fill = format!("#{:02x}{:02x}{:02x}", mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0));
    // Past this share white text has the better contrast (4.5:1 and more either way).
    (fill, if share > 0.68 { "#fff" } else { "#111" })
}

fn heat_map(framework: &Framework, teams: &[TeamSection], columns: &[String]) -> Markup {
    // Room on the right for the last column's slanted label.
    let width = ROW_LABEL + CELL * columns.len() as f64 + COLUMN_LABEL * 0.6;
    let height = COLUMN_LABEL + CELL * teams.len() as f64 + 10.0;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) role="img"
            aria-label="Mean level per team and skill" {
            @for (c, skill) in columns.iter().enumerate() {
                @let x = ROW_LABEL + CELL * (c as f64 + 0.5);
                text transform=(format!("translate({x},{}) rotate(-60)", COLUMN_LABEL - 6.0)) { (skill_name(framework, skill)) }
            }
            @for (r, team) in teams.iter().enumerate() {
                @let y = COLUMN_LABEL + CELL * r as f64;
                text x=(ROW_LABEL - 8.0) y=(y + CELL * 0.6) text-anchor="end" { (team.team) }
                @for (c, skill) in columns.iter().enumerate() {
                    @let x = ROW_LABEL + CELL * c as f64;
                    @let cell = team.map.skills.iter().find(|s| &s.skill == skill);
                    @if let Some((cell, mean_level)) = cell.and_then(|c| Some((c, c.mean_level?))) {
                        @let (fill, ink) = colour(mean_level);
                        rect x=(x) y=(y) width=(CELL - 2.0) height=(CELL - 2.0) fill=(fill) {
                            title { (format!("{}: {}, mean level {:.1} over {} people", team.team, skill_name(framework, skill), mean_level, cell.people)) }
                        }
                        text x=(x + CELL / 2.0 - 1.0) y=(y + CELL * 0.6) text-anchor="middle" fill=(ink) { (format!("{:.1}", mean_level)) }
                    } @else {
                        rect x=(x) y=(y) width=(CELL - 2.0) height=(CELL - 2.0) fill="#f0f0f0" {}
                    }
                }
            }
        }
    }
}

fn gap_table(framework: &Framework, teams: &[TeamSection]) -> Markup {
    // (team, role, skill) -> members below target
    let mut rows: std::collections::BTreeMap<(&str, &str, &str), (usize, f64)> = std::collections::BTreeMap::new();
    for team in teams {
        for gap in &team.map.gaps {
            let entry = rows.entry((team.team.as_str(), gap.role.as_str(), gap.skill.as_str())).or_default();
            entry.0 += 1;
            entry.1 += gap.gap;
        }
    }
    let shown: Vec<_> = rows.into_iter().filter(|(_, (count, _))| *count >= MIN_GROUP).collect();
    html! {
        @if shown.is_empty() {
            p { "No gap shared by " (MIN_GROUP) " or more members of a team." }
        } @else {
            table {
                tr { th { "Team" } th { "Role" } th { "Skill" } th { "Members below target" } th { "Mean shortfall" } }
                @for ((team, role, skill), (count, total)) in &shown {
                    tr {
                        td { (team) }
                        td { (framework.roles.get(*role).and_then(|r| r.name.get("en")).cloned().unwrap_or_else(|| role.to_string())) }
                        td { (skill_name(framework, skill)) }
                        td.num { (count) }
                        td.num { (format!("{:.1}", total / *count as f64)) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::native::read_native;
    use crate::skills::queries::{Gap, SkillDistribution};

    fn framework() -> Framework {
        let text = "[[skill]]\niri = \"https://s.example/sql\"\nname = { en = \"SQL <script>\" }\n[[skill]]\niri = \"https://s.example/tact\"\nname = { en = \"Tact\" }\n[[role]]\nid = \"https://r.example/agent\"\nname = { en = \"Agent\" }\nrequires = [{ skill = \"https://s.example/sql\", level = 3 }]\n";
        Framework::build(read_native("t.toml", text).unwrap()).unwrap()
    }

    fn section(team: &str, people: usize, gaps: usize) -> TeamSection {
        let skills = vec![SkillDistribution {
            skill: "https://s.example/sql".into(),
            name: None,
            people,
            mean_level: (people >= MIN_GROUP).then_some(3.2),
            quartiles: (people >= MIN_GROUP).then_some([2.0, 3.0, 4.0]),
            suppressed: people < MIN_GROUP,
        }];
        let gaps = (0..gaps)
            .map(|i| Gap {
                person: format!("p{i}"),
                role: "https://r.example/agent".into(),
                skill: "https://s.example/sql".into(),
                target: 3.0,
                level: Some(2.0),
                gap: 1.0,
            })
            .collect();
        TeamSection { team: team.into(), map: TeamMap { at: 0, members: people, skills, gaps } }
    }

    #[test]
    fn the_report_escapes_text_and_hides_groups_smaller_than_the_minimum() {
        let html = render_report("Skills & gaps", &framework(), &[section("Tier 1", 8, 6), section("Tiny", 2, 2)], &[]);

        assert!(html.contains("Skills &amp; gaps") && html.contains("SQL &lt;script&gt;"), "escaped");
        assert!(!html.contains("<script>"));
        assert!(html.contains("Tier 1: SQL &lt;script&gt;, mean level 3.2 over 8 people"));
        assert!(!html.contains("over 2 people"), "a cell of two people is not shown");
        assert!(html.contains("<td class=\"num\">6</td>"), "six members of Tier 1 below target");
        assert!(!html.contains("<td>Tiny</td>"), "two people's gaps are not listed");
        assert!(html.contains("No skill"), "no emerging skill");
    }
}

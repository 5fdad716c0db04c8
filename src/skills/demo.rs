//! The helpdesk demo's skills: a small customer-service framework (with two roles), and a
//! year of seeded evidence for the demo's agents: monthly quizzes of ten questions and
//! resolved tickets (work evidence, some attested by a team lead), each sent with the
//! agent's team as `context.team`. Each team is stronger in some skills than others. Agents who completed the de-escalation course are
//! better at de-escalation afterwards, and troubleshooting network issues is asked of more
//! people month after month (an emerging skill). Used by `fluency demo load`.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use super::evidence::{ATTESTED_BY_EXTENSION, VERB_PERFORMED};
use super::model::sigmoid;
use crate::kpi::demo::{normal, DemoData};

pub const DEMO_FRAMEWORK_FILE: &str = "helpdesk.toml";
const SKILLS: &str = "https://helpdesk.example.com/skills/";
/// (skill, name, quiz course)
const DEMO_SKILLS: [(&str, &str, &str); 5] = [
    ("de-escalation", "De-escalation", "https://lms.example.com/courses/de-escalation-check"),
    ("product-knowledge", "Product knowledge", "https://lms.example.com/courses/product-quiz"),
    ("ticket-writing", "Ticket writing", "https://lms.example.com/courses/ticket-writing-quiz"),
    ("troubleshooting", "Troubleshooting", "https://lms.example.com/courses/troubleshooting-lab"),
    ("network-troubleshooting", "Network troubleshooting", "https://lms.example.com/courses/network-lab"),
];
const MONTHS: i64 = 12;
/// Keeps the skills' random draws apart from the KPI demo's, which use the same seed.
const SKILLS_SEED_SALT: u64 = 0x5c11_5eed;

/// The framework file the demo installs.
pub fn demo_framework() -> String {
    let mut text = String::from(
        "# The helpdesk demo's skills (fluency demo load).\n\n[[skill]]\niri = \"https://helpdesk.example.com/skills/customer-service\"\nname = { en = \"Customer service\" }\n",
    );
    for (skill, name, course) in DEMO_SKILLS {
        let broader = match skill {
            "network-troubleshooting" => "troubleshooting",
            _ => "customer-service",
        };
        text.push_str(&format!(
            "\n[[skill]]\niri = \"{SKILLS}{skill}\"\nname = {{ en = \"{name}\" }}\nbroader = [\"{SKILLS}{broader}\"]\n\n[[mapping]]\nactivity_prefix = \"{course}\"\nskills = [{{ skill = \"{SKILLS}{skill}\" }}]\n"
        ));
    }
    text.push_str(&format!(
        "\n[[mapping]]\nverb = \"{VERB_PERFORMED}\"\nactivity_type = \"https://helpdesk.example.com/types/ticket\"\nskills = [{{ skill = \"{SKILLS}troubleshooting\" }}]\n\n\
         [[role]]\nid = \"https://helpdesk.example.com/roles/tier-1\"\nname = {{ en = \"Tier 1 agent\" }}\n\
         requires = [{{ skill = \"{SKILLS}de-escalation\", level = 3 }}, {{ skill = \"{SKILLS}product-knowledge\", level = 3 }}, {{ skill = \"{SKILLS}ticket-writing\", level = 2.5 }}]\n\n\
         [[role]]\nid = \"https://helpdesk.example.com/roles/tier-2\"\nname = {{ en = \"Tier 2 agent\" }}\n\
         requires = [{{ skill = \"{SKILLS}troubleshooting\", level = 3.5 }}, {{ skill = \"{SKILLS}network-troubleshooting\", level = 3 }}]\n"
    ));
    text
}

/// The evidence statements for the demo's agents, in time order, ending at `end`.
pub fn demo_skill_statements(data: &DemoData, seed: u64, end: DateTime<Utc>) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed ^ SKILLS_SEED_SALT);
    // Teams differ: each is stronger or weaker in each skill, so the heat map has a shape.
    let team_strengths: Vec<Vec<f64>> =
        (0..6).map(|_| DEMO_SKILLS.iter().map(|_| normal(&mut rng, 0.0, 0.9)).collect()).collect();
    let mut statements = Vec::new();
    for (index, person) in data.truth.agents.iter().enumerate() {
        let mbox = person.strip_prefix("mbox:").unwrap_or(person).to_string();
        let actor = json!({"objectType": "Agent", "name": format!("Agent {:03}", index + 1), "mbox": mbox});
        let team_number = index % 6 + 1;
        let team = json!({"objectType": "Group", "name": format!("Team {team_number}"),
            "account": {"homePage": "https://helpdesk.example.com/teams", "name": format!("team-{team_number}")}});
        let abilities: Vec<f64> =
            team_strengths[team_number - 1].iter().map(|strength| strength + normal(&mut rng, 0.0, 0.8)).collect();
        let trained = data.truth.completions.get(person);
        for month in 0..MONTHS {
            let month_start = end - Duration::days(30 * (MONTHS - month));
            for (s, (skill, _, course)) in DEMO_SKILLS.iter().enumerate() {
                // Network work grows: a few people at first, most of them by the end.
                let share =
                    if *skill == "network-troubleshooting" { 0.1 + 0.8 * month as f64 / MONTHS as f64 } else { 0.7 };
                if !rng.gen_bool(share) {
                    continue;
                }
                let at = month_start + Duration::minutes(rng.gen_range(0..30 * 24 * 60));
                let boost = match (*skill, trained) {
                    ("de-escalation", Some(done)) if at > *done => 1.0,
                    _ => 0.0,
                };
                let chance = sigmoid(abilities[s] + boost);
                let id = Uuid::from_u128(
                    ((seed as u128) << 96) | ((index as u128) << 32) | ((month as u128) << 8) | s as u128,
                );
                let right = (0..10).filter(|_| rng.gen_bool(chance)).count();
                let verb = if right >= 7 { "passed" } else { "failed" };
                statements.push(json!({
                    "id": id.to_string(),
                    "actor": actor,
                    "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}"), "display": {"en": verb}},
                    "object": {"id": format!("{course}/{}", month % 3 + 1), "definition": {"name": {"en": format!("{} check", DEMO_SKILLS[s].1)}}},
                    "result": {"success": right >= 7, "score": {"raw": right, "min": 0, "max": 10}},
                    "context": {"team": team},
                    "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                }));
                if *skill == "troubleshooting" && rng.gen_bool(0.5) {
                    let resolved = rng.gen_bool(sigmoid(abilities[s] - 0.5));
                    let mut ticket = json!({
                        "id": Uuid::from_u128(u128::from_be_bytes(*id.as_bytes()) | 1 << 16).to_string(),
                        "actor": actor,
                        "verb": {"id": VERB_PERFORMED, "display": {"en": "resolved"}},
                        "object": {"id": format!("https://helpdesk.example.com/tickets/{}-{month}", index + 1),
                            "definition": {"type": "https://helpdesk.example.com/types/ticket"}},
                        "result": {"success": resolved},
                        "context": {"team": team},
                        "timestamp": (at + Duration::hours(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    });
                    if rng.gen_bool(0.3) {
                        ticket["context"]["extensions"] = json!({ATTESTED_BY_EXTENSION: {"mbox": format!("mailto:lead{team_number}@helpdesk.example.com")}});
                    }
                    statements.push(ticket);
                }
            }
        }
    }
    statements.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    statements
}

/// Every agent's role: one in three is a Tier 2 agent.
pub fn demo_role(index: usize) -> &'static str {
    if index % 3 == 2 {
        "https://helpdesk.example.com/roles/tier-2"
    } else {
        "https://helpdesk.example.com/roles/tier-1"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::demo::{generate_demo, DemoSpec};
    use crate::skills::native::read_native;
    use crate::skills::Framework;

    #[test]
    fn the_demo_framework_checks_and_every_statement_is_evidence_of_one_of_its_skills() {
        let framework = Framework::build(read_native(DEMO_FRAMEWORK_FILE, &demo_framework()).unwrap()).unwrap();
        let data = generate_demo(&DemoSpec { agents: 12, ..DemoSpec::default() });
        let end: DateTime<Utc> = "2024-07-01T00:00:00Z".parse().unwrap();

        let statements = demo_skill_statements(&data, 42, end);

        assert_eq!(framework.roles.len(), 2);
        assert!(statements.len() > 12 * 30, "{}", statements.len());
        for statement in &statements {
            let evidence = crate::skills::evidence::extract(&framework, statement, i64::MAX);
            assert!(!evidence.is_empty(), "not evidence: {statement}");
        }
        assert_eq!(statements, demo_skill_statements(&data, 42, end), "seeded");
        let ids: std::collections::BTreeSet<&str> = statements.iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), statements.len(), "every id once");
    }
}

//! Initiatives: a rule made from a template and a leader's parameters, so a leader can act
//! on their own team without writing Rhai. The one template: "when a team member's KPI is
//! worse than a threshold, assign them an activity (unless they took it in the last 30
//! days)". The rule holds the team's members at launch (at most `MAX_MEMBERS`), is named
//! `initiative-<id>`, and records its assignments as interventions, so its impact can be
//! analysed later with the rule as the treatment. Every parameter reaches the rule as a
//! string or number literal written here with every character outside a small safe set
//! escaped, so no parameter can add code.

use std::fmt::Write as _;

use crate::auth::secret::random_token;
use crate::kpi::profile::VERB_MEASURED;

/// Largest team an initiative holds (the sandbox's array limit is above it).
pub const MAX_MEMBERS: usize = 1000;
/// Longest reason shown to the person.
pub const MAX_REASON: usize = 200;
/// Rules made from the template are named with this prefix.
pub const PREFIX: &str = "initiative-";
const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";

/// Which side of the threshold is worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worse {
    Above,
    Below,
}

/// The parameters of an initiative, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Initiative {
    pub team: String,
    pub kpi: String,
    pub worse: Worse,
    pub threshold: f64,
    pub activity: String,
    pub reason: String,
    /// IFI keys of the team's members at launch.
    pub members: Vec<String>,
    /// Who launched it (the audit actor), for the rule's description.
    pub launched_by: String,
}

impl Initiative {
    /// Checks what the form cannot: sizes, a finite threshold, IRIs.
    pub fn check(&self) -> Result<(), String> {
        if !self.threshold.is_finite() {
            return Err("threshold: must be a number".into());
        }
        if self.reason.trim().is_empty() || self.reason.chars().count() > MAX_REASON {
            return Err(format!("reason: 1 to {MAX_REASON} characters, shown to the person"));
        }
        if !crate::validation::datatypes::is_iri(&self.activity) {
            return Err("activity: must be an activity IRI".into());
        }
        if self.members.is_empty() {
            return Err("team: nobody is in this team".into());
        }
        if self.members.len() > MAX_MEMBERS {
            return Err(format!(
                "team: an initiative covers at most {MAX_MEMBERS} people; this team has {}",
                self.members.len()
            ));
        }
        Ok(())
    }

    /// A fresh rule name.
    pub fn rule_name() -> String {
        format!("{PREFIX}{}", random_token(10).to_ascii_lowercase())
    }

    /// The rule file.
    pub fn rule_source(&self, name: &str) -> String {
        let comparison = match self.worse {
            Worse::Above => "<=",
            Worse::Below => ">=",
        };
        let side = match self.worse {
            Worse::Above => "above",
            Worse::Below => "below",
        };
        let description =
            format!("Initiative for {}: assign an activity when the KPI is {side} {}", self.team, self.threshold);
        let mut source = String::new();
        let _ = writeln!(source, "//! name = {}", toml_string(name));
        let _ = writeln!(source, "//! description = {}", toml_string(&description));
        let _ = writeln!(source, "//! [trigger]");
        let _ = writeln!(source, "//! verbs = [{}]", toml_string(VERB_MEASURED));
        let _ = writeln!(source, "//! activities = [{}]", toml_string(&self.kpi));
        let _ = writeln!(
            source,
            "\n// Made from the console's initiative template by {}.",
            rhai_comment(&self.launched_by)
        );
        let _ = writeln!(source, "// The members of {} at launch:", rhai_comment(&self.team));
        source.push_str("const MEMBERS = [\n");
        for member in &self.members {
            let _ = writeln!(source, "    {},", rhai_string(member));
        }
        source.push_str("];\n");
        let _ = writeln!(source, "const THRESHOLD = {:?};", self.threshold);
        let _ = writeln!(source, "const ACTIVITY = {};", rhai_string(&self.activity));
        let _ = writeln!(source, "const REASON = {};", rhai_string(&self.reason));
        let _ = writeln!(source, "const COMPLETED = {};", rhai_string(COMPLETED));
        let _ = write!(
            source,
            r#"
let who = actor_id(statement);
if who == () || !MEMBERS.contains(who) {{
    return "not in the team";
}}
let value = score(statement);
if value == () || value {comparison} THRESHOLD {{
    return "on target";
}}
if history_count(#{{ actor: who, verb: COMPLETED, activity: ACTIVITY, days: 30 }}) > 0 {{
    return "took it recently";
}}
assign(statement.actor, ACTIVITY, REASON);
"assigned"
"#
        );
        source
    }
}

/// Characters written as they are in literals; every other is escaped.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || " .:/@_-+|#?&=%,;!~*()'".contains(c)
}

/// A Rhai string literal of `text`.
fn rhai_string(text: &str) -> String {
    let mut literal = String::from("\"");
    for c in text.chars() {
        if is_plain(c) {
            literal.push(c);
        } else {
            let _ = write!(literal, "\\U{:08x}", c as u32);
        }
    }
    literal.push('"');
    literal
}

/// A TOML basic string of `text`.
fn toml_string(text: &str) -> String {
    let mut literal = String::from("\"");
    for c in text.chars() {
        if is_plain(c) {
            literal.push(c);
        } else {
            let _ = write!(literal, "\\U{:08X}", c as u32);
        }
    }
    literal.push('"');
    literal
}

/// Text safe inside a `//` comment: one line, plain characters only.
fn rhai_comment(text: &str) -> String {
    text.chars().map(|c| if is_plain(c) { c } else { '?' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::dry_run::dry_run;
    use crate::rules::{RuleFile, RulesSettings};
    use serde_json::{json, Value};

    const KPI: &str = "https://helpdesk.example.com/kpi/average-handling-time";
    const COURSE: &str = "https://lms.example.com/courses/de-escalation";

    fn initiative(reason: &str, members: &[&str]) -> Initiative {
        Initiative {
            team: "Team \"1\"".into(),
            kpi: KPI.into(),
            worse: Worse::Above,
            threshold: 400.0,
            activity: COURSE.into(),
            reason: reason.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            launched_by: "console:oidc:lee\nassign(".into(),
        }
    }

    fn observation(mbox: &str, value: f64) -> Value {
        json!({"actor": {"mbox": mbox}, "verb": {"id": VERB_MEASURED}, "object": {"id": KPI},
            "result": {"score": {"raw": value}}, "timestamp": "2024-06-01T10:00:00Z"})
    }

    #[test]
    fn the_rule_assigns_the_activity_to_members_whose_kpi_is_worse_than_the_threshold() {
        let made = initiative("Handling time above 400 s", &["mbox:mailto:a@example.com"]);
        let name = Initiative::rule_name();
        let rule = RuleFile::parse("x.rhai", &made.rule_source(&name)).unwrap();

        let run = dry_run(
            rule,
            RulesSettings::default(),
            &[],
            &[
                observation("mailto:a@example.com", 450.0),
                observation("mailto:a@example.com", 350.0),
                observation("mailto:b@example.com", 450.0),
            ],
        )
        .unwrap();

        let returned: Vec<Value> =
            run.steps.iter().map(|s| s.outcome.as_ref().unwrap().result.as_ref().unwrap().returned.clone()).collect();
        assert_eq!(returned, [json!("assigned"), json!("on target"), json!("not in the team")]);
        let intents = &run.steps[0].outcome.as_ref().unwrap().result.as_ref().unwrap().intents;
        let intent = serde_json::to_value(&intents[0].intent).unwrap();
        assert_eq!(intent["activity"], COURSE);
        assert_eq!(intent["reason"], "Handling time above 400 s");
    }

    #[test]
    fn hostile_parameters_stay_inside_their_literals() {
        let hostile = "\"; assign(statement.actor, \"http://evil.example\", \"x\"); //\n\\u{22}";
        let made = initiative(hostile, &["mbox:mailto:a@example.com\"];evil();["]);
        let source = made.rule_source("initiative-x");
        let rule = RuleFile::parse("x.rhai", &source).unwrap();

        let run = dry_run(rule, RulesSettings::default(), &[], &[observation("mailto:a@example.com", 450.0)]).unwrap();

        assert!(source.contains(r"a@example.com\U00000022\U0000005d;evil();\U0000005b"), "escaped: {source}");
        let outcome = run.steps[0].outcome.as_ref().unwrap().result.as_ref().unwrap();
        assert_eq!(outcome.returned, json!("not in the team"), "the odd member is one string, not code");
        assert!(source.lines().filter(|l| l.starts_with("//")).all(|l| !l.contains('\n')));
    }

    #[test]
    fn bad_parameters_are_refused_naming_the_field() {
        let cases = [
            ("no reason", initiative(" ", &["m"]), "reason"),
            ("a long reason", initiative(&"x".repeat(MAX_REASON + 1), &["m"]), "reason"),
            ("an empty team", initiative("r", &[]), "team"),
            ("not a number", Initiative { threshold: f64::NAN, ..initiative("r", &["m"]) }, "threshold"),
            ("not an IRI", Initiative { activity: "course".into(), ..initiative("r", &["m"]) }, "activity"),
        ];
        for (description, initiative, field) in cases {
            let error = initiative.check().unwrap_err();
            assert!(error.starts_with(field), "{description}: {error}");
        }
        let many: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("m{i}")).collect();
        let big = Initiative { members: many, ..initiative("r", &[]) };
        assert!(big.check().unwrap_err().contains("at most"));
    }
}

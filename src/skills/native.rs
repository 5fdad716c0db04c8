//! Fluency's own framework file (`*.toml` in `<data_dir>/skills/`): `[[skill]]`, `[[role]]`
//! and `[[mapping]]` tables and an optional framework-wide `half_life_days`. Unknown keys
//! are refused; every entry keeps its line for later errors. docs/skills.md shows the
//! format.

use serde::Deserialize;
use toml::Spanned;

use super::framework::{
    FrameworkError, FrameworkParts, LanguageMap, Mapping, Origin, Requirement, Role, Skill, Weighted,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeFile {
    half_life_days: Option<Spanned<Number>>,
    #[serde(default)]
    skill: Vec<Spanned<NativeSkill>>,
    #[serde(default)]
    role: Vec<Spanned<NativeRole>>,
    #[serde(default)]
    mapping: Vec<Spanned<NativeMapping>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeSkill {
    iri: String,
    #[serde(default)]
    name: LanguageMap,
    #[serde(default)]
    description: LanguageMap,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    broader: Vec<String>,
    #[serde(default)]
    narrower: Vec<String>,
    #[serde(default)]
    related: Vec<String>,
    half_life_days: Option<Number>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeRole {
    id: String,
    #[serde(default)]
    name: LanguageMap,
    #[serde(default)]
    requires: Vec<NativeRequirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeRequirement {
    skill: String,
    level: Number,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeMapping {
    activity_prefix: Option<String>,
    activity_type: Option<String>,
    verb: Option<String>,
    skills: Vec<NativeWeighted>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeWeighted {
    skill: String,
    #[serde(default = "full_weight")]
    weight: Number,
}

fn full_weight() -> Number {
    Number::Float(1.0)
}

/// TOML keeps integers and floats apart; levels and weights may be written as either.
#[derive(Clone, Copy, Deserialize)]
#[serde(untagged)]
enum Number {
    Integer(i64),
    Float(f64),
}

impl Number {
    fn value(self) -> f64 {
        match self {
            Number::Integer(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// Reads one file; `file` names it in errors.
pub fn read_native(file: &str, text: &str) -> Result<FrameworkParts, FrameworkError> {
    let parsed: NativeFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |span| line_of(text, span.start));
        FrameworkError::new(&Origin { file: file.into(), line }, e.message().to_string())
    })?;
    let origin = |start: usize| Origin { file: file.to_string(), line: line_of(text, start) };
    let mut parts = FrameworkParts {
        half_life_days: parsed.half_life_days.map(|days| (days.get_ref().value(), origin(days.span().start))),
        ..Default::default()
    };
    for entry in parsed.skill {
        let at = origin(entry.span().start);
        let native = entry.into_inner();
        for narrower in native.narrower {
            parts.narrower_links.push((native.iri.clone(), narrower, at.clone()));
        }
        let mut skill = Skill::new(native.iri, at);
        skill.name = native.name;
        skill.description = native.description;
        skill.aliases = native.aliases;
        skill.broader = native.broader;
        skill.related = native.related;
        skill.half_life_days = native.half_life_days.map(Number::value);
        parts.skills.push(skill);
    }
    for entry in parsed.role {
        let at = origin(entry.span().start);
        let native = entry.into_inner();
        let requires =
            native.requires.into_iter().map(|r| Requirement { skill: r.skill, level: r.level.value() }).collect();
        parts.roles.push(Role { id: native.id, name: native.name, requires, origin: at });
    }
    for entry in parsed.mapping {
        let at = origin(entry.span().start);
        let native = entry.into_inner();
        let skills = native.skills.into_iter().map(|w| Weighted { skill: w.skill, weight: w.weight.value() }).collect();
        parts.mappings.push(Mapping {
            activity_prefix: native.activity_prefix,
            activity_type: native.activity_type,
            verb: native.verb,
            skills,
            origin: at,
        });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::Framework;

    const FILE: &str = r#"
half_life_days = 600

[[skill]]
iri = "https://skills.example.com/data"
name = { en = "Data" }

[[skill]]
iri = "https://skills.example.com/sql"
name = { en = "SQL", de = "SQL" }
aliases = ["Structured Query Language"]
broader = ["https://skills.example.com/data"]
half_life_days = 365

[[role]]
id = "https://roles.example.com/analyst"
name = { en = "Analyst" }
requires = [{ skill = "https://skills.example.com/sql", level = 3 }]

[[mapping]]
activity_prefix = "https://lms.example.com/courses/sql-"
skills = [{ skill = "https://skills.example.com/sql", weight = 0.8 }]
"#;

    #[test]
    fn a_native_file_gives_skills_roles_and_mappings_with_their_lines() {
        let parts = read_native("core.toml", FILE).unwrap();
        let framework = Framework::build(parts).unwrap();

        let sql = &framework.skills["https://skills.example.com/sql"];
        assert_eq!(sql.origin, Origin { file: "core.toml".into(), line: 8 });
        assert_eq!(sql.name["de"], "SQL");
        assert_eq!(framework.half_life_days(&sql.iri), 365.0);
        assert_eq!(framework.half_life_days("https://skills.example.com/data"), 600.0);
        assert_eq!(framework.roles["https://roles.example.com/analyst"].requires[0].level, 3.0);
        assert_eq!(framework.mappings[0].skills[0].weight, 0.8);
        assert_eq!(framework.mappings[0].origin.line, 20);
    }

    #[test]
    fn malformed_files_are_refused_with_file_and_line() {
        for (what, text, expected) in [
            ("an unknown key", "[[skill]]\niri = \"https://s.example/a\"\nlabel = \"x\"\n", "core.toml:3: unknown field `label`"),
            ("a syntax error", "[[skill]]\niri = \n", "core.toml:2:"),
            ("a missing iri", "[[skill]]\nname = { en = \"A\" }\n", "missing field `iri`"),
            ("a weight past 1", "[[skill]]\niri = \"https://s.example/a\"\n[[mapping]]\nverb = \"http://v.example/x\"\nskills = [{ skill = \"https://s.example/a\", weight = 2 }]\n", "core.toml:3: weight: 2 for https://s.example/a must be above 0 and at most 1"),
        ] {
            let error = read_native("core.toml", text).and_then(Framework::build).expect_err(what).to_string();
            assert!(error.contains(expected), "{what}: {error}");
        }
    }
}

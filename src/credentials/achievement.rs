//! Achievement definitions: what a credential certifies, as an administrator writes it (one
//! JSON file under `<data_dir>/achievements/`, or `PUT /api/badges/achievements/{id}`), with
//! the Open Badges 3.0 Achievement fields, alignments to skills of the framework and
//! stacking requirements (other achievements, all or n of them, and skill levels). Checked
//! when read; `to_ob3` gives the Achievement as credentials embed it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::skills::Framework;

/// The OB 3.0 `achievementType` vocabulary (an `ext:` prefix allows others).
const ACHIEVEMENT_TYPES: [&str; 22] = [
    "Achievement",
    "ApprenticeshipCertificate",
    "Assessment",
    "Assignment",
    "AssociateDegree",
    "Award",
    "Badge",
    "BachelorDegree",
    "Certificate",
    "CertificateOfCompletion",
    "Certification",
    "CommunityService",
    "Competency",
    "Course",
    "CoCurricular",
    "Degree",
    "Diploma",
    "DoctoralDegree",
    "Fieldwork",
    "GeneralEducationDevelopment",
    "JourneymanCertificate",
    "LearningProgram",
];
const MORE_ACHIEVEMENT_TYPES: [&str; 9] = [
    "License",
    "Membership",
    "ProfessionalDoctorate",
    "QualityAssuranceCredential",
    "MasterCertificate",
    "MasterDegree",
    "MicroCredential",
    "ResearchDoctorate",
    "SecondarySchoolDiploma",
];

/// One achievement, as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Achievement {
    /// Lowercase letters, digits, `-` and `_`; names the file and the public URL.
    pub id: String,
    pub name: String,
    pub description: String,
    /// `criteria.narrative`: what a person did to earn it.
    pub criteria: String,
    /// An image URL (https, or a `data:image/…` URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default = "default_type")]
    pub achievement_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Skill IRIs of the framework this achievement is aligned to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alignments: Vec<String>,
    #[serde(default, skip_serializing_if = "Requirements::is_empty")]
    pub requires: Requirements,
    /// May a person hold it more than once (one credential per award)?
    #[serde(default)]
    pub repeatable: bool,
    /// Credentials expire this many days after issue (`validUntil`); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for_days: Option<u32>,
}

fn default_type() -> String {
    "Badge".into()
}

/// What earns the achievement automatically; empty means it is only ever awarded on request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// Other achievements' ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub achievements: Vec<String>,
    /// How many of `achievements` are needed; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<SkillRequirement>,
}

impl Requirements {
    pub fn is_empty(&self) -> bool {
        self.achievements.is_empty() && self.skills.is_empty()
    }

    /// How many of `achievements` must be held.
    pub fn achievements_needed(&self) -> usize {
        self.at_least.unwrap_or(self.achievements.len())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillRequirement {
    pub skill: String,
    /// A whole level, 1 to 5: met when the person's level reaches it.
    pub level: u8,
}

/// A refused definition: which file or id, and which rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct AchievementError {
    pub source_name: String,
    pub message: String,
}

impl AchievementError {
    pub fn new(source_name: &str, message: impl Into<String>) -> Self {
        Self { source_name: source_name.to_string(), message: message.into() }
    }
}

pub fn is_achievement_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Reads one definition and checks it alone (`check_set` checks references across files).
pub fn parse_achievement(source_name: &str, text: &str) -> Result<Achievement, AchievementError> {
    let achievement: Achievement =
        serde_json::from_str(text).map_err(|error| AchievementError::new(source_name, error.to_string()))?;
    achievement.check().map_err(|message| AchievementError::new(source_name, message))?;
    Ok(achievement)
}

impl Achievement {
    fn check(&self) -> Result<(), String> {
        if !is_achievement_id(&self.id) {
            return Err(format!("id: {:?} must be 1 to 64 lowercase letters, digits, '-' or '_'", self.id));
        }
        for (field, value, max) in
            [("name", &self.name, 200), ("description", &self.description, 4000), ("criteria", &self.criteria, 4000)]
        {
            if value.trim().is_empty() || value.chars().count() > max {
                return Err(format!("{field}: must be non-empty text of at most {max} characters"));
            }
        }
        if let Some(image) = &self.image {
            let https = image.starts_with("https://") && crate::validation::is_iri(image);
            if !(https || image.starts_with("data:image/")) || image.len() > 100_000 {
                return Err("image: must be an https URL or a data:image/… URI of at most 100 kB".into());
            }
        }
        let known = ACHIEVEMENT_TYPES.contains(&self.achievement_type.as_str())
            || MORE_ACHIEVEMENT_TYPES.contains(&self.achievement_type.as_str());
        let extension = self.achievement_type.starts_with("ext:") && self.achievement_type.len() > 4;
        if !(known || extension) {
            return Err(format!(
                "achievement_type: {:?} is not an Open Badges 3.0 achievement type (nor an ext: one)",
                self.achievement_type
            ));
        }
        if self.tags.len() > 50 || self.tags.iter().any(|tag| tag.trim().is_empty() || tag.len() > 100) {
            return Err("tags: at most 50, each non-empty and at most 100 characters".into());
        }
        for iri in self.alignments.iter().chain(self.requires.skills.iter().map(|s| &s.skill)) {
            if !crate::validation::is_iri(iri) {
                return Err(format!("alignments/requires.skills: {iri:?} is not an IRI"));
            }
        }
        if let Some(skill) = self.requires.skills.iter().find(|s| !(1..=5).contains(&s.level)) {
            return Err(format!("requires.skills: level {} for {:?} must be 1 to 5", skill.level, skill.skill));
        }
        let required = &self.requires.achievements;
        if required.iter().any(|id| id == &self.id) {
            return Err("requires.achievements: an achievement cannot require itself".into());
        }
        if let Some(at_least) = self.requires.at_least {
            if at_least == 0 || at_least > required.len() {
                return Err(format!(
                    "requires.at_least: {at_least} must be 1 to the number of required achievements ({})",
                    required.len()
                ));
            }
        }
        if self.valid_for_days == Some(0) {
            return Err("valid_for_days: must be at least 1".into());
        }
        Ok(())
    }

    /// Refuses alignments and skill requirements naming skills the framework does not have.
    pub fn check_skills(&self, framework: &Framework) -> Result<(), String> {
        let skills = self.alignments.iter().chain(self.requires.skills.iter().map(|s| &s.skill));
        match skills.into_iter().find(|iri| !framework.skills.contains_key(*iri)) {
            Some(iri) => Err(format!("{:?} is not a skill of the framework", iri)),
            None => Ok(()),
        }
    }

    /// The OB 3.0 Achievement, identified by `url`; alignments named from the framework.
    pub fn to_ob3(&self, url: &str, framework: Option<&Framework>) -> Value {
        let mut achievement = json!({
            "id": url,
            "type": ["Achievement"],
            "name": self.name,
            "description": self.description,
            "criteria": {"narrative": self.criteria},
            "achievementType": self.achievement_type,
        });
        if let Some(image) = &self.image {
            achievement["image"] = json!({"id": image, "type": "Image"});
        }
        if !self.tags.is_empty() {
            achievement["tag"] = json!(self.tags);
        }
        let alignments: Vec<Value> = self
            .alignments
            .iter()
            .map(|iri| {
                let name = framework
                    .and_then(|f| f.skills.get(iri))
                    .and_then(|skill| skill.display_name().cloned())
                    .unwrap_or_else(|| iri.clone());
                json!({"type": ["Alignment"], "targetName": name, "targetUrl": iri})
            })
            .collect();
        if !alignments.is_empty() {
            achievement["alignment"] = Value::Array(alignments);
        }
        achievement
    }
}

/// Checks a whole set: unique ids, required achievements defined, no requirement cycles.
pub fn check_set(achievements: &[Achievement]) -> Result<(), AchievementError> {
    let ids: std::collections::HashSet<&str> = achievements.iter().map(|a| a.id.as_str()).collect();
    if ids.len() != achievements.len() {
        let mut seen = std::collections::HashSet::new();
        let duplicate = achievements.iter().find(|a| !seen.insert(&a.id)).expect("a duplicate");
        return Err(AchievementError::new(&duplicate.id, "id: defined twice"));
    }
    for achievement in achievements {
        if let Some(missing) = achievement.requires.achievements.iter().find(|id| !ids.contains(id.as_str())) {
            return Err(AchievementError::new(
                &achievement.id,
                format!("requires.achievements: {missing:?} is not a defined achievement"),
            ));
        }
    }
    for achievement in achievements {
        if let Some(cycle) = requirement_cycle(achievements, &achievement.id) {
            return Err(AchievementError::new(&achievement.id, format!("requires.achievements: a cycle: {cycle}")));
        }
    }
    Ok(())
}

/// A path from `start` back to itself through requirements, if there is one.
fn requirement_cycle(achievements: &[Achievement], start: &str) -> Option<String> {
    let by_id = |id: &str| achievements.iter().find(|a| a.id == id);
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut visited = std::collections::HashSet::new();
    while let Some((id, path)) = stack.pop() {
        for next in by_id(&id).map(|a| a.requires.achievements.clone()).unwrap_or_default() {
            if next == start {
                return Some([path.clone(), vec![next]].concat().join(" -> "));
            }
            if visited.insert(next.clone()) {
                stack.push((next.clone(), [path.clone(), vec![next]].concat()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(extra: &str) -> String {
        format!(
            r#"{{"id": "sql-basics", "name": "SQL basics", "description": "Writes queries", "criteria": "Passed the SQL path"{extra}}}"#
        )
    }

    #[test]
    fn a_minimal_definition_reads_with_defaults() {
        let achievement = parse_achievement("sql-basics.json", &definition("")).unwrap();
        assert_eq!(achievement.achievement_type, "Badge");
        assert!(!achievement.repeatable && achievement.requires.is_empty());
        let ob3 = achievement.to_ob3("https://lrs.example/api/badges/achievements/sql-basics", None);
        assert_eq!(ob3["criteria"]["narrative"], "Passed the SQL path");
        assert_eq!(ob3["type"], json!(["Achievement"]));
    }

    #[test]
    fn malformed_definitions_are_refused_naming_the_field_and_rule() {
        let cases = [
            ("an unknown field", r#", "colour": "red""#, "unknown field `colour`"),
            ("a bad type", r#", "achievement_type": "Trophy""#, "achievement_type: \"Trophy\""),
            ("an http image", r#", "image": "http://x.example/a.png""#, "image: must be an https URL"),
            (
                "a level above 5",
                r#", "requires": {"skills": [{"skill": "https://s.example/sql", "level": 6}]}"#,
                "level 6",
            ),
            (
                "at_least above the list",
                r#", "requires": {"achievements": ["a"], "at_least": 2}"#,
                "requires.at_least: 2",
            ),
            ("itself required", r#", "requires": {"achievements": ["sql-basics"]}"#, "cannot require itself"),
            ("a non-IRI alignment", r#", "alignments": ["not an iri"]"#, "is not an IRI"),
            ("no validity", r#", "valid_for_days": 0"#, "valid_for_days"),
        ];
        for (description, extra, expected) in cases {
            let error = parse_achievement("f.json", &definition(extra)).unwrap_err();
            assert!(error.to_string().contains(expected), "{description}: {error}");
        }
        let error =
            parse_achievement("f.json", r#"{"id": "Bad Id", "name": "n", "description": "d", "criteria": "c"}"#)
                .unwrap_err();
        assert!(error.message.starts_with("id: \"Bad Id\""), "{error}");
    }

    #[test]
    fn sets_refuse_dangling_requirements_and_cycles() {
        let make = |id: &str, requires: &[&str]| Achievement {
            requires: Requirements {
                achievements: requires.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            id: id.into(),
            ..parse_achievement("x", &definition("")).unwrap()
        };
        let dangling = check_set(&[make("a", &["b"])]).unwrap_err();
        assert!(dangling.to_string().contains("\"b\" is not a defined achievement"), "{dangling}");
        let cycle = check_set(&[make("a", &["b"]), make("b", &["c"]), make("c", &["a"])]).unwrap_err();
        assert!(cycle.to_string().contains("a cycle: a -> b -> c -> a"), "{cycle}");
        let twice = check_set(&[make("a", &[]), make("a", &[])]).unwrap_err();
        assert!(twice.to_string().contains("defined twice"), "{twice}");
        check_set(&[make("a", &[]), make("b", &["a"]), make("c", &["a", "b"])]).unwrap();
    }
}

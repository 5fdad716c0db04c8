//! The skills framework: skills (stable IRIs, names, aliases, broader and related links),
//! roles with target levels, and evidence mappings, gathered from any number of files
//! and checked as a whole (duplicate IRIs, dangling references, cycles in broader links)
//! before anything is used. Every entry remembers the file and line it came from, so an
//! error names them. The readers of each format (`native`, `case`, `esco`) produce
//! `FrameworkParts`; `Framework::build` checks and joins them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

/// A language map (`{"en": "SQL"}`), as xAPI writes them.
pub type LanguageMap = BTreeMap<String, String>;

/// Levels run from 0 (none) to this (expert); roles' targets use the same scale.
pub const MAX_LEVEL: f64 = 5.0;

/// Where an entry was read: a file and a line (1-based; 0 when a format has no lines).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}", self.file),
            line => write!(f, "{}:{line}", self.file),
        }
    }
}

/// A refused framework: where, and which rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct FrameworkError {
    pub origin: Origin,
    pub message: String,
}

impl FrameworkError {
    pub fn new(origin: &Origin, message: impl Into<String>) -> Self {
        Self { origin: origin.clone(), message: message.into() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Skill {
    pub iri: String,
    pub name: LanguageMap,
    pub description: LanguageMap,
    pub aliases: Vec<String>,
    /// Broader skills: evidence for this one counts, discounted, for them.
    pub broader: Vec<String>,
    /// Filled in by `Framework::build` from every skill's `broader` (and any `narrower`
    /// given).
    pub narrower: Vec<String>,
    pub related: Vec<String>,
    /// How long evidence keeps half its weight; the framework default when absent.
    pub half_life_days: Option<f64>,
    #[serde(skip)]
    pub origin: Origin,
}

impl Skill {
    /// The name to show: English (`en`, else `en-US`), else the first language's.
    pub fn display_name(&self) -> Option<&String> {
        self.name.get("en").or_else(|| self.name.get("en-US")).or_else(|| self.name.values().next())
    }

    pub fn new(iri: impl Into<String>, origin: Origin) -> Self {
        Self {
            iri: iri.into(),
            name: LanguageMap::new(),
            description: LanguageMap::new(),
            aliases: Vec::new(),
            broader: Vec::new(),
            narrower: Vec::new(),
            related: Vec::new(),
            half_life_days: None,
            origin,
        }
    }
}

/// A job profile: the skills it needs and at which level.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Role {
    pub id: String,
    pub name: LanguageMap,
    pub requires: Vec<Requirement>,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Requirement {
    pub skill: String,
    /// 0 to `MAX_LEVEL`.
    pub level: f64,
}

/// Which statements are evidence of which skills: every condition given must hold.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Mapping {
    pub activity_prefix: Option<String>,
    pub activity_type: Option<String>,
    pub verb: Option<String>,
    pub skills: Vec<Weighted>,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Weighted {
    pub skill: String,
    /// How strongly the statement is evidence of the skill: above 0, at most 1.
    pub weight: f64,
}

/// What one file contributed, before the whole is checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameworkParts {
    pub skills: Vec<Skill>,
    /// (broader, narrower) pairs stated from the broader side, e.g. CASE `isChildOf` read
    /// the other way, or a native `narrower` list.
    pub narrower_links: Vec<(String, String, Origin)>,
    /// (skill, related skill) pairs stated apart from either skill, e.g. CASE
    /// `isRelatedTo` associations; each gives the first skill a related link.
    pub related_links: Vec<(String, String, Origin)>,
    pub roles: Vec<Role>,
    pub mappings: Vec<Mapping>,
    /// The framework-wide half-life, if this file sets one.
    pub half_life_days: Option<(f64, Origin)>,
}

impl FrameworkParts {
    pub fn extend(&mut self, other: FrameworkParts) {
        self.skills.extend(other.skills);
        self.narrower_links.extend(other.narrower_links);
        self.related_links.extend(other.related_links);
        self.roles.extend(other.roles);
        self.mappings.extend(other.mappings);
        if other.half_life_days.is_some() {
            self.half_life_days = other.half_life_days;
        }
    }
}

/// A checked framework: every reference resolves and broader links form no cycle.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Framework {
    pub skills: BTreeMap<String, Skill>,
    pub roles: BTreeMap<String, Role>,
    pub mappings: Vec<Mapping>,
    pub default_half_life_days: f64,
}

/// 900 days (about 30 months): the shelf life usually given for a technical skill, taken
/// as the time evidence keeps half its weight. Frameworks and skills may set their own.
pub const DEFAULT_HALF_LIFE_DAYS: f64 = 900.0;

impl Default for Framework {
    fn default() -> Self {
        Self {
            skills: BTreeMap::new(),
            roles: BTreeMap::new(),
            mappings: Vec::new(),
            default_half_life_days: DEFAULT_HALF_LIFE_DAYS,
        }
    }
}

impl Framework {
    /// Checks the parts as a whole; the first problem found refuses everything.
    pub fn build(parts: FrameworkParts) -> Result<Framework, FrameworkError> {
        let mut skills: BTreeMap<String, Skill> = BTreeMap::new();
        for skill in parts.skills {
            check_iri(&skill.iri, &skill.origin, "skill")?;
            if let Some(days) = skill.half_life_days {
                check_half_life(days, &skill.origin)?;
            }
            if let Some(first) = skills.get(&skill.iri) {
                return Err(FrameworkError::new(
                    &skill.origin,
                    format!("skill {}: the IRI is already defined at {}", skill.iri, first.origin),
                ));
            }
            skills.insert(skill.iri.clone(), skill);
        }
        // Links stated apart from their skills are checked at their own line: both ends.
        for (broader, narrower, origin) in &parts.narrower_links {
            if !skills.contains_key(broader) {
                return Err(dangling(origin, "broader", broader));
            }
            let skill = skills.get_mut(narrower).ok_or_else(|| dangling(origin, "narrower", narrower))?;
            if !skill.broader.contains(broader) {
                skill.broader.push(broader.clone());
            }
        }
        for (from, to, origin) in &parts.related_links {
            if !skills.contains_key(to) {
                return Err(dangling(origin, "related", to));
            }
            let skill = skills.get_mut(from).ok_or_else(|| dangling(origin, "related", from))?;
            if !skill.related.contains(to) {
                skill.related.push(to.clone());
            }
        }
        for skill in skills.values() {
            for (field, links) in [("broader", &skill.broader), ("related", &skill.related)] {
                if let Some(missing) = links.iter().find(|iri| !skills.contains_key(*iri)) {
                    return Err(dangling(&skill.origin, field, missing));
                }
                if links.contains(&skill.iri) {
                    return Err(FrameworkError::new(
                        &skill.origin,
                        format!("{field}: skill {} names itself", skill.iri),
                    ));
                }
            }
        }
        refuse_cycles(&skills)?;
        let narrower: Vec<(String, String)> =
            skills.values().flat_map(|s| s.broader.iter().map(|b| (b.clone(), s.iri.clone()))).collect();
        for (broader, child) in narrower {
            let entry = skills.get_mut(&broader).expect("checked above");
            if !entry.narrower.contains(&child) {
                entry.narrower.push(child);
            }
        }
        for skill in skills.values_mut() {
            skill.narrower.sort();
        }
        let mut roles = BTreeMap::new();
        for role in parts.roles {
            check_iri(&role.id, &role.origin, "role")?;
            for requirement in &role.requires {
                if !skills.contains_key(&requirement.skill) {
                    return Err(dangling(&role.origin, "requires", &requirement.skill));
                }
                if !(0.0..=MAX_LEVEL).contains(&requirement.level) {
                    return Err(FrameworkError::new(
                        &role.origin,
                        format!(
                            "requires: level {} of {} must be from 0 to {MAX_LEVEL}",
                            requirement.level, requirement.skill
                        ),
                    ));
                }
            }
            if let Some(first) = roles.get(&role.id).map(|r: &Role| r.origin.clone()) {
                return Err(FrameworkError::new(&role.origin, format!("role {}: already defined at {first}", role.id)));
            }
            roles.insert(role.id.clone(), role);
        }
        for mapping in &parts.mappings {
            check_mapping(mapping, &skills)?;
        }
        let default_half_life_days = match &parts.half_life_days {
            Some((days, origin)) => check_half_life(*days, origin)?,
            None => DEFAULT_HALF_LIFE_DAYS,
        };
        Ok(Framework { skills, roles, mappings: parts.mappings, default_half_life_days })
    }

    /// SHA-256 of the framework's content (not of where it was read): equal frameworks, equal
    /// fingerprints.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(serde_json::to_vec(self).expect("a framework serialises")))
    }

    pub fn half_life_days(&self, skill: &str) -> f64 {
        self.skills.get(skill).and_then(|s| s.half_life_days).unwrap_or(self.default_half_life_days)
    }

    /// The skills above `skill` with how many broader steps away each is (nearest first,
    /// each once).
    pub fn ancestors(&self, skill: &str) -> Vec<(String, u32)> {
        let mut found: Vec<(String, u32)> = Vec::new();
        let mut frontier = vec![skill.to_string()];
        let mut depth = 0;
        while !frontier.is_empty() {
            depth += 1;
            let mut next = Vec::new();
            for iri in &frontier {
                for broader in self.skills.get(iri).map(|s| s.broader.as_slice()).unwrap_or_default() {
                    if broader != skill && !found.iter().any(|(seen, _)| seen == broader) {
                        found.push((broader.clone(), depth));
                        next.push(broader.clone());
                    }
                }
            }
            frontier = next;
        }
        found
    }
}

fn dangling(origin: &Origin, field: &str, iri: &str) -> FrameworkError {
    FrameworkError::new(origin, format!("{field}: {iri} is not a skill of the framework"))
}

fn check_iri(iri: &str, origin: &Origin, what: &str) -> Result<(), FrameworkError> {
    if oxiri::Iri::parse(iri).is_err() {
        return Err(FrameworkError::new(origin, format!("{what}: {iri:?} must be an absolute IRI")));
    }
    Ok(())
}

fn check_half_life(days: f64, origin: &Origin) -> Result<f64, FrameworkError> {
    if !(days.is_finite() && (1.0..=36_500.0).contains(&days)) {
        return Err(FrameworkError::new(origin, format!("half_life_days: {days} must be from 1 to 36500")));
    }
    Ok(days)
}

fn check_mapping(mapping: &Mapping, skills: &BTreeMap<String, Skill>) -> Result<(), FrameworkError> {
    if mapping.activity_prefix.is_none() && mapping.activity_type.is_none() && mapping.verb.is_none() {
        return Err(FrameworkError::new(
            &mapping.origin,
            "mapping: give at least one of activity_prefix, activity_type and verb",
        ));
    }
    if mapping.skills.is_empty() {
        return Err(FrameworkError::new(&mapping.origin, "mapping: skills must name at least one skill"));
    }
    for weighted in &mapping.skills {
        if !skills.contains_key(&weighted.skill) {
            return Err(dangling(&mapping.origin, "skills", &weighted.skill));
        }
        check_weight(weighted.weight, &weighted.skill, &mapping.origin)?;
    }
    Ok(())
}

pub fn check_weight(weight: f64, skill: &str, origin: &Origin) -> Result<(), FrameworkError> {
    if !(weight.is_finite() && weight > 0.0 && weight <= 1.0) {
        return Err(FrameworkError::new(origin, format!("weight: {weight} for {skill} must be above 0 and at most 1")));
    }
    Ok(())
}

/// Depth-first search over broader links; a skill met again on the current path closes a
/// cycle, reported with the whole path.
fn refuse_cycles(skills: &BTreeMap<String, Skill>) -> Result<(), FrameworkError> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in skills.keys() {
        if done.contains(start.as_str()) {
            continue;
        }
        // (skill, index of the next broader link to follow)
        let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        while let Some((iri, next)) = path.last().copied() {
            let broader = &skills[iri].broader;
            if next == broader.len() {
                done.insert(iri);
                path.pop();
                continue;
            }
            path.last_mut().expect("not empty").1 += 1;
            let up = broader[next].as_str();
            if let Some(at) = path.iter().position(|(seen, _)| *seen == up) {
                let cycle: Vec<&str> = path[at..].iter().map(|(s, _)| *s).chain([up]).collect();
                return Err(FrameworkError::new(
                    &skills[up].origin,
                    format!("broader: the links form a cycle: {}", cycle.join(" -> ")),
                ));
            }
            if !done.contains(up) {
                path.push((up, 0));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize) -> Origin {
        Origin { file: "skills.toml".into(), line }
    }

    fn skill(iri: &str, broader: &[&str], line: usize) -> Skill {
        let mut skill = Skill::new(format!("https://s.example/{iri}"), at(line));
        skill.broader = broader.iter().map(|b| format!("https://s.example/{b}")).collect();
        skill
    }

    fn parts(skills: Vec<Skill>) -> FrameworkParts {
        FrameworkParts { skills, ..Default::default() }
    }

    #[test]
    fn a_framework_links_narrower_skills_and_finds_ancestors_by_distance() {
        let framework = Framework::build(parts(vec![
            skill("data", &[], 1),
            skill("sql", &["data"], 2),
            skill("joins", &["sql"], 3),
        ]))
        .unwrap();

        assert_eq!(framework.skills["https://s.example/data"].narrower, vec!["https://s.example/sql"]);
        assert_eq!(
            framework.ancestors("https://s.example/joins"),
            vec![("https://s.example/sql".to_string(), 1), ("https://s.example/data".to_string(), 2)]
        );
        assert_eq!(framework.half_life_days("https://s.example/sql"), DEFAULT_HALF_LIFE_DAYS);
    }

    #[test]
    fn bad_frameworks_are_refused_naming_file_line_and_rule() {
        let role = |skill: &str, level: f64| Role {
            id: "https://r.example/analyst".into(),
            name: LanguageMap::new(),
            requires: vec![Requirement { skill: format!("https://s.example/{skill}"), level }],
            origin: at(9),
        };
        let cases: Vec<(&str, FrameworkParts, &str)> = vec![
            ("a duplicate IRI", parts(vec![skill("a", &[], 1), skill("a", &[], 4)]), "skills.toml:4: skill https://s.example/a: the IRI is already defined at skills.toml:1"),
            ("a dangling broader link", parts(vec![skill("a", &["missing"], 2)]), "skills.toml:2: broader: https://s.example/missing is not a skill"),
            ("a cycle", parts(vec![skill("a", &["b"], 1), skill("b", &["c"], 2), skill("c", &["a"], 3)]), "broader: the links form a cycle: https://s.example/a -> https://s.example/b -> https://s.example/c -> https://s.example/a"),
            ("a skill its own broader", parts(vec![skill("a", &["a"], 5)]), "skills.toml:5: broader: skill https://s.example/a names itself"),
            ("a relative IRI", parts(vec![Skill::new("sql", at(7))]), "skills.toml:7: skill: \"sql\" must be an absolute IRI"),
            ("a role needing an unknown skill", FrameworkParts { roles: vec![role("nope", 3.0)], ..parts(vec![skill("a", &[], 1)]) }, "skills.toml:9: requires: https://s.example/nope is not a skill"),
            ("a role level past the scale", FrameworkParts { roles: vec![role("a", 7.0)], ..parts(vec![skill("a", &[], 1)]) }, "requires: level 7 of https://s.example/a must be from 0 to 5"),
        ];
        for (what, given, expected) in cases {
            let error = Framework::build(given).expect_err(what).to_string();
            assert!(error.contains(expected), "{what}: {error}");
        }
    }
}

//! What the skills map answers: a person's profile with every estimate explained, a team's
//! map (levels per skill and gaps against roles), and talent search (people for a skill,
//! ranked by a cautious level, with people of adjacent skills and the path that links
//! them). Estimates are decayed to the moment asked; explanations add up exactly to them.
//! Called by the HTTP handlers and the CLI.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::catalog::FrameworkCatalog;
use super::framework::{Framework, MAX_LEVEL};
use super::inference::SkillMap;
use super::model::{retention, Ability, Difficulty, PRIOR_MEAN};
use crate::storage::{EvidenceRecord, Store, StoreResult};
use crate::xapi::time::Micros;

/// Most evidence records an explanation lists per person.
pub const MAX_EXPLAINED: usize = 5_000;
/// Standard deviations below the mean at which search ranks people: a cautious level, so
/// one lucky pass does not outrank a long record.
const CAUTION: f64 = 1.0;
/// How much an adjacent skill's level counts in search, per step of the path.
const ADJACENT_DISCOUNT: f64 = 0.5;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SkillEstimate {
    pub skill: String,
    pub name: Option<String>,
    /// 0 to 5: five times the chance of success on an item of average difficulty.
    pub level: f64,
    /// The level one standard deviation below and above: the uncertainty.
    pub level_low: f64,
    pub level_high: f64,
    /// Ability on the logit scale, and its standard deviation.
    pub mean: f64,
    pub sd: f64,
    pub evidence: u32,
    /// When the last evidence happened.
    pub last_evidence: Micros,
}

/// One statement's share of an estimate, now.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contribution {
    pub statement: String,
    pub at: Micros,
    pub item: String,
    pub outcome: f64,
    pub weight: f64,
    /// What the model expected before it (probability of success).
    pub predicted: f64,
    /// Its change of the ability's mean when folded in, and what is left of it now.
    pub change_then: f64,
    pub change_now: f64,
    /// Broader steps from the skill the statement was evidence of.
    pub steps_up: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ExplainedEstimate {
    #[serde(flatten)]
    pub estimate: SkillEstimate,
    /// The prior mean plus every `change_now` equals `mean`.
    pub prior_mean: f64,
    pub contributions: Vec<Contribution>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Profile {
    pub person: String,
    pub at: Micros,
    pub skills: Vec<ExplainedEstimate>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SkillDistribution {
    pub skill: String,
    pub name: Option<String>,
    /// Members with evidence for the skill.
    pub people: usize,
    /// `None` when fewer than the minimum group size have evidence (`suppressed`): the
    /// figures of one or two people describe individuals.
    pub mean_level: Option<f64>,
    pub quartiles: Option<[f64; 3]>,
    pub suppressed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Gap {
    pub person: String,
    pub role: String,
    pub skill: String,
    pub target: f64,
    /// `None`: no evidence at all for the skill.
    pub level: Option<f64>,
    pub gap: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TeamMap {
    pub at: Micros,
    pub members: usize,
    pub skills: Vec<SkillDistribution>,
    pub gaps: Vec<Gap>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    pub person: String,
    /// The cautious level search ranks by (discounted for adjacent skills).
    pub score: f64,
    pub estimate: SkillEstimate,
    /// The skills from the one searched to the one the evidence is for (just the one
    /// searched for a direct match), with how each step links.
    pub path: Vec<PathStep>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PathStep {
    pub skill: String,
    /// `broader`, `narrower` or `related`; empty for the first step.
    pub link: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InferenceStatus {
    /// Statements stored up to here are in the estimates (`None`: none yet).
    pub evaluated_through: Option<Micros>,
    pub framework_version: u64,
    /// The version the estimates were inferred under: behind `framework_version` until
    /// inference has started over after a change.
    pub inferred_version: u64,
    pub skills: usize,
    pub roles: usize,
    pub mappings: usize,
    pub people: usize,
    pub estimates: usize,
}

pub struct SkillsService {
    catalog: Arc<FrameworkCatalog>,
    map: Arc<RwLock<SkillMap>>,
    store: Arc<dyn Store>,
    /// Fewest people a team map's figures for a skill may describe.
    min_group: usize,
}

/// The default of `min_group_size`.
pub const MIN_GROUP: usize = 5;

impl SkillsService {
    pub fn new(catalog: Arc<FrameworkCatalog>, map: Arc<RwLock<SkillMap>>, store: Arc<dyn Store>) -> Self {
        Self { catalog, map, store, min_group: MIN_GROUP }
    }

    /// Team maps leave out the figures of skills fewer than `people` have evidence for.
    pub fn suppressing_below(mut self, people: usize) -> Self {
        self.min_group = people.max(1);
        self
    }

    pub fn framework(&self) -> Arc<Framework> {
        self.catalog.current()
    }

    pub fn catalog(&self) -> &Arc<FrameworkCatalog> {
        &self.catalog
    }

    /// One estimate at `now`, `None` without evidence.
    pub fn estimate_of(&self, person: &str, skill: &str, now: Micros) -> Option<SkillEstimate> {
        let framework = self.catalog.current();
        let map = self.map.read().expect("skills map lock");
        let ability = map.abilities.get(&(person.to_string(), skill.to_string()))?;
        Some(estimate(&framework, skill, ability, now))
    }

    /// Where inference stands: the position reached, and the size of the map.
    pub async fn status(&self) -> StoreResult<InferenceStatus> {
        let framework = self.catalog.current();
        let (estimates, people) = {
            let map = self.map.read().expect("skills map lock");
            let people: BTreeSet<&str> = map.abilities.keys().map(|(person, _)| person.as_str()).collect();
            (map.abilities.len(), people.len())
        };
        Ok(InferenceStatus {
            evaluated_through: self.store.skills_evaluated_through().await?,
            framework_version: self.catalog.version(),
            inferred_version: self.catalog.inferred_version(),
            skills: framework.skills.len(),
            roles: framework.roles.len(),
            mappings: framework.mappings.len(),
            people,
            estimates,
        })
    }

    /// Demand per skill over the `months` calendar months up to `now`.
    pub async fn demand(
        &self,
        now: Micros,
        months: u32,
        rule_sources: &[String],
    ) -> StoreResult<Vec<super::demand::SkillDemand>> {
        let last = crate::xapi::time::format_micros(now)[..7].to_string();
        let window = super::demand::window(&last, months);
        let first = format!("{}-01T00:00:00Z", window[0]);
        let since = crate::xapi::time::parse_timestamp(&first).map_or(0, |t| crate::xapi::time::to_micros(&t));
        let volumes = self.store.skill_evidence_volumes(since).await?;
        Ok(super::demand::demand(&self.catalog.current(), &volumes, &window, rule_sources))
    }

    /// A person's estimates at `now`, each explained by its evidence.
    pub async fn profile(&self, person: &str, now: Micros) -> StoreResult<Profile> {
        let framework = self.catalog.current();
        let abilities: Vec<(String, Ability)> = {
            let map = self.map.read().expect("skills map lock");
            let mut found: Vec<(String, Ability)> = map.of_person(person).map(|(s, a)| (s.to_string(), *a)).collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found
        };
        let evidence = self.store.skill_evidence(person, None, MAX_EXPLAINED).await?;
        let mut by_skill: BTreeMap<&str, Vec<&EvidenceRecord>> = BTreeMap::new();
        for record in &evidence {
            by_skill.entry(record.skill.as_str()).or_default().push(record);
        }
        let skills = abilities
            .iter()
            .map(|(skill, ability)| {
                let half_life = framework.half_life_days(skill);
                let contributions = by_skill
                    .get(skill.as_str())
                    .into_iter()
                    .flatten()
                    .map(|e| Contribution {
                        statement: e.statement.to_string(),
                        at: e.at,
                        item: e.item.clone(),
                        outcome: e.outcome,
                        weight: e.weight,
                        predicted: e.predicted,
                        change_then: e.mean_change,
                        change_now: e.mean_change * retention(now - e.at, half_life),
                        steps_up: e.steps_up,
                    })
                    .collect();
                ExplainedEstimate {
                    estimate: estimate(&framework, skill, ability, now),
                    prior_mean: PRIOR_MEAN,
                    contributions,
                }
            })
            .collect();
        Ok(Profile { person: person.to_string(), at: now, skills })
    }

    /// A team's map: its members (and their roles) as `fluency people import` recorded
    /// them, or as statements named them (`context.team`, Group actors). `None` for a team
    /// nobody is in.
    pub async fn team(&self, team: &str, now: Micros) -> StoreResult<Option<TeamMap>> {
        let people = self.store.people_in_team(team).await?;
        if people.is_empty() {
            return Ok(None);
        }
        let members: Vec<(String, Option<String>)> = people.into_iter().map(|p| (p.person, p.role)).collect();
        Ok(Some(self.team_map(&members, now)))
    }

    /// Levels per skill over `members`, and each member's gaps against their role.
    pub fn team_map(&self, members: &[(String, Option<String>)], now: Micros) -> TeamMap {
        let framework = self.catalog.current();
        let map = self.map.read().expect("skills map lock");
        let mut levels: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut gaps = Vec::new();
        for (person, role) in members {
            let mut own: BTreeMap<&str, f64> = BTreeMap::new();
            for (skill, ability) in map.of_person(person) {
                let level = ability.decayed(now, framework.half_life_days(skill)).level();
                let Some((iri, _)) = framework.skills.get_key_value(skill) else { continue };
                levels.entry(iri.as_str()).or_default().push(level);
                own.insert(iri.as_str(), level);
            }
            let Some(role) = role.as_ref().and_then(|r| framework.roles.get(r)) else { continue };
            for requirement in &role.requires {
                let level = own.get(requirement.skill.as_str()).copied();
                let gap = requirement.level - level.unwrap_or(0.0);
                if gap > 0.0 {
                    gaps.push(Gap {
                        person: person.clone(),
                        role: role.id.clone(),
                        skill: requirement.skill.clone(),
                        target: requirement.level,
                        level,
                        gap,
                    });
                }
            }
        }
        let skills = levels
            .into_iter()
            .map(|(skill, mut values)| {
                values.sort_by(f64::total_cmp);
                let shown = values.len() >= self.min_group;
                let mean_level = values.iter().sum::<f64>() / values.len() as f64;
                let quartiles = [quantile(&values, 0.25), quantile(&values, 0.5), quantile(&values, 0.75)];
                SkillDistribution {
                    skill: skill.to_string(),
                    name: english_name(&framework, skill),
                    people: values.len(),
                    mean_level: shown.then_some(mean_level),
                    quartiles: shown.then_some(quartiles),
                    suppressed: !shown,
                }
            })
            .collect();
        TeamMap { at: now, members: members.len(), skills, gaps }
    }

    /// People for `skill`, best first: those with evidence for it, then those with evidence
    /// for skills linked to it (narrower, broader, related, up to two steps), discounted.
    pub fn search(&self, skill: &str, now: Micros, limit: usize) -> Vec<Candidate> {
        let framework = self.catalog.current();
        let adjacent = adjacent_skills(&framework, skill, 2);
        let map = self.map.read().expect("skills map lock");
        let mut best: BTreeMap<&str, Candidate> = BTreeMap::new();
        for ((person, held), ability) in &map.abilities {
            let Some(path) = adjacent.get(held.as_str()) else { continue };
            let estimate = estimate(&framework, held, ability, now);
            let discount = ADJACENT_DISCOUNT.powi(path.len() as i32 - 1);
            let score = estimate.level_low.min(estimate.level) * discount;
            let better = best.get(person.as_str()).is_none_or(|c| score > c.score);
            if better {
                best.insert(person.as_str(), Candidate { person: person.clone(), score, estimate, path: path.clone() });
            }
        }
        let mut ranked: Vec<Candidate> = best.into_values().collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.person.cmp(&b.person)));
        ranked.truncate(limit);
        ranked
    }
}

fn english_name(framework: &Framework, skill: &str) -> Option<String> {
    framework.skills.get(skill)?.display_name().cloned()
}

fn estimate(framework: &Framework, skill: &str, ability: &Ability, now: Micros) -> SkillEstimate {
    let now_ability = ability.decayed(now, framework.half_life_days(skill));
    let sd = now_ability.variance.sqrt();
    let level_at = |mean: f64| {
        let shifted = Ability { mean, ..now_ability };
        shifted.success_probability(&Difficulty::prior()) * MAX_LEVEL
    };
    SkillEstimate {
        skill: skill.to_string(),
        name: english_name(framework, skill),
        level: now_ability.level(),
        level_low: level_at(now_ability.mean - CAUTION * sd),
        level_high: level_at(now_ability.mean + CAUTION * sd),
        mean: now_ability.mean,
        sd,
        evidence: now_ability.evidence,
        last_evidence: ability.at,
    }
}

/// The skills within `steps` links of `skill` (itself included), each with the shortest
/// path, preferring narrower, then broader, then related links at equal length.
fn adjacent_skills(framework: &Framework, skill: &str, steps: usize) -> BTreeMap<String, Vec<PathStep>> {
    let mut paths: BTreeMap<String, Vec<PathStep>> = BTreeMap::new();
    if !framework.skills.contains_key(skill) {
        return paths;
    }
    paths.insert(skill.to_string(), vec![PathStep { skill: skill.to_string(), link: "" }]);
    let mut frontier: BTreeSet<String> = [skill.to_string()].into();
    for _ in 0..steps {
        let mut next = BTreeSet::new();
        for from in &frontier {
            let entry = &framework.skills[from];
            let links = [("narrower", &entry.narrower), ("broader", &entry.broader), ("related", &entry.related)];
            for (link, targets) in links {
                for target in targets {
                    if paths.contains_key(target) {
                        continue;
                    }
                    let mut path = paths[from].clone();
                    path.push(PathStep { skill: target.clone(), link });
                    paths.insert(target.clone(), path);
                    next.insert(target.clone());
                }
            }
        }
        frontier = next;
    }
    paths
}

/// Linear interpolation between order statistics of sorted `values`.
fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let position = q * (values.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    values[low] + (values[high] - values[low]) * (position - low as f64)
}

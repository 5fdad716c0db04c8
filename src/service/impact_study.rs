//! The parts of an impact analysis beyond the primary KPI: guardrail and secondary KPIs
//! analysed over the very same persons and dates, doses per treated person, the Holm and
//! Benjamini–Hochberg adjustment over every KPI (and every training cohort), the claim, and
//! the ROI's uncertainty, and the HTML report of a whole answer. Called by
//! `impact::run_impact_within`; `render_answer_html` by the CLI.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::impact::{
    each_statement, invalid, kpi_definition, kpi_observations, spec_error, time, ComparisonGroup, ImpactAnswer,
    ImpactRequest, KpiSummary, ReadLimit, RoiSpec,
};
use crate::error::{ApiError, ErrorCode};
use crate::impact::claim::{claim, Claim, NamedKpi};
use crate::impact::guardrail::{non_inferiority, NonInferiority};
use crate::impact::multiplicity::Multiplicity;
use crate::impact::report::RoiSection;
use crate::impact::report_sections::{GuardrailSection, Sections};
use crate::impact::{analyze, roi, ImpactData, ImpactError, ImpactReport, ImpactSpec, KpiDirection, Observation};
use crate::impact::{render_html_with, RoiInput, RoiReport};
use crate::storage::{IndexTerm, InterventionQuery, Store};
use crate::xapi::agent::ifi_key;
use crate::xapi::time::{parse_timestamp, to_micros, Micros};

/// Most KPIs one analysis reads: the primary one, guardrails and secondary ones together.
pub const MAX_KPIS: usize = 20;

/// A KPI that must not get worse by more than `margin` (in its own units).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailRequest {
    pub kpi: String,
    /// Largest worsening that still counts as "held", in the KPI's units (> 0).
    pub margin: f64,
    /// By default, what the KPI's definition says.
    #[serde(default)]
    pub direction: Option<KpiDirection>,
}

/// Doses: per treated person, the number of distinct activities they have statements of
/// (modules completed), or the number of interventions a rule recorded for them (nudges),
/// counting with `verb` only those they acted on (a statement of the verb about the nudge's
/// activity at or after it).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoseRequest {
    pub verb: Option<String>,
    pub activity: Option<String>,
    /// Count only activities whose id starts with this (e.g. a course's modules).
    pub activity_prefix: Option<String>,
    pub rule: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Top dose level; larger doses are pooled with it (default 3).
    pub levels: Option<u32>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct GuardrailAnswer {
    pub kpi: KpiSummary,
    pub margin: f64,
    pub non_inferiority: NonInferiority,
    pub report: ImpactReport,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct KpiAnswer {
    pub kpi: KpiSummary,
    pub report: ImpactReport,
}

/// The ROI at the two ends of the effect's 95% confidence interval.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RoiInterval {
    pub effect_low: f64,
    pub effect_high: f64,
    /// ROI % at the less and at the more favourable end (lowest first).
    pub roi_percent_low: Option<f64>,
    pub roi_percent_high: Option<f64>,
}

/// The treated and comparison persons (after consent), their dates and doses.
pub(super) struct Cohorts<'a> {
    pub treated: &'a BTreeMap<String, Micros>,
    pub comparison: &'a BTreeSet<String>,
    pub doses: &'a BTreeMap<String, u32>,
}

impl Cohorts<'_> {
    /// One KPI's observations split into the groups, with the dates and doses.
    pub fn data(&self, observations: &[Observation]) -> ImpactData {
        let mut data = ImpactData::default();
        for observation in observations {
            if self.treated.contains_key(&observation.person) {
                data.treated.push(observation.clone());
            } else if self.comparison.contains(&observation.person) {
                data.comparison.push(observation.clone());
            }
        }
        data.treatment_dates_us = self.treated.clone().into_iter().collect();
        data.doses =
            self.doses.iter().filter(|(p, _)| self.treated.contains_key(*p)).map(|(p, d)| (p.clone(), *d)).collect();
        data
    }
}

/// Checks the request's guardrails, secondary KPIs and dose selection, naming the field.
pub(super) fn validate(request: &ImpactRequest) -> Result<(), ApiError> {
    let kpis = 1 + request.guardrails.len() + request.secondary.len();
    if kpis > MAX_KPIS {
        return Err(invalid("guardrails", format!("at most {MAX_KPIS} KPIs in all per analysis (got {kpis})")));
    }
    let mut seen = BTreeSet::from([request.kpi.as_str()]);
    for (i, guardrail) in request.guardrails.iter().enumerate() {
        if !(guardrail.margin.is_finite() && guardrail.margin > 0.0) {
            return Err(invalid(
                &format!("guardrails[{i}].margin"),
                format!("must be a positive number of the KPI's units (got {})", guardrail.margin),
            ));
        }
        if !seen.insert(guardrail.kpi.as_str()) {
            return Err(invalid(&format!("guardrails[{i}].kpi"), format!("{:?} is analysed twice", guardrail.kpi)));
        }
    }
    for (i, kpi) in request.secondary.iter().enumerate() {
        if !seen.insert(kpi.as_str()) {
            return Err(invalid(&format!("secondary[{i}]"), format!("{kpi:?} is analysed twice")));
        }
    }
    if request.staggered.is_some() && request.comparison.group == ComparisonGroup::NotYetTreated {
        return Err(invalid(
            "comparison.group",
            "with `staggered`, put every trained person in `treated` and use not_treated or query: the \
             staggered design compares each cohort with the persons not yet trained itself",
        ));
    }
    if let Some(dose) = &request.dose {
        if dose.verb.is_none() && dose.activity.is_none() && dose.rule.is_none() {
            return Err(invalid("dose", "give a verb and/or an activity, or a rule"));
        }
        time("dose.since", &dose.since)?;
        time("dose.until", &dose.until)?;
    }
    Ok(())
}

/// Each person's dose: distinct matching activities; or the rule's interventions, only those
/// acted on when a verb is given.
pub(super) async fn doses(
    store: &dyn Store,
    dose: &DoseRequest,
    limit: &ReadLimit,
) -> Result<BTreeMap<String, u32>, ApiError> {
    let since = time("dose.since", &dose.since)?.unwrap_or(Micros::MIN);
    let until = time("dose.until", &dose.until)?.unwrap_or(Micros::MAX);
    let prefix = dose.activity_prefix.as_deref().unwrap_or("");
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut terms: Vec<IndexTerm> = dose.verb.clone().map(IndexTerm::Verb).into_iter().collect();
    terms.extend(dose.activity.clone().map(IndexTerm::Activity));
    // Each (person, activity) with a matching statement, and the latest such statement's time.
    let mut latest: BTreeMap<(String, String), Micros> = BTreeMap::new();
    if dose.rule.is_none() || dose.verb.is_some() {
        each_statement(store, terms, "dose", limit, |statement| {
            let person = statement.get("actor").and_then(ifi_key);
            let at =
                statement.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp).map(|t| to_micros(&t));
            let activity = statement.pointer("/object/id").and_then(Value::as_str).filter(|id| id.starts_with(prefix));
            // since/until bound the statements counted, or else the nudges (below).
            let in_range = |at: &Micros| dose.rule.is_some() || (since..=until).contains(at);
            if let (Some(person), Some(at), Some(activity)) = (person, at.filter(in_range), activity) {
                let time = latest.entry((person, activity.to_string())).or_insert(at);
                *time = (*time).max(at);
            }
        })
        .await?;
    }
    match &dose.rule {
        Some(rule) => {
            let query = InterventionQuery {
                rule: Some(rule.clone()),
                activity: dose.activity.clone(),
                limit: limit.cap() + 1,
                ..Default::default()
            };
            let interventions = store.query_interventions(&query).await?;
            if interventions.len() > limit.cap() {
                return Err(limit.exceeded("dose (the rule's interventions)"));
            }
            for i in interventions.into_iter().filter(|i| (since..=until).contains(&i.recorded)) {
                // With a verb, a nudge counts only when the person acted on it: a statement of
                // that verb about the nudge's activity, at or after the nudge.
                let acted = dose.verb.is_none()
                    || latest.get(&(i.actor_id.clone(), i.activity.clone())).is_some_and(|at| *at >= i.recorded);
                if acted {
                    seen.entry(i.actor_id).or_default().insert(i.key);
                }
            }
        }
        None => {
            for (person, activity) in latest.into_keys() {
                seen.entry(person).or_default().insert(activity);
            }
        }
    }
    Ok(seen.into_iter().map(|(person, set)| (person, u32::try_from(set.len()).unwrap_or(u32::MAX))).collect())
}

/// Analyses every guardrail and secondary KPI over the primary analysis's persons and dates.
pub(super) async fn other_kpis(
    store: &dyn Store,
    request: &ImpactRequest,
    spec: &ImpactSpec,
    cohorts: &Cohorts<'_>,
    limit: &ReadLimit,
) -> Result<(Vec<GuardrailAnswer>, Vec<KpiAnswer>), ApiError> {
    let mut guardrails = Vec::new();
    for (i, guardrail) in request.guardrails.iter().enumerate() {
        let field = format!("guardrails[{i}]");
        let (kpi, report) = analyse(store, &guardrail.kpi, &field, guardrail.direction, spec, cohorts, limit).await?;
        let non_inferiority = non_inferiority(report.main_effect().as_ref(), kpi.direction, guardrail.margin);
        guardrails.push(GuardrailAnswer { kpi, margin: guardrail.margin, non_inferiority, report });
    }
    let mut secondary = Vec::new();
    for (i, id) in request.secondary.iter().enumerate() {
        let (kpi, report) = analyse(store, id, &format!("secondary[{i}]"), None, spec, cohorts, limit).await?;
        secondary.push(KpiAnswer { kpi, report });
    }
    Ok((guardrails, secondary))
}

async fn analyse(
    store: &dyn Store,
    id: &str,
    field: &str,
    direction: Option<KpiDirection>,
    primary: &ImpactSpec,
    cohorts: &Cohorts<'_>,
    limit: &ReadLimit,
) -> Result<(KpiSummary, ImpactReport), ApiError> {
    let observations = kpi_observations(store, id, limit).await?;
    if observations.is_empty() {
        return Err(ApiError::new(ErrorCode::NotFound, format!("{field}: no observations of {id:?} are stored")));
    }
    let definition = kpi_definition(store, id).await?;
    let direction = direction.or(definition.as_ref().and_then(|d| d.direction)).ok_or_else(|| {
        invalid(
            &format!("{field}.direction"),
            "the KPI's definition has none; give higher_is_better or lower_is_better",
        )
    })?;
    let unit = definition.as_ref().and_then(|d| d.unit.clone());
    let spec = ImpactSpec { direction, unit: unit.clone(), ..primary.clone() };
    let mut data = cohorts.data(&observations);
    data.doses.clear();
    let report = analyze(&spec, &data).map_err(spec_error)?;
    let kpi = KpiSummary {
        id: id.to_string(),
        name: definition.and_then(|d| d.name),
        unit,
        direction,
        observations: observations.len(),
    };
    Ok((kpi, report))
}

pub(super) struct Conclusions {
    pub claim: Claim,
    pub multiplicity: Option<Multiplicity>,
    pub cohort_multiplicity: Option<Multiplicity>,
}

fn named(kpi: &KpiSummary) -> NamedKpi<'_> {
    NamedKpi { name: kpi.name.as_deref().unwrap_or(&kpi.id), unit: kpi.unit.as_deref().unwrap_or("units") }
}

/// The claim, and the many-comparison adjustment over KPIs and over cohorts.
pub(super) fn conclude(
    kpi: &KpiSummary,
    report: &ImpactReport,
    guardrails: &[GuardrailAnswer],
    secondary: &[KpiAnswer],
) -> Conclusions {
    let checks: Vec<(NamedKpi<'_>, &NonInferiority)> =
        guardrails.iter().map(|g| (named(&g.kpi), &g.non_inferiority)).collect();
    let claim = claim(&named(kpi), report, &checks);
    let mut family = Vec::new();
    let mut add = |label: String, report: &ImpactReport| {
        if let Some(test) = report.main_effect() {
            family.push((label, test.p_value));
        }
    };
    add(format!("{} (primary)", named(kpi).name), report);
    for guardrail in guardrails {
        add(format!("{} (guardrail)", named(&guardrail.kpi).name), &guardrail.report);
    }
    for other in secondary {
        add(format!("{} (secondary)", named(&other.kpi).name), &other.report);
    }
    let multiplicity = (family.len() >= 2).then(|| Multiplicity::of(family));
    let cohorts: Vec<(String, f64)> = report
        .event_study
        .iter()
        .flat_map(|study| &study.cohorts)
        .filter_map(|cohort| {
            let date = chrono::DateTime::from_timestamp_micros(cohort.cohort_start_us)?;
            Some((format!("cohort trained from {}", date.format("%Y-%m-%d")), cohort.test?.p_value))
        })
        .collect();
    let cohort_multiplicity = (cohorts.len() >= 2).then(|| Multiplicity::of(cohorts));
    Conclusions { claim, multiplicity, cohort_multiplicity }
}

pub(super) struct Money {
    pub roi: Option<RoiReport>,
    pub interval: Option<RoiInterval>,
    pub warning: Option<String>,
}

/// Phillips ROI from the main effect, at its CI ends too, with a warning when the effect is
/// not statistically significant.
pub(super) fn money(spec: Option<&RoiSpec>, report: &ImpactReport, direction: KpiDirection) -> Result<Money, ApiError> {
    let none = Money { roi: None, interval: None, warning: None };
    let Some(money) = spec else { return Ok(none) };
    let test = report.main_effect();
    let Some(effect) = test.map(|t| t.diff).or(report.difference_in_differences) else { return Ok(none) };
    let persons = match &report.event_study {
        Some(study) => study.treated_persons,
        None => report.treated.persons_analyzed,
    };
    let at = |effect: f64| {
        roi(&RoiInput {
            effect_per_person_per_period: effect,
            direction,
            value_per_unit: money.value_per_unit,
            persons: persons as u64,
            periods: money.periods,
            months_per_period: money.months_per_period,
            costs: money.program_cost,
        })
        .map_err(roi_error)
    };
    let roi = at(effect)?;
    let interval = match test {
        Some(t) => {
            let (a, b) = (at(t.ci_low)?.roi_percent, at(t.ci_high)?.roi_percent);
            let (low, high) = match (a, b) {
                (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                _ => (a, b),
            };
            Some(RoiInterval {
                effect_low: t.ci_low,
                effect_high: t.ci_high,
                roi_percent_low: low,
                roi_percent_high: high,
            })
        }
        None => None,
    };
    let unit = report.spec.unit.as_deref().unwrap_or("units");
    let warning = match (&test, &interval) {
        (Some(t), Some(range)) if t.ci_contains_zero() => Some(format!(
            "The effect this ROI rests on is not statistically significant (95% CI {} to {} {unit} per person \
             includes zero), so the ROI could be anything from {} to {}.",
            crate::impact::format::number(t.ci_low),
            crate::impact::format::number(t.ci_high),
            range.roi_percent_low.map_or("n/a".into(), |p| format!("{}%", crate::impact::format::number(p))),
            range.roi_percent_high.map_or("n/a".into(), |p| format!("{}%", crate::impact::format::number(p))),
        )),
        (None, _) => Some("The effect this ROI rests on has no confidence interval (too little data).".into()),
        _ => None,
    };
    Ok(Money { roi: Some(roi), interval, warning })
}

fn roi_error(error: ImpactError) -> ApiError {
    let ImpactError::Invalid { field, rule } = error;
    let path = match field {
        "costs" => "roi.program_cost".to_string(),
        "effect_per_person_per_period" => "roi".to_string(),
        other => format!("roi.{other}"),
    };
    invalid(&path, rule)
}

/// The HTML report of a whole answer: the primary KPI's figures and charts, with the claim,
/// guardrails, adjusted p-values and ROI caveats. For every caller that renders an answer
/// (the CLI; the console can use it too), after small groups are suppressed.
pub fn render_answer_html(answer: &ImpactAnswer) -> String {
    let roi = answer.roi.as_ref().map(|roi| RoiSection { roi, currency: answer.currency.as_deref().unwrap_or("") });
    let sections = Sections {
        claim: answer.claim.as_ref(),
        guardrails: answer
            .guardrails
            .iter()
            .map(|g| GuardrailSection {
                name: g.kpi.name.as_deref().unwrap_or(&g.kpi.id),
                unit: g.kpi.unit.as_deref().unwrap_or("units"),
                report: &g.report,
                result: &g.non_inferiority,
            })
            .collect(),
        multiplicity: answer.multiplicity.as_ref(),
        cohort_multiplicity: answer.cohort_multiplicity.as_ref(),
        roi_warning: answer.roi_warning.as_deref(),
        roi_interval: answer.roi_interval.as_ref().map(|r| (r.roi_percent_low, r.roi_percent_high)),
    };
    render_html_with(&answer.report, &answer.trend, &answer.title, roi, &sections)
}

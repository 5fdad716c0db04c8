//! Impact analyses over the store: reads a KPI's observations (statements of the KPI
//! profile, `kpi::profile`), builds the treated group (a statement query, or the
//! interventions a rule recorded) and a comparison group (everyone else, the not yet
//! treated, or another query), and runs `impact::analyze` with an optional Phillips ROI.
//! Called by `POST /api/impact`, `fluency impact` and the rules' `impact(...)`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::impact_study::{self, Cohorts, DoseRequest, GuardrailAnswer, GuardrailRequest, KpiAnswer, RoiInterval};
use crate::error::{ApiError, ErrorCode};
use crate::impact::claim::Claim;
use crate::impact::multiplicity::Multiplicity;
use crate::impact::staggered::StaggeredSpec;
use crate::impact::{
    analyze, trend_series, ImpactError, ImpactReport, ImpactSpec, KpiDirection, Observation, RoiReport, TrendSeries,
};
use crate::kpi::profile::{read_kpi_definition, read_kpi_statement, VERB_MEASURED};
use crate::storage::{IndexTerm, InterventionQuery, StatementQuery, Store};
use crate::xapi::agent::ifi_key;
use crate::xapi::time::{parse_timestamp, to_micros, Micros};

/// Statements read per page while gathering a group or a KPI's observations.
const PAGE: usize = 1000;
/// Most statements one analysis reads for one purpose, unless its caller sets another
/// bound: bounds memory and time.
pub const MAX_STATEMENTS: usize = 2_000_000;
/// Width of the trend chart's periods.
const TREND_PERIOD_DAYS: u32 = 7;

/// What to analyse: the same document as JSON (`POST /api/impact`), TOML (`--spec`) or a
/// Rhai map (`impact(...)`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactRequest {
    #[serde(default)]
    pub title: Option<String>,
    /// The KPI's activity IRI.
    pub kpi: String,
    /// Which way the KPI should move; by default, what the KPI's definition says.
    #[serde(default)]
    pub direction: Option<KpiDirection>,
    pub treated: Selection,
    #[serde(default)]
    pub comparison: Comparison,
    pub windows: Windows,
    /// The treated were chosen for their KPI values (e.g. the worst performers).
    #[serde(default)]
    pub selected_by_kpi: bool,
    #[serde(default)]
    pub min_persons_per_group: Option<usize>,
    #[serde(default)]
    pub roi: Option<RoiSpec>,
    /// Persons trained at their own dates: group-time effects and an event study, compared
    /// with the not yet (or never) trained.
    #[serde(default)]
    pub staggered: Option<StaggeredSpec>,
    /// KPIs that must not get worse, each with its non-inferiority margin.
    #[serde(default)]
    pub guardrails: Vec<GuardrailRequest>,
    /// More KPIs to look at; adjusted for many comparisons with the primary and guardrails.
    #[serde(default)]
    pub secondary: Vec<String>,
    /// How much of the intervention each treated person got, for a dose-response table.
    #[serde(default)]
    pub dose: Option<DoseRequest>,
}

impl ImpactRequest {
    /// Parses the JSON of `POST /api/impact` (or a rule's map); the error starts with the path
    /// of the field at fault (`windows.pre_days: invalid type: string "4", expected u32 …`).
    pub fn from_json(bytes: &[u8]) -> Result<ImpactRequest, String> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let request = serde_path_to_error::deserialize(&mut deserializer).map_err(path_error)?;
        deserializer.end().map_err(|e| e.to_string())?;
        Ok(request)
    }

    /// Parses a rule's `impact(#{...})` map, naming the field at fault like `from_json`.
    pub fn from_value(value: Value) -> Result<ImpactRequest, String> {
        serde_path_to_error::deserialize(value).map_err(path_error)
    }

    /// Parses a TOML spec file (`fluency impact --spec`), naming the field at fault.
    pub fn from_toml(text: &str) -> Result<ImpactRequest, String> {
        serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(path_error)
    }
}

/// "path: message", or just the message for a problem with the document as a whole.
fn path_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> String {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    let message = message.trim();
    if path == "." || path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

/// Persons selected by their statements (earliest matching `timestamp` in the range is
/// their date), or by the interventions a rule recorded (date: when it was recorded).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub verb: Option<String>,
    pub activity: Option<String>,
    /// Interventions of this rule instead of statements.
    pub rule: Option<String>,
    /// Inclusive range of the statements' `timestamp` (or the interventions' time).
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComparisonGroup {
    /// Everyone else with observations of the KPI who never matched the treatment.
    #[default]
    NotTreated,
    /// Persons who matched the treatment only after the treated group's post window.
    NotYetTreated,
    /// Persons matching `comparison`'s own selection (and not treated).
    Query,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    #[serde(default)]
    pub group: ComparisonGroup,
    #[serde(flatten)]
    pub selection: Selection,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    pub pre_days: u32,
    pub post_days: u32,
    #[serde(default)]
    pub post_lag_days: u32,
    /// A second, earlier pre window, for the parallel-trend check.
    #[serde(default)]
    pub earlier_pre_days: Option<u32>,
    /// Reference date of comparison persons; by default the treated group's median date.
    #[serde(default)]
    pub intervention: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoiSpec {
    /// Fully loaded programme cost.
    pub program_cost: f64,
    /// Money value of one KPI unit of improvement, per person and period.
    pub value_per_unit: f64,
    #[serde(default = "one")]
    pub periods: f64,
    /// Months in one period (12 when `value_per_unit` is yearly).
    #[serde(default = "twelve")]
    pub months_per_period: f64,
    #[serde(default)]
    pub currency: Option<String>,
}

fn one() -> f64 {
    1.0
}

fn twelve() -> f64 {
    12.0
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ImpactAnswer {
    pub title: String,
    pub kpi: KpiSummary,
    pub treated_persons: usize,
    pub comparison_persons: usize,
    /// People left out of both groups because they opted out of inference (consent).
    #[serde(default)]
    pub excluded_persons: usize,
    pub report: ImpactReport,
    pub roi: Option<RoiReport>,
    pub currency: Option<String>,
    pub trend: TrendSeries,
    /// What was left out because it would describe fewer than `min_group_size` people
    /// (`governance::suppression`); empty when nothing was.
    #[serde(default)]
    pub suppressed: Vec<String>,
    /// The IFI keys of everyone in either group, for the audit log (never sent).
    #[serde(skip)]
    pub persons: Vec<String>,
    /// The claim the analysis supports, primary KPI and guardrails together.
    #[serde(default)]
    pub claim: Option<Claim>,
    #[serde(default)]
    pub guardrails: Vec<GuardrailAnswer>,
    #[serde(default)]
    pub secondary: Vec<KpiAnswer>,
    /// Holm and Benjamini–Hochberg over every KPI's main test, when there are several.
    #[serde(default)]
    pub multiplicity: Option<Multiplicity>,
    /// The same over the training cohorts' effects of a staggered design.
    #[serde(default)]
    pub cohort_multiplicity: Option<Multiplicity>,
    /// The ROI at both ends of the effect's 95% CI.
    #[serde(default)]
    pub roi_interval: Option<RoiInterval>,
    /// Set when the effect the ROI rests on is not statistically significant.
    #[serde(default)]
    pub roi_warning: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct KpiSummary {
    pub id: String,
    pub name: Option<String>,
    pub unit: Option<String>,
    pub direction: KpiDirection,
    pub observations: usize,
}

pub(super) fn invalid(field: &str, rule: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_parameter(field, rule)
}

pub(super) fn time(field: &str, text: &Option<String>) -> Result<Option<Micros>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    let instant =
        parse_timestamp(text).ok_or_else(|| invalid(field, format!("{text:?} must be an ISO 8601 timestamp")))?;
    Ok(Some(to_micros(&instant)))
}

/// Runs the analysis the request describes, reading at most `MAX_STATEMENTS` per read.
pub async fn run_impact(store: &dyn Store, request: &ImpactRequest) -> Result<ImpactAnswer, ApiError> {
    run_impact_within(store, request, MAX_STATEMENTS).await
}

/// Runs the analysis, refusing it (413) when a read matches more than `max_statements`.
pub async fn run_impact_within(
    store: &dyn Store,
    request: &ImpactRequest,
    max_statements: usize,
) -> Result<ImpactAnswer, ApiError> {
    let limit = ReadLimit::new(max_statements);
    let observations = kpi_observations(store, &request.kpi, &limit).await?;
    if observations.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("kpi: no observations of {:?} are stored (verb {VERB_MEASURED})", request.kpi),
        ));
    }
    let definition = kpi_definition(store, &request.kpi).await?;
    let direction = request.direction.or(definition.as_ref().and_then(|d| d.direction)).ok_or_else(|| {
        invalid("direction", "the KPI's definition has none; give higher_is_better or lower_is_better")
    })?;

    let mut treated = select(store, "treated", &request.treated, &limit).await?;
    if treated.is_empty() {
        return Err(invalid("treated", "no person matches the treatment selection"));
    }
    // People who opted out of inference are in no cohort; they are counted as excluded.
    let opted_out: BTreeSet<String> =
        store.consents().await?.into_iter().filter(|c| c.inference_opt_out).map(|c| c.person).collect();
    let selected = treated.len();
    treated.retain(|person, _| !opted_out.contains(person));
    let excluded_treated = selected - treated.len();
    if treated.is_empty() {
        return Err(invalid("treated", "every person the treatment selection matches opted out of analyses"));
    }
    let reference = match time("windows.intervention", &request.windows.intervention)? {
        Some(at) => at,
        None => median(treated.values().copied().collect()),
    };
    let comparison_dates = comparison(store, request, &treated, &observations, reference, &limit).await?;

    let mut spec = ImpactSpec::new(direction, request.windows.pre_days, request.windows.post_days);
    spec.post_lag_days = request.windows.post_lag_days;
    spec.earlier_pre_days = request.windows.earlier_pre_days;
    spec.selected_by_kpi = request.selected_by_kpi;
    spec.intervention_us = Some(reference);
    if let Some(min) = request.min_persons_per_group {
        spec.min_persons_per_group = min;
    }
    spec.unit = definition.as_ref().and_then(|d| d.unit.clone());
    spec.staggered = request.staggered.clone();
    if let Some(levels) = request.dose.as_ref().and_then(|d| d.levels) {
        spec.dose_levels = levels;
    }
    spec.validate().map_err(spec_error)?;
    impact_study::validate(request)?;

    let mut comparison_dates = comparison_dates;
    let compared = comparison_dates.len();
    comparison_dates.retain(|person| !opted_out.contains(person));
    let excluded_persons = excluded_treated + compared - comparison_dates.len();
    let doses = match &request.dose {
        Some(dose) => impact_study::doses(store, dose, &limit).await?,
        None => BTreeMap::new(),
    };
    let cohorts = Cohorts { treated: &treated, comparison: &comparison_dates, doses: &doses };
    let data = cohorts.data(&observations);
    let report = analyze(&spec, &data).map_err(spec_error)?;
    let trend = trend_series(&spec, &data, TREND_PERIOD_DAYS).map_err(spec_error)?;
    let money = impact_study::money(request.roi.as_ref(), &report, direction)?;
    let name = definition.as_ref().and_then(|d| d.name.clone());
    let kpi = KpiSummary {
        id: request.kpi.clone(),
        name: name.clone(),
        unit: definition.and_then(|d| d.unit),
        direction,
        observations: observations.len(),
    };
    let others = impact_study::other_kpis(store, request, &spec, &cohorts, &limit).await?;
    let (guardrails, secondary) = others;
    let conclusions = impact_study::conclude(&kpi, &report, &guardrails, &secondary);
    Ok(ImpactAnswer {
        title: request.title.clone().or(name.clone()).unwrap_or_else(|| request.kpi.clone()),
        kpi,
        treated_persons: treated.len(),
        comparison_persons: comparison_dates.len(),
        excluded_persons,
        report,
        roi: money.roi,
        currency: request.roi.as_ref().and_then(|r| r.currency.clone()),
        trend,
        suppressed: Vec::new(),
        persons: treated.keys().chain(comparison_dates.iter()).cloned().collect(),
        claim: Some(conclusions.claim),
        guardrails,
        secondary,
        multiplicity: conclusions.multiplicity,
        cohort_multiplicity: conclusions.cohort_multiplicity,
        roi_interval: money.interval,
        roi_warning: money.warning,
    })
}

/// A spec error, named by the request field that holds the value.
pub(super) fn spec_error(error: ImpactError) -> ApiError {
    let ImpactError::Invalid { field, rule } = error;
    let path = match field {
        "pre_days" | "post_days" | "post_lag_days" | "earlier_pre_days" => format!("windows.{field}"),
        "dose_levels" => "dose.levels".to_string(),
        other => other.to_string(),
    };
    invalid(&path, rule)
}

/// How many statements each read of one analysis may return.
pub(super) struct ReadLimit {
    cap: usize,
}

impl ReadLimit {
    fn new(cap: usize) -> Self {
        Self { cap }
    }

    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    /// The refusal of a read of `what` that matched more than the cap: an analysis of part
    /// of the data would look like one of all of it.
    pub(super) fn exceeded(&self, what: &str) -> ApiError {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "{what}: matched more than {} statements, the most one analysis reads (max_analysis_statements); \
                 narrow the selection (since/until, activity)",
                self.cap
            ),
        )
    }
}

/// Visits the statements matching `terms`, oldest first, in pages, one at a time (none is
/// kept), refusing the read when more than `limit.cap` match.
pub(super) async fn each_statement(
    store: &dyn Store,
    terms: Vec<IndexTerm>,
    what: &str,
    limit: &ReadLimit,
    mut visit: impl FnMut(&Value),
) -> Result<usize, ApiError> {
    let mut seen = 0;
    let mut query = StatementQuery { terms, ascending: true, limit: PAGE.min(limit.cap + 1), ..Default::default() };
    loop {
        let page = store.query_statements(&query).await?;
        for statement in &page.statements {
            if seen == limit.cap {
                return Err(limit.exceeded(what));
            }
            seen += 1;
            visit(&serde_json::from_str(&statement.json).map_err(ApiError::internal)?);
        }
        if !page.more {
            return Ok(seen);
        }
        query.after = page.statements.last().map(|s| s.stored);
    }
}

pub(super) async fn kpi_observations(
    store: &dyn Store,
    kpi: &str,
    limit: &ReadLimit,
) -> Result<Vec<Observation>, ApiError> {
    let terms = vec![IndexTerm::Verb(VERB_MEASURED.into()), IndexTerm::Activity(kpi.into())];
    let mut observations = Vec::new();
    each_statement(store, terms, "the KPI's observations", limit, |statement| {
        if let Some(o) = read_kpi_statement(statement) {
            observations.push(Observation { person: o.actor_key, timestamp_us: o.timestamp_micros, value: o.value });
        }
    })
    .await?;
    Ok(observations)
}

pub(super) async fn kpi_definition(
    store: &dyn Store,
    kpi: &str,
) -> Result<Option<crate::kpi::profile::KpiDefinition>, ApiError> {
    let found = store.find_activity_definitions(&[kpi.to_string()]).await?;
    Ok(found
        .into_iter()
        .next()
        .and_then(|(id, definition)| read_kpi_definition(&json!({"id": id, "definition": definition}))))
}

/// Persons selected, each with their earliest date in the range.
async fn select(
    store: &dyn Store,
    field: &str,
    selection: &Selection,
    limit: &ReadLimit,
) -> Result<BTreeMap<String, Micros>, ApiError> {
    let since = time(&format!("{field}.since"), &selection.since)?.unwrap_or(Micros::MIN);
    let until = time(&format!("{field}.until"), &selection.until)?.unwrap_or(Micros::MAX);
    let mut persons: BTreeMap<String, Micros> = BTreeMap::new();
    let mut keep = |person: String, at: Micros| {
        if (since..=until).contains(&at) {
            let date = persons.entry(person).or_insert(at);
            *date = (*date).min(at);
        }
    };
    if let Some(rule) = &selection.rule {
        let query = InterventionQuery {
            rule: Some(rule.clone()),
            activity: selection.activity.clone(),
            limit: limit.cap + 1,
            ..Default::default()
        };
        let interventions = store.query_interventions(&query).await?;
        if interventions.len() > limit.cap {
            return Err(limit.exceeded(&format!("{field} (the rule's interventions)")));
        }
        for intervention in interventions {
            keep(intervention.actor_id, intervention.recorded);
        }
        return Ok(persons);
    }
    let mut terms: Vec<IndexTerm> = selection.verb.clone().map(IndexTerm::Verb).into_iter().collect();
    terms.extend(selection.activity.clone().map(IndexTerm::Activity));
    if terms.is_empty() {
        return Err(invalid(field, "give a verb and/or an activity, or a rule"));
    }
    each_statement(store, terms, field, limit, |statement| {
        let person = statement.get("actor").and_then(ifi_key);
        let at = statement.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp).map(|t| to_micros(&t));
        if let (Some(person), Some(at)) = (person, at) {
            keep(person, at);
        }
    })
    .await?;
    Ok(persons)
}

/// The comparison persons (their reference date is the common `reference`).
async fn comparison(
    store: &dyn Store,
    request: &ImpactRequest,
    treated: &BTreeMap<String, Micros>,
    observations: &[Observation],
    reference: Micros,
    limit: &ReadLimit,
) -> Result<BTreeSet<String>, ApiError> {
    let unbounded = Selection { since: None, until: None, ..request.treated.clone() };
    let persons = match request.comparison.group {
        ComparisonGroup::NotTreated => {
            let ever = select(store, "treated", &unbounded, limit).await?;
            observations.iter().map(|o| &o.person).filter(|p| !ever.contains_key(*p)).cloned().collect()
        }
        ComparisonGroup::NotYetTreated => {
            let windows = &request.windows;
            let end = reference + i64::from(windows.post_lag_days + windows.post_days) * crate::impact::input::DAY_US;
            let ever = select(store, "treated", &unbounded, limit).await?;
            ever.into_iter()
                .filter(|(person, date)| *date >= end && !treated.contains_key(person))
                .map(|(p, _)| p)
                .collect()
        }
        ComparisonGroup::Query => {
            let selected = select(store, "comparison", &request.comparison.selection, limit).await?;
            selected.into_keys().filter(|p| !treated.contains_key(p)).collect()
        }
    };
    Ok(persons)
}

fn median(mut values: Vec<Micros>) -> Micros {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::{Principal, Scope};
    use crate::service::StatementService;
    use crate::storage::blobs::AttachmentStore;
    use crate::storage::sqlite::{SqliteSettings, SqliteStore};
    use crate::xapi::XapiVersion;

    const VERB: &str = "http://example.com/verbs/attended";

    async fn store_with_attendances(dir: &std::path::Path, count: usize) -> Arc<dyn Store> {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(SqliteSettings::new(dir.join("lrs.db"))).unwrap());
        let blobs = Arc::new(AttachmentStore::open(dir.join("attachments")).unwrap());
        let service = StatementService::new(store.clone(), blobs, 100);
        let principal = Principal::for_account("http://lrs.example.com", "test", vec![Scope::StatementsWrite]);
        let statements: Vec<Value> = (0..count)
            .map(|i| {
                json!({
                    "actor": {"mbox": format!("mailto:learner{i}@example.com")},
                    "verb": {"id": VERB},
                    "object": {"id": "http://example.com/courses/safety"},
                    "timestamp": format!("2026-01-0{}T09:00:00Z", i + 1)
                })
            })
            .collect();
        service
            .store_statements(&principal, XapiVersion::V2_0_0, Value::Array(statements), None, vec![])
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn a_read_past_the_cap_is_refused_naming_it_and_exactly_the_cap_is_read_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_attendances(dir.path(), 3).await;
        let terms = || vec![IndexTerm::Verb(VERB.into())];

        let mut seen = Vec::new();
        let read = each_statement(store.as_ref(), terms(), "treated", &ReadLimit::new(3), |s| {
            seen.push(s["actor"]["mbox"].as_str().unwrap().to_string())
        })
        .await;
        let refused = each_statement(store.as_ref(), terms(), "treated", &ReadLimit::new(2), |_| {}).await;

        assert_eq!(read.unwrap(), 3, "exactly the cap is read whole");
        assert_eq!(seen[0], "mailto:learner0@example.com");
        let error = refused.unwrap_err();
        assert_eq!(error.status(), 413);
        assert!(error.message.starts_with("treated: matched more than 2 statements"), "{}", error.message);
    }
}

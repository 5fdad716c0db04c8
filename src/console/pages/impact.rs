//! Impact: a form over the KPIs, activities, verbs and rules Fluency has seen, which runs
//! the same analysis as `POST /api/impact`; the analysis's page with its charts; and its
//! export as JSON or as the standalone HTML report.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, PreEscaped};
use serde_json::json;

use super::super::guard::{html, refuse, require, secured, see_other, submitted, Form};
use super::super::layout::{count, csrf_field, page};
use super::super::roles::Need;
use super::super::session::Session;
use super::super::Console;
use crate::http::AppState;
use crate::impact::chart::{effect_chart, trend_chart};
use crate::impact::report::RoiSection;
use crate::impact::{render_html, KpiDirection};
use crate::service::impact::{
    run_impact_within, Comparison, ComparisonGroup, ImpactRequest, RoiSpec, Selection, Windows,
};

/// Activities and verbs offered in the form, most frequent first.
const OFFERED: usize = 200;

pub async fn get_impact(request: HttpRequest, console: web::Data<Console>, state: web::Data<AppState>) -> HttpResponse {
    let session = match require(&request, &console, Need::Analyse) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    // Links may preset the form (an initiative's "see its impact").
    let preset: HashMap<String, String> = form_urlencoded::parse(request.query_string().as_bytes())
        .filter(|(name, _)| ["kpi", "treated_rule", "treated_verb", "treated_activity"].contains(&name.as_ref()))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    html(StatusCode::OK, impact_page(&session, &console, &state, &preset, None))
}

fn impact_page(
    session: &Session,
    console: &Console,
    state: &AppState,
    values: &HashMap<String, String>,
    error: Option<&str>,
) -> Markup {
    let analyses = console.analyses.recent();
    page(
        session,
        "/console/impact",
        "Impact",
        html! {
            @if let Some(error) = error {
                p.error role="alert" id="form-error" { (error) }
            }
            (analysis_form(session, console, state, values))
            h2 { "Analyses" }
            @if analyses.is_empty() {
                p { "None yet in this server's life." }
            } @else {
                ul.analyses {
                    @for analysis in &analyses {
                        li { a href={"/console/impact/" (analysis.id)} { (analysis.answer.title) } " · " (analysis.answer.report.headline) }
                    }
                }
            }
        },
    )
}

pub(super) fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    values: &HashMap<String, String>,
    optional: bool,
) -> Markup {
    let chosen = values.get(name).map(String::as_str).unwrap_or_default();
    html! {
        p {
            label for=(name) { (label) }
            select id=(name) name=(name) required[!optional] {
                @if optional { option value="" { "(any)" } }
                @for (value, text) in options {
                    option value=(value) selected[value == chosen] { (text) }
                }
            }
        }
    }
}

fn number(name: &str, label: &str, default: &str, values: &HashMap<String, String>) -> Markup {
    let value = values.get(name).map(String::as_str).unwrap_or(default);
    html! {
        p {
            label for=(name) { (label) }
            input id=(name) name=(name) type="number" min="0" step="any" value=(value);
        }
    }
}

fn analysis_form(session: &Session, console: &Console, state: &AppState, values: &HashMap<String, String>) -> Markup {
    let (kpis, activities, verbs) = console.activity.read(|figures| {
        let kpis: Vec<(String, String)> = figures
            .kpis
            .iter()
            .map(|(id, (name, _))| (id.clone(), name.clone().unwrap_or_else(|| id.clone())))
            .collect();
        let mut activities: Vec<_> =
            figures.activities.iter().filter(|(id, _)| !figures.kpis.contains_key(*id)).collect();
        activities.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
        let activities: Vec<(String, String)> = activities
            .into_iter()
            .take(OFFERED)
            .map(|(id, (name, _))| (id.clone(), name.clone().map_or_else(|| id.clone(), |n| format!("{n} ({id})"))))
            .collect();
        let mut verbs: Vec<_> = figures.verbs.iter().collect();
        verbs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let verbs: Vec<(String, String)> =
            verbs.into_iter().take(OFFERED).map(|(id, _)| (id.clone(), id.clone())).collect();
        (kpis, activities, verbs)
    });
    let rules: Vec<(String, String)> = state
        .rules
        .as_ref()
        .map(|catalog| catalog.list().rules.into_iter().map(|r| (r.name.clone(), r.name)).collect())
        .unwrap_or_default();
    let directions = [
        ("", "As the KPI's definition says"),
        ("higher_is_better", "Higher is better"),
        ("lower_is_better", "Lower is better"),
    ]
    .map(|(v, t)| (v.to_string(), t.to_string()));
    let groups = [("not_treated", "Everyone else with observations"), ("not_yet_treated", "Those treated only later")]
        .map(|(v, t)| (v.to_string(), t.to_string()));
    html! {
        @if kpis.is_empty() {
            p.notice { "No KPI observation is stored yet (see docs/kpi.md, or load the demo with fluency demo load)." }
        }
        form.analysis method="post" action="/console/impact" {
            (csrf_field(session))
            fieldset {
                legend { "What to measure" }
                p {
                    label for="title" { "Title" }
                    input id="title" name="title" type="text" maxlength="200" value=(values.get("title").map(String::as_str).unwrap_or_default());
                }
                (select("kpi", "KPI", &kpis, values, false))
                (select("direction", "Direction", &directions, values, true))
            }
            fieldset {
                legend { "Who was treated" }
                p.hint { "People with a statement of this verb on this activity, or the people a rule nudged; their date is the first." }
                (select("treated_verb", "Verb", &verbs, values, true))
                (select("treated_activity", "Activity", &activities, values, true))
                (select("treated_rule", "Or nudged by rule", &rules, values, true))
                (select("comparison", "Compared with", &groups, values, false))
            }
            fieldset {
                legend { "Windows, in days around each person's date" }
                (number("pre_days", "Before", "28", values))
                (number("post_lag_days", "Settling-in time", "7", values))
                (number("post_days", "After", "42", values))
                (number("earlier_pre_days", "Earlier window for the parallel-trend check (0: none)", "21", values))
            }
            fieldset {
                legend { "Return on investment (optional)" }
                (number("program_cost", "Programme cost", "", values))
                (number("value_per_unit", "Yearly value of one KPI unit per person", "", values))
                p {
                    label for="currency" { "Currency" }
                    input id="currency" name="currency" type="text" maxlength="12" value=(values.get("currency").map(String::as_str).unwrap_or("EUR"));
                }
            }
            p { button type="submit" { "Run the analysis" } }
        }
    }
}

/// The form as an `ImpactRequest`, or the field and rule that is wrong.
fn impact_request(form: &Form) -> Result<ImpactRequest, String> {
    let days = |name: &str, default: u32| -> Result<u32, String> {
        match form.get(name) {
            None => Ok(default),
            Some(text) => text.parse::<u32>().map_err(|_| format!("{name}: must be a whole number of days")),
        }
    };
    let money = |name: &str| -> Result<Option<f64>, String> {
        form.get(name)
            .map(|text| text.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or(format!("{name}: must be a number")))
            .transpose()
    };
    let kpi = form.get("kpi").ok_or("kpi: choose a KPI")?.to_string();
    let direction = match form.get("direction") {
        None => None,
        Some(text) => Some(KpiDirection::parse(text).ok_or("direction: must be higher_is_better or lower_is_better")?),
    };
    let treated = Selection {
        verb: form.get("treated_verb").map(String::from),
        activity: form.get("treated_activity").map(String::from),
        rule: form.get("treated_rule").map(String::from),
        since: None,
        until: None,
    };
    if treated.verb.is_none() && treated.activity.is_none() && treated.rule.is_none() {
        return Err("treated: choose a verb, an activity or a rule".into());
    }
    let group = match form.get("comparison") {
        None | Some("not_treated") => ComparisonGroup::NotTreated,
        Some("not_yet_treated") => ComparisonGroup::NotYetTreated,
        Some(_) => return Err("comparison: must be not_treated or not_yet_treated".into()),
    };
    let earlier = days("earlier_pre_days", 0)?;
    let roi = match (money("program_cost")?, money("value_per_unit")?) {
        (Some(program_cost), Some(value_per_unit)) => Some(RoiSpec {
            program_cost,
            value_per_unit,
            periods: 1.0,
            months_per_period: 12.0,
            currency: form.get("currency").map(String::from),
        }),
        (None, None) => None,
        _ => return Err("roi: give both the programme cost and the value of one unit, or neither".into()),
    };
    Ok(ImpactRequest {
        title: form.get("title").map(String::from),
        kpi,
        direction,
        treated,
        comparison: Comparison { group, selection: Selection::default() },
        windows: Windows {
            pre_days: days("pre_days", 28)?,
            post_days: days("post_days", 42)?,
            post_lag_days: days("post_lag_days", 7)?,
            earlier_pre_days: (earlier > 0).then_some(earlier),
            intervention: None,
        },
        selected_by_kpi: false,
        min_persons_per_group: None,
        roi,
        staggered: None,
        guardrails: Vec::new(),
        secondary: Vec::new(),
        dose: None,
    })
}

pub async fn post_impact(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    let (session, form) = match submitted(&request, &console, payload, Need::Analyse).await {
        Ok(submitted) => submitted,
        Err(answer) => return answer,
    };
    let values: HashMap<String, String> =
        form.fields().filter(|(name, _)| *name != "csrf").map(|(n, v)| (n.to_string(), v.to_string())).collect();
    let wanted = match impact_request(&form) {
        Ok(wanted) => wanted,
        Err(message) => {
            return html(StatusCode::BAD_REQUEST, impact_page(&session, &console, &state, &values, Some(&message)))
        }
    };
    // The analysis is CPU work: a thread of the blocking pool does it, as for the API.
    let store = state.statements.store().clone();
    let most = state.settings.max_analysis_statements;
    let runtime = tokio::runtime::Handle::current();
    let running = wanted.clone();
    let answer = web::block(move || runtime.block_on(run_impact_within(&*store, &running, most))).await;
    let mut answer = match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let status = if status.is_server_error() { status } else { StatusCode::BAD_REQUEST };
            return html(status, impact_page(&session, &console, &state, &values, Some(&error.message)));
        }
        Err(_) => {
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The analysis failed unexpectedly.")
        }
    };
    crate::governance::suppression::suppress_small_groups(&mut answer, state.settings.min_group_size);
    let pseudonyms = state.eraser.erased.pseudonyms();
    let people: Vec<String> = answer.persons.iter().map(|p| pseudonyms.person_label(p)).collect();
    let details = json!({"treated": answer.treated_persons, "comparison": answer.comparison_persons, "people": people});
    if let Err(error) = crate::governance::record(
        &**state.statements.store(),
        &session.viewer.actor,
        "impact.run",
        &wanted.kpi,
        details,
    )
    .await
    {
        tracing::error!(error = %error, "Recording an analysis in the audit log failed.");
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, Some(&session), "The analysis could not be recorded.");
    }
    let id = console.analyses.keep(&session.viewer.name, wanted, answer);
    see_other(&format!("/console/impact/{id}"))
}

pub async fn get_analysis(request: HttpRequest, console: web::Data<Console>, id: web::Path<String>) -> HttpResponse {
    let session = match require(&request, &console, Need::Analyse) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let Some(analysis) = console.analyses.find(&id) else {
        return refuse(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No analysis has this id (they are kept until the server restarts).",
        );
    };
    let answer = &analysis.answer;
    let report = &answer.report;
    let figure = |value: Option<f64>| value.map_or("–".to_string(), |v| format!("{v:.2}"));
    let content = html! {
        p.headline { (report.headline) }
        p { "KPI " (answer.kpi.name.as_deref().unwrap_or(&answer.kpi.id)) " · " (count(answer.kpi.observations as u64)) " observations · run by " (analysis.by) }
        @if !report.warnings.is_empty() {
            h2 { "Before you rely on this" }
            ul { @for warning in &report.warnings { li { (warning.message) } } }
        }
        h2 { "KPI over time" }
        figure.chart { (PreEscaped(trend_chart(report, &answer.trend))) }
        h2 { "Effect" }
        figure.chart { (PreEscaped(effect_chart(report))) }
        table {
            caption { "The groups" }
            thead { tr { th scope="col" { "" } th scope="col" { "Treated" } th scope="col" { "Comparison" } } }
            tbody {
                tr { th scope="row" { "Persons analysed" } td.num { (report.treated.persons_analyzed) } td.num { (report.comparison.persons_analyzed) } }
                tr { th scope="row" { "Mean before" } td.num { (figure(report.treated.pre_mean)) } td.num { (figure(report.comparison.pre_mean)) } }
                tr { th scope="row" { "Mean after" } td.num { (figure(report.treated.post_mean)) } td.num { (figure(report.comparison.post_mean)) } }
                tr { th scope="row" { "Change" } td.num { (figure(report.treated.change)) } td.num { (figure(report.comparison.change)) } }
            }
        }
        @if let Some(roi) = &answer.roi {
            h2 { "Return on investment" }
            dl.figures {
                div { dt { "Net benefits" } dd { (format!("{:.0}", roi.net_benefits)) " " (answer.currency.as_deref().unwrap_or("")) } }
                div { dt { "ROI" } dd { (roi.roi_percent.map_or("–".into(), |p| format!("{p:.0}%"))) } }
            }
        }
        h2 { "Export" }
        ul {
            li { a href={"/console/impact/" (analysis.id) "/export?format=json"} download { "The analysis as JSON" } }
            li { a href={"/console/impact/" (analysis.id) "/export?format=html"} download { "The standalone report (HTML)" } }
        }
    };
    html(StatusCode::OK, page(&session, "/console/impact", &answer.title, content))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
}

pub async fn get_export(
    request: HttpRequest,
    console: web::Data<Console>,
    id: web::Path<String>,
    query: Result<web::Query<ExportQuery>, actix_web::Error>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Analyse) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let Some(analysis) = console.analyses.find(&id) else {
        return refuse(StatusCode::NOT_FOUND, Some(&session), "No analysis has this id.");
    };
    let format = match &query {
        Ok(query) => query.format.as_deref().unwrap_or("json"),
        Err(_) => return refuse(StatusCode::BAD_REQUEST, Some(&session), "format: the only parameter, json or html"),
    };
    let answer = &analysis.answer;
    let (body, content_type, extension) = match format {
        "json" => {
            let body = json!({"request": analysis.request, "answer": answer});
            (serde_json::to_string_pretty(&body).unwrap_or_default(), "application/json", "json")
        }
        "html" => {
            let roi =
                answer.roi.as_ref().map(|roi| RoiSection { roi, currency: answer.currency.as_deref().unwrap_or("") });
            (render_html(&answer.report, &answer.trend, &answer.title, roi), "text/html; charset=utf-8", "html")
        }
        _ => return refuse(StatusCode::BAD_REQUEST, Some(&session), "format: must be json or html"),
    };
    secured(StatusCode::OK)
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"impact-{}.{extension}\"", analysis.id),
        ))
        // The standalone report carries its own inline style.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        ))
        .body(body)
}

//! The transparency report: what Fluency holds and infers about one person, and what each
//! kind of data is used for, as JSON (`GET /api/people/report`) and as a self-contained HTML
//! page (`format=html`). Read through the storage contract and the skills service; called
//! by the HTTP layer.

use std::collections::BTreeMap;

use maud::{html, PreEscaped, DOCTYPE};
use serde::Serialize;
use serde_json::Value;

use super::consent::Consent;
use crate::skills::queries::Profile;
use crate::skills::SkillsService;
use crate::storage::{
    AuditEntry, DocumentKind, DocumentScope, IndexTerm, Intervention, InterventionQuery, PersonRecord, StatementQuery,
    Store, StoreResult,
};
use crate::xapi::time::{format_micros, Micros};

/// Statements read at most to count a person's (a person with more is counted up to here
/// and the report says so).
const MAX_COUNTED: usize = 200_000;
const PAGE: usize = 1_000;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatementCount {
    /// The credential (authority account name) that sent them.
    pub source: String,
    pub verb: String,
    pub statements: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Section<T> {
    /// What this data is used for.
    pub purpose: &'static str,
    pub data: T,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TransparencyReport {
    pub person: String,
    pub at: Micros,
    pub consent: Section<Consent>,
    pub organisation: Section<Option<PersonRecord>>,
    pub statements: Section<Vec<StatementCount>>,
    /// The statement count stopped at `MAX_COUNTED`.
    pub statements_counted_in_part: bool,
    pub agent_profile_documents: Section<Vec<String>>,
    pub interventions: Section<Vec<Intervention>>,
    pub skills: Section<Option<Profile>>,
    pub administrative_actions: Section<Vec<AuditEntry>>,
}

/// Everything held about `person` (an IFI key), at `now`.
pub async fn report(
    store: &dyn Store,
    skills: Option<&SkillsService>,
    consent: Consent,
    person: &str,
    now: Micros,
) -> StoreResult<TransparencyReport> {
    let (statements, in_part) = count_statements(store, person).await?;
    let scope = DocumentScope {
        kind: DocumentKind::AgentProfile,
        activity_id: None,
        agent: Some(person.to_string()),
        registration: None,
    };
    let documents = store.query_document_ids(&scope, None).await?.into_iter().map(|(id, _)| id).collect();
    let query = InterventionQuery { actor_id: Some(person.to_string()), limit: 1000, ..Default::default() };
    let interventions = store.query_interventions(&query).await?;
    let organisation = store.find_people(&[person.to_string()]).await?.into_iter().next();
    let profile = match skills {
        Some(skills) if consent.inference => Some(skills.profile(person, now).await?),
        _ => None,
    };
    let audit = about(store, person).await?;
    Ok(TransparencyReport {
        person: person.to_string(),
        at: now,
        consent: Section { purpose: "Whether skills may be inferred from your statements (and you may be in impact analyses), and whether rules may nudge you.", data: consent },
        organisation: Section { purpose: "Your team, manager and role, as imported by an administrator or named by statements: team skill maps and the targets of your role.", data: organisation },
        statements: Section { purpose: "Learning and work records sent by the systems named as source: kept as the LRS record, read by the tools you use, by rules (nudges) and by skills inference.", data: statements },
        statements_counted_in_part: in_part,
        agent_profile_documents: Section { purpose: "Documents learning tools keep about you (preferences, progress) by id.", data: documents },
        interventions: Section { purpose: "Activities rules asked your LMS to assign to you, and why.", data: interventions },
        skills: Section { purpose: "Skill levels inferred from your statements, each with the statements that moved it: team maps, talent search and role gaps.", data: profile },
        administrative_actions: Section { purpose: "Administrative actions about you (consent changes), from the audit log.", data: audit },
    })
}

/// The person's statements (as actor or group member) by source credential and verb.
async fn count_statements(store: &dyn Store, person: &str) -> StoreResult<(Vec<StatementCount>, bool)> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut query =
        StatementQuery { terms: vec![IndexTerm::Agent(person.to_string())], limit: PAGE, ..Default::default() };
    let mut seen = 0;
    loop {
        let page = store.query_statements(&query).await?;
        for statement in &page.statements {
            let value: Value = serde_json::from_str(&statement.json).unwrap_or_default();
            let source = value["authority"]["account"]["name"].as_str().unwrap_or("unknown").to_string();
            let verb = value["verb"]["id"].as_str().unwrap_or_default().to_string();
            *counts.entry((source, verb)).or_default() += 1;
            seen += 1;
        }
        if !page.more || seen >= MAX_COUNTED {
            let rows =
                counts.into_iter().map(|((source, verb), statements)| StatementCount { source, verb, statements });
            return Ok((rows.collect(), page.more));
        }
        query.after = page.statements.last().map(|s| s.stored);
    }
}

/// Audit entries whose target is the person.
async fn about(store: &dyn Store, person: &str) -> StoreResult<Vec<AuditEntry>> {
    let (mut found, mut after) = (Vec::new(), 0);
    loop {
        let page = store.audit_entries(after, PAGE).await?;
        let Some(last) = page.last().map(|e| e.sequence) else { return Ok(found) };
        found.extend(page.into_iter().filter(|e| e.draft.target == person));
        after = last;
    }
}

/// The report as a page a person can read.
pub fn render_html(report: &TransparencyReport) -> String {
    const STYLE: &str = "body{font-family:system-ui,sans-serif;color:#222;max-width:860px;margin:0 auto;padding:24px}\
table{border-collapse:collapse}th,td{text-align:left;padding:4px 10px;border-bottom:1px solid #ddd}.purpose{color:#444}";
    let yes_no = |allowed: bool| if allowed { "allowed" } else { "you opted out" };
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1";
                title { "What Fluency holds about you" } style { (PreEscaped(STYLE)) } }
            body { main {
                h1 { "What Fluency holds about you" }
                p { (report.person) ", as of " (format_micros(report.at)) }
                h2 { "Your choices" }
                p.purpose { (report.consent.purpose) }
                p { "Skills inference: " (yes_no(report.consent.data.inference)) ". Nudges: " (yes_no(report.consent.data.nudges)) "." }
                h2 { "Your statements" }
                p.purpose { (report.statements.purpose) }
                table { tr { th { "Source" } th { "Verb" } th { "Statements" } }
                    @for row in &report.statements.data { tr { td { (row.source) } td { (row.verb) } td { (row.statements) } } } }
                @if report.statements_counted_in_part { p { "Counted up to " (MAX_COUNTED) " statements." } }
                h2 { "Skills inferred" }
                p.purpose { (report.skills.purpose) }
                @match &report.skills.data {
                    None => p { "None." },
                    Some(profile) => table { tr { th { "Skill" } th { "Level (0 to 5)" } th { "Pieces of evidence" } }
                        @for skill in &profile.skills { tr {
                            td { (skill.estimate.name.clone().unwrap_or_else(|| skill.estimate.skill.clone())) }
                            td { (format!("{:.1} ({:.1} to {:.1})", skill.estimate.level, skill.estimate.level_low, skill.estimate.level_high)) }
                            td { (skill.contributions.len()) } } } },
                }
                h2 { "Assignments rules made" }
                p.purpose { (report.interventions.purpose) }
                ul { @for i in &report.interventions.data { li { (i.activity) ": " (i.reason) } } }
                h2 { "Documents" }
                p.purpose { (report.agent_profile_documents.purpose) }
                ul { @for id in &report.agent_profile_documents.data { li { (id) } } }
            } }
        }
    }
    .into_string()
}

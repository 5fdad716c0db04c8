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
    AgentDocument, AuditEntry, BadgeFilter, BadgeRecord, IndexTerm, Intervention, InterventionQuery,
    MentioningOutboxItem, PersonRecord, RuleStateEntry, StatementQuery, Store, StoreResult,
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
    pub documents: Section<Vec<AgentDocument>>,
    pub interventions: Section<Vec<Intervention>>,
    pub rule_state: Section<Vec<RuleStateEntry>>,
    pub notifications: Section<Vec<MentioningOutboxItem>>,
    pub skills: Section<Option<Profile>>,
    /// Credentials issued to them, revoked ones too.
    pub credentials: Section<Vec<BadgeRecord>>,
    /// The impact analyses they were in (`impact.run` entries of the audit log).
    pub analyses: Section<Vec<AuditEntry>>,
    pub administrative_actions: Section<Vec<AuditEntry>>,
}

/// Everything held about `person` (an IFI key; `needles` are the texts that mark a record
/// as theirs, see `subject`), at `now`.
pub async fn report(
    store: &dyn Store,
    skills: Option<&SkillsService>,
    consent: Consent,
    person: &str,
    needles: &[String],
    audit_label: &str,
    now: Micros,
) -> StoreResult<TransparencyReport> {
    let (statements, in_part) = count_statements(store, person).await?;
    let documents = store.documents_of_agents(&[person.to_string()]).await?;
    let mentioning = store.records_mentioning(needles).await?;
    let query = InterventionQuery { actor_id: Some(person.to_string()), limit: 1000, ..Default::default() };
    let interventions = store.query_interventions(&query).await?;
    let organisation = store.find_people(&[person.to_string()]).await?.into_iter().next();
    let profile = match skills {
        Some(skills) if consent.inference => Some(skills.profile(person, now).await?),
        _ => None,
    };
    let (analyses, audit) = about(store, &[person, audit_label]).await?;
    let filter =
        BadgeFilter { person: Some(person.to_string()), include_revoked: true, limit: 1000, ..Default::default() };
    let credentials = store.query_badges(&filter).await?;
    Ok(TransparencyReport {
        person: person.to_string(),
        at: now,
        consent: Section { purpose: "Whether skills may be inferred from your statements (and you may be in impact analyses), and whether rules may nudge you.", data: consent },
        organisation: Section { purpose: "Your team, manager and role, as imported by an administrator or named by statements: team skill maps and the targets of your role.", data: organisation },
        statements: Section { purpose: "Learning and work records sent by the systems named as source: kept as the LRS record, read by the tools you use, by rules (nudges) and by skills inference.", data: statements },
        statements_counted_in_part: in_part,
        documents: Section { purpose: "Documents learning tools keep about you (preferences, bookmarks, progress): State documents by activity and Agent Profile documents, by id.", data: documents },
        interventions: Section { purpose: "Activities rules asked your LMS to assign to you, and why.", data: interventions },
        rule_state: Section { purpose: "What rules remember about you between statements (counters, last nudge), by rule and key.", data: mentioning.rule_state },
        notifications: Section { purpose: "Notifications, assignments and statements rules queued about you, and whether they were delivered.", data: mentioning.outbox },
        skills: Section { purpose: "Skill levels inferred from your statements, each with the statements that moved it: team maps, talent search and role gaps.", data: profile },
        credentials: Section { purpose: "Micro-credentials (Open Badges) issued to you, which anyone you show them to can verify; revoked ones say so.", data: credentials },
        analyses: Section { purpose: "Impact analyses you were part of (as treated or comparison), from the audit log: group figures, never yours alone.", data: analyses },
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
/// The analyses listing the person, and the entries naming them, by IFI key (entries
/// before pseudonymous names) or label.
async fn about(store: &dyn Store, names: &[&str]) -> StoreResult<(Vec<AuditEntry>, Vec<AuditEntry>)> {
    let (mut analyses, mut actions, mut after) = (Vec::new(), Vec::new(), 0);
    let listed = |entry: &AuditEntry| {
        let people = entry.draft.details.get("people").and_then(Value::as_array);
        people.is_some_and(|people| people.iter().any(|p| p.as_str().is_some_and(|p| names.contains(&p))))
    };
    loop {
        let page = store.audit_entries(after, PAGE).await?;
        let Some(last) = page.last().map(|e| e.sequence) else { return Ok((analyses, actions)) };
        for entry in page {
            if entry.draft.action == "impact.run" && listed(&entry) {
                let mut entry = entry;
                // The other participants are not the reader's business.
                if let Some(details) = entry.draft.details.as_object_mut() {
                    details.remove("people");
                }
                analyses.push(entry);
            } else if names.contains(&entry.draft.target.as_str()) {
                actions.push(entry);
            }
        }
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
                p.purpose { (report.documents.purpose) }
                ul { @for d in &report.documents.data { li { (d.kind) " " (d.id) @if let Some(a) = &d.activity_id { " (" (a) ")" } } } }
                h2 { "What rules remember" }
                p.purpose { (report.rule_state.purpose) }
                ul { @for entry in &report.rule_state.data { li { (entry.rule) ": " (entry.key) } } }
                h2 { "Notifications" }
                p.purpose { (report.notifications.purpose) }
                ul { @for n in &report.notifications.data { li { (n.rule) ": " (n.kind) ", " (n.status) ", " (format_micros(n.created)) } } }
                h2 { "Credentials" }
                p.purpose { (report.credentials.purpose) }
                ul { @for c in &report.credentials.data { li { (c.achievement) ", " (format_micros(c.issued)) @if c.revoked.is_some() { " (revoked)" } } } }
                h2 { "Analyses" }
                p.purpose { (report.analyses.purpose) }
                ul { @for a in &report.analyses.data { li { (a.draft.target) ", " (format_micros(a.draft.at)) } } }
            } }
        }
    }
    .into_string()
}

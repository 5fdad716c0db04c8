//! Retention: the configured policies (`[[governance.retention]]`) delete the statements
//! they select once old enough, on a schedule and on demand, with a dry run that lists what
//! would go. Walks the statements oldest first (voided ones too) up to the oldest cut-off,
//! so a run reads only what some policy could delete.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::RetentionPolicy;
use crate::error::ApiError;
use crate::service::StatementService;
use crate::storage::StoredStatement;
use crate::xapi::time::{now_micros, Micros};

const PAGE: usize = 1_000;
const DAY_MICROS: Micros = 86_400 * 1_000_000;
/// Ids listed per policy in a dry run.
const LISTED: usize = 20;

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PolicyOutcome {
    pub policy: String,
    /// Statements the policy selected (deleted, or that a dry run would delete).
    pub statements: u64,
    /// The first few of them (a dry run only).
    pub examples: Vec<Uuid>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RetentionReport {
    pub dry_run: bool,
    pub at: Micros,
    pub policies: Vec<PolicyOutcome>,
    pub deleted: u64,
    pub attachment_files: u64,
    /// Statements a policy selected but kept as evidence for an active credential.
    pub kept_as_evidence: u64,
}

/// The statements that are evidence for an active credential: each "earned" statement, and
/// the skill evidence of everyone holding one.
async fn credential_evidence(store: &dyn crate::storage::Store) -> Result<HashSet<Uuid>, ApiError> {
    let filter = crate::storage::BadgeFilter { limit: usize::MAX, ..Default::default() };
    let mut evidence = HashSet::new();
    let mut holders = HashSet::new();
    for badge in store.query_badges(&filter).await? {
        evidence.insert(crate::credentials::earned::earned_statement_id(&badge.id));
        holders.insert(badge.person);
    }
    for person in holders {
        for record in store.skill_evidence(&person, None, usize::MAX).await? {
            evidence.insert(record.statement);
        }
    }
    Ok(evidence)
}

/// Whether `policy` selects the statement at `now` (every condition it gives holds).
fn selects(policy: &RetentionPolicy, statement: &Value, stored: Micros, now: Micros) -> bool {
    let old_enough = stored < now - i64::from(policy.older_than_days) * DAY_MICROS;
    let verb = statement.pointer("/verb/id").and_then(Value::as_str);
    let activity = match statement.pointer("/object/objectType").and_then(Value::as_str) {
        None | Some("Activity") => statement.pointer("/object/id").and_then(Value::as_str),
        Some(_) => None,
    };
    let source = statement.pointer("/authority/account/name").and_then(Value::as_str);
    old_enough
        && policy.verb.as_deref().is_none_or(|wanted| verb == Some(wanted))
        && policy.activity_prefix.as_deref().is_none_or(|prefix| activity.is_some_and(|id| id.starts_with(prefix)))
        && policy.source.as_deref().is_none_or(|wanted| source == Some(wanted))
}

/// Runs every policy once; with `dry_run`, deletes nothing and lists what would go.
pub async fn run(
    statements: &Arc<StatementService>,
    policies: &[RetentionPolicy],
    dry_run: bool,
    actor: &str,
) -> Result<RetentionReport, ApiError> {
    run_at(statements, policies, dry_run, actor, now_micros()).await
}

/// `run` as if it were `now` (ages are measured from it).
pub async fn run_at(
    statements: &Arc<StatementService>,
    policies: &[RetentionPolicy],
    dry_run: bool,
    actor: &str,
    now: Micros,
) -> Result<RetentionReport, ApiError> {
    let mut report = RetentionReport { dry_run, at: now, ..Default::default() };
    let mut outcomes: BTreeMap<&str, PolicyOutcome> = policies
        .iter()
        .map(|p| (p.name.as_str(), PolicyOutcome { policy: p.name.clone(), ..Default::default() }))
        .collect();
    let Some(shortest) = policies.iter().map(|p| p.older_than_days).min() else { return Ok(report) };
    let cut_off = now - i64::from(shortest) * DAY_MICROS;
    let store = statements.store();
    let evidence = match policies.iter().all(|p| p.delete_credential_evidence) {
        true => HashSet::new(),
        false => credential_evidence(&**store).await?,
    };
    let mut after = 0;
    loop {
        let page: Vec<StoredStatement> = store.statements_stored_after(after, PAGE).await?;
        let Some(last) = page.last().map(|s| s.stored) else { break };
        let mut doomed = Vec::new();
        for stored in page.iter().take_while(|s| s.stored < cut_off) {
            let value: Value = serde_json::from_str(&stored.json).map_err(ApiError::internal)?;
            let Some(policy) = policies.iter().find(|p| selects(p, &value, stored.stored, now)) else { continue };
            if !policy.delete_credential_evidence && evidence.contains(&stored.id) {
                report.kept_as_evidence += 1;
                continue;
            }
            let outcome = outcomes.get_mut(policy.name.as_str()).expect("every policy has an outcome");
            outcome.statements += 1;
            if dry_run && outcome.examples.len() < LISTED {
                outcome.examples.push(stored.id);
            }
            doomed.push(stored.id);
        }
        if !dry_run && !doomed.is_empty() {
            let deleted = store.delete_statements(&doomed).await?;
            report.deleted += deleted.statements;
            report.attachment_files += statements.remove_unused_attachments(&deleted.attachments).await?;
        }
        if last >= cut_off || page.len() < PAGE {
            break;
        }
        after = last;
    }
    report.policies = outcomes.into_values().collect();
    if !dry_run {
        if report.deleted > 0 {
            store.purge_deleted(false).await?;
        }
        let details = json!({"deleted": report.deleted, "policies": report.policies, "attachment_files": report.attachment_files});
        super::record(&**store, actor, "retention.run", "statements", details).await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetentionPolicy {
        RetentionPolicy {
            name: "p".into(),
            older_than_days: 30,
            verb: Some("http://x/v".into()),
            activity_prefix: Some("https://lms/".into()),
            source: Some("lms".into()),
            delete_credential_evidence: false,
        }
    }

    #[test]
    fn a_policy_selects_only_old_statements_meeting_every_condition() {
        let now = 100 * DAY_MICROS;
        let statement = json!({"verb": {"id": "http://x/v"}, "object": {"id": "https://lms/course"},
            "authority": {"account": {"homePage": "http://lrs", "name": "lms"}}});
        assert!(selects(&policy(), &statement, now - 31 * DAY_MICROS, now));
        assert!(!selects(&policy(), &statement, now - 29 * DAY_MICROS, now), "too young");
        for (pointer, other) in
            [("/verb/id", "http://x/w"), ("/object/id", "https://crm/x"), ("/authority/account/name", "crm")]
        {
            let mut changed = statement.clone();
            *changed.pointer_mut(pointer).unwrap() = json!(other);
            assert!(!selects(&policy(), &changed, 0, now), "{pointer}");
        }
        let open = RetentionPolicy { verb: None, activity_prefix: None, source: None, ..policy() };
        assert!(selects(&open, &json!({"object": {"objectType": "Agent"}}), 0, now));
    }
}

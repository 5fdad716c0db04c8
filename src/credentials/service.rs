//! The badge service: awards (checked against consent and idempotency, signed, stored with
//! their notifications in one commit, recorded as an xAPI statement and in the audit log),
//! revocations, listings, the public documents (credentials, status lists, the DID document)
//! and verification. Called by the HTTP layer, the CLI, the delivery worker (`award`
//! intents) and the stacking runner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde_json::{json, Value};
use uuid::Uuid;

use super::achievement::Achievement;
use super::catalog::AchievementCatalog;
use super::document::{identity_object, CredentialDraft, StatusEntry};
use super::earned::{earned_statement, CREDENTIALS_ACCOUNT};
use super::issuer::Issuer;
use super::status::locate;
use crate::auth::{Principal, Scope};
use crate::governance::ConsentRegistry;
use crate::rules::intent::{Intent, IntentRecord, NotifyMessage};
use crate::service::StatementService;
use crate::skills::Framework;
use crate::storage::{
    BadgeCommit, BadgeFilter, BadgeInsert, BadgeRecord, NewOutboxItem, OutboxKind, RevokeOutcome, Store,
};
use crate::xapi::time::{now_micros, Micros};
use crate::xapi::XapiVersion;

/// Status positions reserved at once: a store write per this many awards. Unused ones (the
/// process ended) stay 0 in their list, like an unrevoked credential's.
const POSITION_BLOCK: u64 = 32;

/// Signed status lists kept (per key and list); beyond it the cache starts over.
pub(super) const MAX_CACHED_LISTS: usize = 256;

/// The `rule` name outbox items of awards carry.
pub const AWARDS_ORIGIN: &str = "credentials";

/// One award to make.
#[derive(Clone, Debug)]
pub struct AwardRequest {
    /// The recipient's IFI key.
    pub person: String,
    pub achievement: String,
    /// Makes the request idempotent: the same key returns the first award. A fresh one
    /// when absent.
    pub award_key: Option<String>,
    /// Who asks (a credential key, `cli`, `rule:<name>`, `stacking`): for the audit log.
    pub actor: String,
}

#[derive(Clone, Debug)]
pub struct Awarded {
    pub badge: BadgeRecord,
    /// False when an earlier award was returned.
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AwardError {
    #[error("achievement: no achievement is defined with id {0:?}")]
    UnknownAchievement(String),
    #[error("agent: {0} opted out of skills inference, so no credential is awarded to them")]
    OptedOut(String),
    #[error("agent: {0}")]
    InvalidPerson(String),
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("id: no credential {0:?}")]
    NotFound(String),
    #[error("id: credential {0:?} was already revoked")]
    AlreadyRevoked(String),
    #[error("reason: {0}")]
    InvalidReason(String),
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

/// A signed status list and the revoked indexes it shows.
pub(super) type SignedList = (Vec<u64>, Arc<Value>);

pub struct BadgeService {
    pub(super) store: Arc<dyn Store>,
    catalog: Arc<AchievementCatalog>,
    pub(super) issuer: Arc<Issuer>,
    consent: Arc<ConsentRegistry>,
    public_url: String,
    notify: Vec<String>,
    statements: Option<Arc<StatementService>>,
    framework: Option<Arc<crate::skills::FrameworkCatalog>>,
    /// Signed status lists by (key, list), with the revoked positions they show.
    pub(super) lists: Mutex<HashMap<(String, u64), SignedList>>,
    /// Status positions reserved and not yet used (left unused when the process ends).
    positions: Mutex<std::ops::Range<u64>>,
    /// How the audit log names holders (never by identifier: see `governance::pseudonym`).
    pseudonyms: Option<crate::governance::pseudonym::Pseudonyms>,
}

impl BadgeService {
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<AchievementCatalog>,
        issuer: Arc<Issuer>,
        consent: Arc<ConsentRegistry>,
        public_url: &str,
    ) -> Self {
        Self {
            store,
            catalog,
            issuer,
            consent,
            public_url: public_url.trim_end_matches('/').to_string(),
            notify: Vec::new(),
            statements: None,
            framework: None,
            lists: Mutex::new(HashMap::new()),
            positions: Mutex::new(0..0),
            pseudonyms: None,
        }
    }

    /// Names holders in the audit log by their pseudonym.
    pub fn naming_people_by(mut self, pseudonyms: crate::governance::pseudonym::Pseudonyms) -> Self {
        self.pseudonyms = Some(pseudonyms);
        self
    }

    /// The holder as the audit log names them.
    fn audit_name(&self, person: &str) -> String {
        match &self.pseudonyms {
            Some(pseudonyms) => pseudonyms.person_label(person),
            None => "person:unnamed".to_string(),
        }
    }

    /// Records each award as an xAPI statement through `statements`.
    pub fn recording_to(mut self, statements: Arc<StatementService>) -> Self {
        self.statements = Some(statements);
        self
    }

    /// Names alignments from, and checks definitions against, the skills framework.
    pub fn aligned_with(mut self, framework: Arc<crate::skills::FrameworkCatalog>) -> Self {
        self.framework = Some(framework);
        self
    }

    /// Tells these delivery targets of every award.
    pub fn notifying(mut self, targets: Vec<String>) -> Self {
        self.notify = targets;
        self
    }

    pub fn catalog(&self) -> &Arc<AchievementCatalog> {
        &self.catalog
    }

    pub fn issuer(&self) -> &Arc<Issuer> {
        &self.issuer
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn framework(&self) -> Option<Arc<Framework>> {
        self.framework.as_ref().map(|catalog| catalog.current())
    }

    pub fn achievement_url(&self, id: &str) -> String {
        format!("{}/api/badges/achievements/{id}", self.public_url)
    }

    pub fn credential_url(&self, id: &str) -> String {
        format!("{}/api/badges/credentials/{id}", self.public_url)
    }

    pub(super) fn status_prefix(&self) -> String {
        format!("{}/api/badges/status/", self.public_url)
    }

    pub fn status_list_url(&self, multikey: &str, list: u64) -> String {
        format!("{}{multikey}/{list}", self.status_prefix())
    }

    /// Checks a definition against the skills framework, then writes it.
    pub fn put_achievement(
        &self,
        id: &str,
        text: &str,
    ) -> Result<Achievement, super::catalog::AchievementCatalogError> {
        if let Some(framework) = self.framework() {
            let parsed = super::achievement::parse_achievement(id, text)?;
            parsed
                .check_skills(&framework)
                .map_err(|message| super::achievement::AchievementError::new(id, format!("alignments: {message}")))?;
        }
        self.catalog.put(id, text)
    }

    /// The Achievement as credentials embed it.
    pub fn achievement_json(&self, achievement: &Achievement) -> Value {
        achievement.to_ob3(&self.achievement_url(&achievement.id), self.framework().as_deref())
    }

    /// Awards a credential, or returns the earlier one the request's key or the
    /// achievement's exclusivity points to.
    pub async fn award(&self, request: AwardRequest) -> Result<Awarded, AwardError> {
        let achievement = self
            .catalog
            .get(&request.achievement)
            .ok_or_else(|| AwardError::UnknownAchievement(request.achievement.clone()))?;
        if crate::skills::events::agent_of(&request.person).is_none() {
            return Err(AwardError::InvalidPerson(format!("{:?} is not an agent's key", request.person)));
        }
        if !self.consent.infers(&request.person) {
            return Err(AwardError::OptedOut(request.person.clone()));
        }
        let award_key = request.award_key.clone().unwrap_or_else(|| format!("request:{}", Uuid::new_v4()));
        if let Some(existing) = self.store.find_badge_by_award(&award_key).await.context("finding an award")? {
            self.record_earned(&existing, &achievement).await;
            return Ok(Awarded { badge: existing, created: false });
        }
        if !achievement.repeatable {
            if let Some(held) = self.held(&request.person, &achievement.id).await? {
                return Ok(Awarded { badge: held, created: false });
            }
        }
        let position = self.next_position().await?;
        let badge = self.issue(&request.person, &achievement, position, award_key).await?;
        let commit = BadgeCommit {
            outbox: self.notifications(&badge, &achievement),
            badge: badge.clone(),
            exclusive: !achievement.repeatable,
        };
        let (badge, created) = match self.store.insert_badge(commit).await.context("storing the credential")? {
            BadgeInsert::Inserted => (badge, true),
            BadgeInsert::Existing(existing) => (*existing, false),
        };
        if created {
            let details = json!({"person": self.audit_name(&badge.person), "achievement": badge.achievement, "award_key": badge.award_key});
            crate::governance::record(&*self.store, &request.actor, "badges.award", &badge.id, details)
                .await
                .context("recording the award in the audit log")?;
        }
        self.record_earned(&badge, &achievement).await;
        Ok(Awarded { badge, created })
    }

    /// A fresh status position, from a block reserved ahead (one store write per block).
    async fn next_position(&self) -> anyhow::Result<u64> {
        {
            let mut block = self.positions.lock().expect("positions lock");
            if let Some(position) = block.next() {
                return Ok(position);
            }
        }
        let first = self.store.reserve_badge_status(POSITION_BLOCK).await.context("reserving status positions")?;
        let mut block = self.positions.lock().expect("positions lock");
        *block = first + 1..first + POSITION_BLOCK;
        Ok(first)
    }

    async fn held(&self, person: &str, achievement: &str) -> anyhow::Result<Option<BadgeRecord>> {
        let filter = BadgeFilter {
            person: Some(person.into()),
            achievement: Some(achievement.into()),
            include_revoked: false,
            limit: 1,
        };
        Ok(self.store.query_badges(&filter).await.context("finding a held credential")?.into_iter().next())
    }

    /// Builds and signs the credential (off the async threads: signing canonicalises).
    async fn issue(
        &self,
        person: &str,
        achievement: &Achievement,
        position: u64,
        award_key: String,
    ) -> anyhow::Result<BadgeRecord> {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let issued = now_micros();
        let key = self.issuer.current_key()?;
        let (list, index) = locate(position);
        let status = StatusEntry { list_url: self.status_list_url(key.multikey(), list), index };
        let valid_from = xsd_seconds(issued);
        let valid_until = achievement.valid_for_days.map(|days| xsd_seconds(issued + i64::from(days) * 86_400_000_000));
        let salt = hex::encode(rand::random::<[u8; 8]>());
        let url = self.credential_url(&id);
        let document = CredentialDraft {
            id: &url,
            issuer: &self.issuer.profile(&key),
            achievement: self.achievement_json(achievement),
            recipient: identity_object(person, &salt),
            valid_from: &valid_from,
            valid_until: valid_until.as_deref(),
            status: Some(&status),
        }
        .to_json();
        let issuer = self.issuer.clone();
        let signed = tokio::task::spawn_blocking(move || issuer.sign(document, &key, &valid_from))
            .await
            .context("signing the credential")??;
        Ok(BadgeRecord {
            id,
            person: person.to_string(),
            achievement: achievement.id.clone(),
            status_index: position,
            issued,
            award_key,
            revoked: None,
            revocation_reason: None,
            document: Value::Object(signed),
        })
    }

    fn notifications(&self, badge: &BadgeRecord, achievement: &Achievement) -> Vec<NewOutboxItem> {
        let name = crate::skills::events::agent_of(&badge.person)
            .and_then(|agent| agent.get("name").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| badge.person.clone());
        let text = format!("{name} earned \"{}\": {}", achievement.name, self.credential_url(&badge.id));
        let trigger = crate::credentials::earned::earned_statement_id(&badge.id);
        self.notify
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let key = crate::rules::intent::idempotency_key(AWARDS_ORIGIN, &badge.id, trigger, index);
                let record = IntentRecord {
                    key: key.clone(),
                    rule: AWARDS_ORIGIN.into(),
                    rule_version: badge.id.clone(),
                    trigger,
                    index,
                    intent: Intent::Notify {
                        target: target.clone(),
                        message: NotifyMessage::Text { text: text.clone() },
                    },
                };
                NewOutboxItem {
                    key,
                    rule: AWARDS_ORIGIN.into(),
                    trigger,
                    kind: OutboxKind::Notify,
                    target: Some(target.clone()),
                    intent: serde_json::to_value(record).expect("intents serialise"),
                    created: badge.issued,
                }
            })
            .collect()
    }

    /// Stores the "earned" statement; a failure is logged (the award stands, and a repeated
    /// request sends it again).
    async fn record_earned(&self, badge: &BadgeRecord, achievement: &Achievement) {
        let Some(statements) = &self.statements else { return };
        let Some(statement) = earned_statement(
            &badge.person,
            &self.achievement_url(&achievement.id),
            &achievement.name,
            &badge.id,
            &self.credential_url(&badge.id),
            badge.issued,
        ) else {
            return;
        };
        let principal = Principal::for_account(&self.public_url, CREDENTIALS_ACCOUNT, vec![Scope::StatementsWrite]);
        if let Err(error) =
            statements.store_statements(&principal, XapiVersion::V2_0_0, statement, None, Vec::new()).await
        {
            tracing::error!(credential = badge.id, error = %error, "Recording an earned statement failed.");
        }
    }

    /// Revokes a credential; its bit is set in the status list served from now on.
    pub async fn revoke(&self, id: &str, reason: &str, actor: &str) -> Result<BadgeRecord, RevokeError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(RevokeError::InvalidReason("must be non-empty text of at most 1000 characters".into()));
        }
        match self.store.revoke_badge(id, now_micros(), reason).await.context("revoking")? {
            RevokeOutcome::NotFound => Err(RevokeError::NotFound(id.into())),
            RevokeOutcome::AlreadyRevoked(_) => Err(RevokeError::AlreadyRevoked(id.into())),
            RevokeOutcome::Revoked(badge) => {
                let details = json!({"person": self.audit_name(&badge.person), "achievement": badge.achievement, "reason": reason});
                crate::governance::record(&*self.store, actor, "badges.revoke", id, details)
                    .await
                    .context("recording the revocation in the audit log")?;
                Ok(*badge)
            }
        }
    }

    /// The credential with this id; `None` too for one whose holder was erased (its row
    /// keeps only its revoked place in the status list).
    pub async fn find(&self, id: &str) -> anyhow::Result<Option<BadgeRecord>> {
        Ok(self.store.find_badge(id).await?.filter(|badge| !badge.person.is_empty()))
    }

    pub async fn list(&self, filter: &BadgeFilter) -> anyhow::Result<Vec<BadgeRecord>> {
        Ok(self.store.query_badges(filter).await?)
    }
}

/// An xsd:dateTime to the second, UTC.
pub fn xsd_seconds(micros: Micros) -> String {
    let seconds = micros.div_euclid(1_000_000);
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `award` intents, delivered from the outbox: the intent's key is the award key, so a
/// retried delivery issues nothing new.
#[async_trait::async_trait]
impl crate::delivery::Awarder for BadgeService {
    async fn award(
        &self,
        person: &str,
        achievement: &str,
        key: &str,
        rule: &str,
    ) -> Result<(), crate::delivery::EmitError> {
        use crate::delivery::EmitError;
        let request = AwardRequest {
            person: person.to_string(),
            achievement: achievement.to_string(),
            award_key: Some(format!("intent:{key}")),
            actor: format!("rule:{rule}"),
        };
        match BadgeService::award(self, request).await {
            Ok(_) => Ok(()),
            Err(AwardError::Backend(error)) => Err(EmitError::Retryable(format!("{error:#}"))),
            Err(error) => Err(EmitError::Permanent(error.to_string())),
        }
    }
}

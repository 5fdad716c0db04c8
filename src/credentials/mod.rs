//! Credentials: Open Badges 3.0 micro-credentials that any standard verifier accepts. This
//! module owns achievements (definitions under `<data_dir>/achievements/`, `achievement`,
//! `catalog`), issuing (`service`), the credential document (`document`), its Data Integrity
//! proof (`proof`: `canon` canonicalises with the bundled `contexts`, `keys` signs), the
//! issuer's DIDs (`issuer`), revocation (`status`), verification (`verify`), the xAPI record
//! of an award (`earned`), baked SVG images (`baking`), automatic awards (`stacking`) and
//! what anyone may ask without credentials (`public`: status lists, verification).
//!
//! An award's way through it: a request (admin API, CLI, a rule's `award` intent through the
//! outbox, or `stacking` when a person's skill levels or held achievements meet a stack's
//! requirements) reaches `BadgeService::award`, which checks consent and idempotency,
//! reserves a status list position, builds and signs the credential, stores it with its
//! notifications in one commit, records "earned" in the LRS and the award in the audit log.
//! Revocation sets the credential's bit; the status list is signed anew when next fetched.

pub mod achievement;
pub mod baking;
pub mod canon;
pub mod catalog;
pub mod contexts;
pub mod document;
pub mod earned;
pub mod issuer;
pub mod keys;
pub mod proof;
pub mod public;
pub mod service;
pub mod stacking;
pub mod status;
pub mod verify;

use serde::Serialize;
use serde_json::Value;

use crate::storage::BadgeRecord;
use crate::xapi::time::format_micros;

/// An issued credential as the admin API and CLI show it.
#[derive(Clone, Debug, Serialize)]
pub struct BadgeView {
    pub id: String,
    pub url: String,
    pub svg_url: String,
    pub person: String,
    pub achievement: String,
    pub issued: String,
    pub revoked: Option<String>,
    pub revocation_reason: Option<String>,
    pub credential: Value,
}

impl BadgeView {
    pub fn of(badge: &BadgeRecord, service: &service::BadgeService) -> Self {
        let url = service.credential_url(&badge.id);
        Self {
            id: badge.id.clone(),
            svg_url: format!("{url}/badge.svg"),
            url,
            person: badge.person.clone(),
            achievement: badge.achievement.clone(),
            issued: format_micros(badge.issued),
            revoked: badge.revoked.map(format_micros),
            revocation_reason: badge.revocation_reason.clone(),
            credential: badge.document.clone(),
        }
    }
}

/// Opens the achievements, the issuer keys and the badge service of a data directory, for
/// the server and the CLI alike.
pub fn open_service(
    settings: &crate::config::Settings,
    store: std::sync::Arc<dyn crate::storage::Store>,
    consent: std::sync::Arc<crate::governance::ConsentRegistry>,
) -> anyhow::Result<service::BadgeService> {
    let catalog = catalog::AchievementCatalog::open(settings.data_dir.join("achievements"))
        .map_err(|e| anyhow::anyhow!("achievements: {e}"))?;
    let ring = keys::KeyRing::new(settings.data_dir.join("credentials").join("keys"));
    let issuer = issuer::Issuer::new(ring, &settings.credentials, &settings.public_url)?;
    issuer.current_key()?;
    Ok(service::BadgeService::new(
        store,
        std::sync::Arc::new(catalog),
        std::sync::Arc::new(issuer),
        consent,
        &settings.public_url,
    )
    .notifying(settings.credentials.notify.clone())
    .naming_people_by(crate::governance::pseudonym::Pseudonyms::from_data_dir(&settings.data_dir)?))
}

/// Reloads the achievements whenever their files change on disk.
pub async fn watch_achievements(
    catalog: std::sync::Arc<catalog::AchievementCatalog>,
    every: std::time::Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopping.changed() => return,
        }
        let checked = catalog.clone();
        match tokio::task::spawn_blocking(move || checked.reload_if_changed()).await {
            Ok(Err(error)) => {
                tracing::error!(error = %error, "Reloading the achievements failed; the previous ones stay.")
            }
            Err(error) => tracing::error!(error = %error, "Reloading the achievements panicked."),
            Ok(Ok(_)) => {}
        }
    }
}

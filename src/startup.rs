//! Builds the `Application`: opens the store, makes sure an administrator credential
//! exists, and binds the HTTP server, reporting the real port, so tests run the very same
//! application as production on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::auth::{ensure_admin_credential, Authenticator, NewCredential};
use crate::config::Settings;
use crate::credentials::service::BadgeService;
use crate::delivery::{DeliveryWorker, Targets};
use crate::governance::erased::ErasedIdentities;
use crate::governance::erasure::Eraser;
use crate::governance::pseudonym::Pseudonyms;
use crate::governance::ConsentRegistry;
use crate::http::{self, AppState, CursorSealer};
use crate::metrics::Metrics;
use crate::service::rules::{LrsEmitter, RuleCatalog, RuleRunner, RuleScheduler, RunnerSettings, StoreOutbox};
use crate::service::{DocumentService, StatementService};
use crate::skills::{FrameworkCatalog, SkillMap, SkillsRunner, SkillsService};
use crate::storage::blobs::AttachmentStore;
use crate::storage::sqlite::{SqliteSettings, SqliteStore};
use crate::storage::Store;

pub struct Application {
    port: u16,
    server: Server,
    statements: Arc<StatementService>,
    created_admin: Option<NewCredential>,
    /// Turned true when the server stops: background tasks finish their step and end.
    shutdown: watch::Sender<bool>,
    /// The background tasks (rules runner, scheduler, delivery, reloading), awaited at
    /// shutdown for at most `BACKGROUND_GRACE`.
    background: Vec<JoinHandle<()>>,
}

/// How long in-flight requests may take to finish once a stop was asked for (SIGTERM).
const REQUEST_GRACE: Duration = Duration::from_secs(10);
/// How long background tasks may take to finish their step after the HTTP server stopped.
/// Whatever a rule is doing, the server does not wait longer: work not yet committed is
/// redone after the restart (intents are keyed, so nothing is queued twice).
const BACKGROUND_GRACE: Duration = Duration::from_secs(3);

/// Opens the embedded store under the data directory, alone (see `SqliteSettings::exclusive`).
pub fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    open_store_with(settings, true)
}

/// Opens the embedded store beside a server that may be running (credential commands).
pub fn open_store_shared(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    open_store_with(settings, false)
}

/// The statement service over `store`, with the attachments of the data directory.
pub fn open_statement_service(settings: &Settings, store: Arc<dyn Store>) -> anyhow::Result<StatementService> {
    let blobs = Arc::new(AttachmentStore::open(settings.data_dir.join("attachments"))?);
    Ok(StatementService::new(store, blobs, settings.max_page_size))
}

fn open_store_with(settings: &Settings, exclusive: bool) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
    let mut sqlite = SqliteSettings::new(settings.database_path());
    sqlite.read_pool_size = settings.read_pool_size;
    sqlite.exclusive = exclusive;
    let store = SqliteStore::open(sqlite).context("opening the embedded store")?;
    Ok(Arc::new(store))
}

impl Application {
    /// `admin` is the configured administrator key and secret, if any.
    pub async fn build(settings: Settings, admin: Option<(String, String)>) -> anyhow::Result<Self> {
        let store = open_store(&settings)?;
        let created_admin = ensure_admin_credential(&store, admin).await?;
        let listener = TcpListener::bind(settings.bind).with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let metrics = Arc::new(Metrics::new());
        let erased = open_erased(&settings, &store).await?;
        let statements = Arc::new(
            open_statement_service(&settings, store.clone())?
                .counting_into(metrics.statements_stored.clone())
                .guarding_erased(erased.clone()),
        );
        let (shutdown, stopping) = watch::channel(false);
        let mut background = Vec::new();
        let consent = ConsentRegistry::load(&*store).await.context("loading people's consent")?;
        let skills = start_skills(&settings, &store, &statements, &metrics, &consent, stopping.clone())?;
        let badges =
            start_credentials(&settings, &store, &statements, &skills, &consent, stopping.clone(), &mut background)?;
        let (rules, outbox_ready) = match settings.rules.enabled {
            true => {
                let outbox_ready = start_delivery(
                    &settings,
                    &store,
                    (&statements, &badges),
                    &metrics,
                    stopping.clone(),
                    &mut background,
                )?;
                let catalog = start_rules(
                    &settings,
                    &statements,
                    &metrics,
                    &outbox_ready,
                    (&skills, &consent),
                    stopping.clone(),
                    &mut background,
                )?;
                (Some(catalog), outbox_ready)
            }
            false => (None, Arc::new(Notify::new())),
        };
        let restart_inference = {
            let skills = skills.clone();
            Box::new(move || skills.catalog().request_rebuild()) as Box<dyn Fn() + Send + Sync>
        };
        let eraser = Arc::new(Eraser {
            statements: statements.clone(),
            consent: consent.clone(),
            erased,
            restart_inference: Some(restart_inference),
            rules_running: rules.is_some(),
        });
        background.push(tokio::spawn(resume_erasures(eraser.clone())));
        if settings.governance.retention_interval_hours > 0 && !settings.governance.retention.is_empty() {
            let every = Duration::from_secs(settings.governance.retention_interval_hours * 3600);
            let policies = settings.governance.retention.clone();
            background.push(tokio::spawn(run_retention(statements.clone(), policies, every, stopping.clone())));
        }
        let reloading = watch_consent(store.clone(), consent.clone(), skills.clone(), stopping.clone());
        background.push(tokio::spawn(reloading));
        let stored = metrics.statements_stored.clone();
        let console = crate::console::start(&settings, &statements, stored, stopping.clone(), &mut background)?;
        let state = web::Data::new(AppState {
            auth: Authenticator::new(store.clone(), settings.public_url.clone(), settings.auth_failures_per_minute),
            statements: statements.clone(),
            documents: DocumentService::new(store.clone()),
            cursors: CursorSealer::from_data_dir(&settings.data_dir)?,
            rules,
            skills: Some(skills),
            badges: Some(badges),
            consent,
            eraser,
            metrics,
            outbox_ready,
            settings,
        });
        let server = HttpServer::new(move || {
            App::new().wrap(http::cors(&state.settings)).configure(|config| {
                if let Some(console) = &console {
                    crate::console::configure(config, console.clone());
                }
                http::configure(config, state.clone())
            })
        })
        .shutdown_timeout(REQUEST_GRACE.as_secs())
        .listen(listener)?
        .run();
        Ok(Self { port, server, statements, created_admin, shutdown, background })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the HTTP server (as SIGTERM does), e.g. to restart in tests.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The statement service, e.g. to subscribe to stored statements.
    pub fn statements(&self) -> Arc<StatementService> {
        self.statements.clone()
    }

    /// The administrator credential made by this start, to show once.
    pub fn created_admin(&self) -> Option<&NewCredential> {
        self.created_admin.as_ref()
    }

    /// Serves until stopped (SIGTERM, SIGINT), then gives the background tasks
    /// `BACKGROUND_GRACE` to finish their step. A task still busy then (a rule run cannot be
    /// awaited from here) is left behind: the caller ends the process without waiting for it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.shutdown.send_replace(true);
        let finished = futures_util::future::join_all(self.background);
        if tokio::time::timeout(BACKGROUND_GRACE, finished).await.is_err() {
            tracing::warn!(
                grace_s = BACKGROUND_GRACE.as_secs(),
                "Background work did not finish in time; stopping anyway."
            );
        }
        result
    }
}

/// The tombstones of everyone erased, under the data directory's pseudonym key.
pub async fn open_erased(settings: &Settings, store: &Arc<dyn Store>) -> anyhow::Result<Arc<ErasedIdentities>> {
    let pseudonyms = Pseudonyms::from_data_dir(&settings.data_dir)?;
    Ok(ErasedIdentities::load(&**store, pseudonyms, settings.governance.erased_replays).await?)
}

/// Completes erasures a crash interrupted; retried at the next start if this fails too.
async fn resume_erasures(eraser: Arc<Eraser>) {
    match eraser.resume_pending().await {
        Ok(done) if done.is_empty() => {}
        Ok(done) => tracing::info!(erasures = done.len(), "Completed interrupted erasures."),
        Err(error) => {
            tracing::error!(error = %error, "Completing an interrupted erasure failed; the next start retries.")
        }
    }
}

/// Starts the delivery worker on the store's outbox; returns its wake-up signal.
fn start_delivery(
    settings: &Settings,
    store: &Arc<dyn Store>,
    (statements, badges): (&Arc<StatementService>, &Arc<BadgeService>),
    metrics: &Arc<Metrics>,
    stopping: watch::Receiver<bool>,
    background: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<Arc<Notify>> {
    let targets = Targets::parse(&settings.targets).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (policy, worker_settings) = settings.delivery.build(&targets).map_err(anyhow::Error::msg)?;
    let outbox = Arc::new(StoreOutbox::new(store.clone()));
    let emitter = Arc::new(LrsEmitter::new(statements.clone(), settings.public_url.clone()));
    let worker = DeliveryWorker::new(outbox, emitter, targets, policy, worker_settings)?.awarding_with(badges.clone());
    metrics.follow_delivery(worker.stats());
    let waker = worker.waker();
    background.push(tokio::spawn(worker.run(stopping)));
    Ok(waker)
}

/// Opens the badge service and starts automatic awards and the achievements' reloading.
fn start_credentials(
    settings: &Settings,
    store: &Arc<dyn Store>,
    statements: &Arc<StatementService>,
    skills: &Arc<SkillsService>,
    consent: &Arc<ConsentRegistry>,
    stopping: watch::Receiver<bool>,
    background: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<Arc<BadgeService>> {
    let service = crate::credentials::open_service(settings, store.clone(), consent.clone())?
        .recording_to(statements.clone())
        .aligned_with(skills.catalog().clone());
    let service = Arc::new(service);
    let position = settings.data_dir.join("credentials").join("position");
    let runner = crate::credentials::stacking::StackingRunner::new(service.clone(), position);
    background.push(tokio::spawn(runner.run(statements.watch_committed(), stopping.clone())));
    if settings.credentials.reload_seconds > 0 {
        let every = Duration::from_secs(settings.credentials.reload_seconds);
        background.push(tokio::spawn(crate::credentials::watch_achievements(
            service.catalog().clone(),
            every,
            stopping,
        )));
    }
    Ok(service)
}

/// Statements folded into the skills map per commit.
const SKILLS_BATCH: usize = 1000;

/// Loads the skills framework and starts inference on the statement stream.
fn start_skills(
    settings: &Settings,
    store: &Arc<dyn Store>,
    statements: &Arc<StatementService>,
    metrics: &Metrics,
    consent: &Arc<ConsentRegistry>,
    stopping: watch::Receiver<bool>,
) -> anyhow::Result<Arc<SkillsService>> {
    let catalog = Arc::new(
        FrameworkCatalog::open(settings.data_dir.join("skills"))
            .map_err(|e| anyhow::anyhow!("skills framework: {e}"))?,
    );
    let map = Arc::new(std::sync::RwLock::new(SkillMap::default()));
    let runner = SkillsRunner::new(store.clone(), catalog.clone(), map.clone(), SKILLS_BATCH)
        .deferring_to(metrics.statements_stored.clone())
        .announcing_to(statements.clone(), &settings.public_url)
        .honouring(consent.clone());
    tokio::spawn(runner.run(statements.watch_committed(), stopping));
    Ok(Arc::new(SkillsService::new(catalog, map, store.clone()).suppressing_below(settings.min_group_size)))
}

/// Loads the rules and starts their runner and, when configured, the directory watcher.
fn start_rules(
    settings: &Settings,
    statements: &StatementService,
    metrics: &Arc<Metrics>,
    outbox_ready: &Arc<Notify>,
    (skills, consent): (&Arc<SkillsService>, &Arc<ConsentRegistry>),
    stopping: watch::Receiver<bool>,
    background: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<Arc<RuleCatalog>> {
    let store = statements.store();
    let catalog = Arc::new(RuleCatalog::open(settings.rules_dir(), settings.rules.engine())?);
    let runner_settings = RunnerSettings {
        batch_size: settings.rules.batch_size,
        assign_target: settings.delivery.assign_target.clone(),
        in_flight: Some(settings.data_dir.join("rules-inflight.json")),
    };
    let runner =
        RuleRunner::new(store.clone(), catalog.clone(), metrics.clone(), runner_settings, outbox_ready.clone())
            .with_skills(skills.clone())
            .with_consent(consent.clone());
    background.push(tokio::spawn(runner.run(statements.watch_committed(), stopping.clone())));
    let scheduler = RuleScheduler::new(
        store.clone(),
        catalog.clone(),
        metrics.clone(),
        settings.delivery.assign_target.clone(),
        outbox_ready.clone(),
    );
    background.push(tokio::spawn(scheduler.run(stopping.clone())));
    if settings.rules.reload_seconds > 0 {
        let every = Duration::from_secs(settings.rules.reload_seconds);
        background.push(tokio::spawn(watch_rules_dir(catalog.clone(), every, stopping)));
    }
    Ok(catalog)
}

/// Reloads the rules whenever their files change on disk.
/// Runs the retention policies every `every`, the first time one interval after the start.
async fn run_retention(
    statements: Arc<StatementService>,
    policies: Vec<crate::config::RetentionPolicy>,
    every: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopping.changed() => return,
        }
        match crate::governance::retention::run(&statements, &policies, false, "fluency:retention").await {
            Ok(report) => tracing::info!(deleted = report.deleted, "Ran the retention policies."),
            Err(error) => tracing::error!(error = %error, "A retention run failed; the next one retries."),
        }
    }
}

/// How often consent is read again from the store (the CLI may change it beside the server).
const CONSENT_RELOAD: Duration = Duration::from_secs(2);

async fn watch_consent(
    store: Arc<dyn Store>,
    consent: Arc<ConsentRegistry>,
    skills: Arc<SkillsService>,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CONSENT_RELOAD) => {}
            _ = stopping.changed() => return,
        }
        match consent.reload(&*store).await {
            Ok(true) => skills.catalog().request_rebuild(),
            Ok(false) => {}
            Err(error) => tracing::warn!(error = %error, "Reading consent again failed; the next check retries."),
        }
    }
}

async fn watch_rules_dir(catalog: Arc<RuleCatalog>, every: Duration, mut stopping: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopping.changed() => return,
        }
        let checked = catalog.clone();
        match tokio::task::spawn_blocking(move || checked.reload_if_changed()).await {
            Ok(Err(error)) => tracing::error!(error = %error, "Reloading the rules failed; the previous rules stay."),
            Err(error) => tracing::error!(error = %error, "Reloading the rules panicked."),
            Ok(Ok(_)) => {}
        }
    }
}

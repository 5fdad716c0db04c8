//! `TestApp`: the production `Application` on port 0 with a fresh data directory, and a
//! method per endpoint so tests read like the API.

use base64::Engine;
use fluency::config::{Settings, SettingsLayer};
use fluency::startup::Application;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

pub const ADMIN_KEY: &str = "test-admin";
pub const ADMIN_SECRET: &str = "test-admin-secret";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub version: &'static str,
    pub data_dir: tempfile::TempDir,
    pub statements: std::sync::Arc<fluency::service::StatementService>,
    settings: Settings,
    server: actix_web::dev::ServerHandle,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub fn basic(key: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")))
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let layer = SettingsLayer {
            bind: Some("127.0.0.1:0".into()),
            data_dir: Some(data_dir.path().to_path_buf()),
            log: Some("warn".into()),
            ..Default::default()
        };
        let mut settings = Settings::resolve([layer]).expect("test settings");
        adjust(&mut settings);
        Self::start(settings, data_dir).await
    }

    async fn start(settings: Settings, data_dir: tempfile::TempDir) -> Self {
        let application = Application::build(settings.clone(), Some((ADMIN_KEY.into(), ADMIN_SECRET.into())))
            .await
            .unwrap_or_else(|error| panic!("application builds: {error:#}"));
        Self::serve(application, settings, data_dir)
    }

    fn serve(application: Application, settings: Settings, data_dir: tempfile::TempDir) -> Self {
        let address = format!("http://127.0.0.1:{}", application.port());
        let statements = application.statements();
        let server = application.handle();
        let running = tokio::spawn(application.run_until_stopped());
        Self {
            address,
            client: reqwest::Client::new(),
            version: "1.0.3",
            data_dir,
            statements,
            settings,
            server,
            running,
        }
    }

    /// Stops the server as SIGTERM would and starts it again on the same data directory.
    pub async fn restart(self) -> Self {
        self.restart_with(|| {}).await
    }

    /// Stops the server, runs `while_stopped` (e.g. to change files in the data
    /// directory), then starts it again on the same data directory.
    pub async fn restart_with(self, while_stopped: impl FnOnce()) -> Self {
        self.server.stop(true).await;
        self.running.await.expect("the server task ends").expect("the server stops cleanly");
        drop(self.statements);
        while_stopped();
        // The HTTP workers drop their share of the store on their own threads, a moment
        // after the server has stopped; until then the store is still open (exclusively).
        let admin = || Some((ADMIN_KEY.to_string(), ADMIN_SECRET.to_string()));
        let mut attempts = 0;
        loop {
            match Application::build(self.settings.clone(), admin()).await {
                Ok(application) => return Self::serve(application, self.settings, self.data_dir),
                Err(error) if attempts == 50 => panic!("the application builds again: {error:#}"),
                Err(_) => attempts += 1,
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub fn with_version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/xapi/{}", self.address, path.trim_start_matches('/'))
    }

    /// A request with the admin credential and the current version header.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
            .header("X-Experience-API-Version", self.version)
    }

    pub async fn post_statements(&self, body: &Value) -> Response {
        self.request(Method::POST, "statements").json(body).send().await.expect("request sent")
    }

    pub async fn put_statement(&self, id: &str, body: &Value) -> Response {
        self.request(Method::PUT, "statements")
            .query(&[("statementId", id)])
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_statements(&self, query: &[(&str, &str)]) -> Response {
        self.request(Method::GET, "statements").query(query).send().await.expect("request sent")
    }

    /// `stored` of the newest statement (microseconds), `None` when there is none.
    // Used by the test binaries that wait for background work, not by this one's.
    #[allow(dead_code)]
    pub async fn newest_stored(&self) -> Option<i64> {
        let page: Value = self.get_statements(&[("limit", "1")]).await.json().await.expect("a statement page");
        let stored = page["statements"][0]["stored"].as_str()?;
        Some(fluency::xapi::time::to_micros(
            &fluency::xapi::time::parse_timestamp(stored).expect("stored is a timestamp"),
        ))
    }

    pub async fn get_statement(&self, id: &str) -> Response {
        self.get_statements(&[("statementId", id)]).await
    }

    /// A request to Fluency's own API (`/api/...`) with the admin credential.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}/api/{}", self.address, path.trim_start_matches('/')))
            .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
    }

    /// GETs an `/api` path and returns its JSON, failing on any status but 200.
    pub async fn api_json(&self, path: &str) -> Value {
        let response = self.api(Method::GET, path).send().await.expect("request sent");
        assert_eq!(response.status(), 200, "GET /api/{path}");
        response.json().await.expect("JSON body")
    }

    /// Installs a rule file through the admin API.
    pub async fn put_rule(&self, name: &str, source: &str) -> Response {
        self.api(Method::PUT, &format!("rules/{name}")).body(source.to_string()).send().await.expect("request sent")
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub fn unique_mbox() -> String {
    format!("mailto:learner-{}@example.com", uuid::Uuid::new_v4())
}

/// A valid statement with a fresh actor, so tests do not see each other's data.
pub fn statement(verb: &str) -> Value {
    json!({
        "actor": {"objectType": "Agent", "name": "Learner", "mbox": unique_mbox()},
        "verb": {"id": verb, "display": {"en-US": "did"}},
        "object": {"objectType": "Activity", "id": "http://example.com/activities/course-1"}
    })
}

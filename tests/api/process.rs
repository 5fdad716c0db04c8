//! Runs the real `fluency` binary: what was acknowledged survives a SIGKILL, and SIGTERM
//! stops the server within its grace whatever a rule is doing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::helpers::{basic, statement, ADMIN_KEY, ADMIN_SECRET};

pub struct Server {
    pub child: Child,
    /// The xAPI base URL, e.g. `http://127.0.0.1:PORT/xapi`.
    pub base: String,
}

impl Server {
    /// The URL of `path` under Fluency's own API (`/api`).
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/{}", self.base.trim_end_matches("/xapi"), path)
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path) -> Server {
    start_with_config(data_dir, None)
}

/// Starts `fluency serve` on `data_dir`, with a configuration file if given.
pub fn start_with_config(data_dir: &std::path::Path, config: Option<&std::path::Path>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fluency"));
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let mut child = command
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("FLUENCY_ADMIN_KEY", ADMIN_KEY)
        .env("FLUENCY_ADMIN_SECRET", ADMIN_SECRET)
        .env("FLUENCY_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fluency binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines.next().expect("server logs that it is serving").unwrap();
        if let Some(start) = line.find("http://") {
            if line.contains("Fluency is serving") {
                let url: String = line[start..].chars().take_while(|c| !c.is_whitespace()).collect();
                break url;
            }
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

#[tokio::test]
async fn acknowledged_statements_survive_a_kill_and_restart() {
    let data_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = start(data_dir.path());
    let sends = (0..40).map(|_| {
        let request = client
            .post(format!("{}/statements", server.base))
            .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
            .header("X-Experience-API-Version", "1.0.3")
            .json(&statement("http://adlnet.gov/expapi/verbs/attempted"));
        async move { request.send().await.unwrap().json::<Vec<String>>().await.unwrap() }
    });
    let acknowledged: Vec<String> = futures_util::future::join_all(sends).await.into_iter().flatten().collect();

    server.kill();
    let restarted = start(data_dir.path());

    for id in &acknowledged {
        let response = client
            .get(format!("{}/statements", restarted.base))
            .query(&[("statementId", id)])
            .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
            .header("X-Experience-API-Version", "1.0.3")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "statement {id} was acknowledged but is gone");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], id.as_str());
    }
    assert_eq!(acknowledged.len(), 40);
}

#[tokio::test]
async fn sigterm_stops_the_server_within_its_grace_while_a_rule_is_still_running() {
    // Arrange: a rule that runs for tens of seconds, and a statement it runs on.
    let (data_dir, config) = spinning_rule_dir();
    let mut server = start_with_config(data_dir.path(), Some(&config));
    let posted = reqwest::Client::new()
        .post(format!("{}/statements", server.base))
        .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
        .header("X-Experience-API-Version", "1.0.3")
        .json(&statement("http://adlnet.gov/expapi/verbs/attempted"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    // The runner takes the statement up within milliseconds; no event tells that a run began.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Act
    let started = std::time::Instant::now();
    let signalled = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(signalled.success());
    let mut exited = None;
    while exited.is_none() && started.elapsed() < std::time::Duration::from_secs(20) {
        exited = server.child.try_wait().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Assert: the background grace is 3 s; the rule would run for tens of seconds.
    assert!(exited.is_some(), "still running {:?} after SIGTERM", started.elapsed());
    assert!(started.elapsed() < std::time::Duration::from_secs(8), "took {:?}", started.elapsed());
}

/// A data directory whose rule `spin` runs for tens of seconds on every statement: a
/// history question at each turn, up to the most operations a run may be allowed.
fn spinning_rule_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data_dir.path().join("rules")).unwrap();
    let spin = "//! name = \"spin\"\nloop { history_count(#{ actor: \"mbox:mailto:a@example.com\", days: 1 });\n\
                let s = \"x\"; s.pad(100000, \"y\"); }\n";
    std::fs::write(data_dir.path().join("rules/spin.rhai"), spin).unwrap();
    let config = data_dir.path().join("fluency.toml");
    std::fs::write(&config, "[rules.sandbox]\ndeadline_ms = 60000\nmax_operations = 2000000\n").unwrap();
    (data_dir, config)
}

#[tokio::test]
async fn a_statement_whose_rule_run_took_the_server_down_is_skipped_after_restarts_and_recorded() {
    // Arrange: the rule's run on the statement is cut short by a kill, as a crash would,
    // once in a batch and once in the careful evaluation that follows the restart.
    let (data_dir, config) = spinning_rule_dir();
    let client = reqwest::Client::new();
    let first = start_with_config(data_dir.path(), Some(&config));
    let posted = client
        .post(format!("{}/statements", first.base))
        .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
        .header("X-Experience-API-Version", "1.0.3")
        .json(&statement("http://adlnet.gov/expapi/verbs/attempted"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    // No event tells that a run began; the runner takes a statement up within milliseconds.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    first.kill();
    let second = start_with_config(data_dir.path(), Some(&config));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    second.kill();

    // Act
    let third = start_with_config(data_dir.path(), Some(&config));

    // Assert: the run is recorded as the rule's limit failure, and the server answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let rule = loop {
        let rule: Value = client
            .get(third.api("rules/spin"))
            .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if rule["recent_runs"].as_array().is_some_and(|runs| !runs.is_empty()) {
            break rule;
        }
        assert!(std::time::Instant::now() < deadline, "no run recorded: {rule}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let error = &rule["recent_runs"][0]["error"];
    assert_eq!(error["kind"], "limit", "{rule}");
    assert!(error["message"].as_str().unwrap().contains("stopped the server"), "{rule}");
    // It counts towards disabling, durably: the rule's file is disabled (which starts a
    // new health record, as any edit of the file does).
    let disabled = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rules: Value = client
            .get(third.api("rules"))
            .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if rules["rules"][0]["enabled"] == false {
            break;
        }
        assert!(std::time::Instant::now() < disabled, "the rule is disabled in its file: {rules}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let file = std::fs::read_to_string(data_dir.path().join("rules/spin.rhai")).unwrap();
    assert!(file.starts_with("//! enabled = false"), "{file}");
    let about = client.get(format!("{}/about", third.base)).send().await.unwrap();
    assert_eq!(about.status(), 200);
}

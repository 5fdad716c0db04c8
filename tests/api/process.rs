//! Runs the real `fluency` binary: what was acknowledged survives a SIGKILL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::helpers::{basic, statement, ADMIN_KEY, ADMIN_SECRET};

struct Server {
    child: Child,
    base: String,
}

fn start(data_dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluency"))
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
    let mut server = start(data_dir.path());
    let sends = (0..40).map(|_| {
        let request = client
            .post(format!("{}/statements", server.base))
            .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
            .header("X-Experience-API-Version", "1.0.3")
            .json(&statement("http://adlnet.gov/expapi/verbs/attempted"));
        async move { request.send().await.unwrap().json::<Vec<String>>().await.unwrap() }
    });
    let acknowledged: Vec<String> = futures_util::future::join_all(sends).await.into_iter().flatten().collect();

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut restarted = start(data_dir.path());

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
    restarted.child.kill().unwrap();
}

//! `fluency badges` through the real binary on a data directory: award (idempotent with a
//! key), list, verify a credential file, revoke (twice is refused), rotate the key.

use std::process::{Command, Output};

use serde_json::Value;

fn fluency(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluency"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("FLUENCY_PUBLIC_URL", "https://lrs.example.com")
        .env("FLUENCY_LOG", "warn")
        .output()
        .expect("fluency runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn the_badges_commands_award_list_verify_revoke_once_and_rotate() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("achievements")).unwrap();
    std::fs::write(dir.path().join("achievements/sql-basics.json"), crate::achievement("sql-basics").to_string())
        .unwrap();
    let award = [
        "badges",
        "award",
        "--agent",
        "mailto:ada@example.com",
        "--achievement",
        "sql-basics",
        "--idempotency-key",
        "k1",
    ];

    // Act
    let first = fluency(dir.path(), &award);
    let again = fluency(dir.path(), &award);
    let unknown =
        fluency(dir.path(), &["badges", "award", "--agent", "mailto:ada@example.com", "--achievement", "nope"]);
    let listed = fluency(dir.path(), &["badges", "list", "--json"]);

    // Assert
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).starts_with("awarded "), "{}", text(&first));
    assert!(text(&again).starts_with("already held "), "{}", text(&again));
    assert!(
        !unknown.status.success() && text(&unknown).contains("no achievement is defined with id \"nope\""),
        "{}",
        text(&unknown)
    );
    let views: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(views.len(), 1, "one credential");
    let id = views[0]["id"].as_str().unwrap().to_string();
    assert!(views[0]["url"].as_str().unwrap().starts_with("https://lrs.example.com/api/badges/credentials/"));
    let file = dir.path().join("credential.json");
    std::fs::write(&file, views[0]["credential"].to_string()).unwrap();
    let verified = fluency(dir.path(), &["badges", "verify", file.to_str().unwrap()]);
    assert!(verified.status.success() && text(&verified).contains("ok   proof"), "{}", text(&verified));

    let revoked = fluency(dir.path(), &["badges", "revoke", &id, "--reason", "test"]);
    let twice = fluency(dir.path(), &["badges", "revoke", &id, "--reason", "test"]);
    let after = fluency(dir.path(), &["badges", "verify", file.to_str().unwrap()]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    assert!(!twice.status.success() && text(&twice).contains("was already revoked"), "{}", text(&twice));
    assert!(!after.status.success() && text(&after).contains("FAIL status    revoked"), "{}", text(&after));

    let old_key = std::fs::read_to_string(dir.path().join("credentials/keys/current")).unwrap();
    let rotated = fluency(dir.path(), &["badges", "rotate-key"]);
    assert!(rotated.status.success(), "{}", text(&rotated));
    assert_ne!(std::fs::read_to_string(dir.path().join("credentials/keys/current")).unwrap(), old_key);
    let old_still = fluency(dir.path(), &["badges", "verify", file.to_str().unwrap()]);
    assert!(text(&old_still).contains("ok   proof"), "an older key's credential still verifies: {}", text(&old_still));
}

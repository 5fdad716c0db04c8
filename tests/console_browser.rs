//! The console's browser tests (tests/console/console.test.mjs: headless Chromium, a real
//! OpenID provider, axe-core) run from `cargo test`, on the fluency binary cargo built. In CI
//! missing Chromium or Node packages fail the test; elsewhere it is skipped with the reason,
//! so a fresh checkout's `cargo test` still passes before `npm ci` (.ci/run does both).

use std::path::{Path, PathBuf};
use std::process::Command;

fn ready(dir: &Path) -> Result<(), String> {
    let node = Command::new("node").arg("--version").output().is_ok();
    let modules =
        dir.join("node_modules/selenium-webdriver").exists() && dir.join("node_modules/oidc-provider").exists();
    let chromium = Path::new(&std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into())).exists();
    let driver =
        Path::new(&std::env::var("CHROMEDRIVER_BIN").unwrap_or_else(|_| "/usr/bin/chromedriver".into())).exists();
    match (node && modules, chromium && driver) {
        (true, true) => Ok(()),
        (false, _) => Err(format!("Node.js or {}/node_modules is missing: run `npm ci` there", dir.display())),
        (_, false) => Err("Chromium and ChromeDriver are missing: apt-get install chromium chromium-driver".into()),
    }
}

#[test]
fn the_console_works_in_a_real_browser() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    if let Err(reason) = ready(&dir) {
        assert!(std::env::var_os("CI").is_none(), "{reason} (.ci/run does this before cargo test)");
        eprintln!("SKIPPED: the console's browser tests ({reason}; CI runs them)");
        return;
    }
    let output = Command::new("npm")
        .arg("test")
        .current_dir(&dir)
        .env("FLUENCY_BIN", env!("CARGO_BIN_EXE_fluency"))
        .output()
        .expect("npm runs");
    assert!(
        output.status.success(),
        "the console's browser tests failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

//! The LRS under test: a child `fluency serve` on a temporary data directory, or any LRS
//! given by URL and credentials.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Target {
    pub base: String,
    pub key: String,
    pub secret: String,
    pub local: Option<LocalServer>,
}

pub struct LocalServer {
    pub child: Child,
    pub data_dir: tempfile::TempDir,
}

impl LocalServer {
    /// Peak resident memory of the server, from /proc (Linux).
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    pub fn disk_bytes(&self) -> u64 {
        dir_size(self.data_dir.path().to_path_buf())
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dir_size(path: PathBuf) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

pub fn start_local() -> Target {
    start_local_with(&[])
}

/// A local server with extra environment settings.
pub fn start_local_with(environment: &[(&str, String)]) -> Target {
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let (key, secret) = ("bench".to_string(), "bench-secret".to_string());
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluency"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env("FLUENCY_ADMIN_KEY", &key)
        .env("FLUENCY_ADMIN_SECRET", &secret)
        .env("FLUENCY_LOG", "warn,fluency=info")
        .envs(environment.iter().map(|(name, value)| (*name, value.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fluency binary starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("the server reports its address").unwrap();
        if line.contains("Fluency is serving") {
            let start = line.find("http://").unwrap();
            break line[start..].chars().take_while(|c| !c.is_whitespace()).collect::<String>();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Target { base, key, secret, local: Some(LocalServer { child, data_dir }) }
}

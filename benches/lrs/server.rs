//! The LRS under test: a child `fluency serve` on a temporary data directory, or any LRS
//! given by URL and credentials.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Target {
    pub base: String,
    pub key: String,
    pub secret: String,
    pub local: Option<LocalServer>,
    /// A Fluency server on this machine, started separately, whose CPU time is measured.
    pub pid: Option<u32>,
}

impl Target {
    /// CPU time of the server under test, when it runs on this machine.
    pub fn cpu_times(&self) -> Option<CpuTimes> {
        match (&self.local, self.pid) {
            (Some(local), _) => local.cpu_times(),
            (None, Some(pid)) => cpu_times(pid),
            (None, None) => None,
        }
    }
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

    /// CPU time the server has used so far (Linux `/proc`), whole process and writer thread.
    pub fn cpu_times(&self) -> Option<CpuTimes> {
        cpu_times(self.child.id())
    }
}

/// CPU time a Fluency process on this machine has used so far (Linux `/proc`), whole
/// process and writer thread.
pub fn cpu_times(pid: u32) -> Option<CpuTimes> {
    let process = stat_cpu(&format!("/proc/{pid}/stat"))?;
    let writer_task = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten().find(|task| {
        // The kernel keeps 15 bytes of a thread's name: "fluency-sqlite-".
        std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.starts_with("fluency-sqlite-"))
    });
    let writer = writer_task.as_ref().and_then(|task| {
        sched_runtime(&task.path().join("sched")).or_else(|| stat_cpu(&task.path().join("stat").to_string_lossy()))
    });
    let writer_wrote = writer_task.and_then(|task| bytes_written(&task.path().join("io")));
    Some(CpuTimes { process, writer, writer_wrote, client: stat_cpu("/proc/self/stat") })
}

/// `wchar` from a `/proc/.../io` file: bytes passed to write calls (WAL frames, for the
/// writer thread), whether or not they have reached the disk yet.
fn bytes_written(path: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| line.strip_prefix("wchar:"))?.trim().parse().ok()
}

/// CPU time used by the server, by its SQLite writer thread, and by this benchmark (the
/// client), which shares the machine's cores with the server.
#[derive(Clone, Copy, Debug)]
pub struct CpuTimes {
    pub process: Duration,
    pub writer: Option<Duration>,
    /// Bytes the writer thread has written (the WAL; checkpoints run on another thread).
    pub writer_wrote: Option<u64>,
    pub client: Option<Duration>,
}

/// utime + stime from a `/proc/.../stat` file (clock ticks of 10 ms).
fn stat_cpu(path: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// `se.sum_exec_runtime` (milliseconds, with fractions) from a `/proc/.../sched` file.
fn sched_runtime(path: &std::path::Path) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|line| line.starts_with("se.sum_exec_runtime"))?;
    let millis: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(millis / 1000.0))
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

pub fn start_local(binary: Option<&str>) -> Target {
    start_local_with(binary, &[])
}

/// A local server with extra environment settings; `binary` replaces this build's `fluency`
/// (to compare two builds).
pub fn start_local_with(binary: Option<&str>, environment: &[(&str, String)]) -> Target {
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let (key, secret) = ("bench".to_string(), "bench-secret".to_string());
    let mut child = Command::new(binary.unwrap_or(env!("CARGO_BIN_EXE_fluency")))
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
    Target { base, key, secret, local: Some(LocalServer { child, data_dir }), pid: None }
}

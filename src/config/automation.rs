//! The `[rules]` table: where rule files live, how the runner works, and the engine's
//! limits. Read from the TOML file as a whole table; `FLUENCY_RULES_DIR` overrides `dir`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::rules::{RulesSettings, SandboxSettings};

/// Most statements in one rules batch.
const MAX_BATCH_SIZE: usize = 10_000;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Run rules at all.
    pub enabled: bool,
    /// The rules directory; `<data_dir>/rules` when unset.
    pub dir: Option<PathBuf>,
    /// How often the directory is checked for changed files; 0 turns reloading off.
    pub reload_seconds: u64,
    /// Statements evaluated per rules commit.
    pub batch_size: usize,
    pub max_consecutive_failures: u32,
    pub max_consecutive_host_failures: u32,
    pub max_emission_depth: u64,
    pub max_emitted_per_trigger: u64,
    pub sandbox: SandboxSettings,
}

impl Default for RulesConfig {
    fn default() -> Self {
        let engine = RulesSettings::default();
        Self {
            enabled: true,
            dir: None,
            reload_seconds: 2,
            batch_size: 256,
            max_consecutive_failures: engine.max_consecutive_failures,
            max_consecutive_host_failures: engine.max_consecutive_host_failures,
            max_emission_depth: engine.max_emission_depth,
            max_emitted_per_trigger: engine.max_emitted_per_trigger,
            sandbox: engine.sandbox,
        }
    }
}

impl RulesConfig {
    /// The engine's share of the table.
    pub fn engine(&self) -> RulesSettings {
        RulesSettings {
            max_consecutive_failures: self.max_consecutive_failures,
            max_consecutive_host_failures: self.max_consecutive_host_failures,
            max_emission_depth: self.max_emission_depth,
            max_emitted_per_trigger: self.max_emitted_per_trigger,
            sandbox: self.sandbox.clone(),
        }
    }

    pub fn check(&self) -> anyhow::Result<()> {
        // A batch is read into memory whole, and evaluated before its commit.
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            anyhow::bail!("rules.batch_size: {} is refused; it must be from 1 to {MAX_BATCH_SIZE}", self.batch_size);
        }
        self.engine().check().map_err(anyhow::Error::msg)
    }
}

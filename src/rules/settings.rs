//! The `[rules]` settings the engine reads (`RulesSettings`: disabling, loop protection,
//! the sandbox's limits) and their validation. Built from configuration by
//! `config::automation`; read by `runtime` when a rule set is built.

use serde::{Deserialize, Serialize};

use super::sandbox::SandboxSettings;

/// The `[rules]` settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RulesSettings {
    /// Consecutive failed runs (host failures aside) after which a rule is disabled.
    pub max_consecutive_failures: u32,
    /// Consecutive host failures (history, state or impact unavailable) after which a rule
    /// is disabled: a rule whose every run fails on the host only costs the LRS.
    pub max_consecutive_host_failures: u32,
    /// Longest chain of rule-emitted statements: a statement this many emissions deep
    /// triggers no rule, so rules reacting to each other's statements cannot loop forever.
    pub max_emission_depth: u64,
    /// Statements rules may emit in all, across rules and generations, in reaction to one
    /// statement no rule emitted.
    pub max_emitted_per_trigger: u64,
    pub sandbox: SandboxSettings,
}

impl Default for RulesSettings {
    fn default() -> Self {
        Self {
            max_consecutive_failures: 5,
            max_consecutive_host_failures: 20,
            max_emission_depth: 3,
            max_emitted_per_trigger: 8,
            sandbox: SandboxSettings::default(),
        }
    }
}

impl RulesSettings {
    /// Refuses 0 and nonsensical values, naming the key.
    pub fn check(&self) -> Result<(), String> {
        let limits = [
            ("max_consecutive_failures", u64::from(self.max_consecutive_failures), 1, 1_000_000),
            ("max_consecutive_host_failures", u64::from(self.max_consecutive_host_failures), 1, 1_000_000),
            ("max_emission_depth", self.max_emission_depth, 1, 100),
            ("max_emitted_per_trigger", self.max_emitted_per_trigger, 1, 10_000),
        ];
        for (name, value, min, max) in limits {
            if value < min || value > max {
                return Err(format!("rules.{name}: {value} is refused; it must be from {min} to {max}"));
            }
        }
        self.sandbox.check()
    }
}

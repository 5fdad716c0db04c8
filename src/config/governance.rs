//! The `[governance]` table: what happens to statements naming an erased person, and the
//! retention policies (`[[governance.retention]]`) with how often they run.

use serde::Deserialize;

use crate::governance::erased::ReplayPolicy;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GovernanceConfig {
    /// `refuse` (403, the default) or `flag` (stored, counted and logged).
    pub erased_replays: ReplayPolicy,
    /// Hours between scheduled retention runs; 0 runs them only on demand.
    pub retention_interval_hours: u64,
    pub retention: Vec<RetentionPolicy>,
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        Self { erased_replays: ReplayPolicy::Refuse, retention_interval_hours: 24, retention: Vec::new() }
    }
}

/// One retention policy: statements it selects (every condition given must hold) are
/// deleted once older than `older_than_days` (by `stored`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    pub name: String,
    pub older_than_days: u32,
    /// Only statements with this verb id.
    pub verb: Option<String>,
    /// Only statements whose object activity id starts with this.
    pub activity_prefix: Option<String>,
    /// Only statements sent with this credential key (the authority's account name).
    pub source: Option<String>,
    /// Also delete statements that are evidence for an active credential (the "earned"
    /// statement, and the skill evidence of its holder); kept by default.
    #[serde(default)]
    pub delete_credential_evidence: bool,
}

impl GovernanceConfig {
    pub fn check(&self) -> anyhow::Result<()> {
        let mut names = std::collections::HashSet::new();
        for (index, policy) in self.retention.iter().enumerate() {
            let at = format!("governance.retention[{index}]");
            if policy.name.trim().is_empty() {
                anyhow::bail!("{at}.name: must not be empty");
            }
            if !names.insert(policy.name.as_str()) {
                anyhow::bail!("{at}.name: {:?} is used by another policy", policy.name);
            }
            if policy.older_than_days == 0 {
                anyhow::bail!("{at}.older_than_days: must be at least 1");
            }
            if policy.activity_prefix.as_deref() == Some("") {
                anyhow::bail!("{at}.activity_prefix: must not be empty (leave it out to match every activity)");
            }
        }
        Ok(())
    }
}

//! `RuleHealth`: a rule's record of runs and failures, and the decision to disable it after
//! too many failures in a row (host failures counted apart). Kept per rule by `runtime`,
//! shown by the admin API.

use serde::Serialize;

use super::error::{RuleError, RuleErrorKind};
use super::runtime::Evaluated;
use super::settings::RulesSettings;

/// A rule's record of runs and failures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleHealth {
    pub runs: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    /// Host failures in a row (they do not count in `consecutive_failures`).
    pub consecutive_host_failures: u32,
    pub last_error: Option<RuleError>,
    /// Set after too many consecutive failures; the rule no longer runs.
    pub disabled: bool,
}

impl RuleHealth {
    /// Counts a run; true when this failure disables the rule.
    pub(crate) fn record(&mut self, result: &Result<Evaluated, RuleError>, settings: &RulesSettings) -> bool {
        self.runs += 1;
        match result {
            Ok(_) => {
                self.consecutive_failures = 0;
                self.consecutive_host_failures = 0;
            }
            Err(error) => {
                self.failures += 1;
                match error.kind {
                    RuleErrorKind::Host => self.consecutive_host_failures += 1,
                    _ => self.consecutive_failures += 1,
                }
                self.last_error = Some(error.clone());
                let too_many = self.consecutive_failures >= settings.max_consecutive_failures
                    || self.consecutive_host_failures >= settings.max_consecutive_host_failures;
                if !self.disabled && too_many {
                    self.disabled = true;
                    return true;
                }
            }
        }
        false
    }
}

//! Schedules: a rule whose metadata has `schedule = "<cron>"` runs at those times (UTC)
//! instead of on statements, e.g. a weekly impact summary. Standard five-field cron
//! (minute hour day-of-month month day-of-week), parsed with `croner`.

use std::fmt;

use chrono::{DateTime, Utc};
use croner::Cron;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::xapi::time::Micros;

#[derive(Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.expression)
    }
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, String> {
        if expression.split_whitespace().count() != 5 {
            return Err(format!(
                "schedule {expression:?} must have five fields: minute hour day-of-month month day-of-week"
            ));
        }
        let cron = Cron::new(expression).parse().map_err(|e| format!("schedule {expression:?}: {e}"))?;
        Ok(Self { expression: expression.to_string(), cron })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first time the schedule fires strictly after `after`.
    pub fn next_after(&self, after: Micros) -> Option<Micros> {
        let start = DateTime::<Utc>::from_timestamp_micros(after)?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(next.timestamp_micros())
    }
}

/// The id a scheduled run uses as its trigger: the same for the same rule version and
/// time, so a run repeated after a restart produces the same idempotency keys.
pub fn scheduled_trigger_id(rule: &str, version: &str, at: Micros) -> Uuid {
    let digest = Sha256::digest(format!("schedule\n{rule}\n{version}\n{at}"));
    let bytes: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xapi::time::{parse_timestamp, to_micros};

    fn at(text: &str) -> Micros {
        to_micros(&parse_timestamp(text).unwrap())
    }

    #[test]
    fn a_weekly_schedule_fires_on_the_next_monday_morning_utc() {
        let weekly = Schedule::parse("0 9 * * MON").unwrap();

        let next = weekly.next_after(at("2026-11-24T10:00:00Z")).unwrap();

        assert_eq!(next, at("2026-11-30T09:00:00Z"));
        assert_eq!(weekly.next_after(next).unwrap(), at("2026-12-07T09:00:00Z"), "strictly after");
    }

    #[test]
    fn bad_expressions_are_refused_with_the_reason() {
        assert!(Schedule::parse("0 9 * *").unwrap_err().contains("five fields"));
        assert!(Schedule::parse("0 25 * * *").is_err());
        assert!(Schedule::parse("*/5 * * * * *").is_err(), "seconds are not supported");
    }

    #[test]
    fn scheduled_trigger_ids_are_stable_per_rule_version_and_time() {
        let id = scheduled_trigger_id("weekly", "v1", 42);
        assert_eq!(id, scheduled_trigger_id("weekly", "v1", 42));
        assert_ne!(id, scheduled_trigger_id("weekly", "v2", 42));
        assert_ne!(id, scheduled_trigger_id("weekly", "v1", 43));
    }
}

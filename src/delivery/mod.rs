//! Delivery of rule intents: notifications to Slack, Teams and signed webhooks, assignments
//! to a webhook, emitted statements to the LRS write path, with retries and dead letters.
//! Independent of storage: the store provides an `Outbox`, `serve` starts the worker.
//! See docs/delivery.md.

pub mod outbox;
pub mod payload;
pub mod retry;
pub mod sender;
pub mod signing;
pub mod target;
pub mod worker;

use std::time::Duration;

use serde::Deserialize;

pub use outbox::{route, EntryId, EntryStatus, MemoryOutbox, Outbox, OutboxEntry, StoredEntry};
pub use retry::{AttemptOutcome, Decision, Jitter, RetryPolicy, RetrySettings, Verdict};
pub use sender::Sender;
pub use signing::{verify, VerifyError, WebhookSecret};
pub use target::{Target, TargetError, TargetKind, TargetSettings, Targets};
pub use worker::{Awarder, DeliveryStats, DeliveryWorker, EmitError, StatementEmitter, StatsSnapshot, WorkerSettings};

/// The `[delivery]` table of the configuration file; every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// The webhook target that receives `assign` intents (`fluency.assign` events).
    pub assign_target: Option<String>,
    /// Deliveries in flight at once (default 8).
    pub concurrency: Option<usize>,
    /// Milliseconds between two looks at the outbox when idle (default 1000).
    pub poll_interval_ms: Option<u64>,
    /// `[delivery.retry]`.
    #[serde(default)]
    pub retry: RetrySettings,
}

impl DeliverySettings {
    /// Checks the table against the configured targets; the message names the field.
    pub fn build(&self, targets: &Targets) -> Result<(RetryPolicy, WorkerSettings), String> {
        if let Some(name) = &self.assign_target {
            match targets.get(name) {
                Some(target) if target.kind() == TargetKind::Webhook => {}
                Some(target) => return Err(format!("delivery.assign_target: {target} is not a webhook target")),
                None => return Err(format!("delivery.assign_target: no [targets.{name}] table")),
            }
        }
        let defaults = WorkerSettings::default();
        let concurrency = self.concurrency.unwrap_or(defaults.concurrency);
        if !(1..=256).contains(&concurrency) {
            return Err("delivery.concurrency: must be 1 to 256".into());
        }
        let poll_interval = self.poll_interval_ms.map_or(defaults.poll_interval, Duration::from_millis);
        if !(Duration::from_millis(10)..=Duration::from_secs(60)).contains(&poll_interval) {
            return Err("delivery.poll_interval_ms: must be 10 to 60000".into());
        }
        let policy = RetryPolicy::from_settings(&self.retry)?;
        Ok((policy, WorkerSettings { concurrency, poll_interval, ..defaults }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    struct Config {
        delivery: DeliverySettings,
        targets: BTreeMap<String, TargetSettings>,
    }

    const CONFIG: &str = r#"
        [delivery]
        assign_target = "lms"
        concurrency = 4

        [delivery.retry]
        base_seconds = 2
        max_attempts = 5
        jitter = "decorrelated"

        [targets.lms]
        kind = "webhook"
        url = "https://lms.example.com/hooks"
        secret = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="

        [targets.ld-team]
        kind = "slack"
        url = "https://hooks.slack.com/services/T/B/X"
    "#;

    #[test]
    fn the_delivery_table_builds_a_policy_and_worker_settings() {
        let config: Config = toml::from_str(CONFIG).unwrap();
        let targets = Targets::parse(&config.targets).unwrap();

        let (policy, settings) = config.delivery.build(&targets).unwrap();

        assert_eq!(
            (policy.base, policy.max_attempts, policy.jitter),
            (Duration::from_secs(2), 5, Jitter::Decorrelated)
        );
        assert_eq!((settings.concurrency, settings.poll_interval), (4, Duration::from_secs(1)));
    }

    #[test]
    fn assignments_must_go_to_a_configured_webhook_target() {
        let config: Config = toml::from_str(CONFIG).unwrap();
        let targets = Targets::parse(&config.targets).unwrap();
        let cases = [
            ("an unknown target", "crm", "delivery.assign_target: no [targets.crm] table"),
            ("a slack target", "ld-team", "delivery.assign_target: slack target \"ld-team\""),
        ];

        for (description, name, expected) in cases {
            let settings = DeliverySettings { assign_target: Some(name.into()), ..DeliverySettings::default() };
            let error = settings.build(&targets).unwrap_err();
            assert!(error.starts_with(expected), "{description}: {error}");
        }
    }
}

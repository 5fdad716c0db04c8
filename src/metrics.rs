//! Process metrics in the Prometheus text format (served at `/metrics`). One registry per
//! application, so tests running several servers in one process do not share counts.
//! Names follow `fluency_<thing>_<unit>_total` for counters.

use std::sync::{Arc, Mutex};

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

use crate::delivery::DeliveryStats;

/// Evaluation time buckets, in seconds: from well under a millisecond to the deadline.
const EVALUATION_BUCKETS: [f64; 10] = [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.25];

pub struct Metrics {
    registry: Registry,
    pub statements_stored: IntCounter,
    /// Statements the rules runner has gone through (whether or not a rule matched).
    pub rules_statements: IntCounter,
    /// By rule.
    pub rule_evaluations: IntCounterVec,
    /// By rule and error kind.
    pub rule_failures: IntCounterVec,
    pub rule_evaluation_seconds: Histogram,
    delivery: Mutex<Option<FollowedDelivery>>,
}

/// The delivery worker's counters, copied into Prometheus counters when scraped.
struct FollowedDelivery {
    stats: Arc<DeliveryStats>,
    attempts: IntCounter,
    delivered: IntCounter,
    retried: IntCounter,
    dead_lettered: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help).expect("valid metric");
            registry.register(Box::new(counter.clone())).expect("unique metric");
            counter
        };
        let counters = |name: &str, help: &str, labels: &[&str]| {
            let counters = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(counters.clone())).expect("unique metric");
            counters
        };
        let statements_stored = counter("fluency_statements_stored_total", "Statements committed to the store.");
        let rules_statements =
            counter("fluency_rules_statements_total", "Statements the rules runner has evaluated rules on.");
        let rule_evaluations = counters("fluency_rule_evaluations_total", "Rule runs, by rule.", &["rule"]);
        let rule_failures = counters(
            "fluency_rule_failures_total",
            "Rule runs that failed, by rule and error kind.",
            &["rule", "kind"],
        );
        let options = HistogramOpts::new("fluency_rule_evaluation_seconds", "Time of one rule run.")
            .buckets(EVALUATION_BUCKETS.to_vec());
        let rule_evaluation_seconds = Histogram::with_opts(options).expect("valid metric");
        registry.register(Box::new(rule_evaluation_seconds.clone())).expect("unique metric");
        Self {
            registry,
            statements_stored,
            rules_statements,
            rule_evaluations,
            rule_failures,
            rule_evaluation_seconds,
            delivery: Mutex::new(None),
        }
    }

    /// Reports the delivery worker's counters from now on.
    pub fn follow_delivery(&self, stats: Arc<DeliveryStats>) {
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help).expect("valid metric");
            self.registry.register(Box::new(counter.clone())).expect("unique metric");
            counter
        };
        let followed = FollowedDelivery {
            stats,
            attempts: counter(
                "fluency_delivery_attempts_total",
                "Intents attempted (requests, statement writes, refusals).",
            ),
            delivered: counter("fluency_intents_delivered_total", "Intents delivered."),
            retried: counter("fluency_intent_retries_total", "Attempts that failed and were scheduled again."),
            dead_lettered: counter("fluency_intents_dead_lettered_total", "Intents moved to the dead-letter list."),
        };
        *self.delivery.lock().expect("metrics lock") = Some(followed);
    }

    /// Every metric in the text exposition format.
    pub fn render(&self) -> String {
        if let Some(followed) = &*self.delivery.lock().expect("metrics lock") {
            let now = followed.stats.snapshot();
            // The worker's counts only grow, so the difference is what happened since.
            for (counter, value) in [
                (&followed.attempts, now.attempts),
                (&followed.delivered, now.delivered),
                (&followed.retried, now.retried),
                (&followed.dead_lettered, now.dead_lettered),
            ] {
                counter.inc_by(value.saturating_sub(counter.get()));
            }
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("encoding into memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_in_the_text_format_under_their_names() {
        let metrics = Metrics::new();
        metrics.rule_evaluations.with_label_values(&["nudge"]).inc_by(3);
        metrics.rule_evaluation_seconds.observe(0.002);

        let text = metrics.render();

        assert!(text.contains("fluency_rule_evaluations_total{rule=\"nudge\"} 3"), "{text}");
        assert!(text.contains("fluency_rule_evaluation_seconds_count 1"), "{text}");
        assert!(text.contains("# TYPE fluency_statements_stored_total counter"), "{text}");
    }

    #[test]
    fn delivery_counts_are_followed_at_each_scrape() {
        let metrics = Metrics::new();
        let stats = Arc::new(DeliveryStats::default());
        metrics.follow_delivery(stats.clone());

        stats.delivered.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        let first = metrics.render();
        stats.delivered.fetch_add(3, std::sync::atomic::Ordering::Relaxed);
        let second = metrics.render();

        assert!(first.contains("fluency_intents_delivered_total 2"), "{first}");
        assert!(second.contains("fluency_intents_delivered_total 5"), "{second}");
    }
}

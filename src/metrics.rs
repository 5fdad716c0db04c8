//! Process metrics in the Prometheus text format (served at `/metrics`). One registry per
//! application, so tests running several servers in one process do not share counts.
//! Names follow `fluency_<thing>_<unit>_total` for counters.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

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
    /// By outbox kind (notify, emit, assign).
    pub intents_delivered: IntCounterVec,
    pub intent_retries: IntCounterVec,
    pub intents_dead_lettered: IntCounterVec,
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
        let intents_delivered = counters("fluency_intents_delivered_total", "Intents delivered, by kind.", &["kind"]);
        let intent_retries =
            counters("fluency_intent_retries_total", "Delivery attempts that failed and will be retried.", &["kind"]);
        let intents_dead_lettered =
            counters("fluency_intents_dead_lettered_total", "Intents moved to the dead-letter list.", &["kind"]);
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
            intents_delivered,
            intent_retries,
            intents_dead_lettered,
        }
    }

    /// Every metric in the text exposition format.
    pub fn render(&self) -> String {
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
}

//! Scripts written as an attacker would: blocking built-ins, built-ins whose result would
//! be built before any size check, shared strings amplified on copy, memory growth, host
//! time, and failure kinds after a caught host error. Each ends as a classified failure
//! within its deadline (plus a margin) and without building the large value.

use std::time::Duration;

use super::*;
use crate::rules::{HistoryQuery, HistorySummary, HostError, RuleErrorKind, SandboxSettings, StateChange};
use crate::xapi::time::Micros;

/// Margin over a deadline for a machine shared with other work.
const SLACK: Duration = Duration::from_millis(400);

/// A string at the default string limit, curried 1000 times into a function pointer:
/// Rhai's size limits do not look into curried values, so `many` passes every check, and
/// is 128 MB once copied as JSON.
const AMPLIFIED: &str = r#"
    let big = "x";
    big.pad(131000, "x");
    let many = Fn("f");
    for i in 0..1000 { many = many.curry(big); }
"#;

fn outcome_of(settings: RulesSettings, script: &str, host: Arc<dyn RuleHost>) -> RuleOutcome {
    let set = rule_set(settings, vec![rule("r", script)]);
    evaluate(&set, &failed_statement(1), &host).remove(0)
}

/// Fails with `kind`, within the deadline plus `extra` plus the margin, naming `needle`.
fn assert_stopped(description: &str, outcome: &RuleOutcome, kind: RuleErrorKind, needle: &str, extra: Duration) {
    let error = outcome.result.as_ref().expect_err(description);
    assert_eq!(error.kind, kind, "{description}: {error}");
    assert!(error.message.contains(needle), "{description}: {error}");
    let bound = SandboxSettings::default().deadline() + extra + SLACK;
    assert!(outcome.elapsed < bound, "{description}: took {:?}", outcome.elapsed);
}

#[test]
fn sleep_fails_at_once_however_it_is_called() {
    let cases = [
        ("seconds", "sleep(10);"),
        ("fractions", "sleep(2.5);"),
        ("caught, in a loop", "loop { try { sleep(10); } catch { } }"),
        ("a function pointer", r#"let f = Fn("sl" + "eep"); f.call(10);"#),
    ];
    for (description, script) in cases {
        let outcome = outcome_of(RulesSettings::default(), script, memory());
        let kind = if description.starts_with("caught") { RuleErrorKind::Limit } else { RuleErrorKind::Runtime };
        let needle = if description.starts_with("caught") { "operations" } else { "sleep is not available" };
        assert_stopped(description, &outcome, kind, needle, Duration::ZERO);
    }
}

#[test]
fn replace_refuses_a_result_over_the_string_limit_before_building_it() {
    let cases = [
        (
            "string by string",
            r#"let s = "a"; s.pad(100000, "a"); let t = "b"; t.pad(100000, "b"); s.replace("a", t); s"#,
        ),
        ("empty pattern", r#"let s = "a"; s.pad(100000, "a"); let t = "b"; t.pad(1000, "b"); s.replace("", t); s"#),
        ("char by string", r#"let s = "a"; s.pad(100000, "a"); let t = "b"; t.pad(1000, "b"); s.replace('a', t); s"#),
    ];
    for (description, script) in cases {
        let outcome = outcome_of(RulesSettings::default(), script, memory());
        assert_stopped(description, &outcome, RuleErrorKind::Limit, "max_string_size", Duration::ZERO);
    }
    let fine = outcome_of(RulesSettings::default(), r#"let s = "abc"; s.replace("b", "xyz"); s"#, memory());
    assert_eq!(fine.result.unwrap().returned, json!("axyzc"));
}

#[test]
fn containers_holding_curried_values_are_not_turned_into_text() {
    let cases = [
        ("map to_json", "let m = #{ f: many }; m.to_json().len()"),
        ("closure to_json", "let m = #{ f: || big + big, g: many }; m.to_json().len()"),
        // Escaped, 100 000 control characters take 600 000 bytes as text.
        ("interpolation", r#"let c = "\x01"; c.pad(100000, "\x01"); let t = `${[c]}`; t.len()"#),
        ("nested debug", r#"let c = "\x01"; c.pad(100000, "\x01"); debug([[c]]); 1"#),
    ];
    for (description, tail) in cases {
        let outcome = outcome_of(RulesSettings::default(), &format!("{AMPLIFIED}\n{tail}"), memory());
        assert_stopped(description, &outcome, RuleErrorKind::Limit, "max_string_size", Duration::ZERO);
    }
    let fine = outcome_of(RulesSettings::default(), r#"let a = [1, "two", #{three: 3}]; `${a}`"#, memory());
    assert_eq!(fine.result.unwrap().returned, json!(r#"[1, "two", #{"three": 3}]"#));
    // As text a function pointer is its name, as Rhai prints it: not refused.
    let named = outcome_of(RulesSettings::default(), &format!("{AMPLIFIED}\n`${{[many]}}`"), memory());
    assert_eq!(named.result.unwrap().returned, json!("[Fn(f)]"));
}

#[test]
fn values_leaving_the_run_are_measured_before_they_are_copied() {
    let cases = [
        ("returned", "[many]", "the returned value"),
        ("state", r#"state_set("k", [many]);"#, "max_state_value_bytes"),
        ("notify", r#"notify("ld-team", #{ text: "t", blocks: [many] });"#, "max_intent_bytes"),
        (
            "emit",
            r#"emit_statement(#{ actor: statement.actor, verb: #{ id: "http://e.com/v" }, object: #{ id: "http://e.com/o" }, result: #{ extensions: #{ "http://e.com/x": many } } });"#,
            "max_intent_bytes",
        ),
        ("thrown", "throw [many];", "too large to show"),
    ];
    for (description, tail, needle) in cases {
        let outcome = outcome_of(RulesSettings::default(), &format!("{AMPLIFIED}\n{tail}"), memory());
        let kind = if description == "thrown" { RuleErrorKind::Runtime } else { RuleErrorKind::Limit };
        assert_stopped(description, &outcome, kind, needle, Duration::ZERO);
    }
}

#[test]
fn pad_refuses_copies_that_would_exceed_the_memory_limit_in_one_call() {
    // 2000 curried one-byte strings: 18 KB a copy as Rhai holds it, 4096 copies in one call.
    let script = r#"let f = Fn("f"); for i in 0..2000 { f = f.curry("x"); } let a = []; a.pad(4096, f); a.len()"#;

    let outcome = outcome_of(RulesSettings::default(), script, memory());
    let fine = outcome_of(RulesSettings::default(), "let a = [1]; a.pad(3, [2]); a", memory());

    // Refused before the copies are made, not after (the memory limit would stop it then).
    assert_stopped("pad", &outcome, RuleErrorKind::Limit, "Copies made by `pad`", Duration::ZERO);
    assert_eq!(fine.result.unwrap().returned, json!([1, [2], [2]]));
}

#[test]
fn a_run_is_stopped_once_it_holds_more_than_its_memory_limit() {
    // Each `outer[i] = inner` is a deep copy of 4000 values: 64 KB a turn, 256 MB in all.
    let script = "let inner = []; inner.pad(4000, 0); let outer = []; outer.pad(4000, 0);
                  for i in 0..4000 { outer[i] = inner; } outer.len()";
    let sandbox = SandboxSettings { max_memory_bytes: 1 << 20, ..SandboxSettings::default() };
    let settings = RulesSettings { sandbox, ..RulesSettings::default() };

    let outcome = outcome_of(settings, script, memory());

    assert_stopped("deep copies", &outcome, RuleErrorKind::Limit, "max_memory_bytes", Duration::ZERO);
}

/// A host whose every call takes `delay`, and whose history fails when `fails`.
struct SlowHost {
    delay: Duration,
    fails: bool,
}

impl RuleHost for SlowHost {
    fn history(&self, _: &HistoryQuery) -> Result<HistorySummary, HostError> {
        std::thread::sleep(self.delay);
        match self.fails {
            true => Err(HostError("the store is unavailable".into())),
            false => Ok(HistorySummary::default()),
        }
    }
    fn state_get(&self, _: &str, _: &str, _: Micros) -> Result<Option<Value>, HostError> {
        Ok(None)
    }
    fn state_commit(&self, _: &str, _: &[StateChange]) -> Result<(), HostError> {
        Ok(())
    }
    fn impact(&self, _: &Value) -> Result<Value, HostError> {
        std::thread::sleep(self.delay);
        Ok(json!({"report": {}}))
    }
}

const HISTORY_LOOP: &str = r#"loop { history_count(#{ actor: "a", days: 1 }); }"#;

#[test]
fn time_in_host_calls_is_charged_to_the_run() {
    let slow: Arc<dyn RuleHost> = Arc::new(SlowHost { delay: Duration::from_millis(20), fails: false });
    let settings = RulesSettings {
        sandbox: SandboxSettings { max_operations: crate::rules::MAX_OPERATIONS, ..SandboxSettings::default() },
        ..RulesSettings::default()
    };

    let history = outcome_of(settings.clone(), HISTORY_LOOP, slow.clone());
    let impact = outcome_of(settings, "loop { impact(#{}); }", slow);

    assert_stopped("history loop", &history, RuleErrorKind::Timeout, "deadline", Duration::from_millis(20));
    let allowance = Duration::from_millis(SandboxSettings::default().max_impact_ms);
    assert_stopped("impact loop", &impact, RuleErrorKind::Limit, "max_impact_ms", allowance);
}

#[test]
fn a_limit_hit_after_a_caught_host_error_is_a_limit_failure() {
    let failing: Arc<dyn RuleHost> = Arc::new(SlowHost { delay: Duration::ZERO, fails: true });
    let script = r#"try { history_count(#{ actor: "a", days: 1 }); } catch { } loop { }"#;

    let outcome = outcome_of(RulesSettings::default(), script, failing.clone());
    let host = outcome_of(RulesSettings::default(), r#"history_count(#{ actor: "a", days: 1 })"#, failing);

    assert_stopped("caught, then a loop", &outcome, RuleErrorKind::Limit, "operations", Duration::ZERO);
    assert_stopped("uncaught", &host, RuleErrorKind::Host, "unavailable", Duration::ZERO);
}

#[test]
fn persistent_host_failures_disable_the_rule() {
    let failing: Arc<dyn RuleHost> = Arc::new(SlowHost { delay: Duration::ZERO, fails: true });
    let settings = RulesSettings { max_consecutive_host_failures: 3, ..RulesSettings::default() };
    let set = rule_set(settings, vec![rule("r", r#"history_count(#{ actor: "a", days: 1 })"#)]);

    for id in 0..3 {
        assert_eq!(evaluate(&set, &failed_statement(id), &failing).len(), 1);
    }

    let health = set.health("r").unwrap();
    assert!(health.disabled, "{health:?}");
    assert_eq!((health.consecutive_host_failures, health.consecutive_failures), (3, 0));
    assert!(evaluate(&set, &failed_statement(9), &failing).is_empty(), "a disabled rule no longer runs");
}

/// A change to the settings, for table-driven cases.
type Change = fn(&mut RulesSettings);

#[test]
fn zero_and_nonsensical_limits_are_refused_naming_the_key() {
    let cases: [(&str, Change); 6] = [
        ("max_intents", |s| s.sandbox.max_intents = 0),
        ("max_functions", |s| s.sandbox.max_functions = 0),
        ("max_memory_bytes", |s| s.sandbox.max_memory_bytes = 1000),
        ("deadline_ms", |s| s.sandbox.deadline_ms = 86_400_000),
        ("max_emission_depth", |s| s.max_emission_depth = 0),
        ("max_consecutive_host_failures", |s| s.max_consecutive_host_failures = 0),
    ];
    for (key, change) in cases {
        let mut settings = RulesSettings::default();
        change(&mut settings);

        let error = RuleSet::build(settings, vec![]).err().unwrap_or_default();

        assert!(error.contains(key) && error.contains("refused"), "{key}: {error}");
    }
}

#[test]
fn a_single_host_call_that_ends_past_the_deadline_fails_the_run_as_a_timeout() {
    let slow: Arc<dyn RuleHost> = Arc::new(SlowHost { delay: Duration::from_millis(150), fails: false });

    let outcome = outcome_of(RulesSettings::default(), r#"history_count(#{ actor: "a", days: 1 }); 1"#, slow);

    assert!(outcome.elapsed >= Duration::from_millis(150), "{:?}", outcome.elapsed);
    assert_eq!(outcome.result.unwrap_err().kind, RuleErrorKind::Timeout);
}

#[test]
fn a_rule_holds_at_most_max_state_bytes_of_state_across_runs() {
    let value = r#"let v = "x"; v.pad(60000, "x");"#;
    let in_one_run = format!("{value} for i in 0..100 {{ state_set(`k${{i}}`, v); }}");
    let one_key_a_run = format!("{value} state_set(`k${{now_seconds()}}-${{statement.id}}`, v);");
    let host = memory();

    let outcome = outcome_of(RulesSettings::default(), &in_one_run, host.clone());
    let set = rule_set(RulesSettings::default(), vec![rule("r", &one_key_a_run)]);
    let results: Vec<_> = (0..20).map(|id| evaluate(&set, &failed_statement(id), &host).remove(0).result).collect();

    assert_stopped("many keys in one run", &outcome, RuleErrorKind::Limit, "max_state_bytes", Duration::ZERO);
    // Keys count too: 200-byte keys with one-byte values.
    let keys = r#"let k = "k"; k.pad(200, "k"); for i in 0..10000 { state_set(`${k}${i}`, 1); }"#;
    let keyed = outcome_of(RulesSettings::default(), keys, memory());
    assert_stopped("many long keys", &keyed, RuleErrorKind::Limit, "max_state_bytes", Duration::ZERO);
    let first_refused = results.iter().position(Result::is_err).expect("the state fills up");
    assert!((15..=17).contains(&first_refused), "1 MiB holds 16 values of 60 KB: refused at run {first_refused}");
    assert!(results[first_refused].as_ref().unwrap_err().message.contains("max_state_bytes"));
}

#[test]
fn closures_nested_as_deep_as_the_operations_allow_are_freed_without_overflowing_the_stack() {
    // One level per few operations, each capturing the last: freed recursively by Rhai. On
    // a worker thread's 2 MiB this aborts the process; on the rules stack it is a failure.
    let script = "let f = || 1; loop { let g = f; f = || g.call(); }";
    let sandbox = SandboxSettings {
        max_operations: crate::rules::MAX_OPERATIONS,
        deadline_ms: 60_000,
        max_memory_bytes: 4096 << 20,
        ..SandboxSettings::default()
    };
    let settings = RulesSettings { sandbox, ..RulesSettings::default() };

    let outcome = crate::rules::on_rules_stack(|| outcome_of(settings, script, memory()));

    let error = outcome.result.unwrap_err();
    assert_eq!(error.kind, RuleErrorKind::Limit, "{error}");
    assert!(error.message.contains("operations"), "{error}");
}

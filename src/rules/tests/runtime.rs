use super::*;
use crate::rules::intent::idempotency_key;
use crate::rules::statement::{EMITTED_BY, EMITTED_DEPTH};
use crate::rules::{HistoryQuery, HistorySummary, HostError, Intent, RuleError, RuleErrorKind, StateChange};
use crate::xapi::time::Micros;

const EMIT_COMPLETED: &str = r#"
    emit_statement(#{
        actor: statement.actor,
        verb: #{ id: "http://adlnet.gov/expapi/verbs/completed" },
        object: #{ id: "http://example.com/pathway" },
    })
"#;

#[test]
fn statements_whose_verb_no_rule_names_cost_nothing() {
    let set = rule_set(RulesSettings::default(), vec![rule("r", "throw \"must not run\";")]);
    let passed = json!({"verb": {"id": "http://adlnet.gov/expapi/verbs/passed"}});

    assert!(evaluate(&set, &passed, &memory()).is_empty());
}

#[test]
fn intents_carry_deterministic_keys_and_what_delivery_needs() {
    let script = r#"
        notify("ld-team", "Ada failed");
        assign(statement.actor, "http://example.com/refresher", "failed the quiz");
        "done"
    "#;
    let set = rule_set(RulesSettings::default(), vec![rule("r", script)]);
    let statement = failed_statement(42);

    let outcome = evaluate(&set, &statement, &memory()).remove(0);

    let evaluated = outcome.result.unwrap();
    assert_eq!(evaluated.returned, json!("done"));
    let version = &set.rules()[0].version;
    for (index, record) in evaluated.intents.iter().enumerate() {
        assert_eq!(record.key, idempotency_key("r", version, Uuid::from_u128(42), index));
        assert_eq!((record.rule.as_str(), record.trigger, record.index), ("r", Uuid::from_u128(42), index));
    }
    let Intent::Assign { actor_id, activity, .. } = &evaluated.intents[1].intent else { panic!("an assignment") };
    assert_eq!(actor_id, "mbox:mailto:ada@example.com");
    assert_eq!(activity, "http://example.com/refresher");
}

#[test]
fn helpers_read_the_statement() {
    let script = r#"[actor_id(statement), verb_id(statement), activity_id(statement), score(statement),
        success(statement), extension(statement, "http://example.com/none"), now(), now_seconds()]"#;

    let returned = run_one(RulesSettings::default(), script).result.unwrap().returned;

    let expected = json!([
        "mbox:mailto:ada@example.com",
        FAILED,
        "http://example.com/quiz",
        0.4,
        false,
        null,
        "2024-05-01T10:00:00.000000Z",
        1_714_557_600
    ]);
    assert_eq!(returned, expected);
}

#[test]
fn invalid_intents_fail_the_run_with_the_reason_and_position() {
    let cases = [
        ("a URL as target", r#"notify("https://hooks.example.com/x", "hi")"#, "destination name"),
        ("invalid statement", r#"emit_statement(#{ verb: #{} })"#, "emit_statement: "),
        ("anonymous actor", r#"assign(#{ name: "Ada" }, "http://example.com/c", "")"#, "assign: "),
        ("bad history days", r#"history_count(#{ actor: actor_id(statement), days: 0 })"#, "days"),
    ];
    for (description, script, needle) in cases {
        let error = run_one(RulesSettings::default(), script).result.unwrap_err();

        assert_eq!(error.kind, RuleErrorKind::Runtime, "{description}: {error}");
        assert!(error.message.contains(needle), "{description}: {error}");
        assert_eq!(error.line, Some(4), "{description}: the call's line in the file: {error}");
    }
}

#[test]
fn too_many_intents_is_a_limit() {
    let error = run_one(RulesSettings::default(), r#"for i in 0..100 { notify("t", "x"); }"#).result.unwrap_err();

    assert_eq!(error.kind, RuleErrorKind::Limit, "{error}");
}

#[test]
fn state_changes_commit_only_when_the_run_succeeds() {
    let script = r#"
        let seen = state_get("seen") ?? 0;
        state_set("seen", seen + 1, 3600);
        if statement.result.success == false && seen >= 1 { throw "second failure"; }
        seen
    "#;
    let set = rule_set(RulesSettings::default(), vec![rule("r", script)]);
    let host = memory();

    let first = evaluate(&set, &failed_statement(1), &host).remove(0);
    let second = evaluate(&set, &failed_statement(2), &host).remove(0);
    let third = evaluate(&set, &failed_statement(3), &host).remove(0);

    assert_eq!(first.result.unwrap().returned, json!(0));
    assert!(second.result.is_err());
    assert!(third.result.is_err(), "the failed run's increment was not kept");
    assert_eq!(host.state_get("r", "seen", 0).unwrap(), Some(json!(1)));
}

#[test]
fn a_rule_never_runs_on_its_own_statements_and_chains_stay_bounded() {
    let emit_on_completed = |name: &str| {
        let source = format!(
            "//! name = \"{name}\"\n//! [trigger]\n//! verbs = [\"http://adlnet.gov/expapi/verbs/completed\"]\n{EMIT_COMPLETED}"
        );
        RuleFile::parse("x.rhai", &source).unwrap()
    };
    let set = rule_set(RulesSettings::default(), vec![emit_on_completed("a"), emit_on_completed("b")]);
    let host = memory();
    let mut statement = failed_statement(1);
    statement["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/completed");

    let (rounds, emitted, failures) = run_chain(&set, statement, &host);

    // The learner's statement runs a and b (depth 1); a's statement runs only b, b's only a
    // (depth 2); on those, a and b would close a cycle: reported as their failure instead.
    assert_eq!(rounds.len(), 5, "{rounds:?}");
    assert_eq!(rounds[0], ["a", "b"]);
    assert!(rounds[1..].iter().all(|r| r.len() == 1), "{rounds:?}");
    assert_eq!(emitted, 4);
    let mut cycles: Vec<&str> = failures.iter().map(|e| e.message.split(':').next().unwrap()).collect();
    cycles.sort();
    assert_eq!(cycles, ["emission cycle a -> b -> a", "emission cycle b -> a -> b"]);
    assert!(failures.iter().all(|e| e.kind == RuleErrorKind::Limit), "{failures:?}");
    let deepest = json!({"verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "authority": rule_authority("c"), "context": {"extensions": {EMITTED_BY: "c", EMITTED_DEPTH: 3}}});
    assert!(evaluate(&set, &deepest, &host).is_empty());
}

/// The authority delivery stores a rule's emitted statements with.
fn rule_authority(rule: &str) -> Value {
    json!({"objectType": "Agent", "account": {"homePage": "http://lrs.example.com", "name": format!("rule:{rule}")}})
}

/// Evaluates `statement` and every statement emitted from it, as delivery would store
/// them: the rules run per statement, the statements emitted, and the failures.
fn run_chain(set: &RuleSet, statement: Value, host: &Arc<dyn RuleHost>) -> (Vec<Vec<String>>, usize, Vec<RuleError>) {
    let (mut rounds, mut emitted, mut failures) = (Vec::new(), 0, Vec::new());
    let mut pending = vec![statement];
    while let Some(statement) = pending.pop() {
        assert!(rounds.len() < 1000, "emissions do not stop: {rounds:?}");
        let outcomes = evaluate(set, &statement, host);
        rounds.push(outcomes.iter().map(|o| o.rule.to_string()).collect::<Vec<_>>());
        for outcome in outcomes {
            let evaluated = match outcome.result {
                Ok(evaluated) => evaluated,
                Err(error) => {
                    failures.push(error);
                    continue;
                }
            };
            for record in evaluated.intents {
                let Intent::EmitStatement { mut statement } = record.intent else { continue };
                assert_eq!(statement["context"]["extensions"][EMITTED_BY], json!(outcome.rule.as_ref()));
                emitted += 1;
                statement["authority"] = rule_authority(&outcome.rule);
                pending.push(statement);
            }
        }
    }
    (rounds, emitted, failures)
}

#[test]
fn statements_emitted_from_one_learner_statement_are_capped_across_rules_and_generations() {
    // Three rules, each emitting three statements on any statement of the verb, none in a
    // cycle with another (each reacts to the verb, the chain decides): without the cap,
    // 3 + 3·2·3 + ... statements until the depth limit.
    let emitting = |name: &str| {
        let source = format!(
            "//! name = \"{name}\"\n//! [trigger]\n//! verbs = [\"http://adlnet.gov/expapi/verbs/completed\"]\n\
             for i in 0..3 {{ {EMIT_COMPLETED}; }}"
        );
        RuleFile::parse("x.rhai", &source).unwrap()
    };
    let settings = RulesSettings { max_emission_depth: 10, ..RulesSettings::default() };
    let set = rule_set(settings, vec![emitting("a"), emitting("b"), emitting("c")]);
    let mut statement = failed_statement(1);
    statement["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/completed");

    let (_, emitted, failures) = run_chain(&set, statement, &memory());

    assert!(emitted <= 8, "at most max_emitted_per_trigger in all: {emitted}");
    assert!(emitted >= 6, "the first rules emit what they asked for: {emitted}");
    let capped = failures.iter().find(|e| e.message.contains("max_emitted_per_trigger")).expect("a capped run");
    assert_eq!(capped.kind, RuleErrorKind::Limit, "{capped}");
}

#[test]
fn emitted_statement_ids_are_derived_from_the_intent_key() {
    let set = rule_set(RulesSettings::default(), vec![rule("r", EMIT_COMPLETED)]);

    let first = evaluate(&set, &failed_statement(1), &memory()).remove(0).result.unwrap();
    let again = evaluate(&set, &failed_statement(1), &memory()).remove(0).result.unwrap();

    assert_eq!(first.intents, again.intents, "a replay emits the very same statement");
    assert_eq!(first.returned, first.intents[0].intent_statement_id());
}

impl crate::rules::IntentRecord {
    fn intent_statement_id(&self) -> Value {
        match &self.intent {
            Intent::EmitStatement { statement } => statement["id"].clone(),
            _ => Value::Null,
        }
    }
}

#[test]
fn consecutive_failures_disable_a_rule_and_a_success_resets_the_count() {
    let script = r#"if statement.result.score.scaled < 0.5 { throw "low"; } "ok""#;
    let set =
        rule_set(RulesSettings { max_consecutive_failures: 3, ..RulesSettings::default() }, vec![rule("r", script)]);
    let host = memory();
    let mut passing = failed_statement(9);
    passing["result"]["score"]["scaled"] = json!(0.9);

    for _ in 0..2 {
        evaluate(&set, &failed_statement(1), &host);
    }
    evaluate(&set, &passing, &host);
    assert_eq!(set.health("r").unwrap().consecutive_failures, 0);
    for _ in 0..3 {
        evaluate(&set, &failed_statement(1), &host);
    }

    let health = set.health("r").unwrap();
    assert!(health.disabled);
    assert_eq!((health.runs, health.failures), (6, 5));
    assert!(evaluate(&set, &passing, &host).is_empty(), "a disabled rule no longer runs");
}

struct FailingHost;

impl RuleHost for FailingHost {
    fn history(&self, _: &HistoryQuery) -> Result<HistorySummary, HostError> {
        Err(HostError("the store is unavailable".into()))
    }
    fn state_get(&self, _: &str, _: &str, _: Micros) -> Result<Option<Value>, HostError> {
        Ok(None)
    }
    fn state_commit(&self, _: &str, _: &[StateChange]) -> Result<(), HostError> {
        Ok(())
    }
}

#[test]
fn host_failures_are_reported_as_such_and_never_disable_a_rule() {
    let script = "history_count(#{ actor: actor_id(statement), days: 7 })";
    let set =
        rule_set(RulesSettings { max_consecutive_failures: 1, ..RulesSettings::default() }, vec![rule("r", script)]);
    let host: Arc<dyn RuleHost> = Arc::new(FailingHost);

    let outcome = evaluate(&set, &failed_statement(1), &host).remove(0);

    let error = outcome.result.unwrap_err();
    assert_eq!(error.kind, RuleErrorKind::Host);
    assert_eq!(error.message, "the store is unavailable");
    assert!(!set.health("r").unwrap().disabled);
}

#[test]
fn printed_lines_go_to_the_outcome_log() {
    let outcome = run_one(RulesSettings::default(), r#"print("hello"); debug(1 + 1);"#);

    assert_eq!(outcome.log[0], "hello");
    assert!(outcome.log[1].ends_with(": 2"), "{:?}", outcome.log);
}

#[test]
fn duplicate_names_are_refused() {
    let set = RuleSet::build(RulesSettings::default(), vec![rule("r", "1"), rule("r", "2")]).unwrap();

    assert_eq!(set.rules().len(), 1);
    assert!(set.refused()[0].message.contains("already named"));
}

#[test]
fn disabled_rules_do_not_run() {
    let mut file = rule("r", "1");
    file.enabled = false;
    let set = rule_set(RulesSettings::default(), vec![file]);

    assert!(evaluate(&set, &failed_statement(1), &memory()).is_empty());
    assert_eq!(set.mismatch("r", &failed_statement(1)), Some("the rule is not enabled"));
}

struct PanickingHost;

impl RuleHost for PanickingHost {
    fn history(&self, _: &HistoryQuery) -> Result<HistorySummary, HostError> {
        panic!("a host bug")
    }
    fn state_get(&self, _: &str, _: &str, _: Micros) -> Result<Option<Value>, HostError> {
        Ok(None)
    }
    fn state_commit(&self, _: &str, _: &[StateChange]) -> Result<(), HostError> {
        Ok(())
    }
}

#[test]
fn a_panic_during_a_run_becomes_that_rules_error_and_the_thread_carries_on() {
    let script = "history_count(#{ actor: actor_id(statement), days: 7 })";
    let set = rule_set(RulesSettings::default(), vec![rule("r", script)]);
    let panicking: Arc<dyn RuleHost> = Arc::new(PanickingHost);

    let outcome = evaluate(&set, &failed_statement(1), &panicking).remove(0);
    let after = evaluate(&set, &failed_statement(2), &memory()).remove(0);

    assert!(outcome.result.unwrap_err().message.contains("panicked"));
    assert_eq!(after.result.unwrap().returned, json!(0));
}

use std::time::Duration;

use super::*;
use crate::rules::{RuleErrorKind, SandboxSettings};

/// Generous margin over a deadline for a machine shared with other work.
const SLACK: Duration = Duration::from_millis(400);

/// Settings where the wall-clock deadline stops a script first (the most operations allowed
/// take longer than these deadlines).
fn deadline_only(deadline_ms: u64) -> RulesSettings {
    let sandbox =
        SandboxSettings { max_operations: crate::rules::MAX_OPERATIONS, deadline_ms, ..SandboxSettings::default() };
    RulesSettings { sandbox, ..RulesSettings::default() }
}

fn assert_fails(description: &str, settings: RulesSettings, script: &str, kind: RuleErrorKind) {
    let deadline = settings.sandbox.deadline();
    let set = rule_set(settings, vec![rule("r", script)]);

    let outcome = evaluate(&set, &failed_statement(1), &memory()).remove(0);

    let error = outcome.result.as_ref().expect_err(description);
    assert_eq!(error.kind, kind, "{description}: {error}");
    assert!(outcome.elapsed < deadline + SLACK, "{description}: took {:?}", outcome.elapsed);
    let health = set.health("r").unwrap();
    assert_eq!(health.last_error.as_ref(), Some(error), "{description}: the error is recorded");
    assert_eq!(health.consecutive_failures, 1, "{description}");
}

#[test]
fn endless_loops_stop_at_the_operation_limit() {
    assert_fails("loop", RulesSettings::default(), "loop { }", RuleErrorKind::Limit);
    assert_fails("while", RulesSettings::default(), "let i = 0; while true { i += 1; }", RuleErrorKind::Limit);
}

#[test]
fn endless_loops_stop_at_the_deadline_when_operations_are_unlimited() {
    assert_fails("loop", deadline_only(50), "let i = 0; loop { i += 1; }", RuleErrorKind::Timeout);
}

#[test]
fn slow_built_ins_in_a_loop_stop_at_the_deadline() {
    let script = r#"
        let text = "";
        text.pad(60000, "ab");
        loop {
            let parts = text.sub_string(0, 4000).split("");
            parts.sort();
            text.replace("a", "c");
            let found = text.index_of("zz");
            let big = [];
            big.pad(4000, "x");
            big.reverse();
        }
    "#;
    assert_fails("string and array built-ins", deadline_only(50), script, RuleErrorKind::Timeout);
}

#[test]
fn huge_values_are_refused_before_they_are_built() {
    let cases = [
        ("string pad", r#""x".pad(1000000000, "y")"#),
        ("string doubling", r#"let s = "x"; loop { s += s; }"#),
        ("array pad", "[].pad(1000000000, 0)"),
        ("array doubling", "let a = [1]; loop { a += a; }"),
        ("blob", "blob(1000000000)"),
        ("map growth", "let m = #{}; let i = 0; loop { m.set(`k${i}`, i); i += 1; }"),
        ("string repeat through a range", r#"let s = ""; for i in 0..1000000 { s += "0123456789"; }"#),
    ];
    for (description, script) in cases {
        assert_fails(description, deadline_only(1000), script, RuleErrorKind::Limit);
    }
}

#[test]
fn deep_recursion_stops_at_the_call_depth() {
    let script = "fn down(n) { down(n + 1) } down(0)";
    assert_fails("recursion", RulesSettings::default(), script, RuleErrorKind::Limit);
}

#[test]
fn too_many_variables_is_a_limit() {
    let settings = RulesSettings {
        sandbox: SandboxSettings { max_variables: 8, ..SandboxSettings::default() },
        ..RulesSettings::default()
    };
    let script: String = (0..20).map(|i| format!("let v{i} = {i};\n")).collect();
    assert_fails("variables", settings, &script, RuleErrorKind::Limit);
}

#[test]
fn import_eval_and_deep_nesting_are_refused_at_load_with_their_position() {
    let cases = [
        ("import", "let x = 1;\nimport \"/etc/passwd\" as p;", 5),
        ("eval", "let x = 1;\neval(\"x + 1\");", 5),
        ("undefined variable", "let x = 1;\ny + 1;", 5),
        ("syntax", "let x = 1;\nlet = 2;", 5),
        ("deep nesting", &format!("let x = 1;\n{}1{};", "(".repeat(200), ")".repeat(200)), 5),
        (
            "too many functions",
            &format!("let x = 1;\n{}", (0..70).map(|i| format!("fn f{i}() {{ {i} }}\n")).collect::<String>()),
            5,
        ),
    ];
    for (description, script, line) in cases {
        let set = RuleSet::build(RulesSettings::default(), vec![rule("r", script)]).unwrap();

        assert!(set.rules().is_empty(), "{description}: refused");
        let error = &set.refused()[0];
        assert_eq!(error.kind, RuleErrorKind::Compile, "{description}");
        assert_eq!(error.file.as_deref(), Some("r.rhai"), "{description}");
        assert!(error.line.is_some_and(|l| l >= line), "{description}: {error}");
        assert!(error.column.is_some(), "{description}: {error}");
    }
}

#[test]
fn eval_cannot_be_reached_through_a_function_pointer_nor_the_clock_or_files() {
    let cases = [
        ("Fn(\"eval\")", r#"let f = Fn("eval"); f.call("1 + 1")"#),
        ("Fn(eval)", r#"let f = Fn(EVAL); f.call("1 + 1")"#),
        ("call(eval)", r#"call(EVAL, "1 + 1")"#),
        ("clock", "timestamp()"),
        ("file", r#"open_file("/etc/passwd")"#),
    ];
    for (description, script) in cases {
        // Built at run time, so the compiler cannot see the name.
        let script = format!(r#"let EVAL = "ev" + verb_id(statement).sub_string(0, 0) + "al"; {script}"#);
        assert_fails(description, RulesSettings::default(), &script, RuleErrorKind::Runtime);
    }
}

#[test]
fn a_failing_rule_fails_alone() {
    let set = rule_set(
        RulesSettings::default(),
        vec![rule("a-loops", "loop {}"), rule("b-notifies", r#"notify("ld-team", "hello")"#)],
    );

    let outcomes = evaluate(&set, &failed_statement(1), &memory());

    assert_eq!(outcomes.len(), 2);
    assert!(outcomes[0].result.is_err());
    assert_eq!(outcomes[1].result.as_ref().unwrap().intents.len(), 1);
}

#[test]
fn the_statement_is_a_read_only_copy() {
    let set = rule_set(
        RulesSettings::default(),
        vec![
            rule("a-assigns", r#"statement.verb.id = "http://example.com/changed";"#),
            rule("b-mutates-a-copy", r#"let s = statement; s.verb.id = "http://example.com/changed"; s.verb.id"#),
            rule("c-reads", "verb_id(statement)"),
        ],
    );
    let statement = failed_statement(1);

    let outcomes = evaluate(&set, &statement, &memory());

    let error = outcomes[0].result.as_ref().unwrap_err();
    assert_eq!(error.kind, RuleErrorKind::Runtime, "{error}");
    assert_eq!(outcomes[1].result.as_ref().unwrap().returned, json!("http://example.com/changed"));
    assert_eq!(outcomes[2].result.as_ref().unwrap().returned, json!(FAILED));
    assert_eq!(statement, failed_statement(1));
}

#[test]
fn zero_limits_are_refused_because_rhai_reads_them_as_unlimited() {
    let sandbox = SandboxSettings { max_string_size: 0, ..SandboxSettings::default() };
    let settings = RulesSettings { sandbox, ..RulesSettings::default() };

    let error = RuleSet::build(settings, vec![]).err().unwrap();

    assert!(error.contains("max_string_size"), "{error}");
}

#[test]
fn rule_sets_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<RuleSet>();
}

#[test]
fn a_statement_beyond_the_size_limits_fails_the_run_with_a_clear_limit_error() {
    let sandbox = SandboxSettings { max_string_size: 1024, ..SandboxSettings::default() };
    let set = rule_set(RulesSettings { sandbox, ..RulesSettings::default() }, vec![rule("r", "1")]);
    let mut statement = failed_statement(1);
    statement["result"]["response"] = json!("x".repeat(2000));

    let error = evaluate(&set, &statement, &memory()).remove(0).result.unwrap_err();

    assert_eq!(error.kind, RuleErrorKind::Limit);
    assert!(error.message.contains("raise rules.sandbox"), "{error}");
}

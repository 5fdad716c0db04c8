//! Objects: Activities and their definitions, language maps, StatementRefs,
//! SubStatements and voiding.

use serde_json::{json, Value};

use super::*;

fn definition(key: &str, value: Value) -> Value {
    with(&format!("/object/definition/{key}"), value)
}

fn interaction(kind: &str, key: &str, value: Value) -> Value {
    set(definition("interactionType", json!(kind)), &format!("/object/definition/{key}"), value)
}

#[test]
fn object_type_is_one_of_five_exact_values() {
    accept_all(
        vec![
            ("activity without objectType", with("/object", json!({"id": "http://example.com/a"}))),
            (
                "statement ref",
                with("/object", json!({"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"})),
            ),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "lower-case activity",
                with("/object/objectType", json!("activity")),
                r#"object.objectType: must be one of "Activity", "Agent", "Group", "SubStatement", "StatementRef" (case-sensitive)"#,
            ),
            ("unknown type", with("/object/objectType", json!("Thing")), "object.objectType: must be one of"),
            (
                "lower-case statementref",
                with("/object", json!({"objectType": "statementref", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"})),
                "object.objectType: must be one of",
            ),
            (
                "object a string",
                with("/object", json!("http://example.com/a")),
                "object: must be an object, not a string",
            ),
            (
                "substatement without objectType",
                with(
                    "/object",
                    json!({"actor": {"mbox": "mailto:s@example.com"}, "verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/a"}}),
                ),
                r#"object.actor: is not an allowed property (a SubStatement needs "objectType": "SubStatement")"#,
            ),
        ],
        BOTH,
    );
}

#[test]
fn an_activity_has_an_iri_id_and_an_optional_definition() {
    accept_all(
        vec![
            ("empty definition", with("/object/definition", json!({}))),
            (
                "full definition",
                with(
                    "/object/definition",
                    json!({
                        "name": {"en-US": "Example"}, "description": {"en-US": "An example", "zh-Hant": "例"},
                        "type": "http://adlnet.gov/expapi/activities/meeting", "moreInfo": "http://virtualmeeting.example.com/345256",
                        "extensions": {"http://example.com/ext": {"a": 1}}
                    }),
                ),
            ),
            ("empty extensions", definition("extensions", json!({}))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "no id",
                with("/object", json!({"objectType": "Activity"})),
                r#"object: required property "id" is missing"#,
            ),
            (
                "id without scheme",
                with("/object/id", json!("www.example.com/meetings/34534")),
                "object.id: must be an absolute IRI",
            ),
            (
                "id bad scheme",
                with("/object/id", json!("ab=c://should.fail.com")),
                "object.id: must be an absolute IRI",
            ),
            ("activity extra property", with("/object/name", json!("x")), "object.name: is not an allowed property"),
            (
                "definition a string",
                with("/object/definition", json!("def")),
                "object.definition: must be an object, not a string",
            ),
            (
                "name a string",
                definition("name", json!("Example")),
                "object.definition.name: must be an object, not a string",
            ),
            (
                "description a number",
                definition("description", json!(1)),
                "object.definition.description: must be an object, not a number",
            ),
            (
                "type not an IRI",
                definition("type", json!("should error")),
                "object.definition.type: must be an absolute IRI",
            ),
            (
                "moreInfo without scheme",
                definition("moreInfo", json!("virtualmeeting.example.com/345256")),
                "object.definition.moreInfo: must be an absolute IRL",
            ),
            (
                "extension key not an IRI",
                definition("extensions", json!({"not.valid.com/extension": 1})),
                r#"object.definition.extensions: key "not.valid.com/extension" must be an absolute IRI"#,
            ),
            (
                "extensions a string",
                definition("extensions", json!("x")),
                "object.definition.extensions: must be an object",
            ),
            (
                "unknown definition property",
                definition("title", json!("x")),
                "object.definition.title: is not an allowed property",
            ),
        ],
        BOTH,
    );
}

#[test]
fn language_maps_have_rfc_5646_keys_and_string_values() {
    accept_all(
        vec![
            (
                "many tags",
                with(
                    "/verb/display",
                    json!({"de": "a", "en-GB": "b", "sr-Latn-RS": "c", "cmn": "d", "tlh": "e", "ja-JP": "試験"}),
                ),
            ),
            ("empty map", with("/verb/display", json!({}))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "long primary subtag",
                with("/verb/display", json!({"something": "x"})),
                r#"verb.display: key "something" must be an RFC 5646 language tag"#,
            ),
            ("digits", with("/verb/display", json!({"a12345678": "x"})), r#"key "a12345678" must be an RFC 5646"#),
            (
                "repeated singleton",
                with("/verb/display", json!({"zh-z-aaa-z-bbb-c-ccc": "x"})),
                r#"key "zh-z-aaa-z-bbb-c-ccc" must be"#,
            ),
            (
                "number value",
                with("/verb/display", json!({"en-US": 1})),
                "verb.display.en-US: must be a string, not a number",
            ),
            ("string map", with("/verb/display", json!("attempted")), "verb.display: must be an object, not a string"),
            ("number map", with("/verb/display", json!(5)), "verb.display: must be an object, not a number"),
        ],
        BOTH,
    );
}

#[test]
fn interaction_types_and_components_are_checked() {
    let choices = json!([{"id": "golf", "description": {"en-US": "Golf"}}, {"id": "tetris"}]);
    accept_all(
        vec![
            ("choice with choices", interaction("choice", "choices", choices.clone())),
            ("empty correct responses", interaction("true-false", "correctResponsesPattern", json!([]))),
            ("likert scale", interaction("likert", "scale", json!([{"id": "likert_0"}]))),
            (
                "same id in different lists",
                set(
                    interaction("matching", "source", json!([{"id": "a"}])),
                    "/object/definition/target",
                    json!([{"id": "a"}]),
                ),
            ),
        ],
        BOTH,
    );
    for kind in [
        "true-false",
        "choice",
        "fill-in",
        "long-fill-in",
        "matching",
        "performance",
        "sequencing",
        "likert",
        "numeric",
        "other",
    ] {
        assert_accepted(kind, &definition("interactionType", json!(kind)), BOTH);
    }
    let mut refused = vec![
        (
            "wrong case",
            definition("interactionType", json!("true-faLse")),
            "object.definition.interactionType: must be one of",
        ),
        ("Other", definition("interactionType", json!("Other")), "object.definition.interactionType: must be one of"),
        ("number", definition("interactionType", json!(1)), "object.definition.interactionType: must be one of"),
        (
            "pattern not strings",
            interaction("choice", "correctResponsesPattern", json!([1])),
            "object.definition.correctResponsesPattern[0]: must be a string",
        ),
        (
            "pattern a string",
            interaction("choice", "correctResponsesPattern", json!("golf")),
            "object.definition.correctResponsesPattern: must be an array",
        ),
        (
            "component without id",
            interaction("choice", "choices", json!([{"description": {"en-US": "x"}}])),
            r#"object.definition.choices[0]: required property "id" is missing"#,
        ),
        (
            "component id a number",
            interaction("choice", "choices", json!([{"id": 1}])),
            "object.definition.choices[0].id: must be a string",
        ),
        (
            "component extra",
            interaction("choice", "choices", json!([{"id": "a", "name": "x"}])),
            "object.definition.choices[0].name: is not an allowed property",
        ),
        (
            "component bad description",
            interaction("likert", "scale", json!([{"id": "a", "description": "x"}])),
            "object.definition.scale[0].description: must be an object",
        ),
        (
            "duplicate choice ids",
            interaction("choice", "choices", json!([{"id": "golf"}, {"id": "golf"}])),
            r#"object.definition.choices[1].id: must be unique within choices; "golf" is used more than once"#,
        ),
        (
            "duplicate step ids",
            interaction("performance", "steps", json!([{"id": "a"}, {"id": "b"}, {"id": "a"}])),
            "object.definition.steps[2].id: must be unique",
        ),
    ];
    for key in ["correctResponsesPattern", "choices", "scale", "source", "target", "steps"] {
        let value = if key == "correctResponsesPattern" { json!(["golf"]) } else { choices.clone() };
        refused.push((
            "interaction property without interactionType",
            definition(key, value),
            "is only allowed together with \"interactionType\"",
        ));
    }
    refuse_all(refused, BOTH);
    assert_refused(
        "path of the lone property",
        &definition("scale", choices),
        BOTH,
        "object.definition.scale: is only allowed together",
    );
}

fn sub(key: &str, value: Value) -> Value {
    let substatement = json!({
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:s@example.com"},
        "verb": {"id": "http://example.com/verbs/will-visit"},
        "object": {"id": "http://example.com/activities/a"}
    });
    with("/object", if key.is_empty() { substatement } else { set(substatement, key, value) })
}

#[test]
fn substatements_follow_statement_rules_with_restrictions() {
    accept_all(
        vec![
            ("plain substatement", sub("", json!(null))),
            ("timestamp", sub("/timestamp", json!("2031-11-24T01:07:11.253Z"))),
            (
                "result and context",
                set(sub("/result", json!({"success": true})), "/object/context/platform", json!("x")),
            ),
            (
                "statement ref object",
                sub("/object", json!({"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"})),
            ),
            ("agent object", sub("/object", json!({"objectType": "Agent", "mbox": "mailto:x@example.com"}))),
            ("null extension", sub("/context/extensions", json!({"http://example.com/null": null}))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "id",
                sub("/id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0")),
                "object.id: is not allowed in a SubStatement",
            ),
            (
                "stored",
                sub("/stored", json!("2013-05-18T05:32:34.804Z")),
                "object.stored: is not allowed in a SubStatement",
            ),
            ("version", sub("/version", json!("1.0.0")), "object.version: is not allowed in a SubStatement"),
            (
                "authority",
                sub("/authority", json!({"mbox": "mailto:a@example.com"})),
                "object.authority: is not allowed in a SubStatement",
            ),
            (
                "nested substatement",
                sub("/object", sub("", json!(null))["object"].clone()),
                r#"object.object.objectType: must not be "SubStatement": a SubStatement cannot contain another SubStatement"#,
            ),
            (
                "missing actor",
                {
                    let mut s = sub("", json!(null));
                    s["object"].as_object_mut().unwrap().remove("actor");
                    s
                },
                r#"object: required property "actor" is missing"#,
            ),
            (
                "missing verb",
                {
                    let mut s = sub("", json!(null));
                    s["object"].as_object_mut().unwrap().remove("verb");
                    s
                },
                r#"object: required property "verb" is missing"#,
            ),
            (
                "missing object",
                {
                    let mut s = sub("", json!(null));
                    s["object"].as_object_mut().unwrap().remove("object");
                    s
                },
                r#"object: required property "object" is missing"#,
            ),
            (
                "bad timestamp",
                sub("/timestamp", json!("should fail")),
                "object.timestamp: must be an ISO 8601 timestamp",
            ),
            (
                "actor without IFI",
                sub("/actor", json!({"name": "x"})),
                "object.actor: an Agent needs exactly one identifier",
            ),
            (
                "bad extension key",
                sub("/result/extensions", json!({"should fail": 1})),
                r#"object.result.extensions: key "should fail" must be an absolute IRI"#,
            ),
            (
                "revision with agent object",
                set(
                    sub("/object", json!({"objectType": "Agent", "mbox": "mailto:x@example.com"})),
                    "/object/context/revision",
                    json!("1"),
                ),
                "object.context.revision: is only allowed when the object is an Activity",
            ),
            ("lower-case objectType", sub("/objectType", json!("substatement")), "object.objectType: must be one of"),
            (
                "bad score",
                sub("/result/score", json!({"scaled": 2})),
                "object.result.score.scaled: must be between -1 and 1",
            ),
        ],
        BOTH,
    );
}

#[test]
fn statement_refs_need_an_exact_type_and_a_uuid() {
    let reference = |value: Value| with("/object", value);
    refuse_all(
        vec![
            ("no id", reference(json!({"objectType": "StatementRef"})), r#"object: required property "id" is missing"#),
            (
                "id not a uuid",
                reference(json!({"objectType": "StatementRef", "id": "should fail"})),
                "object.id: must be a UUID",
            ),
            (
                "extra property",
                reference(json!({"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0", "x": 1})),
                "object.x: is not an allowed property",
            ),
        ],
        BOTH,
    );
}

#[test]
fn a_voiding_statement_targets_a_statement_ref() {
    let voided = with("/verb", json!({"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}}));
    let target = json!({"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"});
    assert_accepted("voiding a statement ref", &set(voided.clone(), "/object", target), BOTH);
    refuse_all(
        vec![
            (
                "voiding an activity",
                voided.clone(),
                r#"object: must be a StatementRef when the verb is "http://adlnet.gov/expapi/verbs/voided""#,
            ),
            (
                "voiding an agent",
                set(voided.clone(), "/object", json!({"objectType": "Agent", "mbox": "mailto:x@example.com"})),
                "object: must be a StatementRef",
            ),
            (
                "voiding a ref without id",
                set(voided, "/object", json!({"objectType": "StatementRef"})),
                r#"object: required property "id" is missing"#,
            ),
        ],
        BOTH,
    );
}

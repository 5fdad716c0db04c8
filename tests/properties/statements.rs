//! Properties of statement validation (`validation::validate_statements`) and of what the
//! service then runs on an accepted statement (preparation, index terms, equivalence,
//! output formats): every string field and map key of a full statement is given arbitrary
//! Unicode, and a refusal must name that field; arbitrary JSON must be answered.

use std::collections::HashMap;

use fluency::validation::{validate_statement, validate_statements};
use fluency::xapi::activity::{activity_definitions, merge_definition};
use fluency::xapi::equivalence::statements_equivalent;
use fluency::xapi::format::{to_canonical_format, to_ids_format, AcceptLanguage};
use fluency::xapi::prepare::{prepare_statement, PrepareContext};
use fluency::xapi::terms::index_terms;
use fluency::xapi::XapiVersion;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::strategies::{config, json_value, string_pointers, text_near, text_near_owned};

/// Cases per property; validating a full statement takes about 50 µs in a debug build.
const CASES: u32 = 3000;

const VERSIONS: [XapiVersion; 2] = [XapiVersion::V1_0_3, XapiVersion::V2_0_0];

/// A statement using every datatype xAPI defines, valid under both versions.
pub fn full_statement() -> Value {
    json!({
        "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "actor": {"objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
        "object": {
            "objectType": "Activity",
            "id": "http://example.com/activities/q1",
            "definition": {
                "name": {"en-US": "Question 1"},
                "description": {"en-US": "The first question"},
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "moreInfo": "http://example.com/more",
                "interactionType": "choice",
                "correctResponsesPattern": ["a"],
                "choices": [{"id": "a", "description": {"en-US": "A"}}, {"id": "b", "description": {"en-US": "B"}}],
                "extensions": {"http://example.com/ext/activity": "x"}
            }
        },
        "result": {
            "score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10},
            "success": true,
            "completion": true,
            "response": "a",
            "duration": "PT1H30M",
            "extensions": {"http://example.com/ext/result": "x"}
        },
        "context": {
            "registration": "8f87ccde-bb56-4c2e-ab83-44982ef22df0",
            "instructor": {"objectType": "Agent", "account": {"homePage": "http://example.com", "name": "teacher"}},
            "team": {"objectType": "Group", "name": "Team", "mbox_sha1sum": "abcdef0123456789abcdef0123456789abcdef01"},
            "contextActivities": {"parent": [{"id": "http://example.com/activities/quiz"}]},
            "revision": "1",
            "platform": "web",
            "language": "en-US",
            "statement": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"},
            "extensions": {"http://example.com/ext/context": "x"}
        },
        "timestamp": "2024-05-04T17:00:00.000+02:00",
        "authority": {"objectType": "Agent", "openid": "http://example.com/authority"},
        "version": "1.0.0",
        "attachments": [{
            "usageType": "http://example.com/usage",
            "display": {"en-US": "file"},
            "contentType": "text/plain",
            "length": 5,
            "sha2": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "fileUrl": "http://example.com/file"
        }]
    })
}

/// A statement with a SubStatement object, a Group actor with members, an interaction of
/// another type and the context lists xAPI 2.0 added: valid under 2.0 only.
fn sub_statement() -> Value {
    json!({
        "actor": {"objectType": "Group", "name": "G", "member": [
            {"mbox": "mailto:m@example.com"},
            {"objectType": "Agent", "openid": "http://example.com/openid/m"}
        ]},
        "verb": {"id": "http://example.com/verbs/planned", "display": {"en-GB": "planned"}},
        "object": {
            "objectType": "SubStatement",
            "actor": {"objectType": "Agent", "mbox_sha1sum": "abcdef0123456789abcdef0123456789abcdef01"},
            "verb": {"id": "http://example.com/verbs/matched"},
            "object": {"id": "http://example.com/activities/match", "definition": {
                "interactionType": "matching",
                "correctResponsesPattern": ["a[.]b"],
                "source": [{"id": "a", "description": {"en-US": "A"}}],
                "target": [{"id": "b", "description": {"en-US": "B"}}]
            }},
            "result": {"duration": "P1DT2H", "response": "a[.]b"},
            "context": {"language": "fr-CA", "extensions": {"http://example.com/ext/sub": [1, "two"]}},
            "timestamp": "2024-05-04T17:00:00-03:00"
        },
        "context": {
            "contextAgents": [{
                "objectType": "contextAgent",
                "agent": {"mbox": "mailto:coach@example.com"},
                "relevantTypes": ["http://example.com/types/coach"]
            }],
            "contextGroups": [{
                "objectType": "contextGroup",
                "group": {"objectType": "Group", "member": [{"mbox": "mailto:c@example.com"}]},
                "relevantTypes": ["http://example.com/types/class"]
            }],
            "contextActivities": {"grouping": {"id": "http://example.com/activities/course"}}
        },
        "version": "2.0.0"
    })
}

/// Each base statement and the versions it is valid under.
fn bases() -> Vec<(Value, &'static [XapiVersion])> {
    vec![(full_statement(), &VERSIONS), (sub_statement(), &VERSIONS[1..])]
}

const FREE: &[&str] = &["Ann", "", "名前", "a\u{0}b"];
const UUIDS: &[&str] = &["fd41c918-b88b-4b20-a0a5-a4c32391aaa0", "6690E6C9-3EF0-4ED3-8B37-7F3964730BEE"];
const IRIS: &[&str] = &["http://example.com/x", "urn:x:y", "http://例え.jp/引き"];
const URIS: &[&str] = &["http://example.com/x", "https://openid.example.com/u?a=b"];
const TAGS: &[&str] = &["en-US", "zh-Hant-CN", "de-CH-1901"];
const MAILTOS: &[&str] = &["mailto:ann@example.com", "mailto:a.b+c@sub.example.org"];
const DURATIONS: &[&str] = &["PT1H30M", "P3Y1M29DT4H35M59.14S", "P4W", "PT0.5S"];
const TIMESTAMPS: &[&str] = &["2024-05-04T17:00:00.000+02:00", "2024-05-04T17:00Z", "2024-05-04T17:00:00-0530"];
const VERSION_TEXTS: &[&str] = &["1.0.0", "1.0", "1.0.3"];
const SHA1S: &[&str] = &["abcdef0123456789abcdef0123456789abcdef01"];
const SHA2S: &[&str] = &["2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"];
const MEDIA_TYPES: &[&str] = &["text/plain", "application/json; charset=\"utf-8\""];
const ACTIVITY_LISTS: &[&str] = &["parent", "grouping", "category", "other"];
const TOP_LEVEL: &[&str] = &["actor", "verb", "object", "result", "context", "authority", "attachments", "id"];

/// Where a generated string goes: a value at a JSON pointer, or the one key of the map at a
/// pointer. `path` is what a refusal must name (the error path equals it or lies below it).
pub struct Field {
    pub pointer: &'static str,
    key: bool,
    pub path: &'static str,
    seeds: &'static [&'static str],
}

const fn value(pointer: &'static str, path: &'static str, seeds: &'static [&'static str]) -> Field {
    Field { pointer, key: false, path, seeds }
}

const fn key(pointer: &'static str, path: &'static str, seeds: &'static [&'static str]) -> Field {
    Field { pointer, key: true, path, seeds }
}

#[rustfmt::skip]
pub const FIELDS: &[Field] = &[
    value("/id", "id", UUIDS),
    value("/actor/name", "actor.name", FREE),
    value("/actor/mbox", "actor.mbox", MAILTOS),
    value("/actor/objectType", "actor", &["Agent", "Group"]),
    value("/verb/id", "verb.id", IRIS),
    key("/verb/display", "verb.display", TAGS),
    value("/verb/display/en-US", "verb.display", FREE),
    value("/object/id", "object.id", IRIS),
    key("/object/definition/name", "object.definition.name", TAGS),
    key("/object/definition/description", "object.definition.description", TAGS),
    value("/object/definition/type", "object.definition.type", IRIS),
    value("/object/definition/moreInfo", "object.definition.moreInfo", IRIS),
    value("/object/definition/choices/0/id", "object.definition.choices", FREE),
    key("/object/definition/choices/1/description", "object.definition.choices[1].description", TAGS),
    key("/object/definition/extensions", "object.definition.extensions", IRIS),
    value("/result/duration", "result.duration", DURATIONS),
    value("/result/response", "result.response", FREE),
    key("/result/extensions", "result.extensions", IRIS),
    value("/context/registration", "context.registration", UUIDS),
    value("/context/instructor/account/homePage", "context.instructor.account.homePage", IRIS),
    value("/context/instructor/account/name", "context.instructor.account.name", FREE),
    value("/context/team/mbox_sha1sum", "context.team.mbox_sha1sum", SHA1S),
    key("/context/contextActivities", "context.contextActivities", ACTIVITY_LISTS),
    value("/context/contextActivities/parent/0/id", "context.contextActivities.parent[0].id", IRIS),
    value("/context/revision", "context.revision", FREE),
    value("/context/platform", "context.platform", FREE),
    value("/context/language", "context.language", TAGS),
    value("/context/statement/id", "context.statement.id", UUIDS),
    key("/context/extensions", "context.extensions", IRIS),
    value("/timestamp", "timestamp", TIMESTAMPS),
    value("/authority/openid", "authority.openid", URIS),
    value("/version", "version", VERSION_TEXTS),
    value("/attachments/0/usageType", "attachments[0].usageType", IRIS),
    key("/attachments/0/display", "attachments[0].display", TAGS),
    value("/attachments/0/contentType", "attachments[0].contentType", MEDIA_TYPES),
    value("/attachments/0/sha2", "attachments[0].sha2", SHA2S),
    value("/attachments/0/fileUrl", "attachments[0].fileUrl", IRIS),
];

/// The full statement with `text` put into `field`.
pub fn with_field(field: &Field, text: &str) -> Value {
    let mut statement = full_statement();
    let target = statement.pointer_mut(field.pointer).expect("the field exists in the full statement");
    if field.key {
        let map = target.as_object_mut().expect("a map");
        let seed = map.keys().next().expect("one entry").clone();
        let entry = map.remove(&seed).expect("the entry");
        map.insert(text.to_owned(), entry);
    } else {
        *target = Value::from(text);
    }
    statement
}

/// Whether `path` is `field` or lies below it.
pub fn names(path: &str, field: &str) -> bool {
    path == field || path.strip_prefix(field).is_some_and(|rest| rest.starts_with(['.', '[']))
}

/// What the service runs on an accepted statement must not panic, and preparation may
/// only make changes the equivalence rule ignores.
fn check_downstream(statement: &Value, version: XapiVersion, header: &str) -> Result<(), TestCaseError> {
    let authority = json!({"objectType": "Agent", "account": {"homePage": "http://lrs.example.com", "name": "c"}});
    let context = PrepareContext { version, authority: &authority, statement_id: None };
    let prepared = prepare_statement(statement.clone(), &context);
    prop_assert!(
        statements_equivalent(&prepared.statement, statement),
        "preparation changed what the statement says:\n{}\n{}",
        statement,
        prepared.statement
    );
    let _ = index_terms(&prepared.statement);
    let _ = to_ids_format(&prepared.statement);
    let languages = AcceptLanguage::parse(Some(header));
    let _ = to_canonical_format(&prepared.statement, &HashMap::new(), &languages);
    for (_, definition) in activity_definitions(&prepared.statement) {
        let mut merged = definition.clone();
        merge_definition(&mut merged, definition);
    }
    Ok(())
}

/// A field of [`FIELDS`] (by index) and a text for it.
pub fn field_and_text() -> impl Strategy<Value = (usize, String)> {
    (0..FIELDS.len()).prop_flat_map(|i| (Just(i), text_near(FIELDS[i].seeds)))
}

#[test]
fn every_base_statement_is_accepted_under_its_versions() {
    for (statement, versions) in bases() {
        for version in versions {
            assert_eq!(validate_statement(&statement, *version), Ok(()), "under {version}: {statement:#}");
        }
    }
}

#[test]
fn the_full_statement_and_every_seed_are_accepted_under_both_versions() {
    for version in VERSIONS {
        for field in FIELDS {
            for seed in field.seeds {
                let statement = with_field(field, seed);
                let result = validate_statement(&statement, version);
                assert_eq!(result, Ok(()), "{} = {seed:?} under {version}", field.path);
            }
        }
    }
}

#[test]
fn the_field_generator_makes_both_accepted_and_refused_statements() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = field_and_text();
    let accepted = (0..400)
        .filter(|_| {
            let (index, text) = strategy.new_tree(&mut runner).expect("a case").current();
            validate_statement(&with_field(&FIELDS[index], &text), XapiVersion::V2_0_0).is_ok()
        })
        .count();

    assert!((40..=360).contains(&accepted), "{accepted} of 400 generated statements were accepted");
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn a_refused_field_is_named_in_the_error_and_an_accepted_one_is_safe_downstream(
        (index, text) in field_and_text(),
        header in text_near(&["en-US", "fr;q=0.5, *", ""]),
    ) {
        let field = &FIELDS[index];
        let statement = with_field(field, &text);
        for version in VERSIONS {
            match validate_statement(&statement, version) {
                Ok(()) => check_downstream(&statement, version, &header)?,
                Err(error) => prop_assert!(
                    names(&error.path, field.path),
                    "{} = {:?} under {}: the error \"{}\" does not name the field", field.path, text, version, error
                ),
            }
        }
    }

    #[test]
    fn any_string_of_a_base_statement_may_change_and_a_refusal_names_its_property(
        (base, pointer, text) in {
            let cases: Vec<(usize, String)> = bases()
                .iter()
                .enumerate()
                .flat_map(|(i, (base, _))| string_pointers(base).into_iter().map(move |pointer| (i, pointer)))
                .collect();
            proptest::sample::select(cases).prop_flat_map(|(base, pointer)| {
                let seed = bases()[base].0.pointer(&pointer).and_then(Value::as_str).unwrap_or("").to_owned();
                (Just(base), Just(pointer), text_near_owned(vec![seed]))
            })
        }
    ) {
        let (mut statement, versions) = bases().swap_remove(base);
        *statement.pointer_mut(&pointer).expect("a string") = Value::from(text.as_str());
        let top = pointer.split('/').nth(1).unwrap_or_default();
        for version in versions {
            match validate_statement(&statement, *version) {
                Ok(()) => check_downstream(&statement, *version, "*")?,
                Err(error) => prop_assert!(
                    names(&error.path, top),
                    "{} = {:?} under {}: the error \"{}\" is not about {}", pointer, text, version, error, top
                ),
            }
        }
    }

    #[test]
    fn arbitrary_json_bodies_are_answered_and_accepted_ones_are_safe_downstream(
        statement in prop_oneof![
            json_value(),
            prop::collection::vec((proptest::sample::select(TOP_LEVEL), json_value()), 1..4).prop_map(|entries| {
                let mut statement = full_statement();
                let map = statement.as_object_mut().expect("an object");
                for (key, value) in entries {
                    map.insert(key.to_owned(), value);
                }
                statement
            }),
        ],
    ) {
        for version in VERSIONS {
            if validate_statements(&statement, version).is_ok() && statement.is_object() {
                check_downstream(&statement, version, "*")?;
            }
        }
    }
}

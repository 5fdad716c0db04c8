//! Shared generators for the property tests: characters chosen to break byte-index
//! arithmetic (multi-byte, combining, case-changing, control), strings near known-good
//! values, arbitrary JSON, and the case-count configuration every property uses.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;
use serde_json::{Map, Number, Value};

/// The configuration of every property: `default_cases` cases unless `PROPTEST_CASES` is set,
/// and no regression files written into the source tree (a failure prints its shrunk input,
/// which belongs in a unit test next to the code it broke).
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Characters that matter to string code: ASCII (digits, designators, separators), then
/// ones whose UTF-8 form is 2, 3 or 4 bytes, that change length when case-mapped, that look
/// like digits or letters, or that are controls; then anything at all.
pub fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        2 => proptest::sample::select(vec![
            'é', 'ß', '€', '😀', '\u{301}', '\u{0}', '\u{7f}', '\u{80}', '\u{a0}', '\u{ffff}', '\u{fffd}',
            '\u{10ffff}', 'İ', 'ı', '\u{212a}', 'ﬃ', '١', '٫', 'Ａ', '：', '\u{2028}', '\u{feff}', '\t', '\r', '\n',
            '例',
        ]),
        1 => any::<char>(),
    ]
}

/// Up to `max` tricky characters.
pub fn unicode(max: usize) -> BoxedStrategy<String> {
    prop::collection::vec(tricky_char(), 0..=max).prop_map(String::from_iter).boxed()
}

/// One change to a string, by character position.
#[derive(Debug, Clone)]
pub enum Edit {
    Insert(Index, char),
    Replace(Index, char),
    Remove(Index),
    Truncate(Index),
    Append(char),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), tricky_char()).prop_map(|(at, c)| Edit::Insert(at, c)),
        3 => (any::<Index>(), tricky_char()).prop_map(|(at, c)| Edit::Replace(at, c)),
        1 => any::<Index>().prop_map(Edit::Remove),
        1 => any::<Index>().prop_map(Edit::Truncate),
        2 => tricky_char().prop_map(Edit::Append),
    ]
}

pub fn apply(seed: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for edit in edits {
        match edit {
            Edit::Insert(at, c) => chars.insert(at.index(chars.len() + 1), *c),
            Edit::Replace(at, c) if !chars.is_empty() => {
                let i = at.index(chars.len());
                chars[i] = *c;
            }
            Edit::Remove(at) if !chars.is_empty() => {
                chars.remove(at.index(chars.len()));
            }
            Edit::Truncate(at) => chars.truncate(at.index(chars.len() + 1)),
            Edit::Append(c) => chars.push(*c),
            Edit::Replace(..) | Edit::Remove(_) => {}
        }
    }
    chars.into_iter().collect()
}

/// A known-good value with one to four edits.
fn near_owned(seeds: Vec<String>) -> BoxedStrategy<String> {
    (proptest::sample::select(seeds), prop::collection::vec(edit(), 1..=4))
        .prop_map(|(seed, edits)| apply(&seed, &edits))
        .boxed()
}

/// Mostly values near the seeds (where parsers go deepest), else arbitrary Unicode.
pub fn text_near(seeds: &'static [&'static str]) -> BoxedStrategy<String> {
    text_near_owned(seeds.iter().map(|s| s.to_string()).collect())
}

/// [`text_near`] for seeds known only at run time.
pub fn text_near_owned(seeds: Vec<String>) -> BoxedStrategy<String> {
    prop_oneof![
        5 => near_owned(seeds.clone()),
        1 => proptest::sample::select(seeds),
        2 => unicode(40),
        1 => any::<String>(),
    ]
    .boxed()
}

/// Any character outside ASCII, drawn without rejection (a filter would run out of tries
/// at large case counts).
pub fn non_ascii_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('\u{80}', '\u{7ff}'),
        proptest::char::range('\u{800}', '\u{d7ff}'),
        proptest::char::range('\u{e000}', '\u{ffff}'),
        proptest::char::range('\u{10000}', '\u{10ffff}'),
    ]
}

/// A known-good value with one non-ASCII character inserted somewhere: refused by every
/// predicate whose grammar is ASCII only.
pub fn with_non_ascii(seed: String) -> impl Strategy<Value = String> {
    (any::<Index>(), non_ascii_char()).prop_map(move |(at, c)| apply(&seed, &[Edit::Insert(at, c)]))
}

/// Property names an xAPI parser looks for, so that arbitrary JSON reaches deep rules.
const KEYS: &[&str] = &[
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
    "objectType",
    "name",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
    "homePage",
    "member",
    "display",
    "definition",
    "description",
    "type",
    "moreInfo",
    "extensions",
    "interactionType",
    "correctResponsesPattern",
    "choices",
    "score",
    "success",
    "completion",
    "response",
    "duration",
    "scaled",
    "raw",
    "min",
    "max",
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "contextAgents",
    "contextGroups",
    "revision",
    "platform",
    "language",
    "statement",
    "parent",
    "agent",
    "group",
    "usageType",
    "contentType",
    "length",
    "sha2",
    "fileUrl",
    "en-US",
    "http://example.com/x",
];

/// String values an xAPI parser gives meaning to.
const STRINGS: &[&str] = &[
    "Agent",
    "Group",
    "Activity",
    "SubStatement",
    "StatementRef",
    "choice",
    "mailto:a@example.com",
    "http://example.com/a",
    "PT1H",
    "2024-05-04T17:00:00Z",
    "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
    "en-US",
    "1.0.0",
    "2.0.0",
    "http://adlnet.gov/expapi/verbs/voided",
    "text/plain",
];

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![3 => proptest::sample::select(KEYS).prop_map(str::to_owned), 1 => unicode(12)]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        proptest::sample::select(STRINGS).prop_map(Value::from),
        text_near(STRINGS).prop_map(Value::String),
    ]
}

/// Arbitrary JSON, up to four levels deep, with keys and strings an xAPI parser knows.
pub fn json_value() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((json_key(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
            ]
        })
        .boxed()
}

/// Every JSON pointer to a string value in `value`, in document order.
pub fn string_pointers(value: &Value) -> Vec<String> {
    fn walk(value: &Value, pointer: String, out: &mut Vec<String>) {
        match value {
            Value::String(_) => out.push(pointer),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{pointer}/{i}"), out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    walk(item, format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1")), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

#[test]
fn edits_work_by_character_never_splitting_one() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let at = any::<Index>().new_tree(&mut runner).expect("an index").current();

    let edited = apply("é€", &[Edit::Insert(at, 'x'), Edit::Append('😀')]);

    assert_eq!(edited.chars().count(), 4);
    assert!(edited.ends_with('😀') && edited.contains('x'), "{edited:?}");
}

#[test]
fn unicode_generator_reaches_multi_byte_characters() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = unicode(40);
    let multi_byte = (0..50).filter(|_| !strategy.new_tree(&mut runner).unwrap().current().is_ascii()).count();

    assert!(multi_byte > 10, "only {multi_byte} of 50 generated strings had a non-ASCII character");
}

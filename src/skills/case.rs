//! CASE 1.0 packages (1EdTech Competencies and Academic Standards Exchange: a `CFPackage`
//! written as JSON) read into framework parts: every `CFItem` becomes a skill, `isChildOf`
//! associations broader links, `isRelatedTo` and `isPeerOf` related links both ways; other
//! association types are counted and ignored. Called by `catalog::read_framework_file` for
//! `*.json`; docs/skills-formats.md gives the mapping rules.
//!
//! Lines: JSON values carry no position once parsed, so `element_starts` walks the text
//! once more (strings and nesting only) and records where each element of the top-level
//! `CFItems` and `CFAssociations` arrays starts; element `i` of the parsed array is element
//! `i` of the text, so every skill and association knows its line exactly.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use uuid::Uuid;

use super::framework::{FrameworkError, FrameworkParts, LanguageMap, Origin, Skill};
use super::native::line_of;

#[derive(Deserialize)]
struct Package {
    #[serde(rename = "CFDocument")]
    document: Document,
    #[serde(rename = "CFItems", default)]
    items: Vec<Item>,
    #[serde(rename = "CFAssociations", default)]
    associations: Vec<Association>,
}

#[derive(Deserialize)]
struct Document {
    identifier: String,
    uri: Option<String>,
    language: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    identifier: String,
    uri: Option<String>,
    full_statement: String,
    abbreviated_statement: Option<String>,
    human_coding_scheme: Option<String>,
    alternative_label: Option<Labels>,
    language: Option<String>,
}

/// `alternativeLabel` is one string in CASE; some tools write a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Labels {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Association {
    association_type: String,
    #[serde(rename = "originNodeURI")]
    origin: NodeLink,
    #[serde(rename = "destinationNodeURI")]
    destination: NodeLink,
}

/// A CASE `LinkURI`: the node's identifier and URI (its title is not needed).
#[derive(Deserialize)]
struct NodeLink {
    identifier: Option<String>,
    uri: Option<String>,
}

/// What a package gave, and the associations it holds that mean nothing here.
#[derive(Debug, Default, PartialEq)]
pub struct CaseRead {
    pub parts: FrameworkParts,
    /// Associations ignored, by type (`exactMatchOf`, `precedes`, ...).
    pub ignored: BTreeMap<String, usize>,
}

/// One end of an association, resolved.
enum Endpoint {
    /// The package's CFDocument: `isChildOf` it marks a top-level item.
    Document,
    /// A skill IRI: an item of the package, or an outside one `Framework::build` must find.
    Skill(String),
}

/// Reads one package for the catalog; ignored association types are logged.
pub fn read_case(file: &str, text: &str) -> Result<FrameworkParts, FrameworkError> {
    let read = read_case_package(file, text)?;
    if !read.ignored.is_empty() {
        tracing::info!(file, ignored = ?read.ignored, "CASE associations of these types were ignored.");
    }
    Ok(read.parts)
}

/// Reads one package; `file` names it in errors. Links are checked by `Framework::build`,
/// with the other files, so an association may name an item another file defines.
pub fn read_case_package(file: &str, text: &str) -> Result<CaseRead, FrameworkError> {
    let package: Package = serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(rule, _)| rule);
        FrameworkError::new(&Origin { file: file.into(), line: e.line() }, format!("not a CASE package: {message}"))
    })?;
    let starts = element_starts(text);
    let origin = |array: &str, index: usize| {
        let line = starts.get(array).and_then(|s| s.get(index)).map_or(0, |offset| line_of(text, *offset));
        Origin { file: file.to_string(), line }
    };
    let default_language = package.document.language.clone().unwrap_or_else(|| "en".to_string());
    let mut read = CaseRead::default();
    let mut by_identifier: HashMap<String, String> = HashMap::new();
    for (index, item) in package.items.into_iter().enumerate() {
        let at = origin("CFItems", index);
        let (skill, identifier) = item_skill(item, &default_language, at)?;
        by_identifier.insert(identifier, skill.iri.clone());
        read.parts.skills.push(skill);
    }
    let document = &package.document;
    let resolve = |link: &NodeLink, field: &str, at: &Origin| -> Result<Endpoint, FrameworkError> {
        let identifier = link.identifier.as_deref().filter(|s| !s.is_empty());
        let uri = link.uri.as_deref().filter(|s| !s.is_empty());
        if identifier == Some(document.identifier.as_str()) || (uri.is_some() && uri == document.uri.as_deref()) {
            return Ok(Endpoint::Document);
        }
        match (identifier.and_then(|id| by_identifier.get(id)), uri, identifier) {
            (Some(iri), _, _) => Ok(Endpoint::Skill(iri.clone())),
            (None, Some(uri), _) => Ok(Endpoint::Skill(uri.to_string())),
            (None, None, Some(id)) => Ok(Endpoint::Skill(format!("urn:uuid:{}", id.to_ascii_lowercase()))),
            (None, None, None) => Err(FrameworkError::new(at, format!("{field}: give the node's identifier or uri"))),
        }
    };
    for (index, association) in package.associations.iter().enumerate() {
        let at = origin("CFAssociations", index);
        let from = resolve(&association.origin, "originNodeURI", &at)?;
        let to = resolve(&association.destination, "destinationNodeURI", &at)?;
        let kind = association.association_type.as_str();
        match (kind, from, to) {
            // A top-level item: the child of the document itself.
            ("isChildOf", Endpoint::Skill(_), Endpoint::Document) => {}
            ("isChildOf", Endpoint::Skill(child), Endpoint::Skill(parent)) => {
                read.parts.narrower_links.push((parent, child, at));
            }
            ("isRelatedTo" | "isPeerOf", Endpoint::Skill(a), Endpoint::Skill(b)) => {
                read.parts.related_links.push((b.clone(), a.clone(), at.clone()));
                read.parts.related_links.push((a, b, at));
            }
            _ => *read.ignored.entry(kind.to_string()).or_default() += 1,
        }
    }
    Ok(read)
}

/// The item's skill and its CASE identifier. The IRI is the item's `uri`; an item without
/// one is named `urn:uuid:<identifier>` (CASE identifiers are UUIDs, stable across exports).
fn item_skill(item: Item, default_language: &str, at: Origin) -> Result<(Skill, String), FrameworkError> {
    let iri = match item.uri.as_deref().map(str::trim).filter(|uri| !uri.is_empty()) {
        Some(uri) => uri.to_string(),
        None => match Uuid::parse_str(&item.identifier) {
            Ok(uuid) => format!("urn:uuid:{uuid}"),
            Err(_) => {
                return Err(FrameworkError::new(
                    &at,
                    format!("CFItem {:?}: give a uri, or a UUID identifier to name it by", item.identifier),
                ))
            }
        },
    };
    let language = item.language.as_deref().filter(|l| !l.is_empty()).unwrap_or(default_language).to_string();
    let present = |text: &Option<String>| text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let coding = present(&item.human_coding_scheme);
    let name = present(&item.abbreviated_statement)
        .or_else(|| coding.clone())
        .unwrap_or_else(|| item.full_statement.trim().to_string());
    let labels = match item.alternative_label {
        Some(Labels::One(label)) => vec![label],
        Some(Labels::Many(labels)) => labels,
        None => Vec::new(),
    };
    let mut skill = Skill::new(iri, at);
    for alias in coding.into_iter().chain(labels.into_iter().map(|l| l.trim().to_string())) {
        if !alias.is_empty() && alias != name && !skill.aliases.contains(&alias) {
            skill.aliases.push(alias);
        }
    }
    skill.name = LanguageMap::from([(language.clone(), name)]);
    if !item.full_statement.trim().is_empty() {
        skill.description = LanguageMap::from([(language, item.full_statement.trim().to_string())]);
    }
    Ok((skill, item.identifier))
}

/// Byte offsets where each element of every top-level array starts, by the array's key.
/// Only strings (with their escapes) and nesting matter; the text is valid JSON already.
fn element_starts(text: &str) -> HashMap<String, Vec<usize>> {
    let mut starts: HashMap<String, Vec<usize>> = HashMap::new();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let (mut string_start, mut last_string, mut key) = (0, None::<&str>, None::<&str>);
    // The key of the top-level array being walked, and whether an element is due.
    let (mut array, mut element_due) = (None::<&str>, false);
    for (at, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    last_string = Some(&text[string_start..at]);
                }
                _ => {}
            }
            continue;
        }
        if let (Some(name), true, 2) = (array, element_due, depth) {
            if !byte.is_ascii_whitespace() && byte != b']' {
                starts.entry(name.to_string()).or_default().push(at);
                element_due = false;
            }
        }
        match byte {
            b'"' => {
                in_string = true;
                string_start = at + 1;
            }
            b':' if depth == 1 => key = last_string.take(),
            b',' if depth == 2 => element_due = true,
            b'{' | b'[' => {
                depth += 1;
                if depth == 2 {
                    array = if byte == b'[' { key } else { None };
                    element_due = true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::Framework;

    const DOC: &str = "d0c00000-0000-4000-8000-000000000000";
    const BASE: &str = "https://case.example.com/items";

    /// One item per line, in the layout `package` writes.
    fn item(key: &str, fields: &str) -> String {
        format!(r#"{{"identifier": "{key}-id", "uri": "{BASE}/{key}", "fullStatement": "Can {key}", {fields}}}"#)
    }

    fn association(kind: &str, from: &str, to: &str) -> String {
        let node = |key: &str| match key {
            "doc" => format!(r#"{{"identifier": "{DOC}", "uri": "https://case.example.com/doc", "title": "Data"}}"#),
            key => format!(r#"{{"identifier": "{key}-id", "uri": "{BASE}/{key}", "title": "{key}"}}"#),
        };
        format!(
            r#"{{"identifier": "{from}-{to}", "associationType": "{kind}", "originNodeURI": {}, "destinationNodeURI": {}}}"#,
            node(from),
            node(to)
        )
    }

    /// Items start on line 4; associations on line 6 + the number of items.
    fn package(items: &[String], associations: &[String]) -> String {
        format!(
            "{{\n\"CFDocument\": {{\"identifier\": \"{DOC}\", \"uri\": \"https://case.example.com/doc\", \
             \"language\": \"en\", \"title\": \"Data [skills], \\\"draft\\\"\"}},\n\"CFItems\": [\n{}\n],\n\
             \"CFAssociations\": [\n{}\n]\n}}\n",
            items.join(",\n"),
            associations.join(",\n")
        )
    }

    fn iri(key: &str) -> String {
        format!("{BASE}/{key}")
    }

    #[test]
    fn a_package_gives_skills_broader_and_related_links_and_counts_the_ignored_associations() {
        let text = package(
            &[
                item("data", r#""humanCodingScheme": "D", "abbreviatedStatement": "Data""#),
                item("sql", r#""humanCodingScheme": "D.1", "alternativeLabel": "Structured Query Language""#),
                item("joins", r#""language": "de", "abbreviatedStatement": "Verbünde""#),
                item("excel", r#""alternativeLabel": ["Spreadsheets", "Excel"]"#),
                r#"{"identifier": "0E5A2B9C-0000-4000-8000-00000000000A", "fullStatement": "Can chart"}"#.to_string(),
            ],
            &[
                association("isChildOf", "data", "doc"),
                association("isChildOf", "sql", "data"),
                association("isChildOf", "joins", "sql"),
                association("isRelatedTo", "excel", "sql"),
                association("exactMatchOf", "sql", "joins"),
                association("precedes", "sql", "joins"),
                association("precedes", "data", "sql"),
            ],
        );

        let read = read_case_package("data.json", &text).unwrap();
        let framework = Framework::build(read.parts).unwrap();

        let sql = &framework.skills[&iri("sql")];
        assert_eq!(sql.origin, Origin { file: "data.json".into(), line: 5 });
        assert_eq!((sql.name["en"].as_str(), sql.description["en"].as_str()), ("D.1", "Can sql"));
        assert_eq!(sql.aliases, vec!["Structured Query Language"], "the coding scheme is the name, not an alias too");
        assert_eq!(framework.skills[&iri("data")].aliases, vec!["D"]);
        assert_eq!(framework.skills[&iri("joins")].name["de"], "Verbünde", "the item's own language");
        assert_eq!(framework.skills[&iri("excel")].name["en"], "Can excel", "the full statement as a last resort");
        assert_eq!(framework.skills[&iri("excel")].aliases, vec!["Spreadsheets", "Excel"]);
        assert_eq!(
            framework.ancestors(&iri("joins")),
            vec![(iri("sql"), 1), (iri("data"), 2)],
            "isChildOf: the destination is broader"
        );
        assert!(framework.skills[&iri("data")].broader.is_empty(), "a child of the document is top-level");
        assert_eq!(sql.related, vec![iri("excel")], "related both ways");
        assert_eq!(framework.skills[&iri("excel")].related, vec![iri("sql")]);
        assert!(framework.skills.contains_key("urn:uuid:0e5a2b9c-0000-4000-8000-00000000000a"), "no uri: by UUID");
        assert_eq!(
            read_case_package("data.json", &text).unwrap().ignored,
            BTreeMap::from([("exactMatchOf".to_string(), 1), ("precedes".to_string(), 2)])
        );
    }

    #[test]
    fn bad_packages_are_refused_naming_file_line_and_rule() {
        let two = || vec![item("a", r#""language": "en""#), item("b", r#""language": "en""#)];
        let outside = association("isChildOf", "a", "b").replace("b-id", "gone-id").replace("/b\"", "/gone\"");
        let cases: Vec<(&str, String, String)> = vec![
            (
                "a cycle of isChildOf",
                package(&two(), &[association("isChildOf", "a", "b"), association("isChildOf", "b", "a")]),
                "broader: the links form a cycle".into(),
            ),
            (
                "a broader end outside the package",
                package(&two(), &[association("isRelatedTo", "a", "b"), outside.clone()]),
                format!("data.json:9: broader: {BASE}/gone is not a skill of the framework"),
            ),
            (
                "a narrower end outside the package",
                package(&two(), &[association("isChildOf", "gone", "a")]),
                format!("data.json:8: narrower: {BASE}/gone is not a skill of the framework"),
            ),
            (
                "a related end outside the package",
                package(&two(), &[association("isPeerOf", "a", "gone")]),
                format!("data.json:8: related: {BASE}/gone is not a skill of the framework"),
            ),
            (
                "an association end without identifier or uri",
                package(
                    &two(),
                    &[association("isChildOf", "a", "b").replacen(
                        r#""identifier": "a-id", "uri": "https://case.example.com/items/a", "#,
                        "",
                        1,
                    )],
                ),
                "data.json:8: originNodeURI: give the node's identifier or uri".into(),
            ),
            (
                "an item without uri or UUID",
                package(&[r#"{"identifier": "x1", "fullStatement": "X"}"#.into()], &[]),
                "data.json:4: CFItem \"x1\": give a uri, or a UUID identifier".into(),
            ),
            (
                "an item with a relative uri",
                package(&[item("a", r#""language": "en""#).replace(&format!("{BASE}/a"), "items/a")], &[]),
                "data.json:4: skill: \"items/a\" must be an absolute IRI".into(),
            ),
            (
                "an item without fullStatement",
                package(&[r#"{"identifier": "x1", "uri": "https://x.example/1"}"#.into()], &[]),
                "data.json:4: not a CASE package: missing field `fullStatement`".into(),
            ),
            (
                "a syntax error",
                "{\n\"CFDocument\": {\"identifier\": }\n}".into(),
                "data.json:2: not a CASE package".into(),
            ),
        ];
        for (what, text, expected) in cases {
            let error = read_case_package("data.json", &text).and_then(|read| Framework::build(read.parts));
            let error = error.expect_err(what).to_string();
            assert!(error.contains(&expected), "{what}: {error}");
        }
    }

    #[test]
    fn the_example_of_docs_skills_formats_reads_as_it_says() {
        let docs = include_str!("../../docs/skills-formats.md");
        let example = docs.split("```json\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();

        let framework = Framework::build(read_case_package("data.json", example).unwrap().parts).unwrap();

        let sql = &framework.skills["https://case.example.com/items/sql"];
        assert_eq!((sql.name["en"].as_str(), sql.aliases.as_slice()), ("SQL", ["D.1".to_string()].as_slice()));
        assert_eq!(sql.broader, ["https://case.example.com/items/data"]);
        let data = &framework.skills["https://case.example.com/items/data"];
        assert_eq!((data.name["en"].as_str(), data.aliases.len(), data.broader.len()), ("D", 0, 0));
    }

    #[test]
    fn element_starts_skip_brackets_commas_and_quotes_inside_strings() {
        let text = "{\"t\": \"a [b], \\\"c\\\"\", \"CFItems\": [ {\"x\": \"],{\"}, {\"y\": [1, 2]} ], \"n\": [3]}";

        let starts = element_starts(text);

        let first = text.find("{\"x\"").unwrap();
        let second = text.find("{\"y\"").unwrap();
        assert_eq!(starts["CFItems"], vec![first, second]);
        assert_eq!(starts["n"], vec![text.rfind('3').unwrap()]);
        assert!(!starts.contains_key("t"));
    }
}

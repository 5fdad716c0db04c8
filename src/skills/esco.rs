//! ESCO- and O*NET-style concept lists (CSV with a header row) read into framework parts:
//! one skill per row, with its broader and related concepts. Every row is checked before
//! anything is used, and a file with refused rows is refused whole, listing each row's
//! line, column and rule. Called by `catalog::read_framework_file` for `*.csv`;
//! docs/skills-formats.md lists the columns.

use super::framework::{FrameworkError, FrameworkParts, LanguageMap, Origin, Skill};
use crate::tabular::{count_rows, find_column, header_names, list_names, unreadable_row, RowError};
use crate::validation::datatypes::is_language_tag;
use crate::validation::is_iri;

/// Refused rows named in the error; the count says how many more there were.
const LISTED_ROWS: usize = 20;

/// Where each known column is; other columns (ESCO's `status`, `skillType`, ...) are ignored.
struct Columns {
    names: Vec<String>,
    uri: usize,
    label: usize,
    broader: Option<usize>,
    related: Option<usize>,
    alt_labels: Option<usize>,
    description: Option<usize>,
    language: Option<usize>,
}

impl Columns {
    /// Header names match case-insensitively, around any spaces.
    fn find(header: &csv::StringRecord, origin: &Origin) -> Result<Self, FrameworkError> {
        let names = header_names(header);
        let optional = |wanted: &str| find_column(&names, wanted).map_err(|rule| FrameworkError::new(origin, rule));
        let required = |wanted: &str| {
            optional(wanted)?.ok_or_else(|| {
                let rule = format!(
                    "column {wanted:?} is not in the header (a header row comes first); it has: {}",
                    list_names(&names)
                );
                FrameworkError::new(origin, rule)
            })
        };
        Ok(Self {
            uri: required("conceptUri")?,
            label: required("preferredLabel")?,
            broader: optional("broaderUri")?,
            related: optional("relatedUris")?,
            alt_labels: optional("altLabels")?,
            description: optional("description")?,
            language: optional("language")?,
            names,
        })
    }
}

/// Reads one file; `file` names it in errors.
pub fn read_esco(file: &str, text: &str) -> Result<FrameworkParts, FrameworkError> {
    let at = |line: u64| Origin { file: file.to_string(), line: line as usize };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| FrameworkError::new(&at(1), format!("reading the header: {e}")))?;
    let columns = Columns::find(header, &at(1))?;
    let mut parts = FrameworkParts::default();
    let mut refused = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row_line = index as u64 + 2;
        let outcome = match record {
            Ok(record) => {
                let line = record.position().map_or(row_line, |p| p.line());
                concept(&record, &columns, at(line)).map_err(|(column, problem)| RowError { line, column, problem })
            }
            Err(error) => Err(unreadable_row(error, index + 1).unwrap_or_else(|error| RowError {
                line: row_line,
                column: None,
                problem: error.to_string(),
            })),
        };
        match outcome {
            Ok(skill) => parts.skills.push(skill),
            Err(error) => refused.push(error),
        }
    }
    let Some(first) = refused.first() else { return Ok(parts) };
    let mut listed: Vec<String> = refused.iter().take(LISTED_ROWS).map(ToString::to_string).collect();
    if refused.len() > LISTED_ROWS {
        listed.push(format!("and {} more", refused.len() - LISTED_ROWS));
    }
    let count = count_rows(refused.len());
    Err(FrameworkError::new(&at(first.line), format!("{count} refused, nothing loaded: {}", listed.join("; "))))
}

/// One row's skill, or the column at fault (by its name in the header) and the rule.
fn concept(record: &csv::StringRecord, columns: &Columns, origin: Origin) -> Result<Skill, (Option<String>, String)> {
    let text = |position: usize| record.get(position).unwrap_or_default();
    let optional = |position: Option<usize>| position.map(text).unwrap_or_default();
    let refuse = |position: usize| {
        let column = columns.names.get(position).cloned();
        move |problem: String| (column, problem)
    };
    let uri = text(columns.uri);
    if uri.is_empty() {
        return Err(refuse(columns.uri)("is empty; every row needs the concept's IRI".to_string()));
    }
    check_iri(uri).map_err(refuse(columns.uri))?;
    let label = text(columns.label);
    if label.is_empty() {
        return Err(refuse(columns.label)("is empty; every concept needs a preferred label".to_string()));
    }
    let links = |position: Option<usize>| -> Result<Vec<String>, (Option<String>, String)> {
        let Some(position) = position else { return Ok(Vec::new()) };
        let iris: Vec<String> = split_iris(text(position)).map(str::to_string).collect();
        iris.iter().try_for_each(|iri| check_iri(iri)).map_err(refuse(position))?;
        Ok(iris)
    };
    let broader = links(columns.broader)?;
    let related = links(columns.related)?;
    let language = match (optional(columns.language), columns.language) {
        ("", _) => "en".to_string(),
        (tag, Some(position)) if !is_language_tag(tag) => {
            return Err(refuse(position)(format!("{tag:?} is not a language tag (en, de-CH)")));
        }
        (tag, _) => tag.to_string(),
    };
    let mut skill = Skill::new(uri, origin);
    skill.name = LanguageMap::from([(language.clone(), label.to_string())]);
    let description = optional(columns.description);
    if !description.is_empty() {
        skill.description = LanguageMap::from([(language, description.to_string())]);
    }
    for alias in optional(columns.alt_labels).split(['\n', '|']).map(str::trim) {
        if !alias.is_empty() && alias != label && !skill.aliases.iter().any(|a| a == alias) {
            skill.aliases.push(alias.to_string());
        }
    }
    skill.broader = broader;
    skill.related = related;
    Ok(skill)
}

/// Several IRIs in one field, separated by `|` or whitespace (IRIs contain neither).
fn split_iris(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == '|' || c.is_whitespace()).filter(|iri| !iri.is_empty())
}

fn check_iri(iri: &str) -> Result<(), String> {
    if is_iri(iri) {
        Ok(())
    } else {
        Err(format!("{iri:?} is not an absolute IRI (e.g. http://data.europa.eu/esco/skill/...)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::Framework;

    const ESCO: &str = "http://data.europa.eu/esco/skill";

    #[test]
    fn a_concept_list_gives_skills_with_labels_links_and_their_lines() {
        let text = format!(
            "\u{feff}ConceptURI, preferredLabel ,BroaderUri,RELATEDURIS,altLabels,description,language,status\n\
             {ESCO}/data,data analysis,,,,Working with data,,released\n\
             {ESCO}/sql,SQL,{ESCO}/data,\"{ESCO}/excel | {ESCO}/python\",\"Structured Query Language\nSQL\n\nsequel\",,,released\n\
             {ESCO}/excel,Tabellenkalkulation,{ESCO}/data,,Excel|Spreadsheets,,de,released\n\
             {ESCO}/python,Python,{ESCO}/data {ESCO}/sql,,,,en-GB,\n"
        );

        let framework = Framework::build(read_esco("esco.csv", &text).unwrap()).unwrap();

        let sql = &framework.skills[&format!("{ESCO}/sql")];
        assert_eq!(sql.name["en"], "SQL");
        assert_eq!(sql.aliases, vec!["Structured Query Language", "sequel"], "the label itself is no alias");
        assert_eq!(sql.broader, vec![format!("{ESCO}/data")]);
        assert_eq!(sql.related, vec![format!("{ESCO}/excel"), format!("{ESCO}/python")]);
        assert_eq!(sql.origin, Origin { file: "esco.csv".into(), line: 3 });
        let excel = &framework.skills[&format!("{ESCO}/excel")];
        assert_eq!(excel.origin.line, 7, "after a quoted field spanning four lines");
        assert_eq!((excel.name["de"].as_str(), excel.aliases.len()), ("Tabellenkalkulation", 2));
        let python = &framework.skills[&format!("{ESCO}/python")];
        assert_eq!(python.broader.len(), 2, "several broader concepts, separated by a space");
        assert_eq!(python.name["en-GB"], "Python");
        let data = &framework.skills[&format!("{ESCO}/data")];
        assert_eq!(data.description["en"], "Working with data");
        assert_eq!(data.narrower.len(), 3);
    }

    #[test]
    fn the_example_of_docs_skills_formats_reads_as_it_says() {
        let docs = include_str!("../../docs/skills-formats.md");
        let example = docs.split("```csv\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();

        let framework = Framework::build(read_esco("esco.csv", example).unwrap()).unwrap();

        let sql = &framework.skills[&format!("{ESCO}/sql")];
        assert_eq!(sql.aliases, ["Structured Query Language", "sequel"]);
        assert_eq!(sql.broader, [format!("{ESCO}/data")]);
        assert_eq!(sql.description["en"], "Querying relational databases");
    }

    #[test]
    fn bad_rows_are_refused_naming_file_line_column_and_rule() {
        let header = "conceptUri,preferredLabel,broaderUri,relatedUris,language\n";
        let good = format!("{ESCO}/data,Data,,,\n");
        let cases = [
            ("a missing IRI", format!("{good},Orphan,,,\n"), "esco.csv:3: 1 row refused, nothing loaded: line 3, column \"conceptUri\": is empty; every row needs the concept's IRI"),
            ("a malformed IRI", format!("{good}skill/sql,SQL,,,\n"), "line 3, column \"conceptUri\": \"skill/sql\" is not an absolute IRI"),
            ("a malformed broader IRI", format!("{good}{ESCO}/sql,SQL,data,,\n"), "line 3, column \"broaderUri\": \"data\" is not an absolute IRI"),
            ("a malformed related IRI", format!("{good}{ESCO}/sql,SQL,,{ESCO}/data|nope,\n"), "line 3, column \"relatedUris\": \"nope\" is not an absolute IRI"),
            ("too few fields", format!("{good}{ESCO}/sql,SQL\n"), "esco.csv:3: 1 row refused, nothing loaded: line 3: has 2 fields but the header has 5"),
            ("too many fields", format!("{good}{ESCO}/sql,SQL,,,,extra\n"), "line 3: has 6 fields but the header has 5"),
            ("an empty label", format!("{good}{ESCO}/sql,,,,\n"), "line 3, column \"preferredLabel\": is empty"),
            ("a bad language", format!("{good}{ESCO}/sql,SQL,,,english!\n"), "line 3, column \"language\": \"english!\" is not a language tag"),
            ("a dangling broader link", format!("{good}{ESCO}/sql,SQL,{ESCO}/gone,,\n"), "esco.csv:3: broader: http://data.europa.eu/esco/skill/gone is not a skill"),
            ("a concept twice", format!("{good}{ESCO}/data,Data again,,,\n"), "esco.csv:3: skill http://data.europa.eu/esco/skill/data: the IRI is already defined at esco.csv:2"),
        ];
        for (what, rows, expected) in cases {
            let error = read_esco("esco.csv", &format!("{header}{rows}")).and_then(Framework::build);
            let error = error.expect_err(what).to_string();
            assert!(error.contains(expected), "{what}: {error}");
        }
    }

    #[test]
    fn every_refused_row_is_listed_and_a_file_without_the_header_is_refused() {
        let text = format!("conceptUri,preferredLabel\n,A\n{ESCO}/b,B\n\"x\ny\",C\n{ESCO}/d\n");
        let no_header = format!("{ESCO}/data,Data\n");

        let refused = read_esco("esco.csv", &text).unwrap_err().to_string();
        let headless = read_esco("esco.csv", &no_header).unwrap_err().to_string();

        assert_eq!(
            refused,
            "esco.csv:2: 3 rows refused, nothing loaded: line 2, column \"conceptUri\": is empty; every row needs the \
             concept's IRI; line 4, column \"conceptUri\": \"x\\ny\" is not an absolute IRI (e.g. \
             http://data.europa.eu/esco/skill/...); line 6: has 1 field but the header has 2"
        );
        assert!(headless.starts_with("esco.csv:1: column \"conceptUri\" is not in the header"), "{headless}");
    }
}

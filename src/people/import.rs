//! The people CSV: one person a row (`person`, and optionally `name`, `team`, `manager`,
//! `role`), each read into a `PersonRecord` or into an error naming its line, column and
//! rule. Called by `fluency people import` (`cli::people`), which stores the records.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Read;

use serde_json::json;

use crate::storage::PersonRecord;
use crate::tabular::{find_column, header_names, list_names, unreadable_row, RowError};
use crate::validation::{is_iri, validate_agent_param};
use crate::xapi::agent::ifi_key;
use crate::xapi::time::Micros;

/// A problem with the file as a whole, before any row is read.
#[derive(Debug, thiserror::Error)]
pub enum PeopleCsvError {
    #[error("column \"person\" is not in the header (a header row comes first); the header has: {0}")]
    MissingPerson(String),
    #[error("{0}")]
    Header(String),
    #[error("reading the CSV file: {0}")]
    Read(#[from] csv::Error),
}

/// Every row of a file, read: the records of the good rows and the refused rows.
#[derive(Clone, Debug, Default)]
pub struct PeopleRows {
    /// One record per good row, in file order.
    pub people: Vec<PersonRecord>,
    pub refused: Vec<RowError>,
    /// Data rows read (the header not counted).
    pub rows: usize,
    /// Distinct teams among the good rows.
    pub teams: usize,
}

/// Where each column is; columns other than these are ignored.
struct Positions {
    names: Vec<String>,
    person: usize,
    name: Option<usize>,
    team: Option<usize>,
    manager: Option<usize>,
    role: Option<usize>,
}

/// Reads every row; `updated` stamps the records. Only a missing `person` column or an
/// unreadable file fail the whole read; a bad row is recorded in `refused`.
pub fn read_people(input: impl Read, updated: Micros) -> Result<PeopleRows, PeopleCsvError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
    let positions = positions(reader.headers()?)?;
    let mut rows = PeopleRows::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut teams = BTreeSet::new();
    for record in reader.records() {
        rows.rows += 1;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                rows.refused.push(unreadable_row(error, rows.rows)?);
                continue;
            }
        };
        let line = record.position().map_or(rows.rows as u64 + 1, |p| p.line());
        let person = match person(&record, &positions, updated) {
            Ok(person) => person,
            Err((position, problem)) => {
                rows.refused.push(RowError { line, column: positions.names.get(position).cloned(), problem });
                continue;
            }
        };
        if let Some(first) = seen.get(&person.person) {
            let problem = format!("the same person as line {first}; give each person once");
            rows.refused.push(RowError { line, column: positions.names.get(positions.person).cloned(), problem });
            continue;
        }
        seen.insert(person.person.clone(), line);
        teams.extend(person.team.clone());
        rows.people.push(person);
    }
    rows.teams = teams.len();
    Ok(rows)
}

fn positions(header: &csv::StringRecord) -> Result<Positions, PeopleCsvError> {
    let names = header_names(header);
    let find = |wanted: &str| find_column(&names, wanted).map_err(PeopleCsvError::Header);
    Ok(Positions {
        person: find("person")?.ok_or_else(|| PeopleCsvError::MissingPerson(list_names(&names)))?,
        name: find("name")?,
        team: find("team")?,
        manager: find("manager")?,
        role: find("role")?,
        names,
    })
}

/// One row's record, or the position of the column at fault and the rule.
fn person(record: &csv::StringRecord, at: &Positions, updated: Micros) -> Result<PersonRecord, (usize, String)> {
    let text =
        |position: Option<usize>| position.and_then(|p| record.get(p)).filter(|t| !t.is_empty()).map(str::to_string);
    let key = match text(Some(at.person)) {
        None => return Err((at.person, "is empty; every row needs the person".to_string())),
        Some(person) => parse_ifi(&person).map_err(|problem| (at.person, problem))?,
    };
    let manager = match (text(at.manager), at.manager) {
        (Some(manager), Some(position)) => {
            let manager = parse_ifi(&manager).map_err(|problem| (position, problem))?;
            if manager == key {
                return Err((position, "is the person themself".to_string()));
            }
            Some(manager)
        }
        _ => None,
    };
    let role = match (text(at.role), at.role) {
        (Some(role), Some(position)) if !is_iri(&role) => {
            let problem = format!("{role:?} is not an absolute IRI (e.g. https://roles.example.com/analyst)");
            return Err((position, problem));
        }
        (role, _) => role,
    };
    Ok(PersonRecord { person: key, name: text(at.name), team: text(at.team), manager, role, updated })
}

/// The IFI key of a person written as xAPI writes the identifier: `mailto:ada@example.com`,
/// `account:<homePage>|<name>`, `openid:<URI>` or `mbox_sha1sum:<40 hex digits>`.
pub fn parse_ifi(text: &str) -> Result<String, String> {
    let hint = "write mailto:ada@example.com, account:<homePage>|<name>, openid:<URI> or mbox_sha1sum:<40 hex digits>";
    let Some((scheme, rest)) = text.split_once(':') else {
        return Err(format!("{text:?} is not a person's identifier; {hint}"));
    };
    let (property, value) = match scheme.to_ascii_lowercase().as_str() {
        "mailto" => ("mbox", json!(format!("mailto:{rest}"))),
        "account" => match rest.split_once('|') {
            Some((home_page, name)) => ("account", json!({ "homePage": home_page, "name": name })),
            None => return Err(format!("{text:?}: an account is written account:<homePage>|<name>")),
        },
        "openid" => ("openid", json!(rest)),
        "mbox_sha1sum" => ("mbox_sha1sum", json!(rest)),
        _ => return Err(format!("{text:?} is not a person's identifier; {hint}")),
    };
    let mut agent = json!({ "objectType": "Agent" });
    agent[property] = value;
    validate_agent_param(&agent, false).map_err(|e| format!("{text:?} is not a valid identifier: {e}"))?;
    ifi_key(&agent).ok_or_else(|| format!("{text:?} is not a person's identifier; {hint}"))
}

impl fmt::Display for PeopleRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rows read:      {}", self.rows)?;
        writeln!(f, "rows accepted:  {}", self.rows - self.refused.len())?;
        writeln!(f, "rows refused:   {}", self.refused.len())?;
        writeln!(f, "teams:          {}", self.teams)?;
        for error in &self.refused {
            writeln!(f, "  {error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_way_of_writing_a_person_gives_the_ifi_key_xapi_gives() {
        let sha1 = "ebd31e95054c018b10727ccffd2ef2ec3a016ee9";
        let cases = [
            ("mailto:ada@Example.COM", json!({"mbox": "mailto:ada@example.com"})),
            (
                "account:https://hr.example.com|A-17",
                json!({"account": {"homePage": "https://hr.example.com", "name": "A-17"}}),
            ),
            (
                "account:https://hr.example.com|a|b",
                json!({"account": {"homePage": "https://hr.example.com", "name": "a|b"}}),
            ),
            ("openid:https://id.example.com/ada", json!({"openid": "https://id.example.com/ada"})),
            (&format!("mbox_sha1sum:{}", sha1.to_uppercase()), json!({"mbox_sha1sum": sha1})),
        ];
        for (text, agent) in cases {
            assert_eq!(parse_ifi(text), Ok(ifi_key(&agent).unwrap()), "{text}");
        }
    }

    #[test]
    fn malformed_identifiers_are_refused_with_a_hint() {
        let cases = [
            ("no scheme", "ada@example.com", "is not a person's identifier; write mailto:"),
            ("an unknown scheme", "tel:+4912345", "is not a person's identifier"),
            (
                "an account without name",
                "account:https://hr.example.com",
                "an account is written account:<homePage>|<name>",
            ),
            ("an account on a relative home page", "account:hr|ada", "is not a valid identifier"),
            ("an address without domain", "mailto:ada", "is not a valid identifier"),
            ("a short sha1sum", "mbox_sha1sum:abc", "is not a valid identifier"),
        ];
        for (what, text, expected) in cases {
            let error = parse_ifi(text).expect_err(what);
            assert!(error.contains(expected), "{what}: {error}");
        }
    }
}

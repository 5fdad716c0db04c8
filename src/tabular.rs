//! CSV reading shared by the importers (`kpi::import`, `skills::esco`, `people::import`):
//! the refused-row error, header lookup that ignores case, the rows the reader cannot split,
//! and how a count of rows is written in their messages.

use std::fmt;

/// One refused row: `line 14, column "aht_seconds": "12,5" is not a number`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub column: Option<String>,
    pub problem: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column:?}: {}", self.line, self.problem),
            None => write!(f, "line {}: {}", self.line, self.problem),
        }
    }
}

/// The header's names, trimmed.
pub fn header_names(header: &csv::StringRecord) -> Vec<String> {
    header.iter().map(|name| name.trim().to_string()).collect()
}

/// Where the column `wanted` is, its name compared without regard to case; an error naming
/// it when the header has it twice.
pub fn find_column(names: &[String], wanted: &str) -> Result<Option<usize>, String> {
    let mut found = names.iter().enumerate().filter(|(_, name)| name.eq_ignore_ascii_case(wanted));
    match (found.next(), found.next()) {
        (Some(_), Some(_)) => Err(format!("column {wanted:?} is in the header twice")),
        (first, _) => Ok(first.map(|(position, _)| position)),
    }
}

/// The header's names quoted, for a message saying which column is missing.
pub fn list_names(names: &[String]) -> String {
    names.iter().map(|name| format!("{name:?}")).collect::<Vec<_>>().join(", ")
}

/// A row the CSV reader could not split (wrong number of fields, invalid UTF-8), refused;
/// an I/O failure is handed back instead, to end the read. `row` counts data rows from 1.
pub fn unreadable_row(error: csv::Error, row: usize) -> Result<RowError, csv::Error> {
    let line = error.position().map_or(row as u64 + 1, |p| p.line());
    let problem = match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            let fields = if *len == 1 { "field" } else { "fields" };
            format!("has {len} {fields} but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8 text".to_string(),
        csv::ErrorKind::Io(_) => return Err(error),
        _ => error.to_string(),
    };
    Ok(RowError { line, column: None, problem })
}

/// `1 row`, `3 rows`.
pub fn count_rows(n: usize) -> String {
    match n {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_whatever_their_case_and_a_repeated_one_is_refused() {
        let names = header_names(&csv::StringRecord::from(vec![" Person ", "TEAM", "team2", "Role", "role"]));

        assert_eq!(find_column(&names, "person"), Ok(Some(0)));
        assert_eq!(find_column(&names, "team"), Ok(Some(1)));
        assert_eq!(find_column(&names, "manager"), Ok(None));
        assert_eq!(find_column(&names, "role"), Err("column \"role\" is in the header twice".to_string()));
    }
}

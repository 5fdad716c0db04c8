//! CSV import of KPI observations: reads every row of an export into a profile statement,
//! or into an error naming its line, column and rule. Called by `fluency kpi import`;
//! sending the statements is `sink`'s job.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::profile::{is_period, kpi_statement, KpiDefinition, KpiObservation};
use crate::tabular::unreadable_row;
pub use crate::tabular::RowError;
use crate::validation::datatypes::is_mailto;
use crate::validation::is_iri;
use crate::xapi::time::format_utc;

/// How the actor column names a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActorKind {
    /// E-mail addresses (with or without `mailto:`), sent as `mbox`.
    Mbox,
    /// Names of accounts on the system at `home_page`, sent as `account`.
    Account { home_page: String },
}

/// Which header column holds each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvColumns {
    pub actor: String,
    pub value: String,
    pub time: String,
    pub period: Option<String>,
    pub team: Option<String>,
}

/// A checked import specification: the KPI, the columns and how actors are written.
#[derive(Clone, Debug)]
pub struct CsvImport {
    definition: KpiDefinition,
    columns: CsvColumns,
    actor_kind: ActorKind,
}

/// A problem with the import as a whole, before any row is read.
#[derive(Debug, thiserror::Error)]
pub enum CsvImportError {
    #[error("--kpi: {0:?} is not an absolute IRI (e.g. https://helpdesk.example.com/kpi/average-handling-time)")]
    KpiNotIri(String),
    #[error("--account-home-page: {0:?} is not an absolute IRI (e.g. https://crm.example.com)")]
    HomePageNotIri(String),
    #[error("column {column:?} ({flag}) is not in the header; the header has: {available}")]
    MissingColumn { column: String, flag: &'static str, available: String },
    #[error("reading the CSV file: {0}")]
    Read(#[from] csv::Error),
}

/// Every row of a file, read: the statements of the good rows and the refused rows.
#[derive(Clone, Debug, Default)]
pub struct CsvRows {
    /// One statement per distinct observation, in file order.
    pub statements: Vec<Value>,
    pub refused: Vec<RowError>,
    /// Data rows read (the header not counted).
    pub rows: usize,
    /// Good rows repeating an earlier row exactly; they are sent once.
    pub repeated: usize,
    /// Distinct people among the good rows (by IFI key).
    pub actors: usize,
    /// Earliest and latest observation time among the good rows.
    pub time_range: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl CsvImport {
    pub fn new(definition: KpiDefinition, columns: CsvColumns, actor_kind: ActorKind) -> Result<Self, CsvImportError> {
        if !is_iri(&definition.id) {
            return Err(CsvImportError::KpiNotIri(definition.id));
        }
        if let ActorKind::Account { home_page } = &actor_kind {
            if !is_iri(home_page) {
                return Err(CsvImportError::HomePageNotIri(home_page.clone()));
            }
        }
        Ok(Self { definition, columns, actor_kind })
    }

    pub fn definition(&self) -> &KpiDefinition {
        &self.definition
    }

    /// Reads every row. Only a missing column or an unreadable file fail the whole read;
    /// a bad row is recorded in `refused` and the next row is read.
    pub fn read(&self, input: impl Read) -> Result<CsvRows, CsvImportError> {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
        let header = reader.headers()?.clone();
        let positions = self.column_positions(&header)?;
        let mut rows = CsvRows::default();
        // Statement id -> the first row's line, value and team.
        let mut seen: HashMap<String, (u64, f64, Option<String>)> = HashMap::new();
        let mut actors = BTreeSet::new();
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
            let observation = match self.observation(&record, &positions, line) {
                Ok(observation) => observation,
                Err(error) => {
                    rows.refused.push(error);
                    continue;
                }
            };
            let statement = kpi_statement(&self.definition, &observation);
            let id = statement["id"].as_str().unwrap_or_default().to_string();
            if let Some((first_line, value, team)) = seen.get(&id) {
                if *value == observation.value && *team == observation.team {
                    rows.repeated += 1;
                } else {
                    let problem = format!(
                        "same person, time and period as line {first_line} but a different value or team; \
                         keep one of the two rows"
                    );
                    rows.refused.push(RowError { line, column: None, problem });
                }
                continue;
            }
            actors.insert(crate::xapi::agent::ifi_key(&observation.actor).unwrap_or_default());
            let time = observation.timestamp;
            rows.time_range = Some(match rows.time_range {
                None => (time, time),
                Some((first, last)) => (first.min(time), last.max(time)),
            });
            seen.insert(id, (line, observation.value, observation.team.clone()));
            rows.statements.push(statement);
        }
        rows.actors = actors.len();
        Ok(rows)
    }

    fn column_positions(&self, header: &csv::StringRecord) -> Result<Positions, CsvImportError> {
        let find = |column: &str, flag: &'static str| {
            header.iter().position(|name| name == column).ok_or_else(|| CsvImportError::MissingColumn {
                column: column.to_string(),
                flag,
                available: header.iter().map(|name| format!("{name:?}")).collect::<Vec<_>>().join(", "),
            })
        };
        let columns = &self.columns;
        Ok(Positions {
            actor: find(&columns.actor, "--actor-column")?,
            value: find(&columns.value, "--value-column")?,
            time: find(&columns.time, "--time-column")?,
            period: columns.period.as_deref().map(|c| find(c, "--period-column")).transpose()?,
            team: columns.team.as_deref().map(|c| find(c, "--team-column")).transpose()?,
        })
    }

    fn observation(
        &self,
        record: &csv::StringRecord,
        positions: &Positions,
        line: u64,
    ) -> Result<KpiObservation, RowError> {
        let text = |position: usize| record.get(position).unwrap_or_default();
        let refuse = |column: &String| {
            let column = Some(column.clone());
            move |problem: String| RowError { line, column, problem }
        };
        let columns = &self.columns;
        let actor = parse_actor(text(positions.actor), &self.actor_kind).map_err(refuse(&columns.actor))?;
        let value = parse_value(text(positions.value)).map_err(refuse(&columns.value))?;
        let timestamp = parse_time(text(positions.time)).map_err(refuse(&columns.time))?;
        let period = match (positions.period, &columns.period) {
            (Some(position), Some(column)) => parse_period(text(position)).map_err(refuse(column))?,
            _ => None,
        };
        let team = positions.team.map(text).filter(|t| !t.is_empty()).map(str::to_string);
        Ok(KpiObservation { actor, value, timestamp, period, team })
    }
}

struct Positions {
    actor: usize,
    value: usize,
    time: usize,
    period: Option<usize>,
    team: Option<usize>,
}

fn parse_actor(text: &str, kind: &ActorKind) -> Result<Value, String> {
    if text.is_empty() {
        return Err("is empty; every row needs the person".to_string());
    }
    match kind {
        ActorKind::Mbox => {
            let address = match text.get(..7) {
                Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &text[7..],
                _ => text,
            };
            let mbox = format!("mailto:{address}");
            if address.contains(char::is_whitespace) || !is_mailto(&mbox) {
                return Err(format!("{text:?} is not an e-mail address"));
            }
            Ok(json!({ "objectType": "Agent", "mbox": mbox }))
        }
        ActorKind::Account { home_page } => {
            Ok(json!({ "objectType": "Agent", "account": { "homePage": home_page, "name": text } }))
        }
    }
}

fn parse_value(text: &str) -> Result<f64, String> {
    if text.is_empty() {
        return Err("is empty; every row needs a value".to_string());
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(format!("{text:?} is not a finite number")),
        Err(_) => Err(format!("{text:?} is not a number (use a dot for decimals: 12.5)")),
    }
}

/// An RFC 3339 date-time, or a plain `YYYY-MM-DD` meaning midnight UTC. A date-time must
/// carry its offset: guessing the zone of a local time would shift observations silently.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if text.is_empty() {
        return Err("is empty; every row needs the time of the observation".to_string());
    }
    if text.len() == 10 {
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
        }
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    let has_clock = text.len() > 10 && matches!(text.as_bytes()[10], b'T' | b't' | b' ');
    if has_clock && DateTime::parse_from_rfc3339(&format!("{text}Z")).is_ok() {
        return Err(format!("{text:?} has no UTC offset; add Z or an offset such as +02:00"));
    }
    Err(format!("{text:?} is not a date (2024-05-03) or an RFC 3339 time (2024-05-03T17:00:00Z)"))
}

fn parse_period(text: &str) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if !is_period(text) {
        return Err(format!(
            "{text:?} is not a period: use an ISO 8601 week (2024-W18), month (2024-05), day (2024-05-03) \
             or interval (2024-05-01/2024-05-31)"
        ));
    }
    Ok(Some(text.to_string()))
}

impl fmt::Display for CsvRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accepted = self.rows - self.refused.len();
        writeln!(f, "rows read:      {}", self.rows)?;
        write!(f, "rows accepted:  {accepted}")?;
        if self.repeated > 0 {
            write!(f, " ({} repeat an earlier row and are sent once)", self.repeated)?;
        }
        writeln!(f)?;
        writeln!(f, "rows refused:   {}", self.refused.len())?;
        writeln!(f, "statements:     {}", self.statements.len())?;
        writeln!(f, "people:         {}", self.actors)?;
        if let Some((first, last)) = self.time_range {
            let show = |t: DateTime<Utc>| format_utc(&t.fixed_offset());
            writeln!(f, "time range:     {} .. {}", show(first), show(last))?;
        }
        for error in &self.refused {
            writeln!(f, "  {error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::profile::{read_kpi_statement, Direction};

    fn import(kind: ActorKind) -> CsvImport {
        let definition = KpiDefinition {
            id: "https://helpdesk.example.com/kpi/average-handling-time".into(),
            name: Some("Average handling time".into()),
            unit: Some("seconds".into()),
            direction: Some(Direction::LowerIsBetter),
        };
        let columns = CsvColumns {
            actor: "email".into(),
            value: "aht_seconds".into(),
            time: "week_end".into(),
            period: Some("week".into()),
            team: Some("team".into()),
        };
        CsvImport::new(definition, columns, kind).unwrap()
    }

    fn read(text: &str) -> CsvRows {
        import(ActorKind::Mbox).read(text.as_bytes()).unwrap()
    }

    #[test]
    fn good_rows_become_observation_statements() {
        let rows = read(
            "email,aht_seconds,week_end,week,team\n\
             ana@example.com,312.5,2024-05-03T17:00:00Z,2024-W18,north\n\
             mailto:bo@example.com,290,2024-05-03,,\n",
        );

        assert!(rows.refused.is_empty(), "{:?}", rows.refused);
        assert_eq!((rows.rows, rows.statements.len(), rows.actors), (2, 2, 2));
        let first = read_kpi_statement(&rows.statements[0]).unwrap();
        assert_eq!(first.actor_key, "mbox:mailto:ana@example.com");
        assert_eq!(
            (first.value, first.period.as_deref(), first.team.as_deref()),
            (312.5, Some("2024-W18"), Some("north"))
        );
        let second = read_kpi_statement(&rows.statements[1]).unwrap();
        assert_eq!(second.actor_key, "mbox:mailto:bo@example.com");
        assert_eq!((second.period, second.team), (None, None));
        let midnight = NaiveDate::from_ymd_opt(2024, 5, 3).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
        assert_eq!(second.timestamp_micros, midnight.timestamp_micros());
    }

    #[test]
    fn each_bad_row_is_refused_with_its_line_column_and_rule() {
        // Line 5 spans two lines of the file (a quoted newline), so line 6 starts on line 7.
        let rows = read(
            "email,aht_seconds,week_end,week,team\n\
             ana@example.com,12,5,2024-05-03,2024-W18,north\n\
             ana@example.com,\"12,5\",2024-05-03,2024-W18,north\n\
             not-an-email,300,2024-05-03,2024-W18,north\n\
             ana@example.com,300,03/05/2024,2024-W18,\"north\nwest\"\n\
             ana@example.com,300,2024-05-03T17:00:00,2024-W18,north\n\
             ana@example.com,300,2024-05-10,May,north\n\
             ,300,2024-05-10,2024-W19,north\n\
             bo@example.com,NaN,2024-05-10,2024-W19,north\n",
        );

        let messages: Vec<String> = rows.refused.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            vec![
                "line 2: has 6 fields but the header has 5",
                "line 3, column \"aht_seconds\": \"12,5\" is not a number (use a dot for decimals: 12.5)",
                "line 4, column \"email\": \"not-an-email\" is not an e-mail address",
                "line 5, column \"week_end\": \"03/05/2024\" is not a date (2024-05-03) or an RFC 3339 time \
                 (2024-05-03T17:00:00Z)",
                "line 7, column \"week_end\": \"2024-05-03T17:00:00\" has no UTC offset; add Z or an offset such as \
                 +02:00",
                "line 8, column \"week\": \"May\" is not a period: use an ISO 8601 week (2024-W18), month (2024-05), \
                 day (2024-05-03) or interval (2024-05-01/2024-05-31)",
                "line 9, column \"email\": is empty; every row needs the person",
                "line 10, column \"aht_seconds\": \"NaN\" is not a finite number",
            ]
        );
        assert_eq!((rows.rows, rows.statements.len()), (8, 0));
    }

    #[test]
    fn a_repeated_row_is_sent_once_and_a_contradicting_one_is_refused() {
        let rows = read(
            "email,aht_seconds,week_end,week,team\n\
             ana@example.com,300,2024-05-03,2024-W18,north\n\
             ana@EXAMPLE.com,300,2024-05-03,2024-W18,north\n\
             ana@example.com,301,2024-05-03,2024-W18,north\n\
             ana@example.com,300,2024-05-03,2024-W18,south\n",
        );

        assert_eq!(rows.statements.len(), 1);
        assert_eq!(rows.repeated, 1, "the e-mail domain is case-insensitive");
        let messages: Vec<String> = rows.refused.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("line 4: same person, time and period as line 2"), "{messages:?}");
        assert!(messages[1].starts_with("line 5: same person, time and period as line 2"), "{messages:?}");

        let exact = read(
            "email,aht_seconds,week_end,week,team\n\
             ana@example.com,300,2024-05-03,2024-W18,north\n\
             ana@example.com,300,2024-05-03,2024-W18,north\n",
        );
        assert_eq!((exact.statements.len(), exact.repeated, exact.refused.len()), (1, 1, 0));
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_ignored() {
        let rows = read("\u{feff}email,aht_seconds,week_end,week,team\nana@example.com,300,2024-05-03,,\n");

        assert_eq!((rows.statements.len(), rows.refused.len()), (1, 0));
    }

    #[test]
    fn account_actors_use_the_home_page() {
        let kind = ActorKind::Account { home_page: "https://crm.example.com".into() };
        let rows =
            import(kind).read("email,aht_seconds,week_end,week,team\nA-17,300,2024-05-03,,\n".as_bytes()).unwrap();

        assert_eq!(
            rows.statements[0]["actor"],
            json!({"objectType": "Agent", "account": {"homePage": "https://crm.example.com", "name": "A-17"}})
        );
    }

    #[test]
    fn a_missing_column_or_a_bad_iri_fails_before_any_row() {
        let missing = import(ActorKind::Mbox).read("mail,aht_seconds,week_end,week,team\n".as_bytes()).unwrap_err();
        let definition = KpiDefinition { id: "aht".into(), name: None, unit: None, direction: None };
        let columns = CsvColumns { actor: "a".into(), value: "v".into(), time: "t".into(), period: None, team: None };

        assert_eq!(
            missing.to_string(),
            "column \"email\" (--actor-column) is not in the header; the header has: \"mail\", \"aht_seconds\", \
             \"week_end\", \"week\", \"team\""
        );
        assert!(matches!(CsvImport::new(definition, columns, ActorKind::Mbox), Err(CsvImportError::KpiNotIri(_))));
    }

    #[test]
    fn times_are_rfc_3339_or_plain_dates() {
        let cases = [
            ("2024-05-03", Ok("2024-05-03T00:00:00.000Z")),
            ("2024-05-03T19:00:00+02:00", Ok("2024-05-03T17:00:00.000Z")),
            ("2024-05-03T17:00:00.25Z", Ok("2024-05-03T17:00:00.250Z")),
            ("2024-02-30", Err(())),
            ("2024-05-03T17:00", Err(())),
            ("yesterday", Err(())),
        ];
        for (text, expected) in cases {
            let parsed = parse_time(text).map(|t| format_utc(&t.fixed_offset())).map_err(|_| ());
            assert_eq!(parsed, expected.map(str::to_string), "{text}");
        }
    }
}

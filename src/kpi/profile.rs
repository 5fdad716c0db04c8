//! The KPI xAPI profile: how one KPI observation is written as an ordinary statement, and
//! read back. Used by the CSV import and the demo generator (writing) and by the impact
//! analysis (reading). `docs/kpi.md` describes the profile for senders.

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::validation::is_duration;
use crate::xapi::activity::is_activity;
use crate::xapi::agent::ifi_key;
use crate::xapi::time::{format_utc, parse_timestamp, to_micros, Micros};

/// The verb of every KPI observation.
pub const VERB_MEASURED: &str = "https://w3id.org/fluency/xapi/verbs/measured";
/// The activity type of a KPI.
pub const ACTIVITY_TYPE_KPI: &str = "https://w3id.org/fluency/xapi/activity-types/kpi";
/// Definition extension: the unit of the values ("seconds", "percent", "EUR").
pub const EXTENSION_UNIT: &str = "https://w3id.org/fluency/xapi/extensions/unit";
/// Definition extension: whether higher or lower values are better.
pub const EXTENSION_DIRECTION: &str = "https://w3id.org/fluency/xapi/extensions/direction";
/// Context extension: the period the value covers ("2024-W18", an ISO 8601 interval).
pub const EXTENSION_PERIOD: &str = "https://w3id.org/fluency/xapi/extensions/period";
/// Context extension: the person's team when the value was measured.
pub const EXTENSION_TEAM: &str = "https://w3id.org/fluency/xapi/extensions/team";

/// Which way a KPI improves: the analysis's own type, so a KPI's definition feeds it as is.
pub use crate::impact::KpiDirection as Direction;

/// A KPI: the object Activity of its observations. Name, unit and direction are optional
/// because other senders may define them once rather than in every statement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KpiDefinition {
    /// The KPI's IRI, e.g. `https://helpdesk.example.com/kpi/average-handling-time`.
    pub id: String,
    pub name: Option<String>,
    pub unit: Option<String>,
    pub direction: Option<Direction>,
}

/// One measured value of a KPI for one person.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiObservation {
    /// The person: an xAPI Agent with an `mbox` or an `account`.
    pub actor: Value,
    /// Any finite number, in the KPI's unit.
    pub value: f64,
    /// When the value was observed (for a period: usually its end).
    pub timestamp: DateTime<Utc>,
    pub period: Option<String>,
    pub team: Option<String>,
}

/// A KPI observation as read back from a stored statement.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadObservation {
    pub kpi_id: String,
    /// The actor's IFI key (`crate::xapi::agent::ifi_key`).
    pub actor_key: String,
    pub value: f64,
    pub timestamp_micros: Micros,
    pub team: Option<String>,
    pub period: Option<String>,
}

/// The statement id of an observation: equal for the same KPI, person, time and period,
/// so importing the same observation twice sends the same statement and the LRS keeps one.
/// The value is deliberately not part of it: a different value for the same observation
/// is a conflict the LRS refuses, not a second observation.
pub fn observation_id(kpi_id: &str, actor: &Value, timestamp: DateTime<Utc>, period: Option<&str>) -> Uuid {
    // Without an IFI the LRS refuses the statement anyway; the text keeps the id stable.
    let actor_key = ifi_key(actor).unwrap_or_else(|| actor.to_string());
    // A JSON array cannot be confused with another one whatever the strings contain.
    let identity = json!(["fluency-kpi-observation/1", kpi_id, actor_key, timestamp.timestamp_micros(), period]);
    let digest = Sha256::digest(identity.to_string().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The object Activity of a KPI's statements.
pub fn kpi_activity(definition: &KpiDefinition) -> Value {
    let mut body = Map::new();
    body.insert("type".into(), ACTIVITY_TYPE_KPI.into());
    if let Some(name) = &definition.name {
        body.insert("name".into(), json!({ "en": name }));
    }
    let mut extensions = Map::new();
    if let Some(unit) = &definition.unit {
        extensions.insert(EXTENSION_UNIT.into(), unit.as_str().into());
    }
    if let Some(direction) = definition.direction {
        extensions.insert(EXTENSION_DIRECTION.into(), direction.as_str().into());
    }
    if !extensions.is_empty() {
        body.insert("extensions".into(), Value::Object(extensions));
    }
    json!({ "objectType": "Activity", "id": definition.id, "definition": body })
}

/// The statement recording `observation` of `definition`, with its deterministic id.
pub fn kpi_statement(definition: &KpiDefinition, observation: &KpiObservation) -> Value {
    let id = observation_id(&definition.id, &observation.actor, observation.timestamp, observation.period.as_deref());
    let mut statement = json!({
        "id": id.to_string(),
        "actor": observation.actor,
        "verb": { "id": VERB_MEASURED, "display": { "en": "measured" } },
        "object": kpi_activity(definition),
        "result": { "score": { "raw": observation.value } },
        "timestamp": format_utc(&observation.timestamp.fixed_offset()),
    });
    let mut extensions = Map::new();
    if let Some(period) = &observation.period {
        extensions.insert(EXTENSION_PERIOD.into(), period.as_str().into());
    }
    if let Some(team) = &observation.team {
        extensions.insert(EXTENSION_TEAM.into(), team.as_str().into());
    }
    if !extensions.is_empty() {
        statement["context"] = json!({ "extensions": extensions });
    }
    statement
}

/// The observation a statement records, if it is one: verb `measured`, an Activity
/// object, an identified actor, a finite `result.score.raw` and a `timestamp` set by the
/// sender. The activity type is not required, as senders may state it only in a separate
/// definition. Whether the statement is voided is the caller's to check.
pub fn read_kpi_statement(statement: &Value) -> Option<ReadObservation> {
    if statement.pointer("/verb/id")?.as_str()? != VERB_MEASURED {
        return None;
    }
    let object = statement.get("object")?;
    if !is_activity(object) {
        return None;
    }
    let value = statement.pointer("/result/score/raw")?.as_f64().filter(|v| v.is_finite())?;
    let timestamp = to_micros(&parse_timestamp(statement.get("timestamp")?.as_str()?)?);
    // The LRS sets a missing timestamp equal to `stored`: such a statement does not say
    // when the value was observed.
    let stored = statement.get("stored").and_then(Value::as_str).and_then(parse_timestamp);
    if stored.is_some_and(|stored| to_micros(&stored) == timestamp) {
        return None;
    }
    let context_text = |extension: &str| {
        let extensions = statement.pointer("/context/extensions")?;
        extensions.get(extension)?.as_str().map(str::to_string)
    };
    Some(ReadObservation {
        kpi_id: object.get("id")?.as_str()?.to_string(),
        actor_key: ifi_key(statement.get("actor")?)?,
        value,
        timestamp_micros: timestamp,
        team: context_text(EXTENSION_TEAM),
        period: context_text(EXTENSION_PERIOD),
    })
}

/// The KPI an Activity describes, if its definition has the KPI type. An unknown
/// direction is read as none rather than refusing the whole definition.
pub fn read_kpi_definition(activity: &Value) -> Option<KpiDefinition> {
    let definition = activity.get("definition")?;
    if definition.get("type")?.as_str()? != ACTIVITY_TYPE_KPI {
        return None;
    }
    let extension = |name: &str| definition.get("extensions")?.get(name)?.as_str();
    Some(KpiDefinition {
        id: activity.get("id")?.as_str()?.to_string(),
        name: definition.get("name").and_then(preferred_text),
        unit: extension(EXTENSION_UNIT).map(str::to_string),
        direction: extension(EXTENSION_DIRECTION).and_then(Direction::parse),
    })
}

/// Whether `text` is a period in a form the profile recommends: an ISO 8601 week
/// (`2024-W18`), month (`2024-05`), day (`2024-05-03`), or interval of two of those dates
/// or RFC 3339 times, or of one and a duration (`2024-05-01/P1M`).
pub fn is_period(text: &str) -> bool {
    let is_instant = |part: &str| is_date(part) || DateTime::parse_from_rfc3339(part).is_ok();
    match text.split_once('/') {
        Some((start, end)) => match (is_duration(start), is_duration(end)) {
            (true, true) => false,
            (true, false) => is_instant(end),
            (false, true) => is_instant(start),
            (false, false) => is_instant(start) && is_instant(end),
        },
        None => is_week(text) || is_month(text) || is_date(text),
    }
}

fn is_date(text: &str) -> bool {
    text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

fn is_month(text: &str) -> bool {
    let Some((year, month)) = text.split_once('-') else { return false };
    let number = |part: &str, digits: usize| {
        (part.len() == digits && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse::<u32>().ok()).flatten()
    };
    match (number(year, 4), number(month, 2)) {
        (Some(year), Some(month)) => NaiveDate::from_ymd_opt(year as i32, month, 1).is_some(),
        _ => false,
    }
}

/// `YYYY-Www`, with week 53 only in the years that have one.
fn is_week(text: &str) -> bool {
    let Some((year, week)) = text.split_once("-W") else { return false };
    let digits = |part: &str, n: usize| part.len() == n && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(year, 4) || !digits(week, 2) {
        return false;
    }
    match (year.parse::<i32>(), week.parse::<u32>()) {
        (Ok(year), Ok(week)) => NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).is_some(),
        _ => false,
    }
}

/// A language map's English entry, else its first.
fn preferred_text(map: &Value) -> Option<String> {
    let map = map.as_object()?;
    let english = map.iter().find(|(tag, _)| tag.eq_ignore_ascii_case("en") || tag.starts_with("en-"));
    english.or_else(|| map.iter().next()).and_then(|(_, text)| text.as_str()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xapi::XapiVersion;
    use chrono::TimeZone;

    fn aht() -> KpiDefinition {
        KpiDefinition {
            id: "https://helpdesk.example.com/kpi/average-handling-time".into(),
            name: Some("Average handling time".into()),
            unit: Some("seconds".into()),
            direction: Some(Direction::LowerIsBetter),
        }
    }

    fn observation() -> KpiObservation {
        KpiObservation {
            actor: json!({"objectType": "Agent", "mbox": "mailto:ana@Example.com"}),
            value: 312.5,
            timestamp: Utc.with_ymd_and_hms(2024, 5, 3, 17, 0, 0).unwrap(),
            period: Some("2024-W18".into()),
            team: Some("north".into()),
        }
    }

    #[test]
    fn a_kpi_statement_is_a_valid_xapi_statement_in_both_versions() {
        let statement = kpi_statement(&aht(), &observation());

        for version in [XapiVersion::V1_0_3, XapiVersion::V2_0_0] {
            let checked = crate::validation::validate_statement(&statement, version);
            assert!(checked.is_ok(), "{version:?}: {checked:?}");
        }
    }

    #[test]
    fn a_kpi_statement_reads_back_as_the_observation() {
        let statement = kpi_statement(&aht(), &observation());

        let mut stored = statement.clone();
        stored["stored"] = "2024-05-06T08:00:00.123456Z".into();
        let read = read_kpi_statement(&stored).expect("an observation");

        assert_eq!(
            read,
            ReadObservation {
                kpi_id: aht().id,
                actor_key: "mbox:mailto:ana@example.com".into(),
                value: 312.5,
                timestamp_micros: observation().timestamp.timestamp_micros(),
                team: Some("north".into()),
                period: Some("2024-W18".into()),
            }
        );
        assert_eq!(read_kpi_definition(&statement["object"]), Some(aht()));
    }

    #[test]
    fn the_id_depends_on_kpi_person_time_and_period_but_not_on_the_value() {
        let base = kpi_statement(&aht(), &observation());
        let same_again = kpi_statement(&aht(), &observation());
        let other_value = kpi_statement(&aht(), &KpiObservation { value: 1.0, ..observation() });
        let equivalent_mbox = KpiObservation { actor: json!({"mbox": "mailto:ana@example.COM"}), ..observation() };
        let changes = [
            ("other period", KpiObservation { period: None, ..observation() }),
            (
                "other time",
                KpiObservation { timestamp: observation().timestamp + chrono::Duration::seconds(1), ..observation() },
            ),
            ("other person", KpiObservation { actor: json!({"mbox": "mailto:bo@example.com"}), ..observation() }),
        ];

        assert_eq!(base["id"], same_again["id"]);
        assert_eq!(base["id"], other_value["id"]);
        assert_eq!(base["id"], kpi_statement(&aht(), &equivalent_mbox)["id"], "same IFI, same id");
        let other_kpi = KpiDefinition { id: "https://helpdesk.example.com/kpi/csat".into(), ..aht() };
        assert_ne!(base["id"], kpi_statement(&other_kpi, &observation())["id"], "other KPI");
        for (description, changed) in changes {
            assert_ne!(base["id"], kpi_statement(&aht(), &changed)["id"], "{description}");
        }
        let id = Uuid::parse_str(base["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 8);
    }

    #[test]
    fn optional_parts_are_left_out_rather_than_written_empty() {
        let bare = KpiDefinition { id: aht().id, name: None, unit: None, direction: None };
        let observation = KpiObservation { period: None, team: None, ..observation() };

        let statement = kpi_statement(&bare, &observation);

        assert!(statement.get("context").is_none());
        assert_eq!(statement["object"]["definition"], json!({"type": ACTIVITY_TYPE_KPI}));
        let read = read_kpi_statement(&statement).unwrap();
        assert_eq!((read.team, read.period), (None, None));
    }

    #[test]
    fn statements_that_are_not_observations_are_not_read() {
        let good = kpi_statement(&aht(), &observation());
        let mut cases = Vec::new();
        let mut other_verb = good.clone();
        other_verb["verb"]["id"] = "http://adlnet.gov/expapi/verbs/completed".into();
        cases.push(("other verb", other_verb));
        let mut no_score = good.clone();
        no_score["result"] = json!({"success": true});
        cases.push(("no raw score", no_score));
        let mut no_time = good.clone();
        no_time.as_object_mut().unwrap().remove("timestamp");
        cases.push(("no timestamp", no_time));
        let mut timestamp_set_by_the_lrs = good.clone();
        timestamp_set_by_the_lrs["timestamp"] = "2024-05-06T08:00:00.123456Z".into();
        timestamp_set_by_the_lrs["stored"] = "2024-05-06T08:00:00.123456Z".into();
        cases.push(("timestamp set by the LRS", timestamp_set_by_the_lrs));
        let mut anonymous = good.clone();
        anonymous["actor"] = json!({"objectType": "Group", "member": [{"mbox": "mailto:a@b.c"}]});
        cases.push(("anonymous group", anonymous));
        let mut agent_object = good.clone();
        agent_object["object"] = json!({"objectType": "Agent", "mbox": "mailto:a@b.c"});
        cases.push(("object is not an activity", agent_object));

        for (description, statement) in cases {
            assert_eq!(read_kpi_statement(&statement), None, "{description}");
        }
    }

    #[test]
    fn the_example_in_the_documentation_is_what_kpi_statement_builds() {
        let docs = include_str!("../../docs/kpi.md");
        let start = docs.find("```json\n").expect("a JSON example") + 8;
        let end = start + docs[start..].find("```").expect("the end of the example");
        let example: Value = serde_json::from_str(&docs[start..end]).expect("valid JSON");
        let observation = KpiObservation {
            actor: example["actor"].clone(),
            value: 312.5,
            timestamp: Utc.with_ymd_and_hms(2024, 5, 3, 17, 0, 0).unwrap(),
            period: Some("2024-W18".into()),
            team: Some("north".into()),
        };

        assert_eq!(kpi_statement(&aht(), &observation), example);
    }

    #[test]
    fn periods_are_iso_weeks_months_days_or_intervals() {
        let cases = [
            ("2024-W18", true),
            ("2020-W53", true),
            ("2021-W53", false),
            ("2024-W00", false),
            ("2024-05", true),
            ("2024-13", false),
            ("2024-05-03", true),
            ("2024-05-01/2024-05-31", true),
            ("2024-05-01T00:00:00Z/P1W", true),
            ("P1W/2024-05-08", true),
            ("P1W/P2W", false),
            ("2024-05-01/", false),
            ("May", false),
            ("", false),
        ];
        for (text, expected) in cases {
            assert_eq!(is_period(text), expected, "{text:?}");
        }
    }

    #[test]
    fn a_definition_without_the_kpi_type_is_not_a_kpi() {
        let course = json!({"id": "https://lms.example.com/c", "definition": {"type": "http://adlnet.gov/expapi/activities/course"}});

        assert_eq!(read_kpi_definition(&course), None);
        assert_eq!(read_kpi_definition(&json!({"id": "https://lms.example.com/c"})), None);
    }
}

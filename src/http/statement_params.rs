//! Parses and validates the parameters of `GET statements` into a single-statement
//! lookup or a query, refusing unknown, repeated or malformed parameters by name.

use uuid::Uuid;

use super::call::XapiCall;
use crate::error::{ApiError, ErrorCode};
use crate::service::Format;
use crate::storage::{IndexTerm, StatementQuery};
use crate::validation::{self, is_canonical_uuid, is_iri};
use crate::xapi::agent::ifi_key;
use crate::xapi::time::{parse_timestamp, to_micros, Micros};

pub const GET_PARAMS: [&str; 14] = [
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
];

/// Parameters allowed beside `statementId` / `voidedStatementId`.
const SINGLE_COMPANIONS: [&str; 2] = ["format", "attachments"];

#[derive(Clone, Debug, PartialEq)]
pub enum StatementGet {
    One { id: Uuid, voided: bool, format: Format, attachments: bool },
    Many { query: StatementQuery, format: Format, attachments: bool },
}

pub fn parse_statement_get(call: &XapiCall) -> Result<StatementGet, ApiError> {
    call.check_params(&GET_PARAMS)?;
    let format = match call.param("format") {
        None => Format::Exact,
        Some(text) => Format::parse(text).ok_or_else(|| {
            ApiError::invalid_parameter("format", format!("{text:?} must be exact, ids or canonical"))
        })?,
    };
    let attachments = boolean(call, "attachments")?.unwrap_or(false);
    let single = match (call.param("statementId"), call.param("voidedStatementId")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                "statementId: cannot be combined with voidedStatementId",
            ))
        }
        (Some(id), None) => Some(("statementId", id, false)),
        (None, Some(id)) => Some(("voidedStatementId", id, true)),
        (None, None) => None,
    };
    if let Some((name, id, voided)) = single {
        if let Some((other, _)) =
            call.params.iter().find(|(n, _)| n != name && !SINGLE_COMPANIONS.contains(&n.as_str()))
        {
            return Err(ApiError::invalid_parameter(
                other,
                format!("cannot be combined with {name}; only format and attachments can"),
            ));
        }
        return Ok(StatementGet::One { id: uuid(name, id)?, voided, format, attachments });
    }
    let query = parse_query(call)?;
    Ok(StatementGet::Many { query, format, attachments })
}

/// The query as the client asked it; `limit` 0 means the server's page size.
fn parse_query(call: &XapiCall) -> Result<StatementQuery, ApiError> {
    let related_agents = boolean(call, "related_agents")?.unwrap_or(false);
    let related_activities = boolean(call, "related_activities")?.unwrap_or(false);
    let mut terms = Vec::new();
    if let Some(text) = call.param("agent") {
        let (_, key) = parse_agent(text, true)?;
        terms.push(if related_agents { IndexTerm::RelatedAgent(key) } else { IndexTerm::Agent(key) });
    }
    if let Some(verb) = call.param("verb") {
        terms.push(IndexTerm::Verb(iri("verb", verb)?));
    }
    if let Some(activity) = call.param("activity") {
        let id = iri("activity", activity)?;
        terms.push(if related_activities { IndexTerm::RelatedActivity(id) } else { IndexTerm::Activity(id) });
    }
    if let Some(registration) = call.param("registration") {
        terms.push(IndexTerm::Registration(uuid("registration", registration)?.to_string()));
    }
    let limit = match call.param("limit") {
        None => 0,
        Some(text) => {
            text.parse::<usize>().ok().filter(|_| text.bytes().all(|b| b.is_ascii_digit())).ok_or_else(|| {
                ApiError::invalid_parameter("limit", format!("{text:?} must be a non-negative integer"))
            })?
        }
    };
    Ok(StatementQuery {
        terms,
        since: timestamp(call, "since")?,
        until: timestamp(call, "until")?,
        ascending: boolean(call, "ascending")?.unwrap_or(false),
        limit,
        after: None,
    })
}

/// An `agent` parameter (an Agent, or an Identified Group when `allow_group`, as JSON) and
/// its IFI key. Every resource taking `agent` parses it here.
pub fn parse_agent(text: &str, allow_group: bool) -> Result<(serde_json::Value, String), ApiError> {
    let value = validation::parse_json(text.as_bytes())
        .map_err(|e| ApiError::invalid_parameter("agent", format!("must be an Agent as JSON ({e})")))?;
    validation::validate_agent_param(&value, allow_group).map_err(|e| ApiError::invalid_parameter("agent", e))?;
    let key = ifi_key(&value)
        .ok_or_else(|| ApiError::invalid_parameter("agent", "must identify the agent with exactly one IFI"))?;
    Ok((value, key))
}

fn boolean(call: &XapiCall, name: &str) -> Result<Option<bool>, ApiError> {
    match call.param(name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid_parameter(name, format!("{other:?} must be true or false"))),
    }
}

fn uuid(name: &str, text: &str) -> Result<Uuid, ApiError> {
    if !is_canonical_uuid(text) {
        return Err(ApiError::invalid_parameter(name, format!("{text:?} must be a UUID (8-4-4-4-12 hex digits)")));
    }
    Uuid::parse_str(text).map_err(|_| ApiError::invalid_parameter(name, "must be a UUID"))
}

fn iri(name: &str, text: &str) -> Result<String, ApiError> {
    if is_iri(text) {
        Ok(text.to_string())
    } else {
        Err(ApiError::invalid_parameter(name, format!("{text:?} must be an absolute IRI with a scheme")))
    }
}

/// A timestamp parameter. Clients that do not percent-encode `+` in an offset send a
/// space after form decoding, so a space is read as `+`.
pub fn timestamp(call: &XapiCall, name: &str) -> Result<Option<Micros>, ApiError> {
    let Some(text) = call.param(name) else { return Ok(None) };
    let repaired = text.replace(' ', "+");
    parse_timestamp(&repaired)
        .map(|t| Some(to_micros(&t)))
        .ok_or_else(|| ApiError::invalid_parameter(name, format!("{text:?} must be an ISO 8601 timestamp")))
}

//! Verifying a credential someone hands us (`POST /api/badges/verify`): its shape, its
//! issuer, its proof, its validity dates and its revocation status, each reported by name so
//! a refusal says which check failed. Nothing is fetched: contexts are the bundled ones,
//! did:key needs no lookup, and only this server's own status lists are read.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::contexts::{is_bundled, CREDENTIALS_V2};
use super::issuer::Issuer;
use super::proof;

/// How far clocks may disagree on validity dates (as Digital Bazaar's verifier allows).
const CLOCK_SKEW_SECONDS: i64 = 300;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub check: &'static str,
    /// `None`: not checked (the message says why).
    pub passed: Option<bool>,
    pub message: String,
}

impl Check {
    fn pass(check: &'static str, message: impl Into<String>) -> Self {
        Self { check, passed: Some(true), message: message.into() }
    }
    fn fail(check: &'static str, message: impl Into<String>) -> Self {
        Self { check, passed: Some(false), message: message.into() }
    }
    fn skip(check: &'static str, message: impl Into<String>) -> Self {
        Self { check, passed: None, message: message.into() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// Every check passed (a status not checked does not count against it).
    pub verified: bool,
    pub checks: Vec<Check>,
}

/// Answers whether a status position of ours is revoked; `None` when the list is not ours.
pub trait StatusLookup {
    fn revoked(&self, list_url: &str, index: u64) -> Option<Result<bool, String>>;
}

/// Runs every check that can run; later checks are skipped once the shape is wrong.
pub fn verify_credential(
    credential: &Value,
    issuer: &Issuer,
    status: &dyn StatusLookup,
    now: DateTime<Utc>,
) -> Verdict {
    let mut checks = Vec::new();
    let Some(document) = credential.as_object() else {
        checks.push(Check::fail("format", "the credential must be a JSON object"));
        return finish(checks);
    };
    if let Err(message) = check_format(document) {
        checks.push(Check::fail("format", message));
        return finish(checks);
    }
    checks.push(Check::pass("format", "an OpenBadgeCredential (VC Data Model 2.0)"));
    let issuer_id = issuer_id(document).unwrap_or_default();
    let key = proof::verification_method(document)
        .map_err(|e| e.to_string())
        .and_then(|method| issuer.resolve(&issuer_id, method));
    match key {
        Err(message) => {
            checks.push(Check::fail("issuer", message));
            checks.push(Check::skip("proof", "not checked: the issuer's key is unknown"));
        }
        Ok(key) => {
            checks.push(Check::pass("issuer", format!("signed by a key of {issuer_id}")));
            checks.push(match proof::verify(document, &key) {
                Ok(()) => Check::pass("proof", "eddsa-rdfc-2022 signature verified"),
                Err(error) => Check::fail("proof", error.to_string()),
            });
        }
    }
    checks.push(check_dates(document, now));
    checks.push(check_status(document, status));
    finish(checks)
}

fn finish(checks: Vec<Check>) -> Verdict {
    Verdict {
        verified: checks
            .iter()
            .all(|check| check.passed == Some(true) || check.check == "status" && check.passed.is_none()),
        checks,
    }
}

fn issuer_id(document: &Map<String, Value>) -> Option<String> {
    match document.get("issuer")? {
        Value::String(id) => Some(id.clone()),
        Value::Object(profile) => profile.get("id")?.as_str().map(str::to_string),
        _ => None,
    }
}

fn check_format(document: &Map<String, Value>) -> Result<(), String> {
    let contexts = document.get("@context").and_then(Value::as_array).ok_or("@context: must be an array")?;
    if contexts.first().and_then(Value::as_str) != Some(CREDENTIALS_V2) {
        return Err(format!("@context: the first must be {CREDENTIALS_V2:?}"));
    }
    for context in contexts {
        match context.as_str() {
            Some(url) if is_bundled(url) => {}
            Some(url) => {
                return Err(format!("@context: {url:?} is not a context this server knows (nothing is fetched)"))
            }
            None => return Err("@context: embedded contexts are not accepted; name published contexts".into()),
        }
    }
    let types: Vec<&str> = match document.get("type") {
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect(),
        _ => return Err("type: must be an array".into()),
    };
    if !types.contains(&"VerifiableCredential") {
        return Err("type: must include \"VerifiableCredential\"".into());
    }
    if !types.iter().any(|t| *t == "OpenBadgeCredential" || *t == "AchievementCredential") {
        return Err("type: must include \"OpenBadgeCredential\"".into());
    }
    if issuer_id(document).is_none() {
        return Err("issuer: must be an id or a Profile with an id".into());
    }
    if !document.get("credentialSubject").is_some_and(Value::is_object) {
        return Err("credentialSubject: must be an object".into());
    }
    Ok(())
}

fn parse_date(document: &Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    match document.get(field) {
        None => Ok(None),
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| format!("{field}: {text:?} is not an xsd:dateTime with a time zone")),
        Some(_) => Err(format!("{field}: must be a string")),
    }
}

fn check_dates(document: &Map<String, Value>, now: DateTime<Utc>) -> Check {
    let skew = chrono::Duration::seconds(CLOCK_SKEW_SECONDS);
    let (from, until) = match (parse_date(document, "validFrom"), parse_date(document, "validUntil")) {
        (Ok(from), Ok(until)) => (from, until),
        (Err(message), _) | (_, Err(message)) => return Check::fail("validity", message),
    };
    if let Some(from) = from.filter(|from| *from > now + skew) {
        return Check::fail("validity", format!("not valid yet: validFrom is {}", from.to_rfc3339()));
    }
    if let Some(until) = until.filter(|until| *until + skew < now) {
        return Check::fail("validity", format!("expired: validUntil was {}", until.to_rfc3339()));
    }
    Check::pass("validity", "within validFrom and validUntil")
}

fn check_status(document: &Map<String, Value>, lookup: &dyn StatusLookup) -> Check {
    let Some(status) = document.get("credentialStatus") else {
        return Check::skip("status", "the credential has no credentialStatus");
    };
    let field = |name: &str| status.get(name).and_then(Value::as_str);
    if field("type") != Some("BitstringStatusListEntry") || field("statusPurpose") != Some("revocation") {
        return Check::skip("status", "only BitstringStatusListEntry revocation entries are checked");
    }
    let (Some(list), Some(index)) =
        (field("statusListCredential"), field("statusListIndex").and_then(|i| i.parse::<u64>().ok()))
    else {
        return Check::fail(
            "status",
            "credentialStatus: statusListCredential and a numeric statusListIndex are required",
        );
    };
    match lookup.revoked(list, index) {
        None => Check::skip("status", format!("not checked: {list} is not a status list of this server")),
        Some(Ok(false)) => Check::pass("status", "not revoked"),
        Some(Ok(true)) => Check::fail("status", "revoked"),
        Some(Err(message)) => Check::fail("status", message),
    }
}

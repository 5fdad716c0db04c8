//! Who an erasure is about: every identifier of one person, from an xAPI Agent (one IFI)
//! or Person object (arrays of each kind, as the Agents resource returns). An e-mail
//! address also stands for its SHA-1 form, which other statements may use. Validated here:
//! anything a caller sends is checked before it selects data to delete.

use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::xapi::agent::{ifi_key, normalize_mbox, IFI_PROPERTIES};

/// The person's IFI keys and the texts that mark data as theirs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    pub keys: Vec<String>,
    pub needles: Vec<String>,
}

impl Subject {
    fn add_key(&mut self, key: String) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    fn add_needle(&mut self, needle: String) {
        if !needle.is_empty() && !self.needles.contains(&needle) {
            self.needles.push(needle);
        }
    }

    fn add(&mut self, property: &str, value: &Value) -> Result<(), String> {
        let agent = serde_json::json!({ property: value });
        match property {
            "mbox" => {
                let mbox = value.as_str().filter(|m| m.len() > 7 && m[..7].eq_ignore_ascii_case("mailto:"));
                let mbox = mbox.ok_or_else(|| format!("{property}: must be a mailto: IRI"))?;
                let normal = normalize_mbox(mbox);
                for form in [mbox.to_string(), normal.clone()] {
                    let sha1 = hex::encode(Sha1::digest(form.as_bytes()));
                    self.add_key(format!("mbox_sha1sum:{sha1}"));
                    self.add_needle(sha1);
                    self.add_needle(form[7..].to_string());
                }
            }
            "mbox_sha1sum" => {
                let sum = value.as_str().filter(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()));
                let sum = sum.ok_or_else(|| format!("{property}: must be 40 hex digits"))?;
                self.add_needle(sum.to_ascii_lowercase());
            }
            "openid" => {
                let openid =
                    value.as_str().filter(|s| !s.is_empty()).ok_or_else(|| format!("{property}: must be an IRI"))?;
                self.add_needle(openid.to_string());
            }
            _ => {
                let name = value.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
                let home = value.get("homePage").and_then(Value::as_str).filter(|h| !h.is_empty());
                let (Some(name), Some(_)) = (name, home) else {
                    return Err(format!("{property}: needs homePage and name"));
                };
                self.add_needle(format!("\"name\":{}", Value::from(name)));
            }
        }
        let key = ifi_key(&agent).ok_or_else(|| format!("{property}: not an identifier"))?;
        self.add_key(key);
        Ok(())
    }
}

/// The person named by `agent`: an Agent with one IFI, or a Person whose IFI properties
/// are arrays. Errors name the field and the rule.
pub fn subject_of(agent: &Value) -> Result<Subject, String> {
    let object = agent.as_object().ok_or("agent: must be a JSON object (an Agent or a Person)")?;
    let person = match object.get("objectType").and_then(Value::as_str) {
        None | Some("Agent") => false,
        Some("Person") => true,
        Some(other) => return Err(format!("agent.objectType: {other:?} must be Agent or Person")),
    };
    if !person && IFI_PROPERTIES.iter().filter(|p| object.contains_key(**p)).count() > 1 {
        return Err("agent: an Agent has exactly one identifier; list several in a Person".into());
    }
    let mut subject = Subject::default();
    for property in IFI_PROPERTIES {
        let Some(value) = object.get(property) else { continue };
        match (person, value) {
            (true, Value::Array(values)) => {
                for value in values {
                    subject.add(property, value).map_err(|e| format!("agent.{e}"))?;
                }
            }
            (true, _) => return Err(format!("agent.{property}: a Person lists its identifiers in an array")),
            (false, value) => subject.add(property, value).map_err(|e| format!("agent.{e}"))?,
        }
    }
    if subject.keys.is_empty() {
        return Err("agent: names no identifier (mbox, mbox_sha1sum, openid or account)".into());
    }
    Ok(subject)
}

/// Refuses a subject naming an account of this LRS (`public_url`): that is a credential,
/// the authority of every statement it sent, and erasing it would erase them all.
pub fn refuse_credential_accounts(subject: &Subject, public_url: &str) -> Result<(), String> {
    let home = public_url.trim_end_matches('/');
    let prefixes = [format!("account:[{}", Value::from(home)), format!("account:[{}", Value::from(format!("{home}/")))];
    match subject.keys.iter().any(|key| prefixes.iter().any(|prefix| key.starts_with(&format!("{prefix},")))) {
        true => Err(format!(
            "agent.account: names a credential of this LRS ({home}), the authority of the statements it sent, \
             not a person; revoke the credential instead"
        )),
        false => Ok(()),
    }
}

/// The person an IFI key names (`xapi::agent::ifi_key`'s output), as a Subject.
pub fn subject_of_key(key: &str) -> Result<Subject, String> {
    let (property, value) = key.split_once(':').ok_or("person: not an identifier key")?;
    let value = match property {
        "account" => {
            let pair: (String, String) = serde_json::from_str(value).map_err(|_| "person: not an account key")?;
            serde_json::json!({"homePage": pair.0, "name": pair.1})
        }
        _ => Value::from(value),
    };
    subject_of(&serde_json::json!({ property: value }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_address_stands_for_its_sha1_forms_too() {
        let subject = subject_of(&json!({"mbox": "mailto:Ada@Example.COM"})).unwrap();
        assert!(subject.keys.contains(&"mbox:mailto:Ada@example.com".to_string()));
        let sha1 = hex::encode(Sha1::digest(b"mailto:Ada@Example.COM"));
        assert!(subject.keys.contains(&format!("mbox_sha1sum:{sha1}")));
        assert!(subject.needles.contains(&"Ada@Example.COM".to_string()));
    }

    #[test]
    fn a_person_gives_every_identifier() {
        let person = json!({"objectType": "Person", "mbox": ["mailto:a@x.org"],
            "account": [{"homePage": "https://lms.x.org", "name": "a-1"}], "openid": ["https://id.x.org/a"]});
        let subject = subject_of(&person).unwrap();
        assert!(subject.keys.iter().any(|k| k.starts_with("account:")));
        assert!(subject.keys.contains(&"openid:https://id.x.org/a".to_string()));
        assert!(subject.needles.contains(&"\"name\":\"a-1\"".to_string()));
    }

    #[test]
    fn a_key_gives_back_its_subject() {
        for agent in [json!({"mbox": "mailto:a@x.org"}), json!({"account": {"homePage": "https://x", "name": "a"}})] {
            let key = ifi_key(&agent).unwrap();
            assert_eq!(subject_of_key(&key).unwrap(), subject_of(&agent).unwrap());
        }
        assert!(subject_of_key("nonsense").is_err());
    }

    #[test]
    fn a_credential_account_of_this_lrs_is_not_a_person() {
        let lms = subject_of(&json!({"account": {"homePage": "http://lrs.example.com", "name": "lms"}})).unwrap();
        assert!(refuse_credential_accounts(&lms, "http://lrs.example.com/").unwrap_err().starts_with("agent.account"));
        let person = subject_of(&json!({"account": {"homePage": "https://lms.example.com", "name": "ada"}})).unwrap();
        assert!(refuse_credential_accounts(&person, "http://lrs.example.com").is_ok());
    }

    #[test]
    fn hostile_or_vague_subjects_are_refused_with_the_field() {
        for (agent, field) in [
            (json!("mailto:a@x.org"), "agent:"),
            (json!({}), "agent:"),
            (json!({"mbox": "a@x.org"}), "agent.mbox"),
            (json!({"mbox_sha1sum": "zz"}), "agent.mbox_sha1sum"),
            (json!({"account": {"name": "a"}}), "agent.account"),
            (json!({"objectType": "Group", "mbox": "mailto:a@x.org"}), "agent.objectType"),
            (json!({"objectType": "Person", "mbox": "mailto:a@x.org"}), "agent.mbox"),
            (json!({"mbox": "mailto:a@x.org", "openid": "https://x"}), "agent:"),
        ] {
            let error = subject_of(&agent).unwrap_err();
            assert!(error.starts_with(field), "{agent}: {error}");
        }
    }
}

//! Agent and Group rules a schema cannot say well: exactly one identifier (IFI), anonymous
//! Groups need members, the restricted shape of `authority`, and the `agent` query parameter.
//! Called by the statement rules after the schema accepted the structure.

use serde_json::Value;

use super::path::Path;
use super::schema;
use super::ValidationError;

/// The inverse functional identifiers; an Agent has exactly one of them.
const IFIS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];
const IFI_LIST: &str = "mbox, mbox_sha1sum, openid or account";

fn ifi_count(value: &Value) -> usize {
    IFIS.iter().filter(|ifi| value.get(ifi).is_some()).count()
}

/// The IFIs present, for error messages only.
fn present_ifis(value: &Value) -> String {
    let names: Vec<&str> = IFIS.into_iter().filter(|ifi| value.get(ifi).is_some()).collect();
    names.join(" and ")
}

fn is_group(value: &Value) -> bool {
    value.get("objectType").and_then(Value::as_str) == Some("Group")
}

/// An Agent: exactly one IFI.
pub fn check_agent(agent: &Value, path: &Path) -> Result<(), ValidationError> {
    match ifi_count(agent) {
        1 => Ok(()),
        0 => Err(path.error(format!("an Agent needs exactly one identifier ({IFI_LIST}); it has none"))),
        _ => {
            Err(path
                .error(format!("an Agent needs exactly one identifier ({IFI_LIST}); it has {}", present_ifis(agent))))
        }
    }
}

/// A Group: identified by exactly one IFI, or anonymous with a non-empty `member` list.
pub fn check_group(group: &Value, path: &Path) -> Result<(), ValidationError> {
    let ifis = ifi_count(group);
    if ifis > 1 {
        return Err(path.error(format!(
            "an identified Group needs exactly one identifier ({IFI_LIST}); it has {}",
            present_ifis(group)
        )));
    }
    let members = group.get("member").and_then(Value::as_array);
    if ifis == 0 && members.is_none_or(Vec::is_empty) {
        let rule = format!("an anonymous Group (one without {IFI_LIST}) needs a non-empty \"member\" array");
        return Err(match members {
            Some(_) => path.key("member").error(rule),
            None => path.error(rule),
        });
    }
    check_members(members.map_or(&[][..], Vec::as_slice), path)
}

fn check_members(members: &[Value], path: &Path) -> Result<(), ValidationError> {
    let member_path = path.key("member");
    for (i, member) in members.iter().enumerate() {
        check_agent(member, &member_path.index(i))?;
    }
    Ok(())
}

/// Wherever an Agent or a Group may stand (actor, instructor, object with objectType).
pub fn check_actor(actor: &Value, path: &Path) -> Result<(), ValidationError> {
    if is_group(actor) {
        check_group(actor, path)
    } else {
        check_agent(actor, path)
    }
}

/// `authority`: an Agent, or an anonymous Group of exactly two Agents (an OAuth
/// application and a user).
pub fn check_authority(authority: &Value, path: &Path) -> Result<(), ValidationError> {
    if !is_group(authority) {
        return check_agent(authority, path);
    }
    if ifi_count(authority) > 0 {
        return Err(
            path.error("must be an Agent or an anonymous Group of two Agents; an identified Group is not allowed")
        );
    }
    let members = authority.get("member").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if members.len() != 2 {
        let rule = format!("an authority Group must have exactly two members; it has {}", members.len());
        return Err(match authority.get("member") {
            Some(_) => path.key("member").error(rule),
            None => path.error(rule),
        });
    }
    check_members(members, path)
}

/// Checks the JSON of an `agent` query parameter: an Agent with exactly one IFI, or, when
/// `allow_identified_group` is set (statement queries), an identified Group. Paths are
/// relative to the parameter (`mbox`, `account.homePage`; empty for the whole value), since
/// the HTTP layer names the parameter itself.
pub fn validate_agent_param(value: &Value, allow_identified_group: bool) -> Result<(), ValidationError> {
    let root = Path::Root;
    schema::check_actor(value)?;
    if !is_group(value) {
        return check_agent(value, &root);
    }
    if !allow_identified_group {
        return Err(root.error("must be an Agent; a Group is not accepted here"));
    }
    if ifi_count(value) == 0 {
        return Err(root.error(format!("an anonymous Group cannot be used here; identify the Group with {IFI_LIST}")));
    }
    check_group(value, &root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_agent_parameter_takes_an_agent_or_when_allowed_an_identified_group() {
        let accepted = [
            (json!({"mbox": "mailto:a@example.com"}), false),
            (json!({"objectType": "Agent", "account": {"homePage": "http://e.com", "name": "a"}}), false),
            (json!({"objectType": "Group", "mbox": "mailto:g@example.com"}), true),
            (
                json!({"objectType": "Group", "openid": "http://e.com/g", "member": [{"mbox": "mailto:a@example.com"}]}),
                true,
            ),
        ];
        for (value, allow_group) in accepted {
            assert_eq!(validate_agent_param(&value, allow_group), Ok(()), "{value} should be accepted");
        }
    }

    #[test]
    fn the_agent_parameter_refuses_anything_else_with_a_clear_message() {
        let refused = [
            (json!("wrong"), true, "must be an object, not a string", "a JSON string"),
            (json!({}), true, "an Agent needs exactly one identifier", "no IFI"),
            (
                json!({"mbox": "mailto:a@example.com", "openid": "http://e.com/a"}),
                true,
                "it has mbox and openid",
                "two IFIs",
            ),
            (json!({"mbox": "a@example.com"}), true, r#"mbox: must be a "mailto:" IRI"#, "bad mbox"),
            (
                json!({"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}]}),
                true,
                "an anonymous Group cannot be used here",
                "anonymous group",
            ),
            (
                json!({"objectType": "Group", "mbox": "mailto:g@example.com"}),
                false,
                "must be an Agent; a Group is not accepted here",
                "group where only agents are allowed",
            ),
            (
                json!({"objectType": "agent", "mbox": "mailto:a@example.com"}),
                true,
                "objectType: must be one of",
                "wrong case",
            ),
            (json!({"mbox": "mailto:a@example.com", "foo": 1}), true, "foo: is not an allowed property", "unknown key"),
        ];
        for (value, allow_group, expected, why) in refused {
            let error = validate_agent_param(&value, allow_group).expect_err(why).to_string();
            assert!(error.contains(expected), "{why}: expected {expected:?} in {error:?}");
        }
    }
}

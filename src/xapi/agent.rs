//! Agent and Group identity: the normalised IFI key that filters, index terms, equivalence
//! and output formats use to say "the same agent". Called by `terms`, `equivalence`,
//! `format` and by the service when it turns an `agent` parameter into a query term.

use serde_json::Value;

/// The four inverse functional identifiers, in the order they are looked for.
pub const IFI_PROPERTIES: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

/// The IFI property of an Agent or identified Group and its value, as received.
/// Validated agents carry exactly one; if several slipped through, the first in
/// `IFI_PROPERTIES` order wins so the answer stays deterministic.
pub fn ifi_entry(agent: &Value) -> Option<(&'static str, &Value)> {
    let object = agent.as_object()?;
    IFI_PROPERTIES.iter().find_map(|name| object.get(*name).map(|value| (*name, value)))
}

/// A key naming an Agent or identified Group by its IFI, equal for two agents exactly when
/// xAPI calls them the same: the e-mail domain and a sha1sum's hex are case-insensitive,
/// everything else is compared as received. `None` for anonymous Groups.
pub fn ifi_key(agent: &Value) -> Option<String> {
    let (property, value) = ifi_entry(agent)?;
    match property {
        "mbox" => Some(format!("mbox:{}", normalize_mbox(value.as_str()?))),
        "mbox_sha1sum" => Some(format!("mbox_sha1sum:{}", value.as_str()?.to_ascii_lowercase())),
        "openid" => Some(format!("openid:{}", value.as_str()?)),
        _ => {
            let home_page = value.get("homePage")?.as_str()?;
            let name = value.get("name")?.as_str()?;
            // A JSON array of two strings cannot be confused with any other pair, whatever
            // characters the home page or the name contain.
            Some(format!("account:{}", Value::from(vec![home_page, name])))
        }
    }
}

/// The agent's own key (if it has an IFI) followed by the key of every Group member,
/// without duplicates: what an `agent` filter matches a statement actor or object by.
pub fn agent_keys_with_members(agent: &Value) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let members = agent.get("member").and_then(Value::as_array);
    let own = ifi_key(agent);
    let member_keys = members.into_iter().flatten().filter_map(ifi_key);
    for key in own.into_iter().chain(member_keys) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// `mailto:` IRI with the scheme and the domain lowercased; the local part is
/// case-sensitive in principle, so it stays as received.
pub fn normalize_mbox(mbox: &str) -> String {
    let address = match mbox.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &mbox[7..],
        _ => mbox,
    };
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("mailto:{local}@{}", domain.to_lowercase()),
        None => format!("mailto:{address}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_kind_of_ifi_gets_a_normalised_key() {
        let cases = [
            (
                "mbox domain lowercased, local part kept",
                json!({"mbox": "mailto:Local@EXAMPLE.com"}),
                "mbox:mailto:Local@example.com",
            ),
            (
                "sha1sum lowercased",
                json!({"mbox_sha1sum": "ABCDEF0123456789ABCDEF0123456789ABCDEF01"}),
                "mbox_sha1sum:abcdef0123456789abcdef0123456789abcdef01",
            ),
            ("openid as is", json!({"openid": "http://Id.example.com/Me"}), "openid:http://Id.example.com/Me"),
            (
                "account as an encoded pair",
                json!({"account": {"homePage": "http://x.com", "name": "bob"}}),
                r#"account:["http://x.com","bob"]"#,
            ),
            (
                "identified group",
                json!({"objectType": "Group", "openid": "http://g.example.com", "member": []}),
                "openid:http://g.example.com",
            ),
        ];
        for (description, agent, expected) in cases {
            assert_eq!(ifi_key(&agent).as_deref(), Some(expected), "{description}");
        }
    }

    #[test]
    fn account_keys_cannot_collide_through_separator_characters() {
        let a = json!({"account": {"homePage": "http://x.com/a:b", "name": "c"}});
        let b = json!({"account": {"homePage": "http://x.com/a", "name": "b:c"}});

        assert_ne!(ifi_key(&a), ifi_key(&b));
    }

    #[test]
    fn anonymous_groups_and_non_objects_have_no_key() {
        let group = json!({"objectType": "Group", "member": [{"mbox": "mailto:a@b.c"}]});

        assert_eq!(ifi_key(&group), None);
        assert_eq!(ifi_key(&json!("mailto:a@b.c")), None);
    }

    #[test]
    fn keys_with_members_lists_the_group_then_each_member_once() {
        let group = json!({
            "objectType": "Group",
            "mbox": "mailto:team@example.com",
            "member": [
                {"mbox": "mailto:a@Example.com"},
                {"openid": "http://b.example.com"},
                {"mbox": "mailto:a@example.COM"}
            ]
        });

        let keys = agent_keys_with_members(&group);

        assert_eq!(
            keys,
            vec!["mbox:mailto:team@example.com", "mbox:mailto:a@example.com", "openid:http://b.example.com"]
        );
    }
}

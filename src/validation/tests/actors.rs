//! Agents, Groups and authority.

use serde_json::{json, Value};

use super::*;

fn actor(value: Value) -> Value {
    with("/actor", value)
}

const SHA1: &str = "ebd31e95054c018b10727ccffd2ef2ec3a016ee9";

#[test]
fn an_agent_has_exactly_one_well_formed_identifier() {
    accept_all(
        vec![
            ("mbox", actor(json!({"mbox": "mailto:a@example.com"}))),
            ("mbox_sha1sum", actor(json!({"mbox_sha1sum": SHA1}))),
            ("openid", actor(json!({"openid": "http://openid.example.org/12345"}))),
            ("account", actor(json!({"account": {"homePage": "http://www.example.com", "name": "xAPI account name"}}))),
            ("no objectType", actor(json!({"name": "A", "mbox": "mailto:a@example.com"}))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            ("no IFI", actor(json!({"objectType": "Agent", "name": "A"})), "actor: an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid or account); it has none"),
            ("mbox and openid", actor(json!({"mbox": "mailto:a@example.com", "openid": "http://e.com/a"})), "actor: an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid or account); it has mbox and openid"),
            ("mbox and account", actor(json!({"mbox": "mailto:a@example.com", "account": {"homePage": "http://e.com", "name": "a"}})), "it has mbox and account"),
            ("sha1 and openid", actor(json!({"mbox_sha1sum": SHA1, "openid": "http://e.com/a"})), "it has mbox_sha1sum and openid"),
            ("mbox over http", actor(json!({"mbox": "http://should.fail.com"})), r#"actor.mbox: must be a "mailto:" IRI"#),
            ("mbox without @", actor(json!({"mbox": "mailto:should.fail.com"})), r#"actor.mbox: must be a "mailto:" IRI"#),
            ("empty mbox", actor(json!({"mbox": ""})), "actor.mbox: must be a"),
            ("mbox_sha1sum an object", actor(json!({"mbox_sha1sum": {}})), "actor.mbox_sha1sum: must be a string, not an object"),
            ("mbox_sha1sum too short", actor(json!({"mbox_sha1sum": "ebd31e95"})), "actor.mbox_sha1sum: must be 40 hexadecimal digits"),
            ("openid bad scheme", actor(json!({"openid": "ab=c://should.fail.com"})), "actor.openid: must be an absolute URI"),
            ("openid no scheme", actor(json!({"openid": "open.id.com/testUser"})), "actor.openid: must be an absolute URI"),
            ("account no homePage", actor(json!({"account": {"name": "a"}})), r#"actor.account: required property "homePage" is missing"#),
            ("account no name", actor(json!({"account": {"homePage": "http://e.com"}})), r#"actor.account: required property "name" is missing"#),
            ("account homePage no scheme", actor(json!({"account": {"homePage": "www.example.com", "name": "a"}})), "actor.account.homePage: must be an absolute IRL"),
            ("account name a number", actor(json!({"account": {"homePage": "http://e.com", "name": 5}})), "actor.account.name: must be a string, not a number"),
            ("account extra", actor(json!({"account": {"homePage": "http://e.com", "name": "a", "x": 1}})), "actor.account.x: is not an allowed property"),
            ("name a number", actor(json!({"name": 5, "mbox": "mailto:a@example.com"})), "actor.name: must be a string, not a number"),
            ("lower-case agent", actor(json!({"objectType": "agent", "mbox": "mailto:a@example.com"})), r#"actor.objectType: must be one of "Agent", "Group""#),
            ("objectType a number", actor(json!({"objectType": 1, "mbox": "mailto:a@example.com"})), "actor.objectType: must be one of"),
            ("member on an agent", actor(json!({"mbox": "mailto:a@example.com", "member": []})), "actor.member: is not an allowed property (only a Group has members"),
            ("actor a string", actor(json!("mailto:a@example.com")), "actor: must be an object, not a string"),
        ],
        BOTH,
    );
}

#[test]
fn groups_are_identified_or_anonymous_with_agent_members() {
    let member = json!({"mbox": "mailto:m@example.com"});
    accept_all(
        vec![
            ("anonymous group", actor(json!({"objectType": "Group", "member": [member]}))),
            ("identified group without members", actor(json!({"objectType": "Group", "mbox": "mailto:g@example.com"}))),
            (
                "identified group with members",
                actor(
                    json!({"objectType": "Group", "account": {"homePage": "http://e.com", "name": "g"}, "member": [member]}),
                ),
            ),
            (
                "identified group, empty member list",
                actor(json!({"objectType": "Group", "openid": "http://e.com/g", "member": []})),
            ),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            ("anonymous without member", actor(json!({"objectType": "Group", "name": "G"})), r#"actor: an anonymous Group (one without mbox, mbox_sha1sum, openid or account) needs a non-empty "member" array"#),
            ("anonymous with empty member", actor(json!({"objectType": "Group", "member": []})), r#"actor.member: an anonymous Group"#),
            ("member not an array", actor(json!({"objectType": "Group", "member": member.clone()})), "actor.member: must be an array, not an object"),
            ("two IFIs", actor(json!({"objectType": "Group", "mbox": "mailto:g@example.com", "mbox_sha1sum": SHA1})), "actor: an identified Group needs exactly one identifier (mbox, mbox_sha1sum, openid or account); it has mbox and mbox_sha1sum"),
            ("group as member", actor(json!({"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@example.com"}]})), r#"actor.member[0].objectType: must be "Agent": a Group is not allowed here"#),
            ("member without IFI", actor(json!({"objectType": "Group", "member": [member, {"name": "x"}]})), "actor.member[1]: an Agent needs exactly one identifier"),
            ("member with bad mbox", actor(json!({"objectType": "Group", "member": [{"mbox": "x@example.com"}]})), "actor.member[0].mbox: must be a \"mailto:\" IRI"),
            ("lower-case group", actor(json!({"objectType": "group", "member": [member]})), "actor.objectType: must be one of"),
        ],
        BOTH,
    );
}

#[test]
fn authority_is_an_agent_or_an_anonymous_pair() {
    let oauth = json!({"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_consumer_x75db"}});
    let user = json!({"mbox": "mailto:bob@example.com"});
    let third = json!({"mbox": "mailto:carol@example.com"});
    accept_all(
        vec![
            ("agent authority", with("/authority", user.clone())),
            ("OAuth pair", with("/authority", json!({"objectType": "Group", "member": [oauth, user]}))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "one member",
                with("/authority", json!({"objectType": "Group", "member": [oauth]})),
                "authority.member: an authority Group must have exactly two members; it has 1",
            ),
            (
                "three members",
                with("/authority", json!({"objectType": "Group", "member": [oauth, user, third]})),
                "it has 3",
            ),
            (
                "identified pair",
                with(
                    "/authority",
                    json!({"objectType": "Group", "mbox": "mailto:g@example.com", "member": [oauth, user]}),
                ),
                "authority: must be an Agent or an anonymous Group of two Agents; an identified Group is not allowed",
            ),
            (
                "agent without IFI",
                with("/authority", json!({"name": "x"})),
                "authority: an Agent needs exactly one identifier",
            ),
            (
                "member without IFI",
                with("/authority", json!({"objectType": "Group", "member": [oauth, {"name": "x"}]})),
                "authority.member[1]: an Agent needs",
            ),
        ],
        BOTH,
    );
}

#[test]
fn agents_and_groups_as_objects_need_object_type() {
    accept_all(
        vec![
            ("agent object", with("/object", json!({"objectType": "Agent", "mbox": "mailto:o@example.com"}))),
            (
                "group object",
                with("/object", json!({"objectType": "Group", "member": [{"mbox": "mailto:o@example.com"}]})),
            ),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "agent without objectType",
                with("/object", json!({"mbox": "mailto:o@example.com"})),
                r#"object.mbox: is not an allowed property (an Agent or Group used as an object needs "objectType")"#,
            ),
            (
                "agent object two IFIs",
                with(
                    "/object",
                    json!({"objectType": "Agent", "mbox": "mailto:o@example.com", "openid": "http://e.com/o"}),
                ),
                "object: an Agent needs exactly one identifier",
            ),
            (
                "anonymous group object without members",
                with("/object", json!({"objectType": "Group"})),
                "object: an anonymous Group",
            ),
        ],
        BOTH,
    );
}

//! Top-level statement rules: required and unknown properties, nulls, id, timestamps,
//! version and attachments.

use serde_json::json;

use super::*;

#[test]
fn actor_verb_and_object_are_required() {
    refuse_all(
        vec![
            ("missing actor", without("/actor"), r#"required property "actor" is missing"#),
            ("missing verb", without("/verb"), r#"required property "verb" is missing"#),
            ("missing object", without("/object"), r#"required property "object" is missing"#),
            ("verb without id", with("/verb", json!({})), r#"verb: required property "id" is missing"#),
        ],
        BOTH,
    );
}

#[test]
fn unknown_and_wrongly_cased_properties_are_refused() {
    refuse_all(
        vec![
            ("dummy property", with("/dummy", json!("dummy")), "dummy: is not an allowed property"),
            (
                "iD",
                with("/iD", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0")),
                r#"iD: is not an allowed property (names are case-sensitive: did you mean "id"?)"#,
            ),
            (
                "timeStamp",
                with("/timeStamp", json!("2013-05-18T05:32:34.804Z")),
                "timeStamp: is not an allowed property",
            ),
            ("RESULT", with("/RESULT", json!({})), "RESULT: is not an allowed property"),
            ("verb property", with("/verb/foo", json!("x")), "verb.foo: is not an allowed property"),
            ("actor property", with("/actor/age", json!(3)), "actor.age: is not an allowed property"),
        ],
        BOTH,
    );
}

#[test]
fn null_is_refused_everywhere_but_inside_extensions() {
    refuse_all(
        vec![
            ("actor.name null", with("/actor/name", json!(null)), "actor.name: must be a string, not null"),
            (
                "display value null",
                with("/verb/display/en-US", json!(null)),
                "verb.display.en-US: must be a string, not null",
            ),
            (
                "registration null",
                with("/context/registration", json!(null)),
                "context.registration: must be a string, not null",
            ),
            (
                "moreInfo null",
                with("/object/definition/moreInfo", json!(null)),
                "object.definition.moreInfo: must be a string, not null",
            ),
            ("timestamp null", with("/timestamp", json!(null)), "timestamp: must be a string, not null"),
            ("result null", with("/result", json!(null)), "result: must be an object, not null"),
        ],
        BOTH,
    );
    accept_all(
        vec![
            (
                "null activity extension",
                with("/object/definition/extensions", json!({"http://example.com/null": null})),
            ),
            ("null result extension", with("/result/extensions", json!({"http://example.com/null": null}))),
            ("null context extension", with("/context/extensions", json!({"http://example.com/null": null}))),
            (
                "odd extension values",
                with(
                    "/result/extensions",
                    json!({"http://e.com/a": "", "http://e.com/b": {}, "http://e.com/c": [1, true]}),
                ),
            ),
        ],
        BOTH,
    );
}

#[test]
fn a_statement_must_be_an_object() {
    for (why, statement) in [("array", json!([])), ("string", json!("statement")), ("null", json!(null))] {
        assert_refused(why, &statement, BOTH, "must be an object");
    }
}

#[test]
fn id_must_be_a_canonical_uuid() {
    accept_all(
        vec![
            ("lower-case id", with("/id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0"))),
            ("upper-case id", with("/id", json!("FD41C918-B88B-4B20-A0A5-A4C32391AAA0"))),
            ("version-1 id", with("/id", json!("fd41c918-b88b-1b20-a0a5-a4c32391aaa0"))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            ("13-digit last group", with("/id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa01")), "id: must be a UUID"),
            ("non-hex digit", with("/id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaaM")), "id: must be a UUID"),
            ("empty id", with("/id", json!("")), "id: must be a UUID"),
            ("number id", with("/id", json!(12345)), "id: must be a string, not a number"),
            ("object id", with("/id", json!({})), "id: must be a string, not an object"),
        ],
        BOTH,
    );
}

#[test]
fn timestamp_and_stored_must_be_iso_8601() {
    accept_all(
        vec![
            ("UTC timestamp", with("/timestamp", json!("2013-05-18T05:32:34.804Z"))),
            ("+00:00 timestamp", with("/timestamp", json!("2013-05-18T05:32:34.804+00:00"))),
            ("offset timestamp", with("/timestamp", json!("2023-05-04T12:00:00-05:00"))),
            ("future timestamp", with("/timestamp", json!("2031-11-24T01:07:11.253Z"))),
            ("many fraction digits", with("/timestamp", json!("2013-05-18T05:32:34.80412345Z"))),
            ("submitted stored", with("/stored", json!("2011-07-15T00:00:00Z"))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            ("words", with("/timestamp", json!("should fail")), "timestamp: must be an ISO 8601 timestamp"),
            ("US date", with("/timestamp", json!("01/011/2015")), "timestamp: must be an ISO 8601 timestamp"),
            (
                "negative zero offset",
                with("/timestamp", json!("2013-05-18T05:32:34.804-00:00")),
                "timestamp: must be an ISO 8601",
            ),
            ("stored not a timestamp", with("/stored", json!("2011-07-15")), "stored: must be an ISO 8601 timestamp"),
            ("stored a number", with("/stored", json!(20110715)), "stored: must be a string"),
        ],
        BOTH,
    );
}

#[test]
fn version_depends_on_the_request_version() {
    accept_all(vec![("1.0", with("/version", json!("1.0"))), ("1.0.9", with("/version", json!("1.0.9")))], BOTH);
    accept_all(vec![("2.0.0", with("/version", json!("2.0.0")))], V2);
    refuse_all(
        vec![("2.0.0 under 1.0.3", with("/version", json!("2.0.0")), r#"version: must be "1.0" or "1.0.x""#)],
        V1,
    );
    refuse_all(
        vec![
            ("words", with("/version", json!("should fail")), "version: must be"),
            ("0.9.9", with("/version", json!("0.9.9")), "version: must be"),
            ("1.1.0", with("/version", json!("1.1.0")), "version: must be"),
            ("number", with("/version", json!(1.0)), "version: must be a string"),
        ],
        BOTH,
    );
}

fn attachment() -> serde_json::Value {
    json!({
        "usageType": "http://adlnet.gov/expapi/attachments/signature",
        "display": {"en-US": "Signature"},
        "description": {"en-US": "A test signature"},
        "contentType": "application/octet-stream",
        "length": 4235,
        "sha2": "672fa5fa658017f1b72d65036f13379c6ab05d4ab3b6664908d8acf0b6a0c634",
        "fileUrl": "http://example.com/sig"
    })
}

fn with_attachment(key: &str, value: serde_json::Value) -> serde_json::Value {
    with("/attachments", json!([set(attachment(), &format!("/{key}"), value)]))
}

fn without_attachment(key: &str) -> serde_json::Value {
    let mut item = attachment();
    item.as_object_mut().unwrap().remove(key);
    with("/attachments", json!([item]))
}

#[test]
fn attachment_metadata_is_checked() {
    accept_all(
        vec![
            ("empty attachments", with("/attachments", json!([]))),
            ("signature attachment", with("/attachments", json!([attachment()]))),
            (
                "other usage, any media type",
                with(
                    "/attachments",
                    json!([set(
                        set(attachment(), "/usageType", json!("http://example.com/u")),
                        "/contentType",
                        json!("text/plain; charset=ascii")
                    )]),
                ),
            ),
            ("sha-512 digest", with_attachment("sha2", json!("ab".repeat(64)))),
            ("no fileUrl", without_attachment("fileUrl")),
            ("no description", without_attachment("description")),
            ("zero length", with_attachment("length", json!(0))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "attachments an object",
                with("/attachments", attachment()),
                "attachments: must be an array, not an object",
            ),
            (
                "attachment a number",
                with("/attachments", json!([1])),
                "attachments[0]: must be an object, not a number",
            ),
            (
                "usageType not an IRI",
                with_attachment("usageType", json!("should fail")),
                "attachments[0].usageType: must be an absolute IRI",
            ),
            (
                "contentType a number",
                with_attachment("contentType", json!(12345)),
                "attachments[0].contentType: must be a string",
            ),
            (
                "contentType no slash",
                with_attachment("contentType", json!("octet-stream")),
                "attachments[0].contentType: must be an Internet media type",
            ),
            (
                "length a string",
                with_attachment("length", json!("should fail")),
                "attachments[0].length: must be an integer, not a string",
            ),
            ("length fractional", with_attachment("length", json!(1.5)), "attachments[0].length: must be an integer"),
            ("length negative", with_attachment("length", json!(-1)), "attachments[0].length: must be at least 0"),
            ("sha2 a number", with_attachment("sha2", json!(12345)), "attachments[0].sha2: must be a string"),
            (
                "sha2 wrong length",
                with_attachment("sha2", json!("abc")),
                "attachments[0].sha2: must be a hex SHA-2 digest",
            ),
            (
                "fileUrl without scheme",
                with_attachment("fileUrl", json!("example.com/sig")),
                "attachments[0].fileUrl: must be an absolute IRL",
            ),
            (
                "display a string",
                with_attachment("display", json!("Signature")),
                "attachments[0].display: must be an object, not a string",
            ),
            (
                "description a number",
                with_attachment("description", json!(1)),
                "attachments[0].description: must be an object",
            ),
            (
                "missing usageType",
                without_attachment("usageType"),
                r#"attachments[0]: required property "usageType" is missing"#,
            ),
            (
                "missing display",
                without_attachment("display"),
                r#"attachments[0]: required property "display" is missing"#,
            ),
            ("missing contentType", without_attachment("contentType"), r#"required property "contentType" is missing"#),
            ("missing length", without_attachment("length"), r#"required property "length" is missing"#),
            ("missing sha2", without_attachment("sha2"), r#"required property "sha2" is missing"#),
            (
                "unknown property",
                with_attachment("data", json!("x")),
                "attachments[0].data: is not an allowed property",
            ),
            (
                "signature as text",
                with_attachment("contentType", json!("text/plain; charset=ascii")),
                r#"attachments[0].contentType: must be "application/octet-stream" for a signature attachment"#,
            ),
        ],
        BOTH,
    );
}

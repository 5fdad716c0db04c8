//! Finding 1: a `more` link is honoured without credentials, so its seal is the only lock.
//! A forged cursor with a short tag must never open, whatever its length or value.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{statement, TestApp, ADMIN_KEY};

/// What an attacker can write: a cursor naming a public key (every statement's
/// `authority.account.name`), asking for everything.
fn forged_payload() -> String {
    let expires = chrono::Utc::now().timestamp() + 3600;
    let cursor = json!({"p": [["limit", "10"]], "a": 0, "k": ADMIN_KEY, "v": "1.0.3", "e": expires});
    URL_SAFE_NO_PAD.encode(cursor.to_string())
}

async fn follow_bare(app: &TestApp, token: &str) -> u16 {
    let url = format!("{}/xapi/statements/more/{token}", app.address);
    app.client.get(url).send().await.expect("request sent").status().as_u16()
}

#[tokio::test]
async fn a_forged_more_link_with_a_one_byte_tag_never_opens() {
    // Arrange: statements to steal, and a genuine link to learn the token's shape.
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        assert_eq!(app.post_statements(&statement("http://example.com/verbs/did")).await.status(), 200);
    }
    let page: Value = app.get_statements(&[("limit", "1")]).await.json().await.unwrap();
    let link = page["more"].as_str().unwrap().to_string();
    let token = link.rsplit('/').next().unwrap().to_string();
    let key_id = token.split('.').next().unwrap().to_string();
    let payload = forged_payload();

    // Act: every one-byte tag, in the old two-part form and under the real key id.
    let mut opened = Vec::new();
    for byte in 0..=255u8 {
        let tag = URL_SAFE_NO_PAD.encode([byte]);
        for forged in [format!("{payload}.{tag}"), format!("{key_id}.{payload}.{tag}")] {
            if follow_bare(&app, &forged).await == 200 {
                opened.push(forged);
            }
        }
    }

    // Assert
    assert!(opened.is_empty(), "forged links opened without credentials: {opened:?}");
    assert_eq!(follow_bare(&app, &token).await, 200, "the genuine link still opens");
}

#[tokio::test]
async fn a_genuine_link_with_its_tag_cut_extended_or_altered_is_refused() {
    // Arrange
    let app = TestApp::spawn().await;
    for _ in 0..2 {
        app.post_statements(&statement("http://example.com/verbs/did")).await;
    }
    let page: Value = app.get_statements(&[("limit", "1")]).await.json().await.unwrap();
    let token = page["more"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let (head, tag) = token.rsplit_once('.').unwrap();
    let tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
    let with = |bytes: &[u8]| format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes));
    let mut altered = tag.clone();
    altered[0] ^= 0x80;
    let cases = [
        ("cut to one byte", with(&tag[..1])),
        ("one byte short", with(&tag[..tag.len() - 1])),
        ("one byte longer", with(&[&tag[..], &[0]].concat())),
        ("first bit flipped", with(&altered)),
    ];

    // Act and Assert
    for (what, forged) in cases {
        assert_eq!(follow_bare(&app, &forged).await, 404, "a tag {what} was accepted");
    }
    assert_eq!(follow_bare(&app, &token).await, 200);
}

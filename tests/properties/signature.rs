//! Properties of the signature check (`validation::signature::verify_jws`) on the bytes of
//! a signature part: any text, JWS segments around any JSON header, and a real signed JWS
//! or certificate with bytes changed are refused with an error naming the attachment.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use fluency::validation::signature::verify_jws;
use proptest::prelude::*;
use serde_json::json;

use crate::strategies::{config, json_value, text_near};

const CASES: u32 = 2000;

/// A JWS signed with RS512 by the key of `jws-cert-a.pem`, whose `x5c` holds that certificate.
const SIGNED: &str = include_str!("../../src/validation/signature/testdata/jws-openssl-rs512.txt");
const CERTIFICATE: &str = include_str!("../../src/validation/signature/testdata/jws-cert-a.pem");

fn certificate_der() -> Vec<u8> {
    let text: String = CERTIFICATE.lines().filter(|line| !line.starts_with("-----")).collect();
    STANDARD.decode(text).expect("the test certificate is base64")
}

/// `bytes` with up to four bytes replaced, inserted or cut off.
fn mutated(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..=4).prop_map(move |edits| {
        let mut out = bytes.clone();
        for (at, byte, kind) in edits {
            let i = at.index(out.len());
            match kind {
                0 => out[i] = byte,
                1 => out.insert(i, byte),
                _ => out.truncate(i.max(1)),
            }
        }
        out
    })
}

fn refuses_naming_the_attachment(jws: &[u8]) -> Result<(), TestCaseError> {
    if let Err(error) = verify_jws(jws, 3) {
        prop_assert_eq!(&error.path, "attachments[3]", "{}", error);
    }
    Ok(())
}

#[test]
fn the_real_signed_jws_verifies() {
    assert!(verify_jws(SIGNED.as_bytes(), 0).is_ok());
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn any_text_or_bytes_is_refused_naming_the_attachment(
        text in text_near(&["eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.c2ln", "a.b.c", "..", "e30.e30.e30"]),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        refuses_naming_the_attachment(text.as_bytes())?;
        refuses_naming_the_attachment(&bytes)?;
    }

    #[test]
    fn segments_around_any_json_header_are_refused_naming_the_attachment(header in json_value()) {
        let jws = format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode("{}"));
        refuses_naming_the_attachment(jws.as_bytes())?;
    }

    #[test]
    fn a_signed_jws_with_bytes_changed_is_answered_naming_the_attachment(jws in mutated(SIGNED.as_bytes().to_vec())) {
        refuses_naming_the_attachment(&jws)?;
    }

    #[test]
    fn a_damaged_x5c_certificate_is_refused_naming_the_attachment(der in mutated(certificate_der())) {
        let header = json!({"alg": "RS256", "x5c": [STANDARD.encode(der)]});
        let jws = format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode("{}"));
        let error = verify_jws(jws.as_bytes(), 3).expect_err("a made-up signature cannot verify");
        prop_assert_eq!(&error.path, "attachments[3]", "{}", error);
    }
}

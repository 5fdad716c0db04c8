//! Properties of the multipart statement parser (`xapi::multipart::parse_statement_request`):
//! arbitrary content types and bodies are refused with a `multipart:` error, structurally
//! valid bodies with arbitrary part headers are refused naming the part, well-formed ones are
//! accepted with every header and body intact, and built responses parse back.

use fluency::xapi::multipart::{build_response, parse_statement_request, sha2_hex};
use proptest::prelude::*;

use crate::strategies::{config, json_value, text_near, unicode};

/// Cases per property; bodies are small, so a case is well under a millisecond.
const CASES: u32 = 3000;

const CONTENT_TYPES: &[&str] = &[
    "multipart/mixed; boundary=abc123",
    "multipart/mixed; boundary=\"abc123\"; charset=utf-8",
    "Multipart/Mixed;boundary=abc123",
    "multipart/mixed; boundary=\"a\\\"b\"",
];

const STATEMENT: &[u8] = br#"{"actor":{"mbox":"mailto:a@example.com"}}"#;

/// A boundary no generated body or header can contain by chance.
const LONG_BOUNDARY: &str = "fluency-property-boundary-0123456789";

/// A request with the given boundary: the statement part, then each attachment part with
/// its header lines as given (CRLF added) and its body.
fn request(boundary: &str, attachments: &[(Vec<String>, Vec<u8>)]) -> Vec<u8> {
    let mut body = format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n").into_bytes();
    body.extend_from_slice(STATEMENT);
    for (headers, bytes) in attachments {
        body.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        for line in headers {
            body.extend_from_slice(line.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

fn hash_line(bytes: &[u8]) -> String {
    format!("X-Experience-API-Hash: {}", sha2_hex(bytes, 64).expect("SHA-256"))
}

/// Header lines of any text: names near the ones the parser checks, values of any Unicode.
fn header_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => text_near(&[
            "Content-Type: text/plain",
            "Content-Length: 5",
            "Content-Transfer-Encoding: binary",
            "X-Experience-API-Hash: 00",
            " folded continuation",
            "Content-Type: application/json",
        ]),
        1 => unicode(30),
    ]
}

/// Attachment bodies: arbitrary bytes, or text that looks like delimiters and headers.
fn part_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        text_near(&["\r\n--abc\r\n", "--\r\n\r\nContent-Type: x\r\n\r\n", "\r\n\r\n"]).prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn any_content_type_and_body_is_answered_with_a_multipart_error(
        content_type in text_near(CONTENT_TYPES),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..96),
            (prop::collection::vec(header_line(), 0..3), part_body())
                .prop_map(|(headers, bytes)| request("abc123", &[(headers, bytes)])),
        ],
    ) {
        match parse_statement_request(&content_type, &body) {
            Ok((_, parts)) => {
                for part in parts {
                    prop_assert_eq!(part.sha2().map(str::to_owned), sha2_hex(&part.body, 64), "unverified hash");
                }
            }
            Err(error) => prop_assert!(error.to_string().starts_with("multipart: "), "{}", error),
        }
    }

    #[test]
    fn arbitrary_part_headers_in_a_well_formed_body_are_refused_naming_the_part(
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,69}[A-Za-z0-9]",
        attachments in prop::collection::vec((prop::collection::vec(header_line(), 0..4), part_body()), 1..3),
        with_hash in any::<bool>(),
    ) {
        let attachments: Vec<(Vec<String>, Vec<u8>)> = attachments
            .into_iter()
            .map(|(mut headers, bytes)| {
                if with_hash {
                    headers.push(hash_line(&bytes));
                }
                (headers, bytes)
            })
            .collect();
        let body = request(&boundary, &attachments);
        if let Err(error) = parse_statement_request(&format!("multipart/mixed; boundary=\"{boundary}\""), &body) {
            prop_assert!(error.to_string().contains("part "), "{} does not name a part", error);
        }
    }

    #[test]
    fn well_formed_parts_keep_every_header_value_and_body_byte(
        extra in prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,12}", unicode(20)), 0..4),
        bodies in prop::collection::vec(part_body(), 1..4),
    ) {
        let extra: Vec<(String, String)> = extra
            .into_iter()
            .map(|(name, value)| (format!("X-Extra-{name}"), value.replace(['\r', '\n'], "")))
            .collect();
        let attachments: Vec<(Vec<String>, Vec<u8>)> = bodies
            .iter()
            .map(|bytes| {
                let mut headers: Vec<String> = extra.iter().map(|(name, value)| format!("{name}:{value}")).collect();
                headers.push(hash_line(bytes));
                (headers, bytes.clone())
            })
            .collect();

        let content_type = format!("multipart/mixed; boundary={LONG_BOUNDARY}");
        let parsed = parse_statement_request(&content_type, &request(LONG_BOUNDARY, &attachments));
        let (json, parts) = parsed.map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;

        prop_assert_eq!(json, STATEMENT.to_vec());
        prop_assert_eq!(parts.len(), bodies.len());
        for (part, bytes) in parts.iter().zip(&bodies) {
            prop_assert_eq!(&part.body, bytes);
            for (name, value) in &extra {
                // The first of a repeated name is the one `header` returns.
                let first = extra.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
                prop_assert_eq!(part.header(name), first, "{} of {:?}", name, value);
            }
        }
    }

    #[test]
    fn built_responses_parse_back_to_their_json_and_parts(
        statement in json_value(),
        attachments in prop::collection::vec((unicode(16), part_body()), 0..4),
    ) {
        let json = statement.to_string();
        let mut expected: Vec<(String, String, Vec<u8>)> = Vec::new();
        for (content_type, bytes) in attachments {
            let sha2 = sha2_hex(&bytes, 64).expect("SHA-256");
            if !expected.iter().any(|(_, known, _)| *known == sha2) {
                expected.push((content_type, sha2, bytes));
            }
        }

        let (content_type, body) = build_response(&json, &expected);
        let parsed = parse_statement_request(&content_type, &body);
        let (parsed_json, parts) = parsed.map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;

        prop_assert_eq!(parsed_json, json.into_bytes());
        prop_assert_eq!(parts.len(), expected.len());
        for (part, (content_type, sha2, bytes)) in parts.iter().zip(&expected) {
            prop_assert_eq!(&part.body, bytes);
            prop_assert_eq!(part.sha2(), Some(sha2.as_str()));
            if !content_type.chars().any(char::is_control) && !content_type.is_empty() {
                prop_assert_eq!(part.header("Content-Type"), Some(content_type.trim()));
            }
        }
    }
}

use super::*;

const CT: &str = "multipart/mixed; boundary=abc123";
const STATEMENT: &str = r#"{"id":"x","attachments":[]}"#;

fn sha256(bytes: &[u8]) -> String {
    sha2_hex(bytes, 64).unwrap()
}

/// A well-formed request: the statement part, then one part per (content type, bytes).
fn request(attachments: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = format!("--abc123\r\nContent-Type: application/json\r\n\r\n{STATEMENT}").into_bytes();
    for (content_type, bytes) in attachments {
        let head = format!(
            "\r\n--abc123\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {}\r\n\r\n",
            sha256(bytes)
        );
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(bytes);
    }
    body.extend_from_slice(b"\r\n--abc123--\r\n");
    body
}

fn parse(body: &[u8]) -> Result<(Vec<u8>, Vec<Part>), MultipartError> {
    parse_statement_request(CT, body)
}

#[test]
fn a_built_response_parses_back_to_the_same_json_and_parts() {
    // Arrange
    let tricky = b"--abc\r\n--\r\n\r\nX-Experience-API-Hash: 00\r\n\r\n\xff\x00".to_vec();
    let attachments = vec![
        ("text/plain".to_string(), sha256(b"hello"), b"hello".to_vec()),
        ("application/octet-stream".to_string(), sha256(&tricky), tricky.clone()),
        ("image/png".to_string(), sha256(b""), Vec::new()),
    ];

    // Act
    let (content_type, body) = build_response(STATEMENT, &attachments);
    let (json, parts) = parse_statement_request(&content_type, &body).unwrap();

    // Assert
    assert_eq!(json, STATEMENT.as_bytes());
    assert_eq!(parts.len(), 3);
    for (part, (content_type, sha2, bytes)) in parts.iter().zip(&attachments) {
        assert_eq!(part.header("content-type"), Some(content_type.as_str()));
        assert_eq!(part.header("Content-Transfer-Encoding"), Some("binary"));
        assert_eq!(part.sha2(), Some(sha2.as_str()));
        assert_eq!(&part.body, bytes);
    }
}

#[test]
fn the_response_header_and_body_have_the_shape_the_suite_parses() {
    let (content_type, body) = build_response(STATEMENT, &[("text/plain".into(), sha256(b"hi"), b"hi".to_vec())]);

    let boundary = content_type.strip_prefix("multipart/mixed; boundary=").expect("exact header shape");
    assert!(!boundary.is_empty() && boundary.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    let expected = format!(
        "--{boundary}\r\nContent-Type: application/json\r\n\r\n{STATEMENT}\r\n--{boundary}\r\nContent-Type: text/plain\r\n\
         Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {}\r\n\r\nhi\r\n--{boundary}--",
        sha256(b"hi")
    );
    assert_eq!(String::from_utf8(body).unwrap(), expected);
}

#[test]
fn a_response_sends_each_hash_once_and_only_in_its_part_header() {
    // The statement JSON carries the hash once; the body must add exactly one more (ST-ATT-04).
    let hash = sha256(b"same");
    let json = format!(r#"{{"attachments":[{{"sha2":"{hash}"}},{{"sha2":"{hash}"}}]}}"#);
    let parts = vec![
        ("text/plain".to_string(), hash.clone(), b"same".to_vec()),
        ("text/plain".to_string(), hash.to_uppercase(), b"same".to_vec()),
    ];

    let (_, body) = build_response(&json, &parts);

    let body = String::from_utf8(body).unwrap();
    assert_eq!(body.matches(&hash).count(), 3, "two in the JSON, one part header");
    assert_eq!(body.matches("X-Experience-API-Hash").count(), 1);
}

#[test]
fn a_response_without_attachments_still_is_multipart() {
    let (content_type, body) = build_response(STATEMENT, &[]);
    let (json, parts) = parse_statement_request(&content_type, &body).unwrap();
    assert_eq!(json, STATEMENT.as_bytes());
    assert!(parts.is_empty());
}

#[test]
fn a_content_type_with_a_line_break_is_not_written_into_a_header() {
    let parts = vec![("text/plain\r\nX-Evil: 1".to_string(), sha256(b"x"), b"x".to_vec())];
    let (_, body) = build_response(STATEMENT, &parts);
    let body = String::from_utf8(body).unwrap();
    assert!(!body.contains("X-Evil"));
    assert!(body.contains("Content-Type: application/octet-stream\r\n"));
}

#[test]
fn sha2_hex_picks_the_variant_from_the_declared_length() {
    assert_eq!(sha2_hex(b"abc", 56).unwrap(), "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    assert_eq!(sha2_hex(b"abc", 64).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(sha2_hex(b"abc", 96).unwrap().len(), 96);
    assert!(sha2_hex(b"abc", 128).unwrap().starts_with("ddaf35a193617aba"));
    assert_eq!(sha2_hex(b"abc", 40), None);
}

#[test]
fn a_preamble_and_an_epilogue_are_ignored() {
    let mut body = b"This is a preamble.\r\n".to_vec();
    body.extend(request(&[("text/plain", b"hi")]));
    body.extend_from_slice(b"This is an epilogue.\r\n--abc123\r\nnot a part");

    let (json, parts) = parse(&body).unwrap();

    assert_eq!(json, STATEMENT.as_bytes());
    assert_eq!(parts[0].body, b"hi");
}

#[test]
fn the_test_suites_request_style_is_accepted() {
    // The ADL suite starts with CRLF, omits the space after colons, quotes nothing, ends
    // without a final CRLF and uses a boundary starting with dashes.
    let sig = b"aaa.bbb.ccc";
    let body = format!(
        "\r\n-----------123\r\nContent-Type:application/json\r\n\r\n{STATEMENT}\r\n-----------123\r\n\
         Content-Type:application/octet-stream\r\nContent-Transfer-Encoding:binary\r\nX-Experience-API-Hash:{}\r\n\r\naaa.bbb.ccc\r\n-----------123--",
        sha256(sig)
    );

    let (json, parts) = parse_statement_request("multipart/mixed; boundary=---------123", body.as_bytes()).unwrap();

    assert_eq!(json, STATEMENT.as_bytes());
    assert_eq!(parts[0].body, sig);
    assert_eq!(parts[0].header("Content-Type"), Some("application/octet-stream"));
}

#[test]
fn quoted_boundaries_parameters_and_case_are_understood() {
    let body = request(&[("text/plain", b"hi")]);
    for content_type in [
        "multipart/mixed; boundary=\"abc123\"",
        "Multipart/Mixed;charset=utf-8;BOUNDARY=abc123",
        "multipart/mixed; type=\"a;b\"; boundary = \"abc\\123\" ",
    ] {
        let result = parse_statement_request(content_type, &body);
        assert!(result.is_ok(), "{content_type}: {result:?}");
    }
}

#[test]
fn part_bodies_keep_dashes_and_line_breaks_that_are_not_delimiters() {
    let tricky: &[&[u8]] = &[b"ends with CRLF\r\n", b"\r\n", b"--abc123x\r\n", b"\r\n--abc1234\r\n", b"line\n--abc123"];
    for bytes in tricky {
        let (_, parts) = parse(&request(&[("text/plain", bytes)])).unwrap();
        assert_eq!(&parts[0].body, bytes, "{:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn a_part_with_spaces_after_its_delimiter_and_folded_headers_is_read() {
    let body =
        format!("--abc123  \r\nContent-Type: application/json;\r\n charset=utf-8\r\n\r\n{STATEMENT}\r\n--abc123--");
    let (json, _) = parse(body.as_bytes()).unwrap();
    assert_eq!(json, STATEMENT.as_bytes());
}

#[test]
fn a_missing_transfer_encoding_means_binary() {
    let body = format!(
        "--abc123\r\nContent-Type: application/json\r\n\r\n{STATEMENT}\r\n--abc123\r\nX-Experience-API-Hash: {}\r\n\r\nhi\r\n--abc123--",
        sha256(b"hi").to_uppercase()
    );
    let (_, parts) = parse(body.as_bytes()).unwrap();
    assert_eq!(parts[0].sha2(), Some(sha256(b"hi").as_str()), "hash is lowercased");
}

/// Takes a well-formed request with one text attachment and applies `edit` to its text.
fn edited(edit: impl Fn(String) -> String) -> Vec<u8> {
    edit(String::from_utf8(request(&[("text/plain", b"here is a simple attachment")])).unwrap()).into_bytes()
}

#[test]
fn malformed_requests_are_refused_with_a_message_naming_the_problem() {
    let hash = sha256(b"here is a simple attachment");
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("not multipart/mixed", "multipart/form-data; boundary=abc123", request(&[]), "must be multipart/mixed"),
        ("no boundary parameter", "multipart/mixed;", request(&[]), "no boundary parameter"),
        ("empty boundary", "multipart/mixed; boundary=\"\"", request(&[]), "boundary \"\""),
        (
            "no opening delimiter",
            CT,
            edited(|s| s.replacen("--abc123\r\n", "", 1)),
            "part 1 must have Content-Type: application/json, found \"text/plain\" (is the opening",
        ),
        ("no delimiter at all", CT, b"{}".to_vec(), "no opening --boundary"),
        ("no closing delimiter", CT, edited(|s| s.replace("\r\n--abc123--\r\n", "\r\n")), "no closing"),
        ("closing delimiter first", CT, b"--abc123--\r\n".to_vec(), "no parts"),
        (
            "first part not JSON",
            CT,
            edited(|s| s.replacen("application/json", "text/plain", 1)),
            "found \"text/plain\"",
        ),
        (
            "first part without type",
            CT,
            edited(|s| s.replacen("Content-Type: application/json", "X-A: b", 1)),
            "found no Content-Type",
        ),
        (
            "statements split over two JSON parts",
            CT,
            edited(|s| {
                s.replacen("text/plain", "application/json", 1).replacen(
                    &format!("X-Experience-API-Hash: {hash}\r\n"),
                    "",
                    1,
                )
            }),
            "part 2 is a second application/json part",
        ),
        (
            "attachment without hash",
            CT,
            edited(|s| s.replace(&format!("X-Experience-API-Hash: {hash}\r\n"), "")),
            "multipart: part 2 has no X-Experience-API-Hash header",
        ),
        (
            "base64 transfer encoding",
            CT,
            edited(|s| s.replace("binary", "base64")),
            "Content-Transfer-Encoding \"base64\"",
        ),
        (
            "hash of other bytes",
            CT,
            edited(|s| s.replace("here is a simple", "HERE IS A SIMPLE")),
            "does not match the SHA-2",
        ),
        (
            "hash not hex",
            CT,
            edited(|s| s.replace(&hash, &hash.replace(|c: char| c.is_ascii_digit(), "g"))),
            "is not a SHA-2 hex digest",
        ),
        ("hash of odd length", CT, edited(|s| s.replace(&hash, &hash[..40])), "is not a SHA-2 hex digest"),
        (
            "two hash headers",
            CT,
            edited(|s| s.replace("binary\r\n", &format!("binary\r\nX-Experience-API-Hash: {hash}\r\n"))),
            "more than one X-Experience-API-Hash",
        ),
        (
            "wrong Content-Length",
            CT,
            edited(|s| s.replace("binary\r\n", "binary\r\nContent-Length: 3\r\n")),
            "Content-Length \"3\"",
        ),
        (
            "header line without colon",
            CT,
            edited(|s| s.replace("binary\r\n", "binary\r\nnonsense\r\n")),
            "malformed header line \"nonsense\"",
        ),
        (
            "headers never end",
            CT,
            b"--abc123\r\nContent-Type: application/json\r\n--abc123--".to_vec(),
            "part 1 headers are not followed",
        ),
    ];
    for (description, content_type, body, message) in cases {
        let result = parse_statement_request(content_type, &body);
        let error = result.expect_err(description).to_string();
        assert!(error.starts_with("multipart: "), "{description}: {error}");
        assert!(error.contains(message), "{description}: {error:?} should mention {message:?}");
    }
}

#[test]
fn attachment_headers_running_into_the_json_part_are_refused() {
    // The suite's XAPI-00130 body: the delimiter between statement and attachment is missing.
    let body = edited(|s| s.replacen("\r\n--abc123\r\nContent-Type: text/plain", "\r\nContent-Type: text/plain", 1));
    assert_eq!(parse(&body), Err(MultipartError::DataAfterJson));
}

#[test]
fn invalid_json_in_the_first_part_is_left_to_the_statement_parser() {
    let body = b"--abc123\r\nContent-Type: application/json\r\n\r\n{\"a\": \r\n--abc123--";
    let (json, _) = parse(body).unwrap();
    assert_eq!(json, b"{\"a\": ");
}

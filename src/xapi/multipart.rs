//! `multipart/mixed` statement bodies (xAPI attachments, digest §2.3 and §1.3.6): parses a
//! request into the statement JSON and its attachment parts, and builds `attachments=true`
//! responses. Called by the HTTP layer for POST/PUT and GET `statements`; no actix types here.

use std::collections::HashSet;

use memchr::memmem;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

const CRLF: &[u8] = b"\r\n";
const HASH_HEADER: &str = "X-Experience-API-Hash";

/// One body part: its header fields in arrival order (names as sent, values trimmed, the
/// `X-Experience-API-Hash` value lowercased) and its exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Part {
    /// The first header with this name, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The lowercase `X-Experience-API-Hash`; for parsed attachment parts it is present and
    /// already checked against the body bytes.
    pub fn sha2(&self) -> Option<&str> {
        self.header(HASH_HEADER)
    }
}

/// Why a multipart statement request was refused; each message names the part (counting
/// from 1) and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("multipart: Content-Type must be multipart/mixed, not {0:?}")]
    NotMultipartMixed(String),
    #[error("multipart: Content-Type multipart/mixed has no boundary parameter")]
    NoBoundary,
    #[error("multipart: boundary {0:?} must be 1 to 70 printable ASCII characters, not ending in a space")]
    BadBoundary(String),
    #[error("multipart: the body has no opening --boundary delimiter line")]
    NoOpeningDelimiter,
    #[error("multipart: the body has no closing --boundary-- delimiter")]
    NoClosingDelimiter,
    #[error("multipart: the body has no parts; the first part must hold the statement JSON")]
    NoParts,
    #[error("multipart: part {part} headers are not followed by an empty line")]
    UnterminatedHeaders { part: usize },
    #[error("multipart: part {part} has a malformed header line {line:?}")]
    MalformedHeader { part: usize, line: String },
    #[error("multipart: part {part} has more than one {name} header")]
    DuplicateHeader { part: usize, name: &'static str },
    #[error("multipart: part 1 must have Content-Type: application/json, found {found}{hint}")]
    FirstPartNotJson { found: String, hint: &'static str },
    #[error("multipart: part 1 continues after the statement JSON (is the --boundary delimiter before the next part missing?)")]
    DataAfterJson,
    #[error("multipart: part {part} is a second application/json part without {HASH_HEADER}; all statements must be in part 1")]
    SplitStatements { part: usize },
    #[error("multipart: part {part} has no {HASH_HEADER} header")]
    MissingHash { part: usize },
    #[error("multipart: part {part} {HASH_HEADER} {value:?} is not a SHA-2 hex digest (56, 64, 96 or 128 hex digits)")]
    BadHash { part: usize, value: String },
    #[error("multipart: part {part} {HASH_HEADER} does not match the SHA-2 of its body")]
    HashMismatch { part: usize },
    #[error("multipart: part {part} has Content-Transfer-Encoding {value:?}; only binary is accepted")]
    TransferEncoding { part: usize, value: String },
    #[error("multipart: part {part} Content-Length {declared:?} does not match its {actual}-byte body")]
    LengthMismatch { part: usize, declared: String, actual: usize },
}

/// Splits a `multipart/mixed` statement request into the statement JSON (part 1) and the
/// attachment parts. Every attachment part has a verified `X-Experience-API-Hash` (see
/// [`Part::sha2`]); matching parts to attachment metadata is left to the caller.
pub fn parse_statement_request(content_type: &str, body: &[u8]) -> Result<(Vec<u8>, Vec<Part>), MultipartError> {
    let boundary = boundary_of(content_type)?;
    let dash_boundary = [b"--", boundary.as_bytes()].concat();

    let opening = find_delimiter(body, 0, &dash_boundary).ok_or(MultipartError::NoOpeningDelimiter)?;
    let has_preamble = opening.start > 0;
    let mut next = match opening.kind {
        DelimiterKind::Close => return Err(MultipartError::NoParts),
        DelimiterKind::Next(after) => after,
    };
    let mut parts = Vec::new();
    loop {
        let delimiter = find_delimiter(body, next, &dash_boundary).ok_or(MultipartError::NoClosingDelimiter)?;
        parts.push(parse_part(&body[next..delimiter.start], parts.len() + 1)?);
        match delimiter.kind {
            DelimiterKind::Close => break,
            DelimiterKind::Next(after) => next = after,
        }
    }

    let mut parts = parts.into_iter();
    let first = parts.next().ok_or(MultipartError::NoParts)?;
    check_statement_part(&first, has_preamble)?;
    let attachments =
        parts.enumerate().map(|(i, part)| check_attachment_part(part, i + 2)).collect::<Result<Vec<_>, _>>()?;
    Ok((first.body, attachments))
}

/// Lowercase hex SHA-2 of `bytes`, the variant chosen by the declared digest's hex length:
/// 56 (SHA-224), 64 (SHA-256), 96 (SHA-384) or 128 (SHA-512); `None` for any other length.
pub fn sha2_hex(bytes: &[u8], hex_len: usize) -> Option<String> {
    let digest = match hex_len {
        56 => hex::encode(Sha224::digest(bytes)),
        64 => hex::encode(Sha256::digest(bytes)),
        96 => hex::encode(Sha384::digest(bytes)),
        128 => hex::encode(Sha512::digest(bytes)),
        _ => return None,
    };
    Some(digest)
}

/// The framing of an `attachments=true` answer, for the HTTP layer to stream: `heads[0]`
/// is the JSON part whole, each further head precedes the bytes of `parts[i]` (the parts
/// deduplicated by hash), and `tail` closes the body. Part bytes are never held here.
pub struct ResponseFrame {
    pub content_type: String,
    pub heads: Vec<Vec<u8>>,
    pub tail: Vec<u8>,
    /// Index into the `parts` given of the part each head after the first introduces.
    pub parts: Vec<usize>,
}

impl ResponseFrame {
    /// The body's length once the part bytes (`part_len(i)` for `parts[i]`) are added.
    pub fn len(&self, part_len: impl Fn(usize) -> u64) -> u64 {
        let framing: usize = self.heads.iter().map(Vec::len).sum::<usize>() + self.tail.len();
        framing as u64 + self.parts.iter().map(|&i| part_len(i)).sum::<u64>()
    }
}

/// Frames the JSON and parts given as (content type, sha2). A hash given twice gets one
/// part, and the hash is written only in its part's header, so each hash occurs exactly
/// twice in a single-statement response (suite quirk 8, ST-ATT-04). The boundary is 32 random
/// letters and digits (190 bits), checked against the JSON; the part bytes are not scanned,
/// as no sender can know the boundary before it is drawn.
pub fn frame_response(json: &str, parts: &[(&str, &str)]) -> ResponseFrame {
    let mut seen = HashSet::new();
    let kept: Vec<usize> = (0..parts.len()).filter(|&i| seen.insert(parts[i].1.to_ascii_lowercase())).collect();
    let boundary = loop {
        let candidate = random_boundary();
        if memmem::find(json.as_bytes(), candidate.as_bytes()).is_none() {
            break candidate;
        }
    };
    let mut first = format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n").into_bytes();
    first.extend_from_slice(json.as_bytes());
    let mut heads = vec![first];
    for &i in &kept {
        let (content_type, sha2) = parts[i];
        heads.push(
            format!(
                "\r\n--{boundary}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: binary\r\n{HASH_HEADER}: {sha2}\r\n\r\n",
                header_safe_content_type(content_type),
            )
            .into_bytes(),
        );
    }
    ResponseFrame {
        content_type: format!("multipart/mixed; boundary={boundary}"),
        heads,
        tail: format!("\r\n--{boundary}--").into_bytes(),
        parts: kept,
    }
}

/// The whole body in memory: for tests and small answers.
pub fn build_response(json: &str, parts: &[(String, String, Vec<u8>)]) -> (String, Vec<u8>) {
    let described: Vec<(&str, &str)> = parts.iter().map(|(t, h, _)| (t.as_str(), h.as_str())).collect();
    let frame = frame_response(json, &described);
    let mut body = frame.heads[0].clone();
    for (head, &i) in frame.heads[1..].iter().zip(&frame.parts) {
        body.extend_from_slice(head);
        body.extend_from_slice(&parts[i].2);
    }
    body.extend_from_slice(&frame.tail);
    (frame.content_type, body)
}

/// Only `[A-Za-z0-9]`: the suite's parser puts the boundary inside a regular expression.
fn random_boundary() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

/// Stored content types were validated on the way in; this only stops header injection.
fn header_safe_content_type(content_type: &str) -> &str {
    if content_type.is_empty() || content_type.chars().any(|c| c.is_control()) {
        "application/octet-stream"
    } else {
        content_type
    }
}

fn boundary_of(content_type: &str) -> Result<String, MultipartError> {
    let (media_type, mut params) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !media_type.trim().eq_ignore_ascii_case("multipart/mixed") {
        return Err(MultipartError::NotMultipartMixed(content_type.to_string()));
    }
    let mut boundary = None;
    while !params.is_empty() {
        let (param, rest) = next_parameter(params);
        params = rest;
        if let Some((name, value)) = param {
            if name.eq_ignore_ascii_case("boundary") && boundary.is_none() {
                boundary = Some(value);
            }
        }
    }
    let boundary = boundary.ok_or(MultipartError::NoBoundary)?;
    let printable = boundary.bytes().all(|b| (0x20..0x7f).contains(&b));
    if boundary.is_empty() || boundary.len() > 70 || !printable || boundary.ends_with(' ') {
        return Err(MultipartError::BadBoundary(boundary));
    }
    Ok(boundary)
}

/// Reads one `name=value` parameter (value quoted or not) and returns it with the rest of the
/// parameter list; a parameter without `=` yields `None`.
fn next_parameter(params: &str) -> (Option<(&str, String)>, &str) {
    let params = params.trim_start_matches(|c: char| c == ';' || c.is_ascii_whitespace());
    let name_end = params.find(['=', ';']).unwrap_or(params.len());
    let name = params[..name_end].trim();
    let Some(value_part) = params[name_end..].strip_prefix('=') else {
        return (None, &params[name_end..]);
    };
    let value_part = value_part.trim_start();
    if let Some(quoted) = value_part.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return (Some((name, value)), &quoted[i + 1..]),
                '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
                _ => value.push(c),
            }
        }
        // An unterminated quote takes the rest of the header, which is what was meant.
        return (Some((name, value)), "");
    }
    let end = value_part.find(';').unwrap_or(value_part.len());
    (Some((name, value_part[..end].trim().to_string())), &value_part[end..])
}

#[derive(Debug, Clone, Copy)]
enum DelimiterKind {
    /// `--boundary` line; the next part starts at this offset.
    Next(usize),
    /// `--boundary--`: whatever follows is epilogue.
    Close,
}

#[derive(Debug, Clone, Copy)]
struct Delimiter {
    /// Where the previous part ends: the CRLF before `--boundary` belongs to the delimiter.
    start: usize,
    kind: DelimiterKind,
}

/// Finds the first delimiter line at or after `from`: `--boundary` at the very start of the
/// body, or CRLF `--boundary`, followed by `--` or by optional spaces and CRLF.
fn find_delimiter(body: &[u8], from: usize, dash_boundary: &[u8]) -> Option<Delimiter> {
    let crlf_dash_boundary = [CRLF, dash_boundary].concat();
    let finder = memmem::Finder::new(&crlf_dash_boundary);
    let mut search = from;
    loop {
        let (start, after) = if search == 0 && body.starts_with(dash_boundary) {
            (0, dash_boundary.len())
        } else {
            let at = search + finder.find(&body[search..])?;
            (at, at + crlf_dash_boundary.len())
        };
        let rest = &body[after..];
        if rest.starts_with(b"--") {
            return Some(Delimiter { start, kind: DelimiterKind::Close });
        }
        let padding = rest.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
        if rest[padding..].starts_with(CRLF) {
            return Some(Delimiter { start, kind: DelimiterKind::Next(after + padding + CRLF.len()) });
        }
        // The boundary text followed by something else is not a delimiter line.
        search = start + 1;
    }
}

/// Splits one encapsulation (between delimiters) into header fields and body.
fn parse_part(raw: &[u8], part: usize) -> Result<Part, MultipartError> {
    let (head, body) = if raw.is_empty() {
        (&raw[..0], &raw[..0])
    } else if let Some(body) = raw.strip_prefix(CRLF) {
        (&raw[..0], body)
    } else if let Some(end) = memmem::find(raw, b"\r\n\r\n") {
        (&raw[..end], &raw[end + 4..])
    } else if let Some(head) = raw.strip_suffix(CRLF) {
        // RFC 2046 lets a part end after its header fields, with no empty line and no body.
        (head, &raw[..0])
    } else {
        return Err(MultipartError::UnterminatedHeaders { part });
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in split_crlf(head) {
        let malformed = || MultipartError::MalformedHeader { part, line: String::from_utf8_lossy(line).into_owned() };
        let text = std::str::from_utf8(line).map_err(|_| malformed())?;
        if text.contains(['\r', '\n']) {
            return Err(malformed());
        }
        if text.starts_with([' ', '\t']) {
            // A folded continuation of the previous field.
            let (_, value) = headers.last_mut().ok_or_else(malformed)?;
            value.push(' ');
            value.push_str(text.trim());
            continue;
        }
        let (name, value) = text.split_once(':').ok_or_else(malformed)?;
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace() || c.is_control()) {
            return Err(malformed());
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(Part { headers, body: body.to_vec() })
}

fn split_crlf(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = (!bytes.is_empty()).then_some(bytes);
    std::iter::from_fn(move || {
        let current = rest?;
        match memmem::find(current, CRLF) {
            Some(i) => {
                rest = Some(&current[i + 2..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// The media type without parameters, lowercased.
fn media_type(part: &Part) -> Option<String> {
    part.header("Content-Type").map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

fn check_common(part: &Part, number: usize) -> Result<(), MultipartError> {
    for name in ["Content-Type", "Content-Length", "Content-Transfer-Encoding", HASH_HEADER] {
        if part.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count() > 1 {
            return Err(MultipartError::DuplicateHeader { part: number, name });
        }
    }
    if let Some(declared) = part.header("Content-Length") {
        if declared.parse::<usize>().ok() != Some(part.body.len()) {
            return Err(MultipartError::LengthMismatch {
                part: number,
                declared: declared.to_string(),
                actual: part.body.len(),
            });
        }
    }
    Ok(())
}

fn check_statement_part(part: &Part, has_preamble: bool) -> Result<(), MultipartError> {
    check_common(part, 1)?;
    let media_type = media_type(part);
    if media_type.as_deref() != Some("application/json") {
        return Err(MultipartError::FirstPartNotJson {
            found: media_type.map_or_else(|| "no Content-Type".to_string(), |t| format!("{t:?}")),
            hint: if has_preamble { " (is the opening --boundary line missing?)" } else { "" },
        });
    }
    // Headers of a part whose delimiter is missing end up after the JSON; invalid JSON itself
    // is left to the statement parser, which explains it better.
    let mut values = serde_json::Deserializer::from_slice(&part.body).into_iter::<serde::de::IgnoredAny>();
    if let Some(Ok(_)) = values.next() {
        if part.body[values.byte_offset()..].iter().any(|b| !b.is_ascii_whitespace()) {
            return Err(MultipartError::DataAfterJson);
        }
    }
    Ok(())
}

fn check_attachment_part(mut part: Part, number: usize) -> Result<Part, MultipartError> {
    check_common(&part, number)?;
    let Some(hash) = part.sha2() else {
        if media_type(&part).as_deref() == Some("application/json") {
            return Err(MultipartError::SplitStatements { part: number });
        }
        return Err(MultipartError::MissingHash { part: number });
    };
    if let Some(encoding) = part.header("Content-Transfer-Encoding") {
        if !encoding.eq_ignore_ascii_case("binary") {
            return Err(MultipartError::TransferEncoding { part: number, value: encoding.to_string() });
        }
    }
    let bad_hash = || MultipartError::BadHash { part: number, value: hash.to_string() };
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_hash());
    }
    let actual = sha2_hex(&part.body, hash.len()).ok_or_else(bad_hash)?;
    if !actual.eq_ignore_ascii_case(hash) {
        return Err(MultipartError::HashMismatch { part: number });
    }
    for (name, value) in &mut part.headers {
        if name.eq_ignore_ascii_case(HASH_HEADER) {
            *value = actual.clone();
        }
    }
    Ok(part)
}

#[cfg(test)]
mod tests;

//! `attachments=true` answers: how many statements of a page fit its byte cap, and the
//! `multipart/mixed` body streamed from the stored files in small chunks, so an answer
//! never holds its attachments in memory. Called by `statements`.

use std::collections::{HashSet, VecDeque};
use std::io::Read;

use actix_web::web::Bytes;

use super::reply::{Reply, Streamed};
use crate::service::AttachmentFile;
use crate::xapi::multipart::frame_response;

/// Bytes read from a file per chunk sent.
const CHUNK_BYTES: u64 = 64 * 1024;

/// How many leading statements' attachments fit in `cap` bytes (a hash counted once per
/// page); at least one, so paging always moves on.
pub fn statements_fitting(files: &[Vec<AttachmentFile>], cap: u64) -> usize {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    for (index, statement) in files.iter().enumerate() {
        total += statement.iter().filter(|f| seen.insert(f.sha2.to_ascii_lowercase())).map(|f| f.len).sum::<u64>();
        if total > cap {
            return index.max(1);
        }
    }
    files.len()
}

enum Piece {
    Bytes(Bytes),
    File(std::fs::File, u64),
}

/// The JSON, then one part per distinct stored attachment, with a `Content-Length`.
pub fn multipart_reply(json: &str, files: Vec<AttachmentFile>) -> Reply {
    let described: Vec<(&str, &str)> = files.iter().map(|f| (f.content_type.as_str(), f.sha2.as_str())).collect();
    let frame = frame_response(json, &described);
    let len = frame.len(|i| files[i].len);
    let mut files: Vec<Option<AttachmentFile>> = files.into_iter().map(Some).collect();
    let mut pieces = VecDeque::new();
    let mut heads = frame.heads.into_iter();
    pieces.push_back(Piece::Bytes(Bytes::from(heads.next().unwrap_or_default())));
    for (head, index) in heads.zip(frame.parts) {
        pieces.push_back(Piece::Bytes(Bytes::from(head)));
        if let Some(file) = files[index].take() {
            pieces.push_back(Piece::File(file.file, file.len));
        }
    }
    pieces.push_back(Piece::Bytes(Bytes::from(frame.tail)));
    let chunks = futures_util::stream::unfold(pieces, next_chunk);
    Reply::streamed(200, frame.content_type, Streamed { len, chunks: Box::pin(chunks) })
}

async fn next_chunk(mut pieces: VecDeque<Piece>) -> Option<(Result<Bytes, std::io::Error>, VecDeque<Piece>)> {
    loop {
        match pieces.pop_front()? {
            Piece::Bytes(bytes) if bytes.is_empty() => continue,
            Piece::Bytes(bytes) => return Some((Ok(bytes), pieces)),
            Piece::File(_, 0) => continue,
            Piece::File(mut file, remaining) => {
                let wanted = remaining.min(CHUNK_BYTES);
                let read = tokio::task::spawn_blocking(move || {
                    let mut buffer = vec![0; wanted as usize];
                    file.read_exact(&mut buffer).map(|()| (file, buffer))
                })
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
                return match read {
                    Ok((file, buffer)) => {
                        pieces.push_front(Piece::File(file, remaining - wanted));
                        Some((Ok(Bytes::from(buffer)), pieces))
                    }
                    // The length was promised: the connection is cut rather than padded.
                    Err(error) => Some((Err(error), VecDeque::new())),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(dir: &std::path::Path, name: &str, len: usize) -> AttachmentFile {
        let path = dir.join(name);
        std::fs::write(&path, vec![b'x'; len]).unwrap();
        AttachmentFile {
            content_type: "text/plain".into(),
            sha2: name.into(),
            file: std::fs::File::open(path).unwrap(),
            len: len as u64,
        }
    }

    #[test]
    fn a_page_keeps_the_statements_whose_attachments_fit_and_always_one() {
        let dir = tempfile::tempdir().unwrap();
        let page = vec![
            vec![stored(dir.path(), "a", 600)],
            vec![stored(dir.path(), "a", 600), stored(dir.path(), "b", 300)],
            vec![stored(dir.path(), "c", 200)],
        ];

        assert_eq!(statements_fitting(&page, 10_000), 3);
        assert_eq!(statements_fitting(&page, 900), 2, "a hash repeated in the page counts once");
        assert_eq!(statements_fitting(&page, 899), 1);
        assert_eq!(statements_fitting(&page, 10), 1, "the first statement goes even alone over the cap");
    }
}

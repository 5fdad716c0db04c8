//! A response in framework-neutral form, and its conversion to actix's `HttpResponse`.

use std::pin::Pin;

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use futures_util::Stream;

use crate::error::ApiError;

/// A body sent as it is produced, of a length known in advance.
pub struct Streamed {
    pub len: u64,
    pub chunks: Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>>>>,
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Streamed({} bytes)", self.len)
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// When set, sent instead of `body`.
    pub stream: Option<Streamed>,
}

impl Reply {
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), content_type: None, body: Bytes::new(), stream: None }
    }

    pub fn json_text(status: u16, text: String) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: Some("application/json".into()),
            body: Bytes::from(text),
            stream: None,
        }
    }

    pub fn streamed(status: u16, content_type: String, body: Streamed) -> Self {
        Self { status, headers: Vec::new(), content_type: Some(content_type), body: Bytes::new(), stream: Some(body) }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::json_text(status, value.to_string())
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn into_http(self, head_only: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = HttpResponse::build(status);
        for (name, value) in &self.headers {
            builder.insert_header((*name, value.as_str()));
        }
        if let Some(content_type) = &self.content_type {
            builder.insert_header(("Content-Type", content_type.as_str()));
        }
        match (head_only, self.stream) {
            (true, _) => builder.finish(),
            (false, Some(streamed)) => builder.body(SizedStream::new(streamed.len, streamed.chunks)),
            (false, None) => builder.body(self.body),
        }
    }
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Self {
        if error.status() >= 500 {
            tracing::warn!(code = error.code.wire_name(), "answered with a server error");
        } else {
            tracing::debug!(code = error.code.wire_name(), message = %error.message, "request refused");
        }
        let mut reply = Reply::json(error.status(), &error.body());
        if error.status() == 401 {
            reply = reply.header("WWW-Authenticate", "Basic realm=\"Fluency xAPI\"");
        }
        if let Some(seconds) = error.retry_after {
            reply = reply.header("Retry-After", seconds.to_string());
        }
        reply
    }
}

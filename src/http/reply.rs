//! A response in framework-neutral form, and its conversion to actix's `HttpResponse`.

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::HttpResponse;

use crate::error::ApiError;

#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Reply {
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), content_type: None, body: Bytes::new() }
    }

    pub fn json_text(status: u16, text: String) -> Self {
        Self { status, headers: Vec::new(), content_type: Some("application/json".into()), body: Bytes::from(text) }
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
        if head_only {
            builder.finish()
        } else {
            builder.body(self.body)
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
        let reply = Reply::json(error.status(), &error.body());
        if error.status() == 401 {
            reply.header("WWW-Authenticate", "Basic realm=\"Fluency xAPI\"")
        } else {
            reply
        }
    }
}

//! The one table of error codes: each with its HTTP status and snake_case wire name.
//! Every error that reaches a client becomes an `ApiError` with one of these codes; the
//! HTTP layer renders it as `{"code", "message", "status"}`.

use std::fmt;

use crate::storage::StorageError;
use crate::validation::ValidationError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedJson,
    InvalidStatement,
    InvalidParameter,
    UnknownParameter,
    MissingParameter,
    InvalidVersionHeader,
    UnsupportedContentType,
    InvalidRequest,
    InvalidRule,
    InvalidFramework,
    InvalidAchievement,
    MissingCredentials,
    InvalidCredentials,
    MissingScope,
    NotFound,
    MethodNotAllowed,
    StatementConflict,
    AlreadyRevoked,
    OptedOut,
    PreconditionRequired,
    PreconditionFailed,
    PayloadTooLarge,
    TooManyRequests,
    ErasedPerson,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        match self {
            Self::MalformedJson
            | Self::InvalidStatement
            | Self::InvalidParameter
            | Self::UnknownParameter
            | Self::MissingParameter
            | Self::InvalidVersionHeader
            | Self::UnsupportedContentType
            | Self::InvalidRequest
            | Self::InvalidRule
            | Self::InvalidFramework
            | Self::InvalidAchievement => 400,
            Self::MissingCredentials | Self::InvalidCredentials => 401,
            Self::MissingScope | Self::ErasedPerson => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::StatementConflict | Self::AlreadyRevoked | Self::OptedOut | Self::PreconditionRequired => 409,
            Self::PreconditionFailed => 412,
            Self::PayloadTooLarge => 413,
            Self::TooManyRequests => 429,
            Self::Internal => 500,
        }
    }

    pub fn wire_name(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidStatement => "invalid_statement",
            Self::InvalidParameter => "invalid_parameter",
            Self::UnknownParameter => "unknown_parameter",
            Self::MissingParameter => "missing_parameter",
            Self::InvalidVersionHeader => "invalid_version_header",
            Self::UnsupportedContentType => "unsupported_content_type",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidRule => "invalid_rule",
            Self::InvalidFramework => "invalid_framework",
            Self::InvalidAchievement => "invalid_achievement",
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidCredentials => "invalid_credentials",
            Self::MissingScope => "missing_scope",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::StatementConflict => "statement_conflict",
            Self::AlreadyRevoked => "already_revoked",
            Self::OptedOut => "opted_out",
            Self::PreconditionRequired => "precondition_required",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::ErasedPerson => "erased_person",
            Self::TooManyRequests => "too_many_requests",
            Self::Internal => "internal",
        }
    }
}

/// An error answered to a client: a code from the table and a message naming the field
/// and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds a refused client should wait (`Retry-After`), for 429s.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON body sent to clients.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code.wire_name(),
            "message": self.message,
            "status": self.status(),
        })
    }

    pub fn invalid_parameter(name: &str, rule: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidParameter, format!("{name}: {rule}"))
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }

    /// An unexpected failure: logged with its whole cause chain here, once; the client
    /// sees only that something failed.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        let error = error.into();
        tracing::error!(error = format!("{error:#}"), "request failed unexpectedly");
        Self::new(ErrorCode::Internal, "the server failed to handle the request; it has been logged")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.status(), self.code.wire_name(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::new(ErrorCode::InvalidStatement, error.to_string())
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        Self::internal(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_unique_snake_case() {
        let all = [
            ErrorCode::MalformedJson,
            ErrorCode::InvalidStatement,
            ErrorCode::InvalidParameter,
            ErrorCode::UnknownParameter,
            ErrorCode::MissingParameter,
            ErrorCode::InvalidVersionHeader,
            ErrorCode::UnsupportedContentType,
            ErrorCode::InvalidRequest,
            ErrorCode::MissingCredentials,
            ErrorCode::InvalidCredentials,
            ErrorCode::MissingScope,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::StatementConflict,
            ErrorCode::PreconditionRequired,
            ErrorCode::PreconditionFailed,
            ErrorCode::PayloadTooLarge,
            ErrorCode::Internal,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|c| c.wire_name()).collect();
        assert_eq!(names.len(), all.len());
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }

    #[test]
    fn validation_errors_become_400_with_the_path_in_the_message() {
        let error: ApiError = ValidationError::new("actor.mbox", "must be a \"mailto:\" IRI").into();
        assert_eq!(error.status(), 400);
        assert_eq!(error.body()["message"], "actor.mbox: must be a \"mailto:\" IRI");
        assert_eq!(error.body()["code"], "invalid_statement");
    }
}

//! The About resource: versions supported and Fluency's capabilities. Open to anyone and
//! exempt from the version header.

use actix_web::HttpRequest;
use serde_json::json;

use super::reply::Reply;
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::xapi::XapiVersion;

/// Names Fluency's own capabilities in `/about` extensions.
pub const CAPABILITIES_EXTENSION: &str = "https://fluency.dev/xapi/extensions/capabilities";

pub fn get_about(request: &HttpRequest, state: &AppState) -> (XapiVersion, Reply) {
    let version = request
        .headers()
        .get("x-experience-api-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| XapiVersion::parse_header(v).ok())
        .unwrap_or(state.settings.version_when_missing);
    if !matches!(request.method().as_str(), "GET" | "HEAD") {
        let error = ApiError::new(ErrorCode::MethodNotAllowed, "about: supports GET and HEAD");
        return (version, error.into());
    }
    let body = json!({
        "version": ["1.0.3", "2.0.0"],
        "extensions": {
            CAPABILITIES_EXTENSION: {
                "name": "Fluency",
                "version": env!("CARGO_PKG_VERSION"),
                "statements": ["exact", "ids", "canonical"],
                "alternate_request_syntax": "1.0.3",
            }
        }
    });
    (version, Reply::json(200, &body))
}

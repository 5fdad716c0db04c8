//! What every console request goes through: finding the session, checking the role a page
//! needs, and, for every POST, refusing a cross-site request (`Sec-Fetch-Site`, `Origin`)
//! and one without the session's CSRF token. Also the security headers of every answer.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::StreamExt;
use maud::Markup;

use super::layout;
use super::roles::Need;
use super::session::{same_token, Session, SESSION_COOKIE};
use super::Console;

/// Largest form accepted (a rule edit is the largest).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// Scripts and styles only from `/console/assets`; nothing inline, no frames, forms only to us.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A console answer with the security headers.
pub fn secured(status: StatusCode) -> HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

pub fn html(status: StatusCode, page: Markup) -> HttpResponse {
    secured(status).content_type("text/html; charset=utf-8").body(page.into_string())
}

/// 303 to `location` (after a POST, or to the sign-in page).
pub fn see_other(location: &str) -> HttpResponse {
    secured(StatusCode::SEE_OTHER).insert_header((header::LOCATION, location)).finish()
}

/// An error page for someone signed in (with the shell) or not.
pub fn refuse(status: StatusCode, session: Option<&Session>, message: &str) -> HttpResponse {
    html(status, layout::error_page(session, status, message))
}

/// The request's live session, if any.
pub fn session_of(request: &HttpRequest, console: &Console) -> Option<Session> {
    let cookie = request.cookie(SESSION_COOKIE)?;
    console.sessions.find(cookie.value())
}

/// The session, when its viewer has `need`; else the sign-in page (no session) or 403.
// The refusal is the page to send, built once per refused request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub fn require(request: &HttpRequest, console: &Console, need: Need) -> Result<Session, HttpResponse> {
    let Some(session) = session_of(request, console) else {
        return Err(see_other("/console/sign-in"));
    };
    if !session.viewer.may(need) {
        return Err(refuse(StatusCode::FORBIDDEN, Some(&session), "Your role does not include this page."));
    }
    Ok(session)
}

/// Refuses a request another site made the browser send: `Sec-Fetch-Site` (when the browser
/// sends it) must say same-origin, and `Origin` (when present) must be ours.
#[allow(clippy::result_large_err)]
pub fn same_origin(request: &HttpRequest, console: &Console) -> Result<(), HttpResponse> {
    let header_text = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header_text("sec-fetch-site") {
        if site != "same-origin" {
            return Err(refuse(StatusCode::FORBIDDEN, None, "Cross-site requests are refused (Sec-Fetch-Site)."));
        }
    }
    if let Some(origin) = header_text("origin") {
        let info = request.connection_info();
        let own = format!("{}://{}", info.scheme(), info.host());
        if origin != own && origin != console.public_origin {
            return Err(refuse(StatusCode::FORBIDDEN, None, "Cross-site requests are refused (Origin)."));
        }
    }
    Ok(())
}

/// A submitted form: each field at most once.
pub struct Form(HashMap<String, String>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

pub async fn read_form(mut payload: web::Payload) -> Result<Form, HttpResponse> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| refuse(StatusCode::BAD_REQUEST, None, "The form could not be read."))?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, None, "The form is too large."));
        }
        body.extend_from_slice(&chunk);
    }
    let mut fields = HashMap::new();
    for (name, value) in form_urlencoded::parse(&body) {
        if fields.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(refuse(StatusCode::BAD_REQUEST, None, &format!("The form field {name} is given twice.")));
        }
    }
    Ok(Form(fields))
}

/// For every POST of a signed-in viewer: same origin, the role, and the session's CSRF token.
pub async fn submitted(
    request: &HttpRequest,
    console: &Console,
    payload: web::Payload,
    need: Need,
) -> Result<(Session, Form), HttpResponse> {
    same_origin(request, console)?;
    let session = match session_of(request, console) {
        Some(session) => session,
        None => return Err(refuse(StatusCode::UNAUTHORIZED, None, "Your session has ended; sign in again.")),
    };
    let form = read_form(payload).await?;
    let token = form.get("csrf").unwrap_or_default();
    if !same_token(token, &session.csrf) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            Some(&session),
            "The form's CSRF token is missing or wrong; reload the page.",
        ));
    }
    if !session.viewer.may(need) {
        return Err(refuse(StatusCode::FORBIDDEN, Some(&session), "Your role does not include this action."));
    }
    Ok((session, form))
}

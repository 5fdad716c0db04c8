//! Signing in (a Fluency credential, or the OpenID Connect provider) and out. Before a
//! session exists, the sign-in form is protected by a double-submitted token: the form
//! carries the value of this browser's sign-in cookie, which another site cannot read.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::super::guard::{self, refuse, see_other};
use super::super::layout;
use super::super::roles::{Need, Viewer};
use super::super::session::{same_token, SESSION_COOKIE, SIGN_IN_COOKIE};
use super::super::Console;
use crate::auth::secret::random_token;
use crate::http::AppState;

/// The browser's sign-in token: its cookie's, or a new one (then `fresh`).
fn browser_token(request: &HttpRequest) -> (String, bool) {
    match request.cookie(SIGN_IN_COOKIE) {
        Some(cookie) if cookie.value().len() >= 32 => (cookie.value().to_string(), false),
        _ => (random_token(32), true),
    }
}

pub async fn get_sign_in(request: HttpRequest, console: web::Data<Console>) -> HttpResponse {
    if guard::session_of(&request, &console).is_some() {
        return see_other("/console");
    }
    let (token, fresh) = browser_token(&request);
    let page = layout::bare(
        "Sign in",
        html! {
            @if let Some(oidc) = &console.oidc {
                p { a.button href="/console/sso" { "Sign in with " (oidc.settings().display_name) } }
            }
            @if console.local_sign_in {
                form.sign-in method="post" action="/console/sign-in" {
                    input type="hidden" name="sign_in" value=(token);
                    p {
                        label for="key" { "Credential key" }
                        input id="key" name="key" type="text" autocomplete="username" required;
                    }
                    p {
                        label for="secret" { "Secret" }
                        input id="secret" name="secret" type="password" autocomplete="current-password" required;
                    }
                    p { button type="submit" { "Sign in" } }
                }
            }
            @if console.oidc.is_none() && !console.local_sign_in {
                p.error role="alert" { "No way to sign in is configured (console.local_sign_in, console.oidc)." }
            }
        },
    );
    let mut answer = guard::secured(StatusCode::OK);
    if fresh {
        answer.cookie(console.sessions.cookie(SIGN_IN_COOKIE, token, None));
    }
    answer.content_type("text/html; charset=utf-8").body(page.into_string())
}

pub async fn post_sign_in(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    if let Err(refused) = guard::same_origin(&request, &console) {
        return refused;
    }
    if !console.local_sign_in {
        return refuse(StatusCode::NOT_FOUND, None, "Local sign-in is turned off (console.local_sign_in).");
    }
    let form = match guard::read_form(payload).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let expected = request.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    let given = form.get("sign_in").unwrap_or_default();
    if expected.is_empty() || !same_token(given, &expected) {
        return refuse(StatusCode::FORBIDDEN, None, "The sign-in form's token is missing or wrong; reload the page.");
    }
    let (Some(key), Some(secret)) = (form.get("key"), form.get("secret")) else {
        return refuse(StatusCode::BAD_REQUEST, None, "Both the credential key and the secret are required.");
    };
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")));
    let principal = match state.auth.authenticate(Some(&basic), crate::http::client_address(&request)).await {
        Ok(principal) => principal,
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let message = if status == StatusCode::TOO_MANY_REQUESTS {
                "Too many failed attempts; wait a minute and try again."
            } else {
                "Unknown key, wrong secret or revoked credential."
            };
            return refuse(status, None, message);
        }
    };
    let Some(viewer) = Viewer::from_principal(&principal) else {
        return refuse(
            StatusCode::FORBIDDEN,
            None,
            "This credential has no console role (scope admin, analytics or skills).",
        );
    };
    begin_session(&console, &state, viewer, "local").await
}

async fn begin_session(console: &Console, state: &AppState, viewer: Viewer, how: &str) -> HttpResponse {
    let actor = viewer.actor.clone();
    let details = json!({"via": how, "roles": viewer.role_names()});
    let cookie = console.sessions.start(viewer);
    if let Err(error) =
        crate::governance::record(&**state.statements.store(), &actor, "console.sign_in", "", details).await
    {
        tracing::error!(error = %error, "Recording a console sign-in in the audit log failed.");
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, None, "The sign-in could not be recorded; try again.");
    }
    guard::secured(StatusCode::SEE_OTHER)
        .insert_header((header::LOCATION, "/console"))
        .cookie(cookie)
        .cookie(console.sessions.removal(SIGN_IN_COOKIE))
        .finish()
}

pub async fn post_sign_out(request: HttpRequest, console: web::Data<Console>, payload: web::Payload) -> HttpResponse {
    if let Err(refused) = guard::submitted(&request, &console, payload, Need::Overview).await {
        return refused;
    }
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        console.sessions.end(cookie.value());
    }
    guard::secured(StatusCode::SEE_OTHER)
        .insert_header((header::LOCATION, "/console/sign-in"))
        .cookie(console.sessions.removal(SESSION_COOKIE))
        .finish()
}

/// Sends the browser to the provider, remembering the login under its `state`.
pub async fn get_sso(request: HttpRequest, console: web::Data<Console>) -> HttpResponse {
    let Some(oidc) = &console.oidc else {
        return refuse(StatusCode::NOT_FOUND, None, "Single sign-on is not configured (console.oidc).");
    };
    let (token, fresh) = browser_token(&request);
    let login = match oidc.authorization_request().await {
        Ok(login) => login,
        Err(error) => {
            tracing::warn!(error = %error, "Starting a single sign-on failed.");
            return refuse(StatusCode::BAD_GATEWAY, None, &error.to_string());
        }
    };
    console.sessions.begin_login(&login.state, &token, login.nonce, login.verifier);
    let mut answer = guard::secured(StatusCode::SEE_OTHER);
    answer.insert_header((header::LOCATION, login.url));
    if fresh {
        answer.cookie(console.sessions.cookie(SIGN_IN_COOKIE, token, None));
    }
    answer.finish()
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn get_sso_callback(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
    query: web::Query<Callback>,
) -> HttpResponse {
    let Some(oidc) = &console.oidc else {
        return refuse(StatusCode::NOT_FOUND, None, "Single sign-on is not configured (console.oidc).");
    };
    if let Some(error) = &query.error {
        let reason = query.error_description.as_deref().unwrap_or(error);
        return refuse(StatusCode::UNAUTHORIZED, None, &format!("The provider did not sign you in: {reason}"));
    }
    let (Some(code), Some(login_state)) = (&query.code, &query.state) else {
        return refuse(StatusCode::BAD_REQUEST, None, "The provider's answer lacks code or state.");
    };
    let browser = request.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_string());
    let Some(login) = console.sessions.finish_login(login_state, browser.as_deref()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            None,
            "This sign-in was not started in this browser, was used already, or took too long.",
        );
    };
    let claims = match oidc.redeem(code, &login.verifier, &login.nonce).await {
        Ok(claims) => claims,
        Err(error) => {
            tracing::warn!(error = %error, "A single sign-on was refused.");
            return refuse(StatusCode::UNAUTHORIZED, None, &error.to_string());
        }
    };
    let Some(viewer) = Viewer::from_claims(&claims, oidc.settings()) else {
        return refuse(StatusCode::FORBIDDEN, None, "Your account has no console role; ask an administrator.");
    };
    begin_session(&console, &state, viewer, "oidc").await
}

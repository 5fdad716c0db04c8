//! The leaders' console at `/console`: server-rendered pages (maud) over the services,
//! for people who do not curl. This module owns the console's routes, its sign-in (local
//! Fluency credentials and OpenID Connect, `oidc.rs`), sessions and CSRF tokens
//! (`session.rs`, `guard.rs`), roles (`roles.rs`), the overview's figures folded from the
//! statement stream (`activity.rs`), the impact analyses made from it, and its embedded
//! assets (`assets/`: one stylesheet and one small script, no CDN, no inline script, so
//! the Content-Security-Policy forbids them all). Pages live in `pages/`; `fluency serve`
//! mounts them through `startup`. docs/console.md describes what each role sees.

// Guards answer early with the page to send (`Result<_, HttpResponse>`): boxing it would
// only add an allocation to the refusals.
#![allow(clippy::result_large_err)]

mod activity;
mod analyses;
mod guard;
pub mod initiatives;
mod layout;
pub mod oidc;
mod pages;
pub mod roles;
pub mod session;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use settings::{ConsoleSettings, OidcSettings};

use crate::config::Settings;
use crate::service::StatementService;

/// What the console's pages reach besides the application state.
pub struct Console {
    pub sessions: session::Sessions,
    pub oidc: Option<oidc::OidcClient>,
    pub activity: Arc<activity::Activity>,
    pub analyses: analyses::Analyses,
    pub local_sign_in: bool,
    /// `scheme://host[:port]` of `public_url`: a POST's Origin must be it or the request's own.
    pub public_origin: String,
}

/// Builds the console and starts counting statements for its overview (waiting out bursts
/// of ingestion, seen in the `stored` counter); `None` when `console.enabled` is false.
pub fn start(
    settings: &Settings,
    statements: &Arc<StatementService>,
    stored: prometheus::IntCounter,
    stopping: watch::Receiver<bool>,
    background: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<Option<web::Data<Console>>> {
    let config = &settings.console;
    if !config.enabled {
        return Ok(None);
    }
    let public = settings.public_url.trim_end_matches('/');
    let secure = config.secure_cookies.unwrap_or(public.starts_with("https://"));
    let oidc = match &config.oidc {
        Some(oidc) => Some(oidc::OidcClient::new(oidc.clone(), format!("{public}/console/sso/callback"))?),
        None => None,
    };
    let activity = Arc::new(activity::Activity::default());
    let load = crate::skills::runner::Load::new(stored);
    background.push(tokio::spawn(activity.clone().follow(
        statements.store().clone(),
        statements.watch_committed(),
        load,
        stopping,
    )));
    Ok(Some(web::Data::new(Console {
        sessions: session::Sessions::new(Duration::from_secs(config.session_minutes * 60), secure),
        oidc,
        activity,
        analyses: analyses::Analyses::default(),
        local_sign_in: config.local_sign_in,
        public_origin: origin_of(public),
    })))
}

/// `scheme://authority` of a URL.
fn origin_of(url: &str) -> String {
    match url.find("://") {
        Some(at) => {
            let rest = &url[at + 3..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{}{}", &url[..at + 3], &rest[..end])
        }
        None => url.to_string(),
    }
}

pub fn configure(config: &mut web::ServiceConfig, console: web::Data<Console>) {
    config.service(web::scope("/console").app_data(console).configure(pages::routes));
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_origin_of_a_url_is_its_scheme_and_authority() {
        assert_eq!(super::origin_of("https://lrs.example.com:8443/base?x"), "https://lrs.example.com:8443");
        assert_eq!(super::origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}

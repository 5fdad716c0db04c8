//! Console sessions, kept in memory (a restart signs everyone out): a random token in an
//! HttpOnly, SameSite=Lax cookie scoped to `/console` (Secure over TLS) names a session
//! holding the viewer and the session's CSRF token. The token itself is not kept, only
//! its SHA-256, so the session table gives nothing to replay. Also holds the OpenID
//! Connect logins under way (state, nonce, PKCE verifier), bound to the browser that
//! started them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::cookie::{time, Cookie, SameSite};
use sha2::{Digest, Sha256};

use super::roles::Viewer;
use crate::auth::secret::random_token;

pub const SESSION_COOKIE: &str = "fluency_session";
/// Binds an OpenID Connect login, or the local sign-in form, to this browser.
pub const SIGN_IN_COOKIE: &str = "fluency_sign_in";
/// Logins under way expire after this long.
const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// Most sessions (and logins under way) kept; expired ones are dropped first.
const CAPACITY: usize = 10_000;

#[derive(Clone, Debug)]
pub struct Session {
    pub viewer: Arc<Viewer>,
    /// Every form carries it; a POST without it is refused.
    pub csrf: String,
    expires: Instant,
}

/// An authorization request sent to the provider and not yet answered.
#[derive(Clone, Debug)]
pub struct PendingLogin {
    pub nonce: String,
    pub verifier: String,
    /// SHA-256 of the sign-in cookie of the browser that started it.
    browser: [u8; 32],
    started: Instant,
}

pub struct Sessions {
    lifetime: Duration,
    secure: bool,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    logins: Mutex<HashMap<String, PendingLogin>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares without stopping at the first difference.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    pub fn new(lifetime: Duration, secure: bool) -> Self {
        Self { lifetime, secure, sessions: Mutex::new(HashMap::new()), logins: Mutex::new(HashMap::new()) }
    }

    /// Starts a session; returns its cookie.
    pub fn start(&self, viewer: Viewer) -> Cookie<'static> {
        let token = random_token(32);
        let session =
            Session { viewer: Arc::new(viewer), csrf: random_token(32), expires: Instant::now() + self.lifetime };
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if sessions.len() >= CAPACITY {
            let now = Instant::now();
            sessions.retain(|_, s| s.expires > now);
        }
        if sessions.len() < CAPACITY {
            sessions.insert(digest(&token), session);
        }
        self.cookie(SESSION_COOKIE, token, Some(self.lifetime))
    }

    /// The live session a cookie names.
    pub fn find(&self, token: &str) -> Option<Session> {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        let key = digest(token);
        match sessions.get(&key) {
            Some(session) if session.expires > Instant::now() => Some(session.clone()),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn end(&self, token: &str) {
        self.sessions.lock().expect("sessions lock").remove(&digest(token));
    }

    /// Remembers a login under `state`, bound to the browser holding `browser_token`.
    pub fn begin_login(&self, state: &str, browser_token: &str, nonce: String, verifier: String) {
        let mut logins = self.logins.lock().expect("logins lock");
        logins.retain(|_, login| login.started.elapsed() < LOGIN_TTL);
        if logins.len() < CAPACITY {
            let login = PendingLogin { nonce, verifier, browser: digest(browser_token), started: Instant::now() };
            logins.insert(state.to_string(), login);
        }
    }

    /// Takes (once) the login `state` names if the same browser started it, in time.
    pub fn finish_login(&self, state: &str, browser_token: Option<&str>) -> Option<PendingLogin> {
        let login = self.logins.lock().expect("logins lock").remove(state)?;
        let same_browser = browser_token.is_some_and(|token| digest(token) == login.browser);
        (same_browser && login.started.elapsed() < LOGIN_TTL).then_some(login)
    }

    /// A cookie for `/console`: HttpOnly, SameSite=Lax (the provider's redirect back is a
    /// cross-site navigation that must carry it), Secure over TLS.
    pub fn cookie(&self, name: &'static str, value: String, lifetime: Option<Duration>) -> Cookie<'static> {
        let mut cookie = Cookie::build(name, value)
            .path("/console")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish();
        if let Some(lifetime) = lifetime {
            cookie.set_max_age(time::Duration::seconds(lifetime.as_secs() as i64));
        }
        cookie
    }

    /// Clears a cookie in the browser.
    pub fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut cookie = self.cookie(name, String::new(), None);
        cookie.make_removal();
        cookie
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn viewer() -> Viewer {
        Viewer {
            name: "n".into(),
            actor: "a".into(),
            admin: true,
            analyst: true,
            all_teams: true,
            leads: BTreeSet::new(),
        }
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_ends_or_expires() {
        let sessions = Sessions::new(Duration::from_secs(60), true);
        let cookie = sessions.start(viewer());
        assert!(cookie.http_only().unwrap() && cookie.secure().unwrap());
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));

        assert!(sessions.find(cookie.value()).is_some());
        assert!(sessions.find("forged").is_none());
        sessions.end(cookie.value());
        assert!(sessions.find(cookie.value()).is_none());

        let brief = Sessions::new(Duration::ZERO, false);
        let cookie = brief.start(viewer());
        assert!(brief.find(cookie.value()).is_none(), "an expired session is not found");
    }

    #[test]
    fn a_login_finishes_once_and_only_in_the_browser_that_started_it() {
        let sessions = Sessions::new(Duration::from_secs(60), false);
        sessions.begin_login("state-1", "browser-a", "nonce".into(), "verifier".into());
        assert!(sessions.finish_login("state-1", Some("browser-b")).is_none(), "another browser");

        sessions.begin_login("state-2", "browser-a", "nonce".into(), "verifier".into());
        assert!(sessions.finish_login("state-2", None).is_none(), "no cookie");

        sessions.begin_login("state-3", "browser-a", "nonce".into(), "verifier".into());
        assert_eq!(sessions.finish_login("state-3", Some("browser-a")).unwrap().verifier, "verifier");
        assert!(sessions.finish_login("state-3", Some("browser-a")).is_none(), "replayed");
    }

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
    }
}

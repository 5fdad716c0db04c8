//! The `[console]` table: whether the console is served, how long sessions last, local
//! sign-in, and the OpenID Connect provider (`[console.oidc]`). docs/console.md lists each key.

use std::fmt;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Serve the console at `/console`.
    pub enabled: bool,
    /// Minutes a session lasts after sign-in.
    pub session_minutes: u64,
    /// Sign in with a Fluency credential (key and secret); off leaves single sign-on only.
    pub local_sign_in: bool,
    /// Send cookies with `Secure`; by default when `public_url` is `https://`.
    pub secure_cookies: Option<bool>,
    /// Single sign-on; none when absent.
    pub oidc: Option<OidcSettings>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self { enabled: true, session_minutes: 8 * 60, local_sign_in: true, secure_cookies: None, oidc: None }
    }
}

impl ConsoleSettings {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=7 * 24 * 60).contains(&self.session_minutes),
            "console.session_minutes: must be from 1 to 10080 (a week)"
        );
        if let Some(oidc) = &self.oidc {
            oidc.check()?;
        }
        Ok(())
    }
}

/// An OpenID Connect provider, found by discovery from its issuer.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer URL exactly as the provider's ID tokens name it.
    pub issuer: String,
    pub client_id: String,
    /// Better given as `FLUENCY_CONSOLE_OIDC_CLIENT_SECRET` than written in the file.
    #[serde(default)]
    pub client_secret: String,
    /// Scopes asked for; `openid` is always included.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim (in the ID token or from userinfo) whose values give roles.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Claim values that make a person an administrator.
    #[serde(default)]
    pub admin_values: Vec<String>,
    /// Claim values that make a person an analyst.
    #[serde(default)]
    pub analyst_values: Vec<String>,
    /// A claim value `<prefix><team>` makes a person the leader of that team.
    #[serde(default = "default_leader_prefix")]
    pub leader_prefix: String,
    /// The provider's name on the sign-in button.
    #[serde(default = "default_display_name")]
    pub display_name: String,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

fn default_roles_claim() -> String {
    "groups".into()
}

fn default_leader_prefix() -> String {
    "leader:".into()
}

fn default_display_name() -> String {
    "single sign-on".into()
}

impl OidcSettings {
    fn check(&self) -> anyhow::Result<()> {
        let issuer = url_host(&self.issuer)
            .ok_or_else(|| anyhow::anyhow!("console.oidc.issuer: {:?} must be an http(s) URL", self.issuer))?;
        // Tokens and keys come from the issuer: only TLS protects them, except on this machine.
        anyhow::ensure!(
            self.issuer.starts_with("https://") || is_loopback(&issuer),
            "console.oidc.issuer: must be https:// (plain http only for localhost)"
        );
        anyhow::ensure!(!self.client_id.is_empty(), "console.oidc.client_id: must not be empty");
        anyhow::ensure!(
            !self.client_secret.is_empty(),
            "console.oidc.client_secret: required (or FLUENCY_CONSOLE_OIDC_CLIENT_SECRET)"
        );
        anyhow::ensure!(!self.roles_claim.is_empty(), "console.oidc.roles_claim: must not be empty");
        Ok(())
    }
}

/// The host of an `http://` or `https://` URL.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The secret never appears in logs or in `--print-config`-like output.
impl fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("roles_claim", &self.roles_claim)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(issuer: &str) -> OidcSettings {
        toml::from_str(&format!("issuer = {issuer:?}\nclient_id = \"fluency\"\nclient_secret = \"s3cret\"\n")).unwrap()
    }

    #[test]
    fn a_plain_http_issuer_is_refused_unless_it_is_this_machine() {
        assert!(oidc("http://idp.example.com").check().is_err());
        assert!(oidc("https://idp.example.com/realms/x").check().is_ok());
        assert!(oidc("http://localhost:3000").check().is_ok());
        assert!(oidc("http://127.0.0.1:3000/").check().is_ok());
        assert!(oidc("ftp://localhost").check().is_err());
    }

    #[test]
    fn the_client_secret_is_not_in_debug_output() {
        let text = format!("{:?}", oidc("https://idp.example.com"));
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ConsoleSettings>("sesion_minutes = 5").is_err());
        let zero: ConsoleSettings = toml::from_str("session_minutes = 0").unwrap();
        assert!(zero.check().unwrap_err().to_string().contains("console.session_minutes"));
    }
}

//! Named destinations (`[targets.<name>]` in the configuration file): where `notify` and
//! `assign` intents go. Rules only ever name a target; the URL, which for Slack and Teams is
//! itself the credential, stays in the operator's configuration and is never printed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::signing::WebhookSecret;
use crate::rules::intent::is_destination_name;

/// Default time one request may take, connection included.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 15;
const MAX_TIMEOUT_SECONDS: u64 = 120;

/// What sits behind a target's URL, which fixes the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A Slack incoming webhook (`https://hooks.slack.com/services/...`).
    Slack,
    /// A Teams Workflows "When a Teams webhook request is received" trigger.
    Teams,
    /// Any HTTP endpoint receiving Standard Webhooks signed events.
    Webhook,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Webhook => "webhook",
        })
    }
}

/// One `[targets.<name>]` table, as written by the operator.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSettings {
    /// `slack`, `teams` or `webhook`.
    pub kind: TargetKind,
    /// The full URL to POST to; for Slack and Teams this URL is the secret.
    pub url: String,
    /// Signing secret of a `webhook` target: `whsec_<base64>` or raw text, 24 to 64 bytes.
    #[serde(default)]
    pub secret: Option<String>,
    /// Seconds one request may take (1 to 120, default 15).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

impl fmt::Debug for TargetSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetSettings")
            .field("kind", &self.kind)
            .field("url", &redact_url_text(&self.url))
            .field("secret", &self.secret.as_ref().map(|_| "redacted"))
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// A target's configuration refused at startup; the message names the table and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("targets.{name}: {message}")]
pub struct TargetError {
    pub name: String,
    pub message: String,
}

/// A checked destination. Exists only after `Target::parse` succeeded.
#[derive(Clone)]
pub struct Target {
    name: String,
    kind: TargetKind,
    url: Url,
    secret: Option<WebhookSecret>,
    timeout: Duration,
}

impl Target {
    pub fn parse(name: &str, settings: &TargetSettings) -> Result<Self, TargetError> {
        let error = |message: String| TargetError { name: name.to_string(), message };
        if !is_destination_name(name) {
            return Err(error("the name must be 1 to 64 letters, digits, '-', '_' or '.'".into()));
        }
        let url = Url::parse(&settings.url).map_err(|e| error(format!("url: not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(error(format!("url: must be an http or https URL with a host, not {}", redact_url(&url))));
        }
        let secret = match (settings.kind, &settings.secret) {
            (TargetKind::Webhook, Some(secret)) => {
                Some(WebhookSecret::parse(secret).map_err(|e| error(format!("secret: {e}")))?)
            }
            (TargetKind::Webhook, None) => {
                return Err(error("secret: a webhook target needs a signing secret (`whsec_<base64>`)".into()))
            }
            (kind, Some(_)) => {
                return Err(error(format!(
                    "secret: only webhook targets sign requests; a {kind} URL is its own secret"
                )))
            }
            (_, None) => None,
        };
        let seconds = settings.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds) {
            return Err(error(format!("timeout_seconds: must be 1 to {MAX_TIMEOUT_SECONDS}")));
        }
        Ok(Self { name: name.to_string(), kind: settings.kind, url, secret, timeout: Duration::from_secs(seconds) })
    }

    /// A shorter timeout than configuration allows; for tests against local receivers.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// The secret URL itself: only for sending, never for messages.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The signing secret; always present on webhook targets, absent on the others.
    pub fn secret(&self) -> Option<&WebhookSecret> {
        self.secret.as_ref()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Scheme, host and port only: safe for logs and error texts.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} target {:?} ({})", self.kind, self.name, self.redacted_url())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.redacted_url())
            .field("secret", &self.secret)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `https://hooks.slack.com/…`: the path and query of Slack and Teams URLs are credentials,
/// and user info may be one too, so only the origin survives.
fn redact_url(url: &Url) -> String {
    let origin = url.origin().ascii_serialization();
    if url.path() == "/" && url.query().is_none() && url.fragment().is_none() {
        format!("{origin}/")
    } else {
        format!("{origin}/…")
    }
}

fn redact_url_text(text: &str) -> String {
    Url::parse(text).map(|url| redact_url(&url)).unwrap_or_else(|_| "(not a URL, redacted)".into())
}

/// Every configured target, by name.
#[derive(Clone, Debug, Default)]
pub struct Targets(BTreeMap<String, Target>);

impl Targets {
    /// Checks every `[targets.<name>]` table; the first bad one stops startup.
    pub fn parse(settings: &BTreeMap<String, TargetSettings>) -> Result<Self, TargetError> {
        settings.iter().map(|(name, settings)| Ok((name.clone(), Target::parse(name, settings)?))).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Target> {
        self.0.get(name)
    }

    pub fn insert(&mut self, target: Target) {
        self.0.insert(target.name.clone(), target);
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, Target)> for Targets {
    fn from_iter<I: IntoIterator<Item = (String, Target)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK_URL: &str = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX";
    const SECRET: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

    #[derive(Deserialize)]
    struct Config {
        targets: BTreeMap<String, TargetSettings>,
    }

    fn settings(kind: TargetKind, url: &str, secret: Option<&str>) -> TargetSettings {
        TargetSettings { kind, url: url.into(), secret: secret.map(str::to_string), timeout_seconds: None }
    }

    #[test]
    fn targets_are_read_from_toml_tables() {
        let text = format!(
            r#"
            [targets.ld-team]
            kind = "slack"
            url = "{SLACK_URL}"

            [targets.teams]
            kind = "teams"
            url = "https://prod-00.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=S3CR3T"

            [targets.lms]
            kind = "webhook"
            url = "https://lms.example.com/hooks/fluency"
            secret = "{SECRET}"
            timeout_seconds = 30
            "#
        );
        let config: Config = toml::from_str(&text).unwrap();

        let targets = Targets::parse(&config.targets).unwrap();

        assert_eq!(targets.names().collect::<Vec<_>>(), ["ld-team", "lms", "teams"]);
        assert_eq!(targets.get("ld-team").unwrap().kind(), TargetKind::Slack);
        let lms = targets.get("lms").unwrap();
        assert_eq!((lms.kind(), lms.timeout()), (TargetKind::Webhook, Duration::from_secs(30)));
        assert!(lms.secret().is_some());
        assert_eq!(targets.get("teams").unwrap().timeout(), Duration::from_secs(DEFAULT_TIMEOUT_SECONDS));
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let typo = "[targets.x]\nkind = \"slack\"\nurl = \"https://a.example\"\nsecrte = \"x\"";
        let kind = "[targets.x]\nkind = \"email\"\nurl = \"https://a.example\"";

        assert!(toml::from_str::<Config>(typo).is_err());
        assert!(toml::from_str::<Config>(kind).is_err());
    }

    #[test]
    fn bad_targets_are_refused_with_the_field_named() {
        use TargetKind::*;
        let long = "x".repeat(65);
        let cases = [
            ("a name with a space", "a b", settings(Slack, SLACK_URL, None), "targets.a b: the name"),
            ("no URL", "t", settings(Slack, "hooks.slack.com/x", None), "targets.t: url: not a URL"),
            ("an ftp URL", "t", settings(Slack, "ftp://example.com/x", None), "targets.t: url: must be an http"),
            ("a webhook without secret", "t", settings(Webhook, SLACK_URL, None), "targets.t: secret: a webhook"),
            ("a short secret", "t", settings(Webhook, SLACK_URL, Some("short")), "targets.t: secret: must be 24"),
            ("a long secret", "t", settings(Webhook, SLACK_URL, Some(&long)), "targets.t: secret: must be 24"),
            ("a secret on slack", "t", settings(Slack, SLACK_URL, Some(SECRET)), "targets.t: secret: only webhook"),
            (
                "a zero timeout",
                "t",
                TargetSettings { timeout_seconds: Some(0), ..settings(Teams, SLACK_URL, None) },
                "targets.t: timeout_seconds",
            ),
        ];

        for (description, name, settings, expected) in cases {
            let error = Target::parse(name, &settings).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{description}: {error}");
        }
    }

    #[test]
    fn neither_debug_nor_display_shows_the_secret_path_or_the_signing_secret() {
        let slack = Target::parse("ld-team", &settings(TargetKind::Slack, SLACK_URL, None)).unwrap();
        let hook = Target::parse(
            "lms",
            &settings(TargetKind::Webhook, "https://user:pw@lms.example.com/h?token=abc", Some(SECRET)),
        )
        .unwrap();
        let raw = settings(TargetKind::Webhook, SLACK_URL, Some(SECRET));

        let printed = [
            format!("{slack}"),
            format!("{slack:?}"),
            format!("{hook}"),
            format!("{hook:?}"),
            format!("{raw:?}"),
            Target::parse("t", &settings(TargetKind::Slack, "ftp://x/XXXXSECRETXXXX", None)).unwrap_err().to_string(),
        ];

        for text in printed {
            for secret in ["XXXXSECRETXXXX", "AQIDBAUG", "token", "pw@", "user"] {
                assert!(!text.contains(secret), "{text:?} shows {secret}");
            }
        }
        assert_eq!(slack.to_string(), "slack target \"ld-team\" (https://hooks.slack.com/…)");
    }
}

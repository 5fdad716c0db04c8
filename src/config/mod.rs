//! Settings, layered: built-in defaults < TOML file (`--config`) < environment
//! (`FLUENCY_*`) < command-line flags. Read once by `main`; everything else receives
//! the resolved `Settings`. README's configuration table documents every field.

mod automation;
mod governance;

pub use automation::RulesConfig;
pub use governance::{GovernanceConfig, RetentionPolicy};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::delivery::{DeliverySettings, TargetSettings, Targets};
use crate::xapi::XapiVersion;

/// The resolved configuration of one Fluency process.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Directory holding the embedded database (and, later, attachments).
    pub data_dir: PathBuf,
    /// Path prefix of the xAPI resources, e.g. `/xapi`.
    pub base_path: String,
    /// Public base URL of this LRS; the `homePage` of credential authorities.
    pub public_url: String,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Most statements in one page of a statement query (also what `limit=0` means).
    pub max_page_size: usize,
    /// Version line answered when a request carries no usable version header.
    pub version_when_missing: XapiVersion,
    /// Read connections kept open to the embedded store.
    pub read_pool_size: u32,
    /// `tracing` filter, e.g. `info` or `fluency=debug`.
    pub log: String,
    /// Browser origins allowed by CORS: `*` for any, or a list such as
    /// `https://lms.example.com`. Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    /// Wrong sign-in attempts allowed per credential key, and per client address, in a
    /// minute; past it requests get 429. 0 turns the limit off.
    pub auth_failures_per_minute: u32,
    /// Most attachment bytes one `attachments=true` page carries; a page is cut short
    /// (with a `more` link) before it would exceed them.
    pub max_attachment_page_bytes: u64,
    /// Most statements an analysis requested over HTTP may read; a larger one is refused.
    pub max_analysis_statements: usize,
    /// Fewest people an aggregate (a team map's figures for a skill) may describe; smaller
    /// groups are shown as suppressed.
    pub min_group_size: usize,
    pub rules: RulesConfig,
    pub governance: GovernanceConfig,
    /// Named delivery targets (`[targets.<name>]`); their URLs and secrets are secrets.
    pub targets: BTreeMap<String, TargetSettings>,
    pub delivery: DeliverySettings,
    /// `[credentials]`: the Open Badges issuer.
    pub credentials: crate::credentials::issuer::CredentialsSettings,
    /// The console at `/console` (`[console]`, docs/console.md).
    pub console: crate::console::ConsoleSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./fluency-data"),
            base_path: "/xapi".to_string(),
            public_url: String::new(),
            max_body_bytes: 16 * 1024 * 1024,
            max_page_size: 200,
            version_when_missing: XapiVersion::V2_0_0,
            read_pool_size: 8,
            log: "info".to_string(),
            cors_origins: vec!["*".to_string()],
            auth_failures_per_minute: 10,
            max_attachment_page_bytes: 64 * 1024 * 1024,
            max_analysis_statements: 1_000_000,
            min_group_size: crate::skills::queries::MIN_GROUP,
            rules: RulesConfig::default(),
            governance: GovernanceConfig::default(),
            targets: BTreeMap::new(),
            delivery: DeliverySettings::default(),
            credentials: Default::default(),
            console: crate::console::ConsoleSettings::default(),
        }
    }
}

/// Any subset of the settings, as found in one layer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsLayer {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub base_path: Option<String>,
    pub public_url: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub max_page_size: Option<usize>,
    pub version_when_missing: Option<String>,
    pub read_pool_size: Option<u32>,
    pub log: Option<String>,
    /// Comma-separated origins.
    pub cors_origins: Option<String>,
    pub auth_failures_per_minute: Option<u32>,
    pub max_attachment_page_bytes: Option<u64>,
    pub max_analysis_statements: Option<usize>,
    pub min_group_size: Option<usize>,
    /// The whole `[rules]` table (a later layer's table replaces an earlier one's).
    pub rules: Option<RulesConfig>,
    pub rules_dir: Option<PathBuf>,
    /// The whole `[governance]` table.
    pub governance: Option<GovernanceConfig>,
    /// The `[targets.*]` tables, replacing an earlier layer's.
    pub targets: Option<BTreeMap<String, TargetSettings>>,
    pub delivery: Option<DeliverySettings>,
    pub credentials: Option<crate::credentials::issuer::CredentialsSettings>,
    /// The whole `[console]` table, replacing an earlier layer's.
    pub console: Option<crate::console::ConsoleSettings>,
    /// `console.enabled`.
    pub console_enabled: Option<bool>,
    /// `console.oidc.client_secret`, kept out of the file.
    pub console_oidc_client_secret: Option<String>,
}

/// Environment variable for each field, in the order of the README table.
const ENVIRONMENT: [(&str, &str); 17] = [
    ("FLUENCY_BIND", "bind"),
    ("FLUENCY_DATA_DIR", "data_dir"),
    ("FLUENCY_BASE_PATH", "base_path"),
    ("FLUENCY_PUBLIC_URL", "public_url"),
    ("FLUENCY_MAX_BODY_BYTES", "max_body_bytes"),
    ("FLUENCY_MAX_PAGE_SIZE", "max_page_size"),
    ("FLUENCY_VERSION_WHEN_MISSING", "version_when_missing"),
    ("FLUENCY_READ_POOL_SIZE", "read_pool_size"),
    ("FLUENCY_LOG", "log"),
    ("FLUENCY_CORS_ORIGINS", "cors_origins"),
    ("FLUENCY_AUTH_FAILURES_PER_MINUTE", "auth_failures_per_minute"),
    ("FLUENCY_MAX_ATTACHMENT_PAGE_BYTES", "max_attachment_page_bytes"),
    ("FLUENCY_MAX_ANALYSIS_STATEMENTS", "max_analysis_statements"),
    ("FLUENCY_MIN_GROUP_SIZE", "min_group_size"),
    ("FLUENCY_RULES_DIR", "rules_dir"),
    ("FLUENCY_CONSOLE_ENABLED", "console_enabled"),
    ("FLUENCY_CONSOLE_OIDC_CLIENT_SECRET", "console_oidc_client_secret"),
];

impl SettingsLayer {
    pub fn from_toml_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading configuration file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing configuration file {}", path.display()))
    }

    /// The layer given by `FLUENCY_*` variables, read through `lookup` (tests pass a map).
    pub fn from_environment(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut layer = Self::default();
        for (variable, field) in ENVIRONMENT {
            let Some(value) = lookup(variable) else { continue };
            let number = |v: &str| v.parse::<u64>().with_context(|| format!("{variable}: must be a whole number"));
            match field {
                "bind" => layer.bind = Some(value),
                "data_dir" => layer.data_dir = Some(value.into()),
                "base_path" => layer.base_path = Some(value),
                "public_url" => layer.public_url = Some(value),
                "max_body_bytes" => layer.max_body_bytes = Some(number(&value)? as usize),
                "max_page_size" => layer.max_page_size = Some(number(&value)? as usize),
                "version_when_missing" => layer.version_when_missing = Some(value),
                "read_pool_size" => layer.read_pool_size = Some(number(&value)? as u32),
                "log" => layer.log = Some(value),
                "cors_origins" => layer.cors_origins = Some(value),
                "auth_failures_per_minute" => layer.auth_failures_per_minute = Some(number(&value)? as u32),
                "max_attachment_page_bytes" => layer.max_attachment_page_bytes = Some(number(&value)?),
                "max_analysis_statements" => layer.max_analysis_statements = Some(number(&value)? as usize),
                "min_group_size" => layer.min_group_size = Some(number(&value)? as usize),
                "rules_dir" => layer.rules_dir = Some(value.into()),
                "console_enabled" => {
                    let enabled = value.parse().with_context(|| format!("{variable}: must be true or false"))?;
                    layer.console_enabled = Some(enabled);
                }
                "console_oidc_client_secret" => layer.console_oidc_client_secret = Some(value),
                _ => unreachable!("every environment variable names a field"),
            }
        }
        Ok(layer)
    }
}

impl Settings {
    /// Applies `layers` in order (later ones win) over the defaults, then checks the result.
    pub fn resolve(layers: impl IntoIterator<Item = SettingsLayer>) -> anyhow::Result<Self> {
        let mut settings = Self::default();
        for layer in layers {
            settings.apply(layer)?;
        }
        settings.check()?;
        if settings.public_url.is_empty() {
            settings.public_url = format!("http://{}", settings.bind);
        }
        Ok(settings)
    }

    fn apply(&mut self, layer: SettingsLayer) -> anyhow::Result<()> {
        if let Some(bind) = layer.bind {
            self.bind = bind.parse().with_context(|| format!("bind: {bind:?} must be ADDRESS:PORT"))?;
        }
        if let Some(dir) = layer.data_dir {
            self.data_dir = dir;
        }
        if let Some(base) = layer.base_path {
            self.base_path = base;
        }
        if let Some(url) = layer.public_url {
            self.public_url = url;
        }
        if let Some(bytes) = layer.max_body_bytes {
            self.max_body_bytes = bytes;
        }
        if let Some(size) = layer.max_page_size {
            self.max_page_size = size;
        }
        if let Some(version) = layer.version_when_missing {
            self.version_when_missing = XapiVersion::parse_header(&version)
                .with_context(|| format!("version_when_missing: {version:?} must be 1.0.3 or 2.0.0"))?;
        }
        if let Some(size) = layer.read_pool_size {
            self.read_pool_size = size;
        }
        if let Some(log) = layer.log {
            self.log = log;
        }
        if let Some(origins) = layer.cors_origins {
            self.cors_origins = origins.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
        }
        if let Some(failures) = layer.auth_failures_per_minute {
            self.auth_failures_per_minute = failures;
        }
        if let Some(bytes) = layer.max_attachment_page_bytes {
            self.max_attachment_page_bytes = bytes;
        }
        if let Some(statements) = layer.max_analysis_statements {
            self.max_analysis_statements = statements;
        }
        if let Some(people) = layer.min_group_size {
            self.min_group_size = people;
        }
        if let Some(rules) = layer.rules {
            self.rules = rules;
        }
        if let Some(dir) = layer.rules_dir {
            self.rules.dir = Some(dir);
        }
        if let Some(governance) = layer.governance {
            self.governance = governance;
        }
        if let Some(targets) = layer.targets {
            self.targets = targets;
        }
        if let Some(delivery) = layer.delivery {
            self.delivery = delivery;
        }
        if let Some(credentials) = layer.credentials {
            self.credentials = credentials;
        }
        if let Some(console) = layer.console {
            self.console = console;
        }
        if let Some(enabled) = layer.console_enabled {
            self.console.enabled = enabled;
        }
        if let Some(secret) = layer.console_oidc_client_secret {
            if let Some(oidc) = self.console.oidc.as_mut() {
                oidc.client_secret = secret;
            }
        }
        Ok(())
    }

    fn check(&mut self) -> anyhow::Result<()> {
        let trimmed = self.base_path.trim_end_matches('/');
        if !trimmed.is_empty() && !trimmed.starts_with('/') {
            bail!("base_path: {:?} must start with '/'", self.base_path);
        }
        self.base_path = trimmed.to_string();
        if self.max_page_size == 0 {
            bail!("max_page_size: must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes: must be at least 1024");
        }
        if self.read_pool_size == 0 {
            bail!("read_pool_size: must be at least 1");
        }
        if self.max_attachment_page_bytes < 1024 {
            bail!("max_attachment_page_bytes: must be at least 1024");
        }
        if self.max_analysis_statements == 0 {
            bail!("max_analysis_statements: must be at least 1");
        }
        if self.min_group_size == 0 {
            bail!("min_group_size: must be at least 1");
        }
        self.rules.check()?;
        self.governance.check()?;
        self.console.check()?;
        let targets = Targets::parse(&self.targets).map_err(|e| anyhow::anyhow!("{e}"))?;
        self.delivery.build(&targets).map_err(anyhow::Error::msg)?;
        if let Some(target) = self.credentials.notify.iter().find(|t| !self.targets.contains_key(*t)) {
            bail!("credentials.notify: no [targets.{target}] table");
        }
        Ok(())
    }

    /// The rules directory: configured, else `<data_dir>/rules`.
    pub fn rules_dir(&self) -> PathBuf {
        self.rules.dir.clone().unwrap_or_else(|| self.data_dir.join("rules"))
    }

    /// Where the embedded store keeps its database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("fluency.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn environment(pairs: &[(&str, &str)]) -> SettingsLayer {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SettingsLayer::from_environment(|name| map.get(name).cloned()).unwrap()
    }

    #[test]
    fn later_layers_override_earlier_ones() {
        let file: SettingsLayer = toml::from_str("bind = \"127.0.0.1:9000\"\nmax_page_size = 50\n").unwrap();
        let env = environment(&[("FLUENCY_BIND", "127.0.0.1:9001")]);
        let flags = SettingsLayer { data_dir: Some("/tmp/x".into()), ..Default::default() };

        let settings = Settings::resolve([file, env, flags]).unwrap();

        assert_eq!(settings.bind.port(), 9001);
        assert_eq!(settings.max_page_size, 50);
        assert_eq!(settings.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(settings.public_url, "http://127.0.0.1:9001");
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_refused_with_the_field_name() {
        assert!(toml::from_str::<SettingsLayer>("colour = \"blue\"").is_err());
        let error = Settings::resolve([environment(&[("FLUENCY_BIND", "nowhere")])]).unwrap_err();
        assert!(format!("{error:#}").contains("bind"), "{error:#}");
        let error =
            SettingsLayer::from_environment(|n| (n == "FLUENCY_MAX_PAGE_SIZE").then(|| "ten".into())).unwrap_err();
        assert!(format!("{error:#}").contains("FLUENCY_MAX_PAGE_SIZE"));
        let error = Settings::resolve([environment(&[("FLUENCY_VERSION_WHEN_MISSING", "0.9")])]).unwrap_err();
        assert!(format!("{error:#}").contains("version_when_missing"));
    }

    #[test]
    fn the_rules_table_is_read_whole_and_checked() {
        let file: SettingsLayer =
            toml::from_str("[rules]\nbatch_size = 10\n[rules.sandbox]\nmax_operations = 500\n").unwrap();
        let env = environment(&[("FLUENCY_RULES_DIR", "/srv/rules")]);

        let settings = Settings::resolve([file, env]).unwrap();

        assert_eq!(settings.rules.batch_size, 10);
        assert_eq!(settings.rules.sandbox.max_operations, 500);
        assert_eq!(settings.rules_dir(), PathBuf::from("/srv/rules"));
        assert!(toml::from_str::<SettingsLayer>("[rules]\nbatchsize = 1\n").is_err());
        let zero: SettingsLayer = toml::from_str("[rules]\nbatch_size = 0\n").unwrap();
        assert!(format!("{:#}", Settings::resolve([zero]).unwrap_err()).contains("rules.batch_size"));
    }

    #[test]
    fn targets_and_delivery_are_checked_together() {
        let good = "[delivery]\nassign_target = \"lms\"\n[targets.lms]\nkind = \"webhook\"\nurl = \"https://lms.example.com/hook\"\nsecret = \"whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\"\n";
        let settings = Settings::resolve([toml::from_str::<SettingsLayer>(good).unwrap()]).unwrap();
        assert_eq!(settings.targets.len(), 1);

        let dangling = toml::from_str::<SettingsLayer>("[delivery]\nassign_target = \"crm\"\n").unwrap();
        let error = format!("{:#}", Settings::resolve([dangling]).unwrap_err());
        assert!(error.contains("delivery.assign_target"), "{error}");
    }

    #[test]
    fn the_console_provider_secret_comes_from_the_environment_and_is_required() {
        let file = "[console.oidc]\nissuer = \"https://idp.example.com\"\nclient_id = \"fluency\"\n";
        let layer = || toml::from_str::<SettingsLayer>(file).unwrap();
        let error = format!("{:#}", Settings::resolve([layer()]).unwrap_err());
        assert!(error.contains("console.oidc.client_secret"), "{error}");

        let env = environment(&[("FLUENCY_CONSOLE_OIDC_CLIENT_SECRET", "from-env")]);
        let settings = Settings::resolve([layer(), env]).unwrap();

        assert_eq!(settings.console.oidc.unwrap().client_secret, "from-env");
    }

    #[test]
    fn base_path_loses_its_trailing_slash() {
        let settings = Settings::resolve([environment(&[("FLUENCY_BASE_PATH", "/lrs/")])]).unwrap();
        assert_eq!(settings.base_path, "/lrs");
    }
}

//! Who is signed in to the console and what they may see: administrators see everything,
//! analysts every team and analysis but not the rules, a leader only their own teams.
//! Roles come from a credential's scopes (local sign-in, granting no more than the API
//! would: `analytics` for analyses, `skills` for every team) or the provider's claims.

use std::collections::BTreeSet;

use serde_json::Value;

use super::settings::OidcSettings;
use crate::auth::{Principal, Scope};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// Shown in the header and written to the audit log (`console:<how>:<who>`).
    pub name: String,
    /// The audit log's actor for what this viewer does.
    pub actor: String,
    pub admin: bool,
    /// May run and read impact analyses.
    pub analyst: bool,
    /// May see every team's skills.
    pub all_teams: bool,
    /// Teams this viewer leads.
    pub leads: BTreeSet<String>,
}

/// What a page or form needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The overview: anyone with a role.
    Overview,
    /// Impact analyses.
    Analyse,
    /// Listing teams, seeing those one may.
    Teams,
    /// Launching initiatives: administrators, and leaders for their teams.
    Curate,
    /// Rules and other administration.
    Administer,
}

impl Viewer {
    pub fn may(&self, need: Need) -> bool {
        let leads = !self.leads.is_empty();
        match need {
            Need::Overview => self.admin || self.analyst || self.all_teams || leads,
            Need::Analyse => self.admin || self.analyst || leads,
            Need::Teams => self.admin || self.all_teams || leads,
            Need::Curate => self.admin || leads,
            Need::Administer => self.admin,
        }
    }

    /// Administrators and analysts see every team; a leader only theirs.
    pub fn may_see_team(&self, team: &str) -> bool {
        self.admin || self.all_teams || self.leads.contains(team)
    }

    /// The role names, for the header.
    pub fn role_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.admin {
            names.push("administrator".to_string());
        }
        if self.analyst && !self.admin {
            names.push("analyst".to_string());
        }
        if self.all_teams && !self.admin && !self.analyst {
            names.push("skills reader".to_string());
        }
        names.extend(self.leads.iter().map(|team| format!("leader of {team}")));
        names
    }

    /// A local sign-in: `admin` makes an administrator, `analytics` an analyst, `skills` a
    /// reader of every team. `None` when the credential has none of them.
    pub fn from_principal(principal: &Principal) -> Option<Viewer> {
        let admin = principal.scopes.contains(&Scope::Admin);
        let analyst = admin || principal.scopes.contains(&Scope::Analytics);
        let all_teams = admin || principal.scopes.contains(&Scope::Skills);
        (analyst || all_teams).then(|| Viewer {
            name: principal.key.clone(),
            actor: format!("console:local:{}", principal.key),
            admin,
            analyst,
            all_teams,
            leads: BTreeSet::new(),
        })
    }

    /// A single sign-on: roles from the values of the configured claim (a list of strings,
    /// or one string of space-separated values). `None` when no value maps to a role.
    pub fn from_claims(claims: &Value, oidc: &OidcSettings) -> Option<Viewer> {
        let values: Vec<&str> = match claims.get(&oidc.roles_claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(text)) => text.split_whitespace().collect(),
            _ => Vec::new(),
        };
        let has = |wanted: &[String]| values.iter().any(|v| wanted.iter().any(|w| w == v));
        let leads: BTreeSet<String> = values
            .iter()
            .filter_map(|v| v.strip_prefix(oidc.leader_prefix.as_str()))
            .filter(|team| !team.is_empty())
            .map(String::from)
            .collect();
        let admin = has(&oidc.admin_values);
        let analyst = admin || has(&oidc.analyst_values);
        if !analyst && leads.is_empty() {
            return None;
        }
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        let name = ["name", "preferred_username", "email"]
            .iter()
            .find_map(|claim| claims.get(*claim).and_then(Value::as_str))
            .unwrap_or(subject);
        let actor = format!("console:oidc:{subject}");
        Some(Viewer { name: name.to_string(), actor, admin, analyst, all_teams: analyst, leads })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oidc() -> OidcSettings {
        toml::from_str(
            "issuer = \"https://idp.example.com\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
             admin_values = [\"fluency-admins\"]\nanalyst_values = [\"fluency-analysts\"]\n",
        )
        .unwrap()
    }

    #[test]
    fn claim_values_map_to_roles_and_leaders_see_only_their_teams() {
        let claims = json!({"sub": "u1", "name": "Ada", "groups": ["staff", "leader:Team 1"]});

        let viewer = Viewer::from_claims(&claims, &oidc()).expect("a leader");

        assert!(!viewer.admin && !viewer.analyst);
        assert!(viewer.may_see_team("Team 1"));
        assert!(!viewer.may_see_team("Team 2"));
        assert!(!viewer.may(Need::Administer));
        assert!(viewer.may(Need::Analyse));
        assert_eq!(viewer.actor, "console:oidc:u1");
    }

    #[test]
    fn a_space_separated_claim_and_the_admin_value_are_understood() {
        let claims = json!({"sub": "u2", "groups": "fluency-admins other"});
        let viewer = Viewer::from_claims(&claims, &oidc()).unwrap();
        assert!(viewer.admin && viewer.may(Need::Administer) && viewer.may_see_team("any"));
        assert_eq!(viewer.name, "u2");
    }

    #[test]
    fn people_with_no_mapped_value_get_no_console_access() {
        let cases = [
            ("no claim", json!({"sub": "u"})),
            ("unmapped values", json!({"sub": "u", "groups": ["staff"]})),
            ("an empty team", json!({"sub": "u", "groups": ["leader:"]})),
            ("a number", json!({"sub": "u", "groups": 7})),
        ];
        for (description, claims) in cases {
            assert_eq!(Viewer::from_claims(&claims, &oidc()), None, "{description}");
        }
    }

    #[test]
    fn local_credentials_see_in_the_console_no_more_than_their_scopes_allow_in_the_api() {
        let principal = |scopes| Principal::for_account("http://lrs", "k", scopes);
        assert!(Viewer::from_principal(&principal(vec![Scope::All])).is_none());
        let admin = Viewer::from_principal(&principal(vec![Scope::Admin])).unwrap();
        assert!(admin.may(Need::Administer) && admin.may(Need::Analyse) && admin.may_see_team("Team 9"));
        let analyst = Viewer::from_principal(&principal(vec![Scope::Analytics])).unwrap();
        assert!(analyst.may(Need::Analyse) && !analyst.may(Need::Teams) && !analyst.may_see_team("Team 9"));
        let reader = Viewer::from_principal(&principal(vec![Scope::Skills])).unwrap();
        assert!(reader.may(Need::Overview) && !reader.may(Need::Analyse) && reader.may_see_team("Team 9"));
    }
}

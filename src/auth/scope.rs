//! xAPI authorisation scopes and what each allows. Handlers name the `Access` they need;
//! `Principal::require` answers 403 when no scope of the credential grants it.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    All,
    AllRead,
    StatementsWrite,
    StatementsRead,
    StatementsReadMine,
    State,
    Define,
    Profile,
    /// Fluency's own: managing rules, deliveries and interventions (`/api`).
    Admin,
    /// Fluency's own: impact analyses (`/api/impact`).
    Analytics,
    /// Fluency's own: reading skill profiles, team maps and talent search.
    Skills,
}

impl Scope {
    pub const EVERY: [Scope; 11] = [
        Scope::All,
        Scope::AllRead,
        Scope::StatementsWrite,
        Scope::StatementsRead,
        Scope::StatementsReadMine,
        Scope::State,
        Scope::Define,
        Scope::Profile,
        Scope::Admin,
        Scope::Analytics,
        Scope::Skills,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::AllRead => "all/read",
            Scope::StatementsWrite => "statements/write",
            Scope::StatementsRead => "statements/read",
            Scope::StatementsReadMine => "statements/read/mine",
            Scope::State => "state",
            Scope::Define => "define",
            Scope::Profile => "profile",
            Scope::Admin => "admin",
            Scope::Analytics => "analytics",
            Scope::Skills => "skills",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::EVERY.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
            let known: Vec<_> = Scope::EVERY.iter().map(|s| s.as_str()).collect();
            format!("unknown scope {text:?}; known scopes: {}", known.join(", "))
        })
    }
}

/// What a request needs to be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    WriteStatements,
    /// Reading statements; `statements/read/mine` grants it restricted to the credential's own.
    ReadStatements,
    ReadState,
    WriteState,
    ReadProfiles,
    WriteProfiles,
    /// Reading the `activities` and `agents` resources.
    ReadDefinitions,
    /// Changing canonical activity definitions through statements.
    Define,
    /// Managing rules, the outbox and interventions.
    Administer,
    /// Running impact analyses.
    Analyse,
    /// Reading skill estimates, team maps and talent search.
    ReadSkills,
}

/// How much of the statements a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadReach {
    Everything,
    OnlyMine,
}

pub fn grants(scopes: &[Scope], access: Access) -> bool {
    scopes.iter().any(|scope| scope_grants(*scope, access))
}

fn scope_grants(scope: Scope, access: Access) -> bool {
    use Access::*;
    match scope {
        // `all` is the xAPI scope: every xAPI resource, none of Fluency's own.
        Scope::All => !matches!(access, Administer | Analyse | ReadSkills),
        Scope::AllRead => matches!(access, ReadStatements | ReadState | ReadProfiles | ReadDefinitions),
        Scope::StatementsWrite => access == WriteStatements,
        Scope::StatementsRead | Scope::StatementsReadMine => access == ReadStatements,
        Scope::State => matches!(access, ReadState | WriteState),
        Scope::Define => matches!(access, Define | ReadDefinitions),
        Scope::Profile => matches!(access, ReadProfiles | WriteProfiles | ReadDefinitions),
        Scope::Admin => matches!(access, Administer | Analyse | ReadSkills),
        Scope::Analytics => access == Analyse,
        Scope::Skills => access == ReadSkills,
    }
}

/// The reach of statement reads: `statements/read/mine` alone limits it.
pub fn read_reach(scopes: &[Scope]) -> ReadReach {
    let full = scopes.iter().any(|s| matches!(s, Scope::All | Scope::AllRead | Scope::StatementsRead));
    if full {
        ReadReach::Everything
    } else {
        ReadReach::OnlyMine
    }
}

/// Parses a comma- or space-separated list, refusing unknown names and empty lists.
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes: Vec<Scope> =
        text.split([',', ' ']).filter(|part| !part.is_empty()).map(Scope::from_str).collect::<Result<_, _>>()?;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err("at least one scope is required".to_string());
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_grants_only_its_resources() {
        let cases = [
            (Scope::All, Access::WriteState, true),
            (Scope::AllRead, Access::ReadStatements, true),
            (Scope::AllRead, Access::WriteStatements, false),
            (Scope::StatementsWrite, Access::WriteStatements, true),
            (Scope::StatementsWrite, Access::ReadStatements, false),
            (Scope::StatementsRead, Access::ReadStatements, true),
            (Scope::StatementsReadMine, Access::ReadStatements, true),
            (Scope::StatementsReadMine, Access::WriteStatements, false),
            (Scope::State, Access::WriteState, true),
            (Scope::State, Access::WriteProfiles, false),
            (Scope::All, Access::Administer, false),
            (Scope::Admin, Access::Administer, true),
            (Scope::Admin, Access::WriteStatements, false),
            (Scope::Analytics, Access::Analyse, true),
            (Scope::Analytics, Access::Administer, false),
            (Scope::Profile, Access::WriteProfiles, true),
            (Scope::Define, Access::Define, true),
            (Scope::Skills, Access::ReadSkills, true),
            (Scope::Skills, Access::Administer, false),
            (Scope::All, Access::ReadSkills, false),
            (Scope::Admin, Access::ReadSkills, true),
            (Scope::StatementsWrite, Access::Define, false),
        ];
        for (scope, access, expected) in cases {
            assert_eq!(grants(&[scope], access), expected, "{scope} for {access:?}");
        }
    }

    #[test]
    fn read_mine_limits_the_reach_unless_a_wider_scope_is_present() {
        assert_eq!(read_reach(&[Scope::StatementsReadMine]), ReadReach::OnlyMine);
        assert_eq!(read_reach(&[Scope::StatementsReadMine, Scope::StatementsRead]), ReadReach::Everything);
    }

    #[test]
    fn scope_lists_parse_and_refuse_unknown_names() {
        assert_eq!(parse_scopes("statements/write, statements/read").unwrap().len(), 2);
        assert!(parse_scopes("statements/delete").unwrap_err().contains("statements/delete"));
        assert!(parse_scopes(" , ").is_err());
    }
}

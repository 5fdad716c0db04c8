use std::fmt;

/// Why a statement or parameter was refused: the property path and the rule it broke,
/// shown as `actor.mbox: must be a "mailto:" IRI`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Dotted property path with array indexes, e.g. `context.contextActivities.parent[0].id`;
    /// empty for the document as a whole.
    pub path: String,
    /// The rule, phrased as what the value must be.
    pub rule: String,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, rule: impl Into<String>) -> Self {
        Self { path: path.into(), rule: rule.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.rule)
        } else {
            write!(f, "{}: {}", self.path, self.rule)
        }
    }
}

impl std::error::Error for ValidationError {}

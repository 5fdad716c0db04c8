//! Rule files: a `.rhai` script whose leading `//!` lines hold TOML metadata (name,
//! description, enabled, trigger), so the whole file stays valid Rhai. Parsed here with
//! errors naming file, line and column; compiled by `runtime`.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::error::RuleError;
use super::schedule::Schedule;
use super::trigger::{Trigger, TriggerSettings};

/// The prefix of metadata lines.
const META_PREFIX: &str = "//!";
/// Longest rule name; names appear in statements, keys and (later) URLs.
const MAX_NAME_LEN: usize = 64;

/// The metadata block as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    trigger: Option<Spanned<TriggerSettings>>,
    schedule: Option<Spanned<String>>,
}

fn enabled_by_default() -> bool {
    true
}

/// A parsed rule file, not yet compiled.
#[derive(Clone, Debug)]
pub struct RuleFile {
    /// Where the file came from, as shown in errors.
    pub file: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub trigger: Trigger,
    /// Set for a rule that runs on a schedule instead of on statements.
    pub schedule: Option<Schedule>,
    /// The whole file: the metadata lines are comments to Rhai, so lines keep their numbers.
    pub source: String,
    /// sha256 of the file in hex: changes whenever the file does.
    pub version: String,
}

/// Metadata line `i` (0-based) holds TOML from byte `offsets[i]` of file line `i + 1`.
struct MetadataBlock {
    toml: String,
    offsets: Vec<usize>,
}

impl MetadataBlock {
    fn read(source: &str) -> Self {
        let mut toml = String::new();
        let mut offsets = Vec::new();
        for line in source.lines() {
            let Some(rest) = line.strip_prefix(META_PREFIX) else { break };
            let content = rest.strip_prefix(' ').unwrap_or(rest);
            offsets.push(line.len() - content.len());
            toml.push_str(content);
            toml.push('\n');
        }
        Self { toml, offsets }
    }

    /// File line and column (1-based, in characters) of byte `at` of the TOML text.
    fn position(&self, at: usize) -> (usize, usize) {
        let before = &self.toml[..at.min(self.toml.len())];
        let index = before.matches('\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + self.offsets.get(index).copied().unwrap_or(0) + 1;
        (index + 1, column)
    }

    fn error_at(&self, at: usize, message: impl Into<String>) -> RuleError {
        let (line, column) = self.position(at);
        RuleError::compile(message, line, column)
    }
}

impl RuleFile {
    pub fn read(path: &Path) -> Result<Self, RuleError> {
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path)
            .map_err(|e| RuleError::new(super::RuleErrorKind::Compile, format!("cannot read: {e}")).in_file(&file))?;
        Self::parse(&file, &source)
    }

    /// Parses `source`; `file` names it in errors.
    pub fn parse(file: &str, source: &str) -> Result<Self, RuleError> {
        Self::parse_metadata(file, source).map_err(|e| e.in_file(file))
    }

    fn parse_metadata(file: &str, source: &str) -> Result<Self, RuleError> {
        let block = MetadataBlock::read(source);
        if block.offsets.is_empty() {
            return Err(RuleError::compile(
                "a rule file starts with `//!` lines holding its metadata, e.g. `//! name = \"my-rule\"`",
                1,
                1,
            ));
        }
        let raw: RawMetadata = toml::from_str(&block.toml).map_err(|e| {
            let at = e.span().map_or(0, |span| span.start);
            block.error_at(at, format!("metadata: {}", e.message().trim_end()))
        })?;
        let name = raw.name.get_ref();
        if !is_rule_name(name) {
            return Err(block.error_at(
                raw.name.span().start,
                format!("metadata: name {name:?} must be 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.'"),
            ));
        }
        let schedule = match &raw.schedule {
            Some(text) if raw.trigger.is_some() => {
                let message = "metadata: a rule runs either on statements ([trigger]) or on a schedule, not both";
                return Err(block.error_at(text.span().start, message));
            }
            Some(text) => Some(
                Schedule::parse(text.get_ref())
                    .map_err(|e| block.error_at(text.span().start, format!("metadata: {e}")))?,
            ),
            None => None,
        };
        let trigger = match &raw.trigger {
            Some(trigger) => trigger.get_ref().build().map_err(|e| block.error_at(trigger.span().start, e))?,
            None => Trigger::default(),
        };
        Ok(Self {
            file: file.to_string(),
            name: name.clone(),
            description: raw.description,
            enabled: raw.enabled,
            trigger,
            schedule,
            source: source.to_string(),
            version: hex::encode(Sha256::digest(source.as_bytes())),
        })
    }
}

pub fn is_rule_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_comes_from_the_leading_doc_comment_lines() {
        let source = "//! name = \"nudge\"\n//! description = \"Nudge\"\n//! [trigger]\n//! verbs = [\"http://adlnet.gov/expapi/verbs/failed\"]\n\nlet x = 1;\n//! not metadata\n";

        let rule = RuleFile::parse("nudge.rhai", source).unwrap();

        assert_eq!(rule.name, "nudge");
        assert_eq!(rule.description, "Nudge");
        assert!(rule.enabled);
        assert_eq!(rule.source, source);
        assert_eq!(rule.version.len(), 64);
    }

    #[test]
    fn metadata_errors_name_the_file_line_and_column() {
        let cases = [
            ("no metadata", "let x = 1;\n", (1, 1), "starts with `//!`"),
            ("unknown key", "//! name = \"a\"\n//!   colour = 1\n", (2, 7), "colour"),
            ("bad name", "//! name = \"a b\"\n", (1, 12), "name \"a b\""),
            ("missing name", "//! enabled = true\n", (1, 5), "name"),
            ("bad trigger", "//! name = \"a\"\n//! [trigger]\n//! verbs = [\"failed\"]\n", (2, 5), "trigger.verbs"),
            ("bad schedule", "//! name = \"a\"\n//! schedule = \"0 9 * *\"\n", (2, 16), "five fields"),
            ("both", "//! name = \"a\"\n//! schedule = \"0 9 * * MON\"\n//! [trigger]\n", (2, 16), "not both"),
        ];
        for (description, source, (line, column), needle) in cases {
            let error = RuleFile::parse("r.rhai", source).unwrap_err();

            assert_eq!(error.file.as_deref(), Some("r.rhai"), "{description}");
            assert_eq!((error.line, error.column), (Some(line), Some(column)), "{description}: {error}");
            assert!(error.message.contains(needle), "{description}: {error}");
        }
    }
}

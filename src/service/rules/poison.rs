//! Poison statements: a statement on which a rule's run took the whole server down (a
//! crash, an abort on a failed allocation, a kill while it spun) must not do so again
//! after every restart. Before a batch is evaluated the runner notes it in a small file
//! beside the store (`InFlight`, written then renamed); a rules commit makes the note
//! stale. A start that finds a note for the batch after its position evaluates that batch
//! carefully: one statement per commit, each rule's run noted just before it starts. A
//! start that finds a note naming a rule and a statement skips that run, records it as the
//! rule's failure (kind `limit`, counted towards disabling it), and moves on. Used by the
//! rules runner.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rules::{RuleError, RuleErrorKind};
use crate::xapi::time::Micros;

/// The message of a run that was skipped because it took the server down before.
pub const POISON_MESSAGE: &str = "a run of this rule on this statement stopped the server \
    (a crash, or it was killed past every limit); it is not run on this statement again";

/// What the runner was doing, as last noted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    /// The rules position when the batch was read: the note is stale once it moved.
    pub after: Micros,
    /// The `stored` of the batch's last statement.
    pub through: Micros,
    /// In careful evaluation: the statement being evaluated...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<Uuid>,
    /// ... the rule running on it ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// ... and the rules already found to take the server down on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poisoned: Vec<String>,
}

/// The note file, or none (then nothing is noted, nothing is protected).
#[derive(Clone, Debug)]
pub struct InFlightFile {
    path: Option<PathBuf>,
}

impl InFlightFile {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path }
    }

    /// The note left by the last process, if it is about the batch after `position`.
    pub fn pending(&self, position: Micros) -> Option<InFlight> {
        let text = std::fs::read_to_string(self.path.as_ref()?).ok()?;
        let note: InFlight = serde_json::from_str(&text).ok()?;
        (note.after == position).then_some(note)
    }

    /// Writes the note; it survives the process dying right after (not a machine crash,
    /// which no rule can cause). A failure to write is logged and evaluation goes on.
    pub fn note(&self, note: &InFlight) {
        let Some(path) = &self.path else { return };
        if let Err(error) = write_note(path, note) {
            tracing::warn!(error = %error, path = %path.display(), "Could not note the rules batch in flight.");
        }
    }
}

/// Written in place (no rename, it runs for every batch): a write of a few hundred bytes
/// is complete or not done when the process dies; a torn note only fails to parse, and
/// then protects that one batch less.
fn write_note(path: &Path, note: &InFlight) -> std::io::Result<()> {
    std::fs::write(path, serde_json::to_vec(note).map_err(std::io::Error::other)?)
}

/// The careful evaluation of one statement: which rules took the server down on it (from
/// the last note), and the guard `RuleSet::evaluate_guarded` calls before each rule runs.
pub struct CarefulRun<'a> {
    file: &'a InFlightFile,
    note: InFlight,
}

impl<'a> CarefulRun<'a> {
    /// For `statement` of the batch noted in `batch`; `previous` is the note the last
    /// process left, whose rule (if it was running on this statement) is poison.
    pub fn new(file: &'a InFlightFile, batch: &InFlight, statement: Uuid, previous: Option<&InFlight>) -> Self {
        let mut poisoned = Vec::new();
        if let Some(previous) = previous.filter(|p| p.statement == Some(statement)) {
            poisoned.extend(previous.poisoned.iter().cloned());
            poisoned.extend(previous.rule.iter().cloned());
        }
        let note = InFlight { statement: Some(statement), rule: None, poisoned, ..batch.clone() };
        Self { file, note }
    }

    /// Notes that `rule` is about to run, or answers the failure it is recorded with
    /// instead when it took the server down on this statement before.
    pub fn guard(&mut self, rule: &str) -> Option<RuleError> {
        if self.note.poisoned.iter().any(|r| r == rule) {
            tracing::warn!(rule, statement = ?self.note.statement, "Skipping a run that stopped the server before.");
            return Some(RuleError::new(RuleErrorKind::Limit, POISON_MESSAGE));
        }
        self.note.rule = Some(rule.to_string());
        self.file.note(&self.note);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_pending_only_for_the_batch_after_the_position_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = InFlightFile::new(Some(dir.path().join("rules-inflight.json")));
        assert_eq!(file.pending(5), None, "no note yet");

        file.note(&InFlight { after: 5, through: 9, ..Default::default() });

        assert_eq!(file.pending(5).map(|n| n.through), Some(9));
        assert_eq!(file.pending(9), None, "a commit moved the position: stale");
    }

    #[test]
    fn the_rule_running_when_the_server_went_down_is_skipped_and_earlier_ones_stay_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let file = InFlightFile::new(Some(dir.path().join("rules-inflight.json")));
        let batch = InFlight { after: 5, through: 9, ..Default::default() };
        let statement = Uuid::from_u128(1);
        let left = InFlight {
            statement: Some(statement),
            rule: Some("second".into()),
            poisoned: vec!["first".into()],
            ..batch.clone()
        };

        let mut careful = CarefulRun::new(&file, &batch, statement, Some(&left));

        assert_eq!(careful.guard("first").map(|e| e.kind), Some(RuleErrorKind::Limit));
        assert!(careful.guard("second").is_some_and(|e| e.message == POISON_MESSAGE));
        assert_eq!(careful.guard("third"), None, "runs, noted first");
        let noted = file.pending(5).unwrap();
        assert_eq!((noted.rule.as_deref(), noted.poisoned.len()), (Some("third"), 2));
        let mut other = CarefulRun::new(&file, &batch, Uuid::from_u128(2), Some(&left));
        assert_eq!(other.guard("second"), None, "poison only on its own statement");
    }
}

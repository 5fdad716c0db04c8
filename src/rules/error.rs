//! Rule errors: what went wrong (compile, runtime, limit, timeout, host), where (file, line,
//! column) and why. Built by `file` and `runtime` from parse and evaluation failures;
//! recorded by `RuleHealth` and printed by `fluency rules test`.

use std::fmt;

use rhai::{EvalAltResult, ParseError, Position};
use serde::{Deserialize, Serialize};

/// The token `on_progress` stops a script with when its deadline has passed.
pub(crate) const DEADLINE_TOKEN: &str = "fluency: evaluation deadline passed";
/// The token a run is stopped with when it tripped a limit (memory, a built-in's result);
/// the limit's message is kept beside the run (`context::take_tripped`).
pub(crate) const LIMIT_TOKEN: &str = "fluency: a sandbox limit was exceeded";
/// Longest thrown value shown in a message, in bytes (a thrown value can be huge).
const MAX_SHOWN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleErrorKind {
    /// The file's metadata or its script is invalid; the rule was refused at load.
    Compile,
    /// The script failed: a thrown error, a type mismatch, an invalid intent...
    Runtime,
    /// The script exceeded a sandbox limit (operations, call depth, sizes, intents).
    Limit,
    /// The script ran past its wall-clock deadline.
    Timeout,
    /// The host (history, state) failed; not the rule's fault, so it does not count towards
    /// disabling the rule.
    Host,
}

impl RuleErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compile => "compile",
            Self::Runtime => "runtime",
            Self::Limit => "limit",
            Self::Timeout => "timeout",
            Self::Host => "host",
        }
    }
}

/// A rule's failure, with the position in its file when one is known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleError {
    pub kind: RuleErrorKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line in the rule file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column in the rule file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl RuleError {
    pub fn new(kind: RuleErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), file: None, line: None, column: None }
    }

    pub fn compile(message: impl Into<String>, line: usize, column: usize) -> Self {
        Self::new(RuleErrorKind::Compile, message).at(line, column)
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    fn at_position(self, position: Position) -> Self {
        match (position.line(), position.position()) {
            (Some(line), column) => self.at(line, column.unwrap_or(1)),
            _ => self,
        }
    }

    /// A script that Rhai refused to compile.
    pub(crate) fn from_parse(error: &ParseError) -> Self {
        let message = error.err_type().to_string();
        Self::new(RuleErrorKind::Compile, message).at_position(error.position())
    }

    /// A failed evaluation, classified by its root cause (the error inside any function
    /// calls), positioned where that cause happened. `tripped` is the limit the run tripped,
    /// if any; `host_error` the last host failure, which is the cause only when the root
    /// error is that very failure (a limit hit after a caught host error is a limit).
    pub(crate) fn from_eval(error: &EvalAltResult, tripped: Option<String>, host_error: Option<&str>) -> Self {
        let mut root = error;
        let mut calls = Vec::new();
        while let EvalAltResult::ErrorInFunctionCall(name, _, inner, position) = root {
            calls.push(format!("in `{name}` called at {}", describe(*position)));
            root = inner;
        }
        let terminated = |wanted: &str| matches!(root, EvalAltResult::ErrorTerminated(token, _) if token.clone().into_immutable_string().is_ok_and(|t| t == wanted));
        let from_host = matches!(root, EvalAltResult::ErrorRuntime(value, _)
            if host_error.is_some_and(|h| value.clone().into_immutable_string().is_ok_and(|v| v == h)));
        let kind = match root {
            _ if terminated(DEADLINE_TOKEN) => RuleErrorKind::Timeout,
            _ if terminated(LIMIT_TOKEN) => RuleErrorKind::Limit,
            _ if from_host => RuleErrorKind::Host,
            EvalAltResult::ErrorTooManyOperations(_)
            | EvalAltResult::ErrorTooManyVariables(_)
            | EvalAltResult::ErrorStackOverflow(_)
            | EvalAltResult::ErrorDataTooLarge(..) => RuleErrorKind::Limit,
            _ => RuleErrorKind::Runtime,
        };
        let mut message = match kind {
            RuleErrorKind::Timeout => "the evaluation ran past its deadline".to_string(),
            _ if terminated(LIMIT_TOKEN) => tripped.unwrap_or_else(|| "a sandbox limit was exceeded".to_string()),
            RuleErrorKind::Host => host_error.unwrap_or_default().to_string(),
            _ => root_message(root),
        };
        for call in calls.iter().rev() {
            message.push_str(" (");
            message.push_str(call);
            message.push(')');
        }
        Self::new(kind, message).at_position(root.position())
    }
}

/// Rhai's message without the position it appends (the error carries line and column).
/// A thrown value is measured before it is shown: it may be too large to turn into text.
fn root_message(error: &EvalAltResult) -> String {
    if let EvalAltResult::ErrorRuntime(value, _) = error {
        if super::guard::deep_size(value, MAX_SHOWN).is_none() {
            return "the script threw a value too large to show".to_string();
        }
    }
    let text = error.to_string();
    let suffix = format!(" ({})", error.position());
    text.strip_suffix(&suffix).map(str::to_string).unwrap_or(text)
}

fn describe(position: Position) -> String {
    match (position.line(), position.position()) {
        (Some(line), Some(column)) => format!("{line}:{column}"),
        (Some(line), None) => format!("line {line}"),
        _ => "an unknown position".to_string(),
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
        }
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, "{line}:{column}:")?;
        }
        if self.file.is_some() || self.line.is_some() {
            f.write_str(" ")?;
        }
        write!(f, "{} error: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for RuleError {}

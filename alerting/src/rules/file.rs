//! The rule file model, its YAML schema and the loader's error type.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pharos_proto::yaml_file::from_yaml;
use serde::Deserialize;

use super::validate;

/// A validated rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// Where the file was read from (as given to the loader).
    pub path: PathBuf,
    pub groups: Vec<RuleGroup>,
}

/// A group of rules evaluated sequentially at one timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// Unique within its file, never empty.
    pub name: String,
    /// Evaluation interval; `None` means the global `evaluation_interval`.
    pub interval: Option<Duration>,
    /// Maximum alerts or series per rule; 0 means no limit.
    pub limit: u64,
    /// Evaluate at `now - query_offset`; `None` means the global default.
    pub query_offset: Option<Duration>,
    /// Added to every rule's output; the rule's own labels win.
    pub labels: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
}

/// One rule of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub kind: RuleKind,
    /// PromQL text; it is known to parse.
    pub expr: String,
    /// Label templates added to the output (names valid, never `__name__`).
    pub labels: BTreeMap<String, String>,
}

/// What a rule produces.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Stores its result under the metric name `record`.
    Recording { record: String },
    /// Raises alerts named `alert`.
    Alerting {
        alert: String,
        /// How long a result must persist before the alert fires (default 0).
        for_duration: Duration,
        /// How long a firing alert keeps firing after its result disappears (default 0).
        keep_firing_for: Duration,
        /// Annotation templates (names valid label names).
        annotations: BTreeMap<String, String>,
    },
}

impl Rule {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Recording { record } => record,
            RuleKind::Alerting { alert, .. } => alert,
        }
    }
}

/// One validation problem, located by group and rule as promtool reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The group's name; `None` for file-level problems.
    pub group: Option<String>,
    /// 1-based rule index and the rule's record/alert name (empty if unset).
    pub rule: Option<(usize, String)>,
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.group, &self.rule) {
            (Some(group), Some((index, name))) => write!(f, "group {group:?}, rule {index} ({name:?}): ")?,
            (Some(group), None) => write!(f, "group {group:?}: ")?,
            (None, _) => {}
        }
        f.write_str(&self.message)
    }
}

/// Why a rule file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The YAML is malformed or does not fit the schema (unknown field, wrong type).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    /// The file fits the schema but breaks rules; every problem is listed, one per line.
    #[error("{}", problems.iter().map(|p| format!("{}: {p}", path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, problems: Vec<RuleProblem> },
}

/// Read and validate a rule file.
pub fn load_rule_file(path: &Path) -> Result<RuleFile, RuleFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| RuleFileError::Read { path: path.to_path_buf(), source })?;
    parse_rule_file(path, &text)
}

/// Read and validate every file; all of them, or every error found (as a reload needs: nothing
/// changes unless all files are valid).
pub fn load_rule_files(paths: &[PathBuf]) -> Result<Vec<RuleFile>, Vec<RuleFileError>> {
    let (mut loaded, mut errors) = (Vec::new(), Vec::new());
    for path in paths {
        match load_rule_file(path) {
            Ok(file) => loaded.push(file),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(loaded) } else { Err(errors) }
}

/// Parse and validate rule file text; `path` is used in messages and kept in the result.
/// An empty file (or one with only comments) has no groups, as in Prometheus.
pub fn parse_rule_file(path: &Path, text: &str) -> Result<RuleFile, RuleFileError> {
    let raw: RawFile = match from_yaml(text) {
        Ok(Some(raw)) => raw,
        Ok(None) => return Ok(RuleFile { path: path.to_path_buf(), groups: Vec::new() }),
        Err(e) => {
            return Err(RuleFileError::Parse {
                path: path.to_path_buf(),
                line: e.line,
                column: e.column,
                message: e.message,
            });
        }
    };
    validate::validate(raw)
        .map(|groups| RuleFile { path: path.to_path_buf(), groups })
        .map_err(|problems| RuleFileError::Invalid { path: path.to_path_buf(), problems })
}

/// The file as written: every field optional so validation can report all problems at once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    #[serde(default)]
    pub name: Scalar,
    pub interval: Option<Scalar>,
    #[serde(default)]
    pub limit: u64,
    pub query_offset: Option<Scalar>,
    #[serde(default)]
    pub labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub record: Option<Scalar>,
    pub alert: Option<Scalar>,
    pub expr: Option<Scalar>,
    #[serde(rename = "for")]
    pub for_duration: Option<Scalar>,
    pub keep_firing_for: Option<Scalar>,
    #[serde(default)]
    pub labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub annotations: BTreeMap<String, Scalar>,
}

/// A YAML scalar read as text, as Go's YAML decoder does for string fields (`expr: 5` is "5").
pub(super) use pharos_proto::yaml_file::YamlText as Scalar;

// Pharos — alerting/src/rules/file.rs

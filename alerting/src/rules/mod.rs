//! Prometheus rule files: loading and validation as strict as `promtool check rules`.
//!
//! A file is read into [`RuleFile`] (groups of recording and alerting rules) only when every
//! check passes; otherwise [`RuleFileError::Invalid`] lists every problem, like promtool does.
//! Nothing here evaluates rules or executes templates.

mod file;
mod validate;

#[cfg(test)]
mod tests;

pub use file::{Rule, RuleFile, RuleFileError, RuleGroup, RuleKind, RuleProblem, load_rule_file, parse_rule_file};

// Pharos — alerting/src/rules/mod.rs

//! Prometheus rule files: loading and validation as strict as `promtool check rules`
//! ([`load_rule_file`]), evaluation on schedule ([`RuleManager`]: recording rules written back to
//! the tsdb, alerting rules with their `ALERTS`/`ALERTS_FOR_STATE` series, `for` state restored
//! after a restart, alerts handed to an [`AlertSink`]), and `/api/v1/rules`, `/api/v1/alerts`
//! ([`router`]).

mod api;
mod evaluation;
mod file;
mod scheduler;
mod validate;

#[cfg(test)]
mod evaluation_tests;
#[cfg(test)]
mod tests;

pub use api::router;
pub use evaluation::{ActiveAlert, AlertSink, AlertState, RuleHealth, RuleManagerOptions, RuleState};
pub use file::{
    Rule, RuleFile, RuleFileError, RuleGroup, RuleKind, RuleProblem, load_rule_file, load_rule_files, parse_rule_file,
};
pub use scheduler::{GroupRunner, GroupState, RuleManager};

// Pharos — alerting/src/rules/mod.rs

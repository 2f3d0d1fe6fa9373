//! The Go `text/template` language as Prometheus rule files and Alertmanager notification
//! templates use it: actions with trim markers, pipelines, variables, `if`/`range`/`with`,
//! `define`/`template`/`block`, Go's predefined functions, and the functions each of the two
//! programs adds. [`expand_rule_template`] expands a rule's labels and annotations;
//! [`Templates`] renders receiver fields against the default and user template files.
//!
//! Values print as Go prints them (`$value` of 1e6 is `1e+06`, times as
//! `2006-01-02 15:04:05.999999999 +0000 UTC`); comparisons refuse mixed kinds as Go does
//! (`gt $value 1` is an error: `1` is an int). Execution errors are values, never panics.

mod exec;
mod functions;
mod gotime;
mod lexer;
mod notification;
mod parser;
mod rule;
mod value;

#[cfg(test)]
mod tests;

pub use notification::{AlertData, NotificationData, Templates};
pub use rule::{QuerySample, RuleTemplateData, check_rule_template, expand_rule_template};
/// Go's `url.QueryEscape`, for URLs built as Go builds them.
pub(crate) use functions::query_escape as go_query_escape;

/// A template that does not parse or fails while executing. Displays as Go does:
/// `template: NAME:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {template}:{}{message}", location(*line, *col))]
pub struct TemplateError {
    /// The template's name (the rule's `__alert_<name>`, a file name, a `define`d name, or ""
    /// for a receiver field's text).
    pub template: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub col: u32,
    pub message: String,
}

fn location(line: u32, col: u32) -> String {
    match (line, col) {
        (0, _) => " ".into(),
        (l, 0) => format!("{l}: "),
        (l, c) => format!("{l}:{c}: "),
    }
}

impl TemplateError {
    fn parse(name: &str, e: parser::ParseError) -> TemplateError {
        TemplateError { template: name.to_string(), line: e.pos.line, col: e.pos.col, message: e.message }
    }

    fn exec(e: exec::ExecError) -> TemplateError {
        let message = format!("executing {:?}: {}", e.template, e.message);
        TemplateError { template: e.template, line: e.pos.line, col: e.pos.col, message }
    }

    fn other(name: &str, message: String) -> TemplateError {
        TemplateError { template: name.to_string(), line: 0, col: 0, message }
    }
}

// Pharos — alerting/src/template/mod.rs

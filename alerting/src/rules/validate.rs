//! The checks `promtool check rules` makes (Prometheus `model/rulefmt`), collecting every problem.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::file::{RawFile, RawRule, Rule, RuleGroup, RuleKind, RuleProblem, Scalar};

/// Turn the file as written into validated groups, or list every problem found.
pub(super) fn validate(raw: RawFile) -> Result<Vec<RuleGroup>, Vec<RuleProblem>> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    for group in raw.groups {
        let name = group.name.0;
        let mut report = |message: String| problems.push(RuleProblem { group: None, rule: None, message });
        if name.is_empty() {
            report("group name must not be empty".to_string());
        } else if !seen.insert(name.clone()) {
            report(format!("group name {name:?} is repeated in the same file"));
        }
        let mut group_problem = |message: String| {
            problems.push(RuleProblem { group: Some(name.clone()), rule: None, message });
        };
        let interval = optional_duration(group.interval.as_ref(), "interval", &mut group_problem);
        let query_offset = optional_duration(group.query_offset.as_ref(), "query_offset", &mut group_problem);
        let labels = labels(group.labels, &mut group_problem);
        let mut rules = Vec::new();
        for (index, rule) in group.rules.into_iter().enumerate() {
            let rule_name = rule.alert.as_ref().or(rule.record.as_ref()).map(|s| s.0.clone()).unwrap_or_default();
            match validate_rule(rule) {
                Ok(rule) => rules.push(rule),
                Err(messages) => problems.extend(messages.into_iter().map(|message| RuleProblem {
                    group: Some(name.clone()),
                    rule: Some((index + 1, rule_name.clone())),
                    message,
                })),
            }
        }
        groups.push(RuleGroup {
            name: name.clone(),
            interval: interval.flatten(),
            limit: group.limit,
            query_offset: query_offset.flatten(),
            labels,
            rules,
        });
    }
    if problems.is_empty() { Ok(groups) } else { Err(problems) }
}

/// Check one rule, returning every problem found in it.
fn validate_rule(rule: RawRule) -> Result<Rule, Vec<String>> {
    let mut problems = Vec::new();
    let record = rule.record.map(|s| s.0).filter(|s| !s.is_empty());
    let alert = rule.alert.map(|s| s.0).filter(|s| !s.is_empty());
    match (&record, &alert) {
        (Some(_), Some(_)) => problems.push("only one of 'record' and 'alert' must be set".to_string()),
        (None, None) => problems.push("one of 'record' or 'alert' must be set".to_string()),
        _ => {}
    }
    let expr = rule.expr.map(|s| s.0).unwrap_or_default();
    if expr.trim().is_empty() {
        problems.push("field 'expr' must be set in rule".to_string());
    } else if let Err(e) = pharos_query::promql::parse(&expr) {
        problems.push(format!("could not parse expression: {e}"));
    }
    let mut report = |message: String| problems.push(message);
    let for_duration = optional_duration(rule.for_duration.as_ref(), "for", &mut report);
    let keep_firing_for = optional_duration(rule.keep_firing_for.as_ref(), "keep_firing_for", &mut report);
    let labels = labels(rule.labels, &mut report);
    if record.is_some() {
        if !rule.annotations.is_empty() {
            problems.push("invalid field 'annotations' in recording rule".to_string());
        }
        if for_duration.flatten().is_some_and(|d| !d.is_zero()) {
            problems.push("invalid field 'for' in recording rule".to_string());
        }
        if keep_firing_for.flatten().is_some_and(|d| !d.is_zero()) {
            problems.push("invalid field 'keep_firing_for' in recording rule".to_string());
        }
    }
    if let Some(record) = record.as_deref().filter(|r| !is_valid_metric_name(r)) {
        problems.push(format!("invalid recording rule name: {record}"));
    }
    let mut annotations = BTreeMap::new();
    for (key, Scalar(value)) in rule.annotations {
        if !is_valid_label_name(&key) {
            problems.push(format!("invalid annotation name: {key}"));
        }
        if let Err(e) = check_template(&value) {
            problems.push(format!("annotation {key:?}: {e}"));
        }
        annotations.insert(key, value);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let kind = match (record, alert) {
        (Some(record), None) => RuleKind::Recording { record },
        (None, Some(alert)) => RuleKind::Alerting {
            alert,
            for_duration: for_duration.flatten().unwrap_or_default(),
            keep_firing_for: keep_firing_for.flatten().unwrap_or_default(),
            annotations,
        },
        _ => unreachable!("exactly one of record/alert is set when no problem was found"),
    };
    Ok(Rule { kind, expr, labels })
}

/// Parse an optional duration field: `Some(None)` when absent, `None` when invalid (reported).
fn optional_duration(value: Option<&Scalar>, field: &str, report: &mut dyn FnMut(String)) -> Option<Option<Duration>> {
    match value {
        None => Some(None),
        Some(Scalar(text)) => match pharos_proto::duration::parse(text) {
            Ok(d) => Some(Some(d)),
            Err(e) => {
                report(format!("{field}: {e}"));
                None
            }
        },
    }
}

/// Check label names (valid, not `__name__`) and value templates; returns the labels as text.
fn labels(raw: BTreeMap<String, Scalar>, report: &mut dyn FnMut(String)) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, Scalar(value)) in raw {
        if !is_valid_label_name(&key) || key == "__name__" {
            report(format!("invalid label name: {key}"));
        }
        if let Err(e) = check_template(&value) {
            report(format!("label {key:?}: {e}"));
        }
        out.insert(key, value);
    }
    out
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, Prometheus' legacy label name syntax.
pub(super) fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, Prometheus' legacy metric name syntax.
pub(super) fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Variables Prometheus defines before expanding a rule template.
const PREDEFINED_VARIABLES: [&str; 4] = ["$labels", "$value", "$externalLabels", "$externalURL"];

/// A light check of a Go text/template: every `{{` has its `}}` and every `$variable` used is
/// predefined or declared earlier with `:=`. Functions and syntax inside actions are not checked.
pub(super) fn check_template(text: &str) -> Result<(), String> {
    let mut declared: HashSet<String> = PREDEFINED_VARIABLES.iter().map(|s| s.to_string()).collect();
    declared.insert("$".to_string());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let body_start = &rest[open + 2..];
        let close = action_end(body_start).ok_or_else(|| "template: unclosed action".to_string())?;
        let body = &body_start[..close];
        let declaration = body.find(":=");
        for (at, variable) in variables(body) {
            if declaration.is_some_and(|d| at < d) {
                declared.insert(variable);
            } else if !declared.contains(&variable) {
                return Err(format!("template: undefined variable {variable:?}"));
            }
        }
        rest = &body_start[close + 2..];
    }
    Ok(())
}

/// Byte offset of the `}}` closing an action, skipping string literals.
fn action_end(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'`' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' && quote == b'"' { 2 } else { 1 };
                }
                i += 1;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `$name` tokens in an action body with their offsets, outside string literals.
fn variables(body: &str) -> Vec<(usize, String)> {
    let bytes = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'`' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' && quote == b'"' { 2 } else { 1 };
                }
                i += 1;
            }
            b'$' => {
                let len = body[i + 1..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').count();
                out.push((i, body[i..i + 1 + len].to_string()));
                i += 1 + len;
            }
            _ => i += 1,
        }
    }
    out
}

// Pharos — alerting/src/rules/validate.rs

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

pub(super) use pharos_proto::names::{is_label_name as is_valid_label_name, is_metric_name as is_valid_metric_name};

/// Parse a label or annotation template as Prometheus does (Go's text/template with the rule
/// functions and the `$labels`, `$value`, `$externalLabels`, `$externalURL` variables).
pub(super) fn check_template(text: &str) -> Result<(), String> {
    crate::template::check_rule_template("__rule", text).map_err(|e| e.to_string())
}

// Pharos — alerting/src/rules/validate.rs

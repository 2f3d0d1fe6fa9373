//! `/api/v1/rules` and `/api/v1/alerts` in Prometheus' shapes (what Grafana's alert list and
//! Prometheus' own UI read).

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pharos_proto::civil_time::format_go_time;
use pharos_proto::{ApiError, ApiFamily, ErrorCode};
use serde_json::{Value, json};

use super::evaluation::{ActiveAlert, AlertState, RuleState, canonical};
use super::file::RuleKind;
use super::scheduler::RuleManager;

/// The routes, at the root of the main listener.
pub fn router(manager: Arc<RuleManager>) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules).post(rules))
        .route("/api/v1/alerts", get(alerts).post(alerts))
        .with_state(manager)
}

/// `strconv.FormatFloat(v, 'e', -1, 64)`: shortest digits, exponent with a sign and two digits.
pub fn go_exponent(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let text = format!("{v:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    format!("{mantissa}e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
}

fn alert_json(alert: &ActiveAlert) -> Value {
    let mut out = json!({
        "labels": alert.labels,
        "annotations": alert.annotations,
        "state": alert.state.as_str(),
        "activeAt": format_go_time(alert.active_at),
        "value": go_exponent(alert.value),
    });
    if alert.keep_firing_since != 0 {
        out["keepFiringSince"] = json!(format_go_time(alert.keep_firing_since));
    }
    out
}

fn health(rule: &RuleState) -> &'static str {
    match rule.health.ok {
        None => "unknown",
        Some(true) => "ok",
        Some(false) => "err",
    }
}

fn rule_json(rule: &RuleState, exclude_alerts: bool) -> Value {
    let mut out = match &rule.rule.kind {
        RuleKind::Alerting { alert, for_duration, keep_firing_for, annotations } => {
            let alerts: Vec<Value> = if exclude_alerts {
                Vec::new()
            } else {
                rule.alerts.values().filter(|a| a.state != AlertState::Inactive).map(alert_json).collect()
            };
            json!({
                "state": rule.state().as_str(),
                "name": alert,
                "query": canonical(&rule.rule.expr),
                "duration": for_duration.as_secs_f64(),
                "keepFiringFor": keep_firing_for.as_secs_f64(),
                "labels": rule.rule.labels,
                "annotations": annotations,
                "alerts": alerts,
                "type": "alerting",
            })
        }
        RuleKind::Recording { record } => json!({
            "name": record,
            "query": canonical(&rule.rule.expr),
            "labels": rule.rule.labels,
            "type": "recording",
        }),
    };
    out["health"] = json!(health(rule));
    if !rule.health.last_error.is_empty() {
        out["lastError"] = json!(rule.health.last_error);
    }
    out["evaluationTime"] = json!(rule.health.evaluation_seconds);
    out["lastEvaluation"] = json!(format_go_time(rule.health.last_evaluation));
    out
}

fn params(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

async fn rules(
    State(manager): State<Arc<RuleManager>>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let mut params = params(query);
    params.extend(form_urlencoded::parse(&body).into_owned());
    let all = |key: &str| -> Vec<String> {
        params.iter().filter(|(k, _)| k == key || *k == format!("{key}[]")).map(|(_, v)| v.clone()).collect()
    };
    let kind = params.iter().rev().find(|(k, _)| k == "type").map(|(_, v)| v.to_lowercase());
    let (want_alerts, want_records) = match kind.as_deref() {
        None | Some("") => (true, true),
        Some("alert") => (true, false),
        Some("record") => (false, true),
        Some(other) => {
            return ApiError::new(ApiFamily::Prometheus, ErrorCode::BadData, format!("unsupported type {other:?}"))
                .into_response();
        }
    };
    let (names, group_names, files) = (all("rule_name"), all("rule_group"), all("file"));
    // Go's strconv.ParseBool.
    let exclude_alerts = match params.iter().rev().find(|(k, _)| k == "exclude_alerts").map(|(_, v)| v.as_str()) {
        None | Some("") => false,
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
        Some(other) => {
            return ApiError::new(
                ApiFamily::Prometheus,
                ErrorCode::BadData,
                format!("exclude_alerts: invalid boolean {other:?}"),
            )
            .into_response();
        }
    };
    let mut groups = Vec::new();
    for group in manager.groups() {
        let file = group.file.to_string_lossy().into_owned();
        if (!group_names.is_empty() && !group_names.contains(&group.group.name))
            || (!files.is_empty() && !files.contains(&file))
        {
            continue;
        }
        let state = group.snapshot();
        let rules: Vec<Value> = state
            .rules
            .iter()
            .filter(|r| match r.rule.kind {
                RuleKind::Alerting { .. } => want_alerts,
                RuleKind::Recording { .. } => want_records,
            })
            .filter(|r| names.is_empty() || names.iter().any(|n| n == r.rule.name()))
            .map(|r| rule_json(r, exclude_alerts))
            .collect();
        if rules.is_empty() && (kind.is_some() || !names.is_empty()) {
            continue;
        }
        groups.push(json!({
            "name": group.group.name,
            "file": file,
            "rules": rules,
            "interval": group.interval.as_secs_f64(),
            "limit": group.group.limit,
            "evaluationTime": state.evaluation_seconds,
            "lastEvaluation": format_go_time(state.last_evaluation),
        }));
    }
    axum::Json(json!({"status": "success", "data": {"groups": groups}})).into_response()
}

async fn alerts(State(manager): State<Arc<RuleManager>>) -> Response {
    let mut alerts = Vec::new();
    for group in manager.groups() {
        for rule in group.snapshot().rules {
            alerts.extend(rule.alerts.values().filter(|a| a.state != AlertState::Inactive).map(alert_json));
        }
    }
    axum::Json(json!({"status": "success", "data": {"alerts": alerts}})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_go_exponents() {
        assert_eq!(go_exponent(1.0), "1e+00");
        assert_eq!(go_exponent(0.25), "2.5e-01");
        assert_eq!(go_exponent(1234.5), "1.2345e+03");
        assert_eq!(go_exponent(-3e-120), "-3e-120");
        assert_eq!(go_exponent(f64::NAN), "NaN");
    }
}

// Pharos — alerting/src/rules/api.rs

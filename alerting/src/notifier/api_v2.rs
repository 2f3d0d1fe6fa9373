//! Alertmanager's HTTP API v2 (`api/v2/openapi.yaml`), mounted under `/alertmanager/api/v2`:
//! what amtool, Grafana's Alertmanager datasource and Prometheus servers (`POST /alerts`) call.
//!
//! Errors follow Alertmanager's two conventions: a body that does not fit the schema is
//! `{"code": 400, "message": …}` (its go-swagger layer); a handler's refusal is the message as
//! a JSON string with the status code (400 invalid, 404 unknown silence).

// Handlers return a ready response as their error: built at most once per request.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use pharos_proto::civil_time::{Fraction, format_rfc3339, now_nanos};
use pharos_proto::{ApiError, ApiFamily, ErrorCode};
use pharos_storage::tsdb::Matcher;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Notifier;
use super::config::{AlertmanagerConfig, parse_matchers};
use super::inhibit::inhibited_by;
use super::model::{Alert, LabelSet, matches_all};
use super::silences::{Silence, SilenceError, SilenceMatcher, silence_state};

/// The API v2 routes, relative to the mount point (`/alertmanager`).
pub fn router(notifier: Arc<Notifier>) -> Router {
    Router::new()
        .route("/api/v2/status", get(status))
        .route("/api/v2/receivers", get(receivers))
        .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(alert_groups))
        .route("/api/v2/silences", get(get_silences).post(post_silence))
        .route("/api/v2/silence/{id}", get(get_silence).delete(delete_silence))
        .route("/-/healthy", get(|| async { "OK" }))
        .route("/-/ready", get(|| async { "OK" }))
        .route("/api/v2/silence/", delete(|| async { handler_error(StatusCode::NOT_FOUND, "silence id missing") }))
        .with_state(notifier)
}

/// The Alertmanager release whose API v2 this is, reported as `versionInfo.version` (amtool warns
/// when its own version differs; Pharos' own version is in `revision`).
pub const ALERTMANAGER_API_VERSION: &str = "0.25.0";

/// Times as Alertmanager's API writes them: RFC 3339 with milliseconds, UTC.
pub fn api_time(nanos: i64) -> String {
    format_rfc3339(nanos, Fraction::Millis)
}

fn parse_api_time(field: &str, text: &str) -> Result<i64, Response> {
    pharos_query::parse_rfc3339_nanos(text)
        .ok_or_else(|| schema_error(format!("{field} in body must be of type date-time: {text:?}")))
}

fn schema_error(message: impl Into<String>) -> Response {
    ApiError::new(ApiFamily::Alertmanager, ErrorCode::BadData, message).into_response()
}

fn handler_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(Value::String(message.to_string()))).into_response()
}

/// Query parameters, repeated keys kept (`filter` repeats).
fn params(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn bool_param(params: &[(String, String)], key: &str, default: bool) -> Result<bool, Response> {
    match params.iter().rev().find(|(k, _)| k == key) {
        None => Ok(default),
        Some((_, v)) => match v.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(schema_error(format!("{key} in query must be of type boolean: {other:?}"))),
        },
    }
}

fn filter_matchers(params: &[(String, String)]) -> Result<Vec<Matcher>, Response> {
    let mut matchers = Vec::new();
    for (_, text) in params.iter().filter(|(k, _)| k == "filter") {
        let parsed = parse_matchers(text)
            .map_err(|e| handler_error(StatusCode::BAD_REQUEST, &format!("bad matcher format: {e}")))?;
        matchers.extend(parsed);
    }
    Ok(matchers)
}

async fn status(State(notifier): State<Arc<Notifier>>) -> Response {
    let info = notifier.build_info();
    let uptime = now_nanos() - i64::try_from(notifier.uptime_started().elapsed().as_nanos()).unwrap_or(0);
    axum::Json(json!({
        "cluster": {"name": "", "peers": [], "status": "disabled"},
        "versionInfo": {
            "branch": info.branch,
            "buildDate": info.build_date,
            "buildUser": info.build_user,
            "goVersion": info.go_version,
            "revision": format!("pharos-{}-{}", info.version, info.revision),
            "version": ALERTMANAGER_API_VERSION,
        },
        "config": {"original": notifier.config().original},
        "uptime": api_time(uptime),
    }))
    .into_response()
}

async fn receivers(State(notifier): State<Arc<Notifier>>) -> Response {
    let names: Vec<Value> = notifier.config().receivers.iter().map(|r| json!({"name": r.name})).collect();
    axum::Json(Value::Array(names)).into_response()
}

/// Why an alert is suppressed at a moment: the silences and the alerts that mute it.
struct AlertStatus {
    silenced_by: Vec<String>,
    inhibited_by: Vec<String>,
}

impl AlertStatus {
    fn of(notifier: &Notifier, config: &AlertmanagerConfig, alert: &Alert, now: i64) -> AlertStatus {
        AlertStatus {
            silenced_by: notifier.silences().mutes(&alert.labels, now),
            inhibited_by: inhibited_by(&config.inhibit_rules, notifier.alerts(), &alert.labels, now)
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

/// An alert as `gettableAlert`.
fn gettable_alert(alert: &Alert, receivers: &[String], status: AlertStatus) -> Value {
    let state = if status.silenced_by.is_empty() && status.inhibited_by.is_empty() { "active" } else { "suppressed" };
    json!({
        "annotations": alert.annotations,
        "endsAt": api_time(alert.ends_at),
        "fingerprint": alert.fingerprint().to_string(),
        "receivers": receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "startsAt": api_time(alert.starts_at),
        "status": {
            "inhibitedBy": status.inhibited_by, "silencedBy": status.silenced_by, "mutedBy": [], "state": state,
        },
        "updatedAt": api_time(alert.updated_at),
        "generatorURL": alert.generator_url,
        "labels": alert.labels,
    })
}

/// The filters `GET /alerts` and `GET /alerts/groups` share.
struct AlertFilter {
    active: bool,
    silenced: bool,
    inhibited: bool,
    matchers: Vec<Matcher>,
    receiver: Option<regex::Regex>,
}

impl AlertFilter {
    fn from_params(params: &[(String, String)]) -> Result<AlertFilter, Response> {
        let receiver = match params.iter().rev().find(|(k, _)| k == "receiver") {
            Some((_, pattern)) => Some(regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                handler_error(StatusCode::BAD_REQUEST, &format!("failed to parse receiver param: {e}"))
            })?),
            None => None,
        };
        Ok(AlertFilter {
            active: bool_param(params, "active", true)?,
            silenced: bool_param(params, "silenced", true)?,
            inhibited: bool_param(params, "inhibited", true)?,
            matchers: filter_matchers(params)?,
            receiver,
        })
    }

    /// The alert's `gettableAlert` form, if it passes.
    fn keep(
        &self,
        notifier: &Notifier,
        config: &AlertmanagerConfig,
        alert: &Alert,
        receivers: &[String],
        now: i64,
    ) -> Option<Value> {
        if alert.resolved_at(now) || !matches_all(&self.matchers, &alert.labels) {
            return None;
        }
        if let Some(pattern) = &self.receiver
            && !receivers.iter().any(|r| pattern.is_match(r))
        {
            return None;
        }
        let status = AlertStatus::of(notifier, config, alert, now);
        let (silenced, inhibited) = (!status.silenced_by.is_empty(), !status.inhibited_by.is_empty());
        let passes =
            (self.silenced || !silenced) && (self.inhibited || !inhibited) && (self.active || silenced || inhibited);
        passes.then(|| gettable_alert(alert, receivers, status))
    }
}

async fn get_alerts(State(notifier): State<Arc<Notifier>>, RawQuery(query): RawQuery) -> Response {
    let params = params(query);
    let filter = match AlertFilter::from_params(&params) {
        Ok(filter) => filter,
        Err(response) => return response,
    };
    let (now, config) = (now_nanos(), notifier.config());
    let list: Vec<Value> = notifier
        .alerts()
        .list()
        .iter()
        .filter_map(|alert| {
            let mut receivers: Vec<String> =
                config.route.match_alert(&alert.labels).iter().map(|r| r.receiver.clone()).collect();
            receivers.dedup();
            filter.keep(&notifier, &config, alert, &receivers, now)
        })
        .collect();
    axum::Json(Value::Array(list)).into_response()
}

async fn alert_groups(State(notifier): State<Arc<Notifier>>, RawQuery(query): RawQuery) -> Response {
    let params = params(query);
    let filter = match AlertFilter::from_params(&params) {
        Ok(filter) => filter,
        Err(response) => return response,
    };
    let (now, config) = (now_nanos(), notifier.config());
    let mut groups = Vec::new();
    for (info, alerts) in notifier.dispatcher().groups() {
        let receivers = [info.receiver.clone()];
        let kept: Vec<Value> =
            alerts.iter().filter_map(|a| filter.keep(&notifier, &config, a, &receivers, now)).collect();
        if !kept.is_empty() {
            groups.push(json!({"labels": info.labels, "receiver": {"name": info.receiver}, "alerts": kept}));
        }
    }
    axum::Json(Value::Array(groups)).into_response()
}

/// `postableAlert`.
#[derive(Deserialize)]
struct PostableAlert {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(default, rename = "endsAt")]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: String,
}

async fn post_alerts(State(notifier): State<Arc<Notifier>>, body: axum::body::Bytes) -> Response {
    let posted: Vec<PostableAlert> = match serde_json::from_slice(&body) {
        Ok(posted) => posted,
        Err(e) => return schema_error(format!("parsing alerts body failed: {e}")),
    };
    let mut alerts = Vec::with_capacity(posted.len());
    for p in posted {
        let time = |field: &str, text: &Option<String>| match text.as_deref() {
            None | Some("") | Some("0001-01-01T00:00:00Z") | Some("0001-01-01T00:00:00.000Z") => Ok(0),
            Some(text) => parse_api_time(field, text),
        };
        let starts_at = match time("startsAt", &p.starts_at) {
            Ok(t) => t,
            Err(response) => return response,
        };
        let ends_at = match time("endsAt", &p.ends_at) {
            Ok(t) => t,
            Err(response) => return response,
        };
        alerts.push(Alert {
            labels: p.labels,
            annotations: p.annotations,
            starts_at,
            ends_at,
            updated_at: 0,
            generator_url: p.generator_url,
            timeout: false,
        });
    }
    let errors = notifier.receive(alerts);
    if errors.is_empty() {
        return StatusCode::OK.into_response();
    }
    let message = errors.iter().map(|(i, e)| format!("alert {i}: {e}")).collect::<Vec<_>>().join("; ");
    handler_error(StatusCode::BAD_REQUEST, &message)
}

/// The status Alertmanager answers a silence operation's failure with.
fn silence_error_status(e: &SilenceError) -> StatusCode {
    match e {
        SilenceError::Invalid(_) => StatusCode::BAD_REQUEST,
        SilenceError::NotFound => StatusCode::NOT_FOUND,
        SilenceError::Snapshot(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn gettable_silence(silence: &Silence, now: i64) -> Value {
    json!({
        "id": silence.id,
        "status": {"state": silence_state(silence, now).as_str()},
        "updatedAt": api_time(silence.updated_at),
        "comment": silence.comment,
        "createdBy": silence.created_by,
        "endsAt": api_time(silence.ends_at),
        "matchers": silence.matchers.iter().map(|m| json!({
            "isEqual": m.is_equal, "isRegex": m.is_regex, "name": m.name, "value": m.value,
        })).collect::<Vec<_>>(),
        "startsAt": api_time(silence.starts_at),
    })
}

/// Whether a silence passes `filter` matchers: they are applied to the label set made of the
/// silence's plain equality matchers, as Alertmanager does.
fn silence_passes(silence: &Silence, matchers: &[Matcher]) -> bool {
    let labels: LabelSet = silence
        .matchers
        .iter()
        .filter(|m| m.is_equal && !m.is_regex)
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    matches_all(matchers, &labels)
}

async fn get_silences(State(notifier): State<Arc<Notifier>>, RawQuery(query): RawQuery) -> Response {
    let params = params(query);
    let matchers = match filter_matchers(&params) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let now = now_nanos();
    let mut silences: Vec<Silence> =
        notifier.silences().list().into_iter().filter(|s| silence_passes(s, &matchers)).collect();
    // Active by end ascending, then pending by start ascending, then expired by end descending.
    silences.sort_by(|a, b| {
        let rank = |s: &Silence| match silence_state(s, now).as_str() {
            "active" => 0,
            "pending" => 1,
            _ => 2,
        };
        let (ra, rb) = (rank(a), rank(b));
        ra.cmp(&rb).then_with(|| match ra {
            0 => a.ends_at.cmp(&b.ends_at),
            1 => a.starts_at.cmp(&b.starts_at),
            _ => b.ends_at.cmp(&a.ends_at),
        })
    });
    axum::Json(Value::Array(silences.iter().map(|s| gettable_silence(s, now)).collect())).into_response()
}

#[derive(Deserialize)]
struct PostableSilenceMatcher {
    name: String,
    value: String,
    #[serde(rename = "isRegex")]
    is_regex: bool,
    #[serde(default = "default_true", rename = "isEqual")]
    is_equal: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<PostableSilenceMatcher>,
    #[serde(rename = "startsAt")]
    starts_at: String,
    #[serde(rename = "endsAt")]
    ends_at: String,
    #[serde(rename = "createdBy")]
    created_by: String,
    comment: String,
}

async fn post_silence(State(notifier): State<Arc<Notifier>>, body: axum::body::Bytes) -> Response {
    let posted: PostableSilence = match serde_json::from_slice(&body) {
        Ok(posted) => posted,
        Err(e) => return schema_error(format!("parsing silence body failed: {e}")),
    };
    let starts_at = match parse_api_time("startsAt", &posted.starts_at) {
        Ok(t) => t,
        Err(response) => return response,
    };
    let ends_at = match parse_api_time("endsAt", &posted.ends_at) {
        Ok(t) => t,
        Err(response) => return response,
    };
    let silence = Silence {
        id: posted.id,
        matchers: posted
            .matchers
            .into_iter()
            .map(|m| SilenceMatcher { name: m.name, value: m.value, is_regex: m.is_regex, is_equal: m.is_equal })
            .collect(),
        starts_at,
        ends_at,
        updated_at: 0,
        created_by: posted.created_by,
        comment: posted.comment,
    };
    match notifier.silences().upsert(silence, now_nanos()) {
        Ok(id) => axum::Json(json!({"silenceID": id})).into_response(),
        Err(e) => handler_error(silence_error_status(&e), &e.to_string()),
    }
}

async fn get_silence(State(notifier): State<Arc<Notifier>>, Path(id): Path<String>) -> Response {
    match notifier.silences().get(&id) {
        Some(silence) => axum::Json(gettable_silence(&silence, now_nanos())).into_response(),
        None => handler_error(StatusCode::NOT_FOUND, &format!("silence {id} not found")),
    }
}

async fn delete_silence(State(notifier): State<Arc<Notifier>>, Path(id): Path<String>) -> Response {
    match notifier.silences().expire(&id, now_nanos()) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => handler_error(silence_error_status(&e), &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifier::NotifierOptions;
    use crate::notifier::config::default_config;
    use http_body_util::BodyExt;
    use pharos_proto::BuildInfo;
    use pharos_proto::exposition::Registry;
    use tower::ServiceExt;

    async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (u16, Value) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn notifier(dir: &std::path::Path) -> Arc<Notifier> {
        let options = NotifierOptions {
            data_dir: dir.to_path_buf(),
            retention: std::time::Duration::from_secs(3600),
            external_url: "http://x".into(),
        };
        Notifier::open(options, default_config(), &Registry::default(), Arc::new(BuildInfo::for_tests())).unwrap()
    }

    #[tokio::test]
    async fn a_bad_alert_is_refused_alone_and_bad_bodies_get_alertmanagers_errors() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(notifier(dir.path()));
        let (status, body) = call(
            &app,
            "POST",
            "/api/v2/alerts",
            r#"[{"labels":{}}, {"labels":{"alertname":"Good"}}, {"labels":{"a":"b"},"startsAt":"2026-01-02T00:00:00Z","endsAt":"2026-01-01T00:00:00Z"}]"#,
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!("alert 0: at least one label pair required; alert 2: start time must be before end time")
        );
        let (_, alerts) = call(&app, "GET", "/api/v2/alerts", "").await;
        assert_eq!(alerts.as_array().unwrap().len(), 1, "the good alert is kept: {alerts}");
        assert_eq!(alerts[0]["labels"]["alertname"], "Good");
        assert_eq!(alerts[0]["status"]["state"], "active");

        let (status, body) = call(&app, "POST", "/api/v2/alerts", "{not json").await;
        assert_eq!(status, 400);
        assert_eq!(body["code"], 400);
        assert!(body["message"].as_str().unwrap().contains("parsing alerts body"), "{body}");
        let (status, body) = call(&app, "GET", "/api/v2/alerts?filter=alertname%3D~%22(%22", "").await;
        assert_eq!(status, 400, "{body}");
        let (status, _) = call(&app, "GET", "/api/v2/alerts?active=maybe", "").await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn silences_are_created_updated_listed_and_expired() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(notifier(dir.path()));
        let silence = |id: &str, starts_at: &str, comment: &str| {
            format!(
                r#"{{"id":"{id}","matchers":[{{"name":"alertname","value":"Down","isRegex":false}}],"startsAt":"{starts_at}","endsAt":"2099-01-01T00:00:00Z","createdBy":"me","comment":"{comment}"}}"#
            )
        };
        let (status, body) =
            call(&app, "POST", "/api/v2/silences", &silence("", "2020-01-01T00:00:00Z", "first")).await;
        assert_eq!(status, 200, "{body}");
        let id = body["silenceID"].as_str().unwrap().to_string();
        let (_, got) = call(&app, "GET", &format!("/api/v2/silence/{id}"), "").await;
        assert_eq!(got["status"]["state"], "active");
        assert_eq!(
            got["matchers"][0],
            json!({"isEqual": true, "isRegex": false, "name": "alertname", "value": "Down"})
        );
        assert!(got["startsAt"].as_str().unwrap().ends_with('Z'));
        // A start in the past was moved to the creation time, as Alertmanager does; updating the
        // comment with the stored start keeps the id (what `amtool silence update` sends).
        let starts_at = got["startsAt"].as_str().unwrap().to_string();
        let (_, body) = call(&app, "POST", "/api/v2/silences", &silence(&id, &starts_at, "second")).await;
        assert_eq!(body["silenceID"], id.as_str());
        let (_, list) = call(&app, "GET", "/api/v2/silences?filter=alertname%3D%22Down%22", "").await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["comment"], "second");
        let (_, list) = call(&app, "GET", "/api/v2/silences?filter=alertname%3D%22Up%22", "").await;
        assert!(list.as_array().unwrap().is_empty());
        // Errors: no matchers (400, a JSON string), unknown ids (404).
        let (status, body) = call(
            &app,
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"me","comment":""}"#,
        )
        .await;
        assert_eq!(status, 400);
        assert!(body.is_string(), "{body}");
        assert_eq!(call(&app, "GET", "/api/v2/silence/00000000-0000-4000-8000-000000000000", "").await.0, 404);
        assert_eq!(call(&app, "DELETE", &format!("/api/v2/silence/{id}"), "").await.0, 200);
        let (_, got) = call(&app, "GET", &format!("/api/v2/silence/{id}"), "").await;
        assert_eq!(got["status"]["state"], "expired");
        let (_, receivers) = call(&app, "GET", "/api/v2/receivers", "").await;
        assert_eq!(receivers, json!([{"name": "default"}]));
    }

    #[test]
    fn api_times_have_milliseconds() {
        assert_eq!(api_time(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123Z");
        assert_eq!(api_time(0), "1970-01-01T00:00:00.000Z");
    }
}

// Pharos — alerting/src/notifier/api_v2.rs

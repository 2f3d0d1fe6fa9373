//! The Prometheus HTTP API under `/api/v1` (docs/querying/api.md of Prometheus): build info and
//! the metadata endpoints (series, labels, label values, metadata) plus `/api/v1/export`, one JSON
//! line per series as VictoriaMetrics exports.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pharos_proto::{ApiError, ApiFamily};
use pharos_storage::tsdb::{Matcher, is_stale_nan};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::QueryState;
use crate::params::{MAX_TIME_MS, MIN_TIME_MS, Params, time_param};
use crate::selector::parse_selector;

/// The success envelope: `{"status":"success","data":…}` (+ `warnings` when there are any).
#[derive(Serialize)]
pub(crate) struct Success<T> {
    status: &'static str,
    data: T,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

pub(crate) fn success<T: Serialize>(data: T) -> Json<Success<T>> {
    Json(Success { status: "success", data, warnings: Vec::new() })
}

fn success_with_warnings<T: Serialize>(data: T, warnings: Vec<String>) -> Json<Success<T>> {
    Json(Success { status: "success", data, warnings })
}

fn bad_data(message: impl Into<String>) -> ApiError {
    ApiError::new(ApiFamily::Prometheus, pharos_proto::ErrorCode::BadData, message)
}

pub(crate) fn router() -> Router<QueryState> {
    Router::new()
        .route("/api/v1/status/buildinfo", get(build_info))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/export", get(export).post(export))
}

/// `GET /api/v1/status/buildinfo`. No `features` map: a non-empty one would make Grafana treat the
/// server as Mimir.
async fn build_info(State(state): State<QueryState>) -> impl IntoResponse {
    success(state.build_info.as_ref().clone())
}

/// start, end and the `match[]` selectors of a metadata request.
struct SeriesQuery {
    start: i64,
    end: i64,
    selectors: Vec<Vec<Matcher>>,
    limit: Option<usize>,
}

impl SeriesQuery {
    fn parse(params: &Params, require_match: bool) -> Result<SeriesQuery, ApiError> {
        let start = time_param(params, "start", MIN_TIME_MS).map_err(bad_data)?;
        let end = time_param(params, "end", MAX_TIME_MS).map_err(bad_data)?;
        if end < start {
            return Err(bad_data("end timestamp must not be before start time"));
        }
        let mut selectors = Vec::new();
        for text in params.all("match[]") {
            selectors.push(parse_selector(text).map_err(|e| bad_data(format!("invalid parameter \"match[]\": {e}")))?);
        }
        if require_match && selectors.is_empty() {
            return Err(bad_data("no match[] parameter provided"));
        }
        let limit = match params.get("limit") {
            None | Some("") => None,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n > 0 => Some(n as usize),
                Ok(0) => None,
                _ => return Err(bad_data(format!("invalid parameter \"limit\": cannot parse {text:?} to a valid limit"))),
            },
        };
        Ok(SeriesQuery { start, end, selectors, limit })
    }

    /// Cut `items` to the limit, with Prometheus' warning when something was cut.
    fn apply_limit<T>(&self, items: &mut Vec<T>) -> Vec<String> {
        match self.limit {
            Some(limit) if items.len() > limit => {
                items.truncate(limit);
                vec!["results truncated due to limit".to_string()]
            }
            _ => Vec::new(),
        }
    }
}

async fn series(State(state): State<QueryState>, params: Params) -> Result<Response, ApiError> {
    let q = SeriesQuery::parse(&params, true)?;
    let tsdb = state.storage.tsdb().clone();
    let (selectors, start, end) = (q.selectors.clone(), q.start, q.end);
    let mut found = tokio::task::spawn_blocking(move || tsdb.series_of_any(&selectors, start, end)).await.map_err(internal)?;
    let warnings = q.apply_limit(&mut found);
    let data: Vec<Map<String, Value>> = found
        .into_iter()
        .map(|labels| labels.iter().map(|l| (l.name.clone(), Value::String(l.value.clone()))).collect())
        .collect();
    Ok(success_with_warnings(data, warnings).into_response())
}

async fn labels(State(state): State<QueryState>, params: Params) -> Result<Response, ApiError> {
    let q = SeriesQuery::parse(&params, false)?;
    let tsdb = state.storage.tsdb().clone();
    let selectors = q.selectors.clone();
    let mut names = tokio::task::spawn_blocking(move || tsdb.label_names(&selectors, q.start, q.end)).await.map_err(internal)?;
    let warnings = q.apply_limit(&mut names);
    Ok(success_with_warnings(names, warnings).into_response())
}

async fn label_values(State(state): State<QueryState>, Path(name): Path<String>, params: Params) -> Result<Response, ApiError> {
    let name = unescape_label_name(&name).ok_or_else(|| bad_data(format!("invalid label name: {name:?}")))?;
    let q = SeriesQuery::parse(&params, false)?;
    let tsdb = state.storage.tsdb().clone();
    let selectors = q.selectors.clone();
    let mut values =
        tokio::task::spawn_blocking(move || tsdb.label_values(&name, &selectors, q.start, q.end)).await.map_err(internal)?;
    let warnings = q.apply_limit(&mut values);
    Ok(success_with_warnings(values, warnings).into_response())
}

async fn metadata(State(state): State<QueryState>, params: Params) -> Result<Response, ApiError> {
    let parse_limit = |key: &str| -> Result<Option<usize>, ApiError> {
        match params.get(key) {
            None | Some("") => Ok(None),
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n < 0 => Ok(None),
                Ok(n) => Ok(Some(n as usize)),
                Err(_) => Err(bad_data(format!("invalid parameter \"{key}\": cannot parse {text:?}"))),
            },
        }
    };
    let limit = parse_limit("limit")?;
    let _limit_per_metric = parse_limit("limit_per_metric")?;
    let metric = params.get("metric").filter(|m| !m.is_empty());
    let mut data = Map::new();
    for (name, m) in state.storage.tsdb().metadata() {
        if metric.is_some_and(|wanted| wanted != name) {
            continue;
        }
        if limit.is_some_and(|limit| data.len() >= limit) {
            break;
        }
        // One entry per family: the latest metadata received (so limit_per_metric ≥ 1 changes nothing).
        data.insert(name, json!([{"type": m.kind.as_str(), "help": m.help, "unit": m.unit}]));
    }
    Ok(success(data).into_response())
}

/// `/api/v1/export?match[]=…&start=…&end=…`: one JSON object per line and per series,
/// `{"metric":{…},"values":[…],"timestamps":[…]}`, timestamps in milliseconds. Staleness markers
/// are not exported; other NaN and infinite values are written as the strings "NaN", "+Inf", "-Inf".
async fn export(State(state): State<QueryState>, params: Params) -> Result<Response, ApiError> {
    let q = SeriesQuery::parse(&params, true)?;
    let tsdb = state.storage.tsdb().clone();
    let body = tokio::task::spawn_blocking(move || {
        let mut selected = Vec::new();
        for matchers in &q.selectors {
            selected.extend(tsdb.select(matchers, q.start, q.end)?);
        }
        selected.sort_by(|a, b| a.labels.cmp(&b.labels));
        selected.dedup_by(|a, b| a.labels == b.labels);
        let mut out = Vec::new();
        for series in selected {
            let metric: Map<String, Value> =
                series.labels.iter().map(|l| (l.name.clone(), Value::String(l.value.clone()))).collect();
            let kept: Vec<_> = series.samples.iter().filter(|s| !is_stale_nan(s.v)).collect();
            let values: Vec<Value> = kept.iter().map(|s| float_json(s.v)).collect();
            let timestamps: Vec<i64> = kept.iter().map(|s| s.t).collect();
            if timestamps.is_empty() {
                continue;
            }
            let line = json!({"metric": metric, "values": values, "timestamps": timestamps});
            serde_json::to_writer(&mut out, &line).expect("JSON values always serialize");
            out.push(b'\n');
        }
        Ok::<_, pharos_storage::StorageError>(out)
    })
    .await
    .map_err(internal)?
    .map_err(|e| ApiError::new(ApiFamily::Prometheus, pharos_proto::ErrorCode::Internal, e.to_string()))?;
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/stream+json"));
    Ok(response)
}

fn float_json(v: f64) -> Value {
    if v.is_finite() {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    } else {
        Value::String(pharos_proto::exposition::format_value(v))
    }
}

fn internal(e: tokio::task::JoinError) -> ApiError {
    ApiError::new(ApiFamily::Prometheus, pharos_proto::ErrorCode::Internal, format!("query task failed: {e}"))
}

/// Label names in URL paths may be escaped as Prometheus' `U__` form (`U__a_2e_b` = `a.b`).
fn unescape_label_name(name: &str) -> Option<String> {
    let Some(rest) = name.strip_prefix("U__") else { return Some(name.to_string()) };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|c| *c != '_').collect();
        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use pharos_proto::BuildInfo;
    use pharos_storage::tsdb::{Labels, MetricMetadata, MetricType, STALE_NAN_BITS, Sample, SeriesWrite, WriteBatch};
    use pharos_storage::{Storage, StorageOptions};
    use tower::ServiceExt;

    use super::unescape_label_name;
    use crate::{QueryState, router};

    fn state_with_data() -> (QueryState, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let storage = Storage::open(&StorageOptions::in_dir(tmp.path())).unwrap();
        let s = |pairs: &[(&str, &str)], samples: &[(i64, f64)]| SeriesWrite {
            labels: Labels::from_pairs(pairs.iter().copied()),
            samples: samples.iter().map(|&(t, v)| Sample { t, v }).collect(),
        };
        storage
            .tsdb()
            .append(&WriteBatch {
                series: vec![
                    s(&[("__name__", "up"), ("job", "node"), ("instance", "a:9100")], &[(1000, 1.0), (16000, 0.0)]),
                    s(&[("__name__", "up"), ("job", "prom")], &[(1000, 1.0), (2000, f64::from_bits(STALE_NAN_BITS))]),
                    s(&[("__name__", "node_load1"), ("job", "node")], &[(1000, f64::NAN), (2000, 0.25)]),
                ],
                metadata: vec![MetricMetadata {
                    metric_family_name: "up".into(),
                    kind: MetricType::Gauge,
                    help: "Target up.".into(),
                    unit: String::new(),
                }],
            })
            .unwrap();
        (QueryState::new(Arc::new(BuildInfo::for_tests()), Arc::new(storage), Default::default()), tmp)
    }

    async fn get(state: &QueryState, uri: &str) -> (StatusCode, String) {
        let response = router(state.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn json(body: &str) -> serde_json::Value {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    #[tokio::test]
    async fn buildinfo_has_prometheus_shape() {
        let (state, _tmp) = state_with_data();
        let (status, body) = get(&state, "/api/v1/status/buildinfo").await;
        assert_eq!(status, StatusCode::OK);
        let v = json(&body);
        assert_eq!(v["status"], "success");
        for key in ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"] {
            assert!(v["data"][key].is_string(), "{key} missing in {v}");
        }
        assert!(v["data"].get("features").is_none());
    }

    #[tokio::test]
    async fn series_labels_and_values() {
        let (state, _tmp) = state_with_data();
        let (status, body) = get(&state, "/api/v1/series?match[]=up").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            json(&body)["data"],
            serde_json::json!([
                {"__name__":"up","instance":"a:9100","job":"node"},
                {"__name__":"up","job":"prom"}
            ])
        );
        let (_, body) = get(&state, "/api/v1/series?match[]=up&match[]=%7Bjob%3D%22node%22%7D&limit=2").await;
        let v = json(&body);
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["warnings"][0], "results truncated due to limit");
        let (_, body) = get(&state, "/api/v1/labels").await;
        assert_eq!(json(&body)["data"], serde_json::json!(["__name__", "instance", "job"]));
        let (_, body) = get(&state, "/api/v1/label/__name__/values").await;
        assert_eq!(json(&body)["data"], serde_json::json!(["node_load1", "up"]));
        let (_, body) = get(&state, "/api/v1/label/job/values?match[]=node_load1").await;
        assert_eq!(json(&body)["data"], serde_json::json!(["node"]));
        let (_, body) = get(&state, "/api/v1/label/job/values?start=10&end=20").await;
        assert_eq!(json(&body)["data"], serde_json::json!(["node"]), "only series with data in range");
        let (_, body) = get(&state, "/api/v1/label/nosuch/values").await;
        assert_eq!(json(&body)["data"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn bad_parameters_are_bad_data() {
        let (state, _tmp) = state_with_data();
        for uri in [
            "/api/v1/series",
            "/api/v1/series?match[]=%7Bjob%3D%22%22%7D",
            "/api/v1/series?match[]=up&start=yesterday",
            "/api/v1/series?match[]=up&start=10&end=5",
            "/api/v1/labels?limit=x",
        ] {
            let (status, body) = get(&state, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(json(&body)["errorType"], "bad_data", "{uri}");
        }
    }

    #[tokio::test]
    async fn metadata_and_export() {
        let (state, _tmp) = state_with_data();
        let (_, body) = get(&state, "/api/v1/metadata").await;
        assert_eq!(json(&body)["data"], serde_json::json!({"up":[{"type":"gauge","help":"Target up.","unit":""}]}));
        let (_, body) = get(&state, "/api/v1/metadata?metric=nope").await;
        assert_eq!(json(&body)["data"], serde_json::json!({}));
        let (status, body) = get(&state, "/api/v1/export?match[]=%7Bjob%3D~%22.%2B%22%7D").await;
        assert_eq!(status, StatusCode::OK);
        let lines: Vec<serde_json::Value> = body.lines().map(json).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["metric"]["__name__"], "node_load1");
        assert_eq!(lines[0]["values"], serde_json::json!(["NaN", 0.25]));
        assert_eq!(lines[0]["timestamps"], serde_json::json!([1000, 2000]));
        assert_eq!(lines[2]["values"], serde_json::json!([1.0]), "the staleness marker is not exported");
    }

    #[test]
    fn escaped_label_names() {
        assert_eq!(unescape_label_name("job").as_deref(), Some("job"));
        assert_eq!(unescape_label_name("U__a_2e_b").as_deref(), Some("a.b"));
        assert_eq!(unescape_label_name("U__a__b").as_deref(), Some("a_b"));
    }
}

// Pharos — query/src/prometheus_api.rs

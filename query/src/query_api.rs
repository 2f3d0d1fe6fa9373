//! `/api/v1/query`, `/api/v1/query_range` and `/api/v1/format_query`: PromQL over HTTP, with
//! Prometheus' parameters, error types and value encoding.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pharos_proto::{ApiError, ApiFamily, ErrorCode};
use pharos_storage::tsdb::Labels;

use crate::QueryState;
use crate::params::{Params, parse_time};
use crate::prometheus_api::success;
use crate::promql::{self, CancelToken, EvalError, QueryResult, QuerySpec, QueryValue, push_u64, write_api_float};

pub(crate) fn router() -> Router<QueryState> {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/format_query", get(format_query).post(format_query))
        .route("/api/v1/query_exemplars", get(query_exemplars).post(query_exemplars))
}

fn api_error(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(ApiFamily::Prometheus, code, message)
}

fn bad_data(message: impl Into<String>) -> ApiError {
    api_error(ErrorCode::BadData, message)
}

/// A duration parameter: float seconds or a Prometheus duration, in milliseconds.
fn duration_param(params: &Params, key: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = params.get(key).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(seconds) = text.parse::<f64>() {
        let ms = seconds * 1000.0;
        if !ms.is_finite() || ms.abs() > i64::MAX as f64 {
            return Err(bad_data(format!(
                "invalid parameter {key:?}: cannot parse {text:?} to a valid duration. It overflows int64"
            )));
        }
        return Ok(Some(ms.round() as i64));
    }
    match pharos_proto::duration::parse_millis(text) {
        Ok(ms) => Ok(Some(ms as i64)),
        Err(_) => Err(bad_data(format!("invalid parameter {key:?}: cannot parse {text:?} to a valid duration"))),
    }
}

fn time_or_now(params: &Params, key: &str) -> Result<i64, ApiError> {
    match params.get(key).filter(|t| !t.is_empty()) {
        None => Ok(now_ms()),
        Some(text) => parse_time(text).map_err(|e| bad_data(format!("invalid parameter {key:?}: {e}"))),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn parse_query(params: &Params) -> Result<(String, promql::ast::Expr), ApiError> {
    let text = params.get("query").unwrap_or("").to_string();
    if text.trim().is_empty() {
        // Prometheus: parse error on empty input.
        return Err(bad_data("invalid parameter \"query\": 1:1: parse error: no expression found in input"));
    }
    let expr = promql::parse(&text).map_err(|e| bad_data(format!("invalid parameter \"query\": {e}")))?;
    Ok((text, expr))
}

struct Run {
    text: String,
    expr: promql::ast::Expr,
    start: i64,
    end: i64,
    step: i64,
    timeout: Option<Duration>,
    lookback: Option<i64>,
    limit: Option<usize>,
    stats: bool,
}

async fn query(State(state): State<QueryState>, params: Params) -> Result<Response, ApiError> {
    let (text, expr) = parse_query(&params)?;
    let t = time_or_now(&params, "time")?;
    let run = Run {
        text,
        expr,
        start: t,
        end: t,
        step: 0,
        timeout: duration_param(&params, "timeout")?.map(|ms| Duration::from_millis(ms.max(0) as u64)),
        lookback: duration_param(&params, "lookback_delta")?,
        limit: limit_param(&params)?,
        stats: params.get("stats").is_some_and(|s| !s.is_empty()),
    };
    execute(state, run).await
}

async fn query_range(State(state): State<QueryState>, params: Params) -> Result<Response, ApiError> {
    let start = match params.get("start") {
        Some(t) if !t.is_empty() => parse_time(t).map_err(|e| bad_data(format!("invalid parameter \"start\": {e}")))?,
        _ => {
            return Err(bad_data("invalid parameter \"start\": cannot parse \"\" to a valid timestamp"));
        }
    };
    let end = match params.get("end") {
        Some(t) if !t.is_empty() => parse_time(t).map_err(|e| bad_data(format!("invalid parameter \"end\": {e}")))?,
        _ => {
            return Err(bad_data("invalid parameter \"end\": cannot parse \"\" to a valid timestamp"));
        }
    };
    if end < start {
        return Err(bad_data("invalid parameter \"end\": end timestamp must not be before start time"));
    }
    let step = match duration_param(&params, "step")? {
        Some(s) => s,
        None => {
            return Err(bad_data("invalid parameter \"step\": cannot parse \"\" to a valid duration"));
        }
    };
    if step <= 0 {
        return Err(bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > 11_000 {
        return Err(bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let (text, expr) = parse_query(&params)?;
    let run = Run {
        text,
        expr,
        start,
        end,
        step,
        timeout: duration_param(&params, "timeout")?.map(|ms| Duration::from_millis(ms.max(0) as u64)),
        lookback: duration_param(&params, "lookback_delta")?,
        limit: limit_param(&params)?,
        stats: params.get("stats").is_some_and(|s| !s.is_empty()),
    };
    execute(state, run).await
}

fn limit_param(params: &Params) -> Result<Option<usize>, ApiError> {
    match params.get("limit") {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(0) => Ok(None),
            Ok(n) if n > 0 => Ok(Some(n as usize)),
            _ => Err(bad_data(format!("invalid parameter \"limit\": cannot parse {text:?} to a valid limit"))),
        },
    }
}

/// Cancels the query when the request future is dropped (the client went away).
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

async fn execute(state: QueryState, run: Run) -> Result<Response, ApiError> {
    if run.expr.value_type() != promql::ast::ValueType::Vector
        && run.expr.value_type() != promql::ast::ValueType::Scalar
        && run.step != 0
    {
        return Err(bad_data(format!(
            "invalid parameter \"query\": invalid expression type {:?} for range query, must be Scalar or instant Vector",
            run.expr.value_type().describe()
        )));
    }
    let cancel = CancelToken::default();
    let _guard = CancelOnDrop(cancel.clone());
    let mut options = state.engine.as_ref().clone();
    if let Some(t) = run.timeout {
        options.timeout = options.timeout.min(t);
    }
    let tsdb = state.storage.tsdb().clone();
    let began = Instant::now();
    // The timeout covers waiting for a slot, as Prometheus' covers its queue.
    let permit = match tokio::time::timeout(options.timeout, state.query_slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => return Err(api_error(ErrorCode::Unavailable, "the query engine is shutting down")),
        Err(_) => return Err(api_error(ErrorCode::Timeout, "query timed out in query queue")),
    };
    options.timeout = options.timeout.saturating_sub(began.elapsed());
    let run = Arc::new(run);
    let job = run.clone();
    let result = tokio::task::spawn_blocking(move || {
        // Held until the evaluation ends, even when the client has gone.
        let _permit = permit;
        let spec = QuerySpec {
            expr: &job.expr,
            text: &job.text,
            start: job.start,
            end: job.end,
            step: job.step,
            lookback_delta: job.lookback,
        };
        promql::execute(tsdb.as_ref(), &options, &spec, &cancel)
    })
    .await
    .map_err(|e| api_error(ErrorCode::Internal, format!("query task failed: {e}")))?;
    let elapsed = began.elapsed();
    match result {
        Ok(result) => Ok(encode(&result, run.limit, run.stats.then_some(elapsed))),
        Err(e) => Err(eval_error(e)),
    }
}

pub(crate) fn eval_error(e: EvalError) -> ApiError {
    let code = match &e {
        EvalError::Timeout(_) => ErrorCode::Timeout,
        EvalError::Canceled(_) => ErrorCode::Canceled,
        EvalError::TooManySamples(_) | EvalError::Execution(_) => ErrorCode::Execution,
        EvalError::Storage(_) => ErrorCode::Internal,
    };
    api_error(code, e.to_string())
}

/// The success envelope written directly (large matrices are not built as JSON trees).
fn encode(result: &QueryResult, limit: Option<usize>, stats: Option<Duration>) -> Response {
    let points: usize = match &result.value {
        QueryValue::Matrix(series) => series.iter().map(|s| s.points.len()).sum(),
        QueryValue::Vector(samples) => samples.len(),
        _ => 1,
    };
    let mut out = String::with_capacity(256 + points * 32);
    out.push_str("{\"status\":\"success\",\"data\":{\"resultType\":\"");
    out.push_str(result.value.result_type());
    out.push_str("\",\"result\":");
    let mut warnings = result.warnings.clone();
    match &result.value {
        QueryValue::Scalar { t, v } => {
            write_point(&mut out, *t, *v);
        }
        QueryValue::String { t, s } => {
            out.push('[');
            write_time(&mut out, *t);
            out.push(',');
            out.push_str(&serde_json::to_string(s).unwrap_or_default());
            out.push(']');
        }
        QueryValue::Vector(samples) => {
            let n = limit.map_or(samples.len(), |l| l.min(samples.len()));
            if n < samples.len() {
                warnings.push("results truncated due to limit".to_string());
            }
            out.push('[');
            for (i, s) in samples[..n].iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                out.push_str(",\"value\":");
                write_point(&mut out, s.t, s.v);
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            let n = limit.map_or(series.len(), |l| l.min(series.len()));
            if n < series.len() {
                warnings.push("results truncated due to limit".to_string());
            }
            out.push('[');
            for (i, s) in series[..n].iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, p) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(&mut out, p.t, p.v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    if let Some(elapsed) = stats {
        let st = result.stats;
        let _ = write!(
            out,
            ",\"stats\":{{\"timings\":{{\"evalTotalTime\":{},\"resultSortTime\":0,\"queryPreparationTime\":0,\"innerEvalTime\":{},\"execQueueTime\":0,\"execTotalTime\":{}}},\"samples\":{{\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64(),
            st.samples_scanned,
            st.peak_samples
        );
    }
    out.push('}');
    if !warnings.is_empty() {
        out.push_str(",\"warnings\":");
        out.push_str(&serde_json::to_string(&warnings).unwrap_or_default());
    }
    if !result.infos.is_empty() {
        out.push_str(",\"infos\":");
        out.push_str(&serde_json::to_string(&result.infos).unwrap_or_default());
    }
    out.push('}');
    let mut response = out.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Unix seconds with up to three decimals, trailing zeros dropped (`1435781451.781`, `4`).
fn write_time(out: &mut String, t: i64) {
    let (seconds, millis) = (t.div_euclid(1000), t.rem_euclid(1000));
    if seconds < 0 {
        let _ = write!(out, "{}", t as f64 / 1000.0);
        return;
    }
    push_u64(out, seconds as u64);
    if millis != 0 {
        out.push('.');
        let digits = [millis / 100, millis / 10 % 10, millis % 10];
        let used = if digits[2] != 0 { 3 } else if digits[1] != 0 { 2 } else { 1 };
        for d in &digits[..used] {
            out.push((b'0' + *d as u8) as char);
        }
    }
}

fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_time(out, t);
    out.push_str(",\"");
    write_api_float(out, v);
    out.push_str("\"]");
}

fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&l.name).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(&l.value).unwrap_or_default());
    }
    out.push('}');
}

/// `/api/v1/format_query`: the expression pretty-printed as Prometheus does.
async fn format_query(params: Params) -> Result<Response, ApiError> {
    let (_, expr) = parse_query(&params)?;
    Ok(success(promql::pretty(&expr)).into_response())
}

/// `/api/v1/query_exemplars`: Pharos keeps no exemplars, so a valid request gets an empty list
/// (Grafana's probe sends millisecond `start`/`end`; they parse without error).
async fn query_exemplars(params: Params) -> Result<Response, ApiError> {
    parse_query(&params)?;
    for key in ["start", "end"] {
        if let Some(text) = params.get(key).filter(|t| !t.is_empty()) {
            parse_time(text).map_err(|e| bad_data(format!("invalid parameter {key:?}: {e}")))?;
        }
    }
    Ok(success(Vec::<()>::new()).into_response())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use pharos_proto::BuildInfo;
    use pharos_storage::tsdb::{Labels, Sample, SeriesWrite, WriteBatch};
    use pharos_storage::{Storage, StorageOptions};
    use tower::ServiceExt;

    use crate::promql::EngineOptions;
    use crate::{QueryState, router};

    fn state(engine: EngineOptions) -> (QueryState, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let storage = Storage::open(&StorageOptions::in_dir(tmp.path())).unwrap();
        let mut series = Vec::new();
        for (instance, step) in [("a", 1.0), ("b", 2.0)] {
            series.push(SeriesWrite {
                labels: Labels::from_pairs([("__name__", "requests_total"), ("instance", instance)]),
                samples: (0..=60).map(|i| Sample { t: i * 15_000, v: i as f64 * step }).collect(),
            });
        }
        storage.tsdb().append(&WriteBatch { series, metadata: Vec::new() }).unwrap();
        (QueryState::new(Arc::new(BuildInfo::for_tests()), Arc::new(storage), engine), tmp)
    }

    async fn request(state: &QueryState, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = router(state.clone()).oneshot(req).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
        (status, value)
    }

    async fn get(state: &QueryState, uri: &str) -> (StatusCode, serde_json::Value) {
        request(state, Request::get(uri).body(Body::empty()).unwrap()).await
    }

    #[test]
    fn times_print_as_prometheus_prints_them() {
        for (t, want) in [
            (4000, "4"),
            (1_435_781_451_781, "1435781451.781"),
            (1500, "1.5"),
            (10, "0.01"),
            (1_050, "1.05"),
            (0, "0"),
            (-1500, "-1.5"),
        ] {
            let mut out = String::new();
            super::write_time(&mut out, t);
            assert_eq!(out, want);
        }
    }

    #[tokio::test]
    async fn grafana_save_and_test_gets_a_scalar() {
        let (state, _tmp) = state(EngineOptions::default());
        let (status, v) = get(&state, "/api/v1/query?query=1%2B1&time=4").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v, serde_json::json!({"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}));
        let form = Request::post("/api/v1/query")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("query=1%2B1&time=4"))
            .unwrap();
        let (status, v2) = request(&state, form).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v2, v);
    }

    #[tokio::test]
    async fn instant_and_range_queries_encode_like_prometheus() {
        let (state, _tmp) = state(EngineOptions::default());
        let (status, v) = get(&state, "/api/v1/query?query=rate(requests_total%5B1m%5D)&time=900").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["data"]["resultType"], "vector");
        let result = v["data"]["result"].as_array().unwrap();
        assert_eq!(result.len(), 2);
        let a = result.iter().find(|s| s["metric"]["instance"] == "a").unwrap();
        assert_eq!(a["metric"], serde_json::json!({"instance":"a"}), "rate drops the metric name");
        assert_eq!(a["value"][0], 900);
        let rate: f64 = a["value"][1].as_str().unwrap().parse().unwrap();
        assert!((rate - 1.0 / 15.0).abs() < 1e-12, "{rate}");

        let (status, v) =
            get(&state, "/api/v1/query_range?query=requests_total%7Binstance%3D%22b%22%7D&start=0&end=60&step=30s")
                .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["data"]["resultType"], "matrix");
        assert_eq!(
            v["data"]["result"],
            serde_json::json!([{"metric":{"__name__":"requests_total","instance":"b"},"values":[[0,"0"],[30,"4"],[60,"8"]]}])
        );

        let (_, v) = get(&state, "/api/v1/query?query=1%2F0&time=1.5").await;
        assert_eq!(v["data"]["result"], serde_json::json!([1.5, "+Inf"]));
        let (_, v) = get(&state, "/api/v1/query?query=%22hello%22&time=2").await;
        assert_eq!(v["data"], serde_json::json!({"resultType":"string","result":[2,"hello"]}));
        let (_, v) = get(&state, "/api/v1/query?query=requests_total%5B30s%5D&time=30").await;
        assert_eq!(v["data"]["resultType"], "matrix");
        assert_eq!(v["data"]["result"][0]["values"], serde_json::json!([[15, "1"], [30, "2"]]));
    }

    #[tokio::test]
    async fn errors_have_prometheus_types_and_statuses() {
        let (state, _tmp) = state(EngineOptions { max_samples: 10, ..EngineOptions::default() });
        let (status, v) = get(&state, "/api/v1/query?query=sum(requests_total&time=10").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["errorType"], "bad_data");
        let message = v["error"].as_str().unwrap();
        assert!(message.starts_with("invalid parameter \"query\": 1:"), "{message}");

        let (status, v) = get(&state, "/api/v1/query_range?query=requests_total&start=0&end=900&step=15").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errorType"], "execution");
        assert!(v["error"].as_str().unwrap().contains("too many samples"));

        for uri in [
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            "/api/v1/query_range?query=up&start=0&end=10&step=0",
            "/api/v1/query_range?query=requests_total%5B1m%5D&start=0&end=10&step=1",
            "/api/v1/query?query=up&time=yesterday",
        ] {
            let (status, v) = get(&state, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {v}");
            assert_eq!(v["errorType"], "bad_data", "{uri}");
        }
    }

    #[tokio::test]
    async fn a_query_past_its_timeout_answers_503_and_others_still_run() {
        let (state, _tmp) = state(EngineOptions::default());
        let (status, v) = get(
            &state,
            "/api/v1/query_range?query=sum_over_time(requests_total%5B1h%5D)&start=0&end=900&step=1&timeout=0s",
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_eq!(v["errorType"], "timeout");
        let (status, _) = get(&state, "/api/v1/query?query=1&time=1").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn queries_beyond_max_concurrency_wait_for_a_slot_within_their_timeout() {
        let (state, _tmp) = state(EngineOptions { max_concurrency: 1, ..EngineOptions::default() });
        // A query holding the only slot.
        let held = state.query_slots.clone().acquire_owned().await.unwrap();
        let (status, v) = get(&state, "/api/v1/query?query=1&time=1&timeout=200ms").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_eq!(v["errorType"], "timeout");
        assert_eq!(v["error"], "query timed out in query queue");
        let waiting = tokio::spawn({
            let state = state.clone();
            async move { get(&state, "/api/v1/query?query=1&time=1").await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(held);
        let (status, v) = waiting.await.unwrap();
        assert_eq!(status, StatusCode::OK, "the waiting query runs once the slot is free: {v}");
    }

    #[tokio::test]
    async fn format_query_and_exemplar_probe() {
        let (state, _tmp) = state(EngineOptions::default());
        let (status, v) = get(&state, "/api/v1/format_query?query=sum(rate(x%5B5m%5D))by(job)").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["data"], "sum by (job) (rate(x[5m]))");
        let (status, v) = get(&state, "/api/v1/query_exemplars?query=test&start=1700000000000&end=1700000300000").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["data"], serde_json::json!([]));
    }
}

// Pharos — query/src/query_api.rs

//! The Loki query HTTP API (an axum `Router` with full paths; the caller nests it at the root).
//!
//! | path | method | parameters |
//! |---|---|---|
//! | `/loki/api/v1/query` | GET, POST | `query`, `time` (default now), `limit` (100), `direction` (backward) |
//! | `/loki/api/v1/query_range` | GET, POST | `query`, `start` (end − 1h), `end` (now), `step`, `limit`, `direction` |
//! | `/loki/api/v1/labels`, `/loki/api/v1/label` | GET, POST | `start` (end − 6h), `end`, `query` |
//! | `/loki/api/v1/label/{name}/values` | GET, POST | `start`, `end`, `query` |
//! | `/loki/api/v1/series` | GET, POST | `match[]` (repeated; none = every stream), `start`, `end` |
//! | `/loki/api/v1/index/stats` | GET, POST | `query`, `start`, `end` |
//! | `/loki/api/v1/status/buildinfo` | GET | answers 404 (Grafana tolerates it) |
//!
//! Parameters are read from the query string and, for POST, an urlencoded form body. Times:
//! integer = nanoseconds, with `.` = seconds, or RFC 3339. `step`: a duration (`15s`, `250ms`) or
//! float seconds; default `max(1s, ceil((end − start) / 250))` rounded up to whole seconds. An
//! instant (`/query`) log query reads the hour before `time` (inclusive of `time`).
//! Errors answer 400 (500 for storage failures) with a plain-text body.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::LogSnapshots;
use super::ast::{Expr, LogExpr, MetricExpr};
use super::error::LokiError;
use super::eval::{self, Direction, Limits, MetricValue, Stats};
use super::labels::Labels;
use super::params::{format_seconds, format_value, parse_step, parse_time};
use super::parser::{parse, parse_query};
use super::schema::PartitionSnapshot;
use super::store;

const HOUR: i64 = 3_600_000_000_000;
/// Most entries whose stored size `/index/stats` reads.
pub const STATS_SAMPLE: usize = 2000;

/// Limits of the query API.
#[derive(Debug, Clone, Copy)]
pub struct LokiOptions {
    /// Largest `limit` a log query may ask for (Loki's `max_entries_limit_per_query`).
    pub max_entries_limit: usize,
    pub limits: Limits,
}

impl Default for LokiOptions {
    fn default() -> Self {
        LokiOptions { max_entries_limit: 5000, limits: Limits::default() }
    }
}

struct AppState {
    snapshots: Arc<dyn LogSnapshots>,
    options: LokiOptions,
}

type Shared = State<Arc<AppState>>;

/// The Loki query API with default options.
pub fn router(snapshots: Arc<dyn LogSnapshots>) -> Router {
    router_with_options(snapshots, LokiOptions::default())
}

/// The Loki query API.
pub fn router_with_options(snapshots: Arc<dyn LogSnapshots>, options: LokiOptions) -> Router {
    let state = Arc::new(AppState { snapshots, options });
    Router::new()
        .route("/loki/api/v1/query", get(query).post(query))
        .route("/loki/api/v1/query_range", get(query_range).post(query_range))
        .route("/loki/api/v1/labels", get(labels).post(labels))
        .route("/loki/api/v1/label", get(labels).post(labels))
        .route("/loki/api/v1/label/{name}/values", get(label_values).post(label_values))
        .route("/loki/api/v1/series", get(series).post(series))
        .route("/loki/api/v1/index/stats", get(index_stats).post(index_stats))
        .route("/loki/api/v1/status/buildinfo", get(buildinfo))
        .with_state(state)
}

/// Request parameters from the query string and the form body.
struct Params(Vec<(String, String)>);

impl Params {
    fn new(raw: Option<String>, body: &[u8]) -> Params {
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
        Params(pairs)
    }

    /// The first non-empty value of `key`.
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str()).collect()
    }

    fn time(&self, key: &str, default: i64) -> Result<i64, LokiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_time(v).map_err(|e| LokiError::BadRequest(format!("invalid {key}: {e}"))),
        }
    }

    fn query(&self) -> Result<&str, LokiError> {
        self.get("query").ok_or_else(|| LokiError::BadRequest("query parameter is required".into()))
    }

    fn limit(&self, max: usize) -> Result<usize, LokiError> {
        let Some(v) = self.get("limit") else { return Ok(100) };
        let n: i64 = v.parse().map_err(|_| LokiError::BadRequest(format!("invalid limit {v:?}: not an integer")))?;
        if n <= 0 {
            return Err(LokiError::BadRequest("limit must be positive".into()));
        }
        let n = n as usize;
        if n > max {
            return Err(LokiError::BadRequest(format!("limit {n} is above the maximum of {max} entries per query")));
        }
        Ok(n)
    }

    fn direction(&self) -> Result<Direction, LokiError> {
        match self.get("direction").map(str::to_ascii_lowercase).as_deref() {
            None | Some("backward") => Ok(Direction::Backward),
            Some("forward") => Ok(Direction::Forward),
            Some(other) => Err(LokiError::BadRequest(format!("invalid direction {other:?}: use forward or backward"))),
        }
    }

    /// `start`/`end` with `end` defaulting to now and `start` to `end - default_span`.
    fn range(&self, default_span: i64) -> Result<(i64, i64), LokiError> {
        let end = self.time("end", now_nanos())?;
        let start = self.time("start", end.saturating_sub(default_span))?;
        if end < start {
            return Err(LokiError::BadRequest("end must not be before start".into()));
        }
        Ok((start, end))
    }
}

use pharos_proto::civil_time::now_nanos;

fn json_response(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

fn error_response(e: LokiError) -> Response {
    let status = if e.is_client_error() { StatusCode::BAD_REQUEST } else { StatusCode::INTERNAL_SERVER_ERROR };
    let mut r = (status, e.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// Runs blocking query work off the async executor and turns the outcome into a response.
async fn run(work: impl FnOnce() -> Result<String, LokiError> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(body)) => json_response(body),
        Ok(Err(e)) => error_response(e),
        Err(e) => error_response(LokiError::Query(format!("query failed: {e}"))),
    }
}

/// The time span a metric expression reads for steps in `[first, last]`.
fn metric_bounds(e: &MetricExpr, first: i64, last: i64) -> Option<(i64, i64)> {
    match e {
        MetricExpr::Range(r) => Some((
            first.saturating_sub(r.offset_nanos).saturating_sub(r.range_nanos),
            last.saturating_sub(r.offset_nanos),
        )),
        MetricExpr::Aggregate { expr, .. } => metric_bounds(expr, first, last),
        MetricExpr::Binary { lhs, rhs, .. } => match (metric_bounds(lhs, first, last), metric_bounds(rhs, first, last))
        {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        },
        MetricExpr::Number(_) | MetricExpr::Vector(_) => None,
    }
}

fn snapshots_for(state: &AppState, bounds: Option<(i64, i64)>) -> Vec<PartitionSnapshot> {
    match bounds {
        Some((min, max)) => state.snapshots.snapshot(min, max),
        None => Vec::new(),
    }
}

fn stats_json(out: &mut String, s: &Stats) {
    out.push_str(&format!(
        "\"stats\":{{\"summary\":{{\"totalEntriesReturned\":{},\"totalLinesProcessed\":{},\"totalBytesProcessed\":{},\"totalPostFilterLines\":{}}}}}",
        s.entries_returned, s.lines_processed, s.bytes_processed, s.post_filter_lines
    ));
}

fn json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn labels_json(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, (n, v)) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, n);
        out.push(':');
        json_str(out, v);
    }
    out.push('}');
}

fn streams_body(streams: &[eval::StreamResult], stats: &Stats) -> String {
    let mut out = String::from("{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[");
    for (i, s) in streams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        labels_json(&mut out, &s.labels);
        out.push_str(",\"values\":[");
        for (j, (ts, line)) in s.entries.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&format!("[\"{ts}\","));
            json_str(&mut out, line);
            out.push(']');
        }
        out.push_str("]}");
    }
    out.push_str("],");
    stats_json(&mut out, stats);
    out.push_str("}}");
    out
}

fn metric_body(value: &MetricValue, steps: &[i64], instant: bool, stats: &Stats) -> String {
    let mut out = String::from("{\"status\":\"success\",\"data\":{\"resultType\":");
    let point = |out: &mut String, step: usize, v: f64| {
        out.push('[');
        out.push_str(&format_seconds(steps[step]));
        out.push_str(",\"");
        out.push_str(&format_value(v));
        out.push_str("\"]");
    };
    match value {
        MetricValue::Scalar(v) if instant => {
            out.push_str("\"scalar\",\"result\":");
            point(&mut out, 0, *v);
        }
        MetricValue::Scalar(v) => {
            out.push_str("\"matrix\",\"result\":[{\"metric\":{},\"values\":[");
            for i in 0..steps.len() {
                if i > 0 {
                    out.push(',');
                }
                point(&mut out, i, *v);
            }
            out.push_str("]}]");
        }
        MetricValue::Vector(series) if instant => {
            out.push_str("\"vector\",\"result\":[");
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                labels_json(&mut out, &s.labels);
                out.push_str(",\"value\":");
                let (step, v) = s.points[0];
                point(&mut out, step as usize, v);
                out.push('}');
            }
            out.push(']');
        }
        MetricValue::Vector(series) => {
            out.push_str("\"matrix\",\"result\":[");
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                labels_json(&mut out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, &(step, v)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    point(&mut out, step as usize, v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push(',');
    stats_json(&mut out, stats);
    out.push_str("}}");
    out
}

fn data_list_body(items: &[String]) -> String {
    let mut out = String::from("{\"status\":\"success\",\"data\":[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, s);
    }
    out.push_str("]}");
    out
}

/// What `/query` and `/query_range` evaluate. An instant query has `start == end`.
struct QueryRequest {
    text: String,
    instant: bool,
    start: i64,
    end: i64,
    step: i64,
    limit: usize,
    direction: Direction,
}

/// Evaluates a query for `/query` (instant) or `/query_range`.
fn evaluate(state: &AppState, req: QueryRequest) -> Result<String, LokiError> {
    let QueryRequest { text, instant, start, end, step, limit, direction } = req;
    match parse_query(&text)? {
        Expr::Log(log) => {
            let (start, end) = if instant {
                (end.saturating_sub(HOUR).saturating_add(1), end.saturating_add(1))
            } else {
                (start, end)
            };
            let snaps = state.snapshots.snapshot(start, end.saturating_sub(1));
            let (streams, stats) = eval::eval_log(&snaps, &log, start, end, limit, direction)?;
            Ok(streams_body(&streams, &stats))
        }
        Expr::Metric(m) => {
            let steps: Vec<i64> = if instant {
                vec![end]
            } else {
                let n = ((end as i128 - start as i128) / step as i128 + 1).min(usize::MAX as i128) as usize;
                if n > state.options.limits.max_points {
                    return Err(LokiError::BadRequest(format!(
                        "the query asks for {n} points per series, more than the limit of {}; use a larger step",
                        state.options.limits.max_points
                    )));
                }
                (0..n as i128).map(|i| (start as i128 + i * step as i128) as i64).collect()
            };
            let snaps = snapshots_for(state, metric_bounds(&m, steps[0], steps[steps.len() - 1]));
            let (value, stats) = eval::eval_metric(&snaps, &m, &steps, state.options.limits)?;
            Ok(metric_body(&value, &steps, instant, &stats))
        }
    }
}

async fn query(State(state): Shared, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    let p = Params::new(raw, &body);
    let prepared = (|| -> Result<_, LokiError> {
        Ok((
            p.query()?.to_string(),
            p.time("time", now_nanos())?,
            p.limit(state.options.max_entries_limit)?,
            p.direction()?,
        ))
    })();
    let (text, time, limit, direction) = match prepared {
        Ok(v) => v,
        Err(e) => return error_response(e),
    };
    let req = QueryRequest { text, instant: true, start: time, end: time, step: 1, limit, direction };
    run(move || evaluate(&state, req)).await
}

async fn query_range(State(state): Shared, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    let p = Params::new(raw, &body);
    let prepared = (|| -> Result<_, LokiError> {
        let text = p.query()?.to_string();
        let (start, end) = p.range(HOUR)?;
        let step = match p.get("step") {
            Some(s) => parse_step(s).map_err(|e| LokiError::BadRequest(format!("invalid step: {e}")))?,
            None => default_step(start, end),
        };
        Ok((text, start, end, step, p.limit(state.options.max_entries_limit)?, p.direction()?))
    })();
    let (text, start, end, step, limit, direction) = match prepared {
        Ok(v) => v,
        Err(e) => return error_response(e),
    };
    let req = QueryRequest { text, instant: false, start, end, step, limit, direction };
    run(move || evaluate(&state, req)).await
}

/// The step used when none is given: one 250th of the range in whole seconds, at least 1s.
pub fn default_step(start: i64, end: i64) -> i64 {
    let secs = ((end as i128 - start as i128) as f64 / 1e9 / 250.0).ceil().max(1.0);
    (secs as i64).saturating_mul(1_000_000_000)
}

/// The selector of an optional `query` parameter of the metadata endpoints (pipeline ignored,
/// empty-compatible matchers allowed).
fn selector_of(text: Option<&str>) -> Result<Option<LogExpr>, LokiError> {
    let Some(text) = text else { return Ok(None) };
    match parse(text)? {
        Expr::Log(l) => Ok(Some(l)),
        Expr::Metric(_) => Err(LokiError::BadRequest(format!("{text:?} is not a stream selector"))),
    }
}

fn metadata_streams(state: &AppState, p: &Params) -> Result<(Vec<Labels>, i64, i64), LokiError> {
    let (start, end) = p.range(6 * HOUR)?;
    let selector = selector_of(p.get("query"))?;
    let snaps = state.snapshots.snapshot(start, end);
    let matchers = selector.map(|s| s.matchers).unwrap_or_default();
    Ok((store::streams_in_range(&snaps, &matchers, start, end)?, start, end))
}

async fn labels(State(state): Shared, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    let p = Params::new(raw, &body);
    run(move || {
        let (streams, _, _) = metadata_streams(&state, &p)?;
        let mut names: Vec<String> = streams.iter().flat_map(|l| l.iter().map(|(n, _)| n.to_string())).collect();
        names.sort();
        names.dedup();
        Ok(data_list_body(&names))
    })
    .await
}

async fn label_values(
    State(state): Shared,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::new(raw, &body);
    run(move || {
        let (streams, _, _) = metadata_streams(&state, &p)?;
        let mut values: Vec<String> = streams.iter().filter_map(|l| l.get(&name).map(str::to_string)).collect();
        values.sort();
        values.dedup();
        Ok(data_list_body(&values))
    })
    .await
}

async fn series(State(state): Shared, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    let p = Params::new(raw, &body);
    run(move || {
        let (start, end) = p.range(6 * HOUR)?;
        let snaps = state.snapshots.snapshot(start, end);
        let mut selectors = Vec::new();
        for m in p.all("match[]") {
            selectors.push(selector_of(Some(m))?.map(|s| s.matchers).unwrap_or_default());
        }
        if selectors.is_empty() {
            selectors.push(Vec::new());
        }
        let mut all: Vec<Labels> = Vec::new();
        for matchers in selectors {
            all.extend(store::streams_in_range(&snaps, &matchers, start, end)?);
        }
        all.sort();
        all.dedup();
        let mut out = String::from("{\"status\":\"success\",\"data\":[");
        for (i, l) in all.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            labels_json(&mut out, l);
        }
        out.push_str("]}");
        Ok(out)
    })
    .await
}

/// `{"streams","chunks","entries","bytes"}` for a selector over `[start, end]`. `chunks` counts
/// (segment, stream) pairs with entries. `bytes` is the stored `_source` size: exact up to
/// [`STATS_SAMPLE`] entries, above that extrapolated from at most that many evenly spaced entries
/// (the doc store is the only place sizes live; see the report on a size fast field).
async fn index_stats(State(state): Shared, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    let p = Params::new(raw, &body);
    run(move || {
        let (start, end) = p.range(HOUR)?;
        let selector = selector_of(p.get("query"))?;
        let snaps = state.snapshots.snapshot(start, end);
        let matchers = selector.map(|s| s.matchers).unwrap_or_default();
        let streams = store::matching_streams(&snaps, &matchers)?;
        let mut levels = store::Levels::default();
        let mut present = vec![false; streams.len()];
        let mut chunks = std::collections::HashSet::new();
        // Systematic sample: every `stride`-th entry; the stride doubles when the sample is full.
        let (mut total, mut stride) = (0usize, 1usize);
        let mut sample: Vec<(usize, u32, u32)> = Vec::new();
        for (pi, snap) in snaps.iter().enumerate() {
            store::collect(snap, &streams, start, end, &mut levels, |c| {
                present[c.stream as usize] = true;
                chunks.insert((pi, c.seg, c.stream));
                if total % stride == 0 {
                    sample.push((pi, c.seg, c.doc));
                    if sample.len() > STATS_SAMPLE {
                        let mut i = 0;
                        sample.retain(|_| {
                            i += 1;
                            i % 2 == 1
                        });
                        stride *= 2;
                    }
                }
                total += 1;
            })?;
        }
        let mut sampled_bytes = 0usize;
        for &(pi, seg, doc) in &sample {
            let snap = &snaps[pi];
            sampled_bytes += store::source_len(&snap.searcher, store::source_field(snap)?, seg, doc)?;
        }
        let bytes = if sample.is_empty() {
            0
        } else {
            (sampled_bytes as f64 * total as f64 / sample.len() as f64).round() as u64
        };
        Ok(format!(
            "{{\"streams\":{},\"chunks\":{},\"entries\":{total},\"bytes\":{bytes}}}",
            present.iter().filter(|p| **p).count(),
            chunks.len()
        ))
    })
    .await
}

async fn buildinfo() -> Response {
    error_response_status(StatusCode::NOT_FOUND, "build information is not available")
}

fn error_response_status(status: StatusCode, msg: &str) -> Response {
    let mut r = (status, msg.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

// Pharos — query/src/loki/http.rs

//! Tempo's HTTP API (`/tempo/api/...`), what Grafana's Tempo datasource calls.
//!
//! | path | parameters | answer |
//! |---|---|---|
//! | `/api/echo` | – | `echo` (Grafana's "Save & test") |
//! | `/api/status/buildinfo` | – | `{version, revision, branch, buildUser, buildDate, goVersion}`, `version` = [`TEMPO_API_VERSION`] |
//! | `/api/traces/{id}` | `start`, `end` (s) | `{"batches":[…]}`, or with `Accept: application/protobuf` OTLP `TracesData` (= `tempopb.Trace`) |
//! | `/api/v2/traces/{id}` | `start`, `end` (s), `q` (one spanset filter: only matching spans and, unless `keep_hierarchy=false`, their ancestors) | `{"trace":{"resourceSpans":[…]}}`, or protobuf `tempopb.TraceByIDResponse` |
//! | `/api/search` | `q` (TraceQL) or `tags` (logfmt), `minDuration`/`maxDuration` (Go durations, trace duration), `limit` (20), `spss` (3, at most 100), `start`/`end` (s; default the last hour) | `{"traces":[…],"metrics":{…}}` |
//! | `/api/search/tags` | `scope` (`resource`, `span`, `intrinsic`; default resource and span), `start`, `end`, `limit` | `{"tagNames":[…],"metrics":{}}` |
//! | `/api/v2/search/tags` | `scope`, `start`, `end`, `limit` | `{"scopes":[{"name","tags"}…],"metrics":{}}` |
//! | `/api/search/tag/{tag}/values` | `start`, `end`, `limit` (5000) | `{"tagValues":["…"],"metrics":{}}` |
//! | `/api/v2/search/tag/{scope.tag}/values` | `q`, `start`, `end`, `limit` | `{"tagValues":[{"type","value"}],"metrics":{}}` |
//!
//! Trace JSON is Tempo's (`jsonpb`): ids in base64, enums by name, 64-bit integers as strings.
//! Search results: trace ids in hex without leading zeros, `startTimeUnixNano`/`durationNanos` as
//! strings; ids on input are 1–32 hex digits, left-padded. Errors are plain text: 400 for bad
//! parameters or queries, 404 for an unknown trace, 500 for the store.
//!
//! Tag search (`tags=`): `name` is the span name, `service.name` the resource's service, `status.code`
//! (`error`/`ok`/`unset`) and `error=true` the status, `root.name`/`root.service.name` the root
//! span's; any other key is a span (else resource) attribute, compared exactly by its text. Every
//! condition holds on one span; `minDuration`/`maxDuration` bound the trace's duration.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode as HttpStatus, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pharos_proto::ApiFamily;
use pharos_proto::civil_time::now_nanos;
use pharos_proto::otlp::trace::v1::TracesData;
use pharos_storage::traces::{
    AttributeValue, KeyValue, Span, SpanKind, SpanQuery, StatusCode, TagScope, TimeRange, TraceId, parse_trace_id,
    span_id_hex, trace_id_hex,
};
use prost::Message;
use serde_json::{Map, Value, json};

use super::error::TraceApiError;
use super::otlp_out::{JsonFlavor, key_values_json, resource_spans_json, traces_data};
use super::params::QueryParams;
use super::search::{self, FoundTraces, MAX_CANDIDATE_TRACES};
use super::traceql;
use super::{Shared, TraceApi, blocking, json_response};

/// The Tempo API version Pharos speaks, reported by `/api/status/buildinfo`. Grafana's Tempo
/// datasource enables features by this version (search streaming from 2.2, TraceQL metrics
/// streaming from 2.7); 2.7 is the API generation these routes follow.
pub const TEMPO_API_VERSION: &str = "2.7.0";

const SECOND: i64 = 1_000_000_000;
/// The search window when `start`/`end` are absent (Tempo then searches only its recent data).
pub const DEFAULT_SEARCH_WINDOW_NANOS: i64 = 3_600 * SECOND;
/// Traces a search returns without `limit`.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;
/// Matching spans listed per spanset without `spss`.
pub const DEFAULT_SPANS_PER_SPANSET: usize = 3;
/// The largest `spss` accepted (Tempo's default `max_spans_per_span_set`).
pub const MAX_SPANS_PER_SPANSET: usize = 100;
/// Tag values answered without `limit`.
pub const DEFAULT_TAG_VALUES_LIMIT: usize = 5_000;
/// `rootServiceName` of a trace whose root span is not stored (Tempo's wording).
pub const ROOT_SPAN_NOT_RECEIVED: &str = "<root span not yet received>";

/// The TraceQL intrinsics Tempo's tag APIs list (and [`traceql`] understands).
pub const INTRINSIC_TAGS: &[&str] =
    &["duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage", "traceDuration"];

/// The Tempo routes, with full paths.
pub(super) fn routes() -> Router<Arc<TraceApi>> {
    Router::new()
        .route("/tempo/api/echo", get(echo))
        .route("/tempo/api/status/buildinfo", get(buildinfo))
        .route("/tempo/api/traces/{id}", get(trace_v1))
        .route("/tempo/api/v2/traces/{id}", get(trace_v2))
        .route("/tempo/api/search", get(search_traces))
        .route("/tempo/api/search/tags", get(tag_names_v1))
        .route("/tempo/api/v2/search/tags", get(tag_names_v2))
        .route("/tempo/api/search/tag/{tag}/values", get(tag_values_v1))
        .route("/tempo/api/v2/search/tag/{tag}/values", get(tag_values_v2))
}

fn tempo_error(error: TraceApiError) -> Response {
    error.into_api_error(ApiFamily::Tempo).into_response()
}

async fn echo() -> Response {
    let mut response = (HttpStatus::OK, "echo").into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

async fn buildinfo(State(api): Shared) -> Response {
    let info = &api.build_info;
    json_response(&json!({
        "version": TEMPO_API_VERSION,
        "revision": info.revision,
        "branch": info.branch,
        "buildUser": info.build_user,
        "buildDate": info.build_date,
        "goVersion": info.go_version,
    }))
}

// ---- trace by id ---------------------------------------------------------------------------------

/// Tempo's `TraceByIDResponse` (`pkg/tempopb/tempo.proto`): `trace` is `tempopb.Trace`, which has
/// the wire form of OTLP `TracesData` (field 1: repeated `ResourceSpans`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    pub trace: Option<TracesData>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<TraceByIdMetrics>,
    /// `PartialStatus`: 0 `COMPLETE`, 1 `PARTIAL`.
    #[prost(int32, tag = "3")]
    pub status: i32,
    #[prost(string, tag = "4")]
    pub message: String,
}

/// Tempo's `TraceByIDMetrics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdMetrics {
    #[prost(uint64, tag = "1")]
    pub inspected_bytes: u64,
}

fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|accept| {
        accept.split(',').any(|media| {
            let media = media.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/protobuf") || media.eq_ignore_ascii_case("application/x-protobuf")
        })
    })
}

fn protobuf_response(bytes: Vec<u8>) -> Response {
    let mut response = (HttpStatus::OK, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/protobuf"));
    response
}

fn parse_id(text: &str) -> Result<TraceId, TraceApiError> {
    parse_trace_id(text)
        .ok_or_else(|| TraceApiError::BadRequest(format!("invalid trace id {text:?}: expected 1 to 32 hex digits")))
}

/// `start`/`end` in Unix seconds as an inclusive nanosecond range (`end` covers its whole second);
/// `None` for an absent bound.
fn seconds_range(params: &QueryParams) -> Result<(Option<i64>, Option<i64>), TraceApiError> {
    let start = params.int("start")?.map(|s| s.saturating_mul(SECOND));
    let end = params.int("end")?.map(|s| s.saturating_mul(SECOND).saturating_add(SECOND - 1));
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        return Err(TraceApiError::BadRequest("http parameter start must be before end".into()));
    }
    Ok((start, end))
}

fn fetch_trace(api: &TraceApi, id: &str, params: &QueryParams) -> Result<Vec<Span>, TraceApiError> {
    let id = parse_id(id)?;
    let (start, end) = seconds_range(params)?;
    let range = TimeRange::new(start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX));
    let spans = api.reader.trace(&id, range).map_err(TraceApiError::Storage)?;
    if spans.is_empty() {
        return Err(TraceApiError::NotFound("trace not found".into()));
    }
    Ok(spans)
}

async fn trace_v1(State(api): Shared, Path(id): Path<String>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let protobuf = wants_protobuf(&headers);
    let work = move || {
        let spans = fetch_trace(&api, &id, &params)?;
        Ok(if protobuf {
            protobuf_response(traces_data(&spans).encode_to_vec())
        } else {
            json_response(&json!({"batches": resource_spans_json(&spans, JsonFlavor::TempoJsonpb)}))
        })
    };
    blocking(work).await.unwrap_or_else(tempo_error)
}

async fn trace_v2(State(api): Shared, Path(id): Path<String>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let protobuf = wants_protobuf(&headers);
    let work = move || {
        let mut spans = fetch_trace(&api, &id, &params)?;
        if let Some(q) = params.get("q") {
            let keep_hierarchy = params.get("keep_hierarchy").is_none_or(|v| !v.eq_ignore_ascii_case("false"));
            spans = traceql_filter_trace(q, spans, keep_hierarchy)?;
        }
        Ok(if protobuf {
            let response = TraceByIdResponse { trace: Some(traces_data(&spans)), ..Default::default() };
            protobuf_response(response.encode_to_vec())
        } else {
            json_response(&json!({"trace": {"resourceSpans": resource_spans_json(&spans, JsonFlavor::TempoJsonpb)}}))
        })
    };
    blocking(work).await.unwrap_or_else(tempo_error)
}

/// The spans of `trace` a single spanset filter `q` selects, with their ancestors when
/// `keep_hierarchy`; the whole trace for `{}`.
fn traceql_filter_trace(q: &str, trace: Vec<Span>, keep_hierarchy: bool) -> Result<Vec<Span>, TraceApiError> {
    let query = traceql::parse(q).map_err(|e| TraceApiError::BadRequest(format!("invalid TraceQL query: {e}")))?;
    let Some(matches) = query.evaluate(&trace) else { return Ok(Vec::new()) };
    let mut keep = vec![false; trace.len()];
    for index in matches.iter().flat_map(|m| m.spans.iter().copied()) {
        keep[index] = true;
    }
    if keep_hierarchy {
        let index_of: std::collections::HashMap<_, _> = trace.iter().enumerate().map(|(i, s)| (s.span_id, i)).collect();
        for start in 0..trace.len() {
            if !keep[start] {
                continue;
            }
            let mut parent = trace[start].parent_span_id;
            let mut steps = 0;
            while let Some(p) = parent.and_then(|p| index_of.get(&p).copied()) {
                if keep[p] && p != start || steps > trace.len() {
                    break;
                }
                keep[p] = true;
                parent = trace[p].parent_span_id;
                steps += 1;
            }
        }
    }
    Ok(trace.into_iter().zip(keep).filter_map(|(span, kept)| kept.then_some(span)).collect())
}

// ---- search --------------------------------------------------------------------------------------

/// The parameters every search takes.
struct SearchParams {
    range: TimeRange,
    limit: usize,
    spans_per_spanset: usize,
    min_duration_nanos: Option<u64>,
    max_duration_nanos: Option<u64>,
}

fn parse_search_params(params: &QueryParams, now: i64) -> Result<SearchParams, TraceApiError> {
    let (start, end) = seconds_range(params)?;
    let end = end.unwrap_or(now);
    let start = start.unwrap_or(end.saturating_sub(DEFAULT_SEARCH_WINDOW_NANOS));
    let positive = |key: &str, default: usize| -> Result<usize, TraceApiError> {
        match params.int(key)? {
            None | Some(0) => Ok(default),
            Some(n) if n > 0 => Ok(n as usize),
            Some(_) => Err(TraceApiError::BadRequest(format!("invalid {key}: must be a positive number"))),
        }
    };
    let limit = positive("limit", DEFAULT_SEARCH_LIMIT)?;
    let spans_per_spanset = positive("spss", DEFAULT_SPANS_PER_SPANSET)?;
    if spans_per_spanset > MAX_SPANS_PER_SPANSET {
        return Err(TraceApiError::BadRequest(format!(
            "invalid spss: must be less than or equal to {MAX_SPANS_PER_SPANSET}"
        )));
    }
    let min_duration_nanos = params.duration("minDuration")?.filter(|d| *d > 0);
    let max_duration_nanos = params.duration("maxDuration")?.filter(|d| *d > 0);
    if let (Some(min), Some(max)) = (min_duration_nanos, max_duration_nanos)
        && max < min
    {
        return Err(TraceApiError::BadRequest("invalid maxDuration: must be greater than minDuration".into()));
    }
    Ok(SearchParams {
        range: TimeRange::new(start, end),
        limit,
        spans_per_spanset,
        min_duration_nanos,
        max_duration_nanos,
    })
}

/// A trace id as Tempo's search results write it: hex without leading zeros.
pub fn trimmed_trace_id(id: &TraceId) -> String {
    let hex = trace_id_hex(id);
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }
}

/// First start, last end and the root span (the earliest span without a parent) of a trace.
struct TraceShape<'a> {
    start: u64,
    end: u64,
    root: Option<&'a Span>,
}

fn trace_shape(spans: &[Span]) -> TraceShape<'_> {
    let start = spans.iter().map(|s| s.start_time_unix_nano).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_time_unix_nano).max().unwrap_or(0).max(start);
    let root = spans.iter().filter(|s| s.parent_span_id.is_none()).min_by_key(|s| s.start_time_unix_nano);
    TraceShape { start, end, root }
}

/// The fields of one search result that describe the whole trace.
fn trace_summary(spans: &[Span]) -> Map<String, Value> {
    let shape = trace_shape(spans);
    let mut out = Map::new();
    out.insert("traceID".into(), json!(spans.first().map(|s| trimmed_trace_id(&s.trace_id)).unwrap_or_default()));
    match shape.root {
        Some(root) => {
            out.insert("rootServiceName".into(), json!(root.service_name()));
            out.insert("rootTraceName".into(), json!(root.name));
        }
        None => {
            out.insert("rootServiceName".into(), json!(ROOT_SPAN_NOT_RECEIVED));
        }
    }
    out.insert("startTimeUnixNano".into(), json!(shape.start.to_string()));
    out.insert("durationMs".into(), json!((shape.end - shape.start) / 1_000_000));
    let mut stats: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for span in spans {
        let entry = stats.entry(span.service_name()).or_default();
        entry.0 += 1;
        entry.1 += u64::from(span.is_error());
    }
    let stats: Map<String, Value> = stats
        .into_iter()
        .map(|(service, (spans, errors))| (service.to_string(), json!({"spanCount": spans, "errorCount": errors})))
        .collect();
    out.insert("serviceStats".into(), Value::Object(stats));
    out
}

/// Named values as OTLP `KeyValue`s in Tempo's JSON.
fn pairs_json(pairs: &[(String, AttributeValue)]) -> Value {
    let attributes: Vec<KeyValue> = pairs.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
    key_values_json(&attributes, JsonFlavor::TempoJsonpb)
}

/// One span of a search result's spanset, with the values the query `select()`ed on it.
fn spanset_span_json(span: &Span, selected: &[(String, AttributeValue)]) -> Value {
    let mut out = json!({
        "spanID": span_id_hex(&span.span_id),
        "name": span.name,
        "startTimeUnixNano": span.start_time_unix_nano.to_string(),
        "durationNanos": span.duration_nanos().to_string(),
    });
    if !selected.is_empty() {
        out["attributes"] = pairs_json(selected);
    }
    out
}

/// The `metrics` block of a search answer. Beyond Tempo's fields, `candidateTracesLimit` is the cap
/// on traces judged per search and `candidateTracesLimitReached` whether it cut the search short.
fn search_metrics<T>(found: &FoundTraces<T>) -> Value {
    json!({
        "inspectedTraces": found.inspected_traces,
        "inspectedBytes": found.stats.inspected_bytes.to_string(),
        "inspectedSpans": found.stats.inspected_spans.to_string(),
        "totalBlocks": 0,
        "completedJobs": 1,
        "totalJobs": 1,
        "candidateTracesLimit": MAX_CANDIDATE_TRACES,
        "candidateTracesLimitReached": found.candidate_limit_reached,
    })
}

/// A condition of a tag search checked on the root span of each candidate trace.
enum RootCondition {
    Name(String),
    Service(String),
}

/// Puts Tempo search tags into `query`; returns the span conditions it cannot hold and the root
/// span conditions.
fn apply_tempo_tags(
    query: &mut SpanQuery,
    tags: Vec<(String, String)>,
) -> Result<(Vec<StatusCode>, Vec<RootCondition>), TraceApiError> {
    let mut statuses = Vec::new();
    let mut root = Vec::new();
    for (key, value) in tags {
        match key.as_str() {
            "name" => query.span_name = Some(value),
            "service.name" => query.service = Some(value),
            "error" if value == "true" => query.error_only = true,
            "status.code" => match value.to_ascii_lowercase().as_str() {
                "error" | "2" => query.error_only = true,
                "ok" | "1" => statuses.push(StatusCode::Ok),
                "unset" | "0" => statuses.push(StatusCode::Unset),
                _ => {
                    return Err(TraceApiError::BadRequest(format!(
                        "invalid status.code {value:?}: use error, ok or unset"
                    )));
                }
            },
            "root.name" => root.push(RootCondition::Name(value)),
            "root.service.name" => root.push(RootCondition::Service(value)),
            _ => query.attributes.push((key, value)),
        }
    }
    Ok((statuses, root))
}

/// `tags=` search (and a search with neither `q` nor `tags`: every trace).
fn search_by_tags(api: &TraceApi, tags: &str, search: &SearchParams) -> Result<Value, TraceApiError> {
    let tags = traceql::parse_tags_logfmt(tags).map_err(|e| TraceApiError::BadRequest(format!("invalid tags: {e}")))?;
    let mut query = SpanQuery::in_range(search.range);
    let (statuses, root_conditions) = apply_tempo_tags(&mut query, tags)?;
    let filter = move |span: &Span| statuses.iter().all(|code| span.status.code == *code);
    let (min, max) = (search.min_duration_nanos, search.max_duration_nanos);
    let found =
        search::find_traces(api.reader.as_ref(), &query, &filter, search.limit, MAX_CANDIDATE_TRACES, &mut |spans| {
            let shape = trace_shape(&spans);
            let duration = shape.end - shape.start;
            let root_ok = root_conditions.iter().all(|c| match (c, shape.root) {
                (RootCondition::Name(name), Some(root)) => root.name == *name,
                (RootCondition::Service(service), Some(root)) => root.service_name() == service,
                (_, None) => false,
            });
            let duration_ok = min.is_none_or(|m| duration >= m) && max.is_none_or(|m| duration <= m);
            (root_ok && duration_ok).then(|| Value::Object(trace_summary(&spans)))
        })?;
    Ok(json!({"traces": found.traces, "metrics": search_metrics(&found)}))
}

/// TraceQL search: the query's hints narrow the store search, each candidate trace is evaluated,
/// and every matching spanset is listed with up to `spss` spans.
fn search_by_traceql(api: &TraceApi, q: &str, search: &SearchParams) -> Result<Value, TraceApiError> {
    let query = traceql::parse(q).map_err(|e| TraceApiError::BadRequest(format!("invalid TraceQL query: {e}")))?;
    let mut hints = query.span_hints(search.range);
    hints.range = search.range;
    let (min, max) = (search.min_duration_nanos, search.max_duration_nanos);
    let spss = search.spans_per_spanset;
    let found = search::find_traces(
        api.reader.as_ref(),
        &hints,
        &|_| true,
        search.limit,
        MAX_CANDIDATE_TRACES,
        &mut |spans| {
            let shape = trace_shape(&spans);
            let duration = shape.end - shape.start;
            if min.is_some_and(|m| duration < m) || max.is_some_and(|m| duration > m) {
                return None;
            }
            let matches = query.evaluate(&spans)?;
            let spansets: Vec<Value> = matches
                .iter()
                .map(|m| {
                    let mut selected_keys: Vec<String> = Vec::new();
                    let listed: Vec<Value> = m
                        .spans
                        .iter()
                        .take(spss)
                        .map(|&i| {
                            let selected = query.selected_attributes(&spans, i);
                            selected_keys.extend(selected.iter().map(|(key, _)| key.clone()));
                            spanset_span_json(&spans[i], &selected)
                        })
                        .collect();
                    let mut set = json!({"spans": listed, "matched": m.spans.len()});
                    // select()ed values are reported on the spans, as Tempo does; the spanset keeps
                    // what by() and aggregates attached.
                    let attached: Vec<(String, AttributeValue)> =
                        m.attributes.iter().filter(|(key, _)| !selected_keys.contains(key)).cloned().collect();
                    if !attached.is_empty() {
                        set["attributes"] = pairs_json(&attached);
                    }
                    set
                })
                .collect();
            let mut summary = trace_summary(&spans);
            if let Some(first) = spansets.first() {
                summary.insert("spanSet".into(), first.clone());
            }
            summary.insert("spanSets".into(), Value::Array(spansets));
            Some(Value::Object(summary))
        },
    )?;
    Ok(json!({"traces": found.traces, "metrics": search_metrics(&found)}))
}

async fn search_traces(State(api): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let search = parse_search_params(&params, now_nanos())?;
        let body = match params.get("q") {
            Some(q) => search_by_traceql(&api, q, &search)?,
            None => search_by_tags(&api, params.get("tags").unwrap_or(""), &search)?,
        };
        Ok(json_response(&body))
    };
    blocking(work).await.unwrap_or_else(tempo_error)
}

// ---- tags ----------------------------------------------------------------------------------------

/// The optional `start`/`end` (s) of a tag request; every time when absent.
fn tags_range(params: &QueryParams) -> Result<TimeRange, TraceApiError> {
    let (start, end) = seconds_range(params)?;
    Ok(TimeRange::new(start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX)))
}

fn tag_limit(params: &QueryParams, default: usize) -> Result<usize, TraceApiError> {
    Ok(match params.int("limit")? {
        Some(n) if n > 0 => n as usize,
        _ => default,
    })
}

/// Which tag scopes a `scope` parameter asks for (`None`: resource and span, plus intrinsic in v2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopeParam {
    All,
    Resource,
    Span,
    Intrinsic,
    /// `event`, `link`, `instrumentation`: scopes Pharos keeps no tag catalogue for.
    Unindexed(&'static str),
}

fn parse_scope(params: &QueryParams) -> Result<ScopeParam, TraceApiError> {
    Ok(match params.get("scope").unwrap_or("all") {
        "all" | "none" => ScopeParam::All,
        "resource" => ScopeParam::Resource,
        "span" => ScopeParam::Span,
        "intrinsic" => ScopeParam::Intrinsic,
        "event" => ScopeParam::Unindexed("event"),
        "link" => ScopeParam::Unindexed("link"),
        "instrumentation" => ScopeParam::Unindexed("instrumentation"),
        other => {
            return Err(TraceApiError::BadRequest(format!(
                "invalid scope {other:?}: use resource, span, intrinsic, event, link or instrumentation"
            )));
        }
    })
}

async fn tag_names_v1(State(api): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let range = tags_range(&params)?;
        let limit = tag_limit(&params, usize::MAX)?;
        let mut names: Vec<String> = match parse_scope(&params)? {
            ScopeParam::All => {
                let mut names = api.reader.tag_names(TagScope::Resource, range);
                names.extend(api.reader.tag_names(TagScope::Span, range));
                names.sort();
                names.dedup();
                names
            }
            ScopeParam::Resource => api.reader.tag_names(TagScope::Resource, range),
            ScopeParam::Span => api.reader.tag_names(TagScope::Span, range),
            ScopeParam::Intrinsic => INTRINSIC_TAGS.iter().map(|s| s.to_string()).collect(),
            ScopeParam::Unindexed(_) => Vec::new(),
        };
        names.truncate(limit);
        Ok(json_response(&json!({"tagNames": names, "metrics": {}})))
    };
    blocking(work).await.unwrap_or_else(tempo_error)
}

async fn tag_names_v2(State(api): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let range = tags_range(&params)?;
        let limit = tag_limit(&params, usize::MAX)?;
        let scope = parse_scope(&params)?;
        let mut scopes = Vec::new();
        let mut push = |name: &str, mut tags: Vec<String>| {
            tags.truncate(limit);
            scopes.push(json!({"name": name, "tags": tags}));
        };
        if matches!(scope, ScopeParam::All | ScopeParam::Resource) {
            push("resource", api.reader.tag_names(TagScope::Resource, range));
        }
        if matches!(scope, ScopeParam::All | ScopeParam::Span) {
            push("span", api.reader.tag_names(TagScope::Span, range));
        }
        if matches!(scope, ScopeParam::All | ScopeParam::Intrinsic) {
            push("intrinsic", INTRINSIC_TAGS.iter().map(|s| s.to_string()).collect());
        }
        if let ScopeParam::Unindexed(name) = scope {
            push(name, Vec::new());
        }
        Ok(json_response(&json!({"scopes": scopes, "metrics": {}})))
    };
    blocking(work).await.unwrap_or_else(tempo_error)
}

async fn tag_values_v1(State(api): Shared, Path(tag): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let range = tags_range(&params)?;
        let limit = tag_limit(&params, DEFAULT_TAG_VALUES_LIMIT)?;
        let mut values: Vec<String> = [TagScope::Span, TagScope::Resource]
            .into_iter()
            .flat_map(|scope| api.reader.tag_values(scope, &tag, range, limit))
            .filter_map(|v| v.to_display_string())
            .collect();
        values.sort();
        values.dedup();
        values.truncate(limit);
        Ok(json_response(&json!({"tagValues": values, "metrics": {}})))
    };
    blocking(work).await.unwrap_or_else(tempo_error)
}

/// What a v2 tag-values identifier names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagIdentifier {
    /// `resource.key`, `span.key`, or `.key` (both scopes).
    Attribute { scopes: Vec<TagScope>, key: String },
    /// An intrinsic, by its canonical name (`name`, `status`, `kind`, `rootName`, …).
    Intrinsic(&'static str),
}

/// Parses `resource.service.name`, `span.http.method`, `.http.method`, `name`, `span:name`,
/// `trace:rootService`…
pub fn parse_tag_identifier(text: &str) -> Result<TagIdentifier, TraceApiError> {
    let attribute = |scopes: Vec<TagScope>, key: &str| {
        if key.is_empty() {
            Err(TraceApiError::BadRequest(format!("invalid tag {text:?}: empty attribute name")))
        } else {
            Ok(TagIdentifier::Attribute { scopes, key: key.to_string() })
        }
    };
    if let Some(key) = text.strip_prefix("resource.") {
        return attribute(vec![TagScope::Resource], key);
    }
    if let Some(key) = text.strip_prefix("span.") {
        return attribute(vec![TagScope::Span], key);
    }
    if let Some(key) = text.strip_prefix('.') {
        return attribute(vec![TagScope::Span, TagScope::Resource], key);
    }
    let intrinsic = match text {
        "name" | "span:name" => "name",
        "status" | "span:status" => "status",
        "kind" | "span:kind" => "kind",
        "statusMessage" | "span:statusMessage" => "statusMessage",
        "duration" | "span:duration" => "duration",
        "rootName" | "trace:rootName" => "rootName",
        "rootServiceName" | "trace:rootService" => "rootServiceName",
        "traceDuration" | "trace:duration" => "traceDuration",
        _ => {
            return Err(TraceApiError::BadRequest(format!(
                "invalid tag {text:?}: not an intrinsic nor a scoped attribute (resource.x, span.x, .x)"
            )));
        }
    };
    Ok(TagIdentifier::Intrinsic(intrinsic))
}

/// A typed tag value: `{"type": "string"|"int"|"float"|"bool"|"keyword", "value": "…"}`.
fn typed_value(value: &AttributeValue) -> Option<(&'static str, String)> {
    let kind = match value {
        AttributeValue::Empty => return None,
        AttributeValue::Int(_) => "int",
        AttributeValue::Double(_) => "float",
        AttributeValue::Bool(_) => "bool",
        _ => "string",
    };
    Some((kind, value.to_display_string()?))
}

async fn tag_values_v2(State(api): Shared, Path(tag): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let range = tags_range(&params)?;
        let limit = tag_limit(&params, DEFAULT_TAG_VALUES_LIMIT)?;
        let mut values: Vec<(&'static str, String)> = match parse_tag_identifier(&tag)? {
            TagIdentifier::Attribute { key, .. } if key == "service.name" && tag == "resource.service.name" => {
                api.reader.services(range).into_iter().map(|s| ("string", s)).collect()
            }
            TagIdentifier::Attribute { scopes, key } => {
                let filtered = params.get("q").and_then(|q| values_seen_by_query(&api, q, &scopes, &key, range, limit));
                match filtered {
                    Some(values) => values,
                    None => scopes
                        .iter()
                        .flat_map(|scope| api.reader.tag_values(*scope, &key, range, limit))
                        .filter_map(|v| typed_value(&v))
                        .collect(),
                }
            }
            TagIdentifier::Intrinsic("name" | "rootName") => {
                let services = api.reader.services(range);
                services.iter().flat_map(|s| api.reader.operations(s, range)).map(|op| ("string", op.name)).collect()
            }
            TagIdentifier::Intrinsic("rootServiceName") => {
                api.reader.services(range).into_iter().map(|s| ("string", s)).collect()
            }
            TagIdentifier::Intrinsic("status") => [StatusCode::Error, StatusCode::Ok, StatusCode::Unset]
                .iter()
                .map(|c| ("keyword", c.as_str().into()))
                .collect(),
            TagIdentifier::Intrinsic("kind") => [
                SpanKind::Unspecified,
                SpanKind::Internal,
                SpanKind::Server,
                SpanKind::Client,
                SpanKind::Producer,
                SpanKind::Consumer,
            ]
            .iter()
            .map(|k| ("keyword", k.as_str().into()))
            .collect(),
            // Durations and status messages have no catalogue.
            TagIdentifier::Intrinsic(_) => Vec::new(),
        };
        values.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)));
        values.dedup();
        values.truncate(limit);
        let list: Vec<Value> = values.iter().map(|(kind, value)| json!({"type": kind, "value": value})).collect();
        Ok(json_response(&json!({"tagValues": list, "metrics": {}})))
    };
    blocking(work).await.unwrap_or_else(tempo_error)
}

/// Most spans read to answer a tag-values request filtered by `q`.
pub const MAX_FILTERED_TAG_SPANS: u64 = 100_000;

/// The values of `key` on spans meeting the conditions of `q` the store can check (its
/// [`traceql::TraceQuery::span_hints`]). `None` — answer from the catalogue — when `q` does not
/// parse (Grafana sends incomplete queries while the user types) or constrains nothing.
fn values_seen_by_query(
    api: &TraceApi,
    q: &str,
    scopes: &[TagScope],
    key: &str,
    range: TimeRange,
    limit: usize,
) -> Option<Vec<(&'static str, String)>> {
    let query = traceql::parse(q).ok()?;
    let mut hints = query.span_hints(range);
    hints.range = range;
    if hints == SpanQuery::in_range(range) {
        return None;
    }
    let mut values: Vec<(&'static str, String)> = Vec::new();
    let mut read = 0u64;
    let visited = api.reader.search(&hints, &mut |span: Span| {
        for scope in scopes {
            let attributes = match scope {
                TagScope::Span => &span.attributes,
                TagScope::Resource => &span.resource.attributes,
            };
            for kv in attributes.iter().filter(|kv| kv.key == key) {
                if let Some(value) = typed_value(&kv.value)
                    && !values.contains(&value)
                {
                    values.push(value);
                }
            }
        }
        read += 1;
        if read >= MAX_FILTERED_TAG_SPANS || values.len() >= limit {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
    visited.ok().map(|_| values)
}

// Pharos — query/src/traces/tempo.rs

//! Jaeger's api_v3 over HTTP (`/jaeger/api/v3/...`, the gRPC gateway the new Jaeger UI calls).
//!
//! | path | parameters | answer |
//! |---|---|---|
//! | `/api/v3/services` | – | `{"services":[…]}` |
//! | `/api/v3/operations` | `service` (absent: every service), `span_kind` | `{"operations":[{"name","spanKind"}]}` |
//! | `/api/v3/traces/{trace_id}` | `start_time`, `end_time` (RFC 3339), `raw_traces` (ignored) | `{"result":{"resourceSpans":[…]}}` |
//! | `/api/v3/traces` | `query.service_name`, `query.operation_name`, `query.start_time_min` and `query.start_time_max` (RFC 3339, required), `query.duration_min`/`_max` (Go durations), `query.num_traces` or `query.search_depth` (default 100), `query.attributes` (a JSON object, Jaeger tag semantics) | the matching traces' `resourceSpans`, concatenated |
//!
//! Every parameter is also accepted in lowerCamelCase (`query.serviceName`, `startTime`, `spanKind`).
//! Traces are OTLP/JSON (hex ids, enums as integers). Errors are the gateway's
//! `{"error":{"http_code":N,"message":…}}`: 400 for a malformed parameter, 404 for a trace or a
//! search with nothing found (as Jaeger answers both), 500 for the store.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pharos_storage::traces::{SpanKind, SpanQuery, TimeRange, parse_trace_id};
use serde_json::{Value, json};

use super::error::TraceApiError;
use super::jaeger::{DEFAULT_SEARCH_LIMIT, apply_jaeger_tags, parse_tags_json};
use super::otlp_out::{JsonFlavor, resource_spans_json};
use super::params::{QueryParams, parse_go_duration};
use super::search::{self, MAX_CANDIDATE_TRACES};
use super::{Shared, TraceApi, blocking, json_response};
use crate::params::parse_rfc3339_nanos;

/// The api_v3 routes, with full paths.
pub(super) fn routes() -> Router<Arc<TraceApi>> {
    Router::new()
        .route("/jaeger/api/v3/services", get(services))
        .route("/jaeger/api/v3/operations", get(operations))
        .route("/jaeger/api/v3/traces", get(find_traces))
        .route("/jaeger/api/v3/traces/{trace_id}", get(get_trace))
}

/// The gateway's error body.
fn gateway_error(error: TraceApiError) -> Response {
    let status = error.code().status();
    let body = json!({"error": {"http_code": status.as_u16(), "message": error.to_string()}});
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn services(State(api): Shared) -> Response {
    match blocking(move || Ok(api.reader.services(TimeRange::ALL))).await {
        Ok(names) => json_response(&json!({"services": names})),
        Err(e) => gateway_error(e),
    }
}

/// api_v3's spelling of a span kind: lowercase, unspecified shown as `internal` (as Jaeger does).
fn v3_span_kind(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => SpanKind::Internal.as_str(),
        other => other.as_str(),
    }
}

async fn operations(State(api): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let services = match params.get("service") {
            Some(service) => vec![service.to_string()],
            None => api.reader.services(TimeRange::ALL),
        };
        let kind = params.get_any(&["span_kind", "spanKind"]).map(|(_, k)| k.to_string());
        let mut operations: Vec<(String, &'static str)> = services
            .iter()
            .flat_map(|service| api.reader.operations(service, TimeRange::ALL))
            .map(|op| (op.name, v3_span_kind(op.kind)))
            .filter(|(_, k)| kind.as_deref().is_none_or(|wanted| *k == wanted))
            .collect();
        operations.sort();
        operations.dedup();
        Ok(operations)
    };
    match blocking(work).await {
        Ok(operations) => {
            let list: Vec<Value> =
                operations.iter().map(|(name, kind)| json!({"name": name, "spanKind": kind})).collect();
            json_response(&json!({"operations": list}))
        }
        Err(e) => gateway_error(e),
    }
}

fn malformed(name: &str, why: impl std::fmt::Display) -> TraceApiError {
    TraceApiError::BadRequest(format!("malformed parameter {name}: {why}"))
}

/// An optional RFC 3339 time under any of `keys`, in nanoseconds.
fn time_param(params: &QueryParams, keys: &[&str]) -> Result<Option<i64>, TraceApiError> {
    match params.get_any(keys) {
        None => Ok(None),
        Some((key, text)) => parse_rfc3339_nanos(text)
            .map(Some)
            .ok_or_else(|| malformed(key, format!("{text:?} is not an RFC 3339 time"))),
    }
}

fn duration_param(params: &QueryParams, keys: &[&str]) -> Result<Option<u64>, TraceApiError> {
    match params.get_any(keys) {
        None => Ok(None),
        Some((key, text)) => parse_go_duration(text).map(|d| Some(d).filter(|d| *d > 0)).map_err(|e| malformed(key, e)),
    }
}

async fn get_trace(State(api): Shared, Path(trace_id): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let id = parse_trace_id(&trace_id)
            .ok_or_else(|| malformed("trace_id", format!("{trace_id:?} is not 1 to 32 hex digits")))?;
        let start = time_param(&params, &["start_time", "startTime"])?.unwrap_or(i64::MIN);
        let end = time_param(&params, &["end_time", "endTime"])?.unwrap_or(i64::MAX);
        let spans = api.reader.trace(&id, TimeRange::new(start, end)).map_err(TraceApiError::Storage)?;
        if spans.is_empty() {
            return Err(TraceApiError::NotFound("trace not found".into()));
        }
        Ok(json!({"result": {"resourceSpans": resource_spans_json(&spans, JsonFlavor::Otlp)}}))
    };
    match blocking(work).await {
        Ok(body) => json_response(&body),
        Err(e) => gateway_error(e),
    }
}

async fn find_traces(State(api): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let (Some(start), Some(end)) = (
            time_param(&params, &["query.start_time_min", "query.startTimeMin"])?,
            time_param(&params, &["query.start_time_max", "query.startTimeMax"])?,
        ) else {
            return Err(TraceApiError::BadRequest("query.start_time_min and query.start_time_max are required".into()));
        };
        let mut query = SpanQuery::in_range(TimeRange::new(start, end));
        query.service = params.get_any(&["query.service_name", "query.serviceName"]).map(|(_, s)| s.to_string());
        query.span_name = params.get_any(&["query.operation_name", "query.operationName"]).map(|(_, s)| s.to_string());
        query.min_duration_nanos = duration_param(&params, &["query.duration_min", "query.durationMin"])?;
        query.max_duration_nanos = duration_param(&params, &["query.duration_max", "query.durationMax"])?;
        let tags = match params.get("query.attributes") {
            Some(text) => parse_tags_json(text)?,
            None => Vec::new(),
        };
        let conditions = apply_jaeger_tags(&mut query, tags);
        let depth_keys = ["query.num_traces", "query.numTraces", "query.search_depth", "query.searchDepth"];
        let limit = match params.get_any(&depth_keys) {
            None => DEFAULT_SEARCH_LIMIT,
            Some((key, text)) => match text.parse::<i64>() {
                Ok(n) if n > 0 => n as usize,
                Ok(_) => DEFAULT_SEARCH_LIMIT,
                Err(_) => return Err(malformed(key, format!("{text:?} is not an integer"))),
            },
        };
        if start > end {
            return Err(TraceApiError::BadRequest(
                "query.start_time_min must not be after query.start_time_max".into(),
            ));
        }
        let filter = move |span: &pharos_storage::traces::Span| conditions.iter().all(|c| c.holds(span));
        let found =
            search::find_traces(api.reader.as_ref(), &query, &filter, limit, MAX_CANDIDATE_TRACES, &mut |spans| {
                Some(resource_spans_json(&spans, JsonFlavor::Otlp))
            })?;
        if found.traces.is_empty() {
            return Err(TraceApiError::NotFound("No traces found".into()));
        }
        let resource_spans: Vec<Value> =
            found.traces.into_iter().flat_map(|t| if let Value::Array(list) = t { list } else { Vec::new() }).collect();
        Ok(json!({"result": {"resourceSpans": resource_spans}}))
    };
    match blocking(work).await {
        Ok(body) => json_response(&body),
        Err(e) => gateway_error(e),
    }
}

// Pharos — query/src/traces/jaeger_v3.rs

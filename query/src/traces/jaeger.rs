//! Jaeger's "internal" HTTP JSON API (`/jaeger/api/...`), the one Grafana's Jaeger datasource and
//! Jaeger UI 1.x call.
//!
//! | path | parameters |
//! |---|---|
//! | `/api/services` | – |
//! | `/api/services/{service}/operations` | – (names only) |
//! | `/api/operations` | `service` (required), `spanKind` |
//! | `/api/traces` | `service` (required without `traceID`), `operation`, `tags` (JSON object), `tag=k:v` (repeated), `start`/`end` (µs; default the 2 days before now), `minDuration`/`maxDuration` (Go durations, span duration), `limit` (100), `traceID` (repeated), `lookback` and `raw` ignored |
//! | `/api/traces/{id}` | `start`/`end` (optional; µs, or ms as Grafana sends them) |
//! | `/api/dependencies` | `endTs` (ms, default now), `lookback` (ms, default 24 h), `service` |
//!
//! Every answer is Jaeger's envelope `{"data":…,"total":n,"limit":0,"offset":0,"errors":null}`;
//! errors carry `errors:[{"code":N,"msg":…}]` with status 400 (bad parameters), 404 (trace not
//! found) or 500.
//!
//! Spans become Jaeger spans as Jaeger's own OTLP translator writes them: resource attributes are
//! the process (`service.name` its `serviceName`, processes keyed `p1`, `p2`… in order of first
//! use); the kind is the tag `span.kind`; the scope `otel.scope.name`/`otel.scope.version`; a status
//! `otel.status_code` (`OK`/`ERROR`), `otel.status_description`, and `error=true` for errors; the
//! trace state `w3c.tracestate`; events are logs (their name in the field `event`); the parent is
//! the first reference (`CHILD_OF`), links follow as `FOLLOWS_FROM`. Times and durations are in µs.
//!
//! Tag search: `error=true|false`, `span.kind=<kind>`, `otel.status_code=OK|ERROR|UNSET`,
//! `otel.status_description`, `otel.scope.name`, `otel.scope.version` test those properties of the
//! span; any other tag is an attribute of the span or, absent that, of its resource, compared by
//! its text (`500` matches the integer 500).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pharos_proto::ApiFamily;
use pharos_proto::civil_time::now_nanos;
use pharos_storage::traces::{
    AttributeValue, KeyValue, Resource, Span, SpanKind, SpanQuery, StatusCode, TimeRange, TraceId, parse_trace_id,
    span_id_hex,
};
use serde_json::{Map, Value, json};

use super::error::TraceApiError;
use super::otlp_out::base64_standard;
use super::params::QueryParams;
use super::search::{self, DependencyLink, MAX_CANDIDATE_TRACES, MAX_DEPENDENCY_SPANS};
use super::{Shared, TraceApi, blocking, json_response};

const MICROS: i64 = 1_000;
const MILLIS: i64 = 1_000_000;
const HOUR: i64 = 3_600 * 1_000_000_000;
/// The search window before `end` when `start` is absent (Grafana's backend sends neither): 2 days,
/// as Jaeger's query service looks back by default.
pub const DEFAULT_SEARCH_LOOKBACK_NANOS: i64 = 48 * HOUR;
/// The dependency window when `lookback` is absent (Jaeger's default: 24 h).
pub const DEFAULT_DEPENDENCY_LOOKBACK_NANOS: i64 = 24 * HOUR;
/// Traces returned by a search without `limit`.
pub const DEFAULT_SEARCH_LIMIT: usize = 100;
/// A trace-by-id `start`/`end` below this many µs (1973) is read as milliseconds: Grafana's Jaeger
/// datasource sends milliseconds there, Jaeger itself microseconds.
const MILLISECOND_TIMES_BELOW: i64 = 100_000_000_000_000;

/// The Jaeger v1 routes, with full paths.
pub(super) fn routes() -> Router<Arc<TraceApi>> {
    Router::new()
        .route("/jaeger/api/services", get(services))
        .route("/jaeger/api/services/{service}/operations", get(service_operations))
        .route("/jaeger/api/operations", get(operations))
        .route("/jaeger/api/traces", get(search_traces))
        .route("/jaeger/api/traces/{id}", get(trace_by_id))
        .route("/jaeger/api/dependencies", get(dependencies))
}

fn envelope(data: Value, total: usize) -> Response {
    json_response(&json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null}))
}

fn jaeger_error(error: TraceApiError) -> Response {
    error.into_api_error(ApiFamily::Jaeger).into_response()
}

async fn services(State(api): Shared) -> Response {
    match blocking(move || Ok(api.reader.services(TimeRange::ALL))).await {
        Ok(names) => {
            let total = names.len();
            envelope(json!(names), total)
        }
        Err(e) => jaeger_error(e),
    }
}

async fn service_operations(State(api): Shared, Path(service): Path<String>) -> Response {
    let work = move || {
        let mut names: Vec<String> =
            api.reader.operations(&service, TimeRange::ALL).into_iter().map(|op| op.name).collect();
        names.dedup();
        Ok(names)
    };
    match blocking(work).await {
        Ok(names) => {
            let total = names.len();
            envelope(json!(names), total)
        }
        Err(e) => jaeger_error(e),
    }
}

/// Jaeger's spelling of a span kind: the lowercase name, empty for unspecified.
pub fn jaeger_span_kind(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "",
        other => other.as_str(),
    }
}

async fn operations(State(api): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let service = params
            .get("service")
            .ok_or_else(|| TraceApiError::BadRequest("parameter 'service' is required".into()))?
            .to_string();
        let kind = params.get("spanKind").map(str::to_string);
        let ops: Vec<Value> = api
            .reader
            .operations(&service, TimeRange::ALL)
            .into_iter()
            .filter(|op| kind.as_deref().is_none_or(|k| jaeger_span_kind(op.kind) == k))
            .map(|op| json!({"name": op.name, "spanKind": jaeger_span_kind(op.kind)}))
            .collect();
        Ok(ops)
    };
    match blocking(work).await {
        Ok(ops) => {
            let total = ops.len();
            envelope(Value::Array(ops), total)
        }
        Err(e) => jaeger_error(e),
    }
}

/// A Jaeger time parameter in µs, as nanoseconds.
fn micros_param(params: &QueryParams, key: &str) -> Result<Option<i64>, TraceApiError> {
    Ok(params.int(key)?.map(|us| us.saturating_mul(MICROS)))
}

async fn trace_by_id(State(api): Shared, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let id = parse_id(&id)?;
        // Grafana sends milliseconds here; Jaeger reads microseconds.
        let time = |key: &str| -> Result<Option<i64>, TraceApiError> {
            Ok(params.int(key)?.map(|t| {
                if t.abs() < MILLISECOND_TIMES_BELOW { t.saturating_mul(MILLIS) } else { t.saturating_mul(MICROS) }
            }))
        };
        let range = TimeRange::new(time("start")?.unwrap_or(i64::MIN), time("end")?.unwrap_or(i64::MAX));
        let spans = api.reader.trace(&id, range).map_err(TraceApiError::Storage)?;
        if spans.is_empty() {
            return Err(TraceApiError::NotFound("trace not found".into()));
        }
        Ok(trace_json(&spans))
    };
    match blocking(work).await {
        Ok(trace) => envelope(json!([trace]), 0),
        Err(e) => jaeger_error(e),
    }
}

fn parse_id(text: &str) -> Result<TraceId, TraceApiError> {
    parse_trace_id(text)
        .ok_or_else(|| TraceApiError::BadRequest(format!("cannot parse traceID {text:?}: expected 1 to 32 hex digits")))
}

/// A condition of a Jaeger tag search that the store's [`SpanQuery`] cannot hold, checked on each
/// span the store visits.
#[derive(Debug, Clone, PartialEq)]
pub enum SpanCondition {
    Status(StatusCode),
    NotError,
    StatusMessage(String),
    ScopeName(String),
    ScopeVersion(String),
}

impl SpanCondition {
    pub fn holds(&self, span: &Span) -> bool {
        match self {
            SpanCondition::Status(code) => span.status.code == *code,
            SpanCondition::NotError => !span.is_error(),
            SpanCondition::StatusMessage(message) => span.status.message == *message,
            SpanCondition::ScopeName(name) => span.scope.name == *name,
            SpanCondition::ScopeVersion(version) => span.scope.version == *version,
        }
    }
}

/// Puts Jaeger search tags into `query` (special tags onto its fields, the rest as attribute
/// pairs) and returns the conditions it cannot hold.
pub fn apply_jaeger_tags(query: &mut SpanQuery, tags: Vec<(String, String)>) -> Vec<SpanCondition> {
    let mut conditions = Vec::new();
    for (key, value) in tags {
        match key.as_str() {
            "error" if value == "true" => query.error_only = true,
            "error" if value == "false" => conditions.push(SpanCondition::NotError),
            "span.kind" if SpanKind::parse(&value).is_some() => query.kind = SpanKind::parse(&value),
            "otel.status_code" if value.eq_ignore_ascii_case("ERROR") => query.error_only = true,
            "otel.status_code" if value.eq_ignore_ascii_case("OK") => {
                conditions.push(SpanCondition::Status(StatusCode::Ok))
            }
            "otel.status_code" if value.eq_ignore_ascii_case("UNSET") => {
                conditions.push(SpanCondition::Status(StatusCode::Unset))
            }
            "otel.status_description" => conditions.push(SpanCondition::StatusMessage(value)),
            "otel.scope.name" => conditions.push(SpanCondition::ScopeName(value)),
            "otel.scope.version" => conditions.push(SpanCondition::ScopeVersion(value)),
            _ => query.attributes.push((key, value)),
        }
    }
    conditions
}

/// The `tag=k:v` and `tags={json}` parameters, in order (a later value of a key replaces nothing:
/// every pair is a condition).
fn search_tags(params: &QueryParams) -> Result<Vec<(String, String)>, TraceApiError> {
    let mut tags = Vec::new();
    for tag in params.all("tag") {
        let Some((key, value)) = tag.split_once(':') else {
            return Err(TraceApiError::BadRequest(format!(
                "malformed 'tag' parameter, expecting key:value, received: {tag}"
            )));
        };
        tags.push((key.to_string(), value.to_string()));
    }
    for json_tags in params.all("tags") {
        tags.extend(parse_tags_json(json_tags)?);
    }
    Ok(tags)
}

/// A `tags` JSON object (`{"http.status_code":"500"}`); numbers and booleans are taken as their text.
pub fn parse_tags_json(text: &str) -> Result<Vec<(String, String)>, TraceApiError> {
    let malformed =
        |why: String| TraceApiError::BadRequest(format!("malformed 'tags' parameter, cannot unmarshal JSON: {why}"));
    let Value::Object(map) = serde_json::from_str::<Value>(text).map_err(|e| malformed(e.to_string()))? else {
        return Err(malformed("not a JSON object".into()));
    };
    map.into_iter()
        .map(|(key, value)| match value {
            Value::String(s) => Ok((key, s)),
            Value::Number(n) => Ok((key, n.to_string())),
            Value::Bool(b) => Ok((key, b.to_string())),
            other => Err(malformed(format!("value of {key:?} is not a string: {other}"))),
        })
        .collect()
}

/// What a Jaeger search asks for, parsed and checked.
struct JaegerSearch {
    trace_ids: Vec<TraceId>,
    query: SpanQuery,
    conditions: Vec<SpanCondition>,
    limit: usize,
}

fn parse_search(params: &QueryParams, now: i64) -> Result<JaegerSearch, TraceApiError> {
    let trace_ids = params
        .all("traceID")
        .into_iter()
        .map(|id| {
            parse_trace_id(id).ok_or_else(|| {
                TraceApiError::BadRequest(format!("cannot parse traceID param: {id:?} is not 1 to 32 hex digits"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let end = micros_param(params, "end")?.unwrap_or(now);
    let start = micros_param(params, "start")?.unwrap_or(end.saturating_sub(DEFAULT_SEARCH_LOOKBACK_NANOS));
    let mut query = SpanQuery::in_range(TimeRange::new(start, end));
    query.service = params.get("service").map(str::to_string);
    query.span_name = params.get("operation").map(str::to_string);
    let conditions = apply_jaeger_tags(&mut query, search_tags(params)?);
    query.min_duration_nanos = params.duration("minDuration")?.filter(|d| *d > 0);
    query.max_duration_nanos = params.duration("maxDuration")?.filter(|d| *d > 0);
    let limit = match params.int("limit")? {
        None => DEFAULT_SEARCH_LIMIT,
        Some(n) if n > 0 => n as usize,
        Some(_) => return Err(TraceApiError::BadRequest("invalid parameter: limit must be greater than 0".into())),
    };
    if trace_ids.is_empty() && query.service.is_none() {
        return Err(TraceApiError::BadRequest("parameter 'service' is required".into()));
    }
    if start > end {
        return Err(TraceApiError::BadRequest("invalid parameter: start time must be before end time".into()));
    }
    if let (Some(min), Some(max)) = (query.min_duration_nanos, query.max_duration_nanos)
        && max < min
    {
        return Err(TraceApiError::BadRequest("'maxDuration' should be greater than 'minDuration'".into()));
    }
    Ok(JaegerSearch { trace_ids, query, conditions, limit })
}

async fn search_traces(State(api): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let search = parse_search(&params, now_nanos())?;
        if !search.trace_ids.is_empty() {
            let mut traces = Vec::new();
            let mut errors = Vec::new();
            for id in &search.trace_ids {
                let spans = api.reader.trace(id, TimeRange::ALL).map_err(TraceApiError::Storage)?;
                if spans.is_empty() {
                    errors.push(json!({"msg": "trace not found", "traceID": jaeger_trace_id(id)}));
                } else {
                    traces.push(trace_json(&spans));
                }
            }
            let errors = if errors.is_empty() { Value::Null } else { Value::Array(errors) };
            return Ok(json!({"data": traces, "total": 0, "limit": 0, "offset": 0, "errors": errors}));
        }
        let conditions = search.conditions;
        let filter = move |span: &Span| conditions.iter().all(|c| c.holds(span));
        let found = search::find_traces(
            api.reader.as_ref(),
            &search.query,
            &filter,
            search.limit,
            MAX_CANDIDATE_TRACES,
            &mut |spans| Some(trace_json(&spans)),
        )?;
        Ok(json!({"data": found.traces, "total": 0, "limit": 0, "offset": 0, "errors": null}))
    };
    match blocking(work).await {
        Ok(body) => json_response(&body),
        Err(e) => jaeger_error(e),
    }
}

async fn dependencies(State(api): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let work = move || {
        let end = params.int("endTs")?.map_or_else(now_nanos, |ms| ms.saturating_mul(MILLIS));
        let lookback =
            params.int("lookback")?.map_or(DEFAULT_DEPENDENCY_LOOKBACK_NANOS, |ms| ms.saturating_mul(MILLIS));
        if lookback < 0 {
            return Err(TraceApiError::BadRequest("unable to parse param 'lookback': must not be negative".into()));
        }
        let range = TimeRange::new(end.saturating_sub(lookback), end);
        let mut links = search::dependencies(api.reader.as_ref(), range, MAX_DEPENDENCY_SPANS)?;
        if let Some(service) = params.get("service") {
            links.retain(|l| l.parent == service || l.child == service);
        }
        Ok(links)
    };
    match blocking(work).await {
        Ok(links) => {
            let data: Vec<Value> = links
                .iter()
                .map(|DependencyLink { parent, child, call_count }| {
                    json!({"parent": parent, "child": child, "callCount": call_count})
                })
                .collect();
            envelope(Value::Array(data), 0)
        }
        Err(e) => jaeger_error(e),
    }
}

// ---- the Jaeger trace model ----------------------------------------------------------------------

/// Jaeger's spelling of a trace id: 16 hex digits when the high 64 bits are zero, else 32.
pub fn jaeger_trace_id(id: &TraceId) -> String {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    if id[..8].iter().all(|b| *b == 0) { hex[16..].to_string() } else { hex }
}

/// A trace (its spans, any order) as Jaeger's UI model: `{traceID, spans, processes, warnings}`.
pub fn trace_json(spans: &[Span]) -> Value {
    let mut processes: Vec<&Arc<Resource>> = Vec::new();
    let mut span_values = Vec::with_capacity(spans.len());
    for span in spans {
        let index = match processes.iter().position(|r| Arc::ptr_eq(r, &span.resource) || ***r == *span.resource) {
            Some(index) => index,
            None => {
                processes.push(&span.resource);
                processes.len() - 1
            }
        };
        span_values.push(span_json(span, &format!("p{}", index + 1)));
    }
    let processes: Map<String, Value> = processes
        .iter()
        .enumerate()
        .map(|(i, resource)| {
            let tags: Vec<Value> = resource
                .attributes
                .iter()
                .filter(|kv| kv.key != "service.name")
                .map(|kv| tag_json(&kv.key, &kv.value))
                .collect();
            (format!("p{}", i + 1), json!({"serviceName": resource.service_name(), "tags": tags}))
        })
        .collect();
    let trace_id = spans.first().map(|s| jaeger_trace_id(&s.trace_id)).unwrap_or_default();
    json!({"traceID": trace_id, "spans": span_values, "processes": processes, "warnings": null})
}

fn span_json(span: &Span, process_id: &str) -> Value {
    let trace_id = jaeger_trace_id(&span.trace_id);
    let mut references = Vec::new();
    if let Some(parent) = &span.parent_span_id {
        references.push(json!({"refType": "CHILD_OF", "traceID": trace_id, "spanID": span_id_hex(parent)}));
    }
    for link in &span.links {
        references.push(json!({
            "refType": "FOLLOWS_FROM", "traceID": jaeger_trace_id(&link.trace_id), "spanID": span_id_hex(&link.span_id),
        }));
    }
    let mut tags: Vec<Value> = span.attributes.iter().map(|kv| tag_json(&kv.key, &kv.value)).collect();
    let mut string_tag = |key: &str, value: &str| tags.push(tag_json(key, &AttributeValue::String(value.to_string())));
    if span.kind != SpanKind::Unspecified {
        string_tag("span.kind", span.kind.as_str());
    }
    if !span.scope.name.is_empty() {
        string_tag("otel.scope.name", &span.scope.name);
    }
    if !span.scope.version.is_empty() {
        string_tag("otel.scope.version", &span.scope.version);
    }
    match span.status.code {
        StatusCode::Unset => {}
        StatusCode::Ok => string_tag("otel.status_code", "OK"),
        StatusCode::Error => string_tag("otel.status_code", "ERROR"),
    }
    if !span.status.message.is_empty() {
        string_tag("otel.status_description", &span.status.message);
    }
    if !span.trace_state.is_empty() {
        string_tag("w3c.tracestate", &span.trace_state);
    }
    if span.is_error() {
        tags.push(tag_json("error", &AttributeValue::Bool(true)));
    }
    let logs: Vec<Value> = span
        .events
        .iter()
        .map(|event| {
            let mut fields = Vec::with_capacity(event.attributes.len() + 1);
            if !event.name.is_empty() {
                fields.push(tag_json("event", &AttributeValue::String(event.name.clone())));
            }
            fields.extend(event.attributes.iter().map(|kv: &KeyValue| tag_json(&kv.key, &kv.value)));
            json!({"timestamp": event.time_unix_nano / 1_000, "fields": fields})
        })
        .collect();
    let mut out = json!({
        "traceID": trace_id,
        "spanID": span_id_hex(&span.span_id),
        "operationName": span.name,
        "references": references,
        "startTime": span.start_time_unix_nano / 1_000,
        "duration": span.duration_nanos() / 1_000,
        "tags": tags,
        "logs": logs,
        "processID": process_id,
        "warnings": null,
    });
    let flags = span.flags & 0xff;
    if flags != 0 {
        out["flags"] = json!(flags);
    }
    out
}

/// A Jaeger `KeyValue`: `{key, type, value}` with type `string`, `bool`, `int64`, `float64` or
/// `binary` (base64). Arrays and maps are strings holding their JSON, as OpenTelemetry's
/// translator writes them.
pub fn tag_json(key: &str, value: &AttributeValue) -> Value {
    let (kind, value) = match value {
        AttributeValue::Empty => ("string", json!("")),
        AttributeValue::String(s) => ("string", json!(s)),
        AttributeValue::Bool(b) => ("bool", json!(b)),
        AttributeValue::Int(i) => ("int64", json!(i)),
        AttributeValue::Double(d) if d.is_finite() => ("float64", json!(d)),
        AttributeValue::Double(d) => ("float64", json!(d.to_string())),
        AttributeValue::Bytes(bytes) => ("binary", json!(base64_standard(bytes))),
        list @ (AttributeValue::Array(_) | AttributeValue::KeyValueList(_)) => {
            ("string", json!(plain_json(list).to_string()))
        }
    };
    json!({"key": key, "type": kind, "value": value})
}

/// An attribute value as plain JSON (arrays as arrays, key-value lists as objects, bytes in base64).
pub fn plain_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::Empty => Value::Null,
        AttributeValue::String(s) => json!(s),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::Int(i) => json!(i),
        AttributeValue::Double(d) => super::otlp_out::double_json(*d),
        AttributeValue::Bytes(bytes) => json!(base64_standard(bytes)),
        AttributeValue::Array(values) => Value::Array(values.iter().map(plain_json).collect()),
        AttributeValue::KeyValueList(pairs) => {
            Value::Object(pairs.iter().map(|kv| (kv.key.clone(), plain_json(&kv.value))).collect())
        }
    }
}

// Pharos — query/src/traces/jaeger.rs

//! HTTP routes, and the API methods of [`ElasticState`] behind them (bodies in, JSON text out).
//!
//! Routes (relative to the prefix the router is nested under): `/_search`, `/{index}/_search`,
//! `/_count`, `/{index}/_count`, `/_field_caps`, `/{index}/_field_caps` (GET and POST),
//! `/_msearch`, `/{index}/_msearch` (GET and POST), `/_mapping`, `/{index}/_mapping` (GET).
//! Searches run on the blocking pool.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use pharos_proto::DecodedBody;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use super::error::EsError;
use super::indices::IndexOptions;
use super::search::{self, SearchRequest};
use super::{ElasticState, LogSchema, LogSnapshots, Params, json_response, mapping};


/// The Elasticsearch API router over `snapshots`.
pub fn router(snapshots: Arc<dyn LogSnapshots>, schema: LogSchema) -> Router {
    routes(ElasticState::new(snapshots, schema))
}

pub(super) fn routes(state: ElasticState) -> Router {
    Router::new()
        .route("/_search", get(search_all).post(search_all))
        .route("/{index}/_search", get(search_index).post(search_index))
        .route("/_msearch", get(msearch_all).post(msearch_all))
        .route("/{index}/_msearch", get(msearch_index).post(msearch_index))
        .route("/_count", get(count_all).post(count_all))
        .route("/{index}/_count", get(count_index).post(count_index))
        .route("/_mapping", get(mapping_all))
        .route("/{index}/_mapping", get(mapping_index))
        .route("/_field_caps", get(field_caps_all).post(field_caps_all))
        .route("/{index}/_field_caps", get(field_caps_index).post(field_caps_index))
        .layer(axum::middleware::map_response(product_header))
        .with_state(state)
}

async fn product_header(mut response: Response) -> Response {
    response.headers_mut().insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
    response
}

/// Runs `f` on the blocking pool and renders its result.
async fn blocking<F>(f: F) -> Response
where
    F: FnOnce() -> Result<String, EsError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(body)) => json_response(StatusCode::OK, body),
        Ok(Err(e)) => e.into_response(),
        Err(e) => EsError::Internal(format!("search task failed: {e}")).into_response(),
    }
}

async fn search_all(State(s): State<ElasticState>, RawQuery(q): RawQuery, DecodedBody { bytes: body, .. }: DecodedBody) -> Response {
    blocking(move || s.search("_all", &Params::parse(q.as_deref()), &body)).await
}

async fn search_index(
    State(s): State<ElasticState>,
    Path(index): Path<String>,
    RawQuery(q): RawQuery,
    DecodedBody { bytes: body, .. }: DecodedBody,
) -> Response {
    blocking(move || s.search(&index, &Params::parse(q.as_deref()), &body)).await
}

async fn msearch_all(State(s): State<ElasticState>, RawQuery(q): RawQuery, DecodedBody { bytes: body, .. }: DecodedBody) -> Response {
    blocking(move || s.msearch(None, &Params::parse(q.as_deref()), &body)).await
}

async fn msearch_index(
    State(s): State<ElasticState>,
    Path(index): Path<String>,
    RawQuery(q): RawQuery,
    DecodedBody { bytes: body, .. }: DecodedBody,
) -> Response {
    blocking(move || s.msearch(Some(&index), &Params::parse(q.as_deref()), &body)).await
}

async fn count_all(State(s): State<ElasticState>, RawQuery(q): RawQuery, DecodedBody { bytes: body, .. }: DecodedBody) -> Response {
    blocking(move || s.count("_all", &Params::parse(q.as_deref()), &body).map(|v| v.to_string())).await
}

async fn count_index(
    State(s): State<ElasticState>,
    Path(index): Path<String>,
    RawQuery(q): RawQuery,
    DecodedBody { bytes: body, .. }: DecodedBody,
) -> Response {
    blocking(move || s.count(&index, &Params::parse(q.as_deref()), &body).map(|v| v.to_string())).await
}

async fn mapping_all(State(s): State<ElasticState>, RawQuery(q): RawQuery) -> Response {
    blocking(move || s.mapping("_all", &Params::parse(q.as_deref())).map(|v| v.to_string())).await
}

async fn mapping_index(State(s): State<ElasticState>, Path(index): Path<String>, RawQuery(q): RawQuery) -> Response {
    blocking(move || s.mapping(&index, &Params::parse(q.as_deref())).map(|v| v.to_string())).await
}

async fn field_caps_all(State(s): State<ElasticState>, RawQuery(q): RawQuery) -> Response {
    blocking(move || s.field_caps("_all", &Params::parse(q.as_deref())).map(|v| v.to_string())).await
}

async fn field_caps_index(State(s): State<ElasticState>, Path(index): Path<String>, RawQuery(q): RawQuery) -> Response {
    blocking(move || s.field_caps(&index, &Params::parse(q.as_deref())).map(|v| v.to_string())).await
}

/// Reads a boolean from an msearch header (`true`, `"true"`).
fn header_flag(header: &Value, name: &str) -> Option<bool> {
    match header.get(name)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    }
}

impl ElasticState {
    /// `_search` over `index` (an index expression). Returns the response body.
    pub fn search(&self, index: &str, params: &Params, body: &[u8]) -> Result<String, EsError> {
        let req = SearchRequest::parse(&self.schema, body, params)?;
        Ok(search::execute(self, index, params.index_options(), &req)?.to_json())
    }

    /// `_msearch`: NDJSON header/body pairs; each search succeeds or fails on its own.
    pub fn msearch(&self, index: Option<&str>, params: &Params, body: &[u8]) -> Result<String, EsError> {
        let started = Instant::now();
        let text = std::str::from_utf8(body).map_err(|_| EsError::XContent("request body is not UTF-8".into()))?;
        let lines: Vec<&str> =
            text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return Err(EsError::Validation("Validation Failed: 1: no requests added;".into()));
        }
        if !lines.len().is_multiple_of(2) {
            return Err(EsError::IllegalArgument(
                "The msearch request must be terminated by a newline [\\n]; a search body is missing".into(),
            ));
        }
        let mut shared = Params::default();
        if let Some(v) = params.get("rest_total_hits_as_int") {
            shared.0.push(("rest_total_hits_as_int".into(), v.into()));
        }
        let pairs: Vec<(&str, &str)> = lines.chunks(2).map(|c| (c[0], c[1])).collect();
        let run = |(header, body): (&str, &str)| -> String {
            match self.msearch_one(index, &shared, header, body) {
                Ok(mut json) => {
                    json.pop();
                    json.push_str(",\"status\":200}");
                    json
                }
                Err(e) => e.body().to_string(),
            }
        };
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(pairs.len()).max(1);
        let responses: Vec<String> = if workers == 1 {
            pairs.into_iter().map(run).collect()
        } else {
            let mut slots: Vec<Option<String>> = vec![None; pairs.len()];
            std::thread::scope(|scope| {
                let chunk = pairs.len().div_ceil(workers);
                let handles: Vec<_> = pairs
                    .chunks(chunk)
                    .enumerate()
                    .map(|(i, part)| {
                        let run = &run;
                        scope.spawn(move || (i * chunk, part.iter().map(|p| run(*p)).collect::<Vec<_>>()))
                    })
                    .collect();
                for handle in handles {
                    if let Ok((start, results)) = handle.join() {
                        for (offset, r) in results.into_iter().enumerate() {
                            slots[start + offset] = Some(r);
                        }
                    }
                }
            });
            slots
                .into_iter()
                .map(|s| s.unwrap_or_else(|| EsError::Internal("search failed".into()).body().to_string()))
                .collect()
        };
        Ok(format!("{{\"took\":{},\"responses\":[{}]}}", started.elapsed().as_millis(), responses.join(",")))
    }

    fn msearch_one(&self, index: Option<&str>, params: &Params, header: &str, body: &str) -> Result<String, EsError> {
        let header: Value = serde_json::from_str(header)
            .map_err(|e| EsError::XContent(format!("failed to parse msearch header: {e}")))?;
        let target = match header.get("index") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            _ => index.unwrap_or("_all").to_string(),
        };
        let options = IndexOptions {
            ignore_unavailable: header_flag(&header, "ignore_unavailable").unwrap_or(false),
            allow_no_indices: header_flag(&header, "allow_no_indices").unwrap_or(true),
        };
        let req = SearchRequest::parse(&self.schema, body.as_bytes(), params)?;
        Ok(search::execute(self, &target, options, &req)?.to_json())
    }

    /// `_count` with an optional `{"query":…}` body (or `q=`).
    pub fn count(&self, index: &str, params: &Params, body: &[u8]) -> Result<Value, EsError> {
        let mut query = super::dsl::QueryNode::All;
        if !body.iter().all(u8::is_ascii_whitespace) {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| EsError::XContent(format!("failed to parse request body: {e}")))?;
            let obj = value.as_object().ok_or_else(|| EsError::Parsing("request body must be a JSON object".into()))?;
            for (key, v) in obj {
                match key.as_str() {
                    "query" => query = super::dsl::parse_query(&self.schema, v)?,
                    "terminate_after" | "min_score" => {}
                    other => return Err(EsError::Parsing(format!("request does not support [{other}]"))),
                }
            }
        }
        if let Some(q) = params.get("q") {
            let and = params.get("default_operator").is_some_and(|o| o.eq_ignore_ascii_case("and"));
            query = super::lucene::parse(&self.schema, q, and, super::dsl::default_fields(&self.schema))?;
        }
        search::count(self, index, params.index_options(), &query)
    }

    /// `_mapping` of the indices `index` selects.
    pub fn mapping(&self, index: &str, params: &Params) -> Result<Value, EsError> {
        mapping::mapping(self, index, params.index_options())
    }

    /// `_field_caps` (`fields` parameter: comma-separated patterns, default `*`).
    pub fn field_caps(&self, index: &str, params: &Params) -> Result<Value, EsError> {
        let fields = params.get("fields").unwrap_or("*");
        mapping::field_caps(self, index, params.index_options(), fields)
    }
}

// Pharos — query/src/elastic/handlers.rs

//! Elasticsearch-compatible ingest: `_bulk` plus the start-up probes of Logstash, Filebeat, Fluent Bit,
//! Vector and the official clients (see `shared/specs/logs-api.md` §1–2).
//!
//! # Routes
//! Written relative to the Elasticsearch root, so the router can be nested (`/elastic`) or served at
//! the root of a listener of its own:
//!
//! | Route | Answer |
//! |---|---|
//! | `GET`/`HEAD /` | cluster info; version [`DEFAULT_VERSION`] (configurable) |
//! | `GET /_license`, `GET /_xpack` | an active basic licence; ILM available and enabled |
//! | `GET /_cluster/health[/{index}]` | `green`, one node |
//! | `GET /_cluster/state/version` | `{"version": <major>}` (Vector reads the API version there) |
//! | `GET /_nodes[/…]` | this node; `http.publish_address` = the request's `Host` |
//! | `GET`/`HEAD`/`PUT`/`DELETE /_index_template/{name}`, `/_template/{name}`, `/_component_template/{name}` | kept in memory: `HEAD` 200 once `PUT` (so shippers skip re-installing), 404 before |
//! | `GET`/`PUT`/`DELETE /_ilm/policy/{name}`, `/_ingest/pipeline/{id}` | kept in memory; pipelines are never run |
//! | `GET`/`PUT /_data_stream/{name}` | kept in memory |
//! | `HEAD /{index}` | 200 when the name was created (`PUT /{index}`, with its `aliases`), is a data stream or was written by `_bulk`; else 404 |
//! | `PUT /{index}` | creates (in memory); date-math names (`<logs-{now/d}-000001>`, URL-encoded) are resolved; 400 `resource_already_exists_exception` when known (Logstash tolerates it) |
//! | `POST`/`PUT /_bulk`, `/{index}/_bulk` | see below |
//!
//! Every response carries `X-Elastic-Product: Elasticsearch` ([`es_response_headers`], layered on
//! the router). When the request's `Accept` (or `Content-Type`) asks for
//! `application/vnd.elasticsearch+json; compatible-with=N` (the official clients: N = 8 for 8.x,
//! 9 for 9.x), JSON answers are labelled `application/vnd.elasticsearch+json;compatible-with=N`, as
//! Elasticsearch does; any N is accepted, so both 8.x and 9.x clients work although the reported
//! version is 8.x. The clients themselves only check the product header. A `filter_path` query
//! parameter filters any JSON answer ([`filter_path`]).
//!
//! # Version
//! 8.19.0: Filebeat (≤ 8.19 with `allow_older_versions: false`, its default before 8.11) refuses an
//! Elasticsearch older than itself, and Filebeat 9 defaults to allowing older versions; reporting
//! 9.x would break Logstash output plugins older than 11.22.9 (no ES 9 template) and Vector's
//! version detection. Fluent Bit and Vector only need 7+.
//!
//! # `_bulk`
//! NDJSON, `\r\n` tolerated, blank lines skipped, the last line may lack its `\n`.
//! - Request-level 400 (nothing stored), worded as Elasticsearch words it: action line not JSON
//!   (`x_content_parse_exception`), not an object / empty object / unknown action
//!   (`illegal_argument_exception`, `Malformed action/metadata line [N], expected one of [create,
//!   delete, index, update] but found [x]`), no `_index` in the action and none in the URL
//!   (`action_request_validation_exception`, "Validation Failed: 1: index is missing;"), an action
//!   without its document line, an empty body (`parse_exception`).
//! - Per-item 400 (the other items are stored): document not JSON / not an object / empty
//!   (`document_parsing_exception`), larger than [`ElasticConfig::max_document_bytes`] (10 MiB by
//!   default; 400 and not 413 because Logstash retries any other item status forever),
//!   bad index name (`invalid_index_name_exception`), empty or > 512-byte `_id`, and every `delete`
//!   and `update` (`illegal_argument_exception`: the log store is append-only; `update` still
//!   consumes its document line, `delete` has none).
//! - Accepted: `_type`, `routing`, `pipeline` (not run), `require_alias` and other metadata are
//!   ignored; unknown metadata parameters are ignored too (Elasticsearch rejects them — leniency
//!   keeps old shippers working). `op_type: create` turns `index` into `create`.
//! - Items: exactly one per action, in order; success = `created`/201 with `_version` 1, a `_seq_no`
//!   counting up per router and `_primary_term` 1; `_id` echoed or generated (20 URL-safe base64
//!   characters, time-based, like Elasticsearch's). HTTP 200 whenever the request parsed.
//! - A failing [`LogSink`] fails the whole request with 503 `unavailable_shards_exception` and
//!   `Retry-After: 1`: Logstash, Filebeat, Fluent Bit and Vector all retry 503 (a 4xx would make
//!   some drop the batch).
//! - `refresh=true|wait_for` (or bare `refresh`) calls [`LogSink::refresh`] after the append.
//! - Records: `index` from the action or URL; timestamp from `@timestamp` (RFC 3339 with any
//!   fraction/offset, epoch milliseconds as number or digit string), else `timestamp`, else the
//!   receive time (a malformed value falls back the same way rather than failing the document);
//!   labels `index` and `service_name` ([`crate::log_document::service_name`]); `source` = the document
//!   line verbatim; `doc` = it parsed (once).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head, post};
use bytes::Bytes;
use pharos_proto::DecodedBody;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

use crate::log_document::{IdGenerator, es_timestamp, format_rfc3339_nanos, index_labels, now_nanos, push_json_str};
use pharos_storage::logs::{LogRecord, validate_index_name};
use crate::log_sink::{LogSink, run_blocking, store};

/// The Elasticsearch version reported by default.
pub const DEFAULT_VERSION: &str = "8.19.0";
/// Default limit of one `_bulk` document line.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// Default limit of a request body (Elasticsearch's `http.max_content_length`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 100 * 1024 * 1024;
/// Longest `_id` Elasticsearch accepts.
const MAX_ID_BYTES: usize = 512;
const BUILD_HASH: &str = "5f8a3a3e1f0b7c9d2e4a6b8c0d1e2f3a4b5c6d7e";
const BUILD_DATE: &str = "2025-07-24T10:00:00.000000000Z";
const LICENSE_UID: &str = "2f3c5a1e-9b7d-4c2a-8e6f-0a1b2c3d4e5f";

/// Settings of the Elasticsearch-compatible endpoints.
#[derive(Clone, Debug)]
pub struct ElasticConfig {
    /// `version.number` reported by `GET /` (and the basis of the compatibility fields).
    pub version: String,
    /// `cluster_name` and node `name`.
    pub cluster_name: String,
    /// `cluster_uuid` (stable across restarts unless configured otherwise).
    pub cluster_uuid: String,
    /// Node id in `GET /_nodes`.
    pub node_id: String,
    /// Largest accepted `_bulk` document line; larger ones fail their item with 400.
    pub max_document_bytes: usize,
    /// Reported as `http.max_content_length_in_bytes` by `GET /_nodes` (the server's own body
    /// limit is enforced by Pharos' request plumbing).
    pub max_body_bytes: usize,
}

impl Default for ElasticConfig {
    fn default() -> Self {
        Self {
            version: DEFAULT_VERSION.to_owned(),
            cluster_name: "pharos".to_owned(),
            cluster_uuid: "UGhhcm9zQ2x1c3RlcjAwMQ".to_owned(),
            node_id: "UGhhcm9zTm9kZTAwMDAwMQ".to_owned(),
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TemplateKind {
    Index,
    Legacy,
    Component,
}

const INDEX_TEMPLATE: u8 = 0;
const LEGACY_TEMPLATE: u8 = 1;
const COMPONENT_TEMPLATE: u8 = 2;

impl TemplateKind {
    fn of(kind: u8) -> Self {
        match kind {
            INDEX_TEMPLATE => TemplateKind::Index,
            LEGACY_TEMPLATE => TemplateKind::Legacy,
            _ => TemplateKind::Component,
        }
    }
}

struct IlmPolicy {
    body: Value,
    version: u64,
    modified_nanos: i64,
}

/// What the probes configured (templates, policies, pipelines, data streams, indices, aliases);
/// in memory only: a restarted server is asked again and answers as a fresh cluster.
#[derive(Default)]
struct Metadata {
    templates: BTreeMap<(u8, String), Value>,
    ilm_policies: BTreeMap<String, IlmPolicy>,
    pipelines: BTreeMap<String, Value>,
    data_streams: BTreeSet<String>,
    indices: BTreeSet<String>,
    aliases: BTreeSet<String>,
}

/// Shared state of the Elasticsearch router (build one with [`ElasticState::new`] to serve the same
/// state on two listeners).
pub struct ElasticState {
    sink: Arc<dyn LogSink>,
    config: ElasticConfig,
    metadata: Mutex<Metadata>,
    seq_no: AtomicU64,
    ids: IdGenerator,
}

impl ElasticState {
    /// State writing to `sink`.
    pub fn new(sink: Arc<dyn LogSink>, config: ElasticConfig) -> Arc<Self> {
        Arc::new(Self {
            sink,
            config,
            metadata: Mutex::new(Metadata::default()),
            seq_no: AtomicU64::new(0),
            ids: IdGenerator::default(),
        })
    }

    fn major(&self) -> u64 {
        self.config.version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(8)
    }

    fn index_known(&self, name: &str) -> bool {
        let meta = self.metadata.lock().unwrap();
        meta.indices.contains(name) || meta.aliases.contains(name) || meta.data_streams.contains(name)
    }
}

/// The Elasticsearch router with fresh state (see the module docs for the routes).
#[cfg(test)]
pub fn router(sink: Arc<dyn LogSink>, config: ElasticConfig) -> Router {
    routes(ElasticState::new(sink, config)).layer(axum::middleware::from_fn(es_response_headers))
}

/// `GET`/`HEAD {prefix}/`: clients given a base URL with a path ask for it, and a router nested at
/// `prefix` answers only `{prefix}` itself.
pub fn slash_root(state: Arc<ElasticState>, prefix: &str) -> Router {
    Router::new().route(&format!("{prefix}/"), get(root)).with_state(state)
}

/// The Elasticsearch ingest routes over existing state, without the response-header layer (the
/// binary layers [`es_response_headers`] once over these and the search routes).
pub fn routes(state: Arc<ElasticState>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/_license", get(license))
        .route("/_xpack", get(xpack))
        .route("/_cluster/health", get(cluster_health))
        .route("/_cluster/health/{index}", get(cluster_health))
        .route("/_cluster/state/version", get(cluster_state_version))
        .route("/_nodes", get(nodes))
        .route("/_nodes/{*rest}", get(nodes))
        .route("/_index_template", get(list_templates::<INDEX_TEMPLATE>))
        .route(
            "/_index_template/{name}",
            get(get_template::<INDEX_TEMPLATE>)
                .put(put_template::<INDEX_TEMPLATE>)
                .delete(delete_template::<INDEX_TEMPLATE>),
        )
        .route("/_template", get(list_templates::<LEGACY_TEMPLATE>))
        .route(
            "/_template/{name}",
            get(get_template::<LEGACY_TEMPLATE>)
                .put(put_template::<LEGACY_TEMPLATE>)
                .delete(delete_template::<LEGACY_TEMPLATE>),
        )
        .route("/_component_template", get(list_templates::<COMPONENT_TEMPLATE>))
        .route(
            "/_component_template/{name}",
            get(get_template::<COMPONENT_TEMPLATE>)
                .put(put_template::<COMPONENT_TEMPLATE>)
                .delete(delete_template::<COMPONENT_TEMPLATE>),
        )
        .route("/_ilm/policy", get(list_ilm_policies))
        .route("/_ilm/policy/{name}", get(get_ilm_policy).put(put_ilm_policy).delete(delete_ilm_policy))
        .route("/_ingest/pipeline", get(list_pipelines))
        .route("/_ingest/pipeline/{id}", get(get_pipeline).put(put_pipeline).delete(delete_pipeline))
        .route("/_data_stream", get(list_data_streams))
        .route("/_data_stream/{name}", get(get_data_stream).put(put_data_stream))
        .route("/_refresh", post(refresh).get(refresh))
        .route("/{index}/_refresh", post(refresh).get(refresh))
        .route("/_bulk", post(bulk_root).put(bulk_root))
        .route("/{index}/_bulk", post(bulk_index).put(bulk_index))
        .route("/{index}", head(head_index).put(put_index))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Responses

/// Marks a response whose `filter_path` was already applied by its handler.
#[derive(Clone, Copy)]
struct FilterApplied;

fn compat_version(headers: &HeaderMap) -> Option<u32> {
    [header::ACCEPT, header::CONTENT_TYPE].iter().find_map(|name| {
        let value = headers.get(name)?.to_str().ok()?;
        let at = value.to_ascii_lowercase().find("compatible-with=")?;
        let digits: String = value[at + 16..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/vnd.elasticsearch+json"))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Middleware giving responses what Elasticsearch clients check: the `X-Elastic-Product` header,
/// the compatible-with content type when asked for, and `filter_path` filtering of JSON bodies
/// (unless the handler did it). Layer it on other Elasticsearch-compatible routers too.
pub async fn es_response_headers(request: Request, next: Next) -> Response {
    let compat = compat_version(request.headers());
    let filter = query_param(request.uri().query(), "filter_path").filter(|f| !f.trim().is_empty());
    let mut response = next.run(request).await;
    let json = is_json(&response);
    if let Some(spec) = filter
        && json
        && response.extensions().get::<FilterApplied>().is_none()
    {
        let (mut parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        let filtered = match serde_json::from_slice::<Value>(&bytes) {
            Ok(value) => Bytes::from(filter_path(&value, &spec).to_string()),
            Err(_) => bytes,
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        response = Response::from_parts(parts, Body::from(filtered));
    }
    let headers = response.headers_mut();
    headers.insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
    if let Some(n) = compat
        && json
        && let Ok(v) = HeaderValue::from_str(&format!("application/vnd.elasticsearch+json;compatible-with={n}"))
    {
        headers.insert(header::CONTENT_TYPE, v);
    }
    response
}

/// An Elasticsearch error: `{"error":{"root_cause":[{type,reason,…}],"type","reason",…},"status"}`.
#[derive(Debug, Clone)]
struct EsError {
    status: StatusCode,
    kind: &'static str,
    reason: String,
    /// Extra fields of the error object (`index`, `index_uuid`, …).
    extra: Vec<(&'static str, String)>,
}

impl EsError {
    fn new(status: StatusCode, kind: &'static str, reason: impl Into<String>) -> Self {
        Self { status, kind, reason: reason.into(), extra: Vec::new() }
    }

    fn bad_request(kind: &'static str, reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, reason)
    }

    fn with_index(mut self, index: &str) -> Self {
        self.extra.push(("index_uuid", "_na_".to_owned()));
        self.extra.push(("index", index.to_owned()));
        self
    }

    fn cause(&self) -> Value {
        let mut cause = Map::new();
        cause.insert("type".into(), self.kind.into());
        cause.insert("reason".into(), self.reason.clone().into());
        for (k, v) in &self.extra {
            cause.insert((*k).into(), v.clone().into());
        }
        Value::Object(cause)
    }
}

impl IntoResponse for EsError {
    fn into_response(self) -> Response {
        let cause = self.cause();
        let mut error = cause.as_object().cloned().unwrap_or_default();
        error.insert("root_cause".into(), Value::Array(vec![cause]));
        let body = json!({"error": error, "status": self.status.as_u16()});
        (self.status, Json(body)).into_response()
    }
}

fn acknowledged() -> Response {
    Json(json!({"acknowledged": true})).into_response()
}

fn unavailable(reason: &str) -> Response {
    let mut response = EsError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable_shards_exception",
        format!("storage unavailable: {reason}"),
    )
    .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn parse_json_body(body: &[u8]) -> Result<Value, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(EsError::bad_request("parse_exception", "request body is required"));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| EsError::bad_request("x_content_parse_exception", format!("[{}:{}] {e}", e.line(), e.column())))?;
    if !value.is_object() {
        return Err(EsError::bad_request("parse_exception", "request body must be a JSON object"));
    }
    Ok(value)
}

// ---------------------------------------------------------------------------------------------
// Probes

async fn root(State(st): State<Arc<ElasticState>>) -> Json<Value> {
    let c = &st.config;
    let (wire, index) = if st.major() >= 9 { ("8.19.0", "8.0.0") } else { ("7.17.0", "7.0.0") };
    Json(json!({
        "name": c.cluster_name,
        "cluster_name": c.cluster_name,
        "cluster_uuid": c.cluster_uuid,
        "version": {
            "number": c.version,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": BUILD_HASH,
            "build_date": BUILD_DATE,
            "build_snapshot": false,
            "lucene_version": if st.major() >= 9 { "10.2.2" } else { "9.12.2" },
            "minimum_wire_compatibility_version": wire,
            "minimum_index_compatibility_version": index,
        },
        "tagline": "You Know, for Search",
    }))
}

async fn license() -> Json<Value> {
    Json(json!({"license": {
        "status": "active",
        "uid": LICENSE_UID,
        "type": "basic",
        "issue_date": "2025-01-01T00:00:00.000Z",
        "issue_date_in_millis": 1_735_689_600_000i64,
        "max_nodes": 1000,
        "max_resource_units": null,
        "issued_to": "pharos",
        "issuer": "elasticsearch",
        "start_date_in_millis": -1,
    }}))
}

async fn xpack() -> Json<Value> {
    let on = json!({"available": true, "enabled": true});
    let off = json!({"available": false, "enabled": false});
    Json(json!({
        "build": {"hash": BUILD_HASH, "date": BUILD_DATE},
        "license": {"uid": LICENSE_UID, "type": "basic", "mode": "basic", "status": "active"},
        "features": {
            "ilm": on, "slm": on, "monitoring": on, "data_streams": on, "data_tiers": on,
            "security": {"available": true, "enabled": false},
            "ml": off, "watcher": off, "graph": off, "transform": off, "ccr": off, "searchable_snapshots": off,
        },
        "tagline": "You know, for X",
    }))
}

async fn cluster_health(State(st): State<Arc<ElasticState>>) -> Json<Value> {
    Json(json!({
        "cluster_name": st.config.cluster_name,
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "unassigned_primary_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0,
    }))
}

async fn cluster_state_version(State(st): State<Arc<ElasticState>>) -> Json<Value> {
    // Vector's `api_version: auto` reads `version` here as the API major version.
    Json(json!({
        "cluster_name": st.config.cluster_name,
        "cluster_uuid": st.config.cluster_uuid,
        "version": st.major(),
        "state_uuid": st.config.cluster_uuid,
    }))
}

async fn nodes(State(st): State<Arc<ElasticState>>, headers: HeaderMap) -> Json<Value> {
    let address = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:9200").to_owned();
    let host = match address.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_owned(),
        _ => address.clone(),
    };
    let c = &st.config;
    let mut node_map = Map::new();
    node_map.insert(
        c.node_id.clone(),
        json!({
            "name": c.cluster_name,
            "transport_address": format!("{host}:9300"),
            "host": host,
            "ip": host,
            "version": c.version,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": BUILD_HASH,
            "roles": ["data", "ingest", "master"],
            "attributes": {},
            "http": {
                "bound_address": [address],
                "publish_address": address,
                "max_content_length_in_bytes": c.max_body_bytes,
            },
        }),
    );
    Json(json!({
        "_nodes": {"total": 1, "successful": 1, "failed": 0},
        "cluster_name": c.cluster_name,
        "nodes": node_map,
    }))
}

// ---------------------------------------------------------------------------------------------
// Templates, ILM policies, pipelines, data streams, indices

fn template_key(kind: TemplateKind, name: &str) -> (u8, String) {
    (kind as u8, name.to_owned())
}

fn templates_matching(meta: &Metadata, kind: TemplateKind, pattern: &str) -> Vec<(String, Value)> {
    let patterns: Vec<&str> = pattern.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    meta.templates
        .iter()
        .filter(|((k, name), _)| {
            *k == kind as u8 && (patterns.is_empty() || patterns.iter().any(|p| *p == "_all" || glob_match(p, name)))
        })
        .map(|((_, name), body)| (name.clone(), body.clone()))
        .collect()
}

fn render_templates(kind: TemplateKind, found: Vec<(String, Value)>) -> Value {
    match kind {
        TemplateKind::Index => json!({"index_templates": found.into_iter()
            .map(|(name, body)| json!({"name": name, "index_template": body})).collect::<Vec<_>>()}),
        TemplateKind::Component => json!({"component_templates": found.into_iter()
            .map(|(name, body)| json!({"name": name, "component_template": body})).collect::<Vec<_>>()}),
        TemplateKind::Legacy => Value::Object(found.into_iter().collect()),
    }
}

async fn list_templates<const K: u8>(State(st): State<Arc<ElasticState>>) -> Response {
    let kind = TemplateKind::of(K);
    let found = templates_matching(&st.metadata.lock().unwrap(), kind, "");
    Json(render_templates(kind, found)).into_response()
}

async fn get_template<const K: u8>(State(st): State<Arc<ElasticState>>, Path(name): Path<String>) -> Response {
    let kind = TemplateKind::of(K);
    let found = templates_matching(&st.metadata.lock().unwrap(), kind, &name);
    if found.is_empty() && !name.contains('*') {
        return match kind {
            TemplateKind::Legacy => (StatusCode::NOT_FOUND, Json(json!({}))).into_response(),
            TemplateKind::Index => EsError::new(
                StatusCode::NOT_FOUND,
                "resource_not_found_exception",
                format!("index template matching [{name}] not found"),
            )
            .into_response(),
            TemplateKind::Component => EsError::new(
                StatusCode::NOT_FOUND,
                "resource_not_found_exception",
                format!("component template matching [{name}] not found"),
            )
            .into_response(),
        };
    }
    Json(render_templates(kind, found)).into_response()
}

async fn put_template<const K: u8>(
    State(st): State<Arc<ElasticState>>,
    Path(name): Path<String>,
    DecodedBody { bytes: body, .. }: DecodedBody,
) -> Response {
    let kind = TemplateKind::of(K);
    match parse_json_body(&body) {
        Ok(value) => {
            st.metadata.lock().unwrap().templates.insert(template_key(kind, &name), value);
            acknowledged()
        }
        Err(e) => e.into_response(),
    }
}

async fn delete_template<const K: u8>(State(st): State<Arc<ElasticState>>, Path(name): Path<String>) -> Response {
    let kind = TemplateKind::of(K);
    if st.metadata.lock().unwrap().templates.remove(&template_key(kind, &name)).is_some() {
        acknowledged()
    } else {
        EsError::new(StatusCode::NOT_FOUND, "resource_not_found_exception", format!("index_template [{name}] missing"))
            .into_response()
    }
}

fn render_policy(name: &str, p: &IlmPolicy) -> (String, Value) {
    let policy = p.body.get("policy").cloned().unwrap_or_else(|| p.body.clone());
    let modified = format_rfc3339_nanos(p.modified_nanos);
    (name.to_owned(), json!({"version": p.version, "modified_date": modified, "policy": policy}))
}

async fn list_ilm_policies(State(st): State<Arc<ElasticState>>) -> Json<Value> {
    let meta = st.metadata.lock().unwrap();
    Json(Value::Object(meta.ilm_policies.iter().map(|(n, p)| render_policy(n, p)).collect()))
}

async fn get_ilm_policy(State(st): State<Arc<ElasticState>>, Path(name): Path<String>) -> Response {
    let meta = st.metadata.lock().unwrap();
    match meta.ilm_policies.get(&name) {
        Some(p) => Json(Value::Object([render_policy(&name, p)].into_iter().collect())).into_response(),
        None => EsError::new(
            StatusCode::NOT_FOUND,
            "resource_not_found_exception",
            format!("Lifecycle policy not found: {name}"),
        )
        .into_response(),
    }
}

async fn put_ilm_policy(State(st): State<Arc<ElasticState>>, Path(name): Path<String>, DecodedBody { bytes: body, .. }: DecodedBody) -> Response {
    match parse_json_body(&body) {
        Ok(value) => {
            let mut meta = st.metadata.lock().unwrap();
            let version = meta.ilm_policies.get(&name).map_or(1, |p| p.version + 1);
            meta.ilm_policies.insert(name, IlmPolicy { body: value, version, modified_nanos: now_nanos() });
            acknowledged()
        }
        Err(e) => e.into_response(),
    }
}

async fn delete_ilm_policy(State(st): State<Arc<ElasticState>>, Path(name): Path<String>) -> Response {
    if st.metadata.lock().unwrap().ilm_policies.remove(&name).is_some() {
        acknowledged()
    } else {
        EsError::new(
            StatusCode::NOT_FOUND,
            "resource_not_found_exception",
            format!("Lifecycle policy not found: {name}"),
        )
        .into_response()
    }
}

async fn list_pipelines(State(st): State<Arc<ElasticState>>) -> Json<Value> {
    let meta = st.metadata.lock().unwrap();
    Json(Value::Object(meta.pipelines.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
}

async fn get_pipeline(State(st): State<Arc<ElasticState>>, Path(id): Path<String>) -> Response {
    let meta = st.metadata.lock().unwrap();
    let found: Map<String, Value> = meta
        .pipelines
        .iter()
        .filter(|(name, _)| id.split(',').any(|p| glob_match(p.trim(), name)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if found.is_empty() {
        return (StatusCode::NOT_FOUND, Json(json!({}))).into_response();
    }
    Json(Value::Object(found)).into_response()
}

async fn put_pipeline(State(st): State<Arc<ElasticState>>, Path(id): Path<String>, DecodedBody { bytes: body, .. }: DecodedBody) -> Response {
    match parse_json_body(&body) {
        Ok(value) => {
            st.metadata.lock().unwrap().pipelines.insert(id, value);
            acknowledged()
        }
        Err(e) => e.into_response(),
    }
}

async fn delete_pipeline(State(st): State<Arc<ElasticState>>, Path(id): Path<String>) -> Response {
    if st.metadata.lock().unwrap().pipelines.remove(&id).is_some() {
        acknowledged()
    } else {
        EsError::new(StatusCode::NOT_FOUND, "resource_not_found_exception", format!("pipeline [{id}] is missing"))
            .into_response()
    }
}

fn index_not_found(name: &str) -> EsError {
    EsError::new(StatusCode::NOT_FOUND, "index_not_found_exception", format!("no such index [{name}]")).with_index(name)
}

fn render_data_streams(names: impl Iterator<Item = String>) -> Value {
    let list: Vec<Value> = names
        .map(|name| {
            json!({
                "name": name,
                "timestamp_field": {"name": "@timestamp"},
                "indices": [],
                "generation": 1,
                "status": "GREEN",
                "template": "",
                "hidden": false,
                "system": false,
                "allow_custom_routing": false,
                "replicated": false,
            })
        })
        .collect();
    json!({"data_streams": list})
}

async fn list_data_streams(State(st): State<Arc<ElasticState>>) -> Json<Value> {
    let meta = st.metadata.lock().unwrap();
    Json(render_data_streams(meta.data_streams.iter().cloned()))
}

async fn get_data_stream(State(st): State<Arc<ElasticState>>, Path(name): Path<String>) -> Response {
    let meta = st.metadata.lock().unwrap();
    let found: Vec<String> = meta
        .data_streams
        .iter()
        .filter(|ds| name.split(',').any(|p| p.trim() == "_all" || glob_match(p.trim(), ds)))
        .cloned()
        .collect();
    if found.is_empty() && !name.contains('*') {
        return index_not_found(&name).into_response();
    }
    Json(render_data_streams(found.into_iter())).into_response()
}

async fn put_data_stream(State(st): State<Arc<ElasticState>>, Path(name): Path<String>) -> Response {
    if let Err(reason) = validate_index_name(&name) {
        return EsError::bad_request("invalid_index_name_exception", reason).with_index(&name).into_response();
    }
    let mut meta = st.metadata.lock().unwrap();
    if !meta.data_streams.insert(name.clone()) {
        return EsError::bad_request(
            "resource_already_exists_exception",
            format!("data_stream [{name}] already exists"),
        )
        .into_response();
    }
    acknowledged()
}

async fn head_index(State(st): State<Arc<ElasticState>>, Path(name): Path<String>) -> StatusCode {
    let names: Vec<&str> = name.split(',').map(str::trim).collect();
    if !names.is_empty() && names.iter().all(|n| st.index_known(n)) { StatusCode::OK } else { StatusCode::NOT_FOUND }
}

/// Resolves an Elasticsearch date-math index name (`<static-{now/d}-000001>`, `{now/M{yyyy.MM}}`,
/// `{now-1d/d}`) against `now_nanos`; other names are returned as they are. Supported: `now`, day
/// offsets `±Nd`, rounding `/d`, `/M`, `/y` and format tokens `yyyy`, `yy`, `MM`, `dd`, `HH`, `mm`
/// (default `yyyy.MM.dd`).
pub fn resolve_date_math(name: &str, now_nanos: i64) -> Result<String, String> {
    let Some(inner) = name.strip_prefix('<').and_then(|n| n.strip_suffix('>')) else {
        return Ok(name.to_owned());
    };
    let bad = || format!("invalid date math expression [{name}]");
    let mut out = String::new();
    let mut rest = inner;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let expr_start = &rest[open + 1..];
        // The expression ends at the `}` that closes it (a format in braces may be nested once).
        let mut depth = 1;
        let mut end = None;
        for (i, c) in expr_start.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(bad)?;
        let expr = &expr_start[..end];
        rest = &expr_start[end + 1..];
        let (math, format) = match expr.find('{') {
            Some(i) => (&expr[..i], expr[i + 1..].strip_suffix('}').ok_or_else(bad)?),
            None => (expr, "yyyy.MM.dd"),
        };
        let mut spec = math.strip_prefix("now").ok_or_else(bad)?;
        let mut secs = now_nanos.div_euclid(1_000_000_000);
        while !spec.is_empty() {
            let (op, tail) = spec.split_at(1);
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            let unit = tail[digits.len()..].chars().next().ok_or_else(bad)?;
            spec = &tail[digits.len() + unit.len_utf8()..];
            let (y, m, _) = crate::log_document::civil_from_days(secs.div_euclid(86_400));
            match (op, unit) {
                ("/", 'd') => secs -= secs.rem_euclid(86_400),
                ("/", 'M') => secs = crate::log_document::days_from_civil(y, m, 1) * 86_400,
                ("/", 'y') => secs = crate::log_document::days_from_civil(y, 1, 1) * 86_400,
                ("+" | "-", 'd') => {
                    let n: i64 = digits.parse().map_err(|_| bad())?;
                    secs += if op == "+" { n * 86_400 } else { -n * 86_400 };
                }
                _ => return Err(bad()),
            }
        }
        let (y, mo, d) = crate::log_document::civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let formatted = format
            .replace("yyyy", &format!("{y:04}"))
            .replace("yy", &format!("{:02}", y % 100))
            .replace("MM", &format!("{mo:02}"))
            .replace("dd", &format!("{d:02}"))
            .replace("HH", &format!("{:02}", sod / 3600))
            .replace("mm", &format!("{:02}", sod / 60 % 60));
        out.push_str(&formatted);
    }
    out.push_str(rest);
    Ok(out)
}

async fn put_index(State(st): State<Arc<ElasticState>>, Path(name): Path<String>, DecodedBody { bytes: body, .. }: DecodedBody) -> Response {
    let resolved = match resolve_date_math(&name, now_nanos()) {
        Ok(n) => n,
        Err(reason) => return EsError::bad_request("illegal_argument_exception", reason).into_response(),
    };
    if let Err(reason) = validate_index_name(&resolved) {
        return EsError::bad_request("invalid_index_name_exception", reason).with_index(&resolved).into_response();
    }
    let settings = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match parse_json_body(&body) {
            Ok(v) => v,
            Err(e) => return e.into_response(),
        }
    };
    let mut meta = st.metadata.lock().unwrap();
    if meta.indices.contains(&resolved) || meta.data_streams.contains(&resolved) {
        return EsError::bad_request(
            "resource_already_exists_exception",
            format!("index [{resolved}/_na_] already exists"),
        )
        .with_index(&resolved)
        .into_response();
    }
    meta.indices.insert(resolved.clone());
    if let Some(Value::Object(aliases)) = settings.get("aliases") {
        meta.aliases.extend(aliases.keys().cloned());
    }
    Json(json!({"acknowledged": true, "shards_acknowledged": true, "index": resolved})).into_response()
}

// ---------------------------------------------------------------------------------------------
// _bulk

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Index,
    Create,
    Update,
    Delete,
}

impl Op {
    fn key(self) -> &'static str {
        match self {
            Op::Index => "index",
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// An action line as parsed: its first field (the action) and that field's value. Deserialized by
/// hand so that the first key is kept (serde_json's map is sorted) and non-objects are reported by
/// the token Elasticsearch names.
enum ActionLine {
    NotObject(&'static str),
    Empty,
    Action(String, Value),
}

impl<'de> Deserialize<'de> for ActionLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ActionLine;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an action object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ActionLine, A::Error> {
                let Some(action) = map.next_key::<String>()? else {
                    return Ok(ActionLine::Empty);
                };
                let meta: Value = map.next_value()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ActionLine::Action(action, meta))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ActionLine, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ActionLine::NotObject("START_ARRAY"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ActionLine, E> {
                Ok(ActionLine::NotObject("VALUE_STRING"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ActionLine, E> {
                Ok(ActionLine::NotObject("VALUE_NUMBER"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ActionLine, E> {
                Ok(ActionLine::NotObject("VALUE_NUMBER"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ActionLine, E> {
                Ok(ActionLine::NotObject("VALUE_NUMBER"))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<ActionLine, E> {
                Ok(ActionLine::NotObject(if b { "VALUE_TRUE" } else { "VALUE_FALSE" }))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ActionLine, E> {
                Ok(ActionLine::NotObject("VALUE_NULL"))
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn token_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "VALUE_NULL",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

/// One parsed bulk action.
struct Action<'a> {
    op: Op,
    index: Option<String>,
    id: Option<String>,
    /// The document line (index/create/update).
    doc: Option<&'a [u8]>,
}

/// Splits the body into lines: `\n`-separated, a trailing `\r` removed, the last line may lack `\n`.
struct Lines<'a> {
    body: &'a [u8],
    pos: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Option<(usize, &'a [u8])> {
        if self.pos >= self.body.len() {
            return None;
        }
        let rest = &self.body[self.pos..];
        let (mut line, advance) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        self.number += 1;
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        Some((self.number, line))
    }
}

fn malformed(line: usize, what: String) -> EsError {
    EsError::bad_request("illegal_argument_exception", format!("Malformed action/metadata line [{line}], {what}"))
}

fn scalar_text(line: usize, field: &str, value: &Value) -> Result<Option<String>, EsError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(malformed(
            line,
            format!("expected a simple value for field [{field}] but found [{}]", token_name(other)),
        )),
    }
}

/// Parses the whole request into actions (request-level errors first, as Elasticsearch does before
/// executing anything).
fn parse_bulk<'a>(body: &'a [u8], default_index: Option<&str>) -> Result<Vec<Action<'a>>, EsError> {
    if body.is_empty() {
        return Err(EsError::bad_request("parse_exception", "request body is required"));
    }
    let mut lines = Lines { body, pos: 0, number: 0 };
    let mut actions = Vec::new();
    while let Some((number, line)) = lines.next_line() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed: ActionLine = serde_json::from_slice(line).map_err(|e| {
            EsError::bad_request(
                "x_content_parse_exception",
                format!("[{number}:{}] Malformed action/metadata line [{number}]: {e}", e.column()),
            )
        })?;
        let (name, meta) = match parsed {
            ActionLine::NotObject(token) => {
                return Err(malformed(number, format!("expected START_OBJECT but found [{token}]")));
            }
            ActionLine::Empty => return Err(malformed(number, "expected FIELD_NAME but found [END_OBJECT]".into())),
            ActionLine::Action(name, meta) => (name, meta),
        };
        let mut op = match name.as_str() {
            "index" => Op::Index,
            "create" => Op::Create,
            "update" => Op::Update,
            "delete" => Op::Delete,
            other => {
                return Err(malformed(
                    number,
                    format!("expected one of [create, delete, index, update] but found [{other}]"),
                ));
            }
        };
        let mut index = default_index.map(str::to_owned);
        let mut id = None;
        match &meta {
            Value::Object(fields) => {
                if let Some(v) = fields.get("_index")
                    && let Some(text) = scalar_text(number, "_index", v)?
                {
                    index = Some(text);
                }
                if let Some(v) = fields.get("_id") {
                    id = scalar_text(number, "_id", v)?;
                }
                if let Some(v) = fields.get("op_type")
                    && let Some(op_type) = scalar_text(number, "op_type", v)?
                    && op == Op::Index
                {
                    op = match op_type.as_str() {
                        "create" => Op::Create,
                        "index" => Op::Index,
                        other => {
                            return Err(EsError::bad_request(
                                "illegal_argument_exception",
                                format!("opType must be 'create' or 'index', found: [{other}]"),
                            ));
                        }
                    };
                }
            }
            other => {
                return Err(malformed(
                    number,
                    format!("expected START_OBJECT or END_OBJECT but found [{}]", token_name(other)),
                ));
            }
        }
        let doc = if op == Op::Delete {
            None
        } else {
            match lines.next_line() {
                Some((_, doc)) => Some(doc),
                None => {
                    return Err(EsError::bad_request(
                        "action_request_validation_exception",
                        format!("Validation Failed: 1: no document line after action/metadata line [{number}];"),
                    ));
                }
            }
        };
        actions.push(Action { op, index: index.filter(|i| !i.is_empty()), id, doc });
    }
    let mut problems = Vec::new();
    if actions.is_empty() {
        problems.push("no requests added");
    }
    problems.extend(actions.iter().filter(|a| a.index.is_none()).map(|_| "index is missing"));
    if !problems.is_empty() {
        let mut reason = "Validation Failed: ".to_owned();
        for (i, p) in problems.iter().enumerate() {
            reason.push_str(&format!("{}: {p};", i + 1));
        }
        return Err(EsError::bad_request("action_request_validation_exception", reason));
    }
    Ok(actions)
}

/// The result of one action.
enum Item {
    Created { op: Op, index: String, id: String, seq_no: u64 },
    Failed { op: Op, index: String, id: Option<String>, error: EsError, caused_by: Option<(&'static str, String)> },
}

impl Item {
    fn failed(op: Op, index: &str, id: Option<String>, error: EsError) -> Self {
        Item::Failed { op, index: index.to_owned(), id, error, caused_by: None }
    }
}

/// Why an item failed: the error and its optional `caused_by` (type, reason).
type ItemFailure = (EsError, Option<(&'static str, String)>);

/// What a document line becomes, or why it fails.
fn parse_document(line: &[u8], max_bytes: usize) -> Result<(String, Map<String, Value>), ItemFailure> {
    let parsing = |reason: String| EsError::bad_request("document_parsing_exception", reason);
    if line.len() > max_bytes {
        let reason =
            format!("document of [{}] bytes exceeds the maximum document size of [{max_bytes}] bytes", line.len());
        return Err((EsError::bad_request("illegal_argument_exception", reason), None));
    }
    let text = std::str::from_utf8(line).map_err(|e| {
        let at = e.valid_up_to() + 1;
        (parsing(format!("[1:{at}] failed to parse: invalid UTF-8 in document")), None)
    })?;
    match text.trim_start().as_bytes().first() {
        None => return Err((parsing("failed to parse, document is empty".into()), None)),
        Some(b'{') => {}
        Some(_) => {
            return Err((parsing("[1:1] failed to parse: Malformed content, must start with an object".into()), None));
        }
    }
    match serde_json::from_str::<Map<String, Value>>(text) {
        Ok(doc) => Ok((text.to_owned(), doc)),
        Err(e) => {
            let at = format!("[{}:{}]", e.line(), e.column());
            Err((
                parsing(format!("{at} failed to parse: {e}")),
                Some(("x_content_parse_exception", format!("{at} {e}"))),
            ))
        }
    }
}

fn document_timestamp(doc: &Map<String, Value>) -> Option<i64> {
    doc.get("@timestamp").and_then(es_timestamp).or_else(|| doc.get("timestamp").and_then(es_timestamp))
}

/// Query parameters `_bulk` honours.
struct BulkParams {
    filter_path: Option<String>,
    refresh: bool,
}

impl BulkParams {
    fn from_query(query: Option<&str>) -> Self {
        let mut params = BulkParams { filter_path: None, refresh: false };
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "filter_path" if !v.trim().is_empty() => params.filter_path = Some(v.into_owned()),
                "refresh" => params.refresh = matches!(&*v, "" | "true" | "wait_for"),
                _ => {}
            }
        }
        params
    }
}

enum BulkFailure {
    Request(EsError),
    Storage(String),
}

impl ElasticState {
    /// Parses, stores and renders one `_bulk` request (blocking: runs on the blocking pool).
    fn process_bulk(
        &self,
        default_index: Option<&str>,
        params: &BulkParams,
        body: &[u8],
        started: Instant,
    ) -> Result<String, BulkFailure> {
        let actions = parse_bulk(body, default_index).map_err(BulkFailure::Request)?;
        let received = now_nanos();
        let mut items = Vec::with_capacity(actions.len());
        let mut records = Vec::with_capacity(actions.len());
        for action in actions {
            let index = action.index.unwrap_or_default();
            let op = action.op;
            if matches!(op, Op::Delete | Op::Update) {
                let reason = format!("[{}] is not supported: Pharos log indices are append-only", op.key());
                let error = EsError::bad_request("illegal_argument_exception", reason);
                items.push(Item::failed(op, &index, action.id, error));
                continue;
            }
            if let Err(reason) = validate_index_name(&index) {
                let error = EsError::bad_request("invalid_index_name_exception", reason).with_index(&index);
                items.push(Item::failed(op, &index, action.id, error));
                continue;
            }
            let id = match action.id {
                Some(id) if id.is_empty() => {
                    let error =
                        EsError::bad_request("illegal_argument_exception", "if _id is specified it must not be empty");
                    items.push(Item::failed(op, &index, Some(id), error));
                    continue;
                }
                Some(id) if id.len() > MAX_ID_BYTES => {
                    let reason = format!(
                        "id [{id}] is too long, must be no longer than {MAX_ID_BYTES} bytes but was: {}",
                        id.len()
                    );
                    items.push(Item::failed(
                        op,
                        &index,
                        Some(id),
                        EsError::bad_request("illegal_argument_exception", reason),
                    ));
                    continue;
                }
                Some(id) => id,
                None => self.ids.next_id(),
            };
            match parse_document(action.doc.unwrap_or_default(), self.config.max_document_bytes) {
                Ok((source, doc)) => {
                    let timestamp_nanos = document_timestamp(&doc).unwrap_or(received);
                    let labels = index_labels(&index, &doc);
                    let seq_no = self.seq_no.fetch_add(1, Ordering::Relaxed);
                    records.push(LogRecord { index: index.clone(), timestamp_nanos, labels, source, doc });
                    items.push(Item::Created { op, index, id, seq_no });
                }
                Err((error, caused_by)) => items.push(Item::Failed { op, index, id: Some(id), error, caused_by }),
            }
        }
        let written: HashSet<String> = records.iter().map(|r| r.index.clone()).collect();
        store(self.sink.as_ref(), records, params.refresh).map_err(BulkFailure::Storage)?;
        if !written.is_empty() {
            self.metadata.lock().unwrap().indices.extend(written);
        }
        let took = started.elapsed().as_millis();
        Ok(match params.filter_path.as_deref() {
            None => render_bulk(took, &items),
            Some(spec) if is_status_filter(spec) => render_bulk_statuses(&items),
            Some(spec) => {
                let full: Value = serde_json::from_str(&render_bulk(took, &items)).unwrap_or(Value::Null);
                filter_path(&full, spec).to_string()
            }
        })
    }
}

/// Whether `spec` is the filter Logstash and Filebeat send (`errors,items.*.error,items.*.status`,
/// in any order), for which the filtered answer is written directly.
fn is_status_filter(spec: &str) -> bool {
    let mut parts: Vec<&str> = spec.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    parts.sort_unstable();
    parts.dedup();
    parts == ["errors", "items.*.error", "items.*.status"]
}

fn push_error(out: &mut String, error: &EsError, caused_by: &Option<(&'static str, String)>) {
    out.push_str("{\"type\":");
    push_json_str(out, error.kind);
    out.push_str(",\"reason\":");
    push_json_str(out, &error.reason);
    for (k, v) in &error.extra {
        out.push(',');
        push_json_str(out, k);
        out.push(':');
        push_json_str(out, v);
    }
    if let Some((kind, reason)) = caused_by {
        out.push_str(",\"caused_by\":{\"type\":");
        push_json_str(out, kind);
        out.push_str(",\"reason\":");
        push_json_str(out, reason);
        out.push('}');
    }
    out.push('}');
}

fn render_bulk(took: u128, items: &[Item]) -> String {
    let errors = items.iter().any(|i| matches!(i, Item::Failed { .. }));
    let mut out = String::with_capacity(64 + items.len() * 200);
    out.push_str(&format!("{{\"took\":{took},\"errors\":{errors},\"items\":["));
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        match item {
            Item::Created { op, index, id, seq_no } => {
                out.push_str(&format!("{{\"{}\":{{\"_index\":", op.key()));
                push_json_str(&mut out, index);
                out.push_str(",\"_id\":");
                push_json_str(&mut out, id);
                out.push_str(&format!(
                    ",\"_version\":1,\"result\":\"created\",\"_shards\":{{\"total\":1,\"successful\":1,\"failed\":0}},\
                     \"_seq_no\":{seq_no},\"_primary_term\":1,\"status\":201}}}}"
                ));
            }
            Item::Failed { op, index, id, error, caused_by } => {
                out.push_str(&format!("{{\"{}\":{{\"_index\":", op.key()));
                push_json_str(&mut out, index);
                out.push_str(",\"_id\":");
                match id {
                    Some(id) => push_json_str(&mut out, id),
                    None => out.push_str("null"),
                }
                out.push_str(&format!(",\"status\":{},\"error\":", error.status.as_u16()));
                push_error(&mut out, error, caused_by);
                out.push_str("}}");
            }
        }
    }
    out.push_str("]}");
    out
}

fn render_bulk_statuses(items: &[Item]) -> String {
    let errors = items.iter().any(|i| matches!(i, Item::Failed { .. }));
    let mut out = String::with_capacity(32 + items.len() * 28);
    out.push_str(&format!("{{\"errors\":{errors},\"items\":["));
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        match item {
            Item::Created { op, .. } => out.push_str(&format!("{{\"{}\":{{\"status\":201}}}}", op.key())),
            Item::Failed { op, error, caused_by, .. } => {
                out.push_str(&format!("{{\"{}\":{{\"error\":", op.key()));
                push_error(&mut out, error, caused_by);
                out.push_str(&format!(",\"status\":{}}}}}", error.status.as_u16()));
            }
        }
    }
    out.push_str("]}");
    out
}

/// `POST /_refresh`, `/{index}/_refresh`: everything written so far becomes searchable.
async fn refresh(State(st): State<Arc<ElasticState>>) -> Response {
    let sink = st.sink.clone();
    match run_blocking(move || sink.refresh()).await {
        Ok(()) => Json(json!({"_shards": {"total": 1, "successful": 1, "failed": 0}})).into_response(),
        Err(e) => unavailable(&e),
    }
}

async fn bulk_root(State(st): State<Arc<ElasticState>>, RawQuery(query): RawQuery, DecodedBody { bytes: body, .. }: DecodedBody) -> Response {
    bulk(st, None, query, body).await
}

async fn bulk_index(
    State(st): State<Arc<ElasticState>>,
    Path(index): Path<String>,
    RawQuery(query): RawQuery,
    DecodedBody { bytes: body, .. }: DecodedBody,
) -> Response {
    bulk(st, Some(index), query, body).await
}

async fn bulk(st: Arc<ElasticState>, index: Option<String>, query: Option<String>, body: Bytes) -> Response {
    let started = Instant::now();
    let params = BulkParams::from_query(query.as_deref());
    let outcome = run_blocking(move || st.process_bulk(index.as_deref(), &params, &body, started)).await;
    match outcome {
        Ok(Ok(json)) => {
            let mut response = ([(header::CONTENT_TYPE, "application/json")], json).into_response();
            response.extensions_mut().insert(FilterApplied);
            response
        }
        Ok(Err(BulkFailure::Request(error))) => error.into_response(),
        Ok(Err(BulkFailure::Storage(reason))) | Err(reason) => unavailable(&reason),
    }
}

// ---------------------------------------------------------------------------------------------
// filter_path

/// Elasticsearch's `*` wildcard match (the only wildcard in `filter_path` segments and template
/// name patterns).
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[derive(Debug, Clone)]
enum Segment {
    /// `**`: any number of levels, including none.
    AnyDepth,
    Glob(String),
}

/// A parsed `filter_path`: comma-separated dotted paths whose segments may hold `*` wildcards,
/// `**` for any depth, and a leading `-` for exclusions. Arrays are transparent (a path applies to
/// their elements); objects and arrays left empty by inclusion filtering are dropped; with no match
/// at all the result is `{}`.
#[derive(Debug, Clone, Default)]
pub struct FilterPath {
    includes: Vec<Vec<Segment>>,
    excludes: Vec<Vec<Segment>>,
}

type States = Vec<(usize, usize)>;

impl FilterPath {
    /// Parses a `filter_path` value.
    pub fn parse(spec: &str) -> Self {
        let mut filter = FilterPath::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (exclude, path) = match part.strip_prefix('-') {
                Some(p) => (true, p),
                None => (false, part),
            };
            let segments: Vec<Segment> = path
                .split('.')
                .map(|s| if s == "**" { Segment::AnyDepth } else { Segment::Glob(s.to_owned()) })
                .collect();
            if exclude { filter.excludes.push(segments) } else { filter.includes.push(segments) }
        }
        filter
    }

    fn complete(pattern: &[Segment], pos: usize) -> bool {
        pattern[pos.min(pattern.len())..].iter().all(|s| matches!(s, Segment::AnyDepth))
    }

    fn step(pattern: &[Segment], pos: usize, key: &str, out: &mut Vec<usize>) {
        match pattern.get(pos) {
            Some(Segment::AnyDepth) => {
                out.push(pos);
                Self::step(pattern, pos + 1, key, out);
            }
            Some(Segment::Glob(g)) if glob_match(g, key) => out.push(pos + 1),
            _ => {}
        }
    }

    /// The states after descending into `key`, and whether some pattern is then complete.
    fn advance(patterns: &[Vec<Segment>], states: &States, key: &str) -> (States, bool) {
        let mut next = Vec::new();
        let mut full = false;
        let mut positions = Vec::new();
        for &(p, pos) in states {
            positions.clear();
            Self::step(&patterns[p], pos, key, &mut positions);
            for &np in &positions {
                if Self::complete(&patterns[p], np) {
                    full = true;
                } else {
                    next.push((p, np));
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        (next, full)
    }

    fn include(&self, value: &Value, states: &States) -> Option<Value> {
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let (next, full) = Self::advance(&self.includes, states, k);
                    if full {
                        out.insert(k.clone(), v.clone());
                    } else if !next.is_empty()
                        && let Some(kept) = self.include(v, &next)
                    {
                        out.insert(k.clone(), kept);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(items) => {
                let out: Vec<Value> = items.iter().filter_map(|item| self.include(item, states)).collect();
                (!out.is_empty()).then_some(Value::Array(out))
            }
            _ => None,
        }
    }

    fn exclude(&self, value: &mut Value, states: &States) {
        match value {
            Value::Object(map) => map.retain(|k, v| {
                let (next, full) = Self::advance(&self.excludes, states, k);
                if full {
                    return false;
                }
                if !next.is_empty() {
                    self.exclude(v, &next);
                }
                true
            }),
            Value::Array(items) => items.iter_mut().for_each(|item| self.exclude(item, states)),
            _ => {}
        }
    }

    /// `value` filtered.
    pub fn apply(&self, value: &Value) -> Value {
        let mut out = if self.includes.is_empty() {
            value.clone()
        } else {
            let states: States = (0..self.includes.len()).map(|p| (p, 0)).collect();
            self.include(value, &states).unwrap_or_else(|| Value::Object(Map::new()))
        };
        if !self.excludes.is_empty() {
            let states: States = (0..self.excludes.len()).map(|p| (p, 0)).collect();
            self.exclude(&mut out, &states);
        }
        out
    }
}

/// Elasticsearch response filtering: `value` reduced to what the `filter_path` `spec` selects
/// (e.g. `errors,items.*.error,items.*.status`). See [`FilterPath`].
pub fn filter_path(value: &Value, spec: &str) -> Value {
    FilterPath::parse(spec).apply(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_sink::MemorySink;
    use axum::http::{Method, Request as HttpRequest};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
        }
    }

    async fn call(app: &Router, method: Method, uri: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut request = HttpRequest::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = app.clone().oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(headers.get("x-elastic-product").unwrap(), "Elasticsearch", "{uri}");
        Reply { status, headers, body }
    }

    fn setup() -> (Arc<MemorySink>, Router) {
        let sink = MemorySink::new();
        (sink.clone(), router(sink, ElasticConfig::default()))
    }

    #[tokio::test]
    async fn mixed_index_and_create_with_type_and_ids() {
        let (sink, app) = setup();
        let body = concat!(
            "{\"index\":{\"_index\":\"app-logs\",\"_type\":\"_doc\",\"_id\":\"a1\"}}\n",
            "{\"@timestamp\":\"2024-01-02T03:04:05.5+01:00\",\"message\":\"one\",\"service\":{\"name\":\"api\"}}\r\n",
            "\n",
            "{\"create\":{\"_index\":\"app-logs\",\"routing\":\"r\",\"pipeline\":\"p\"}}\n",
            "{\"timestamp\":1704164645123,\"message\":\"two\"}\n",
        );
        let r = call(&app, Method::POST, "/_bulk", &[("content-type", "application/x-ndjson")], body).await;
        assert_eq!(r.status, StatusCode::OK);
        let v = r.json();
        assert_eq!(v["errors"], false);
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["index"]["_id"], "a1");
        assert_eq!(items[0]["index"]["status"], 201);
        assert_eq!(items[0]["index"]["result"], "created");
        assert_eq!(items[0]["index"]["_shards"]["successful"], 1);
        let generated = items[1]["create"]["_id"].as_str().unwrap();
        assert_eq!(generated.len(), 20);
        assert_eq!(items[1]["create"]["_seq_no"].as_u64(), Some(items[0]["index"]["_seq_no"].as_u64().unwrap() + 1));
        let records = sink.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].index, "app-logs");
        assert_eq!(records[0].timestamp_nanos, 1_704_164_645_500_000_000 - 3_600_000_000_000);
        assert_eq!(
            records[0].labels,
            vec![("index".to_owned(), "app-logs".to_owned()), ("service_name".to_owned(), "api".to_owned())]
        );
        assert_eq!(
            records[0].source,
            "{\"@timestamp\":\"2024-01-02T03:04:05.5+01:00\",\"message\":\"one\",\"service\":{\"name\":\"api\"}}"
        );
        assert_eq!(records[0].doc["message"], "one");
        assert_eq!(records[1].timestamp_nanos, 1_704_164_645_123_000_000);
        assert_eq!(records[1].labels, vec![("index".to_owned(), "app-logs".to_owned())]);
    }

    #[tokio::test]
    async fn default_index_from_url_and_missing_index() {
        let (sink, app) = setup();
        let body = "{\"index\":{}}\n{\"message\":\"x\"}\n{\"create\":{\"_index\":\"other\"}}\n{\"message\":\"y\"}";
        let r = call(&app, Method::PUT, "/fromurl/_bulk", &[], body).await;
        assert_eq!(r.status, StatusCode::OK);
        let v = r.json();
        assert_eq!(v["items"][0]["index"]["_index"], "fromurl");
        assert_eq!(v["items"][1]["create"]["_index"], "other");
        let records = sink.records();
        assert_eq!(records.iter().map(|r| r.index.as_str()).collect::<Vec<_>>(), ["fromurl", "other"]);
        assert_eq!(records[1].source, "{\"message\":\"y\"}", "last line without newline");

        let r = call(&app, Method::POST, "/_bulk", &[], "{\"index\":{}}\n{\"message\":\"x\"}\n").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let v = r.json();
        assert_eq!(v["error"]["type"], "action_request_validation_exception");
        assert_eq!(v["error"]["reason"], "Validation Failed: 1: index is missing;");
        assert_eq!(v["status"], 400);
        assert_eq!(sink.records().len(), 2, "nothing stored from a rejected request");
    }

    #[tokio::test]
    async fn broken_document_among_good_ones() {
        let (sink, app) = setup();
        let body = concat!(
            "{\"index\":{\"_index\":\"logs\"}}\n{\"message\":\"good 1\"}\n",
            "{\"index\":{\"_index\":\"logs\",\"_id\":\"bad\"}}\n{\"message\":\"unterminated}\n",
            "{\"index\":{\"_index\":\"logs\"}}\n[1,2]\n",
            "{\"update\":{\"_index\":\"logs\",\"_id\":\"u\"}}\n{\"doc\":{\"a\":1}}\n",
            "{\"delete\":{\"_index\":\"logs\",\"_id\":\"d\"}}\n",
            "{\"create\":{\"_index\":\"logs\"}}\n{\"message\":\"good 2\"}\n",
        );
        let r = call(&app, Method::POST, "/_bulk", &[], body).await;
        assert_eq!(r.status, StatusCode::OK);
        let v = r.json();
        assert_eq!(v["errors"], true);
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 6);
        assert_eq!(items[0]["index"]["status"], 201);
        assert_eq!(items[1]["index"]["status"], 400);
        assert_eq!(items[1]["index"]["_id"], "bad");
        assert_eq!(items[1]["index"]["error"]["type"], "document_parsing_exception");
        assert_eq!(items[1]["index"]["error"]["caused_by"]["type"], "x_content_parse_exception");
        assert_eq!(items[2]["index"]["error"]["type"], "document_parsing_exception");
        assert_eq!(items[3]["update"]["status"], 400);
        assert_eq!(items[3]["update"]["error"]["type"], "illegal_argument_exception");
        assert_eq!(items[4]["delete"]["status"], 400);
        assert_eq!(items[4]["delete"]["_id"], "d");
        assert_eq!(items[5]["create"]["status"], 201);
        let messages: Vec<_> = sink.records().iter().map(|r| r.doc["message"].clone()).collect();
        assert_eq!(messages, [json!("good 1"), json!("good 2")]);
    }

    #[tokio::test]
    async fn request_level_errors() {
        let (sink, app) = setup();
        let cases = [
            (
                "{\"upsert\":{\"_index\":\"x\"}}\n{}\n",
                "illegal_argument_exception",
                "Malformed action/metadata line [1], expected one of [create, delete, index, update] but found [upsert]",
            ),
            (
                "\n{\"index\":{\"_index\":\"x\"}}\n{}\n{\"foo\":{}}\n{}\n",
                "illegal_argument_exception",
                "Malformed action/metadata line [4], expected one of [create, delete, index, update] but found [foo]",
            ),
            (
                "[1]\n{}\n",
                "illegal_argument_exception",
                "Malformed action/metadata line [1], expected START_OBJECT but found [START_ARRAY]",
            ),
            (
                "{}\n{}\n",
                "illegal_argument_exception",
                "Malformed action/metadata line [1], expected FIELD_NAME but found [END_OBJECT]",
            ),
            (
                "{\"index\":\"x\"}\n{}\n",
                "illegal_argument_exception",
                "Malformed action/metadata line [1], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]",
            ),
            (
                "{\"index\":{\"_index\":[\"a\"]}}\n{}\n",
                "illegal_argument_exception",
                "Malformed action/metadata line [1], expected a simple value for field [_index] but found [START_ARRAY]",
            ),
            (
                "{\"index\":{\"_index\":\"x\"}}\n",
                "action_request_validation_exception",
                "Validation Failed: 1: no document line after action/metadata line [1];",
            ),
            ("\n\n", "action_request_validation_exception", "Validation Failed: 1: no requests added;"),
            ("", "parse_exception", "request body is required"),
        ];
        for (body, kind, reason) in cases {
            let r = call(&app, Method::POST, "/_bulk", &[], body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:?}");
            let v = r.json();
            assert_eq!(v["error"]["type"], kind, "{body:?}");
            assert_eq!(v["error"]["reason"], reason, "{body:?}");
            assert_eq!(v["error"]["root_cause"][0]["type"], kind);
        }
        let r = call(&app, Method::POST, "/_bulk", &[], "{\"index\":{\"_index\":\"x\"}\n{}\n").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["error"]["type"], "x_content_parse_exception");
        assert!(sink.records().is_empty());
    }

    #[tokio::test]
    async fn bad_index_names_ids_and_oversized_documents() {
        let sink = MemorySink::new();
        let config = ElasticConfig { max_document_bytes: 64, ..ElasticConfig::default() };
        let app = router(sink.clone(), config);
        let big = format!("{{\"message\":\"{}\"}}", "x".repeat(100));
        let body = format!(
            "{{\"index\":{{\"_index\":\"Bad\"}}}}\n{{}}\n{{\"index\":{{\"_index\":\"_x\"}}}}\n{{}}\n\
             {{\"index\":{{\"_index\":\"ok\"}}}}\n{big}\n{{\"index\":{{\"_index\":\"ok\",\"_id\":\"\"}}}}\n{{}}\n\
             {{\"index\":{{\"_index\":\"ok\",\"_id\":7}}}}\n{{\"m\":1}}\n"
        );
        let v = call(&app, Method::POST, "/_bulk", &[], &body).await.json();
        let items = v["items"].as_array().unwrap();
        assert_eq!(items[0]["index"]["error"]["type"], "invalid_index_name_exception");
        assert_eq!(items[0]["index"]["error"]["reason"], "Invalid index name [Bad], must be lowercase");
        assert_eq!(items[0]["index"]["error"]["index"], "Bad");
        assert_eq!(items[0]["index"]["_id"], Value::Null);
        assert_eq!(items[1]["index"]["error"]["type"], "invalid_index_name_exception");
        assert_eq!(items[2]["index"]["status"], 400);
        assert!(
            items[2]["index"]["error"]["reason"]
                .as_str()
                .unwrap()
                .contains("exceeds the maximum document size of [64]")
        );
        assert_eq!(items[3]["index"]["error"]["reason"], "if _id is specified it must not be empty");
        assert_eq!(items[4]["index"]["_id"], "7");
        assert_eq!(items[4]["index"]["status"], 201);
        assert_eq!(sink.records().len(), 1);
    }

    #[tokio::test]
    async fn logstash_filter_path_answer() {
        let (sink, app) = setup();
        let body = concat!(
            "{\"index\":{\"_id\":null,\"_index\":\"ecs-logstash\",\"routing\":null}}\n",
            "{\"@timestamp\":\"2024-05-01T10:00:00.000Z\",\"message\":\"hello\",\"@version\":\"1\"}\n",
            "{\"index\":{\"_id\":null,\"_index\":\"ecs-logstash\",\"routing\":null}}\n",
            "not json\n",
        );
        let uri = "/_bulk?filter_path=errors,items.*.error,items.*.status";
        let r = call(&app, Method::POST, uri, &[("content-type", "application/json")], body).await;
        assert_eq!(r.status, StatusCode::OK);
        let v = r.json();
        assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["errors", "items"]);
        assert_eq!(v["errors"], true);
        assert_eq!(v["items"][0], json!({"index": {"status": 201}}));
        assert_eq!(v["items"][1]["index"]["status"], 400);
        assert_eq!(v["items"][1]["index"]["error"]["type"], "document_parsing_exception");
        assert_eq!(v["items"][1]["index"].as_object().unwrap().len(), 2);
        // The direct writer and the generic filter agree.
        let (_, app2) = setup();
        let generic =
            call(&app2, Method::POST, "/_bulk?filter_path=items.*.status,errors,items.*.error,took", &[], body).await;
        let mut g = generic.json();
        g.as_object_mut().unwrap().remove("took");
        assert_eq!(g, v);
        let first_pair = &body[..body.find("\n{\"index\"").unwrap() + 1];
        let ok = call(&app, Method::POST, uri, &[], first_pair).await;
        assert_eq!(ok.body, "{\"errors\":false,\"items\":[{\"index\":{\"status\":201}}]}");
        assert_eq!(sink.records().len(), 2);
    }

    #[tokio::test]
    async fn fluent_bit_and_filebeat_bulk_shapes() {
        let (sink, app) = setup();
        let fluent = concat!(
            "{\"create\":{\"_index\":\"fluent-bit\",\"_type\":\"_doc\"}}\n",
            "{\"@timestamp\":\"2024-05-01T10:00:00.123Z\",\"log\":\"line\",\"kubernetes\":{\"pod_name\":\"p\"}}\n",
        );
        let r = call(&app, Method::POST, "/_bulk", &[("content-type", "application/x-ndjson")], fluent).await;
        let v = r.json();
        assert_eq!(v["errors"], false);
        assert_eq!(v["items"][0]["create"]["status"], 201);
        assert_eq!(v["items"][0]["create"]["_index"], "fluent-bit");

        let filebeat = concat!(
            "{\"create\":{\"_index\":\"filebeat-8.17.0\"}}\n",
            "{\"@timestamp\":\"2024-05-01T10:00:01.000Z\",\"message\":\"fb\",\"ecs\":{\"version\":\"8.0.0\"},\"service\":{\"name\":\"nginx\"}}\n",
        );
        let r = call(&app, Method::POST, "/_bulk?filter_path=errors,items.*.error,items.*.status", &[], filebeat).await;
        assert_eq!(r.body, "{\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}");
        let records = sink.records();
        assert_eq!(records[1].index, "filebeat-8.17.0");
        assert_eq!(records[1].labels[1], ("service_name".to_owned(), "nginx".to_owned()));
        assert_eq!(records[1].timestamp_nanos, 1_714_557_601_000_000_000);
    }

    #[tokio::test]
    async fn storage_failure_is_retryable_503_and_refresh_is_called() {
        let (sink, app) = setup();
        sink.fail_with(Some("disk full"));
        let body = "{\"index\":{\"_index\":\"x\"}}\n{}\n";
        let r = call(&app, Method::POST, "/_bulk", &[], body).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers.get(header::RETRY_AFTER).unwrap(), "1");
        assert!(r.json()["error"]["reason"].as_str().unwrap().contains("disk full"));
        sink.fail_with(None);
        let r = call(&app, Method::POST, "/_bulk?refresh=wait_for", &[], body).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(sink.refresh_count(), 1);
        call(&app, Method::POST, "/_bulk?refresh=false", &[], body).await;
        assert_eq!(sink.refresh_count(), 1);
    }

    #[tokio::test]
    async fn logstash_startup_sequence() {
        let (_, app) = setup();
        let head = call(&app, Method::HEAD, "/", &[], "").await;
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.body.is_empty());
        let info = call(&app, Method::GET, "/", &[], "").await;
        let v = info.json();
        assert_eq!(v["version"]["number"], DEFAULT_VERSION);
        assert_eq!(v["version"]["build_flavor"], "default");
        assert_eq!(v["tagline"], "You Know, for Search");
        assert!(v["cluster_uuid"].as_str().unwrap().len() >= 20);
        let lic = call(&app, Method::GET, "/_license", &[], "").await.json();
        assert_eq!(lic["license"]["status"], "active");
        assert_eq!(call(&app, Method::GET, "/_xpack", &[], "").await.json()["features"]["ilm"]["enabled"], true);
        // ILM policy: absent, then installed.
        assert_eq!(
            call(&app, Method::GET, "/_ilm/policy/logstash-policy", &[], "").await.status,
            StatusCode::NOT_FOUND
        );
        let policy = "{\"policy\":{\"phases\":{\"hot\":{\"actions\":{\"rollover\":{\"max_size\":\"50gb\"}}}}}}";
        assert_eq!(
            call(&app, Method::PUT, "/_ilm/policy/logstash-policy", &[], policy).await.json()["acknowledged"],
            true
        );
        let got = call(&app, Method::GET, "/_ilm/policy/logstash-policy", &[], "").await.json();
        assert_eq!(got["logstash-policy"]["policy"]["phases"]["hot"]["actions"]["rollover"]["max_size"], "50gb");
        // Rollover alias: absent, created through a URL-encoded date-math name, then present.
        assert_eq!(call(&app, Method::HEAD, "/ecs-logstash", &[], "").await.status, StatusCode::NOT_FOUND);
        let alias = "{\"aliases\":{\"ecs-logstash\":{\"is_write_index\":true}}}";
        let created = call(&app, Method::PUT, "/%3Cecs-logstash-%7Bnow%2Fd%7D-000001%3E", &[], alias).await;
        assert_eq!(created.status, StatusCode::OK);
        let (y, m, d) = crate::log_document::civil_from_days(now_nanos() / 86_400_000_000_000);
        assert_eq!(created.json()["index"], format!("ecs-logstash-{y:04}.{m:02}.{d:02}-000001"));
        let again = call(&app, Method::PUT, "/%3Cecs-logstash-%7Bnow%2Fd%7D-000001%3E", &[], alias).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert_eq!(again.json()["error"]["type"], "resource_already_exists_exception");
        assert_eq!(call(&app, Method::HEAD, "/ecs-logstash", &[], "").await.status, StatusCode::OK);
        // Template: HEAD 404 ⇒ PUT ⇒ HEAD 200 (skip next time) and GET returns it.
        assert_eq!(
            call(&app, Method::HEAD, "/_index_template/ecs-logstash", &[], "").await.status,
            StatusCode::NOT_FOUND
        );
        let template = "{\"index_patterns\":\"ecs-logstash-*\",\"priority\":200,\"template\":{\"settings\":{}}}";
        assert_eq!(
            call(&app, Method::PUT, "/_index_template/ecs-logstash", &[], template).await.status,
            StatusCode::OK
        );
        let head = call(&app, Method::HEAD, "/_index_template/ecs-logstash", &[], "").await;
        assert_eq!(head.status, StatusCode::OK);
        let got = call(&app, Method::GET, "/_index_template/ecs-logstash", &[], "").await.json();
        assert_eq!(got["index_templates"][0]["name"], "ecs-logstash");
        assert_eq!(got["index_templates"][0]["index_template"]["priority"], 200);
        // Sniffing.
        let nodes = call(&app, Method::GET, "/_nodes/http", &[("host", "pharos.local:9200")], "").await.json();
        let node = nodes["nodes"].as_object().unwrap().values().next().unwrap().clone();
        assert_eq!(node["http"]["publish_address"], "pharos.local:9200");
        assert_eq!(node["version"], DEFAULT_VERSION);
    }

    #[tokio::test]
    async fn filebeat_startup_sequence() {
        let (_, app) = setup();
        let v = call(&app, Method::GET, "/", &[], "").await.json();
        let number = v["version"]["number"].as_str().unwrap();
        let parse = |s: &str| s.split('.').map(|p| p.parse::<u32>().unwrap()).collect::<Vec<_>>();
        assert!(parse(number) >= parse("8.17.0"), "not older than the Filebeat shipping with it");
        assert_eq!(call(&app, Method::GET, "/_ilm/policy/filebeat", &[], "").await.status, StatusCode::NOT_FOUND);
        let r = call(&app, Method::PUT, "/_ilm/policy/filebeat", &[], "{\"policy\":{\"phases\":{}}}").await;
        assert_eq!(r.status, StatusCode::OK);
        let name = "/_index_template/filebeat-8.17.0";
        assert_eq!(call(&app, Method::HEAD, name, &[], "").await.status, StatusCode::NOT_FOUND);
        let t = "{\"index_patterns\":[\"filebeat-8.17.0\"],\"data_stream\":{},\"priority\":150}";
        assert_eq!(call(&app, Method::PUT, name, &[], t).await.status, StatusCode::OK);
        assert_eq!(call(&app, Method::HEAD, name, &[], "").await.status, StatusCode::OK);
        let ds = "/_data_stream/filebeat-8.17.0";
        let missing = call(&app, Method::GET, ds, &[], "").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json()["error"]["type"], "index_not_found_exception");
        assert_eq!(call(&app, Method::PUT, ds, &[], "").await.json()["acknowledged"], true);
        let got = call(&app, Method::GET, ds, &[], "").await.json();
        assert_eq!(got["data_streams"][0]["name"], "filebeat-8.17.0");
        assert_eq!(got["data_streams"][0]["timestamp_field"]["name"], "@timestamp");
        // Module pipelines.
        let p = "/_ingest/pipeline/filebeat-8.17.0-nginx-access-pipeline";
        assert_eq!(call(&app, Method::GET, p, &[], "").await.status, StatusCode::NOT_FOUND);
        assert_eq!(call(&app, Method::PUT, p, &[], "{\"processors\":[]}").await.status, StatusCode::OK);
        let got = call(&app, Method::GET, p, &[], "").await.json();
        assert_eq!(got["filebeat-8.17.0-nginx-access-pipeline"]["processors"], json!([]));
        // Legacy template API too.
        assert_eq!(call(&app, Method::HEAD, "/_template/filebeat", &[], "").await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            call(&app, Method::PUT, "/_template/filebeat", &[], "{\"index_patterns\":[\"fb-*\"]}").await.status,
            StatusCode::OK
        );
        assert_eq!(
            call(&app, Method::GET, "/_template/filebeat", &[], "").await.json()["filebeat"]["index_patterns"][0],
            "fb-*"
        );
        let bad = call(&app, Method::PUT, "/_template/broken", &[], "{nope").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.json()["error"]["type"], "x_content_parse_exception");
    }

    #[tokio::test]
    async fn vector_and_client_probes() {
        let (_, app) = setup();
        let state = call(&app, Method::GET, "/_cluster/state/version", &[], "").await.json();
        assert_eq!(state["version"], 8);
        let health = call(&app, Method::GET, "/_cluster/health?wait_for_status=yellow", &[], "").await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.json()["status"], "green");
        assert_eq!(health.json()["number_of_nodes"], 1);
        // Official 8.x and 9.x clients ask for compatible-with; the answer says it back.
        for n in ["8", "9"] {
            let accept = format!("application/vnd.elasticsearch+json; compatible-with={n}");
            let r = call(&app, Method::GET, "/", &[("accept", &accept)], "").await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(
                r.headers[header::CONTENT_TYPE],
                format!("application/vnd.elasticsearch+json;compatible-with={n}")
            );
        }
        let plain = call(&app, Method::GET, "/", &[], "").await;
        assert_eq!(plain.headers[header::CONTENT_TYPE], "application/json");
        // filter_path on any JSON answer.
        let r = call(&app, Method::GET, "/?filter_path=version.number,tagline", &[], "").await;
        assert_eq!(r.json(), json!({"version": {"number": DEFAULT_VERSION}, "tagline": "You Know, for Search"}));
        // Vector's data-stream mode bulk (no filter_path, `timeout` param, `create`).
        let body = "{\"create\":{\"_index\":\"logs-generic-default\"}}\n{\"message\":\"v\",\"@timestamp\":\"2024-05-01T00:00:00Z\"}\n";
        let r = call(&app, Method::POST, "/_bulk?timeout=60s", &[("content-type", "application/x-ndjson")], body).await;
        assert_eq!(r.json()["items"][0]["create"]["status"], 201);
        let missing = call(&app, Method::GET, "/_index_template/nope", &[], "").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json()["status"], 404);
    }

    /// Throughput of the `_bulk` path (parse, records, response) without HTTP; run in release:
    /// `cargo test --release bulk_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bulk_throughput() {
        struct Discard;
        impl LogSink for Discard {
            fn append(&self, records: Vec<LogRecord>) -> Result<(), String> {
                std::hint::black_box(records);
                Ok(())
            }
        }
        let state = ElasticState::new(Arc::new(Discard), ElasticConfig::default());
        let mut body = String::new();
        let mut n = 0;
        while body.len() < 32 * 1024 * 1024 {
            body.push_str("{\"create\":{\"_index\":\"filebeat-8.17.0\"}}\n");
            body.push_str(&format!(
                "{{\"@timestamp\":\"2024-05-01T10:00:{:02}.{:03}Z\",\"message\":\"GET /api/v1/items/{n} HTTP/1.1 200 {} \\\"Mozilla/5.0 (X11; Linux x86_64)\\\"\",\
                 \"log\":{{\"level\":\"info\",\"file\":{{\"path\":\"/var/log/nginx/access.log\"}},\"offset\":{}}},\
                 \"host\":{{\"name\":\"web-{}\"}},\"service\":{{\"name\":\"nginx\"}},\"http\":{{\"response\":{{\"status_code\":200,\"bytes\":{}}}}},\
                 \"agent\":{{\"type\":\"filebeat\",\"version\":\"8.17.0\"}},\"ecs\":{{\"version\":\"8.0.0\"}}}}\n",
                n % 60, n % 1000, n * 7, n * 311, n % 16, n % 5000
            ));
            n += 1;
        }
        let params = BulkParams { filter_path: Some("errors,items.*.error,items.*.status".into()), refresh: false };
        for round in 0..3 {
            let started = Instant::now();
            let out = state.process_bulk(None, &params, body.as_bytes(), started).ok().unwrap();
            let secs = started.elapsed().as_secs_f64();
            assert!(out.starts_with("{\"errors\":false"));
            println!(
                "round {round}: {n} docs, {:.1} MB in {secs:.3}s = {:.1} MB/s",
                body.len() as f64 / 1e6,
                body.len() as f64 / 1e6 / secs
            );
        }
    }

    #[tokio::test]
    async fn nested_under_a_prefix() {
        let sink = MemorySink::new();
        let state = ElasticState::new(sink.clone(), ElasticConfig::default());
        let app = Router::new()
            .nest("/elastic", routes(state.clone()))
            .merge(slash_root(state, "/elastic"))
            .layer(axum::middleware::from_fn(es_response_headers));
        for uri in ["/elastic", "/elastic/"] {
            assert_eq!(call(&app, Method::GET, uri, &[], "").await.json()["tagline"], "You Know, for Search");
            assert_eq!(call(&app, Method::HEAD, uri, &[], "").await.status, StatusCode::OK);
        }
        assert_eq!(call(&app, Method::GET, "/elastic/_license", &[], "").await.status, StatusCode::OK);
        let r = call(&app, Method::POST, "/elastic/_bulk", &[], "{\"index\":{\"_index\":\"n\"}}\n{}\n").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(sink.records().len(), 1);
    }

    #[test]
    fn filter_path_semantics() {
        let v = json!({
            "took": 3, "errors": false,
            "items": [{"index": {"_id": "a", "status": 201}}, {"create": {"_id": "b", "status": 400, "error": {"type": "t"}}}],
            "nested": {"deep": {"x": 1, "y": [{"x": 2}, 3]}, "list": []},
        });
        assert_eq!(filter_path(&v, "errors"), json!({"errors": false}));
        assert_eq!(
            filter_path(&v, "items.*.status"),
            json!({"items": [{"index": {"status": 201}}, {"create": {"status": 400}}]})
        );
        assert_eq!(filter_path(&v, "items.*.error"), json!({"items": [{"create": {"error": {"type": "t"}}}]}));
        assert_eq!(filter_path(&v, "**.x"), json!({"nested": {"deep": {"x": 1, "y": [{"x": 2}]}}}));
        assert_eq!(filter_path(&v, "nested.**"), json!({"nested": v["nested"]}));
        assert_eq!(filter_path(&v, "nested.list"), json!({"nested": {"list": []}}));
        assert_eq!(filter_path(&v, "it*.*.st*"), filter_path(&v, "items.*.status"));
        assert_eq!(filter_path(&v, "nothing"), json!({}));
        assert_eq!(filter_path(&v, "-items,-nested.deep"), json!({"took": 3, "errors": false, "nested": {"list": []}}));
        assert_eq!(
            filter_path(&v, "items,-items.*._id"),
            json!({"items": [{"index": {"status": 201}}, {"create": {"status": 400, "error": {"type": "t"}}}]})
        );
        assert!(is_status_filter("items.*.status, errors,items.*.error"));
        assert!(!is_status_filter("errors,items.*.status"));
    }

    #[test]
    fn date_math_names() {
        let now = 1_714_557_601_000_000_000; // 2024-05-01T10:00:01Z
        assert_eq!(resolve_date_math("<logs-{now/d}-000001>", now).unwrap(), "logs-2024.05.01-000001");
        assert_eq!(resolve_date_math("<logs-{now/M{yyyy.MM}}>", now).unwrap(), "logs-2024.05");
        assert_eq!(resolve_date_math("<logs-{now-1d/d}>", now).unwrap(), "logs-2024.04.30");
        assert_eq!(resolve_date_math("<a-{now/y{yyyy-MM-dd}}>", now).unwrap(), "a-2024-01-01");
        assert_eq!(resolve_date_math("plain", now).unwrap(), "plain");
        assert!(resolve_date_math("<logs-{later}>", now).is_err());
        assert!(glob_match("filebeat-*", "filebeat-8.17.0"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "ac"));
    }
}

// Pharos — ingest/src/elastic.rs

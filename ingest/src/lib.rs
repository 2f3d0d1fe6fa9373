//! Pharos' receivers: every write path from the wire into storage.
//!
//! Faces: [`router`] (write routes on the main HTTP listener: remote-write, OTLP metrics at
//! Prometheus' path, Loki push, JSON lines), [`elastic_routes`] (the Elasticsearch ingest API:
//! `_bulk` and the shippers' start-up probes, unprefixed, for the binary to nest under `/elastic`
//! and to serve on the optional Elasticsearch listener), [`otlp_http_router`] (the OTLP/HTTP
//! listener) and [`grpc_routes`] (the OTLP gRPC services).
//!
//! Invariants: a write is acknowledged only once storage has it durably (WAL); one bad item in a batch
//! never loses the good ones; a client's mistake is a 4xx, never a 500.

pub mod elastic;
mod error;
mod json_lines;
mod log_document;
mod log_sink;
mod loki_push;
mod otlp;
mod otlp_json;
mod otlp_logs;
mod otlp_metrics;
mod otlp_traces;
mod remote_write;
mod span_sink;

use std::sync::Arc;

use axum::Router;
use pharos_proto::ApiFamily;
use pharos_proto::exposition::{Counter, Registry};
use pharos_storage::Storage;

pub use error::IngestError;
pub use log_sink::LogSink;
pub use span_sink::SpanSink;

/// The signals Pharos ingests, as they appear in the `signal` label of its own metrics.
pub const SIGNALS: [&str; 3] = ["metrics", "logs", "traces"];

/// Remote-write requests handled at once; more are answered 503 (retried by Prometheus), which
/// bounds the memory decoded requests can take.
pub const MAX_CONCURRENT_REMOTE_WRITES: usize = 64;

/// What the log receivers are told at start-up (the binary's `ingest.logs:` section).
#[derive(Clone, Debug)]
pub struct LogIngestOptions {
    /// Largest single log document accepted; a larger one fails its own bulk item.
    pub max_document_bytes: usize,
    /// The index OTLP log records are written to.
    pub otlp_index: String,
}

impl Default for LogIngestOptions {
    fn default() -> Self {
        LogIngestOptions { max_document_bytes: 1 << 20, otlp_index: otlp_logs::OTLP_INDEX.into() }
    }
}

/// What the trace receivers are told at start-up (the binary's `ingest.traces:` section). The caps
/// apply as the OpenTelemetry SDKs apply their span limits: what is over a cap is dropped and
/// counted in the span's `dropped_*_count`, the span itself is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceIngestOptions {
    /// Attributes kept per span, and per event and per link (the first ones). Default 128.
    pub max_attributes_per_span: usize,
    /// Events kept per span (the first ones). Default 128.
    pub max_events_per_span: usize,
    /// Links kept per span (the first ones). Default 128.
    pub max_links_per_span: usize,
    /// Longest string or bytes value a span keeps, in bytes: attribute keys and values at any
    /// depth (span, event, link, resource, scope), names, status message, trace states, scope name
    /// and version, schema URLs. Longer strings are cut at a character boundary. Default 64 KiB.
    pub max_attribute_value_bytes: usize,
    /// Exports (gRPC and HTTP together) decoded and stored at once; more are answered HTTP 503 with
    /// `Retry-After` / gRPC `UNAVAILABLE`, which exporters retry. Bounds the memory of decoded
    /// exports. Clamped to at least 1 (and tokio's semaphore maximum). Default 64.
    pub max_concurrent_exports: usize,
}

impl Default for TraceIngestOptions {
    fn default() -> Self {
        TraceIngestOptions {
            max_attributes_per_span: 128,
            max_events_per_span: 128,
            max_links_per_span: 128,
            max_attribute_value_bytes: 64 << 10,
            max_concurrent_exports: 64,
        }
    }
}

/// What the receivers share.
#[derive(Clone)]
pub struct IngestState {
    pub storage: Arc<Storage>,
    /// `pharos_ingested_items_total{signal}`: samples, log records and spans accepted.
    pub ingested_items: Counter,
    remote_write_slots: Arc<tokio::sync::Semaphore>,
    /// Where log receivers append: the log store, counting what it takes.
    logs: Arc<dyn LogSink>,
    log_options: LogIngestOptions,
    /// The Elasticsearch API's state (templates, policies, ids), one for every listener serving it.
    elastic: Arc<elastic::ElasticState>,
    /// Where the trace receivers append: the trace store.
    traces: Arc<dyn SpanSink>,
    trace_options: TraceIngestOptions,
    /// One permit per trace export being decoded and stored ([`TraceIngestOptions::max_concurrent_exports`]).
    trace_export_slots: Arc<tokio::sync::Semaphore>,
}

impl IngestState {
    /// The receivers' shared state. Log records go to `storage`'s log store, spans to `traces`
    /// (the trace store, as a [`SpanSink`]); `pharos_ingested_items_total` is registered in
    /// `registry`.
    pub fn new(
        storage: Arc<Storage>,
        registry: &Registry,
        log_options: LogIngestOptions,
        trace_options: TraceIngestOptions,
        traces: Arc<dyn SpanSink>,
    ) -> Self {
        let ingested_items = registry.counter(
            "pharos_ingested_items_total",
            "Items accepted into storage, by signal: samples for metrics, records for logs, spans for traces.",
            &["signal"],
        );
        for signal in SIGNALS {
            ingested_items.with(&[signal]);
        }
        let logs: Arc<dyn LogSink> =
            Arc::new(log_sink::CountingSink { store: storage.logs().clone(), records: ingested_items.with(&["logs"]) });
        let elastic = elastic::ElasticState::new(
            logs.clone(),
            elastic::ElasticConfig { max_document_bytes: log_options.max_document_bytes, ..Default::default() },
        );
        IngestState {
            storage,
            ingested_items,
            remote_write_slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_REMOTE_WRITES)),
            logs,
            log_options,
            elastic,
            traces,
            trace_export_slots: Arc::new(tokio::sync::Semaphore::new(
                trace_options.max_concurrent_exports.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            )),
            trace_options,
        }
    }
}

/// Write routes of the main HTTP listener.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route("/api/v1/write", axum::routing::post(remote_write::write))
        .route("/api/v1/otlp/v1/metrics", axum::routing::post(otlp::http_metrics))
        .with_state(state.clone())
        .merge(loki_push::router(state.logs.clone(), loki_push::LokiConfig::default()))
        .merge(json_lines::router(state.logs.clone(), json_lines::JsonLinesConfig::default()))
}

/// The Elasticsearch ingest API (`_bulk`, `GET /`, the probes), unprefixed. Answers carry
/// `X-Elastic-Product` once the binary layers [`elastic::es_response_headers`] over this router
/// merged with the query crate's Elasticsearch routes.
pub fn elastic_routes(state: &IngestState) -> Router {
    elastic::routes(state.elastic.clone())
}

/// `GET`/`HEAD {prefix}/`, for the Elasticsearch API nested at `prefix`.
pub fn elastic_slash_root(state: &IngestState, prefix: &str) -> Router {
    elastic::slash_root(state.elastic.clone(), prefix)
}

/// The OTLP/HTTP listener (`/v1/metrics`, `/v1/logs`, `/v1/traces`). Errors on it are
/// `google.rpc.Status` bodies in the request's encoding: the server wraps this router, with its
/// per-request plumbing, in `pharos_proto::mark_otlp`, once, outermost.
pub fn otlp_http_router(state: IngestState) -> Router {
    Router::new()
        .route("/v1/metrics", axum::routing::post(otlp::http_metrics))
        .route("/v1/logs", axum::routing::post(otlp::http_logs))
        .route("/v1/traces", axum::routing::post(otlp::http_traces))
        .fallback(otlp_no_route)
        .method_not_allowed_fallback(otlp_no_route)
        .with_state(state)
}

async fn otlp_no_route(family: ApiFamily, method: axum::http::Method, uri: axum::http::Uri) -> pharos_proto::ApiError {
    pharos_proto::ApiError::no_route(family, method.as_str(), uri.path())
}

/// The OTLP gRPC services (metrics, logs, traces). A message over the size limit is answered
/// `RESOURCE_EXHAUSTED` (not retried), as OTLP asks, where tonic alone would say `OUT_OF_RANGE`.
pub fn grpc_routes(state: IngestState) -> tonic::service::Routes {
    let routes = tonic::service::Routes::new(otlp::metrics_service(state.clone()))
        .add_service(otlp::logs_service(state.clone()))
        .add_service(otlp::trace_service(state));
    otlp::oversized_messages_are_resource_exhausted(routes)
}

// Pharos — ingest/src/lib.rs

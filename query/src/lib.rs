//! Pharos' read side: the Prometheus HTTP API with PromQL, the Loki API with LogQL, the
//! Elasticsearch search subset, and the Jaeger and Tempo trace APIs ([`traces`]).
//!
//! The faces of the crate are [`router`] (every read route of the main HTTP listener, to be merged
//! by the binary) and [`elastic_routes`] (the Elasticsearch search routes, unprefixed, for the
//! binary to nest under `/elastic` next to the ingest crate's `_bulk`). Invariant: query code never
//! writes to storage.

pub mod elastic;
mod error;
mod log_source;
pub mod loki;
mod params;
mod prometheus_api;
pub mod promql;
mod query_api;
mod selector;
pub mod traces;

use std::sync::Arc;

use axum::Router;
use pharos_proto::BuildInfo;
use pharos_storage::Storage;

pub use error::QueryError;
pub use log_source::LogSnapshots;
pub use params::parse_rfc3339_nanos;
pub use traces::{MemoryTraces, TraceReader};

/// What the read routes share.
#[derive(Clone)]
pub struct QueryState {
    pub build_info: Arc<BuildInfo>,
    pub storage: Arc<Storage>,
    /// PromQL engine settings (lookback, limits, timeout).
    pub engine: Arc<promql::EngineOptions>,
    /// Admission of PromQL queries (`max_concurrency` at a time; the rest wait, within their
    /// timeout), so queries never take every blocking thread that ingestion needs.
    query_slots: Arc<tokio::sync::Semaphore>,
}

impl QueryState {
    pub fn new(build_info: Arc<BuildInfo>, storage: Arc<Storage>, engine: promql::EngineOptions) -> QueryState {
        let query_slots = Arc::new(tokio::sync::Semaphore::new(engine.max_concurrency.max(1)));
        QueryState { build_info, storage, engine: Arc::new(engine), query_slots }
    }
}

/// Every read route, under the prefixes of `pharos_proto::ApiFamily`.
pub fn router(state: QueryState) -> Router {
    let logs: Arc<dyn LogSnapshots> = state.storage.logs().clone();
    let traces: Arc<dyn TraceReader> = state.storage.traces().clone();
    let build_info = state.build_info.clone();
    Router::new()
        .merge(prometheus_api::router())
        .merge(query_api::router())
        .with_state(state)
        .merge(loki::router(logs))
        .merge(traces::router(traces, build_info))
}

/// The Elasticsearch search routes (`_search`, `_msearch`, `_count`, `_mapping`, `_field_caps`),
/// unprefixed.
pub fn elastic_routes(state: &QueryState) -> Router {
    let logs: Arc<dyn LogSnapshots> = state.storage.logs().clone();
    elastic::router(logs, state.storage.logs().schema().clone())
}

// Pharos — query/src/lib.rs

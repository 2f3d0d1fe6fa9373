//! Pharos' read side: the Prometheus HTTP API (and, as they are built, PromQL, the Elasticsearch
//! search subset, the Loki API with LogQL, and the Jaeger and Tempo APIs).
//!
//! The face of the crate is [`router`]: every read route of the main HTTP listener, to be merged by
//! the binary. Invariant: query code never writes to storage.

mod error;
mod params;
mod prometheus_api;
pub mod promql;
mod query_api;
mod selector;

use std::sync::Arc;

use axum::Router;
use pharos_proto::BuildInfo;
use pharos_storage::Storage;

pub use error::QueryError;

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
    Router::new().merge(prometheus_api::router()).merge(query_api::router()).with_state(state)
}

// Pharos — query/src/lib.rs

//! Pharos' receivers: every write path from the wire into storage.
//!
//! Faces: [`router`] (write routes on the main HTTP listener: remote-write, Elasticsearch `_bulk`,
//! Loki push, as they are built), [`otlp_http_router`] (the OTLP/HTTP listener) and [`grpc_routes`]
//! (the OTLP gRPC services).
//!
//! Invariants: a write is acknowledged only once storage has it durably (WAL); one bad item in a batch
//! never loses the good ones; a client's mistake is a 4xx, never a 500.

mod error;
mod otlp;
mod otlp_json;
mod otlp_metrics;
mod remote_write;

use std::sync::Arc;

use axum::Router;
use pharos_proto::ApiFamily;
use pharos_proto::exposition::{Counter, Registry};
use pharos_storage::Storage;

pub use error::IngestError;

/// The signals Pharos ingests, as they appear in the `signal` label of its own metrics.
pub const SIGNALS: [&str; 3] = ["metrics", "logs", "traces"];

/// Remote-write requests handled at once; more are answered 503 (retried by Prometheus), which
/// bounds the memory decoded requests can take.
pub const MAX_CONCURRENT_REMOTE_WRITES: usize = 64;

/// What the receivers share.
#[derive(Clone)]
pub struct IngestState {
    pub storage: Arc<Storage>,
    /// `pharos_ingested_items_total{signal}`: samples, log records and spans accepted.
    pub ingested_items: Counter,
    remote_write_slots: Arc<tokio::sync::Semaphore>,
}

impl IngestState {
    pub fn new(storage: Arc<Storage>, registry: &Registry) -> Self {
        let ingested_items = registry.counter(
            "pharos_ingested_items_total",
            "Items accepted into storage, by signal: samples for metrics, records for logs, spans for traces.",
            &["signal"],
        );
        for signal in SIGNALS {
            ingested_items.with(&[signal]);
        }
        IngestState {
            storage,
            ingested_items,
            remote_write_slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_REMOTE_WRITES)),
        }
    }
}

/// Write routes of the main HTTP listener.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route("/api/v1/write", axum::routing::post(remote_write::write))
        .route("/api/v1/otlp/v1/metrics", axum::routing::post(otlp::http_metrics))
        .with_state(state)
}

/// The OTLP/HTTP listener (`/v1/metrics`, `/v1/logs`, `/v1/traces`). Errors on it are
/// `google.rpc.Status` bodies in the request's encoding: the server wraps this router, with its
/// per-request plumbing, in `pharos_proto::mark_otlp`, once, outermost.
pub fn otlp_http_router(state: IngestState) -> Router {
    Router::new()
        .route("/v1/metrics", axum::routing::post(otlp::http_metrics))
        .fallback(otlp_no_route)
        .method_not_allowed_fallback(otlp_no_route)
        .with_state(state)
}

async fn otlp_no_route(family: ApiFamily, method: axum::http::Method, uri: axum::http::Uri) -> pharos_proto::ApiError {
    pharos_proto::ApiError::no_route(family, method.as_str(), uri.path())
}

/// The OTLP gRPC services. A service not yet built is absent, so tonic answers `UNIMPLEMENTED`.
pub fn grpc_routes(state: IngestState) -> tonic::service::Routes {
    tonic::service::Routes::new(otlp::metrics_service(state))
}

// Pharos — ingest/src/lib.rs

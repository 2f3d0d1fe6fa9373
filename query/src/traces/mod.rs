//! The trace read APIs: Jaeger (the v1 JSON API Grafana's Jaeger datasource calls, and api_v3) under
//! `/jaeger`, Tempo (what Grafana's Tempo datasource calls) under `/tempo`.
//!
//! - [`reader`]: [`TraceReader`], what the APIs read through (the trace store implements it), and
//!   [`MemoryTraces`] for tests.
//! - [`search`]: the trace search both APIs share (spans through the store's indexes → distinct
//!   trace ids newest first → whole traces judged by the caller) and the service dependency graph.
//! - [`jaeger`], [`jaeger_v3`], [`tempo`]: the HTTP routes and their JSON; [`otlp_out`]: spans as
//!   OTLP JSON and protobuf; [`traceql`]: TraceQL for Tempo's `q=`.
//!
//! Every store call runs on a blocking thread. Errors follow each API's convention
//! ([`TraceApiError`] mapped per family): Jaeger's envelope, Jaeger api_v3's gateway error, Tempo's
//! plain text.

pub mod error;
pub mod jaeger;
pub mod jaeger_v3;
pub mod otlp_out;
pub mod params;
pub mod reader;
pub mod search;
pub mod tempo;
pub mod traceql;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pharos_proto::BuildInfo;
use serde_json::Value;

pub use error::TraceApiError;
pub use reader::{MemoryTraces, TraceReader};
pub use tempo::TEMPO_API_VERSION;

/// What the trace routes share.
pub(crate) struct TraceApi {
    pub reader: Arc<dyn TraceReader>,
    pub build_info: Arc<BuildInfo>,
}

type Shared = State<Arc<TraceApi>>;

/// Every Jaeger and Tempo read route, with full paths (`/jaeger/api/...`, `/tempo/api/...`), for the
/// binary to merge into its main router.
pub fn router(reader: Arc<dyn TraceReader>, build_info: Arc<BuildInfo>) -> Router {
    let api = Arc::new(TraceApi { reader, build_info });
    Router::new().merge(jaeger::routes()).merge(jaeger_v3::routes()).merge(tempo::routes()).with_state(api)
}

/// Runs store work off the async executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TraceApiError> + Send + 'static,
) -> Result<T, TraceApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(TraceApiError::Storage(format!("query task failed: {e}"))))
}

/// A 200 answer with a JSON body.
fn json_response(body: &Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

// Pharos — query/src/traces/mod.rs

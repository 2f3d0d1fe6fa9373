//! OTLP receivers: the gRPC `MetricsService/Export` and `POST /v1/metrics` (protobuf or JSON,
//! optionally gzip), also served at Prometheus' path `/api/v1/otlp/v1/metrics`.
//!
//! Points that cannot be stored (delta temporality, invalid labels, rejected samples) are
//! reported in `partial_success`, as the OTLP spec asks; the rest of the request is stored.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pharos_proto::otlp::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
use pharos_proto::otlp::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use pharos_proto::{ApiError, ApiFamily, DecodedBody, ErrorCode};
use prost::Message;
use serde_json::json;
use tonic::codec::CompressionEncoding;

use crate::{IngestError, IngestState, otlp_metrics};

/// The largest gRPC message accepted (OTLP's customary 4 MiB is too small for batched exporters).
const MAX_GRPC_MESSAGE_BYTES: usize = 16 << 20;

/// Translate and store one export; the partial-success answer when something was refused.
async fn store_metrics(state: &IngestState, request: ExportMetricsServiceRequest) -> Result<Option<ExportMetricsPartialSuccess>, IngestError> {
    let tsdb = state.storage.tsdb().clone();
    let limits = tsdb.label_limits();
    let translation = otlp_metrics::translate(&request, &limits);
    let batch = translation.batch;
    let report = tokio::task::spawn_blocking(move || tsdb.append(&batch))
        .await
        .map_err(|e| IngestError::Overloaded(format!("write task failed: {e}")))??;
    state.ingested_items.with(&["metrics"]).add(report.samples_appended as f64);
    let rejected = translation.rejected_points + report.samples_rejected as i64;
    if rejected == 0 {
        return Ok(None);
    }
    let mut messages: Vec<String> = translation.error_message.into_iter().collect();
    messages.extend(report.errors);
    Ok(Some(ExportMetricsPartialSuccess { rejected_data_points: rejected, error_message: messages.join("; ") }))
}

/// `POST /v1/metrics` and `/api/v1/otlp/v1/metrics`.
pub(crate) async fn http_metrics(State(state): State<IngestState>, body: DecodedBody) -> Response {
    let content_type = body.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
    let json = content_type.starts_with("application/json");
    let family = ApiFamily::Otlp { json };
    let decoded = if json {
        otlp_metrics::decode_json(&body.bytes)
    } else if content_type.starts_with("application/x-protobuf") || content_type.starts_with("application/protobuf") {
        otlp_metrics::decode_protobuf(&body.bytes)
    } else {
        return ApiError::new(
            family,
            ErrorCode::UnsupportedMediaType,
            format!("unsupported Content-Type {content_type:?}: expected application/x-protobuf or application/json"),
        )
        .into_response();
    };
    let request = match decoded {
        Ok(request) => request,
        Err(e) => return ApiError::new(family, ErrorCode::BadData, format!("cannot decode OTLP metrics: {e}")).into_response(),
    };
    match store_metrics(&state, request).await {
        Ok(partial) => export_response(json, partial),
        Err(e) => e.into_api_error(family).into_response(),
    }
}

fn export_response(json: bool, partial: Option<ExportMetricsPartialSuccess>) -> Response {
    let mut response = if json {
        let body = match &partial {
            None => json!({}),
            Some(p) => json!({"partialSuccess": {"rejectedDataPoints": p.rejected_data_points.to_string(), "errorMessage": p.error_message}}),
        };
        (StatusCode::OK, body.to_string()).into_response()
    } else {
        (StatusCode::OK, ExportMetricsServiceResponse { partial_success: partial }.encode_to_vec()).into_response()
    };
    let content_type = if json { "application/json" } else { "application/x-protobuf" };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The gRPC `MetricsService`.
pub(crate) struct MetricsReceiver {
    state: IngestState,
}

#[tonic::async_trait]
impl MetricsService for MetricsReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let partial = store_metrics(&self.state, request.into_inner()).await.map_err(IngestError::into_grpc_status)?;
        Ok(tonic::Response::new(ExportMetricsServiceResponse { partial_success: partial }))
    }
}

pub(crate) fn metrics_service(state: IngestState) -> MetricsServiceServer<MetricsReceiver> {
    MetricsServiceServer::new(MetricsReceiver { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
}

// Pharos — ingest/src/otlp.rs

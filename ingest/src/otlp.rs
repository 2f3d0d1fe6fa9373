//! OTLP receivers: the gRPC `MetricsService/Export` and `LogsService/Export`, `POST /v1/metrics`
//! (also served at Prometheus' path `/api/v1/otlp/v1/metrics`) and `POST /v1/logs` (protobuf or
//! JSON, optionally gzip).
//!
//! Items that cannot be stored (delta temporality, invalid labels, rejected samples, log records
//! with malformed ids) are reported in `partial_success`, as the OTLP spec asks; the rest of the
//! request is stored.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pharos_proto::otlp::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
use pharos_proto::otlp::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use pharos_proto::otlp::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use pharos_proto::otlp::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use pharos_proto::{ApiError, ApiFamily, DecodedBody, ErrorCode};
use prost::Message;
use serde_json::json;
use tonic::codec::CompressionEncoding;

use crate::{IngestError, IngestState, log_sink, otlp_logs, otlp_metrics};

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

/// How an OTLP/HTTP body is encoded: `Ok(true)` JSON, `Ok(false)` protobuf, or the 415 answer.
fn http_encoding(body: &DecodedBody) -> Result<bool, Response> {
    let content_type = body.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        Ok(true)
    } else if content_type.starts_with("application/x-protobuf") || content_type.starts_with("application/protobuf") {
        Ok(false)
    } else {
        Err(ApiError::new(
            ApiFamily::Otlp { json: false },
            ErrorCode::UnsupportedMediaType,
            format!("unsupported Content-Type {content_type:?}: expected application/x-protobuf or application/json"),
        )
        .into_response())
    }
}

/// `POST /v1/metrics` and `/api/v1/otlp/v1/metrics`.
pub(crate) async fn http_metrics(State(state): State<IngestState>, body: DecodedBody) -> Response {
    let json = match http_encoding(&body) {
        Ok(json) => json,
        Err(response) => return response,
    };
    let family = ApiFamily::Otlp { json };
    let decoded = if json { otlp_metrics::decode_json(&body.bytes) } else { otlp_metrics::decode_protobuf(&body.bytes) };
    let request = match decoded {
        Ok(request) => request,
        Err(e) => return ApiError::new(family, ErrorCode::BadData, format!("cannot decode OTLP metrics: {e}")).into_response(),
    };
    match store_metrics(&state, request).await {
        Ok(partial) => export_response(json, partial),
        Err(e) => e.into_api_error(family).into_response(),
    }
}

/// Translate and store one logs export; returns (rejected records, their description).
async fn store_logs(state: &IngestState, request: ExportLogsServiceRequest) -> Result<(u64, String), IngestError> {
    let sink = state.logs.clone();
    let index = state.log_options.otlp_index.clone();
    log_sink::run_blocking(move || {
        let (records, rejected, message) = otlp_logs::records_from_otlp(request, &index);
        log_sink::store(sink.as_ref(), records, false).map(|()| (rejected, message))
    })
    .await
    .and_then(|stored| stored)
    .map_err(IngestError::Overloaded)
}

/// `POST /v1/logs`.
pub(crate) async fn http_logs(State(state): State<IngestState>, body: DecodedBody) -> Response {
    let json = match http_encoding(&body) {
        Ok(json) => json,
        Err(response) => return response,
    };
    let family = ApiFamily::Otlp { json };
    let decoded = if json {
        otlp_logs::decode_json(&body.bytes)
    } else {
        ExportLogsServiceRequest::decode(&body.bytes[..]).map_err(|e| e.to_string())
    };
    let request = match decoded {
        Ok(request) => request,
        Err(e) => return ApiError::new(family, ErrorCode::BadData, format!("cannot decode OTLP logs: {e}")).into_response(),
    };
    let (rejected, message) = match store_logs(&state, request).await {
        Ok(outcome) => outcome,
        Err(e) => return e.into_api_error(family).into_response(),
    };
    let response = otlp_logs::export_response(rejected, message);
    let mut response = if json {
        let body = match &response.partial_success {
            None => json!({}),
            Some(p) => json!({"partialSuccess": {"rejectedLogRecords": p.rejected_log_records.to_string(), "errorMessage": p.error_message}}),
        };
        (StatusCode::OK, body.to_string()).into_response()
    } else {
        (StatusCode::OK, response.encode_to_vec()).into_response()
    };
    let content_type = if json { "application/json" } else { "application/x-protobuf" };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
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

/// The gRPC `LogsService`.
pub(crate) struct LogsReceiver {
    state: IngestState,
}

#[tonic::async_trait]
impl LogsService for LogsReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let (rejected, message) = store_logs(&self.state, request.into_inner()).await.map_err(IngestError::into_grpc_status)?;
        Ok(tonic::Response::new(otlp_logs::export_response(rejected, message)))
    }
}

pub(crate) fn logs_service(state: IngestState) -> LogsServiceServer<LogsReceiver> {
    LogsServiceServer::new(LogsReceiver { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
}

// Pharos — ingest/src/otlp.rs

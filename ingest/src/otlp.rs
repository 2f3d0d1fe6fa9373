//! OTLP receivers: the gRPC `MetricsService/Export`, `LogsService/Export` and
//! `TraceService/Export`, `POST /v1/metrics` (also served at Prometheus' path
//! `/api/v1/otlp/v1/metrics`), `POST /v1/logs` and `POST /v1/traces` (protobuf or JSON, optionally
//! gzip; answered in the request's encoding).
//!
//! Items that cannot be stored (delta temporality, invalid labels, rejected samples, log records
//! and spans with malformed ids) are reported in `partial_success`, as the OTLP spec asks; the rest
//! of the request is stored.
//!
//! Traces: at most [`crate::TraceIngestOptions::max_concurrent_exports`] exports are decoded and
//! stored at once (an HTTP export takes its slot before its body is read); beyond that, and when
//! the trace store fails, the answer is HTTP 503 with `Retry-After` / gRPC `UNAVAILABLE`, which
//! exporters retry. A malformed body is 400 / `INVALID_ARGUMENT`, an oversized one 413 /
//! `RESOURCE_EXHAUSTED` (neither retried). Decoding, translation and the append run in one
//! blocking task.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pharos_proto::otlp::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use pharos_proto::otlp::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use pharos_proto::otlp::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
use pharos_proto::otlp::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use pharos_proto::otlp::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use pharos_proto::otlp::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use pharos_proto::{ApiError, ApiFamily, DecodedBody, ErrorCode};
use prost::Message;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tonic::codec::CompressionEncoding;

use crate::{IngestError, IngestState, log_sink, otlp_logs, otlp_metrics, otlp_traces};

/// The largest gRPC message accepted (OTLP's customary 4 MiB is too small for batched exporters).
const MAX_GRPC_MESSAGE_BYTES: usize = 16 << 20;

/// Translate and store one export; the partial-success answer when something was refused.
async fn store_metrics(
    state: &IngestState,
    request: ExportMetricsServiceRequest,
) -> Result<Option<ExportMetricsPartialSuccess>, IngestError> {
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

/// How an OTLP/HTTP body of this `Content-Type` is encoded: `Ok(true)` JSON, `Ok(false)`
/// protobuf, or the 415 answer.
fn http_encoding(content_type: Option<&str>) -> Result<bool, Response> {
    let content_type = content_type.unwrap_or("").to_ascii_lowercase();
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
    let json = match http_encoding(body.content_type.as_deref()) {
        Ok(json) => json,
        Err(response) => return response,
    };
    let family = ApiFamily::Otlp { json };
    let decoded =
        if json { otlp_metrics::decode_json(&body.bytes) } else { otlp_metrics::decode_protobuf(&body.bytes) };
    let request = match decoded {
        Ok(request) => request,
        Err(e) => {
            return ApiError::new(family, ErrorCode::BadData, format!("cannot decode OTLP metrics: {e}"))
                .into_response();
        }
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
    let json = match http_encoding(body.content_type.as_deref()) {
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
        Err(e) => {
            return ApiError::new(family, ErrorCode::BadData, format!("cannot decode OTLP logs: {e}")).into_response();
        }
    };
    let (rejected, message) = match store_logs(&state, request).await {
        Ok(outcome) => outcome,
        Err(e) => return e.into_api_error(family).into_response(),
    };
    let response = otlp_logs::export_response(rejected, message);
    let json_body = response.partial_success.as_ref().map(|p| {
        json!({"partialSuccess": {"rejectedLogRecords": p.rejected_log_records.to_string(), "errorMessage": p.error_message}})
    });
    export_answer(json, json_body, || response.encode_to_vec())
}

fn export_response(json: bool, partial: Option<ExportMetricsPartialSuccess>) -> Response {
    let json_body = partial.as_ref().map(|p| {
        json!({"partialSuccess": {"rejectedDataPoints": p.rejected_data_points.to_string(), "errorMessage": p.error_message}})
    });
    export_answer(json, json_body, || ExportMetricsServiceResponse { partial_success: partial }.encode_to_vec())
}

/// A 200 answer to an export in the request's encoding: `json_body` (`{}` when `None`) or the
/// protobuf response, with the matching `Content-Type`.
fn export_answer(json: bool, json_body: Option<Value>, protobuf: impl FnOnce() -> Vec<u8>) -> Response {
    let (body, content_type) = if json {
        (json_body.unwrap_or_else(|| json!({})).to_string().into_bytes(), "application/json")
    } else {
        (protobuf(), "application/x-protobuf")
    };
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// What a trace export hands its blocking task: a body still to decode (HTTP) or the message tonic
/// decoded (gRPC).
enum TraceExport {
    Protobuf(Bytes),
    Json(Bytes),
    Decoded(ExportTraceServiceRequest),
}

impl TraceExport {
    fn decode(self) -> Result<ExportTraceServiceRequest, IngestError> {
        let decoded = match self {
            TraceExport::Protobuf(bytes) => ExportTraceServiceRequest::decode(bytes).map_err(|e| e.to_string()),
            TraceExport::Json(bytes) => otlp_traces::decode_json(&bytes),
            TraceExport::Decoded(request) => return Ok(request),
        };
        decoded.map_err(|e| IngestError::Invalid(format!("cannot decode OTLP traces: {e}")))
    }
}

/// A slot for one trace export, or the retryable refusal when all are taken.
fn trace_export_slot(state: &IngestState) -> Result<OwnedSemaphorePermit, IngestError> {
    state.trace_export_slots.clone().try_acquire_owned().map_err(|_| {
        IngestError::Overloaded(format!(
            "too many trace exports in flight (limit {}); retry later",
            state.trace_options.max_concurrent_exports.max(1)
        ))
    })
}

/// Decode, translate and store one trace export on a blocking thread, holding `slot` until done
/// (even if the client goes away). Returns (rejected spans, their description); the accepted spans
/// are counted in `pharos_ingested_items_total{signal="traces"}`.
async fn store_traces(
    state: &IngestState,
    export: TraceExport,
    slot: OwnedSemaphorePermit,
) -> Result<(u64, String), IngestError> {
    let sink = state.traces.clone();
    let options = state.trace_options.clone();
    let accepted = state.ingested_items.with(&["traces"]);
    log_sink::run_blocking(move || {
        let _slot = slot;
        let (mut spans, mut rejected, mut message) = otlp_traces::spans_from_otlp(export.decode()?, &options);
        if let Some(oldest) = sink.oldest_storable_nanos() {
            let before = spans.len();
            spans.retain(|span| i64::try_from(span.start_time_unix_nano).is_ok_and(|start| start >= oldest));
            let too_old = (before - spans.len()) as u64;
            if too_old > 0 {
                rejected += too_old;
                let note = format!("{too_old} spans start before the trace store's retention (storage.traces.retention_time)");
                message = if message.is_empty() { note } else { format!("{message}; {note}") };
            }
        }
        let count = spans.len();
        if count > 0 {
            sink.append(spans).map_err(|e| IngestError::Overloaded(format!("cannot store spans: {e}")))?;
            accepted.add(count as f64);
        }
        Ok((rejected, message))
    })
    .await
    .map_err(IngestError::Overloaded)?
}

/// `POST /v1/traces`.
pub(crate) async fn http_traces(State(state): State<IngestState>, request: Request) -> Response {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let json = match http_encoding(content_type) {
        Ok(json) => json,
        Err(response) => return response,
    };
    let family = ApiFamily::Otlp { json };
    // The slot comes before the body, so exports refused for overload never hold their bodies.
    let slot = match trace_export_slot(&state) {
        Ok(slot) => slot,
        Err(e) => return e.into_api_error(family).into_response(),
    };
    let body = match DecodedBody::from_request(request, &state).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let export = if json { TraceExport::Json(body.bytes) } else { TraceExport::Protobuf(body.bytes) };
    match store_traces(&state, export, slot).await {
        Ok((rejected, message)) => {
            let response = otlp_traces::export_response(rejected, message);
            let json_body = response.partial_success.as_ref().map(|p| {
                json!({"partialSuccess": {"rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message}})
            });
            export_answer(json, json_body, || response.encode_to_vec())
        }
        Err(e) => e.into_api_error(family).into_response(),
    }
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
        let (rejected, message) =
            store_logs(&self.state, request.into_inner()).await.map_err(IngestError::into_grpc_status)?;
        Ok(tonic::Response::new(otlp_logs::export_response(rejected, message)))
    }
}

pub(crate) fn logs_service(state: IngestState) -> LogsServiceServer<LogsReceiver> {
    LogsServiceServer::new(LogsReceiver { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
}

/// The gRPC `TraceService`.
pub(crate) struct TraceReceiver {
    state: IngestState,
}

#[tonic::async_trait]
impl TraceService for TraceReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let slot = trace_export_slot(&self.state).map_err(IngestError::into_grpc_status)?;
        let (rejected, message) = store_traces(&self.state, TraceExport::Decoded(request.into_inner()), slot)
            .await
            .map_err(IngestError::into_grpc_status)?;
        Ok(tonic::Response::new(otlp_traces::export_response(rejected, message)))
    }
}

pub(crate) fn trace_service(state: IngestState) -> TraceServiceServer<TraceReceiver> {
    TraceServiceServer::new(TraceReceiver { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
}

/// gRPC status `OUT_OF_RANGE`, which tonic answers for a request message over
/// `max_decoding_message_size` (before any handler runs; no handler here answers it).
const GRPC_OUT_OF_RANGE: &str = "11";
/// gRPC status `RESOURCE_EXHAUSTED`: what OTLP clients expect for an oversized message and do not
/// retry (they retry `OUT_OF_RANGE`, so the same message would be sent forever).
const GRPC_RESOURCE_EXHAUSTED: &str = "8";

/// `routes` with tonic's `OUT_OF_RANGE` for an oversized request message answered as
/// `RESOURCE_EXHAUSTED`. tonic reports that error in the headers of a trailers-only response.
pub(crate) fn oversized_messages_are_resource_exhausted(routes: tonic::service::Routes) -> tonic::service::Routes {
    routes.into_axum_router().layer(axum::middleware::map_response(out_of_range_to_resource_exhausted)).into()
}

async fn out_of_range_to_resource_exhausted(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers.get("grpc-status").is_some_and(|status| status == GRPC_OUT_OF_RANGE) {
        headers.insert("grpc-status", HeaderValue::from_static(GRPC_RESOURCE_EXHAUSTED));
    }
    response
}

#[cfg(test)]
mod trace_tests;

// Pharos — ingest/src/otlp.rs

//! Tests of the OTLP trace endpoints: `POST /v1/traces` through the OTLP/HTTP router (wrapped in
//! `mark_otlp` as the server wraps it) and `TraceService/Export` through tonic's generated client
//! over the gRPC routes, in memory.

use std::sync::{Arc, Mutex, mpsc};

use axum::Router;
use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode};
use http_body_util::BodyExt;
use pharos_proto::exposition::Registry;
use pharos_proto::otlp::RpcStatus;
use pharos_proto::otlp::collector::logs::v1::logs_service_client::LogsServiceClient;
use pharos_proto::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use pharos_proto::otlp::common::v1::{AnyValue, KeyValue, any_value};
use pharos_proto::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pharos_proto::otlp::resource::v1::Resource;
use pharos_proto::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pharos_proto::{BodyLimit, mark_otlp};
use pharos_storage::{Storage, StorageOptions};
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::TraceIngestOptions;
use crate::span_sink::{MemorySpanSink, SpanSink};

/// Receivers over a real (temporary) storage, with spans going to `traces`.
struct Harness {
    _dir: tempfile::TempDir,
    state: IngestState,
}

impl Harness {
    fn new(options: TraceIngestOptions, traces: Arc<dyn SpanSink>) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Storage::open(&StorageOptions::in_dir(dir.path())).unwrap());
        let state =
            IngestState::new(storage, &Registry::default(), crate::LogIngestOptions::default(), options, traces);
        Harness { _dir: dir, state }
    }

    fn with_sink(sink: &Arc<MemorySpanSink>) -> Harness {
        Harness::new(TraceIngestOptions::default(), sink.clone())
    }

    /// The OTLP/HTTP listener's router as the server serves it.
    fn http(&self) -> Router {
        crate::otlp_http_router(self.state.clone()).layer(axum::middleware::from_fn(mark_otlp))
    }

    fn grpc(&self) -> TraceServiceClient<tonic::service::Routes> {
        TraceServiceClient::new(crate::grpc_routes(self.state.clone()))
    }

    fn spans_counted(&self) -> f64 {
        self.state.ingested_items.with(&["traces"]).get()
    }
}

fn span(name: &str, trace_id: Vec<u8>) -> Span {
    Span {
        trace_id,
        span_id: vec![0xee; 8],
        name: name.to_owned(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_001_000_000,
        ..Default::default()
    }
}

fn export_of(spans: Vec<Span>) -> ExportTraceServiceRequest {
    let service = KeyValue {
        key: "service.name".to_owned(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue("checkout".to_owned())) }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![service], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn post(content_type: &str, body: impl Into<Body>) -> HttpRequest<Body> {
    HttpRequest::post("/v1/traces").header("content-type", content_type).body(body.into()).unwrap()
}

async fn send(app: &Router, request: HttpRequest<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

fn rpc_status(body: &[u8]) -> RpcStatus {
    RpcStatus::decode(body).unwrap()
}

/// A gzip member holding `data` in stored (uncompressed) deflate blocks: valid gzip that needs no
/// compressor in the tests.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[]] } else { data.chunks(0xffff).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend(*block);
    }
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    out.extend((!crc).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

#[tokio::test]
async fn protobuf_export_is_stored_counted_and_answered_in_protobuf() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let request = export_of(vec![span("GET /", vec![1; 16]), span("SELECT", vec![2; 16])]);
    let (status, headers, body) = send(&harness.http(), post("application/x-protobuf", request.encode_to_vec())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(ExportTraceServiceResponse::decode(&body[..]).unwrap(), ExportTraceServiceResponse::default());
    let stored = sink.spans();
    let names: Vec<&str> = stored.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["GET /", "SELECT"]);
    assert_eq!(stored[0].service_name(), "checkout");
    assert_eq!(stored[1].trace_id, [2; 16]);
    assert_eq!(harness.spans_counted(), 2.0);
}

#[tokio::test]
async fn spans_past_the_store_retention_are_rejected_not_silently_dropped() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let mut old = span("old", vec![4; 16]);
    old.start_time_unix_nano = 1_000;
    old.end_time_unix_nano = 2_000;
    sink.keep_from(Some(1_600_000_000_000_000_000));
    let request = export_of(vec![old, span("new", vec![5; 16])]);
    let (status, _, body) = send(&harness.http(), post("application/x-protobuf", request.encode_to_vec())).await;
    assert_eq!(status, StatusCode::OK);
    let partial = ExportTraceServiceResponse::decode(&body[..]).unwrap().partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("retention"), "{}", partial.error_message);
    assert_eq!(sink.spans().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["new"]);
    assert_eq!(harness.spans_counted(), 1.0);
}

#[tokio::test]
async fn gzip_bodies_are_decoded() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let request = export_of(vec![span("compressed", vec![3; 16])]);
    let http = post("application/x-protobuf", gzip_stored(&request.encode_to_vec()));
    let (mut parts, body) = http.into_parts();
    parts.headers.insert("content-encoding", HeaderValue::from_static("gzip"));
    let (status, _, _) = send(&harness.http(), HttpRequest::from_parts(parts, body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink.spans()[0].name, "compressed");
}

#[tokio::test]
async fn json_export_with_a_bad_id_is_a_partial_success_in_json() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174", "name": "ok",
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": 1700000000000000001_u64, "kind": 2},
        {"traceId": "5b8efff798038103d269b633813fc6", "spanId": "eee19b7ec3c1b174", "name": "short id"}
    ]}]}]});
    let (status, headers, response) = send(&harness.http(), post("application/json", body.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let response: serde_json::Value = serde_json::from_slice(&response).unwrap();
    assert_eq!(
        response,
        json!({"partialSuccess": {"rejectedSpans": "1",
            "errorMessage": "1 span rejected: span \"short id\": trace_id is 15 bytes (want 16)"}})
    );
    let stored = sink.spans();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].name.as_str(), stored[0].kind.as_str()), ("ok", "server"));
    assert_eq!(stored[0].end_time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(harness.spans_counted(), 1.0);

    let (status, _, response) = send(&harness.http(), post("application/json; charset=utf-8", "")).await;
    assert_eq!((status, response.as_slice()), (StatusCode::OK, &b"{}"[..]), "an empty export succeeds");
}

#[tokio::test]
async fn protobuf_partial_success_carries_the_count() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let mut reversed = span("reversed", vec![4; 16]);
    reversed.end_time_unix_nano = 0;
    let request = export_of(vec![reversed, span("zero", vec![0; 16]), span("fine", vec![4; 16])]);
    let (status, _, body) = send(&harness.http(), post("application/x-protobuf", request.encode_to_vec())).await;
    assert_eq!(status, StatusCode::OK);
    let partial = ExportTraceServiceResponse::decode(&body[..]).unwrap().partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.starts_with("2 spans rejected; first: span \"reversed\": ends before"),
        "{partial:?}"
    );
    assert_eq!(sink.spans().len(), 1);
}

#[tokio::test]
async fn malformed_bodies_are_400_invalid_argument_in_the_request_encoding() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let (status, headers, body) = send(&harness.http(), post("application/x-protobuf", &b"\xff\xff\xff"[..])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let rpc = rpc_status(&body);
    assert_eq!(rpc.code, tonic::Code::InvalidArgument as i32);
    assert!(rpc.message.starts_with("cannot decode OTLP traces: "), "{}", rpc.message);

    let (status, headers, body) = send(&harness.http(), post("application/json", r#"{"resourceSpans": [{"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "application/json");
    let rpc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(rpc["code"], 3);
    assert!(rpc["message"].as_str().unwrap().contains("invalid OTLP/JSON traces request"), "{rpc}");

    let (status, _, body) = send(&harness.http(), post("text/plain", "spans")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(rpc_status(&body).message.contains("unsupported Content-Type"));
    assert!(sink.spans().is_empty());
    assert_eq!(harness.spans_counted(), 0.0);
}

#[tokio::test]
async fn oversized_bodies_are_413_resource_exhausted() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let encoded = export_of(vec![span(&"x".repeat(300), vec![5; 16])]).encode_to_vec();
    let limited = |body: Vec<u8>, gzip: bool, limit: BodyLimit| {
        let mut request = post("application/x-protobuf", body);
        if gzip {
            request.headers_mut().insert("content-encoding", HeaderValue::from_static("gzip"));
        }
        request.extensions_mut().insert(limit);
        request
    };
    for (name, request) in [
        ("on the wire", limited(encoded.clone(), false, BodyLimit { max_wire_bytes: 100, max_decoded_bytes: 1 << 20 })),
        (
            "once decoded",
            limited(gzip_stored(&encoded), true, BodyLimit { max_wire_bytes: 1 << 20, max_decoded_bytes: 100 }),
        ),
    ] {
        let (status, headers, body) = send(&harness.http(), request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{name}");
        assert_eq!(headers["content-type"], "application/x-protobuf", "{name}");
        let rpc = rpc_status(&body);
        assert_eq!(rpc.code, tonic::Code::ResourceExhausted as i32, "{name}");
        assert!(rpc.message.contains("limit of 100 bytes"), "{name}: {}", rpc.message);
    }
    assert!(sink.spans().is_empty());
}

#[tokio::test]
async fn a_failing_store_is_503_with_retry_after() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    sink.fail_with(Some("trace store WAL write failed"));
    let request = export_of(vec![span("lost", vec![6; 16])]);
    let (status, headers, body) = send(&harness.http(), post("application/x-protobuf", request.encode_to_vec())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    let rpc = rpc_status(&body);
    assert_eq!(rpc.code, tonic::Code::Unavailable as i32);
    assert!(rpc.message.contains("trace store WAL write failed"), "{}", rpc.message);
    assert_eq!(harness.spans_counted(), 0.0);

    sink.fail_with(None);
    let (status, _, _) = send(&harness.http(), post("application/x-protobuf", request.encode_to_vec())).await;
    assert_eq!(status, StatusCode::OK, "the retry succeeds");
    assert_eq!(harness.spans_counted(), 1.0);
}

/// A sink whose appends wait until the test lets them go, announcing each one.
struct GatedSink {
    entered: tokio::sync::mpsc::UnboundedSender<()>,
    release: Mutex<mpsc::Receiver<()>>,
    stored: Mutex<usize>,
}

impl SpanSink for GatedSink {
    fn append(&self, spans: Vec<pharos_storage::traces::Span>) -> Result<(), String> {
        self.entered.send(()).map_err(|e| e.to_string())?;
        self.release.lock().unwrap().recv().map_err(|e| e.to_string())?;
        *self.stored.lock().unwrap() += spans.len();
        Ok(())
    }
}

#[tokio::test]
async fn exports_beyond_the_concurrency_limit_are_503_and_the_slot_comes_back() {
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel();
    let (release, release_rx) = mpsc::channel();
    let sink = Arc::new(GatedSink { entered: entered_tx, release: Mutex::new(release_rx), stored: Mutex::new(0) });
    let harness = Harness::new(TraceIngestOptions { max_concurrent_exports: 1, ..Default::default() }, sink.clone());
    let app = harness.http();
    let body = export_of(vec![span("slow", vec![7; 16])]).encode_to_vec();

    let first = tokio::spawn(app.clone().oneshot(post("application/x-protobuf", body.clone())));
    entered.recv().await.unwrap();
    let (status, headers, response) = send(&app, post("application/json", "{}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    let rpc: serde_json::Value = serde_json::from_slice(&response).unwrap();
    assert_eq!(rpc["code"], tonic::Code::Unavailable as i32);
    assert!(rpc["message"].as_str().unwrap().contains("too many trace exports in flight (limit 1)"), "{rpc}");
    let grpc_refused = harness.grpc().export(export_of(vec![span("also", vec![7; 16])])).await.unwrap_err();
    assert_eq!(grpc_refused.code(), tonic::Code::Unavailable);

    release.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    let second = tokio::spawn(app.clone().oneshot(post("application/x-protobuf", body)));
    entered.recv().await.unwrap();
    release.send(()).unwrap();
    assert_eq!(second.await.unwrap().unwrap().status(), StatusCode::OK, "the slot is free again");
    assert_eq!(*sink.stored.lock().unwrap(), 2);
}

#[tokio::test]
async fn grpc_export_with_gzip_both_ways() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let mut client = harness
        .grpc()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let mut bad_parent = span("bad parent", vec![8; 16]);
    bad_parent.parent_span_id = vec![1; 3];
    let response = client.export(export_of(vec![span("grpc", vec![8; 16]), bad_parent])).await.unwrap();
    assert_eq!(response.metadata().get("grpc-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    let partial = response.into_inner().partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("parent_span_id is 3 bytes"), "{}", partial.error_message);
    assert_eq!(sink.spans().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["grpc"]);
    assert_eq!(harness.spans_counted(), 1.0);

    let response = client.export(export_of(vec![span("clean", vec![9; 16])])).await.unwrap();
    assert_eq!(response.into_inner().partial_success, None);
    let empty = client.export(ExportTraceServiceRequest::default()).await.unwrap();
    assert_eq!(empty.into_inner().partial_success, None);
    assert_eq!(sink.append_count(), 2, "an empty export appends nothing");
}

#[tokio::test]
async fn grpc_store_failure_is_unavailable() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    sink.fail_with(Some("disk full"));
    let status = harness.grpc().export(export_of(vec![span("x", vec![1; 16])])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(status.message().contains("disk full"), "{}", status.message());
}

#[tokio::test]
async fn grpc_messages_over_the_limit_are_resource_exhausted() {
    let sink = MemorySpanSink::new();
    let harness = Harness::with_sink(&sink);
    let huge = span(&"x".repeat(MAX_GRPC_MESSAGE_BYTES), vec![1; 16]);
    let status = harness.grpc().export(export_of(vec![huge])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(sink.spans().is_empty());

    // The other services share the routes, so the same answer.
    let record = LogRecord {
        body: Some(AnyValue { value: Some(any_value::Value::StringValue("x".repeat(MAX_GRPC_MESSAGE_BYTES))) }),
        ..Default::default()
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs { log_records: vec![record], ..Default::default() }],
            ..Default::default()
        }],
    };
    let status = LogsServiceClient::new(crate::grpc_routes(harness.state.clone())).export(logs).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
}

// Pharos — ingest/src/otlp/trace_tests.rs

//! The OpenTelemetry protocol: messages and gRPC services of the three signals, re-exported from
//! `opentelemetry-proto` (generated code, so no protoc at build time), plus `google.rpc.Status`,
//! which OTLP/HTTP uses for error bodies.

pub use opentelemetry_proto::tonic::collector;
pub use opentelemetry_proto::tonic::{common, logs, metrics, resource, trace};

/// `google.rpc.Status` without `details`: the error body of OTLP/HTTP (field numbers per
/// googleapis `google/rpc/status.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

// Pharos — proto/src/otlp.rs

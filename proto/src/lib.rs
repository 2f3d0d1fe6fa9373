//! Wire types and wire plumbing shared by every Pharos API.
//!
//! This crate is the only place that knows how bytes on the wire look:
//!
//! - [`ApiFamily`] and [`ApiError`]: the error conventions of each API Pharos speaks (Prometheus,
//!   Elasticsearch, Loki, Jaeger, Tempo, Alertmanager, OTLP), mapped once from one error code.
//! - [`DecodedBody`]: an axum extractor that reads a request body under a size limit and undoes its
//!   `Content-Encoding` (gzip, deflate, zstd, snappy).
//! - [`duration`]: Prometheus' duration syntax (`1h30m`, `15s`), used by configs, rule files and APIs;
//!   [`byte_size`]: sizes as configs write them (`512MB`).
//! - [`exposition`]: Pharos' own metrics and their Prometheus text exposition.
//! - [`otlp`]: the OpenTelemetry protocol messages and gRPC services; [`remote_write`]: Prometheus
//!   remote-write 1.0 and 2.0 messages.
//! - [`BuildInfo`]: what this binary is, in the shape each API reports it.
//!
//! Invariant: nothing here touches storage or holds application state; every type is plain data or a
//! pure function of its input, so `ingest`, `query` and `alerting` can share it without depending on
//! each other.

mod api_error;
mod body;
mod build_info;
pub mod byte_size;
pub mod civil_time;
pub mod duration;
pub mod exposition;
pub mod names;
pub mod otlp;
pub mod remote_write;
pub mod yaml_file;

pub use api_error::{ApiError, ApiFamily, ErrorCode, mark_otlp, prefix};
pub use body::{BodyLimit, DecodeError, DecodedBody, decode_content};
pub use build_info::BuildInfo;

// Pharos — proto/src/lib.rs

//! The trace store: spans from OTLP, kept in RocksDB, found by trace id and by search.
//!
//! (Being built: the data model and the search types are here; the RocksDB store follows.)

mod model;
mod search;

pub use model::{
    AttributeValue, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode, TraceId,
    UNKNOWN_SERVICE, find_attribute, parse_span_id, parse_trace_id, span_id_hex, trace_id_hex,
};
pub use search::{Operation, SearchStats, SpanQuery, TagScope, TagValue, TimeRange};

// Pharos — storage/src/traces/mod.rs

//! The trace store: spans from OTLP, kept in RocksDB, found by trace id and by search.
//!
//! # Layout
//! One RocksDB database (`<data_dir>/traces/`). Each *bucket* — one UTC day of span start time —
//! is a pair of column families: `spans.YYYY-MM-DD` (trace chunks keyed by trace id) and
//! `index.YYYY-MM-DD` (posting groups of the secondary indexes, the bucket's resources and scopes,
//! its catalogue counts, its indexed attribute keys). `docs/format/traces.md` describes every byte.
//!
//! # Write path and durability
//! [`TraceStore::append`] encodes a batch into one RocksDB `WriteBatch` — one trace chunk per trace
//! (its spans), one posting group per index value (the secondary indexes), resources and scopes new
//! to the bucket, the batch's catalogue counts as one merge operand — and
//! writes it through RocksDB's WAL (fsynced by default; concurrent appenders share fsyncs), so a
//! batch is stored entirely or not at all and is durable when `append` returns.
//!
//! # Reads
//! Trace-by-id is one prefix seek per bucket overlapping the range (prefix bloom filters skip
//! files without the trace). Searches walk one secondary index per bucket, chosen by the in-memory
//! catalogue (`span_search`). The catalogue calls (services, operations, tag names and values)
//! answer from memory.
//!
//! # Retention
//! Whole buckets: their two column families are dropped (recorded in RocksDB's MANIFEST, so a
//! restart never brings them back), by the maintenance thread or [`TraceStore::enforce_retention`].

mod bucket;
mod catalogue;
mod codec;
mod error;
mod keys;
mod model;
mod search;
mod span_search;
mod store;

pub use error::TraceError;
pub use model::{
    AttributeValue, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode, TraceId,
    UNKNOWN_SERVICE, find_attribute, parse_span_id, parse_trace_id, span_id_hex, trace_id_hex,
};
pub use search::{Operation, SearchStats, SpanQuery, TagScope, TagValue, TimeRange};
pub use store::{DEFAULT_INDEXED_ATTRIBUTES, TraceStore, TraceStoreOptions, TraceStoreStats};

#[cfg(test)]
mod tests;

// Pharos — storage/src/traces/mod.rs

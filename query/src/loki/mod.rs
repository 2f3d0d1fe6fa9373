//! LogQL and the Loki query HTTP API over log partitions stored in tantivy.
//!
//! - [`parser`] turns query text into the [`ast`]; [`pipeline`] runs a query's stages over one
//!   entry; [`store`] reads partitions (stream keys, fast fields, the doc store); [`eval`] runs log
//!   and metric queries; [`http`] serves `/loki/api/v1/*`.
//! - Input: the partitions a [`LogSnapshots`] hands out for a time range (newest first).
//! - A log entry is (stream labels, timestamp, line). Stream labels are the partition's `_stream`
//!   key parsed back ([`labels::parse_stream_key`]); the line is `_source.message` when that is a
//!   JSON string, else the whole `_source`. Entries of streams without a `level` label also carry
//!   `detected_level` (see [`pipeline::detected_level`]).
//!
//! Supported LogQL: selectors (`=`, `!=`, `=~`, `!~`); line filters (`|=`, `!=`, `|~`, `!~`, `|>`,
//! `!>`, with `or`); `json` (with or without params), `logfmt` (`--strict`, `--keep-empty`, params),
//! `regexp`, `pattern`, `unpack`, `decolorize`; label filters (strings, numbers, durations, bytes;
//! `and`, `or`, `,`, parentheses); `line_format`, `label_format` (a Go-template subset, see
//! [`template`]); `drop`, `keep`; range aggregations `count_over_time`, `rate`, `bytes_over_time`,
//! `bytes_rate`, `absent_over_time` and, with `| unwrap [duration|bytes](label)`, `sum_`, `avg_`,
//! `min_`, `max_`, `first_`, `last_`, `stddev_`, `stdvar_`, `quantile_over_time` (with `by`/`without`);
//! `offset`; aggregations `sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar`, `topk`, `bottomk`,
//! `sort`, `sort_desc` with `by`/`without`; binary arithmetic, comparison (`bool`) and set operators
//! with `on`/`ignoring`/`group_left`/`group_right`; number literals and `vector(n)`.
//! Refused with a parse error: `ip()` filters, `label_replace`, `rate_counter`, `count_values`,
//! template control structures (`if`, `range`…).

pub mod ast;
pub mod error;
pub mod eval;
pub mod http;
pub mod labels;
pub mod params;
pub mod parser;
pub mod pipeline;
pub mod store;
pub mod template;

#[cfg(test)]
mod tests;

pub use error::LokiError;
pub use http::{LokiOptions, router, router_with_options};
pub use labels::parse_stream_key;
pub use parser::parse_query;

pub(crate) use crate::log_source::LogSnapshots;
/// The log store's schema and record types, as this module's files name them.
pub(crate) use pharos_storage::logs as schema;
#[cfg(test)]
pub(crate) use pharos_storage::logs as record;

// Pharos — query/src/loki/mod.rs

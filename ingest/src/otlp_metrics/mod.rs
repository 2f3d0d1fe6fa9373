//! OTLP metrics → Prometheus series, as Prometheus' own OTLP receiver translates them (default
//! strategy `UnderscoreEscapingWithSuffixes`; rulebook: `/work/shared/specs/otlp.md` §4).
//!
//! Faces: [`decode_protobuf`] and [`decode_json`] turn a request body into an
//! `ExportMetricsServiceRequest`; [`translate`] turns that into a
//! [`WriteBatch`](pharos_storage::tsdb::WriteBatch) plus what was
//! refused ([`Translation`], which feeds OTLP `partial_success`).
//!
//! # Translation
//! - **Names** ([`naming`]): `http.server.request.duration` with unit `s` → family
//!   `http_server_request_duration_seconds`; `a/b` units → `_<a>_per_<b>`; `{…}` annotations add
//!   nothing; monotonic sums end in `_total`, gauges with unit `1` in `_ratio`; a suffix token the
//!   name already has is not repeated.
//! - **Labels** ([`attributes`]): point attributes with sanitised names (`.` → `_`, `1x` → `key_1x`,
//!   `_x` → `key_x`); values of names that collide after sanitising are joined with `;` in key
//!   order; non-string values stringified as the Collector's `AsString` does (arrays and maps as
//!   JSON). Then `otel_scope_name`, `otel_scope_version`, `otel_scope_schema_url` and
//!   `otel_scope_<attribute>` for a named scope; then `job` (`service.namespace/service.name`) and
//!   `instance` (`service.instance.id`) from the resource.
//! - **Types**: gauge → gauge; cumulative sum → counter when monotonic, else gauge; histogram →
//!   `_bucket{le}` (cumulative, `le="+Inf"` = count), `_count`, and `_sum` when the point has one;
//!   summary → `{quantile}`, `_sum`, `_count`. `le`/`quantile` values are written as Prometheus
//!   writes them: shortest round-trip digits in plain notation, `+Inf`.
//! - **Delta** (and unspecified) temporality is refused, as Prometheus refuses it without its
//!   delta feature flags: every point of the metric is rejected, the message names the metric.
//! - **`NO_RECORDED_VALUE`** (flags bit 0): every sample of the point is the staleness marker
//!   (`STALE_NAN_BITS`, bit-exact).
//! - **Timestamps**: nanoseconds → milliseconds (truncated).
//! - **`target_info`**: one gauge series (value 1) per resource that has attributes besides the
//!   three identifying ones and yields `job` or `instance`; labels are the other resource
//!   attributes plus `job`/`instance`; samples every 2.5 min (half the default lookback delta)
//!   from the resource's earliest to its latest point.
//! - **Metadata**: one entry per family (type, help = description, unit as Prometheus spells it:
//!   `seconds`, `bytes_per_second`), plus `target_info`.
//! - **Invalid points** (a label set the store refuses, an attribute key that sanitises to
//!   nothing) are rejected and counted one by one; the rest of the request is kept.
//!
//! # Where Pharos differs from Prometheus, and why
//! - **Exponential histograms** are stored as classic `_bucket{le}`/`_count`/`_sum` series, not as
//!   native histograms: the store holds floats only. See [`exponential`] for the bucket mapping
//!   (`le` = bucket upper bound `base^(i+1)`, zero bucket at `le = zero_threshold`, negative
//!   buckets folded into it, scales above 8 reduced to 8, at most 160 positive buckets).
//! - **Scope labels are on** (Prometheus' `promote_scope_metadata`, off by default there), as the
//!   OpenTelemetry compatibility specification recommends.
//! - **Per-point rejection**: Prometheus stops converting a metric at its first bad point; Pharos
//!   rejects only that point ("one bad item never loses the good ones").
//! - **A number point with no value** (neither `asInt` nor `asDouble`, no `NO_RECORDED_VALUE`) is
//!   rejected; Prometheus writes 0 for it, a value nobody sent.
//! - **An explicit bound of `+Inf`** in a histogram is skipped: the `le="+Inf"` bucket (the count)
//!   is always written, and a second sample for it would be a duplicate.
//! - **`target_info`** gets at most 577 samples per resource (the last 24 h of the span), so one
//!   stale timestamp cannot produce millions of samples; duplicates within a batch are dropped
//!   (as newer Prometheus does).
//! - **Not translated**: exemplars (the batch has no place for them), `_created` series (off by
//!   default in Prometheus), resource-attribute promotion and other receiver options.
//! - Label names follow the rulebook: invalid characters each become `_` (runs are not collapsed)
//!   and a single leading `_` gets `key`, as Prometheus 3 did before making both configurable.

mod attributes;
mod exponential;
mod json;
mod naming;
mod translate;

#[cfg(test)]
mod tests;

pub use json::decode_json;
pub use translate::translate;

use pharos_proto::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

/// Decode a binary protobuf `ExportMetricsServiceRequest`. An empty body is an empty request.
pub fn decode_protobuf(bytes: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    ExportMetricsServiceRequest::decode(bytes)
        .map_err(|error| format!("invalid OTLP protobuf metrics request: {error}"))
}

// Pharos — ingest/src/otlp_metrics/mod.rs

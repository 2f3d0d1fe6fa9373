//! OTLP traces to spans: [`spans_from_otlp`] maps a decoded `ExportTraceServiceRequest` (gRPC,
//! HTTP protobuf or HTTP JSON — the transports decode elsewhere) to the trace store's [`Span`]s
//! (`shared/specs/otlp.md` §2).
//!
//! # Mapping
//! Field for field: ids as fixed-size arrays, `kind` and `status.code` as [`SpanKind`] and
//! [`StatusCode`] (unknown numbers become `Unspecified`/`Unset`), attribute values as
//! [`AttributeValue`]s (a value with no member set, or a profiles string-table index, is
//! [`AttributeValue::Empty`]). Every span of one `ResourceSpans` shares one `Arc<Resource>`, every
//! span of one `ScopeSpans` one `Arc<Scope>`; each keeps its envelope's `schema_url`. An 8-byte
//! all-zero `parent_span_id` means "no parent", like an empty one.
//!
//! # Rejections
//! A span is rejected — counted, the first reason described in the message, the other spans kept:
//! the OTLP partial-success answer ([`export_response`]) — when its `trace_id` is not 16 bytes or
//! is all zeros, its `span_id` is not 8 bytes or is all zeros, its `parent_span_id` is neither
//! empty nor 8 bytes, one of its links has a trace id that is not 16 bytes or a span id that is not
//! 8 bytes, or it ends before it starts.
//!
//! # Limits ([`TraceIngestOptions`])
//! As the OpenTelemetry SDKs apply their span limits: attributes beyond `max_attributes_per_span`
//! (per span, and per event and per link), events beyond `max_events_per_span` and links beyond
//! `max_links_per_span` are dropped — the first ones are kept — and counted in the matching
//! `dropped_*_count`, added to what the sender already dropped. Every string the span carries
//! (attribute keys and values at any depth, names, status message, trace states, scope name and
//! version, schema URLs) longer than `max_attribute_value_bytes` is cut at the last UTF-8 character
//! boundary within the limit; a bytes value is cut at the limit. Resource and scope attributes are
//! not capped in number (they are shared by the whole envelope), only in length.

mod json;

pub use json::decode_json;

use std::sync::Arc;

use pharos_proto::otlp::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use pharos_proto::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue as OtlpKeyValue, any_value};
use pharos_proto::otlp::resource::v1::Resource as OtlpResource;
use pharos_proto::otlp::trace::v1::Span as OtlpSpan;
use pharos_proto::otlp::trace::v1::span::{Event as OtlpEvent, Link as OtlpLink};
use pharos_storage::traces::{
    AttributeValue, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode, TraceId,
};

use crate::TraceIngestOptions;

/// The longest part of a span name quoted in a rejection message, in bytes.
const MAX_QUOTED_NAME_BYTES: usize = 128;

/// Maps an OTLP traces export to spans (see the module docs). Returns the spans, how many spans
/// were rejected, and a message describing the rejections (empty when none).
pub fn spans_from_otlp(request: ExportTraceServiceRequest, options: &TraceIngestOptions) -> (Vec<Span>, u64, String) {
    let mut spans = Vec::new();
    let mut rejected = 0u64;
    let mut first_error = String::new();
    for resource_spans in request.resource_spans {
        let resource = Arc::new(resource(resource_spans.resource, resource_spans.schema_url, options));
        for scope_spans in resource_spans.scope_spans {
            let scope = Arc::new(scope(scope_spans.scope, scope_spans.schema_url, options));
            for span in scope_spans.spans {
                match span_from_otlp(span, &resource, &scope, options) {
                    Ok(span) => spans.push(span),
                    Err(reason) => {
                        rejected += 1;
                        if first_error.is_empty() {
                            first_error = reason;
                        }
                    }
                }
            }
        }
    }
    let message = match rejected {
        0 => String::new(),
        1 => format!("1 span rejected: {first_error}"),
        n => format!("{n} spans rejected; first: {first_error}"),
    };
    (spans, rejected, message)
}

/// The OTLP answer for an export: `partial_success` only when something was rejected.
pub fn export_response(rejected: u64, error_message: String) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: (rejected > 0 || !error_message.is_empty()).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message,
        }),
    }
}

fn resource(resource: Option<OtlpResource>, schema_url: String, options: &TraceIngestOptions) -> Resource {
    let resource = resource.unwrap_or_default();
    let max = options.max_attribute_value_bytes;
    Resource {
        attributes: resource.attributes.into_iter().map(|kv| key_value(kv, max)).collect(),
        dropped_attributes_count: resource.dropped_attributes_count,
        schema_url: truncated(schema_url, max),
    }
}

fn scope(scope: Option<InstrumentationScope>, schema_url: String, options: &TraceIngestOptions) -> Scope {
    let scope = scope.unwrap_or_default();
    let max = options.max_attribute_value_bytes;
    Scope {
        name: truncated(scope.name, max),
        version: truncated(scope.version, max),
        attributes: scope.attributes.into_iter().map(|kv| key_value(kv, max)).collect(),
        dropped_attributes_count: scope.dropped_attributes_count,
        schema_url: truncated(schema_url, max),
    }
}

fn span_from_otlp(
    span: OtlpSpan,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
    options: &TraceIngestOptions,
) -> Result<Span, String> {
    let ids = check_span(&span).map_err(|reason| format!("span {}: {reason}", quoted_name(&span.name)))?;
    let (trace_id, span_id, parent_span_id) = ids;
    let max = options.max_attribute_value_bytes;
    let (attributes, dropped_attributes) = capped_attributes(span.attributes, options.max_attributes_per_span, max);
    let (events, dropped_events) = capped(span.events, options.max_events_per_span);
    let (links, dropped_links) = capped(span.links, options.max_links_per_span);
    let status = span.status.unwrap_or_default();
    Ok(Span {
        resource: resource.clone(),
        scope: scope.clone(),
        trace_id,
        span_id,
        parent_span_id,
        trace_state: truncated(span.trace_state, max),
        flags: span.flags,
        name: truncated(span.name, max),
        kind: SpanKind::from_i32(span.kind),
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes,
        dropped_attributes_count: span.dropped_attributes_count.saturating_add(dropped_attributes),
        events: events.into_iter().map(|event| event_from_otlp(event, options)).collect(),
        dropped_events_count: span.dropped_events_count.saturating_add(dropped_events),
        links: links.into_iter().map(|link| link_from_otlp(link, options)).collect(),
        dropped_links_count: span.dropped_links_count.saturating_add(dropped_links),
        status: Status { code: StatusCode::from_i32(status.code), message: truncated(status.message, max) },
    })
}

/// The span's ids when it can be stored, else why not (see the module docs).
fn check_span(span: &OtlpSpan) -> Result<(TraceId, SpanId, Option<SpanId>), String> {
    let trace_id: TraceId = fixed_id(&span.trace_id, "trace_id")?;
    let span_id: SpanId = fixed_id(&span.span_id, "span_id")?;
    let parent_span_id = match SpanId::try_from(&span.parent_span_id[..]) {
        Ok(id) => (id != [0; 8]).then_some(id),
        Err(_) if span.parent_span_id.is_empty() => None,
        Err(_) => {
            let n = span.parent_span_id.len();
            return Err(format!("parent_span_id is {n} bytes (want 8, or none for a root span)"));
        }
    };
    for (i, link) in span.links.iter().enumerate() {
        if link.trace_id.len() != 16 {
            return Err(format!("link {i} has a trace_id of {} bytes (want 16)", link.trace_id.len()));
        }
        if link.span_id.len() != 8 {
            return Err(format!("link {i} has a span_id of {} bytes (want 8)", link.span_id.len()));
        }
    }
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(format!(
            "ends before it starts (end_time_unix_nano {} < start_time_unix_nano {})",
            span.end_time_unix_nano, span.start_time_unix_nano
        ));
    }
    Ok((trace_id, span_id, parent_span_id))
}

/// A required id of exactly `N` bytes, not all zeros.
fn fixed_id<const N: usize>(bytes: &[u8], field: &str) -> Result<[u8; N], String> {
    let id = <[u8; N]>::try_from(bytes).map_err(|_| format!("{field} is {} bytes (want {N})", bytes.len()))?;
    if id == [0; N] {
        return Err(format!("{field} is all zeros"));
    }
    Ok(id)
}

/// A link id already checked for its length; a wrong length cannot reach here.
fn link_id<const N: usize>(bytes: &[u8]) -> [u8; N] {
    <[u8; N]>::try_from(bytes).unwrap_or([0; N])
}

fn event_from_otlp(event: OtlpEvent, options: &TraceIngestOptions) -> Event {
    let max = options.max_attribute_value_bytes;
    let (attributes, dropped) = capped_attributes(event.attributes, options.max_attributes_per_span, max);
    Event {
        time_unix_nano: event.time_unix_nano,
        name: truncated(event.name, max),
        attributes,
        dropped_attributes_count: event.dropped_attributes_count.saturating_add(dropped),
    }
}

fn link_from_otlp(link: OtlpLink, options: &TraceIngestOptions) -> Link {
    let max = options.max_attribute_value_bytes;
    let (attributes, dropped) = capped_attributes(link.attributes, options.max_attributes_per_span, max);
    Link {
        trace_id: link_id(&link.trace_id),
        span_id: link_id(&link.span_id),
        trace_state: truncated(link.trace_state, max),
        attributes,
        dropped_attributes_count: link.dropped_attributes_count.saturating_add(dropped),
        flags: link.flags,
    }
}

/// The first `cap` items and how many were dropped beyond them.
fn capped<T>(mut items: Vec<T>, cap: usize) -> (Vec<T>, u32) {
    let dropped = items.len().saturating_sub(cap);
    items.truncate(cap);
    (items, u32::try_from(dropped).unwrap_or(u32::MAX))
}

fn capped_attributes(attributes: Vec<OtlpKeyValue>, cap: usize, max_bytes: usize) -> (Vec<KeyValue>, u32) {
    let (kept, dropped) = capped(attributes, cap);
    (kept.into_iter().map(|kv| key_value(kv, max_bytes)).collect(), dropped)
}

fn key_value(kv: OtlpKeyValue, max_bytes: usize) -> KeyValue {
    KeyValue { key: truncated(kv.key, max_bytes), value: attribute_value(kv.value, max_bytes) }
}

/// An OTLP `AnyValue` as the store's value, strings and bytes cut to `max_bytes` at any depth.
fn attribute_value(value: Option<AnyValue>, max_bytes: usize) -> AttributeValue {
    use any_value::Value;
    match value.and_then(|v| v.value) {
        None | Some(Value::StringValueStrindex(_)) => AttributeValue::Empty,
        Some(Value::StringValue(s)) => AttributeValue::String(truncated(s, max_bytes)),
        Some(Value::BoolValue(b)) => AttributeValue::Bool(b),
        Some(Value::IntValue(i)) => AttributeValue::Int(i),
        Some(Value::DoubleValue(d)) => AttributeValue::Double(d),
        Some(Value::BytesValue(mut bytes)) => {
            bytes.truncate(max_bytes);
            AttributeValue::Bytes(bytes)
        }
        Some(Value::ArrayValue(array)) => AttributeValue::Array(
            array.values.into_iter().map(|value| attribute_value(Some(value), max_bytes)).collect(),
        ),
        Some(Value::KvlistValue(list)) => {
            AttributeValue::KeyValueList(list.values.into_iter().map(|kv| key_value(kv, max_bytes)).collect())
        }
    }
}

/// `text` cut to at most `max_bytes` bytes, at a character boundary.
fn truncated(mut text: String, max_bytes: usize) -> String {
    text.truncate(char_floor(&text, max_bytes));
    text
}

/// The largest character boundary of `text` at or below `index` (`str::floor_char_boundary`,
/// which is newer than the workspace's minimum Rust version).
fn char_floor(text: &str, index: usize) -> usize {
    let mut end = index.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

fn quoted_name(name: &str) -> String {
    let short = &name[..char_floor(name, MAX_QUOTED_NAME_BYTES)];
    if short.len() < name.len() { format!("{short:?}…") } else { format!("{short:?}") }
}

#[cfg(test)]
mod tests;

// Pharos — ingest/src/otlp_traces/mod.rs

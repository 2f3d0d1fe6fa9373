//! Spans out as OTLP: grouped as OTLP nests them (resource → scope → spans), then written as
//! OTLP/JSON or as `opentelemetry-proto` messages for protobuf answers.
//!
//! Two JSON spellings exist in the wild, and clients parse the one their server writes:
//! - [`JsonFlavor::Otlp`], the OTLP/JSON of the OpenTelemetry spec (and of Jaeger's api_v3): trace
//!   and span ids in lowercase hex, enums as integers.
//! - [`JsonFlavor::TempoJsonpb`], what Tempo's `/api/traces` and `/api/v2/traces` answer (gogo
//!   `jsonpb` over the OTLP messages, grafana/tempo#5437): ids in base64, enums by name.
//!
//! In both, 64-bit integers are decimal strings, keys lowerCamelCase, and fields holding their
//! default (empty string, zero, empty list, the zero enum) are left out, as protobuf's JSON mapping
//! does; `status` is always present (`{}` when unset).

use std::sync::Arc;

use pharos_proto::otlp::trace::v1 as pb;
use pharos_proto::otlp::{common::v1 as pb_common, resource::v1 as pb_resource};
use pharos_storage::traces::{AttributeValue, KeyValue, Resource, Scope, Span, SpanKind, StatusCode, trace_id_hex};
use serde_json::{Map, Value, json};

/// How ids and enums are spelled in OTLP JSON (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonFlavor {
    /// Hex ids, enums as integers.
    Otlp,
    /// Base64 ids, enums by name.
    TempoJsonpb,
}

/// The spans of one scope of one resource, in the order given.
pub struct ScopeGroup<'a> {
    pub scope: &'a Arc<Scope>,
    pub spans: Vec<&'a Span>,
}

/// The spans of one resource, by scope.
pub struct ResourceGroup<'a> {
    pub resource: &'a Arc<Resource>,
    pub scopes: Vec<ScopeGroup<'a>>,
}

/// Groups spans by resource, then scope, each in order of first appearance. Spans of one export
/// share their `Arc`s, so the pointer is compared first; equal values from different exports land
/// in one group too.
pub fn group_spans<'a>(spans: impl IntoIterator<Item = &'a Span>) -> Vec<ResourceGroup<'a>> {
    let mut groups: Vec<ResourceGroup<'a>> = Vec::new();
    for span in spans {
        let same_resource =
            |g: &ResourceGroup<'_>| Arc::ptr_eq(g.resource, &span.resource) || **g.resource == *span.resource;
        let index = match groups.iter().position(same_resource) {
            Some(index) => index,
            None => {
                groups.push(ResourceGroup { resource: &span.resource, scopes: Vec::new() });
                groups.len() - 1
            }
        };
        let scopes = &mut groups[index].scopes;
        let same_scope = |g: &ScopeGroup<'_>| Arc::ptr_eq(g.scope, &span.scope) || **g.scope == *span.scope;
        match scopes.iter_mut().find(|g| same_scope(g)) {
            Some(group) => group.spans.push(span),
            None => scopes.push(ScopeGroup { scope: &span.scope, spans: vec![span] }),
        }
    }
    groups
}

// ---- JSON ----------------------------------------------------------------------------------------

/// The `resourceSpans` array of a trace.
pub fn resource_spans_json<'a>(spans: impl IntoIterator<Item = &'a Span>, flavor: JsonFlavor) -> Value {
    Value::Array(group_spans(spans).iter().map(|group| resource_group_json(group, flavor)).collect())
}

fn resource_group_json(group: &ResourceGroup<'_>, flavor: JsonFlavor) -> Value {
    let mut resource = Map::new();
    resource.insert("attributes".into(), key_values_json(&group.resource.attributes, flavor));
    put_u32(&mut resource, "droppedAttributesCount", group.resource.dropped_attributes_count);
    let scope_spans: Vec<Value> = group
        .scopes
        .iter()
        .map(|scope_group| {
            let scope = scope_group.scope;
            let mut scope_json = Map::new();
            put_str(&mut scope_json, "name", &scope.name);
            put_str(&mut scope_json, "version", &scope.version);
            if !scope.attributes.is_empty() {
                scope_json.insert("attributes".into(), key_values_json(&scope.attributes, flavor));
            }
            put_u32(&mut scope_json, "droppedAttributesCount", scope.dropped_attributes_count);
            let mut out = Map::new();
            out.insert("scope".into(), Value::Object(scope_json));
            out.insert("spans".into(), scope_group.spans.iter().map(|s| span_json(s, flavor)).collect());
            put_str(&mut out, "schemaUrl", &scope.schema_url);
            Value::Object(out)
        })
        .collect();
    let mut out = Map::new();
    out.insert("resource".into(), Value::Object(resource));
    out.insert("scopeSpans".into(), Value::Array(scope_spans));
    put_str(&mut out, "schemaUrl", &group.resource.schema_url);
    Value::Object(out)
}

/// One span as OTLP JSON.
pub fn span_json(span: &Span, flavor: JsonFlavor) -> Value {
    let mut out = Map::new();
    out.insert("traceId".into(), Value::String(id_json(&span.trace_id, flavor)));
    out.insert("spanId".into(), Value::String(id_json(&span.span_id, flavor)));
    put_str(&mut out, "traceState", &span.trace_state);
    if let Some(parent) = &span.parent_span_id {
        out.insert("parentSpanId".into(), Value::String(id_json(parent, flavor)));
    }
    put_u32(&mut out, "flags", span.flags);
    out.insert("name".into(), Value::String(span.name.clone()));
    if span.kind != SpanKind::Unspecified {
        let kind = match flavor {
            JsonFlavor::Otlp => json!(span.kind as u8),
            JsonFlavor::TempoJsonpb => json!(span_kind_name(span.kind)),
        };
        out.insert("kind".into(), kind);
    }
    out.insert("startTimeUnixNano".into(), Value::String(span.start_time_unix_nano.to_string()));
    out.insert("endTimeUnixNano".into(), Value::String(span.end_time_unix_nano.to_string()));
    if !span.attributes.is_empty() {
        out.insert("attributes".into(), key_values_json(&span.attributes, flavor));
    }
    put_u32(&mut out, "droppedAttributesCount", span.dropped_attributes_count);
    if !span.events.is_empty() {
        let events = span.events.iter().map(|event| {
            let mut e = Map::new();
            e.insert("timeUnixNano".into(), Value::String(event.time_unix_nano.to_string()));
            put_str(&mut e, "name", &event.name);
            if !event.attributes.is_empty() {
                e.insert("attributes".into(), key_values_json(&event.attributes, flavor));
            }
            put_u32(&mut e, "droppedAttributesCount", event.dropped_attributes_count);
            Value::Object(e)
        });
        out.insert("events".into(), events.collect());
    }
    put_u32(&mut out, "droppedEventsCount", span.dropped_events_count);
    if !span.links.is_empty() {
        let links = span.links.iter().map(|link| {
            let mut l = Map::new();
            l.insert("traceId".into(), Value::String(id_json(&link.trace_id, flavor)));
            l.insert("spanId".into(), Value::String(id_json(&link.span_id, flavor)));
            put_str(&mut l, "traceState", &link.trace_state);
            if !link.attributes.is_empty() {
                l.insert("attributes".into(), key_values_json(&link.attributes, flavor));
            }
            put_u32(&mut l, "droppedAttributesCount", link.dropped_attributes_count);
            put_u32(&mut l, "flags", link.flags);
            Value::Object(l)
        });
        out.insert("links".into(), links.collect());
    }
    put_u32(&mut out, "droppedLinksCount", span.dropped_links_count);
    let mut status = Map::new();
    put_str(&mut status, "message", &span.status.message);
    if span.status.code != StatusCode::Unset {
        let code = match flavor {
            JsonFlavor::Otlp => json!(span.status.code as u8),
            JsonFlavor::TempoJsonpb => json!(status_code_name(span.status.code)),
        };
        status.insert("code".into(), code);
    }
    out.insert("status".into(), Value::Object(status));
    Value::Object(out)
}

/// OTLP's enum name of a span kind (`SPAN_KIND_SERVER`).
pub fn span_kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

/// OTLP's enum name of a status code (`STATUS_CODE_ERROR`).
pub fn status_code_name(code: StatusCode) -> &'static str {
    match code {
        StatusCode::Unset => "STATUS_CODE_UNSET",
        StatusCode::Ok => "STATUS_CODE_OK",
        StatusCode::Error => "STATUS_CODE_ERROR",
    }
}

fn id_json(id: &[u8], flavor: JsonFlavor) -> String {
    match flavor {
        JsonFlavor::Otlp if id.len() == 16 => trace_id_hex(id.try_into().expect("16 bytes")),
        JsonFlavor::Otlp => id.iter().map(|b| format!("{b:02x}")).collect(),
        JsonFlavor::TempoJsonpb => base64_standard(id),
    }
}

/// OTLP `KeyValue`s as a JSON array.
pub fn key_values_json(attributes: &[KeyValue], flavor: JsonFlavor) -> Value {
    Value::Array(
        attributes.iter().map(|kv| json!({"key": kv.key, "value": any_value_json(&kv.value, flavor)})).collect(),
    )
}

/// An OTLP `AnyValue` as JSON (`{"stringValue": …}`, `{"intValue": "5"}`, …; `{}` when empty).
pub fn any_value_json(value: &AttributeValue, flavor: JsonFlavor) -> Value {
    match value {
        AttributeValue::Empty => json!({}),
        AttributeValue::String(s) => json!({"stringValue": s}),
        AttributeValue::Bool(b) => json!({"boolValue": b}),
        AttributeValue::Int(i) => json!({"intValue": i.to_string()}),
        AttributeValue::Double(d) => json!({"doubleValue": double_json(*d)}),
        AttributeValue::Bytes(bytes) => json!({"bytesValue": base64_standard(bytes)}),
        AttributeValue::Array(values) => {
            let values: Vec<Value> = values.iter().map(|v| any_value_json(v, flavor)).collect();
            json!({"arrayValue": {"values": values}})
        }
        AttributeValue::KeyValueList(pairs) => json!({"kvlistValue": {"values": key_values_json(pairs, flavor)}}),
    }
}

/// A double as protobuf JSON writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn double_json(d: f64) -> Value {
    if d.is_nan() {
        json!("NaN")
    } else if d.is_infinite() {
        json!(if d > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(d)
    }
}

fn put_str(out: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        out.insert(key.into(), Value::String(value.to_string()));
    }
}

fn put_u32(out: &mut Map<String, Value>, key: &str, value: u32) {
    if value != 0 {
        out.insert(key.into(), json!(value));
    }
}

/// Standard base64 with padding (RFC 4648 §4), as protobuf's JSON mapping writes `bytes`.
pub fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---- protobuf ------------------------------------------------------------------------------------

/// A trace as OTLP `TracesData` (wire-identical to Tempo's `tempopb.Trace`).
pub fn traces_data<'a>(spans: impl IntoIterator<Item = &'a Span>) -> pb::TracesData {
    let resource_spans = group_spans(spans)
        .iter()
        .map(|group| pb::ResourceSpans {
            resource: Some(pb_resource::Resource {
                attributes: key_values_proto(&group.resource.attributes),
                dropped_attributes_count: group.resource.dropped_attributes_count,
                ..Default::default()
            }),
            scope_spans: group
                .scopes
                .iter()
                .map(|scope_group| pb::ScopeSpans {
                    scope: Some(pb_common::InstrumentationScope {
                        name: scope_group.scope.name.clone(),
                        version: scope_group.scope.version.clone(),
                        attributes: key_values_proto(&scope_group.scope.attributes),
                        dropped_attributes_count: scope_group.scope.dropped_attributes_count,
                    }),
                    spans: scope_group.spans.iter().map(|s| span_proto(s)).collect(),
                    schema_url: scope_group.scope.schema_url.clone(),
                })
                .collect(),
            schema_url: group.resource.schema_url.clone(),
        })
        .collect();
    pb::TracesData { resource_spans }
}

fn span_proto(span: &Span) -> pb::Span {
    pb::Span {
        trace_id: span.trace_id.to_vec(),
        span_id: span.span_id.to_vec(),
        trace_state: span.trace_state.clone(),
        parent_span_id: span.parent_span_id.map(|p| p.to_vec()).unwrap_or_default(),
        flags: span.flags,
        name: span.name.clone(),
        kind: span.kind as i32,
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes: key_values_proto(&span.attributes),
        dropped_attributes_count: span.dropped_attributes_count,
        events: span
            .events
            .iter()
            .map(|e| pb::span::Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name.clone(),
                attributes: key_values_proto(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: span.dropped_events_count,
        links: span
            .links
            .iter()
            .map(|l| pb::span::Link {
                trace_id: l.trace_id.to_vec(),
                span_id: l.span_id.to_vec(),
                trace_state: l.trace_state.clone(),
                attributes: key_values_proto(&l.attributes),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        dropped_links_count: span.dropped_links_count,
        status: Some(pb::Status { message: span.status.message.clone(), code: span.status.code as i32 }),
    }
}

fn key_values_proto(attributes: &[KeyValue]) -> Vec<pb_common::KeyValue> {
    attributes
        .iter()
        .map(|kv| pb_common::KeyValue {
            key: kv.key.clone(),
            value: Some(any_value_proto(&kv.value)),
            ..Default::default()
        })
        .collect()
}

fn any_value_proto(value: &AttributeValue) -> pb_common::AnyValue {
    use pb_common::any_value::Value as V;
    let value = match value {
        AttributeValue::Empty => None,
        AttributeValue::String(s) => Some(V::StringValue(s.clone())),
        AttributeValue::Bool(b) => Some(V::BoolValue(*b)),
        AttributeValue::Int(i) => Some(V::IntValue(*i)),
        AttributeValue::Double(d) => Some(V::DoubleValue(*d)),
        AttributeValue::Bytes(bytes) => Some(V::BytesValue(bytes.clone())),
        AttributeValue::Array(values) => {
            Some(V::ArrayValue(pb_common::ArrayValue { values: values.iter().map(any_value_proto).collect() }))
        }
        AttributeValue::KeyValueList(pairs) => {
            Some(V::KvlistValue(pb_common::KeyValueList { values: key_values_proto(pairs) }))
        }
    };
    pb_common::AnyValue { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_like_rfc_4648() {
        assert_eq!(base64_standard(b""), "");
        assert_eq!(base64_standard(b"f"), "Zg==");
        assert_eq!(base64_standard(b"fo"), "Zm8=");
        assert_eq!(base64_standard(b"foo"), "Zm9v");
        assert_eq!(base64_standard(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_standard(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn doubles_that_json_cannot_hold_are_strings() {
        assert_eq!(double_json(f64::NAN), json!("NaN"));
        assert_eq!(double_json(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(double_json(1.5), json!(1.5));
    }
}

// Pharos — query/src/traces/otlp_out.rs

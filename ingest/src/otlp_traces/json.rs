//! OTLP/JSON traces requests, decoded into the same prost messages as the binary encoding. The
//! JSON mapping's rules and the shared messages (resource, scope, attributes, values) are in
//! [`crate::otlp_json`]; this file has the trace messages.
//!
//! Ids are hex strings of any even length here: an id of the wrong length (30 digits, say) decodes
//! to that many bytes, and [`super::spans_from_otlp`] rejects that one span. Text that is not hex
//! at all (odd digit count, other characters) is a malformed encoding and refuses the request, like
//! any other malformed field.

use pharos_proto::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pharos_proto::otlp::trace::v1::span::{Event, Link};
use pharos_proto::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::Deserialize;

use crate::otlp_json::{
    JsonEnum, JsonHexBytes, JsonKeyValue, JsonResource, JsonScope, JsonU32, JsonU64, attributes, list, u64_or_zero,
};

/// Decode an OTLP/JSON `ExportTraceServiceRequest`. An empty body is an empty request.
pub fn decode_json(bytes: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ExportTraceServiceRequest::default());
    }
    let request: JsonExportRequest =
        serde_json::from_slice(bytes).map_err(|error| format!("invalid OTLP/JSON traces request: {error}"))?;
    request.into_proto().map_err(|error| format!("invalid OTLP/JSON traces request: {error}"))
}

fn u32_or_zero(value: Option<JsonU32>) -> u32 {
    value.map(|v| v.0).unwrap_or(0)
}

fn id_or_empty(value: Option<JsonHexBytes>) -> Vec<u8> {
    value.map(|v| v.0).unwrap_or_default()
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonExportRequest {
    resource_spans: Option<Vec<JsonResourceSpans>>,
}

impl JsonExportRequest {
    fn into_proto(self) -> Result<ExportTraceServiceRequest, String> {
        Ok(ExportTraceServiceRequest { resource_spans: list(self.resource_spans, JsonResourceSpans::into_proto)? })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonResourceSpans {
    resource: Option<JsonResource>,
    scope_spans: Option<Vec<JsonScopeSpans>>,
    schema_url: Option<String>,
}

impl JsonResourceSpans {
    fn into_proto(self) -> Result<ResourceSpans, String> {
        Ok(ResourceSpans {
            resource: self.resource.map(JsonResource::into_proto).transpose()?,
            scope_spans: list(self.scope_spans, JsonScopeSpans::into_proto)?,
            schema_url: self.schema_url.unwrap_or_default(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonScopeSpans {
    scope: Option<JsonScope>,
    spans: Option<Vec<JsonSpan>>,
    schema_url: Option<String>,
}

impl JsonScopeSpans {
    fn into_proto(self) -> Result<ScopeSpans, String> {
        Ok(ScopeSpans {
            scope: self.scope.map(JsonScope::into_proto).transpose()?,
            spans: list(self.spans, JsonSpan::into_proto)?,
            schema_url: self.schema_url.unwrap_or_default(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonSpan {
    trace_id: Option<JsonHexBytes>,
    span_id: Option<JsonHexBytes>,
    trace_state: Option<String>,
    parent_span_id: Option<JsonHexBytes>,
    flags: Option<JsonU32>,
    name: Option<String>,
    kind: Option<JsonEnum>,
    start_time_unix_nano: Option<JsonU64>,
    end_time_unix_nano: Option<JsonU64>,
    attributes: Option<Vec<JsonKeyValue>>,
    dropped_attributes_count: Option<JsonU32>,
    events: Option<Vec<JsonEvent>>,
    dropped_events_count: Option<JsonU32>,
    links: Option<Vec<JsonLink>>,
    dropped_links_count: Option<JsonU32>,
    status: Option<JsonStatus>,
}

impl JsonSpan {
    fn into_proto(self) -> Result<Span, String> {
        Ok(Span {
            trace_id: id_or_empty(self.trace_id),
            span_id: id_or_empty(self.span_id),
            trace_state: self.trace_state.unwrap_or_default(),
            parent_span_id: id_or_empty(self.parent_span_id),
            flags: u32_or_zero(self.flags),
            name: self.name.unwrap_or_default(),
            kind: self.kind.map(|v| v.0).unwrap_or(0),
            start_time_unix_nano: u64_or_zero(self.start_time_unix_nano),
            end_time_unix_nano: u64_or_zero(self.end_time_unix_nano),
            attributes: attributes(self.attributes)?,
            dropped_attributes_count: u32_or_zero(self.dropped_attributes_count),
            events: list(self.events, JsonEvent::into_proto)?,
            dropped_events_count: u32_or_zero(self.dropped_events_count),
            links: list(self.links, JsonLink::into_proto)?,
            dropped_links_count: u32_or_zero(self.dropped_links_count),
            status: self.status.map(JsonStatus::into_proto),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonEvent {
    time_unix_nano: Option<JsonU64>,
    name: Option<String>,
    attributes: Option<Vec<JsonKeyValue>>,
    dropped_attributes_count: Option<JsonU32>,
}

impl JsonEvent {
    fn into_proto(self) -> Result<Event, String> {
        Ok(Event {
            time_unix_nano: u64_or_zero(self.time_unix_nano),
            name: self.name.unwrap_or_default(),
            attributes: attributes(self.attributes)?,
            dropped_attributes_count: u32_or_zero(self.dropped_attributes_count),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonLink {
    trace_id: Option<JsonHexBytes>,
    span_id: Option<JsonHexBytes>,
    trace_state: Option<String>,
    attributes: Option<Vec<JsonKeyValue>>,
    dropped_attributes_count: Option<JsonU32>,
    flags: Option<JsonU32>,
}

impl JsonLink {
    fn into_proto(self) -> Result<Link, String> {
        Ok(Link {
            trace_id: id_or_empty(self.trace_id),
            span_id: id_or_empty(self.span_id),
            trace_state: self.trace_state.unwrap_or_default(),
            attributes: attributes(self.attributes)?,
            dropped_attributes_count: u32_or_zero(self.dropped_attributes_count),
            flags: u32_or_zero(self.flags),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonStatus {
    message: Option<String>,
    code: Option<JsonEnum>,
}

impl JsonStatus {
    fn into_proto(self) -> Status {
        Status { message: self.message.unwrap_or_default(), code: self.code.map(|v| v.0).unwrap_or(0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pharos_proto::otlp::common::v1::any_value::Value;

    fn only_span(request: &ExportTraceServiceRequest) -> &Span {
        let scope_spans = &request.resource_spans[0].scope_spans[0];
        assert_eq!(scope_spans.spans.len(), 1);
        &scope_spans.spans[0]
    }

    #[test]
    fn a_span_in_otlp_json_decodes_to_its_proto() {
        let body = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}],
            "droppedAttributesCount":1},"schemaUrl":"https://opentelemetry.io/schemas/1.26.0",
            "scopeSpans":[{"scope":{"name":"app","version":"1.0"},"schemaUrl":"s","spans":[{
              "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174","parentSpanId":"EEE19B7EC3C1B173",
              "traceState":"k=v","flags":257,"name":"GET /cart","kind":2,
              "startTimeUnixNano":"1700000000000000001","endTimeUnixNano":1700000000000000002,
              "attributes":[{"key":"http.status_code","value":{"intValue":"200"}},{"key":"big","value":{"intValue":9007199254740993}}],
              "droppedAttributesCount":"3",
              "events":[{"timeUnixNano":"1700000000000000001","name":"cache miss","attributes":[{"key":"k","value":{"boolValue":true}}],
                "droppedAttributesCount":4}],
              "droppedEventsCount":5,
              "links":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","traceState":"x=y",
                "attributes":[{"key":"l","value":{"doubleValue":"NaN"}}],"droppedAttributesCount":6,"flags":1}],
              "droppedLinksCount":7,
              "status":{"message":"boom","code":2},
              "unknownField":{"nested":[1,2,3]}}]}]}]}"#;
        let request = decode_json(body).unwrap();
        let resource_spans = &request.resource_spans[0];
        assert_eq!(resource_spans.schema_url, "https://opentelemetry.io/schemas/1.26.0");
        assert_eq!(resource_spans.resource.as_ref().unwrap().dropped_attributes_count, 1);
        let scope_spans = &resource_spans.scope_spans[0];
        assert_eq!(scope_spans.schema_url, "s");
        let scope = scope_spans.scope.as_ref().unwrap();
        assert_eq!((scope.name.as_str(), scope.version.as_str()), ("app", "1.0"));

        let span = only_span(&request);
        assert_eq!(
            span.trace_id,
            [0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c]
        );
        assert_eq!(span.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!(span.parent_span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73]);
        assert_eq!(
            (span.trace_state.as_str(), span.flags, span.name.as_str(), span.kind),
            ("k=v", 257, "GET /cart", 2)
        );
        assert_eq!(
            (span.start_time_unix_nano, span.end_time_unix_nano),
            (1_700_000_000_000_000_001, 1_700_000_000_000_000_002)
        );
        assert_eq!(span.attributes[0].value.as_ref().unwrap().value, Some(Value::IntValue(200)));
        assert_eq!(span.attributes[1].value.as_ref().unwrap().value, Some(Value::IntValue(9_007_199_254_740_993)));
        assert_eq!(span.dropped_attributes_count, 3);
        let event = &span.events[0];
        assert_eq!((event.time_unix_nano, event.name.as_str()), (1_700_000_000_000_000_001, "cache miss"));
        assert_eq!(event.attributes[0].value.as_ref().unwrap().value, Some(Value::BoolValue(true)));
        assert_eq!(event.dropped_attributes_count, 4);
        assert_eq!(span.dropped_events_count, 5);
        let link = &span.links[0];
        assert_eq!(link.trace_id, (1..=16).collect::<Vec<u8>>());
        assert_eq!(link.span_id, (1..=8).collect::<Vec<u8>>());
        assert_eq!((link.trace_state.as_str(), link.dropped_attributes_count, link.flags), ("x=y", 6, 1));
        assert!(matches!(link.attributes[0].value.as_ref().unwrap().value, Some(Value::DoubleValue(d)) if d.is_nan()));
        assert_eq!(span.dropped_links_count, 7);
        let status = span.status.as_ref().unwrap();
        assert_eq!((status.message.as_str(), status.code), ("boom", 2));
    }

    #[test]
    fn absent_and_null_fields_are_proto_defaults() {
        let request = decode_json(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","spanId":null,"name":null}]}]}]}"#,
        )
        .unwrap();
        assert!(request.resource_spans[0].resource.is_none());
        assert!(request.resource_spans[0].scope_spans[0].scope.is_none());
        assert_eq!(only_span(&request), &Span::default());
        assert!(decode_json(b"  \n").unwrap().resource_spans.is_empty());
        assert!(decode_json(b"{}").unwrap().resource_spans.is_empty());
    }

    #[test]
    fn ids_of_the_wrong_length_decode_for_the_translation_to_reject() {
        let request = decode_json(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc6","spanId":"00"}]}]}]}"#,
        )
        .unwrap();
        let span = only_span(&request);
        assert_eq!((span.trace_id.len(), span.span_id.len()), (15, 1));
    }

    #[test]
    fn snake_case_keys_are_unknown_keys() {
        let request =
            decode_json(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a","start_time_unix_nano":"5"}]}]}]}"#)
                .unwrap();
        assert_eq!(only_span(&request).start_time_unix_nano, 0);
    }

    #[test]
    fn malformed_requests_are_refused_with_a_reason() {
        let refused = |body: &str| decode_json(body.as_bytes()).unwrap_err();
        for (body, wanted) in [
            (r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#, "invalid hex id"),
            (r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"abc"}]}]}]}"#, "invalid hex id"),
            (r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SERVER"}]}]}]}"#, "integer"),
            (r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}"#, "integer"),
            (r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":-1}]}]}]}"#, "out of range"),
            (r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"status":{"code":"ERROR"}}]}]}]}"#, "integer"),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"stringValue":"a","intValue":1}}]}]}]}]}"#,
                "oneof",
            ),
            (r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"}]}]}"#, "EOF"),
            (r#"{"resourceSpans":{"scopeSpans":[]}}"#, "sequence"),
            ("[1,2]", "invalid type"),
        ] {
            let error = refused(body);
            assert!(error.starts_with("invalid OTLP/JSON traces request"), "{body}: {error}");
            assert!(error.contains(wanted), "{body}: {error} lacks {wanted:?}");
        }
    }
}

// Pharos — ingest/src/otlp_traces/json.rs

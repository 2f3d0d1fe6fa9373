//! Tests of the OTLP → span translation: the field mapping, the shared envelopes, each rejection
//! and each limit.

use super::*;
use pharos_proto::otlp::common::v1::{ArrayValue, KeyValueList};
use pharos_proto::otlp::trace::v1::{ResourceSpans, ScopeSpans, Status as OtlpStatus};

const TRACE: [u8; 16] =
    [0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c];
const SPAN: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
const PARENT: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn any(value: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

fn text(value: &str) -> Option<AnyValue> {
    any(any_value::Value::StringValue(value.to_owned()))
}

fn kv(key: &str, value: Option<AnyValue>) -> OtlpKeyValue {
    OtlpKeyValue { key: key.to_owned(), value, ..Default::default() }
}

fn attributes(n: usize) -> Vec<OtlpKeyValue> {
    (0..n).map(|i| kv(&format!("a{i}"), any(any_value::Value::IntValue(i as i64)))).collect()
}

/// A valid span named `name`.
fn span(name: &str) -> OtlpSpan {
    OtlpSpan {
        trace_id: TRACE.to_vec(),
        span_id: SPAN.to_vec(),
        name: name.to_owned(),
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 2_000,
        ..Default::default()
    }
}

fn request_of(spans: Vec<OtlpSpan>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn translate(spans: Vec<OtlpSpan>) -> (Vec<Span>, u64, String) {
    spans_from_otlp(request_of(spans), &TraceIngestOptions::default())
}

fn translate_one(span: OtlpSpan, options: &TraceIngestOptions) -> Span {
    let (mut spans, rejected, message) = spans_from_otlp(request_of(vec![span]), options);
    assert_eq!((rejected, message.as_str()), (0, ""));
    assert_eq!(spans.len(), 1);
    spans.remove(0)
}

#[test]
fn every_field_is_mapped() {
    let full = OtlpSpan {
        trace_id: TRACE.to_vec(),
        span_id: SPAN.to_vec(),
        trace_state: "congo=t61rcWkgMzE".to_owned(),
        parent_span_id: PARENT.to_vec(),
        flags: 0x301,
        name: "GET /cart".to_owned(),
        kind: 3,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_250_000_000,
        attributes: vec![
            kv("http.method", text("GET")),
            kv("http.status_code", any(any_value::Value::IntValue(503))),
            kv("ratio", any(any_value::Value::DoubleValue(0.25))),
            kv("cached", any(any_value::Value::BoolValue(false))),
            kv("raw", any(any_value::Value::BytesValue(vec![0, 255]))),
            kv(
                "list",
                any(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue { value: Some(any_value::Value::IntValue(1)) }, AnyValue { value: None }],
                })),
            ),
            kv("map", any(any_value::Value::KvlistValue(KeyValueList { values: vec![kv("inner", text("v"))] }))),
            kv("unset", None),
            kv("no member", Some(AnyValue { value: None })),
            kv("strindex", any(any_value::Value::StringValueStrindex(3))),
        ],
        dropped_attributes_count: 2,
        events: vec![OtlpEvent {
            time_unix_nano: 1_700_000_000_100_000_000,
            name: "exception".to_owned(),
            attributes: vec![kv("exception.message", text("timeout"))],
            dropped_attributes_count: 1,
        }],
        dropped_events_count: 3,
        links: vec![OtlpLink {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            trace_state: "k=v".to_owned(),
            attributes: vec![kv("link.kind", text("follows"))],
            dropped_attributes_count: 4,
            flags: 0x101,
        }],
        dropped_links_count: 5,
        status: Some(OtlpStatus { message: "upstream unavailable".to_owned(), code: 2 }),
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(OtlpResource {
                attributes: vec![kv("service.name", text("checkout")), kv("host.name", text("node-7"))],
                dropped_attributes_count: 6,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.http".to_owned(),
                    version: "2.1.0".to_owned(),
                    attributes: vec![kv("scope.attr", any(any_value::Value::BoolValue(true)))],
                    dropped_attributes_count: 7,
                }),
                spans: vec![full],
                schema_url: "https://opentelemetry.io/schemas/1.25.0".to_owned(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
        }],
    };
    let (spans, rejected, message) = spans_from_otlp(request, &TraceIngestOptions::default());
    assert_eq!((rejected, message.as_str(), spans.len()), (0, "", 1));
    let span = &spans[0];

    assert_eq!(
        *span.resource,
        Resource {
            attributes: vec![KeyValue::string("service.name", "checkout"), KeyValue::string("host.name", "node-7")],
            dropped_attributes_count: 6,
            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
        }
    );
    assert_eq!(span.service_name(), "checkout");
    assert_eq!(
        *span.scope,
        Scope {
            name: "io.opentelemetry.http".to_owned(),
            version: "2.1.0".to_owned(),
            attributes: vec![KeyValue::new("scope.attr", AttributeValue::Bool(true))],
            dropped_attributes_count: 7,
            schema_url: "https://opentelemetry.io/schemas/1.25.0".to_owned(),
        }
    );
    assert_eq!(span.trace_id, TRACE);
    assert_eq!(span.span_id, SPAN);
    assert_eq!(span.parent_span_id, Some(PARENT));
    assert_eq!(span.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(span.flags, 0x301);
    assert_eq!(span.name, "GET /cart");
    assert_eq!(span.kind, SpanKind::Client);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_700_000_000_250_000_000);
    assert_eq!(
        span.attributes,
        vec![
            KeyValue::string("http.method", "GET"),
            KeyValue::new("http.status_code", AttributeValue::Int(503)),
            KeyValue::new("ratio", AttributeValue::Double(0.25)),
            KeyValue::new("cached", AttributeValue::Bool(false)),
            KeyValue::new("raw", AttributeValue::Bytes(vec![0, 255])),
            KeyValue::new("list", AttributeValue::Array(vec![AttributeValue::Int(1), AttributeValue::Empty])),
            KeyValue::new("map", AttributeValue::KeyValueList(vec![KeyValue::string("inner", "v")])),
            KeyValue::new("unset", AttributeValue::Empty),
            KeyValue::new("no member", AttributeValue::Empty),
            KeyValue::new("strindex", AttributeValue::Empty),
        ]
    );
    assert_eq!(span.dropped_attributes_count, 2);
    assert_eq!(
        span.events,
        vec![Event {
            time_unix_nano: 1_700_000_000_100_000_000,
            name: "exception".to_owned(),
            attributes: vec![KeyValue::string("exception.message", "timeout")],
            dropped_attributes_count: 1,
        }]
    );
    assert_eq!(span.dropped_events_count, 3);
    assert_eq!(
        span.links,
        vec![Link {
            trace_id: [9; 16],
            span_id: [8; 8],
            trace_state: "k=v".to_owned(),
            attributes: vec![KeyValue::string("link.kind", "follows")],
            dropped_attributes_count: 4,
            flags: 0x101,
        }]
    );
    assert_eq!(span.dropped_links_count, 5);
    assert_eq!(span.status, Status { code: StatusCode::Error, message: "upstream unavailable".to_owned() });
    assert!(span.is_error());
}

#[test]
fn absent_envelopes_and_unknown_enums_get_defaults() {
    let mut bare = span("bare");
    bare.kind = 42;
    bare.status = Some(OtlpStatus { message: String::new(), code: 9 });
    let span = translate_one(bare, &TraceIngestOptions::default());
    assert_eq!(*span.resource, Resource::default());
    assert_eq!(span.service_name(), "unknown_service");
    assert_eq!(*span.scope, Scope::default());
    assert_eq!(span.kind, SpanKind::Unspecified);
    assert_eq!(span.status, Status::default());
    assert_eq!(span.parent_span_id, None);

    for kind in 0..=5 {
        let mut otlp = self::span("k");
        otlp.kind = kind;
        assert_eq!(translate_one(otlp, &TraceIngestOptions::default()).kind as i32, kind);
    }
    for (code, expected) in [(0, StatusCode::Unset), (1, StatusCode::Ok), (2, StatusCode::Error)] {
        let mut otlp = self::span("s");
        otlp.status = Some(OtlpStatus { message: "m".to_owned(), code });
        assert_eq!(translate_one(otlp, &TraceIngestOptions::default()).status.code, expected);
    }
}

#[test]
fn an_all_zero_parent_is_a_root_span() {
    let mut zero_parent = span("root");
    zero_parent.parent_span_id = vec![0; 8];
    assert_eq!(translate_one(zero_parent, &TraceIngestOptions::default()).parent_span_id, None);
}

#[test]
fn spans_share_their_resource_and_scope() {
    let scope_spans = |names: &[&str], scope_name: &str| ScopeSpans {
        scope: Some(InstrumentationScope { name: scope_name.to_owned(), ..Default::default() }),
        spans: names.iter().map(|name| span(name)).collect(),
        ..Default::default()
    };
    let resource = |service: &str| {
        Some(OtlpResource { attributes: vec![kv("service.name", text(service))], ..Default::default() })
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: resource("a"),
                scope_spans: vec![scope_spans(&["a1", "a2"], "s1"), scope_spans(&["a3"], "s2")],
                ..Default::default()
            },
            ResourceSpans {
                resource: resource("b"),
                scope_spans: vec![scope_spans(&["b1"], "s1")],
                ..Default::default()
            },
        ],
    };
    let (spans, rejected, _) = spans_from_otlp(request, &TraceIngestOptions::default());
    assert_eq!(rejected, 0);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a1", "a2", "a3", "b1"]);
    assert!(Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
    assert!(Arc::ptr_eq(&spans[0].resource, &spans[2].resource));
    assert!(!Arc::ptr_eq(&spans[0].resource, &spans[3].resource));
    assert!(Arc::ptr_eq(&spans[0].scope, &spans[1].scope));
    assert!(!Arc::ptr_eq(&spans[0].scope, &spans[2].scope));
    assert!(!Arc::ptr_eq(&spans[0].scope, &spans[3].scope), "equal scopes of other resources are not merged");
    assert_eq!((spans[2].scope.name.as_str(), spans[3].service_name()), ("s2", "b"));
}

#[test]
fn each_malformed_span_is_rejected_alone_with_its_reason() {
    // (span name, how the span is broken, the reason given)
    type Case = (&'static str, fn(&mut OtlpSpan), &'static str);
    let cases: Vec<Case> = vec![
        ("short trace id", |s| s.trace_id.truncate(15), "trace_id is 15 bytes (want 16)"),
        ("no trace id", |s| s.trace_id.clear(), "trace_id is 0 bytes (want 16)"),
        ("long trace id", |s| s.trace_id.push(1), "trace_id is 17 bytes (want 16)"),
        ("zero trace id", |s| s.trace_id = vec![0; 16], "trace_id is all zeros"),
        ("short span id", |s| s.span_id.truncate(7), "span_id is 7 bytes (want 8)"),
        ("no span id", |s| s.span_id.clear(), "span_id is 0 bytes (want 8)"),
        ("zero span id", |s| s.span_id = vec![0; 8], "span_id is all zeros"),
        (
            "short parent",
            |s| s.parent_span_id = vec![1; 4],
            "parent_span_id is 4 bytes (want 8, or none for a root span)",
        ),
        ("long parent", |s| s.parent_span_id = vec![1; 16], "parent_span_id is 16 bytes"),
        (
            "link trace id",
            |s| {
                s.links = vec![
                    OtlpLink { trace_id: vec![1; 16], span_id: vec![1; 8], ..Default::default() },
                    OtlpLink { trace_id: vec![1; 15], span_id: vec![1; 8], ..Default::default() },
                ]
            },
            "link 1 has a trace_id of 15 bytes (want 16)",
        ),
        (
            "link span id",
            |s| s.links = vec![OtlpLink { trace_id: vec![1; 16], span_id: vec![], ..Default::default() }],
            "link 0 has a span_id of 0 bytes (want 8)",
        ),
        (
            "ends first",
            |s| (s.start_time_unix_nano, s.end_time_unix_nano) = (2_000, 1_999),
            "ends before it starts (end_time_unix_nano 1999 < start_time_unix_nano 2000)",
        ),
    ];
    for (name, break_span, reason) in cases {
        let mut bad = span(name);
        break_span(&mut bad);
        let (spans, rejected, message) = translate(vec![span("good before"), bad, span("good after")]);
        assert_eq!(rejected, 1, "{name}");
        assert!(message.starts_with(&format!("1 span rejected: span {name:?}: ")), "{name}: {message}");
        assert!(message.contains(reason), "{name}: {message} lacks {reason:?}");
        let kept: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(kept, ["good before", "good after"], "{name}");
    }
}

#[test]
fn several_rejections_report_the_count_and_the_first() {
    let mut short = span("short");
    short.span_id.truncate(2);
    let mut reversed = span("reversed");
    reversed.end_time_unix_nano = 0;
    let (spans, rejected, message) = translate(vec![short, span("ok"), reversed]);
    assert_eq!((spans.len(), rejected), (1, 2));
    assert_eq!(message, "2 spans rejected; first: span \"short\": span_id is 2 bytes (want 8)");

    let mut long_name = span(&"n".repeat(1000));
    long_name.trace_id.clear();
    let (_, _, message) = translate(vec![long_name]);
    assert!(message.contains(&format!("span \"{}\"…: trace_id", "n".repeat(MAX_QUOTED_NAME_BYTES))), "{message}");
}

#[test]
fn equal_start_and_end_and_zero_times_are_accepted() {
    let mut instant = span("instant");
    instant.end_time_unix_nano = instant.start_time_unix_nano;
    let mut unset = span("unset times");
    (unset.start_time_unix_nano, unset.end_time_unix_nano) = (0, 0);
    let (spans, rejected, _) = translate(vec![instant, unset]);
    assert_eq!((spans.len(), rejected), (2, 0));
}

#[test]
fn attributes_events_and_links_beyond_the_caps_are_dropped_and_counted() {
    let options = TraceIngestOptions {
        max_attributes_per_span: 3,
        max_events_per_span: 2,
        max_links_per_span: 1,
        ..TraceIngestOptions::default()
    };
    let mut big = span("big");
    big.attributes = attributes(5);
    big.dropped_attributes_count = 10;
    big.events = (0..4)
        .map(|i| OtlpEvent {
            name: format!("e{i}"),
            attributes: attributes(4),
            dropped_attributes_count: 1,
            ..Default::default()
        })
        .collect();
    big.dropped_events_count = 20;
    big.links = (0..3u8)
        .map(|i| OtlpLink {
            trace_id: vec![i + 1; 16],
            span_id: vec![i + 1; 8],
            attributes: attributes(6),
            ..Default::default()
        })
        .collect();
    big.dropped_links_count = 30;
    let span = translate_one(big, &options);

    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["a0", "a1", "a2"], "the first attributes are kept");
    assert_eq!(span.dropped_attributes_count, 12);
    let events: Vec<(&str, usize, u32)> =
        span.events.iter().map(|e| (e.name.as_str(), e.attributes.len(), e.dropped_attributes_count)).collect();
    assert_eq!(events, [("e0", 3, 2), ("e1", 3, 2)]);
    assert_eq!(span.dropped_events_count, 22);
    assert_eq!(span.links.len(), 1);
    assert_eq!(
        (span.links[0].trace_id, span.links[0].attributes.len(), span.links[0].dropped_attributes_count),
        ([1; 16], 3, 3)
    );
    assert_eq!(span.dropped_links_count, 32);

    let mut saturating = self::span("saturating");
    saturating.attributes = attributes(5);
    saturating.dropped_attributes_count = u32::MAX - 1;
    assert_eq!(translate_one(saturating, &options).dropped_attributes_count, u32::MAX);
}

#[test]
fn spans_within_the_caps_are_untouched() {
    let options = TraceIngestOptions::default();
    let mut at_cap = span("at cap");
    at_cap.attributes = attributes(options.max_attributes_per_span);
    at_cap.events = vec![OtlpEvent::default(); options.max_events_per_span];
    at_cap.links =
        vec![OtlpLink { trace_id: vec![1; 16], span_id: vec![1; 8], ..Default::default() }; options.max_links_per_span];
    let span = translate_one(at_cap, &options);
    assert_eq!(
        (span.attributes.len(), span.events.len(), span.links.len()),
        (options.max_attributes_per_span, options.max_events_per_span, options.max_links_per_span)
    );
    assert_eq!((span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count), (0, 0, 0));
}

#[test]
fn long_strings_are_cut_at_a_character_boundary() {
    let options = TraceIngestOptions { max_attribute_value_bytes: 5, ..TraceIngestOptions::default() };
    // "aé€" is 1 + 2 + 3 bytes: five bytes end inside the euro sign, so it is dropped whole.
    let long = "aé€xyz";
    let mut otlp = span(long);
    otlp.trace_state = long.to_owned();
    otlp.attributes = vec![
        kv("fits", text("12345")),
        kv("long key", text(long)),
        kv("bytes", any(any_value::Value::BytesValue(vec![7; 9]))),
        kv(
            "nested",
            any(any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue { value: text("abcdefgh").unwrap().value }],
            })),
        ),
        kv("map", any(any_value::Value::KvlistValue(KeyValueList { values: vec![kv("k", text("abcdefgh"))] }))),
        kv("int", any(any_value::Value::IntValue(1_234_567_890))),
    ];
    otlp.events =
        vec![OtlpEvent { name: long.to_owned(), attributes: vec![kv("e", text(long))], ..Default::default() }];
    otlp.links = vec![OtlpLink {
        trace_id: vec![1; 16],
        span_id: vec![1; 8],
        trace_state: long.to_owned(),
        attributes: vec![kv("l", text(long))],
        ..Default::default()
    }];
    otlp.status = Some(OtlpStatus { message: long.to_owned(), code: 2 });
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(OtlpResource {
                attributes: vec![kv("service.name", text("checkout-service"))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: long.to_owned(),
                    version: "1.2.3.4".to_owned(),
                    ..Default::default()
                }),
                spans: vec![otlp],
                schema_url: "https://x".to_owned(),
            }],
            schema_url: "https://y".to_owned(),
        }],
    };
    let (spans, rejected, _) = spans_from_otlp(request, &options);
    assert_eq!(rejected, 0);
    let span = &spans[0];
    assert_eq!(span.name, "aé");
    assert_eq!(span.trace_state, "aé");
    assert_eq!(
        span.attributes,
        vec![
            KeyValue::string("fits", "12345"),
            KeyValue::string("long ", "aé"),
            KeyValue::new("bytes", AttributeValue::Bytes(vec![7; 5])),
            KeyValue::new("neste", AttributeValue::Array(vec![AttributeValue::String("abcde".into())])),
            KeyValue::new("map", AttributeValue::KeyValueList(vec![KeyValue::string("k", "abcde")])),
            KeyValue::new("int", AttributeValue::Int(1_234_567_890)),
        ]
    );
    assert_eq!((span.events[0].name.as_str(), &span.events[0].attributes[0]), ("aé", &KeyValue::string("e", "aé")));
    assert_eq!(
        (span.links[0].trace_state.as_str(), &span.links[0].attributes[0]),
        ("aé", &KeyValue::string("l", "aé"))
    );
    assert_eq!(span.status.message, "aé");
    assert_eq!(span.resource.attributes[0], KeyValue::string("servi", "check"));
    assert_eq!((span.resource.schema_url.as_str(), span.scope.schema_url.as_str()), ("https", "https"));
    assert_eq!((span.scope.name.as_str(), span.scope.version.as_str()), ("aé", "1.2.3"));
    assert_eq!(span.dropped_attributes_count, 0, "cutting a value is not dropping it");
}

#[test]
fn empty_requests_and_responses() {
    let (spans, rejected, message) =
        spans_from_otlp(ExportTraceServiceRequest::default(), &TraceIngestOptions::default());
    assert!(spans.is_empty() && rejected == 0 && message.is_empty());
    assert_eq!(export_response(0, String::new()).partial_success, None);
    let partial = export_response(3, "why".to_owned()).partial_success.unwrap();
    assert_eq!((partial.rejected_spans, partial.error_message.as_str()), (3, "why"));
}

// Pharos — ingest/src/otlp_traces/tests.rs

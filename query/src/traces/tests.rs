//! End-to-end tests of the trace APIs over [`MemoryTraces`]: every route through the router, the
//! protobuf round trip, the search driver, and the golden files of the JSON shapes Grafana's
//! Jaeger and Tempo datasources parse (`query/tests/golden/traces/{jaeger,tempo}/<name>.request` →
//! `<name>.response.json`; `UPDATE_GOLDEN=1` rewrites the responses).

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode as Http};
use http_body_util::BodyExt;
use pharos_proto::BuildInfo;
use pharos_proto::otlp::common::v1 as pb_common;
use pharos_proto::otlp::trace::v1 as pb;
use pharos_storage::traces::{
    AttributeValue, Event, KeyValue, Link, Resource, Scope, Span, SpanKind, SpanQuery, Status, StatusCode, TimeRange,
    TraceId,
};
use prost::Message;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::otlp_out::{JsonFlavor, resource_spans_json, traces_data};
use super::reader::{MemoryTraces, TraceReader};
use super::search::{self, MAX_CANDIDATE_TRACES};
use super::tempo::{TEMPO_API_VERSION, TraceByIdResponse};
use super::{jaeger, router};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
/// Base time of the fixture: 2023-11-14T22:13:20Z.
const T0: u64 = 1_700_000_000 * S;

/// Trace 1: the high 64 bits are zero (Jaeger writes 16 digits, Tempo trims the zeros).
const TRACE_CART: TraceId = [0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x06, 0x17];
const TRACE_HEALTH: TraceId =
    [0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36];
const TRACE_QUEUE: TraceId = [0x11; 16];

fn span_id(n: u8) -> [u8; 8] {
    [0, 0, 0, 0, 0, 0, 0xa0, n]
}

fn frontend() -> Arc<Resource> {
    Arc::new(Resource {
        attributes: vec![
            KeyValue::string("service.name", "frontend"),
            KeyValue::string("host.name", "web-1"),
            KeyValue::string("service.version", "1.2.0"),
        ],
        ..Default::default()
    })
}

fn checkout() -> Arc<Resource> {
    Arc::new(Resource {
        attributes: vec![
            KeyValue::string("service.name", "checkout"),
            KeyValue::string("k8s.pod.name", "checkout-7f9"),
            KeyValue::new("process.pid", AttributeValue::Int(4242)),
        ],
        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
        ..Default::default()
    })
}

fn scope(name: &str, version: &str) -> Arc<Scope> {
    Arc::new(Scope { name: name.into(), version: version.into(), ..Default::default() })
}

#[allow(clippy::too_many_arguments)]
fn span(
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
    trace_id: TraceId,
    id: u8,
    parent: Option<u8>,
    name: &str,
    kind: SpanKind,
    start: u64,
    duration: u64,
) -> Span {
    Span {
        resource: resource.clone(),
        scope: scope.clone(),
        trace_id,
        span_id: span_id(id),
        parent_span_id: parent.map(span_id),
        flags: 1,
        name: name.into(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        ..Default::default()
    }
}

/// Three traces over two services: a failing cart request crossing frontend → checkout (events,
/// links, every attribute type), a health check, and a queue job with no root span stored.
fn fixture_spans() -> Vec<Span> {
    let (fe, co) = (frontend(), checkout());
    let http = scope("io.opentelemetry.http", "1.0.0");
    let db = Arc::new(Scope {
        name: "checkout-db".into(),
        version: "0.3".into(),
        attributes: vec![KeyValue::string("db.pool", "main")],
        ..Default::default()
    });
    let jobs = scope("jobs", "");

    let mut root = span(&fe, &http, TRACE_CART, 1, None, "GET /cart", SpanKind::Server, T0, 250 * MS);
    root.attributes = vec![
        KeyValue::string("http.method", "GET"),
        KeyValue::new("http.status_code", AttributeValue::Int(500)),
        KeyValue::string("http.route", "/cart"),
    ];
    root.status = Status { code: StatusCode::Error, message: "upstream failed".into() };
    root.events = vec![Event {
        time_unix_nano: T0 + 200 * MS,
        name: "exception".into(),
        attributes: vec![KeyValue::string("exception.type", "TimeoutError")],
        ..Default::default()
    }];

    let mut call = span(&fe, &http, TRACE_CART, 2, Some(1), "HTTP POST", SpanKind::Client, T0 + 10 * MS, 200 * MS);
    call.attributes = vec![KeyValue::string("http.method", "POST"), KeyValue::string("net.peer.name", "checkout")];

    let mut handler =
        span(&co, &http, TRACE_CART, 3, Some(2), "POST /checkout", SpanKind::Server, T0 + 20 * MS, 180 * MS);
    handler.attributes = vec![
        KeyValue::new("http.status_code", AttributeValue::Int(503)),
        KeyValue::new("retry", AttributeValue::Bool(true)),
        KeyValue::new("ratio", AttributeValue::Double(0.25)),
        KeyValue::new(
            "items",
            AttributeValue::Array(vec![AttributeValue::String("book".into()), AttributeValue::Int(2)]),
        ),
    ];
    handler.status = Status { code: StatusCode::Error, message: "db timeout".into() };
    handler.trace_state = "vendor=1".into();
    handler.links = vec![Link { trace_id: TRACE_QUEUE, span_id: span_id(1), ..Default::default() }];
    handler.events = vec![Event {
        time_unix_nano: T0 + 150 * MS,
        name: "retry".into(),
        attributes: vec![KeyValue::new("attempt", AttributeValue::Int(2))],
        ..Default::default()
    }];

    let mut query = span(&co, &db, TRACE_CART, 4, Some(3), "SELECT orders", SpanKind::Client, T0 + 30 * MS, 150 * MS);
    query.attributes = vec![
        KeyValue::string("db.system", "postgresql"),
        KeyValue::new("db.payload", AttributeValue::Bytes(vec![0xde, 0xad])),
        KeyValue::new(
            "db.options",
            AttributeValue::KeyValueList(vec![KeyValue::new("timeout", AttributeValue::Int(5))]),
        ),
    ];
    query.status = Status { code: StatusCode::Ok, message: String::new() };

    let mut health = span(&fe, &http, TRACE_HEALTH, 1, None, "GET /health", SpanKind::Server, T0 + 60 * S, 5 * MS);
    health.status.code = StatusCode::Ok;
    health.attributes = vec![KeyValue::string("http.method", "GET")];
    let ready = span(&co, &http, TRACE_HEALTH, 2, Some(1), "GET /ready", SpanKind::Server, T0 + 60 * S + MS, 2 * MS);

    // The queue job's root span (id 9) was never received.
    let consume =
        span(&co, &jobs, TRACE_QUEUE, 1, Some(9), "process-queue", SpanKind::Consumer, T0 + 120 * S, 1500 * MS);
    let compute =
        span(&co, &jobs, TRACE_QUEUE, 2, Some(1), "compute", SpanKind::Unspecified, T0 + 120 * S + MS, 900 * MS);

    // Stored out of order, as a store may hold them.
    vec![query, health, root, consume, handler, ready, call, compute]
}

fn reader() -> Arc<MemoryTraces> {
    Arc::new(MemoryTraces::new(fixture_spans()))
}

struct Answer {
    status: Http,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn call_with(reader: Arc<dyn TraceReader>, uri: &str, accept: Option<&str>) -> Answer {
    let app = router(reader, Arc::new(BuildInfo::for_tests()));
    let mut request = Request::builder().uri(uri);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, content_type, body }
}

async fn call(uri: &str) -> Answer {
    call_with(reader(), uri, None).await
}

async fn get_json(uri: &str) -> Value {
    let answer = call(uri).await;
    assert_eq!(answer.status, Http::OK, "{uri}: {}", answer.text());
    answer.json()
}

/// `start`/`end` µs covering the fixture, for Jaeger searches.
fn jaeger_window() -> String {
    format!("start={}&end={}", T0 / 1000 - 1_000_000, T0 / 1000 + 300_000_000)
}

// ---- reader --------------------------------------------------------------------------------------

#[test]
fn memory_reader_honours_every_condition_newest_first() {
    let traces = reader();
    let all = TimeRange::ALL;
    let collect = |query: &SpanQuery| {
        let mut names = Vec::new();
        traces
            .search(query, &mut |s| {
                names.push(s.name.clone());
                ControlFlow::Continue(())
            })
            .unwrap();
        names
    };
    let mut q = SpanQuery::in_range(all);
    assert_eq!(collect(&q).len(), 8);
    assert_eq!(collect(&q)[0], "compute", "newest start first");
    q.attributes = vec![("http.status_code".into(), "503".into())];
    assert_eq!(collect(&q), vec!["POST /checkout"]);
    // A resource attribute answers when the span has no such attribute.
    q.attributes = vec![("k8s.pod.name".into(), "checkout-7f9".into())];
    assert_eq!(collect(&q).len(), 5);
    let mut q = SpanQuery::in_range(all);
    q.service = Some("frontend".into());
    q.kind = Some(SpanKind::Server);
    assert_eq!(collect(&q), vec!["GET /health", "GET /cart"]);
    let mut q = SpanQuery::in_range(all);
    q.error_only = true;
    q.min_duration_nanos = Some(200 * MS);
    assert_eq!(collect(&q), vec!["GET /cart"]);
    let mut q = SpanQuery::in_range(TimeRange::new(T0 as i64 + 60 * S as i64, T0 as i64 + 61 * S as i64));
    q.max_duration_nanos = Some(2 * MS);
    assert_eq!(collect(&q), vec!["GET /ready"]);
    // Break stops the visit.
    let mut seen = 0;
    traces
        .search(&SpanQuery::in_range(all), &mut |_| {
            seen += 1;
            if seen == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert_eq!(seen, 3);
    // Catalogue.
    assert_eq!(traces.services(all), vec!["checkout", "frontend"]);
    let ops: Vec<String> = traces.operations("checkout", all).into_iter().map(|o| o.name).collect();
    assert_eq!(ops, vec!["GET /ready", "POST /checkout", "SELECT orders", "compute", "process-queue"]);
    assert!(traces.tag_names(pharos_storage::traces::TagScope::Span, all).contains(&"db.system".to_string()));
    let codes = traces.tag_values(pharos_storage::traces::TagScope::Span, "http.status_code", all, 10);
    assert_eq!(codes, vec![AttributeValue::Int(500), AttributeValue::Int(503)]);
    let trace = traces.trace(&TRACE_CART, all).unwrap();
    assert_eq!(trace.iter().map(|s| s.span_id[7]).collect::<Vec<_>>(), vec![1, 2, 3, 4], "sorted by start");
}

// ---- search driver -------------------------------------------------------------------------------

/// `n` single-span traces, one per second, trace id = its number.
fn many_traces(n: u8) -> MemoryTraces {
    let (fe, http) = (frontend(), scope("s", ""));
    MemoryTraces::new(
        (1..=n)
            .map(|i| span(&fe, &http, [i; 16], 1, None, &format!("op{i}"), SpanKind::Server, T0 + u64::from(i) * S, MS))
            .collect(),
    )
}

#[test]
fn find_traces_returns_newest_matches_and_respects_the_candidate_cap() {
    let traces = many_traces(60);
    let query = SpanQuery::in_range(TimeRange::ALL);
    // Every third trace is accepted: passes resume below the oldest span seen.
    let found = search::find_traces(&traces, &query, &|_| true, 5, MAX_CANDIDATE_TRACES, &mut |spans| {
        (spans[0].trace_id[0] % 3 == 0).then(|| spans[0].trace_id[0])
    })
    .unwrap();
    assert_eq!(found.traces, vec![60, 57, 54, 51, 48]);
    assert!(!found.candidate_limit_reached);
    assert_eq!(found.inspected_traces, 13);
    // A cap of 10 candidates leaves the search short of its limit, and says so.
    let found = search::find_traces(&traces, &query, &|_| true, 5, 10, &mut |spans| {
        (spans[0].trace_id[0] % 7 == 0).then_some(())
    })
    .unwrap();
    assert_eq!(found.traces.len(), 1, "only 56 lies within the 10 newest");
    assert!(found.candidate_limit_reached);
    assert_eq!(found.inspected_traces, 10);
    // A span filter the store cannot check.
    let found =
        search::find_traces(&traces, &query, &|s| s.name.ends_with('5'), 100, MAX_CANDIDATE_TRACES, &mut |spans| {
            Some(spans[0].name.clone())
        })
        .unwrap();
    assert_eq!(found.traces, vec!["op55", "op45", "op35", "op25", "op15", "op5"]);
}

#[test]
fn dependencies_count_calls_across_services_within_the_window() {
    let traces = reader();
    let links = search::dependencies(traces.as_ref(), TimeRange::ALL, 1_000).unwrap();
    assert_eq!(
        links,
        vec![search::DependencyLink { parent: "frontend".into(), child: "checkout".into(), call_count: 2 }]
    );
    // Only the health check's spans in the window.
    let window = TimeRange::new((T0 + 59 * S) as i64, (T0 + 61 * S) as i64);
    assert_eq!(search::dependencies(traces.as_ref(), window, 1_000).unwrap()[0].call_count, 1);
    // The span cap: the two newest spans are the queue job's, which calls nobody else.
    assert!(search::dependencies(traces.as_ref(), TimeRange::ALL, 2).unwrap().is_empty());
}

// ---- Jaeger v1 -----------------------------------------------------------------------------------

#[tokio::test]
async fn jaeger_services_and_operations() {
    let services = get_json("/jaeger/api/services").await;
    assert_eq!(
        services,
        json!({"data": ["checkout", "frontend"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    let legacy = get_json("/jaeger/api/services/frontend/operations").await;
    assert_eq!(legacy["data"], json!(["GET /cart", "GET /health", "HTTP POST"]));
    let ops = get_json("/jaeger/api/operations?service=checkout&spanKind=server").await;
    assert_eq!(
        ops["data"],
        json!([{"name": "GET /ready", "spanKind": "server"}, {"name": "POST /checkout", "spanKind": "server"}])
    );
    assert_eq!(ops["total"], 2);
    let all = get_json("/jaeger/api/operations?service=checkout").await;
    assert!(all["data"].as_array().unwrap().contains(&json!({"name": "compute", "spanKind": ""})));
    let missing = call("/jaeger/api/operations").await;
    assert_eq!(missing.status, Http::BAD_REQUEST);
    assert_eq!(missing.json()["errors"][0], json!({"code": 400, "msg": "parameter 'service' is required"}));
}

#[tokio::test]
async fn jaeger_trace_follows_the_translator_conventions() {
    let body = get_json("/jaeger/api/traces/ab1c2d3e4f50617").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let trace = &body["data"][0];
    assert_eq!(trace["traceID"], "0ab1c2d3e4f50617", "16 digits when the high half is zero");
    let processes = trace["processes"].as_object().unwrap();
    assert_eq!(processes.len(), 2);
    assert_eq!(processes["p1"]["serviceName"], "frontend");
    assert_eq!(processes["p2"]["serviceName"], "checkout");
    assert_eq!(processes["p2"]["tags"][1], json!({"key": "process.pid", "type": "int64", "value": 4242}));
    let spans = trace["spans"].as_array().unwrap();
    let by_name = |name: &str| spans.iter().find(|s| s["operationName"] == name).unwrap();
    let tag = |span: &Value, key: &str| span["tags"].as_array().unwrap().iter().find(|t| t["key"] == key).cloned();
    let root = by_name("GET /cart");
    assert_eq!(root["startTime"], json!(T0 / 1000));
    assert_eq!(root["duration"], 250_000);
    assert_eq!(root["references"], json!([]));
    assert_eq!(root["processID"], "p1");
    assert_eq!(root["flags"], 1);
    assert_eq!(tag(root, "span.kind").unwrap()["value"], "server");
    assert_eq!(tag(root, "error"), Some(json!({"key": "error", "type": "bool", "value": true})));
    assert_eq!(tag(root, "otel.status_code").unwrap()["value"], "ERROR");
    assert_eq!(tag(root, "otel.status_description").unwrap()["value"], "upstream failed");
    assert_eq!(tag(root, "otel.scope.name").unwrap()["value"], "io.opentelemetry.http");
    assert_eq!(tag(root, "http.status_code"), Some(json!({"key": "http.status_code", "type": "int64", "value": 500})));
    assert_eq!(root["logs"][0]["timestamp"], json!((T0 + 200 * MS) / 1000));
    assert_eq!(root["logs"][0]["fields"][0], json!({"key": "event", "type": "string", "value": "exception"}));
    let handler = by_name("POST /checkout");
    assert_eq!(handler["processID"], "p2");
    assert_eq!(
        handler["references"],
        json!([
            {"refType": "CHILD_OF", "traceID": "0ab1c2d3e4f50617", "spanID": "000000000000a002"},
            {"refType": "FOLLOWS_FROM", "traceID": "11111111111111111111111111111111", "spanID": "000000000000a001"},
        ])
    );
    assert_eq!(tag(handler, "ratio").unwrap()["type"], "float64");
    assert_eq!(tag(handler, "items").unwrap()["value"], r#"["book",2]"#);
    assert_eq!(tag(handler, "w3c.tracestate").unwrap()["value"], "vendor=1");
    let db = by_name("SELECT orders");
    assert_eq!(tag(db, "db.payload"), Some(json!({"key": "db.payload", "type": "binary", "value": "3q0="})));
    assert_eq!(tag(db, "db.options").unwrap()["value"], r#"{"timeout":5}"#);
    assert_eq!(tag(db, "otel.status_code").unwrap()["value"], "OK");
    assert_eq!(tag(db, "otel.scope.version").unwrap()["value"], "0.3");
    assert!(tag(db, "error").is_none());
    // A full-width id keeps 32 digits; padded input is accepted.
    let health = get_json("/jaeger/api/traces/4BF92F3577B34DA6A3CE929D0E0E4736").await;
    assert_eq!(health["data"][0]["traceID"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let padded = get_json("/jaeger/api/traces/00000000000000000ab1c2d3e4f50617").await;
    assert_eq!(padded["data"][0]["spans"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn jaeger_trace_by_id_time_params_and_errors() {
    // Microseconds (Jaeger) and milliseconds (Grafana) both bound the spans read.
    let us = get_json(&format!("/jaeger/api/traces/ab1c2d3e4f50617?start={}&end={}", T0 / 1000, (T0 + 15 * MS) / 1000))
        .await;
    assert_eq!(us["data"][0]["spans"].as_array().unwrap().len(), 2);
    let ms = get_json(&format!("/jaeger/api/traces/ab1c2d3e4f50617?start={}&end={}", T0 / MS, T0 / MS + 15)).await;
    assert_eq!(ms["data"][0]["spans"].as_array().unwrap().len(), 2);
    let outside = call(&format!("/jaeger/api/traces/ab1c2d3e4f50617?start={}", (T0 + 10 * S) / 1000)).await;
    assert_eq!(outside.status, Http::NOT_FOUND);
    let missing = call("/jaeger/api/traces/12345").await;
    assert_eq!(missing.status, Http::NOT_FOUND);
    assert_eq!(
        missing.json(),
        json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": 404, "msg": "trace not found"}]})
    );
    for bad in ["xyz", "123456789012345678901234567890123", "0"] {
        let answer = call(&format!("/jaeger/api/traces/{bad}")).await;
        assert_eq!(answer.status, Http::BAD_REQUEST, "{bad}");
        assert_eq!(answer.json()["errors"][0]["code"], 400);
    }
    let bad_start = call("/jaeger/api/traces/12345?start=yesterday").await;
    assert_eq!(bad_start.status, Http::BAD_REQUEST);
}

async fn jaeger_search_ids(query: &str) -> Vec<String> {
    let body = get_json(&format!("/jaeger/api/traces?{}&{query}", jaeger_window())).await;
    body["data"].as_array().unwrap().iter().map(|t| t["traceID"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn jaeger_search_semantics() {
    const CART: &str = "0ab1c2d3e4f50617";
    const HEALTH: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const QUEUE: &str = "11111111111111111111111111111111";
    assert_eq!(jaeger_search_ids("service=frontend").await, vec![HEALTH, CART], "newest first");
    assert_eq!(jaeger_search_ids("service=checkout&limit=2").await, vec![QUEUE, HEALTH]);
    assert_eq!(jaeger_search_ids("service=checkout&operation=SELECT%20orders").await, vec![CART]);
    // Grafana's tags JSON (integers compared by their text) and Jaeger UI's tag=k:v.
    let tags = urlencode(r#"{"http.status_code":"503"}"#);
    assert_eq!(jaeger_search_ids(&format!("service=checkout&tags={tags}")).await, vec![CART]);
    assert_eq!(jaeger_search_ids("service=frontend&tag=http.method:GET&tag=http.route:/cart").await, vec![CART]);
    // A resource attribute, and conditions that must hold on the same span.
    assert_eq!(jaeger_search_ids("service=checkout&tag=k8s.pod.name:checkout-7f9&limit=10").await.len(), 3);
    assert!(jaeger_search_ids("service=frontend&tag=http.method:POST&tag=http.route:/cart").await.is_empty());
    // Special tags.
    assert_eq!(jaeger_search_ids("service=checkout&tag=error:true").await, vec![CART]);
    assert_eq!(jaeger_search_ids("service=frontend&tag=error:false&tag=span.kind:server").await, vec![HEALTH]);
    assert_eq!(jaeger_search_ids("service=checkout&tag=span.kind:consumer").await, vec![QUEUE]);
    assert_eq!(jaeger_search_ids("service=checkout&tag=otel.status_code:OK").await, vec![CART]);
    assert_eq!(jaeger_search_ids("service=frontend&tag=otel.status_code:ERROR").await, vec![CART]);
    assert_eq!(jaeger_search_ids("service=checkout&tag=otel.scope.name:jobs").await, vec![QUEUE]);
    assert_eq!(jaeger_search_ids("service=frontend&tag=otel.status_description:upstream%20failed").await, vec![CART]);
    // Span durations.
    assert_eq!(jaeger_search_ids("service=checkout&minDuration=1s").await, vec![QUEUE]);
    assert_eq!(jaeger_search_ids("service=frontend&minDuration=100ms&maxDuration=210ms").await, vec![CART]);
    assert_eq!(jaeger_search_ids("service=frontend&maxDuration=5ms").await, vec![HEALTH]);
    // The time window.
    let early = format!("/jaeger/api/traces?service=frontend&start={}&end={}", T0 / 1000, (T0 + S) / 1000);
    assert_eq!(get_json(&early).await["data"].as_array().unwrap().len(), 1);
    // By id, with a missing one reported in errors.
    let by_id = get_json(&format!("/jaeger/api/traces?traceID={CART}&traceID=beef")).await;
    assert_eq!(by_id["data"][0]["traceID"], CART);
    assert_eq!(by_id["errors"], json!([{"msg": "trace not found", "traceID": "000000000000beef"}]));
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn jaeger_search_rejects_bad_parameters() {
    let cases = [
        ("minDuration=1s&maxDuration=100ms&service=a", "'maxDuration' should be greater than 'minDuration'"),
        ("operation=x", "parameter 'service' is required"),
        ("service=a&limit=0", "invalid parameter: limit must be greater than 0"),
        ("service=a&tag=novalue", "malformed 'tag' parameter"),
        ("service=a&tags=%7Bnope", "malformed 'tags' parameter"),
        ("service=a&minDuration=10", "missing unit"),
        ("service=a&start=5&end=4", "start time must be before end time"),
        ("traceID=zz", "cannot parse traceID"),
    ];
    for (query, wanted) in cases {
        let answer = call(&format!("/jaeger/api/traces?{query}")).await;
        assert_eq!(answer.status, Http::BAD_REQUEST, "{query}");
        let body = answer.json();
        assert_eq!(body["data"], Value::Null);
        let msg = body["errors"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(wanted), "{query}: {msg}");
    }
}

#[tokio::test]
async fn jaeger_dependencies_and_service_filter() {
    let end_ms = (T0 + 300 * S) / MS;
    let deps = get_json(&format!("/jaeger/api/dependencies?endTs={end_ms}&lookback=600000")).await;
    assert_eq!(deps["data"], json!([{"parent": "frontend", "child": "checkout", "callCount": 2}]));
    let other = get_json(&format!("/jaeger/api/dependencies?endTs={end_ms}&lookback=600000&service=billing")).await;
    assert_eq!(other["data"], json!([]));
    // Default lookback is 24 h before now: the 2023 fixture is outside.
    assert_eq!(get_json("/jaeger/api/dependencies").await["data"], json!([]));
    assert_eq!(call("/jaeger/api/dependencies?endTs=x").await.status, Http::BAD_REQUEST);
}

#[test]
fn jaeger_special_tags_map_onto_the_store_query() {
    let mut query = SpanQuery::in_range(TimeRange::ALL);
    let tags = vec![
        ("error".to_string(), "true".to_string()),
        ("span.kind".into(), "client".into()),
        ("otel.status_code".into(), "OK".into()),
        ("http.method".into(), "GET".into()),
    ];
    let conditions = jaeger::apply_jaeger_tags(&mut query, tags);
    assert!(query.error_only);
    assert_eq!(query.kind, Some(SpanKind::Client));
    assert_eq!(query.attributes, vec![("http.method".to_string(), "GET".to_string())]);
    assert_eq!(conditions, vec![jaeger::SpanCondition::Status(StatusCode::Ok)]);
}

// ---- Jaeger api_v3 -------------------------------------------------------------------------------

#[tokio::test]
async fn jaeger_v3_routes() {
    assert_eq!(get_json("/jaeger/api/v3/services").await, json!({"services": ["checkout", "frontend"]}));
    let ops = get_json("/jaeger/api/v3/operations?service=checkout&span_kind=internal").await;
    assert_eq!(ops, json!({"operations": [{"name": "compute", "spanKind": "internal"}]}));
    let trace = get_json("/jaeger/api/v3/traces/0ab1c2d3e4f50617").await;
    let resource_spans = trace["result"]["resourceSpans"].as_array().unwrap();
    assert_eq!(resource_spans.len(), 2);
    let first = &resource_spans[0]["scopeSpans"][0]["spans"][0];
    assert_eq!(first["traceId"], "00000000000000000ab1c2d3e4f50617", "32 hex digits in OTLP");
    assert_eq!(first["kind"], 2, "enums as integers");
    assert_eq!(first["status"], json!({"message": "upstream failed", "code": 2}));
    assert_eq!(first["startTimeUnixNano"], T0.to_string());
    let start = "2023-11-14T22:13:00Z";
    let end = "2023-11-14T22:16:00Z";
    let found = get_json(&format!(
        "/jaeger/api/v3/traces?query.service_name=checkout&query.start_time_min={start}&query.start_time_max={end}&query.duration_min=1s"
    ))
    .await;
    let spans = &found["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"];
    assert_eq!(spans.as_array().unwrap().len(), 2);
    assert_eq!(spans[0]["traceId"], "11111111111111111111111111111111");
    let camel = get_json(&format!(
        "/jaeger/api/v3/traces?query.serviceName=frontend&query.startTimeMin={start}&query.startTimeMax={end}&query.searchDepth=1"
    ))
    .await;
    assert_eq!(camel["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"], "GET /health");
    let attrs = urlencode(r#"{"db.system":"postgresql"}"#);
    let by_attr = get_json(&format!(
        "/jaeger/api/v3/traces?query.start_time_min={start}&query.start_time_max={end}&query.attributes={attrs}"
    ))
    .await;
    assert_eq!(by_attr["result"]["resourceSpans"].as_array().unwrap().len(), 2, "the cart trace's two resources");
    // Errors in the gateway's shape.
    let none = call(&format!(
        "/jaeger/api/v3/traces?query.service_name=nobody&query.start_time_min={start}&query.start_time_max={end}"
    ))
    .await;
    assert_eq!(none.status, Http::NOT_FOUND);
    assert_eq!(none.json(), json!({"error": {"http_code": 404, "message": "No traces found"}}));
    let no_times = call("/jaeger/api/v3/traces?query.service_name=checkout").await;
    assert_eq!(no_times.status, Http::BAD_REQUEST);
    let bad_time =
        call(&format!("/jaeger/api/v3/traces?query.start_time_min=yesterday&query.start_time_max={end}")).await;
    assert!(bad_time.json()["error"]["message"].as_str().unwrap().contains("malformed parameter query.start_time_min"));
    assert_eq!(call("/jaeger/api/v3/traces/beef").await.status, Http::NOT_FOUND);
    assert_eq!(call("/jaeger/api/v3/traces/not-hex").await.status, Http::BAD_REQUEST);
}

// ---- OTLP out ------------------------------------------------------------------------------------

#[test]
fn otlp_grouping_and_both_json_flavours() {
    let mut spans = reader().trace(&TRACE_CART, TimeRange::ALL).unwrap();
    // A copy of the frontend resource from another export joins the same group.
    spans[1].resource = frontend();
    let otlp = resource_spans_json(&spans, JsonFlavor::Otlp);
    let groups = otlp.as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0]["resource"]["attributes"][0],
        json!({"key": "service.name", "value": {"stringValue": "frontend"}})
    );
    assert_eq!(groups[0]["scopeSpans"][0]["spans"].as_array().unwrap().len(), 2);
    assert_eq!(groups[1]["scopeSpans"].as_array().unwrap().len(), 2, "checkout has two scopes");
    assert_eq!(groups[1]["schemaUrl"], "https://opentelemetry.io/schemas/1.21.0");
    assert_eq!(groups[1]["scopeSpans"][1]["scope"]["attributes"][0]["key"], "db.pool");
    let handler = &groups[1]["scopeSpans"][0]["spans"][0];
    assert_eq!(handler["parentSpanId"], "000000000000a002");
    assert_eq!(handler["links"][0]["traceId"], "11111111111111111111111111111111");
    assert_eq!(handler["attributes"][0]["value"], json!({"intValue": "503"}));
    assert_eq!(handler["attributes"][2]["value"], json!({"doubleValue": 0.25}));
    assert_eq!(
        handler["attributes"][3]["value"],
        json!({"arrayValue": {"values": [{"stringValue": "book"}, {"intValue": "2"}]}})
    );
    assert_eq!(handler["events"][0]["timeUnixNano"], (T0 + 150 * MS).to_string());
    let db = &groups[1]["scopeSpans"][1]["spans"][0];
    assert_eq!(db["attributes"][1]["value"], json!({"bytesValue": "3q0="}));
    assert_eq!(
        db["attributes"][2]["value"],
        json!({"kvlistValue": {"values": [{"key": "timeout", "value": {"intValue": "5"}}]}})
    );
    // Tempo's jsonpb: base64 ids, enum names.
    let tempo = resource_spans_json(&spans, JsonFlavor::TempoJsonpb);
    let root = &tempo[0]["scopeSpans"][0]["spans"][0];
    assert_eq!(root["traceId"], "AAAAAAAAAAAKscLT5PUGFw==");
    assert_eq!(root["spanId"], "AAAAAAAAoAE=");
    assert_eq!(root["kind"], "SPAN_KIND_SERVER");
    assert_eq!(root["status"], json!({"message": "upstream failed", "code": "STATUS_CODE_ERROR"}));
    assert!(root.get("parentSpanId").is_none());
}

/// OTLP protobuf back into the model, to compare with the spans that went out.
fn spans_from_proto(data: &pb::TracesData) -> Vec<Span> {
    fn value(v: &pb_common::AnyValue) -> AttributeValue {
        use pb_common::any_value::Value as V;
        match &v.value {
            None => AttributeValue::Empty,
            Some(V::StringValue(s)) => AttributeValue::String(s.clone()),
            Some(V::BoolValue(b)) => AttributeValue::Bool(*b),
            Some(V::IntValue(i)) => AttributeValue::Int(*i),
            Some(V::DoubleValue(d)) => AttributeValue::Double(*d),
            Some(V::BytesValue(b)) => AttributeValue::Bytes(b.clone()),
            Some(V::ArrayValue(a)) => AttributeValue::Array(a.values.iter().map(value).collect()),
            Some(V::KvlistValue(l)) => AttributeValue::KeyValueList(attributes(&l.values)),
            Some(other) => panic!("unexpected value {other:?}"),
        }
    }
    fn attributes(list: &[pb_common::KeyValue]) -> Vec<KeyValue> {
        list.iter().map(|kv| KeyValue::new(kv.key.clone(), kv.value.as_ref().map(value).unwrap_or_default())).collect()
    }
    let mut out = Vec::new();
    for rs in &data.resource_spans {
        let r = rs.resource.clone().unwrap_or_default();
        let resource = Arc::new(Resource {
            attributes: attributes(&r.attributes),
            dropped_attributes_count: r.dropped_attributes_count,
            schema_url: rs.schema_url.clone(),
        });
        for ss in &rs.scope_spans {
            let s = ss.scope.clone().unwrap_or_default();
            let scope = Arc::new(Scope {
                name: s.name,
                version: s.version,
                attributes: attributes(&s.attributes),
                dropped_attributes_count: s.dropped_attributes_count,
                schema_url: ss.schema_url.clone(),
            });
            for p in &ss.spans {
                let status = p.status.clone().unwrap_or_default();
                out.push(Span {
                    resource: resource.clone(),
                    scope: scope.clone(),
                    trace_id: p.trace_id.as_slice().try_into().unwrap(),
                    span_id: p.span_id.as_slice().try_into().unwrap(),
                    parent_span_id: (!p.parent_span_id.is_empty())
                        .then(|| p.parent_span_id.as_slice().try_into().unwrap()),
                    trace_state: p.trace_state.clone(),
                    flags: p.flags,
                    name: p.name.clone(),
                    kind: SpanKind::from_i32(p.kind),
                    start_time_unix_nano: p.start_time_unix_nano,
                    end_time_unix_nano: p.end_time_unix_nano,
                    attributes: attributes(&p.attributes),
                    dropped_attributes_count: p.dropped_attributes_count,
                    events: p
                        .events
                        .iter()
                        .map(|e| Event {
                            time_unix_nano: e.time_unix_nano,
                            name: e.name.clone(),
                            attributes: attributes(&e.attributes),
                            dropped_attributes_count: e.dropped_attributes_count,
                        })
                        .collect(),
                    dropped_events_count: p.dropped_events_count,
                    links: p
                        .links
                        .iter()
                        .map(|l| Link {
                            trace_id: l.trace_id.as_slice().try_into().unwrap(),
                            span_id: l.span_id.as_slice().try_into().unwrap(),
                            trace_state: l.trace_state.clone(),
                            attributes: attributes(&l.attributes),
                            dropped_attributes_count: l.dropped_attributes_count,
                            flags: l.flags,
                        })
                        .collect(),
                    dropped_links_count: p.dropped_links_count,
                    status: Status { code: StatusCode::from_i32(status.code), message: status.message },
                });
            }
        }
    }
    out
}

fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.start_time_unix_nano, s.span_id));
    spans
}

#[test]
fn protobuf_round_trip_keeps_every_field() {
    let source = reader().trace(&TRACE_CART, TimeRange::ALL).unwrap();
    let bytes = traces_data(&source).encode_to_vec();
    let decoded = pb::TracesData::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded.resource_spans.len(), 2);
    assert_eq!(sorted(spans_from_proto(&decoded)), source);
}

// ---- Tempo ---------------------------------------------------------------------------------------

#[tokio::test]
async fn tempo_echo_and_buildinfo() {
    let echo = call("/tempo/api/echo").await;
    assert_eq!((echo.status, echo.text().as_str()), (Http::OK, "echo"));
    let info = get_json("/tempo/api/status/buildinfo").await;
    assert_eq!(info["version"], TEMPO_API_VERSION);
    assert_eq!(info["goVersion"], "rustc");
    let version: Vec<u32> = TEMPO_API_VERSION.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(version >= vec![2, 7, 0], "Grafana enables TraceQL metrics streaming from 2.7");
}

#[tokio::test]
async fn tempo_trace_by_id_json_and_protobuf() {
    let v1 = get_json("/tempo/api/traces/ab1c2d3e4f50617").await;
    assert_eq!(v1["batches"].as_array().unwrap().len(), 2);
    assert_eq!(v1["batches"][0]["scopeSpans"][0]["spans"][0]["traceId"], "AAAAAAAAAAAKscLT5PUGFw==");
    let v2 = get_json("/tempo/api/v2/traces/ab1c2d3e4f50617").await;
    assert_eq!(v2["trace"]["resourceSpans"], v1["batches"]);
    let source = reader().trace(&TRACE_CART, TimeRange::ALL).unwrap();
    // v1 protobuf: TracesData.
    let answer = call_with(reader(), "/tempo/api/traces/ab1c2d3e4f50617", Some("application/protobuf")).await;
    assert_eq!(answer.status, Http::OK);
    assert_eq!(answer.content_type, "application/protobuf");
    assert_eq!(sorted(spans_from_proto(&pb::TracesData::decode(answer.body.as_slice()).unwrap())), source);
    // v2 protobuf: TraceByIDResponse wrapping it.
    let answer = call_with(reader(), "/tempo/api/v2/traces/ab1c2d3e4f50617", Some("application/protobuf")).await;
    let response = TraceByIdResponse::decode(answer.body.as_slice()).unwrap();
    assert_eq!(response.status, 0, "COMPLETE");
    assert_eq!(sorted(spans_from_proto(response.trace.as_ref().unwrap())), source);
    // start/end in seconds bound the spans; a trace outside is not found.
    let t0 = T0 / S;
    let early = get_json(&format!("/tempo/api/traces/ab1c2d3e4f50617?start={t0}&end={t0}")).await;
    let count: usize = early["batches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["scopeSpans"].as_array().unwrap())
        .map(|s| s["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(count, 4, "end covers its whole second");
    let answer = call(&format!("/tempo/api/traces/ab1c2d3e4f50617?start={}&end={}", t0 + 10, t0 + 20)).await;
    assert_eq!((answer.status, answer.text().trim()), (Http::NOT_FOUND, "trace not found"));
    assert_eq!(answer.content_type, "text/plain; charset=utf-8");
    let bad = call("/tempo/api/v2/traces/not-a-trace").await;
    assert_eq!(bad.status, Http::BAD_REQUEST);
    assert!(bad.text().contains("invalid trace id"));
    let backwards = call(&format!("/tempo/api/traces/ab1c2d3e4f50617?start={}&end={}", t0 + 10, t0)).await;
    assert_eq!(backwards.status, Http::BAD_REQUEST);
}

fn tempo_window() -> String {
    format!("start={}&end={}", T0 / S - 10, T0 / S + 300)
}

async fn tempo_search(query: &str) -> Value {
    get_json(&format!("/tempo/api/search?{}&{query}", tempo_window())).await
}

fn tempo_ids(body: &Value) -> Vec<String> {
    body["traces"].as_array().unwrap().iter().map(|t| t["traceID"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn tempo_tag_search() {
    const CART: &str = "ab1c2d3e4f50617";
    const HEALTH: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const QUEUE: &str = "11111111111111111111111111111111";
    let all = tempo_search("").await;
    assert_eq!(tempo_ids(&all), vec![QUEUE, HEALTH, CART]);
    let cart = &all["traces"][2];
    assert_eq!(cart["rootServiceName"], "frontend");
    assert_eq!(cart["rootTraceName"], "GET /cart");
    assert_eq!(cart["startTimeUnixNano"], T0.to_string());
    assert_eq!(cart["durationMs"], 250);
    assert_eq!(cart["serviceStats"]["checkout"], json!({"spanCount": 2, "errorCount": 1}));
    assert_eq!(all["traces"][0]["rootServiceName"], "<root span not yet received>");
    assert_eq!(all["metrics"]["inspectedTraces"], 3);
    assert_eq!(all["metrics"]["candidateTracesLimitReached"], false);
    let tags = |t: &str| format!("tags={}", urlencode(t));
    assert_eq!(tempo_ids(&tempo_search(&tags("service.name=checkout http.status_code=503")).await), vec![CART]);
    assert_eq!(tempo_ids(&tempo_search(&tags(r#"name="GET /health""#)).await), vec![HEALTH]);
    assert_eq!(tempo_ids(&tempo_search(&tags("status.code=error")).await), vec![CART]);
    assert_eq!(tempo_ids(&tempo_search(&tags("root.service.name=frontend")).await), vec![HEALTH, CART]);
    assert_eq!(tempo_ids(&tempo_search(&tags("root.name=/nothing")).await), Vec::<String>::new());
    // Durations bound the trace, not a span: the health check lasts 5 ms, its spans less.
    assert_eq!(tempo_ids(&tempo_search("minDuration=4ms&maxDuration=10ms").await), vec![HEALTH]);
    assert_eq!(tempo_ids(&tempo_search("minDuration=1s").await), vec![QUEUE]);
    assert_eq!(tempo_ids(&tempo_search("limit=1").await), vec![QUEUE]);
    // Without start/end the last hour is searched: the 2023 fixture is outside it.
    assert_eq!(tempo_ids(&get_json("/tempo/api/search").await), Vec::<String>::new());
}

#[tokio::test]
async fn tempo_traceql_search() {
    const CART: &str = "ab1c2d3e4f50617";
    const QUEUE: &str = "11111111111111111111111111111111";
    let q = |text: &str| format!("q={}", urlencode(text));
    let errors = tempo_search(&q(r#"{ resource.service.name = "checkout" && status = error }"#)).await;
    assert_eq!(tempo_ids(&errors), vec![CART]);
    let spanset = &errors["traces"][0]["spanSets"][0];
    assert_eq!(spanset["matched"], 1);
    assert_eq!(spanset["spans"][0]["spanID"], "000000000000a003");
    assert_eq!(spanset["spans"][0]["durationNanos"], (180 * MS).to_string());
    assert_eq!(errors["traces"][0]["spanSet"], *spanset);
    assert_eq!(tempo_ids(&tempo_search(&q("{ duration > 1s }")).await), vec![QUEUE]);
    // A trace-level condition the store cannot check: candidates are judged whole.
    assert_eq!(tempo_ids(&tempo_search(&q(r#"{ rootServiceName = "frontend" } | count() > 3"#)).await), vec![CART]);
    // spss bounds the spans listed, not `matched`.
    let all = tempo_search(&format!("{}&spss=2", q("{ }"))).await;
    let cart = all["traces"].as_array().unwrap().iter().find(|t| t["traceID"] == CART).unwrap();
    assert_eq!(cart["spanSets"][0]["matched"], 4);
    assert_eq!(cart["spanSets"][0]["spans"].as_array().unwrap().len(), 2);
    // The trace duration bounds still apply.
    assert_eq!(tempo_ids(&tempo_search(&format!("{}&maxDuration=1s", q("{ }"))).await).len(), 2);
    let bad = call(&format!("/tempo/api/search?{}", q("{ span.a = }"))).await;
    assert_eq!(bad.status, Http::BAD_REQUEST);
    assert!(bad.text().starts_with("invalid TraceQL query: parse error at line 1, col"), "{}", bad.text());
}

#[tokio::test]
async fn tempo_trace_v2_filters_spans_with_a_spanset() {
    let count = |body: &Value| -> usize {
        body["trace"]["resourceSpans"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["scopeSpans"].as_array().unwrap())
            .map(|s| s["spans"].as_array().unwrap().len())
            .sum()
    };
    let uri = |q: &str, extra: &str| format!("/tempo/api/v2/traces/ab1c2d3e4f50617?q={}{extra}", urlencode(q));
    assert_eq!(count(&get_json(&uri(r#"{ name = "SELECT orders" }"#, "")).await), 4, "with its ancestors");
    assert_eq!(count(&get_json(&uri(r#"{ name = "SELECT orders" }"#, "&keep_hierarchy=false")).await), 1);
    assert_eq!(count(&get_json(&uri("{ status = error }", "")).await), 3);
    assert_eq!(count(&get_json(&uri("{ status = error }", "&keep_hierarchy=false")).await), 2);
    assert_eq!(count(&get_json(&uri("{}", "")).await), 4);
    assert_eq!(call(&uri("{ status = }", "")).await.status, Http::BAD_REQUEST);
}

#[tokio::test]
async fn tempo_search_rejects_bad_parameters() {
    let cases = [
        ("minDuration=1s&maxDuration=100ms", "invalid maxDuration: must be greater than minDuration"),
        ("spss=101", "invalid spss"),
        ("limit=-1", "invalid limit"),
        ("minDuration=fast", "unable to parse param 'minDuration'"),
        ("start=20&end=10", "start must be before end"),
        ("tags=a%3D%22unterminated", "invalid tags"),
    ];
    for (query, wanted) in cases {
        let answer = call(&format!("/tempo/api/search?{query}")).await;
        assert_eq!(answer.status, Http::BAD_REQUEST, "{query}: {}", answer.text());
        assert_eq!(answer.content_type, "text/plain; charset=utf-8");
        assert!(answer.text().contains(wanted), "{query}: {}", answer.text());
    }
}

#[tokio::test]
async fn tempo_tag_names() {
    let v1 = get_json("/tempo/api/search/tags").await;
    let names: Vec<&str> = v1["tagNames"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(names.contains(&"service.name") && names.contains(&"http.method") && names.contains(&"db.system"));
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    let resource = get_json("/tempo/api/search/tags?scope=resource").await;
    assert_eq!(
        resource["tagNames"],
        json!(["host.name", "k8s.pod.name", "process.pid", "service.name", "service.version"])
    );
    let intrinsic = get_json("/tempo/api/search/tags?scope=intrinsic").await;
    assert!(intrinsic["tagNames"].as_array().unwrap().contains(&json!("status")));
    let v2 = get_json("/tempo/api/v2/search/tags").await;
    let scopes: Vec<&str> = v2["scopes"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(scopes, vec!["resource", "span", "intrinsic"]);
    let span_only = get_json("/tempo/api/v2/search/tags?scope=span&limit=2").await;
    assert_eq!(span_only["scopes"], json!([{"name": "span", "tags": ["db.options", "db.payload"]}]));
    let events = get_json("/tempo/api/v2/search/tags?scope=event").await;
    assert_eq!(events["scopes"], json!([{"name": "event", "tags": []}]));
    assert_eq!(call("/tempo/api/search/tags?scope=nope").await.status, Http::BAD_REQUEST);
}

#[tokio::test]
async fn tempo_tag_values() {
    let v1 = get_json("/tempo/api/search/tag/http.method/values").await;
    assert_eq!(v1["tagValues"], json!(["GET", "POST"]));
    let v1_resource = get_json("/tempo/api/search/tag/service.name/values").await;
    assert_eq!(v1_resource["tagValues"], json!(["checkout", "frontend"]));
    let services = get_json("/tempo/api/v2/search/tag/resource.service.name/values").await;
    assert_eq!(
        services["tagValues"],
        json!([{"type": "string", "value": "checkout"}, {"type": "string", "value": "frontend"}])
    );
    let codes = get_json("/tempo/api/v2/search/tag/span.http.status_code/values").await;
    assert_eq!(codes["tagValues"], json!([{"type": "int", "value": "500"}, {"type": "int", "value": "503"}]));
    let unscoped = get_json("/tempo/api/v2/search/tag/.k8s.pod.name/values").await;
    assert_eq!(unscoped["tagValues"], json!([{"type": "string", "value": "checkout-7f9"}]));
    let status = get_json("/tempo/api/v2/search/tag/status/values").await;
    assert_eq!(
        status["tagValues"],
        json!([{"type": "keyword", "value": "error"}, {"type": "keyword", "value": "ok"}, {"type": "keyword", "value": "unset"}])
    );
    let kinds = get_json("/tempo/api/v2/search/tag/kind/values").await;
    assert_eq!(kinds["tagValues"].as_array().unwrap().len(), 6);
    let names = get_json("/tempo/api/v2/search/tag/name/values?limit=2").await;
    assert_eq!(
        names["tagValues"],
        json!([{"type": "string", "value": "GET /cart"}, {"type": "string", "value": "GET /health"}])
    );
    let roots = get_json("/tempo/api/v2/search/tag/trace:rootService/values").await;
    assert_eq!(roots["tagValues"].as_array().unwrap().len(), 2);
    let bad = call("/tempo/api/v2/search/tag/nonsense/values").await;
    assert_eq!(bad.status, Http::BAD_REQUEST);
}

// ---- golden files --------------------------------------------------------------------------------

/// Every `<name>.request` (a URI, first line) under `query/tests/golden/traces/<api>/` answered by
/// the router over the fixture, compared with `<name>.response.json`.
async fn check_golden(api: &str, minimum: usize) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/traces").join(api);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".request").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= minimum, "golden requests missing in {}", dir.display());
    let mut failures = Vec::new();
    for name in names {
        let uri = std::fs::read_to_string(dir.join(format!("{name}.request"))).unwrap().trim().to_string();
        let answer = call(&uri).await;
        assert_eq!(answer.status, Http::OK, "{api}/{name}: {}", answer.text());
        let got = answer.json();
        let path = dir.join(format!("{name}.response.json"));
        if update {
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap_or(Value::Null);
        if got != want {
            failures.push(format!("{api}/{name}: got {}", serde_json::to_string_pretty(&got).unwrap()));
        }
    }
    assert!(failures.is_empty(), "golden mismatches (UPDATE_GOLDEN=1 rewrites):\n{}", failures.join("\n"));
}

#[tokio::test]
async fn golden_jaeger_responses() {
    check_golden("jaeger", 6).await;
}

#[tokio::test]
async fn golden_tempo_responses() {
    check_golden("tempo", 8).await;
}

// Pharos — query/src/traces/tests.rs

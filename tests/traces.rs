//! Traces end to end, against the real binary over real sockets: spans from the OpenTelemetry
//! Python SDK (gRPC and HTTP exporters) and a hand-made OTLP/JSON request come back through the
//! Jaeger and Tempo APIs; bad input gets OTLP's errors; acknowledged spans survive `kill -9`;
//! retention drops old spans and keeps new ones.

mod harness;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harness::{Options, Pharos};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};
use prost::Message;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn send(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

async fn get_json(pharos: &Pharos, path: &str) -> (u16, Value) {
    let (status, _, body) = send(client().get(pharos.url(path))).await;
    let text = String::from_utf8_lossy(&body);
    (status, serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned())))
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn run_otel_traces(protocol: &str, endpoint: &str, run_id: &str) -> Value {
    let python = harness::require_program("python3");
    let out = std::process::Command::new(python)
        .arg(harness::repo_file("tests/python/otel_traces.py"))
        .arg(protocol)
        .arg(endpoint)
        .arg(run_id)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("Failed to export"),
        "the OpenTelemetry SDK span exporter failed ({protocol}):\n{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

/// `GET /jaeger/api/traces/{id}` until the trace has `spans` spans.
async fn jaeger_trace(pharos: &Pharos, trace_id: &str, spans: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, answer) = get_json(pharos, &format!("/jaeger/api/traces/{trace_id}")).await;
        let count = answer["data"][0]["spans"].as_array().map_or(0, Vec::len);
        if (status == 200 && count >= spans) || Instant::now() > deadline {
            assert_eq!(status, 200, "{answer}");
            assert_eq!(count, spans, "{answer}");
            return answer["data"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn jaeger_span<'a>(trace: &'a Value, span_id: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["spanID"] == span_id)
        .unwrap_or_else(|| panic!("no span {span_id} in {trace}"))
}

fn jaeger_tag<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no tag {key} in {span}"))
}

fn micros(ns: &Value) -> i64 {
    (ns.as_u64().unwrap() / 1000) as i64
}

/// The first reference of `kind` of a Jaeger span, as (traceID, spanID).
fn reference(span: &Value, kind: &str) -> Option<(String, String)> {
    span["references"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["refType"] == kind)
        .map(|r| (r["traceID"].as_str().unwrap().to_string(), r["spanID"].as_str().unwrap().to_string()))
}

#[tokio::test]
async fn python_sdk_traces_come_back_through_jaeger_and_tempo() {
    let pharos = Pharos::start();
    for (protocol, endpoint, run) in [
        ("grpc", format!("http://{}", pharos.otlp_grpc), "grpcrun"),
        ("http", format!("http://{}", pharos.otlp_http), "httprun"),
    ] {
        let sent = run_otel_traces(protocol, &endpoint, run);
        let trace_id = sent["trace_id"].as_str().unwrap();
        let (root, client_span, server) = (&sent["root"], &sent["client"], &sent["server"]);

        // Jaeger: the tree, the timings, the processes, tags, logs, links and status.
        let trace = jaeger_trace(&pharos, trace_id, 3).await;
        assert_eq!(trace["traceID"], trace_id);
        let j_root = jaeger_span(&trace, root["span_id"].as_str().unwrap());
        let j_client = jaeger_span(&trace, client_span["span_id"].as_str().unwrap());
        let j_server = jaeger_span(&trace, server["span_id"].as_str().unwrap());
        assert_eq!(reference(j_root, "CHILD_OF"), None, "{j_root}");
        assert_eq!(
            reference(j_client, "CHILD_OF"),
            Some((trace_id.to_string(), root["span_id"].as_str().unwrap().into()))
        );
        assert_eq!(
            reference(j_server, "CHILD_OF"),
            Some((trace_id.to_string(), client_span["span_id"].as_str().unwrap().into()))
        );
        assert_eq!(
            reference(j_server, "FOLLOWS_FROM"),
            Some((sent["warmup_trace_id"].as_str().unwrap().into(), sent["warmup_span_id"].as_str().unwrap().into()))
        );
        for (jaeger, python) in [(j_root, root), (j_client, client_span), (j_server, server)] {
            assert_eq!(jaeger["operationName"], python["name"]);
            assert_eq!(jaeger["startTime"].as_i64().unwrap(), micros(&python["start"]), "{jaeger}");
            let duration_us = (python["end"].as_u64().unwrap() - python["start"].as_u64().unwrap()) as f64 / 1000.0;
            assert!(
                (jaeger["duration"].as_i64().unwrap() as f64 - duration_us).abs() <= 1.0,
                "{jaeger} vs {duration_us}"
            );
        }
        let service_of = |span: &Value| trace["processes"][span["processID"].as_str().unwrap()]["serviceName"].clone();
        assert_eq!(service_of(j_root), "frontend");
        assert_eq!(service_of(j_server), "checkout");
        assert_eq!(jaeger_tag(j_server, "order.id")["value"], format!("{run}-1001"));
        assert_eq!(jaeger_tag(j_server, "cart.items")["type"], "int64");
        assert_eq!(jaeger_tag(j_server, "cart.items")["value"], 3);
        assert_eq!(jaeger_tag(j_server, "cart.total")["value"], 12.5);
        assert_eq!(jaeger_tag(j_server, "retry")["value"], false);
        assert_eq!(jaeger_tag(j_server, "span.kind")["value"], "server");
        assert_eq!(jaeger_tag(j_client, "span.kind")["value"], "client");
        assert_eq!(jaeger_tag(j_server, "error")["value"], true);
        assert_eq!(jaeger_tag(j_server, "otel.status_description")["value"], "card declined");
        assert_eq!(jaeger_tag(j_server, "otel.scope.name")["value"], "pharos.checkout");
        let logs = j_server["logs"].as_array().unwrap();
        assert_eq!(logs.len(), 1, "{j_server}");
        assert_eq!(logs[0]["timestamp"].as_i64().unwrap(), micros(&sent["event_time"]));
        let fields = logs[0]["fields"].as_array().unwrap();
        assert!(fields.iter().any(|f| f["key"] == "event" && f["value"] == "payment.declined"), "{fields:?}");
        assert!(fields.iter().any(|f| f["key"] == "card" && f["value"] == "visa"), "{fields:?}");

        // Tempo, as Grafana asks for it: OTLP protobuf, exact nanoseconds.
        let (status, headers, body) = send(
            client().get(pharos.url(&format!("/tempo/api/traces/{trace_id}"))).header("accept", "application/protobuf"),
        )
        .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert!(headers["content-type"].to_str().unwrap().contains("protobuf"), "{headers:?}");
        let data = TracesData::decode(&body[..]).unwrap();
        let spans: Vec<(&Resource, &Span)> = data
            .resource_spans
            .iter()
            .flat_map(|rs| {
                rs.scope_spans
                    .iter()
                    .flat_map(move |ss| ss.spans.iter().map(move |s| (rs.resource.as_ref().unwrap(), s)))
            })
            .collect();
        assert_eq!(spans.len(), 3);
        let (resource, p_server) = spans.iter().find(|(_, s)| hex(&s.span_id) == server["span_id"]).unwrap();
        assert!(resource.attributes.iter().any(|kv| kv.key == "service.name" && string_value(kv) == "checkout"));
        assert_eq!(hex(&p_server.trace_id), trace_id);
        assert_eq!(hex(&p_server.parent_span_id), client_span["span_id"]);
        assert_eq!(p_server.start_time_unix_nano, server["start"].as_u64().unwrap());
        assert_eq!(p_server.end_time_unix_nano, server["end"].as_u64().unwrap());
        assert_eq!(p_server.kind, 2);
        let status = p_server.status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "card declined"));
        assert_eq!(p_server.events.len(), 1);
        assert_eq!(p_server.events[0].time_unix_nano, sent["event_time"].as_u64().unwrap());
        assert_eq!(hex(&p_server.links[0].span_id), sent["warmup_span_id"]);

        // Tempo v2 JSON.
        let (status, v2) = get_json(&pharos, &format!("/tempo/api/v2/traces/{trace_id}")).await;
        assert_eq!(status, 200, "{v2}");
        let v2_spans: usize = v2["trace"]["resourceSpans"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
            .map(|ss| ss["spans"].as_array().unwrap().len())
            .sum();
        assert_eq!(v2_spans, 3, "{v2}");

        // Search: TraceQL, Tempo tags, Jaeger.
        let start_s = now_nanos() / 1_000_000_000 - 3600;
        let end_s = now_nanos() / 1_000_000_000 + 60;
        let q = format!(r#"{{resource.service.name="checkout" && status=error && span.order.id="{run}-1001"}}"#);
        let (status, found) =
            get_json(&pharos, &format!("/tempo/api/search?q={}&start={start_s}&end={end_s}", harness::urlencode(&q)))
                .await;
        assert_eq!(status, 200, "{found}");
        let traces = found["traces"].as_array().unwrap();
        assert_eq!(traces.len(), 1, "{found}");
        assert_eq!(traces[0]["traceID"].as_str().unwrap(), trace_id.trim_start_matches('0'));
        assert_eq!(traces[0]["rootServiceName"], "frontend");
        assert_eq!(traces[0]["rootTraceName"], "GET /cart");
        let (status, found) =
            get_json(&pharos, &format!("/tempo/api/search?tags={}", harness::urlencode(&format!("run.id={run}"))))
                .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["traces"].as_array().unwrap().len(), 1, "{found}");

        let tags = harness::urlencode(&json!({"order.id": format!("{run}-1001")}).to_string());
        let (status, found) = get_json(
            &pharos,
            &format!(
                "/jaeger/api/traces?service=checkout&tags={tags}&start={}&end={}&limit=20",
                start_s * 1_000_000,
                end_s * 1_000_000
            ),
        )
        .await;
        assert_eq!(status, 200, "{found}");
        let data = found["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{found}");
        assert_eq!(data[0]["traceID"], trace_id);
        assert_eq!(data[0]["spans"].as_array().unwrap().len(), 3);
    }

    let (_, services) = get_json(&pharos, "/jaeger/api/services").await;
    let services: BTreeSet<&str> = services["data"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(services.contains("frontend") && services.contains("checkout"), "{services:?}");
    let (_, operations) = get_json(&pharos, "/jaeger/api/operations?service=checkout").await;
    assert!(
        operations["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "POST /checkout" && o["spanKind"] == "server"),
        "{operations}"
    );
    let (_, dependencies) = get_json(
        &pharos,
        &format!("/jaeger/api/dependencies?endTs={}&lookback=3600000", now_nanos() / 1_000_000 + 1000),
    )
    .await;
    assert!(
        dependencies["data"].as_array().unwrap().iter().any(|d| d["parent"] == "frontend" && d["child"] == "checkout"),
        "{dependencies}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn string_value(kv: &KeyValue) -> &str {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s,
        _ => "",
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// One export of `spans` spans in one trace, `service` as the resource.
fn export(service: &str, trace_id: [u8; 16], spans: usize, start_ns: u64) -> ExportTraceServiceRequest {
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: trace_id.to_vec(),
            span_id: ((i as u64 + 1) | 1 << 60).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 { Vec::new() } else { (1u64 | 1 << 60).to_be_bytes().to_vec() },
            name: format!("op-{}", i % 4),
            kind: 2,
            start_time_unix_nano: start_ns + i as u64 * 1000,
            end_time_unix_nano: start_ns + i as u64 * 1000 + 500_000,
            attributes: vec![kv("http.route", "/items/{id}")],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![kv("service.name", service)], ..Default::default() }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "pharos.test".into(), ..Default::default() }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post_protobuf(pharos: &Pharos, body: Vec<u8>) -> (u16, Vec<u8>) {
    let (status, _, body) = send(
        client().post(pharos.otlp_http_url("/v1/traces")).header("content-type", "application/x-protobuf").body(body),
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn hand_made_otlp_json_trace_comes_back() {
    let pharos = Pharos::start();
    let start = now_nanos() - 5_000_000_000;
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "inventory"}}]},
        "scopeSpans": [{
            "scope": {"name": "hand.made", "version": "1"},
            "spans": [
                {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174", "name": "reserve",
                 "kind": 2, "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 2_500_000).to_string(),
                 "attributes": [{"key": "sku", "value": {"stringValue": "sku-1"}},
                                {"key": "qty", "value": {"intValue": "4"}}],
                 "events": [{"timeUnixNano": (start + 1_000_000).to_string(), "name": "locked",
                             "attributes": [{"key": "rows", "value": {"intValue": 2}}]}],
                 "status": {"code": 1}},
                {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "parentSpanId": "eee19b7ec3c1b174",
                 "name": "SELECT stock", "kind": 3, "startTimeUnixNano": start + 100_000, "endTimeUnixNano": start + 900_000,
                 "attributes": [{"key": "db.system", "value": {"stringValue": "postgresql"}}], "unknownField": 1},
                {"traceId": "5b8efff798038103d269b633813fc6", "spanId": "eee19b7ec3c1b176", "name": "bad id",
                 "startTimeUnixNano": start, "endTimeUnixNano": start + 1}
            ]
        }]
    }]});
    let (status, headers, answer) =
        send(client().post(pharos.otlp_http_url("/v1/traces")).header("content-type", "application/json").json(&body))
            .await;
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], "1", "{answer}");
    assert!(answer["partialSuccess"]["errorMessage"].as_str().unwrap().contains("trace"), "{answer}");

    let trace = jaeger_trace(&pharos, "5b8efff798038103d269b633813fc60c", 2).await;
    let reserve = jaeger_span(&trace, "eee19b7ec3c1b174");
    let select = jaeger_span(&trace, "eee19b7ec3c1b175");
    assert_eq!(reference(select, "CHILD_OF").unwrap().1, "eee19b7ec3c1b174");
    assert_eq!(reserve["startTime"].as_i64().unwrap(), (start / 1000) as i64);
    assert_eq!(reserve["duration"], 2500);
    assert_eq!(jaeger_tag(reserve, "qty")["value"], 4);
    assert_eq!(jaeger_tag(select, "db.system")["value"], "postgresql");
    assert_eq!(jaeger_tag(select, "span.kind")["value"], "client");
    assert_eq!(
        reserve["logs"][0]["fields"].as_array().unwrap().iter().find(|f| f["key"] == "rows").unwrap()["value"],
        2
    );
    assert_eq!(trace["processes"][reserve["processID"].as_str().unwrap()]["serviceName"], "inventory");
    let (status, missing) = get_json(&pharos, "/jaeger/api/traces/5b8efff798038103d269b633813fc6").await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["errors"][0]["code"], 404);
}

/// A `google.rpc.Status`, as OTLP/HTTP error bodies carry it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[tokio::test]
async fn bad_trace_input_gets_otlp_errors_and_pharos_stays_up() {
    // Small body limits, so an oversized export is small enough to be written whole before Pharos
    // answers (a client still writing when the 413 comes sees a broken pipe instead).
    let pharos = Pharos::start_with(Options {
        config: Some("server:\n  max_request_body: 1MiB\n  max_decoded_body: 1MiB\n".into()),
        ..Options::default()
    });
    // Not protobuf at all: 400 with a google.rpc.Status in protobuf.
    let (status, body) = post_protobuf(&pharos, vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]).await;
    assert_eq!(status, 400);
    let rpc = RpcStatus::decode(&body[..]).unwrap();
    assert!(rpc.message.contains("trace") || rpc.message.contains("decode"), "{rpc:?}");
    // Broken JSON: 400 with a google.rpc.Status in JSON.
    let (status, _, body) = send(
        client()
            .post(pharos.otlp_http_url("/v1/traces"))
            .header("content-type", "application/json")
            .body("{\"resourceSpans\": [{"),
    )
    .await;
    assert_eq!(status, 400);
    let rpc: Value = serde_json::from_slice(&body).unwrap();
    assert!(rpc["message"].as_str().is_some_and(|m| !m.is_empty()), "{rpc}");
    // Ids of the wrong length: that span is rejected, the good one stored.
    let mut request = export("ids", [7; 16], 2, now_nanos());
    request.resource_spans[0].scope_spans[0].spans[1].span_id = vec![1, 2, 3];
    let (status, body) = post_protobuf(&pharos, request.encode_to_vec()).await;
    assert_eq!(status, 200);
    let partial = ExportTraceServiceResponse::decode(&body[..]).unwrap().partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 1, "{partial:?}");
    jaeger_trace(&pharos, &hex(&[7; 16]), 1).await;
    // Oversized: 413, not retried.
    let huge = export("huge", [9; 16], 1, now_nanos());
    let mut huge_request = huge.clone();
    huge_request.resource_spans[0].scope_spans[0].spans[0].attributes.push(kv("blob", &"x".repeat(2 << 20)));
    let (status, _) = post_protobuf(&pharos, huge_request.encode_to_vec()).await;
    assert_eq!(status, 413);
    // Still up and still ingesting.
    assert_eq!(harness::http_status(pharos.http, "/-/ready"), Some(200));
    let (status, _) = post_protobuf(&pharos, huge.encode_to_vec()).await;
    assert_eq!(status, 200);
    jaeger_trace(&pharos, &hex(&[9; 16]), 1).await;
}

#[tokio::test]
async fn acknowledged_spans_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let options = Options { data_dir: Some(data.path().join("data")), ..Options::default() };
    let mut pharos = Pharos::start_with(options.clone());
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let url = pharos.otlp_http_url("/v1/traces");
    let start = now_nanos();
    let mut senders = Vec::new();
    for sender in 0..3u64 {
        let (acked, url) = (acked.clone(), url.clone());
        senders.push(tokio::spawn(async move {
            let c = client();
            for batch in 0u64.. {
                let mut trace_id = [0u8; 16];
                trace_id[..8].copy_from_slice(&(sender + 1).to_be_bytes());
                trace_id[8..].copy_from_slice(&(batch + 1).to_be_bytes());
                let body = export("crash", trace_id, 50, start + batch * 1_000_000).encode_to_vec();
                let Ok(response) =
                    c.post(&url).header("content-type", "application/x-protobuf").body(body).send().await
                else {
                    return;
                };
                if response.status() != 200 {
                    return;
                }
                let Ok(body) = response.bytes().await else { return };
                let answer = ExportTraceServiceResponse::decode(&body[..]).unwrap();
                assert!(answer.partial_success.is_none_or(|p| p.rejected_spans == 0));
                acked.lock().unwrap().insert(trace_id);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    pharos.signal(libc::SIGKILL);
    pharos.wait_exit(Duration::from_secs(10)).expect("pharos did not die");
    for sender in senders {
        let _ = sender.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 10, "only {} exports acknowledged before the kill", acked.len());
    drop(pharos);

    let pharos = Pharos::start_with(options);
    for trace_id in &acked {
        let (status, answer) = get_json(&pharos, &format!("/jaeger/api/traces/{}", hex(trace_id))).await;
        assert_eq!(status, 200, "acknowledged trace {} lost: {answer}", hex(trace_id));
        assert_eq!(answer["data"][0]["spans"].as_array().unwrap().len(), 50, "trace {}", hex(trace_id));
    }
}

#[tokio::test]
async fn retention_drops_old_spans_and_keeps_new_ones() {
    let data = tempfile::tempdir().unwrap();
    let keep = Options {
        data_dir: Some(data.path().join("data")),
        config: Some("storage:\n  traces:\n    retention_time: 0s\n".into()),
        ..Options::default()
    };
    let mut pharos = Pharos::start_with(keep.clone());
    let day = 86_400_000_000_000u64;
    let (old, new) = ([0x0a; 16], [0x0b; 16]);
    for (service, trace_id, start) in
        [("old-service", old, now_nanos() - 3 * day), ("new-service", new, now_nanos() - 60_000_000_000)]
    {
        let (status, body) = post_protobuf(&pharos, export(service, trace_id, 3, start).encode_to_vec()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert!(ExportTraceServiceResponse::decode(&body[..]).unwrap().partial_success.is_none());
    }
    jaeger_trace(&pharos, &hex(&old), 3).await;
    jaeger_trace(&pharos, &hex(&new), 3).await;
    pharos.signal(libc::SIGTERM);
    pharos.wait_exit(Duration::from_secs(20)).expect("pharos did not stop");
    drop(pharos);

    let two_days = Options { config: Some("storage:\n  traces:\n    retention_time: 2d\n".into()), ..keep };
    let pharos = Pharos::start_with(two_days);
    let (status, _) = get_json(&pharos, &format!("/jaeger/api/traces/{}", hex(&old))).await;
    assert_eq!(status, 404, "a span older than the retention is still served");
    jaeger_trace(&pharos, &hex(&new), 3).await;
    let (_, services) = get_json(&pharos, "/jaeger/api/services").await;
    let services: Vec<&str> = services["data"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(services, ["new-service"]);
}

// Pharos — tests/traces.rs

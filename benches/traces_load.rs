//! Trace ingest and query benchmark: generated OTLP spans exported to a release build of Pharos over
//! OTLP/HTTP (protobuf), then trace-by-id and searches as Grafana's Tempo and Jaeger datasources
//! make them, timed.
//!
//! ```text
//! CARGO_TARGET_DIR=$HOME/.cache/pharos/target cargo build --release --locked --bin pharos --bench traces_load
//! CARGO_TARGET_DIR=$HOME/.cache/pharos/target cargo bench --locked --bench traces_load -- --spans 10000000
//! ```
//!
//! Spans (fixed seed; every export encoded before the clock starts, so the generator does not compete
//! with Pharos for the CPU while it is measured): traces of 2–14 spans (8 on average) over 1–4 of 20
//! services, each service on 3 pods (its own OTLP resource: service, namespace, version, host, pod,
//! environment, SDK attributes). A trace is a server root (`GET /api/v1/<endpoint>`), internal,
//! database (`SELECT …` with a statement) and client/server spans across services, each with 8–11
//! attributes (HTTP method, route, status code, URL path with ids, a request id…); 10 % carry an
//! exception event, 2 % of traces fail (ERROR status on the failing span and its root). Start times
//! are spread evenly over the hour before the run.
//!
//! Ingest: `--senders` connections each export their own slice of the traces in requests of
//! `--batch` spans (about 3.3 GB of memory for the bodies of 10M spans). Reported: spans per second of wall time and per second of Pharos' CPU time
//! (utime + stime), and the size of `data/traces` per span, right after the last acknowledgement
//! and again after `--settle` seconds (compactions).
//!
//! Queries (each once to warm up and check the answer, then `--runs` times; p50 and p99 of the
//! wall time from request sent to body received): trace by id through Tempo as Grafana asks it
//! (`Accept: application/protobuf`) and through Jaeger, over `--lookups` trace ids drawn from all
//! that were sent; Tempo searches (TraceQL) and Jaeger searches over the hour.
//!
//! Targets (issue 6): ≥ 50K spans/s per core, trace-by-id p99 < 10 ms over ≥ 10M spans.
//!
//! Options: `--spans N` (default 10,000,000), `--senders N` (default 2), `--batch N` (default 512),
//! `--runs N` (default 50), `--lookups N` (default 1000), `--settle S` (default 30), `--hold S`,
//! `--pharos PATH` (default `$CARGO_TARGET_DIR/release/pharos`).

mod servers;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};
use prost::Message;
use servers::{cpu_seconds, dir_size, percentile, start_pharos};

const SERVICES: u64 = 20;
const PODS: u64 = 3;
const ENDPOINTS: [&str; 12] = [
    "cart",
    "checkout",
    "items",
    "items/{id}",
    "users/{id}",
    "search",
    "orders",
    "orders/{id}",
    "login",
    "logout",
    "recommendations",
    "payments",
];
const TABLES: [&str; 6] = ["orders", "items", "users", "carts", "payments", "sessions"];

struct Options {
    spans: u64,
    senders: u64,
    batch: usize,
    runs: usize,
    lookups: usize,
    settle: u64,
    hold: u64,
    pharos: PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        spans: 10_000_000,
        senders: 2,
        batch: 512,
        runs: 50,
        lookups: 1000,
        settle: 30,
        hold: 0,
        pharos: PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("release/pharos"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--spans" => o.spans = value().parse().unwrap(),
            "--senders" => o.senders = value().parse().unwrap(),
            "--batch" => o.batch = value().parse().unwrap(),
            "--runs" => o.runs = value().parse().unwrap(),
            "--lookups" => o.lookups = value().parse().unwrap(),
            "--settle" => o.settle = value().parse().unwrap(),
            "--hold" => o.hold = value().parse().unwrap(),
            "--pharos" => o.pharos = value().into(),
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// splitmix64: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn string(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(value)) }),
        ..Default::default()
    }
}

fn resource(service: u64, pod: u64) -> Resource {
    Resource {
        attributes: vec![
            string("service.name", format!("svc-{service:02}")),
            string("service.namespace", "bench"),
            string("service.version", "1.4.2"),
            string("deployment.environment.name", "prod"),
            string("host.name", format!("node-{}", (service * PODS + pod) % 7)),
            string("k8s.namespace.name", "shop"),
            string("k8s.pod.name", format!("svc-{service:02}-7f9c{pod}d-x{pod}q")),
            string("telemetry.sdk.name", "opentelemetry"),
            string("telemetry.sdk.language", "python"),
            string("telemetry.sdk.version", "1.45.2"),
        ],
        ..Default::default()
    }
}

/// The spans of trace number `n` (deterministic in `n`), each with its (service, pod).
fn trace(n: u64, start_ns: u64, window_ns: u64, total: u64) -> (Vec<(u64, u64, Span)>, [u8; 16]) {
    let mut rng = Rng(n.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&rng.next().to_be_bytes());
    trace_id[8..].copy_from_slice(&n.to_be_bytes());
    let t0 = start_ns + window_ns / total.max(1) * n;
    let spans_wanted = 2 + rng.below(13);
    let failing = rng.below(50) == 0;
    let root_service = rng.below(SERVICES);
    let endpoint = ENDPOINTS[rng.below(ENDPOINTS.len() as u64) as usize];
    let mut spans: Vec<(u64, u64, Span)> = Vec::with_capacity(spans_wanted as usize);
    let root_duration = 5_000_000 + rng.below(400_000_000);
    for i in 0..spans_wanted {
        let span_id = (rng.next() | 1).to_be_bytes().to_vec();
        let (service, parent, kind, name, offset, duration) = if i == 0 {
            (root_service, None, 2, format!("GET /api/v1/{endpoint}"), 0, root_duration)
        } else {
            let parent = rng.below(i) as usize;
            let parent_service = spans[parent].0;
            let (service, kind, name) = match rng.below(4) {
                0 => (parent_service, 1, format!("render {endpoint}")),
                1 => (parent_service, 3, format!("SELECT {}", TABLES[rng.below(6) as usize])),
                _ => (
                    (parent_service + 1 + rng.below(3)) % SERVICES,
                    2,
                    format!("POST /internal/{}", ENDPOINTS[rng.below(12) as usize]),
                ),
            };
            let offset = rng.below(root_duration / 2);
            (service, Some(parent), kind, name, offset, 1 + rng.below(root_duration - offset))
        };
        let mut attributes = vec![
            string("http.request.method", if kind == 3 { "POST" } else { "GET" }),
            string("http.route", format!("/api/v1/{endpoint}")),
            int("http.response.status_code", if failing && i == 0 { 500 } else { 200 }),
            string("url.path", format!("/api/v1/{}", endpoint.replace("{id}", &rng.below(100_000).to_string()))),
            string("server.address", format!("svc-{service:02}.shop.svc")),
            string("network.protocol.version", "1.1"),
            string("request.id", format!("{:016x}", rng.next())),
            int("thread.id", rng.below(64) as i64),
        ];
        if kind == 3 {
            attributes.push(string("db.system", "postgresql"));
            attributes.push(string(
                "db.statement",
                format!(
                    "SELECT id, owner, total FROM {} WHERE owner = $1 AND created > $2 LIMIT 50",
                    TABLES[rng.below(6) as usize]
                ),
            ));
        } else {
            attributes
                .push(string("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"));
        }
        let events = if rng.below(10) == 0 {
            vec![Event {
                time_unix_nano: t0 + offset + duration / 2,
                name: "exception".into(),
                attributes: vec![
                    string("exception.type", "TimeoutError"),
                    string("exception.message", "upstream timed out after 2s"),
                ],
                ..Default::default()
            }]
        } else {
            Vec::new()
        };
        let error = failing && (i == 0 || i == spans_wanted - 1);
        let span = Span {
            trace_id: trace_id.to_vec(),
            span_id,
            parent_span_id: parent.map(|p: usize| spans[p].2.span_id.clone()).unwrap_or_default(),
            name,
            kind,
            start_time_unix_nano: t0 + offset,
            end_time_unix_nano: t0 + offset + duration,
            attributes,
            events,
            status: error.then(|| Status { code: 2, message: "upstream failed".into() }),
            ..Default::default()
        };
        spans.push((service, rng.below(PODS), span));
    }
    (spans, trace_id)
}

/// One export request of the given spans, grouped by resource.
fn request(spans: Vec<(u64, u64, Span)>) -> ExportTraceServiceRequest {
    let mut groups: std::collections::BTreeMap<(u64, u64), Vec<Span>> = std::collections::BTreeMap::new();
    for (service, pod, span) in spans {
        groups.entry((service, pod)).or_default().push(span);
    }
    ExportTraceServiceRequest {
        resource_spans: groups
            .into_iter()
            .map(|((service, pod), spans)| ResourceSpans {
                resource: Some(resource(service, pod)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "opentelemetry.instrumentation.flask".into(),
                        version: "0.56b0".into(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

struct Sent {
    spans: u64,
    trace_ids: Vec<[u8; 16]>,
}

/// Every sender's export bodies, encoded before the clock starts (so the load generator does not
/// compete with Pharos for the CPU while it is measured), with the span count of each.
fn exports(o: &Options, start_ns: u64, window_ns: u64) -> (Vec<Vec<(bytes::Bytes, u64)>>, Vec<[u8; 16]>) {
    // 8 spans per trace on average: enough traces for `o.spans`.
    let traces = o.spans / 8;
    let mut per_sender = Vec::new();
    let mut trace_ids = Vec::with_capacity(traces as usize);
    for sender in 0..o.senders {
        let (first, last) = (traces * sender / o.senders, traces * (sender + 1) / o.senders);
        let mut bodies = Vec::new();
        let mut n = first;
        while n < last {
            let mut spans = Vec::with_capacity(o.batch + 16);
            while n < last && spans.len() < o.batch {
                let (trace_spans, id) = trace(n, start_ns, window_ns, traces);
                spans.extend(trace_spans);
                trace_ids.push(id);
                n += 1;
            }
            let count = spans.len() as u64;
            bodies.push((bytes::Bytes::from(request(spans).encode_to_vec()), count));
        }
        per_sender.push(bodies);
    }
    (per_sender, trace_ids)
}

/// Sends every sender's bodies on its own connection; returns the spans acknowledged.
async fn ingest(url: &str, exports: Vec<Vec<(bytes::Bytes, u64)>>) -> u64 {
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for bodies in exports {
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut spans_sent = 0;
            for (body, count) in bodies {
                let response = client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("POST {url}: {e}"));
                let status = response.status().as_u16();
                let bytes = response.bytes().await.unwrap();
                assert_eq!(status, 200, "export answered {status}: {}", String::from_utf8_lossy(&bytes));
                let answer = ExportTraceServiceResponse::decode(&bytes[..]).unwrap();
                assert!(answer.partial_success.as_ref().is_none_or(|p| p.rejected_spans == 0), "{answer:?}");
                spans_sent += count;
            }
            spans_sent
        }));
    }
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap();
    }
    sent
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Times `runs` GETs of each URL in `urls` (cycled), after one checked warm-up of the first.
async fn time_gets(
    client: &reqwest::Client,
    urls: &[String],
    accept: &str,
    runs: usize,
    check: impl Fn(&[u8]) -> Result<(), String>,
) -> (f64, f64) {
    let get = |url: &str| client.get(url).header("accept", accept).send();
    let response = get(&urls[0]).await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    assert_eq!(status, 200, "{}: {}", urls[0], String::from_utf8_lossy(&body));
    if let Err(e) = check(&body) {
        panic!("{}: wrong answer: {e}\n{}", urls[0], String::from_utf8_lossy(&body[..body.len().min(2000)]));
    }
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        let response = get(&urls[i % urls.len()]).await.unwrap();
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, 200, "{}: {}", urls[i % urls.len()], String::from_utf8_lossy(&body));
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn json_array_len(body: &[u8], pointer: &str, at_least: usize) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let n = value.pointer(pointer).and_then(|v| v.as_array()).map_or(0, Vec::len);
    if n >= at_least { Ok(()) } else { Err(format!("{pointer} has {n} entries, wanted ≥ {at_least}")) }
}

#[tokio::main]
async fn main() {
    let o = options();
    let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    let window_ns = 3_600_000_000_000u64;
    let start_ns = now_ns - window_ns;
    let mut server = start_pharos(&o.pharos);
    let pid = server.child.id();
    println!(
        "# traces_load: {} spans over the last hour, {} senders, {} spans per export",
        o.spans, o.senders, o.batch
    );
    println!("# pharos: {}", server.command);

    let generated = Instant::now();
    let (bodies, trace_ids) = exports(&o, start_ns, window_ns);
    let encoded: usize = bodies.iter().flatten().map(|(body, _)| body.len()).sum();
    println!(
        "generated: {} exports, {:.1} MB of OTLP protobuf in {:.1} s (before the clock starts)",
        bodies.iter().map(Vec::len).sum::<usize>(),
        encoded as f64 / 1e6,
        generated.elapsed().as_secs_f64()
    );
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let spans = ingest(&format!("{}/v1/traces", server.otlp_http), bodies).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_before;
    println!(
        "ingest: {spans} spans in {} traces, {wall:.1} s wall, {cpu:.1} s Pharos CPU → {:.0} spans/s wall, {:.0} spans/s per core",
        trace_ids.len(),
        spans as f64 / wall,
        spans as f64 / cpu
    );
    let sent = Sent { spans, trace_ids };
    let traces_dir = server.data_dir().join("traces");
    let size = dir_size(&traces_dir);
    println!(
        "disk: {:.1} MB = {:.1} bytes per span (at the last acknowledgement)",
        size as f64 / 1e6,
        size as f64 / sent.spans as f64
    );
    if o.settle > 0 {
        let cpu_before = cpu_seconds(pid);
        tokio::time::sleep(Duration::from_secs(o.settle)).await;
        let size = dir_size(&traces_dir);
        let settle_cpu = cpu_seconds(pid) - cpu_before;
        println!(
            "disk: {:.1} MB = {:.1} bytes per span (after {} s; {settle_cpu:.1} s Pharos CPU meanwhile → {:.0} spans/s per core counting it)",
            size as f64 / 1e6,
            size as f64 / sent.spans as f64,
            o.settle,
            sent.spans as f64 / (cpu + settle_cpu)
        );
    }

    let client = reqwest::Client::new();
    let mut rng = Rng(42);
    let ids: Vec<String> =
        (0..o.lookups).map(|_| hex(&sent.trace_ids[rng.below(sent.trace_ids.len() as u64) as usize])).collect();
    println!();
    println!("| query | p50 ms | p99 ms |");
    println!("|---|---|---|");
    let tempo_urls: Vec<String> = ids.iter().map(|id| format!("{}/tempo/api/traces/{id}", server.base)).collect();
    let (p50, p99) = time_gets(&client, &tempo_urls, "application/protobuf", o.lookups, |body| {
        let data = TracesData::decode(body).map_err(|e| e.to_string())?;
        let n: usize = data.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        if n >= 2 { Ok(()) } else { Err(format!("{n} spans")) }
    })
    .await;
    println!("| trace by id, Tempo protobuf ({} ids) | {p50:.2} | {p99:.2} |", o.lookups);
    let jaeger_urls: Vec<String> = ids.iter().map(|id| format!("{}/jaeger/api/traces/{id}", server.base)).collect();
    let (p50, p99) =
        time_gets(&client, &jaeger_urls, "application/json", o.lookups, |b| json_array_len(b, "/data/0/spans", 2))
            .await;
    println!("| trace by id, Jaeger JSON ({} ids) | {p50:.2} | {p99:.2} |", o.lookups);

    let (start_s, end_s) = (start_ns / 1_000_000_000, now_ns / 1_000_000_000 + 60);
    let tempo = |q: &str| {
        format!(
            "{}/tempo/api/search?q={}&start={start_s}&end={end_s}&limit=20",
            server.base,
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        )
    };
    let (start_us, end_us) = (start_s * 1_000_000, end_s * 1_000_000);
    let searches = [
        (
            "Tempo `{resource.service.name=\"svc-03\" && name=\"GET /api/v1/cart\"}`",
            tempo(r#"{resource.service.name="svc-03" && name="GET /api/v1/cart"}"#),
            "/traces",
        ),
        ("Tempo `{status=error}`", tempo("{status=error}"), "/traces"),
        (
            "Tempo `{span.http.response.status_code=500 && duration>100ms}`",
            tempo("{span.http.response.status_code=500 && duration>100ms}"),
            "/traces",
        ),
        (
            "Jaeger service + operation",
            format!(
                "{}/jaeger/api/traces?service=svc-07&operation=GET%20/api/v1/items&start={start_us}&end={end_us}&limit=20",
                server.base
            ),
            "/data",
        ),
        (
            "Jaeger service + tag + minDuration",
            format!(
                "{}/jaeger/api/traces?service=svc-05&tags=%7B%22http.response.status_code%22%3A%22500%22%7D&minDuration=50ms&start={start_us}&end={end_us}&limit=20",
                server.base
            ),
            "/data",
        ),
    ];
    for (name, url, pointer) in searches {
        let (p50, p99) = time_gets(&client, std::slice::from_ref(&url), "application/json", o.runs, |b| {
            json_array_len(b, pointer, 1)
        })
        .await;
        println!("| {name} | {p50:.1} | {p99:.1} |");
    }
    assert!(server.alive(), "Pharos exited during the benchmark");
    if o.hold > 0 {
        println!("holding {} s: {}", o.hold, server.base);
        tokio::time::sleep(Duration::from_secs(o.hold)).await;
    }
}

// Pharos — benches/traces_load.rs

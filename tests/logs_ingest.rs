//! Logs end to end, against the real binary over real sockets: the official Elasticsearch Python
//! clients, the startup and bulk exchanges of Logstash, Filebeat and Fluent Bit, rsyslog's
//! omelasticsearch shipping syslog lines, OTLP logs from the OpenTelemetry Python SDK, Loki push and
//! query, bad input, and `kill -9` during bulk ingest.

mod harness;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Options, Pharos};
use serde_json::{Value, json};

const ELASTIC: &str = "/elastic";

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn send(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn post_ndjson(pharos: &Pharos, path: &str, body: String) -> (u16, Value) {
    let (status, _, text) =
        send(client().post(pharos.url(path)).header("content-type", "application/x-ndjson").body(body)).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text)))
}

async fn search(pharos: &Pharos, index: &str, body: Value) -> Value {
    let (status, _, text) = send(client().post(pharos.url(&format!("{ELASTIC}/{index}/_search"))).json(&body)).await;
    assert_eq!(status, 200, "search {body} answered {status}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn total(answer: &Value) -> u64 {
    answer["hits"]["total"]["value"].as_u64().unwrap_or_else(|| panic!("no hits.total in {answer}"))
}

/// Search until `want` documents match (documents become searchable within the refresh interval).
async fn wait_for_hits(pharos: &Pharos, index: &str, query: Value, want: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = search(pharos, index, json!({"query": query, "size": 1000, "track_total_hits": true})).await;
        if total(&answer) >= want || Instant::now() > deadline {
            assert_eq!(total(&answer), want, "query {query} on {index}: {answer}");
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn python_dir() -> std::path::PathBuf {
    std::env::var_os("PHAROS_PYTHON_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/pharos/python"))
}

#[test]
fn official_python_clients_8_and_9_index_and_search() {
    let pharos = Pharos::start();
    let python = harness::require_program("python3");
    for major in [8, 9] {
        let dir = python_dir().join(format!("es{major}"));
        assert!(dir.join("elasticsearch").is_dir(), "{} is missing: run scripts/setup", dir.display());
        let out = std::process::Command::new(&python)
            .arg(harness::repo_file("tests/python/es_client.py"))
            .arg(pharos.url(ELASTIC))
            .arg(format!("pyclient{major}-logs"))
            .env("PYTHONPATH", &dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "elasticsearch-py {major}.x failed:\n{stdout}{}\nPharos log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            pharos.log_text()
        );
        let report: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert!(report["client"].as_str().unwrap().starts_with(&format!("{major}.")), "{report}");
    }
}

/// The calls Logstash's elasticsearch output makes at startup (healthcheck, version, license,
/// template, ILM) and its bulk request with `filter_path`, in order.
#[tokio::test]
async fn logstash_startup_and_bulk_exchange() {
    let pharos = Pharos::start();
    let c = client();
    let url = |p: &str| pharos.url(&format!("{ELASTIC}{p}"));
    let (status, headers, _) = send(c.head(url("/"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-elastic-product"], "Elasticsearch");
    let (status, headers, text) = send(c.get(url("/"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-elastic-product"], "Elasticsearch");
    let root: Value = serde_json::from_str(&text).unwrap();
    let major: u32 = root["version"]["number"].as_str().unwrap().split('.').next().unwrap().parse().unwrap();
    assert!(major >= 8, "{root}");
    assert_ne!(root["version"]["build_flavor"], "serverless");
    let (status, _, text) = send(c.get(url("/_license"))).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["license"]["status"], "active");
    // Template: absent, then put, then present.
    let (status, _, _) = send(c.head(url("/_index_template/ecs-logstash"))).await;
    assert_eq!(status, 404);
    let template = json!({"index_patterns": "ecs-logstash-*", "template": {"settings": {"index.refresh_interval": "5s"}}, "priority": 200});
    let (status, _, text) = send(c.put(url("/_index_template/ecs-logstash")).json(&template)).await;
    assert_eq!((status, serde_json::from_str::<Value>(&text).unwrap()["acknowledged"].clone()), (200, json!(true)));
    let (status, _, _) = send(c.head(url("/_index_template/ecs-logstash"))).await;
    assert_eq!(status, 200);
    // ILM: the policy and the rollover alias.
    let (status, _, _) = send(c.get(url("/_ilm/policy/logstash-policy"))).await;
    if status == 404 {
        let (status, _, _) = send(c.put(url("/_ilm/policy/logstash-policy")).json(&json!({"policy": {"phases": {}}}))).await;
        assert_eq!(status, 200);
    } else {
        assert_eq!(status, 200);
    }
    let (status, _, _) = send(c.head(url("/ecs-logstash"))).await;
    if status == 404 {
        let (status, _, text) = send(
            c.put(url("/%3Cecs-logstash-%7Bnow%2Fd%7D-000001%3E"))
                .json(&json!({"aliases": {"ecs-logstash": {"is_write_index": true}}})),
        )
        .await;
        assert!(status == 200 || status == 400, "{status} {text}");
    }
    // The bulk request, as Logstash sends it.
    let mut body = String::new();
    for i in 0..3 {
        body.push_str(&format!("{{\"index\":{{\"_id\":null,\"_index\":\"ecs-logstash\",\"routing\":null}}}}\n{{\"@timestamp\":\"2026-01-02T03:04:0{i}.000Z\",\"message\":\"logstash line {i}\",\"host\":{{\"name\":\"ls-1\"}},\"@version\":\"1\"}}\n"));
    }
    let (status, _, text) = send(
        c.post(url("/_bulk?filter_path=errors,items.*.error,items.*.status"))
            .header("content-type", "application/json")
            .header("X-Elastic-Event-Count", "3")
            .body(body),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"errors": false, "items": [{"index": {"status": 201}}, {"index": {"status": 201}}, {"index": {"status": 201}}]})
    );
    wait_for_hits(&pharos, "ecs-logstash", json!({"match": {"message": "logstash"}}), 3).await;
}

/// Filebeat 8: version check, license, index template and ILM policy probes, then `create`
/// actions into its data stream.
#[tokio::test]
async fn filebeat_startup_and_bulk_exchange() {
    let pharos = Pharos::start();
    let c = client();
    let url = |p: &str| pharos.url(&format!("{ELASTIC}{p}"));
    let (status, _, text) = send(c.get(url("/"))).await;
    assert_eq!(status, 200);
    let version = serde_json::from_str::<Value>(&text).unwrap()["version"]["number"].as_str().unwrap().to_string();
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(parts >= vec![8, 17, 0], "Filebeat 8.17 refuses an older Elasticsearch: {version}");
    let (status, _, text) = send(c.get(url("/_license?human=false"))).await;
    assert_eq!(status, 200, "{text}");
    let (status, _, _) = send(c.get(url("/_ilm/policy/filebeat"))).await;
    if status == 404 {
        let (status, _, _) = send(c.put(url("/_ilm/policy/filebeat")).json(&json!({"policy": {"phases": {"hot": {}}}}))).await;
        assert_eq!(status, 200);
    }
    let (status, _, _) = send(c.head(url("/_index_template/filebeat-8.17.0"))).await;
    if status == 404 {
        let (status, _, _) =
            send(c.put(url("/_index_template/filebeat-8.17.0")).json(&json!({"index_patterns": ["filebeat-8.17.0"], "data_stream": {}}))).await;
        assert_eq!(status, 200);
    }
    let mut body = String::new();
    for i in 0..4 {
        body.push_str(&format!("{{\"create\":{{\"_index\":\"filebeat-8.17.0\"}}}}\n{{\"@timestamp\":\"2026-01-02T03:04:0{i}.000Z\",\"message\":\"filebeat line {i}\",\"log\":{{\"file\":{{\"path\":\"/var/log/app.log\"}}}},\"ecs\":{{\"version\":\"8.0.0\"}}}}\n"));
    }
    let (status, answer) = post_ndjson(&pharos, "/elastic/_bulk", body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["errors"], false, "{answer}");
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    for item in items {
        assert_eq!(item["create"]["status"], 201, "{item}");
        assert_eq!(item["create"]["_index"], "filebeat-8.17.0");
    }
    wait_for_hits(&pharos, "filebeat-*", json!({"match_phrase": {"message": "filebeat line"}}), 4).await;
}

/// Fluent Bit's es output: no probes, `create` with `_type: _doc`, `application/x-ndjson`.
#[tokio::test]
async fn fluent_bit_bulk_exchange() {
    let pharos = Pharos::start();
    let mut body = String::new();
    for i in 0..5 {
        body.push_str(&format!("{{\"create\":{{\"_index\":\"fluent-bit\",\"_type\":\"_doc\"}}}}\n{{\"@timestamp\":\"2026-01-02T03:04:0{i}.000Z\",\"log\":\"fluent line {i}\",\"kubernetes\":{{\"pod_name\":\"web-{i}\"}}}}\n"));
    }
    let (status, answer) = post_ndjson(&pharos, "/elastic/_bulk", body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["errors"], false, "{answer}");
    assert!(answer["items"].as_array().unwrap().iter().all(|i| i["create"]["status"] == 201), "{answer}");
    wait_for_hits(&pharos, "fluent-bit", json!({"query_string": {"query": "kubernetes.pod_name:web-3"}}), 1).await;
}

/// rsyslog's omelasticsearch (Debian's rsyslog-elasticsearch) ships syslog lines received over TCP.
#[tokio::test]
async fn rsyslog_ships_syslog_lines_into_pharos() {
    let pharos = Pharos::start();
    let rsyslogd = harness::require_program("rsyslogd");
    let dir = tempfile::tempdir().unwrap();
    let port = harness::free_port();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let config = format!(
        r#"global(workDirectory="{work}")
module(load="imtcp")
module(load="omelasticsearch")
template(name="pharosDoc" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="program" name="programname" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}}
ruleset(name="toPharos") {{
  action(type="omelasticsearch" server="{server}" searchIndex="syslog" template="pharosDoc" bulkmode="on"
         queue.type="linkedlist" queue.dequeueBatchSize="50" action.resumeRetryCount="-1")
}}
input(type="imtcp" port="{port}" ruleset="toPharos")
"#,
        work = work.display(),
        server = pharos.url(ELASTIC),
    );
    let conf = dir.path().join("rsyslog.conf");
    std::fs::write(&conf, config).unwrap();
    let mut rsyslog = std::process::Command::new(rsyslogd)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.path().join("rsyslogd.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("rsyslogd.log")).unwrap())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut rsyslog);
    // RFC 5424 lines with octet-counting framing, as `logger --tcp --rfc5424` sends them.
    let mut stream = None;
    for _ in 0..100 {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stream = stream.expect("rsyslogd did not listen");
    for i in 0..20 {
        let severity = if i % 5 == 0 { 3 } else { 6 };
        let line = format!("<{}>1 2026-01-02T03:04:{i:02}.000000+00:00 web-1 billing 4242 - - invoice {i} sent to customer", 8 + severity);
        std::io::Write::write_all(&mut stream, format!("{} {line}", line.len()).as_bytes()).unwrap();
    }
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let (status, _, _) = send(client().get(pharos.url("/elastic/syslog/_count"))).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rsyslog_log = std::fs::read_to_string(dir.path().join("rsyslogd.log")).unwrap_or_default();
    eprintln!("rsyslogd said:\n{rsyslog_log}");
    let answer = wait_for_hits(&pharos, "syslog", json!({"match_phrase": {"message": "sent to customer"}}), 20).await;
    let first = &answer["hits"]["hits"][0]["_source"];
    assert_eq!(first["program"], "billing", "{first}");
    assert_eq!(first["host"], "web-1", "{first}");
    wait_for_hits(&pharos, "syslog", json!({"term": {"severity": "err"}}), 4).await;
}

fn run_otel_logs(protocol: &str, endpoint: &str, run_id: &str) -> Value {
    let python = harness::require_program("python3");
    let out = std::process::Command::new(python)
        .arg(harness::repo_file("tests/python/otel_logs.py"))
        .arg(protocol)
        .arg(endpoint)
        .arg(run_id)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the OpenTelemetry SDK log exporter failed ({protocol}):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

#[tokio::test]
async fn otlp_logs_from_the_python_sdk_are_searchable() {
    let pharos = Pharos::start();
    for (protocol, endpoint, run) in [
        ("grpc", format!("http://{}", pharos.otlp_grpc), "grpcrun"),
        ("http", format!("http://{}", pharos.otlp_http), "httprun"),
    ] {
        let ids = run_otel_logs(protocol, &endpoint, run);
        let trace_id = ids["trace_id"].as_str().unwrap();
        // By text.
        let answer = wait_for_hits(&pharos, "*", json!({"match_phrase": {"message": format!("order {run}-1001 placed")}}), 1).await;
        let source = &answer["hits"]["hits"][0]["_source"];
        assert_eq!(source["trace_id"], trace_id, "{source}");
        // By severity.
        wait_for_hits(
            &pharos,
            "*",
            json!({"bool": {"filter": [{"term": {"severity": "ERROR"}}, {"match_phrase": {"message": format!("{run}-1002")}}]}}),
            1,
        )
        .await;
        // By attribute.
        wait_for_hits(&pharos, "*", json!({"term": {"order.id": format!("{run}-1002")}}), 1).await;
        // By trace id: the three records emitted inside the span, not the one outside.
        wait_for_hits(&pharos, "*", json!({"term": {"trace_id": trace_id}}), 3).await;
        // And through Loki, by the service's stream label.
        let (status, _, text) = send(client().get(pharos.url("/loki/api/v1/query_range")).query(&[
            ("query", format!("{{service_name=\"checkout\"}} |= \"{run}\"")),
            ("start", "0".to_string()),
            ("end", format!("{}", 4_000_000_000_000_000_000i64)),
            ("limit", "100".to_string()),
        ]))
        .await;
        assert_eq!(status, 200, "{text}");
        let loki: Value = serde_json::from_str(&text).unwrap();
        let lines: usize = loki["data"]["result"].as_array().unwrap().iter().map(|s| s["values"].as_array().unwrap().len()).sum();
        assert_eq!(lines, 3, "{loki}");
    }
}

#[tokio::test]
async fn loki_push_json_and_protobuf_then_query() {
    let pharos = Pharos::start();
    let now_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    let push = json!({"streams": [
        {"stream": {"app": "api", "env": "prod"}, "values": [
            [format!("{}", now_ns - 3_000_000_000), "level=info msg=\"started\" took=12ms"],
            [format!("{}", now_ns - 2_000_000_000), "level=error msg=\"db down\" took=30ms", {"trace_id": "abc"}]
        ]},
        {"stream": {"app": "worker", "env": "prod"}, "values": [[format!("{}", now_ns - 1_000_000_000), "{\"level\":\"warn\",\"job\":\"mail\"}"]]}
    ]});
    let (status, _, text) = send(client().post(pharos.url("/loki/api/v1/push")).json(&push)).await;
    assert_eq!(status, 204, "{text}");
    let query = |q: &str| {
        let q = q.to_string();
        let c = client();
        let url = pharos.url("/loki/api/v1/query_range");
        async move {
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let (status, _, text) = send(c.get(&url).query(&[
                    ("query", q.as_str()),
                    ("start", &format!("{}", now_ns - 3_600_000_000_000)),
                    ("end", &format!("{}", now_ns + 1)),
                    ("step", "1000ms"),
                    ("direction", "backward"),
                ]))
                .await;
                assert_eq!(status, 200, "{q}: {text}");
                let v: Value = serde_json::from_str(&text).unwrap();
                if !v["data"]["result"].as_array().unwrap().is_empty() || Instant::now() > deadline {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let streams = query("{env=\"prod\"}").await;
    assert_eq!(streams["data"]["resultType"], "streams");
    let lines: usize = streams["data"]["result"].as_array().unwrap().iter().map(|s| s["values"].as_array().unwrap().len()).sum();
    assert_eq!(lines, 3, "{streams}");
    let errors = query("{app=\"api\"} | logfmt | level=\"error\"").await;
    let result = errors["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{errors}");
    assert_eq!(result[0]["values"][0][1], "level=error msg=\"db down\" took=30ms");
    let counts = query("sum by (app) (count_over_time({env=\"prod\"}[1h]))").await;
    assert_eq!(counts["data"]["resultType"], "matrix", "{counts}");
    let (status, _, text) = send(client().get(pharos.url("/loki/api/v1/labels"))).await;
    assert_eq!(status, 200);
    let labels: Value = serde_json::from_str(&text).unwrap();
    for name in ["app", "env"] {
        assert!(labels["data"].as_array().unwrap().contains(&json!(name)), "{labels}");
    }
    // Protobuf, snappy block compressed, as Promtail and Grafana Alloy send it.
    let proto = loki_push_proto("{app=\"api\", env=\"staging\"}", now_ns, "protobuf line");
    let (status, _, text) = send(
        client()
            .post(pharos.url("/loki/api/v1/push"))
            .header("content-type", "application/x-protobuf")
            .body(snap::raw::Encoder::new().compress_vec(&proto).unwrap()),
    )
    .await;
    assert_eq!(status, 204, "{text}");
    let staging = query("{env=\"staging\"}").await;
    assert_eq!(staging["data"]["result"][0]["values"][0][1], "protobuf line", "{staging}");
    // A timestamp that is not a string is refused with a 400 and a message.
    let bad = json!({"streams": [{"stream": {"app": "x"}, "values": [[12345, "line"]]}]});
    let (status, _, text) = send(client().post(pharos.url("/loki/api/v1/push")).json(&bad)).await;
    assert_eq!(status, 400, "{text}");
    assert!(!text.is_empty());
}

/// `PushRequest { streams: [StreamAdapter { labels, entries: [EntryAdapter { timestamp, line }] }] }`
/// written field by field (protobuf wire format), independent of Pharos' own message types.
fn loki_push_proto(labels: &str, ts_ns: i64, line: &str) -> Vec<u8> {
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(tag: u64, bytes: &[u8], out: &mut Vec<u8>) {
        varint(tag, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }
    let mut timestamp = Vec::new();
    varint(1 << 3, &mut timestamp);
    varint((ts_ns / 1_000_000_000) as u64, &mut timestamp);
    varint(2 << 3, &mut timestamp);
    varint((ts_ns % 1_000_000_000) as u64, &mut timestamp);
    let mut entry = Vec::new();
    field(1 << 3 | 2, &timestamp, &mut entry);
    field(2 << 3 | 2, line.as_bytes(), &mut entry);
    let mut stream = Vec::new();
    field(1 << 3 | 2, labels.as_bytes(), &mut stream);
    field(2 << 3 | 2, &entry, &mut stream);
    let mut request = Vec::new();
    field(1 << 3 | 2, &stream, &mut request);
    request
}

#[tokio::test]
async fn bad_bulk_input_gets_elasticsearch_errors_and_the_rest_is_indexed() {
    let pharos = Pharos::start_with(Options {
        config: Some("ingest:\n  logs:\n    max_document_size: 4KiB\n".into()),
        ..Options::default()
    });
    let big = "x".repeat(8 * 1024);
    let body = [
        r#"{"index":{"_index":"mixed"}}"#.to_string(),
        r#"{"@timestamp":"2026-01-02T03:04:05Z","message":"good one"}"#.to_string(),
        r#"{"index":{"_index":"mixed"}}"#.to_string(),
        r#"{"message": "broken json"#.to_string(),
        r#"{"create":{"_index":"mixed"}}"#.to_string(),
        r#"["not","an","object"]"#.to_string(),
        r#"{"index":{"_index":"mixed"}}"#.to_string(),
        format!(r#"{{"message":"{big}"}}"#),
        r#"{"index":{"_index":"../Bad*Name"}}"#.to_string(),
        r#"{"message":"bad index"}"#.to_string(),
        r#"{"create":{"_index":"mixed"}}"#.to_string(),
        r#"{"@timestamp":"2026-01-02T03:04:06Z","message":"good two"}"#.to_string(),
    ]
    .join("\n")
        + "\n";
    let (status, answer) = post_ndjson(&pharos, "/elastic/_bulk", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"], true);
    let statuses: Vec<u64> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item.as_object().unwrap().values().next().unwrap()["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses[0], 201, "{answer}");
    assert_eq!(statuses[5], 201, "{answer}");
    assert!(statuses[1..5].iter().all(|s| (400..500).contains(s)), "{answer}");
    let reason = |i: usize| answer["items"][i].as_object().unwrap().values().next().unwrap()["error"]["type"].clone();
    assert_eq!(reason(4), "invalid_index_name_exception", "{answer}");
    wait_for_hits(&pharos, "mixed", json!({"match": {"message": "good"}}), 2).await;

    // An unknown action fails the whole request, as Elasticsearch does.
    let (status, answer) =
        post_ndjson(&pharos, "/elastic/_bulk", "{\"upsert\":{\"_index\":\"mixed\"}}\n{\"message\":\"x\"}\n".into()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["reason"].as_str().unwrap().contains("upsert"), "{answer}");
    // An action line that is not JSON likewise.
    let (status, answer) = post_ndjson(&pharos, "/elastic/_bulk", "{index:\n{\"message\":\"x\"}\n".into()).await;
    assert_eq!(status, 400, "{answer}");
    // Search with a broken query: a 400 in Elasticsearch's format, and Pharos is still up.
    let (status, headers, text) =
        send(client().post(pharos.url("/elastic/mixed/_search")).header("content-type", "application/json").body("{\"query\":")).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(headers["x-elastic-product"], "Elasticsearch");
    assert!(serde_json::from_str::<Value>(&text).unwrap()["error"]["type"].is_string(), "{text}");
    assert_eq!(harness::http_status(pharos.http, "/-/ready"), Some(200));
}

#[tokio::test]
async fn json_lines_endpoint_takes_configured_fields() {
    let pharos = Pharos::start();
    let body = "{\"ts\":\"2026-01-02T03:04:05Z\",\"msg\":\"first json line\",\"user\":\"ann\"}\nnot json at all\n{\"ts\":1767323046000,\"msg\":\"second json line\"}\n";
    let (status, _, text) = send(
        client().post(pharos.url("/api/v1/logs/jsonlines?index=plain&message_field=msg&time_field=ts")).body(body),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["accepted"], 3, "{answer}");
    wait_for_hits(&pharos, "plain", json!({"match_phrase": {"message": "json line"}}), 2).await;
    wait_for_hits(&pharos, "plain", json!({"match_phrase": {"message": "not json at all"}}), 1).await;
}

/// Bulk senders keep posting while the server is killed with SIGKILL; after a restart on the same
/// data directory every item that was answered 201 is searchable, exactly once.
#[tokio::test]
async fn acknowledged_bulk_items_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let options = Options { data_dir: Some(data.path().join("data")), ..Options::default() };
    let mut pharos = Pharos::start_with(options.clone());
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let url = pharos.url("/elastic/_bulk");
    let mut senders = Vec::new();
    for sender in 0..3u64 {
        let (acked, url) = (acked.clone(), url.clone());
        senders.push(tokio::spawn(async move {
            let c = client();
            for batch in 0u64.. {
                let first = sender * 1_000_000 + batch * 200;
                let mut body = String::new();
                for seq in first..first + 200 {
                    body.push_str(&format!(
                        "{{\"create\":{{\"_index\":\"crash\"}}}}\n{{\"@timestamp\":\"2026-01-02T03:04:05Z\",\"seq\":{seq},\"message\":\"crash test {seq}\"}}\n"
                    ));
                }
                let Ok(response) = c.post(&url).header("content-type", "application/x-ndjson").body(body).send().await else {
                    return;
                };
                let Ok(answer) = response.json::<Value>().await else { return };
                let mut acked = acked.lock().unwrap();
                for (i, item) in answer["items"].as_array().unwrap().iter().enumerate() {
                    if item["create"]["status"] == 201 {
                        acked.insert(first + i as u64);
                    }
                }
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
    assert!(acked.len() >= 200, "only {} items acknowledged before the kill", acked.len());
    drop(pharos);

    let pharos = Pharos::start_with(options);
    let (status, _, _) = send(client().post(pharos.url("/elastic/_refresh"))).await;
    assert!(status == 200 || status == 404);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut found;
    loop {
        let (status, _, text) =
            send(client().post(pharos.url("/elastic/crash/_count")).json(&json!({"query": {"match_all": {}}}))).await;
        assert_eq!(status, 200, "{text}");
        found = serde_json::from_str::<Value>(&text).unwrap()["count"].as_u64().unwrap();
        if found >= acked.len() as u64 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found >= acked.len() as u64, "{found} documents after restart, {} acknowledged", acked.len());
    // Every acknowledged sequence number is there, and none twice.
    let mut seen = BTreeSet::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({"size": 5000, "sort": [{"seq": "asc"}], "_source": ["seq"], "query": {"match_all": {}}});
        if let Some(after) = &after {
            body["search_after"] = after.clone();
        }
        let answer = search(&pharos, "crash", body).await;
        let hits = answer["hits"]["hits"].as_array().unwrap();
        if hits.is_empty() {
            break;
        }
        for hit in hits {
            let seq = hit["_source"]["seq"].as_u64().unwrap();
            assert!(seen.insert(seq), "sequence number {seq} stored twice");
        }
        after = Some(hits.last().unwrap()["sort"].clone());
    }
    let missing: Vec<_> = acked.difference(&seen).take(10).collect();
    assert!(missing.is_empty(), "acknowledged but lost after kill -9: {missing:?} (of {})", acked.len());
    eprintln!("kill -9: {} acknowledged, {} found after restart", acked.len(), seen.len());
}

/// Shippers that take no path prefix talk to the optional Elasticsearch listener at its root.
#[tokio::test]
async fn elasticsearch_listener_at_the_root() {
    let port = harness::free_port();
    let pharos = Pharos::start_with(Options {
        config: Some(format!("server:\n  elasticsearch_listen: 127.0.0.1:{port}\n")),
        ..Options::default()
    });
    let base = format!("http://127.0.0.1:{port}");
    let (status, headers, text) = send(client().get(format!("{base}/"))).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-elastic-product"], "Elasticsearch");
    let (status, _, text) = send(
        client()
            .post(format!("{base}/root-index/_bulk"))
            .header("content-type", "application/x-ndjson")
            .body("{\"index\":{}}\n{\"message\":\"at the root\"}\n"),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, text) = send(client().post(format!("{base}/root-index/_search")).json(&json!({"query": {"match": {"message": "root"}}}))).await;
        assert_eq!(status, 200, "{text}");
        if total(&serde_json::from_str(&text).unwrap()) == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(pharos);
}

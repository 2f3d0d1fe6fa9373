//! Metrics ingest end to end: remote-write answers and durability, OTLP from the real SDK.

mod harness;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::remote_write::{self, series};
use harness::{Options, Pharos};
use pharos_proto::remote_write::v1::WriteRequest;
use serde_json::Value;

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// `/api/v1/export` of a selector: labels (as a sorted map) → [(t, value as JSON)].
async fn export(pharos: &Pharos, selector: &str) -> BTreeMap<BTreeMap<String, String>, Vec<(i64, Value)>> {
    let url = pharos.url("/api/v1/export");
    let text = reqwest::Client::new().get(url).query(&[("match[]", selector)]).send().await.unwrap().text().await.unwrap();
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let labels = v["metric"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
            let values = v["timestamps"]
                .as_array()
                .unwrap()
                .iter()
                .zip(v["values"].as_array().unwrap())
                .map(|(t, value)| (t.as_i64().unwrap(), value.clone()))
                .collect();
            (labels, values)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn remote_write_answers_and_keeps_the_valid_series() {
    let pharos = Pharos::start_with(Options {
        config: Some("storage:\n  metrics:\n    max_label_value_length: 64\n".into()),
        ..Options::default()
    });
    let client = reqwest::Client::new();
    let url = pharos.url("/api/v1/write");

    // Special values are valid samples; the staleness marker is kept bit-exact (and not exported).
    let request = WriteRequest {
        timeseries: vec![series(
            "special",
            &[("job", "t")],
            &[(1000, f64::NAN), (2000, f64::INFINITY), (3000, f64::NEG_INFINITY), (4000, f64::from_bits(STALE_NAN)), (5000, 1.5)],
        )],
        metadata: vec![],
    };
    assert_eq!(remote_write::send(&client, &url, &request).await, (204, String::new()));
    let got = export(&pharos, "special").await;
    assert_eq!(
        got[&labels(&[("__name__", "special"), ("job", "t")])],
        vec![(1000, "NaN".into()), (2000, "+Inf".into()), (3000, "-Inf".into()), (5000, 1.5.into())]
    );

    // Malformed snappy and malformed protobuf: 400 with a message.
    let (status, body) = remote_write::post(&client, &url, b"\xff\xff\xff\xff definitely not snappy".to_vec()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("snappy"), "{body}");
    let garbage = snap::raw::Encoder::new().compress_vec(b"\x0a\xff\xff\xff\xff\x0f").unwrap();
    let (status, body) = remote_write::post(&client, &url, garbage).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("malformed remote-write protobuf"), "{body}");

    // One batch, one good series and every kind of bad one: 400, the good one stored.
    let mut unsorted = series("bad_unsorted", &[("b", "1"), ("a", "2")], &[(1000, 1.0)]);
    unsorted.labels.sort_by(|a, b| b.name.cmp(&a.name));
    let mut duplicate = series("bad_duplicate", &[("a", "1")], &[(1000, 1.0)]);
    duplicate.labels.push(duplicate.labels[0].clone());
    duplicate.labels.sort_by(|a, b| a.name.cmp(&b.name));
    let request = WriteRequest {
        timeseries: vec![
            unsorted,
            series("good", &[("job", "t")], &[(1000, 1.0), (2000, 2.0)]),
            duplicate,
            series("", &[("job", "t")], &[(1000, 1.0)]),
            series("bad_long", &[("job", &"x".repeat(65))], &[(1000, 1.0)]),
        ],
        metadata: vec![],
    };
    let (status, body) = remote_write::send(&client, &url, &request).await;
    assert_eq!(status, 400, "{body}");
    for needle in ["not sorted", "duplicate label name", "no metric name", "longer than 64 bytes", "valid ones were stored"] {
        assert!(body.contains(needle), "{needle:?} missing in {body}");
    }
    let got = export(&pharos, "{__name__=~\"good|bad_.*\"}").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[&labels(&[("__name__", "good"), ("job", "t")])], vec![(1000, 1.0.into()), (2000, 2.0.into())]);

    // Out-of-order beyond the window and a changed value at a stored timestamp are refused.
    let request = WriteRequest {
        timeseries: vec![series("good", &[("job", "t")], &[(2000, 9.0)]), series("good", &[("job", "t")], &[(3000, 3.0)])],
        metadata: vec![],
    };
    let (status, body) = remote_write::send(&client, &url, &request).await;
    assert_eq!(status, 400);
    assert!(body.contains("duplicate sample for timestamp 2000"), "{body}");
    // An exact duplicate is not an error.
    let request = WriteRequest { timeseries: vec![series("good", &[("job", "t")], &[(3000, 3.0)])], metadata: vec![] };
    assert_eq!(remote_write::send(&client, &url, &request).await.0, 204);

    // Content types.
    let response = client
        .post(&url)
        .header("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v9.Request")
        .header("Content-Encoding", "snappy")
        .body(remote_write::encode(&request))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(harness::http_status(pharos.http, "/-/ready"), Some(200), "Pharos stays up");
}

#[tokio::test]
async fn remote_write_v2_is_negotiated_by_content_type() {
    use pharos_proto::remote_write::v2;
    use prost::Message;
    let pharos = Pharos::start();
    let request = v2::Request {
        symbols: vec!["".into(), "__name__".into(), "v2_metric".into(), "job".into(), "x".into(), "Help.".into()],
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 2, 3, 4],
            samples: vec![v2::Sample { value: 4.0, timestamp: 1000 }, v2::Sample { value: 5.0, timestamp: 2000 }],
            metadata: Some(v2::Metadata { r#type: 1, help_ref: 5, unit_ref: 0 }),
            ..Default::default()
        }],
    };
    let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
    let response = reqwest::Client::new()
        .post(pharos.url("/api/v1/write"))
        .header("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(response.headers()["X-Prometheus-Remote-Write-Samples-Written"], "2");
    let got = export(&pharos, "v2_metric").await;
    assert_eq!(got[&labels(&[("__name__", "v2_metric"), ("job", "x")])].len(), 2);
    let metadata: Value = reqwest::get(pharos.url("/api/v1/metadata")).await.unwrap().json().await.unwrap();
    assert_eq!(metadata["data"]["v2_metric"][0]["type"], "counter");
}

/// Writers record every batch that got a 2xx; Pharos is killed with SIGKILL mid-stream and
/// restarted on the same data directory; every acknowledged sample must be there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_samples_survive_kill_9() {
    let mut pharos = Pharos::start();
    let data_dir = pharos.data_dir.clone();
    let url = pharos.url("/api/v1/write");
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (url, acked) = (url.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
            for round in 0i64.. {
                let t0 = round * 10 * 15_000;
                let names: Vec<String> = (0..50).map(|s| format!("w{writer}_s{s}")).collect();
                let request = WriteRequest {
                    timeseries: names
                        .iter()
                        .map(|name| {
                            let samples: Vec<(i64, f64)> = (0..10).map(|i| (t0 + i * 15_000, (round * 10 + i) as f64)).collect();
                            series("kill_test", &[("series", name)], &samples)
                        })
                        .collect(),
                    metadata: vec![],
                };
                let body = remote_write::encode(&request);
                let sent = client
                    .post(&url)
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        let mut acked = acked.lock().unwrap();
                        acked.extend(names.iter().map(|n| (n.clone(), t0 + 9 * 15_000)));
                    }
                    _ => return round,
                }
            }
            unreachable!()
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    pharos.child.kill().unwrap(); // SIGKILL
    pharos.child.wait().unwrap();
    let mut rounds = 0;
    for writer in writers {
        rounds += writer.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(rounds > 4 && !acked.is_empty(), "the writers barely ran ({rounds} rounds)");

    let restarted = Pharos::start_with(Options { data_dir: Some(data_dir), ..Options::default() });
    let got = export(&restarted, "kill_test").await;
    let newest: BTreeMap<String, i64> =
        got.iter().map(|(labels, samples)| (labels["series"].clone(), samples.iter().map(|s| s.0).max().unwrap())).collect();
    let mut expected_newest: BTreeMap<String, i64> = BTreeMap::new();
    for (name, t) in &acked {
        let entry = expected_newest.entry(name.clone()).or_insert(*t);
        *entry = (*entry).max(*t);
    }
    for (name, t) in &expected_newest {
        let have = newest.get(name).copied().unwrap_or(i64::MIN);
        assert!(have >= *t, "{name}: acknowledged up to t={t}, found up to {have}");
    }
    // Every acknowledged round is complete: 10 samples per round, no gaps.
    for (labels, samples) in &got {
        let acked_until = expected_newest.get(&labels["series"]).copied().unwrap_or(-1);
        let complete = samples.iter().filter(|s| s.0 <= acked_until).count() as i64;
        assert_eq!(complete, acked_until / 15_000 + 1, "gap in {labels:?}");
    }
    eprintln!("kill -9: {} acknowledged batches-series, {} rounds", acked.len(), rounds);
}

fn run_otel_sdk(protocol: &str, endpoint: &str) {
    let python = harness::require_program("python3");
    let script = harness::repo_file("tests/python/otel_metrics.py");
    let out = std::process::Command::new(python).arg(script).arg(protocol).arg(endpoint).output().unwrap();
    assert!(
        out.status.success(),
        "the OpenTelemetry SDK exporter failed ({protocol}):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn otel_series(pharos: &Pharos) -> BTreeMap<BTreeMap<String, String>, Vec<(i64, Value)>> {
    export(pharos, "{job=\"shop/checkout\"}").await
}

fn find<'a>(
    got: &'a BTreeMap<BTreeMap<String, String>, Vec<(i64, Value)>>,
    name: &str,
    extra: &[(&str, &str)],
) -> &'a Vec<(i64, Value)> {
    got.iter()
        .find(|(labels, _)| labels.get("__name__").map(String::as_str) == Some(name) && extra.iter().all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, samples)| samples)
        .unwrap_or_else(|| panic!("no {name}{extra:?} among {:#?}", got.keys().collect::<Vec<_>>()))
}

async fn check_otel_sdk_series(pharos: &Pharos) {
    let got = otel_series(pharos).await;
    let common = [("instance", "pod-1"), ("otel_scope_name", "pharos.test"), ("otel_scope_version", "1.2.3")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> { common.iter().chain(extra).copied().collect() };
    assert_eq!(find(&got, "http_server_requests_total", &with(&[("http_method", "GET"), ("http_status_code", "200")]))[0].1, 3.0);
    assert_eq!(find(&got, "http_server_requests_total", &with(&[("http_method", "POST")]))[0].1, 1.0);
    assert_eq!(find(&got, "http_server_request_duration_seconds_count", &with(&[("http_method", "GET")]))[0].1, 4.0);
    assert_eq!(find(&got, "http_server_request_duration_seconds_sum", &with(&[("http_method", "GET")]))[0].1.as_f64().map(|v| (v * 1000.0).round()), Some(7324.0));
    assert_eq!(find(&got, "http_server_request_duration_seconds_bucket", &with(&[("le", "+Inf")]))[0].1, 4.0);
    // The SDK's default explicit buckets are 0, 5, 10, 25, …: cumulative counts per bound.
    assert_eq!(find(&got, "http_server_request_duration_seconds_bucket", &with(&[("le", "0")]))[0].1, 0.0);
    assert_eq!(find(&got, "http_server_request_duration_seconds_bucket", &with(&[("le", "5")]))[0].1, 3.0);
    assert_eq!(find(&got, "http_server_request_duration_seconds_bucket", &with(&[("le", "10")]))[0].1, 4.0);
    assert_eq!(find(&got, "http_server_active_requests", &with(&[]))[0].1, 3.0);
    assert_eq!(find(&got, "system_cpu_utilization_ratio", &with(&[("cpu", "0")]))[0].1, 0.25);
    assert_eq!(find(&got, "system_memory_usage_bytes", &with(&[("state", "used")]))[0].1, 1024.0);
    let target_info = find(&got, "target_info", &[("instance", "pod-1"), ("deployment_environment", "test")]);
    assert_eq!(target_info[0].1, 1.0);
    let metadata: Value = reqwest::get(pharos.url("/api/v1/metadata?metric=http_server_requests_total")).await.unwrap().json().await.unwrap();
    assert_eq!(metadata["data"]["http_server_requests_total"][0]["type"], "counter", "{metadata}");
}

#[tokio::test]
async fn otel_sdk_metrics_over_grpc_become_prometheus_series() {
    let pharos = Pharos::start();
    run_otel_sdk("grpc", &format!("http://{}", pharos.otlp_grpc));
    check_otel_sdk_series(&pharos).await;
}

#[tokio::test]
async fn otel_sdk_metrics_over_http_become_prometheus_series() {
    let pharos = Pharos::start();
    run_otel_sdk("http", &format!("http://{}", pharos.otlp_http));
    check_otel_sdk_series(&pharos).await;
}

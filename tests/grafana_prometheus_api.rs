//! Acceptance: the requests Grafana's Prometheus datasource sends (Save & test, the metric browser,
//! label autocompletion, the exemplar probe, dashboard range queries, format query) get the same
//! answers from Pharos as from Debian's Prometheus 2.42 holding the same data.
//!
//! Both servers receive identical remote-write requests. Queries are evaluated at times between
//! the samples' 15 s grid, so no sample sits on a window boundary, where Prometheus 2.x (closed
//! windows) and Prometheus 3 (left-open windows, which Pharos follows) differ by design.

mod harness;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::remote_write;
use harness::{Pharos, free_port, require_program, urlencode};
use pharos_proto::remote_write::v1::WriteRequest;
use serde_json::Value;

/// Kills the child when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Prometheus {
    _child: Guard,
    base: String,
    _dir: tempfile::TempDir,
}

fn start_prometheus() -> Prometheus {
    let prometheus = require_program("prometheus");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let ready = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        harness::http_status(([127, 0, 0, 1], port).into(), "/-/ready") == Some(200)
    });
    assert!(
        ready,
        "Prometheus did not start:\n{}",
        std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap()
    );
    Prometheus { _child: Guard(child), base: format!("http://127.0.0.1:{port}"), _dir: dir }
}

/// 30 minutes of node_exporter-like data at 15 s, ending at the last full 15 s before now.
fn data(end_ms: i64) -> WriteRequest {
    let times: Vec<i64> = (0..120).map(|i| end_ms - (119 - i) * 15_000).collect();
    let mut timeseries = Vec::new();
    for instance in ["a:9100", "b:9100"] {
        let speed = if instance == "a:9100" { 1.0 } else { 2.5 };
        for (cpu, mode, rate) in [("0", "idle", 0.9), ("0", "user", 0.07), ("1", "idle", 0.8), ("1", "user", 0.15)] {
            let samples: Vec<(i64, f64)> =
                times.iter().enumerate().map(|(i, &t)| (t, 1000.0 + i as f64 * 15.0 * rate * speed)).collect();
            timeseries.push(remote_write::series(
                "node_cpu_seconds_total",
                &[("job", "node"), ("instance", instance), ("cpu", cpu), ("mode", mode)],
                &samples,
            ));
        }
        let up: Vec<(i64, f64)> = times.iter().map(|&t| (t, 1.0)).collect();
        timeseries.push(remote_write::series("up", &[("job", "node"), ("instance", instance)], &up));
        let mem: Vec<(i64, f64)> =
            times.iter().enumerate().map(|(i, &t)| (t, 4e9 + (i % 7) as f64 * 1e7 * speed)).collect();
        timeseries.push(remote_write::series(
            "node_memory_MemAvailable_bytes",
            &[("job", "node"), ("instance", instance)],
            &mem,
        ));
        let mut cumulative = 0.0;
        let buckets = [("0.1", 0.5), ("0.5", 0.8), ("1", 0.95), ("+Inf", 1.0)];
        let per_step: Vec<f64> = (0..times.len()).map(|i| 10.0 + (i % 5) as f64 * speed).collect();
        let totals: Vec<f64> = per_step
            .iter()
            .map(|n| {
                cumulative += n;
                cumulative
            })
            .collect();
        for (le, share) in buckets {
            let samples: Vec<(i64, f64)> = times.iter().zip(&totals).map(|(&t, n)| (t, (n * share).floor())).collect();
            timeseries.push(remote_write::series(
                "http_request_duration_seconds_bucket",
                &[("job", "api"), ("instance", instance), ("le", le)],
                &samples,
            ));
        }
    }
    WriteRequest { timeseries, ..Default::default() }
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}")))
}

async fn post_form(client: &reqwest::Client, url: &str, form: &str) -> (u16, Value) {
    let response = client
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}")))
}


/// A comparable form of a query answer: results keyed by their label set, values parsed.
fn normalise(v: &Value) -> Value {
    let Some(result) = v["data"]["result"].as_array() else { return v.clone() };
    let mut keyed: BTreeMap<String, Value> = BTreeMap::new();
    for item in result {
        keyed.insert(item["metric"].to_string(), item.clone());
    }
    serde_json::json!({"status": v["status"], "resultType": v["data"]["resultType"], "result": keyed})
}

/// Whether two answers agree, values compared as floats with a relative tolerance of 1e-9.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if x != y => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(p), Ok(q)) => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_requests_get_the_answers_prometheus_gives() {
    let prom = start_prometheus();
    let pharos = Pharos::start();
    let client = reqwest::Client::new();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let end_ms = now / 15_000 * 15_000 - 15_000;
    let request = data(end_ms);
    for url in [format!("{}/api/v1/write", prom.base), pharos.url("/api/v1/write")] {
        let (status, body) = remote_write::send(&client, &url, &request).await;
        assert!(status == 204 || status == 200, "{url}: {status} {body}");
    }
    // Evaluation times sit 7 s off the sample grid (see the module doc).
    let eval = (end_ms - 8_000) as f64 / 1000.0;
    let start = (end_ms - 20 * 60_000 + 7_000) as f64 / 1000.0;
    let (s, e) = ((end_ms - 3_600_000) / 1000, now / 1000 + 60);

    let gets = [
        // Save & test.
        "/api/v1/query?query=1%2B1&time=4".to_string(),
        // Editor start-up and the metric browser.
        format!("/api/v1/label/__name__/values?start={s}&end={e}&limit=40000"),
        format!("/api/v1/labels?start={s}&end={e}&limit=40000"),
        format!("/api/v1/labels?start={s}&end={e}&match[]={}", urlencode("node_cpu_seconds_total")),
        format!("/api/v1/label/instance/values?start={s}&end={e}&match[]={}&limit=40000", urlencode("up{job=\"node\"}")),
        format!(
            "/api/v1/label/mode/values?start={s}&end={e}&match[]={}",
            urlencode("{__name__=\"node_cpu_seconds_total\",cpu=\"1\"}")
        ),
        format!("/api/v1/series?start={s}&end={e}&limit=40000&match[]={}", urlencode("{__name__!=\"\"}")),
        format!("/api/v1/series?start={s}&end={e}&match[]={}", urlencode("node_cpu_seconds_total{mode=~\"us.*\"}")),
        "/api/v1/metadata".to_string(),
        // Variables: query_result() and dashboards' instant queries.
        format!("/api/v1/query?query={}&time={eval}", urlencode("up")),
        format!(
            "/api/v1/query?query={}&time={eval}",
            urlencode("sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))")
        ),
        format!("/api/v1/query?query={}&time={eval}", urlencode("topk(2, node_memory_MemAvailable_bytes)")),
        // Dashboard range queries.
        format!(
            "/api/v1/query_range?query={}&start={start}&end={eval}&step=60",
            urlencode("rate(node_cpu_seconds_total[5m])")
        ),
        format!(
            "/api/v1/query_range?query={}&start={start}&end={eval}&step=30",
            urlencode("histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))")
        ),
        format!(
            "/api/v1/query_range?query={}&start={start}&end={eval}&step=60",
            urlencode("100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))")
        ),
        format!(
            "/api/v1/query_range?query={}&start={start}&end={eval}&step=120",
            urlencode("max_over_time(rate(node_cpu_seconds_total{mode=\"user\"}[2m])[10m:1m])")
        ),
        format!(
            "/api/v1/query_range?query={}&start={start}&end={eval}&step=60",
            urlencode("node_memory_MemAvailable_bytes / on(instance) group_left() up")
        ),
        // The query editor's "format query".
        format!("/api/v1/format_query?query={}", urlencode("sum(rate(x[5m]))by(job)")),
        format!(
            "/api/v1/format_query?query={}",
            urlencode(
                "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"api\",handler=\"/x\"}[5m]))) > on(job) group_left(instance) max by (job, instance) (up{job=\"api\"})"
            )
        ),
    ];
    for path in &gets {
        let (ps, pv) = get(&client, &format!("{}{path}", prom.base)).await;
        let (hs, hv) = get(&client, &pharos.url(path)).await;
        assert_eq!(hs, ps, "{path}: Pharos {hv}, Prometheus {pv}");
        assert!(same(&normalise(&hv), &normalise(&pv)), "{path}:\nPharos     {hv}\nPrometheus {pv}");
    }

    // Save & test as a POST form (the datasource's default method).
    let (ps, pv) = post_form(&client, &format!("{}/api/v1/query", prom.base), "query=1%2B1&time=4").await;
    let (hs, hv) = post_form(&client, &pharos.url("/api/v1/query"), "query=1%2B1&time=4").await;
    assert_eq!((hs, &hv), (ps, &pv));
    assert_eq!(hv["data"], serde_json::json!({"resultType":"scalar","result":[4,"2"]}));

    // The exemplar probe: millisecond start/end must not be an error.
    let probe = format!("/api/v1/query_exemplars?query=test&start={}&end={}", now - 3_600_000, now);
    let (ps, _) = get(&client, &format!("{}{probe}", prom.base)).await;
    let (hs, hv) = get(&client, &pharos.url(&probe)).await;
    assert_eq!((hs, ps), (200, 200), "{hv}");
    assert_eq!(hv["status"], "success");

    // Bad requests: same status and error type.
    for path in [
        "/api/v1/query?query=sum(up&time=10".to_string(),
        "/api/v1/query?query=rate(up)&time=10".to_string(),
        format!("/api/v1/query_range?query=up&start={eval}&end={start}&step=60"),
        format!("/api/v1/query_range?query=up&start={start}&end={eval}&step=0"),
        "/api/v1/series".to_string(),
    ] {
        let (ps, pv) = get(&client, &format!("{}{path}", prom.base)).await;
        let (hs, hv) = get(&client, &pharos.url(&path)).await;
        assert_eq!(hs, ps, "{path}: Pharos {hv}, Prometheus {pv}");
        assert_eq!(hv["errorType"], pv["errorType"], "{path}: Pharos {hv}, Prometheus {pv}");
    }
    let (_, hv) = get(&client, &pharos.url("/api/v1/query?query=sum(up&time=10")).await;
    let message = hv["error"].as_str().unwrap();
    assert!(message.starts_with("invalid parameter \"query\": 1:"), "the parse error names its position: {message}");
}

// Pharos — tests/grafana_prometheus_api.rs

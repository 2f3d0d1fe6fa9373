//! Acceptance: Debian's Prometheus 2.42 scrapes node_exporter and itself and remote-writes to
//! Pharos for two minutes; the series Pharos lists and the samples it exports equal what that
//! Prometheus stored over the same interval.

mod harness;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harness::{Pharos, free_port, require_program, urlencode};
use serde_json::Value;

/// Kills the child when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn get_json(url: &str) -> Value {
    let response = reqwest::get(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
}

fn series_key(metric: &serde_json::Map<String, Value>) -> String {
    let sorted: BTreeMap<&String, &str> = metric.iter().map(|(k, v)| (k, v.as_str().unwrap_or(""))).collect();
    format!("{sorted:?}")
}

type Samples = BTreeMap<String, Vec<(i64, u64)>>;

/// Prometheus' raw samples in (start, end] from a range-vector instant query.
async fn prometheus_samples(prom: &str, start: i64, end: i64) -> Samples {
    let range = format!("{}ms", end - start);
    let url = format!(
        "{prom}/api/v1/query?query={}&time={}",
        urlencode(&format!("{{__name__=~\".+\"}}[{range}]")),
        end as f64 / 1000.0
    );
    let v = get_json(&url).await;
    assert_eq!(v["status"], "success", "{v}");
    let mut out = Samples::new();
    for series in v["data"]["result"].as_array().unwrap() {
        let key = series_key(series["metric"].as_object().unwrap());
        let values = series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                let t = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
                (t, parse_prom_value(pair[1].as_str().unwrap()).to_bits())
            })
            .collect();
        out.insert(key, values);
    }
    out
}

fn parse_prom_value(text: &str) -> f64 {
    match text {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => text.parse().unwrap(),
    }
}

/// Pharos' samples in (start, end] from /api/v1/export.
async fn pharos_samples(pharos: &Pharos, start: i64, end: i64) -> Samples {
    let url = pharos.url(&format!(
        "/api/v1/export?match[]={}&start={}&end={}",
        urlencode("{__name__=~\".+\"}"),
        (start + 1) as f64 / 1000.0,
        end as f64 / 1000.0
    ));
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let mut out = Samples::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = series_key(v["metric"].as_object().unwrap());
        let values = v["values"]
            .as_array()
            .unwrap()
            .iter()
            .zip(v["timestamps"].as_array().unwrap())
            .map(|(value, t)| {
                let f = match value {
                    Value::String(s) => parse_prom_value(s),
                    other => other.as_f64().unwrap(),
                };
                (t.as_i64().unwrap(), f.to_bits())
            })
            .collect();
        out.insert(key, values);
    }
    out
}


/// The first differences between two sample sets, for the failure message.
fn differences(prom: &Samples, pharos: &Samples) -> Vec<String> {
    let mut diffs = Vec::new();
    for (key, values) in prom {
        match pharos.get(key) {
            None => diffs.push(format!("missing in Pharos: {key}")),
            Some(got) if got != values => diffs.push(format!("{key}: Prometheus {values:?}, Pharos {got:?}")),
            _ => {}
        }
    }
    for key in pharos.keys().filter(|k| !prom.contains_key(*k)) {
        diffs.push(format!("only in Pharos: {key}"));
    }
    diffs
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrape_and_remote_write_match_what_prometheus_stored() {
    let prometheus = require_program("prometheus");
    let node_exporter = require_program("prometheus-node-exporter");
    let pharos = Pharos::start();
    let tmp = tempfile::tempdir().unwrap();

    let node_port = free_port();
    let _node = Guard(
        Command::new(node_exporter)
            .arg(format!("--web.listen-address=127.0.0.1:{node_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prom_port = free_port();
    let config = format!(
        r#"global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
- job_name: node
  static_configs:
  - targets: ['127.0.0.1:{node_port}']
- job_name: prometheus
  static_configs:
  - targets: ['127.0.0.1:{prom_port}']
remote_write:
- url: {url}
  queue_config:
    batch_send_deadline: 1s
  metadata_config:
    send_interval: 10s
"#,
        url = pharos.url("/api/v1/write")
    );
    let config_file = tmp.path().join("prometheus.yml");
    std::fs::write(&config_file, config).unwrap();
    let prom_log_file = std::fs::File::create(tmp.path().join("prometheus.log")).unwrap();
    let _prom = Guard(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", tmp.path().join("prom-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(prom_log_file)
            .spawn()
            .unwrap(),
    );
    let prom = format!("http://127.0.0.1:{prom_port}");
    let prom_log = tmp.path().join("prometheus.log");
    let ready = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        harness::http_status(([127, 0, 0, 1], prom_port).into(), "/-/ready") == Some(200)
    });
    assert!(ready, "Prometheus did not start:\n{}", std::fs::read_to_string(&prom_log).unwrap_or_default());
    let started = now_ms();

    // Two minutes of scraping and remote writing.
    tokio::time::sleep(Duration::from_secs(125)).await;

    // Compare the window from the start to 15 s ago, once remote write has caught up with it.
    let end = now_ms() - 15_000;
    let start = started - 60_000;
    let expected = prometheus_samples(&prom, start, end).await;
    let total: usize = expected.values().map(Vec::len).sum();
    assert!(expected.len() > 500, "Prometheus stored only {} series", expected.len());
    assert!(total > 10_000, "Prometheus stored only {total} samples");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = pharos_samples(&pharos, start, end).await;
    while got != expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(2)).await;
        got = pharos_samples(&pharos, start, end).await;
    }
    let diffs = differences(&expected, &got);
    assert!(
        diffs.is_empty(),
        "{} of {} series differ; first: {:#?}\nPharos log:\n{}",
        diffs.len(),
        expected.len(),
        &diffs[..diffs.len().min(5)],
        pharos.log_text()
    );

    // The series lists over the same window agree too.
    let series_url = |base: &str| {
        format!(
            "{base}/api/v1/series?match[]={}&start={}&end={}",
            urlencode("{__name__=~\".+\"}"),
            (start + 1) as f64 / 1000.0,
            end as f64 / 1000.0
        )
    };
    let listed = |v: Value| -> Vec<String> {
        let mut keys: Vec<String> =
            v["data"].as_array().unwrap().iter().map(|m| series_key(m.as_object().unwrap())).collect();
        keys.sort();
        keys
    };
    let prom_series = listed(get_json(&series_url(&prom)).await);
    let pharos_series = listed(get_json(&series_url(&format!("http://{}", pharos.http))).await);
    let missing: Vec<_> = prom_series.iter().filter(|k| !pharos_series.contains(k)).take(5).collect();
    let extra: Vec<_> = pharos_series.iter().filter(|k| !prom_series.contains(k)).take(5).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");

    // Metadata arrived through remote write.
    let metadata = get_json(&pharos.url("/api/v1/metadata?metric=node_cpu_seconds_total")).await;
    assert_eq!(metadata["data"]["node_cpu_seconds_total"][0]["type"], "counter", "{metadata}");
}

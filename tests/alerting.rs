//! Alerting end to end, against the real binary over real sockets: a Prometheus rule file
//! evaluated over remote-written samples notifies a real SMTP server (Python's aiosmtpd) and a
//! local Slack/webhook receiver; Debian's amtool and Prometheus talk to Pharos' Alertmanager API;
//! grouping, inhibition, `continue` and `repeat_interval`; silences, the notification log and
//! alert state across restarts; failing receivers are retried without blocking the others.

mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harness::{Options, Pharos, remote_write};
use pharos_proto::remote_write::v1::WriteRequest;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn now_secs_f64() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

async fn get_json(pharos: &Pharos, path: &str) -> Value {
    let response = client().get(pharos.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// One request a [`HttpReceiver`] got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    body: Value,
    at: f64,
}

/// A local HTTP server standing in for Slack's incoming webhooks and webhook receivers: records
/// every POST; answers with the status set for its path (200 "ok" by default).
#[derive(Clone)]
struct HttpReceiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    failing: Arc<Mutex<Vec<(String, u16)>>>,
}

impl HttpReceiver {
    async fn start() -> HttpReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let receiver = HttpReceiver {
            port,
            received: Arc::new(Mutex::new(Vec::new())),
            failing: Arc::new(Mutex::new(Vec::new())),
        };
        let state = receiver.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let path = uri.path().to_string();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let status = state.failing.lock().unwrap().iter().find(|(p, _)| *p == path).map_or(200, |(_, s)| *s);
                state.received.lock().unwrap().push(Received { path, body, at: now_secs_f64() });
                (axum::http::StatusCode::from_u16(status).unwrap(), "ok")
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn fail(&self, path: &str, status: u16) {
        self.failing.lock().unwrap().push((path.to_string(), status));
    }

    fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Wait until `path` has received at least `count` requests.
    async fn wait_for(&self, path: &str, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.at(path);
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A real SMTP server: Python's aiosmtpd, writing each message it receives to a directory.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let port = harness::free_port();
        let child = Command::new(harness::require_program("python3"))
            .arg(harness::repo_file("alerting/tests/smtp_sink.py"))
            .args(["--port", &port.to_string(), "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpSink { child, port, dir }
    }

    /// The messages received so far, each as (arrival time, raw RFC 5322 text), oldest first.
    fn messages(&self) -> Vec<(f64, String)> {
        let mut messages: Vec<(f64, String)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| {
                let path = e.ok()?.path();
                if path.extension().is_none_or(|x| x != "eml") {
                    return None;
                }
                let at = path.metadata().ok()?.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
                Some((at, std::fs::read_to_string(&path).ok()?))
            })
            .collect();
        messages.sort_by(|a, b| a.0.total_cmp(&b.0));
        messages
    }

    async fn wait_for(&self, count: usize, limit: Duration) -> Vec<(f64, String)> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.messages();
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The decoded text of a MIME message's parts and headers (quoted-printable soft breaks undone),
/// good enough to search for what a notification says.
fn email_text(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=").replace("\r\n", "\n")
}

/// A directory with the files of one test: rule files and alertmanager.yml.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        Files(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A Pharos configuration that evaluates `rules` every second and uses `alertmanager`.
fn pharos_config(rules: Option<&Path>, alertmanager: &Path) -> String {
    let rule_files = rules.map_or("[]".to_string(), |r| format!("[{:?}]", r.display().to_string()));
    format!(
        "alerting:\n  rule_files: {rule_files}\n  evaluation_interval: 1s\n  resend_delay: 1s\n  alertmanager_config: {:?}\n  external_url: http://pharos.example.org:9090\n",
        alertmanager.display().to_string()
    )
}

async fn post_alerts(pharos: &Pharos, alerts: Value) -> (u16, String) {
    let response = client().post(pharos.url("/alertmanager/api/v2/alerts")).json(&alerts).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn alert(labels: Value) -> Value {
    json!({"labels": labels, "annotations": {"summary": "test alert"}, "generatorURL": "http://prom/graph"})
}

async fn remote_write_value(pharos: &Pharos, name: &str, labels: &[(&str, &str)], value: f64) {
    let request = WriteRequest {
        timeseries: vec![remote_write::series(name, labels, &[(now_ms(), value)])],
        ..Default::default()
    };
    let (status, body) = remote_write::send(&client(), &pharos.url("/api/v1/write"), &request).await;
    assert_eq!(status, 204, "{body}");
}

/// Poll `/api/v1/alerts` until an alert named `name` is in `state`; returns it.
async fn wait_rule_alert(pharos: &Pharos, name: &str, state: &str, limit: Duration) -> Option<Value> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let body = get_json(pharos, "/api/v1/alerts").await;
        if let Some(alert) = body["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name && a["state"] == state)
        {
            return Some(alert.clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// RFC 3339 text of a time.
fn rfc3339(t: SystemTime) -> String {
    let nanos = t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
    pharos_proto::civil_time::format_rfc3339(nanos, pharos_proto::civil_time::Fraction::Trimmed)
}

/// Seconds since the epoch of an RFC 3339 time (Prometheus' `activeAt`).
fn rfc3339_secs(text: &str) -> f64 {
    pharos_query::parse_rfc3339_nanos(text).expect("an RFC 3339 time") as f64 / 1e9
}

/// An unchanged, real-world style Prometheus rule file.
const RULES: &str = r#"groups:
  - name: api.rules
    rules:
      - record: job:api_errors:ratio
        expr: max by (job) (api_errors_ratio)
      - alert: HighErrorRate
        expr: api_errors_ratio > 0.05
        for: 0s
        labels:
          severity: page
          team: "{{ $labels.job }}-oncall"
        annotations:
          summary: "High error rate on {{ $labels.instance }}"
          description: "{{ $labels.instance }} of job {{ $labels.job }} fails {{ $value | humanizePercentage }} of requests."
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_fires_and_email_and_slack_arrive_then_resolve() {
    let smtp = SmtpSink::start();
    let http = HttpReceiver::start().await;
    let files = Files::new();
    let rules = files.write("api.rules.yml", RULES);
    let alertmanager = files.write(
        "alertmanager.yml",
        &format!(
            r#"global:
  smtp_smarthost: 127.0.0.1:{smtp}
  smtp_from: pharos@example.org
  smtp_require_tls: false
  slack_api_url: {slack}
route:
  receiver: oncall
  group_by: [alertname, job]
  group_wait: 2s
  group_interval: 3s
  repeat_interval: 1h
receivers:
  - name: oncall
    email_configs:
      - to: oncall@example.org
        send_resolved: true
    slack_configs:
      - channel: '#alerts'
        send_resolved: true
        text: "{{{{ range .Alerts }}}}{{{{ .Annotations.description }}}}\n{{{{ end }}}}"
"#,
            smtp = smtp.port,
            slack = http.url("/slack"),
        ),
    );
    let pharos =
        Pharos::start_with(Options { config: Some(pharos_config(Some(&rules), &alertmanager)), ..Default::default() });

    remote_write_value(&pharos, "api_errors_ratio", &[("job", "api"), ("instance", "api-1:8080")], 0.25).await;
    let firing = wait_rule_alert(&pharos, "HighErrorRate", "firing", Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("the alert did not fire; log:\n{}", pharos.log_text()));
    let fired_at = rfc3339_secs(firing["activeAt"].as_str().unwrap());
    assert_eq!(firing["labels"]["team"], "api-oncall", "label templates are expanded");

    // Email: within group_wait (2 s) + 1 s of firing.
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert!(!mails.is_empty(), "no email; log:\n{}", pharos.log_text());
    let (mail_at, raw) = &mails[0];
    let mail = email_text(raw);
    assert!(mail.contains("Subject: [FIRING:1] HighErrorRate api"), "{mail}");
    assert!(mail.contains("To: oncall@example.org") && mail.contains("From: pharos@example.org"), "{mail}");
    assert!(mail.contains("severity") && mail.contains("page") && mail.contains("api-1:8080"), "labels: {mail}");
    assert!(mail.contains("High error rate on api-1:8080"), "annotations: {mail}");
    assert!(mail.contains("fails 25% of requests"), "humanizePercentage: {mail}");
    assert!(mail.contains("text/html"), "an HTML part: {mail}");
    assert!(mail_at - fired_at <= 3.0, "email {:.2} s after firing", mail_at - fired_at);

    // Slack.
    let slack = http.wait_for("/slack", 1, Duration::from_secs(10)).await;
    assert_eq!(slack.len(), 1, "one Slack message");
    let message = &slack[0].body;
    assert_eq!(message["channel"], "#alerts");
    let attachment = &message["attachments"][0];
    assert!(attachment["title"].as_str().unwrap().starts_with("[FIRING:1] HighErrorRate api"), "{message}");
    assert_eq!(attachment["color"], "danger");
    assert!(attachment["text"].as_str().unwrap().contains("api-1:8080 of job api fails 25% of requests."), "{message}");
    assert!(slack[0].at - fired_at <= 3.0, "Slack {:.2} s after firing", slack[0].at - fired_at);
    eprintln!(
        "notified {:.3} s (email) and {:.3} s (Slack) after the alert fired; group_wait 2 s",
        mail_at - fired_at,
        slack[0].at - fired_at
    );

    // The recording rule wrote its series back.
    let recorded = get_json(&pharos, "/api/v1/query?query=job:api_errors:ratio").await;
    assert_eq!(recorded["data"]["result"][0]["value"][1], "0.25", "{recorded}");

    // Resolution.
    remote_write_value(&pharos, "api_errors_ratio", &[("job", "api"), ("instance", "api-1:8080")], 0.0).await;
    let mails = smtp.wait_for(2, Duration::from_secs(15)).await;
    assert_eq!(mails.len(), 2, "a resolution email; log:\n{}", pharos.log_text());
    assert!(email_text(&mails[1].1).contains("Subject: [RESOLVED] HighErrorRate api"), "{}", mails[1].1);
    let slack = http.wait_for("/slack", 2, Duration::from_secs(10)).await;
    assert_eq!(slack.len(), 2);
    assert_eq!(slack[1].body["attachments"][0]["color"], "good");
    assert!(slack[1].body["attachments"][0]["title"].as_str().unwrap().starts_with("[RESOLVED] HighErrorRate"));

    // Notification metrics.
    let metrics = client().get(pharos.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("alertmanager_notifications_total{integration=\"email\"} 2"), "{metrics}");
    assert!(metrics.contains("alertmanager_notifications_total{integration=\"slack\"} 2"), "{metrics}");
}

/// A webhook-only alertmanager.yml: everything to `/hook`, grouped by alertname.
fn webhook_config(http: &HttpReceiver, extra_route: &str) -> String {
    format!(
        r#"route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
{extra_route}receivers:
  - name: hook
    webhook_configs:
      - url: {hook}
  - name: pager
    webhook_configs:
      - url: {pager}
  - name: audit
    webhook_configs:
      - url: {audit}
"#,
        hook = http.url("/hook"),
        pager = http.url("/pager"),
        audit = http.url("/audit"),
    )
}

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(harness::require_program(program)).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_lists_alerts_and_manages_silences_and_a_silenced_alert_sends_nothing() {
    let http = HttpReceiver::start().await;
    let files = Files::new();
    let alertmanager = files.write("alertmanager.yml", &webhook_config(&http, ""));
    let pharos = Pharos::start_with(Options { config: Some(pharos_config(None, &alertmanager)), ..Default::default() });
    let url = format!("--alertmanager.url={}", pharos.url("/alertmanager"));

    // amtool adds a silence, finds it, and the silenced alert is not sent while another one is.
    let (ok, id) = run(
        "amtool",
        &[&url, "silence", "add", "alertname=DiskFull", "--comment=maintenance", "--author=ci", "--duration=1h"],
    );
    assert!(ok, "amtool silence add: {id}");
    assert!(!id.contains("Warning"), "amtool sees the Alertmanager version it knows: {id}");
    let id = id.trim().to_string();
    assert_eq!(id.len(), 36, "a silence id: {id:?}");
    let (ok, listed) = run("amtool", &[&url, "silence", "query"]);
    assert!(
        ok && listed.contains(&id) && listed.contains("alertname=\"DiskFull\"") && listed.contains("maintenance"),
        "{listed}"
    );
    let (ok, listed) = run("amtool", &[&url, "silence", "query", "alertname=DiskFull", "-q"]);
    assert!(ok && listed.trim() == id, "query by matcher: {listed}");

    let (status, body) = post_alerts(
        &pharos,
        json!([
            alert(json!({"alertname": "DiskFull", "instance": "db-1"})),
            alert(json!({"alertname": "CpuHot", "instance": "db-1"}))
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let got = http.wait_for("/hook", 1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_all = http.at("/hook");
    assert_eq!(got.len(), 1);
    assert_eq!(got_all.len(), 1, "only the unsilenced group is notified: {got_all:?}");
    assert_eq!(got_all[0].body["groupLabels"]["alertname"], "CpuHot");

    // amtool lists the alerts, the silenced one as suppressed.
    let (ok, alerts) = run("amtool", &[&url, "alert", "query"]);
    assert!(ok && alerts.contains("CpuHot") && !alerts.contains("DiskFull"), "active only by default: {alerts}");
    let (ok, alerts) = run("amtool", &[&url, "alert", "query", "--silenced"]);
    assert!(ok && alerts.contains("DiskFull"), "{alerts}");
    let groups = get_json(&pharos, "/alertmanager/api/v2/alerts?filter=alertname%3D%22DiskFull%22").await;
    assert_eq!(groups[0]["status"]["state"], "suppressed");
    assert_eq!(groups[0]["status"]["silencedBy"][0], id.as_str());

    // Expiring the silence lets the alert through at the next flush.
    let (ok, out) = run("amtool", &[&url, "silence", "expire", &id]);
    assert!(ok, "amtool silence expire: {out}");
    let (ok, listed) = run("amtool", &[&url, "silence", "query", "-q"]);
    assert!(ok && listed.trim().is_empty(), "no active silence: {listed}");
    let (ok, listed) = run("amtool", &[&url, "silence", "query", "--expired", "-q"]);
    assert!(ok && listed.contains(&id), "expired: {listed}");
    let got = http.wait_for("/hook", 2, Duration::from_secs(6)).await;
    assert_eq!(got.len(), 2, "DiskFull notified once unsilenced");
    assert_eq!(got[1].body["groupLabels"]["alertname"], "DiskFull");

    // amtool reads the status and the configuration.
    let (ok, config) = run("amtool", &[&url, "config", "show"]);
    assert!(ok && config.contains("webhook_configs"), "{config}");

    // Grafana's Alertmanager datasource (implementation Prometheus) tests `<url>/alertmanager/api/v2/status`
    // first, where a 200 means Mimir/Cortex, then `<url>/api/v2/status`.
    let status = client().get(pharos.url("/alertmanager/alertmanager/api/v2/status")).send().await.unwrap();
    assert_eq!(status.status(), 404);
    let status = get_json(&pharos, "/alertmanager/api/v2/status").await;
    assert_eq!(status["cluster"]["status"], "disabled");
    assert_eq!(status["versionInfo"]["version"], "0.25.0");
    let receivers = get_json(&pharos, "/alertmanager/api/v2/receivers").await;
    assert_eq!(receivers, json!([{"name": "hook"}, {"name": "pager"}, {"name": "audit"}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debian_prometheus_sends_its_alerts_to_pharos_which_notifies() {
    let http = HttpReceiver::start().await;
    let files = Files::new();
    let alertmanager = files.write("alertmanager.yml", &webhook_config(&http, ""));
    let pharos = Pharos::start_with(Options { config: Some(pharos_config(None, &alertmanager)), ..Default::default() });
    files.write(
        "prom-rules.yml",
        "groups:\n  - name: prom\n    rules:\n      - alert: PrometheusSaysHello\n        expr: vector(1)\n        labels: {severity: info}\n        annotations: {summary: from Debian's Prometheus}\n",
    );
    let prom_port = harness::free_port();
    let prom_config = files.write(
        "prometheus.yml",
        &format!(
            "global:\n  evaluation_interval: 1s\n  external_labels: {{monitor: debian}}\nrule_files: [prom-rules.yml]\nalerting:\n  alertmanagers:\n    - api_version: v2\n      path_prefix: /alertmanager\n      static_configs:\n        - targets: ['{}']\n",
            pharos.http
        ),
    );
    let data = tempfile::tempdir().unwrap();
    let mut prometheus = Command::new(harness::require_program("prometheus"))
        .arg(format!("--config.file={}", prom_config.display()))
        .arg(format!("--storage.tsdb.path={}", data.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .arg("--web.external-url=http://prometheus.example.org:9090")
        // Alerts that fire before the Alertmanager is discovered (within 5 s) are re-sent after it.
        .arg("--rules.alert.resend-delay=1s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let got = http.wait_for("/hook", 1, Duration::from_secs(30)).await;
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert_eq!(got.len(), 1, "Pharos notified the alert Prometheus sent; log:\n{}", pharos.log_text());
    let body = &got[0].body;
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "hook");
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "PrometheusSaysHello");
    assert_eq!(alert["labels"]["monitor"], "debian", "Prometheus' external labels");
    assert_eq!(alert["annotations"]["summary"], "from Debian's Prometheus");
    assert!(alert["generatorURL"].as_str().unwrap().starts_with("http://prometheus.example.org:9090/graph?g0.expr="));
    assert_eq!(alert["fingerprint"].as_str().unwrap().len(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouping_inhibition_continue_and_repeat_interval() {
    let http = HttpReceiver::start().await;
    let files = Files::new();
    let routes = r#"  routes:
    - receiver: pager
      matchers: ['severity="critical"']
      continue: true
    - receiver: audit
      matchers: ['severity=~"critical|warning"']
      repeat_interval: 4s
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
"#;
    let alertmanager = files.write("alertmanager.yml", &webhook_config(&http, routes));
    let pharos = Pharos::start_with(Options { config: Some(pharos_config(None, &alertmanager)), ..Default::default() });

    // Grouping: three instances of one alert are one notification of three alerts.
    let three: Vec<Value> =
        (1..=3).map(|i| alert(json!({"alertname": "Down", "instance": format!("node-{i}")}))).collect();
    assert_eq!(post_alerts(&pharos, Value::Array(three)).await.0, 200);
    let got = http.wait_for("/hook", 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body["alerts"].as_array().unwrap().len(), 3, "{}", got[0].body);
    assert_eq!(got[0].body["groupKey"], "{}:{alertname=\"Down\"}");

    // Inhibition and continue: the critical alert goes to pager and (continue) audit; the
    // warning of the same cluster is inhibited, the one of another cluster is not.
    let alerts = json!([
        alert(json!({"alertname": "ClusterDown", "severity": "critical", "cluster": "eu"})),
        alert(json!({"alertname": "Slow", "severity": "warning", "cluster": "eu"})),
        alert(json!({"alertname": "Slow", "severity": "warning", "cluster": "us"})),
    ]);
    assert_eq!(post_alerts(&pharos, alerts).await.0, 200);
    let pager = http.wait_for("/pager", 1, Duration::from_secs(5)).await;
    assert_eq!(pager.len(), 1);
    assert_eq!(pager[0].body["alerts"][0]["labels"]["alertname"], "ClusterDown");
    let audit = http.wait_for("/audit", 2, Duration::from_secs(5)).await;
    let mut audited: Vec<String> = audit
        .iter()
        .flat_map(|r| {
            r.body["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    format!(
                        "{}/{}",
                        a["labels"]["alertname"].as_str().unwrap(),
                        a["labels"]["cluster"].as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    audited.sort();
    assert_eq!(audited, ["ClusterDown/eu", "Slow/us"], "Slow/eu is inhibited");
    let api =
        get_json(&pharos, "/alertmanager/api/v2/alerts?filter=cluster%3D%22eu%22&filter=alertname%3D%22Slow%22").await;
    assert_eq!(api[0]["status"]["state"], "suppressed");
    assert_eq!(api[0]["status"]["inhibitedBy"].as_array().unwrap().len(), 1);

    // repeat_interval: audit (4 s) repeats the unchanged groups, hook (1h) does not.
    let first_audit = http.at("/audit").len();
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(
        http.at("/audit").len() >= first_audit + 2,
        "audit repeated after repeat_interval: {:?}",
        http.at("/audit").len()
    );
    assert_eq!(http.at("/hook").len(), 1, "no repeat within hook's repeat_interval");
    assert_eq!(http.at("/pager").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_notification_log_and_alert_state_survive_a_restart() {
    let http = HttpReceiver::start().await;
    let files = Files::new();
    let rules = files.write(
        "rules.yml",
        "groups:\n  - name: slow\n    rules:\n      - alert: Pending\n        expr: up_marker > 0\n        for: 1h\n",
    );
    let alertmanager = files.write("alertmanager.yml", &webhook_config(&http, ""));
    let config = pharos_config(Some(&rules), &alertmanager);
    let data = tempfile::tempdir().unwrap();
    let options = Options { config: Some(config), data_dir: Some(data.path().join("data")), ..Default::default() };
    let pharos = Pharos::start_with(options.clone());

    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Muted", "isRegex": false, "isEqual": true}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "ci", "comment": "survives restarts",
    });
    let response = client().post(pharos.url("/alertmanager/api/v2/silences")).json(&silence).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.json::<Value>().await.unwrap()["silenceID"].as_str().unwrap().to_string();

    // A second alert that will resolve while Pharos is down (its sender set its end).
    let mut ends = alert(json!({"alertname": "EndsWhileDown"}));
    let end = SystemTime::now() + Duration::from_secs(10);
    ends["endsAt"] = json!(rfc3339(end));
    assert_eq!(post_alerts(&pharos, json!([alert(json!({"alertname": "Notified"})), ends])).await.0, 200);
    assert_eq!(http.wait_for("/hook", 2, Duration::from_secs(5)).await.len(), 2);

    remote_write_value(&pharos, "up_marker", &[("job", "x")], 1.0).await;
    let pending = wait_rule_alert(&pharos, "Pending", "pending", Duration::from_secs(10)).await.expect("pending");
    let active_at = pending["activeAt"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(3)).await; // ALERTS_FOR_STATE written a few times

    // kill -9, restart on the same data directory.
    drop(pharos);
    let restart_at = now_secs_f64();
    let pharos = Pharos::start_with(options);
    let silences = get_json(&pharos, &format!("/alertmanager/api/v2/silence/{id}")).await;
    assert_eq!(silences["status"]["state"], "active");
    assert_eq!(silences["comment"], "survives restarts");

    // The sender re-sends the alert (as Prometheus does every resend_delay): the notification log
    // remembers it was notified, so nothing is sent again within repeat_interval.
    assert_eq!(post_alerts(&pharos, json!([alert(json!({"alertname": "Notified"}))])).await.0, 200);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let about = |name: &str| -> Vec<Value> {
        http.at("/hook").into_iter().map(|r| r.body).filter(|b| b["groupLabels"]["alertname"] == name).collect()
    };
    assert_eq!(about("Notified").len(), 1, "no duplicate after the restart");

    // The notifier's alerts were kept: the group of the alert that ended while Pharos was down is
    // notified as resolved, nobody having re-sent it.
    let deadline = Instant::now() + Duration::from_secs(15);
    while about("EndsWhileDown").len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ends = about("EndsWhileDown");
    assert_eq!(ends.len(), 2, "firing, then resolved after the restart");
    assert_eq!(ends[1]["status"], "resolved");

    // The pending alert's `for` timer was restored, not restarted: its activeAt is the one from
    // before, shifted by the time Pharos was down (Prometheus' RestoreForState), well before the
    // restart.
    let pending = wait_rule_alert(&pharos, "Pending", "pending", Duration::from_secs(10)).await.expect("pending again");
    let (before, after) = (rfc3339_secs(&active_at), rfc3339_secs(pending["activeAt"].as_str().unwrap()));
    assert!(after >= before - 1.0 && after < restart_at - 1.0, "activeAt {before} → {after}, restart at {restart_at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receivers_are_retried_counted_and_block_nothing_else() {
    let http = HttpReceiver::start().await;
    http.fail("/slack", 500);
    let files = Files::new();
    let dead_smtp = harness::free_port();
    let alertmanager = files.write(
        "alertmanager.yml",
        &format!(
            r#"global:
  smtp_smarthost: 127.0.0.1:{dead_smtp}
  smtp_from: pharos@example.org
  smtp_require_tls: false
route:
  receiver: broken
  group_wait: 1s
  group_interval: 30s
  routes:
    - receiver: hook
      matchers: ['team="ok"']
receivers:
  - name: broken
    email_configs: [{{to: oncall@example.org}}]
    slack_configs: [{{api_url: {slack}, channel: '#x'}}]
  - name: hook
    webhook_configs: [{{url: {hook}}}]
"#,
            slack = http.url("/slack"),
            hook = http.url("/hook"),
        ),
    );
    let pharos = Pharos::start_with(Options { config: Some(pharos_config(None, &alertmanager)), ..Default::default() });
    let alerts =
        json!([alert(json!({"alertname": "Broken", "team": "x"})), alert(json!({"alertname": "Fine", "team": "ok"}))]);
    assert_eq!(post_alerts(&pharos, alerts).await.0, 200);

    // The healthy receiver is notified on time while the others fail and retry.
    let hook = http.wait_for("/hook", 1, Duration::from_secs(4)).await;
    assert_eq!(hook.len(), 1, "the webhook is not blocked by the failing receivers");
    let slack_attempts = http.wait_for("/slack", 6, Duration::from_secs(20)).await;
    assert!(slack_attempts.len() >= 6, "Slack answering 500 is retried: {} attempts", slack_attempts.len());
    // Backoff ×1.5 per attempt with ±50 % jitter: the fifth wait is always longer than the first.
    let gaps: Vec<f64> = slack_attempts.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[4] > gaps[0], "the retries back off: {gaps:?}");

    let metrics = client().get(pharos.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let count = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(count("alertmanager_notification_requests_failed_total{integration=\"slack\"}") >= 2.0, "{metrics}");
    assert!(count("alertmanager_notification_requests_failed_total{integration=\"email\"}") >= 2.0, "{metrics}");
    let log = pharos.log_text();
    assert!(log.contains("slack") && log.contains("500"), "failures are logged: {log}");

    // Slack recovers: the retry delivers within the same flush.
    http.heal();
    let before = http.at("/slack").len();
    let after = http.wait_for("/slack", before + 1, Duration::from_secs(15)).await;
    assert!(after.len() > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_new_rules_and_an_invalid_file_keeps_the_running_ones() {
    let http = HttpReceiver::start().await;
    let files = Files::new();
    let one = "groups:\n  - name: g\n    rules:\n      - alert: First\n        expr: vector(1)\n";
    let rules = files.write("rules.yml", one);
    let alertmanager = files.write("alertmanager.yml", &webhook_config(&http, ""));
    let pharos =
        Pharos::start_with(Options { config: Some(pharos_config(Some(&rules), &alertmanager)), ..Default::default() });
    let names = |body: &Value| -> Vec<String> {
        body["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()))
            .collect()
    };
    assert_eq!(names(&get_json(&pharos, "/api/v1/rules").await), ["First"]);

    std::fs::write(&rules, format!("{one}      - alert: Second\n        expr: vector(2)\n")).unwrap();
    let response = client().post(pharos.url("/-/reload")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(names(&get_json(&pharos, "/api/v1/rules").await), ["First", "Second"]);

    // An invalid rule file: the reload fails, naming the problem, and the rules stay.
    std::fs::write(&rules, "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: vector(1) +\n")
        .unwrap();
    let response = client().post(pharos.url("/-/reload")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let text = response.text().await.unwrap();
    assert!(text.contains("Broken") && text.contains("rules.yml"), "{text}");
    assert_eq!(names(&get_json(&pharos, "/api/v1/rules").await), ["First", "Second"]);

    // SIGHUP takes a valid file again; an invalid alertmanager.yml is refused the same way.
    std::fs::write(&rules, one).unwrap();
    pharos.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(5);
    while names(&get_json(&pharos, "/api/v1/rules").await) != ["First"] {
        assert!(Instant::now() < deadline, "SIGHUP did not reload the rules");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(&alertmanager, "route:\n  receiver: nobody\nreceivers: []\n").unwrap();
    let response = client().post(pharos.url("/-/reload")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("nobody"));
    let status = get_json(&pharos, "/alertmanager/api/v2/status").await;
    assert!(status["config"]["original"].as_str().unwrap().contains("webhook_configs"), "the running config stays");
}

#[test]
fn check_config_checks_the_rule_files_and_alertmanager_yml() {
    let files = Files::new();
    let rules = files.write("rules.yml", RULES);
    let alertmanager = files.write("alertmanager.yml", "route:\n  receiver: r\nreceivers:\n  - name: r\n");
    let config = files.write("pharos.yml", &pharos_config(Some(&rules), &alertmanager));
    let out = harness::run_pharos(&["check-config", config.to_str().unwrap()], files.0.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1 rule files with 2 rules, 1 receivers"), "{text}");

    std::fs::write(&rules, RULES.replace("expr: api_errors_ratio > 0.05", "expr: api_errors_ratio >")).unwrap();
    let out = harness::run_pharos(&["check-config", config.to_str().unwrap()], files.0.path());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("HighErrorRate") && text.contains("rules.yml: group \"api.rules\""),
        "{text}"
    );

    std::fs::write(&rules, RULES).unwrap();
    std::fs::write(&alertmanager, "route:\n  receiver: nobody\nreceivers: []\n").unwrap();
    let out = harness::run_pharos(&["check-config", config.to_str().unwrap()], files.0.path());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("nobody"), "{text}");
}

// Pharos — tests/alerting.rs

//! Rule evaluation over a real tsdb in a temporary directory, with time driven by calling
//! [`RuleManager::evaluate`] at chosen timestamps (no sleeping).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pharos_query::promql::EngineOptions;
use pharos_storage::tsdb::{Label, Labels, Matcher, Sample, SeriesWrite, Tsdb, TsdbOptions, WriteBatch, is_stale_nan};

use super::*;
use crate::notifier::model::Alert;

const S: i64 = 1_000_000_000;
/// A start time well after the epoch, so the tsdb accepts samples around it.
const T0: i64 = 1_700_000_000 * S;

#[derive(Default)]
struct Recorder(Mutex<Vec<Alert>>);

impl AlertSink for Recorder {
    fn send(&self, alerts: Vec<Alert>) {
        self.0.lock().unwrap().extend(alerts);
    }
}

impl Recorder {
    fn take(&self) -> Vec<Alert> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    tsdb: Arc<Tsdb>,
    sink: Arc<Recorder>,
    manager: Arc<RuleManager>,
}

fn options() -> RuleManagerOptions {
    RuleManagerOptions {
        evaluation_interval: Duration::from_secs(10),
        external_labels: [("cluster".to_string(), "eu".to_string())].into(),
        external_url: "http://pharos:9090".to_string(),
        resend_delay: Duration::from_secs(60),
        ..RuleManagerOptions::default()
    }
}

fn fixture(rules: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tsdb = Tsdb::open(&dir.path().join("tsdb"), TsdbOptions::default()).unwrap();
    fixture_on(dir, tsdb, rules)
}

fn fixture_on(dir: tempfile::TempDir, tsdb: Arc<Tsdb>, rules: &str) -> Fixture {
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    let sink = Arc::new(Recorder::default());
    let manager = RuleManager::new(tsdb.clone(), Arc::new(EngineOptions::default()), options(), sink.clone());
    manager.update(&[dir.path().join("rules.yml")]).unwrap();
    Fixture { dir, tsdb, sink, manager }
}

impl Fixture {
    fn write(&self, name: &str, labels: &[(&str, &str)], t_ns: i64, v: f64) {
        let mut pairs: Vec<Label> = labels.iter().map(|(n, v)| Label::new(*n, *v)).collect();
        pairs.push(Label::new("__name__", name));
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
        let series = SeriesWrite {
            labels: Labels::from_sorted_unchecked(pairs),
            samples: vec![Sample { t: t_ns / 1_000_000, v }],
        };
        self.tsdb.append(&WriteBatch { series: vec![series], metadata: Vec::new() }).unwrap();
    }

    fn eval(&self, t_ns: i64) {
        for group in self.manager.groups() {
            self.manager.evaluate(&group, t_ns);
        }
    }

    fn rule(&self, name: &str) -> RuleState {
        let groups = self.manager.groups();
        groups.iter().flat_map(|g| g.snapshot().rules).find(|r| r.rule.name() == name).unwrap()
    }

    /// Samples of the series selected by `name` and `label=value` pairs, at or before `t_ns`.
    fn samples(&self, name: &str, labels: &[(&str, &str)], t_ns: i64) -> Vec<(Labels, Vec<Sample>)> {
        let mut matchers = vec![Matcher::equal("__name__", name)];
        matchers.extend(labels.iter().map(|(n, v)| Matcher::equal(*n, *v)));
        self.tsdb.select(&matchers, 0, t_ns / 1_000_000).unwrap().into_iter().map(|s| (s.labels, s.samples)).collect()
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("rules.yml")
    }
}

const ALERT_RULES: &str = r#"groups:
  - name: g
    labels: {team: db}
    rules:
      - alert: High
        expr: load > 5
        for: 30s
        labels: {severity: "{{ if gt $value 10.0 }}page{{ else }}ticket{{ end }}"}
        annotations: {summary: "{{ $labels.instance }} load {{ $value }}"}
"#;

#[test]
fn pending_then_firing_after_for_then_resolved_and_kept_15_minutes() {
    let f = fixture(ALERT_RULES);
    f.write("load", &[("instance", "a")], T0, 7.0);
    f.eval(T0);
    let rule = f.rule("High");
    let alert = rule.alerts.values().next().unwrap();
    assert_eq!(alert.state, AlertState::Pending);
    assert_eq!(alert.active_at, T0);
    assert_eq!(alert.labels.get("severity").unwrap(), "ticket", "label templates see $value");
    assert_eq!(alert.labels.get("team").unwrap(), "db", "group labels");
    assert_eq!(alert.annotations.get("summary").unwrap(), "a load 7");
    assert!(f.sink.take().is_empty(), "pending alerts are not sent");

    f.write("load", &[("instance", "a")], T0 + 20 * S, 7.0);
    f.eval(T0 + 20 * S);
    assert_eq!(f.rule("High").state(), AlertState::Pending, "20 s < for");
    f.write("load", &[("instance", "a")], T0 + 30 * S, 7.0);
    f.eval(T0 + 30 * S);
    assert_eq!(f.rule("High").state(), AlertState::Firing);
    let sent = f.sink.take();
    assert_eq!(sent.len(), 1);
    let a = &sent[0];
    assert_eq!(a.starts_at, T0 + 30 * S, "startsAt = FiredAt");
    assert_eq!(a.ends_at, T0 + 30 * S + 4 * 60 * S, "endsAt = ValidUntil = now + 4 × max(interval, resend_delay)");
    assert_eq!(a.labels.get("cluster").unwrap(), "eu", "external labels");
    assert_eq!(a.labels.get("alertname").unwrap(), "High");
    assert_eq!(a.generator_url, "http://pharos:9090/graph?g0.expr=load+%3E+5&g0.tab=1");

    // Within resend_delay nothing is re-sent; after it, the alert is.
    f.write("load", &[("instance", "a")], T0 + 40 * S, 7.0);
    f.eval(T0 + 40 * S);
    assert!(f.sink.take().is_empty());
    f.write("load", &[("instance", "a")], T0 + 100 * S, 7.0);
    f.eval(T0 + 100 * S);
    assert_eq!(f.sink.take().len(), 1, "re-sent after resend_delay");

    // The series disappears (stale marker): resolved, sent at once with endsAt = ResolvedAt.
    f.write("load", &[("instance", "a")], T0 + 105 * S, f64::from_bits(pharos_storage::tsdb::STALE_NAN_BITS));
    f.eval(T0 + 110 * S);
    let sent = f.sink.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at, T0 + 110 * S);
    assert_eq!(f.rule("High").alerts.values().next().unwrap().state, AlertState::Inactive);
    f.eval(T0 + 110 * S + 16 * 60 * S);
    assert!(f.rule("High").alerts.is_empty(), "dropped 15 minutes after resolving");
}

#[test]
fn alerts_series_are_written_and_stale_marked() {
    let f = fixture(ALERT_RULES);
    f.write("load", &[("instance", "a")], T0, 20.0);
    f.eval(T0);
    let alerts = f.samples("ALERTS", &[("alertstate", "pending")], T0);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0.get("severity"), Some("page"));
    assert_eq!(alerts[0].1, vec![Sample { t: T0 / 1_000_000, v: 1.0 }]);
    let for_state = f.samples("ALERTS_FOR_STATE", &[("alertname", "High")], T0);
    assert_eq!(for_state[0].1[0].v, (T0 / S) as f64, "ActiveAt in seconds");

    f.write("load", &[("instance", "a")], T0 + 30 * S, 20.0);
    f.eval(T0 + 30 * S);
    let pending = f.samples("ALERTS", &[("alertstate", "pending")], T0 + 30 * S);
    assert!(is_stale_nan(pending[0].1.last().unwrap().v), "the pending series is stale-marked once firing");
    assert_eq!(f.samples("ALERTS", &[("alertstate", "firing")], T0 + 30 * S)[0].1.last().unwrap().v, 1.0);
}

#[test]
fn keep_firing_for_holds_a_firing_alert_after_its_series_goes() {
    let f = fixture(
        "groups:\n  - name: g\n    rules:\n      - alert: Flappy\n        expr: up == 0\n        keep_firing_for: 1m\n",
    );
    f.write("up", &[("job", "x")], T0, 0.0);
    f.eval(T0);
    assert_eq!(f.rule("Flappy").state(), AlertState::Firing, "for: 0 fires at once");
    f.write("up", &[("job", "x")], T0 + 10 * S, 1.0);
    f.eval(T0 + 10 * S);
    assert_eq!(f.rule("Flappy").state(), AlertState::Firing, "kept firing");
    f.write("up", &[("job", "x")], T0 + 75 * S, 1.0);
    f.eval(T0 + 75 * S);
    assert_eq!(f.rule("Flappy").state(), AlertState::Inactive, "keep_firing_for passed");
}

#[test]
fn recording_rules_write_back_with_labels_and_stale_markers() {
    let f = fixture(
        "groups:\n  - name: r\n    labels: {source: rules}\n    rules:\n      - record: job:load:max\n        expr: max by (job) (load)\n        labels: {tier: gold}\n",
    );
    f.write("load", &[("job", "api"), ("instance", "a")], T0, 3.0);
    f.write("load", &[("job", "api"), ("instance", "b")], T0, 9.0);
    f.eval(T0);
    let got = f.samples("job:load:max", &[], T0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.get("job"), Some("api"));
    assert_eq!(got[0].0.get("tier"), Some("gold"));
    assert_eq!(got[0].0.get("source"), Some("rules"));
    assert_eq!(got[0].1[0].v, 9.0);
    // Past the lookback the input is gone: the output is stale-marked.
    f.eval(T0 + 10 * 60 * S);
    let got = f.samples("job:load:max", &[], T0 + 10 * 60 * S);
    assert!(is_stale_nan(got[0].1.last().unwrap().v));
    assert_eq!(f.rule("job:load:max").health.ok, Some(true));
}

#[test]
fn limits_and_duplicate_label_sets_fail_the_rule() {
    let f = fixture(
        "groups:\n  - name: g\n    limit: 1\n    rules:\n      - alert: Many\n        expr: load > 0\n  - name: d\n    rules:\n      - record: dup\n        expr: load\n        labels: {instance: same}\n",
    );
    f.write("load", &[("instance", "a")], T0, 1.0);
    f.write("load", &[("instance", "b")], T0, 1.0);
    f.eval(T0);
    let many = f.rule("Many");
    assert_eq!(many.health.ok, Some(false));
    assert_eq!(many.health.last_error, "exceeded limit of 1 with 2 alerts");
    assert!(many.alerts.is_empty());
    let dup = f.rule("dup");
    assert_eq!(dup.health.ok, Some(false));
    assert!(dup.health.last_error.contains("same labelset"), "{}", dup.health.last_error);
}

#[test]
fn for_state_is_restored_by_a_new_manager_on_the_same_tsdb() {
    let rules = "groups:\n  - name: g\n    rules:\n      - alert: Slow\n        expr: load > 5\n        for: 20m\n";
    let f = fixture(rules);
    for i in 0..=5 {
        f.write("load", &[("instance", "a")], T0 + i * 60 * S, 7.0);
        f.eval(T0 + i * 60 * S);
    }
    assert_eq!(f.rule("Slow").alerts.values().next().unwrap().active_at, T0);
    // "Restart" 2 minutes later: a new manager on the same tsdb.
    let Fixture { dir, tsdb, .. } = f;
    let g = fixture_on(dir, tsdb, rules);
    let restart = T0 + 7 * 60 * S;
    g.write("load", &[("instance", "a")], restart, 7.0);
    g.eval(restart);
    let alert = g.rule("Slow").alerts.values().next().unwrap().clone();
    // ActiveAt shifted by the 2 minutes of downtime (last ALERTS_FOR_STATE at T0 + 5m).
    assert_eq!(alert.active_at, T0 + 2 * 60 * S);
    // So it fires 20 minutes after that, not 20 minutes after the restart.
    g.write("load", &[("instance", "a")], T0 + 22 * 60 * S, 7.0);
    g.eval(T0 + 22 * 60 * S);
    assert_eq!(g.rule("Slow").state(), AlertState::Firing);
}

#[test]
fn reload_keeps_state_and_an_invalid_file_keeps_the_running_rules() {
    let f = fixture(ALERT_RULES);
    f.write("load", &[("instance", "a")], T0, 7.0);
    f.eval(T0);
    // Same rule, other annotation: the group is replaced, the alert state carried over.
    std::fs::write(f.path(), ALERT_RULES.replace("load {{ $value }}", "is loaded")).unwrap();
    f.manager.update(&[f.path()]).unwrap();
    assert_eq!(f.rule("High").alerts.values().next().unwrap().active_at, T0);
    std::fs::write(f.path(), "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: load >\n")
        .unwrap();
    let errors = f.manager.update(&[f.path()]).unwrap_err();
    assert!(errors[0].to_string().contains("Broken"), "{}", errors[0]);
    assert_eq!(f.manager.groups().len(), 1);
    assert_eq!(f.rule("High").rule.expr, "load > 5", "the running rules stay");
}

#[tokio::test]
async fn the_rules_and_alerts_apis_answer_in_prometheus_shapes() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let f = fixture(ALERT_RULES);
    f.write("load", &[("instance", "a")], T0, 7.0);
    f.eval(T0);
    let get = |uri: &'static str| {
        let app = router(f.manager.clone());
        async move {
            let response =
                app.oneshot(axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap()).await.unwrap();
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<serde_json::Value>(&body).unwrap())
        }
    };
    let (status, body) = get("/api/v1/rules").await;
    assert_eq!(status, 200);
    let group = &body["data"]["groups"][0];
    assert_eq!(group["name"], "g");
    assert_eq!(group["interval"], 10.0);
    let rule = &group["rules"][0];
    assert_eq!(rule["type"], "alerting");
    assert_eq!(rule["state"], "pending");
    assert_eq!(rule["duration"], 30.0);
    assert_eq!(rule["health"], "ok");
    assert_eq!(rule["alerts"][0]["value"], "7e+00");
    assert_eq!(rule["alerts"][0]["activeAt"], "2023-11-14T22:13:20Z");
    let (_, body) = get("/api/v1/rules?type=record").await;
    assert_eq!(body["data"]["groups"].as_array().unwrap().len(), 0);
    let (status, body) = get("/api/v1/rules?type=nope").await;
    assert_eq!((status, body["errorType"].as_str()), (400, Some("bad_data")));
    let (_, body) = get("/api/v1/alerts").await;
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["alerts"][0]["labels"]["alertname"], "High");
    assert_eq!(body["data"]["alerts"][0]["state"], "pending");
}

#[test]
fn regression_a_rule_reads_what_an_earlier_rule_of_its_group_recorded_at_the_same_timestamp() {
    let f = fixture(
        "groups:\n  - name: g\n    rules:\n      - record: job:x:sum\n        expr: sum(x)\n      - alert: Big\n        expr: job:x:sum > 5\n",
    );
    f.write("x", &[("i", "a")], T0, 4.0);
    f.write("x", &[("i", "b")], T0, 4.0);
    f.eval(T0);
    assert_eq!(f.rule("Big").state(), AlertState::Firing, "the alert saw this evaluation's recorded 8");
}

#[test]
fn regression_restore_skips_an_alert_whose_last_for_state_sample_is_stale() {
    let rules = "groups:\n  - name: g\n    rules:\n      - alert: Slow\n        expr: load > 5\n        for: 1h\n";
    let f = fixture(rules);
    for i in 0..=30 {
        f.write("load", &[("instance", "a")], T0 + i * 60 * S, 7.0);
        f.eval(T0 + i * 60 * S);
    }
    // The condition ends: the alert is dropped and its series stale-marked.
    f.write("load", &[("instance", "a")], T0 + 31 * 60 * S, 1.0);
    f.eval(T0 + 31 * 60 * S);
    let Fixture { dir, tsdb, .. } = f;
    let g = fixture_on(dir, tsdb, rules);
    let restart = T0 + 41 * 60 * S;
    g.write("load", &[("instance", "a")], restart, 7.0);
    g.eval(restart);
    assert_eq!(g.rule("Slow").alerts.values().next().unwrap().active_at, restart, "a fresh timer");
}

#[test]
fn regression_a_failed_evaluation_marks_nothing_stale_and_sends_nothing() {
    let f = fixture("groups:\n  - name: g\n    limit: 1\n    rules:\n      - record: copy\n        expr: x\n");
    f.write("x", &[("i", "a")], T0, 1.0);
    f.eval(T0);
    f.write("x", &[("i", "a")], T0 + 10 * S, 1.0);
    f.write("x", &[("i", "b")], T0 + 10 * S, 1.0);
    f.eval(T0 + 10 * S);
    assert_eq!(f.rule("copy").health.ok, Some(false));
    let copies = f.samples("copy", &[("i", "a")], T0 + 10 * S);
    assert_eq!(copies[0].1.len(), 1, "no stale marker after the failed evaluation: {:?}", copies[0].1);
}

#[test]
fn regression_label_templates_see_the_metric_name() {
    let f = fixture(
        "groups:\n  - name: g\n    rules:\n      - alert: Named\n        expr: load > 5\n        annotations: {metric: '{{ $labels.__name__ }}'}\n",
    );
    f.write("load", &[("instance", "a")], T0, 7.0);
    f.eval(T0);
    let alert = f.rule("Named").alerts.values().next().unwrap().clone();
    assert_eq!(alert.annotations.get("metric").unwrap(), "load");
    assert!(!alert.labels.contains_key("__name__"), "the alert's labels drop it");
}

#[test]
fn regression_generator_urls_escape_the_canonical_expression_as_go() {
    let f = fixture("groups:\n  - name: g\n    rules:\n      - alert: Re\n        expr: 'up{job=~\"a.*\"}   ==   0'\n");
    f.write("up", &[("job", "ab")], T0, 0.0);
    f.eval(T0);
    let sent = f.sink.take();
    assert_eq!(sent[0].generator_url, "http://pharos:9090/graph?g0.expr=up%7Bjob%3D~%22a.%2A%22%7D+%3D%3D+0&g0.tab=1");
}

#[test]
fn regression_a_rule_removed_from_a_changed_group_has_its_series_stale_marked() {
    let two = "groups:\n  - name: g\n    rules:\n      - record: kept\n        expr: x\n      - record: dropped\n        expr: x * 2\n";
    let f = fixture(two);
    f.write("x", &[("i", "a")], T0, 1.0);
    f.eval(T0);
    std::fs::write(f.path(), "groups:\n  - name: g\n    rules:\n      - record: kept\n        expr: x\n").unwrap();
    f.manager.update(&[f.path()]).unwrap();
    let dropped = f.samples("dropped", &[], i64::MAX / 2);
    assert!(is_stale_nan(dropped[0].1.last().unwrap().v), "{:?}", dropped[0].1);
    let kept = f.samples("kept", &[], i64::MAX / 2);
    assert!(!is_stale_nan(kept[0].1.last().unwrap().v));
}

// Pharos — alerting/src/rules/evaluation_tests.rs

//! End-to-end tests: queries and HTTP calls over in-RAM tantivy partitions, and the golden files
//! of Grafana's requests (`query/tests/golden/loki/<name>.request` → `<name>.response.json`; run with
//! `UPDATE_GOLDEN=1` to rewrite the responses).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tantivy::{Index, IndexWriter};
use tower::ServiceExt;

use super::ast::Expr;
use super::eval::{self, Direction, Limits, MetricValue, StreamResult};
use super::parser::parse_query;
use super::record::{LogDocument, LogRecord};
use super::schema::{LogSchema, PartitionSnapshot};
use super::{LogSnapshots, router};

const S: i64 = 1_000_000_000;
/// Base time of the fixture: 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000 * S;

fn record(labels: &[(&str, &str)], secs: i64, doc: Value) -> LogRecord {
    let mut labels: Vec<(String, String)> = labels.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    labels.sort();
    let Value::Object(doc) = doc else { panic!("doc must be an object") };
    LogRecord {
        index: "loki".into(),
        timestamp_nanos: T0 + secs * S,
        labels,
        source: Value::Object(doc.clone()).to_string(),
        doc,
    }
}

fn partition(records: &[LogRecord], min_secs: i64, max_secs: i64) -> PartitionSnapshot {
    let schema = LogSchema::new();
    let index = Index::create_in_ram(schema.schema.clone());
    let mut writer: IndexWriter<LogDocument> = index.writer_with_num_threads(1, 15_000_000).unwrap();
    // Two commits give two segments, so segment handling is exercised.
    let half = records.len() / 2;
    for (i, r) in records.iter().enumerate() {
        writer.add_document(schema.document(r)).unwrap();
        if i + 1 == half {
            writer.commit().unwrap();
        }
    }
    writer.commit().unwrap();
    let searcher = index.reader().unwrap().searcher();
    PartitionSnapshot { min_nanos: T0 + min_secs * S, max_nanos: T0 + max_secs * S + S - 1, searcher }
}

const API: &[(&str, &str)] = &[("app", "api"), ("env", "prod")];
const WEB: &[(&str, &str)] = &[("app", "web")];
const DB: &[(&str, &str)] = &[("app", "db"), ("level", "warn")];
const ES: &[(&str, &str)] = &[("app", "es"), ("index", "x")];

fn api(secs: i64, status: u32, level: &str) -> LogRecord {
    let line =
        json!({"level": level, "status": status, "dur": "15ms", "req": {"path": format!("/p{secs}")}}).to_string();
    record(API, secs, json!({"message": line, "level": level}))
}

fn msg(labels: &[(&str, &str)], secs: i64, line: &str) -> LogRecord {
    record(labels, secs, json!({"message": line}))
}

const WEB_LINES: [(i64, &str); 4] = [
    (15, "level=info method=GET path=/x duration=1.5s size=2KB"),
    (45, "level=error method=POST path=/y duration=250ms size=10B msg=\"boom \\\"x\\\"\""),
    (75, "level=info method=GET path=/z duration=3s size=1MB"),
    (100, "a=\"unterminated"),
];

/// Two partitions, newest first: B = [60s, 120s), A = [0s, 60s). Built once and shared.
fn fixture() -> Vec<PartitionSnapshot> {
    static FIXTURE: std::sync::OnceLock<Vec<PartitionSnapshot>> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(build_fixture).clone()
}

fn build_fixture() -> Vec<PartitionSnapshot> {
    let a = vec![
        api(10, 200, "info"),
        msg(WEB, WEB_LINES[0].0, WEB_LINES[0].1),
        api(20, 500, "error"),
        record(API, 30, json!({"message": "not json at all"})),
        msg(WEB, WEB_LINES[1].0, WEB_LINES[1].1),
        msg(DB, 50, "db slow query 1"),
        record(ES, 55, json!({"msg": "hello", "host": "h1"})),
    ];
    let b = vec![
        api(70, 404, "warn"),
        msg(WEB, WEB_LINES[2].0, WEB_LINES[2].1),
        api(80, 200, "info"),
        api(90, 503, "error"),
        msg(WEB, WEB_LINES[3].0, WEB_LINES[3].1),
        msg(DB, 110, "db slow query 2"),
    ];
    vec![partition(&b, 60, 119), partition(&a, 0, 59)]
}

fn logs(q: &str, start: i64, end: i64, limit: usize, dir: Direction) -> Vec<StreamResult> {
    let Expr::Log(l) = parse_query(q).unwrap() else { panic!("{q}: not a log query") };
    eval::eval_log(&fixture(), &l, T0 + start * S, T0 + end * S, limit, dir).unwrap().0
}

/// (seconds, line) of all entries, merged over streams in direction order.
fn entries(q: &str, limit: usize, dir: Direction) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> =
        logs(q, 0, 120, limit, dir).into_iter().flat_map(|s| s.entries).map(|(t, l)| ((t - T0) / S, l)).collect();
    out.sort_by_key(|e| if dir == Direction::Backward { -e.0 } else { e.0 });
    out
}

fn secs(q: &str) -> Vec<i64> {
    entries(q, 1000, Direction::Forward).into_iter().map(|e| e.0).collect()
}

/// Metric query at steps (seconds after T0) → (labels text, [(step secs, value)]).
fn metric(q: &str, steps: &[i64]) -> Vec<(String, Vec<(i64, f64)>)> {
    let Expr::Metric(m) = parse_query(q).unwrap() else { panic!("{q}: not a metric query") };
    let steps: Vec<i64> = steps.iter().map(|s| T0 + s * S).collect();
    match eval::eval_metric(&fixture(), &m, &steps, Limits::default()).unwrap().0 {
        MetricValue::Vector(series) => series
            .into_iter()
            .map(|s| (s.labels.to_string(), s.points.iter().map(|&(i, v)| ((steps[i as usize] - T0) / S, v)).collect()))
            .collect(),
        MetricValue::Scalar(v) => vec![("scalar".into(), vec![(0, v)])],
    }
}

#[test]
fn selectors_pick_streams() {
    assert_eq!(secs(r#"{app="api"}"#), vec![10, 20, 30, 70, 80, 90]);
    assert_eq!(secs(r#"{env="prod"}"#), vec![10, 20, 30, 70, 80, 90]);
    assert_eq!(secs(r#"{app=~"d.|e."}"#), vec![50, 55, 110]);
    assert_eq!(secs(r#"{app!="api", app=~".+"}"#), vec![15, 45, 50, 55, 75, 100, 110]);
    assert_eq!(secs(r#"{app="api", env!~"prod"}"#), Vec::<i64>::new());
    assert_eq!(secs(r#"{app="nope"}"#), Vec::<i64>::new());
    // Time range: start inclusive, end exclusive.
    let s: Vec<i64> = logs(r#"{app="api"}"#, 20, 80, 100, Direction::Forward)
        .into_iter()
        .flat_map(|s| s.entries)
        .map(|e| (e.0 - T0) / S)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(s, vec![20, 30, 70]);
}

#[test]
fn lines_and_labels() {
    let out = logs(r#"{app="es"}"#, 0, 120, 100, Direction::Backward);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].labels.to_string(), r#"{app="es", detected_level="unknown", index="x"}"#);
    assert_eq!(out[0].entries[0].1, r#"{"host":"h1","msg":"hello"}"#);
    // A stream with a level label gets no detected_level.
    let out = logs(r#"{app="db"}"#, 0, 120, 100, Direction::Backward);
    assert_eq!(out[0].labels.to_string(), r#"{app="db", level="warn"}"#);
    assert_eq!(
        out[0].entries.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        vec!["db slow query 2", "db slow query 1"]
    );
    // detected_level comes from the document's severity.
    let out = logs(r#"{app="api"}"#, 0, 120, 100, Direction::Backward);
    let names: Vec<String> = out.iter().map(|s| s.labels.get("detected_level").unwrap_or("-").to_string()).collect();
    assert_eq!(names, vec!["error", "info", "unknown", "warn"]);
}

#[test]
fn line_filters() {
    assert_eq!(secs(r#"{app="api"} |= "500""#), vec![20]);
    assert_eq!(secs(r#"{app="api"} != "status""#), vec![30]);
    assert_eq!(secs(r#"{app="api"} |~ "50[03]""#), vec![20, 90]);
    assert_eq!(secs(r#"{app="api"} !~ "status\":[45]" |= "level""#), vec![10, 80]);
    assert_eq!(secs(r#"{app=~".+"} |= "slow" or "boom""#), vec![45, 50, 110]);
    assert_eq!(secs(r#"{app="web"} |> "level=<_> method=GET <_>""#), vec![15, 75]);
}

#[test]
fn json_extraction_and_label_filters() {
    let out = logs(r#"{app="api"} | json | status >= 500"#, 0, 120, 100, Direction::Forward);
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0].labels.to_string(),
        r#"{app="api", detected_level="error", dur="15ms", env="prod", level="error", req_path="/p20", status="500"}"#
    );
    assert_eq!(secs(r#"{app="api"} | json | req_path="/p80""#), vec![80]);
    assert_eq!(secs(r#"{app="api"} | json | __error__="JSONParserErr""#), vec![30]);
    assert_eq!(secs(r#"{app="api"} | json | dur < 20ms and status != 200"#), vec![20, 70, 90]);
    assert_eq!(secs(r#"{app="api"} | json | status == 404 or level="info""#), vec![10, 70, 80]);
    // Standalone logfmt keys are kept with --keep-empty; names are sanitised.
    let out = logs(r#"{app="db"} | logfmt --keep-empty"#, 0, 120, 100, Direction::Forward);
    assert_eq!(out[0].labels.to_string(), r#"{_1="", app="db", db="", level="warn", query="", slow=""}"#);
    let out = logs(r#"{app="web"} | logfmt | level="error""#, 0, 120, 100, Direction::Forward);
    assert!(out[0].labels.to_string().contains(r#"level="error""#));
    // An extracted key that collides with a stream label gets the _extracted suffix.
    let out = logs(r#"{app="db"} | regexp "db (?P<level>\\w+)""#, 0, 120, 100, Direction::Forward);
    assert_eq!(out[0].labels.get("level_extracted"), Some("slow"));
}

#[test]
fn logfmt_extraction() {
    assert_eq!(secs(r#"{app="web"} | logfmt | duration > 1s"#), vec![15, 75]);
    assert_eq!(secs(r#"{app="web"} | logfmt | size >= 2KB"#), vec![15, 75]);
    assert_eq!(secs(r#"{app="web"} | logfmt | __error__="LogfmtParserErr""#), vec![100]);
    assert_eq!(secs(r#"{app="web"} | logfmt | msg="boom \"x\"""#), vec![45]);
    assert_eq!(secs(r#"{app="web"} | logfmt | method=~"G.*", path!="/z""#), vec![15]);
}

#[test]
fn line_format_and_drop() {
    let e = entries(
        r#"{app="web"} | logfmt | __error__="" | line_format "{{.method}} {{ .path }}""#,
        100,
        Direction::Forward,
    );
    assert_eq!(e.into_iter().map(|e| e.1).collect::<Vec<_>>(), vec!["GET /x", "POST /y", "GET /z"]);
    let out = logs(
        r#"{app="web"} | logfmt | drop __error__, duration, size, method, path, msg | keep app, level"#,
        0,
        120,
        100,
        Direction::Forward,
    );
    let keys: Vec<String> = out.iter().map(|s| s.labels.to_string()).collect();
    assert_eq!(keys, vec![r#"{app="web"}"#, r#"{app="web", level="error"}"#, r#"{app="web", level="info"}"#]);
}

#[test]
fn direction_and_limit_across_partitions() {
    let all = r#"{app=~".+"}"#;
    assert_eq!(entries(all, 3, Direction::Backward).iter().map(|e| e.0).collect::<Vec<_>>(), vec![110, 100, 90]);
    assert_eq!(entries(all, 3, Direction::Forward).iter().map(|e| e.0).collect::<Vec<_>>(), vec![10, 15, 20]);
    assert_eq!(
        entries(all, 8, Direction::Backward).iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![110, 100, 90, 80, 75, 70, 55, 50]
    );
    assert_eq!(entries(all, 1000, Direction::Forward).len(), 13);
    // The limit applies to lines that pass the pipeline.
    assert_eq!(entries(r#"{app=~".+"} |= "db""#, 1, Direction::Forward)[0].0, 50);
    // Per-stream values are in direction order.
    let out = logs(r#"{app="db"}"#, 0, 120, 10, Direction::Forward);
    assert_eq!(out[0].entries.iter().map(|e| (e.0 - T0) / S).collect::<Vec<_>>(), vec![50, 110]);
}

#[test]
fn range_aggregations_at_steps() {
    // Windows (t-60s, t]: at 60 → api 10,20,30; at 120 → 70,80,90; at 30 → 10,20,30.
    assert_eq!(
        metric(r#"sum(count_over_time({app="api"}[1m]))"#, &[30, 60, 120]),
        vec![("{}".into(), vec![(30, 3.0), (60, 3.0), (120, 3.0)])]
    );
    // Boundaries: (10, 30] holds 20 and 30, not 10.
    assert_eq!(metric(r#"sum(count_over_time({app="api"}[20s]))"#, &[30]), vec![("{}".into(), vec![(30, 2.0)])]);
    assert_eq!(metric(r#"sum(rate({app="api"}[1m]))"#, &[60]), vec![("{}".into(), vec![(60, 0.05)])]);
    let db = metric(r#"count_over_time({app="db"}[1m])"#, &[50, 100, 110, 200]);
    assert_eq!(db, vec![(r#"{app="db", level="warn"}"#.into(), vec![(50, 1.0), (100, 1.0), (110, 1.0)])]);
    let web_bytes = (WEB_LINES[0].1.len() + WEB_LINES[1].1.len()) as f64;
    assert_eq!(metric(r#"sum(bytes_over_time({app="web"}[1m]))"#, &[59]), vec![("{}".into(), vec![(59, web_bytes)])]);
    assert_eq!(metric(r#"sum(bytes_rate({app="web"}[1m]))"#, &[59]), vec![("{}".into(), vec![(59, web_bytes / 60.0)])]);
    // Offset shifts the window back.
    assert_eq!(metric(r#"count_over_time({app="db"}[10s] offset 60s)"#, &[110])[0].1, vec![(110, 1.0)]);
    // Filters and unwrap.
    assert_eq!(metric(r#"sum(count_over_time({app="api"} |= "error" [2m]))"#, &[120])[0].1, vec![(120, 2.0)]);
    assert_eq!(
        metric(
            r#"sum_over_time({app="web"} | logfmt | __error__="" | unwrap duration(duration) [2m]) by (method)"#,
            &[120]
        ),
        vec![(r#"{method="GET"}"#.into(), vec![(120, 4.5)]), (r#"{method="POST"}"#.into(), vec![(120, 0.25)])]
    );
    assert_eq!(
        metric(r#"max_over_time({app="api"} | json | unwrap status [2m]) by (app)"#, &[120]),
        vec![(r#"{app="api"}"#.into(), vec![(120, 503.0)])]
    );
    assert_eq!(
        metric(r#"avg_over_time({app="api"} | json | status > 0 | unwrap status [2m]) by (env)"#, &[120])[0].1,
        vec![(120, 361.4)]
    );
    assert_eq!(
        metric(r#"absent_over_time({app="db"}[5s])"#, &[50, 52, 60]),
        vec![(r#"{app="db"}"#.into(), vec![(60, 1.0)])]
    );
}

#[test]
fn pipeline_errors_fail_metric_queries_unless_handled() {
    let Expr::Metric(m) = parse_query(r#"count_over_time({app="api"} | json [2m])"#).unwrap() else { panic!() };
    let err = eval::eval_metric(&fixture(), &m, &[T0 + 120 * S], Limits::default()).unwrap_err();
    assert!(err.to_string().contains("JSONParserErr"), "{err}");
    assert_eq!(
        metric(r#"sum(count_over_time({app="api"} | json | drop __error__ [2m]))"#, &[120])[0].1,
        vec![(120, 6.0)]
    );
    assert_eq!(
        metric(r#"sum(count_over_time({app="api"} | json | __error__="" [2m]))"#, &[120])[0].1,
        vec![(120, 5.0)]
    );
}

#[test]
fn vector_aggregations() {
    let q = r#"sum by (app) (count_over_time({app=~".+"}[2m]))"#;
    assert_eq!(
        metric(q, &[120]),
        vec![
            (r#"{app="api"}"#.into(), vec![(120, 6.0)]),
            (r#"{app="db"}"#.into(), vec![(120, 2.0)]),
            (r#"{app="es"}"#.into(), vec![(120, 1.0)]),
            (r#"{app="web"}"#.into(), vec![(120, 4.0)]),
        ]
    );
    let top: Vec<String> = metric(&format!("topk(2, {q})"), &[120]).into_iter().map(|s| s.0).collect();
    assert_eq!(top, vec![r#"{app="api"}"#, r#"{app="web"}"#]);
    let bottom: Vec<String> = metric(&format!("bottomk(1, {q})"), &[120]).into_iter().map(|s| s.0).collect();
    assert_eq!(bottom, vec![r#"{app="es"}"#]);
    assert_eq!(metric(&format!("count({q})"), &[120])[0].1, vec![(120, 4.0)]);
    assert_eq!(metric(&format!("max({q}) / 2"), &[120])[0].1, vec![(120, 3.0)]);
    assert_eq!(metric(&format!("{q} > 3"), &[120]).len(), 2);
    assert_eq!(metric(&format!("sum({q} > bool 3)"), &[120])[0].1, vec![(120, 2.0)]);
    // Explore's volume query: level for streams that have it, detected_level for the rest.
    let vol = metric(r#"sum by (level, detected_level) (count_over_time({app=~"api|db"}[2m]))"#, &[120]);
    assert_eq!(
        vol,
        vec![
            (r#"{detected_level="error"}"#.into(), vec![(120, 2.0)]),
            (r#"{detected_level="info"}"#.into(), vec![(120, 2.0)]),
            (r#"{detected_level="unknown"}"#.into(), vec![(120, 1.0)]),
            (r#"{detected_level="warn"}"#.into(), vec![(120, 1.0)]),
            (r#"{level="warn"}"#.into(), vec![(120, 2.0)]),
        ]
    );
    assert_eq!(metric("vector(1)+vector(1)", &[0]), vec![("{}".into(), vec![(0, 2.0)])]);
    assert_eq!(metric("1 + 2 * 3 ^ 2", &[0]), vec![("scalar".into(), vec![(0, 19.0)])]);
    assert_eq!(
        metric(r#"sum(count_over_time({app="api"}[2m])) / sum(count_over_time({app=~".+"}[2m]))"#, &[120])[0].1,
        vec![(120, 6.0 / 13.0)]
    );
}

// ---- HTTP ----

fn app() -> axum::Router {
    let snaps: Arc<dyn LogSnapshots> = Arc::new(fixture());
    router(snaps)
}

async fn call(method: &str, uri: &str, body: &str) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if method == "POST" {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let resp = app().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get_json(uri: &str) -> Value {
    let (status, body) = call("GET", uri, "").await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn t(secs: i64) -> i64 {
    T0 + secs * S
}

#[tokio::test]
async fn http_save_and_test() {
    let v = get_json("/loki/api/v1/query?query=vector(1)%2Bvector(1)&time=4000000000&direction=backward").await;
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"], json!([{"metric": {}, "value": [4, "2"]}]));
}

#[tokio::test]
async fn http_metadata_filtered_by_time_and_query() {
    // Partition B only: the es stream (index label) is not there.
    let v = get_json(&format!("/loki/api/v1/labels?start={}&end={}", t(60), t(119))).await;
    assert_eq!(v, json!({"status": "success", "data": ["app", "env", "level"]}));
    // Partially overlapping A: checked entry by entry (es at 55s).
    let v = get_json(&format!("/loki/api/v1/labels?start={}&end={}", t(50), t(119))).await;
    assert_eq!(v["data"], json!(["app", "env", "index", "level"]));
    let v = get_json(&format!("/loki/api/v1/labels?start={}&end={}", t(56), t(119))).await;
    assert_eq!(v["data"], json!(["app", "env", "level"]));
    let v =
        get_json(&format!("/loki/api/v1/labels?start={}&end={}&query={}", t(0), t(120), enc(r#"{app="es"}"#))).await;
    assert_eq!(v["data"], json!(["app", "index"]));
    let v = get_json(&format!("/loki/api/v1/label/app/values?start={}&end={}", t(0), t(120))).await;
    assert_eq!(v["data"], json!(["api", "db", "es", "web"]));
    let v = get_json(&format!(
        "/loki/api/v1/label/app/values?start={}&end={}&query={}",
        t(0),
        t(120),
        enc(r#"{env="prod"}"#)
    ))
    .await;
    assert_eq!(v["data"], json!(["api"]));
    let v = get_json(&format!("/loki/api/v1/label/app/values?start={}&end={}", t(100), t(119))).await;
    assert_eq!(v["data"], json!(["db", "web"]));
    let v = get_json(&format!("/loki/api/v1/label/app/values?start={}&end={}", t(111), t(119))).await;
    assert_eq!(v["data"], json!([]));
    let v = get_json(&format!("/loki/api/v1/label/nope/values?start={}&end={}", t(0), t(120))).await;
    assert_eq!(v["data"], json!([]));
    let v = get_json(&format!(
        "/loki/api/v1/series?match[]={}&match[]={}&start={}&end={}",
        enc(r#"{app="db"}"#),
        enc(r#"{app="es"}"#),
        t(0),
        t(120)
    ))
    .await;
    assert_eq!(v["data"], json!([{"app": "db", "level": "warn"}, {"app": "es", "index": "x"}]));
    let (status, body) = call(
        "POST",
        "/loki/api/v1/series",
        &format!("match%5B%5D={}&start={}&end={}", enc(r#"{app=~"d.*"}"#), t(0), t(59)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["data"], json!([{"app": "db", "level": "warn"}]));
    let v = get_json(&format!("/loki/api/v1/index/stats?query={}&start={}&end={}", enc(r#"{app="db"}"#), t(0), t(120)))
        .await;
    let bytes = 2 * r#"{"message":"db slow query 1"}"#.len();
    assert_eq!(v, json!({"streams": 1, "chunks": 2, "entries": 2, "bytes": bytes}));
}

#[tokio::test]
async fn http_query_range_and_errors() {
    let q = enc(r#"{app="api"} |= "500""#);
    let v = get_json(&format!("/loki/api/v1/query_range?query={q}&start={}&end={}&limit=10", t(0), t(120))).await;
    assert_eq!(v["data"]["resultType"], "streams");
    assert_eq!(v["data"]["result"][0]["values"][0][0], json!(t(20).to_string()));
    // POST form body, float-seconds and RFC 3339 times, forward direction.
    let body = format!(
        "query={}&start=1700000000.0&end=2023-11-14T22:15:20Z&direction=forward&limit=2",
        enc(r#"{app=~".+"}"#)
    );
    let (status, body) = call("POST", "/loki/api/v1/query_range", &body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let n: usize = v["data"]["result"].as_array().unwrap().iter().map(|s| s["values"].as_array().unwrap().len()).sum();
    assert_eq!(n, 2);
    // Metric range query: matrix with second timestamps and string values.
    let q = enc(r#"sum(rate({app="api"}[1m]))"#);
    let v = get_json(&format!("/loki/api/v1/query_range?query={q}&start={}&end={}&step=60s", t(60), t(120))).await;
    assert_eq!(v["data"]["result"], json!([{"metric": {}, "values": [[1700000060, "0.05"], [1700000120, "0.05"]]}]));
    // Instant metric query.
    let v =
        get_json(&format!("/loki/api/v1/query?query={}&time={}", enc(r#"count_over_time({app="db"}[1m])"#), t(110)))
            .await;
    assert_eq!(v["data"]["result"], json!([{"metric": {"app": "db", "level": "warn"}, "value": [1700000110, "1"]}]));
    // Instant log query: the hour up to and including `time`.
    let v =
        get_json(&format!("/loki/api/v1/query?query={}&time={}&direction=forward", enc(r#"{app="db"}"#), t(110))).await;
    assert_eq!(v["data"]["resultType"], "streams");
    assert_eq!(
        v["data"]["result"][0]["values"],
        json!([[t(50).to_string(), "db slow query 1"], [t(110).to_string(), "db slow query 2"]])
    );
    // Errors: plain text, 400.
    for (uri, want) in [
        (
            format!("/loki/api/v1/query_range?query={}", enc("{app=\"api\"")),
            "parse error at line 1, col 11: syntax error",
        ),
        (format!("/loki/api/v1/query_range?query={}", enc("{app=~\".*\"}")), "empty-compatible"),
        ("/loki/api/v1/query_range".to_string(), "query parameter is required"),
        (format!("/loki/api/v1/query_range?query={}&limit=0", enc("{a=\"b\"}")), "positive"),
        (format!("/loki/api/v1/query_range?query={}&limit=6000", enc("{a=\"b\"}")), "maximum of 5000"),
        (format!("/loki/api/v1/query_range?query={}&direction=up", enc("{a=\"b\"}")), "direction"),
        (format!("/loki/api/v1/query_range?query={}&start=abc", enc("{a=\"b\"}")), "invalid start"),
        (format!("/loki/api/v1/query_range?query={}&step=0", enc("sum(rate({a=\"b\"}[1m]))")), "step"),
        (
            format!("/loki/api/v1/query_range?query={}&start=0&end={}&step=1s", enc("sum(rate({a=\"b\"}[1m]))"), t(0)),
            "points",
        ),
        (
            format!("/loki/api/v1/query?query={}&time={}", enc(r#"rate({app="api"} | json [2m])"#), t(120)),
            "JSONParserErr",
        ),
    ] {
        let (status, body) = call("GET", &uri, "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body.contains(want), "{uri}: {body}");
    }
    let (status, _) = call("GET", "/loki/api/v1/status/buildinfo", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn golden_grafana_requests() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/loki");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".request").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "golden requests missing in {}", dir.display());
    let mut failures = Vec::new();
    for name in names {
        let uri = std::fs::read_to_string(dir.join(format!("{name}.request"))).unwrap().trim().to_string();
        let (status, body) = call("GET", &uri, "").await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let got: Value = serde_json::from_str(&body).unwrap();
        let path = dir.join(format!("{name}.response.json"));
        if update {
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap_or(Value::Null);
        if got != want {
            failures.push(format!("{name}: got {}", serde_json::to_string_pretty(&got).unwrap()));
        }
    }
    assert!(failures.is_empty(), "golden mismatches (UPDATE_GOLDEN=1 rewrites):\n{}", failures.join("\n"));
}

#[test]
fn fixture_snapshot_trait_filters_partitions() {
    let f = fixture();
    assert_eq!(f.snapshot(t(60), t(61)).len(), 1);
    assert_eq!(f.snapshot(t(0), t(120)).len(), 2);
    assert_eq!(f.snapshot(t(200), t(300)).len(), 0);
}

#[test]
fn fast_paths_spare_the_doc_store() {
    // A private fixture: the shared one's doc store cache is touched by other tests.
    let snaps = build_fixture();
    let cache_use = |snaps: &[PartitionSnapshot]| -> usize {
        snaps.iter().map(|s| s.searcher.doc_store_cache_stats()).map(|c| c.cache_hits + c.cache_misses).sum()
    };
    let volume = r#"sum by (level, detected_level) (count_over_time({app=~".+"} | detected_level!="debug" [1m]))"#;
    let Expr::Metric(m) = parse_query(volume).unwrap() else { panic!() };
    let steps: Vec<i64> = (0..=2).map(|i| T0 + i * 60 * S).collect();
    let (v, _) = eval::eval_metric(&snaps, &m, &steps, Limits::default()).unwrap();
    let MetricValue::Vector(series) = v else { panic!() };
    assert_eq!(series.iter().map(|s| s.points.iter().map(|p| p.1).sum::<f64>()).sum::<f64>(), 13.0);
    // Overlapping windows (range > 4 steps) take the timestamp path, also fast-field only.
    let Expr::Metric(m) = parse_query(r#"sum(rate({app=~".+"}[2m]))"#).unwrap() else { panic!() };
    let steps: Vec<i64> = (0..=12).map(|i| T0 + i * 10 * S).collect();
    let (v, _) = eval::eval_metric(&snaps, &m, &steps, Limits::default()).unwrap();
    let MetricValue::Vector(series) = v else { panic!() };
    let last = series[0].points.last().unwrap();
    assert_eq!(last.0, 12);
    assert!((last.1 - 13.0 / 120.0).abs() < 1e-12, "{last:?}");
    assert_eq!(cache_use(&snaps), 0, "metric fast path read the doc store");
    // A log query reads exactly `limit` lines when nothing filters them.
    let Expr::Log(l) = parse_query(r#"{app=~".+"}"#).unwrap() else { panic!() };
    let (_, stats) = eval::eval_log(&snaps, &l, T0, T0 + 120 * S, 4, Direction::Backward).unwrap();
    assert_eq!((stats.lines_processed, stats.entries_returned), (4, 4));
    let (_, stats) = eval::eval_log(&snaps, &l, T0, T0 + 120 * S, 2, Direction::Forward).unwrap();
    assert_eq!(stats.lines_processed, 2);
}

#[test]
fn bucketed_and_timestamp_paths_agree() {
    for q in [r#"count_over_time({app=~".+"}[30s])"#, r#"rate({app=~".+"}[1m] offset 10s)"#] {
        let Expr::Metric(m) = parse_query(q).unwrap() else { panic!() };
        for step in [10, 30, 60] {
            let steps: Vec<i64> = (0..=(150 / step)).map(|i| T0 - 20 * S + i * step * S).collect();
            let (fast, _) = eval::eval_metric(&fixture(), &m, &steps, Limits::default()).unwrap();
            // The same query with a pipeline that needs the line takes the doc-store path.
            let slow_q = q.replace("{app=~\".+\"}", "{app=~\".+\"} |~ \".*\"");
            let Expr::Metric(ms) = parse_query(&slow_q).unwrap() else { panic!() };
            let (slow, _) = eval::eval_metric(&fixture(), &ms, &steps, Limits::default()).unwrap();
            assert_eq!(fast, slow, "{q} step {step}");
        }
    }
}

#[test]
fn fuzzed_queries_never_panic() {
    let seeds = [
        r#"sum by (level, detected_level) (count_over_time({app=~".+"} |= "e" | logfmt | duration > 1s [1m] offset 5m))"#,
        r#"{app="web"} | logfmt --strict | line_format "{{ .method | ToLower }}" | label_format p=path | drop __error__ | keep p"#,
        r#"topk(2, sum without (env) (rate({app="api"} | json | unwrap bytes(status) | __error__="" [30s]))) / on(app) group_left vector(2)"#,
        r#"quantile_over_time(0.9, {app="api"} | json | unwrap duration(dur) [2m]) by (app) > bool 0 or absent_over_time({app="x"}[292y])"#,
        r#"stddev_over_time({app="api"} | pattern "<_>\"status\":<s>,<_>" | unwrap s [1m] offset -292y) - -1 ^ 2"#,
        r#"{app="es"} | unpack | regexp "(?P<h>h\\d)" | h=~"h1|h2" or h!="" , h>=1KB"#,
    ];
    let tokens = [
        "[1m]",
        "[292y]",
        " offset -292y",
        "|",
        "| json",
        "| unwrap x",
        "(",
        ")",
        "{",
        "}",
        "\"",
        "`",
        ",",
        " by (a)",
        "-",
        "1e308",
        "NaN",
        "topk(0,",
        " and ",
        " or ",
        "==",
        "=~",
        "!~",
        "|=",
        "[0s]",
        " bool ",
        "vector(",
        "\\",
        "ü",
    ];
    let steps: Vec<i64> = vec![T0, T0 + 60 * S, T0 + 120 * S];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| -> usize {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n.max(1) as u64) as usize
    };
    let snaps = fixture();
    let mut evaluated = 0;
    for round in 0..1500 {
        let seed = seeds[round % seeds.len()];
        let mut q: Vec<char> = seed.chars().collect();
        for _ in 0..=next(3) {
            let at = next(q.len() + 1);
            match next(4) {
                0 => q.truncate(at),
                1 => {
                    let end = (at + next(8)).min(q.len());
                    q.drain(at.min(end)..end);
                }
                2 => {
                    let t: Vec<char> = tokens[next(tokens.len())].chars().collect();
                    q.splice(at..at, t);
                }
                _ => {
                    let end = (at + next(6)).min(q.len());
                    let dup: Vec<char> = q[at.min(end)..end].to_vec();
                    q.splice(at..at, dup);
                }
            }
        }
        let q: String = q.into_iter().collect();
        match parse_query(&q) {
            Ok(Expr::Log(l)) => {
                let _ = eval::eval_log(&snaps, &l, T0 - 300 * S, T0 + 300 * S, 5, Direction::Backward);
                evaluated += 1;
            }
            Ok(Expr::Metric(m)) => {
                let _ = eval::eval_metric(&snaps, &m, &steps, Limits::default());
                evaluated += 1;
            }
            Err(e) => assert!(e.to_string().starts_with("parse error"), "{q}: {e}"),
        }
    }
    assert!(evaluated > 100, "only {evaluated} fuzzed queries parsed");
}

#[tokio::test]
async fn http_extreme_parameters_never_panic() {
    let q = enc(r#"sum(rate({app="api"}[1m] offset -292y))"#);
    for params in [
        format!("query={q}&start=-9223372036854775808&end=9223372036854775807&step=9223372036854775807ns"),
        format!("query={q}&start=-9223372036854775808&end=9223372036854775807"),
        format!("query={q}&start=1e300&end=1e301"),
        format!("query={}&start=-9223372036854775808&end=-9223372036854775807", enc(r#"{app="api"}"#)),
        format!(
            "query={}&start=0&end=9223372036854775807&limit=5000",
            enc(r#"{app=~".+"} | json | line_format "{{ __timestamp__ }}""#)
        ),
        format!("query={}&start=9999-12-31T23:59:59.999999999Z&end=10000-01-01T00:00:00Z", enc(r#"{app="api"}"#)),
        "query=%FF%FE&start=0".to_string(),
    ] {
        for path in [
            "/loki/api/v1/query_range",
            "/loki/api/v1/query",
            "/loki/api/v1/labels",
            "/loki/api/v1/series",
            "/loki/api/v1/index/stats",
        ] {
            let (status, body) = call("GET", &format!("{path}?{params}"), "").await;
            assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{path}?{params}: {status} {body}");
        }
    }
}

/// Timing check on a larger partition (run: `cargo test --release -- --ignored --nocapture perf`).
#[test]
#[ignore]
fn perf_large_partition() {
    let n: i64 = std::env::var("PERF_DOCS").ok().and_then(|v| v.parse().ok()).unwrap_or(300_000);
    let schema = LogSchema::new();
    let index = Index::create_in_ram(schema.schema.clone());
    let mut writer: IndexWriter<LogDocument> = index.writer_with_num_threads(1, 200_000_000).unwrap();
    let levels = ["info", "error", "warn", "debug"];
    let t_build = std::time::Instant::now();
    for i in 0..n {
        let app = format!("app{}", i % 20);
        let level = levels[(i % 7 % 4) as usize];
        let line = format!(
            "level={level} method=GET path=/p/{} status={} duration={}ms",
            i % 100,
            200 + i % 5 * 100,
            i % 1000
        );
        let ts = (i * 3600 / n) as i64;
        writer
            .add_document(schema.document(&record(
                &[("app", &app), ("env", "prod")],
                ts,
                json!({"message": line, "level": level}),
            )))
            .unwrap();
    }
    writer.commit().unwrap();
    let searcher = index.reader().unwrap().searcher();
    let snaps = vec![PartitionSnapshot { min_nanos: T0, max_nanos: T0 + 3600 * S, searcher }];
    eprintln!("built {n} docs in {:?}", t_build.elapsed());
    let steps: Vec<i64> = (0..=60).map(|i| T0 + i * 60 * S).collect();
    for q in [
        r#"sum by (level, detected_level) (count_over_time({env="prod"}[1m]))"#,
        r#"sum(rate({env="prod"}[5m]))"#,
        r#"sum by (app) (count_over_time({env="prod"} |= "status=500" [1m]))"#,
    ] {
        let Expr::Metric(m) = parse_query(q).unwrap() else { panic!() };
        let t = std::time::Instant::now();
        let (_, stats) = eval::eval_metric(&snaps, &m, &steps, Limits::default()).unwrap();
        eprintln!("{q}: {:?} ({} lines)", t.elapsed(), stats.lines_processed);
    }
    for q in [r#"{env="prod"}"#, r#"{app="app3"} |= "status=500""#, r#"{env="prod"} | logfmt | duration > 990ms"#] {
        let Expr::Log(l) = parse_query(q).unwrap() else { panic!() };
        let t = std::time::Instant::now();
        let (_, stats) = eval::eval_log(&snaps, &l, T0, T0 + 3600 * S, 1000, Direction::Backward).unwrap();
        eprintln!("{q} limit 1000: {:?} ({} lines read)", t.elapsed(), stats.lines_processed);
    }
}

#[tokio::test]
async fn http_index_stats_extrapolates_bytes_from_a_sample() {
    let records: Vec<LogRecord> =
        (0..5000).map(|i| msg(&[("app", "big")], i % 100, &format!("line {:05}", i))).collect();
    let size = records[0].source.len();
    let snaps: Arc<dyn LogSnapshots> = Arc::new(vec![partition(&records, 0, 99)]);
    let uri = format!("/loki/api/v1/index/stats?query={}&start={}&end={}", enc(r#"{app="big"}"#), t(0), t(100));
    let resp = router(snaps).oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap()).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"streams": 1, "chunks": 2, "entries": 5000, "bytes": 5000 * size}));
}

// Pharos — query/src/loki/tests.rs
